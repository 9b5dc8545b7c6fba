//! The demo's background writer: `SET demo:{i}` (or `PREFIX:{i}`) on the current primary at a gently varying
//! rate (20 to 300 writes a second, a slow wave), so offsets and lag move on screen.
//!
//! Bounded: at most [`KEYS`] distinct keys of at most 512 bytes, every command under the
//! node's timeouts. It follows the primary: on `READONLY` or a lost connection it pauses and
//! asks every node `ROLE` until it finds a primary again. Stopped by [`Writer::stop`] or on
//! drop (the task is aborted).

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::config::Node;
use crate::node::{NodeClient, Timeouts};

/// Distinct keys the writer cycles through.
pub const KEYS: u64 = 5_000;
/// Slowest and fastest write rates.
pub const RATE: (f64, f64) = (20.0, 300.0);
/// Period of the rate wave.
const WAVE: Duration = Duration::from_secs(40);
const TICK: Duration = Duration::from_millis(50);

/// The running writer.
#[derive(Debug)]
pub struct Writer {
    task: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts writing to whichever of `nodes` is primary. Must run inside a tokio runtime.
    #[must_use]
    pub fn spawn(nodes: Vec<Node>, timeouts: Timeouts) -> Self {
        Self::spawn_keys(nodes, timeouts, "demo".to_string())
    }

    /// As [`spawn`](Self::spawn), with keys `PREFIX:N`: a cluster shard's writer gives a
    /// hash tag of its shard as the prefix, so that every key lands on its primary.
    #[must_use]
    pub fn spawn_keys(nodes: Vec<Node>, timeouts: Timeouts, prefix: String) -> Self {
        Self {
            task: Some(tokio::spawn(run(nodes, timeouts, prefix))),
        }
    }

    /// Stops writing (idempotent).
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Writes per second at `elapsed` into the wave.
#[must_use]
pub fn rate_at(elapsed: Duration) -> f64 {
    let phase = elapsed.as_secs_f64() / WAVE.as_secs_f64() * std::f64::consts::TAU;
    let (lo, hi) = RATE;
    lo + (hi - lo) * (1.0 - phase.cos()) / 2.0
}

async fn find_primary(nodes: &[Node], timeouts: Timeouts) -> Option<NodeClient> {
    for n in nodes {
        let Ok(mut c) = NodeClient::new(n, timeouts, "redops-demo-writer") else {
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

async fn run(nodes: Vec<Node>, timeouts: Timeouts, prefix: String) {
    let started = Instant::now();
    let mut client: Option<NodeClient> = None;
    let mut i: u64 = 0;
    let mut owed = 0.0f64;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let Some(c) = client.as_mut() else {
            client = find_primary(&nodes, timeouts).await;
            if client.is_none() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            continue;
        };
        owed += rate_at(started.elapsed()) * TICK.as_secs_f64();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = owed.floor() as u64;
        owed -= owed.floor();
        for _ in 0..n {
            let len = 32 + usize::try_from((i * 7919) % 480).unwrap_or(0);
            let cmd = redis::cmd("SET")
                .arg(format!("{prefix}:{}", i % KEYS))
                .arg("x".repeat(len))
                .clone();
            i += 1;
            if c.query::<()>(&cmd).await.is_err() {
                // READONLY (the primary changed) or the node went away: look again.
                client = None;
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_waves_within_bounds() {
        let samples: Vec<f64> = (0..80)
            .map(|s| rate_at(Duration::from_millis(s * 500)))
            .collect();
        assert!(samples.iter().all(|r| (RATE.0..=RATE.1).contains(r)));
        assert!((samples[0] - RATE.0).abs() < 1e-9);
        assert!((rate_at(WAVE / 2) - RATE.1).abs() < 1e-9);
    }
}
