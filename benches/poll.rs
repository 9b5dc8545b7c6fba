//! Poll benchmark: how the poller and the console's per-second work scale with fleet size.
//!
//! For each size (default 60, 200 and 500 nodes; give others as arguments:
//! `cargo bench --bench poll -- 60 200`) it starts real `redis-server` processes on loopback in
//! groups of three (a primary and two replicas, in sync) plus 10% black-holed ports (accept,
//! never answer), then measures:
//! - one full `poller::poll_once` cycle, 5 times (median and max);
//! - steady state with `poller::spawn` at a 1 s interval for 15 s, consumed the way the console
//!   does (FleetState::apply, History::record, topology::build once a second): CPU of this
//!   process as % of one core, RSS, observations per second, and the longest gap between two
//!   observations of one node (a cycle must finish within interval + timeout).
//!
//! Every server is killed by PID when a size is done, and on panic (Drop). The servers stay in
//! this process's process group, so a Ctrl-C in the terminal stops them too.

#![allow(clippy::print_stdout, clippy::cast_precision_loss)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::resource::{getrlimit, getrusage, setrlimit, Resource, UsageWho};
use redops::config::{Addr, Config, Console, Group, LagThresholds, Node};
use redops::history::History;
use redops::observe::{FleetState, NodeId};
use redops::sandbox::{free_port, probe, require_server_binary, Blackhole};

const INTERVAL: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_millis(500);
const STEADY: Duration = Duration::from_secs(15);
const CYCLES: usize = 5;

#[path = "poll/micro.rs"]
mod micro;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "micro") {
        micro::run(args.iter().any(|a| a == "quick"));
        return;
    }
    if let [mode, n] = args.as_slice() {
        if mode == "holes" {
            hold_blackholes(n.parse().unwrap_or(0));
            return;
        }
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .filter(|&n| n >= 4)
        .collect();
    let sizes = if sizes.is_empty() {
        vec![60, 200, 500]
    } else {
        sizes
    };
    let bin = require_server_binary();
    raise_open_files();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!(
        "poll benchmark: {} ({} cores), interval {}ms, timeout {}ms, connect_timeout {}ms",
        version(&bin),
        std::thread::available_parallelism().map_or(0, usize::from),
        INTERVAL.as_millis(),
        TIMEOUT.as_millis(),
        TIMEOUT.as_millis()
    );
    let mut rows = Vec::new();
    for &n in &sizes {
        let started = Instant::now();
        let row = rt.block_on(run_size(&bin, n));
        println!(
            "  {n} nodes measured in {:.0}s",
            started.elapsed().as_secs_f64()
        );
        rows.push(row);
    }
    print_table(&rows);
}

/// Figures for one fleet size.
struct Row {
    nodes: usize,
    servers: usize,
    blackholes: usize,
    start_secs: f64,
    /// Fewest nodes that answered in one poll_once cycle (all real servers, no black hole).
    answered_min: usize,
    cycle_median: Duration,
    cycle_max: Duration,
    cpu_pct: f64,
    rss_before_mb: f64,
    rss_mb: f64,
    rss_full_mb: f64,
    obs_per_sec: f64,
    max_gap: Duration,
    build_max: Duration,
}

async fn run_size(bin: &Path, n: usize) -> Row {
    let groups = (n - n / 10) / 3;
    let holes = n - 3 * groups;
    let t0 = Instant::now();
    let mut fleet = Fleet::new(bin);
    let primaries = fleet.start_all(&vec![None; groups]).await;
    let upstreams: Vec<Option<u16>> = primaries.iter().flat_map(|&p| [Some(p), Some(p)]).collect();
    let replicas = fleet.start_all(&upstreams).await;
    wait_synced(&replicas).await;
    let blackholes = Holes::start(holes);
    let start_secs = t0.elapsed().as_secs_f64();
    let config = config(&primaries, &replicas, &blackholes.ports);

    let mut cycles = Vec::with_capacity(CYCLES);
    let mut answered_min = usize::MAX;
    for _ in 0..CYCLES {
        let t = Instant::now();
        let obs = redops::poller::poll_once(&config).await;
        cycles.push(t.elapsed());
        assert_eq!(obs.len(), n, "one observation per node");
        // Real servers that did not answer in time are reported, not fatal.
        let ok = obs.iter().filter(|o| o.result.is_ok()).count();
        answered_min = answered_min.min(ok);
    }
    cycles.sort();

    let steady = steady_state(&config).await;
    drop(blackholes);
    fleet.stop();
    Row {
        nodes: n,
        servers: 3 * groups,
        blackholes: holes,
        start_secs,
        answered_min,
        cycle_median: cycles[CYCLES / 2],
        cycle_max: cycles[CYCLES - 1],
        cpu_pct: steady.cpu_pct,
        rss_before_mb: steady.rss_before_mb,
        rss_mb: steady.rss_mb,
        rss_full_mb: steady.rss_full_mb,
        obs_per_sec: steady.obs_per_sec,
        max_gap: steady.max_gap,
        build_max: steady.build_max,
    }
}

struct Steady {
    cpu_pct: f64,
    rss_before_mb: f64,
    rss_mb: f64,
    rss_full_mb: f64,
    obs_per_sec: f64,
    max_gap: Duration,
    build_max: Duration,
}

/// Fills every node's history to `history_len` points by recording its latest observation
/// again (as the console would after `history_len` polls), builds the topology once, and
/// returns the RSS then: the steady-state memory with full buffers.
fn fill_history(config: &Config, fleet: &FleetState, history: &mut History) -> f64 {
    let cap = config.console.history_len;
    for (gi, g) in fleet.groups.iter().enumerate() {
        for (ni, status) in g.iter().enumerate() {
            let id = NodeId {
                group: gi,
                node: ni,
            };
            let Some(latest) = &status.latest else {
                continue;
            };
            let mut obs = latest.clone();
            while history.len(id) < cap {
                obs.at += INTERVAL;
                history.record(&obs);
            }
        }
    }
    let topo = redops::topology::build(config, fleet, history, SystemTime::now());
    history.record_lag(&topo);
    rss_mb()
}

/// Runs the pollers for [`STEADY`] and consumes like the console.
async fn steady_state(config: &Config) -> Steady {
    let rss_before_mb = rss_mb();
    let mut fleet = FleetState::new(config);
    let mut history = History::new(config.console.history_len);
    let mut last_seen: HashMap<NodeId, SystemTime> = HashMap::new();
    let mut max_gap = Duration::ZERO;
    let mut build_max = Duration::ZERO;
    let (pollers, mut rx) = redops::poller::spawn(config);
    // Let every poller make its first poll (and black holes their first timeout) before
    // measuring, so connection set-up is not counted as steady state.
    let warmup = Instant::now() + INTERVAL * 2;
    while let Ok(Some(obs)) = tokio::time::timeout_at(warmup.into(), rx.recv()).await {
        last_seen.insert(obs.id, obs.at);
        fleet.apply(obs);
    }
    let cpu0 = cpu_seconds();
    let csw0 = context_switches();
    let wall0 = Instant::now();
    let end = wall0 + STEADY;
    let mut tick = tokio::time::interval(INTERVAL);
    let mut received = 0u64;
    let mut gaps_real: Vec<Duration> = Vec::new();
    let mut gaps_hole: Vec<Duration> = Vec::new();
    let mut errs: HashMap<String, u64> = HashMap::new();
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(end.into()) => break,
            _ = tick.tick() => {
                let t = Instant::now();
                let topo = redops::topology::build(config, &fleet, &history, SystemTime::now());
                history.record_lag(&topo);
                build_max = build_max.max(t.elapsed());
            }
            obs = rx.recv() => {
                let Some(obs) = obs else { break };
                received += 1;
                if let Some(prev) = last_seen.insert(obs.id, obs.at) {
                    let g = obs.at.duration_since(prev).unwrap_or_default();
                    max_gap = max_gap.max(g);
                    if obs.id.node >= 3 { gaps_hole.push(g) } else { gaps_real.push(g) }
                }
                if let Err(e) = &obs.result {
                    *errs.entry(format!("{}{}", if obs.id.node >= 3 {"hole "} else {"real "}, e.state().as_str())).or_default() += 1;
                }
                history.record(&obs);
                fleet.apply(obs);
            }
        }
    }
    let wall = wall0.elapsed().as_secs_f64();
    gaps_real.sort();
    gaps_hole.sort();
    let pct = |v: &Vec<Duration>, p: f64| {
        v.get(((v.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    println!("DIAG real gaps n={} p50={:?} p99={:?} max={:?}; hole gaps n={} p50={:?} p99={:?} max={:?}; errs {:?}",
        gaps_real.len(), pct(&gaps_real, 0.5), pct(&gaps_real, 0.99), gaps_real.last(),
        gaps_hole.len(), pct(&gaps_hole, 0.5), pct(&gaps_hole, 0.99), gaps_hole.last(), errs);
    let cpu = cpu_seconds() - cpu0;
    println!(
        "DIAG context switches/s: {:.0}",
        (context_switches() - csw0) as f64 / wall0.elapsed().as_secs_f64()
    );
    let rss = rss_mb();
    drop(pollers);
    let rss_full_mb = fill_history(config, &fleet, &mut history);
    Steady {
        cpu_pct: 100.0 * cpu / wall,
        rss_before_mb,
        rss_mb: rss,
        rss_full_mb,
        obs_per_sec: received as f64 / wall,
        max_gap,
        build_max,
    }
}

fn config(primaries: &[u16], replicas: &[u16], holes: &[u16]) -> Config {
    let node = |name: String, port: u16| Node {
        name,
        addr: Addr {
            host: "127.0.0.1".into(),
            port,
        },
        username: None,
        password: None,
        tls: None,
    };
    let mut groups: Vec<Group> = primaries
        .iter()
        .enumerate()
        .map(|(i, &p)| Group {
            name: format!("g{i}"),
            env: None,
            read_only: true,
            preferred_primary: Some("p".into()),
            lag: LagThresholds::default(),
            sentinel: None,
            cluster: false,
            nodes: vec![
                node("p".into(), p),
                node("r1".into(), replicas[2 * i]),
                node("r2".into(), replicas[2 * i + 1]),
            ],
        })
        .collect();
    let count = groups.len().max(1);
    for (i, &port) in holes.iter().enumerate() {
        let g = &mut groups[i % count];
        let name = format!("dead{i}");
        g.nodes.push(node(name, port));
    }
    Config {
        console: Console {
            poll_interval: INTERVAL,
            connect_timeout: TIMEOUT,
            timeout: TIMEOUT,
            ..Console::default()
        },
        groups,
        source: None,
    }
}

/// Black holes in a child process (this program in `holes` mode), so their accept threads are
/// not counted in the CPU of the process under measurement. Killed by PID on drop.
struct Holes {
    child: Child,
    ports: Vec<u16>,
}

impl Holes {
    fn start(n: usize) -> Self {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .args(["holes", &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("black hole process");
        let out = child.stdout.take().expect("piped stdout");
        let ports: Vec<u16> = std::io::BufRead::lines(std::io::BufReader::new(out))
            .take(n)
            .map(|l| l.expect("port line").trim().parse().expect("port"))
            .collect();
        assert_eq!(ports.len(), n, "black hole process gave too few ports");
        Self { child, ports }
    }
}

impl Drop for Holes {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `holes N` mode: N black holes, their ports on stdout, held until stdin closes (the parent
/// exited or dropped us) or their lifetime ends.
fn hold_blackholes(n: usize) {
    use std::io::{Read, Write};
    let holes: Vec<Blackhole> = (0..n)
        .map(|_| Blackhole::start().expect("blackhole"))
        .collect();
    let mut out = std::io::stdout().lock();
    for h in &holes {
        writeln!(out, "{}", h.port).expect("write port");
    }
    out.flush().expect("flush");
    let _ = std::io::stdin().read(&mut [0u8; 1]);
    drop(holes);
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

fn raise_open_files() {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    let want = hard.min(65_536);
    if soft < want {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, want, hard);
    }
}

fn cpu_seconds() -> f64 {
    let u = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    tv(u.user_time()) + tv(u.system_time())
}

/// Voluntary and involuntary context switches of every thread of this process so far.
fn context_switches() -> i64 {
    let u = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    u.voluntary_context_switches() + u.involuntary_context_switches()
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn version(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| {
            let mut w = s.split_whitespace();
            let product = w.next()?.to_string();
            let v = w.find_map(|x| x.strip_prefix("v="))?.to_string();
            Some(format!("{product} {v}"))
        })
        .unwrap_or_else(|| bin.display().to_string())
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

fn print_table(rows: &[Row]) {
    let budget = INTERVAL + TIMEOUT;
    println!();
    println!(
        "{:>5} {:>7} {:>5} {:>7} | {:>8} {:>10} {:>9} | {:>6} {:>13} {:>8} {:>7} {:>9} {:>9} {:>7}",
        "nodes",
        "servers",
        "holes",
        "start_s",
        "answered",
        "cycle_med",
        "cycle_max",
        "cpu%",
        "rss_mb",
        "rss_full",
        "obs/s",
        "max_gap",
        "build_max",
        "within"
    );
    for r in rows {
        let within = r.cycle_max <= budget && r.max_gap <= budget;
        println!(
            "{:>5} {:>7} {:>5} {:>7.1} | {:>8} {:>8}ms {:>7}ms | {:>6.1} {:>6.1}->{:<6.1} {:>8.1} {:>7.1} {:>7}ms {:>7}ms {:>7}",
            r.nodes,
            r.servers,
            r.blackholes,
            r.start_secs,
            r.answered_min,
            ms(r.cycle_median),
            ms(r.cycle_max),
            r.cpu_pct,
            r.rss_before_mb,
            r.rss_mb,
            r.rss_full_mb,
            r.obs_per_sec,
            ms(r.max_gap),
            ms(r.build_max),
            if within { "yes" } else { "NO" }
        );
    }
    println!();
    println!("answered: fewest nodes answering INFO in one poll_once cycle (should be = servers)");
    println!("cycle_med/max: one full poll_once over every node ({CYCLES} runs)");
    println!(
        "cpu%: this process (pollers + consumer; black holes run in a child), user+sys over {}s, % of one core",
        STEADY.as_secs()
    );
    println!("rss_mb: before the pollers started -> after the steady-state run");
    println!("rss_full: after filling every node's history to history_len points (steady state)");
    println!("max_gap: longest time between two observations of one node in steady state");
    println!("build_max: slowest topology::build of the run");
    println!(
        "within: full cycle and every node's gap <= interval + timeout ({}ms)",
        budget.as_millis()
    );
}
