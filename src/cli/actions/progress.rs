//! A run's events as they arrive, with the snapshot gate's long items shown as progress: on a
//! terminal one updating bar per item (BGSAVE, download) on stderr, drawn by `indicatif`;
//! otherwise plain lines at a low rate (each tenth of the way, or every 5 s); with `--json`
//! every event as one JSON line, progress included (the engine sends at most one a second).
//!
//! The numbers and their words come from `ops::progress`; this only chooses how to show them.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::events::{event_line, print_event, stamp};
use crate::cli::output;
use crate::ops::RunEvent;
use crate::sanitize;

/// Without a terminal, the longest a progress item stays silent.
pub(super) const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Json,
    /// Bars on stderr (a terminal).
    Bars,
    /// Plain lines on stdout, thinned.
    Plain,
}

impl Mode {
    /// `--json` wins; otherwise bars when stderr is a terminal.
    pub(super) fn detect(json: bool) -> Self {
        if json {
            Self::Json
        } else if std::io::stderr().is_terminal() {
            Self::Bars
        } else {
            Self::Plain
        }
    }
}

/// When the next plain progress line of the current item is due.
#[derive(Debug)]
pub(super) struct Thinning {
    printed_at: Option<Instant>,
    /// Tenths of the way already told.
    tenths: u64,
}

impl Thinning {
    fn new() -> Self {
        Self {
            printed_at: None,
            tenths: 0,
        }
    }

    /// True when `fraction` reached a tenth not yet told, or nothing was told for
    /// [`PLAIN_EVERY`] (or ever).
    pub(super) fn due(&mut self, fraction: Option<f64>, now: Instant) -> bool {
        // 0 to 10.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let tenths = fraction.map(|f| (f * 10.0).floor().clamp(0.0, 10.0) as u64);
        let stale = self
            .printed_at
            .is_none_or(|t| now.saturating_duration_since(t) >= PLAIN_EVERY);
        let further = tenths.is_some_and(|t| t > self.tenths);
        if stale || further {
            self.printed_at = Some(now);
            self.tenths = tenths.unwrap_or(self.tenths).max(self.tenths);
            return true;
        }
        false
    }
}

/// Prints a run's events in one [`Mode`].
pub(super) struct Printer {
    mode: Mode,
    bar: Option<ProgressBar>,
    thinning: Thinning,
}

/// The bar's scale: thousandths.
const SCALE: u64 = 1000;

impl Printer {
    pub(super) fn new(mode: Mode) -> Self {
        Self {
            mode,
            bar: None,
            thinning: Thinning::new(),
        }
    }

    /// Shows one event.
    pub(super) fn event(&mut self, e: &RunEvent) {
        match self.mode {
            Mode::Json => print_event(e, true),
            Mode::Plain => self.plain(e),
            Mode::Bars => self.bars(e),
        }
    }

    fn plain(&mut self, e: &RunEvent) {
        let fraction = match e {
            RunEvent::SnapshotStarted { .. } | RunEvent::DownloadStarted { .. } => {
                self.thinning = Thinning::new();
                None
            }
            RunEvent::SnapshotProgress { progress, .. } => Some(progress.fraction),
            RunEvent::DownloadProgress { .. } => Some(e.transfer().and_then(|t| t.fraction())),
            _ => None,
        };
        let quiet = fraction.is_some_and(|f| !self.thinning.due(f, Instant::now()));
        if !quiet {
            print_event(e, false);
        }
    }

    fn bars(&mut self, e: &RunEvent) {
        match e {
            RunEvent::SnapshotStarted { node } => {
                line(e);
                self.start(&format!("BGSAVE {node}"));
            }
            RunEvent::DownloadStarted { node, .. } => {
                line(e);
                self.start(&format!("download {node}"));
            }
            RunEvent::SnapshotProgress { progress, .. } => {
                self.show(progress.fraction, &progress.line());
            }
            RunEvent::DownloadProgress { .. } => {
                if let Some(t) = e.transfer() {
                    self.show(t.fraction(), &t.line());
                }
            }
            // A restore's full sync: a spinner with what was last read, one line per step.
            RunEvent::SyncProgress { node, detail, .. } => {
                if self.bar.is_none() {
                    self.start(&format!("sync {node}"));
                }
                self.show(None, detail);
            }
            RunEvent::SnapshotNoted { .. } => match &self.bar {
                Some(b) => b.suspend(|| line(e)),
                None => line(e),
            },
            _ => {
                if let Some(b) = self.bar.take() {
                    b.finish_and_clear();
                }
                line(e);
            }
        }
    }

    /// A new bar for one item; the previous one (if any) is cleared.
    fn start(&mut self, prefix: &str) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        let style = ProgressStyle::with_template("{prefix} [{bar:24.cyan/blue}] {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("█▌░");
        let b = ProgressBar::new(SCALE)
            .with_style(style)
            .with_prefix(sanitize::visible(prefix).into_owned());
        b.enable_steady_tick(Duration::from_millis(250));
        self.bar = Some(b);
    }

    fn show(&mut self, fraction: Option<f64>, msg: &str) {
        let Some(b) = &self.bar else {
            return;
        };
        // Thousandths, 0 to 1000.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        match fraction {
            Some(f) => b.set_position((f.clamp(0.0, 1.0) * 1000.0).round() as u64),
            // No length, no estimate: an empty bar would say "nothing done"; a spinner says
            // "working", the words say how much.
            None => b.set_style(
                ProgressStyle::with_template("{prefix} {spinner} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        }
        b.set_message(sanitize::visible(msg).into_owned());
    }

    /// Clears a bar left drawn (a run that ended under it).
    pub(super) fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// An event's text line, stamped now.
fn line(e: &RunEvent) {
    if let Some(l) = event_line(e, &stamp()) {
        output::line(&l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_progress_is_told_each_tenth_or_every_five_seconds() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut th = Thinning::new();
        // One event a second, 4% further each time: the first, then each new tenth.
        let told: Vec<u64> = (0..=25)
            .filter(|&i| {
                th.due(
                    Some(f64::from(u32::try_from(i).unwrap()) * 0.04),
                    at(i * 1000),
                )
            })
            .collect();
        assert_eq!(told, [0, 3, 5, 8, 10, 13, 15, 18, 20, 23, 25]);
        // Without a fraction (a diskless transfer): every 5 s.
        let mut th = Thinning::new();
        let told: Vec<u64> = (0..=12).filter(|&i| th.due(None, at(i * 1000))).collect();
        assert_eq!(told, [0, 5, 10]);
    }
}
