//! `redops watch --json` end to end: the built binary against a real sandbox streams one JSON
//! line per change when a node is killed, and exits 0 on SIGINT.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use redops::sandbox::{Sandbox, Spec};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_streams_changes_and_stops_on_sigint() {
    let mut sb = Sandbox::start(&Spec::default()).await.expect("sandbox");
    let addrs: Vec<String> = sb
        .nodes()
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("redops"));
    cmd.args(["watch", "--json", "--timeout", "300ms"])
        .env("NO_COLOR", "1")
        .env_remove("REDOPS_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for a in &addrs {
        cmd.args(["--node", a]);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Let it settle (every node polled once), then kill a replica.
    std::thread::sleep(Duration::from_millis(2500));
    let quiet: Vec<String> = rx.try_iter().collect();
    assert!(
        quiet.is_empty(),
        "a healthy group prints nothing: {quiet:?}"
    );
    sb.kill("n3").unwrap();
    let victim = &addrs[2];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let mut found = false;
    while Instant::now() < deadline && !found {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let v: Value = serde_json::from_str(&line).expect("one JSON object per line");
            for key in ["at", "group", "node", "kind", "severity", "message"] {
                assert!(v.get(key).is_some(), "'{key}' in {line}");
            }
            found = v["node"] == victim.as_str() && v["kind"] == "node_down";
            seen.push(line);
        }
    }
    kill(
        Pid::from_raw(i32::try_from(child.id()).unwrap()),
        Signal::SIGINT,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "watch did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(found, "a node_down line for {victim}: {seen:#?}");
    assert_eq!(status.code(), Some(0));
}

/// A running `redops watch` with its stdout and stderr lines arriving on channels.
pub(super) struct Watch {
    child: std::process::Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Watch {
    pub(super) fn start(args: &[&str]) -> Self {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("redops"))
            .arg("watch")
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("REDOPS_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = |r: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = mpsc::channel::<String>();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        let stdout = lines(Box::new(child.stdout.take().unwrap()));
        let stderr = lines(Box::new(child.stderr.take().unwrap()));
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Stdout lines up to and including the first that `want` accepts (panics after 20 s).
    pub(super) fn until(&self, what: &str, want: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(line) = self.stdout.recv_timeout(Duration::from_millis(100)) {
                let done = want(&line);
                seen.push(line);
                if done {
                    return seen;
                }
            }
        }
        panic!("no {what} line: {seen:#?}");
    }

    pub(super) fn stop(mut self) {
        kill(
            Pid::from_raw(i32::try_from(self.child.id()).unwrap()),
            Signal::SIGINT,
        )
        .unwrap();
        assert_eq!(self.child.wait().unwrap().code(), Some(0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_says_what_it_watches_beats_and_reports_runs_of_other_consoles() {
    let sb = Sandbox::start(&Spec::default()).await.expect("sandbox");
    let cfg = sb.write_config().unwrap();
    let cfg = cfg.to_str().unwrap();

    // Text: the start line on stderr; a healthy group gets a heartbeat after a quiet second.
    let w = Watch::start(&["--config", cfg, "--heartbeat", "1s"]);
    let start = w.stderr.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(
        start,
        "watching 3 nodes in 1 group (poll every 1s); Ctrl-C stops"
    );
    let beat = w.until("heartbeat", |l| l.contains("heartbeat"));
    let beat = beat.last().unwrap();
    assert!(
        beat.contains("heartbeat: no change for")
            && beat.contains("sandbox healthy (3/3 nodes up)"),
        "{beat}"
    );
    w.stop();

    // JSON: stdout holds only JSON objects; a snapshot run by another process shows up as
    // run_started and run_finished.
    let w = Watch::start(&["--config", cfg, "--json", "--heartbeat", "1s"]);
    let parse = |l: &str| -> Value {
        serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout is JSON lines ({e}): {l}"))
    };
    let beat = w.until("heartbeat", |l| parse(l)["event"] == "heartbeat");
    let beat = parse(beat.last().unwrap());
    assert_eq!(beat["healthy"], true, "{beat}");
    assert_eq!(beat["groups"][0]["group"], "sandbox", "{beat}");
    assert_eq!(beat["groups"][0]["up"], 3, "{beat}");
    let snap = Command::new(assert_cmd::cargo::cargo_bin("redops"))
        .args(["--config", cfg, "snapshot", "n2", "--yes"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(
        snap.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&snap.stderr)
    );
    let lines = w.until("run_finished", |l| parse(l)["event"] == "run_finished");
    let runs: Vec<Value> = lines
        .iter()
        .map(|l| parse(l))
        .filter(|v| v["event"] != "heartbeat")
        .collect();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(runs[0]["event"], "run_started");
    assert_eq!(runs[0]["action"], "snapshot");
    assert_eq!(runs[1]["outcome"], "done", "{runs:#?}");
    assert_eq!(runs[0]["run_id"], runs[1]["run_id"]);

    // A rejoin mark written by another console appears, and its clearing too.
    let marks = sb.dir().join("rejoin-pending.json");
    let mark = serde_json::json!([{
        "group": "sandbox", "node": "n1", "addr": "127.0.0.1:1", "promoted": "n2",
        "last_replid": null, "last_offset": null, "marked_at": "2026-01-01T00:00:00Z",
        "run_id": "r-test",
    }]);
    std::fs::write(&marks, mark.to_string()).unwrap();
    let seen = w.until("rejoin_marked", |l| parse(l)["event"] == "rejoin_marked");
    assert_eq!(parse(seen.last().unwrap())["node"], "n1");
    std::fs::remove_file(&marks).unwrap();
    w.until("rejoin_mark_cleared", |l| {
        parse(l)["event"] == "rejoin_mark_cleared"
    });
    assert!(w.stderr.try_iter().all(|l| !l.starts_with('{')));
    w.stop();
}
