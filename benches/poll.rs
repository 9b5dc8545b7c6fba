//! Poll benchmark: how the poller and the console's per-second work scale with fleet size.
//!
//! For each size (default 60, 200 and 500 nodes; give others as arguments:
//! `cargo bench --bench poll -- 60 200`; `holes=50` for 50% dead nodes) a fresh process (this
//! program in `size N` mode) gets a fleet from a child (`fleet.rs`: real `redis-server`
//! processes on loopback in groups of three, a primary and two replicas in sync, plus 10%
//! black-holed ports that accept and never answer), then measures, in this order:
//! - steady state with `poller::spawn` at a 1 s interval for 15 s, consumed the way the console
//!   does (`FleetState::apply`, `History::record`, `topology::build` once a second): CPU of the
//!   process as % of one core (getrusage, user+sys), context switches, RSS, observations per
//!   second, and the longest gap between two observations of one node (a cycle must finish
//!   within interval + timeout, dead nodes included);
//! - RSS again after every node's history is filled to `history_len` points (steady state
//!   after ten minutes), by recording each node's latest observation again;
//! - one full `poller::poll_once` cycle, 5 times (median and max).
//!
//! `workers=W` sets the tokio worker threads of the measured process (default 2).
//! `micro` runs the server-less micro-benchmarks instead (`micro.rs`).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_precision_loss
)]

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::resource::{getrlimit, getrusage, setrlimit, Resource, UsageWho};
use redops::config::{Addr, Config, Console, Group, LagThresholds, Node};
use redops::history::History;
use redops::observe::{FleetState, NodeId};
use redops::sandbox::require_server_binary;
use serde::{Deserialize, Serialize};

const INTERVAL: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_millis(500);
const STEADY: Duration = Duration::from_secs(15);
const CYCLES: usize = 5;

#[path = "poll/fleet.rs"]
mod fleet;
#[path = "poll/micro.rs"]
mod micro;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| {
        args.get(i)
            .and_then(|a| a.parse::<usize>().ok())
            .unwrap_or(0)
    };
    match args.first().map(String::as_str) {
        Some("micro") => return micro::run(args.iter().any(|a| a == "quick")),
        Some("fleet") => return fleet::serve(&require_server_binary(), num(1), num(2)),
        Some("size") => return measure_one(num(1), num(2), num(3)),
        _ => {}
    }
    // `holes=P`: P% of the nodes are black holes (default 10).
    let holes_pct = args
        .iter()
        .find_map(|a| a.strip_prefix("holes=")?.parse::<usize>().ok())
        .unwrap_or(10)
        .min(90);
    // `workers=W`: tokio worker threads of the measured process (default 2, as the console
    // gets on this 2-core machine).
    let workers = args
        .iter()
        .find_map(|a| a.strip_prefix("workers=")?.parse::<usize>().ok())
        .unwrap_or(2)
        .max(1);
    let sizes: Vec<usize> = args
        .iter()
        .filter_map(|a| a.parse().ok())
        .filter(|&n| n >= 4)
        .collect();
    let sizes = if sizes.is_empty() {
        vec![60, 200, 500]
    } else {
        sizes
    };
    let bin = require_server_binary();
    println!(
        "poll benchmark: {} ({} cores), interval {}ms, timeout {}ms, connect_timeout {}ms",
        version(&bin),
        std::thread::available_parallelism().map_or(0, usize::from),
        INTERVAL.as_millis(),
        TIMEOUT.as_millis(),
        TIMEOUT.as_millis()
    );
    let exe = std::env::current_exe().expect("own path");
    let mut rows = Vec::new();
    for &n in &sizes {
        let started = Instant::now();
        let out = Command::new(&exe)
            .args([
                "size",
                &n.to_string(),
                &holes_pct.to_string(),
                &workers.to_string(),
            ])
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run one size");
        let text = String::from_utf8_lossy(&out.stdout);
        let row: Row = text
            .lines()
            .find_map(|l| l.strip_prefix("ROW "))
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_else(|| panic!("size {n} failed ({}):\n{text}", out.status));
        println!(
            "  {n} nodes measured in {:.0}s",
            started.elapsed().as_secs_f64()
        );
        rows.push(row);
    }
    print_table(&rows);
}

/// Figures for one fleet size.
#[derive(Serialize, Deserialize)]
struct Row {
    nodes: usize,
    servers: usize,
    blackholes: usize,
    start_secs: f64,
    /// Fewest nodes that answered in one `poll_once` cycle (all real servers, no black hole).
    answered_min: usize,
    cycle_median: Duration,
    cycle_max: Duration,
    cpu_pct: f64,
    /// The system (kernel) part of `cpu_pct`.
    sys_pct: f64,
    csw_per_sec: f64,
    rss_before_mb: f64,
    rss_mb: f64,
    rss_full_mb: f64,
    obs_per_sec: f64,
    /// Longest gap between two observations of a real server, and of a black hole.
    max_gap_server: Duration,
    max_gap_hole: Duration,
    build_max: Duration,
}

/// `size N` mode: one size in this fresh process; prints the row as `ROW <json>`.
fn measure_one(n: usize, holes_pct: usize, workers: usize) {
    assert!(n >= 4, "size must be at least 4");
    raise_open_files();
    let groups = ((n - n * holes_pct / 100) / 3).max(1);
    let holes = n - 3 * groups;
    let fleet = fleet::FleetProcess::start(groups, holes);
    let config = config(&fleet.primaries, &fleet.replicas, &fleet.holes);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .enable_all()
        .build()
        .expect("tokio runtime");
    let steady = rt.block_on(steady_state(&config));
    let mut cycles = Vec::with_capacity(CYCLES);
    let mut answered_min = usize::MAX;
    for _ in 0..CYCLES {
        let t = Instant::now();
        let obs = rt.block_on(redops::poller::poll_once(&config));
        cycles.push(t.elapsed());
        assert_eq!(obs.len(), n, "one observation per node");
        // Real servers that did not answer in time are reported, not fatal.
        let ok = obs.iter().filter(|o| o.result.is_ok()).count();
        answered_min = answered_min.min(ok);
    }
    cycles.sort();
    let row = Row {
        nodes: n,
        servers: 3 * groups,
        blackholes: holes,
        start_secs: fleet.start_secs,
        answered_min,
        cycle_median: cycles[CYCLES / 2],
        cycle_max: cycles[CYCLES - 1],
        cpu_pct: steady.cpu_pct,
        sys_pct: steady.sys_pct,
        csw_per_sec: steady.csw_per_sec,
        rss_before_mb: steady.rss_before_mb,
        rss_mb: steady.rss_mb,
        rss_full_mb: steady.rss_full_mb,
        obs_per_sec: steady.obs_per_sec,
        max_gap_server: steady.max_gap_server,
        max_gap_hole: steady.max_gap_hole,
        build_max: steady.build_max,
    };
    drop(fleet);
    println!("ROW {}", serde_json::to_string(&row).expect("json"));
}

struct Steady {
    cpu_pct: f64,
    sys_pct: f64,
    csw_per_sec: f64,
    rss_before_mb: f64,
    rss_mb: f64,
    rss_full_mb: f64,
    obs_per_sec: f64,
    max_gap_server: Duration,
    max_gap_hole: Duration,
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
    let mut max_gap_server = Duration::ZERO;
    let mut max_gap_hole = Duration::ZERO;
    let mut build_max = Duration::ZERO;
    let (pollers, mut rx) = redops::poller::spawn(config);
    // Let every poller make its first poll (and black holes their first timeout) before
    // measuring, so connection set-up is not counted as steady state.
    let warmup = Instant::now() + INTERVAL * 2;
    while let Ok(Some(obs)) = tokio::time::timeout_at(warmup.into(), rx.recv()).await {
        last_seen.insert(obs.id, obs.at);
        history.record(&obs);
        fleet.apply(obs);
    }
    let cpu0 = cpu_seconds();
    let csw0 = context_switches();
    let wall0 = Instant::now();
    let end = wall0 + STEADY;
    let mut tick = tokio::time::interval(INTERVAL);
    let mut received = 0u64;
    let stop = tokio::time::sleep_until(end.into());
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
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
                    let gap = obs.at.duration_since(prev).unwrap_or_default();
                    // Black holes are the nodes past the group's three servers.
                    let max = if obs.id.node >= 3 { &mut max_gap_hole } else { &mut max_gap_server };
                    *max = (*max).max(gap);
                }
                history.record(&obs);
                fleet.apply(obs);
            }
        }
    }
    let wall = wall0.elapsed().as_secs_f64();
    let cpu1 = cpu_seconds();
    let (user, sys) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
    let csw = context_switches() - csw0;
    let rss = rss_mb();
    drop(pollers);
    let rss_full_mb = fill_history(config, &fleet, &mut history);
    Steady {
        cpu_pct: 100.0 * (user + sys) / wall,
        sys_pct: 100.0 * sys / wall,
        csw_per_sec: csw as f64 / wall,
        rss_before_mb,
        rss_mb: rss,
        rss_full_mb,
        obs_per_sec: received as f64 / wall,
        max_gap_server,
        max_gap_hole,
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

fn raise_open_files() {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    let want = hard.min(65_536);
    if soft < want {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, want, hard);
    }
}

/// User and system CPU seconds of this process so far.
fn cpu_seconds() -> (f64, f64) {
    let u = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    (tv(u.user_time()), tv(u.system_time()))
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
        "{:>5} {:>7} {:>5} | {:>6} {:>5} {:>6} | {:>7} {:>8} {:>8} | {:>6} {:>8} {:>8} {:>9} | {:>9} {:>9} {:>8} | {:>6}",
        "nodes", "servers", "holes", "cpu%", "sys%", "csw/s", "rss_mb", "rss_stdy", "rss_full", "obs/s",
        "gap_srv", "gap_hole", "build_max", "cycle_med", "cycle_max", "answered", "within"
    );
    for r in rows {
        let gap = r.max_gap_server.max(r.max_gap_hole);
        let within = r.cycle_max <= budget && gap <= budget;
        println!(
            "{:>5} {:>7} {:>5} | {:>6.1} {:>5.1} {:>6.0} | {:>7.1} {:>8.1} {:>8.1} | {:>6.1} {:>6}ms {:>6}ms {:>7}ms | {:>7}ms {:>7}ms {:>8} | {:>6}",
            r.nodes,
            r.servers,
            r.blackholes,
            r.cpu_pct,
            r.sys_pct,
            r.csw_per_sec,
            r.rss_before_mb,
            r.rss_mb,
            r.rss_full_mb,
            r.obs_per_sec,
            ms(r.max_gap_server),
            ms(r.max_gap_hole),
            ms(r.build_max),
            ms(r.cycle_median),
            ms(r.cycle_max),
            r.answered_min,
            if within { "yes" } else { "NO" }
        );
    }
    println!();
    println!(
        "cpu%: the measuring process (pollers + consumer; servers and black holes run in a \
         child), user+sys over {}s of steady state, % of one core",
        STEADY.as_secs()
    );
    println!("sys%: the kernel's part of cpu% (TCP, epoll, timers, context switches)");
    println!("csw/s: its context switches (voluntary + involuntary) per second, same window");
    println!("rss_mb: before the pollers started; rss_stdy: after the steady-state run");
    println!("rss_full: after filling every node's history to history_len points (steady state)");
    println!("gap_srv/gap_hole: longest time between two observations of one server / black hole");
    println!("build_max: slowest topology::build of the run");
    println!("cycle_med/max: one full poll_once over every node ({CYCLES} runs, after the rest)");
    println!("answered: fewest nodes answering INFO in one poll_once cycle (should be = servers)");
    println!(
        "within: full cycle and every node's gap <= interval + timeout ({}ms)",
        budget.as_millis()
    );
}
