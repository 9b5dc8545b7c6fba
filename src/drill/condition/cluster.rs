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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::cluster::{ClusterView, Flags, Shard, ShardNode, SlotRange};
    use crate::drill::testing::{down, primary, replica, topo};
    use crate::drill::Condition;
    use crate::topology::Topology;

    fn node(name: &str, flags: Flags) -> ShardNode {
        ShardNode {
            id: name.repeat(20),
            name: name.to_string(),
            addr: String::new(),
            flags,
            config_epoch: 1,
            connected: true,
            polled: true,
            reachable: true,
            keys: None,
            lag_bytes: None,
        }
    }

    fn shard(p: ShardNode, replicas: Vec<ShardNode>, start: u16, end: u16) -> Shard {
        Shard {
            primary: p,
            replicas,
            slots: vec![SlotRange { start, end }],
            slot_count: u32::from(end - start) + 1,
        }
    }

    /// n4 serves 0-8191 (n1, back, its replica), n2 8192-16383; n1's state as given.
    fn cluster(t: &mut Topology, n1_replica: bool, state_ok: bool) {
        let fail = Flags {
            primary: true,
            fail: true,
            ..Flags::default()
        };
        let mut shards = vec![
            shard(
                node("n4", Flags::default()),
                if n1_replica {
                    vec![node("n1", Flags::default())]
                } else {
                    Vec::new()
                },
                0,
                8191,
            ),
            shard(node("n2", Flags::default()), Vec::new(), 8192, 16383),
        ];
        if !n1_replica {
            shards.push(Shard {
                primary: node("n1", fail),
                replicas: Vec::new(),
                slots: Vec::new(),
                slot_count: 0,
            });
        }
        t.groups[0].cluster = Some(Arc::new(ClusterView {
            source: "n2".into(),
            state_ok: Some(state_ok),
            states: vec![("n2".into(), Some(state_ok)), ("n4".into(), Some(true))],
            shards,
            ..ClusterView::default()
        }));
    }

    #[test]
    fn the_shard_of_a_slot_names_its_primary_and_replicas() {
        let mut t = topo(1, &[down(primary("n1")), primary("n2"), primary("n4")]);
        cluster(&mut t, false, false);
        let on_n4 = Condition::ShardPrimary {
            slot: 0,
            node: "n4".into(),
        };
        assert!(on_n4.holds(&t, None));
        let on_n1 = Condition::ShardPrimary {
            slot: 100,
            node: "n1".into(),
        };
        assert_eq!(on_n1.unmet(&t, None), ["n1 is not up"]);
        assert_eq!(
            Condition::ClusterOk.unmet(&t, None),
            ["cluster_state is not ok on n2"]
        );
        let mut back = topo(1, &[replica("n1", "n4"), primary("n2"), primary("n4")]);
        cluster(&mut back, true, true);
        assert!(Condition::ClusterOk.holds(&back, None));
        let n1_replica = Condition::ShardReplica {
            slot: 8191,
            node: "n1".into(),
        };
        assert!(
            n1_replica.holds(&back, None),
            "{:?}",
            n1_replica.unmet(&back, None)
        );
        let wrong_shard = Condition::ShardReplica {
            slot: 9000,
            node: "n1".into(),
        };
        assert_eq!(
            wrong_shard.unmet(&back, None),
            ["n1 is not a replica of n2 (slot 9000's primary)"]
        );
        assert_eq!(
            Condition::ShardPrimary {
                slot: 0,
                node: "n2".into()
            }
            .unmet(&back, None),
            ["slot 0 is served by n4, not n2"]
        );
    }

    #[test]
    fn no_cluster_view_is_said() {
        let t = topo(1, &[primary("n1")]);
        assert_eq!(
            Condition::ClusterOk.unmet(&t, None),
            ["no cluster view (no node answered CLUSTER NODES)"]
        );
    }
}
