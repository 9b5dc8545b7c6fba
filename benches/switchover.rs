//! Switchover benchmark: on one sandbox (a primary and two replicas of real redis-server) and
//! one writer doing `SET w:i i` on one connection, runs N switchovers with redops's manual
//! strategy and N with the native `FAILOVER TO` strategy (back and forth between two nodes),
//! and prints per strategy: the write stall (longest gap between acknowledged writes), the
//! acknowledged writes lost, the total duration, and the longest gap during the snapshot gate
//! (which runs before the pause and must not stall writes). Median and max.
//!
//! `cargo bench --bench switchover` (N = 10; set `REDOPS_BENCH_N` to change it).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

#[path = "../tests/common/cluster.rs"]
mod support;

use std::time::{Duration, Instant};

use redops::audit::AuditLog;
use redops::ops::redis_ops::action_client_name;
use redops::ops::switchover::{plan_switchover, SwitchoverRequest};
use redops::ops::{self, Approval, Budgets, RealOps, RunEvent, RunStatus, Strategy};
use support::{missing_keys, Cluster, WriterHandle};

struct Sample {
    stall: Duration,
    gate_stall: Duration,
    duration: Duration,
    lost: usize,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

async fn one(
    c: &Cluster,
    writer: &WriterHandle,
    strategy: Strategy,
    to: &str,
    checked: &mut usize,
) -> Sample {
    let config = c.config(None);
    let req = SwitchoverRequest {
        to: to.into(),
        strategy,
        budgets: Budgets::default(),
        download_dir: None,
    };
    // The links settle within a moment after the previous switchover.
    let mut plan = None;
    for _ in 0..100 {
        let topo = redops::cli::status::snapshot(&config).await;
        let p = plan_switchover(&config, &topo, &req).unwrap();
        if p.checks_pass() {
            plan = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let plan = plan.expect("the group did not settle for a new switchover");
    let ops = RealOps::new(
        &config,
        0,
        &action_client_name("bench", "host", std::process::id()),
    )
    .unwrap();
    let mut log = AuditLog::open(&config.console.audit_log).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let events = tokio::spawn(async move {
        let mut gate = (None, None);
        while let Some(e) = rx.recv().await {
            match e {
                RunEvent::SnapshotStarted { .. } => gate.0 = Some(Instant::now()),
                RunEvent::SnapshotVerified { .. } => gate.1 = Some(Instant::now()),
                _ => {}
            }
        }
        gate
    });
    let approval = Approval {
        confirmation: Some(to.into()),
        ..Approval::default()
    };
    let start = Instant::now();
    let out = ops::run(&plan, &approval, &ops, &mut log, &tx).await;
    let end = Instant::now();
    drop(tx);
    let (g0, g1) = events.await.unwrap();
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    writer.wait_more(300).await;
    let stall = writer.max_gap(start, Instant::now());
    let gate_stall = match (g0, g1) {
        (Some(a), Some(b)) => writer.max_gap(a, b),
        _ => Duration::ZERO,
    };
    let acked = writer.acked();
    let primary = c.port(to);
    let lost = missing_keys(primary, &acked[*checked..]).await.len();
    *checked = acked.len();
    Sample {
        stall,
        gate_stall,
        duration: end - start,
        lost,
    }
}

fn main() {
    let n: usize = std::env::var("REDOPS_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = Cluster::start(&["r0", "r1", "r2"], &[]).await;
        let writer = WriterHandle::start(c.ports());
        writer.wait_more(500).await;
        let mut checked = 0usize;
        let mut rows = Vec::new();
        for strategy in [Strategy::Manual, Strategy::Native] {
            let mut samples = Vec::new();
            for k in 0..n * 2 {
                // Even runs go r0 -> r1, odd ones come back: n switchovers each way is 2n runs;
                // every run counts.
                let to = if k % 2 == 0 { "r1" } else { "r0" };
                samples.push(one(&c, &writer, strategy, to, &mut checked).await);
                if samples.len() >= n && k % 2 == 1 {
                    break;
                }
            }
            rows.push((strategy, samples));
        }
        let total = writer.stop().await.len();
        println!();
        println!("switchover benchmark: redis-server 7.0.15, 1 primary + 2 replicas on loopback, one writer (SET w:i i), {total} writes acknowledged");
        println!(
            "{:<8} {:>3} {:>12} {:>10} {:>5} {:>14} {:>12} {:>16}",
            "strategy", "n", "stall med ms", "stall max", "lost", "duration med", "duration max", "gate stall max"
        );
        let mut medians = Vec::new();
        for (strategy, s) in &rows {
            let stall_med = median(s.iter().map(|x| x.stall).collect());
            medians.push(stall_med);
            println!(
                "{:<8} {:>3} {:>12} {:>10} {:>5} {:>14} {:>12} {:>16}",
                strategy.as_str(),
                s.len(),
                ms(stall_med),
                ms(s.iter().map(|x| x.stall).max().unwrap_or_default()),
                s.iter().map(|x| x.lost).sum::<usize>(),
                ms(median(s.iter().map(|x| x.duration).collect())),
                ms(s.iter().map(|x| x.duration).max().unwrap_or_default()),
                ms(s.iter().map(|x| x.gate_stall).max().unwrap_or_default()),
            );
        }
        if let [m, nat] = medians.as_slice() {
            println!(
                "manual median stall / native median stall = {:.2} (target <= 0.20)",
                m.as_secs_f64() / nat.as_secs_f64().max(1e-9)
            );
        }
    });
}
