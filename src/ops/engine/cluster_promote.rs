//! The steps of a cluster promotion, when a shard's primary is down: `CLUSTER FAILOVER FORCE`
//! (or `TAKEOVER`) sent to the replica, waited on until it is a primary, and the slot map
//! verified on every node that answers: each names it the primary of the shard's slots.
//!
//! Unlike a switchover there is no old primary to follow the new one: it is down, and the
//! cluster makes it a replica when it comes back. A forced failover that does not complete
//! is given up by the server (the manual-failover limit is 5 s) and nothing changes; an
//! unanswered command may still run, so it is recorded as a promotion pending, never as
//! "nothing changed".

use std::time::Duration;

use tokio::time::Instant;

use crate::cluster::nodes;
use crate::info::InfoRole;

use super::super::error::{OpsError, OpsResult};
use super::super::next_step::NextStep;
use super::super::plan::StepKind;
use super::super::redis_ops::{Command, InfoSection, RedisOps};
use super::super::summary::info_line;
use super::state::Change;
use super::steps::WAIT_POLL;
use super::{same_host, Run};

/// How long a forced failover may take when the step sets no deadline: the server's own
/// manual-failover limit is 5 s, then the election and the gossip that spreads it.
const FORCE_WAIT: Duration = Duration::from_secs(15);

impl<O: RedisOps> Run<'_, O> {
    /// `CLUSTER FAILOVER FORCE|TAKEOVER` on `t`, then waits until `t` reports role master.
    pub(super) async fn cluster_force_failover(
        &mut self,
        t: usize,
        takeover: bool,
        deadline: Option<Duration>,
    ) -> OpsResult<String> {
        let tn = self.plan.name(t).to_string();
        if let Err((error, pending)) = self
            .try_ok(t, Command::ClusterFailoverForced { takeover })
            .await
        {
            if pending {
                // It may still run: never "nothing changed".
                self.st.did(Change::PromotionPending(t));
            }
            return Err(OpsError::failed(error));
        }
        self.st.did(Change::PromotionPending(t));
        let end = Instant::now() + deadline.unwrap_or(FORCE_WAIT);
        let mut last: String;
        loop {
            tokio::time::sleep(WAIT_POLL).await;
            match self.info(t, InfoSection::Replication).await {
                Ok(i) if i.replication.role == Some(InfoRole::Primary) => {
                    self.st.undid(Change::PromotionPending(t));
                    self.st.did(Change::Promoted(t));
                    return Ok(if takeover {
                        format!("{tn} took the slots over (a new epoch, no election)")
                    } else {
                        format!("{tn} won the election and serves the slots")
                    });
                }
                Ok(i) => last = format!("{tn}: {}", info_line(&i)),
                Err(e) => last = format!("{tn}: {e}"),
            }
            if Instant::now() >= end {
                return Err(OpsError::failed(format!(
                    "{tn} did not become a primary in time ({last}); the server gives a manual \
                     failover up by itself after 5 s{}",
                    if takeover {
                        ""
                    } else {
                        " (an election needs a majority of the primaries to answer)"
                    }
                )));
            }
        }
    }

    /// Polls every node of `nodes` until its `CLUSTER NODES` names `t` the primary of every
    /// slot of `slots`.
    pub(super) async fn verify_cluster_slots(
        &mut self,
        t: usize,
        nodes: &[usize],
        slots: &[(u16, u16)],
        deadline: Duration,
    ) -> OpsResult<String> {
        let agreed = format!(
            "every node that answers ({}) names {} the primary of the shard's slots",
            nodes.len(),
            self.plan.name(t)
        );
        self.until_maps_agree(nodes, deadline, agreed, |run, map| {
            run.slots_problem(map, t, slots)
        })
        .await
    }

    /// What is still wrong in one node's map: `t` a primary that owns every slot of `slots`.
    fn slots_problem(
        &self,
        map: &nodes::NodesReply,
        t: usize,
        slots: &[(u16, u16)],
    ) -> Option<String> {
        let a = &self.plan.nodes[t].addr;
        let tn = self.plan.name(t);
        let Some(target) = map
            .nodes
            .iter()
            .find(|n| n.port == a.port && (n.host.is_empty() || same_host(&n.host, &a.host)))
        else {
            return Some(format!("{tn} is not in its map"));
        };
        if !target.flags.primary {
            return Some(format!("{tn} is not yet a primary"));
        }
        let owns = |s: u16| target.slots.iter().any(|r| r.start <= s && s <= r.end);
        let missing = slots
            .iter()
            .flat_map(|&(a, b)| a..=b)
            .filter(|&s| !owns(s))
            .count();
        (missing > 0).then(|| format!("{missing} slot(s) of the shard are not yet {tn}'s"))
    }

    /// After a failed forced failover: the cluster decides the roles, so the next step is to
    /// look at the shard again. `None` for any other plan.
    pub(super) fn cluster_promote_next_step(&self) -> Option<NextStep> {
        let step = self
            .plan
            .steps
            .iter()
            .find(|s| matches!(s.kind, StepKind::ClusterForceFailover { .. }))?;
        let tn = self.plan.name(step.node);
        Some(NextStep {
            action: None,
            node: None,
            source: None,
            why: format!(
                "the cluster decides the roles: look at the shard again. If {tn} did not take \
                 over, nothing changed (the server gives a manual failover up after 5 s) and the \
                 promotion may be planned again; if it did, it serves the slots and its old \
                 primary turns replica when it comes back"
            ),
        })
    }
}
