//! A check's result in words, the same for the CLI, the console and the audit record: how a
//! pair was compared, why one was not, one line per replica, and the audit record of a group.
//! No front-end syntax here (no flag names): a front-end adds its own way to allow a pause.

use std::time::{Duration, SystemTime};

use crate::audit::checks::{Check, CHECK_DATA};
use crate::audit::Outcome;
use crate::node::rdb::DbCount;
use crate::timefmt;

use super::{GroupReport, Method, PairReport, Undecided, Verdict};

/// `db0=10 db1=3`, or `empty`.
#[must_use]
pub fn counts(list: &[DbCount]) -> String {
    if list.is_empty() {
        return "empty".to_string();
    }
    list.iter()
        .map(|d| format!("db{}={}", d.db, d.keys))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How the pair was compared: `DEBUG DIGEST at offset 1234, 1 attempt in 3ms`, or the scan
/// fallback with its coverage, and the write pause when there was one.
#[must_use]
pub fn method(p: &PairReport) -> String {
    let how = match &p.method {
        Some(Method::Digest) => "DEBUG DIGEST".to_string(),
        Some(Method::Scan { compared, total }) => {
            let pct = if *total == 0 {
                100.0
            } else {
                #[allow(clippy::cast_precision_loss)]
                let v = *compared as f64 * 100.0 / *total as f64;
                v.min(100.0)
            };
            format!("DEBUG refused: DUMP of {compared} of {total} keys ({pct:.1}% coverage)")
        }
        None => "-".to_string(),
    };
    let at = p
        .offset
        .map_or(String::new(), |o| format!(" at offset {o}"));
    let pause = p.paused.map_or(String::new(), |d| {
        format!(", writes paused up to {}", millis(d))
    });
    // A check of a small dataset takes milliseconds: `<1s` would say nothing.
    let took = if p.elapsed < Duration::from_secs(1) {
        millis(p.elapsed)
    } else {
        timefmt::span(p.elapsed)
    };
    format!(
        "{how}{at}, {} in {took}{pause}",
        crate::words::count(p.attempts, "attempt")
    )
}

/// Why a replica was not compared.
#[must_use]
pub fn why(why: &Undecided, p: &PairReport) -> String {
    match why {
        Undecided::NoAnswer => "it does not answer INFO".to_string(),
        Undecided::OtherHistory => {
            "it is in no primary's replication history (another replid)".to_string()
        }
        Undecided::NoEqualOffsets if p.paused.is_some() => format!(
            "the write pause ran out before the replica was read at the primary's offset ({})",
            crate::words::count(p.attempts, "attempt")
        ),
        Undecided::NoEqualOffsets => format!(
            "the replica was never read at the primary's offset in {} (writes too fast to \
             catch both sides at one point)",
            crate::words::count(p.attempts, "attempt")
        ),
        Undecided::Failed(e) => e.clone(),
    }
}

/// One replica in one line: `r1 consistent`, `r2 MISMATCH db0 (10 on p, 510 on r2), e.g.
/// db0: k (only on the replica)`, `r3 not compared: why`.
#[must_use]
pub fn pair_line(p: &PairReport) -> String {
    match &p.verdict {
        Verdict::Consistent => format!("{} consistent", p.replica),
        Verdict::Mismatch { dbs, examples } => {
            let mut s = format!("{} MISMATCH", p.replica);
            let dbs: Vec<String> = dbs
                .iter()
                .map(|d| {
                    format!(
                        "db{} ({} on {}, {} on {})",
                        d.db, d.primary_keys, p.primary, d.replica_keys, p.replica
                    )
                })
                .collect();
            if dbs.is_empty() {
                s.push_str(" (same key counts, different data)");
            } else {
                s.push_str(&format!(" {}", dbs.join(", ")));
            }
            if let Some(k) = examples.first() {
                s.push_str(&format!(", e.g. {k}"));
            }
            s
        }
        Verdict::Undecided(w) => format!("{} not compared: {}", p.replica, why(w, p)),
    }
}

impl GroupReport {
    /// Some pair was not compared only because no point in time was caught under writes: a
    /// brief write pause would settle it.
    #[must_use]
    pub fn needs_pause(&self) -> bool {
        self.pairs.iter().any(|p| {
            p.paused.is_none() && p.verdict == Verdict::Undecided(Undecided::NoEqualOffsets)
        })
    }

    /// How long writes were paused in all (measured), when they were.
    #[must_use]
    pub fn paused_for(&self) -> Option<Duration> {
        self.pairs
            .iter()
            .filter_map(|p| p.paused_for)
            .reduce(|a, b| a + b)
    }

    /// The result in one line: each replica's verdict, or why the group was not checked.
    #[must_use]
    pub fn summary(&self) -> String {
        if let Some(p) = &self.problem {
            return format!("not checked: {p}");
        }
        if self.pairs.is_empty() {
            return "no replica to compare".to_string();
        }
        self.pairs
            .iter()
            .map(pair_line)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Its audit record (the check begun at `started`): consistent is `done`, anything else `failed`; the pause allowed and
    /// the time writes were really paused.
    #[must_use]
    pub fn audit(&self, allow_pause: Option<Duration>, started: SystemTime) -> Check {
        let mut nodes = self.primaries.clone();
        nodes.extend(self.pairs.iter().map(|p| p.replica.clone()));
        Check {
            action: CHECK_DATA,
            group: self.group.clone(),
            nodes,
            outcome: if self.consistent() {
                Outcome::Done
            } else {
                Outcome::Failed
            },
            detail: self.summary(),
            reason: allow_pause.map(pause_reason),
            pause_ms: self
                .paused_for()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            started,
        }
    }
}

/// A write pause in milliseconds (`200ms`): pauses are short, and `<1s` would say nothing.
#[must_use]
pub fn millis(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

fn pause_reason(d: Duration) -> String {
    format!("a write pause of at most {} per replica allowed", millis(d))
}

/// The audit record of a check of `group` that did not run because the write pause it asked
/// for was refused: `why` (not confirmed, read-only).
#[must_use]
pub fn refused(group: &str, allow_pause: Duration, why: &str) -> Check {
    Check {
        action: CHECK_DATA,
        group: group.to_string(),
        nodes: Vec::new(),
        outcome: Outcome::Refused,
        detail: format!("{why}: nothing was checked or paused"),
        reason: Some(pause_reason(allow_pause)),
        pause_ms: None,
        started: SystemTime::now(),
    }
}
