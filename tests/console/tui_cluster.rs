//! A cluster group in the console, on ratatui's `TestBackend`: the cluster summary in the
//! table's title and the SLOTS column of the shard tree, healthy and with a failed primary
//! whose replica took over (scripted observations carrying each node's `CLUSTER` replies).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::common::fixtures::loopback_node as node;
use crate::common::screen::{draw, text};
use redops::cluster::{self, NodeReport};
use redops::config::{Config, Console, Group};
use redops::info::{Info, InfoRole, ReplicaLine};
use redops::observe::{NodeError, NodeId, Observation};
use redops::tui::{theme, App, Msg, Options};

const T0: u64 = 1_700_000_000;
const IDS: [&str; 4] = [
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "cccccccccccccccccccccccccccccccccccccccc",
    "dddddddddddddddddddddddddddddddddddddddd",
];

fn at(sec: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + sec)
}

fn config() -> Config {
    let nodes = (0..4u16)
        .map(|i| node(&format!("c{}", i + 1), 7001 + i))
        .collect();
    Config {
        console: Console::default(),
        groups: vec![Group {
            cluster: true,
            ..Group::new("orders".to_string(), nodes)
        }],
        source: None,
    }
}

/// The map every node holds: c1 and c2 primaries, c3 replicates c1, c4 replicates c2; after
/// the failover, c1 is failed and c3 owns its slots.
fn map(me: usize, failed_over: bool) -> String {
    let flags = |i: usize, role: &str| {
        let mut f = if i == me {
            format!("myself,{role}")
        } else {
            role.to_string()
        };
        if failed_over && i == 0 {
            f.push_str(",fail");
        }
        f
    };
    let (c1, c3) = if failed_over {
        (("master", "-", ""), ("master", "-", "0-8191"))
    } else {
        (("master", "-", "0-8191"), ("slave", IDS[0], ""))
    };
    let rows = [
        (c1.0, c1.1, 1, c1.2),
        ("master", "-", 2, "8192-16383"),
        (c3.0, c3.1, if failed_over { 3 } else { 1 }, c3.2),
        ("slave", IDS[1], 2, ""),
    ];
    rows.iter()
        .enumerate()
        .map(|(i, (role, primary, epoch, slots))| {
            format!(
                "{} 127.0.0.1:{}@{} {} {primary} 0 0 {epoch} connected {slots}",
                IDS[i],
                7001 + i,
                17001 + i,
                flags(i, role)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn info(me: usize, sec: u64, failed_over: bool) -> Info {
    let mut i = Info::default();
    i.server.version = Some("7.0.15".into());
    i.server.mode = Some("cluster".into());
    i.server.uptime_seconds = Some(3_600 + sec);
    let off = 10_000 + sec * 1_000;
    let r = &mut i.replication;
    // One replication history per shard: c1 and c3, c2 and c4.
    r.replid = Some(format!("{:040}", me % 2));
    let primary_of = |me: usize| match (me, failed_over) {
        (3, _) => Some(7002),
        (2, false) => Some(7001),
        _ => None,
    };
    if let Some(port) = primary_of(me) {
        r.role = Some(InfoRole::Replica);
        r.master_host = Some("127.0.0.1".into());
        r.master_port = Some(port);
        r.link_up = Some(true);
        r.replica_offset = Some(off);
    } else {
        r.role = Some(InfoRole::Primary);
        r.offset = Some(off);
        let replica = match (me, failed_over) {
            (1, _) => Some(7004),
            (0, false) => Some(7003),
            _ => None,
        };
        r.replicas = replica
            .into_iter()
            .map(|port| ReplicaLine {
                index: 0,
                ip: "127.0.0.1".into(),
                port,
                state: "online".into(),
                offset: Some(off),
                lag: Some(0),
                kind: None,
            })
            .collect();
        r.connected_replicas = r.replicas.len() as u64;
    }
    i.cluster = Some(Arc::new(NodeReport {
        info: cluster::info::parse(&format!(
            "cluster_state:ok\ncluster_slots_ok:16384\ncluster_slots_pfail:0\n\
             cluster_slots_fail:0\ncluster_current_epoch:{}",
            if failed_over { 3 } else { 2 }
        )),
        nodes: cluster::nodes::parse(&map(me, failed_over)),
        error: None,
        offsets: Vec::new(),
    }));
    i
}

fn app(failover_at: Option<u64>) -> App {
    let mut app = App::new(
        config(),
        theme::resolve_builtin("dark").unwrap(),
        Options::default(),
        at(0),
    );
    app.update(Msg::Resize(120, 35));
    for sec in 0..10u64 {
        let failed_over = failover_at.is_some_and(|f| sec >= f);
        let batch = (0..4usize)
            .map(|n| {
                let id = NodeId { group: 0, node: n };
                let result = if failed_over && n == 0 {
                    Err(NodeError::Refused(
                        "Connection refused (os error 111)".into(),
                    ))
                } else {
                    Ok(Arc::new(info(n, sec, failed_over)))
                };
                Observation {
                    id,
                    at: at(sec),
                    rtt: Duration::from_micros(300),
                    result,
                }
            })
            .collect();
        app.update(Msg::Observed(batch));
    }
    app.update(Msg::Tick(at(10)));
    app
}

#[test]
fn a_healthy_cluster_is_a_shard_tree() {
    let t = text(&draw(&app(None)));
    assert!(t.contains("cluster ok · 2 shards · 16384 slots ok"), "{t}");
    assert!(t.contains("0-8191 (8192)"), "{t}");
    assert!(!t.contains("split"), "{t}");
    insta::assert_snapshot!("cluster_healthy", t);
}

#[test]
fn a_failed_over_shard_shows_its_new_primary() {
    let t = text(&draw(&app(Some(4))));
    assert!(t.contains("has no replica"), "{t}");
    assert!(!t.contains("split"), "{t}");
    insta::assert_snapshot!("cluster_failed_over", t);
}
