//! The event log pane: newest at the bottom, timestamped (UTC), symbol and colour per
//! severity; frozen, it stops at the freeze and says how many events came since.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::topology::Severity;

use super::super::app::{App, Pane};
use super::super::fmt;
use super::super::theme::Ui;

/// Draws the pane.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let since_freeze = app
        .frozen
        .as_ref()
        .map_or(0, |f| app.log.total.saturating_sub(f.log_total));
    let held = app
        .log
        .len()
        .saturating_sub(usize::try_from(since_freeze).unwrap_or(usize::MAX));
    let mut title = vec![
        Span::styled(" events ", t.s(Ui::Title)),
        Span::styled(format!("{} ", app.log.len()), t.s(Ui::Muted)),
    ];
    if since_freeze > 0 {
        title.push(Span::styled(
            format!("+{since_freeze} since frozen "),
            t.s(Ui::Info),
        ));
    }
    if app.log_scroll > 0 {
        title.push(Span::styled(
            format!("↑{} ", app.log_scroll),
            t.s(Ui::Muted),
        ));
    }
    if app.size.0 < super::WIDE {
        title.push(Span::styled("(Tab: tree) ", t.s(Ui::Muted)));
    }
    let block = super::pane(app, Line::from(title), app.focus == Pane::Log);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = usize::from(inner.height);
    let end = held.saturating_sub(app.log_scroll);
    let start = end.saturating_sub(rows);
    let lines: Vec<Line> = app
        .log
        .iter()
        .skip(start)
        .take(end - start)
        .map(|e| {
            let role = match e.severity {
                Severity::Critical => Ui::Danger,
                Severity::Warning => Ui::Warning,
                Severity::Info => Ui::Info,
            };
            Line::from(vec![
                Span::styled(format!("{} ", fmt::clock(e.at)), t.s(Ui::Muted)),
                Span::styled(format!("{} ", fmt::severity(e.severity)), t.s(role)),
                Span::styled(e.message.clone(), t.s(Ui::Text)),
            ])
        })
        .collect();
    if lines.is_empty() {
        frame.render_widget(
            Paragraph::new("nothing has changed yet").style(t.s(Ui::Muted)),
            inner,
        );
        return;
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
