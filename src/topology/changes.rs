//! What changed between two cycles: the events of `redops watch` and the console's event log.
//!
//! Pure: compares two topologies by group and node name.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use super::{AnomalyKind, GroupTopology, Link, NodeView, Role, Severity, Topology};
use crate::observe::NodeState;

/// Kinds of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    NodeDown,
    NodeUp,
    StateChanged,
    RoleChanged,
    UpstreamChanged,
    LinkDown,
    LinkUp,
    SyncStarted,
    SyncFinished,
    AnomalyRaised,
    AnomalyCleared,
    /// A message from a sentinel's event channels (`sentinel/events.rs`).
    SentinelEvent,
}

impl ChangeKind {
    /// The `snake_case` word used in JSON lines.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NodeDown => "node_down",
            Self::NodeUp => "node_up",
            Self::StateChanged => "state_changed",
            Self::RoleChanged => "role_changed",
            Self::UpstreamChanged => "upstream_changed",
            Self::LinkDown => "link_down",
            Self::LinkUp => "link_up",
            Self::SyncStarted => "sync_started",
            Self::SyncFinished => "sync_finished",
            Self::AnomalyRaised => "anomaly_raised",
            Self::AnomalyCleared => "anomaly_cleared",
            Self::SentinelEvent => "sentinel_event",
        }
    }
}

/// One change, in plain words.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub at: SystemTime,
    pub group: String,
    pub node: Option<String>,
    pub kind: ChangeKind,
    pub severity: Severity,
    pub message: String,
}

/// Changes from `prev` to `next`. Nodes first appearing (the first poll) are not changes.
#[must_use]
pub fn changes(prev: &Topology, next: &Topology, at: SystemTime) -> Vec<Change> {
    let mut out = Vec::new();
    for g in &next.groups {
        let Some(pg) = prev.groups.iter().find(|p| p.name == g.name) else {
            continue;
        };
        node_changes(pg, g, at, &mut out);
        anomaly_changes(pg, g, at, &mut out);
    }
    out
}

fn by_name(g: &GroupTopology) -> BTreeMap<&str, &NodeView> {
    g.nodes.iter().map(|n| (n.name.as_str(), n)).collect()
}

fn upstream_name(g: &GroupTopology, n: &NodeView) -> Option<String> {
    let u = n.upstream.as_ref()?;
    Some(
        u.index
            .map_or_else(|| u.addr.clone(), |j| g.nodes[j].name.clone()),
    )
}

/// The role a view showed, or for a node that did not answer, the role of its last INFO: a
/// role that flipped while redops could not read the node (a killed connection, a restart) is
/// reported when it answers again instead of vanishing behind the gap.
fn last_known_role(n: &NodeView) -> Role {
    if n.role != Role::Unknown || !n.stale_info {
        return n.role;
    }
    match n.info.as_ref().and_then(|i| i.replication.role) {
        Some(crate::info::InfoRole::Primary) => Role::Primary,
        Some(crate::info::InfoRole::Replica) => Role::Replica,
        None => Role::Unknown,
    }
}

fn node_changes(pg: &GroupTopology, g: &GroupTopology, at: SystemTime, out: &mut Vec<Change>) {
    let before = by_name(pg);
    for n in g.nodes.iter().filter(|n| !n.unmanaged) {
        let Some(p) = before.get(n.name.as_str()) else {
            continue;
        };
        let mut emit = |kind: ChangeKind, severity: Severity, message: String| {
            out.push(Change {
                at,
                group: g.name.clone(),
                node: Some(n.name.clone()),
                kind,
                severity,
                message,
            });
        };
        let name = &n.name;
        if p.state != n.state && p.state != NodeState::Unknown {
            let err = n
                .error
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            match n.state {
                NodeState::Down | NodeState::Unresponsive => emit(
                    ChangeKind::NodeDown,
                    Severity::Critical,
                    format!("{name} is {}: {err}", n.state.as_str()),
                ),
                NodeState::Up if !p.state.is_reachable() => emit(
                    ChangeKind::NodeUp,
                    Severity::Info,
                    format!("{name} answers again (was {})", p.state.as_str()),
                ),
                _ => emit(
                    ChangeKind::StateChanged,
                    Severity::Warning,
                    format!("{name} is {} (was {})", n.state.as_str(), p.state.as_str()),
                ),
            }
        }
        let was = last_known_role(p);
        if was != n.role && was != Role::Unknown && n.role != Role::Unknown {
            emit(
                ChangeKind::RoleChanged,
                Severity::Warning,
                format!("{name} is now {} (was {})", n.role.as_str(), was.as_str()),
            );
        }
        let (pu, nu) = (upstream_name(pg, p), upstream_name(g, n));
        if pu != nu && n.role == Role::Replica && p.role == Role::Replica {
            emit(
                ChangeKind::UpstreamChanged,
                Severity::Info,
                format!(
                    "{name} now replicates from {} (was {})",
                    nu.as_deref().unwrap_or("nothing"),
                    pu.as_deref().unwrap_or("nothing")
                ),
            );
        }
        match (p.link, n.link) {
            (Some(Link::Up), Some(Link::Down { .. })) => emit(
                ChangeKind::LinkDown,
                Severity::Warning,
                format!(
                    "{name}'s link to {} went down",
                    nu.as_deref().unwrap_or("its primary")
                ),
            ),
            (Some(Link::Down { .. }), Some(Link::Up)) => emit(
                ChangeKind::LinkUp,
                Severity::Info,
                format!(
                    "{name}'s link to {} is up",
                    nu.as_deref().unwrap_or("its primary")
                ),
            ),
            _ => {}
        }
        if !p.sync_in_progress && n.sync_in_progress {
            emit(
                ChangeKind::SyncStarted,
                Severity::Warning,
                format!("{name} started a full sync"),
            );
        } else if p.sync_in_progress && !n.sync_in_progress && n.state.is_reachable() {
            emit(
                ChangeKind::SyncFinished,
                Severity::Info,
                format!("{name} finished its full sync"),
            );
        }
    }
}

fn anomaly_changes(pg: &GroupTopology, g: &GroupTopology, at: SystemTime, out: &mut Vec<Change>) {
    type Key = (AnomalyKind, Vec<String>);
    let key = |a: &super::Anomaly| -> Key { (a.kind, a.nodes.clone()) };
    let before: BTreeSet<Key> = pg.anomalies.iter().map(key).collect();
    let after: BTreeSet<Key> = g.anomalies.iter().map(key).collect();
    for a in g.anomalies.iter().filter(|a| !before.contains(&key(a))) {
        out.push(Change {
            at,
            group: g.name.clone(),
            node: a.nodes.first().cloned(),
            kind: ChangeKind::AnomalyRaised,
            severity: a.severity,
            message: a.message.clone(),
        });
    }
    for a in pg.anomalies.iter().filter(|a| !after.contains(&key(a))) {
        out.push(Change {
            at,
            group: g.name.clone(),
            node: a.nodes.first().cloned(),
            kind: ChangeKind::AnomalyCleared,
            severity: Severity::Info,
            message: if a.nodes.is_empty() {
                format!("cleared: {}", a.kind.as_str().replace('_', " "))
            } else {
                format!(
                    "cleared: {} ({})",
                    a.kind.as_str().replace('_', " "),
                    a.nodes.join(", ")
                )
            },
        });
    }
}
