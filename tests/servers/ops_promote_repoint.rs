//! Promote, repoint and rejoin against real `redis-server` processes, through the engine and
//! `RealOps`: the wipe guard refuses a primary with data pointed at an empty node (data intact),
//! and with `--force` downloads its snapshot first; promotion after the primary is killed with
//! a writer running keeps every acknowledged write when the offsets prove it; a restarted old
//! primary (sandbox restart: stale, with old data) is rejoined with its snapshot downloaded
//! first.

#![allow(clippy::unwrap_used)]

use crate::common::server as support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use redops::audit::AuditLog;
use redops::config::{Config, Console, Group, Node};
use redops::history::History;
use redops::node::rdb;
use redops::node::NodeClient;
use redops::observe::{FleetState, NodeId, Observation};
use redops::ops::promote::{self, plan_promote, Loss, PromoteRequest};
use redops::ops::redis_ops::action_client_name;
use redops::ops::repoint::{plan_rejoin, plan_repoint, RepointRequest};
use redops::ops::{self, Approval, Budgets, Plan, RealOps, RunOutcome, RunStatus};
use redops::sandbox::{Sandbox, Spec};
use redops::topology::{self, AnomalyKind, Topology};
use support::Server;

/// The console: config, what it has seen so far, where it keeps files.
struct Console_ {
    config: Config,
    fleet: FleetState,
    history: History,
    /// Holds the audit log, backups and marks; removed on drop.
    _dir: tempfile::TempDir,
}

impl Console_ {
    /// A console for a sandbox's config (its audit log and backups live in the sandbox dir).
    fn from_config(mut config: Config) -> Self {
        config.console.timeout = Duration::from_secs(2);
        let fleet = FleetState::new(&config);
        Self {
            config,
            fleet,
            history: History::new(100),
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    fn new(nodes: Vec<Node>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut console = Console::with_data_dir(dir.path());
        console.timeout = Duration::from_secs(2);
        let config = Config {
            console,
            groups: vec![Group::new("g", nodes)],
            source: None,
        };
        let fleet = FleetState::new(&config);
        Self {
            config,
            fleet,
            history: History::new(100),
            _dir: dir,
        }
    }

    /// One poll of every node, then the topology.
    async fn observe(&mut self) -> Topology {
        let timeouts = redops::node::Timeouts::from(&self.config.console);
        for (ni, node) in self.config.groups[0].nodes.iter().enumerate() {
            let at = SystemTime::now();
            let t0 = Instant::now();
            let mut c = NodeClient::new(node, timeouts, "redops-test-poll").unwrap();
            let result = c.info().await.map(|(i, _)| Arc::new(i));
            let obs = Observation {
                id: NodeId { group: 0, node: ni },
                at,
                rtt: t0.elapsed(),
                result,
            };
            self.history.record(&obs);
            self.fleet.apply(obs);
        }
        topology::build(&self.config, &self.fleet, &self.history, SystemTime::now())
    }

    fn backups(&self) -> &Path {
        &self.config.console.backups_dir
    }

    async fn run(&self, plan: &Plan, approval: &Approval) -> RunOutcome {
        let ops = RealOps::new(
            &self.config,
            0,
            &action_client_name("test", "localhost", std::process::id()),
        )
        .unwrap();
        let mut log = AuditLog::memory();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        ops::run(plan, approval, &ops, &mut log, &tx).await
    }
}

fn budgets() -> Budgets {
    Budgets {
        verify: Duration::from_secs(15),
        snapshot: Duration::from_secs(60),
        command: Duration::from_secs(2),
        max_rtt: Duration::from_secs(2),
        ..Budgets::default()
    }
}

fn approve(name: &str) -> Approval {
    Approval {
        confirmation: Some(name.into()),
        ..Approval::default()
    }
}

fn forced(name: &str, reason: &str) -> Approval {
    Approval {
        force_reason: Some(reason.into()),
        ..approve(name)
    }
}

/// The `.rdb` files (not manifests) under `<backups>/g/<node>`.
fn rdb_files(backups: &Path, node: &str) -> Vec<std::path::PathBuf> {
    let dir = rdb::backup_dir(backups, "g", node);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    rd.map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rdb"))
        .collect()
}

#[tokio::test]
async fn primary_with_data_at_an_empty_node_is_refused_then_forced_after_a_download() {
    let m = Server::start(&[]);
    let e = Server::start(&[]);
    let _: String = m.cmd(&["DEBUG", "POPULATE", "2000", "key", "32"]);
    let mut c = Console_::new(vec![m.node("m"), e.node("e")]);
    let topo = c.observe().await;
    let req = RepointRequest {
        node: "m".into(),
        to: "e".into(),
        budgets: budgets(),
        backups_dir: c.backups().to_path_buf(),
        sync_deadline: Duration::from_secs(30),
    };
    let rp = plan_repoint(&c.config, &topo, &req).unwrap();
    let text = rp.plan.to_string();
    assert!(text.contains("e is empty and m holds 2000 keys"), "{text}");
    assert!(text.contains("m holds: m: primary, 2000 keys"), "{text}");
    assert!(!rp.plan.has_hard_failure(), "{text}");
    assert_eq!(rp.plan.downloads, vec![0]);

    // Refused without --force: nothing sent, data intact.
    let out = c.run(&rp.plan, &approve("m")).await;
    assert_eq!(out.status, RunStatus::Refused, "{out:#?}");
    assert!(out.overridable, "an override lifts it: {out:#?}");
    assert_eq!(m.dbsize(), 2000);
    assert_eq!(m.info_field("role").as_deref(), Some("master"));
    assert!(rdb_files(c.backups(), "m").is_empty());

    // Forced: the snapshot is downloaded and verified first, then the wipe happens.
    let out = c
        .run(&rp.plan, &forced("m", "test: rebuild m from e"))
        .await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    let files = rdb_files(c.backups(), "m");
    assert_eq!(files.len(), 1, "{files:?}");
    let check = rdb::verify(&files[0]).unwrap();
    assert!(check.crc.is_verified());
    let manifest = rdb::read_manifest(&rdb::manifest_path(&files[0])).unwrap();
    assert_eq!(manifest.info.as_ref().unwrap().total_keys, 2000);
    assert_eq!(m.dbsize(), 0, "the forced repoint replaced m's data");
    assert_eq!(m.info_field("role").as_deref(), Some("slave"));
    assert_eq!(m.info_field("master_link_status").as_deref(), Some("up"));

    // The backup is real: a fresh server loads it with every key.
    let mut restored = Server::start(&[]);
    restored.kill();
    std::fs::copy(&files[0], restored.path().join("dump.rdb")).unwrap();
    restored.restart();
    assert_eq!(restored.dbsize(), 2000);
}

/// Writes `SET w:i i` on one connection until stopped or refused; returns the acknowledged i.
fn writer(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let mut acked = Vec::new();
        let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) else {
            return acked;
        };
        let Ok(mut c) = client.get_connection_with_timeout(Duration::from_secs(2)) else {
            return acked;
        };
        let _ = c.set_read_timeout(Some(Duration::from_secs(3)));
        let deadline = Instant::now() + Duration::from_secs(30);
        for i in 1..=2_000_000u64 {
            if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                break;
            }
            let r: redis::RedisResult<()> =
                redis::cmd("SET").arg(format!("w:{i}")).arg(i).query(&mut c);
            if r.is_err() {
                break;
            }
            acked.push(i);
        }
        acked
    })
}

/// A connection to a loopback port.
fn conn(port: u16) -> redis::Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let c = c
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

fn field(port: u16, name: &str) -> Option<String> {
    let text: String = redis::cmd("INFO")
        .arg("everything")
        .query(&mut conn(port))
        .unwrap();
    text.lines().find_map(|l| {
        l.strip_prefix(&format!("{name}:"))
            .map(|v| v.trim().to_string())
    })
}

fn dbsize(port: u16) -> u64 {
    redis::cmd("DBSIZE").query(&mut conn(port)).unwrap()
}

/// Right after a diskless sync a primary holds the command stream back until the replica's
/// first ACK: make a write (undone) and wait until every replica has it.
fn stream_flows(primary: u16, replicas: &[u16]) {
    let mut c = conn(primary);
    let _: () = redis::cmd("SET")
        .arg("__probe")
        .arg(1)
        .query(&mut c)
        .unwrap();
    let _: u64 = redis::cmd("DEL").arg("__probe").query(&mut c).unwrap();
    let target: u64 = field(primary, "master_repl_offset")
        .unwrap()
        .parse()
        .unwrap();
    for &r in replicas {
        let end = Instant::now() + Duration::from_secs(20);
        while field(r, "slave_repl_offset").and_then(|o| o.parse::<u64>().ok()) < Some(target) {
            assert!(
                Instant::now() < end,
                "replica {r} never received the stream"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Every acknowledged key is on the server at `port`.
fn all_present(port: u16, acked: &[u64]) {
    let mut c = conn(port);
    for chunk in acked.chunks(1000) {
        let mut p = redis::pipe();
        for i in chunk {
            p.cmd("EXISTS").arg(format!("w:{i}"));
        }
        let found: Vec<u8> = p.query(&mut c).unwrap();
        let missing: Vec<u64> = chunk
            .iter()
            .zip(found)
            .filter(|(_, f)| *f == 0)
            .map(|(i, _)| *i)
            .collect();
        assert!(
            missing.is_empty(),
            "acknowledged writes missing: {missing:?}"
        );
    }
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one incident end to end: kill, promote, repoint, rejoin, count.
async fn promote_after_the_primary_dies_keeps_every_acknowledged_write_then_rejoin() {
    let mut sb = Sandbox::start(&Spec {
        replicas: 2,
        group: "g".into(),
        ..Spec::default()
    })
    .await
    .unwrap();
    let port = |n: &str| sb.node(n).unwrap().port;
    let (p, r1, r2) = (port("n1"), port("n2"), port("n3"));
    stream_flows(p, &[r1, r2]);
    let mut c = Console_::from_config(sb.config());

    // A writer runs; the primary's dataset is saved once midway (what it restarts with).
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(p, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut pc = conn(p);
    let _: () = redis::cmd("CLIENT")
        .arg(&["PAUSE", "5000", "WRITE"][..])
        .query(&mut pc)
        .unwrap();
    let _: () = redis::cmd("SAVE").query(&mut pc).unwrap();
    let saved_keys = dbsize(p);
    let _: () = redis::cmd("CLIENT").arg("UNPAUSE").query(&mut pc).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The primary freezes its writers (as a switchover's pause would), the console sees its
    // final offset, then it dies: the writer's pending command is never acknowledged.
    let _: () = redis::cmd("CLIENT")
        .arg(&["PAUSE", "20000", "WRITE"][..])
        .query(&mut pc)
        .unwrap();
    drop(pc);
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.observe().await;
    sb.kill("n1").unwrap();
    stop.store(true, Ordering::Relaxed);
    let acked = w.join().unwrap();
    assert!(acked.len() > 100, "the writer made too little progress");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let topo = c.observe().await;

    let pp = plan_promote(
        &c.config,
        &topo,
        &PromoteRequest {
            node: None,
            budgets: budgets(),
            max_extra_link_down: Duration::from_secs(60),
            now: SystemTime::now(),
        },
    )
    .unwrap();
    let text = pp.plan.to_string();
    assert!(
        matches!(pp.loss, Some(Loss::NoneProven { .. })),
        "the offsets should prove it: {text}"
    );
    assert!(text.contains("no acknowledged write can be lost"), "{text}");
    let chosen = pp.chosen.clone().unwrap();
    let out = c.run(&pp.plan, &approve(&chosen)).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    let (new, other) = if chosen == "n2" { (r1, r2) } else { (r2, r1) };
    assert_eq!(field(new, "role").as_deref(), Some("master"));
    all_present(new, &acked);
    assert_eq!(field(other, "master_port"), Some(new.to_string()));
    assert_eq!(field(other, "master_link_status").as_deref(), Some("up"));
    let marks_file = promote::marks_path(&c.config.console.audit_log);
    pp.mark_old_primary(&out, &marks_file).unwrap();

    // New writes on the new primary, then the old primary restarts with its old dump: a
    // stale primary, flagged by the topology and by its rejoin mark.
    let _: () = redis::cmd("SET")
        .arg("after-promotion")
        .arg(1)
        .query(&mut conn(new))
        .unwrap();
    sb.restart("n1").await.unwrap();
    assert_eq!(dbsize(p), saved_keys);
    assert_eq!(field(p, "role").as_deref(), Some("master"));
    let topo = c.observe().await;
    let g = &topo.groups[0];
    assert!(
        g.anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::StalePrimary || a.kind == AnomalyKind::SplitBrain),
        "{:?}",
        g.anomalies
    );
    let marks = promote::load_marks(&marks_file).unwrap();
    let flags = promote::flags(&marks, g);
    assert!(
        flags.iter().any(|f| f.node == "n1" && f.stale_primary),
        "{flags:?}"
    );

    // Rejoin: the stale primary's data is downloaded first, then it follows the new primary.
    let rp = plan_rejoin(
        &c.config,
        &topo,
        "n1",
        &marks,
        budgets(),
        c.backups().to_path_buf(),
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(rp.plan.nodes[1].name, chosen);
    assert_eq!(rp.plan.downloads, vec![0], "{}", rp.plan);
    let out = c.run(&rp.plan, &approve("n1")).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}\n{}", rp.plan);
    let files = rdb_files(c.backups(), "n1");
    assert_eq!(files.len(), 1);
    assert!(rdb::verify(&files[0]).unwrap().crc.is_verified());
    let manifest = rdb::read_manifest(&rdb::manifest_path(&files[0])).unwrap();
    assert_eq!(manifest.info.as_ref().unwrap().total_keys, saved_keys);
    assert_eq!(field(p, "role").as_deref(), Some("slave"));
    assert_eq!(field(p, "master_port"), Some(new.to_string()));
    assert_eq!(dbsize(p), dbsize(new));
    all_present(p, &acked);
    assert!(promote::marks::clear(&marks_file, "g", "n1").unwrap());
}

#[tokio::test]
async fn promote_after_a_kill_under_load_states_the_loss_honestly() {
    let mut p = Server::start(&[]);
    let r1 = Server::start(&[]);
    r1.replicate(&p);
    let mut c = Console_::new(vec![p.node("p"), r1.node("r1")]);
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(p.port, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.observe().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    p.kill();
    stop.store(true, Ordering::Relaxed);
    let acked = w.join().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let topo = c.observe().await;
    let pp = plan_promote(
        &c.config,
        &topo,
        &PromoteRequest {
            node: None,
            budgets: budgets(),
            max_extra_link_down: Duration::from_secs(60),
            now: SystemTime::now(),
        },
    )
    .unwrap();
    // Whatever the statement, it must hold: a proof means every acknowledged write is there;
    // "at least N bytes" means the replica is behind the last poll; "unknown" names why.
    // (Typically the writer kept going after the last poll: the replica is ahead of the
    // primary's last known offset and no proof is claimed.)
    let loss = pp.loss.clone().unwrap();
    let out = c.run(&pp.plan, &approve("r1")).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    match &loss {
        Loss::NoneProven { .. } => all_present(r1.port, &acked),
        Loss::AtLeast { bytes } => assert!(*bytes > 0),
        Loss::Unknown { why } => assert!(why.contains("after p's last poll"), "{why}"),
    }
    eprintln!(
        "loss statement: {}",
        promote::describe_loss(&loss, "r1", "p")
    );
    // What is there is everything r1 received; count what was acknowledged but not replicated.
    let mut conn = r1.conn();
    let last: Option<u64> = redis::cmd("GET")
        .arg(format!("w:{}", acked.last().unwrap()))
        .query(&mut conn)
        .unwrap();
    eprintln!(
        "acknowledged {} writes; last acknowledged present on r1: {}",
        acked.len(),
        last.is_some()
    );
    let mut lost = 0u64;
    for chunk in acked.chunks(1000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            pipe.cmd("EXISTS").arg(format!("w:{i}"));
        }
        let found: Vec<i64> = pipe.query(&mut conn).unwrap();
        lost += found.iter().filter(|f| **f == 0).count() as u64;
    }
    eprintln!("acknowledged writes not on r1: {lost}");
}
