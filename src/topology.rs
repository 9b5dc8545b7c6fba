//! The replication topology, derived afresh from the latest observations on every cycle.
//!
//! [`build`] is a pure function: config + fleet state + history + "now" in, groups with their
//! tree of nodes, per-replica link and lag, and anomalies out. Nothing is remembered between
//! cycles except what the history holds explicitly (DESIGN invariant 8), and what the two
//! stateful passes `monitor` runs after `build` keep: [`Confirm`] (holds back what one
//! straddling cycle can fake) and [`LossWatch`] (a primary that restarted with less data,
//! which only a memory of the node before its restart can see).

mod anomaly;
mod build;
mod changes;
mod confirm;
pub mod data_loss;
mod lag_hold;
mod liveness;

pub use anomaly::{human_bytes, human_secs};
pub use build::{build, lag_level};
pub use changes::{changes, Change, ChangeKind};
pub use confirm::Confirm;
pub use data_loss::LossWatch;
pub use lag_hold::{LagHold, LAG_CLEAR_AFTER, LAG_CLEAR_RATIO, LAG_RAISE_AFTER};
pub use liveness::Liveness;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::info::Info;
use crate::observe::{NodeError, NodeId, NodeState};

/// The whole fleet as of one cycle.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    pub at: Option<SystemTime>,
    pub groups: Vec<GroupTopology>,
}

impl Topology {
    /// True when no group has an anomaly.
    #[must_use]
    pub fn healthy(&self) -> bool {
        self.groups.iter().all(|g| g.anomalies.is_empty())
    }

    /// The view of a configured node.
    #[must_use]
    pub fn node(&self, id: NodeId) -> Option<&NodeView> {
        self.groups
            .get(id.group)?
            .nodes
            .iter()
            .find(|n| n.id == Some(id))
    }
}

/// One group: its nodes in tree order and what is wrong with it.
#[derive(Debug, Clone, Default)]
pub struct GroupTopology {
    pub index: usize,
    pub name: String,
    /// Tree order: each primary followed by its replicas (depth-first), then nodes that hang
    /// from nothing we know (orphans, unknown-primary replicas, unreachable nodes).
    pub nodes: Vec<NodeView>,
    /// Worst first.
    pub anomalies: Vec<Anomaly>,
    /// Sentinel's view, for a group Sentinel watches (added by the monitor).
    pub sentinel: Option<crate::sentinel::GroupSentinel>,
    /// The cluster's own view, for a cluster group whose nodes answered `CLUSTER NODES`.
    pub cluster: Option<Arc<crate::cluster::ClusterView>>,
}

impl GroupTopology {
    /// Indices (into `nodes`) of the nodes that say they are primaries.
    #[must_use]
    pub fn primaries(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.role == Role::Primary && !n.unmanaged)
            .map(|(i, _)| i)
            .collect()
    }

    /// A node by configured name.
    #[must_use]
    pub fn by_name(&self, name: &str) -> Option<&NodeView> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// How operator text names an upstream: the known node's name, its address only when
    /// no node of the group has it.
    #[must_use]
    pub fn upstream_name<'a>(&'a self, u: &'a Upstream) -> &'a str {
        u.index
            .and_then(|i| self.nodes.get(i))
            .map_or(u.addr.as_str(), |v| v.name.as_str())
    }
}

/// Our word for a node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Primary,
    Replica,
    Unknown,
}

impl Role {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Replica => "replica",
            Self::Unknown => "unknown",
        }
    }
}

/// The upstream a replica follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    /// The known node's configured `host:port`, or `master_host:master_port` as reported.
    pub addr: String,
    /// Index into `GroupTopology::nodes` when it is a node we know.
    pub index: Option<usize>,
}

/// Replication link state, from the replica's side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Link {
    Up,
    /// Down; `since` is `master_link_down_since_seconds` (`None` when the link was never up).
    Down {
        since: Option<Duration>,
    },
}

/// How a replica's lag compares with the group's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LagLevel {
    Ok,
    Warn,
    Critical,
    Unknown,
}

/// One node as drawn.
#[derive(Debug, Clone)]
pub struct NodeView {
    /// `None` for a replica seen only in a primary's `slaveN` list (unmanaged).
    pub id: Option<NodeId>,
    pub name: String,
    /// As configured (or as reported, for unmanaged replicas).
    pub addr: String,
    pub role: Role,
    pub state: NodeState,
    /// 0 for roots; replicas are one deeper than their upstream.
    pub depth: usize,
    pub upstream: Option<Upstream>,
    pub link: Option<Link>,
    pub sync_in_progress: bool,
    /// Replica's applied offset vs its root primary's `master_repl_offset` (same replid only).
    pub lag_bytes: Option<u64>,
    /// Age of the oldest write not yet applied, estimated from the primary's offset history.
    pub lag_seconds: Option<f64>,
    pub lag_level: LagLevel,
    /// The level of the same lag against thresholds lowered to [`LAG_CLEAR_RATIO`]: an alert
    /// already raised holds until the lag falls below this (hysteresis, see `lag_hold.rs`).
    pub lag_hold_level: LagLevel,
    /// `master_repl_offset` for primaries, `slave_repl_offset` for replicas.
    pub offset: Option<u64>,
    pub replid: Option<String>,
    pub version: Option<String>,
    /// Last poll round trip.
    pub rtt: Option<Duration>,
    /// When the last successful poll happened.
    pub last_ok: Option<SystemTime>,
    /// `info` is from an earlier successful poll, not the latest one.
    pub stale_info: bool,
    pub info: Option<Arc<Info>>,
    pub error: Option<NodeError>,
    /// Seen by a primary, not configured.
    pub unmanaged: bool,
    /// The earlier configured entry of this group that answered with the same `run_id`: the
    /// same server under a second address. Such a view is drawn but carries no edge and does
    /// not count as a second primary (REDIS.md 2.2, point 4).
    pub same_server_as: Option<String>,
}

impl NodeView {
    /// True when `other` is this very server: the same entry, an entry marked as its twin, or
    /// one whose INFO gave the same `run_id`. Spellings of addresses never decide it.
    #[must_use]
    pub fn same_server(&self, other: &NodeView) -> bool {
        let run_id = |v: &NodeView| {
            v.info
                .as_ref()
                .and_then(|i| i.server.run_id.clone())
                .filter(|id| !id.is_empty())
        };
        self.name == other.name
            || self.same_server_as.as_deref() == Some(other.name.as_str())
            || other.same_server_as.as_deref() == Some(self.name.as_str())
            || run_id(self).is_some_and(|id| Some(id) == run_id(other))
    }

    /// A blank view for a configured node that has no observation yet.
    #[must_use]
    pub fn new(id: Option<NodeId>, name: &str, addr: &str) -> Self {
        Self {
            id,
            name: name.to_string(),
            addr: addr.to_string(),
            role: Role::Unknown,
            state: NodeState::Unknown,
            depth: 0,
            upstream: None,
            link: None,
            sync_in_progress: false,
            lag_bytes: None,
            lag_seconds: None,
            lag_level: LagLevel::Unknown,
            lag_hold_level: LagLevel::Unknown,
            offset: None,
            replid: None,
            version: None,
            rtt: None,
            last_ok: None,
            stale_info: false,
            info: None,
            error: None,
            unmanaged: false,
            same_server_as: None,
        }
    }
}

/// How bad an anomaly is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// Kinds of trouble the topology detects structurally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnomalyKind {
    SameServer,
    /// A primary restarted with less data and its replicas copy it (`topology/data_loss.rs`).
    DataLostOnRestart,
    /// A primary lost most of its keys between two polls without a restart (`FLUSHALL`,
    /// `FLUSHDB`, a mass deletion), and its replicas copy it (`topology/data_loss.rs`).
    DataWiped,
    NodeDown,
    NodeUnresponsive,
    NodeError,
    NoPrimary,
    SplitBrain,
    ReplicationLoop,
    StalePrimary,
    LinkDown,
    FullSync,
    UnknownPrimary,
    BgsaveFailed,
    NoPersistence,
    LagHigh,
    FailoverInProgress,
    UnmanagedReplica,
    /// Sentinel's view (`sentinel/view.rs`).
    SentinelDown,
    SentinelQuorum,
    SentinelUnknownMaster,
    SentinelDisagree,
    SentinelMasterMismatch,
    SentinelTilt,
    SentinelReplica,
    SentinelDemoting,
    SentinelFailoverAborted,
    /// `cluster_state:fail` (`cluster/anomaly.rs`, as every `Cluster*` and `Slot*` kind).
    ClusterDown,
    SlotsUncovered,
    SlotsOnFailedNode,
    ClusterNodeFailed,
    ShardNoReplica,
    ClusterDisagree,
    SlotOpen,
    ClusterUnread,
    /// A replica whose primary is in another shard's view.
    ClusterReplicaMisplaced,
}

impl AnomalyKind {
    /// The data-loss watch's kinds: they stay until acknowledged (`a`).
    #[must_use]
    pub fn is_data_loss(self) -> bool {
        matches!(self, Self::DataLostOnRestart | Self::DataWiped)
    }

    /// The `snake_case` word used in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SameServer => "same_server",
            Self::DataLostOnRestart => "data_lost_on_restart",
            Self::DataWiped => "data_wiped",
            Self::NodeDown => "node_down",
            Self::NodeUnresponsive => "node_unresponsive",
            Self::NodeError => "node_error",
            Self::NoPrimary => "no_primary",
            Self::SplitBrain => "split_brain",
            Self::ReplicationLoop => "replication_loop",
            Self::StalePrimary => "stale_primary",
            Self::LinkDown => "link_down",
            Self::FullSync => "full_sync",
            Self::UnknownPrimary => "unknown_primary",
            Self::BgsaveFailed => "bgsave_failed",
            Self::NoPersistence => "no_persistence",
            Self::LagHigh => "lag_high",
            Self::FailoverInProgress => "failover_in_progress",
            Self::UnmanagedReplica => "unmanaged_replica",
            Self::SentinelDown => "sentinel_down",
            Self::SentinelQuorum => "sentinel_quorum",
            Self::SentinelUnknownMaster => "sentinel_unknown_master",
            Self::SentinelDisagree => "sentinel_disagree",
            Self::SentinelMasterMismatch => "sentinel_master_mismatch",
            Self::SentinelTilt => "sentinel_tilt",
            Self::SentinelReplica => "sentinel_replica",
            Self::SentinelDemoting => "sentinel_demoting",
            Self::SentinelFailoverAborted => "sentinel_failover_aborted",
            Self::ClusterDown => "cluster_down",
            Self::SlotsUncovered => "slots_uncovered",
            Self::SlotsOnFailedNode => "slots_on_failed_node",
            Self::ClusterNodeFailed => "cluster_node_failed",
            Self::ShardNoReplica => "shard_no_replica",
            Self::ClusterDisagree => "cluster_disagree",
            Self::SlotOpen => "slot_open",
            Self::ClusterUnread => "cluster_unread",
            Self::ClusterReplicaMisplaced => "cluster_replica_misplaced",
        }
    }
}

/// Something wrong, in plain words.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub severity: Severity,
    /// Names of the nodes concerned.
    pub nodes: Vec<String>,
    pub message: String,
}

/// Tree-drawing prefixes (`├ `, `└ `, `│ `) for rows given in depth-first order with their
/// depths. Used by every front-end so the tree reads the same everywhere.
#[must_use]
pub fn tree_prefixes(depths: &[usize]) -> Vec<String> {
    let is_last = |i: usize| -> bool {
        let d = depths[i];
        for &dj in &depths[i + 1..] {
            if dj < d {
                return true;
            }
            if dj == d {
                return false;
            }
        }
        true
    };
    let mut out = Vec::with_capacity(depths.len());
    // open[k]: an ancestor at depth k+1 still has siblings below.
    let mut open: Vec<bool> = Vec::new();
    for (i, &d) in depths.iter().enumerate() {
        if d == 0 {
            open.clear();
            out.push(String::new());
            continue;
        }
        open.truncate(d - 1);
        while open.len() < d - 1 {
            open.push(false);
        }
        let mut s = String::new();
        for &o in &open {
            s.push_str(if o { "│ " } else { "  " });
        }
        let last = is_last(i);
        s.push_str(if last { "└ " } else { "├ " });
        open.push(!last);
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::tree_prefixes;

    #[test]
    fn prefixes_draw_a_tree() {
        let p = tree_prefixes(&[0, 1, 2, 1, 0]);
        assert_eq!(p, vec!["", "├ ", "│ └ ", "└ ", ""]);
    }
}
