//! Ages and clock times in one format, for every place a person reads them: the console's
//! tree, detail pane, banners and runbook, the CLI's text, and the core's messages (anomalies,
//! guard reports). Pure functions only; no Unix epoch is ever shown to a person.
//!
//! An age is at most five characters, so it fits a table column, and reads the same
//! everywhere: `<1s`, `45s`, `1m30s`, `42m`, `2h05m`, `14h`, `3d04h`, `12d` (the second unit
//! is dropped once the first has two digits).

use std::time::{Duration, SystemTime};

use time::macros::format_description;
use time::OffsetDateTime;

/// A whole number of seconds as an age or a span: `<1s`, `45s`, `1m30s`, `42m`, `2h05m`,
/// `14h`, `3d04h`, `12d`.
#[must_use]
pub fn secs(s: u64) -> String {
    const MIN: u64 = 60;
    const HOUR: u64 = 3_600;
    const DAY: u64 = 86_400;
    match s {
        0 => "<1s".to_string(),
        1..MIN => format!("{s}s"),
        _ if s < 10 * MIN => format!("{}m{:02}s", s / MIN, s % MIN),
        _ if s < HOUR => format!("{}m", s / MIN),
        _ if s < 10 * HOUR => format!("{}h{:02}m", s / HOUR, s % HOUR / MIN),
        _ if s < DAY => format!("{}h", s / HOUR),
        _ if s < 10 * DAY => format!("{}d{:02}h", s / DAY, s % DAY / HOUR),
        _ => format!("{}d", s / DAY),
    }
}

/// A replica's lag in seconds: `0.4s` under ten seconds (a tenth matters there), then as
/// [`secs`] (`12s`, `1m30s`).
#[must_use]
pub fn lag(s: f64) -> String {
    if s < 10.0 {
        format!("{:.1}s", s.max(0.0))
    } else {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        secs(s as u64)
    }
}

/// A duration the same way as [`secs`] (whole seconds, rounded down).
#[must_use]
pub fn span(d: Duration) -> String {
    secs(d.as_secs())
}

/// Age of `then` at `now` as [`secs`] says; `?` when `then` is in the future by more than a
/// second (two clocks disagree), `<1s` when by less.
#[must_use]
pub fn age(now: SystemTime, then: SystemTime) -> String {
    match now.duration_since(then) {
        Ok(d) => span(d),
        Err(e) if e.duration() < Duration::from_secs(1) => secs(0),
        Err(_) => "?".to_string(),
    }
}

/// Age of a Unix time in seconds as a server reports it (`rdb_last_save_time`): `?` when it
/// is negative.
#[must_use]
pub fn age_of_unix(now: SystemTime, unix_secs: i64) -> String {
    u64::try_from(unix_secs).map_or_else(
        |_| "?".to_string(),
        |s| age(now, SystemTime::UNIX_EPOCH + Duration::from_secs(s)),
    )
}

/// `HH:MM:SS` in UTC, the console's clock.
#[must_use]
pub fn clock(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(format_description!("[hour]:[minute]:[second]"))
        .unwrap_or_else(|_| "??:??:??".to_string())
}

/// A Unix time in seconds as a server reports it, as a date and clock time in UTC:
/// `2026-12-05 07:42:10 UTC` (for a message read without a "now" to take an age from).
#[must_use]
pub fn unix_clock(unix_secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("an unreadable time ({unix_secs})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_age_format() {
        let cases = [
            (0, "<1s"),
            (1, "1s"),
            (45, "45s"),
            (59, "59s"),
            (60, "1m00s"),
            (90, "1m30s"),
            (599, "9m59s"),
            (600, "10m"),
            (3_599, "59m"),
            (3_600, "1h00m"),
            (7_500, "2h05m"),
            (36_000, "10h"),
            (86_399, "23h"),
            (86_400, "1d00h"),
            (3 * 86_400 + 4 * 3_600, "3d04h"),
            (12 * 86_400, "12d"),
        ];
        for (s, want) in cases {
            assert_eq!(secs(s), want, "{s}");
            assert!(secs(s).chars().count() <= 5, "{s}");
        }
    }

    #[test]
    fn ages_and_clocks() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(age(t0 + Duration::from_millis(400), t0), "<1s");
        assert_eq!(age(t0, t0 + Duration::from_millis(400)), "<1s");
        assert_eq!(age(t0, t0 + Duration::from_secs(5)), "?");
        assert_eq!(age_of_unix(t0, 910), "1m30s");
        assert_eq!(lag(0.42), "0.4s");
        assert_eq!(lag(90.0), "1m30s");
        assert_eq!(age_of_unix(t0, -1), "?");
        assert_eq!(clock(t0), "00:16:40");
        assert_eq!(unix_clock(1_796_394_959), "2026-12-04 14:35:59 UTC");
    }
}
