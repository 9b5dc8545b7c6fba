//! `redops sandbox` as a practice ground, on the built binary: `redops sandbox kill|restart|
//! freeze|thaw NODE` from another process, carried out (and reaped) by the running sandbox; a
//! server killed from outside is reaped and reported, never left a zombie; each node has a
//! `redis.conf` it restarts from; and a sandbox whose stdout reader goes away (`| tee log`,
//! then Ctrl-C) stops every server and removes its directory, with or without the SIGINT.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::sandbox_cli::{gone, pid_of};
use nix::sys::signal::{kill, Signal};
use redops::sandbox::{read_state, require_server_binary, State, STATE_FILE};

/// A running `redops sandbox`; kills whatever is left if the test fails half-way.
struct Running {
    child: Child,
    dir: PathBuf,
    lines: mpsc::Receiver<String>,
    pids: Vec<u32>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for p in self.pids.iter().copied().chain(self.state_pids()) {
            if !gone(p) {
                let _ = kill(pid_of(p), Signal::SIGKILL);
            }
        }
    }
}

impl Running {
    /// Starts `redops sandbox --replicas 1` with stdout on a pipe and reads up to its "press
    /// Ctrl-C" line; with `close_stdout`, the reader then closes the pipe.
    fn start(close_stdout: bool) -> Self {
        Self::start_in(close_stdout, &std::env::temp_dir())
    }

    /// [`start`](Self::start) with its directory made in `tmp` (`TMPDIR`).
    fn start_in(close_stdout: bool, tmp: &Path) -> Self {
        let bin = require_server_binary();
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("redops"))
            .args(["sandbox", "--replicas", "1", "--server-bin"])
            .arg(&bin)
            .env("TMPDIR", tmp)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("redops runs");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let banner_end = line.starts_with("press Ctrl-C");
                if tx.send(line).is_err() || (banner_end && close_stdout) {
                    break;
                }
            }
        });
        let mut running = Self {
            child,
            dir: PathBuf::new(),
            lines,
            pids: Vec::new(),
        };
        let head = running.read_until(|l| l.starts_with("press Ctrl-C"), Duration::from_secs(30));
        let dir = head
            .iter()
            .find_map(|l| l.strip_prefix("sandbox started in "))
            .and_then(|l| l.rsplit_once(" ("))
            .map_or_else(
                || panic!("no directory in {head:?}"),
                |(d, _)| PathBuf::from(d),
            );
        running.dir = dir;
        running.pids = running.state().nodes.iter().map(|n| n.pid).collect();
        running
    }

    /// Lines up to and including the first that matches (bounded).
    fn read_until(&self, stop: impl Fn(&str) -> bool, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|e| {
                panic!("no expected line within {limit:?} ({e}); got {seen:?}")
            });
            let done = stop(&line);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }

    fn state(&self) -> State {
        read_state(&self.dir).expect("the state file reads")
    }

    fn state_pids(&self) -> Vec<u32> {
        read_state(&self.dir)
            .map(|s| s.nodes.iter().map(|n| n.pid).collect())
            .unwrap_or_default()
    }

    fn node(&self, name: &str) -> redops::sandbox::NodeState {
        self.state()
            .nodes
            .into_iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no {name} in the state file"))
    }

    /// `redops sandbox FAULT NODE --dir DIR`.
    fn control(&self, fault: &str, node: &str) -> Output {
        Command::new(assert_cmd::cargo::cargo_bin("redops"))
            .args(["sandbox", fault, node, "--dir"])
            .arg(&self.dir)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("redops runs")
    }

    /// Waits (bounded) for the process to exit; its exit code.
    fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s.code();
            }
            assert!(
                Instant::now() < deadline,
                "redops did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn info_field(port: u16, name: &str) -> Option<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    let mut c = client
        .get_connection_with_timeout(Duration::from_millis(500))
        .ok()?;
    c.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let text: String = redis::cmd("INFO").query(&mut c).ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix(&format!("{name}:"))
            .map(|v| v.trim().to_string())
    })
}

fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

fn stopped_everything(r: &mut Running, pids: &[u32]) {
    for &p in pids {
        assert!(gone(p), "server pid {p} survived");
    }
    assert!(!r.dir.exists(), "{} is removed", r.dir.display());
}

#[test]
fn kill_restart_freeze_thaw_from_another_process_and_reaping() {
    let mut r = Running::start(false);
    let n1 = r.node("n1");
    let n2 = r.node("n2");
    assert_eq!(n1.state, "running");
    let conf = std::fs::read_to_string(&n2.conf).expect("n2 has a redis.conf");
    assert!(conf.contains(&format!("port \"{}\"", n2.port)), "{conf}");
    assert!(
        conf.contains(&format!("replicaof \"127.0.0.1\" \"{}\"", n1.port)),
        "{conf}"
    );

    // kill: done by the sandbox, which reaps it.
    let out = r.control("kill", "n2");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("killed and reaped"), "{}", text(&out));
    assert!(gone(n2.pid), "n2's pid {} is reaped, not a zombie", n2.pid);
    assert_eq!(r.node("n2").state, "stopped");

    // restart: from its redis.conf, same port, a replica of n1 again.
    let out = r.control("restart", "n2");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let again = r.node("n2");
    assert_eq!((again.port, again.state.as_str()), (n2.port, "running"));
    assert_ne!(again.pid, n2.pid);
    r.pids.push(again.pid);
    wait_for("n2 back in sync with n1", Duration::from_secs(20), || {
        info_field(n2.port, "master_link_status").as_deref() == Some("up")
    });

    // freeze and thaw.
    let out = r.control("freeze", "n1");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(r.node("n1").state, "frozen");
    assert_eq!(proc_state(n1.pid), Some('T'), "n1 is stopped by SIGSTOP");
    let out = r.control("thaw", "n1");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(r.node("n1").state, "running");
    assert_ne!(proc_state(n1.pid), Some('T'));

    // Mistakes: exit 2 and what exists.
    let out = r.control("kill", "n9");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("it has n1, n2"), "{}", text(&out));
    let out = Command::new(assert_cmd::cargo::cargo_bin("redops"))
        .args([
            "sandbox",
            "kill",
            "n1",
            "--dir",
            "/nonexistent/redops-sandbox-x",
        ])
        .output()
        .expect("redops runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("hint:"), "{}", text(&out));

    // A server killed from outside is reaped by the sandbox and reported.
    kill(pid_of(again.pid), Signal::SIGKILL).expect("kill -9 n2");
    let seen = r.read_until(|l| l.contains("exited"), Duration::from_secs(10));
    assert!(
        seen.iter()
            .any(|l| l.contains(&format!("n2 (pid {}) exited", again.pid))),
        "{seen:?}"
    );
    wait_for("n2 reaped", Duration::from_secs(5), || gone(again.pid));
    wait_for(
        "the state file says n2 stopped",
        Duration::from_secs(5),
        || r.node("n2").state == "stopped",
    );

    kill(pid_of(r.child.id()), Signal::SIGINT).expect("signal redops");
    assert_eq!(r.wait_exit(Duration::from_secs(15)), Some(0));
    let pids = r.pids.clone();
    stopped_everything(&mut r, &pids);
}

/// `redops sandbox | tee log`: the reader goes away first; with `then_sigint`, Ctrl-C reaches
/// redops too (the whole foreground group gets it), else redops notices the closed pipe alone.
fn reader_gone(then_sigint: bool) {
    let mut r = Running::start(true);
    let pids = r.pids.clone();
    assert_eq!(pids.len(), 2);
    if then_sigint {
        kill(pid_of(r.child.id()), Signal::SIGINT).expect("signal redops");
    }
    let mut stderr = String::new();
    let code = r.wait_exit(Duration::from_secs(15));
    if let Some(mut e) = r.child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert_eq!(code, Some(0), "{stderr}");
    stopped_everything(&mut r, &pids);
    assert!(!Path::new(&r.dir).join(STATE_FILE).exists());
}

#[test]
fn a_closed_stdout_stops_the_sandbox_and_removes_its_dir() {
    reader_gone(false);
}

#[test]
fn a_closed_stdout_then_sigint_stops_the_sandbox_and_removes_its_dir() {
    reader_gone(true);
}

/// `redops sandbox FAULT NODE` without `--dir`, looking in `tmp`.
fn control_in(tmp: &Path, fault: &str, node: &str) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("redops"))
        .args(["sandbox", fault, node])
        .env("TMPDIR", tmp)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("redops runs")
}

#[test]
fn without_dir_the_one_running_sandbox_is_used_and_none_or_two_are_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = control_in(tmp.path(), "freeze", "n1");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no running sandbox found"),
        "{}",
        text(&out)
    );

    let mut first = Running::start_in(false, tmp.path());
    let out = control_in(tmp.path(), "freeze", "n1");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(first.node("n1").state, "frozen");
    let out = control_in(tmp.path(), "thaw", "n1");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let second = Running::start_in(false, tmp.path());
    let out = control_in(tmp.path(), "freeze", "n1");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("2 sandboxes are running"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("--dir"), "{}", text(&out));
    drop(second);

    kill(pid_of(first.child.id()), Signal::SIGINT).expect("signal redops");
    assert_eq!(first.wait_exit(Duration::from_secs(15)), Some(0));
}
