//! The sandbox's watchdog against real servers: when the owning process is `SIGKILLed` (no
//! clean-up runs), every server it started stops accepting connections, frozen ones too, and
//! the watchdog exits; an orderly stop reaps the watchdog; no server holds the watchdog's pipe.
//! These tests fail (never skip) when no server binary is installed. Linux: they read `/proc`.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use redops::sandbox::{require_server_binary, Sandbox, Spec};

/// How long the servers and the watchdog get to go after the owner is killed.
const GONE_WITHIN: Duration = Duration::from_secs(5);

fn pid_of(n: u32) -> Pid {
    Pid::from_raw(i32::try_from(n).expect("pid fits"))
}

/// `(state, ppid)` from `/proc/PID/stat`, `None` when there is no such process.
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    let mut rest = text.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Exited: no such process, or a zombie nobody has reaped yet (after its parent was killed,
/// reaping is up to whatever adopted it).
fn dead(pid: u32) -> bool {
    kill(pid_of(pid), None) == Err(Errno::ESRCH) || matches!(stat(pid), Some(('Z', _)) | None)
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The live children of `parent`, from a scan of `/proc`.
fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if matches!(stat(pid), Some((s, pp)) if pp == parent && s != 'Z') {
            out.push(pid);
        }
    }
    out
}

/// Every open file of a process, as `readlink` shows it (`pipe:[123]`, `socket:[456]`, ...).
fn open_files(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read the fd dir")
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|p| p.display().to_string())
        .collect()
}

/// The watchdog's stdin pipe is held by no server (std opens pipes with `O_CLOEXEC`).
fn assert_pipe_not_inherited(watchdog: u32, servers: &[u32]) {
    let pipe = std::fs::read_link(format!("/proc/{watchdog}/fd/0"))
        .expect("the watchdog's stdin")
        .display()
        .to_string();
    assert!(pipe.starts_with("pipe:"), "stdin is a pipe: {pipe}");
    for &s in servers {
        let theirs = open_files(s);
        assert!(
            !theirs.contains(&pipe),
            "server pid {s} holds the watchdog pipe {pipe}: {theirs:?}"
        );
    }
}

fn port_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `PING` answered with `+PONG`.
fn pings(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&port_addr(port), Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

fn refuses(port: u16) -> bool {
    matches!(
        TcpStream::connect_timeout(&port_addr(port), Duration::from_millis(300)),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused
    )
}

/// Polls (bounded) until every port refuses and every PID is dead; what is left otherwise.
fn wait_all_gone(ports: &[u16], pids: &[u32]) -> Result<(), String> {
    let deadline = Instant::now() + GONE_WITHIN;
    loop {
        let open: Vec<u16> = ports.iter().copied().filter(|&p| !refuses(p)).collect();
        let alive: Vec<u32> = pids.iter().copied().filter(|&p| !dead(p)).collect();
        if open.is_empty() && alive.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "after {}s: ports still open {open:?}, pids alive {alive:?}",
                GONE_WITHIN.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills whatever is left if a test fails half-way: the owner process and, by PID, the
/// servers and watchdog it printed (they are not our children).
struct Cleanup {
    owner: Child,
    pids: Vec<u32>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.owner.kill();
        let _ = self.owner.wait();
        for &p in &self.pids {
            if !dead(p) {
                let _ = kill(pid_of(p), Signal::SIGCONT);
                let _ = kill(pid_of(p), Signal::SIGKILL);
            }
        }
    }
}

/// Spawns `cmd` (stdout piped, stderr to a file) and returns it with a channel of its stdout
/// lines.
fn spawn_owner(mut cmd: Command, stderr: &File) -> (Cleanup, mpsc::Receiver<String>) {
    let mut owner = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr.try_clone().expect("stderr file"))
        .spawn()
        .expect("owner runs");
    let stdout = owner.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (
        Cleanup {
            owner,
            pids: Vec::new(),
        },
        rx,
    )
}

/// SIGKILLs the owner and reaps it (it is our child).
fn sigkill_owner(guard: &mut Cleanup) {
    kill(pid_of(guard.owner.id()), Signal::SIGKILL).expect("SIGKILL the owner");
    let status = guard.owner.wait().expect("reap the owner");
    assert!(
        !status.success(),
        "the owner was killed, not exited: {status}"
    );
}

/// `redops sandbox --replicas 1`, `SIGKILLed` once it is up (with one server frozen first when
/// `freeze`): every port must stop accepting and the watchdog must exit.
fn sigkill_the_cli(freeze: bool) {
    let bin = require_server_binary();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redops"));
    cmd.args(["sandbox", "--replicas", "1", "--server-bin"])
        .arg(&bin)
        .env("NO_COLOR", "1");
    let log = tempfile::NamedTempFile::new().expect("stderr file");
    let (mut guard, rx) = spawn_owner(cmd, log.as_file());

    // Node lines: "  n1   127.0.0.1:PORT   primary   pid N", then "config: PATH".
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut nodes: Vec<(u16, u32)> = Vec::new();
    let mut head = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|e| {
            let err = std::fs::read_to_string(log.path()).unwrap_or_default();
            panic!("no config line within 30 s ({e}); stdout {head:?}; stderr {err}")
        });
        let port = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("127.0.0.1:")?.parse::<u16>().ok());
        let pid = line
            .rsplit_once(" pid ")
            .and_then(|(_, p)| p.trim().parse::<u32>().ok());
        if let (Some(port), Some(pid)) = (port, pid) {
            nodes.push((port, pid));
            guard.pids.push(pid);
        }
        let done = line.starts_with("config: ");
        head.push(line);
        if done {
            break;
        }
    }
    assert_eq!(nodes.len(), 2, "two nodes printed: {head:?}");

    let owner = guard.owner.id();
    let watchdogs: Vec<u32> = children_of(owner)
        .into_iter()
        .filter(|&p| comm(p) == "sh")
        .collect();
    assert_eq!(watchdogs.len(), 1, "one watchdog child of redops");
    let watchdog = watchdogs[0];
    guard.pids.push(watchdog);
    let (ports, pids): (Vec<u16>, Vec<u32>) = nodes.iter().copied().unzip();
    assert_pipe_not_inherited(watchdog, &pids);
    for &port in &ports {
        assert!(pings(port), "port {port} answers while redops runs");
    }
    if freeze {
        // n2 frozen: its port still accepts connections, so a refused connect later proves
        // it was killed.
        kill(pid_of(pids[1]), Signal::SIGSTOP).expect("freeze n2");
        assert!(!pings(ports[1]), "a frozen server does not answer");
        assert!(!refuses(ports[1]), "a frozen server still accepts");
    }

    sigkill_owner(&mut guard);
    let mut all = pids.clone();
    all.push(watchdog);
    if let Err(left) = wait_all_gone(&ports, &all) {
        let err = std::fs::read_to_string(log.path()).unwrap_or_default();
        panic!("servers outlived a SIGKILLed redops: {left}; stderr {err}");
    }
}

#[test]
fn a_sigkilled_redops_sandbox_leaves_no_server() {
    sigkill_the_cli(false);
}

#[test]
fn a_sigkilled_redops_sandbox_leaves_no_frozen_server() {
    sigkill_the_cli(true);
}

/// When set, the test below is the owner half of itself (a separate process).
const OWNER_ENV: &str = "REDOPS_TEST_WATCHDOG_OWNER";

/// Owner half: a sandbox whose PIDs changed after start (a kill, a restart, an added node,
/// a frozen node), printed, then waiting (bounded) to be `SIGKILLed`.
#[allow(clippy::print_stdout)] // Its stdout is what the driving test reads.
fn run_owner() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut sb = Sandbox::start(&Spec {
            replicas: 1,
            server_bin: Some(require_server_binary()),
            ..Spec::default()
        })
        .await
        .expect("sandbox starts");
        sb.kill("n2").expect("kill n2");
        sb.restart("n2").await.expect("restart n2");
        sb.add_node("x", &[]).await.expect("add x");
        sb.freeze("x").expect("freeze x");
        for n in sb.nodes() {
            println!("OWNER node {} {}", n.port, n.pid);
        }
        println!(
            "OWNER watchdog {}",
            sb.watchdog_pid().expect("a watchdog runs")
        );
        println!("OWNER ready");
        // Killed long before this ends; if not, the driver has failed already.
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
}

#[test]
fn a_sigkilled_owner_after_restart_and_add_node_leaves_no_server() {
    if std::env::var_os(OWNER_ENV).is_some() {
        run_owner();
        return;
    }
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    // The test's full name in this binary: its module path without the crate's name.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    cmd.args([
        &format!("{module}::a_sigkilled_owner_after_restart_and_add_node_leaves_no_server"),
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(OWNER_ENV, "1");
    let log = tempfile::NamedTempFile::new().expect("stderr file");
    let (mut guard, rx) = spawn_owner(cmd, log.as_file());

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut nodes: Vec<(u16, u32)> = Vec::new();
    let mut watchdog = None;
    let mut head = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|e| {
            let err = std::fs::read_to_string(log.path()).unwrap_or_default();
            panic!("owner not ready within 30 s ({e}); stdout {head:?}; stderr {err}")
        });
        // libtest prints "test NAME ... " without a newline before the first line.
        let owned = line.find("OWNER ").map_or("", |i| &line[i..]);
        let words: Vec<&str> = owned.split_whitespace().collect();
        match words.as_slice() {
            ["OWNER", "node", port, pid] => {
                let pid = pid.parse().expect("pid");
                nodes.push((port.parse().expect("port"), pid));
                guard.pids.push(pid);
            }
            ["OWNER", "watchdog", pid] => {
                let pid = pid.parse().expect("pid");
                watchdog = Some(pid);
                guard.pids.push(pid);
            }
            ["OWNER", "ready"] => break,
            _ => {}
        }
        head.push(line);
    }
    assert_eq!(nodes.len(), 3, "n1, n2 (restarted), x: {head:?}");
    let watchdog = watchdog.expect("watchdog pid printed");
    let (ports, pids): (Vec<u16>, Vec<u32>) = nodes.iter().copied().unzip();
    assert_pipe_not_inherited(watchdog, &pids);
    assert!(pings(ports[0]) && pings(ports[1]), "n1 and n2 answer");
    assert!(!refuses(ports[2]), "x is frozen but accepts");

    sigkill_owner(&mut guard);
    let mut all = pids.clone();
    all.push(watchdog);
    if let Err(left) = wait_all_gone(&ports, &all) {
        let err = std::fs::read_to_string(log.path()).unwrap_or_default();
        panic!("servers outlived a SIGKILLed owner: {left}; stderr {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_drop_reap_the_watchdog() {
    let mut sb = Sandbox::start(&Spec {
        replicas: 1,
        server_bin: Some(require_server_binary()),
        ..Spec::default()
    })
    .await
    .expect("sandbox starts");
    let watchdog = sb.watchdog_pid().expect("a watchdog runs");
    assert!(children_of(std::process::id()).contains(&watchdog));
    assert_eq!(comm(watchdog), "sh");
    let pids: Vec<u32> = sb.nodes().iter().map(|n| n.pid).collect();
    assert_pipe_not_inherited(watchdog, &pids);

    sb.freeze("n2").expect("freeze");
    sb.stop();
    assert_eq!(sb.watchdog_pid(), None, "closed by stop");
    for &p in pids.iter().chain([&watchdog]) {
        assert!(dead(p), "pid {p} still alive after stop");
    }
    // Reaped by stop, not left as a zombie.
    assert_eq!(stat(watchdog), None, "the watchdog was reaped");

    // A restart after stop is watched again, by a new watchdog; drop ends both.
    sb.restart("n1").await.expect("restart after stop");
    let second = sb.watchdog_pid().expect("a new watchdog");
    let n1 = sb.node("n1").expect("n1").pid;
    assert_pipe_not_inherited(second, &[n1]);
    drop(sb);
    assert!(dead(n1), "n1 still alive after drop");
    assert_eq!(stat(second), None, "the second watchdog was reaped");
}
