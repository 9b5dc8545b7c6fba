//! The runbook pane (in the detail pane's place while an action runs and until closed): the
//! outcome first once it has ended (state explained, next safe step), then the live
//! pre-checks, the snapshot gate, each step with its state and timing, and what was rolled
//! back. Pure drawing from [`Runbook`].
//!
//! ```text
//! ┌ runbook · switchover to r1 · running 1.2s ───────────────────────────┐
//! │ ✓ pre-checks passed (lock, roles read live)                           │
//! │ ✓ snapshot (BGSAVE, verified) of m1                          310ms    │
//! │ ✓  1 pause writes on m1 · CLIENT PAUSE 20000 WRITE             1ms    │
//! │ ▶  2 wait until r1 has caught up                     running 0.2s    │
//! │ ·  3 promote r1 · REPLICAOF NO ONE                                    │
//! └───────────────────────────────────────────────────────────────────────┘
//! ```

use std::time::SystemTime;

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::super::app::{App, Pane};
use super::super::fmt;
use super::super::runbook::{Ended, Prechecks, Row, Runbook, StepState};
use super::super::theme::{Theme, Ui};
use crate::ops::RunStatus;

/// `<1ms`, `812ms`, `3.4s`, then the one age format (`1m30s`).
fn took(ms: u64) -> String {
    if ms == 0 {
        "<1ms".to_string()
    } else if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        #[allow(clippy::cast_precision_loss)]
        let s = ms as f64 / 1000.0;
        format!("{s:.1}s")
    } else {
        fmt::secs(ms / 1000)
    }
}

fn since_ms(now: SystemTime, then: SystemTime) -> u64 {
    now.duration_since(then)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Fewest characters of a step's title kept beside its commands on one line.
const TITLE_MIN: usize = 16;

struct Out<'a> {
    t: &'a Theme,
    width: usize,
    lines: Vec<Line<'static>>,
}

impl Out<'_> {
    fn wrapped(&mut self, lead: &str, text: &str, style: Style) {
        super::push_wrapped(&mut self.lines, self.width, lead, text, style);
    }

    /// One row: symbol, number, title and commands, time at the right; an error or the
    /// progress under it.
    fn row(&mut self, num: Option<usize>, r: &Row, now: SystemTime) {
        let t = self.t;
        let (sym, role, time) = match &r.state {
            StepState::Pending => ("·", Ui::Muted, String::new()),
            StepState::Running { since, .. } => (
                "▶",
                Ui::Info,
                format!("running {}", took(since_ms(now, *since))),
            ),
            StepState::Verified { ms, .. } => ("✓", Ui::Up, ms.map(took).unwrap_or_default()),
            StepState::Failed { critical: true, .. } => ("✗", Ui::Danger, "FAILED".to_string()),
            StepState::Failed { .. } => ("✗", Ui::Warning, "failed, went on".to_string()),
            StepState::Skipped(_) => ("–", Ui::Warning, "skipped".to_string()),
            StepState::NotRun => ("–", Ui::Muted, "not run".to_string()),
        };
        let label = num.map_or_else(String::new, |n| format!("{n:>2} "));
        let body = if matches!(r.state, StepState::Pending | StepState::NotRun) {
            t.s(Ui::Muted)
        } else {
            t.s(Ui::Text)
        };
        // The commands are what an operator checks, so they are never cut: the title gives
        // way first (cut with `…`; the plan dialog shows it whole). Only when the commands
        // leave the title no room do they go on lines of their own under it.
        let room = self.width.saturating_sub(time.chars().count() + 4);
        let title = format!("{label}{}", r.title);
        let cmds = r.commands.join("; ");
        let cmds_w = cmds.chars().count() + 3;
        let (first, commands) = if r.commands.is_empty() {
            (fmt::fit(&title, room), &[][..])
        } else if title.chars().count() + cmds_w <= room {
            (format!("{title} · {cmds}"), &[][..])
        } else if room >= cmds_w + label.chars().count() + TITLE_MIN {
            (
                format!("{} · {cmds}", fmt::fit(&title, room - cmds_w)),
                &[][..],
            )
        } else {
            (fmt::fit(&title, room), &r.commands[..])
        };
        let pad = self
            .width
            .saturating_sub(2 + first.chars().count() + time.chars().count());
        self.lines.push(Line::from(vec![
            Span::styled(format!("{sym} "), t.s(role)),
            Span::styled(first, body),
            Span::raw(" ".repeat(pad)),
            Span::styled(time, t.s(role)),
        ]));
        let indent = " ".repeat(2 + label.chars().count());
        for c in commands {
            self.wrapped(&format!("{indent}· "), c, body);
        }
        match &r.state {
            StepState::Running {
                detail: Some(d), ..
            } => self.wrapped("     ", d, t.s(Ui::Muted)),
            StepState::Failed {
                error, critical, ..
            } => {
                let role = if *critical { Ui::Danger } else { Ui::Warning };
                self.wrapped("     ", error, t.s(role));
            }
            StepState::Skipped(why) => self.wrapped("     ", why, t.s(Ui::Warning)),
            // The gate's proof (last save time, file and size) is worth a line; a step's
            // verification is in the audit log.
            StepState::Verified { detail, .. } if num.is_none() => {
                self.wrapped("     ", detail, t.s(Ui::Muted));
            }
            _ => {}
        }
    }
}

/// Draws the runbook in `area`.
#[allow(clippy::too_many_lines)] // the runbook's sections top to bottom, in the order drawn.
pub fn render(app: &App, rb: &Runbook, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let now = app.now;
    let status = match &rb.ending {
        None => format!("running {}", took(since_ms(now, rb.started))),
        Some(e) => {
            let ms = e
                .elapsed_ms
                .map_or_else(String::new, |m| format!(" in {}", took(m)));
            format!("{}{ms} · Esc closes", e.outcome.word().to_uppercase())
        }
    };
    let title_role = match rb.ending.as_ref().map(|e| e.outcome) {
        None => Ui::Info,
        Some(Ended::Run(RunStatus::Done)) => Ui::Up,
        Some(Ended::Run(RunStatus::Refused)) => Ui::Warning,
        Some(_) => Ui::Danger,
    };
    let title = Line::from(vec![
        Span::styled(" runbook · ", t.s(Ui::Title)),
        Span::styled(rb.title.clone(), t.s(Ui::Title)),
        Span::styled(
            format!(" · {status} "),
            t.s(title_role).add_modifier(Modifier::BOLD),
        ),
    ]);
    let block = super::pane(app, title, app.focus == Pane::Detail);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut o = Out {
        t,
        width: usize::from(inner.width),
        lines: Vec::new(),
    };
    if let Some(e) = &rb.ending {
        let (sym, role) = match e.outcome {
            Ended::Run(RunStatus::Done) => ("✓", Ui::Up),
            Ended::Run(RunStatus::Refused) => ("✗", Ui::Warning),
            _ => ("✗", Ui::Danger),
        };
        let word = e.outcome.word().to_uppercase();
        o.wrapped(
            &format!("{sym} {word}: "),
            &e.detail,
            t.s(role).add_modifier(Modifier::BOLD),
        );
        if let Some(p) = e.pause_ms {
            o.wrapped(
                "  ",
                &format!("writes were paused {}", took(p)),
                t.s(Ui::Muted),
            );
        }
        for s in &e.state {
            o.wrapped("  now: ", s, t.s(Ui::Text));
        }
        if let Some(h) = &e.hint {
            o.wrapped("  hint: ", h, t.s(Ui::Muted));
        }
        if let Some(n) = &e.next_step {
            o.wrapped(
                "  next: ",
                &crate::tui::next_step::render(n),
                t.s(Ui::Warning),
            );
        }
        for n in &e.notes {
            o.wrapped("  · ", n, t.s(Ui::Info));
        }
        o.lines.push(Line::default());
    }
    match &rb.prechecks {
        Prechecks::Pending => o.wrapped("· ", "pre-checks read live (lock, roles)", t.s(Ui::Muted)),
        Prechecks::Passed { overridden } if overridden.is_empty() => {
            o.wrapped(
                "✓ ",
                "pre-checks passed (lock, roles read live)",
                t.s(Ui::Up),
            );
        }
        Prechecks::Passed { overridden } => o.wrapped(
            "✓ ",
            &format!(
                "pre-checks passed with overrides: {}",
                overridden.join("; ")
            ),
            t.s(Ui::Warning),
        ),
        Prechecks::Refused(r) => o.wrapped("✗ refused: ", r, t.s(Ui::Danger)),
    }
    for r in &rb.gate {
        o.row(None, r, now);
    }
    let first_step = o.lines.len();
    let mut focus_line = first_step;
    for (i, r) in rb.steps.iter().enumerate() {
        if !r.state.is_pending() {
            focus_line = o.lines.len();
        }
        o.row(Some(i + 1), r, now);
    }
    for what in &rb.rollbacks {
        focus_line = o.lines.len();
        o.wrapped("↶ rolled back: ", what, t.s(Ui::Warning));
    }
    for w in rb.ending.iter().flat_map(|e| &e.warnings) {
        o.wrapped("! ", w, t.s(Ui::Warning));
    }
    let rows = usize::from(inner.height);
    let auto = if rb.ending.is_none() {
        (focus_line + 3).saturating_sub(rows)
    } else {
        0
    };
    let max = o.lines.len().saturating_sub(rows);
    let scroll = if app.detail_scroll > 0 {
        usize::from(app.detail_scroll)
    } else {
        auto
    }
    .min(max);
    frame.render_widget(
        Paragraph::new(o.lines)
            .style(t.s(Ui::Background))
            .scroll((u16::try_from(scroll).unwrap_or(0), 0)),
        inner,
    );
}
