//! The conditions on a cluster: who serves a slot's shard, who replicates in it, and a whole
//! cluster (`cluster_state:ok` everywhere, every slot served by a healthy primary). Judged on
//! the core's cluster view of the drill's group; a node counts only with a fresh reading.

use crate::cluster::{ClusterView, Shard};
use crate::topology::{GroupTopology, Link};

use super::is_live;

fn view<'a>(g: &'a GroupTopology, out: &mut Vec<String>) -> Option<&'a ClusterView> {
    let v = g.cluster.as_deref();
    if v.is_none() {
        out.push("no cluster view (no node answered CLUSTER NODES)".to_string());
    }
    v
}

fn shard_of(view: &ClusterView, slot: u16) -> Option<&Shard> {
    view.shards
        .iter()
        .find(|s| s.slots.iter().any(|r| r.start <= slot && slot <= r.end))
}

fn live(g: &GroupTopology, node: &str, out: &mut Vec<String>) -> bool {
    let up = g.by_name(node).is_some_and(is_live);
    if !up {
        out.push(format!("{node} is not up"));
    }
    up
}

/// `node` is the primary of the shard serving `slot`.
pub(super) fn shard_primary(g: &GroupTopology, slot: u16, node: &str, out: &mut Vec<String>) {
    let Some(view) = view(g, out) else { return };
    if !live(g, node, out) {
        return;
    }
    match shard_of(view, slot) {
        Some(s) if s.primary.name == node => {}
        Some(s) => out.push(format!(
            "slot {slot} is served by {}, not {node}",
            s.primary.name
        )),
        None => out.push(format!("no primary serves slot {slot}")),
    }
}

/// `node` replicates, link up, from the primary of the shard serving `slot`.
pub(super) fn shard_replica(g: &GroupTopology, slot: u16, node: &str, out: &mut Vec<String>) {
    let Some(view) = view(g, out) else { return };
    if !live(g, node, out) {
        return;
    }
    let Some(s) = shard_of(view, slot) else {
        out.push(format!("no primary serves slot {slot}"));
        return;
    };
    if !s.replicas.iter().any(|r| r.name == node) {
        out.push(format!(
            "{node} is not a replica of {} (slot {slot}'s primary)",
            s.primary.name
        ));
        return;
    }
    let synced = g
        .by_name(node)
        .is_some_and(|n| n.link == Some(Link::Up) && !n.sync_in_progress);
    if !synced {
        out.push(format!("{node}'s link to {} is not up", s.primary.name));
    }
}

/// `cluster_state:ok` on every node that answers, every slot served by a healthy primary.
pub(super) fn ok(g: &GroupTopology, out: &mut Vec<String>) {
    let Some(view) = view(g, out) else { return };
    let failing: Vec<&str> = view
        .states
        .iter()
        .filter(|(_, ok)| *ok != Some(true))
        .map(|(n, _)| n.as_str())
        .collect();
    if !failing.is_empty() {
        out.push(format!("cluster_state is not ok on {}", failing.join(", ")));
    }
    let uncovered: u32 = view.uncovered.iter().map(|r| r.len()).sum();
    if uncovered > 0 {
        out.push(format!("{uncovered} slot(s) served by no primary"));
    }
    for s in view.shards.iter().filter(|s| s.slot_count > 0) {
        if s.primary.flags.is_unhealthy() {
            out.push(format!(
                "slots of {} are served by a node the cluster marks {}",
                s.primary.name,
                s.primary.flags.words().join(", ")
            ));
        }
    }
}
