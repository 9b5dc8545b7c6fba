//! The top line: product, group tabs with their health, environment label, read-only and
//! frozen markers, poll interval, node counts and the clock.

use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::config::format_duration;
use crate::observe::NodeState;
use crate::topology::Severity;

use super::super::app::App;
use super::super::fmt;
use super::super::theme::Ui;

/// Draws the header line.
#[allow(clippy::too_many_lines)] // the header's spans left to right, in the order drawn.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let base = t.s(Ui::Header);
    let mut left: Vec<Span> = vec![Span::styled(" redops ", base.patch(t.s(Ui::Title)))];
    if let Some(label) = &app.opts.label {
        left.push(Span::styled(
            format!("{label} "),
            base.patch(t.s(Ui::Muted)),
        ));
    }
    for (i, g) in app.config.groups.iter().enumerate() {
        let (sym, role) = match app.group_health(i) {
            None => ("●", Ui::Up),
            Some(Severity::Info) => ("•", Ui::Info),
            Some(Severity::Warning) => ("▲", Ui::Warning),
            Some(Severity::Critical) => ("✖", Ui::Danger),
        };
        let name_style = if i == app.group {
            t.s(Ui::Selection)
        } else {
            base
        };
        left.push(Span::styled(" ", base));
        left.push(Span::styled(format!("{} ", g.name), name_style));
        left.push(Span::styled(sym, base.patch(t.s(role))));
        if g.is_production() {
            left.push(Span::styled(" PRODUCTION ", t.s(Ui::Production)));
        } else if let Some(env) = &g.env {
            left.push(Span::styled(format!(" {env} "), t.s(Ui::Env)));
        }
    }

    let mut right: Vec<Span> = Vec::new();
    let group_ro = app
        .config
        .groups
        .get(app.group)
        .is_some_and(|g| g.read_only);
    if app.opts.read_only || app.config.console.read_only || group_ro {
        right.push(Span::styled(
            " READ-ONLY ",
            t.s(Ui::Warning).patch(reverse()),
        ));
        right.push(Span::styled(" ", base));
    }
    if let Some(f) = &app.frozen {
        right.push(Span::styled(
            format!(" FROZEN {} ", fmt::clock(f.at)),
            t.s(Ui::Info).patch(reverse()),
        ));
        right.push(Span::styled(" ", base));
    }
    if let Some(g) = app.shown_group() {
        let up = g.nodes.iter().filter(|n| n.state == NodeState::Up).count();
        let bad = g
            .nodes
            .iter()
            .filter(|n| !n.unmanaged && !matches!(n.state, NodeState::Up | NodeState::Unknown))
            .count();
        right.push(Span::styled(format!("● {up} up "), base.patch(t.s(Ui::Up))));
        if bad > 0 {
            right.push(Span::styled(
                format!("✖ {bad} not up "),
                base.patch(t.s(Ui::Danger)),
            ));
        }
    }
    let narrow = area.width < 100;
    let poll = format_duration(app.config.console.poll_interval);
    right.push(Span::styled(
        if narrow {
            format!("{poll} ")
        } else {
            format!("poll {poll} ")
        },
        base.patch(t.s(Ui::Muted)),
    ));
    let clock = fmt::clock(app.now);
    right.push(Span::styled(
        if narrow {
            format!("{clock}Z ")
        } else {
            format!("{clock} UTC ")
        },
        base,
    ));

    frame.render_widget(Paragraph::new("").style(base), area);
    let right = Line::from(right);
    let rw = u16::try_from(right.width())
        .unwrap_or(area.width)
        .min(area.width);
    let left_area = Rect {
        width: area.width.saturating_sub(rw + 1),
        ..area
    };
    let left = super::fit_line(Line::from(left), usize::from(left_area.width));
    frame.render_widget(Paragraph::new(left).style(base), left_area);
    let right_area = Rect {
        x: area.x + area.width - rw,
        width: rw,
        ..area
    };
    frame.render_widget(
        Paragraph::new(right)
            .alignment(Alignment::Right)
            .style(base),
        right_area,
    );
}

fn reverse() -> ratatui::style::Style {
    ratatui::style::Style::default().add_modifier(ratatui::style::Modifier::REVERSED)
}
