//! `redops status`: poll every node once, print the topology as a tree table (or one JSON
//! object), exit 0 when healthy and 1 when any warning or critical anomaly is found.
//!
//! The poll goes through the core's one-shot [`Monitor`] (the reading as taken, nothing held
//! back). With a memory file it is judged against what redops last saw of each node. The
//! memory file's reading and writing and the backup lookup live here, shared with `watch`.

mod cluster;
mod sentinel;

use std::path::Path;
use std::time::SystemTime;

use clap::Args;
use serde_json::{json, Value};

use super::output::{self, Paint};
use super::{TargetArgs, EXIT_OK, EXIT_PROBLEM};
use crate::config::Config;
use crate::history::loss_file;
use crate::monitor::{Lookup, Monitor};
use crate::observe::NodeState;
use crate::sanitize::visible;
use crate::topology::data_loss::{LossState, SnapshotQuery};
use crate::topology::{self, human_bytes, LagLevel, Link, NodeView, Severity, Topology};

/// `redops status` options.
#[derive(Debug, Clone, Default, Args)]
pub struct StatusArgs {
    /// One JSON object on stdout (schema in the README).
    #[arg(long)]
    pub json: bool,
}

/// Polls once and builds the topology.
pub async fn snapshot(config: &Config) -> Topology {
    poll(config, None).await
}

/// Polls once and builds the topology; with `memory` (the memory file), judges the poll
/// against what redops last saw of each node (a primary that restarted with less data since,
/// even unwitnessed, is a critical anomaly until acknowledged in the console) and updates it.
pub async fn poll(config: &Config, memory: Option<&Path>) -> Topology {
    let mut monitor = Monitor::one_shot(config, SystemTime::now());
    let (observed, sentinels) = tokio::join!(
        crate::poller::poll_once(config),
        crate::sentinel::poll::poll_config(config)
    );
    for r in sentinels {
        monitor.observe_sentinel(r);
    }
    if let Some(path) = memory {
        monitor.remember(load_memory(path));
    }
    for obs in observed {
        monitor.observe(obs);
    }
    let up = monitor.cycle(SystemTime::now(), find_backup(config));
    if let (Some(path), Some(state)) = (memory, up.save) {
        if let Err(e) = loss_file::save(path, &state) {
            output::note(&format!("the data-loss memory is not kept: {e}"));
        }
    }
    monitor.into_topology()
}

/// The data-loss memory from its file; a problem reading it is reported, and the memory
/// starts empty (the next write replaces the file).
#[must_use]
pub fn load_memory(path: &Path) -> LossState {
    loss_file::load(path).unwrap_or_else(|e| {
        output::note(&e);
        LossState::default()
    })
}

/// Answers the monitor's backup lookups at once, from the backups directory.
pub fn find_backup(config: &Config) -> impl FnMut(&SnapshotQuery) -> Lookup + '_ {
    let dir = &config.console.backups_dir;
    move |q| {
        Lookup::Found(loss_file::find_snapshot(
            dir,
            &q.key.group,
            &q.nodes,
            q.before_ms,
        ))
    }
}

/// True when no anomaly of warning or critical severity is present.
#[must_use]
pub fn is_healthy(t: &Topology) -> bool {
    t.groups
        .iter()
        .flat_map(|g| &g.anomalies)
        .all(|a| a.severity == Severity::Info)
}

/// Prints the topology once.
pub async fn run(targets: &TargetArgs, args: StatusArgs) -> u8 {
    let config = match targets.resolve_or_report().await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let memory = targets.loss_memory(&config);
    let topo = poll(&config, memory.as_deref()).await;
    if args.json {
        output::json(&to_json(&config, &topo).to_string());
    } else {
        for l in render_text(&config, &topo, Paint::new(output::color_enabled())) {
            output::painted(&l);
        }
    }
    if is_healthy(&topo) {
        EXIT_OK
    } else {
        EXIT_PROBLEM
    }
}

/// RFC 3339 UTC timestamp in milliseconds, as every time in the JSON output.
#[must_use]
pub fn rfc3339(t: SystemTime) -> String {
    crate::audit::rfc3339_ms(t)
}

fn link_str(n: &NodeView) -> Option<&'static str> {
    match n.link? {
        Link::Up => Some("up"),
        Link::Down { .. } => Some("down"),
    }
}

/// The `status --json` document.
#[must_use]
pub fn to_json(config: &Config, topo: &Topology) -> Value {
    let groups: Vec<Value> = topo
        .groups
        .iter()
        .map(|g| {
            let cfg = config.groups.get(g.index);
            let nodes: Vec<Value> = g
                .nodes
                .iter()
                .map(|n| {
                    let primary = n.upstream.as_ref().map(|u| u.addr.clone());
                    json!({
                        "name": n.name,
                        "addr": n.addr,
                        "role": n.role.as_str(),
                        "state": n.state.as_str(),
                        "primary": primary,
                        "link": link_str(n),
                        "link_down_seconds": match n.link {
                            Some(Link::Down { since: Some(d) }) => Some(d.as_secs()),
                            _ => None,
                        },
                        "sync_in_progress": n.sync_in_progress,
                        "lag_bytes": n.lag_bytes,
                        "lag_seconds": n.lag_seconds.map(|s| (s * 1000.0).round() / 1000.0),
                        "offset": n.offset,
                        "replid": n.replid,
                        "version": n.version,
                        "depth": n.depth,
                        "managed": !n.unmanaged,
                        "stale": n.stale_info,
                        "rtt_ms": n.rtt.map(|d| (d.as_secs_f64() * 1e4).round() / 10.0),
                        "error": n.error.as_ref().map(ToString::to_string),
                    })
                })
                .collect();
            let anomalies: Vec<Value> = g
                .anomalies
                .iter()
                .map(|a| {
                    json!({
                        "kind": a.kind.as_str(),
                        "severity": a.severity.as_str(),
                        "nodes": a.nodes,
                        "message": a.message,
                    })
                })
                .collect();
            json!({
                "name": g.name,
                "env": cfg.and_then(|c| c.env.clone()),
                "read_only": cfg.is_some_and(|c| c.read_only),
                "nodes": nodes,
                "anomalies": anomalies,
                "sentinel": g.sentinel.as_ref().map(sentinel::to_json),
                "cluster": g.cluster.as_deref().map(cluster::to_json),
            })
        })
        .collect();
    json!({
        "at": topo.at.map(rfc3339),
        "healthy": is_healthy(topo),
        "groups": groups,
    })
}

fn state_cell(n: &NodeView, p: Paint) -> String {
    let word = n.state.as_str();
    match n.state {
        NodeState::Up => p.green(&format!("✓ {word}")),
        NodeState::Loading | NodeState::Unknown => p.yellow(&format!("… {word}")),
        NodeState::Down | NodeState::Unresponsive => p.red(&format!("✗ {word}")),
        _ => p.red(&format!("! {word}")),
    }
}

fn lag_cell(n: &NodeView, p: Paint) -> String {
    let Some(b) = n.lag_bytes else {
        return if n.role == topology::Role::Replica && !n.unmanaged {
            "?".to_string()
        } else {
            "-".to_string()
        };
    };
    let secs = n
        .lag_seconds
        .map_or_else(|| "?".to_string(), crate::timefmt::lag);
    let s = format!("{} {secs}", human_bytes(b));
    match n.lag_level {
        LagLevel::Critical => p.red(&s),
        LagLevel::Warn => p.yellow(&s),
        _ => s,
    }
}

/// Visible width of a cell (ANSI codes do not count).
fn width(s: &str) -> usize {
    let mut w = 0;
    let mut in_esc = false;
    for c in s.chars() {
        match (in_esc, c) {
            (false, '\x1b') => in_esc = true,
            (true, 'm') => in_esc = false,
            (true, _) => {}
            (false, _) => w += 1,
        }
    }
    w
}

/// The text table, one string per line.
#[must_use]
pub fn render_text(config: &Config, topo: &Topology, p: Paint) -> Vec<String> {
    let mut lines = Vec::new();
    for g in &topo.groups {
        let cfg = config.groups.get(g.index);
        let mut title = format!("group {}", p.bold(&visible(&g.name)));
        if cfg.is_some_and(crate::config::Group::is_production) {
            title.push_str(&format!("  {}", p.red("[PRODUCTION]")));
        }
        if cfg.is_some_and(|c| c.read_only) {
            title.push_str("  [read-only]");
        }
        lines.push(title);
        if let Some(view) = &g.cluster {
            lines.push(cluster::header(view, p));
        }
        let prefixes =
            topology::tree_prefixes(&g.nodes.iter().map(|n| n.depth).collect::<Vec<_>>());
        let header = [
            "NODE", "ADDRESS", "ROLE", "STATE", "LINK", "LAG", "OFFSET", "VERSION",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| p.dim(h)).collect()];
        for (n, prefix) in g.nodes.iter().zip(&prefixes) {
            let role = if n.unmanaged {
                "replica?".to_string()
            } else {
                n.role.as_str().to_string()
            };
            let link = match n.link {
                Some(Link::Up) => p.green("up"),
                Some(Link::Down { .. }) if n.sync_in_progress => p.yellow("sync"),
                Some(Link::Down { .. }) => p.red("down"),
                None => "-".to_string(),
            };
            rows.push(vec![
                format!("{prefix}{}", visible(&n.name)),
                visible(&n.addr).into_owned(),
                role,
                state_cell(n, p),
                link,
                lag_cell(n, p),
                n.offset.map_or("-".into(), |o| o.to_string()),
                n.version
                    .as_deref()
                    .map_or_else(|| "-".into(), |v| visible(v).into_owned()),
            ]);
        }
        let cols = header.len();
        let widths: Vec<usize> = (0..cols)
            .map(|c| rows.iter().map(|r| width(&r[c])).max().unwrap_or(0))
            .collect();
        for r in rows {
            let mut l = String::from("  ");
            for (c, cell) in r.iter().enumerate() {
                l.push_str(cell);
                if c + 1 < cols {
                    l.push_str(&" ".repeat(widths[c] - width(cell) + 2));
                }
            }
            lines.push(l.trim_end().to_string());
        }
        if let Some(s) = &g.sentinel {
            lines.push(format!("  {}", sentinel::text(s)));
        }
        if let Some(view) = &g.cluster {
            lines.extend(cluster::shard_lines(view, p));
        }
        if g.anomalies.is_empty() {
            lines.push(format!("  {}", p.green("healthy: no anomalies")));
        } else {
            for a in &g.anomalies {
                let tag = match a.severity {
                    Severity::Critical => p.red("CRITICAL"),
                    Severity::Warning => p.yellow("WARNING"),
                    Severity::Info => p.dim("info"),
                };
                lines.push(format!(
                    "  {tag} {}: {}",
                    a.kind.as_str(),
                    visible(&a.message)
                ));
            }
        }
        lines.push(String::new());
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}
