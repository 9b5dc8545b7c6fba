//! Unit tests of the monitor: scripted observations in, topology, changes and warm-up out.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::{Addr, Group, Node};
use crate::info::{DbKeys, Info, InfoRole, ReplicaLine};
use crate::observe::{NodeError, NodeId};
use crate::topology::{AnomalyKind, ChangeKind, Severity};

const REPLID: &str = "ccbcedb46159505c68cc9dc48e9d0c2381f12641";

fn config(n: usize) -> Config {
    let nodes = (0..n)
        .map(|i| Node {
            name: format!("n{}", i + 1),
            addr: Addr {
                host: "127.0.0.1".into(),
                port: 7001 + u16::try_from(i).unwrap_or(0),
            },
            username: None,
            password: None,
            tls: None,
        })
        .collect();
    Config {
        console: crate::config::Console::default(),
        groups: vec![Group::new("g", nodes)],
        source: None,
    }
}

fn t(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_000 + ms)
}

fn primary(port: u16, offset: u64, replicas: &[(u16, u64)]) -> Info {
    let mut i = Info::default();
    i.server.tcp_port = Some(port);
    i.server.version = Some("7.0.15".into());
    i.server.uptime_seconds = Some(100_000);
    i.server.run_id = Some(format!("run-{port}"));
    i.persistence.save_config = Some("3600 1".into());
    i.persistence.last_bgsave_ok = Some(true);
    i.persistence.changes_since_last_save = Some(0);
    let r = &mut i.replication;
    r.role = Some(InfoRole::Primary);
    r.replid = Some(REPLID.into());
    r.offset = Some(offset);
    r.connected_replicas = replicas.len() as u64;
    r.replicas = replicas
        .iter()
        .enumerate()
        .map(|(k, (p, o))| ReplicaLine {
            index: u32::try_from(k).unwrap_or(0),
            ip: "127.0.0.1".into(),
            port: *p,
            state: "online".into(),
            offset: Some(*o),
            lag: Some(0),
            kind: None,
        })
        .collect();
    i
}

fn replica(port: u16, offset: u64) -> Info {
    let mut i = primary(port, offset, &[]);
    let r = &mut i.replication;
    r.role = Some(InfoRole::Replica);
    r.master_host = Some("127.0.0.1".into());
    r.master_port = Some(7001);
    r.link_up = Some(true);
    r.replica_offset = Some(offset);
    i
}

fn with_keys(mut i: Info, run_id: &str, keys: u64) -> Info {
    i.server.run_id = Some(run_id.into());
    i.server.uptime_seconds = Some(2);
    i.keyspace = vec![DbKeys {
        db: 0,
        keys,
        ..DbKeys::default()
    }];
    i
}

fn obs(node: usize, ms: u64, result: Result<Info, NodeError>) -> Observation {
    Observation {
        id: NodeId { group: 0, node },
        at: t(ms),
        rtt: Duration::from_millis(1),
        result: result.map(Arc::new),
    }
}

/// n1 primary of n2, both in sync at `offset`, observed at `ms`.
fn healthy(m: &mut Monitor, ms: u64, offset: u64) {
    m.observe(obs(0, ms, Ok(primary(7001, offset, &[(7002, offset)]))));
    m.observe(obs(1, ms, Ok(replica(7002, offset))));
}

fn later(_: &SnapshotQuery) -> Lookup {
    Lookup::Later
}

fn kinds(up: &[Change]) -> Vec<ChangeKind> {
    up.iter().map(|c| c.kind).collect()
}

fn anomalies(m: &Monitor) -> Vec<AnomalyKind> {
    m.topology().groups[0]
        .anomalies
        .iter()
        .map(|a| a.kind)
        .collect()
}

#[test]
fn a_partial_picture_reports_nothing_and_the_first_complete_one_says_what_is_wrong() {
    let mut m = Monitor::new(&config(2), t(0));
    m.observe(obs(1, 100, Ok(replica(7002, 100))));
    let up = m.cycle(t(100), later);
    assert!(!m.warm(t(100)), "n1 not polled yet");
    assert_eq!(up, Update::default(), "nothing before the warm-up ends");
    assert!(!m.published_warm());

    // n1 refuses: the picture is complete, and what is wrong is said once, at start.
    m.observe(obs(0, 200, Err(NodeError::Refused("refused".into()))));
    let up = m.cycle(t(200), later);
    assert!(m.published_warm());
    assert!(up.changes.is_empty());
    assert!(
        up.at_start
            .iter()
            .any(|c| c.kind == ChangeKind::AnomalyRaised && c.node.as_deref() == Some("n1")),
        "{:?}",
        up.at_start
    );

    // From then on, changes since the update before.
    healthy(&mut m, 1200, 300);
    let up = m.cycle(t(1200), later);
    assert!(up.at_start.is_empty());
    let k = kinds(&up.changes);
    assert!(k.contains(&ChangeKind::NodeUp), "{k:?}");
    assert!(k.contains(&ChangeKind::AnomalyCleared), "{k:?}");
    let up = m.cycle(t(1300), later);
    assert!(up.changes.is_empty(), "nothing changed: {:?}", up.changes);
}

#[test]
fn a_healthy_start_says_nothing() {
    let mut m = Monitor::new(&config(2), t(0));
    healthy(&mut m, 100, 100);
    let up = m.cycle(t(100), later);
    assert!(m.published_warm());
    assert_eq!(up, Update::default());
}

#[test]
fn a_poll_that_never_ends_does_not_hold_the_warm_up_for_ever() {
    let c = config(2);
    let patience = (c.console.poll_interval + c.console.timeout + c.console.connect_timeout) * 2;
    let mut m = Monitor::new(&c, t(0));
    m.observe(obs(0, 100, Ok(primary(7001, 100, &[]))));
    assert!(m.cycle(t(100), later).at_start.is_empty());
    assert_eq!(m.polled(), (1, 2));
    let end = u64::try_from(patience.as_millis()).unwrap_or(u64::MAX);
    assert!(!m.warm(t(end - 1)));
    assert!(m.warm(t(end)));
    m.cycle(t(end), later);
    assert!(m.published_warm());
}

/// A cycle straddling a switchover: n2 already primary, n1 not yet demoted.
fn straddle(m: &mut Monitor, ms: u64) {
    let mut promoted = primary(7002, 100, &[]);
    promoted.replication.replid2 = Some(REPLID.into());
    m.observe(obs(0, ms, Ok(primary(7001, 100, &[(7002, 100)]))));
    m.observe(obs(1, ms, Ok(promoted)));
}

#[test]
fn one_shot_reports_what_it_saw_continuous_holds_it_until_polled_again() {
    let mut once = Monitor::one_shot(&config(2), t(0));
    straddle(&mut once, 100);
    once.cycle(t(100), later);
    assert!(anomalies(&once).contains(&AnomalyKind::SplitBrain));

    let mut m = Monitor::new(&config(2), t(0));
    straddle(&mut m, 100);
    m.cycle(t(100), later);
    assert!(!anomalies(&m).contains(&AnomalyKind::SplitBrain), "held");
    straddle(&mut m, 1100);
    let up = m.cycle(t(1100), later);
    assert!(
        anomalies(&m).contains(&AnomalyKind::SplitBrain),
        "confirmed"
    );
    assert!(up
        .changes
        .iter()
        .any(|c| c.kind == ChangeKind::AnomalyRaised && c.severity == Severity::Critical));
}

#[test]
fn lag_alerts_wait_in_continuous_mode_only() {
    // 4 MiB behind: over the 1 MiB warn threshold.
    let behind = 4 * 1_048_576;
    let feed = |m: &mut Monitor, ms: u64| {
        m.observe(obs(0, ms, Ok(primary(7001, behind + 100, &[(7002, 100)]))));
        m.observe(obs(1, ms, Ok(replica(7002, 100))));
    };
    let mut once = Monitor::one_shot(&config(2), t(0));
    feed(&mut once, 100);
    once.cycle(t(100), later);
    assert!(anomalies(&once).contains(&AnomalyKind::LagHigh));

    let mut m = Monitor::new(&config(2), t(0));
    for ms in [100, 1100, 2100] {
        feed(&mut m, ms);
        m.cycle(t(ms), later);
        assert!(!anomalies(&m).contains(&AnomalyKind::LagHigh), "at {ms}");
    }
    feed(&mut m, 3100);
    let up = m.cycle(t(3100), later);
    assert!(anomalies(&m).contains(&AnomalyKind::LagHigh));
    assert_eq!(kinds(&up.changes), [ChangeKind::AnomalyRaised]);
}

/// A one-node group: n1 with `keys` keys under process `run_id`, observed at `ms`.
fn solo(m: &mut Monitor, ms: u64, run_id: &str, keys: u64) {
    m.observe(obs(
        0,
        ms,
        Ok(with_keys(primary(7001, 100, &[]), run_id, keys)),
    ));
}

fn backup() -> SnapshotRef {
    SnapshotRef {
        path: "/b/g/n1/x.rdb".into(),
        node: "n1".into(),
        taken_at_ms: 1,
        keys: Some(1000),
    }
}

#[test]
fn a_loss_waits_for_its_lookup_then_stays_until_acknowledged() {
    let mut m = Monitor::new(&config(1), t(0));
    solo(&mut m, 100, "a", 1000);
    m.cycle(t(100), later);
    solo(&mut m, 1100, "b", 0);
    let up = m.cycle(t(1100), later);
    assert_eq!(up.lookups.len(), 1, "the backup is asked for");
    assert_eq!(up.lookups[0].nodes, ["n1"]);
    assert!(!anomalies(&m).contains(&AnomalyKind::DataLostOnRestart));
    // Asked once only.
    solo(&mut m, 2100, "b", 0);
    assert!(m.cycle(t(2100), later).lookups.is_empty());

    let key = up.lookups[0].key.clone();
    let up = m.resolve(&key, Some(backup()), t(2200));
    assert!(anomalies(&m).contains(&AnomalyKind::DataLostOnRestart));
    let raised = &up.changes[0];
    assert_eq!(raised.kind, ChangeKind::AnomalyRaised);
    assert!(
        raised.message.contains("/b/g/n1/x.rdb"),
        "{}",
        raised.message
    );
    assert_eq!(m.losses().len(), 1);

    solo(&mut m, 3100, "b", 0);
    m.cycle(t(3100), later);
    assert!(
        anomalies(&m).contains(&AnomalyKind::DataLostOnRestart),
        "stays"
    );
    let (nodes, up) = m.acknowledge("other", t(3200));
    assert!(nodes.is_empty() && up == Update::default());
    let (nodes, up) = m.acknowledge("g", t(3200));
    assert_eq!(nodes, ["n1"]);
    assert_eq!(kinds(&up.changes), [ChangeKind::AnomalyCleared]);
    assert!(m.losses().is_empty());
}

#[test]
fn a_lookup_answered_at_once_shows_the_loss_in_the_same_cycle() {
    let mut m = Monitor::new(&config(1), t(0));
    solo(&mut m, 100, "a", 1000);
    m.cycle(t(100), later);
    solo(&mut m, 1100, "b", 0);
    let mut asked = 0;
    let up = m.cycle(t(1100), |_| {
        asked += 1;
        Lookup::Found(None)
    });
    assert_eq!(asked, 1);
    assert!(up.lookups.is_empty());
    assert!(anomalies(&m).contains(&AnomalyKind::DataLostOnRestart));
    assert!(up
        .changes
        .iter()
        .any(|c| c.message.starts_with("n1 restarted with 0 keys")));
}

#[test]
fn the_memory_is_handed_out_when_kept_and_judges_a_restart_it_did_not_see() {
    // Not kept: never handed out.
    let mut m = Monitor::new(&config(1), t(0));
    solo(&mut m, 100, "a", 1000);
    assert_eq!(m.cycle(t(100), later).save, None);

    // Kept: at the first cycle, then when something changed or SAVE_EVERY passed.
    let mut m = Monitor::one_shot(&config(1), t(0));
    m.remember(LossState::default());
    solo(&mut m, 100, "a", 1000);
    let state = m.cycle(t(100), later).save.expect("first cycle writes");
    assert_eq!(state.seen.len(), 1);
    solo(&mut m, 1100, "a", 1000);
    assert_eq!(m.cycle(t(1100), later).save, None, "nothing new");
    let every = u64::try_from(SAVE_EVERY.as_millis()).unwrap_or(u64::MAX);
    solo(&mut m, 100 + every, "a", 1000);
    assert!(m.cycle(t(100 + every), later).save.is_some(), "due");

    // A later one-shot run with that memory sees the restart in its only cycle.
    let mut next = Monitor::one_shot(&config(1), t(5000));
    next.remember(state);
    solo(&mut next, 5100, "b", 0);
    let up = next.cycle(t(5100), |_| Lookup::Found(None));
    assert!(up.save.is_some());
    let topo = next.into_topology();
    assert!(topo.groups[0]
        .anomalies
        .iter()
        .any(|a| a.kind == AnomalyKind::DataLostOnRestart));
}

#[test]
fn a_topology_published_from_elsewhere_follows_the_same_rule() {
    let mut m = Monitor::new(&config(2), t(0));
    healthy(&mut m, 100, 100);
    m.cycle(t(100), later);
    let mut next = m.topology().clone();
    next.groups[0].anomalies.push(crate::topology::Anomaly {
        kind: AnomalyKind::NodeDown,
        severity: Severity::Warning,
        nodes: vec!["n2".into()],
        message: "n2 is down".into(),
    });
    let up = m.publish(next, t(200));
    assert_eq!(kinds(&up.changes), [ChangeKind::AnomalyRaised]);
    assert_eq!(m.history().len(NodeId { group: 0, node: 0 }), 1);
}
