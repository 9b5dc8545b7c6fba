//! Before the first step: is every command the run will send allowed by the node's ACL?
//!
//! A user without `+client|pause` used to get a snapshot, then a `NOPERM` at the pause, an
//! exit 1 and "writes resumed" for writes that were never paused. Each command with a
//! harmless form ([`Probe`]) is sent in that form to the node that will receive it: the
//! server checks the ACL before the arguments, so `NOPERM` names the missing grant and
//! anything else (`ERR syntax error`, `ERR Invalid master port`) means allowed. A refusal here
//! stops the run before any change, as a failed pre-check (exit 3).

use std::collections::BTreeSet;

use crate::observe::NodeError;

use super::super::error::{OpsError, OpsResult};
use super::super::redis_ops::{Probe, RedisOps};
use super::Run;

impl<O: RedisOps> Run<'_, O> {
    /// Probes every (node, command) the plan sends; the first `NOPERM` is the refusal.
    pub(super) async fn probe_permissions(&mut self) -> OpsResult<()> {
        let mut wanted: BTreeSet<(usize, Probe)> = BTreeSet::new();
        let mut add = |node: usize, p: Probe| {
            wanted.insert((node, p));
        };
        for step in &self.plan.steps {
            for c in &step.commands {
                if let Some(p) = Probe::of(c) {
                    add(step.node, p);
                }
            }
        }
        for &n in &self.plan.snapshots {
            add(n, Probe::BgSave);
        }
        for &n in &self.plan.downloads {
            add(n, Probe::Replconf);
        }
        for (node, probe) in wanted {
            let n = &self.plan.nodes[node];
            if let Err(NodeError::NoPerm(cmd)) = self.ops.probe(n, probe).await {
                let name = self.plan.name(node).to_string();
                return Err(OpsError::refused(format!(
                    "the user this console logs in with may not run '{cmd}' on {name}, and this action \
                     sends it: nothing was changed"
                ))
                .hint(format!(
                    "ACL SETUSER <user> +{cmd} (the README lists the grants of each action)"
                )));
            }
        }
        Ok(())
    }
}
