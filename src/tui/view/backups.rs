//! The backups pane (`:backups`, `B`): it covers the panes between the header and the status
//! line, as the history does.
//!
//! ```text
//! ┌ backups · group cache-main · 3 ─────────────────────────────────────────────────────┐
//! │ ID        NODE  TAKEN           AGE  SIZE  KEYS    CRC       RESTORE TEST        GROUP│
//! │ 1a2b3c4d  m1    12-05 07:50:12  3m   1.2K  db0=50  verified  restore-tested 07:51 …   │
//! │ last restore test: 1a2b3c4d passed · loaded by Redis 7.2.4 …                         │
//! └──────── Enter manifest · v restore test · n scope · r reload · Esc close ────────────┘
//! ```
//!
//! The words of a catalog row ([`keys_text`], [`restore_text`]) are shared with `redops backup
//! list`, so the console and the CLI say the same thing.

use std::time::{Duration, SystemTime};

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use crate::backup::Entry;
use crate::datacheck;
use crate::node::rdb::Manifest;
use crate::topology::data_loss::thousands;

use super::super::app::{App, BackupsView, Row};
use super::super::fmt;
use super::super::theme::Ui;
use super::backups_cluster as cluster;

/// The column heads of [`row`], most wanted first: a narrow pane leaves out the last ones.
pub const HEADERS: [&str; 9] = [
    "ID",
    "NODE",
    "AGE",
    "SIZE",
    "KEYS",
    "RESTORE TEST",
    "CRC",
    "TAKEN (UTC)",
    "GROUP",
];

/// Keys per database as the manifest says: `db0=50 db1=3`, `empty`, or `?` (no INFO).
#[must_use]
pub fn keys_text(m: &Manifest) -> String {
    match &m.info {
        Some(i) if i.keys.is_empty() => "empty".to_string(),
        Some(i) => datacheck::counts(&i.keys),
        None => "?".to_string(),
    }
}

/// `restore-tested 14:05, 20,150 keys`, `restore test FAILED 14:05`, or `never`.
#[must_use]
pub fn restore_text(m: &Manifest) -> String {
    tested_text(m.restore_test.as_ref().map(|t| {
        (
            t.at_unix_ms,
            t.passed,
            format!("{} keys", thousands(t.keys)),
        )
    }))
}

/// A restore test's cell from when it ran, whether it passed and what it found (`never`
/// without one).
pub(super) fn tested_text(test: Option<(u64, bool, String)>) -> String {
    match test {
        None => "never".to_string(),
        Some((at_unix_ms, passed, found)) => {
            let at = SystemTime::UNIX_EPOCH + Duration::from_millis(at_unix_ms);
            let clock: String = fmt::clock(at).chars().take(5).collect();
            if passed {
                format!("restore-tested {clock}, {found}")
            } else {
                format!("restore test FAILED {clock}")
            }
        }
    }
}

/// One backup's cells, in the order of [`HEADERS`].
#[must_use]
pub fn row(e: &Entry, now: SystemTime) -> [String; 9] {
    let m = &e.manifest;
    let taken = SystemTime::UNIX_EPOCH + Duration::from_millis(m.taken_at_unix_ms);
    [
        e.id.clone(),
        safe(&m.node),
        fmt::age(now, taken),
        fmt::bytes(m.bytes),
        keys_text(m),
        restore_text(m),
        safe(&m.crc_status),
        fmt::date_clock(taken),
        safe(&m.group),
    ]
}

/// Text from a file or a server, made safe for a terminal.
pub(super) fn safe(s: &str) -> String {
    crate::sanitize::visible(s).into_owned()
}

pub(super) fn hints(app: &App, text: &'static str) -> Line<'static> {
    Line::styled(text, app.theme.s(Ui::Muted)).right_aligned()
}

/// Draws the backups pane over `area`.
pub fn render(app: &App, view: &BackupsView, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    frame.render_widget(Clear, area);
    let entry = view.selected_row().filter(|_| view.manifest);
    let title = match (entry, &view.catalog) {
        (Some(Row::Node(e)), _) => format!(" backup {} · manifest ", e.id),
        (Some(Row::Cluster(e)), _) => format!(" cluster backup {} · manifest ", e.id),
        (None, Some(c)) => format!(
            " backups · {} · {} ",
            view.scope_words(),
            c.entries.len() + view.clusters.len()
        ),
        (None, None) => format!(" backups · {} · reading… ", view.scope_words()),
    };
    let keys = if entry.is_some() {
        " ↑↓ scroll · v restore test · Esc back "
    } else {
        " ↑↓ select · Enter manifest · v restore test · n scope · r reload · Esc close "
    };
    let block =
        super::pane(app, Line::styled(title, t.s(Ui::Title)), true).title_bottom(hints(app, keys));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let mut result = verify_lines(app, width);
    if let Some(e) = entry {
        // The last restore test above its manifest, when it is this backup's.
        let about = |id: Option<&str>| id == Some(e.id());
        let tests = &app.restore_tests;
        let mut lines = if about(tests.running.as_deref())
            || about(tests.last.as_ref().map(|v| v.id.as_str()))
        {
            result.push(Line::raw(""));
            result
        } else {
            Vec::new()
        };
        lines.extend(match e {
            Row::Node(e) => manifest_lines(app, e, width),
            Row::Cluster(e) => cluster::manifest_lines(app, e, width),
        });
        frame.render_widget(
            Paragraph::new(lines)
                .style(t.s(Ui::Text))
                .scroll((view.scroll, 0)),
            inner,
        );
        return;
    }
    // The last restore test's result at the bottom, the list above it.
    let room = inner
        .height
        .saturating_sub(u16::try_from(result.len()).unwrap_or(0));
    let list = Rect::new(inner.x, inner.y, inner.width, room.max(2));
    frame.render_widget(
        Paragraph::new(list_lines(app, view, list)).style(t.s(Ui::Text)),
        list,
    );
    if room > 0 && !result.is_empty() {
        let below = Rect::new(
            inner.x,
            list.bottom(),
            inner.width,
            inner.bottom() - list.bottom(),
        );
        result.truncate(usize::from(below.height));
        frame.render_widget(Paragraph::new(result).style(t.s(Ui::Text)), below);
    }
}

fn list_lines(app: &App, view: &BackupsView, area: Rect) -> Vec<Line<'static>> {
    let t = &app.theme;
    let Some(cat) = &view.catalog else {
        return vec![Line::styled("reading the catalog…", t.s(Ui::Muted))];
    };
    let mut lines = Vec::new();
    let width = usize::from(area.width);
    let all = view.row_list();
    if all.is_empty() {
        super::push_wrapped(
            &mut lines,
            width,
            "",
            &format!(
                "no backups of {} in '{}': a snapshot (s) downloads one; n changes the scope (group, node, every group)",
                view.scope_words(),
                app.config.console.backups_dir.display()
            ),
            t.s(Ui::Muted),
        );
    } else {
        let room = usize::from(area.height)
            .saturating_sub(1 + usize::from(!cat.problems.is_empty()))
            .max(1);
        let first = view.selected.saturating_sub(room - 1);
        // Only the rows on screen are put in words (a catalog may hold thousands).
        let shown: Vec<(usize, &Row, [String; 9])> = all
            .iter()
            .enumerate()
            .skip(first)
            .take(room)
            .map(|(i, r)| {
                let cells = match r {
                    Row::Node(e) => row(e, app.now),
                    Row::Cluster(c) => cluster::row(c, app.now),
                };
                (i, r, cells)
            })
            .collect();
        let cols = super::Columns::new(
            &HEADERS,
            shown.iter().map(|(_, _, cells)| cells.as_slice()),
            width,
        );
        lines.push(cols.head(&HEADERS, t.s(Ui::Title)));
        for (i, e, cells) in &shown {
            let selected = *i == view.selected;
            let verifying = app.restore_tests.running.as_deref() == Some(e.id());
            let (restore, crc_ok) = match e {
                Row::Node(e) => (
                    restore_role(&e.manifest),
                    e.manifest.crc_status == "verified",
                ),
                Row::Cluster(c) => (
                    cluster::restore_role(&c.manifest),
                    c.manifest.shards.iter().all(|s| s.crc_ok),
                ),
            };
            let spans: Vec<Span> = cols
                .pad(cells)
                .into_iter()
                .enumerate()
                .map(|(k, c)| {
                    let c = if k == 5 && verifying {
                        format!(
                            "{:<w$}  ",
                            "testing…",
                            w = c.chars().count().saturating_sub(2)
                        )
                    } else {
                        c
                    };
                    let style = if selected {
                        t.s(Ui::Selection)
                    } else if k == 5 {
                        t.s(restore)
                    } else if k == 6 && !crc_ok {
                        t.s(Ui::Warning)
                    } else if k == 2 || k >= 7 {
                        t.s(Ui::Muted)
                    } else {
                        Style::default()
                    };
                    Span::styled(c, style)
                })
                .collect();
            lines.push(Line::from(spans));
        }
    }
    if let Some(p) = cat.problems.first() {
        let said = format!(
            "{} skipped: '{}': {}",
            crate::words::count(cat.problems.len(), "file"),
            safe(&p.path.display().to_string()),
            safe(&p.message)
        );
        lines.push(super::fit_line(Line::styled(said, t.s(Ui::Warning)), width));
    }
    lines
}

fn restore_role(m: &Manifest) -> Ui {
    tested_role(m.restore_test.as_ref().map(|t| t.passed))
}

/// The style of a restore test's cell: never run, passed, failed.
pub(super) fn tested_role(passed: Option<bool>) -> Ui {
    match passed {
        None => Ui::Muted,
        Some(true) => Ui::Up,
        Some(false) => Ui::Danger,
    }
}

/// The running or last restore test, for the bottom of the pane.
fn verify_lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = Vec::new();
    if let Some(id) = &app.restore_tests.running {
        let what = if app.restore_tests.cluster {
            "cluster"
        } else {
            "server"
        };
        lines.push(Line::styled(
            format!("restore test of {id}: a scratch {what} is loading it…"),
            t.s(Ui::Info),
        ));
    } else if let Some(v) = &app.restore_tests.last {
        let role = if v.passed { Ui::Up } else { Ui::Danger };
        let head = format!(
            "restore test of {}: {}",
            v.id,
            if v.passed { "passed" } else { "FAILED" }
        );
        lines.push(Line::styled(
            head,
            t.s(role).add_modifier(ratatui::style::Modifier::BOLD),
        ));
        for l in &v.lines {
            super::push_wrapped(&mut lines, width, "  ", &safe(l), t.s(Ui::Text));
        }
    }
    lines
}

fn manifest_lines(app: &App, e: &Entry, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = Vec::new();
    let m = &e.manifest;
    super::push_wrapped(
        &mut lines,
        width,
        "rdb       ",
        &safe(&e.rdb.display().to_string()),
        t.s(Ui::Text),
    );
    super::push_wrapped(
        &mut lines,
        width,
        "manifest  ",
        &safe(&e.manifest_path.display().to_string()),
        t.s(Ui::Muted),
    );
    if e.external {
        lines.push(Line::styled(
            "downloaded outside the backups directory (recorded in its catalog)",
            t.s(Ui::Muted),
        ));
    }
    if m.info.as_ref().is_some_and(|i| i.aof_enabled) {
        super::push_wrapped(
            &mut lines,
            width,
            "note: ",
            &safe(&crate::ops::snapshot::aof_note(&m.node)),
            t.s(Ui::Warning),
        );
    }
    lines.push(Line::raw(""));
    json_lines(app, m, width, &mut lines);
    lines
}

/// A manifest as stored, in full: JSON escapes every control character a hostile file could
/// hold, so it is safe on a terminal.
pub(super) fn json_lines<T: serde::Serialize>(
    app: &App,
    m: &T,
    width: usize,
    lines: &mut Vec<Line<'static>>,
) {
    let t = &app.theme;
    let json = serde_json::to_string_pretty(m).unwrap_or_else(|e| e.to_string());
    for l in json.lines() {
        let indent: String = l.chars().take_while(|c| *c == ' ').collect();
        super::push_wrapped(lines, width, &indent, &safe(l.trim_start()), t.s(Ui::Text));
    }
}
