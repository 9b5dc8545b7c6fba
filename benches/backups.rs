//! Backups benchmark: `check-data` and the restore test on a real group, with figures printed.
//!
//! `cargo bench --bench backups -- [KEYS] [VALUE_BYTES]` (default 1,000,000 keys of 100 bytes):
//! a sandbox primary and two replicas, each filled with the same `DEBUG POPULATE` (identical
//! data, without replicating it), then
//! - `datacheck::check_group` with no writer: wall time, this process's CPU, and how long
//!   `DEBUG` kept the primary busy (its `cmdstat_debug`, i.e. how long it was blocked);
//! - a verified download of the primary's RDB (`node::rdb::backup`), then
//!   `backup::restore_test` of it: wall time, file size.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss
)]

use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};
use redops::backup::restore_test;
use redops::datacheck::{check_group, Options, Verdict};
use redops::node::{rdb, NodeClient, Timeouts};
use redops::sandbox::{Sandbox, Spec};

fn cpu() -> Duration {
    let u = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let t = |tv: nix::sys::time::TimeVal| {
        Duration::from_secs(u64::try_from(tv.tv_sec()).unwrap_or(0))
            + Duration::from_micros(u64::try_from(tv.tv_usec()).unwrap_or(0))
    };
    t(u.user_time()) + t(u.system_time())
}

async fn cmd(client: &mut NodeClient, args: &[&str]) -> redis::Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    client
        .query_with_timeout(&c, Duration::from_secs(300))
        .await
        .expect("command")
}

fn debug_usec(stats: &redis::Value) -> u64 {
    let text = match stats {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::VerbatimString { text, .. } => text.clone(),
        other => format!("{other:?}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix("cmdstat_debug:"))
        .and_then(|l| l.split(',').find_map(|f| f.strip_prefix("usec=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let keys: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let size: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let spec = Spec {
        replicas: 2,
        extra_args: vec!["--save".into(), String::new()],
        group: "bench".into(),
        ..Spec::default()
    };
    let sb = Sandbox::start(&spec).await.expect("sandbox");
    let config = sb.config();
    let timeouts = Timeouts {
        connect: Duration::from_secs(1),
        read: Duration::from_secs(1),
    };
    let nodes: Vec<_> = sb
        .nodes()
        .iter()
        .map(redops::sandbox::ServerProcess::node)
        .collect();
    let fill = Instant::now();
    for n in &nodes {
        let mut c = NodeClient::new(n, timeouts, "bench").expect("client");
        cmd(&mut c, &["CONFIG", "SET", "replica-read-only", "no"]).await;
        cmd(
            &mut c,
            &[
                "DEBUG",
                "POPULATE",
                &keys.to_string(),
                "key",
                &size.to_string(),
            ],
        )
        .await;
        cmd(&mut c, &["CONFIG", "RESETSTAT"]).await;
    }
    println!(
        "{} nodes filled with {keys} keys of {size} bytes each in {:.1}s",
        nodes.len(),
        fill.elapsed().as_secs_f64()
    );

    let (t0, c0) = (Instant::now(), cpu());
    let report = check_group(&config.groups[0], timeouts, Options::default()).await;
    let (wall, used) = (t0.elapsed(), cpu().saturating_sub(c0));
    let mut primary = NodeClient::new(&nodes[0], timeouts, "bench").expect("client");
    let busy = debug_usec(&cmd(&mut primary, &["INFO", "commandstats"]).await);
    for p in &report.pairs {
        let ok = matches!(p.verdict, Verdict::Consistent);
        println!(
            "check-data {}: {} in {:.2}s ({})",
            p.replica,
            if ok { "consistent" } else { "NOT consistent" },
            p.elapsed.as_secs_f64(),
            redops::words::count(p.attempts, "attempt")
        );
    }
    println!(
        "check-data on {keys} keys, 2 replicas: {:.2}s wall, {:.2}s CPU in redops, primary busy in DEBUG {:.2}s",
        wall.as_secs_f64(),
        used.as_secs_f64(),
        busy as f64 / 1e6
    );

    let dir = tempfile::tempdir().expect("tmp");
    let t0 = Instant::now();
    let b = rdb::backup(
        &nodes[0],
        "bench",
        timeouts,
        dir.path(),
        Duration::from_secs(600),
    )
    .await
    .expect("download");
    println!(
        "download: {:.1} MB in {:.2}s",
        b.manifest.bytes as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    let t0 = Instant::now();
    let r = restore_test::restore_test(&b.rdb, Some(&b.manifest), None, 100)
        .await
        .expect("restore test");
    println!(
        "restore test of {:.1} MB ({} keys): {} in {:.2}s (load {:.2}s), {}",
        b.manifest.bytes as f64 / 1e6,
        r.total_keys,
        if r.passed() { "passed" } else { "FAILED" },
        t0.elapsed().as_secs_f64(),
        r.load_time.as_secs_f64(),
        r.server.version.as_deref().unwrap_or("?")
    );
}
