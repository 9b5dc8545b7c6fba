//! A Redis Cluster writer for tests and the cluster switchover benchmark: `RPUSH KEY i` on one
//! shard (the key's hash tag picks it), following `MOVED` to the new owner and waiting out
//! `CLUSTERDOWN`/`TRYAGAIN`, recording every acknowledged `i` with its time. A write that got
//! an error is not acknowledged and is sent again, as a cluster client does.
//!
//! Part of `tests/common`; `benches/cluster_switchover.rs` includes it with `#[path]`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redops::config::Node;
use redops::node::{NodeClient, Timeouts};

/// A client with short timeouts.
pub fn client(n: &Node) -> NodeClient {
    let t = Timeouts {
        connect: Duration::from_millis(500),
        read: Duration::from_secs(2),
    };
    NodeClient::new(n, t, "redops-test").expect("client")
}

/// Every acknowledged `i` with the time it was acknowledged.
pub type Acks = Arc<Mutex<Vec<(u64, Instant)>>>;

/// The running writer.
pub struct ClusterWriter {
    stop: Arc<AtomicBool>,
    acks: Acks,
    task: tokio::task::JoinHandle<()>,
    pub key: String,
}

impl ClusterWriter {
    /// Starts writing `RPUSH key i` to `first` (a node of the key's shard).
    pub fn start(first: Node, key: String) -> Self {
        let k = key.clone();
        Self::spawn(key, move |stop, acks| run(first, k, stop, acks))
    }

    /// A writer of `key` whose loop is `run(stop, acks)`: it records each acknowledged `i`
    /// with its time in `acks` until `stop` is set (another kind of client, same records).
    pub fn spawn<F>(key: String, run: impl FnOnce(Arc<AtomicBool>, Acks) -> F) -> Self
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(run(stop.clone(), acks.clone()));
        Self {
            stop,
            acks,
            task,
            key,
        }
    }

    pub fn count(&self) -> usize {
        self.acks.lock().unwrap().len()
    }

    /// The longest gap between consecutive acknowledgements with the later one in `[from, to]`.
    pub fn max_gap(&self, from: Instant, to: Instant) -> Duration {
        let acks = self.acks.lock().unwrap();
        acks.windows(2)
            .filter(|w| w[1].1 >= from && w[1].1 <= to)
            .map(|w| w[1].1 - w[0].1)
            .max()
            .unwrap_or_default()
    }

    /// Waits (10 s at most) until `n` more writes are acknowledged.
    pub async fn wait_more(&self, n: usize) {
        self.wait_more_within(n, Duration::from_secs(10)).await;
    }

    /// Waits (`limit` at most) until `n` more writes are acknowledged.
    pub async fn wait_more_within(&self, n: usize, limit: Duration) {
        let start = self.count();
        let end = Instant::now() + limit;
        while self.count() < start + n {
            assert!(Instant::now() < end, "the writer made no progress");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Every acknowledged `i` so far.
    pub fn acked(&self) -> Vec<u64> {
        self.acks.lock().unwrap().iter().map(|(i, _)| *i).collect()
    }

    /// Stops; every acknowledged `i`.
    pub async fn stop(self) -> Vec<u64> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        self.acks.lock().unwrap().iter().map(|(i, _)| *i).collect()
    }
}

async fn run(
    first: Node,
    key: String,
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Vec<(u64, Instant)>>>,
) {
    let mut node = first;
    let mut c = client(&node);
    let mut i = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let mut cmd = redis::cmd("RPUSH");
        cmd.arg(&key).arg(i);
        match c.query::<i64>(&cmd).await {
            Ok(_) => {
                acks.lock().unwrap().push((i, Instant::now()));
                i += 1;
            }
            Err(e) => {
                // `MOVED slot host:port`: the slot's new owner.
                let text = e.to_string();
                if let Some((h, p)) = text.split_whitespace().find_map(|w| {
                    let (h, p) = w.rsplit_once(':')?;
                    Some((h.to_string(), p.parse::<u16>().ok()?))
                }) {
                    node.addr.host = h;
                    node.addr.port = p;
                }
                c = client(&node);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    }
}

/// The acknowledged values missing from `key` on `primary`.
pub async fn lost(primary: &Node, key: &str, acked: &[u64]) -> Vec<u64> {
    // In pieces: one reply is capped (`node::MAX_REPLY_BYTES`).
    const PIECE: usize = 50_000;
    let mut c = client(primary);
    let mut stored: HashSet<u64> = HashSet::new();
    for start in (0..).step_by(PIECE) {
        let mut cmd = redis::cmd("LRANGE");
        cmd.arg(key).arg(start).arg(start + PIECE - 1);
        let piece: Vec<u64> = c.query(&cmd).await.expect("LRANGE");
        let done = piece.len() < PIECE;
        stored.extend(piece);
        if done {
            break;
        }
    }
    acked
        .iter()
        .copied()
        .filter(|i| !stored.contains(i))
        .collect()
}
