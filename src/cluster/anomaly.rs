//! What is wrong with a cluster, in plain words, from its [`ClusterView`]: state fail, slots
//! no one serves or a failed node serves, a shard one failure away from losing data, nodes
//! that disagree on the slot map or epochs, failed or suspected nodes, slots left migrating,
//! a replica whose primary is in another shard's view, and a real split brain (two primaries claiming the same slots). Several primaries are
//! never a split brain in a cluster: each owns its own slots. Pure.

use super::nodes::ranges_text;
use super::view::ClusterView;
use crate::topology::{Anomaly, AnomalyKind, NodeView, Severity};

/// How many slot ranges a message lists before `(+N more)`.
const RANGES_SHOWN: usize = 4;

fn push(out: &mut Vec<Anomaly>, kind: AnomalyKind, sev: Severity, nodes: Vec<String>, msg: String) {
    out.push(Anomaly {
        kind,
        severity: sev,
        nodes,
        message: msg,
    });
}

/// Appends the anomalies of `view` (a cluster group's) to `out`. `nodes` are the group's
/// views: a node already reported down or silent is not reported again as failed.
pub fn detect(view: &ClusterView, nodes: &[NodeView], out: &mut Vec<Anomaly>) {
    state(view, out);
    coverage(view, out);
    failed_nodes(view, nodes, out);
    shards_without_replica(view, out);
    for o in &view.overlaps {
        push(
            out,
            AnomalyKind::SplitBrain,
            Severity::Critical,
            vec![o.a.clone(), o.b.clone()],
            format!(
                "{} and {} both claim slots {} as primaries: writes to those slots can land on \
                 either and one side's will be lost when the cluster settles",
                o.a,
                o.b,
                ranges_text(&o.ranges, RANGES_SHOWN)
            ),
        );
    }
    for d in &view.disagreements {
        let mut what = Vec::new();
        if let Some((slot, ours, theirs)) = &d.example {
            what.push(format!(
                "{} slot(s) owned differently (slot {slot}: {ours} for {}, {theirs} for {})",
                d.slots, view.source, d.node
            ));
        }
        if let Some((n, a, b)) = d.epochs.first() {
            what.push(format!(
                "the config epoch of {n} ({a} for {}, {b} for {})",
                view.source, d.node
            ));
        }
        push(
            out,
            AnomalyKind::ClusterDisagree,
            Severity::Warning,
            vec![d.node.clone(), view.source.clone()],
            format!(
                "{} and {} disagree about {}: the cluster has not settled on one configuration",
                d.node,
                view.source,
                what.join(" and ")
            ),
        );
    }
    misplaced(view, out);
    for o in &view.open_slots {
        let (dir, word) = if o.migrating {
            ("to", "migrating")
        } else {
            ("from", "importing")
        };
        push(
            out,
            AnomalyKind::SlotOpen,
            Severity::Warning,
            vec![o.node.clone(), o.peer.clone()],
            format!(
                "slot {} is {word} on {} ({dir} {}): a resharding is under way or was left \
                 open; clients get ASK redirections until it is finished (or set back with \
                 CLUSTER SETSLOT {} STABLE)",
                o.slot, o.node, o.peer, o.slot
            ),
        );
    }
    for (node, why) in &view.unread {
        push(
            out,
            AnomalyKind::ClusterUnread,
            Severity::Warning,
            vec![node.clone()],
            format!("cannot read the cluster view of {node}: {why}"),
        );
    }
    if let Some((node, line, why)) = view.bad_lines.first() {
        push(
            out,
            AnomalyKind::ClusterUnread,
            Severity::Warning,
            vec![node.clone()],
            format!(
                "{} line(s) of CLUSTER NODES could not be read (first: {node}, line {line}: {why}); \
                 the nodes they describe are left out",
                view.bad_lines.len()
            ),
        );
    }
}

fn state(view: &ClusterView, out: &mut Vec<Anomaly>) {
    let failing: Vec<String> = view
        .states
        .iter()
        .filter(|(_, ok)| *ok == Some(false))
        .map(|(n, _)| n.clone())
        .collect();
    if failing.is_empty() {
        return;
    }
    let all = failing.len() == view.states.len();
    // Named in the message, not in `nodes`: nodes reach `fail` one by one during a failover,
    // and the anomaly is one event for the cluster, not a new one per set of nodes.
    push(
        out,
        AnomalyKind::ClusterDown,
        Severity::Critical,
        Vec::new(),
        format!(
            "cluster_state is fail on {}{}: {} every command with CLUSTERDOWN{}",
            if all { "every node answering (" } else { "" },
            failing.join(", ") + if all { ")" } else { "" },
            if all {
                "the cluster refuses"
            } else {
                "these nodes refuse"
            },
            match view.slots_fail {
                Some(n) if n > 0 => format!(" ({n} slots are served by a failed node)"),
                _ => String::new(),
            }
        ),
    );
}

fn coverage(view: &ClusterView, out: &mut Vec<Anomaly>) {
    if !view.uncovered.is_empty() {
        let count: u32 = view.uncovered.iter().map(|r| r.len()).sum();
        push(
            out,
            AnomalyKind::SlotsUncovered,
            Severity::Critical,
            vec![view.source.clone()],
            format!(
                "{count} slot(s) are served by no primary ({}), in {}'s map: keys there can be \
                 neither read nor written",
                ranges_text(&view.uncovered, RANGES_SHOWN),
                view.source
            ),
        );
    }
    for s in &view.shards {
        let p = &s.primary;
        if s.slot_count == 0 || !(p.flags.fail || p.flags.pfail) {
            continue;
        }
        let (sev, word) = if p.flags.fail {
            (Severity::Critical, "failed")
        } else {
            (Severity::Warning, "suspected down (pfail)")
        };
        let standby = if s.healthy_replicas() == 0 {
            "and it has no healthy replica to take over".to_string()
        } else {
            "until one of its replicas takes over".to_string()
        };
        push(
            out,
            AnomalyKind::SlotsOnFailedNode,
            sev,
            vec![p.name.clone()],
            format!(
                "slots {} ({}) are served by {}, which the cluster marks {word}: they are \
                 unavailable {standby}",
                ranges_text(&s.slots, RANGES_SHOWN),
                s.slot_count,
                p.name
            ),
        );
    }
}

fn failed_nodes(view: &ClusterView, nodes: &[NodeView], out: &mut Vec<Anomaly>) {
    let silent = |name: &str| {
        nodes
            .iter()
            .any(|v| v.name == name && (v.state.is_silent() || !v.state.is_reachable()))
    };
    for s in &view.shards {
        let primary = std::iter::once((&s.primary, s.slot_count > 0));
        for (n, primary_with_slots) in primary.chain(s.replicas.iter().map(|r| (r, false))) {
            if primary_with_slots || silent(&n.name) {
                // Said with its slots above, or already said as a node down.
                continue;
            }
            let words = n.flags.words();
            if !(n.flags.fail || n.flags.pfail || n.flags.handshake || n.flags.noaddr) {
                continue;
            }
            let sev = if n.flags.fail {
                Severity::Critical
            } else {
                Severity::Warning
            };
            push(
                out,
                AnomalyKind::ClusterNodeFailed,
                sev,
                vec![n.name.clone()],
                format!(
                    "{} ({}) is flagged {} in {}'s view of the cluster",
                    n.name,
                    n.addr,
                    words.join(", "),
                    view.source
                ),
            );
        }
    }
}

fn shards_without_replica(view: &ClusterView, out: &mut Vec<Anomaly>) {
    for s in &view.shards {
        // A failed primary's slots are said above, with its lack of a replica.
        let failed = s.primary.flags.fail || s.primary.flags.pfail;
        if s.slot_count == 0 || s.healthy_replicas() > 0 || failed {
            continue;
        }
        let p = &s.primary;
        let why = if s.replicas.is_empty() {
            "has no replica".to_string()
        } else {
            format!(
                "has no healthy replica ({} failed or not answering)",
                s.replicas.len()
            )
        };
        push(
            out,
            AnomalyKind::ShardNoReplica,
            Severity::Warning,
            vec![p.name.clone()],
            format!(
                "the shard of {} (slots {}) {why}: one more failure loses its {} slots and \
                 the data in them",
                p.name,
                ranges_text(&s.slots, RANGES_SHOWN),
                s.slot_count
            ),
        );
    }
}

fn misplaced(view: &ClusterView, out: &mut Vec<Anomaly>) {
    for m in &view.misplaced {
        let mut what = Vec::new();
        let mut under: Vec<&str> = Vec::new();
        for (_, q) in &m.elsewhere {
            if !under.contains(&q.as_str()) {
                under.push(q);
            }
        }
        for q in &under {
            let who: Vec<&str> = m
                .elsewhere
                .iter()
                .filter(|(_, p)| p == q)
                .map(|(r, _)| r.as_str())
                .collect();
            let verb = if who.len() == 1 { "places" } else { "place" };
            what.push(format!("{} {verb} it under {q}", and_list(&who)));
        }
        if let Some((own, shown)) = &m.slots {
            what.push(format!(
                "its own map gives {} slots {own}, {}'s gives it {shown}",
                m.own_primary, view.source
            ));
        }
        let mut nodes = vec![m.node.clone(), m.own_primary.clone()];
        for q in under {
            if !nodes.iter().any(|n| n == q) {
                nodes.push(q.to_string());
            }
        }
        push(
            out,
            AnomalyKind::ClusterReplicaMisplaced,
            Severity::Warning,
            nodes,
            format!(
                "{} says it replicates from {}, but {}: the nodes disagree about which shard {} \
                 copies, so a failover may not count it as a replica of its shard, or promote it \
                 for slots whose data it does not hold. hint: compare CLUSTER NODES on {} and \
                 {}; CLUSTER REPLICATE on {} puts it back under the primary it should follow",
                m.node,
                m.own_primary,
                what.join(" and "),
                m.node,
                m.node,
                m.own_primary,
                m.node
            ),
        );
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
