//! The topology table: one row per node in tree order (primary, its replicas, chained
//! replicas below them), with columns dropped by priority when the screen is narrow.
//!
//! Only the rows on screen are built, so a 500-node group costs what 40 rows cost.

use std::time::{Duration, SystemTime};

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use crate::history::History;
use crate::topology::{GroupTopology, LagLevel, Link, NodeView, Role};

use super::super::app::{App, Pane};
use super::super::fmt;
use super::super::theme::{Theme, Ui};

/// Everything a cell needs besides its node.
struct Ctx<'a> {
    t: &'a Theme,
    now: SystemTime,
    history: &'a History,
    spark_width: usize,
    /// The cluster's own view, for a cluster group (the SLOTS column).
    cluster: Option<&'a crate::cluster::ClusterView>,
}

type CellFn = for<'a> fn(&Ctx<'a>, &NodeView) -> Line<'static>;

/// A column: header, width, priority (lower stays longer), and how to draw a cell.
struct Col {
    title: &'static str,
    width: u16,
    prio: u8,
    cell: CellFn,
}

/// The trend column's width when space is short; spare width on a wide screen grows it up to
/// [`SPARK_MAX`] (a longer look back), so the table fills the screen rather than leaving an
/// empty band at its right.
const SPARK_WIDTH: u16 = 10;
const SPARK_MAX: u16 = 60;

const fn col(title: &'static str, width: u16, prio: u8, cell: CellFn) -> Col {
    Col {
        title,
        width,
        prio,
        cell,
    }
}

/// The columns in screen order (sync progress shares the link column: a syncing replica's
/// link is not up anyway; loading progress shows in the state column). A cluster group has a
/// SLOTS column after ROLE.
fn columns(name_w: u16, addr_w: u16, cluster: bool) -> Vec<Col> {
    let mut cols = Vec::from(all_columns(name_w, addr_w));
    if cluster {
        cols.insert(3, col("SLOTS", 18, 1, c_slots));
    }
    cols
}

fn all_columns(name_w: u16, addr_w: u16) -> [Col; COLS] {
    [
        col("NAME", name_w, 0, c_name),
        col("ADDRESS", addr_w, 4, c_addr),
        col("ROLE", 8, 1, c_role),
        col("STATE", 14, 0, c_state),
        col("LINK/SYNC", 9, 2, c_link),
        col("LAG", 13, 1, c_lag),
        col("TREND", SPARK_WIDTH, 3, c_spark),
        col("OFFSET", 11, 6, c_offset),
        col("IO", 4, 7, c_io),
        col("BGSAVE", 9, 5, c_bgsave),
        col("MEM", 6, 8, c_mem),
        col("KEYS", 6, 8, c_keys),
        col("CLI", 4, 9, c_clients),
        col("OPS/S", 6, 9, c_ops),
        col("UPTIME", 6, 10, c_uptime),
        col("VERSION", 8, 10, c_version),
    ]
}

const COLS: usize = 16;

/// Picks the columns that fit `width`, by priority, kept in screen order; the width left
/// over goes to the trend column (up to [`SPARK_MAX`]).
fn fit(cols: Vec<Col>, width: u16) -> Vec<Col> {
    let mut order: Vec<usize> = (0..cols.len()).collect();
    order.sort_by_key(|&i| (cols[i].prio, i));
    let mut used = 0u16;
    let mut keep = vec![false; cols.len()];
    for i in order {
        let w = cols[i].width + 1;
        if used + w <= width {
            used += w;
            keep[i] = true;
        }
    }
    let mut kept: Vec<Col> = cols
        .into_iter()
        .zip(keep)
        .filter_map(|(c, k)| k.then_some(c))
        .collect();
    let spare = width.saturating_sub(used);
    if let Some(trend) = kept.iter_mut().find(|c| c.title == "TREND") {
        trend.width += spare.min(SPARK_MAX.saturating_sub(trend.width));
    }
    kept
}

/// Draws the table of the shown group.
pub fn render(app: &App, frame: &mut Frame, area: Rect, rows: u16) {
    let t = &app.theme;
    let visible = app.visible();
    let group = app.shown_group();
    let title = title(app, group, visible.len());
    let block = super::pane(app, title, app.focus == Pane::Tree);
    let inner_w = area.width.saturating_sub(2);
    let Some(g) = group else {
        frame.render_widget(block, area);
        return;
    };
    let block = super::sentinel::with_strip(block, t, g);

    let start = app.tree_offset.min(visible.len());
    let end = (start + usize::from(rows)).min(visible.len());
    let shown = &visible[start..end];
    // Guide lines of the rows shown (a filter hides rows: lines are drawn for what is left).
    let prefixes = tree_prefixes(
        &visible
            .iter()
            .map(|&i| g.nodes[i].depth)
            .collect::<Vec<_>>(),
    );
    let prefixes = &prefixes[start..end];
    let name_w = shown
        .iter()
        .zip(prefixes)
        .map(|(&i, p)| p.chars().count() + g.nodes[i].name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(8, 28);
    let addr_w = shown
        .iter()
        .map(|&i| g.nodes[i].addr.len())
        .max()
        .unwrap_or(7)
        .clamp(9, 24);
    let cols = fit(
        columns(
            u16::try_from(name_w).unwrap_or(28),
            u16::try_from(addr_w).unwrap_or(24),
            g.cluster.is_some(),
        ),
        inner_w,
    );
    let spark_width = cols
        .iter()
        .find(|c| c.title == "TREND")
        .map_or(SPARK_WIDTH, |c| c.width);
    let ctx = Ctx {
        t,
        now: app.now,
        history: app.shown_history(),
        spark_width: usize::from(spark_width),
        cluster: g.cluster.as_deref(),
    };
    let selected = app.selected_row(&visible);
    let body: Vec<Row> = shown
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let n = &g.nodes[i];
            let is_selected = selected == Some(start + k);
            let cells = cols.iter().map(|c| {
                let mut line = (c.cell)(&ctx, n);
                if c.title == "NAME" {
                    line.spans
                        .insert(0, Span::styled(prefixes[k].clone(), t.s(Ui::Muted)));
                }
                let mut line = super::fit_line(line, usize::from(c.width));
                if is_selected {
                    line = on_selection(t, line);
                }
                Cell::from(line)
            });
            let row = Row::new(cells);
            if is_selected {
                row.style(t.s(Ui::Selection))
            } else {
                row
            }
        })
        .collect();
    let header = Row::new(cols.iter().map(|c| Cell::from(c.title))).style(t.s(Ui::Title));
    let widths: Vec<Constraint> = cols.iter().map(|c| Constraint::Length(c.width)).collect();
    let table = Table::new(body, widths)
        .header(header)
        .column_spacing(1)
        .block(block)
        .style(t.s(Ui::Text));
    frame.render_widget(table, area);
    if visible.is_empty() {
        empty(app, frame, area);
    }
}

/// What an empty table says: no nodes yet, or none matches the filter.
fn empty(app: &App, frame: &mut Frame, area: Rect) {
    let msg = if app.filter.is_empty() {
        "no nodes yet".to_string()
    } else {
        format!("no node matches '{}' (Esc clears the filter)", app.filter)
    };
    let r = Rect {
        x: area.x + 2,
        y: area.y + 2,
        width: area.width.saturating_sub(4),
        height: 1.min(area.height.saturating_sub(2)),
    };
    frame.render_widget(
        ratatui::widgets::Paragraph::new(msg).style(app.theme.s(Ui::Muted)),
        r,
    );
}

/// A cell of the selected row: every span in the selection's colours (see
/// [`Theme::on_selection`]), so the whole row reads against the selection bar.
fn on_selection(t: &Theme, mut line: Line<'static>) -> Line<'static> {
    line.style = t.on_selection(line.style);
    for span in &mut line.spans {
        span.style = t.on_selection(span.style);
    }
    line
}

fn title<'a>(app: &App, g: Option<&GroupTopology>, shown: usize) -> Line<'a> {
    let t = &app.theme;
    let Some(g) = g else {
        return Line::from(" no group ");
    };
    let mut spans = vec![Span::styled(format!(" {} ", g.name), t.s(Ui::Title))];
    if let Some(cfg) = app.config.groups.get(app.group) {
        if cfg.is_production() {
            spans.push(Span::styled(" PRODUCTION ", t.s(Ui::Production)));
            spans.push(Span::raw(" "));
        }
    }
    if let Some(c) = &g.cluster {
        spans.extend(super::cluster::title_spans(t, c));
    }
    let total = g.nodes.len();
    let count = if app.filter.is_empty() {
        format!("{total} nodes ")
    } else {
        format!("{shown}/{total} nodes · filter '{}' ", app.filter)
    };
    spans.push(Span::styled(count, t.s(Ui::Muted)));
    Line::from(spans)
}

/// Tree drawing for rows in tree order with their depths (`├─`, `└─`, `│ `): the core's
/// guide lines (the CLI draws the same tree), with the console's wider branch.
fn tree_prefixes(depths: &[usize]) -> Vec<String> {
    crate::topology::tree_prefixes(depths)
        .into_iter()
        .map(|p| p.replace("├ ", "├─").replace("└ ", "└─"))
        .collect()
}

fn stale(ctx: &Ctx<'_>, n: &NodeView, role: Ui) -> Style {
    if n.stale_info {
        ctx.t.s(Ui::Muted)
    } else {
        ctx.t.s(role)
    }
}

fn c_name(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    let style = if n.unmanaged {
        ctx.t.s(Ui::Muted)
    } else {
        ctx.t.s(Ui::Text)
    };
    Line::styled(n.name.clone(), style)
}

fn c_slots(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    ctx.cluster
        .map(|c| super::cluster::slots_cell(ctx.t, c, n))
        .unwrap_or_default()
}

fn c_addr(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    Line::styled(n.addr.clone(), ctx.t.s(Ui::Muted))
}

/// The role, or the last known one (from stale INFO) when the node does not answer.
pub(crate) fn role_of(n: &NodeView) -> (Role, bool) {
    if n.role != Role::Unknown {
        return (n.role, false);
    }
    let last = n.info.as_ref().and_then(|i| i.replication.role);
    match last {
        Some(crate::info::InfoRole::Primary) => (Role::Primary, true),
        Some(crate::info::InfoRole::Replica) => (Role::Replica, true),
        None => (Role::Unknown, false),
    }
}

fn c_role(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    let (role, last_known) = role_of(n);
    let (word, style) = match role {
        Role::Primary => ("primary", Ui::Primary),
        Role::Replica => ("replica", Ui::Replica),
        Role::Unknown => ("?", Ui::Muted),
    };
    if last_known {
        return Line::styled(format!("{word}?"), ctx.t.s(Ui::Muted));
    }
    Line::styled(word, stale(ctx, n, style))
}

/// Style of a node state, shared with the detail pane.
pub(crate) fn state_role(s: crate::observe::NodeState) -> Ui {
    use crate::observe::NodeState as S;
    match s {
        S::Up => Ui::Up,
        S::Unknown => Ui::Muted,
        S::Loading | S::Busy | S::Stale => Ui::Degraded,
        S::Down | S::AuthError | S::NoPerm | S::TlsError | S::Error => Ui::Down,
        S::Unresponsive => Ui::Unresponsive,
    }
}

fn c_state(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    let (sym, word) = fmt::state(n.state);
    let mut text = format!("{sym} {word}");
    if let Some(p @ Progress::Load(_)) = progress(n) {
        text = format!("{sym} {p}");
    }
    if n.unmanaged {
        text = "  unmanaged".to_string();
    }
    Line::styled(text, ctx.t.s(state_role(n.state)))
}

fn c_link(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    if let Some(p @ Progress::Sync(_)) = progress(n) {
        return Line::styled(p.to_string(), ctx.t.s(Ui::Warning));
    }
    match (n.role, n.link) {
        (_, Some(Link::Up)) => Line::styled("up", stale(ctx, n, Ui::Up)),
        (_, Some(Link::Down { since })) => {
            let s = since.map_or_else(|| "down".to_string(), |d| format!("down {}", fmt::dur(d)));
            Line::styled(s, ctx.t.s(Ui::Down))
        }
        (Role::Replica, None) => Line::styled("?", ctx.t.s(Ui::Muted)),
        _ => Line::default(),
    }
}

/// Lag text and style, shared with the detail pane.
pub(crate) fn lag_text(t: &Theme, n: &NodeView) -> Option<(String, Style)> {
    if n.role != Role::Replica {
        return None;
    }
    let style = match n.lag_level {
        LagLevel::Ok => t.s(Ui::LagOk),
        LagLevel::Warn => t.s(Ui::LagWarn),
        LagLevel::Critical => t.s(Ui::LagCritical),
        LagLevel::Unknown => t.s(Ui::Muted),
    };
    let bytes = n.lag_bytes.map_or_else(|| "?".to_string(), fmt::bytes);
    // Lag in seconds is estimated from the primary's offsets at each poll: under one second
    // with bytes outstanding it is "<1s", not a false zero.
    let secs = match (n.lag_seconds, n.lag_bytes) {
        (None, _) => "?".to_string(),
        (Some(s), Some(b)) if b > 0 && s < 1.0 => "<1s".to_string(),
        (Some(s), _) => fmt::lag_secs(s),
    };
    Some((
        format!("{bytes} {secs}{}", fmt::lag_mark(n.lag_level)),
        style,
    ))
}

fn c_lag(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    lag_text(ctx.t, n).map_or_else(Line::default, |(s, st)| Line::styled(s, st))
}

/// Lag bytes (replicas) or bytes written per second (primaries) per poll, with its time:
/// `None` for a missed poll, `NaN` for a poll that gave no figure (lag on another replid).
pub(crate) fn trend(history: &History, n: &NodeView) -> Vec<(SystemTime, Option<f64>)> {
    let Some(id) = n.id else { return Vec::new() };
    #[allow(clippy::cast_precision_loss)]
    if role_of(n).0 == Role::Replica {
        history
            .points(id)
            .map(|p| {
                let v = p
                    .sample
                    .as_ref()
                    .map(|s| s.lag_bytes.map_or(f64::NAN, |b| b as f64));
                (p.at, v)
            })
            .collect()
    } else {
        // A rate needs two samples: the first is skipped, and across a gap the rate is the
        // average since the last good sample (the gap itself stays a gap).
        let mut prev: Option<(SystemTime, u64)> = None;
        let mut out = Vec::new();
        for p in history.points(id) {
            let cur = p.sample.as_ref().and_then(|s| s.offset).map(|o| (p.at, o));
            match (prev, cur) {
                (Some((t0, o0)), Some((t1, o1))) => {
                    let dt = t1
                        .duration_since(t0)
                        .unwrap_or(Duration::ZERO)
                        .as_secs_f64();
                    let v = if dt > 0.0 {
                        o1.saturating_sub(o0) as f64 / dt
                    } else {
                        f64::NAN
                    };
                    out.push((p.at, Some(v)));
                }
                (Some(_), None) => out.push((p.at, p.sample.as_ref().map(|_| f64::NAN))),
                (None, _) => {}
            }
            if cur.is_some() {
                prev = cur;
            }
        }
        out
    }
}

fn c_spark(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    let values: Vec<Option<f64>> = trend(ctx.history, n).into_iter().map(|(_, v)| v).collect();
    if values.is_empty() {
        return Line::default();
    }
    // Lag under 1 KiB, or writes under 1 KiB/s, stay flat.
    let s = fmt::sparkline(&values, ctx.spark_width, 1024.0);
    let spans: Vec<Span<'static>> = s
        .chars()
        .map(|c| {
            let role = if c == fmt::GAP {
                Ui::Gap
            } else {
                Ui::ChartBytes
            };
            Span::styled(c.to_string(), ctx.t.s(role))
        })
        .collect();
    Line::from(spans)
}

fn c_offset(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    Line::styled(
        n.offset.map(|o| o.to_string()).unwrap_or_default(),
        stale(ctx, n, Ui::Text),
    )
}

fn c_io(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    let io = n
        .info
        .as_ref()
        .filter(|_| n.role == Role::Replica)
        .and_then(|i| i.replication.last_io_seconds_ago)
        .map(|s| fmt::secs(u64::try_from(s).unwrap_or(0)));
    Line::styled(io.unwrap_or_default(), stale(ctx, n, Ui::Text))
}

/// Full-sync or loading progress, shared with the detail pane.
pub(crate) fn progress(n: &NodeView) -> Option<Progress> {
    let info = n.info.as_ref()?;
    let p = &info.persistence;
    if p.loading || p.async_loading {
        return Some(Progress::Load(p.loading_perc));
    }
    let r = &info.replication;
    if r.sync_in_progress || n.sync_in_progress {
        let perc = r
            .sync_perc
            .or_else(|| match (r.sync_read_bytes, r.sync_total_bytes) {
                #[allow(clippy::cast_precision_loss)]
                (Some(read), Some(total)) if total > 0 => Some(read as f64 * 100.0 / total as f64),
                _ => None,
            });
        return Some(Progress::Sync(perc));
    }
    None
}

/// A node's dataset being loaded or its full sync running, with the percentage when known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Progress {
    Load(Option<f64>),
    Sync(Option<f64>),
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Load(None) => write!(f, "loading"),
            Self::Load(Some(x)) => write!(f, "load {x:.0}%"),
            Self::Sync(None) => write!(f, "sync"),
            Self::Sync(Some(x)) => write!(f, "sync {x:.0}%"),
        }
    }
}

/// Last BGSAVE result and age (from `rdb_last_save_time`), shared with the detail pane.
pub(crate) fn bgsave(t: &Theme, now: SystemTime, n: &NodeView) -> Option<(String, Style)> {
    let p = &n.info.as_ref()?.persistence;
    if p.bgsave_in_progress {
        return Some(("saving".into(), t.s(Ui::Info)));
    }
    let age = p
        .last_save_time
        .map(|s| crate::timefmt::age_of_unix(now, s))
        .unwrap_or_default();
    match p.last_bgsave_ok {
        Some(true) => Some((format!("ok {age}"), t.s(Ui::Up))),
        Some(false) => Some((format!("ERR {age}"), t.s(Ui::Danger))),
        None => None,
    }
}

fn c_bgsave(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    bgsave(ctx.t, ctx.now, n).map_or_else(Line::default, |(s, st)| {
        Line::styled(s, if n.stale_info { ctx.t.s(Ui::Muted) } else { st })
    })
}

/// A figure read from the node's INFO, dimmed when that INFO is the last known one.
fn info_cell(
    ctx: &Ctx<'_>,
    n: &NodeView,
    figure: impl Fn(&crate::info::Info) -> Option<String>,
) -> Line<'static> {
    let text = n.info.as_deref().and_then(figure).unwrap_or_default();
    Line::styled(text, stale(ctx, n, Ui::Text))
}

fn c_mem(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    info_cell(ctx, n, |i| i.memory.used_memory.map(fmt::bytes))
}

fn c_keys(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    info_cell(ctx, n, |i| Some(fmt::count(i.total_keys())))
}

fn c_clients(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    info_cell(ctx, n, |i| i.clients.connected.map(fmt::count))
}

fn c_ops(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    info_cell(ctx, n, |i| {
        i.stats.instantaneous_ops_per_sec.map(fmt::count)
    })
}

fn c_uptime(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    info_cell(ctx, n, |i| i.server.uptime_seconds.map(fmt::secs))
}

fn c_version(ctx: &Ctx<'_>, n: &NodeView) -> Line<'static> {
    let v = n
        .version
        .clone()
        .or_else(|| n.info.as_ref().and_then(|i| i.server.version.clone()));
    Line::styled(v.unwrap_or_default(), ctx.t.s(Ui::Muted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_drop_by_priority_and_keep_order() {
        let cols = fit(columns(12, 15, false), 78);
        let titles: Vec<&str> = cols.iter().map(|c| c.title).collect();
        assert_eq!(titles[0], "NAME");
        assert!(titles.contains(&"STATE") && titles.contains(&"LAG"));
        assert!(!titles.contains(&"VERSION"));
        let all = fit(columns(12, 15, false), 200);
        assert_eq!(all.len(), COLS);
        let trend = |cols: &[Col]| cols.iter().find(|c| c.title == "TREND").map(|c| c.width);
        // 115 columns are taken exactly by the columns that fit; 3 more widen the trend.
        assert_eq!(trend(&fit(columns(12, 15, false), 115)), Some(SPARK_WIDTH));
        assert_eq!(
            trend(&fit(columns(12, 15, false), 118)),
            Some(SPARK_WIDTH + 3)
        );
        assert_eq!(trend(&all), Some(SPARK_WIDTH + (200 - 157)));
        assert_eq!(trend(&fit(columns(12, 15, false), 400)), Some(SPARK_MAX));
    }

    #[test]
    fn guide_lines_follow_the_rows_shown() {
        // m1, r1, r3 (under r1), r2: all shown, then r3 alone (a filter).
        assert_eq!(tree_prefixes(&[0, 1, 2, 1]), ["", "├─", "│ └─", "└─"]);
        assert_eq!(tree_prefixes(&[2]), ["  └─"]);
        assert_eq!(tree_prefixes(&[1, 2]), ["└─", "  └─"]);
    }
}
