//! The wipe guard's happy paths against real servers (issue 7, items 6 and 7):
//! - the rejoin of an old primary its rejoin mark names runs without `--force`: what it
//!   discards is stated to the byte ("none" when the offsets prove it), and its snapshot is
//!   downloaded and CRC-checked before `REPLICAOF`;
//! - a mark whose node the console sees already following the primary (repaired by hand) is
//!   cleared instead of alarming forever, and `rejoin --clear-mark` clears one explicitly;
//! - a node repointed under a sibling that was read behind it (a writer running) is lag, not
//!   divergence: not refused, the plan waits for the sibling, and the node continues by
//!   partial resync.
//!
//! Servers come from the sandbox (kill, freeze, restart with their data); the raw helpers and
//! the writer from `tests/common/cluster.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::cluster as support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use redops::audit::AuditLog;
use redops::config::Config;
use redops::history::History;
use redops::node::{rdb, NodeClient};
use redops::observe::{FleetState, NodeId, Observation};
use redops::ops::promote::{self, plan_promote, PromoteRequest};
use redops::ops::redis_ops::action_client_name;
use redops::ops::repoint::{plan_rejoin, plan_repoint, RepointRequest};
use redops::ops::{self, Approval, Budgets, Plan, RealOps, RunOutcome, RunStatus};
use redops::sandbox::{Sandbox, Spec};
use redops::topology::{self, Topology};
use redops::tui::run as tui_run;
use redops::tui::theme;
use redops::tui::{App, Effect, Msg, Options};
use support::{info_field, missing_keys, raw_cmd, raw_info, WriterHandle};

const BIN: &str = env!("CARGO_BIN_EXE_redops");

/// The console: the config, and what it has seen so far (node by node, as the poller does).
struct Console {
    config: Config,
    fleet: FleetState,
    history: History,
}

impl Console {
    fn new(mut config: Config) -> Self {
        config.console.timeout = Duration::from_secs(2);
        let fleet = FleetState::new(&config);
        Self {
            config,
            fleet,
            history: History::new(100),
        }
    }

    /// One poll of node `ni` of the group (returned too, for the console's model).
    async fn observe_node(&mut self, ni: usize) -> Observation {
        let timeouts = redops::node::Timeouts::from(&self.config.console);
        let node = &self.config.groups[0].nodes[ni];
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
        self.fleet.apply(obs.clone());
        obs
    }

    /// One poll of every node, then the topology.
    async fn observe(&mut self) -> Topology {
        for ni in 0..self.config.groups[0].nodes.len() {
            self.observe_node(ni).await;
        }
        self.topology()
    }

    fn topology(&self) -> Topology {
        topology::build(&self.config, &self.fleet, &self.history, SystemTime::now())
    }

    fn backups(&self) -> PathBuf {
        self.config.console.backups_dir.clone()
    }

    fn marks_file(&self) -> PathBuf {
        promote::marks_path(&self.config.console.audit_log)
    }

    async fn run(&self, plan: &Plan) -> RunOutcome {
        let approval = Approval {
            confirmation: Some(match &plan.confirm {
                ops::Confirm::TypeName(n) => n.clone(),
                ops::Confirm::Yes => "yes".into(),
            }),
            ..Approval::default()
        };
        let ops = RealOps::new(
            &self.config,
            0,
            &action_client_name("test", "localhost", std::process::id()),
        )
        .unwrap();
        let mut log = AuditLog::memory();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        ops::run(plan, &approval, &ops, &mut log, &tx).await
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

async fn field(port: u16, name: &str) -> Option<String> {
    info_field(&raw_info(port).await.unwrap(), name)
}

async fn num(port: u16, name: &str) -> u64 {
    field(port, name)
        .await
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("port {port}: no numeric {name}"))
}

async fn dbsize(port: u16) -> u64 {
    raw_cmd(port, &["DBSIZE"]).await.unwrap().parse().unwrap()
}

/// `MSET prefix:0 0 .. prefix:n-1 n-1`: real, replicated writes.
async fn mset(port: u16, prefix: &str, n: usize) {
    let mut args = vec!["MSET".to_string()];
    for i in 0..n {
        args.extend([format!("{prefix}:{i}"), i.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    raw_cmd(port, &args).await.unwrap();
}

/// Polls (10 s at most) until `cond` holds for INFO on `port`.
async fn wait_for(port: u16, what: &str, cond: impl Fn(&str) -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        if raw_info(port).await.is_ok_and(|i| cond(&i)) {
            return;
        }
        assert!(Instant::now() < end, "port {port}: never {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Until every replica has applied the primary's whole stream.
async fn wait_synced(primary: u16, replicas: &[u16]) {
    let target = num(primary, "master_repl_offset").await;
    for &r in replicas {
        wait_for(r, "caught up", |i| {
            info_field(i, "slave_repl_offset")
                .and_then(|o| o.parse::<u64>().ok())
                .is_some_and(|o| o >= target)
        })
        .await;
    }
}

/// The `.rdb` files (not manifests) under `<backups>/g/<node>`.
fn rdb_files(backups: &Path, node: &str) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(rdb::backup_dir(backups, "g", node)) else {
        return Vec::new();
    };
    rd.map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rdb"))
        .collect()
}

async fn redops(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn sandbox(replicas: usize) -> Sandbox {
    Sandbox::start(&Spec {
        replicas,
        group: "g".into(),
        ..Spec::default()
    })
    .await
    .unwrap()
}

/// n1 takes 50 writes its replicas never receive (they are frozen, then n1 drops their links),
/// saves them and dies. n2 or n3 is promoted, n1 restarts with its dump: it holds exactly the
/// bytes past the promotion point. Its rejoin mark makes the rejoin the happy path: no
/// `--force`, those bytes stated, its snapshot downloaded (CRC verified, with the late keys)
/// before `REPLICAOF` discards them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marked_old_primary_rejoins_without_force_stating_what_it_discards() {
    let mut sb = sandbox(2).await;
    let port = |sb: &Sandbox, n: &str| sb.node(n).unwrap().port;
    let (p1, p2, p3) = (port(&sb, "n1"), port(&sb, "n2"), port(&sb, "n3"));
    mset(p1, "k", 300).await;
    wait_synced(p1, &[p2, p3]).await;
    let mut c = Console::new(sb.config());
    c.observe().await;

    sb.freeze("n2").unwrap();
    sb.freeze("n3").unwrap();
    raw_cmd(p1, &["CLIENT", "KILL", "TYPE", "replica"])
        .await
        .unwrap();
    mset(p1, "late", 50).await;
    raw_cmd(p1, &["SAVE"]).await.unwrap();
    let saved_at = num(p1, "master_repl_offset").await;
    let n1_keys = dbsize(p1).await;
    assert_eq!(n1_keys, 350);
    c.observe_node(0).await;
    sb.kill("n1").unwrap();
    sb.thaw("n2").unwrap();
    sb.thaw("n3").unwrap();
    for p in [p2, p3] {
        wait_for(p, "link down", |i| {
            info_field(i, "master_link_status").as_deref() == Some("down")
        })
        .await;
    }

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
    let out = c.run(&pp.plan).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}\n{}", pp.plan);
    let mark = pp.mark_old_primary(&out, &c.marks_file()).unwrap().unwrap();
    let chosen = pp.chosen.clone().unwrap();
    let new = port(&sb, &chosen);
    let fork = num(new, "second_repl_offset").await - 1;
    assert_eq!(mark.fork_offset, Some(fork), "{mark:?}");
    assert!(saved_at > fork, "n1 saved at {saved_at}, fork at {fork}");
    let late = saved_at - fork;

    sb.restart("n1").await.unwrap();
    assert_eq!(field(p1, "role").await.as_deref(), Some("master"));
    assert_eq!(dbsize(p1).await, n1_keys);
    let topo = c.observe().await;
    let marks = promote::load_marks(&c.marks_file()).unwrap();
    let rejoin = |marks: &[promote::RejoinMark]| {
        plan_rejoin(
            &c.config,
            &topo,
            "n1",
            marks,
            budgets(),
            c.backups(),
            Duration::from_secs(30),
        )
        .unwrap()
    };
    // Without the mark nothing proves where n1's extra bytes come from: still refused.
    let plain = rejoin(&[]);
    assert!(
        !plain.plan.checks_pass() && !plain.plan.has_hard_failure(),
        "{}",
        plain.plan
    );

    let rp = rejoin(&marks);
    let text = rp.plan.to_string();
    assert_eq!(rp.plan.nodes[1].name, chosen, "{text}");
    assert!(rp.plan.checks_pass(), "no override may be needed:\n{text}");
    assert!(
        text.contains(&format!("the rejoin discards {late} bytes")),
        "{text}"
    );
    assert_eq!(rp.plan.downloads, vec![0], "{text}");

    let out = c.run(&rp.plan).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}\n{text}");
    assert!(
        out.detail.contains(&format!("it discarded {late} bytes")),
        "{}",
        out.detail
    );
    // The snapshot was taken before the REPLICAOF: it holds the 50 late keys n1 no longer has.
    let files = rdb_files(&c.backups(), "n1");
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(rdb::verify(&files[0]).unwrap().crc.is_verified());
    let manifest = rdb::read_manifest(&rdb::manifest_path(&files[0])).unwrap();
    assert_eq!(manifest.info.as_ref().unwrap().total_keys, n1_keys);
    assert_eq!(field(p1, "role").await.as_deref(), Some("slave"));
    assert_eq!(field(p1, "master_port").await, Some(new.to_string()));
    assert_eq!(field(p1, "master_link_status").await.as_deref(), Some("up"));
    assert_eq!(raw_cmd(p1, &["EXISTS", "late:0"]).await.unwrap(), "0");
    assert_eq!(dbsize(p1).await, 300);
}

/// The plain case from the CLI: n1 saved what its replicas had, died, was promoted around and
/// restarted. The rejoin needs no `--force`, says it discards nothing (proven), and downloads
/// n1's snapshot first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rejoin_of_a_restarted_old_primary_discards_none_from_the_cli() {
    let mut sb = sandbox(2).await;
    let cfg = sb.write_config().unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let port = |sb: &Sandbox, n: &str| sb.node(n).unwrap().port;
    let (p1, p2, p3) = (port(&sb, "n1"), port(&sb, "n2"), port(&sb, "n3"));
    mset(p1, "k", 300).await;
    wait_synced(p1, &[p2, p3]).await;
    raw_cmd(p1, &["SAVE"]).await.unwrap();
    sb.kill("n1").unwrap();
    for p in [p2, p3] {
        wait_for(p, "link down", |i| {
            info_field(i, "master_link_status").as_deref() == Some("down")
        })
        .await;
    }
    let (code, out, err) = redops(&["-c", &cfg, "promote", "--yes"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("marked for rejoin"), "{out}");
    sb.restart("n1").await.unwrap();
    assert_eq!(field(p1, "role").await.as_deref(), Some("master"));

    let (code, out, err) = redops(&["-c", &cfg, "rejoin", "n1", "--dry-run"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("the rejoin discards none"), "{out}");
    let (code, out, err) = redops(&["-c", &cfg, "rejoin", "n1", "--yes"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let download = out.find("download: n1 ->").expect(&out);
    // The plan printed above lists the command too: the step's event is the last mention.
    let replicaof = out.rfind("REPLICAOF").expect(&out);
    assert!(download < replicaof, "the download comes first:\n{out}");
    assert!(out.contains("CRC64 verified"), "{out}");
    assert!(out.contains("it discarded nothing (proven)"), "{out}");
    let files = rdb_files(&sb.dir().join("backups"), "n1");
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(rdb::verify(&files[0]).unwrap().crc.is_verified());
    assert_eq!(field(p1, "master_link_status").await.as_deref(), Some("up"));
}

/// The old primary is repaired by hand (REPLICAOF to the new primary). Its mark no longer
/// alarms: it is not flagged, the console clears it from what it sees, `rejoin` clears it
/// instead of refusing "nothing to do" forever, `rejoin --clear-mark` clears one explicitly
/// without touching a server; each clearing leaves one audit record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mark_settled_by_a_repair_by_hand_is_cleared() {
    let mut sb = sandbox(1).await;
    let cfg = sb.write_config().unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let (p1, p2) = (sb.node("n1").unwrap().port, sb.node("n2").unwrap().port);
    mset(p1, "k", 100).await;
    wait_synced(p1, &[p2]).await;
    raw_cmd(p1, &["SAVE"]).await.unwrap();
    sb.kill("n1").unwrap();
    wait_for(p2, "link down", |i| {
        info_field(i, "master_link_status").as_deref() == Some("down")
    })
    .await;
    let (code, out, err) = redops(&["-c", &cfg, "promote", "--yes"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let marks_file = sb.dir().join("rejoin-pending.json");
    let marks = promote::load_marks(&marks_file).unwrap();
    assert_eq!(marks.len(), 1, "{marks:?}");

    sb.restart("n1").await.unwrap();
    raw_cmd(p1, &["REPLICAOF", "127.0.0.1", &p2.to_string()])
        .await
        .unwrap();
    wait_for(p1, "in sync with n2", |i| {
        info_field(i, "master_link_status").as_deref() == Some("up")
            && info_field(i, "master_sync_in_progress").as_deref() == Some("0")
    })
    .await;

    let mut c = Console::new(sb.config());
    let topo = c.observe().await;
    let flags = promote::flags(&marks, &topo.groups[0]);
    assert!(
        flags.is_empty(),
        "a repaired node is not flagged: {flags:?}"
    );

    // The console, fed the same polls: the first complete cycle starts it up (the marks are
    // read), the next one sees the mark settled and clears it, through the runtime's effect.
    let mut app = App::new(
        sb.config(),
        theme::resolve_builtin("dark").unwrap(),
        Options::default(),
        SystemTime::now(),
    );
    let mut cycle = Vec::new();
    for ni in 0..2 {
        cycle.push(c.observe_node(ni).await);
    }
    app.update(Msg::Observed(cycle.clone()));
    app.update(Msg::Marks(Ok(marks.clone())));
    let effects = app.update(Msg::Observed(cycle));
    let cleared: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::ClearMarks { audit_log, marks } => Some((audit_log.clone(), marks.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(cleared.len(), 1, "{effects:?}");
    assert!(app.marks.is_empty());
    assert!(
        !app.notices()
            .iter()
            .any(|(_, n)| n.contains("J rejoins n1")),
        "{:?}",
        app.notices()
    );
    tui_run::clear_marks(&cleared[0].0, &cleared[0].1).unwrap();
    assert!(promote::load_marks(&marks_file).unwrap().is_empty());
    let audit = std::fs::read_to_string(sb.dir().join("audit.jsonl")).unwrap();
    assert_eq!(audit.matches("clear-rejoin-mark").count(), 1, "{audit}");

    // `rejoin` of the repaired node with its mark back (another console wrote it): cleared
    // by what is seen, not refused with "nothing to do".
    promote::marks::add(&marks_file, marks[0].clone()).unwrap();

    let (code, out, err) = redops(&["-c", &cfg, "rejoin", "n1", "--yes"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("n1's rejoin mark was cleared"), "{out}");
    assert!(out.contains("n1 follows the primary n2"), "{out}");
    assert!(promote::load_marks(&marks_file).unwrap().is_empty());
    let audit = std::fs::read_to_string(sb.dir().join("audit.jsonl")).unwrap();
    assert_eq!(audit.matches("clear-rejoin-mark").count(), 2, "{audit}");

    // Explicitly: the mark is back (say, written by another console), the operator drops it.
    promote::marks::add(&marks_file, marks[0].clone()).unwrap();
    let (code, out, err) = redops(&["-c", &cfg, "rejoin", "n1", "--clear-mark"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("cleared by the operator"), "{out}");
    assert!(promote::load_marks(&marks_file).unwrap().is_empty());
    let audit = std::fs::read_to_string(sb.dir().join("audit.jsonl")).unwrap();
    assert_eq!(audit.matches("clear-rejoin-mark").count(), 3, "{audit}");
    let (code, out, _) = redops(&["-c", &cfg, "rejoin", "n1", "--clear-mark"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("no rejoin mark"), "{out}");
    // Nothing was sent: n1 still follows n2.
    assert_eq!(field(p1, "master_port").await, Some(p2.to_string()));
}

/// A writer on n1; n3 is repointed to its sibling n2. The console read n2 first and n3 later,
/// with writes in between (as the poller does): n3 looks ahead of n2 by in-flight bytes. That
/// is lag: the plan is not refused, waits for n2, and n3 continues from n2 by partial resync
/// (n2 serves no full sync). No acknowledged write is missing on n3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sibling_read_behind_under_a_writer_is_lag_not_divergence() {
    let sb = sandbox(2).await;
    let port = |n: &str| sb.node(n).unwrap().port;
    let (p1, p2, p3) = (port("n1"), port("n2"), port("n3"));
    mset(p1, "k", 100).await;
    wait_synced(p1, &[p2, p3]).await;
    let mut c = Console::new(sb.config());
    let writer = WriterHandle::start(vec![p1]);
    writer.wait_more(200).await;

    c.observe_node(0).await;
    c.observe_node(1).await;
    let n2_seen = num(p2, "slave_repl_offset").await;
    // More writes reach n3 before it is read.
    writer.wait_more(200).await;
    wait_for(p3, "past n2's reading", |i| {
        info_field(i, "slave_repl_offset")
            .and_then(|o| o.parse::<u64>().ok())
            .is_some_and(|o| o > n2_seen)
    })
    .await;
    c.observe_node(2).await;
    let topo = c.topology();
    let v = |n: &str| {
        let info = topo.groups[0].by_name(n).unwrap().info.clone().unwrap();
        info.replication.offset.unwrap()
    };
    let behind = v("n3") - v("n2");
    assert!(behind > 0, "n3 must be read ahead of n2");

    let rp = plan_repoint(
        &c.config,
        &topo,
        &RepointRequest {
            node: "n3".into(),
            to: "n2".into(),
            budgets: budgets(),
            backups_dir: c.backups(),
            sync_deadline: Duration::from_secs(30),
        },
    )
    .unwrap();
    let text = rp.plan.to_string();
    assert!(rp.plan.checks_pass(), "lag needs no override:\n{text}");
    assert!(
        text.contains(&format!(
            "n2 is {behind} bytes behind n3; it will have them"
        )),
        "{text}"
    );
    assert!(
        text.contains("wait until n2 has everything n3 has"),
        "{text}"
    );
    assert!(rp.plan.downloads.is_empty(), "{text}");

    let full_before = num(p2, "sync_full").await;
    let partial_before = num(p2, "sync_partial_ok").await;
    let out = c.run(&rp.plan).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}\n{text}");
    assert_eq!(field(p3, "master_port").await, Some(p2.to_string()));
    assert_eq!(field(p3, "master_link_status").await.as_deref(), Some("up"));
    assert_eq!(num(p2, "sync_full").await, full_before, "n3 full-synced");
    assert_eq!(num(p2, "sync_partial_ok").await, partial_before + 1);

    let acked = writer.stop().await;
    wait_synced(p1, &[p2]).await;
    wait_synced(p2, &[p3]).await;
    assert_eq!(missing_keys(p3, &acked).await, Vec::<u64>::new());
}
