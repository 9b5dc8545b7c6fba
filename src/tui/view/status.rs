//! The status line: the open prompt (`:` or `/`), else a flash message, else key hints with
//! the action keys greyed out when unavailable (read-only, HA-managed group, a run going on).

use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::super::app::App;
use super::super::keymap::{Intent, BINDINGS};
use super::super::modal::{Modal, PromptKind};
use super::super::theme::Ui;

/// Draws the status line (and places the cursor when a prompt is open).
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    if let Some(Modal::Prompt(p)) = app.modals.last() {
        let lead = match p.kind {
            PromptKind::Command => ":",
            PromptKind::Filter => "/",
        };
        let mut spans = vec![
            Span::styled(lead, t.s(Ui::Key)),
            Span::styled(p.input.text.clone(), t.s(Ui::Input)),
            Span::styled(" ", t.s(Ui::Input)),
        ];
        if !p.candidates.is_empty() {
            spans.push(Span::raw("  "));
            for (i, c) in p.candidates.iter().enumerate() {
                let style = if Some(i) == p.chosen {
                    t.s(Ui::Selection)
                } else {
                    t.s(Ui::Muted)
                };
                spans.push(Span::styled(c.clone(), style));
                spans.push(Span::raw(" "));
            }
        } else if p.kind == PromptKind::Command && p.input.text.is_empty() {
            spans.push(Span::styled(
                "  Tab completes: group theme export filter freeze history help quit",
                t.s(Ui::Muted),
            ));
        } else if p.kind == PromptKind::Filter {
            spans.push(Span::styled(
                "  name, address, role or state · Enter keeps · Esc clears",
                t.s(Ui::Muted),
            ));
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
        let col = u16::try_from(
            p.input.text[..byte_at(&p.input.text, p.input.cursor)]
                .chars()
                .count(),
        )
        .unwrap_or(0);
        frame.set_cursor_position(Position::new(
            (area.x + 1 + col).min(area.right().saturating_sub(1)),
            area.y,
        ));
        return;
    }
    if let Some(p) = &app.prune_pending {
        let ask = crate::tui::app::prune_question(p);
        frame.render_widget(Paragraph::new(Span::styled(ask, t.s(Ui::Warning))), area);
        return;
    }
    if let Some(path) = &app.export_pending {
        let ask = format!(" '{}' exists: overwrite it? y/N ", path.display());
        frame.render_widget(Paragraph::new(Span::styled(ask, t.s(Ui::Warning))), area);
        return;
    }
    let mut left: Vec<Span> = Vec::new();
    if !app.warm() {
        let (done, total) = app.polled();
        left.push(Span::styled(
            format!(" first poll: {done}/{total} nodes so far "),
            t.s(Ui::Info),
        ));
    }
    if !app.filter.is_empty() {
        left.push(Span::styled(
            format!(" filter: {} ", app.filter),
            t.s(Ui::Input),
        ));
        left.push(Span::raw(" "));
    }
    if let Some(f) = &app.flash {
        let role = if f.error {
            Ui::FlashError
        } else {
            Ui::FlashInfo
        };
        left.push(Span::styled(f.text.clone(), t.s(role)));
        let line = super::fit_line(Line::from(left), usize::from(area.width));
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let used: usize = left.iter().map(Span::width).sum();
    let width = usize::from(area.width).saturating_sub(used);
    left.extend(hints(app, width));
    frame.render_widget(Paragraph::new(Line::from(left)), area);
}

fn byte_at(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(b, _)| b)
}

/// Key hints that fit `width`: the main keys, then the action keys (greyed when unavailable),
/// with their words as far as there is room (the last ones lose their words first).
fn hints(app: &App, width: usize) -> Vec<Span<'static>> {
    let t = &app.theme;
    let mut main = Vec::new();
    // Each action: its key's span and its word's span.
    let mut actions: Vec<(Span<'static>, Span<'static>)> = Vec::new();
    for b in BINDINGS {
        let Some(word) = b.footer else { continue };
        let key = b.label.split(' ').next().unwrap_or(b.label);
        if let Intent::Action(a) = b.intent {
            let (k, w) = if app.action_blocked(a).is_some() {
                (t.s(Ui::KeyReserved), t.s(Ui::KeyReserved))
            } else {
                (t.s(Ui::Key), t.s(Ui::Muted))
            };
            actions.push((
                Span::styled(key.to_string(), k),
                Span::styled(format!(" {word} "), w),
            ));
        } else {
            main.push(Span::styled(key.to_string(), t.s(Ui::Key)));
            main.push(Span::styled(format!(" {word}  "), t.s(Ui::Muted)));
        }
    }
    let w = |v: &[Span]| v.iter().map(Span::width).sum::<usize>();
    let room = width.saturating_sub(w(&main));
    let with_words = |n: usize| {
        let mut v = vec![Span::styled("│ ", t.s(Ui::Muted))];
        for (i, (key, word)) in actions.iter().enumerate() {
            v.push(key.clone());
            if i < n {
                v.push(word.clone());
            } else {
                v.push(Span::raw(" "));
            }
        }
        v
    };
    let mut out = main;
    if let Some(tail) = (0..=actions.len())
        .rev()
        .map(with_words)
        .find(|v| w(v) <= room)
    {
        out.extend(tail);
    }
    out
}
