//! Cluster snapshot benchmark: on one sandbox Redis Cluster (3 primaries, 1 replica each),
//! each shard holding `REDOPS_BENCH_KEYS` keys (default 200000, made with `DEBUG POPULATE`)
//! and written to by one cluster-aware writer per shard (`RPUSH {tag}:log i`), runs N
//! `snapshot --all` without a pause and N with `--pause 5000`, through the session and the
//! engine as the CLI does. Prints per mode: the spread of the cut (first to last transfer
//! begun, from the cluster manifest), how long writes were paused, the write stall (longest
//! gap between two acknowledged writes of any writer during the run) and the run's duration.
//! Median and max.
//!
//! `cargo bench --bench cluster_snapshot` (N = 5; set `REDOPS_BENCH_N` to change it).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

#[path = "../tests/common/cluster_writer.rs"]
mod writer;

use std::time::{Duration, Instant, SystemTime};

use redops::audit::AuditLog;
use redops::backup::cluster as cb;
use redops::config::Config;
use redops::ops::redis_ops::action_client_name;
use redops::ops::session::{self, Context};
use redops::ops::snapshot::cluster::AllPrimaries;
use redops::ops::{ActionKind, Approval, RealOps, Request, RunStatus};
use redops::sandbox::{ClusterShape, Sandbox, Spec};
use writer::{client, ClusterWriter};

struct Sample {
    spread: Duration,
    paused: Option<Duration>,
    stall: Duration,
    duration: Duration,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One `snapshot --all`, with the writers' longest stall during it.
async fn once(config: &Config, pause: Option<Duration>, writers: &[ClusterWriter]) -> Sample {
    let topology = redops::cli::status::poll(config, None).await;
    let ctx = Context {
        config,
        topology: &topology,
        marks: &[],
        read_only: false,
        now: SystemTime::now(),
    };
    let req = Request {
        all: Some(AllPrimaries { pause }),
        ..Request::new(ActionKind::Snapshot, None)
    };
    let p = session::prepare(&ctx, &req)
        .expect("a plan")
        .into_run()
        .expect("a run");
    let ops = RealOps::new(
        &p.config,
        0,
        &action_client_name("bench", "host", std::process::id()),
    )
    .expect("ops");
    let mut log = AuditLog::open(&p.config.console.audit_log).expect("audit log");
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let approval = Approval {
        confirmation: Some("yes".into()),
        ..Approval::default()
    };
    let started = Instant::now();
    let outcome = redops::ops::run(&p.plan, &approval, &ops, &mut log, &tx).await;
    let duration = started.elapsed();
    assert_eq!(outcome.status, RunStatus::Done, "{outcome:?}");
    // The gap that ends after the run (writes held by the pause) counts too.
    for w in writers {
        w.wait_more(20).await;
    }
    let stall = writers
        .iter()
        .map(|w| w.max_gap(started, Instant::now()))
        .max()
        .unwrap_or_default();
    let (entries, _) = cb::load(&config.console.backups_dir, None);
    let m = &entries.first().expect("a cluster manifest").manifest;
    Sample {
        spread: Duration::from_millis(m.spread_ms),
        paused: m.paused_ms.map(Duration::from_millis),
        stall,
        duration,
    }
}

fn report(name: &str, samples: &[Sample]) {
    let col = |f: &dyn Fn(&Sample) -> Duration| {
        let v: Vec<Duration> = samples.iter().map(f).collect();
        let max = v.iter().max().copied().unwrap_or_default();
        format!("{:>8} {:>8}", ms(median(v)), ms(max))
    };
    println!(
        "{name:<22} {}  {}  {}  {}",
        col(&|s| s.spread),
        col(&|s| s.paused.unwrap_or_default()),
        col(&|s| s.stall),
        col(&|s| s.duration)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_usize("REDOPS_BENCH_N", 5).max(1);
    let keys = env_usize("REDOPS_BENCH_KEYS", 200_000);
    let shape = ClusterShape {
        primaries: 3,
        replicas: 1,
        node_timeout: ClusterShape::DEFAULT_NODE_TIMEOUT,
    };
    let sb = Sandbox::start_cluster(shape, &Spec::default())
        .await
        .expect("a sandbox cluster");
    let config = sb.config();
    let mut writers = Vec::new();
    for i in 0..3 {
        let (a, b) = shape.slots_of(i);
        let tag = redops::cluster::tag_in(a, b).expect("a tag");
        let node = &config.groups[0].nodes[i];
        let mut cmd = redis::cmd("DEBUG");
        cmd.arg("POPULATE")
            .arg(keys)
            .arg(format!("{tag}:k"))
            .arg(64);
        client(node)
            .query::<()>(&cmd)
            .await
            .expect("DEBUG POPULATE");
        writers.push(ClusterWriter::start(node.clone(), format!("{tag}:log")));
    }
    for w in &writers {
        w.wait_more(100).await;
    }
    println!(
        "cluster snapshot --all: 3 primaries x {keys} keys (64-byte values), a writer on each \
         shard, {n} runs per mode"
    );
    println!(
        "{:<22} {:>17}  {:>17}  {:>17}  {:>17}",
        "", "cut spread ms", "paused ms", "write stall ms", "run ms"
    );
    println!(
        "{:<22} {:>8} {:>8}  {:>8} {:>8}  {:>8} {:>8}  {:>8} {:>8}",
        "mode", "median", "max", "median", "max", "median", "max", "median", "max"
    );
    let mut plain = Vec::new();
    let mut paused = Vec::new();
    for _ in 0..n {
        plain.push(once(&config, None, &writers).await);
        paused.push(once(&config, Some(Duration::from_secs(5)), &writers).await);
    }
    report("no pause", &plain);
    report("--pause 5000", &paused);
    for w in writers {
        w.stop().await;
    }
    drop(sb);
}
