//! Polling: one tokio task per node, each with its own connection, its own interval (with
//! jitter) and backoff while the node is down, sending [`Observation`]s on a bounded channel.
//!
//! A node that never answers costs only its own task a timeout: no lock, no shared connection,
//! so every other node keeps its cadence (DESIGN invariant 6).
//!
//! Cost: after the first poll, every task's wake-ups are rounded to a grid common to all tasks
//! (`grid`, 1/20 of the interval, at most 50 ms), so the pollers due in the same slot run in one
//! wake-up of a worker thread and their replies are read together, instead of hundreds of
//! scattered wake-ups a second (each a context switch). Jitter still spreads nodes over slots.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{Config, Console, Node};
use crate::node::{NodeClient, Timeouts};
use crate::observe::{NodeError, NodeId, Observation};

/// The name pollers give their connections (visible in `CLIENT LIST`).
pub const POLLER_CLIENT_NAME: &str = "redops-poll";

/// Running pollers; dropping this stops them all.
#[derive(Debug)]
pub struct Pollers {
    tasks: Vec<JoinHandle<()>>,
}

impl Pollers {
    /// Stops every poller task.
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }

    /// Number of poller tasks.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when no task runs.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

impl Drop for Pollers {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Channel capacity for `n` nodes: a few observations per node, so a slow consumer applies
/// back-pressure instead of growing memory.
#[must_use]
pub fn channel_capacity(n: usize) -> usize {
    (n * 4).clamp(16, 65_536)
}

/// Starts one poller per configured node. Must be called inside a tokio runtime.
#[must_use]
pub fn spawn(config: &Config) -> (Pollers, mpsc::Receiver<Observation>) {
    let n: usize = config.groups.iter().map(|g| g.nodes.len()).sum();
    let (tx, rx) = mpsc::channel(channel_capacity(n));
    let mut tasks = Vec::with_capacity(n);
    let origin = Instant::now();
    for (gi, g) in config.groups.iter().enumerate() {
        for (ni, node) in g.nodes.iter().enumerate() {
            let id = NodeId {
                group: gi,
                node: ni,
            };
            tasks.push(tokio::spawn(poll_loop(
                id,
                node.clone(),
                config.console.clone(),
                tx.clone(),
                origin,
            )));
        }
    }
    (Pollers { tasks }, rx)
}

/// Delay before the next poll: the interval with ±10% jitter, doubled per consecutive
/// refusal up to 4x (a dead node need not be hammered; a frozen one already cost a timeout).
#[must_use]
pub fn next_delay(interval: Duration, consecutive_refusals: u32, jitter: f64) -> Duration {
    let factor = 2f64.powi(consecutive_refusals.min(2).try_into().unwrap_or(2));
    let jitter = jitter.clamp(-0.1, 0.1);
    interval.mul_f64(factor * (1.0 + jitter))
}

/// The wake-up grid for an interval: 1/20 of it, between 1 ms and 50 ms.
#[must_use]
pub fn grid(interval: Duration) -> Duration {
    (interval / 20).clamp(Duration::from_millis(1), Duration::from_millis(50))
}

/// `at` rounded up to the next multiple of `grid` after `origin` (`at` itself when on it).
#[must_use]
pub fn align(at: Instant, origin: Instant, grid: Duration) -> Instant {
    let since = at.saturating_duration_since(origin).as_nanos();
    let step = grid.as_nanos().max(1);
    let slots = since.div_ceil(step);
    let offset = u64::try_from(slots.saturating_mul(step)).unwrap_or(u64::MAX);
    origin + Duration::from_nanos(offset)
}

async fn poll_loop(
    id: NodeId,
    node: Node,
    console: Console,
    tx: mpsc::Sender<Observation>,
    origin: Instant,
) {
    let timeouts = Timeouts::from(&console);
    let grid = grid(console.poll_interval);
    let mut client = NodeClient::new(&node, timeouts, POLLER_CLIENT_NAME);
    let mut refusals = 0u32;
    // Spread the first polls (connection set-up is the costly part) over a tenth of the
    // interval, off the grid, so hundreds of nodes do not connect in the same millisecond.
    let first = rand::rng().random_range(0.0..0.1);
    tokio::time::sleep(console.poll_interval.mul_f64(first)).await;
    loop {
        let started = Instant::now();
        let at = SystemTime::now();
        let result = match &mut client {
            Ok(c) => c.info().await,
            Err(e) => Err(e.clone()),
        };
        let (result, rtt) = match result {
            Ok((info, rtt)) => (Ok(Arc::new(info)), rtt),
            Err(e) => (Err(e), started.elapsed()),
        };
        refusals = match &result {
            Err(NodeError::Refused(_) | NodeError::Resolve(_)) => refusals.saturating_add(1),
            _ => 0,
        };
        if tx
            .send(Observation {
                id,
                at,
                rtt,
                result,
            })
            .await
            .is_err()
        {
            return;
        }
        let jitter = rand::rng().random_range(-0.1..0.1);
        let delay = next_delay(console.poll_interval, refusals.saturating_sub(1), jitter);
        // The nearest slot keeps the mean cadence at the interval; never sooner than half of it.
        let target = started + delay;
        let nearest = align(target.checked_sub(grid / 2).unwrap_or(target), origin, grid);
        let soonest = align(Instant::now() + delay / 2, origin, grid);
        tokio::time::sleep_until(nearest.max(soonest).into()).await;
    }
}

/// Polls every node once, all at the same time, each bounded by its timeouts.
pub async fn poll_once(config: &Config) -> Vec<Observation> {
    let timeouts = Timeouts::from(&config.console);
    let mut handles = Vec::new();
    for (gi, g) in config.groups.iter().enumerate() {
        for (ni, node) in g.nodes.iter().enumerate() {
            let id = NodeId {
                group: gi,
                node: ni,
            };
            let node = node.clone();
            handles.push(tokio::spawn(
                async move { poll_one(id, &node, timeouts).await },
            ));
        }
    }
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(obs) = h.await {
            out.push(obs);
        }
    }
    out
}

/// Polls one node once.
pub async fn poll_one(id: NodeId, node: &Node, timeouts: Timeouts) -> Observation {
    let started = Instant::now();
    let at = SystemTime::now();
    let result = match NodeClient::new(node, timeouts, POLLER_CLIENT_NAME) {
        Ok(mut c) => c.info().await,
        Err(e) => Err(e),
    };
    match result {
        Ok((info, rtt)) => Observation {
            id,
            at,
            rtt,
            result: Ok(Arc::new(info)),
        },
        Err(e) => Observation {
            id,
            at,
            rtt: started.elapsed(),
            result: Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{align, grid, next_delay};
    use std::time::{Duration, Instant};

    #[test]
    fn wake_ups_round_up_to_the_grid() {
        assert_eq!(grid(Duration::from_secs(1)), Duration::from_millis(50));
        assert_eq!(grid(Duration::from_millis(200)), Duration::from_millis(10));
        assert_eq!(grid(Duration::from_millis(5)), Duration::from_millis(1));
        let o = Instant::now();
        let g = Duration::from_millis(50);
        let ms = Duration::from_millis;
        assert_eq!(align(o, o, g), o);
        assert_eq!(align(o + ms(1), o, g), o + ms(50));
        assert_eq!(align(o + ms(50), o, g), o + ms(50));
        assert_eq!(align(o + ms(1049), o, g), o + ms(1050));
    }

    #[test]
    fn backoff_is_capped() {
        let i = Duration::from_secs(1);
        assert_eq!(next_delay(i, 0, 0.0), i);
        assert_eq!(next_delay(i, 1, 0.0), i * 2);
        assert_eq!(next_delay(i, 9, 0.0), i * 4);
        assert!(next_delay(i, 0, 0.5) <= Duration::from_millis(1100));
    }
}
