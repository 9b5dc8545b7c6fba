//! Topology building from scripted observations: edges, tree order, lag, anomalies, changes.
//! (Real servers are exercised in `tests/servers/status_live.rs`; these pin the pure logic.)

#![allow(clippy::unwrap_used)]
use crate::common::fixtures::loopback_config as config;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use redops::config::Config;
use redops::history::History;
use redops::info::{Info, InfoRole, ReplicaLine};
use redops::observe::{FleetState, NodeError, NodeId, NodeState, Observation};
use redops::topology::{self, AnomalyKind, LagLevel, Link, Role};

const REPLID: &str = "ccbcedb46159505c68cc9dc48e9d0c2381f12641";
const OTHER: &str = "6c3f579ae308095f9c440a5189efc94a32ea2041";

fn primary(port: u16, offset: u64, replicas: &[u16]) -> Info {
    let mut i = Info::default();
    i.server.tcp_port = Some(port);
    i.server.version = Some("7.0.15".into());
    i.server.uptime_seconds = Some(100_000);
    i.persistence.save_config = Some("3600 1".into());
    i.persistence.last_bgsave_ok = Some(true);
    let r = &mut i.replication;
    r.role = Some(InfoRole::Primary);
    r.replid = Some(REPLID.into());
    r.offset = Some(offset);
    r.connected_replicas = replicas.len() as u64;
    r.replicas = replicas
        .iter()
        .enumerate()
        .map(|(k, p)| ReplicaLine {
            index: u32::try_from(k).unwrap(),
            ip: "127.0.0.1".into(),
            port: *p,
            state: "online".into(),
            offset: Some(offset),
            lag: Some(0),
            kind: None,
        })
        .collect();
    i
}

fn replica(port: u16, master_port: u16, offset: u64, link_up: bool) -> Info {
    let mut i = primary(port, offset, &[]);
    let r = &mut i.replication;
    r.role = Some(InfoRole::Replica);
    r.master_host = Some("127.0.0.1".into());
    r.master_port = Some(master_port);
    r.link_up = Some(link_up);
    r.replica_offset = Some(offset);
    if !link_up {
        r.link_down_since_seconds = Some(42);
    }
    i
}

struct Scene {
    config: Config,
    fleet: FleetState,
    history: History,
    t0: SystemTime,
}

impl Scene {
    fn new(n: usize) -> Self {
        let config = config(n);
        let fleet = FleetState::new(&config);
        Self {
            config,
            fleet,
            history: History::new(100),
            t0: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        }
    }

    fn observe(&mut self, node: usize, at_s: u64, result: Result<Info, NodeError>) {
        let obs = Observation {
            id: NodeId { group: 0, node },
            at: self.t0 + Duration::from_secs(at_s),
            rtt: Duration::from_millis(1),
            result: result.map(Arc::new),
        };
        self.history.record(&obs);
        self.fleet.apply(obs);
    }

    fn build(&self, at_s: u64) -> topology::Topology {
        topology::build(
            &self.config,
            &self.fleet,
            &self.history,
            self.t0 + Duration::from_secs(at_s),
        )
    }
}

fn kinds(t: &topology::Topology) -> Vec<AnomalyKind> {
    t.groups[0].anomalies.iter().map(|a| a.kind).collect()
}

fn names(t: &topology::Topology) -> Vec<(String, usize)> {
    t.groups[0]
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.depth))
        .collect()
}

#[test]
fn healthy_chain_is_a_tree_with_lag() {
    let mut s = Scene::new(4);
    s.observe(0, 0, Ok(primary(7001, 1000, &[7002, 7003])));
    s.observe(1, 0, Ok(replica(7002, 7001, 1000, true)));
    s.observe(2, 0, Ok(replica(7003, 7001, 900, true)));
    s.observe(3, 0, Ok(replica(7004, 7002, 1000, true)));
    let t = s.build(1);
    assert_eq!(
        names(&t),
        vec![
            ("n1".into(), 0),
            ("n2".into(), 1),
            ("n4".into(), 2),
            ("n3".into(), 1)
        ]
    );
    let g = &t.groups[0];
    assert_eq!(g.nodes[0].role, Role::Primary);
    assert_eq!(g.nodes[2].upstream.as_ref().unwrap().addr, "127.0.0.1:7002");
    assert_eq!(
        g.nodes[2].lag_bytes,
        Some(0),
        "chained replica compared with the root"
    );
    assert_eq!(g.nodes[3].lag_bytes, Some(100));
    assert_eq!(g.nodes[3].link, Some(Link::Up));
    assert!(
        t.groups[0].anomalies.is_empty(),
        "{:?}",
        t.groups[0].anomalies
    );
}

#[test]
fn lag_seconds_come_from_the_primary_offset_history() {
    let mut s = Scene::new(2);
    for (sec, off) in [(0, 100u64), (1, 200), (2, 300), (3, 400)] {
        s.observe(0, sec, Ok(primary(7001, off, &[7002])));
    }
    s.observe(1, 3, Ok(replica(7002, 7001, 150, true)));
    let t = s.build(4);
    let r = &t.groups[0].nodes[1];
    assert_eq!(r.lag_bytes, Some(250));
    // 150 was first passed at t=1; now is t=4.
    assert_eq!(r.lag_seconds, Some(3.0));
}

#[test]
fn lag_is_not_compared_across_histories() {
    let mut s = Scene::new(2);
    s.observe(0, 0, Ok(primary(7001, 5000, &[7002])));
    let mut r = replica(7002, 7001, 10, true);
    r.replication.replid = Some(OTHER.into());
    s.observe(1, 0, Ok(r));
    let t = s.build(1);
    assert_eq!(t.groups[0].nodes[1].lag_bytes, None);
    assert_eq!(t.groups[0].nodes[1].lag_level, LagLevel::Unknown);
}

#[test]
fn high_lag_is_flagged() {
    let mut s = Scene::new(2);
    s.observe(0, 0, Ok(primary(7001, 50_000_000, &[7002])));
    s.observe(1, 0, Ok(replica(7002, 7001, 10_000_000, true)));
    let t = s.build(1);
    assert_eq!(t.groups[0].nodes[1].lag_level, LagLevel::Critical);
    assert!(kinds(&t).contains(&AnomalyKind::LagHigh));
}

#[test]
fn down_primary_keeps_its_replicas_below_and_last_offset() {
    let mut s = Scene::new(3);
    s.observe(0, 0, Ok(primary(7001, 777, &[7002, 7003])));
    s.observe(0, 1, Err(NodeError::Refused("connection refused".into())));
    s.observe(1, 1, Ok(replica(7002, 7001, 777, false)));
    s.observe(2, 1, Ok(replica(7003, 7001, 777, false)));
    let t = s.build(2);
    let g = &t.groups[0];
    assert_eq!(g.nodes[0].name, "n1");
    assert_eq!(g.nodes[0].state, NodeState::Down);
    assert!(g.nodes[0].stale_info);
    assert_eq!(g.nodes[0].offset, Some(777), "last known offset kept");
    assert_eq!(g.nodes[1].depth, 1);
    let k = kinds(&t);
    assert_eq!(k[0], AnomalyKind::NodeDown, "worst first: {k:?}");
    assert!(k.contains(&AnomalyKind::NoPrimary));
    assert!(k.contains(&AnomalyKind::LinkDown));
    assert!(g.anomalies[0].message.contains("was the primary"));
}

#[test]
fn split_brain_names_both_and_the_fork() {
    let mut s = Scene::new(3);
    s.observe(0, 0, Ok(primary(7001, 5000, &[7003])));
    let mut promoted = primary(7002, 5000, &[]);
    promoted.replication.replid = Some(OTHER.into());
    promoted.replication.replid2 = Some(REPLID.into());
    promoted.replication.second_offset = Some(4001);
    s.observe(1, 0, Ok(promoted));
    s.observe(2, 0, Ok(replica(7003, 7001, 5000, true)));
    let t = s.build(1);
    let a = &t.groups[0].anomalies[0];
    assert_eq!(a.kind, AnomalyKind::SplitBrain);
    assert_eq!(a.nodes, vec!["n1".to_string(), "n2".to_string()]);
    assert!(
        a.message
            .contains("n2 was promoted from n1's history at offset 4000"),
        "{}",
        a.message
    );
    assert!(!kinds(&t).contains(&AnomalyKind::StalePrimary));
}

#[test]
fn restarted_old_primary_is_stale() {
    let mut s = Scene::new(3);
    // n2 was promoted; n1 restarted with an old dump: new replid, replid2 = the old history.
    let mut p = primary(7002, 9000, &[7003]);
    p.replication.replid = Some(OTHER.into());
    p.replication.replid2 = Some(REPLID.into());
    p.replication.second_offset = Some(8001);
    s.observe(1, 0, Ok(p));
    let mut zombie = primary(7001, 6000, &[]);
    zombie.replication.replid = Some("0123456789012345678901234567890123456789".into());
    zombie.replication.replid2 = Some(REPLID.into());
    zombie.server.uptime_seconds = Some(12);
    s.observe(0, 0, Ok(zombie));
    let mut r = replica(7003, 7002, 9000, true);
    r.replication.replid = Some(OTHER.into());
    s.observe(2, 0, Ok(r));
    let t = s.build(1);
    let k = kinds(&t);
    assert!(k.contains(&AnomalyKind::StalePrimary), "{k:?}");
    assert!(k.contains(&AnomalyKind::SplitBrain));
    assert_eq!(
        t.groups[0].nodes[0].name, "n2",
        "the primary with replicas leads the tree"
    );
}

#[test]
fn loop_is_detected_even_with_links_up() {
    let mut s = Scene::new(2);
    s.observe(0, 0, Ok(replica(7001, 7002, 100, true)));
    s.observe(1, 0, Ok(replica(7002, 7001, 100, true)));
    let t = s.build(1);
    let k = kinds(&t);
    assert!(k.contains(&AnomalyKind::ReplicationLoop), "{k:?}");
    assert!(k.contains(&AnomalyKind::NoPrimary));
    assert_eq!(t.groups[0].nodes.len(), 2, "no node lost from the tree");
}

#[test]
fn unknown_and_unmanaged_replicas() {
    let mut s = Scene::new(2);
    s.observe(0, 0, Ok(primary(7001, 100, &[7002, 7999])));
    let mut r = replica(7002, 7001, 100, true);
    r.replication.master_host = Some("localhost".into());
    s.observe(1, 0, Ok(r));
    let t = s.build(1);
    let g = &t.groups[0];
    assert_eq!(
        g.nodes[1].upstream.as_ref().unwrap().index,
        Some(0),
        "localhost == 127.0.0.1"
    );
    let unmanaged: Vec<_> = g.nodes.iter().filter(|n| n.unmanaged).collect();
    assert_eq!(unmanaged.len(), 1);
    assert_eq!(unmanaged[0].addr, "127.0.0.1:7999");
    assert!(kinds(&t).contains(&AnomalyKind::UnmanagedReplica));

    let mut s = Scene::new(1);
    s.observe(0, 0, Ok(replica(7001, 6379, 0, false)));
    let t = s.build(1);
    assert!(kinds(&t).contains(&AnomalyKind::UnknownPrimary));
    assert_eq!(
        t.groups[0].nodes[0].upstream.as_ref().unwrap().addr,
        "127.0.0.1:6379"
    );
}

#[test]
fn persistence_problems() {
    let mut s = Scene::new(1);
    let mut p = primary(7001, 0, &[]);
    p.persistence.last_bgsave_ok = Some(false);
    p.persistence.save_config = Some(String::new());
    s.observe(0, 0, Ok(p));
    let k = kinds(&s.build(1));
    assert!(k.contains(&AnomalyKind::BgsaveFailed));
    assert!(k.contains(&AnomalyKind::NoPersistence));
}

#[test]
fn changes_report_role_flips_links_and_anomalies() {
    use topology::ChangeKind as K;
    let mut s = Scene::new(2);
    s.observe(0, 0, Ok(primary(7001, 100, &[7002])));
    s.observe(1, 0, Ok(replica(7002, 7001, 100, true)));
    let before = s.build(1);
    s.observe(0, 2, Err(NodeError::Unresponsive(Duration::from_secs(1))));
    let mut promoted = primary(7002, 100, &[]);
    promoted.replication.replid2 = Some(REPLID.into());
    s.observe(1, 2, Ok(promoted));
    let after = s.build(3);
    let ch = topology::changes(&before, &after, s.t0);
    let kinds: Vec<_> = ch.iter().map(|c| c.kind).collect();
    assert!(kinds.contains(&K::NodeDown), "{kinds:?}");
    assert!(kinds.contains(&K::RoleChanged));
    assert!(kinds.contains(&K::AnomalyRaised));
    let back = topology::changes(&after, &before, s.t0);
    assert!(back.iter().any(|c| c.kind == K::AnomalyCleared));
    assert!(back.iter().any(|c| c.kind == K::NodeUp));
}

#[test]
fn straddling_cycle_is_held_back_until_the_nodes_are_polled_again() {
    let mut s = Scene::new(2);
    let mut promoted = primary(7002, 100, &[]);
    promoted.replication.replid2 = Some(REPLID.into());
    s.observe(0, 0, Ok(primary(7001, 100, &[7002])));
    s.observe(1, 0, Ok(promoted.clone()));
    let mut confirm = topology::Confirm::new();
    let t0 = s.t0;
    let at = move |sec: u64| t0 + Duration::from_secs(sec);
    let mut t = s.build(0);
    assert!(
        kinds(&t).contains(&AnomalyKind::SplitBrain),
        "the raw picture has it"
    );
    confirm.apply(&mut t, at(0));
    assert!(
        !kinds(&t).contains(&AnomalyKind::SplitBrain),
        "held back for now"
    );

    // Only n1 polled again: still held.
    s.observe(0, 1, Ok(primary(7001, 100, &[7002])));
    let mut t = s.build(1);
    confirm.apply(&mut t, at(1));
    assert!(!kinds(&t).contains(&AnomalyKind::SplitBrain));

    // Both polled again and still two primaries: a real split brain.
    s.observe(1, 2, Ok(promoted));
    let mut t = s.build(2);
    confirm.apply(&mut t, at(2));
    assert!(kinds(&t).contains(&AnomalyKind::SplitBrain));

    // A transient picture that resolves is never shown.
    let mut s = Scene::new(2);
    let mut confirm = topology::Confirm::new();
    s.observe(0, 0, Ok(replica(7001, 7002, 100, true)));
    s.observe(1, 0, Ok(replica(7002, 7001, 100, true)));
    let mut t = s.build(0);
    confirm.apply(&mut t, s.t0);
    assert!(t.groups[0]
        .anomalies
        .iter()
        .all(|a| a.kind != AnomalyKind::ReplicationLoop));
    s.observe(1, 1, Ok(primary(7002, 100, &[7001])));
    let mut t = s.build(1);
    confirm.apply(&mut t, s.t0 + Duration::from_secs(1));
    assert!(
        t.groups[0].anomalies.is_empty(),
        "{:?}",
        t.groups[0].anomalies
    );
}
