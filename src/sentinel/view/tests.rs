//! Sentinel's anomalies from fabricated reports: one case per anomaly, and the split-brain
//! alarm replaced while Sentinel demotes a node it reaches (kept when it does not).

use std::time::SystemTime;

use super::*;
use crate::config::{Group, Sentinel};
use crate::observe::NodeError;
use crate::sentinel::reply::{MasterEntry, ReplicaEntry, SentinelInfo};
use crate::sentinel::Seen;
use crate::topology::NodeView;

fn addr(port: u16) -> Addr {
    Addr {
        host: "127.0.0.1".into(),
        port,
    }
}

fn node(name: &str, port: u16, role: Role) -> NodeView {
    let mut n = NodeView::new(None, name, &addr(port).to_string());
    n.role = role;
    n
}

fn replica(port: u16) -> ReplicaEntry {
    ReplicaEntry {
        addr: Some(addr(port)),
        flags: vec!["slave".into()],
        link_ok: Some(true),
        link_down_ms: Some(0),
        priority: Some(100),
        upstream: Some(addr(7001)),
        offset: Some(1),
        info_refresh_ms: Some(500),
    }
}

fn seen(master_port: u16, epoch: u64) -> Seen {
    Seen {
        info: SentinelInfo::default(),
        master: Some(MasterEntry {
            addr: Some(addr(master_port)),
            flags: vec!["master".into()],
            quorum: Some(2),
            config_epoch: Some(epoch),
            num_other_sentinels: Some(2),
            down_after_ms: Some(1000),
            ..MasterEntry::default()
        }),
        replicas: vec![replica(7002), replica(7003)],
        peers: Vec::new(),
        quorum: Some(Ok("OK 3 usable Sentinels".into())),
    }
}

fn report(port: u16, seen: Result<Seen, NodeError>) -> SentinelReport {
    SentinelReport {
        group: 0,
        addr: addr(port),
        seen,
        at: SystemTime::UNIX_EPOCH,
    }
}

fn config() -> Config {
    let mut g = Group::new("g", Vec::new());
    g.sentinel = Some(Sentinel {
        addrs: vec![addr(26001), addr(26002), addr(26003)],
        master_name: "g".into(),
    });
    Config {
        console: crate::config::Console::default(),
        groups: vec![g],
        source: None,
    }
}

fn topo(nodes: Vec<NodeView>, anomalies: Vec<Anomaly>) -> Topology {
    Topology {
        at: Some(SystemTime::UNIX_EPOCH),
        groups: vec![GroupTopology {
            index: 0,
            name: "g".into(),
            nodes,
            anomalies,
            sentinel: None,
            cluster: None,
        }],
    }
}

fn three_nodes() -> Vec<NodeView> {
    vec![
        node("n1", 7001, Role::Primary),
        node("n2", 7002, Role::Replica),
        node("n3", 7003, Role::Replica),
    ]
}

fn run(t: &mut Topology, reports: Vec<SentinelReport>) -> Vec<(AnomalyKind, Severity)> {
    let mut latest = Latest::default();
    for r in reports {
        latest.record(r);
    }
    annotate(t, &config(), &latest);
    t.groups[0]
        .anomalies
        .iter()
        .map(|a| (a.kind, a.severity))
        .collect()
}

#[test]
fn all_agree_is_healthy() {
    let mut t = topo(three_nodes(), Vec::new());
    let k = run(
        &mut t,
        (26001..=26003)
            .map(|p| report(p, Ok(seen(7001, 0))))
            .collect(),
    );
    assert!(k.is_empty(), "{k:?}");
    let s = t.groups[0].sentinel.as_ref().expect("view");
    assert_eq!((s.master_node.as_deref(), s.agreeing), (Some("n1"), 3));
    assert_eq!(s.quorum_reachable(), Some(true));
}

#[test]
fn disagreement_is_critical_unless_a_newer_epoch_is_spreading() {
    let mut t = topo(three_nodes(), Vec::new());
    let same_epoch = vec![
        report(26001, Ok(seen(7001, 1))),
        report(26002, Ok(seen(7001, 1))),
        report(26003, Ok(seen(7002, 1))),
    ];
    let k = run(&mut t, same_epoch);
    assert!(
        k.contains(&(AnomalyKind::SentinelDisagree, Severity::Critical)),
        "{k:?}"
    );
    let mut t = topo(three_nodes(), Vec::new());
    let spreading = vec![
        report(26001, Ok(seen(7001, 1))),
        report(26002, Ok(seen(7001, 1))),
        report(26003, Ok(seen(7002, 2))),
    ];
    let k = run(&mut t, spreading);
    assert!(
        k.contains(&(AnomalyKind::SentinelDisagree, Severity::Warning)),
        "{k:?}"
    );
}

#[test]
fn a_master_the_nodes_call_a_replica_or_do_not_know() {
    let mut t = topo(three_nodes(), Vec::new());
    let k = run(
        &mut t,
        (26001..=26003)
            .map(|p| report(p, Ok(seen(7002, 0))))
            .collect(),
    );
    assert!(k.contains(&(AnomalyKind::SentinelMasterMismatch, Severity::Critical)));
    let mut t = topo(three_nodes(), Vec::new());
    let k = run(
        &mut t,
        (26001..=26003)
            .map(|p| report(p, Ok(seen(9999, 0))))
            .collect(),
    );
    assert!(k.contains(&(AnomalyKind::SentinelMasterMismatch, Severity::Critical)));
    let msg = &t.groups[0].anomalies[0].message;
    assert!(
        msg.contains("127.0.0.1:9999") && msg.contains("not a node"),
        "{msg}"
    );
}

#[test]
fn tilt_replicas_sentinel_would_skip_and_a_failover_in_progress() {
    let mut s1 = seen(7001, 3);
    s1.info.tilt = true;
    if let Some(m) = s1.master.as_mut() {
        m.failover_state = Some("select_slave".into());
        m.flags.push("failover_in_progress".into());
    }
    s1.replicas[0].priority = Some(0);
    s1.replicas[1].link_ok = Some(false);
    s1.replicas[1].link_down_ms = Some(60_000);
    let mut t = topo(three_nodes(), Vec::new());
    let k = run(
        &mut t,
        vec![
            report(26001, Ok(s1)),
            report(26002, Ok(seen(7001, 3))),
            report(26003, Ok(seen(7001, 3))),
        ],
    );
    for want in [
        (AnomalyKind::SentinelTilt, Severity::Warning),
        (AnomalyKind::FailoverInProgress, Severity::Warning),
        (AnomalyKind::SentinelReplica, Severity::Info),
        (AnomalyKind::SentinelReplica, Severity::Warning),
    ] {
        assert!(k.contains(&want), "{want:?} in {k:?}");
    }
    let text: Vec<&str> = t.groups[0]
        .anomalies
        .iter()
        .map(|a| a.message.as_str())
        .collect();
    assert!(
        text.iter()
            .any(|m| m.contains("state select_slave, epoch 3")),
        "{text:?}"
    );
    assert!(text
        .iter()
        .any(|m| m.contains("n2") && m.contains("replica-priority is 0")));
    assert!(text
        .iter()
        .any(|m| m.contains("n3") && m.contains("down for 60 s")));
}

#[test]
fn unreachable_sentinels_and_quorum() {
    let mut t = topo(three_nodes(), Vec::new());
    let refused = || Err(NodeError::Refused("connection refused".into()));
    let k = run(
        &mut t,
        vec![
            report(26001, Ok(seen(7001, 0))),
            report(26002, refused()),
            report(26003, refused()),
        ],
    );
    assert!(k.contains(&(AnomalyKind::SentinelDown, Severity::Warning)));
    assert!(k.contains(&(AnomalyKind::SentinelQuorum, Severity::Critical)));
}

/// One sentinel failing CKQUORUM (just reset: it knows no peer yet) while another passes
/// leaves the group able to fail over: a warning; none passing is critical.
#[test]
fn one_sentinel_short_of_the_quorum_is_a_warning_while_another_reaches_it() {
    let short = |port| {
        let mut s = seen(7001, 0);
        s.quorum = Some(Err("NOQUORUM 1 usable Sentinels".into()));
        report(port, Ok(s))
    };
    let mut t = topo(three_nodes(), Vec::new());
    let k = run(
        &mut t,
        vec![
            short(26001),
            report(26002, Ok(seen(7001, 0))),
            report(26003, Ok(seen(7001, 0))),
        ],
    );
    assert!(
        k.contains(&(AnomalyKind::SentinelQuorum, Severity::Warning)),
        "{k:?}"
    );
    assert!(
        !k.contains(&(AnomalyKind::SentinelQuorum, Severity::Critical)),
        "{k:?}"
    );
    let mut t = topo(three_nodes(), Vec::new());
    let k = run(&mut t, vec![short(26001), short(26002), short(26003)]);
    assert!(
        k.contains(&(AnomalyKind::SentinelQuorum, Severity::Critical)),
        "{k:?}"
    );
}

#[test]
fn a_demoted_primary_sentinel_reaches_is_not_a_split_brain() {
    let split = || Anomaly {
        kind: AnomalyKind::SplitBrain,
        severity: Severity::Critical,
        nodes: vec!["n1".into(), "n2".into()],
        message: "2 nodes are primaries at once".into(),
    };
    let mut nodes = three_nodes();
    nodes[1].role = Role::Primary;
    // The sentinels name n2; n1 is in their replica list and reachable.
    let after = || {
        let mut s = seen(7002, 1);
        s.replicas = vec![replica(7001), replica(7003)];
        s
    };
    let mut t = topo(nodes.clone(), vec![split()]);
    let k = run(
        &mut t,
        (26001..=26003).map(|p| report(p, Ok(after()))).collect(),
    );
    assert!(
        !k.iter().any(|(k, _)| *k == AnomalyKind::SplitBrain),
        "{k:?}"
    );
    assert!(k.contains(&(AnomalyKind::SentinelDemoting, Severity::Warning)));
    // Sentinel cannot reach n1: clients may write to it; the alarm stays.
    let unreachable = || {
        let mut s = after();
        s.replicas[0].flags.push("s_down".into());
        s
    };
    let mut t = topo(nodes, vec![split()]);
    let k = run(
        &mut t,
        (26001..=26003)
            .map(|p| report(p, Ok(unreachable())))
            .collect(),
    );
    assert!(
        k.contains(&(AnomalyKind::SplitBrain, Severity::Critical)),
        "{k:?}"
    );
}
