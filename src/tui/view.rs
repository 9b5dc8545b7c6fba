//! Drawing: `render(&App, &mut Frame)` is pure, and [`layout`] is shared with `App::update`
//! (mouse hits and scrolling need the same geometry the frame uses).
//!
//! ```text
//! ┌ header: redops · groups (health) · PRODUCTION · READ-ONLY · FROZEN · poll · clock ┐
//!   banner: anomalies of the shown group, worst and newest first (absent when healthy)
//! ┌ tree ─────────────────────────────────────────────────────────────────────────────┐
//! │ name  address  role  state  link  lag  trend  offset  io  sync  bgsave  mem ...   │
//! └ Sentinel 'name' s1 ✓ m1 · s2 ✓ m1 · s3 ✗ down · quorum 2 ✓ (Sentinel groups only) ┘
//! ┌ detail (selected node) ───────────────────┐┌ events ──────────────────────────────┐
//! │ fields                │ lag charts (gaps) ││ 12:00:01 ✖ m1 is down ...            │
//! └───────────────────────────────────────────┘└──────────────────────────────────────┘
//!   (while an action runs, and until Esc after it ends, the runbook takes the detail pane)
//!   status line: flash message, prompt, or key hints (action keys greyed)
//! ```
//! Below 120 columns the detail and event panes share one place (Tab switches); below 80x24
//! the screen says so instead of drawing. While a drill runs (`redops drill NAME`), its panel
//! takes the events pane's place (on a tall wide screen, all but the events' last lines; below
//! 120 columns, the shared place unless the detail pane has the focus or an action runs).

pub mod backups;
pub mod backups_cluster;
mod banner;
mod check_data;
mod cluster;
mod detail;
mod drill;
mod header;
pub mod history;
mod log;
mod overlay;
mod plan;
mod runbook;
mod sentinel;
mod status;
mod tree;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Pane};
use super::theme::Ui;

/// Smallest screen the console draws on.
pub const MIN_SIZE: (u16, u16) = (80, 24);
/// From this width the detail and event panes sit side by side.
pub const WIDE: u16 = 120;

/// Where everything goes on a screen of a given size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Areas {
    pub too_small: bool,
    pub header: Rect,
    pub banner: Rect,
    pub tree: Rect,
    /// Data rows the tree can show.
    pub tree_rows: u16,
    /// Screen row of the first data row.
    pub tree_first_row: u16,
    pub detail: Option<Rect>,
    pub log: Option<Rect>,
    /// The drill panel, while a drill is on.
    pub drill: Option<Rect>,
    pub status: Rect,
}

/// Lines the banner takes: its wrapped messages, at most 2 (short screens) or 4.
fn banner_lines(app: &App, area: Rect) -> u16 {
    let max: usize = if area.height < 32 { 2 } else { 4 };
    let n = banner::count(app);
    let want = if n == 0 {
        0
    } else {
        banner::wanted_lines(app, area.width).max(n)
    };
    u16::try_from(want.min(max)).unwrap_or(0)
}

/// Computes the layout for `app` on `area`.
#[must_use]
pub fn layout(app: &App, area: Rect) -> Areas {
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        return Areas {
            too_small: true,
            ..Areas::default()
        };
    }
    let banner_h = banner_lines(app, area);
    // The tree takes what its rows need (at least 5 lines), the panes below the rest.
    let min_bottom = if area.height <= 30 { 10 } else { 14 };
    let room = area.height.saturating_sub(2 + banner_h + min_bottom);
    let want = u16::try_from(app.visible().len())
        .unwrap_or(u16::MAX)
        .saturating_add(3);
    let tree_h = want.clamp(5.min(room), room.max(5));
    let [header, banner, tree, bottom, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner_h),
        Constraint::Length(tree_h),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    if app.detail_zoom {
        // Enter on a node: its detail takes the tree's place and the panes'.
        let body = tree.union(bottom);
        return Areas {
            too_small: false,
            header,
            banner,
            tree: Rect::new(body.x, body.y, body.width, 0),
            tree_rows: 0,
            tree_first_row: body.y,
            detail: Some(body),
            log: None,
            drill: None,
            status,
        };
    }
    let (detail, log) = if area.width >= WIDE {
        let [d, l] = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)])
            .areas(bottom);
        (Some(d), Some(l))
    } else if app.focus == Pane::Log {
        (None, Some(bottom))
    } else {
        (Some(bottom), None)
    };
    let (detail, log, drill) = drill_place(app, area.width, bottom, detail, log);
    Areas {
        too_small: false,
        header,
        banner,
        tree,
        tree_rows: tree.height.saturating_sub(3),
        tree_first_row: tree.y + 2,
        detail,
        log,
        drill,
        status,
    }
}

/// Where the drill panel goes, and what it leaves of the detail and events panes.
fn drill_place(
    app: &App,
    width: u16,
    bottom: Rect,
    detail: Option<Rect>,
    log: Option<Rect>,
) -> (Option<Rect>, Option<Rect>, Option<Rect>) {
    if app.drill.is_none() {
        return (detail, log, None);
    }
    if width >= WIDE {
        let Some(l) = log else {
            return (detail, None, None);
        };
        if l.height >= 30 {
            let [d, rest] = Layout::vertical([Constraint::Min(0), Constraint::Length(10)]).areas(l);
            return (detail, Some(rest), Some(d));
        }
        return (detail, None, Some(l));
    }
    // A running action's runbook shows; once it ends, the panel is back (Tab: the runbook).
    let running = app
        .run
        .as_ref()
        .is_some_and(super::runbook::Runbook::running);
    let detail_wanted = app.focus == Pane::Detail || (running && app.focus != Pane::Log);
    if detail_wanted {
        (detail, None, None)
    } else {
        (None, None, Some(bottom))
    }
}

/// Draws the whole screen.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let t = &app.theme;
    frame.render_widget(Block::new().style(t.s(Ui::Background)), area);
    let a = layout(app, area);
    if a.too_small {
        let msg = format!(
            "redops needs at least {}x{}; this terminal is {}x{}. Enlarge it, or press q to quit.",
            MIN_SIZE.0, MIN_SIZE.1, area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(msg)
                .style(t.s(Ui::Warning))
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    header::render(app, frame, a.header);
    banner::render(app, frame, a.banner);
    if !app.detail_zoom {
        tree::render(app, frame, a.tree, a.tree_rows);
    }
    if let Some(r) = a.detail {
        match &app.run {
            Some(rb) => runbook::render(app, rb, frame, r),
            None => detail::render(app, frame, r),
        }
    }
    if let Some(r) = a.log {
        log::render(app, frame, r);
    }
    if let (Some(r), Some(p)) = (a.drill, &app.drill) {
        drill::render(app, p, frame, r);
    }
    // The history, the backups and the check cover the panes between header and status.
    let body = Rect::new(
        area.x,
        a.header.bottom(),
        area.width,
        a.status.y.saturating_sub(a.header.bottom()),
    );
    if let Some(v) = &app.runs {
        history::render(app, v, frame, body);
    }
    if let Some(v) = &app.backups {
        backups::render(app, v, frame, body);
    }
    if let Some(v) = &app.check {
        check_data::render(app, v, frame, body);
    }
    status::render(app, frame, a.status);
    overlay::render(app, frame, area);
}

/// A bordered pane block with a title, focus and production colouring.
pub(crate) fn pane<'a>(app: &App, title: Line<'a>, focused: bool) -> Block<'a> {
    let t = &app.theme;
    let production = app
        .config
        .groups
        .get(app.group)
        .is_some_and(crate::config::Group::is_production);
    let border = if production {
        as_border(t.s(Ui::Production))
    } else if focused {
        t.s(Ui::BorderFocus)
    } else {
        t.s(Ui::Border)
    };
    let border = if focused {
        border.add_modifier(ratatui::style::Modifier::BOLD)
    } else {
        border
    };
    Block::bordered()
        .border_type(if production {
            // Unmistakable even without colour.
            ratatui::widgets::BorderType::Double
        } else if focused {
            ratatui::widgets::BorderType::Thick
        } else {
            ratatui::widgets::BorderType::Plain
        })
        .border_style(if t.colored { border } else { Style::default() })
        .title(title)
}

/// A role's colour as a border: a role with a background (a label colour like production, or
/// danger in the high-contrast theme) gives that background as the line's colour, so the
/// border is a coloured line and not a bar that titles drawn on it would vanish into. Only
/// bold is kept of its modifiers (an underlined or reversed border line is noise).
pub(crate) fn as_border(role: Style) -> Style {
    Style::default()
        .fg(role.bg.or(role.fg).unwrap_or_default())
        .add_modifier(role.add_modifier & ratatui::style::Modifier::BOLD)
}

/// `line` in at most `width` characters: whole when it fits, else cut with `…` (see
/// [`super::fmt::fit`]); spans past the cut are dropped, styles are kept.
pub(super) fn fit_line(mut line: Line<'static>, width: usize) -> Line<'static> {
    let total: usize = line.spans.iter().map(|s| s.content.chars().count()).sum();
    if total <= width {
        return line;
    }
    // Room for the text before the `…`, which takes the style of the span it cuts.
    let mut left = width.saturating_sub(1);
    let mut spans = Vec::with_capacity(line.spans.len());
    for span in line.spans.drain(..) {
        let n = span.content.chars().count();
        if n <= left {
            left -= n;
            spans.push(span);
            continue;
        }
        let head: String = span.content.chars().take(left).collect();
        if width > 0 {
            spans.push(ratatui::text::Span::styled(format!("{head}…"), span.style));
        }
        break;
    }
    line.spans = spans;
    line
}

/// The columns of a table in a pane: each as wide as its widest cell, whole columns only
/// (those that do not fit in the width are left out, the last first), never cut.
pub(super) struct Columns {
    widths: Vec<usize>,
    fit: usize,
}

impl Columns {
    pub(super) fn new<'a>(
        headers: &[&str],
        rows: impl Iterator<Item = &'a [String]>,
        width: usize,
    ) -> Self {
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for cells in rows {
            for (w, c) in widths.iter_mut().zip(cells) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut used = 0;
        let fit = widths
            .iter()
            .take_while(|w| {
                used += *w + 2;
                used <= width + 2
            })
            .count()
            .max(1);
        Self { widths, fit }
    }

    /// The cells that fit, each padded to its column.
    pub(super) fn pad(&self, cells: &[String]) -> Vec<String> {
        cells
            .iter()
            .zip(&self.widths)
            .take(self.fit)
            .map(|(c, w)| format!("{c:<w$}  "))
            .collect()
    }

    /// The heading line, in `style`.
    pub(super) fn head(&self, headers: &[&str], style: Style) -> Line<'static> {
        let cells: Vec<String> = headers.iter().map(ToString::to_string).collect();
        Line::from(
            self.pad(&cells)
                .into_iter()
                .map(|c| ratatui::text::Span::styled(c, style))
                .collect::<Vec<_>>(),
        )
    }
}

/// Appends `text` wrapped to `width`: the first line after `lead`, the others indented as far,
/// all in `style` (the plan dialog and the runbook share this).
pub(super) fn push_wrapped(
    lines: &mut Vec<Line<'static>>,
    width: usize,
    lead: &str,
    text: &str,
    style: Style,
) {
    let indent = " ".repeat(lead.chars().count());
    let room = width.saturating_sub(indent.len()).max(10);
    for (i, part) in super::fmt::wrap(text, room).into_iter().enumerate() {
        let head = if i == 0 {
            lead.to_string()
        } else {
            indent.clone()
        };
        lines.push(Line::from(vec![
            ratatui::text::Span::styled(head, style),
            ratatui::text::Span::styled(part, style),
        ]));
    }
}

#[cfg(test)]
mod tests {
    use ratatui::style::{Color, Style};
    use ratatui::text::{Line, Span};

    use super::fit_line;

    fn text(l: &Line) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn a_cut_line_ends_with_an_ellipsis_in_the_cut_span_style() {
        let red = Style::default().fg(Color::Red);
        let line = || Line::from(vec![Span::raw("ab"), Span::styled("cdef", red)]);
        assert_eq!(text(&fit_line(line(), 6)), "abcdef");
        let cut = fit_line(line(), 4);
        assert_eq!(text(&cut), "abc…");
        assert_eq!(cut.spans[1].style, red);
        // A cut right after a span: the ellipsis takes the next span's place.
        assert_eq!(text(&fit_line(line(), 3)), "ab…");
        assert_eq!(text(&fit_line(line(), 1)), "…");
        assert_eq!(text(&fit_line(line(), 0)), "");
    }
}
