//! The action dialogs drawn over the screen: the plan (summary, strategy, checks one per line
//! with ✓/!/✗ and whether an override is possible, what is at risk, the snapshot gate, each
//! step with its exact commands, notes; Cancel focused), the typed confirmation, the source
//! picker and the interrupted-run notice. Pure drawing from the modal's state.
//!
//! ```text
//! ╔ switchover to r1 · group demo ═════════════════════════════════════╗
//! ║ promote r1 ... in place of m1                                       ║
//! ║ Pre-checks                                                          ║
//! ║  ✓ r1 is a replica of m1                                            ║
//! ║ Steps                                                               ║
//! ║  1. pause writes on m1 [m1]                                         ║
//! ║     › CLIENT PAUSE 20000 WRITE                                      ║
//! ║─────────────────────────────────────────────────────────────────────║
//! ║ [ Cancel ]  Continue            ←/→ choose · Enter · Esc · t · d    ║
//! ╚═════════════════════════════════════════════════════════════════════╝
//! ```

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::ops::CheckStatus;

use super::super::app::App;
use super::super::modal::{Button, ConfirmDialog, NoticeDialog, Picker, PlanDialog, ReasonFor};
use super::super::prepare;
use super::super::theme::{Theme, Ui};

/// Wrapped body lines, built at the dialog's inner width.
struct Body<'a> {
    t: &'a Theme,
    width: usize,
    lines: Vec<Line<'static>>,
}

impl Body<'_> {
    /// `text` wrapped after `lead` (first line) and `indent` (the rest), in `style`.
    fn push(&mut self, lead: &str, text: &str, style: Style) {
        super::push_wrapped(&mut self.lines, self.width, lead, text, style);
    }

    fn title(&mut self, text: &str) {
        self.lines
            .push(Line::styled(text.to_string(), self.t.s(Ui::Title)));
    }

    fn blank(&mut self) {
        self.lines.push(Line::default());
    }
}

/// A centred rectangle of at most `w` x `h`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    r
}

/// Draws a dialog: a scrolled body and a fixed footer (buttons, hints).
fn frame_dialog(
    t: &Theme,
    frame: &mut Frame,
    area: Rect,
    title: &str,
    body: Vec<Line<'static>>,
    footer: Vec<Line<'static>>,
    scroll: u16,
) {
    let width = dialog_width(area);
    // Footer lines wrap (the key hints grow with what the plan offers): rows as wrapped.
    let inner_w = usize::from(width.saturating_sub(2)).max(1);
    let foot_rows: usize = footer
        .iter()
        .map(|l| l.width().div_ceil(inner_w).max(1))
        .sum();
    let want = body.len() + foot_rows + 3;
    let h = u16::try_from(want)
        .unwrap_or(u16::MAX)
        .min(area.height.saturating_sub(2).max(8));
    let r = centered(area, width, h);
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(super::as_border(t.s(Ui::Danger)))
        .title(Span::styled(format!(" {title} "), t.s(Ui::Title)));
    let inner = block.inner(r);
    frame.render_widget(block.style(t.s(Ui::Background)), r);
    let foot_h = u16::try_from(foot_rows + 1).unwrap_or(3);
    let [top, sep, bottom] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(foot_h - 1),
    ])
    .areas(inner);
    let rows = usize::from(top.height);
    let max = body.len().saturating_sub(rows);
    let scroll = usize::from(scroll).min(max);
    let more_below = scroll < max;
    frame.render_widget(
        Paragraph::new(body).scroll((u16::try_from(scroll).unwrap_or(0), 0)),
        top,
    );
    let rule = if more_below {
        format!("{:─<w$}", "─ ↓ more (↓/PgDn) ", w = usize::from(sep.width))
    } else if scroll > 0 {
        format!("{:─<w$}", "─ ↑ more (↑/PgUp) ", w = usize::from(sep.width))
    } else {
        "─".repeat(usize::from(sep.width))
    };
    frame.render_widget(Paragraph::new(rule).style(t.s(Ui::Muted)), sep);
    frame.render_widget(Paragraph::new(footer).wrap(Wrap { trim: false }), bottom);
}

fn dialog_width(area: Rect) -> u16 {
    area.width.saturating_sub(4).clamp(40, 104)
}

fn inner_width(area: Rect) -> usize {
    usize::from(dialog_width(area).saturating_sub(2))
}

fn button(t: &Theme, label: &str, focused: bool, enabled: bool) -> Span<'static> {
    let style = if !enabled {
        t.s(Ui::KeyReserved)
    } else if focused {
        t.s(Ui::Selection).add_modifier(Modifier::BOLD)
    } else {
        t.s(Ui::Key)
    };
    let text = if focused {
        format!("[ {label} ]")
    } else {
        format!("  {label}  ")
    };
    Span::styled(text, style)
}

/// The plan dialog.
#[allow(clippy::too_many_lines)] // the dialog's sections top to bottom, in the order drawn.
pub fn plan(app: &App, frame: &mut Frame, area: Rect, d: &PlanDialog) {
    let t = &app.theme;
    let p = &d.prepared;
    let plan = &p.plan;
    let mut b = Body {
        t,
        width: inner_width(area),
        lines: Vec::new(),
    };
    b.push(
        "",
        &plan.summary,
        t.s(Ui::Text).add_modifier(Modifier::BOLD),
    );
    if let Some(s) = plan.strategy {
        let why = plan.strategy_reason.as_deref().unwrap_or_default();
        b.push(
            "strategy ",
            &if s == crate::ops::Strategy::Sentinel {
                // The one way on a Sentinel group: nothing to switch to.
                format!("{}: {why}", s.as_str())
            } else {
                format!("{}: {why} (t switches)", s.as_str())
            },
            t.s(Ui::Muted),
        );
    }
    if p.request.has_download() {
        let dl = match &plan.download_dir {
            Some(dir) => format!("on, into {} (d turns it off)", dir.display()),
            None => "off (d downloads the RDB into the backups directory)".to_string(),
        };
        b.push("download ", &dl, t.s(Ui::Muted));
    }
    // An HA manager refuses only what changes a role (`guard::refusal`): not a snapshot.
    let ha_manager = plan.ha_manager.as_ref().filter(|_| plan.changes_roles());
    for r in [ha_manager, plan.read_only.as_ref()].into_iter().flatten() {
        b.push("REFUSED: ", &r.to_string(), t.s(Ui::Danger));
    }
    if d.read_only {
        b.push(
            "REFUSED: ",
            "read-only mode: redops takes no action",
            t.s(Ui::Danger),
        );
    }
    for s in &prepare::sections(p) {
        b.blank();
        b.title(&s.title);
        for l in &s.lines {
            b.push("  ", l, t.s(Ui::Text));
        }
    }
    b.blank();
    b.title("Pre-checks");
    for c in &plan.checks {
        let (lead, role, tail) = match (c.status, c.overridable) {
            (CheckStatus::Pass, _) => (" ✓ ", Ui::Up, ""),
            (CheckStatus::Warn, _) => (" ! ", Ui::Warning, ""),
            (CheckStatus::Fail, true) => (
                " ✗ ",
                Ui::Warning,
                "  (may be overridden: o, with a reason)",
            ),
            (CheckStatus::Fail, false) => (" ✗ ", Ui::Danger, "  (cannot be overridden)"),
        };
        b.push(lead, &format!("{}{tail}", c.message), t.s(role));
    }
    b.blank();
    b.title("Snapshot gate (before any step)");
    let names = |v: &[usize]| {
        v.iter()
            .map(|&i| plan.name(i).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if plan.snapshots.is_empty() && plan.downloads.is_empty() {
        let none = plan
            .gate_skipped
            .as_deref()
            .map_or_else(|| "none".to_string(), |why| format!("none needed: {why}"));
        b.push("  ", &none, t.s(Ui::Muted));
    }
    if let Some(r) = &d.skip_snapshot_reason {
        b.push(
            "  SKIPPED: ",
            &format!("no snapshot and no download before the steps; reason recorded: \"{r}\" (x restores the gate)"),
            t.s(Ui::Danger).add_modifier(Modifier::BOLD),
        );
    }
    // Skipped: what the gate would have done, struck through in words and muted.
    let (gate_lead, gate_style) = if d.skip_snapshot_reason.is_some() {
        ("  not done: ", t.s(Ui::Muted))
    } else {
        ("  ", t.s(Ui::Text))
    };
    if !plan.snapshots.is_empty() {
        b.push(
            gate_lead,
            &format!(
                "BGSAVE on {}: done only when finished, status ok and rdb_last_save_time at or after the request",
                names(&plan.snapshots)
            ),
            gate_style,
        );
    }
    if !plan.downloads.is_empty() {
        let dir = plan
            .download_dir
            .as_ref()
            .map_or_else(|| "?".to_string(), |d| d.display().to_string());
        b.push(
            gate_lead,
            &format!(
                "download the RDB of {} into {dir} (CRC64 verified; at most {} each)",
                names(&plan.downloads),
                crate::config::format_duration(plan.budgets.download)
            ),
            gate_style,
        );
    }
    if !plan.steps.is_empty() {
        b.blank();
        b.title("Steps");
    }
    for (i, s) in plan.steps.iter().enumerate() {
        let lead = format!(" {}. ", i + 1);
        let pad = " ".repeat(lead.len());
        b.push(
            &lead,
            &format!("{} [{}]", s.title, plan.step_nodes(s)),
            t.s(Ui::Text),
        );
        for c in plan.step_commands(s, |_| true) {
            b.push(&format!("{pad}› "), &c, t.s(Ui::Key));
        }
        if let Some(w) = &s.waits_for {
            let dl = s.deadline.map_or_else(String::new, |d| {
                format!(" (deadline {})", crate::config::format_duration(d))
            });
            b.push(
                &format!("{pad}waits for: "),
                &format!("{w}{dl}"),
                t.s(Ui::Muted),
            );
        }
        if s.critical && s.rollback != "none" {
            b.push(&format!("{pad}if it fails: "), &s.rollback, t.s(Ui::Muted));
        }
    }
    let notes: Vec<&crate::ops::Note> = p.notes().collect();
    if !notes.is_empty() {
        b.blank();
        b.title("Notes");
        for n in notes {
            b.push(" · ", &n.text, t.s(Ui::Muted));
        }
    }
    let footer = plan_footer(t, d);
    let title = format!("{} · group {}", p.title(), plan.group);
    frame_dialog(t, frame, area, &title, b.lines, footer, d.scroll);
}

fn plan_footer(t: &Theme, d: &PlanDialog) -> Vec<Line<'static>> {
    if let Some((what, input)) = &d.reason_input {
        let (label, why) = match what {
            ReasonFor::Override => (
                "override reason: ",
                "why the failed checks are safe to ignore",
            ),
            ReasonFor::SkipSnapshot => (
                "skip-snapshot reason: ",
                "why no snapshot is needed before this change",
            ),
        };
        return vec![
            Line::from(vec![
                Span::styled(label, t.s(Ui::Warning)),
                Span::styled(format!("{}█", input.text), t.s(Ui::Input)),
            ]),
            Line::styled(
                format!("{why}; recorded in the audit log · Enter records · Esc cancels"),
                t.s(Ui::Muted),
            ),
        ];
    }
    let proceed = d.proceed_word();
    let mut row = vec![
        Span::raw(" "),
        button(t, "Cancel", d.focus == Button::Cancel, true),
        Span::raw(" "),
    ];
    let mut hints = String::from("←/→ choose · Enter · Esc cancels · ↑/↓ scroll");
    if let Some(why) = d.blocked() {
        row.push(Span::styled(format!(" cannot run: {why}"), t.s(Ui::Danger)));
    } else {
        row.push(button(
            t,
            proceed,
            d.focus == Button::Proceed,
            d.can_proceed(),
        ));
        match (&d.override_reason, d.can_override()) {
            (None, true) => row.push(Span::styled(
                "  checks failed: o overrides them with a reason",
                t.s(Ui::Warning),
            )),
            (Some(r), _) => {
                row.push(Span::styled(
                    format!("  OVERRIDE, reason recorded: \"{r}\""),
                    t.s(Ui::Warning).add_modifier(Modifier::BOLD),
                ));
                hints.push_str(" · o edits the reason");
            }
            (None, false) => {}
        }
    }
    if d.can_proceed() && d.prepared.confirm_word().is_none() {
        hints.push_str(" · y runs");
    }
    if d.prepared.request.has_strategy() && !d.prepared.plan.through_sentinel() {
        hints.push_str(" · t strategy");
    }
    if d.prepared.request.has_download() {
        hints.push_str(" · d download");
    }
    if d.skip_snapshot_reason.is_some() {
        row.push(Span::styled(
            "  SNAPSHOT GATE SKIPPED",
            t.s(Ui::Danger).add_modifier(Modifier::BOLD),
        ));
        hints.push_str(" · x restores the gate");
    } else if d.can_skip_snapshot() {
        hints.push_str(" · x skips the snapshot");
    }
    // Why the last key did nothing, in place of the key hints until the next key.
    let last = match &d.message {
        Some(m) => Line::styled(m.clone(), t.s(Ui::Warning)),
        None => Line::styled(hints, t.s(Ui::Muted)),
    };
    vec![Line::from(row), last]
}

/// The typed confirmation.
pub fn confirm(app: &App, frame: &mut Frame, area: Rect, c: &ConfirmDialog) {
    let t = &app.theme;
    let p = &c.armed.prepared;
    let mut b = Body {
        t,
        width: inner_width(area),
        lines: Vec::new(),
    };
    b.push("", &p.plan.summary, t.s(Ui::Text));
    if let Some(r) = &c.armed.override_reason {
        b.push(
            "override: ",
            &format!("\"{r}\" (recorded)"),
            t.s(Ui::Warning),
        );
    }
    if let Some(r) = &c.armed.skip_snapshot_reason {
        b.push(
            "NO SNAPSHOT: ",
            &format!("the gate is skipped, \"{r}\" (recorded)"),
            t.s(Ui::Danger).add_modifier(Modifier::BOLD),
        );
    }
    b.blank();
    b.lines.push(Line::from(vec![
        Span::raw("This changes roles. Type "),
        Span::styled(
            c.expected.clone(),
            t.s(Ui::Danger).add_modifier(Modifier::BOLD),
        ),
        Span::raw(" and press Enter to run it; Esc cancels."),
    ]));
    let matches = c.input.text == c.expected;
    let footer = vec![
        Line::from(vec![
            Span::styled("> ", t.s(Ui::Key)),
            Span::styled(format!("{}█", c.input.text), t.s(Ui::Input)),
        ]),
        match &c.message {
            Some(m) if !matches => Line::styled(m.clone(), t.s(Ui::Danger)),
            _ => Line::styled(
                if matches {
                    "Enter runs it"
                } else {
                    "the exact name, then Enter"
                },
                t.s(if matches { Ui::Warning } else { Ui::Muted }),
            ),
        },
    ];
    let title = format!("confirm: {} · group {}", p.title(), p.plan.group);
    frame_dialog(t, frame, area, &title, b.lines, footer, 0);
}

/// The source picker.
pub fn pick(app: &App, frame: &mut Frame, area: Rect, p: &Picker) {
    let t = &app.theme;
    let lines: Vec<Line<'static>> = p
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let style = if i == p.chosen {
                t.s(Ui::Selection)
            } else {
                t.s(Ui::Text)
            };
            Line::styled(format!(" {:<12} {}", item.name, item.about), style)
        })
        .collect();
    let footer = vec![Line::styled(
        "↑/↓ choose · Enter shows the plan (nothing runs yet) · Esc cancels",
        t.s(Ui::Muted),
    )];
    let scroll = u16::try_from(p.chosen.saturating_sub(5)).unwrap_or(0);
    frame_dialog(t, frame, area, &p.title, lines, footer, scroll);
}

/// A notice (an interrupted run) with the safe next step offered.
pub fn notice(app: &App, frame: &mut Frame, area: Rect, n: &NoticeDialog) {
    let t = &app.theme;
    let mut b = Body {
        t,
        width: inner_width(area),
        lines: Vec::new(),
    };
    for l in &n.lines {
        if l.is_empty() {
            b.blank();
        } else if let Some(rest) = l.strip_prefix("safe next step: ") {
            b.push("safe next step: ", rest, t.s(Ui::Warning));
        } else {
            b.push("", l, t.s(Ui::Text));
        }
    }
    let mut row = vec![
        Span::raw(" "),
        button(t, "Close", n.focus == Button::Cancel, true),
        Span::raw(" "),
    ];
    if let Some((label, _)) = &n.offer {
        row.push(button(t, label, n.focus == Button::Proceed, true));
    }
    let footer = vec![
        Line::from(row),
        Line::styled(
            "←/→ choose · Enter · Esc closes (the banner keeps it until the group is consistent)",
            t.s(Ui::Muted),
        ),
    ];
    frame_dialog(t, frame, area, &n.title, b.lines, footer, n.scroll);
}
