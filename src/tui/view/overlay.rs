//! Popups drawn over the screen from the modal stack: the help overlay (every binding of the
//! main view, from the keymap table), and the plan and typed-confirmation dialogs the action
//! engine will push.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::super::app::App;
use super::super::keymap::{Section, BINDINGS, MODAL_BINDINGS};
use super::super::modal::Modal;
use super::super::theme::{Theme, Ui};

/// Draws every popup of the stack, bottom to top (prompts live in the status line).
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    for m in &app.modals {
        match m {
            Modal::Help { scroll } => help(app, frame, area, *scroll),
            Modal::Plan(p) => {
                let mut lines: Vec<Line> = p.lines.iter().map(|l| Line::from(l.clone())).collect();
                lines.push(Line::default());
                lines.push(if p.can_proceed {
                    Line::styled(
                        "Enter: continue to confirmation · Esc: abort",
                        app.theme.s(Ui::Key),
                    )
                } else {
                    Line::styled(
                        "a pre-check failed: this plan cannot run · Esc: close",
                        app.theme.s(Ui::Danger),
                    )
                });
                dialog(&app.theme, frame, area, &p.title, lines, p.scroll);
            }
            Modal::Confirm(c) => {
                let t = &app.theme;
                let lines = vec![
                    Line::from(vec![
                        Span::raw("type "),
                        Span::styled(c.expected.clone(), t.s(Ui::Danger)),
                        Span::raw(" and press Enter to run it; Esc aborts"),
                    ]),
                    Line::default(),
                    Line::from(vec![
                        Span::styled("> ", t.s(Ui::Key)),
                        Span::styled(format!("{} ", c.input.text), t.s(Ui::Input)),
                    ]),
                ];
                dialog(t, frame, area, &format!("confirm: {}", c.title), lines, 0);
            }
            Modal::Prompt(_) => {}
        }
    }
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    r
}

fn dialog(t: &Theme, frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line>, scroll: u16) {
    let h = u16::try_from(lines.len()).unwrap_or(20).saturating_add(2);
    let r = centered(area, 72, h.max(5));
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(t.s(Ui::Danger))
        .title(Span::styled(format!(" {title} "), t.s(Ui::Title)));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .style(t.s(Ui::Background))
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        r,
    );
}

fn help(app: &App, frame: &mut Frame, area: Rect, scroll: u16) {
    let t = &app.theme;
    let read_only = app.opts.read_only || app.config.console.read_only;
    let mut lines: Vec<Line> = Vec::new();
    for section in [Section::Move, Section::View, Section::Actions] {
        lines.push(Line::styled(section.title(), t.s(Ui::Title)));
        for b in BINDINGS.iter().filter(|b| b.section == section) {
            let (key_style, what) = if section == Section::Actions {
                let note = if read_only {
                    "disabled: read-only"
                } else {
                    "reserved"
                };
                (t.s(Ui::KeyReserved), format!("{} ({note})", b.what))
            } else {
                (t.s(Ui::Key), b.what.to_string())
            };
            let what_style = if section == Section::Actions {
                t.s(Ui::KeyReserved)
            } else {
                t.s(Ui::Text)
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<10}", b.label), key_style),
                Span::styled(what, what_style),
            ]));
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
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .border_style(t.s(Ui::BorderFocus))
        .title(Span::styled(
            " help · Esc closes · ↑/↓ scroll ",
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
