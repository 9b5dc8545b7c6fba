//! Popups drawn over the screen from the modal stack: the help overlay (every binding of the
//! main view, from the keymap table, action keys greyed with the reason when unavailable);
//! the action dialogs are drawn by `plan.rs`.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use super::super::app::App;
use super::super::keymap::{Intent, Section, BINDINGS, MODAL_BINDINGS};
use super::super::modal::Modal;
use super::super::theme::Ui;
use super::plan::{self, centered};

/// Draws every popup of the stack, bottom to top (prompts live in the status line).
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    for m in &app.modals {
        match m {
            Modal::Help { scroll } => help(app, frame, area, *scroll),
            Modal::Plan(d) => plan::plan(app, frame, area, d),
            Modal::Confirm(c) => plan::confirm(app, frame, area, c),
            Modal::Pick(p) => plan::pick(app, frame, area, p),
            Modal::Notice(n) => plan::notice(app, frame, area, n),
            Modal::Prompt(_) => {}
        }
    }
}

fn help(app: &App, frame: &mut Frame, area: Rect, scroll: u16) {
    let t = &app.theme;
    let mut lines: Vec<Line> = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    let practice = app.opts.sandbox_dir.is_some().then_some(Section::Practice);
    let drill = app.drill.is_some().then_some(Section::Drill);
    for section in [Section::Move, Section::View, Section::Actions]
        .into_iter()
        .chain(practice)
        .chain(drill)
    {
        lines.push(Line::styled(section.title(), t.s(Ui::Title)));
        for b in BINDINGS.iter().filter(|b| b.section == section) {
            let blocked = match b.intent {
                Intent::Action(a) => app.action_blocked(a),
                _ => None,
            };
            let (key_style, what_style) = match &blocked {
                Some(why) => {
                    if !reasons.contains(why) {
                        reasons.push(why.clone());
                    }
                    (t.s(Ui::KeyReserved), t.s(Ui::KeyReserved))
                }
                None => (t.s(Ui::Key), t.s(Ui::Text)),
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<10}", b.label), key_style),
                Span::styled(b.what, what_style),
            ]));
        }
        if section == Section::Actions {
            for why in &reasons {
                lines.push(Line::styled(
                    format!("  greyed: unavailable: {why}"),
                    t.s(Ui::Warning),
                ));
            }
        }
        lines.push(Line::default());
    }
    lines.push(Line::styled("Prompts", t.s(Ui::Title)));
    for (k, what) in MODAL_BINDINGS {
        lines.push(Line::from(vec![
            Span::styled(format!("  {k:<10}"), t.s(Ui::Key)),
            Span::styled(*what, t.s(Ui::Text)),
        ]));
    }
    lines.push(Line::default());
    lines.push(Line::styled("Symbols", t.s(Ui::Title)));
    for (sym, role, what) in [
        ("●", Ui::Up, "up"),
        ("◐", Ui::Degraded, "loading, busy or stale"),
        (
            "◌",
            Ui::Unresponsive,
            "unresponsive: no answer within the timeout",
        ),
        ("✖", Ui::Down, "down, or an error (auth, tls, ...)"),
        (
            "!  !!",
            Ui::LagWarn,
            "lag over the warning / critical threshold",
        ),
        (
            "×",
            Ui::Gap,
            "a missed poll in a trend or chart (a gap, not a zero)",
        ),
    ] {
        lines.push(Line::from(vec![
            Span::styled(format!("  {sym:<10}"), t.s(role)),
            Span::styled(what, t.s(Ui::Text)),
        ]));
    }
    let h = u16::try_from(lines.len()).unwrap_or(40).saturating_add(2);
    let r = centered(area, 78, h);
    // Paged past the end, the last page stays.
    let last = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_sub(r.height.saturating_sub(2));
    let scroll = scroll.min(last);
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .border_style(t.s(Ui::BorderFocus))
        .title(Span::styled(
            " help · Esc closes · ↑/↓ PgUp/PgDn scroll ",
            t.s(Ui::Title),
        ));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .style(t.s(Ui::Background))
            .scroll((scroll, 0)),
        r,
    );
}
