//! Restore benchmark: `redops restore` against the yardstick of doing it by hand, on a real
//! server, with figures printed (no timed assertion).
//!
//! `cargo bench --bench restore -- [MB] [VALUE_BYTES]` (default 300 MB of 1,000-byte random
//! values): a sandbox primary is filled with incompressible data (`MSET`s), then
//! - `redops snapshot n1 --download` (the built binary): the verified backup;
//! - `FLUSHALL`, then `redops restore n1 --from ID --yes`: scratch server loaded, full sync,
//!   keys compared, detached, scratch stopped; wall time and the keys back;
//! - the yardstick: `redis-cli --rdb FILE` (the download), then a manual restart with the file
//!   (the server killed, the file copied into its `dir`, started again, loaded): each timed.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss
)]

use std::process::Command;
use std::time::{Duration, Instant};

use rand::RngCore;
use redops::node::{NodeClient, Timeouts};
use redops::sandbox::{Sandbox, Spec};

const BATCH: usize = 100;

fn redops(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_redops"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run redops");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "redops {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

async fn query(c: &mut NodeClient, cmd: &redis::Cmd) -> redis::Value {
    c.query_with_timeout(cmd, Duration::from_secs(300))
        .await
        .expect("command")
}

async fn dbsize(c: &mut NodeClient) -> i64 {
    match query(c, &redis::cmd("DBSIZE")).await {
        redis::Value::Int(n) => n,
        other => panic!("DBSIZE: {other:?}"),
    }
}

/// `keys` keys of `size` random bytes (incompressible, as most production values are not
/// runs of zeros), `BATCH` to an `MSET`.
async fn fill(c: &mut NodeClient, keys: usize, size: usize) {
    let mut rng = rand::rng();
    let mut value = vec![0u8; size];
    for start in (0..keys).step_by(BATCH) {
        let mut cmd = redis::cmd("MSET");
        for i in start..(start + BATCH).min(keys) {
            rng.fill_bytes(&mut value);
            cmd.arg(format!("k:{i}")).arg(&value);
        }
        query(c, &cmd).await;
    }
}

/// Each verified step of a `--json` run, with its time.
fn print_steps(events: &str) {
    for e in events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "step_verified")
    {
        println!(
            "  {:>7.2}s  {}",
            e["elapsed_ms"].as_f64().unwrap_or(0.0) / 1000.0,
            e["title"].as_str().unwrap_or("?")
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mb: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(300);
    let size: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let keys = mb * 1_000_000 / size;
    let mut sb = Sandbox::start(&Spec {
        replicas: 0,
        extra_args: vec!["--save".into(), String::new()],
        group: "bench".into(),
        ..Spec::default()
    })
    .await
    .expect("sandbox");
    let (node, dir) = {
        let n = &sb.nodes()[0];
        (n.node(), n.dir.clone())
    };
    let timeouts = Timeouts {
        connect: Duration::from_secs(1),
        read: Duration::from_secs(5),
    };
    let mut c = NodeClient::new(&node, timeouts, "bench").expect("client");
    let t0 = Instant::now();
    fill(&mut c, keys, size).await;
    println!(
        "filled {keys} keys of {size} random bytes ({mb} MB) in {:.1}s",
        t0.elapsed().as_secs_f64()
    );

    let cfg = sb.write_config().expect("config");
    let cfg = cfg.to_str().unwrap();
    let backups = sb.dir().join("backups");
    let backups = backups.to_str().unwrap();
    let t0 = Instant::now();
    redops(&["-c", cfg, "snapshot", "n1", "--download", backups, "--yes"]);
    let snap = t0.elapsed();
    let list = redops(&["-c", cfg, "backup", "list", "--json"]);
    let newest: serde_json::Value = serde_json::from_str(list.lines().next().unwrap()).unwrap();
    let id = newest["id"].as_str().unwrap().to_string();
    let bytes = newest["manifest"]["bytes"].as_u64().unwrap_or(0);
    println!(
        "redops snapshot --download: {:.1} MB RDB in {:.2}s (BGSAVE verified, then the download)",
        bytes as f64 / 1e6,
        snap.as_secs_f64()
    );

    query(&mut c, &redis::cmd("FLUSHALL")).await;
    let t0 = Instant::now();
    let events = redops(&["-c", cfg, "restore", "n1", "--from", &id, "--yes", "--json"]);
    let restore = t0.elapsed();
    let back = dbsize(&mut c).await;
    println!(
        "redops restore: {back} keys back in {:.2}s (scratch server loaded, full sync, keys compared, detached, stopped)",
        restore.as_secs_f64()
    );
    print_steps(&events);

    let file = tempfile::tempdir().expect("tmp");
    let rdb = file.path().join("y.rdb");
    let t0 = Instant::now();
    let port = node.addr.port.to_string();
    let out = Command::new("redis-cli")
        .args(["-p", &port, "--rdb", rdb.to_str().unwrap()])
        .output()
        .expect("redis-cli");
    assert!(out.status.success(), "redis-cli --rdb failed");
    let download = t0.elapsed();
    query(&mut c, &redis::cmd("FLUSHALL")).await;
    drop(c);
    let t0 = Instant::now();
    sb.kill("n1").expect("kill");
    std::fs::copy(&rdb, dir.join("dump.rdb")).expect("copy");
    sb.restart("n1").await.expect("restart");
    let restart = t0.elapsed();
    let mut c = NodeClient::new(&node, timeouts, "bench").expect("client");
    let back = dbsize(&mut c).await;
    println!(
        "yardstick: redis-cli --rdb {:.2}s + manual restart with the file {:.2}s (kill, copy, start, load) = {:.2}s, {back} keys back",
        download.as_secs_f64(),
        restart.as_secs_f64(),
        (download + restart).as_secs_f64()
    );
    println!(
        "redops snapshot + restore {:.2}s against the yardstick's {:.2}s",
        (snap + restore).as_secs_f64(),
        (download + restart).as_secs_f64()
    );
}
