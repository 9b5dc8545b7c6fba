//! The anomaly banner: the shown group's anomalies in plain words, worst and newest first,
//! each with a symbol and a severity word, and how long it has been going on.

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::topology::Severity;

use super::super::app::App;
use super::super::fmt;
use super::super::theme::Ui;

/// The label before an anomaly's message.
fn label(app: &App, a: &crate::topology::Anomaly, since: std::time::SystemTime) -> String {
    format!(
        " {} {} {} ",
        fmt::severity(a.severity),
        a.severity.as_str().to_uppercase(),
        fmt::age(app.now, since)
    )
}

/// Lines the banner would like at `width`: every anomaly's message wrapped.
#[must_use]
pub fn wanted_lines(app: &App, width: u16) -> usize {
    app.banner()
        .iter()
        .map(|(a, since)| {
            let indent = label(app, a, *since).chars().count() + 1;
            fmt::wrap(
                &a.message,
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
    let items = app.banner();
    let rows = usize::from(area.height);
    let width = usize::from(area.width);
    // One line per anomaly; spare lines let the first ones wrap (the words matter).
    let mut budget: Vec<usize> = vec![1; items.len().min(rows)];
    let mut spare = rows.saturating_sub(budget.len());
    let mut lines = Vec::with_capacity(rows);
    let mut wrapped = Vec::new();
    for (i, (a, since)) in items.iter().enumerate().take(rows) {
        let label = label(app, a, *since);
        let indent = label.chars().count() + 1;
        let more = items.len().saturating_sub(rows);
        let mut msg = a.message.clone();
        if i + 1 == rows && more > 0 {
            msg.push_str(&format!("  (+{more} more in the events pane)"));
        }
        let parts = fmt::wrap(&msg, width.saturating_sub(indent).max(10));
        let extra = (parts.len() - 1).min(spare);
        spare -= extra;
        budget[i] += extra;
        wrapped.push((a.severity, label, parts));
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
