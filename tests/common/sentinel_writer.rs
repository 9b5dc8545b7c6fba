//! A Sentinel-aware writer for tests and the Sentinel benchmark: `RPUSH KEY i` to the master
//! Sentinel names; after any error it asks the sentinels again, in their order, for the
//! master's address (`SENTINEL GET-MASTER-ADDR-BY-NAME`), as a Sentinel client does. Every
//! acknowledged `i` is recorded with its time; a write that got an error is not acknowledged.
//!
//! Part of `tests/common`; `benches/sentinel.rs` includes it with `#[path]` (beside
//! `cluster_writer.rs`, whose client, records and loss check it shares).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redops::config::{Addr, Node};

use super::cluster_writer::{client, Acks, ClusterWriter};

fn node(addr: &Addr) -> Node {
    Node {
        name: addr.to_string(),
        addr: addr.clone(),
        username: None,
        password: None,
        tls: None,
    }
}

/// The master the first sentinel that answers names.
pub async fn ask_master(sentinels: &[Addr], master: &str) -> Option<Addr> {
    for s in sentinels {
        let mut c = client(&node(s));
        let mut cmd = redis::cmd("SENTINEL");
        cmd.arg("GET-MASTER-ADDR-BY-NAME").arg(master);
        if let Ok(Some((host, port))) = c.query::<Option<(String, u16)>>(&cmd).await {
            return Some(Addr { host, port });
        }
    }
    None
}

/// Starts writing `RPUSH key i` to the master `sentinels` name for `master`; the writer's
/// records are a [`ClusterWriter`]'s.
pub fn start(sentinels: Vec<Addr>, master: String, key: String) -> ClusterWriter {
    let k = key.clone();
    ClusterWriter::spawn(key, move |stop, acks| run(sentinels, master, k, stop, acks))
}

async fn run(sentinels: Vec<Addr>, master: String, key: String, stop: Arc<AtomicBool>, acks: Acks) {
    let mut at: Option<Addr> = None;
    let mut c = None;
    let mut i = 0u64;
    while !stop.load(Ordering::SeqCst) {
        if c.is_none() {
            let Some(a) = ask_master(&sentinels, &master).await else {
                tokio::time::sleep(Duration::from_millis(2)).await;
                continue;
            };
            c = Some(client(&node(&a)));
            at = Some(a);
        }
        let Some(conn) = c.as_mut() else { continue };
        let mut cmd = redis::cmd("RPUSH");
        cmd.arg(&key).arg(i);
        if conn.query::<i64>(&cmd).await.is_ok() {
            acks.lock().unwrap().push((i, Instant::now()));
            i += 1;
        } else {
            // READONLY, a connection Sentinel closed, a timeout: ask Sentinel again.
            let before = at.clone();
            let now = ask_master(&sentinels, &master).await;
            if now.is_some() && now != before {
                c = None;
            } else {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    }
}
