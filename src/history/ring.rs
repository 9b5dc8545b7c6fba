//! One node's points, stored compactly: 48 bytes a point instead of the 88 of a `Point`, which
//! matters at 500 nodes x 600 points. Times are nanoseconds since the Unix epoch, absent values
//! are flags, and the 40-character replid is an index into a small per-node table of the
//! distinct replids its points carry (usually one; a new one per failover).
//!
//! It converts to and from the public [`Point`]/[`Sample`] exactly for any time from 1970 to
//! 2554 (outside that range a time is clamped to it). It knows nothing of observations or
//! topology: that is `history.rs`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{Point, Sample};

const SAMPLE: u8 = 1;
const OFFSET: u8 = 2;
const LAG_BYTES: u8 = 4;
const LAG_SECONDS: u8 = 8;
/// `Slot::replid` when the sample had no replid.
const NO_REPLID: u32 = u32::MAX;
/// The replid table is pruned of ids no point uses once it holds this many.
const PRUNE_AT: usize = 8;

/// A point as stored.
#[derive(Debug, Clone, Copy)]
struct Slot {
    at_ns: u64,
    offset: u64,
    lag_bytes: u64,
    lag_seconds: f64,
    rtt_ms: f64,
    replid: u32,
    flags: u8,
}

/// A bounded ring of slots, allocated once at full capacity.
#[derive(Debug, Clone)]
pub(super) struct Ring {
    cap: usize,
    slots: VecDeque<Slot>,
    replids: Vec<Arc<str>>,
}

impl Ring {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            cap,
            slots: VecDeque::with_capacity(cap),
            replids: Vec::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Appends a point, dropping the oldest when full.
    pub(super) fn push(
        &mut self,
        at: SystemTime,
        sample: Option<(Option<u64>, Option<&str>, f64)>,
    ) {
        let mut slot = Slot {
            at_ns: to_ns(at),
            offset: 0,
            lag_bytes: 0,
            lag_seconds: 0.0,
            rtt_ms: 0.0,
            replid: NO_REPLID,
            flags: 0,
        };
        if let Some((offset, replid, rtt_ms)) = sample {
            slot.flags = SAMPLE;
            if let Some(o) = offset {
                slot.flags |= OFFSET;
                slot.offset = o;
            }
            slot.rtt_ms = rtt_ms;
            if let Some(id) = replid {
                slot.replid = self.intern(id);
            }
        }
        if self.slots.len() >= self.cap {
            self.slots.pop_front();
        }
        self.slots.push_back(slot);
    }

    /// Sets the lag of the latest point, when it is a sample.
    pub(super) fn set_last_lag(&mut self, bytes: Option<u64>, seconds: Option<f64>) {
        let Some(s) = self.slots.back_mut().filter(|s| s.flags & SAMPLE != 0) else {
            return;
        };
        s.flags &= !(LAG_BYTES | LAG_SECONDS);
        if let Some(b) = bytes {
            s.flags |= LAG_BYTES;
            s.lag_bytes = b;
        }
        if let Some(secs) = seconds {
            s.flags |= LAG_SECONDS;
            s.lag_seconds = secs;
        }
    }

    /// Every point, oldest first.
    pub(super) fn points(&self) -> impl DoubleEndedIterator<Item = Point> + '_ {
        self.slots.iter().map(|s| self.point(s))
    }

    /// `(at, offset)` of the samples on `replid` that have an offset, oldest first.
    pub(super) fn offsets_on<'a>(
        &'a self,
        replid: &str,
    ) -> impl DoubleEndedIterator<Item = (SystemTime, u64)> + 'a {
        let index = self.replids.iter().position(|r| &**r == replid);
        self.slots.iter().filter_map(move |s| {
            let on = index.is_some_and(|i| s.replid as usize == i);
            (on && s.flags & OFFSET != 0).then_some((from_ns(s.at_ns), s.offset))
        })
    }

    fn point(&self, s: &Slot) -> Point {
        let sample = (s.flags & SAMPLE != 0).then(|| Sample {
            offset: (s.flags & OFFSET != 0).then_some(s.offset),
            replid: self.replids.get(s.replid as usize).cloned(),
            lag_bytes: (s.flags & LAG_BYTES != 0).then_some(s.lag_bytes),
            lag_seconds: (s.flags & LAG_SECONDS != 0).then_some(s.lag_seconds),
            rtt_ms: s.rtt_ms,
        });
        Point {
            at: from_ns(s.at_ns),
            sample,
        }
    }

    /// The table index of `replid`, added when new (pruning unused ids first when the table
    /// is full, so a node whose replid keeps changing does not grow it without bound).
    fn intern(&mut self, replid: &str) -> u32 {
        if let Some(i) = self.replids.iter().rposition(|r| &**r == replid) {
            return u32::try_from(i).unwrap_or(NO_REPLID);
        }
        if self.replids.len() >= PRUNE_AT {
            self.prune();
        }
        self.replids.push(Arc::from(replid));
        u32::try_from(self.replids.len() - 1).unwrap_or(NO_REPLID)
    }

    /// Drops the replids no slot refers to and renumbers the slots.
    fn prune(&mut self) {
        let mut used = vec![false; self.replids.len()];
        for s in &self.slots {
            if let Some(u) = used.get_mut(s.replid as usize) {
                *u = true;
            }
        }
        let mut renumber = vec![NO_REPLID; self.replids.len()];
        let mut kept = Vec::with_capacity(self.replids.len());
        for (i, id) in self.replids.drain(..).enumerate() {
            if used[i] {
                renumber[i] = u32::try_from(kept.len()).unwrap_or(NO_REPLID);
                kept.push(id);
            }
        }
        self.replids = kept;
        for s in &mut self.slots {
            if let Some(&n) = renumber.get(s.replid as usize) {
                s.replid = n;
            }
        }
    }
}

fn to_ns(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn from_ns(ns: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_48_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 48);
    }

    #[test]
    fn points_round_trip_exactly() {
        let mut r = Ring::new(4);
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_790_000_000, 123_456_789);
        r.push(t, Some((Some(u64::MAX), Some("abc"), 0.25)));
        r.set_last_lag(Some(0), Some(1.5));
        r.push(t, None);
        r.push(t, Some((None, None, 2.0)));
        let p: Vec<Point> = r.points().collect();
        assert_eq!(p[0].at, t);
        let s = p[0].sample.as_ref().unwrap();
        assert_eq!(
            (
                s.offset,
                s.replid.as_deref(),
                s.lag_bytes,
                s.lag_seconds,
                s.rtt_ms
            ),
            (Some(u64::MAX), Some("abc"), Some(0), Some(1.5), 0.25)
        );
        assert_eq!(p[1].sample, None);
        let s = p[2].sample.as_ref().unwrap();
        assert_eq!(
            (s.offset, s.replid.as_deref(), s.lag_bytes),
            (None, None, None)
        );
    }

    #[test]
    fn replid_table_stays_small_when_ids_keep_changing() {
        let mut r = Ring::new(3);
        let t = SystemTime::UNIX_EPOCH;
        for i in 0..100u64 {
            r.push(t, Some((Some(i), Some(&format!("id{i}")), 1.0)));
        }
        assert!(r.replids.len() <= PRUNE_AT);
        let ids: Vec<String> = r
            .points()
            .filter_map(|p| p.sample?.replid.map(|s| s.to_string()))
            .collect();
        assert_eq!(ids, ["id97", "id98", "id99"]);
        assert_eq!(
            r.offsets_on("id98").map(|(_, o)| o).collect::<Vec<_>>(),
            [98]
        );
        assert_eq!(r.offsets_on("id3").count(), 0);
    }
}
