//! `redops check-data` on the built binary against real servers: a clean group under a steady
//! writer passes with no extra flag (equal offsets proven around each digest), and with
//! `--allow-pause`; 500 keys written directly on a writable replica are caught, with the db and
//! example keys named; with `DEBUG` refused the scan fallback states its coverage and still
//! catches them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::bin::redops_within;
use crate::common::cluster::{raw_cmd, Cluster, WriterHandle};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `check-data` on a blocking thread (the writer keeps running on the runtime).
async fn check_data(cfg: &str, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["-c".to_string(), cfg.to_string(), "check-data".to_string()];
    args.extend(extra.iter().map(ToString::to_string));
    let out = tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        redops_within(&a, Duration::from_secs(90))
    })
    .await
    .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

/// `SET s:i` about every 5 ms until `stop`; how many it wrote.
async fn steady_writer(port: u16, stop: Arc<AtomicBool>) -> u64 {
    let mut i = 0u64;
    while !stop.load(Ordering::SeqCst) && i < 100_000 {
        raw_cmd(port, &["SET", &format!("s:{i}"), "v"])
            .await
            .unwrap();
        i += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    i
}

async fn fill(port: u16, n: usize, prefix: &str) {
    for i in 0..n {
        raw_cmd(port, &["SET", &format!("{prefix}:{i}"), "v"])
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_group_under_a_writer_passes_and_a_written_replica_is_caught() {
    let c = Cluster::start(&["p", "r1", "r2"], &[]).await;
    fill(c.port("p"), 1_000, "base").await;
    let cfg = c.config_file(None);
    let cfg = cfg.to_str().unwrap();

    // A steady writer (about 200 writes a second): no flag needed.
    let stop = Arc::new(AtomicBool::new(false));
    let steady = tokio::spawn(steady_writer(c.port("p"), Arc::clone(&stop)));
    let (code, out) = check_data(cfg, &[]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("consistent").count(), 2, "{out}");
    stop.store(true, Ordering::SeqCst);
    let written = steady.await.unwrap();
    assert!(written > 0);

    // A writer as fast as one connection goes: a brief write pause makes one point in time.
    let writer = WriterHandle::start(c.ports());
    writer.wait_more(200).await;
    let (code, out) = check_data(cfg, &["--allow-pause", "200ms", "--yes", "--json"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"pause_ms\":200"), "{out}");
    writer.wait_more(10).await;
    assert!(writer.errors.lock().unwrap().is_empty());
    writer.stop().await;

    // Replicas can be writable: 500 keys written on r2 itself leave offsets equal.
    let r2 = c.port("r2");
    raw_cmd(r2, &["CONFIG", "SET", "replica-read-only", "no"])
        .await
        .unwrap();
    fill(r2, 500, "stray").await;
    let (code, out) = check_data(cfg, &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("r1: consistent"), "{out}");
    assert!(
        out.contains("r2: MISMATCH") && out.contains("db0:") && out.contains("stray:"),
        "{out}"
    );
    assert!(out.contains("only on the replica"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_debug_refused_the_scan_states_its_coverage_and_catches_a_written_replica() {
    // DEBUG renamed away: refused the same way on every version (`enable-debug-command` is 7.0+).
    let c = Cluster::start(&["p", "r"], &["--rename-command", "DEBUG", ""]).await;
    fill(c.port("p"), 300, "base").await;
    let cfg = c.config_file(None);
    let cfg = cfg.to_str().unwrap();
    let (code, out) = check_data(cfg, &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("DEBUG refused") && out.contains("coverage"),
        "{out}"
    );
    let r = c.port("r");
    raw_cmd(r, &["CONFIG", "SET", "replica-read-only", "no"])
        .await
        .unwrap();
    fill(r, 500, "stray").await;
    let (code, out) = check_data(cfg, &["--json"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("\"mismatch\"") && out.contains("stray:"),
        "{out}"
    );
}

/// Two primaries in one group (the shards of a cluster, or two groups listed as one): each
/// replica is compared with the primary of its own replication history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_replica_is_compared_with_the_primary_of_its_history() {
    let a = Cluster::start(&["a", "a2"], &[]).await;
    let b = Cluster::start(&["b", "b2"], &[]).await;
    fill(a.port("a"), 100, "a").await;
    fill(b.port("b"), 50, "b").await;
    let mut toml = String::from(
        "[console]\ntimeout = \"1s\"\nconnect_timeout = \"1s\"\n\n[[groups]]\nname = \"g\"\n",
    );
    for (name, port) in [
        ("a", a.port("a")),
        ("a2", a.port("a2")),
        ("b", b.port("b")),
        ("b2", b.port("b2")),
    ] {
        toml.push_str(&format!(
            "\n[[groups.nodes]]\nname = \"{name}\"\naddr = \"127.0.0.1:{port}\"\n"
        ));
    }
    let cfg = a.dir.path().join("two.toml");
    std::fs::write(&cfg, toml).unwrap();
    let (code, out) = check_data(cfg.to_str().unwrap(), &["--json"]).await;
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["primaries"], serde_json::json!(["a", "b"]), "{v}");
    let pairs: Vec<(String, String)> = v["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["primary"].as_str().unwrap().to_string(),
                p["replica"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("a".to_string(), "a2".to_string()),
            ("b".into(), "b2".into())
        ]
    );
}
