//! `redops drill` end to end on the built binary against real servers: every built-in drill
//! played headless with its reference solution (the trainee's commands are ordinary
//! `redops -c CONFIG ...` runs) passes with no acknowledged write lost; a forced wrong move ends
//! the drill as failed at once, naming the move; `drill list`; a bad drill file exits 2.
//!
//! Each drill runs in its own data directory (`XDG_DATA_HOME`), where its report must land.

// The figures of each reference solution are printed for the record (`--nocapture`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redops::sandbox::require_server_binary;
use serde_json::Value;

use crate::common::bin::{command, redops};
use crate::common::cluster::{info_field, raw_cmd};

/// How long any one wait for a drill's event may take.
const WAIT: Duration = Duration::from_secs(60);

/// A drill run by the binary, its JSON events collected as they come.
pub(crate) struct Drill {
    child: Child,
    events: Arc<Mutex<Vec<Value>>>,
    data: tempfile::TempDir,
    pub(crate) config: String,
}

impl Drop for Drill {
    fn drop(&mut self) {
        // SIGKILL: the sandbox's watchdog stops the servers it left.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drill {
    pub(crate) fn start(name: &str) -> Self {
        let server = require_server_binary();
        let data = tempfile::tempdir().unwrap();
        let bin = assert_cmd::cargo::cargo_bin("redops");
        let mut child = Command::new(bin)
            .args(["drill", "run", name, "--headless", "--json"])
            .env_remove("REDOPS_CONFIG")
            .env("XDG_DATA_HOME", data.path())
            .env("NO_COLOR", "1")
            .env(redops::sandbox::SERVER_BIN_ENV, server)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                sink.lock().unwrap().push(v);
            }
        });
        let mut d = Self {
            child,
            events,
            data,
            config: String::new(),
        };
        let started = d.wait_for(|e| e["event"] == "drill_started");
        d.config = started["config"].as_str().unwrap().to_string();
        assert!(
            started["nodes"].as_array().is_some_and(|n| n.len() >= 3),
            "{started}"
        );
        d
    }

    /// Waits (bounded) for the first event that `pred` accepts.
    pub(crate) fn wait_for(&self, pred: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + WAIT;
        loop {
            if let Some(v) = self.events.lock().unwrap().iter().find(|e| pred(e)) {
                return v.clone();
            }
            assert!(
                Instant::now() < end,
                "no such event within {WAIT:?}: {:#?}",
                self.events.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for a fault by its words (`"n1 killed"`).
    pub(crate) fn fault(&self, what: &str) {
        self.wait_for(|e| e["event"] == "fault_injected" && e["what"] == what);
    }

    /// Waits for a step to start.
    pub(crate) fn step(&self, step: u64) {
        self.wait_for(|e| e["event"] == "step_started" && e["step"] == step);
    }

    /// The port of a node of the drill's sandbox, from its config.
    fn port(&self, node: &str) -> u16 {
        let config = redops::config::load_file(Path::new(&self.config)).unwrap();
        let n = config.groups[0].nodes.iter().find(|n| n.name == node);
        n.unwrap().addr.port
    }

    /// A command sent straight to a node (what an operator does with redis-cli).
    pub(crate) fn raw(&self, node: &str, args: &[&str]) -> Result<String, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(raw_cmd(self.port(node), args))
    }

    /// Waits (bounded) until `node` itself says its replication link is down: a replica thawed
    /// after its primary died sees the end of the link only once it reads it.
    fn link_down(&self, node: &str) {
        let end = Instant::now() + WAIT;
        loop {
            let info = self.raw(node, &["INFO", "replication"]).unwrap_or_default();
            if info_field(&info, "master_link_status").as_deref() == Some("down") {
                return;
            }
            assert!(Instant::now() < end, "{node}'s link never went down");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asks for a hint as a trainee does: `hint` on the drill's standard input.
    fn ask_hint(&mut self) {
        use std::io::Write as _;
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(b"hint\n").unwrap();
        stdin.flush().unwrap();
    }

    /// `redops -c CONFIG ARGS`, which must succeed.
    pub(crate) fn act(&self, args: &str) {
        let mut all = vec!["-c", self.config.as_str()];
        all.extend(args.split_whitespace());
        let out = redops(&all);
        assert!(
            out.status.success(),
            "redops {args}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// One command of a drill's reference solution, its placeholders expanded: `BACKUPS` is
    /// the sandbox's backups directory, `BACKUP` the id of the newest backup in its catalog.
    fn play(&self, solution: &str) {
        let config = redops::config::load_file(Path::new(&self.config)).unwrap();
        let backups = config.console.backups_dir.display().to_string();
        let mut cmd = solution.replace("BACKUPS", &backups);
        if cmd.contains("BACKUP") {
            let list = redops(&["-c", self.config.as_str(), "backup", "list", "--json"]);
            let newest: Value = serde_json::from_str(
                String::from_utf8_lossy(&list.stdout)
                    .lines()
                    .next()
                    .unwrap(),
            )
            .unwrap();
            cmd = cmd.replace("BACKUP", newest["id"].as_str().unwrap());
        }
        self.act(&cmd);
    }

    /// The keys `node` of the sandbox holds now.
    fn dbsize(&self, node: &str) -> u64 {
        let config = redops::config::load_file(std::path::Path::new(&self.config)).unwrap();
        let n = config.groups[0]
            .nodes
            .iter()
            .find(|n| n.name == node)
            .unwrap();
        let client = redis::Client::open(format!("redis://{}/", n.addr)).unwrap();
        let mut c = client
            .get_connection_with_timeout(Duration::from_secs(2))
            .unwrap();
        redis::cmd("DBSIZE").query(&mut c).unwrap()
    }

    /// The report, once the drill is over, and the exit code.
    pub(crate) fn finish(mut self) -> (Value, i32) {
        let done = self.wait_for(|e| e["event"] == "drill_finished");
        let end = Instant::now() + WAIT;
        let code = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s.code().unwrap_or(-1);
            }
            assert!(Instant::now() < end, "the drill did not exit");
            std::thread::sleep(Duration::from_millis(50));
        };
        let report = done["report"].clone();
        let path = PathBuf::from(report["path"].as_str().expect("the report's path"));
        assert!(
            path.starts_with(self.data.path().join("redops").join("drills")),
            "{}",
            path.display()
        );
        assert!(
            path.is_file() && path.with_extension("txt").is_file(),
            "{}",
            path.display()
        );
        let sandbox_dir = Path::new(&self.config).parent().unwrap();
        assert!(
            !sandbox_dir.exists(),
            "the sandbox is left: {}",
            sandbox_dir.display()
        );
        (report, code)
    }
}

/// Passed, with no acknowledged write lost out of some; prints the figures for the record.
pub(crate) fn assert_passed(name: &str, report: &Value, code: i32) {
    eprintln!(
        "{name}: passed={} in {} ms, writes lost {} of {}",
        report["passed"],
        report["elapsed_ms"],
        report["writes_lost"],
        report["writes_acknowledged"]
    );
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(report["writes_lost"], 0, "{report:#}");
    assert!(
        report["writes_acknowledged"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    assert_eq!(code, 0);
}

#[test]
fn master_crash_reference_solution_passes() {
    let d = Drill::start("master-crash");
    d.fault("n3 thawed");
    d.link_down("n3");
    d.act("promote --yes");
    d.step(1);
    d.fault("n1 restarted with its old data");
    // Its old data: the snapshot it had on disk (the starting data), not nothing.
    assert!(
        d.dbsize("n1") >= 1000,
        "n1 came back with {} keys",
        d.dbsize("n1")
    );
    d.act("rejoin n1 --yes");
    let (report, code) = d.finish();
    assert_passed("master-crash", &report, code);
    assert!(report["time_to_detect_ms"].as_u64().is_some(), "{report:#}");
}

#[test]
fn master_crash_forced_promotion_of_the_lagging_replica_fails_naming_the_move() {
    let d = Drill::start("master-crash");
    d.fault("n3 thawed");
    d.link_down("n3");
    d.act("promote n3 --yes --force --reason closest");
    let (report, code) = d.finish();
    assert_eq!(code, 1);
    assert_eq!(report["passed"], false);
    let ending = &report["ending"];
    assert_eq!(ending["kind"], "wrong_move", "{report:#}");
    assert_eq!(ending["what"], "n3 became a primary");
    let by = ending["by"].as_str().unwrap();
    assert!(
        by.starts_with("promote n3") && by.contains("closest"),
        "{by}"
    );
    let kinds: Vec<&str> = report["guards_tripped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["override"], "{report:#}");
}

#[test]
fn sentinel_failover_reference_solution_passes_and_a_manual_repoint_is_refused() {
    let d = Drill::start("sentinel-failover");
    d.fault("n1 killed");
    // Repointing by hand on a Sentinel group: refused with the reason, counted as a guard.
    let mut by_hand = vec!["-c", d.config.as_str()];
    by_hand.extend(["repoint", "n3", "--to", "n2", "--yes"]);
    let out = redops(&by_hand);
    assert_eq!(out.status.code(), Some(3));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("refused: group 'drill' is watched by Sentinel"),
        "{said}"
    );
    d.step(1);
    d.fault("n1 restarted with its old data");
    // Sentinel may have reconfigured n1 already: the rejoin then says so and exits 0.
    d.act("rejoin n1 --yes");
    let (report, code) = d.finish();
    assert_passed("sentinel-failover", &report, code);
    assert_eq!(report["guards_tripped"][0]["kind"], "refusal", "{report:#}");
}

#[test]
fn sentinel_failover_promoting_the_reporting_replica_by_hand_fails_naming_the_move() {
    let d = Drill::start("sentinel-failover");
    d.fault("n1 killed");
    assert_eq!(
        d.raw("n3", &["REPLICAOF", "NO", "ONE"]).as_deref(),
        Ok("OK")
    );
    let (report, code) = d.finish();
    assert_eq!(code, 1);
    let ending = &report["ending"];
    assert_eq!(ending["kind"], "wrong_move", "{report:#}");
    assert_eq!(ending["what"], "n3 became a primary", "{report:#}");
}

#[test]
fn planned_switchover_reference_solution_passes() {
    let d = Drill::start("planned-switchover");
    d.step(0);
    d.act("switchover --to n2 --yes");
    d.step(1);
    d.act("failback --yes");
    let (report, code) = d.finish();
    assert_passed("planned-switchover", &report, code);
}

#[test]
fn lagging_replica_reference_solution_passes_and_a_hint_comes_on_demand() {
    let mut d = Drill::start("lagging-replica");
    d.fault("n3's replication link cut");
    d.ask_hint();
    let hint = d.wait_for(|e| e["event"] == "hint");
    assert_eq!(hint["index"], 0, "{hint}");
    d.act("repoint n3 --to n1 --yes");
    let (report, code) = d.finish();
    assert_passed("lagging-replica", &report, code);
    assert_eq!(report["hints_used"], 1, "{report:#}");
    assert_eq!(report["hints_asked"], 1, "{report:#}");
}

#[test]
fn split_brain_reference_solution_passes() {
    let d = Drill::start("split-brain");
    d.fault("n3 made a primary");
    d.act("repoint n3 --to n1 --yes");
    let (report, code) = d.finish();
    assert_passed("split-brain", &report, code);
}

#[test]
fn split_brain_keeping_the_primary_without_the_writes_fails_naming_the_move() {
    let d = Drill::start("split-brain");
    d.fault("n3 made a primary");
    d.act("repoint n1 --to n3 --yes --force --reason n3-is-newer");
    let (report, code) = d.finish();
    assert_eq!(code, 1);
    assert_eq!(
        report["ending"]["what"], "n1 became a replica of n3",
        "{report:#}"
    );
}

#[test]
fn stale_old_master_reference_solution_passes() {
    let d = Drill::start("stale-old-master");
    d.step(1);
    d.fault("n1 restarted with its old data");
    d.act("rejoin n1 --yes");
    let (report, code) = d.finish();
    assert_passed("stale-old-master", &report, code);
}

#[test]
fn persistence_off_primary_reference_solution_passes() {
    let d = Drill::start("persistence-off-primary");
    d.step(0);
    d.act("switchover --to n2 --yes");
    d.step(1);
    d.fault("n1 restarted with what its own shutdown saved");
    // No rejoin: the switchover's CONFIG REWRITE made n1's redis.conf say it replicates from
    // n2, so it comes back as n2's replica with its data.
    let (report, code) = d.finish();
    assert_passed("persistence-off-primary", &report, code);
}

#[test]
fn persistence_off_primary_passes_with_persistence_turned_on_instead() {
    let d = Drill::start("persistence-off-primary");
    d.step(0);
    assert_eq!(
        d.raw("n1", &["CONFIG", "SET", "save", "60 1"]).as_deref(),
        Ok("OK")
    );
    d.step(1);
    d.fault("n1 restarted with what its own shutdown saved");
    let (report, code) = d.finish();
    assert_passed("persistence-off-primary (persistence on)", &report, code);
}

#[test]
fn wrong_replicaof_reference_solution_passes_and_the_refusal_counts() {
    let d = Drill::start("wrong-replicaof");
    d.step(0);
    // The obvious, wrong way round: refused by the wipe guard, counted as a guard tripped.
    let mut wrong = vec!["-c", d.config.as_str()];
    wrong.extend(["repoint", "n1", "--to", "n4", "--yes"]);
    assert_eq!(redops(&wrong).status.code(), Some(3));
    d.act("repoint n4 --to n1 --yes");
    let (report, code) = d.finish();
    assert_passed("wrong-replicaof", &report, code);
    assert_eq!(report["guards_tripped"][0]["kind"], "refusal", "{report:#}");
}

#[test]
fn wrong_replicaof_forced_the_wrong_way_fails_naming_the_move() {
    let d = Drill::start("wrong-replicaof");
    d.step(0);
    d.act("repoint n1 --to n4 --yes --force --reason it-is-new");
    let (report, code) = d.finish();
    assert_eq!(code, 1);
    let ending = &report["ending"];
    assert_eq!(ending["kind"], "wrong_move", "{report:#}");
    assert_eq!(ending["what"], "n1 became a replica of n4");
    assert!(
        ending["by"].as_str().unwrap().contains("it-is-new"),
        "{report:#}"
    );
}

#[test]
fn restore_from_snapshot_reference_solution_passes() {
    let spec = redops::drill::load::find("restore-from-snapshot").unwrap();
    let [restore] = spec.solution.as_slice() else {
        panic!("one command: {:?}", spec.solution)
    };
    let d = Drill::start("restore-from-snapshot");
    d.fault("n1's routine backup taken (now in the backups catalog)");
    d.fault("FLUSHALL on n1");
    assert_eq!(d.dbsize("n1"), 0, "the FLUSHALL went through");
    d.play(restore);
    let (report, code) = d.finish();
    assert_passed("restore-from-snapshot", &report, code);
}

#[test]
fn drill_list_shows_the_builtins() {
    let out = command()
        .args(["drill", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for id in [
        "master-crash",
        "sentinel-failover",
        "planned-switchover",
        "lagging-replica",
        "split-brain",
        "stale-old-master",
        "persistence-off-primary",
        "wrong-replicaof",
        "restore-from-snapshot",
        "cluster-shard-failover",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id} in {ids:?}");
    }
}

#[test]
fn a_bad_drill_file_exits_2_with_its_place_and_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.toml");
    std::fs::write(
        &file,
        "id = \"x\"\ntitle = \"t\"\nincident = \"i\"\ntime_limit = \"1m\"\nwho = 1\n",
    )
    .unwrap();
    let out = command()
        .args(["drill", "run", file.to_str().unwrap(), "--headless"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `who`"), "{err}");
    assert!(err.contains("mine.toml:5:1"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    let out = command()
        .args(["drill", "run", "no-such-drill", "--headless"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
