//! The consistency check's pane (`:check-data`): each replica's verdict, and the y/N for a
//! write pause when one is offered. It covers the panes between the header and the status line.
//!
//! ```text
//! ┌ check-data · group cache-main · MISMATCH ───────────────────────────────────────────┐
//! │ ✔ r1: consistent (db0=50; DEBUG DIGEST at offset 1234, 1 attempt in 3ms)            │
//! │ ✖ r2: MISMATCH (DEBUG DIGEST at offset 1234, 1 attempt in 2ms)                      │
//! │     db0: 10 keys on m1, 510 on r2                                                   │
//! │     differs: db0: stray:1 (only on the replica)                                     │
//! └─────────────────────────────────────────────── ↑↓ scroll · r check again · Esc close ┘
//! ```

use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use crate::datacheck::{self, GroupReport, Verdict};

use super::super::app::{App, CheckView};
use super::super::theme::Ui;
use super::backups::{hints, safe};

/// Draws the check's pane over `area`.
pub fn render(app: &App, view: &CheckView, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    frame.render_widget(Clear, area);
    let pause = view.pause.map_or(String::new(), |d| {
        format!(" · writes paused ≤{}", datacheck::millis(d))
    });
    let state = match &view.report {
        None => " · checking…".to_string(),
        Some(r) if r.consistent() => " · consistent".to_string(),
        Some(r)
            if r.pairs
                .iter()
                .any(|p| matches!(p.verdict, Verdict::Mismatch { .. })) =>
        {
            " · MISMATCH".to_string()
        }
        Some(_) => " · not decided".to_string(),
    };
    let title = format!(" check-data · group {}{pause}{state} ", view.group);
    let keys = if view.asking.is_some() {
        " y pause and check again · any other key: no "
    } else if view.report.is_some() {
        " ↑↓ scroll · r check again · Esc close "
    } else {
        " Esc close (the check goes on) "
    };
    let block =
        super::pane(app, Line::styled(title, t.s(Ui::Title)), true).title_bottom(hints(app, keys));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let mut lines = Vec::new();
    match &view.report {
        None => super::push_wrapped(
            &mut lines,
            width,
            "",
            "comparing each replica with its primary at one point in time (equal offsets \
             proven; DEBUG DIGEST, else DUMP of a bounded sample)…",
            t.s(Ui::Muted),
        ),
        Some(r) => report_lines(app, r, width, &mut lines),
    }
    if let Some(pause) = view.asking {
        let primaries = view
            .report
            .as_ref()
            .map_or_else(String::new, |r| r.primaries.join(", "));
        lines.push(Line::raw(""));
        super::push_wrapped(
            &mut lines,
            width,
            "",
            &format!(
                "Writes are too fast to catch both sides at one point in time. Pause writes on \
                 {primaries} (CLIENT PAUSE WRITE) for at most {} per replica and check again? \
                 y/N",
                datacheck::millis(pause)
            ),
            t.s(Ui::Warning)
                .add_modifier(ratatui::style::Modifier::BOLD),
        );
    }
    let scroll = if view.asking.is_some() {
        0
    } else {
        view.scroll
    };
    frame.render_widget(
        Paragraph::new(lines)
            .style(t.s(Ui::Text))
            .scroll((scroll, 0)),
        inner,
    );
}

fn report_lines(app: &App, r: &GroupReport, width: usize, lines: &mut Vec<Line<'static>>) {
    let t = &app.theme;
    let primaries = if r.primaries.is_empty() {
        "?".to_string()
    } else {
        r.primaries.join(", ")
    };
    lines.push(Line::styled(format!("primary {primaries}"), t.s(Ui::Muted)));
    if let Some(p) = &r.problem {
        super::push_wrapped(lines, width, "not checked: ", &safe(p), t.s(Ui::Danger));
    }
    if r.pairs.is_empty() && r.problem.is_none() {
        lines.push(Line::styled("no replica to compare", t.s(Ui::Muted)));
    }
    for p in &r.pairs {
        match &p.verdict {
            Verdict::Consistent => super::push_wrapped(
                lines,
                width,
                &format!("✔ {}: ", p.replica),
                &format!(
                    "consistent ({}; {})",
                    datacheck::counts(&p.replica_keys),
                    datacheck::method(p)
                ),
                t.s(Ui::Up),
            ),
            Verdict::Mismatch { dbs, examples } => {
                super::push_wrapped(
                    lines,
                    width,
                    &format!("✖ {}: ", p.replica),
                    &format!("MISMATCH ({})", datacheck::method(p)),
                    t.s(Ui::Danger),
                );
                for d in dbs {
                    lines.push(Line::styled(
                        format!(
                            "    db{}: {} keys on {}, {} on {}",
                            d.db, d.primary_keys, p.primary, d.replica_keys, p.replica
                        ),
                        t.s(Ui::Text),
                    ));
                }
                if dbs.is_empty() {
                    lines.push(Line::styled(
                        "    same key counts, different data",
                        t.s(Ui::Text),
                    ));
                }
                for k in examples {
                    super::push_wrapped(lines, width, "    differs: ", &safe(k), t.s(Ui::Text));
                }
            }
            Verdict::Undecided(w) => super::push_wrapped(
                lines,
                width,
                &format!("? {}: ", p.replica),
                &safe(&format!("NOT COMPARED: {}", datacheck::why(w, p))),
                t.s(Ui::Warning),
            ),
        }
    }
}
