//! The drill's writer: `SET drill:w:{i} i` on one connection to the group's primary at a
//! bounded rate, recording every acknowledged `i` compactly (runs of consecutive indices), and
//! the check at the end: how many acknowledged writes the final primary does not hold.
//!
//! It follows the primary as a client would: on an error (`READONLY`, a lost connection) it
//! asks every node `ROLE` and carries on with the one that says primary. In a cluster its
//! keys carry one hash tag (one shard) and it follows `MOVED` to the node it names first. A write without a
//! reply is not acknowledged (it may or may not have happened) and is not counted.
//! The runner can hold it (before killing a primary, so that the figure counts what the
//! trainee's moves lose, not the writes a crash takes with it).

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::condition::WriteCheck;
use crate::config::Node;
use crate::node::{NodeClient, Timeouts};
use crate::observe::NodeError;

/// The client name the writer's connections carry (visible in `CLIENT LIST`).
pub const WRITER_CLIENT_NAME: &str = "redops-drill-writer";
/// Keys the writer writes: `drill:w:{i}`.
const PREFIX: &str = "drill:w:";
/// Keys read back per `MGET` in the final check.
const CHECK_BATCH: usize = 500;
const TICK: Duration = Duration::from_millis(20);

/// Acknowledged indices as sorted, disjoint runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acked {
    runs: Vec<Range<u64>>,
}

impl Acked {
    /// Records `i` (indices only grow, so a run is extended or a new one opened).
    pub fn push(&mut self, i: u64) {
        match self.runs.last_mut() {
            Some(r) if r.end == i => r.end = i + 1,
            _ => self.runs.push(i..i + 1),
        }
    }

    /// How many.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.runs.iter().map(|r| r.end - r.start).sum()
    }

    /// Every index, in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.runs.iter().flat_map(Clone::clone)
    }

    /// How many runs (a gap is a write that got no reply).
    #[must_use]
    pub fn runs(&self) -> usize {
        self.runs.len()
    }
}

#[derive(Debug, Default)]
struct Shared {
    acked: Acked,
    last_error: Option<String>,
}

/// The running writer; stopped on drop.
#[derive(Debug)]
pub struct Writer {
    shared: Arc<Mutex<Shared>>,
    hold: Arc<AtomicBool>,
    /// Set by the writer while it is holding (no write in flight).
    held: Arc<AtomicBool>,
    task: Option<JoinHandle<()>>,
    /// What its keys start with (`drill:w:`, or a hash tag and that in a cluster).
    prefix: String,
}

impl Writer {
    /// Starts writing `rate` writes a second to whichever of `nodes` is primary. Must run
    /// inside a tokio runtime.
    #[must_use]
    pub fn spawn(nodes: Vec<Node>, timeouts: Timeouts, rate: u32) -> Self {
        Self::spawn_keyed(nodes, timeouts, rate, PREFIX.to_string())
    }

    /// As [`spawn`](Self::spawn), for a cluster: every key carries `tag` (a hash tag, so one
    /// shard holds them all), and a `MOVED` sends the writer to the node it names.
    #[must_use]
    pub fn spawn_cluster(nodes: Vec<Node>, timeouts: Timeouts, rate: u32, tag: &str) -> Self {
        Self::spawn_keyed(nodes, timeouts, rate, format!("{tag}{PREFIX}"))
    }

    fn spawn_keyed(nodes: Vec<Node>, timeouts: Timeouts, rate: u32, prefix: String) -> Self {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let hold = Arc::new(AtomicBool::new(false));
        let held = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(run(
            Target {
                nodes,
                timeouts,
                prefix: prefix.clone(),
            },
            f64::from(rate.max(1)),
            Arc::clone(&shared),
            Arc::clone(&hold),
            Arc::clone(&held),
        ));
        Self {
            shared,
            hold,
            held,
            task: Some(task),
            prefix,
        }
    }

    /// What its keys start with.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The acknowledged writes so far.
    #[must_use]
    pub fn acked(&self) -> Acked {
        self.lock().acked.clone()
    }

    /// The last error the writer met (for a report that says why it stalled).
    #[must_use]
    pub fn last_error(&self) -> Option<String> {
        self.lock().last_error.clone()
    }

    /// Holds writing; returns once no write is in flight (at most `timeout`).
    pub async fn hold(&self, timeout: Duration) {
        self.hold.store(true, Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.held.load(Ordering::SeqCst) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Writes again after [`hold`](Self::hold).
    pub fn resume(&self) {
        self.hold.store(false, Ordering::SeqCst);
    }

    /// Stops writing (idempotent).
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where the writer writes, and its keys.
struct Target {
    nodes: Vec<Node>,
    timeouts: Timeouts,
    prefix: String,
}

/// The `host:port` a `MOVED slot host:port` error names (however the client words the
/// error around it).
fn moved_to(error: &str) -> Option<&str> {
    let at = error.to_ascii_lowercase().find("moved")?;
    error[at..].split_whitespace().skip(1).find(|w| {
        w.rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
    })
}

/// The first node that says it is a primary: the one a `MOVED` named (`prefer`) first.
async fn find_primary(
    nodes: &[Node],
    timeouts: Timeouts,
    prefer: Option<&str>,
) -> Option<NodeClient> {
    let preferred = nodes
        .iter()
        .filter(|n| prefer.is_some_and(|p| n.addr.to_string() == p));
    let others = nodes
        .iter()
        .filter(|n| prefer.is_none_or(|p| n.addr.to_string() != p));
    for n in preferred.chain(others) {
        let Ok(mut c) = NodeClient::new(n, timeouts, WRITER_CLIENT_NAME) else {
            continue;
        };
        if let Ok(redis::Value::Array(parts)) = c.query::<redis::Value>(&redis::cmd("ROLE")).await {
            if matches!(parts.first(), Some(redis::Value::BulkString(b)) if b == b"master") {
                return Some(c);
            }
        }
    }
    None
}

async fn run(
    target: Target,
    rate: f64,
    shared: Arc<Mutex<Shared>>,
    hold: Arc<AtomicBool>,
    held: Arc<AtomicBool>,
) {
    let mut client: Option<NodeClient> = None;
    let mut prefer: Option<String> = None;
    let mut i: u64 = 0;
    let mut owed = 0.0f64;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let note = |e: String| {
        shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_error = Some(e);
    };
    loop {
        tick.tick().await;
        if hold.load(Ordering::SeqCst) {
            held.store(true, Ordering::SeqCst);
            owed = 0.0;
            continue;
        }
        held.store(false, Ordering::SeqCst);
        let Some(c) = client.as_mut() else {
            client = find_primary(&target.nodes, target.timeouts, prefer.as_deref()).await;
            if client.is_none() {
                note("no primary to write to".to_string());
            }
            continue;
        };
        // At most one tick's worth of catch-up: the rate is a bound, not a debt.
        owed = (owed + rate * TICK.as_secs_f64()).min(rate * TICK.as_secs_f64() * 2.0 + 1.0);
        while owed >= 1.0 && !hold.load(Ordering::SeqCst) {
            owed -= 1.0;
            let cmd = redis::cmd("SET")
                .arg(format!("{}{i}", target.prefix))
                .arg(i)
                .clone();
            let sent = c.query::<()>(&cmd).await;
            match sent {
                Ok(()) => shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .acked
                    .push(i),
                Err(e) => {
                    let text = e.to_string();
                    if let Some(to) = moved_to(&text) {
                        prefer = Some(to.to_string());
                    }
                    note(text);
                    client = None;
                    i += 1;
                    break;
                }
            }
            i += 1;
        }
    }
}

/// Reads every acknowledged key from `node`: how many are missing or hold another value.
///
/// # Errors
/// The node cannot be read.
pub async fn check(
    node: &Node,
    timeouts: Timeouts,
    acked: &Acked,
) -> Result<WriteCheck, NodeError> {
    check_keys(node, timeouts, acked, PREFIX).await
}

/// As [`check`], for keys that start with `prefix` ([`Writer::prefix`]).
///
/// # Errors
/// The node cannot be read.
pub async fn check_keys(
    node: &Node,
    timeouts: Timeouts,
    acked: &Acked,
    prefix: &str,
) -> Result<WriteCheck, NodeError> {
    let mut c = NodeClient::new(node, timeouts, WRITER_CLIENT_NAME)?;
    let all: Vec<u64> = acked.iter().collect();
    let mut lost = 0u64;
    for chunk in all.chunks(CHECK_BATCH) {
        let mut cmd = redis::cmd("MGET");
        for i in chunk {
            cmd.arg(format!("{prefix}{i}"));
        }
        let values: Vec<Option<String>> = c.query(&cmd).await?;
        lost += chunk
            .iter()
            .zip(values.iter().chain(std::iter::repeat(&None)))
            .filter(|(i, v)| v.as_deref() != Some(i.to_string().as_str()))
            .count() as u64;
    }
    Ok(WriteCheck {
        acknowledged: acked.count(),
        lost,
    })
}

#[cfg(test)]
mod tests {
    use super::Acked;

    #[test]
    fn moved_names_the_node_to_follow() {
        assert_eq!(
            super::moved_to("MOVED 12182 127.0.0.1:17204"),
            Some("127.0.0.1:17204")
        );
        assert_eq!(
            super::moved_to("An error was signalled by the server - Moved: 7 10.0.0.1:6379"),
            Some("10.0.0.1:6379")
        );
        assert_eq!(super::moved_to("MOVED"), None);
        assert_eq!(super::moved_to("CLUSTERDOWN The cluster is down"), None);
    }

    #[test]
    fn acked_keeps_runs_and_counts() {
        let mut a = Acked::default();
        for i in [0, 1, 2, 4, 5, 9] {
            a.push(i);
        }
        assert_eq!(a.count(), 6);
        assert_eq!(a.runs(), 3);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![0, 1, 2, 4, 5, 9]);
    }
}
