//! Past runs from the audit log (`:history`): a list, one row per run, and Enter on a run shows
//! its steps. It covers the panes between the header and the status line.
//!
//! ```text
//! ┌ history · 12 runs · audit.jsonl ───────────────────────────────────────────────────┐
//! │ WHEN            AGE  ACTION      NODES  OUTCOME  TOOK  PAUSED  WHO     GROUP  RUN  │
//! │ 12-05 07:50:12  3m   switchover  n1 n2  done     2.3s  180ms   op@box  cache  18f… │
//! └──────────────────────────────── Enter steps · r reload · Esc close ────────────────┘
//! ```
//!
//! The words of a row and of a step ([`row`], [`step`]) are shared with `redops history`, so
//! the console and the CLI say the same thing.

use std::time::SystemTime;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use crate::audit::runs::{snake_event, Entry, Run};
use crate::audit::Outcome;

use super::super::app::{App, RunsView};
use super::super::fmt;
use super::super::theme::Ui;

/// The column heads of [`row`].
pub const HEADERS: [&str; 10] = [
    "WHEN", "AGE", "ACTION", "NODES", "OUTCOME", "TOOK", "PAUSED", "WHO", "GROUP", "RUN",
];

/// One run's cells, in the order of [`HEADERS`]: when (UTC), age, action, node names, outcome,
/// duration, writes paused, who (`user@host`), group, run id. `-` where the log does not say.
#[must_use]
pub fn row(run: &Run, now: SystemTime) -> [String; 10] {
    let dash = || "-".to_string();
    [
        fmt::date_clock(run.started),
        fmt::age(now, run.started),
        run.action.clone(),
        run.node_names().join(" "),
        run.outcome_word().to_string(),
        run.duration().map_or_else(dash, fmt::latency),
        run.pause_ms.map_or_else(dash, |ms| {
            fmt::latency(std::time::Duration::from_millis(ms))
        }),
        format!("{}@{}", run.user, run.host),
        run.group.clone(),
        run.run_id.clone(),
    ]
}

/// One record of a run in words: the time since the run started (`+1.2s`), what happened
/// (`step 2 started`, `run finished`), and what it says (title, node, detail, commands).
#[must_use]
pub fn step(run: &Run, e: &Entry) -> (String, String, String) {
    let since = e.at.duration_since(run.started).map_or_else(
        |_| "+0s".to_string(),
        |d| format!("+{:.3}s", d.as_secs_f64()),
    );
    let words = snake_event(&e.event).replace('_', " ");
    let what = match (e.step, words.strip_prefix("step ")) {
        (Some(i), Some(rest)) => format!("step {} {rest}", i + 1),
        _ => words,
    };
    let mut said: Vec<String> = Vec::new();
    if let Some(o) = e.outcome {
        said.push(o.as_str().to_string());
    }
    // A step's title is on its `started` line; its end says only how it ended.
    let ends_a_step = e.step.is_some() && !what.ends_with("started");
    if let Some(t) = e.title.as_ref().filter(|t| !t.is_empty() && !ends_a_step) {
        said.push(t.clone());
    }
    if let Some(d) = e.detail.as_ref().filter(|d| !d.is_empty()) {
        said.push(d.clone());
    }
    if !e.commands.is_empty() {
        said.push(format!("sent {}", e.commands.join("; ")));
    }
    (since, what, said.join(": "))
}

/// The one-line summary above a run's steps.
#[must_use]
pub fn summary(run: &Run, now: SystemTime) -> String {
    let mut s = format!(
        "{} on {} by {}@{}, {} UTC ({} ago): {}",
        run.action,
        run.group,
        run.user,
        run.host,
        fmt::date_clock(run.started),
        fmt::age(now, run.started),
        run.outcome_word()
    );
    if let Some(d) = run.duration() {
        s.push_str(&format!(" in {}", fmt::latency(d)));
    }
    if let Some(ms) = run.pause_ms {
        s.push_str(&format!(
            ", writes paused {}",
            fmt::latency(std::time::Duration::from_millis(ms))
        ));
    }
    s
}

fn outcome_role(run: &Run) -> Ui {
    match run.outcome {
        Some(Outcome::Done | Outcome::Cleared | Outcome::Noted) => Ui::Up,
        Some(Outcome::Failed) => Ui::Danger,
        Some(Outcome::Refused | Outcome::Interrupted | Outcome::Unknown) | None => Ui::Warning,
    }
}

/// Draws the history over `area`.
pub fn render(app: &App, view: &RunsView, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    frame.render_widget(Clear, area);
    let title = match (&view.steps, &view.list) {
        (Some(Ok(run)), _) => format!(" run {} ", run.run_id),
        (Some(Err(_)), _) | (None, Some(Err(_))) => " history ".to_string(),
        (None, Some(Ok(log))) => format!(
            " history · {} run{} · {} ",
            log.runs.len(),
            if log.runs.len() == 1 { "" } else { "s" },
            view.path_name()
        ),
        (None, None) => " history · reading… ".to_string(),
    };
    let hints = if view.steps.is_some() {
        " ↑↓ scroll · Esc back "
    } else {
        " ↑↓ select · Enter steps · r reload · Esc close "
    };
    let block = super::pane(app, Line::styled(title, t.s(Ui::Title)), true)
        .title_bottom(Line::styled(hints, t.s(Ui::Muted)).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let lines = match (&view.steps, &view.list) {
        (Some(Ok(run)), _) => steps_lines(app, run, usize::from(inner.width)),
        (Some(Err(e)), _) | (None, Some(Err(e))) => {
            // Wrapped: the path in the message is often wider than the pane.
            let mut lines = Vec::new();
            super::push_wrapped(
                &mut lines,
                usize::from(inner.width),
                "",
                e,
                t.s(Ui::FlashError),
            );
            lines
        }
        (None, Some(Ok(log))) => list_lines(app, view, log, inner),
        (None, None) => vec![Line::styled("reading the audit log…", t.s(Ui::Muted))],
    };
    let scroll = if view.steps.is_some() { view.scroll } else { 0 };
    frame.render_widget(
        Paragraph::new(lines)
            .style(t.s(Ui::Text))
            .scroll((scroll, 0)),
        inner,
    );
}

fn list_lines(
    app: &App,
    view: &RunsView,
    log: &crate::audit::runs::RunLog,
    area: Rect,
) -> Vec<Line<'static>> {
    let height = usize::from(area.height);
    let t = &app.theme;
    if log.runs.is_empty() {
        return vec![Line::styled(
            "no runs in the audit log yet: actions (snapshot, switchover, …) are recorded there",
            t.s(Ui::Muted),
        )];
    }
    // Newest first, as an operator looks for what just happened.
    let rows: Vec<(&Run, [String; 10])> = log
        .runs
        .iter()
        .rev()
        .map(|r| (r, row(r, app.now)))
        .collect();
    let cols = super::Columns::new(
        &HEADERS,
        rows.iter().map(|(_, c)| c.as_slice()),
        usize::from(area.width),
    );
    let mut lines = vec![cols.head(&HEADERS, t.s(Ui::Title))];
    let room = height
        .saturating_sub(1 + usize::from(log.skipped_total > 0))
        .max(1);
    let first = view.selected.saturating_sub(room - 1);
    for (i, (run, cells)) in rows.iter().enumerate().skip(first).take(room) {
        let selected = i == view.selected;
        let spans: Vec<Span> = cols
            .pad(cells)
            .into_iter()
            .enumerate()
            .map(|(k, c)| {
                let style = if selected {
                    t.s(Ui::Selection)
                } else if k == 4 {
                    t.s(outcome_role(run))
                } else if k == 1 || k >= 7 {
                    t.s(Ui::Muted)
                } else {
                    Style::default()
                };
                Span::styled(c, style)
            })
            .collect();
        lines.push(Line::from(spans));
    }
    if log.skipped_total > 0 {
        let listed: Vec<String> = log
            .skipped
            .iter()
            .take(3)
            .map(|s| format!("line {}: {}", s.line, s.why))
            .collect();
        let said = format!(
            "{} of the log skipped: {}",
            crate::words::count(log.skipped_total, "line"),
            listed.join("; ")
        );
        super::push_wrapped(
            &mut lines,
            usize::from(area.width),
            "",
            &said,
            t.s(Ui::Warning),
        );
    }
    lines
}

fn steps_lines(app: &App, run: &Run, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = Vec::new();
    super::push_wrapped(
        &mut lines,
        width,
        "",
        &summary(run, app.now),
        t.s(outcome_role(run)),
    );
    lines.push(Line::styled(
        format!("nodes: {}", run.nodes.join("  ")),
        t.s(Ui::Muted),
    ));
    lines.push(Line::raw(""));
    for e in &run.entries {
        let (since, what, said) = step(run, e);
        let lead = format!("{since:>9}  {what:<20} ");
        super::push_wrapped(&mut lines, width, &lead, &said, t.s(Ui::Text));
    }
    if run.entries_dropped > 0 {
        lines.push(Line::styled(
            format!("… and {} more records", run.entries_dropped),
            t.s(Ui::Muted),
        ));
    }
    lines
}
