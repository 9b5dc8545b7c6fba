//! The cluster steps: `CLUSTER FAILOVER` sent to a replica, waited on, and the slot map
//! verified on every node.
//!
//! A `CLUSTER FAILOVER` in its default mode is the cluster's own coordinated switchover: the
//! primary pauses its clients, the replica catches up on the primary's offset, wins an
//! election and takes the slots; the old primary turns replica by itself. There is nothing
//! for redops to undo: a manual failover that does not complete times out inside the server
//! (the primary unpauses, nothing changes). What the run records: a command that went
//! unanswered may still run ("promotion pending"); a completed one is a promotion and a
//! demotion, so a later failure never reads as "nothing changed".

use std::time::Duration;

use tokio::time::Instant;

use crate::cluster::nodes;
use crate::info::InfoRole;

use super::super::error::{OpsError, OpsResult};
use super::super::next_step::NextStep;
use super::super::plan::StepKind;
use super::super::redis_ops::{Command, InfoSection, RedisOps, Reply};
use super::super::summary::info_line;
use super::state::Change;
use super::steps::{follows, WAIT_POLL};
use super::{same_host, Run};

/// How long a cluster failover may take when the step sets no deadline: the server's own
/// manual-failover limit is 5 s, then an election and the gossip that spreads it.
const FAILOVER_WAIT: Duration = Duration::from_secs(15);

impl<O: RedisOps> Run<'_, O> {
    /// `CLUSTER FAILOVER` on `t`, then waits until `t` is a primary and `p` follows it.
    pub(super) async fn cluster_failover(
        &mut self,
        t: usize,
        p: usize,
        deadline: Option<Duration>,
    ) -> OpsResult<String> {
        let (pn, tn) = (self.plan.name(p).to_string(), self.plan.name(t).to_string());
        if let Err((error, pending)) = self.try_ok(t, Command::ClusterFailover).await {
            if pending {
                // It may still run: never "nothing changed".
                self.st.did(Change::PromotionPending(t));
            }
            return Err(OpsError::failed(error));
        }
        self.st.did(Change::PromotionPending(t));
        let end = Instant::now() + deadline.unwrap_or(FAILOVER_WAIT);
        let t_addr = self.plan.nodes[t].addr.clone();
        let mut last: String;
        loop {
            tokio::time::sleep(WAIT_POLL).await;
            let target = self.info(t, InfoSection::Replication).await;
            match target {
                Ok(i) if i.replication.role == Some(InfoRole::Primary) => {
                    match self.info(p, InfoSection::Replication).await {
                        Ok(o) if follows(&o, &t_addr) => {
                            self.st.undid(Change::PromotionPending(t));
                            self.st.did(Change::Promoted(t));
                            self.st.did(Change::Demoted(p));
                            return Ok(format!(
                                "{tn} won the election and serves the slots; {pn} replicates from it"
                            ));
                        }
                        Ok(o) => last = format!("{tn} is primary; {pn}: {}", info_line(&o)),
                        Err(e) => last = format!("{tn} is primary; {pn}: {e}"),
                    }
                }
                Ok(i) => last = format!("{tn}: {}", info_line(&i)),
                Err(e) => last = format!("{tn}: {e}"),
            }
            if Instant::now() >= end {
                return Err(OpsError::failed(format!(
                    "the cluster failover did not complete in time ({last}); the server gives up a \
                     manual failover by itself after 5 s and the primary resumes"
                )));
            }
        }
    }

    /// Polls every node of `nodes` until its `CLUSTER NODES` names `t` the primary of the
    /// shard's slots and `old` a replica of `t`.
    pub(super) async fn verify_cluster(
        &mut self,
        t: usize,
        old: usize,
        nodes: &[usize],
        deadline: Duration,
    ) -> OpsResult<String> {
        let (tn, on) = (
            self.plan.name(t).to_string(),
            self.plan.name(old).to_string(),
        );
        let agreed = format!(
            "every node ({}) names {tn} the primary of its slots and {on} its replica",
            nodes.len()
        );
        self.until_maps_agree(nodes, deadline, agreed, |run, map| {
            run.map_problem(map, t, old)
        })
        .await
    }

    /// Reads `CLUSTER NODES` on every node of `nodes` until `problem` finds nothing wrong in
    /// any of them in one round (then `agreed`), or `deadline` passes (the problems left).
    pub(super) async fn until_maps_agree(
        &mut self,
        nodes: &[usize],
        deadline: Duration,
        agreed: String,
        problem: impl Fn(&Self, &nodes::NodesReply) -> Option<String>,
    ) -> OpsResult<String> {
        let end = Instant::now() + deadline;
        loop {
            let mut problems = Vec::new();
            for &n in nodes {
                let name = self.plan.name(n).to_string();
                match self.send(n, Command::ClusterNodes).await {
                    Ok(Reply::Text(text)) => {
                        if let Some(p) = problem(self, &nodes::parse(&text)) {
                            problems.push(format!("{name}: {p}"));
                        }
                    }
                    Ok(other) => problems.push(format!("{name}: {}", other.summary())),
                    Err(e) => problems.push(format!("{name}: {e}")),
                }
            }
            if problems.is_empty() {
                return Ok(agreed);
            }
            if Instant::now() >= end {
                return Err(OpsError::failed(format!(
                    "the slot map has not settled: {}",
                    problems.join("; ")
                )));
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }

    /// After a failed run that went through the cluster's own failover: the cluster decides
    /// the roles, so the next step is to look at the shard, never a redops role change
    /// (several primaries are shards there). `None` for any other plan.
    pub(super) fn cluster_next_step(&self) -> Option<NextStep> {
        if let Some(next) = self.cluster_promote_next_step() {
            return Some(next);
        }
        let step = self
            .plan
            .steps
            .iter()
            .find(|s| matches!(s.kind, StepKind::ClusterFailover { .. }))?;
        let StepKind::ClusterFailover { primary } = step.kind else {
            return None;
        };
        let (tn, pn) = (self.plan.name(step.node), self.plan.name(primary));
        Some(NextStep {
            action: None,
            node: None,
            source: None,
            why: format!(
                "the cluster decides the roles: look at the shard again. If {tn} did not take                  over, nothing changed ({pn} serves its slots again once the cluster gives the                  manual failover up); if it did, {pn} follows it. A switchover straight back                  should wait twice the cluster-node-timeout"
            ),
        })
    }

    /// What is still wrong in one node's map: `t` a primary with slots, `old` its replica.
    fn map_problem(&self, map: &nodes::NodesReply, t: usize, old: usize) -> Option<String> {
        let find = |i: usize| {
            let a = &self.plan.nodes[i].addr;
            map.nodes
                .iter()
                .find(|n| n.port == a.port && (n.host.is_empty() || same_host(&n.host, &a.host)))
        };
        let (tn, on) = (self.plan.name(t), self.plan.name(old));
        let Some(target) = find(t) else {
            return Some(format!("{tn} is not in its map"));
        };
        if !target.flags.primary || target.slots.is_empty() {
            return Some(format!("{tn} is not yet the primary of any slot"));
        }
        match find(old) {
            Some(o) if o.flags.replica && o.primary_id.as_deref() == Some(target.id.as_str()) => {
                None
            }
            Some(_) => Some(format!("{on} is not yet a replica of {tn}")),
            None => Some(format!("{on} is not in its map")),
        }
    }
}
