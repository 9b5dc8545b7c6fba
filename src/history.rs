//! Bounded time series per node, with explicit gaps.
//!
//! Each poll of a node appends one [`Point`]: a [`Sample`] when the poll succeeded, a gap
//! (`sample: None`) when it failed, so a chart never draws a false zero. The primary's offset
//! history is also what lag in seconds is estimated from. Pure data, no I/O, except
//! `history/loss_file.rs`: the data-loss watch's memory of each node, kept on disk between runs.
//!
//! Memory is bounded and paid up front: each node's ring is allocated once at its full capacity
//! (a growing `VecDeque` would round 600 up to 1024), and points are stored compactly
//! (`history/ring.rs`: 48 bytes each, the replid shared); [`History::points`] hands out
//! [`Point`] values built from them.

pub mod loss_file;
mod ring;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use ring::Ring;

use crate::observe::{NodeId, Observation};
use crate::topology::Topology;

/// One poll's worth of numbers for a node.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// `master_repl_offset` (primary) or `slave_repl_offset` (replica).
    pub offset: Option<u64>,
    /// `master_replid`; the points of a node on one replid share one allocation.
    pub replid: Option<Arc<str>>,
    /// Filled in after the topology of that cycle is built.
    pub lag_bytes: Option<u64>,
    pub lag_seconds: Option<f64>,
    pub rtt_ms: f64,
}

/// A sample, or a gap where the poll failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub at: SystemTime,
    pub sample: Option<Sample>,
}

/// Ring buffers of points, one per node.
#[derive(Debug, Clone)]
pub struct History {
    cap: usize,
    nodes: HashMap<NodeId, Ring>,
}

impl History {
    /// Keeps at most `cap` points per node (at least 2).
    #[must_use]
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(2),
            nodes: HashMap::new(),
        }
    }

    /// Appends the point for one observation.
    pub fn record(&mut self, obs: &Observation) {
        let cap = self.cap;
        let ring = self.nodes.entry(obs.id).or_insert_with(|| Ring::new(cap));
        let sample = obs.result.as_ref().ok().map(|info| {
            let r = &info.replication;
            let offset = match r.role {
                Some(crate::info::InfoRole::Replica) => r.replica_offset,
                _ => r.offset,
            };
            (offset, r.replid.as_deref(), obs.rtt.as_secs_f64() * 1000.0)
        });
        ring.push(obs.at, sample);
    }

    /// Writes the lag the topology computed into each node's latest sample.
    pub fn record_lag(&mut self, topology: &Topology) {
        for node in topology.groups.iter().flat_map(|g| &g.nodes) {
            let Some(ring) = node.id.and_then(|id| self.nodes.get_mut(&id)) else {
                continue;
            };
            ring.set_last_lag(node.lag_bytes, node.lag_seconds);
        }
    }

    /// All points of a node, oldest first (built from the compact store, so by value).
    pub fn points(&self, id: NodeId) -> impl DoubleEndedIterator<Item = Point> + '_ {
        self.nodes.get(&id).into_iter().flat_map(Ring::points)
    }

    /// Number of points held for a node.
    #[must_use]
    pub fn len(&self, id: NodeId) -> usize {
        self.nodes.get(&id).map_or(0, Ring::len)
    }

    /// True when nothing has been recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nodes.values().all(|r| r.len() == 0)
    }

    /// Estimated age of the oldest write a replica at `offset` has not applied, from the
    /// primary's offset history on `replid`: the time since the first sample in which the
    /// primary's offset had already passed `offset`. `Some(0)` when caught up with the latest
    /// sample; `None` when the history has nothing on that replid.
    #[must_use]
    pub fn lag_seconds(
        &self,
        primary: NodeId,
        replid: &str,
        offset: u64,
        now: SystemTime,
    ) -> Option<f64> {
        let ring = self.nodes.get(&primary)?;
        let on_replid = || ring.offsets_on(replid);
        let (_, latest) = on_replid().next_back()?;
        if offset >= latest {
            return Some(0.0);
        }
        let first_past = on_replid().find(|&(_, o)| o > offset).map(|(at, _)| at)?;
        Some(
            now.duration_since(first_past)
                .unwrap_or_default()
                .as_secs_f64(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::{Info, InfoRole};
    use crate::observe::NodeError;
    use std::sync::Arc;
    use std::time::Duration;

    fn obs(id: NodeId, at: SystemTime, offset: Option<u64>) -> Observation {
        let result = match offset {
            Some(o) => {
                let mut info = Info::default();
                info.replication.role = Some(InfoRole::Primary);
                info.replication.offset = Some(o);
                info.replication.replid = Some("r1".into());
                Ok(Arc::new(info))
            }
            None => Err(NodeError::Refused("test".into())),
        };
        Observation {
            id,
            at,
            rtt: Duration::from_millis(1),
            result,
        }
    }

    #[test]
    fn ring_is_bounded_and_keeps_gaps() {
        let id = NodeId { group: 0, node: 0 };
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut h = History::new(3);
        for i in 0..5u64 {
            let off = (i != 3).then_some(i * 10);
            h.record(&obs(id, t0 + Duration::from_secs(i), off));
        }
        let pts: Vec<_> = h.points(id).collect();
        assert_eq!(pts.len(), 3);
        assert!(pts[0].sample.is_some());
        assert!(
            pts[1].sample.is_none(),
            "the failed poll is a gap, not a zero"
        );
        assert_eq!(pts[2].sample.as_ref().and_then(|s| s.offset), Some(40));
    }

    #[test]
    fn points_of_one_replid_share_one_string() {
        let id = NodeId { group: 0, node: 0 };
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut h = History::new(10);
        for i in 0..3u64 {
            h.record(&obs(id, t0 + Duration::from_secs(i), Some(i)));
        }
        let ids: Vec<Arc<str>> = h.points(id).filter_map(|p| p.sample?.replid).collect();
        assert_eq!(ids.len(), 3);
        assert!(ids.iter().all(|r| Arc::ptr_eq(r, &ids[0]) && &**r == "r1"));
    }

    #[test]
    fn lag_seconds_from_primary_history() {
        let id = NodeId { group: 0, node: 0 };
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut h = History::new(10);
        for (i, off) in [100u64, 100, 200, 300].iter().enumerate() {
            h.record(&obs(id, t0 + Duration::from_secs(i as u64), Some(*off)));
        }
        let now = t0 + Duration::from_secs(4);
        assert_eq!(h.lag_seconds(id, "r1", 300, now), Some(0.0));
        // 150 was passed first in the sample at t0+2.
        assert_eq!(h.lag_seconds(id, "r1", 150, now), Some(2.0));
        assert_eq!(h.lag_seconds(id, "other", 150, now), None);
    }
}
