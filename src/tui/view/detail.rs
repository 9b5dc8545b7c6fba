//! The detail pane of the selected node: every replication and persistence field that matters,
//! poll latency, and time charts over the history window. A replica charts its lag in bytes
//! and seconds; a primary charts bytes written per second and poll latency. Missed polls are
//! gaps in the line (never a false zero) and are counted in the chart title.

use std::time::{Duration, SystemTime};

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use crate::history::History;
use crate::topology::{GroupTopology, Link, NodeView, Role};

use super::super::app::{App, Pane};
use super::super::fmt;
use super::super::theme::{Theme, Ui};
use super::tree;

/// Draws the pane.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let node = app.selected_node();
    let title = match node {
        Some(n) => Line::from(vec![
            Span::styled(format!(" {} ", n.name), t.s(Ui::Title)),
            Span::styled(
                if n.addr == n.name {
                    String::new()
                } else {
                    format!("{} ", n.addr)
                },
                t.s(Ui::Muted),
            ),
            Span::styled(hint(app), t.s(Ui::Muted)),
        ]),
        None => Line::from(Span::styled(" detail ", t.s(Ui::Title))),
    };
    let block = super::pane(app, title, app.focus == Pane::Detail);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(n) = node else {
        frame.render_widget(
            Paragraph::new("select a node with ↑/↓").style(t.s(Ui::Muted)),
            inner,
        );
        return;
    };
    let lines = fields(t, app.now, n, app.shown_group());
    let (fields_w, charts_area) = split(inner, &lines);
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|l| super::fit_line(l, usize::from(fields_w)))
        .collect();
    let left = Rect {
        width: fields_w,
        ..inner
    };
    frame.render_widget(
        Paragraph::new(lines)
            .style(t.s(Ui::Text))
            .scroll((app.detail_scroll, 0)),
        left,
    );
    if let Some(right) = charts_area {
        charts(t, app.now, app.shown_history(), n, frame, right);
    }
}

/// Narrowest the field list gets beside the charts (a key and a short value).
const FIELDS_MIN: u16 = 38;
/// Narrowest chart worth drawing (axis labels take up to six columns of it).
const CHART_MIN: u16 = 22;
/// Blank columns between the field list and the charts, so an axis label never reads as part
/// of a value.
const GAP: u16 = 2;

/// The field list's width and the charts' area: the fields as wide as their longest line
/// when the charts still get [`CHART_MIN`], else narrower (values cut with `…`), and no
/// charts when even [`FIELDS_MIN`] leaves them too little room.
fn split(inner: Rect, lines: &[Line]) -> (u16, Option<Rect>) {
    let natural = lines
        .iter()
        .map(Line::width)
        .max()
        .map_or(FIELDS_MIN, |w| u16::try_from(w).unwrap_or(u16::MAX));
    let room = inner.width.saturating_sub(GAP + CHART_MIN);
    if room < FIELDS_MIN || inner.height < 4 {
        return (inner.width, None);
    }
    let fields_w = natural.clamp(FIELDS_MIN, room);
    let x = inner.x + fields_w + GAP;
    let charts = Rect {
        x,
        width: inner.right().saturating_sub(x),
        ..inner
    };
    (fields_w, Some(charts))
}

fn hint(app: &App) -> String {
    if app.size.0 < super::WIDE {
        "(Tab: events) ".into()
    } else {
        String::new()
    }
}

fn kv(t: &Theme, k: &str, v: String, style: Style) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{k:<13}"), t.s(Ui::Muted)),
        Span::styled(v, style),
    ])
}

fn section(t: &Theme, name: &str) -> Line<'static> {
    Line::styled(format!("─ {name}"), t.s(Ui::Title))
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// The name of the group's node at `addr`, when the console knows it.
fn name_at<'a>(group: Option<&'a GroupTopology>, addr: &str) -> Option<&'a str> {
    group
        .and_then(|g| g.nodes.iter().find(|m| m.addr == addr))
        .map(|m| m.name.as_str())
}

/// The field list of a node.
#[allow(clippy::too_many_lines)] // one line per field, in the order drawn.
fn fields(
    t: &Theme,
    now: SystemTime,
    n: &NodeView,
    group: Option<&GroupTopology>,
) -> Vec<Line<'static>> {
    let text = t.s(Ui::Text);
    let mut out = Vec::new();
    let (sym, word) = fmt::state(n.state);
    out.push(kv(
        t,
        "state",
        format!("{sym} {word}"),
        t.s(tree::state_role(n.state)),
    ));
    if let Some(e) = &n.error {
        out.push(kv(t, "error", e.to_string(), t.s(Ui::Danger)));
    }
    let poll = match (n.rtt, n.last_ok) {
        (Some(r), Some(ok)) => format!("{} · ok {} ago", fmt::latency(r), fmt::age(now, ok)),
        (Some(r), None) => format!("{} · never ok", fmt::latency(r)),
        _ => "not polled yet".into(),
    };
    out.push(kv(t, "poll", poll, text));
    if n.stale_info {
        out.push(Line::styled(
            "figures below are the last known (node not answering)",
            t.s(Ui::Warning),
        ));
    }
    if let Some(c) = group.and_then(|g| g.cluster.as_deref()) {
        out.push(section(t, "cluster"));
        for (k, v, ui) in super::cluster::detail_fields(c, n) {
            out.push(kv(t, k, v, t.s(ui)));
        }
    }
    out.push(section(t, "replication"));
    out.push(kv(t, "role", n.role.as_str().into(), text));
    if let Some(u) = &n.upstream {
        let up = name_at(group, &u.addr)
            .map_or_else(|| u.addr.clone(), |name| format!("{name} ({})", u.addr));
        out.push(kv(t, "upstream", up, text));
    }
    if let Some(l) = n.link {
        let (s, st) = match l {
            Link::Up => ("up".to_string(), t.s(Ui::Up)),
            Link::Down { since: Some(d) } => (format!("down for {}", fmt::dur(d)), t.s(Ui::Down)),
            Link::Down { since: None } => ("down (never up)".to_string(), t.s(Ui::Down)),
        };
        out.push(kv(t, "link", s, st));
    }
    if let Some((s, st)) = tree::lag_text(t, n) {
        out.push(kv(t, "lag", s, st));
    }
    if let Some(p) = tree::progress(n) {
        out.push(kv(t, "progress", p.to_string(), t.s(Ui::Warning)));
    }
    if let Some(o) = n.offset {
        out.push(kv(t, "offset", o.to_string(), text));
    }
    if let Some(info) = &n.info {
        let r = &info.replication;
        if let Some(x) = r.replica_read_offset {
            out.push(kv(t, "read offset", x.to_string(), text));
        }
        if let Some(x) = r.last_io_seconds_ago {
            let ago = fmt::secs(u64::try_from(x).unwrap_or(0));
            out.push(kv(t, "last io", format!("{ago} ago"), text));
        }
        if let Some(id) = &r.replid {
            out.push(kv(t, "replid", id.clone(), text));
        }
        if let (Some(id2), Some(off2)) = (&r.replid2, r.second_offset) {
            if off2 >= 0 {
                // The offset first: a cut line keeps it, the id is seldom read whole.
                out.push(kv(t, "replid2", format!("until {off2}: {id2}"), text));
            }
        }
        if r.role == Some(crate::info::InfoRole::Primary) || r.connected_replicas > 0 {
            out.push(kv(t, "replicas", r.connected_replicas.to_string(), text));
            for l in &r.replicas {
                let addr = format!("{}:{}", l.ip, l.port);
                // `lag=` of the primary's replica line: seconds since the replica's last ACK.
                let lag = l
                    .lag
                    .map(|x| format!(" · ack {} ago", fmt::secs(u64::try_from(x).unwrap_or(0))))
                    .unwrap_or_default();
                out.push(kv(
                    t,
                    "",
                    format!(
                        "{} {}{lag}",
                        name_at(group, &addr).unwrap_or(&addr),
                        l.state
                    ),
                    text,
                ));
            }
        }
        if let Some(p) = r.priority {
            out.push(kv(t, "priority", p.to_string(), text));
        }
        if let Some(ro) = r.read_only {
            out.push(kv(t, "read-only", yes(ro), text));
        }
        if let (Some(size), Some(hist)) = (r.backlog_size, r.backlog_histlen) {
            out.push(kv(
                t,
                "backlog",
                // Redis 7 shares the backlog with the replicas' output buffers: what a replica
                // still reads stays, so the history can outgrow the configured size.
                if hist > size {
                    format!(
                        "{}, over its {} (replica buffers)",
                        fmt::bytes(hist),
                        fmt::bytes(size)
                    )
                } else {
                    format!("{} of {}", fmt::bytes(hist), fmt::bytes(size))
                },
                text,
            ));
        }
        if let Some(f) = r.failover_state.as_deref().filter(|f| *f != "no-failover") {
            out.push(kv(t, "failover", f.to_string(), t.s(Ui::Warning)));
        }
        let s = &info.stats;
        if let (Some(full), Some(ok), Some(err)) =
            (s.sync_full, s.sync_partial_ok, s.sync_partial_err)
        {
            out.push(kv(
                t,
                "syncs",
                format!("full {full} · partial ok {ok} err {err}"),
                text,
            ));
        }
        out.push(section(t, "persistence"));
        let p = &info.persistence;
        if let Some((s, st)) = tree::bgsave(t, now, n) {
            out.push(kv(t, "last bgsave", s, st));
        }
        if let Some(c) = p.changes_since_last_save {
            out.push(kv(t, "unsaved", format!("{c} changes"), text));
        }
        let aof = if p.aof_enabled {
            let w = match p.aof_last_write_ok {
                Some(false) => " · last write FAILED",
                _ => "",
            };
            let rw = if p.aof_rewrite_in_progress {
                " · rewriting"
            } else {
                ""
            };
            format!("on{w}{rw}")
        } else {
            "off".to_string()
        };
        out.push(kv(t, "aof", aof, text));
        if p.loading {
            let eta = p
                .loading_eta_seconds
                .map(|e| format!(" eta {}", fmt::secs(u64::try_from(e).unwrap_or(0))))
                .unwrap_or_default();
            let perc = p
                .loading_perc
                .map(|x| format!("{x:.0}%"))
                .unwrap_or_default();
            out.push(kv(t, "loading", format!("{perc}{eta}"), t.s(Ui::Warning)));
        }
        out.push(section(t, "server"));
        let sv = &info.server;
        let product = match sv.product {
            crate::info::Product::Redis => "redis",
            crate::info::Product::Valkey => "valkey",
        };
        out.push(kv(
            t,
            "version",
            format!("{product} {}", sv.version.clone().unwrap_or_default()),
            text,
        ));
        if let Some(u) = sv.uptime_seconds {
            out.push(kv(t, "uptime", fmt::secs(u), text));
        }
        if let Some(pid) = sv.process_id {
            out.push(kv(t, "pid", pid.to_string(), text));
        }
        let m = &info.memory;
        if let Some(used) = m.used_memory {
            let max = match m.maxmemory {
                Some(x) if x > 0 => format!(" / max {}", fmt::bytes(x)),
                _ => String::new(),
            };
            let pol = m
                .maxmemory_policy
                .as_ref()
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            out.push(kv(
                t,
                "memory",
                format!("{}{max}{pol}", fmt::bytes(used)),
                text,
            ));
        }
        out.push(kv(t, "keys", info.total_keys().to_string(), text));
        if let Some(c) = info.clients.connected {
            out.push(kv(t, "clients", c.to_string(), text));
        }
        if let Some(ops) = s.instantaneous_ops_per_sec {
            out.push(kv(t, "ops/s", ops.to_string(), text));
        }
    }
    out
}

/// Contiguous runs of samples: a gap ends a run, so the line is broken there.
fn segments(points: &[(f64, Option<f64>)]) -> (Vec<Vec<(f64, f64)>>, usize) {
    let mut segs = vec![Vec::new()];
    let mut gaps = 0;
    for (x, y) in points {
        match y {
            Some(y) if !y.is_nan() => segs.last_mut().map_or((), |s| s.push((*x, *y))),
            _ => {
                gaps += usize::from(y.is_none());
                if segs.last().is_some_and(|s| !s.is_empty()) {
                    segs.push(Vec::new());
                }
            }
        }
    }
    segs.retain(|s| !s.is_empty());
    (segs, gaps)
}

/// A chart's points: x (seconds before now) and a value, `None` for a missed poll.
type Series = Vec<(f64, Option<f64>)>;
/// Formats a value for a chart label.
type Label = fn(f64) -> String;

fn charts(t: &Theme, now: SystemTime, h: &History, n: &NodeView, frame: &mut Frame, area: Rect) {
    let Some(id) = n.id else { return };
    let x = |at: SystemTime| -> f64 {
        -(now
            .duration_since(at)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64())
    };
    #[allow(clippy::cast_precision_loss)]
    let (first, second): (Series, Series) = if n.role == Role::Replica {
        (
            h.points(id)
                .map(|p| {
                    (
                        x(p.at),
                        // A poll that worked but gave no lag (no primary to compare with,
                        // another replid) has no figure; only a failed poll is a gap.
                        p.sample
                            .as_ref()
                            .map(|s| s.lag_bytes.map_or(f64::NAN, |b| b as f64)),
                    )
                })
                .collect(),
            h.points(id)
                .map(|p| {
                    let v = p.sample.as_ref().map(|s| s.lag_seconds.unwrap_or(f64::NAN));
                    (x(p.at), v)
                })
                .collect(),
        )
    } else {
        (
            tree::trend(h, n)
                .into_iter()
                .map(|(at, v)| (x(at), v))
                .collect(),
            h.points(id)
                .map(|p| (x(p.at), p.sample.as_ref().map(|s| s.rtt_ms)))
                .collect(),
        )
    };
    let (t1, t2, f1, f2): (&str, &str, Label, Label) = if n.role == Role::Replica {
        ("lag bytes", "lag seconds", fmt_bytes, fmt_secs)
    } else {
        ("repl stream B/s", "poll ms", fmt_rate, fmt_ms)
    };
    let xmin = h.points(id).next().map_or(-60.0, |p| x(p.at)).min(-10.0);
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    chart(t, frame, top, (t1, xmin), &first, Ui::ChartBytes, f1);
    chart(t, frame, bottom, (t2, xmin), &second, Ui::ChartSeconds, f2);
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn fmt_bytes(v: f64) -> String {
    fmt::bytes(v as u64)
}
fn fmt_secs(v: f64) -> String {
    fmt::lag_secs(v)
}
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn fmt_rate(v: f64) -> String {
    format!("{}/s", fmt::bytes(v as u64))
}
fn fmt_ms(v: f64) -> String {
    format!("{v:.1}ms")
}

fn chart(
    t: &Theme,
    frame: &mut Frame,
    area: Rect,
    (name, xmin): (&str, f64),
    points: &[(f64, Option<f64>)],
    role: Ui,
    label: Label,
) {
    let (segs, gaps) = segments(points);
    let ymax = segs
        .iter()
        .flatten()
        .fold(0.0f64, |m, p| m.max(p.1))
        .max(1.0)
        * 1.1;
    let last = points
        .last()
        .and_then(|p| p.1)
        .filter(|v| !v.is_nan())
        .map_or_else(|| "no figure".to_string(), label);
    let mut title = vec![
        Span::styled(format!("{name} "), t.s(Ui::Title)),
        Span::styled(last, t.s(role)),
    ];
    if gaps > 0 {
        title.push(Span::styled(format!(" ×{gaps} missed"), t.s(Ui::Gap)));
    }
    let datasets: Vec<Dataset> = segs
        .iter()
        .map(|s| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(if s.len() == 1 {
                    GraphType::Scatter
                } else {
                    GraphType::Line
                })
                .style(t.s(role))
                .data(s)
        })
        .collect();
    let span = fmt::dur(Duration::from_secs_f64(-xmin));
    let chart = Chart::new(datasets)
        .style(t.s(Ui::Text))
        .x_axis(
            Axis::default()
                .bounds([xmin, 0.0])
                .labels([format!("-{span}"), "now".to_string()])
                .style(t.s(Ui::Muted)),
        )
        .y_axis(
            // Right-aligned, against the axis: a label is never read as the end of a field.
            Axis::default()
                .bounds([0.0, ymax])
                .labels(["0".to_string(), label(ymax / 1.1)])
                .labels_alignment(ratatui::layout::Alignment::Right)
                .style(t.s(Ui::Muted)),
        );
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        Paragraph::new(super::fit_line(Line::from(title), usize::from(head.width))),
        head,
    );
    frame.render_widget(chart, body);
}

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn gaps_split_the_line() {
        let pts = [
            (-3.0, Some(1.0)),
            (-2.0, None),
            (-1.0, Some(2.0)),
            (0.0, Some(3.0)),
        ];
        let (segs, gaps) = segments(&pts);
        assert_eq!(gaps, 1);
        assert_eq!(segs, vec![vec![(-3.0, 1.0)], vec![(-1.0, 2.0), (0.0, 3.0)]]);
    }
}
