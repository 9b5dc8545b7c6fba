use std::sync::Arc;

use super::build;
use crate::cluster::{anomaly, info, nodes, NodeReport};
use crate::info::Info;
use crate::observe::NodeState;
use crate::topology::{AnomalyKind, NodeView};

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const C: &str = "cccccccccccccccccccccccccccccccccccccccc";

/// A reachable node `name` on port `port` whose own reply is `lines` (its own line marked).
fn node(name: &str, port: u16, me: &str, epoch: u64, lines: &[String]) -> NodeView {
    let text: Vec<String> = lines
        .iter()
        .map(|l| {
            if l.starts_with(me) {
                l.replacen(" master", " myself,master", 1)
                    .replacen(" slave", " myself,slave", 1)
            } else {
                l.clone()
            }
        })
        .collect();
    let report = NodeReport {
        info: info::parse(&format!(
            "cluster_state:ok\ncluster_current_epoch:{epoch}\ncluster_slots_ok:16384"
        )),
        nodes: nodes::parse(&text.join("\n")),
        error: None,
        offsets: Vec::new(),
    };
    let mut v = NodeView::new(None, name, &format!("127.0.0.1:{port}"));
    v.state = NodeState::Up;
    v.info = Some(Arc::new(Info {
        cluster: Some(Arc::new(report)),
        ..Info::default()
    }));
    v
}

fn line(id: &str, port: u16, flags: &str, primary: &str, epoch: u64, slots: &str) -> String {
    format!("{id} 127.0.0.1:{port}@1{port} {flags} {primary} 0 0 {epoch} connected {slots}")
}

fn kinds(nodes: &[NodeView]) -> Vec<AnomalyKind> {
    let view = build(nodes).expect("a view");
    let mut out = Vec::new();
    anomaly::detect(&view, nodes, &mut out);
    out.iter().map(|a| a.kind).collect()
}

#[test]
fn two_primaries_claiming_the_same_slots_are_a_split_brain() {
    // a thinks it still owns 0-8191; b (promoted, newer epoch) owns 0-8191 too.
    let a_view = [
        line(A, 7001, "master", "-", 1, "0-8191"),
        line(C, 7003, "master", "-", 3, "8192-16383"),
    ];
    let b_view = [
        line(A, 7001, "master,fail", "-", 1, ""),
        line(B, 7002, "master", "-", 4, "0-8191"),
        line(C, 7003, "master", "-", 3, "8192-16383"),
    ];
    let nodes = [
        node("a", 7001, A, 3, &a_view),
        node("b", 7002, B, 4, &b_view),
        node("c", 7003, C, 4, &b_view),
    ];
    let view = build(&nodes).expect("a view");
    assert_eq!(view.source, "b", "the newest epoch is shown");
    assert_eq!(view.overlaps.len(), 1);
    assert_eq!(
        (view.overlaps[0].a.as_str(), view.overlaps[0].b.as_str()),
        ("a", "b")
    );
    let k = kinds(&nodes);
    assert!(k.contains(&AnomalyKind::SplitBrain), "{k:?}");
    assert!(k.contains(&AnomalyKind::ClusterDisagree), "{k:?}");
}

#[test]
fn uncovered_slots_are_listed_by_range() {
    let map = [
        line(A, 7001, "master", "-", 1, "0-99 200-16383"),
        line(B, 7002, "slave", A, 1, ""),
    ];
    let nodes = [node("a", 7001, A, 1, &map), node("b", 7002, B, 1, &map)];
    let view = build(&nodes).expect("a view");
    assert_eq!(nodes::ranges_text(&view.uncovered, 4), "100-199");
    assert_eq!(kinds(&nodes), [AnomalyKind::SlotsUncovered]);
}

#[test]
fn a_healthy_cluster_has_nothing_to_say() {
    let map = [
        line(A, 7001, "master", "-", 1, "0-8191"),
        line(B, 7002, "master", "-", 2, "8192-16383"),
        line(C, 7003, "slave", A, 1, ""),
    ];
    let nodes = [
        node("a", 7001, A, 2, &map),
        node("b", 7002, B, 2, &map),
        node("c", 7003, C, 2, &map),
    ];
    let view = build(&nodes).expect("a view");
    assert_eq!(view.shards.len(), 2);
    assert_eq!(view.shards[0].replicas[0].name, "c");
    // b's shard has no replica: the one thing to say.
    assert_eq!(kinds(&nodes), [AnomalyKind::ShardNoReplica]);
}

#[test]
fn no_report_no_view() {
    let v = NodeView::new(None, "a", "127.0.0.1:1");
    assert!(build(&[v]).is_none());
}

/// Mangled replies (every single-byte change of two real ones, on three nodes) never make the
/// view or its anomalies panic, and every shard's slots stay in range.
#[test]
fn mangled_reports_never_panic() {
    let good = [
        line(
            A,
            7001,
            "master",
            "-",
            1,
            "0-8191 [100->-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb]",
        ),
        line(B, 7002, "master", "-", 2, "8192-16383"),
        line(C, 7003, "slave", A, 1, ""),
    ]
    .join("\n");
    let noise = [
        b' ', b'-', b'[', b']', b'@', b':', b',', b'>', b'<', b'x', b'9', b'\n',
    ];
    let bytes = good.as_bytes();
    for i in (0..bytes.len()).step_by(5) {
        for &b in &noise {
            let mut m = bytes.to_vec();
            m[i] = b;
            let text = String::from_utf8_lossy(&m).into_owned();
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            let nodes = [
                node("a", 7001, A, 2, &lines),
                node("b", 7002, B, 2, &lines),
                node("c", 7003, C, 1, &lines),
            ];
            if let Some(view) = build(&nodes) {
                let mut out = Vec::new();
                anomaly::detect(&view, &nodes, &mut out);
                for s in &view.shards {
                    assert!(s
                        .slots
                        .iter()
                        .all(|r| r.start <= r.end && r.end < nodes::SLOTS));
                }
            }
        }
    }
}

const D: &str = "dddddddddddddddddddddddddddddddddddddddd";

/// A 2x1 cluster's maps: a (0-8191) with replica c, b (8192-16383) with replica d.
fn two_shards(c_primary: &str) -> Vec<String> {
    vec![
        line(A, 7001, "master", "-", 1, "0-8191"),
        line(B, 7002, "master", "-", 2, "8192-16383"),
        line(C, 7003, "slave", c_primary, 1, ""),
        line(D, 7004, "slave", B, 2, ""),
    ]
}

#[test]
fn a_replica_another_shard_claims_is_misplaced() {
    // c says it replicates from a; b and d (and a) place it under b.
    let others = two_shards(B);
    let nodes = [
        node("a", 7001, A, 2, &others),
        node("b", 7002, B, 2, &others),
        node("c", 7003, C, 2, &two_shards(A)),
        node("d", 7004, D, 2, &others),
    ];
    let view = build(&nodes).expect("a view");
    assert_eq!(view.misplaced.len(), 1, "{:?}", view.misplaced);
    let m = &view.misplaced[0];
    assert_eq!((m.node.as_str(), m.own_primary.as_str()), ("c", "a"));
    let reporters: Vec<&str> = m.elsewhere.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(reporters, ["a", "b", "d"]);
    assert!(m.elsewhere.iter().all(|(_, p)| p == "b"));
    assert_eq!(m.slots, None);
    let mut out = Vec::new();
    anomaly::detect(&view, &nodes, &mut out);
    let a = out
        .iter()
        .find(|a| a.kind == AnomalyKind::ClusterReplicaMisplaced)
        .unwrap_or_else(|| panic!("{out:?}"));
    assert_eq!(a.nodes, ["c", "a", "b"]);
    assert!(
        a.message.starts_with(
            "c says it replicates from a, but a, b and d place it under b: the nodes disagree"
        ),
        "{}",
        a.message
    );
    assert!(
        a.message.contains("CLUSTER REPLICATE on c"),
        "{}",
        a.message
    );
}

#[test]
fn a_replica_whose_primary_serves_other_slots_elsewhere_is_misplaced() {
    // c follows a and believes a serves 0-8191; the newest map (epoch 3) gives a nothing:
    // b took the slots over. Nobody places c elsewhere: only the slots say it.
    let newest = [
        line(A, 7001, "master", "-", 1, ""),
        line(B, 7002, "master", "-", 3, "0-16383"),
        line(C, 7003, "slave", A, 1, ""),
    ];
    let c_map = [
        line(A, 7001, "master", "-", 1, "0-8191"),
        line(B, 7002, "master", "-", 2, "8192-16383"),
        line(C, 7003, "slave", A, 1, ""),
    ];
    let nodes = [
        node("a", 7001, A, 3, &newest),
        node("b", 7002, B, 3, &newest),
        node("c", 7003, C, 2, &c_map),
    ];
    let view = build(&nodes).expect("a view");
    assert_eq!(view.source, "a");
    assert_eq!(view.misplaced.len(), 1, "{:?}", view.misplaced);
    assert_eq!(
        view.misplaced[0].slots,
        Some(("0-8191".to_string(), "no slots".to_string()))
    );
    let k = kinds(&nodes);
    assert!(k.contains(&AnomalyKind::ClusterReplicaMisplaced), "{k:?}");
}

#[test]
fn replicas_every_node_agrees_on_are_not_misplaced() {
    let map = two_shards(A);
    let nodes = [
        node("a", 7001, A, 2, &map),
        node("b", 7002, B, 2, &map),
        node("c", 7003, C, 2, &map),
        node("d", 7004, D, 2, &map),
    ];
    let view = build(&nodes).expect("a view");
    assert!(view.misplaced.is_empty(), "{:?}", view.misplaced);
    assert!(kinds(&nodes).is_empty());
}

/// Contradicting maps with single-byte damage never panic, and a replica is never called
/// misplaced by a node that does not place it anywhere (a line that did not read).
#[test]
fn mangled_contradicting_maps_never_panic() {
    let good = two_shards(A).join("\n");
    let other = two_shards(B);
    let noise = [b' ', b'-', b',', b'x', b'9', b'\n'];
    let bytes = good.as_bytes();
    for i in (0..bytes.len()).step_by(3) {
        for &b in &noise {
            let mut m = bytes.to_vec();
            m[i] = b;
            let text = String::from_utf8_lossy(&m).into_owned();
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            let nodes = [
                node("a", 7001, A, 2, &other),
                node("c", 7003, C, 2, &lines),
                node("d", 7004, D, 2, &other),
            ];
            if let Some(view) = build(&nodes) {
                let mut out = Vec::new();
                anomaly::detect(&view, &nodes, &mut out);
                for m in &view.misplaced {
                    assert!(!m.elsewhere.is_empty() || m.slots.is_some());
                }
            }
        }
    }
}
