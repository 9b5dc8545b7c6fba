//! Silent data loss must never look healthy (issue 7, items 8 and 9; DESIGN invariant 11), on
//! real `redis-server` processes from the sandbox:
//! - 8a: a primary without persistence, `SIGKILLed` and restarted at once, comes back empty and its
//!   replicas copy it: `redops watch` (the built binary) prints a critical
//!   `data_lost_on_restart` naming the snapshot to restore; a later `status` still reports it.
//! - 8b: the same primary reloading an older dump: the console (`App`, fed by the pollers as the
//!   runtime does) raises it, keeps it until `a` acknowledges it.
//! - 8c: a primary restarted from an AOF that ignored the RDB beside it: two `status` runs, the
//!   restart in between, unwitnessed by any running redops.
//! - 9: the snapshot gate on a node without persistence leaves nothing it would reload: a
//!   restart does not bring the snapshot's data back (saved aside when `dbfilename` may be
//!   changed; not saved at all when it is a protected config); `CONFIG SET save ""` on a live
//!   primary raises `no_persistence` in a running pipeline.
//!
//! Each waits on observable state with a deadline; none sleeps for a state it could poll.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use redops::config::{Addr, Config, Node};
use redops::history::loss_file;
use redops::node::{NodeClient, Timeouts};
use redops::observe::NodeId;
use redops::ops::{self, Approval, RealOps, RunStatus};
use redops::sandbox::{Sandbox, Spec};
use redops::topology::{self, AnomalyKind, Severity};
use redops::tui::{theme, App, Effect, Msg, Options};
use serde_json::Value;

const NO_PERSISTENCE: [&str; 4] = ["--save", "", "--appendonly", "no"];

fn client(addr: &Addr) -> NodeClient {
    let node = Node {
        name: "t".into(),
        addr: addr.clone(),
        username: None,
        password: None,
        tls: None,
    };
    let t = Timeouts {
        connect: Duration::from_millis(500),
        read: Duration::from_secs(5),
    };
    NodeClient::new(&node, t, "redops-test").expect("client")
}

fn addr(sb: &Sandbox, name: &str) -> Addr {
    sb.node(name).expect("node").addr()
}

async fn query<T: redis::FromRedisValue>(addr: &Addr, cmd: &redis::Cmd) -> T {
    client(addr).query(cmd).await.expect("command")
}

async fn dbsize(addr: &Addr) -> u64 {
    query(addr, &redis::cmd("DBSIZE")).await
}

async fn config_get(addr: &Addr, name: &str) -> String {
    let v: Vec<String> = query(addr, redis::cmd("CONFIG").arg("GET").arg(name)).await;
    v.get(1).cloned().unwrap_or_default()
}

/// `SET <prefix>:<i> <i>` for `i` in `range`, pipelined.
async fn write_keys(addr: &Addr, prefix: &str, range: std::ops::Range<u64>) {
    let mut c = client(addr);
    let ids: Vec<u64> = range.collect();
    for chunk in ids.chunks(1000) {
        // One round trip per chunk; each SET counts as a write (`rdb_changes_since_last_save`).
        let mut cmd = redis::cmd("EVAL");
        cmd.arg("for i=1,#KEYS do redis.call('SET', KEYS[i], ARGV[i]) end")
            .arg(chunk.len());
        for i in chunk {
            cmd.arg(format!("{prefix}:{i}"));
        }
        for i in chunk {
            cmd.arg(i);
        }
        let _: () = c.query(&cmd).await.expect("write keys");
    }
}

/// Polls `probe` until it returns `Some`, or panics after `limit` with `what`.
async fn wait_for<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < end, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_keys(addr: &Addr, n: u64) {
    wait_for(
        Duration::from_secs(20),
        &format!("{n} keys on {addr}"),
        || async { (dbsize(addr).await == n).then_some(()) },
    )
    .await;
}

/// BGSAVE and wait until it is on disk (`rdb_bgsave_in_progress:0`, a new `rdb_saves`).
async fn bgsave(addr: &Addr) {
    let info = |a: Addr| async move {
        let text: String = query(&a, &redis::cmd("INFO")).await;
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.trim_end().strip_prefix(k)?.strip_prefix(':'))
                .unwrap_or_default()
                .to_string()
        };
        (field("rdb_saves"), field("rdb_bgsave_in_progress"))
    };
    let (before, _) = info(addr.clone()).await;
    let _: String = query(addr, &redis::cmd("BGSAVE")).await;
    wait_for(Duration::from_secs(20), "BGSAVE done", || async {
        let (saves, running) = info(addr.clone()).await;
        (saves != before && running == "0").then_some(())
    })
    .await;
}

fn sandbox_spec(extra: &[&str]) -> Spec {
    Spec {
        replicas: 2,
        extra_args: extra.iter().map(ToString::to_string).collect(),
        ..Spec::default()
    }
}

/// A downloaded backup of n1 in the config's backups directory.
async fn backup_n1(config: &Config) -> redops::node::rdb::Backup {
    redops::node::rdb::backup(
        &config.groups[0].nodes[0],
        &config.groups[0].name,
        Timeouts::from(&config.console),
        &config.console.backups_dir,
        Duration::from_secs(60),
    )
    .await
    .expect("backup")
}

fn redops() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("redops"));
    cmd.env("NO_COLOR", "1").env_remove("REDOPS_CONFIG");
    cmd
}

/// `redops watch --json` on a config file, its lines on a channel.
fn spawn_watch(config: &Path, extra: &[&str]) -> (Child, mpsc::Receiver<Value>) {
    let mut child = redops()
        .args(["watch", "--json"])
        .args(extra)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("watch starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let v: Value = serde_json::from_str(&line).expect("one JSON object per line");
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// The first line `pick` accepts within `limit`.
fn next_line(rx: &mpsc::Receiver<Value>, limit: Duration, pick: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + limit;
    let mut seen = Vec::new();
    while Instant::now() < end {
        if let Ok(v) = rx.recv_timeout(Duration::from_millis(100)) {
            if pick(&v) {
                return v;
            }
            seen.push(v);
        }
    }
    panic!("no such line within {limit:?}; seen: {seen:#?}");
}

fn raised(kind: &str) -> impl Fn(&Value) -> bool + '_ {
    move |v| {
        v["kind"] == "anomaly_raised"
            && v["message"]
                .as_str()
                .is_some_and(|m| kind.is_empty() || m.contains(kind))
    }
}

fn status_json(config: &Path) -> (i32, Value) {
    let out = redops()
        .args(["status", "--json", "--config"])
        .arg(config)
        .output()
        .expect("status runs");
    let v: Value = serde_json::from_slice(&out.stdout).expect("status --json");
    (out.status.code().unwrap_or(-1), v)
}

fn anomalies_of(status: &Value, kind: &str) -> Vec<Value> {
    status["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["anomalies"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["kind"] == kind)
        .collect()
}

/// 8a: persistence off, `kill -9` and restart at once: every key is gone everywhere. `watch`
/// must say so, critically, naming the backup to restore; `status` afterwards too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_without_persistence_restarted_empty_is_a_critical_loss() {
    let mut sb = Sandbox::start(&sandbox_spec(&NO_PERSISTENCE))
        .await
        .expect("sandbox");
    let (n1, n2, n3) = (addr(&sb, "n1"), addr(&sb, "n2"), addr(&sb, "n3"));
    assert_eq!(config_get(&n1, "save").await, "", "persistence is off");
    write_keys(&n1, "k", 0..20_150).await;
    wait_keys(&n2, 20_150).await;
    wait_keys(&n3, 20_150).await;
    let config_path = sb.write_config().expect("config file");
    let config = sb.config();
    // A downloaded backup: the one the alarm must name.
    let backup = backup_n1(&config).await;

    let (mut watch, rx) = spawn_watch(&config_path, &[]);
    // Settled: every node polled once, the first anomalies printed (no persistence).
    next_line(&rx, Duration::from_secs(15), raised("no persistence"));

    let killed = Instant::now();
    sb.kill("n1").expect("kill");
    sb.restart("n1").await.expect("restart");
    let line = next_line(&rx, Duration::from_secs(20), |v| {
        v["kind"] == "anomaly_raised"
            && v["message"]
                .as_str()
                .is_some_and(|m| m.contains("restarted with"))
    });
    let detected = killed.elapsed();
    println!("8a: data loss detected {detected:?} after the kill (watch, poll 1s)");
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(line["severity"], "critical", "{line}");
    assert_eq!(line["node"], "n1", "{line}");
    let msg = line["message"].as_str().unwrap();
    assert!(
        msg.starts_with("n1 restarted with 0 keys (it had 20,150)"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("{}", backup.rdb.display())),
        "names the snapshot to restore: {msg}"
    );
    assert_eq!(dbsize(&n1).await, 0);

    // The replicas copied the empty dataset; a later one-shot status still says so, and fails.
    sb.wait_synced("n2", Duration::from_secs(20)).await.unwrap();
    sb.wait_synced("n3", Duration::from_secs(20)).await.unwrap();
    assert_eq!((dbsize(&n2).await, dbsize(&n3).await), (0, 0));
    let (code, status) = status_json(&config_path);
    assert_eq!(code, 1, "{status:#}");
    let lost = anomalies_of(&status, "data_lost_on_restart");
    assert_eq!(lost.len(), 1, "{status:#}");
    let msg = lost[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("n2 and n3 copied it: the data is gone from the group"),
        "{msg}"
    );
    assert_eq!(lost[0]["severity"], "critical");
}

/// Runs what the console's runtime runs: observations in, effects carried out, answers back.
struct Console {
    app: App,
    rx: tokio::sync::mpsc::Receiver<redops::observe::Observation>,
    pollers: redops::poller::Pollers,
}

impl Console {
    fn start(config: &Config) -> Self {
        let opts = Options {
            read_only: false,
            label: None,
            loss_file: Some(loss_file::path_for(&config.console.audit_log)),
            sandbox_dir: None,
        };
        let theme = theme::load("dark", true).expect("theme");
        let (pollers, rx) = redops::poller::spawn(config);
        let mut app = App::new(config.clone(), theme, opts, SystemTime::now());
        app.update(Msg::Resize(120, 40));
        Self { app, rx, pollers }
    }

    fn carry_out(&mut self, effects: Vec<Effect>) {
        for fx in effects {
            let answer = match fx {
                Effect::FindSnapshot {
                    backups_dir,
                    group,
                    nodes,
                    before_ms,
                    key,
                } => Msg::SnapshotFound {
                    key,
                    snapshot: loss_file::find_snapshot(&backups_dir, &group, &nodes, before_ms),
                },
                Effect::SaveLossMemory { path, state } => {
                    Msg::LossMemorySaved(loss_file::save(&path, &state))
                }
                _ => continue,
            };
            let more = self.app.update(answer);
            self.carry_out(more);
        }
    }

    /// Feeds observations until `done` holds.
    async fn until(&mut self, limit: Duration, what: &str, done: impl Fn(&App) -> bool) {
        let end = tokio::time::Instant::now() + limit;
        while !done(&self.app) {
            let obs = tokio::time::timeout_at(end, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("not within {limit:?}: {what}"))
                .expect("pollers run");
            let fx = self.app.update(Msg::Observed(vec![obs]));
            self.carry_out(fx);
        }
    }

    fn key(&mut self, c: char) {
        let fx = self.app.update(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
        self.carry_out(fx);
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.pollers.stop();
    }
}

fn loss_alarm(app: &App) -> Option<topology::Anomaly> {
    app.topology.groups[0]
        .anomalies
        .iter()
        .find(|a| a.kind == AnomalyKind::DataLostOnRestart)
        .cloned()
}

/// 8b: persistence off, but a dump.rdb from an earlier BGSAVE: the restart reloads it and the
/// 500 keys written since vanish on every node. The console raises it, keeps it (in the event
/// log too) until `a`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_reloading_an_older_dump_is_a_loss_until_acknowledged() {
    let mut sb = Sandbox::start(&sandbox_spec(&NO_PERSISTENCE))
        .await
        .expect("sandbox");
    let (n1, n2, n3) = (addr(&sb, "n1"), addr(&sb, "n2"), addr(&sb, "n3"));
    write_keys(&n1, "old", 0..1000).await;
    bgsave(&n1).await;
    write_keys(&n1, "new", 0..500).await;
    wait_keys(&n2, 1500).await;
    wait_keys(&n3, 1500).await;
    let config = sb.config();
    let mut console = Console::start(&config);
    console
        .until(
            Duration::from_secs(15),
            "every node seen with 1,500 keys",
            |app| {
                app.warm()
                    && app.topology.groups[0].nodes.iter().all(|n| {
                        n.info.as_ref().is_some_and(|i| i.total_keys() == 1500) && !n.stale_info
                    })
            },
        )
        .await;
    assert!(loss_alarm(&console.app).is_none());

    let killed = Instant::now();
    sb.kill("n1").expect("kill");
    sb.restart("n1").await.expect("restart");
    console
        .until(Duration::from_secs(20), "data_lost_on_restart", |app| {
            loss_alarm(app).is_some()
        })
        .await;
    println!(
        "8b: data loss detected {:?} after the kill (console pipeline, poll 1s)",
        killed.elapsed()
    );
    let a = loss_alarm(&console.app).unwrap();
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(a.nodes, ["n1"]);
    assert!(
        a.message
            .starts_with("n1 restarted with 1,000 keys (it had 1,500), without at least 500 writes made since its last save"),
        "{}",
        a.message
    );
    assert_eq!(dbsize(&n1).await, 1000, "the old dump was reloaded");
    assert!(
        console
            .app
            .log
            .iter()
            .any(|e| e.kind == "anomaly_raised" && e.message.starts_with("n1 restarted with")),
        "in the event log"
    );

    // The replicas copy it; the alarm stays through later cycles until acknowledged.
    sb.wait_synced("n2", Duration::from_secs(20)).await.unwrap();
    sb.wait_synced("n3", Duration::from_secs(20)).await.unwrap();
    assert_eq!((dbsize(&n2).await, dbsize(&n3).await), (1000, 1000));
    console
        .until(
            Duration::from_secs(10),
            "the replicas shown as copies",
            |app| loss_alarm(app).is_some_and(|a| a.message.contains("n2 and n3 copied it")),
        )
        .await;
    console.key('a');
    assert!(loss_alarm(&console.app).is_none(), "acknowledged");
    let seen = console.app.topology.at;
    console
        .until(Duration::from_secs(10), "a later cycle", |app| {
            app.topology.at > seen && app.topology.groups[0].nodes.iter().all(|n| !n.stale_info)
        })
        .await;
    assert!(loss_alarm(&console.app).is_none(), "stays acknowledged");
}

/// 8c: AOF on at start; turned off at runtime, more keys written and saved to the RDB; after a
/// SIGKILL the server starts with AOF on again and loads the old AOF, ignoring the RDB beside it.
/// Nothing watched the restart: the second `status` judges it against what the first saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_restarted_from_an_aof_that_ignored_its_rdb_is_seen_by_status() {
    let mut sb = Sandbox::start(&sandbox_spec(&["--appendonly", "yes"]))
        .await
        .expect("sandbox");
    let (n1, n2) = (addr(&sb, "n1"), addr(&sb, "n2"));
    write_keys(&n1, "aof", 0..1000).await;
    let _: () = query(
        &n1,
        redis::cmd("CONFIG").arg("SET").arg("appendonly").arg("no"),
    )
    .await;
    write_keys(&n1, "rdb", 0..500).await;
    let _: () = query(&n1, &redis::cmd("SAVE")).await;
    wait_keys(&n2, 1500).await;
    let config_path = sb.write_config().expect("config file");
    let (_, first) = status_json(&config_path);
    assert!(
        anomalies_of(&first, "data_lost_on_restart").is_empty(),
        "{first:#}"
    );

    sb.kill("n1").expect("kill");
    sb.restart("n1").await.expect("restart");
    assert_eq!(dbsize(&n1).await, 1000, "the AOF was loaded, not the RDB");
    sb.wait_synced("n2", Duration::from_secs(20)).await.unwrap();
    sb.wait_synced("n3", Duration::from_secs(20)).await.unwrap();
    let (code, second) = status_json(&config_path);
    assert_eq!(code, 1, "{second:#}");
    let lost = anomalies_of(&second, "data_lost_on_restart");
    assert_eq!(lost.len(), 1, "{second:#}");
    let msg = lost[0]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("n1 restarted with 1,000 keys (it had 1,500)"),
        "{msg}"
    );
    assert!(msg.contains("n2 and n3 copied it"), "{msg}");
}

/// The snapshot action on `n1` through the engine, as the CLI and the console run it.
async fn snapshot_n1(config: &Config, download: bool) -> ops::RunOutcome {
    let topo = redops::cli::status::snapshot(config).await;
    let id = NodeId { group: 0, node: 0 };
    let node = ops::node_ref(config, &topo, id).expect("n1");
    let dir = download.then(|| config.console.backups_dir.clone());
    let plan = ops::snapshot::plan_snapshot(config, &topo, &node, dir, ops::Budgets::default());
    let real = RealOps::new(config, 0, "redops-action:test@host:1").expect("ops");
    let mut log = redops::audit::AuditLog::memory();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let approval = Approval {
        confirmation: Some("n1".into()),
        ..Approval::default()
    };
    ops::run(&plan, &approval, &real, &mut log, &tx).await
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("node dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rdb"))
        .collect();
    v.sort();
    v
}

/// 9: the gate's BGSAVE on a node without persistence, where `dbfilename` may be changed from
/// this host: saved aside, `dbfilename` put back, and a restart brings none of it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_gate_plants_nothing_a_restart_would_reload() {
    let mut extra = NO_PERSISTENCE.to_vec();
    extra.extend(["--enable-protected-configs", "local"]);
    let mut sb = Sandbox::start(&Spec {
        replicas: 0,
        ..sandbox_spec(&extra)
    })
    .await
    .expect("sandbox");
    let n1 = addr(&sb, "n1");
    let dir = sb.node("n1").unwrap().dir.clone();
    write_keys(&n1, "k", 0..100).await;
    let out = snapshot_n1(&sb.config(), false).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    assert_eq!(config_get(&n1, "dbfilename").await, "dump.rdb");
    let files = files_in(&dir);
    assert!(!files.contains(&"dump.rdb".to_string()), "{files:?}");
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("redops-snapshot-") && f.ends_with(".dump.rdb")),
        "the snapshot is kept aside: {files:?}"
    );
    sb.kill("n1").expect("kill");
    sb.restart("n1").await.expect("restart");
    assert_eq!(
        dbsize(&n1).await,
        0,
        "the snapshot's data did not come back"
    );
}

/// 9, Redis 7.0+ defaults: `dbfilename` is protected, so there is no safe BGSAVE. Without a
/// download the gate refuses and saves nothing; with one, the download is the snapshot. Either
/// way a restart brings nothing back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_protected_dbfilename_the_download_is_the_snapshot() {
    let mut sb = Sandbox::start(&Spec {
        replicas: 0,
        ..sandbox_spec(&NO_PERSISTENCE)
    })
    .await
    .expect("sandbox");
    let n1 = addr(&sb, "n1");
    let dir = sb.node("n1").unwrap().dir.clone();
    write_keys(&n1, "k", 0..100).await;
    let config = sb.config();
    let out = snapshot_n1(&config, false).await;
    assert_eq!(out.status, RunStatus::Refused, "{out:#?}");
    assert!(
        out.detail.contains("reloads at its next restart"),
        "{}",
        out.detail
    );
    let out = snapshot_n1(&config, true).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    let backups = config.console.backups_dir.join("sandbox").join("n1");
    assert!(
        files_in(&backups).len() == 1,
        "one verified download: {:?}",
        files_in(&backups)
    );
    assert_eq!(
        files_in(&dir),
        Vec::<String>::new(),
        "nothing saved on the node"
    );
    sb.kill("n1").expect("kill");
    sb.restart("n1").await.expect("restart");
    assert_eq!(dbsize(&n1).await, 0);
}

/// 9: `save` is read again while connected: `CONFIG SET save ""` on a live primary raises
/// `no_persistence` in a running pipeline within a bounded time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_persistence_off_live_raises_no_persistence() {
    let sb = Sandbox::start(&Spec {
        replicas: 1,
        ..Spec::default()
    })
    .await
    .expect("sandbox");
    let n1 = addr(&sb, "n1");
    let config = sb.config();
    let mut console = Console::start(&config);
    let has = |app: &App| {
        app.topology.groups[0]
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::NoPersistence)
    };
    console
        .until(Duration::from_secs(15), "every node seen", |app| {
            app.warm()
                && app.topology.groups[0]
                    .nodes
                    .iter()
                    .all(|n| n.info.is_some() && !n.stale_info)
        })
        .await;
    assert!(!has(&console.app), "save points are set at start");
    let _: () = query(&n1, redis::cmd("CONFIG").arg("SET").arg("save").arg("")).await;
    let t = Instant::now();
    console
        .until(
            Duration::from_secs(15),
            "no_persistence after CONFIG SET save \"\"",
            has,
        )
        .await;
    println!(
        "no_persistence raised {:?} after CONFIG SET save \"\"",
        t.elapsed()
    );
}

/// A `FLUSHALL` on the primary, same process, copied by its replicas: `watch` raises a critical
/// `data_wiped` naming the backup taken before, instead of calling the empty group healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flushall_copied_by_the_replicas_is_a_critical_wipe() {
    let sb = Sandbox::start(&sandbox_spec(&[])).await.expect("sandbox");
    let (n1, n2) = (addr(&sb, "n1"), addr(&sb, "n2"));
    write_keys(&n1, "k", 0..1_100).await;
    wait_keys(&n2, 1_100).await;
    let config_path = sb.write_config().expect("config file");
    let backup = backup_n1(&sb.config()).await;
    let (mut watch, rx) = spawn_watch(&config_path, &["--heartbeat", "1s"]);
    // A heartbeat comes from a published cycle: the watch has seen n1 with its keys.
    next_line(&rx, Duration::from_secs(15), |v| v["event"] == "heartbeat");
    let _: () = query(&n1, &redis::cmd("FLUSHALL")).await;
    let line = next_line(&rx, Duration::from_secs(20), raised("without a restart"));
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(line["severity"], "critical", "{line}");
    let msg = line["message"].as_str().unwrap();
    assert!(msg.starts_with("n1 went from 1,100 keys to 0"), "{msg}");
    assert!(msg.contains("the data is gone from the group"), "{msg}");
    let name = backup
        .rdb
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert!(msg.contains(&name), "the backup is named: {msg}");
}
