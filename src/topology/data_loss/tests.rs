//! Unit tests of `data_loss`.
use std::sync::Arc;

use super::*;
use crate::info::{DbKeys, Info, InfoRole};
use crate::observe::NodeId;
use crate::topology::Upstream;

const T0: u64 = 1_800_000_000_000;

fn seen(run_id: &str, keys: u64) -> Seen {
    Seen {
        addr: "127.0.0.1:7001".into(),
        run_id: run_id.into(),
        primary: true,
        keys,
        replid: Some("old".into()),
        offset: Some(5000),
        unsaved: Some(0),
        aof: false,
        at_ms: T0,
    }
}

fn after(run_id: &str, keys: u64) -> Sighting {
    Sighting {
        seen: Seen {
            replid: Some("new".into()),
            offset: Some(0),
            at_ms: T0 + 3000,
            ..seen(run_id, keys)
        },
        replid2: None,
        second_offset: None,
        uptime_s: Some(1),
        keeps_history: true,
    }
}

#[test]
fn a_restart_with_fewer_keys_is_a_loss() {
    let v = judge(&seen("a", 20_150), &after("b", 0)).unwrap();
    assert!(v.keys_dropped);
    // 1% of what it had is tolerated (keys expiring or deleted around the restart).
    assert!(judge(&seen("a", 20_150), &after("b", 19_950)).is_none());
    assert!(judge(&seen("a", 20_150), &after("b", 19_948)).is_some());
    // Same process: nothing restarted.
    assert!(judge(&seen("a", 20_150), &after("a", 0)).is_none());
}

#[test]
fn only_a_primary_that_came_back_primary_counts() {
    let mut before = seen("a", 100);
    before.primary = false;
    assert!(judge(&before, &after("b", 0)).is_none());
    let mut now = after("b", 0);
    now.seen.primary = false;
    assert!(judge(&seen("a", 100), &now).is_none());
    // Another address is another server.
    let mut now = after("b", 0);
    now.seen.addr = "127.0.0.1:7002".into();
    assert!(judge(&seen("a", 100), &now).is_none());
}

#[test]
fn an_old_key_count_is_not_evidence() {
    let mut before = seen("a", 100);
    // Seen 20 minutes before a restart that happened 1 s before this sighting.
    before.at_ms = T0 + 3000 - 1000 - 20 * 60 * 1000;
    assert!(judge(&before, &after("b", 0)).is_none());
    before.at_ms = T0 + 3000 - 1000 - 14 * 60 * 1000;
    assert!(judge(&before, &after("b", 0)).is_some());
}

#[test]
fn unsaved_writes_lost_with_an_older_dump_even_at_the_same_key_count() {
    let mut before = seen("a", 1000);
    before.unsaved = Some(500);
    // Reloaded a dump taken at offset 3000 of the old history: the writes after it are gone.
    let mut now = after("b", 1000);
    now.replid2 = Some("old".into());
    now.second_offset = Some(3001);
    let v = judge(&before, &now).unwrap();
    assert!(!v.keys_dropped);
    assert_eq!(v.unsaved_lost, Some(500));
    // A dump that reaches the old offset (SHUTDOWN saved it): nothing lost.
    now.second_offset = Some(5001);
    assert!(judge(&before, &now).is_none());
    // Nothing unsaved (an idle RDB primary whose offset only moved by PINGs): nothing lost.
    before.unsaved = Some(0);
    now.second_offset = Some(3001);
    assert!(judge(&before, &now).is_none());
    // With AOF the RDB's age says nothing.
    before.unsaved = Some(500);
    before.aof = true;
    assert!(judge(&before, &now).is_none());
    // Before 7.0 a restarted primary never keeps its history: not judged on it.
    before.aof = false;
    now.keeps_history = false;
    assert!(judge(&before, &now).is_none());
}

fn view(name: &str, port: u16, run_id: &str, keys: u64, replid: &str) -> NodeView {
    let mut info = Info::default();
    info.server.run_id = Some(run_id.into());
    info.server.version = Some("7.0.15".into());
    info.server.uptime_seconds = Some(100);
    info.replication.role = Some(InfoRole::Primary);
    info.replication.replid = Some(replid.into());
    info.replication.offset = Some(100);
    info.persistence.changes_since_last_save = Some(0);
    if keys > 0 {
        info.keyspace.push(DbKeys {
            db: 0,
            keys,
            ..DbKeys::default()
        });
    }
    let mut v = NodeView::new(
        Some(NodeId {
            group: 0,
            node: usize::from(port - 7001),
        }),
        name,
        &format!("127.0.0.1:{port}"),
    );
    v.state = NodeState::Up;
    v.role = Role::Primary;
    v.replid = Some(replid.into());
    v.info = Some(Arc::new(info));
    v
}

fn replica_of(mut v: NodeView, upstream: usize, synced: bool) -> NodeView {
    v.role = Role::Replica;
    v.upstream = Some(Upstream {
        addr: "127.0.0.1:7001".into(),
        index: Some(upstream),
    });
    v.link = Some(if synced {
        Link::Up
    } else {
        Link::Down { since: None }
    });
    v
}

fn topo(nodes: Vec<NodeView>) -> Topology {
    Topology {
        at: None,
        groups: vec![GroupTopology {
            index: 0,
            name: "g".into(),
            nodes,
            anomalies: Vec::new(),
            sentinel: None,
            cluster: None,
        }],
    }
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

#[test]
fn the_watch_raises_once_the_replicas_copy_and_keeps_it_until_acknowledged() {
    let mut w = LossWatch::new();
    let before = topo(vec![
        view("n1", 7001, "a", 20_150, "r1"),
        replica_of(view("n2", 7002, "x", 20_150, "r1"), 0, true),
        replica_of(view("n3", 7003, "y", 20_150, "r1"), 0, true),
    ]);
    w.observe(&before, at(T0));
    assert!(w.losses().is_empty());
    // n1 restarted empty; its replicas already copied it (new replid, link up).
    let mut after = topo(vec![
        view("n1", 7001, "b", 0, "r2"),
        replica_of(view("n2", 7002, "x", 0, "r2"), 0, true),
        replica_of(view("n3", 7003, "y", 0, "r2"), 0, true),
    ]);
    w.observe(&after, at(T0 + 2000));
    assert_eq!(w.losses().len(), 1);
    // Not shown before the backup lookup answers (the message names the snapshot).
    w.annotate(&mut after);
    assert!(after.groups[0].anomalies.is_empty());
    let q = w.unresolved(&after);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].nodes, ["n1", "n2", "n3"]);
    w.resolve(
        &q[0].key,
        Some(SnapshotRef {
            path: "/b/g/n1/20250102T140200.000Z.rdb".into(),
            node: "n1".into(),
            taken_at_ms: 1_735_826_520_000,
            keys: Some(20_000),
        }),
    );
    w.annotate(&mut after);
    let a = &after.groups[0].anomalies[0];
    assert_eq!(a.kind, AnomalyKind::DataLostOnRestart);
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(
        a.message,
        "n1 restarted with 0 keys (it had 20,150); n2 and n3 copied it: the data is gone \
         from the group; restore from the snapshot of 2025-01-02 14:02 UTC (n1, \
         /b/g/n1/20250102T140200.000Z.rdb, 20,000 keys)"
    );
    // Later cycles: the same process, nothing new, the alarm stays.
    let mut later = topo(after.groups[0].nodes.clone());
    w.observe(&later, at(T0 + 60_000));
    w.annotate(&mut later);
    assert_eq!(later.groups[0].anomalies.len(), 1);
    assert_eq!(w.acknowledge("g"), ["n1"]);
    let mut acked = topo(after.groups[0].nodes.clone());
    w.observe(&acked, at(T0 + 61_000));
    w.annotate(&mut acked);
    assert!(acked.groups[0].anomalies.is_empty());
    assert!(w.acknowledge("g").is_empty());
}

#[test]
fn a_replica_still_holding_the_data_is_named() {
    let mut w = LossWatch::new();
    w.observe(
        &topo(vec![
            view("n1", 7001, "a", 500, "r1"),
            replica_of(view("n2", 7002, "x", 500, "r1"), 0, true),
        ]),
        at(T0),
    );
    let mut t = topo(vec![
        view("n1", 7001, "b", 0, "r2"),
        replica_of(view("n2", 7002, "x", 500, "r1"), 0, false),
    ]);
    w.observe(&t, at(T0 + 1000));
    let q = w.unresolved(&t);
    w.resolve(&q[0].key, None);
    w.annotate(&mut t);
    assert_eq!(
        t.groups[0].anomalies[0].message,
        "n1 restarted with 0 keys (it had 500); n2 still holds 500 keys and will copy it as \
         soon as its link is up: promote it or stop its replication first; no downloaded \
         snapshot of this group is at hand to restore from"
    );
}

#[test]
fn a_restarted_primary_nobody_follows_beside_a_holder_is_not_raised() {
    // The stale old primary after a promotion: the data lives on n2; the identity anomalies
    // report n1.
    let mut w = LossWatch::new();
    w.observe(&topo(vec![view("n1", 7001, "a", 500, "r1")]), at(T0));
    let mut t = topo(vec![
        view("n2", 7002, "x", 500, "r9"),
        view("n1", 7001, "b", 0, "r2"),
    ]);
    w.observe(&t, at(T0 + 1000));
    let q = w.unresolved(&t);
    w.resolve(&q[0].key, None);
    w.annotate(&mut t);
    assert!(t.groups[0].anomalies.is_empty());
    // A replica pointed at it: now it matters.
    t.groups[0].nodes[0] = replica_of(view("n2", 7002, "x", 500, "r9"), 1, false);
    w.observe(&t, at(T0 + 2000));
    w.annotate(&mut t);
    assert_eq!(t.groups[0].anomalies.len(), 1);
}

/// The old primary back with old data beside the promoted one, then rejoined: once it copies
/// the new primary's data, its restart's loss cannot matter, even on a poll where it holds a
/// few more keys than the others (polled a moment later under writes).
#[test]
fn a_rejoined_old_primary_is_never_raised_after() {
    let mut w = LossWatch::new();
    w.observe(&topo(vec![view("n1", 7001, "a", 51_201, "r1")]), at(T0));
    let mut t = topo(vec![
        view("n2", 7002, "x", 52_000, "r9"),
        view("n1", 7001, "b", 1_000, "r2"),
    ]);
    w.observe(&t, at(T0 + 1000));
    assert_eq!(w.losses().len(), 1, "recorded, not raised");
    t.groups[0].nodes[1] = replica_of(view("n1", 7001, "b", 52_600, "r9"), 0, true);
    w.observe(&t, at(T0 + 2000));
    assert!(w.losses().is_empty(), "{:?}", w.losses());
    w.annotate(&mut t);
    assert!(
        t.groups[0].anomalies.is_empty(),
        "{:?}",
        t.groups[0].anomalies
    );
}

#[test]
fn the_memory_survives_a_round_trip_and_merges() {
    let mut w = LossWatch::new();
    w.observe(&topo(vec![view("n1", 7001, "a", 500, "r1")]), at(T0));
    assert!(w.take_changed(), "a first sighting is worth keeping");
    w.observe(&topo(vec![view("n1", 7001, "a", 501, "r1")]), at(T0 + 1000));
    assert!(!w.take_changed(), "a key count moving is not");
    let state = w.state();
    let text = serde_json::to_string(&state).unwrap();
    let back: LossState = serde_json::from_str(&text).unwrap();
    assert_eq!(back, state);
    // Another process restarted it while this one was not running.
    let mut w2 = LossWatch::from_state(back);
    w2.observe(&topo(vec![view("n1", 7001, "b", 0, "r2")]), at(T0 + 5000));
    assert_eq!(w2.losses().len(), 1);
    // Merging: the newer sighting wins, an acknowledgement removes the loss everywhere.
    let mut disk = w2.state();
    let mut mine = state.clone();
    mine.merge(disk.clone());
    assert_eq!(mine.seen[0].seen.run_id, "b");
    assert_eq!(mine.losses.len(), 1);
    disk.acknowledged.push(disk.losses[0].key.clone());
    mine.merge(disk);
    assert!(mine.losses.is_empty());
}

#[test]
fn thousands_separators() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(20_150), "20,150");
    assert_eq!(thousands(1_234_567), "1,234,567");
}

#[test]
fn most_keys_gone_without_a_restart_is_a_wipe() {
    let now = |keys, dt| Seen {
        at_ms: T0 + dt,
        ..seen("a", keys)
    };
    assert!(wiped(&seen("a", 1_100), &now(0, 1000)));
    // Less than half gone, or fewer than 100 keys: expiry and deletes, not a wipe.
    assert!(!wiped(&seen("a", 1_100), &now(600, 1000)));
    assert!(!wiped(&seen("a", 150), &now(60, 1000)));
    // A sighting too old to compare with, another process, a replica: not judged here.
    assert!(!wiped(&seen("a", 1_100), &now(0, 61_000)));
    assert!(!wiped(
        &seen("a", 1_100),
        &Seen {
            run_id: "b".into(),
            ..now(0, 1000)
        }
    ));
    assert!(!wiped(
        &Seen {
            primary: false,
            ..seen("a", 1_100)
        },
        &now(0, 1000)
    ));
}

#[test]
fn a_flushall_the_replicas_copy_is_raised_as_a_wipe() {
    let mut w = LossWatch::new();
    let before = topo(vec![
        view("n1", 7001, "a", 1_100, "r1"),
        replica_of(view("n2", 7002, "x", 1_100, "r1"), 0, true),
    ]);
    w.observe(&before, at(T0));
    let mut after = topo(vec![
        view("n1", 7001, "a", 0, "r1"),
        replica_of(view("n2", 7002, "x", 0, "r1"), 0, true),
    ]);
    w.observe(&after, at(T0 + 1000));
    assert_eq!(w.losses().len(), 1);
    let q = w.unresolved(&after);
    w.resolve(&q[0].key, None);
    w.annotate(&mut after);
    let a = &after.groups[0].anomalies[0];
    assert_eq!(a.kind, AnomalyKind::DataWiped);
    assert!(
        a.message.starts_with(
            "n1 went from 1,100 keys to 0 without a restart (FLUSHALL, FLUSHDB or a mass \
             deletion); n2 copied it: the data is gone"
        ),
        "{}",
        a.message
    );
    // One event, one alarm: the next polls of the empty node add nothing.
    w.observe(&after, at(T0 + 2000));
    assert_eq!(w.losses().len(), 1);
    assert_eq!(w.acknowledge("g"), ["n1"]);
}
