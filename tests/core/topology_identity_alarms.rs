//! Server identity and false alarms, on scripted observations (issue 7, items 5 and 10): one
//! server under two addresses, a node that replicates from itself, a fresh server or an old
//! primary not taken for a restarted one, cluster shards, lag hysteresis, role flips across a
//! gap. Real servers show the same in `tests/safety/safety_identity_alarms.rs`.

#![allow(clippy::unwrap_used)]
use crate::common::fixtures::{kinds, node};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use redops::config::{Config, Console, Group};
use redops::history::History;
use redops::info::{Info, InfoRole, ReplicaLine};
use redops::observe::{FleetState, NodeError, NodeId, Observation};
use redops::topology::{
    self, AnomalyKind, ChangeKind, Confirm, LagLevel, Severity, Topology, LAG_CLEAR_AFTER,
    LAG_RAISE_AFTER,
};

const REPLID: &str = "ccbcedb46159505c68cc9dc48e9d0c2381f12641";
const OTHER: &str = "6c3f579ae308095f9c440a5189efc94a32ea2041";
const THIRD: &str = "0123456789012345678901234567890123456789";
const ZEROS: &str = "0000000000000000000000000000000000000000";

/// Groups of `(name, addr)`.
fn config(groups: &[(&str, &[(&str, &str)])]) -> Config {
    Config {
        console: Console::default(),
        groups: groups
            .iter()
            .map(|(g, nodes)| Group::new(*g, nodes.iter().map(|(n, a)| node(n, a)).collect()))
            .collect(),
        source: None,
    }
}

fn primary(port: u16, run_id: &str, offset: u64, replicas: &[u16]) -> Info {
    let mut i = Info::default();
    i.server.tcp_port = Some(port);
    i.server.run_id = Some(run_id.into());
    i.server.version = Some("7.0.15".into());
    i.server.uptime_seconds = Some(100_000);
    i.persistence.save_config = Some("3600 1".into());
    i.persistence.last_bgsave_ok = Some(true);
    let r = &mut i.replication;
    r.role = Some(InfoRole::Primary);
    r.replid = Some(REPLID.into());
    r.replid2 = Some(ZEROS.into());
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

fn replica(port: u16, run_id: &str, master: (&str, u16), offset: u64) -> Info {
    let mut i = primary(port, run_id, offset, &[]);
    let r = &mut i.replication;
    r.role = Some(InfoRole::Replica);
    r.master_host = Some(master.0.into());
    r.master_port = Some(master.1);
    r.link_up = Some(true);
    r.replica_offset = Some(offset);
    i
}

struct Scene {
    config: Config,
    fleet: FleetState,
    history: History,
    t0: SystemTime,
}

impl Scene {
    fn new(config: Config) -> Self {
        let fleet = FleetState::new(&config);
        Self {
            config,
            fleet,
            history: History::new(1000),
            t0: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        }
    }

    fn at(&self, ms: u64) -> SystemTime {
        self.t0 + Duration::from_millis(ms)
    }

    fn observe(&mut self, group: usize, node: usize, at_ms: u64, result: Result<Info, NodeError>) {
        let obs = Observation {
            id: NodeId { group, node },
            at: self.at(at_ms),
            rtt: Duration::from_millis(1),
            result: result.map(Arc::new),
        };
        self.history.record(&obs);
        self.fleet.apply(obs);
    }

    fn build(&self, at_ms: u64) -> Topology {
        topology::build(&self.config, &self.fleet, &self.history, self.at(at_ms))
    }
}

/// n1 as `127.0.0.1:7001` and again as `localhost:7001`, n2 its replica.
fn twin_scene() -> Scene {
    let mut s = Scene::new(config(&[(
        "g",
        &[
            ("n1", "127.0.0.1:7001"),
            ("n1b", "localhost:7001"),
            ("n2", "127.0.0.1:7002"),
        ],
    )]));
    s.observe(0, 0, 0, Ok(primary(7001, "aaaa1111", 500, &[7002])));
    s.observe(0, 1, 0, Ok(primary(7001, "aaaa1111", 500, &[7002])));
    s.observe(
        0,
        2,
        0,
        Ok(replica(7002, "bbbb2222", ("127.0.0.1", 7001), 500)),
    );
    s
}

#[test]
fn one_server_under_two_addresses_is_named_not_a_split_brain() {
    let t = twin_scene().build(1);
    let g = &t.groups[0];
    let k = kinds(&t, 0);
    assert!(!k.contains(&AnomalyKind::SplitBrain), "{:?}", g.anomalies);
    let a = &g.anomalies[0];
    assert_eq!(a.kind, AnomalyKind::SameServer, "worst first: {k:?}");
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(a.nodes, vec!["n1".to_string(), "n1b".to_string()]);
    assert!(
        a.message
            .starts_with("n1 and n1b are the same server (run_id aaaa1111…): remove one"),
        "{}",
        a.message
    );
    let n2 = g.by_name("n2").unwrap();
    let up = n2.upstream.as_ref().unwrap().index.unwrap();
    assert_eq!(g.nodes[up].name, "n1", "the edge goes to the first entry");
    assert_eq!(
        g.by_name("n1b").unwrap().same_server_as.as_deref(),
        Some("n1")
    );
    assert!(
        !k.contains(&AnomalyKind::UnmanagedReplica),
        "n1b's replica list is n1's: {k:?}"
    );
    assert!(g
        .by_name("n1")
        .unwrap()
        .same_server(g.by_name("n1b").unwrap()));
    assert!(!redops::cli::status::is_healthy(&t), "status exits 1");
}

#[test]
fn one_server_in_two_groups_is_named_in_both() {
    let mut s = Scene::new(config(&[
        ("a", &[("n1", "127.0.0.1:7001"), ("n2", "127.0.0.1:7002")]),
        ("b", &[("m1", "localhost:7001")]),
    ]));
    s.observe(0, 0, 0, Ok(primary(7001, "aaaa1111", 500, &[7002])));
    s.observe(
        0,
        1,
        0,
        Ok(replica(7002, "bbbb2222", ("127.0.0.1", 7001), 500)),
    );
    s.observe(1, 0, 0, Ok(primary(7001, "aaaa1111", 500, &[7002])));
    let t = s.build(1);
    for g in 0..2 {
        let a = t.groups[g]
            .anomalies
            .iter()
            .find(|a| a.kind == AnomalyKind::SameServer)
            .unwrap_or_else(|| panic!("group {g}: {:?}", t.groups[g].anomalies));
        assert_eq!(a.severity, Severity::Critical);
        assert!(
            a.message
                .starts_with("n1 (group a) and m1 (group b) are the same server"),
            "{}",
            a.message
        );
    }
    assert_eq!(t.groups[0].anomalies[0].nodes, vec!["n1".to_string()]);
    assert_eq!(t.groups[1].anomalies[0].nodes, vec!["m1".to_string()]);
}

#[test]
fn a_node_that_replicates_from_itself_is_a_loop() {
    for host in ["127.0.0.1", "localhost"] {
        let mut s = Scene::new(config(&[(
            "g",
            &[("n1", "127.0.0.1:7001"), ("n2", "127.0.0.1:7002")],
        )]));
        s.observe(0, 0, 0, Ok(primary(7001, "aaaa1111", 500, &[])));
        let mut me = replica(7002, "bbbb2222", (host, 7002), 0);
        me.replication.link_up = Some(false);
        s.observe(0, 1, 0, Ok(me));
        let t = s.build(1);
        let k = kinds(&t, 0);
        assert!(!k.contains(&AnomalyKind::UnknownPrimary), "{host}: {k:?}");
        let a = t.groups[0]
            .anomalies
            .iter()
            .find(|a| a.kind == AnomalyKind::ReplicationLoop)
            .unwrap_or_else(|| panic!("{host}: {k:?}"));
        assert_eq!(a.nodes, vec!["n2".to_string()]);
        assert!(
            a.message.starts_with("n2 replicates from itself"),
            "{}",
            a.message
        );
        assert_eq!(t.groups[0].nodes.len(), 2, "no node lost from the tree");
    }
}

#[test]
fn a_fresh_empty_server_is_not_a_stale_primary() {
    let mut s = Scene::new(config(&[(
        "g",
        &[
            ("n1", "127.0.0.1:7001"),
            ("n2", "127.0.0.1:7002"),
            ("n3", "127.0.0.1:7003"),
        ],
    )]));
    s.observe(0, 0, 0, Ok(primary(7001, "aaaa1111", 5000, &[7002])));
    s.observe(
        0,
        1,
        0,
        Ok(replica(7002, "bbbb2222", ("127.0.0.1", 7001), 5000)),
    );
    // Never in the group: its own new history, replid2 all zeros like n1's.
    let mut fresh = primary(7003, "cccc3333", 0, &[]);
    fresh.replication.replid = Some(THIRD.into());
    fresh.server.uptime_seconds = Some(5);
    s.observe(0, 2, 0, Ok(fresh));
    let k = kinds(&s.build(1), 0);
    assert!(!k.contains(&AnomalyKind::StalePrimary), "{k:?}");
    assert!(
        k.contains(&AnomalyKind::SplitBrain),
        "still two primaries: {k:?}"
    );
}

#[test]
fn an_old_primary_that_never_restarted_is_not_a_stale_primary() {
    // Sentinel promoted n2 and moved n3 under it; n1, alive all along, still on the history n2
    // was promoted from, waits to be converted (8 s in Sentinel).
    let mut s = Scene::new(config(&[(
        "g",
        &[
            ("n1", "127.0.0.1:7001"),
            ("n2", "127.0.0.1:7002"),
            ("n3", "127.0.0.1:7003"),
        ],
    )]));
    let mut old = primary(7001, "aaaa1111", 9000, &[]);
    old.server.uptime_seconds = Some(40);
    s.observe(0, 0, 0, Ok(old));
    let mut new = primary(7002, "bbbb2222", 9500, &[7003]);
    new.replication.replid = Some(OTHER.into());
    new.replication.replid2 = Some(REPLID.into());
    new.replication.second_offset = Some(9001);
    s.observe(0, 1, 0, Ok(new));
    let mut r = replica(7003, "cccc3333", ("127.0.0.1", 7002), 9500);
    r.replication.replid = Some(OTHER.into());
    s.observe(0, 2, 0, Ok(r));
    let t = s.build(1);
    let k = kinds(&t, 0);
    assert!(!k.contains(&AnomalyKind::StalePrimary), "{k:?}");
    let split = t.groups[0]
        .anomalies
        .iter()
        .find(|a| a.kind == AnomalyKind::SplitBrain)
        .unwrap();
    assert!(
        split
            .message
            .contains("n2 was promoted from n1's history at offset 9000"),
        "{}",
        split.message
    );
}

#[test]
fn a_stale_primary_is_held_back_until_confirmed() {
    // A clean failback, one cycle straddling it: n1 (n2's replica, history OTHER) promoted,
    // n2 not yet demoted and still listing n3.
    let mut s = Scene::new(config(&[(
        "g",
        &[
            ("n1", "127.0.0.1:7001"),
            ("n2", "127.0.0.1:7002"),
            ("n3", "127.0.0.1:7003"),
        ],
    )]));
    let mut promoted = primary(7001, "aaaa1111", 7990, &[]);
    promoted.replication.replid = Some(THIRD.into());
    promoted.replication.replid2 = Some(OTHER.into());
    promoted.replication.second_offset = Some(7991);
    promoted.server.uptime_seconds = Some(300);
    s.observe(0, 0, 0, Ok(promoted.clone()));
    let mut old = primary(7002, "bbbb2222", 8000, &[7003]);
    old.replication.replid = Some(OTHER.into());
    s.observe(0, 1, 0, Ok(old));
    let mut r = replica(7003, "cccc3333", ("127.0.0.1", 7002), 8000);
    r.replication.replid = Some(OTHER.into());
    s.observe(0, 2, 0, Ok(r));
    let mut t = s.build(0);
    assert!(
        kinds(&t, 0).contains(&AnomalyKind::StalePrimary),
        "the raw picture has it"
    );
    let mut confirm = Confirm::new();
    confirm.apply(&mut t, s.at(0));
    assert!(
        !kinds(&t, 0).contains(&AnomalyKind::StalePrimary),
        "held back: {:?}",
        t.groups[0].anomalies
    );

    // The next cycle sees the failback done: it was never shown.
    s.observe(
        0,
        0,
        1000,
        Ok(primary(7001, "aaaa1111", 8100, &[7002, 7003])),
    );
    let mut demoted = replica(7002, "bbbb2222", ("127.0.0.1", 7001), 8100);
    demoted.replication.replid = Some(REPLID.into());
    s.observe(0, 1, 1000, Ok(demoted));
    s.observe(
        0,
        2,
        1000,
        Ok(replica(7003, "cccc3333", ("127.0.0.1", 7001), 8100)),
    );
    let mut t = s.build(1000);
    confirm.apply(&mut t, s.at(1000));
    assert!(
        t.groups[0].anomalies.is_empty(),
        "{:?}",
        t.groups[0].anomalies
    );
}

#[test]
fn cluster_shards_are_not_a_split_brain() {
    for by_config in [true, false] {
        let mut c = config(&[(
            "c",
            &[
                ("s1", "127.0.0.1:7001"),
                ("s2", "127.0.0.1:7002"),
                ("s3", "127.0.0.1:7003"),
                ("s1r", "127.0.0.1:7004"),
            ],
        )]);
        c.groups[0].cluster = by_config;
        let mut s = Scene::new(c);
        let ids = [REPLID, OTHER, THIRD];
        for (k, id) in ids.iter().enumerate() {
            let port = 7001 + u16::try_from(k).unwrap();
            let replicas: &[u16] = if k == 0 { &[7004] } else { &[] };
            let mut p = primary(port, &format!("run{k}"), 1000, replicas);
            p.replication.replid = Some((*id).into());
            p.server.mode = Some("cluster".into());
            s.observe(0, k, 0, Ok(p));
        }
        let mut r = replica(7004, "run3", ("127.0.0.1", 7001), 1000);
        r.server.mode = Some("cluster".into());
        s.observe(0, 3, 0, Ok(r));
        let t = s.build(1);
        let g = &t.groups[0];
        assert!(
            !kinds(&t, 0).contains(&AnomalyKind::SplitBrain),
            "{:?}",
            g.anomalies
        );
        // No node answered CLUSTER NODES here (INFO alone): no cluster view, nothing to say.
        assert!(g.anomalies.is_empty(), "{:?}", g.anomalies);
        assert!(g.cluster.is_none());
        assert!(redops::cli::status::is_healthy(&t));
    }
}

/// Drives n1 (primary) and n2 (its replica) through time as `watch` does: build, confirm,
/// changes; keeps the lag events.
struct LagDriver {
    s: Scene,
    confirm: Confirm,
    prev: Topology,
    events: Vec<(u64, ChangeKind)>,
}

impl LagDriver {
    /// n2 is `lag` bytes behind at `ms`; returns the level shown for it.
    fn run(&mut self, ms: u64, lag: u64) -> LagLevel {
        let s = &mut self.s;
        let top = 100_000_000 + ms * 10;
        s.observe(0, 0, ms, Ok(primary(7001, "aaaa1111", top, &[7002])));
        let r = replica(7002, "bbbb2222", ("127.0.0.1", 7001), top - lag);
        s.observe(0, 1, ms, Ok(r));
        let mut t = s.build(ms);
        self.confirm.apply(&mut t, s.at(ms));
        for c in topology::changes(&self.prev, &t, s.at(ms)) {
            if c.message.contains("behind") || c.message.contains("lag high") {
                self.events.push((ms, c.kind));
            }
        }
        let level = t.groups[0].by_name("n2").unwrap().lag_level;
        self.prev = t;
        level
    }
}

#[test]
fn lag_alerts_rise_and_clear_with_hysteresis() {
    let mut c = config(&[("g", &[("n1", "127.0.0.1:7001"), ("n2", "127.0.0.1:7002")])]);
    // Bytes only: the seconds estimate depends on the offset history, not under test here.
    c.groups[0].lag.warn_seconds = 1e9;
    c.groups[0].lag.crit_seconds = 2e9;
    let warn = c.groups[0].lag.warn_bytes;
    let s = Scene::new(c);
    let prev = s.build(0);
    let mut d = LagDriver {
        s,
        confirm: Confirm::new(),
        prev,
        events: Vec::new(),
    };
    let step = 200;
    let raise = u64::try_from(LAG_RAISE_AFTER.as_millis()).unwrap();
    let clear = u64::try_from(LAG_CLEAR_AFTER.as_millis()).unwrap();

    // A burst: the lag crosses the threshold and comes back every 0.2-0.4 s for 10 s.
    let mut ms = 0;
    while ms < 10_000 {
        let high = (ms / step) % 3 != 2;
        let lag = if high { warn * 2 } else { warn / 4 };
        assert_eq!(d.run(ms, lag), LagLevel::Ok, "at {ms}");
        ms += step;
    }
    assert_eq!(d.run(ms, warn / 4), LagLevel::Ok);
    ms += step;
    assert!(
        d.events.is_empty(),
        "a burst raises nothing: {:?}",
        d.events
    );

    // Sustained: raised once the lag has stayed high for the minimum duration.
    let start = ms;
    while ms < start + raise {
        assert_eq!(d.run(ms, warn * 2), LagLevel::Ok, "at {ms}");
        ms += step;
    }
    assert_eq!(d.run(ms, warn * 2), LagLevel::Warn);
    assert_eq!(d.events, vec![(ms, ChangeKind::AnomalyRaised)]);
    ms += step;

    // Below the threshold but above 80 % of it: held, however long.
    let hover = warn * 9 / 10;
    let start = ms;
    while ms < start + 3 * clear {
        assert_eq!(d.run(ms, hover), LagLevel::Warn, "at {ms}");
        ms += step;
    }
    // Dips under 80 % shorter than the clear delay do not clear it either.
    for _ in 0..3 {
        assert_eq!(d.run(ms, warn / 2), LagLevel::Warn);
        ms += step;
        assert_eq!(d.run(ms, hover), LagLevel::Warn);
        ms += step;
    }
    assert_eq!(d.events.len(), 1, "{:?}", d.events);

    // Below 80 % for the clear delay: cleared, once.
    let start = ms;
    while ms < start + clear {
        assert_eq!(d.run(ms, warn / 2), LagLevel::Warn, "at {ms}");
        ms += step;
    }
    assert_eq!(d.run(ms, warn / 2), LagLevel::Ok);
    assert_eq!(d.events.len(), 2, "{:?}", d.events);
    assert_eq!(d.events[1], (ms, ChangeKind::AnomalyCleared));
}

#[test]
fn a_role_flip_while_a_node_was_unreadable_is_reported() {
    let mut s = Scene::new(config(&[(
        "g",
        &[("n1", "127.0.0.1:7001"), ("n2", "127.0.0.1:7002")],
    )]));
    s.observe(0, 0, 0, Ok(primary(7001, "aaaa1111", 100, &[7002])));
    s.observe(
        0,
        1,
        0,
        Ok(replica(7002, "bbbb2222", ("127.0.0.1", 7001), 100)),
    );
    let before = s.build(0);
    s.observe(
        0,
        1,
        1000,
        Err(NodeError::Refused("connection reset by peer".into())),
    );
    let gap = s.build(1000);
    let mut promoted = primary(7002, "bbbb2222", 100, &[]);
    promoted.replication.replid = Some(OTHER.into());
    promoted.replication.replid2 = Some(REPLID.into());
    s.observe(0, 1, 2000, Ok(promoted));
    let after = s.build(2000);
    let _ = topology::changes(&before, &gap, s.at(1000));
    let ch = topology::changes(&gap, &after, s.at(2000));
    let flip = ch
        .iter()
        .find(|c| c.kind == ChangeKind::RoleChanged)
        .unwrap_or_else(|| panic!("{ch:?}"));
    assert_eq!(flip.node.as_deref(), Some("n2"));
    assert_eq!(flip.message, "n2 is now primary (was replica)");
}
