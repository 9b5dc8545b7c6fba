//! Issue 8.4: reads are bounded while reading. A fake server answering INFO with a 600 MB
//! bulk string costs a few MB, not 1.24 GB, and is refused; an RDB download answering `SYNC`
//! with a length bomb is refused before a byte is written; a diskless stream past the
//! `used_memory` sanity bound is cut. No file is left behind. Peak RSS figures are printed
//! (`--nocapture`) for the report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::hostile;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hostile::{bulk, upper, Act, Fake};
use redops::config::{Addr, Node};
use redops::node::rdb::{self, RdbError};
use redops::node::{NodeClient, Timeouts};
use redops::observe::NodeError;

const MB: u64 = 1024 * 1024;

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        read: Duration::from_secs(10),
    }
}

fn node(fake: &Fake) -> Node {
    Node {
        name: "evil".into(),
        addr: Addr {
            host: "127.0.0.1".into(),
            port: fake.port(),
        },
        username: None,
        password: None,
        tls: None,
    }
}

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}

/// Only `.rdb` files count: the directory may exist, empty.
fn files_in(dir: &std::path::Path) -> Vec<String> {
    walk(dir)
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_600_mb_info_is_refused_while_reading() {
    let fake = Fake::start(|args| match upper(args).as_str() {
        "INFO" => Act::Stream {
            head: format!("${}\r\n", 600 * MB).into_bytes(),
            total: 600 * MB,
            tail: b"\r\n".to_vec(),
        },
        _ => Act::Send(b"+OK\r\n".to_vec()),
    });
    let before = peak_rss_mb();
    let started = Instant::now();
    let mut c = NodeClient::new(&node(&fake), timeouts(), "t").unwrap();
    let e = c.info().await.unwrap_err();
    let took = started.elapsed();
    let peak = peak_rss_mb();
    let sent = fake.streamed.load(Ordering::Relaxed);
    eprintln!(
        "600 MB INFO: refused in {took:?}, peak RSS {peak} MB (was {before} MB), \
         the server got {} MB out before the socket closed",
        sent / MB
    );
    assert!(
        matches!(&e, NodeError::Other(m) if m.contains("byte limit")),
        "{e:?}"
    );
    assert!(peak < before + 64, "peak RSS {peak} MB (was {before} MB)");
    // The connection is gone, so the next INFO starts a fresh one (refused again, not stuck).
    assert!(c.info().await.is_err());
}

fn sync_server(used_memory: u64, head: Vec<u8>, total: u64) -> Fake {
    let info =
        format!("# Memory\r\nused_memory:{used_memory}\r\n# Server\r\nredis_version:7.0.15\r\n");
    Fake::start(move |args| match upper(args).as_str() {
        "INFO" => Act::Send(bulk(info.as_bytes())),
        "CONFIG" => Act::Send(b"*0\r\n".to_vec()),
        "SYNC" | "PSYNC" => Act::Stream {
            head: head.clone(),
            total,
            tail: Vec::new(),
        },
        _ => Act::Send(b"+OK\r\n".to_vec()),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_length_bomb_is_refused_before_a_byte_is_written() {
    let fake = sync_server(MB, b"$99999999999999\r\n".to_vec(), 300 * MB);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let e = rdb::download(
        &node(&fake),
        timeouts(),
        dir.path(),
        Duration::from_secs(60),
    )
    .await
    .unwrap_err();
    let took = started.elapsed();
    let sent = fake.streamed.load(Ordering::Relaxed);
    eprintln!(
        "length bomb: refused in {took:?}, peak RSS {} MB, the server got {} MB out",
        peak_rss_mb(),
        sent / MB
    );
    assert!(
        matches!(
            &e,
            RdbError::TooLarge {
                size: 99_999_999_999_999,
                announced: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_length_over_the_used_memory_bound_is_refused() {
    let fake = sync_server(MB, format!("${}\r\n", 200 * MB).into_bytes(), 200 * MB);
    let dir = tempfile::tempdir().unwrap();
    let e = rdb::backup(
        &node(&fake),
        "g",
        timeouts(),
        dir.path(),
        Duration::from_secs(60),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, RdbError::TooLarge { announced: true, limit, .. } if *limit == 2 * MB + 64 * MB),
        "{e:?}"
    );
    assert!(e.to_string().contains("used_memory"), "{e}");
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diskless_stream_past_the_bound_is_cut_and_removed() {
    let mark = "0123456789012345678901234567890123456789";
    let fake = sync_server(MB, format!("$EOF:{mark}\r\n").into_bytes(), 200 * MB);
    let dir = tempfile::tempdir().unwrap();
    let e = rdb::backup(
        &node(&fake),
        "g",
        timeouts(),
        dir.path(),
        Duration::from_secs(60),
    )
    .await
    .unwrap_err();
    let sent = fake.streamed.load(Ordering::Relaxed);
    assert!(
        matches!(&e, RdbError::TooLarge { announced: false, size, .. } if *size > 66 * MB && *size < 70 * MB),
        "{e:?}"
    );
    assert!(sent < 200 * MB, "the transfer was not cut: {sent}");
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}
