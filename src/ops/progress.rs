//! How far the snapshot gate's long items are: the BGSAVE's fork and the RDB download, as the
//! numbers both front-ends draw (a bar, a rate, an ETA) and the one text line they share.
//!
//! Pure arithmetic and words; nothing here reads a server or a clock.
//!
//! **What a BGSAVE's progress rests on.** Redis 7.0 reports `current_save_keys_processed` /
//! `current_save_keys_total` during a save, but measured on 7.0.15 with 400,000 keys (115 MB)
//! the processed count stays at 0 or 1 until the fork ends: the child reports it only now and
//! then. So a key count is trusted only once it has moved past the first key; otherwise the
//! fraction is the elapsed time against the last BGSAVE's duration (`rdb_last_bgsave_time_sec`,
//! whole seconds), and it is called an estimate wherever it is shown. Without an earlier save
//! there is nothing to compare with: only the elapsed time is shown.

use std::time::Duration;

use serde::Serialize;

use super::summary;

/// What a BGSAVE's fraction rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The keys the fork reports written.
    Keys,
    /// The elapsed time against the last BGSAVE's duration.
    Estimate,
    /// Nothing to compare with: only the elapsed time is known.
    None,
}

/// A running BGSAVE, as read from `INFO persistence`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SaveProgress {
    /// Since the BGSAVE was asked for (or the running child's age, when larger).
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_done: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_total: Option<u64>,
    /// How long the last BGSAVE took (`rdb_last_bgsave_time_sec`, to the half second).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_ms: Option<u64>,
    /// 0.0 to 1.0; `None` with [`Basis::None`]. An estimate stops at 0.99 until the save ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fraction: Option<f64>,
    pub basis: Basis,
}

/// The most an estimate claims before the save has ended.
const ESTIMATE_CAP: f64 = 0.99;

impl SaveProgress {
    /// The progress of a save running for `elapsed`, with the fork's key counts and the last
    /// save's duration in whole seconds (`-1` or `None`: no earlier save).
    #[must_use]
    pub fn new(
        elapsed: Duration,
        keys_done: Option<u64>,
        keys_total: Option<u64>,
        last_save_secs: Option<i64>,
    ) -> Self {
        let elapsed_ms = super::engine::ms(elapsed);
        // Whole seconds, truncated by the server: the middle of the second is the best guess.
        let expected_ms = last_save_secs
            .and_then(|s| u64::try_from(s).ok())
            .map(|s| s * 1000 + 500);
        let (fraction, basis) = match (keys_done, keys_total, expected_ms) {
            (Some(d), Some(t), _) if t > 0 && d > 1 => (Some(ratio(d, t).min(1.0)), Basis::Keys),
            (_, _, Some(e)) => (
                Some(ratio(elapsed_ms, e).min(ESTIMATE_CAP)),
                Basis::Estimate,
            ),
            _ => (None, Basis::None),
        };
        Self {
            elapsed_ms,
            keys_done,
            keys_total,
            expected_ms,
            fraction,
            basis,
        }
    }

    /// `212,000 of 400,000 keys (53%)`, `1.2s of about 2.5s (48%, an estimate from the last
    /// BGSAVE's time)`,
    /// `running 1.2s (no earlier BGSAVE to estimate from)`.
    #[must_use]
    pub fn line(&self) -> String {
        let el = secs(self.elapsed_ms);
        match (
            self.basis,
            self.keys_done,
            self.keys_total,
            self.expected_ms,
        ) {
            (Basis::Keys, Some(d), Some(t), _) => {
                format!("{} of {} keys ({})", count(d), count(t), pct(self.fraction))
            }
            (Basis::Estimate, _, _, Some(e)) => format!(
                "{el} of about {} ({}, an estimate from the last BGSAVE's time)",
                secs(e),
                pct(self.fraction)
            ),
            _ => format!("running {el} (no earlier BGSAVE to estimate from)"),
        }
    }
}

/// A running transfer: bytes so far, the announced length, the time since it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    pub bytes: u64,
    pub total: Option<u64>,
    pub elapsed_ms: u64,
    /// Without an announced length (a diskless transfer): the size of the node's last
    /// download, the estimate's reference.
    pub expected: Option<u64>,
}

impl Transfer {
    /// The length to measure against: the announced one, else the estimate (never below
    /// what has arrived).
    fn length(&self) -> Option<u64> {
        self.total
            .or(self.expected.map(|e| e.max(self.bytes)))
            .filter(|t| *t > 0)
    }

    /// True when the fraction rests on the last download's size, not an announced length.
    #[must_use]
    pub fn estimated(&self) -> bool {
        self.total.is_none() && self.expected.is_some()
    }

    /// 0.0 to 1.0 when the length is known; an estimate stops at 0.99.
    #[must_use]
    pub fn fraction(&self) -> Option<f64> {
        let f = ratio(self.bytes, self.length()?).min(1.0);
        Some(if self.estimated() {
            f.min(ESTIMATE_CAP)
        } else {
            f
        })
    }

    /// Mean bytes per second since the start; `None` before the first 100 ms (a rate over a
    /// few milliseconds says nothing).
    #[must_use]
    pub fn rate(&self) -> Option<f64> {
        (self.elapsed_ms >= 100).then(|| ratio(self.bytes, self.elapsed_ms) * 1000.0)
    }

    /// Time left at the mean rate, when the length is known (or estimated) and something has
    /// arrived.
    #[must_use]
    pub fn eta(&self) -> Option<Duration> {
        let total = self.length()?;
        let rate = self.rate().filter(|r| *r > 0.0)?;
        #[allow(clippy::cast_precision_loss)]
        let left = total.saturating_sub(self.bytes) as f64;
        Some(Duration::from_secs_f64(left / rate))
    }

    /// `41.2 MB of 83.0 MB (49%) · 20.6 MB/s · 2.0s left`; without a length (a diskless
    /// transfer announces none) against the last download's size, `41.2 MB of about 83.0 MB
    /// (49%) · 20.6 MB/s · about 2.0s left · size from the last download`, or
    /// with no earlier download `41.2 MB · 20.6 MB/s · length unknown (diskless)`.
    #[must_use]
    pub fn line(&self) -> String {
        let mut s = summary::bytes(self.bytes);
        let about = if self.estimated() { "about " } else { "" };
        if let Some(t) = self.length() {
            s.push_str(&format!(
                " of {about}{} ({})",
                summary::bytes(t),
                pct(self.fraction())
            ));
        }
        if let Some(r) = self.rate() {
            s.push_str(&format!(" · {}", per_sec(r)));
        }
        if let Some(eta) = self.eta().filter(|_| self.length() != Some(self.bytes)) {
            s.push_str(&format!(" · {about}{} left", secs(super::engine::ms(eta))));
        }
        if self.estimated() {
            s.push_str(" · size from the last download");
        } else if self.total.is_none() {
            s.push_str(" · length unknown (diskless)");
        }
        s
    }
}

/// `20.6 MB/s`.
#[must_use]
pub fn per_sec(rate: f64) -> String {
    // Bytes per second, far below 2^53; negative never.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let r = rate.max(0.0).round() as u64;
    format!("{}/s", summary::bytes(r))
}

/// `53%`; `?%` when unknown.
#[must_use]
pub fn pct(f: Option<f64>) -> String {
    // 0 to 100.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    f.map_or_else(
        || "?%".to_string(),
        |f| format!("{}%", (f * 100.0).floor().clamp(0.0, 100.0) as u64),
    )
}

/// `0.4s`, `12.3s`, `4m05s`.
#[must_use]
pub fn secs(ms: u64) -> String {
    if ms < 60_000 {
        #[allow(clippy::cast_precision_loss)]
        let s = ms as f64 / 1000.0;
        format!("{s:.1}s")
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

/// `400,000`.
fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[allow(clippy::cast_precision_loss)]
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    #[test]
    fn a_key_count_stuck_at_the_first_key_is_not_progress() {
        // What 7.0.15 reports for most of a 115 MB save: 0 or 1 of 400,000.
        let p = SaveProgress::new(Duration::from_millis(600), Some(1), Some(400_000), Some(1));
        assert_eq!(p.basis, Basis::Estimate);
        assert_eq!(p.expected_ms, Some(1500));
        assert_eq!(p.fraction, Some(0.4));
        assert_eq!(
            p.line(),
            "0.6s of about 1.5s (40%, an estimate from the last BGSAVE's time)"
        );
    }

    #[test]
    fn a_moving_key_count_is_measured_progress() {
        let p = SaveProgress::new(
            Duration::from_secs(3),
            Some(212_000),
            Some(400_000),
            Some(9),
        );
        assert_eq!(p.basis, Basis::Keys);
        assert_eq!(p.line(), "212,000 of 400,000 keys (53%)");
    }

    #[test]
    fn an_estimate_never_claims_the_end_and_no_history_claims_nothing() {
        let late = SaveProgress::new(Duration::from_secs(30), Some(0), Some(10), Some(2));
        assert_eq!(late.fraction, Some(0.99));
        let first = SaveProgress::new(Duration::from_millis(1200), Some(0), Some(0), Some(-1));
        assert_eq!((first.basis, first.fraction), (Basis::None, None));
        assert_eq!(
            first.line(),
            "running 1.2s (no earlier BGSAVE to estimate from)"
        );
    }

    #[test]
    fn transfer_rate_eta_and_line() {
        let t = Transfer {
            bytes: 40 * MB,
            total: Some(80 * MB),
            elapsed_ms: 2000,
            expected: None,
        };
        assert_eq!(t.fraction(), Some(0.5));
        assert_eq!(t.rate(), Some(20.0 * f64::from(1u32 << 20)));
        assert_eq!(t.eta(), Some(Duration::from_secs(2)));
        assert_eq!(t.line(), "40.0 MB of 80.0 MB (50%) · 20.0 MB/s · 2.0s left");
        let done = Transfer {
            bytes: 80 * MB,
            ..t
        };
        assert_eq!(done.line(), "80.0 MB of 80.0 MB (100%) · 40.0 MB/s");
        let diskless = Transfer {
            bytes: 3 * MB,
            total: None,
            elapsed_ms: 50,
            expected: None,
        };
        assert_eq!((diskless.rate(), diskless.eta()), (None, None));
        assert_eq!(diskless.line(), "3.0 MB · length unknown (diskless)");
    }

    #[test]
    fn a_diskless_transfer_is_estimated_from_the_last_download() {
        let t = Transfer {
            bytes: 60 * MB,
            total: None,
            elapsed_ms: 3000,
            expected: Some(80 * MB),
        };
        assert!(t.estimated());
        assert_eq!(t.fraction(), Some(0.75));
        assert_eq!(t.eta(), Some(Duration::from_secs(1)));
        assert_eq!(
            t.line(),
            "60.0 MB of about 80.0 MB (75%) · 20.0 MB/s · about 1.0s left · size from the last \
             download"
        );
        // Bigger than last time: never past 99%, never a negative time left.
        let over = Transfer {
            bytes: 90 * MB,
            ..t
        };
        assert_eq!(over.fraction(), Some(0.99));
        assert_eq!(over.eta(), Some(Duration::ZERO));
    }

    #[test]
    fn words_for_numbers() {
        assert_eq!(secs(400), "0.4s");
        assert_eq!(secs(245_000), "4m05s");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(999), "999");
        assert_eq!(pct(None), "?%");
        assert_eq!(pct(Some(0.999)), "99%");
    }
}
