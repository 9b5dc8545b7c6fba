//! Building a [`Situation`] from what each caller holds: the topology as polled (interrupted
//! runs, the console's offer) or one INFO per node read by the engine after a failed run.
//! Pure: reads only.

use crate::info::{Info, InfoRole};
use crate::topology::{AnomalyKind, GroupTopology, Link, NodeView, Role};

use super::{NodeFacts, Repl, RunFacts, Seen, Situation};

impl Repl {
    /// The replication facts of an INFO reply; `upstream` names the node it replicates from
    /// when that is a node of the group. `None` when the reply gives no role.
    #[must_use]
    pub fn from_info(info: &Info, upstream: Option<String>) -> Option<Self> {
        let r = &info.replication;
        let role = match r.role? {
            InfoRole::Primary => Role::Primary,
            InfoRole::Replica => Role::Replica,
        };
        Some(Self {
            role,
            replid: r.replid.clone(),
            replid2: r.replid2.clone(),
            offset: r.offset,
            replica_offset: r.replica_offset,
            link_up: r.link_up == Some(true),
            upstream,
            failing_over: r
                .failover_state
                .as_deref()
                .is_some_and(|s| s != "no-failover"),
        })
    }
}

impl NodeFacts {
    /// A node read by INFO (an answer without a role counts as unreadable).
    #[must_use]
    pub fn read(name: &str, info: &Info, upstream: Option<String>) -> Self {
        Self {
            name: name.to_string(),
            seen: Repl::from_info(info, upstream).map_or(Seen::Unreadable, Seen::Read),
        }
    }

    /// A node as the topology shows it: read when its INFO is current, silent when it gave no
    /// answer, unreadable otherwise.
    #[must_use]
    pub fn of_view(v: &NodeView, group: &GroupTopology) -> Self {
        let current = v.state.is_reachable() && !v.stale_info;
        let upstream = v
            .upstream
            .as_ref()
            .and_then(|u| group.nodes.get(u.index?))
            .map(|u| u.name.clone());
        let repl = v
            .info
            .as_ref()
            .filter(|_| current && v.role != Role::Unknown)
            .and_then(|i| Repl::from_info(i, upstream))
            .map(|mut r| {
                r.role = v.role;
                r.link_up = v.link == Some(Link::Up);
                r.replid.clone_from(&v.replid);
                r
            });
        let seen = match repl {
            Some(r) => Seen::Read(r),
            None if v.state.is_silent() => Seen::Silent,
            None => Seen::Unreadable,
        };
        Self {
            name: v.name.clone(),
            seen,
        }
    }
}

impl Situation {
    /// The group as polled: its managed nodes (a second entry of a server already listed is
    /// left out: it is not a second primary), and the stale primaries the topology flags as
    /// the first to rejoin.
    #[must_use]
    pub fn of_group(group: &GroupTopology) -> Self {
        let nodes = group
            .nodes
            .iter()
            .filter(|v| !v.unmanaged && v.same_server_as.is_none())
            .map(|v| NodeFacts::of_view(v, group))
            .collect();
        let rejoin = group
            .anomalies
            .iter()
            .filter(|a| a.kind == AnomalyKind::StalePrimary)
            .filter_map(|a| a.nodes.first().cloned())
            .collect();
        Self {
            nodes,
            rejoin,
            run: None,
        }
    }

    /// The same, with more old primaries to rejoin (after those already listed).
    #[must_use]
    pub fn also_rejoin(mut self, names: impl IntoIterator<Item = String>) -> Self {
        for n in names {
            if !self.rejoin.contains(&n) {
                self.rejoin.push(n);
            }
        }
        self
    }

    /// What a failed run left: its nodes as read just now, and what the run knows.
    #[must_use]
    pub fn after_run(nodes: Vec<NodeFacts>, run: RunFacts) -> Self {
        Self {
            nodes,
            rejoin: Vec::new(),
            run: Some(run),
        }
    }
}
