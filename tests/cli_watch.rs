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
