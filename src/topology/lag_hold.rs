//! Lag alerts with hysteresis, as alerting systems raise and clear them.
//!
//! One cycle's lag level is a single reading: during a write burst a healthy replica crosses
//! the warn threshold and comes back several times a second, and an alert that follows each
//! reading flaps ("lag high", "cleared", "lag high"...) until operators stop reading the
//! banner. A level is therefore raised only once the lag has stayed at or above it for
//! [`LAG_RAISE_AFTER`], and lowered only once the lag has stayed below the thresholds scaled by
//! [`LAG_CLEAR_RATIO`] for [`LAG_CLEAR_AFTER`]. Pure: the state is what was shown per node and
//! since when a move has been pending; the one-shot `status` does not use it (it reports the
//! reading it took).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use super::{anomaly, AnomalyKind, LagLevel, NodeView, Topology};
use crate::config::LagThresholds;

/// How long a lag must stay at or above a level before that level is shown. Three seconds is
/// three polls at the default interval: longer than the sub-second spikes of a burst that a
/// replica absorbs by itself, short next to a replica that really falls behind.
pub const LAG_RAISE_AFTER: Duration = Duration::from_secs(3);

/// How long a lag must stay below the clear thresholds before a shown level is lowered. Longer
/// than the raise delay: a "cleared" that is raised again a second later is the flapping this
/// module exists to stop.
pub const LAG_CLEAR_AFTER: Duration = Duration::from_secs(5);

/// A raised level clears below this fraction of its threshold (80 %), so a lag hovering
/// around the threshold neither raises nor clears on every reading.
pub const LAG_CLEAR_RATIO: f64 = 0.8;

/// `limits` lowered to [`LAG_CLEAR_RATIO`]: the thresholds a raised alert must fall below.
#[must_use]
pub(super) fn clear_limits(limits: &LagThresholds) -> LagThresholds {
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let scale = |b: u64| (b as f64 * LAG_CLEAR_RATIO) as u64;
    LagThresholds {
        warn_bytes: scale(limits.warn_bytes),
        crit_bytes: scale(limits.crit_bytes),
        warn_seconds: limits.warn_seconds * LAG_CLEAR_RATIO,
        crit_seconds: limits.crit_seconds * LAG_CLEAR_RATIO,
    }
}

/// A move of the shown level waiting for its minimum duration.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pending {
    since: SystemTime,
    up: bool,
    /// Where the level goes when the move is due: the lowest reading since `since` for a
    /// raise, the highest for a clear (the level the whole window sustained).
    to: LagLevel,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Held {
    shown: LagLevel,
    pending: Option<Pending>,
}

/// The lag level shown per replica, raised and cleared with hysteresis.
#[derive(Debug, Clone, Default)]
pub struct LagHold {
    nodes: HashMap<(usize, String), Held>,
}

impl LagHold {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces each replica's lag level in `topo` by the held one and rebuilds the `lag_high`
    /// anomalies from it. `now` is the time of the cycle.
    pub fn apply(&mut self, topo: &mut Topology, now: SystemTime) {
        let mut present = HashSet::new();
        for g in &mut topo.groups {
            let mut changed = false;
            for n in g.nodes.iter_mut().filter(|n| !n.unmanaged) {
                // No reading this cycle (not a replica, link down, other history): nothing to
                // hold; a new reading starts from scratch.
                if n.lag_bytes.is_none() || n.lag_level == LagLevel::Unknown {
                    continue;
                }
                let key = (g.index, n.name.clone());
                let held = self.nodes.entry(key.clone()).or_insert(Held {
                    shown: LagLevel::Ok,
                    pending: None,
                });
                step(held, n, now);
                present.insert(key);
                if n.lag_level != held.shown {
                    n.lag_level = held.shown;
                    changed = true;
                }
            }
            if changed {
                g.anomalies.retain(|a| a.kind != AnomalyKind::LagHigh);
                g.anomalies.extend(
                    g.nodes
                        .iter()
                        .filter(|n| !n.unmanaged)
                        .filter_map(anomaly::lag_high),
                );
                anomaly::sort(&mut g.anomalies);
            }
        }
        self.nodes.retain(|k, _| present.contains(k));
    }
}

/// One reading: start, extend or complete a pending move, or drop it when the reading no
/// longer asks for it.
fn step(held: &mut Held, n: &NodeView, now: SystemTime) {
    let (raw, hold) = (n.lag_level, n.lag_hold_level);
    let wanted = if raw > held.shown {
        Some((true, raw))
    } else if hold < held.shown {
        Some((false, hold))
    } else {
        None
    };
    let Some((up, to)) = wanted else {
        held.pending = None;
        return;
    };
    let pending = match held.pending {
        Some(p) if p.up == up => Pending {
            to: if up { p.to.min(to) } else { p.to.max(to) },
            ..p
        },
        _ => Pending { since: now, up, to },
    };
    let due = if up { LAG_RAISE_AFTER } else { LAG_CLEAR_AFTER };
    if now.duration_since(pending.since).unwrap_or_default() >= due {
        held.shown = pending.to;
        held.pending = None;
    } else {
        held.pending = Some(pending);
    }
}
