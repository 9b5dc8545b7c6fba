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
    let width = usize::from(inner.width);
    let many_groups = app.config.groups.len() > 1;
    let end = held.saturating_sub(app.log_scroll);
    // Walk back from the newest entry shown, wrapping each, until the pane is full.
    let mut lines: Vec<Line> = Vec::new();
    for e in app.log.iter().take(end).rev() {
        let role = match e.severity {
            Severity::Critical => Ui::Danger,
            Severity::Warning => Ui::Warning,
            Severity::Info => Ui::Info,
        };
        let stamp = format!("{} ", fmt::clock(e.at));
        let mark = format!("{} ", fmt::severity(e.severity));
        let msg = if many_groups {
            format!("{}: {}", e.group, e.message)
        } else {
            e.message.clone()
        };
        let indent = stamp.chars().count() + mark.chars().count();
        let parts = fmt::wrap(&msg, width.saturating_sub(indent).max(10));
        let mut entry: Vec<Line> = Vec::with_capacity(parts.len());
        for (k, part) in parts.into_iter().enumerate() {
            if k == 0 {
                entry.push(Line::from(vec![
                    Span::styled(stamp.clone(), t.s(Ui::Muted)),
                    Span::styled(mark.clone(), t.s(role)),
                    Span::styled(part, t.s(Ui::Text)),
                ]));
            } else {
                entry.push(Line::from(vec![
                    Span::raw(" ".repeat(indent)),
                    Span::styled(part, t.s(Ui::Text)),
                ]));
            }
        }
        for l in entry.into_iter().rev() {
            lines.push(l);
        }
        if lines.len() >= rows {
            break;
        }
    }
    lines.reverse();
    let skip = lines.len().saturating_sub(rows);
    let lines: Vec<Line> = lines.into_iter().skip(skip).collect();
    if lines.is_empty() {
        frame.render_widget(
            Paragraph::new("nothing has changed yet").style(t.s(Ui::Muted)),
            inner,
        );
        return;
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
