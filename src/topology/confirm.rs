//! Holding back structural anomalies that one straddling poll cycle can fake.
//!
//! Role changes are not atomic across nodes, and each node is polled at its own moment. A
//! cycle that straddles a switchover can see the promoted replica already primary and the old
//! primary not yet demoted (two primaries), the old primary demoted and the target not yet
//! promoted (no primary), or, with `FAILOVER`, a two-node loop. Such a picture is confirmed only
//! once every node it concerns has answered a poll that started after it was first seen; until
//! then it is held back, so the banner and the event log never cry "split brain" during every
//! planned switchover. The same holds for a primary that looks stale in one cycle of a clean
//! failback. The delay is at most one poll interval. Lag alerts are held with hysteresis
//! (`lag_hold.rs`) in the same pass. One-shot `status` does not use this: it reports what it
//! saw.

use std::collections::HashMap;
use std::time::SystemTime;

use super::{AnomalyKind, GroupTopology, LagHold, Topology};

const HELD: [AnomalyKind; 7] = [
    AnomalyKind::SplitBrain,
    // Gossip reaches each node at its own moment: two maps differ for a cycle after every
    // failover, and the new primary is seen before its old one turns replica.
    AnomalyKind::ClusterDisagree,
    // Likewise for a replica moved by CLUSTER REPLICATE, or whose primary was failed over.
    AnomalyKind::ClusterReplicaMisplaced,
    AnomalyKind::ShardNoReplica,
    AnomalyKind::ReplicationLoop,
    AnomalyKind::NoPrimary,
    AnomalyKind::StalePrimary,
];

type Key = (usize, AnomalyKind, Vec<String>);

/// First-seen times of the structural anomalies still waiting for confirmation.
#[derive(Debug, Clone, Default)]
pub struct Confirm {
    first_seen: HashMap<Key, SystemTime>,
    lag: LagHold,
}

impl Confirm {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes from `topo` the structural anomalies not confirmed yet, and remembers when each
    /// was first seen; holds lag levels with hysteresis. `seen_at` is the time of the cycle
    /// (the topology's `at`).
    pub fn apply(&mut self, topo: &mut Topology, seen_at: SystemTime) {
        self.lag.apply(topo, seen_at);
        let mut present: Vec<Key> = Vec::new();
        for g in &mut topo.groups {
            let gi = g.index;
            let mut kept = Vec::with_capacity(g.anomalies.len());
            for a in std::mem::take(&mut g.anomalies) {
                if !HELD.contains(&a.kind) {
                    kept.push(a);
                    continue;
                }
                let key = (gi, a.kind, a.nodes.clone());
                let since = *self.first_seen.entry(key.clone()).or_insert(seen_at);
                present.push(key);
                if confirmed(g, &a.nodes, since) {
                    kept.push(a);
                }
            }
            g.anomalies = kept;
        }
        self.first_seen.retain(|k, _| present.contains(k));
    }
}

/// Every node concerned (every reachable node of the group when none is named) has answered a
/// poll that started after `since`.
fn confirmed(g: &GroupTopology, names: &[String], since: SystemTime) -> bool {
    let fresh = |n: &super::NodeView| n.last_ok.is_some_and(|t| t > since);
    if names.is_empty() {
        g.nodes
            .iter()
            .filter(|n| !n.unmanaged && n.state.is_reachable())
            .all(fresh)
    } else {
        names.iter().all(|name| g.by_name(name).is_some_and(&fresh))
    }
}
