//! `redops sandbox` end to end on the built binary: it starts real servers, prints them and its
//! config, and on SIGINT or SIGTERM stops every one of them and exits 0. Without a server
//! binary it exits 2 with the install hint.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use redops::sandbox::require_server_binary;

pub fn pid_of(n: u32) -> Pid {
    Pid::from_raw(i32::try_from(n).expect("pid fits"))
}

/// Gone and reaped: a zombie still answers signal 0.
pub fn gone(pid: u32) -> bool {
    kill(pid_of(pid), None) == Err(Errno::ESRCH)
}

/// Kills whatever is left if the test fails half-way (the servers are redops's children, so
/// only their PIDs are known here).
struct Cleanup {
    child: Child,
    pids: Vec<u32>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for &p in &self.pids {
            if !gone(p) {
                let _ = kill(pid_of(p), Signal::SIGKILL);
            }
        }
    }
}

/// The `pid N` at the end of a node line.
fn pid_in(line: &str) -> Option<u32> {
    line.rsplit_once(" pid ")?.1.trim().parse().ok()
}

fn run_until_signal(sig: Signal) {
    let bin = require_server_binary();
    let child = Command::new(assert_cmd::cargo::cargo_bin("redops"))
        .args(["sandbox", "--replicas", "1", "--chain", "--server-bin"])
        .arg(&bin)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redops runs");
    let mut guard = Cleanup {
        child,
        pids: Vec::new(),
    };
    let stdout = guard.child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut config_path = None;
    let mut head = Vec::new();
    while config_path.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no config line within 30 s ({e}); got {head:?}"));
        if let Some(p) = pid_in(&line) {
            guard.pids.push(p);
        }
        if let Some(p) = line.strip_prefix("config: ") {
            config_path = Some(std::path::PathBuf::from(p));
        }
        head.push(line);
    }
    assert_eq!(guard.pids.len(), 3, "three nodes printed: {head:?}");
    assert!(head.iter().any(|l| l.contains("primary")), "{head:?}");
    assert!(head.iter().any(|l| l.contains("(chained)")), "{head:?}");
    let config_path = config_path.expect("config path");
    let config = std::fs::read_to_string(&config_path).expect("config file exists");
    assert_eq!(config.matches("[[groups.nodes]]").count(), 3);
    for &p in &guard.pids {
        assert!(!gone(p), "server pid {p} runs while the sandbox is up");
    }

    kill(pid_of(guard.child.id()), sig).expect("signal redops");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = guard.child.try_wait().expect("try_wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "redops did not exit after {sig}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = reader.join();
    let tail: Vec<String> = rx.try_iter().collect();
    let mut stderr = String::new();
    if let Some(mut e) = guard.child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status}; stdout tail {tail:?}; stderr {stderr}"
    );
    for &p in &guard.pids {
        assert!(gone(p), "server pid {p} survived {sig}");
        assert!(
            tail.iter().any(|l| l.contains(&format!("(pid {p})"))),
            "the stop of pid {p} is reported: {tail:?}"
        );
    }
    assert!(!config_path.exists(), "the sandbox dir is removed");
}

#[test]
fn sigint_stops_every_server() {
    run_until_signal(Signal::SIGINT);
}

#[test]
fn sigterm_stops_every_server() {
    run_until_signal(Signal::SIGTERM);
}

#[test]
fn missing_server_binary_exits_2_with_the_hint() {
    let out = Command::new(assert_cmd::cargo::cargo_bin("redops"))
        .args(["sandbox", "--server-bin", "/nonexistent"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("redops runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("'/nonexistent'"), "{stderr}");
    assert!(
        stderr.contains("hint:") && stderr.contains("apt-get install redis-server"),
        "{stderr}"
    );
    assert!(stderr.contains("--server-bin"), "{stderr}");
}

#[test]
fn a_bad_cluster_shape_or_a_missing_seed_exits_2_with_a_hint() {
    for (args, said) in [
        (
            &["sandbox", "--cluster", "3"][..],
            "'3' is not a cluster shape",
        ),
        (&["sandbox", "--cluster", "0x1"][..], "at least one primary"),
        (&["sandbox", "--cluster", "20x1"][..], "at most 32"),
        (
            &["status", "--cluster"][..],
            "needs the address of a cluster node",
        ),
        (
            &["sandbox", "--cluster", "3x1", "--sentinels", "3"][..],
            "not a Redis Cluster",
        ),
    ] {
        let out = crate::common::bin::redops(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(said), "{args:?}: {stderr}");
        assert!(stderr.contains("hint:"), "{args:?}: {stderr}");
    }
}
