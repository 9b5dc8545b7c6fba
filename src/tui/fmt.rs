//! Short, fixed-width text for numbers, ages, times and health words, shared by every view.
//!
//! Pure functions only. Health is always given as a symbol *and* a word, so the screen reads
//! the same without colour (`NO_COLOR`, colour-blind operators, a monochrome SSH client).

use std::time::{Duration, SystemTime};

use time::macros::format_description;
use time::OffsetDateTime;

use crate::observe::NodeState;
use crate::topology::{LagLevel, Severity};

/// `1.2K`, `34M`, `5.0G` (powers of 1024), exact below 1024.
#[must_use]
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1}{}", UNITS[unit])
    } else {
        format!("{v:.0}{}", UNITS[unit])
    }
}

/// `950`, `1.2k`, `34k`, `5.1M` (powers of 1000).
#[must_use]
pub fn count(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let v = n as f64;
    match n {
        0..=999 => n.to_string(),
        1_000..=9_999 => format!("{:.1}k", v / 1e3),
        10_000..=999_999 => format!("{:.0}k", v / 1e3),
        1_000_000..=9_999_999 => format!("{:.1}M", v / 1e6),
        10_000_000..=999_999_999 => format!("{:.0}M", v / 1e6),
        _ => format!("{:.1}G", v / 1e9),
    }
}

/// An age or a span in the one format every view uses (`<1s`, `45s`, `1m30s`, `2h05m`,
/// `3d04h`): see [`crate::timefmt::secs`].
#[must_use]
pub fn secs(s: u64) -> String {
    crate::timefmt::secs(s)
}

/// A duration the same way as [`secs`].
#[must_use]
pub fn dur(d: Duration) -> String {
    crate::timefmt::span(d)
}

/// Lag in seconds: `0.4s`, `12s`, `1m30s` (see [`crate::timefmt::lag`]).
#[must_use]
pub fn lag_secs(s: f64) -> String {
    crate::timefmt::lag(s)
}

/// Age of `then` at `now` as [`secs`] says (`?` when `then` is in the future by more than a
/// second).
#[must_use]
pub fn age(now: SystemTime, then: SystemTime) -> String {
    crate::timefmt::age(now, then)
}

/// A poll latency: `0.4ms`, `12ms`, `1.2s`.
#[must_use]
pub fn latency(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.1}s", ms / 1000.0)
    }
}

/// `HH:MM:SS` in UTC.
#[must_use]
pub fn clock(t: SystemTime) -> String {
    crate::timefmt::clock(t)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC: a time that may be days old (the history of runs).
#[must_use]
pub fn date_clock(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_else(|_| "????-??-?? ??:??:??".to_string())
}

/// RFC 3339 in UTC with milliseconds, for exported timelines.
#[must_use]
pub fn timestamp(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .unwrap_or_else(|_| "?".to_string())
}

/// Symbol and word for a node state; the word is what `status --json` says.
#[must_use]
pub fn state(s: NodeState) -> (&'static str, &'static str) {
    let sym = match s {
        NodeState::Up => "●",
        NodeState::Unknown => "?",
        NodeState::Loading | NodeState::Busy | NodeState::Stale => "◐",
        NodeState::Down => "✖",
        NodeState::Unresponsive => "◌",
        NodeState::AuthError | NodeState::NoPerm | NodeState::TlsError | NodeState::Error => "✖",
    };
    let word = match s {
        NodeState::AuthError => "auth error",
        NodeState::NoPerm => "no perm",
        NodeState::TlsError => "tls error",
        other => other.as_str(),
    };
    (sym, word)
}

/// Symbol for a severity.
#[must_use]
pub fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "✖",
        Severity::Warning => "▲",
        Severity::Info => "•",
    }
}

/// Marker after a lag figure: nothing when fine, `!` warning, `!!` critical.
#[must_use]
pub fn lag_mark(l: LagLevel) -> &'static str {
    match l {
        LagLevel::Ok | LagLevel::Unknown => "",
        LagLevel::Warn => "!",
        LagLevel::Critical => "!!",
    }
}

/// Word-wraps `text` to lines of at most `width` characters (long words are cut).
#[must_use]
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let mut word = word.to_string();
        loop {
            let need = cur.chars().count() + usize::from(!cur.is_empty()) + word.chars().count();
            if need <= width {
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.push_str(&word);
                break;
            }
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
            if word.is_empty() {
                break;
            }
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// `text` in at most `width` characters: whole when it fits, else cut with `…` as its last
/// character, so a cut value never passes for a whole one. Every cell the views cut goes
/// through here.
#[must_use]
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// Bars for sparklines, lowest first.
pub const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// What a sparkline draws for a failed poll: a gap, never a zero.
pub const GAP: char = '×';
/// What a sparkline draws where the poll worked but gave no figure (`NaN`), e.g. lag on
/// another replication id.
pub const NO_FIGURE: char = '·';

/// A sparkline of the last `width` values; `None` is a gap, `NaN` a sample without a figure.
/// Bars are scaled to the window's largest value, but never to less than `floor`, so noise
/// of a few bytes does not draw as full bars.
#[must_use]
pub fn sparkline(values: &[Option<f64>], width: usize, floor: f64) -> String {
    let start = values.len().saturating_sub(width);
    let window = &values[start..];
    let max = window
        .iter()
        .flatten()
        .filter(|v| !v.is_nan())
        .fold(floor, |m, v| m.max(*v));
    let mut out: String = window
        .iter()
        .map(|v| match v {
            None => GAP,
            Some(x) if x.is_nan() => NO_FIGURE,
            Some(x) if max <= 0.0 || *x <= 0.0 => BARS[0],
            Some(x) => {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let i = ((x / max) * 7.0).round() as usize;
                BARS[i.min(7)]
            }
        })
        .collect();
    let pad = width.saturating_sub(window.len());
    out.insert_str(0, &" ".repeat(pad));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5K");
        assert_eq!(bytes(50 * 1024 * 1024), "50M");
        assert_eq!(count(999), "999");
        assert_eq!(count(12_345), "12k");
        assert_eq!(secs(59), "59s");
        assert_eq!(secs(600), "10m");
        assert_eq!(lag_secs(0.42), "0.4s");
        assert_eq!(latency(Duration::from_micros(420)), "0.4ms");
    }

    #[test]
    fn sparkline_shows_gaps_not_zeros() {
        let s = sparkline(&[Some(0.0), Some(10.0), None, Some(5.0)], 6, 0.0);
        assert_eq!(s, "  ▁█×▅");
        assert_eq!(sparkline(&[], 3, 0.0), "   ");
        assert_eq!(sparkline(&[Some(1.0), Some(50.0)], 2, 1024.0), "▁▁");
        assert_eq!(sparkline(&[Some(f64::NAN), Some(1.0)], 2, 0.0), "·█");
    }

    #[test]
    fn wraps_words() {
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 3), vec![""]);
    }

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        assert_eq!(fit("abcdef", 6), "abcdef");
        assert_eq!(fit("abcdef", 5), "abcd…");
        assert_eq!(fit("abcdef", 1), "…");
        assert_eq!(fit("abcdef", 0), "");
        assert_eq!(fit("n1 → n2", 7), "n1 → n2");
    }

    #[test]
    fn times_are_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(3_723_250);
        assert_eq!(clock(t), "01:02:03");
        assert_eq!(timestamp(t), "1970-01-01T01:02:03.250Z");
    }
}
