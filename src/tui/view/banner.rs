//! The anomaly banner: the console's notices (an unfinished run and its safe next step, an
//! old primary back and the key that rejoins it), then the shown group's anomalies in plain
//! words, worst and newest first, each with a symbol and a severity word, and its age.

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::topology::{AnomalyKind, Severity};

use super::super::app::App;
use super::super::fmt;
use super::super::theme::Ui;
use crate::ops::ActionKind;

/// One entry of the banner.
struct Item {
    severity: Severity,
    label: String,
    message: String,
}

/// The console's notices (unfinished runs, old primaries back), then the anomalies. A stale
/// primary's line says which key rejoins it; a data loss, which key acknowledges it.
fn items(app: &App) -> Vec<Item> {
    let mut out: Vec<Item> = app
        .notices()
        .into_iter()
        .map(|(severity, message)| Item {
            label: format!(" {} ACTION ", fmt::severity(severity)),
            severity,
            message,
        })
        .collect();
    let rejoin = app.action_blocked(ActionKind::Rejoin).is_none();
    for (a, since) in app.banner() {
        let mut message = a.message.clone();
        if rejoin && a.kind == AnomalyKind::StalePrimary {
            if let Some(n) = a.nodes.first() {
                message.push_str(&format!(" [J: rejoin {n}]"));
            }
        }
        if a.kind.is_data_loss() {
            message.push_str(" [a: acknowledge]");
        }
        out.push(Item {
            severity: a.severity,
            label: format!(
                " {} {} {} ",
                fmt::severity(a.severity),
                a.severity.as_str().to_uppercase(),
                fmt::age(app.now, since)
            ),
            message,
        });
    }
    out
}

/// Entries the banner has (each takes at least a line).
#[must_use]
pub fn count(app: &App) -> usize {
    items(app).len()
}

/// Lines the banner would like at `width`: every entry's message wrapped.
#[must_use]
pub fn wanted_lines(app: &App, width: u16) -> usize {
    items(app)
        .iter()
        .map(|i| {
            let indent = i.label.chars().count() + 1;
            fmt::wrap(
                &i.message,
                usize::from(width).saturating_sub(indent).max(10),
            )
            .len()
        })
        .sum()
}

/// Draws the banner (nothing when the area is empty).
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    if area.height == 0 {
        return;
    }
    let t = &app.theme;
    let items = items(app);
    let rows = usize::from(area.height);
    let width = usize::from(area.width);
    // One line per anomaly; spare lines let the first ones wrap (the words matter).
    let mut budget: Vec<usize> = vec![1; items.len().min(rows)];
    let mut spare = rows.saturating_sub(budget.len());
    let mut lines = Vec::with_capacity(rows);
    let mut wrapped = Vec::new();
    for (i, item) in items.iter().enumerate().take(rows) {
        let label = item.label.clone();
        let indent = label.chars().count() + 1;
        let more = items.len().saturating_sub(rows);
        let mut msg = item.message.clone();
        if i + 1 == rows && more > 0 {
            msg.push_str(&format!("  (+{more} more in the events pane)"));
        }
        let room = width.saturating_sub(indent).max(10);
        let mut parts = fmt::wrap(&msg, room);
        let extra = (parts.len() - 1).min(spare);
        spare -= extra;
        budget[i] += extra;
        // What does not fit in the lines it got ends its last line with `…`, never silently.
        if parts.len() > budget[i] {
            let rest = parts.split_off(budget[i] - 1).join(" ");
            parts.push(fmt::fit(&rest, room));
        }
        wrapped.push((item.severity, label, parts));
    }
    for ((severity, label, parts), n) in wrapped.into_iter().zip(budget) {
        let role = match severity {
            Severity::Critical => Ui::Danger,
            Severity::Warning => Ui::Warning,
            Severity::Info => Ui::Info,
        };
        let indent = " ".repeat(label.chars().count());
        for (k, part) in parts.into_iter().take(n).enumerate() {
            let head = if k == 0 {
                Span::styled(label.clone(), t.s(role).add_modifier(Modifier::REVERSED))
            } else {
                Span::raw(indent.clone())
            };
            lines.push(Line::from(vec![
                head,
                Span::styled(format!(" {part}"), t.s(role)),
            ]));
        }
    }
    frame.render_widget(Paragraph::new(lines).style(t.s(Ui::Background)), area);
}
