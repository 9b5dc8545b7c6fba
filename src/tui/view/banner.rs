//! The anomaly banner: the shown group's anomalies in plain words, worst and newest first,
//! each with a symbol and a severity word, and how long it has been going on.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::topology::Severity;

use super::super::app::App;
use super::super::fmt;
use super::super::theme::Ui;

/// Draws the banner (nothing when the area is empty).
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    if area.height == 0 {
        return;
    }
    let t = &app.theme;
    let items = app.banner();
    let rows = usize::from(area.height);
    let mut lines = Vec::with_capacity(rows);
    for (i, (a, since)) in items.iter().enumerate().take(rows) {
        let role = match a.severity {
            Severity::Critical => Ui::Danger,
            Severity::Warning => Ui::Warning,
            Severity::Info => Ui::Info,
        };
        let more = items.len() - rows;
        let tail = if i + 1 == rows && more > 0 {
            format!("  (+{more} more: see the events pane)")
        } else {
            String::new()
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    " {} {} ",
                    fmt::severity(a.severity),
                    a.severity.as_str().to_uppercase()
                ),
                t.s(role).add_modifier(ratatui::style::Modifier::REVERSED),
            ),
            Span::styled(format!(" {}", a.message), t.s(role)),
            Span::styled(
                format!("  for {}", fmt::age(app.now, *since)),
                t.s(Ui::Muted),
            ),
            Span::styled(tail, t.s(Ui::Muted)),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).style(t.s(Ui::Background)), area);
}
