//! The fleet under test, run in a child process (this program in `fleet N` mode): real
//! `redis-server` processes in groups of three (a primary and two replicas, in sync) and
//! black-holed ports (accept, never answer). Keeping them out of the measured process means
//! its CPU and RSS are the console's work only, not server start-up, readiness probes or the
//! black holes' accept threads.
//!
//! The child prints the ports, then holds everything until its stdin closes (the parent is
//! done, panicked or was killed) and kills every server by PID. The servers stay in the
//! terminal's process group, so a Ctrl-C stops them too.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use redops::config::Addr;
use redops::sandbox::{free_port, probe, Blackhole};

/// The parent's handle on a fleet child. Dropping it closes the child's stdin and waits
/// (bounded) for it to stop its servers; past that it is killed by PID.
pub struct FleetProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    pub primaries: Vec<u16>,
    /// Two per primary, in primary order.
    pub replicas: Vec<u16>,
    pub holes: Vec<u16>,
    /// Seconds the child took to start and sync every server.
    pub start_secs: f64,
}

impl FleetProcess {
    /// Starts `groups` groups of three servers and `holes` black holes.
    pub fn start(groups: usize, holes: usize) -> Self {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .args(["fleet", &groups.to_string(), &holes.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("fleet process");
        let stdin = child.stdin.take();
        let out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut fleet = Self {
            child,
            stdin,
            primaries: Vec::new(),
            replicas: Vec::new(),
            holes: Vec::new(),
            start_secs: 0.0,
        };
        for line in out.lines() {
            let line = line.expect("fleet output");
            let (kind, value) = line.split_once(' ').unwrap_or((line.as_str(), ""));
            match kind {
                "p" => fleet.primaries.push(value.parse().expect("port")),
                "r" => fleet.replicas.push(value.parse().expect("port")),
                "h" => fleet.holes.push(value.parse().expect("port")),
                "ready" => {
                    fleet.start_secs = value.parse().expect("seconds");
                    break;
                }
                _ => panic!("unexpected fleet output {line:?}"),
            }
        }
        assert_eq!(
            fleet.primaries.len(),
            groups,
            "fleet process failed to start"
        );
        assert_eq!(fleet.replicas.len(), 2 * groups);
        assert_eq!(fleet.holes.len(), holes);
        fleet
    }
}

impl Drop for FleetProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `fleet GROUPS HOLES` mode: starts everything, prints `p|r|h PORT` lines then
/// `ready SECONDS`, and holds until stdin closes.
pub fn serve(bin: &Path, groups: usize, holes: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let t0 = Instant::now();
    let mut fleet = Fleet::new(bin);
    let (primaries, replicas) = rt.block_on(async {
        let primaries = fleet.start_all(&vec![None; groups]).await;
        let upstreams: Vec<Option<u16>> =
            primaries.iter().flat_map(|&p| [Some(p), Some(p)]).collect();
        let replicas = fleet.start_all(&upstreams).await;
        wait_synced(&replicas).await;
        (primaries, replicas)
    });
    drop(rt);
    let black: Vec<Blackhole> = (0..holes)
        .map(|_| Blackhole::start().expect("blackhole"))
        .collect();
    let mut out = std::io::stdout().lock();
    for p in &primaries {
        writeln!(out, "p {p}").expect("write");
    }
    for r in &replicas {
        writeln!(out, "r {r}").expect("write");
    }
    for h in &black {
        writeln!(out, "h {}", h.port).expect("write");
    }
    writeln!(out, "ready {:.1}", t0.elapsed().as_secs_f64()).expect("write");
    out.flush().expect("flush");
    // EOF (or an error) on stdin: the parent is done with us.
    let _ = std::io::stdin().read(&mut [0u8; 1]);
    drop(black);
    fleet.stop();
}

/// Lean servers (no persistence, no debug command) owned by PID; killed on drop.
struct Fleet {
    bin: PathBuf,
    dir: tempfile::TempDir,
    children: Vec<Child>,
    used: HashSet<u16>,
}

impl Fleet {
    fn new(bin: &Path) -> Self {
        Self {
            bin: bin.to_path_buf(),
            dir: tempfile::Builder::new()
                .prefix("redops-poll-bench-")
                .tempdir()
                .expect("temp dir"),
            children: Vec::new(),
            used: HashSet::new(),
        }
    }

    fn port(&mut self) -> u16 {
        for _ in 0..100 {
            let p = free_port();
            if self.used.insert(p) {
                return p;
            }
        }
        panic!("no unused free port found");
    }

    fn spawn(&mut self, port: u16, upstream: Option<u16>) -> usize {
        let dir = self.dir.path().join(port.to_string());
        std::fs::create_dir_all(&dir).expect("server dir");
        let mut cmd = Command::new(&self.bin);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&dir)
            .args(["--daemonize", "no", "--save", "", "--appendonly", "no"])
            .args(["--repl-diskless-sync-delay", "0"])
            .arg("--logfile")
            .arg(dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(up) = upstream {
            cmd.args(["--replicaof", "127.0.0.1", &up.to_string()]);
        }
        self.children.push(cmd.spawn().expect("spawn redis-server"));
        self.children.len() - 1
    }

    /// Starts one server per entry (a replica of the given port, or a primary) and waits
    /// until each answers; a server whose port was taken is started again on another.
    async fn start_all(&mut self, upstreams: &[Option<u16>]) -> Vec<u16> {
        let mut ports: Vec<u16> = Vec::with_capacity(upstreams.len());
        let mut idx: Vec<usize> = Vec::with_capacity(upstreams.len());
        for &up in upstreams {
            let p = self.port();
            ports.push(p);
            idx.push(self.spawn(p, up));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut pending: Vec<usize> = (0..upstreams.len()).collect();
        while !pending.is_empty() {
            assert!(
                Instant::now() < deadline,
                "{} servers did not start",
                pending.len()
            );
            let probes = pending.iter().map(|&i| {
                let addr = Addr {
                    host: "127.0.0.1".into(),
                    port: ports[i],
                };
                async move { probe("bench", &addr).await.is_ok() }
            });
            let up = futures::future::join_all(probes).await;
            let mut still = Vec::new();
            for (&i, ok) in pending.iter().zip(up) {
                if ok {
                    continue;
                }
                if let Ok(Some(_)) = self.children[idx[i]].try_wait() {
                    // Exited at start (port taken meanwhile): again on a fresh port.
                    ports[i] = self.port();
                    idx[i] = self.spawn(ports[i], upstreams[i]);
                }
                still.push(i);
            }
            pending = still;
            if !pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        ports
    }

    fn stop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
        self.children.clear();
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn wait_synced(replicas: &[u16]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let probes = replicas.iter().map(|&port| async move {
            let addr = Addr {
                host: "127.0.0.1".into(),
                port,
            };
            probe("bench", &addr)
                .await
                .is_ok_and(|s| s.is_synced_replica())
        });
        let synced = futures::future::join_all(probes)
            .await
            .into_iter()
            .filter(|&ok| ok)
            .count();
        if synced == replicas.len() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {synced} of {} replicas in sync",
            replicas.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
