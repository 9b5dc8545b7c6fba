//! Anomalies, detected structurally from one cycle's node views (never from "link up" alone),
//! each explained in plain words for a tired operator.

use std::fmt::Write as _;
use std::time::SystemTime;

use super::build::{children, descendants};
use super::{Anomaly, AnomalyKind, LagLevel, Link, NodeView, Role, Severity};
use crate::cluster::ClusterView;
use crate::config::Group;
use crate::observe::NodeState;

/// All anomalies of a group, worst first.
/// For a cluster group, `cluster` is its view (`None` when no node answered one): several
/// primaries are shards there, and the cluster's own anomalies replace the primary checks.
#[must_use]
pub fn detect(
    group: &Group,
    nodes: &[NodeView],
    cluster: Option<&ClusterView>,
    now: SystemTime,
) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for n in nodes.iter().filter(|n| !n.unmanaged) {
        node_health(n, now, &mut out);
        replica_link(n, nodes, &mut out);
        persistence(n, &mut out);
    }
    if is_cluster(group, nodes) {
        if let Some(view) = cluster {
            crate::cluster::anomaly::detect(view, nodes, &mut out);
        }
    } else {
        primaries(nodes, &mut out);
    }
    loops(nodes, &mut out);
    unmanaged(nodes, &mut out);
    sort(&mut out);
    out
}

/// Worst first, then by kind.
pub(super) fn sort(out: &mut [Anomaly]) {
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.kind.cmp(&b.kind)));
}

fn push(
    out: &mut Vec<Anomaly>,
    kind: AnomalyKind,
    severity: Severity,
    nodes: &[&str],
    msg: String,
) {
    out.push(Anomaly {
        kind,
        severity,
        nodes: nodes.iter().map(|s| (*s).to_string()).collect(),
        message: msg,
    });
}

fn last_answered(now: SystemTime, t: Option<SystemTime>) -> String {
    match t {
        Some(t) => format!(
            "last answered {} ago",
            human_secs(now.duration_since(t).unwrap_or_default().as_secs_f64())
        ),
        None => "no answer since redops started".to_string(),
    }
}

/// An age in the one format the console and the CLI use (`45s`, `1m30s`, `2h05m`): see
/// [`crate::timefmt::secs`].
#[must_use]
pub fn human_secs(s: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    crate::timefmt::secs(s.max(0.0) as u64)
}

/// `812 B`, `3.2 KB`, `14.0 MB`.
#[must_use]
pub fn human_bytes(b: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = b as f64;
    if b < 1024 {
        format!("{b} B")
    } else if f < 1024.0 * 1024.0 {
        format!("{:.1} KB", f / 1024.0)
    } else if f < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MB", f / 1_048_576.0)
    } else {
        format!("{:.1} GB", f / 1_073_741_824.0)
    }
}

fn last_role_words(n: &NodeView) -> String {
    let Some(info) = &n.info else {
        return String::new();
    };
    let r = &info.replication;
    match (r.role, r.offset, r.replica_offset) {
        (Some(crate::info::InfoRole::Primary), Some(o), _) => {
            format!("; it was the primary, last offset {o}")
        }
        (Some(crate::info::InfoRole::Replica), _, Some(o)) => {
            format!("; it was a replica, last applied offset {o}")
        }
        _ => String::new(),
    }
}

fn node_health(n: &NodeView, now: SystemTime, out: &mut Vec<Anomaly>) {
    let name = n.name.as_str();
    let was_primary = n
        .info
        .as_ref()
        .is_some_and(|i| i.replication.role == Some(crate::info::InfoRole::Primary));
    let err = n
        .error
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    match n.state {
        NodeState::Down => push(
            out,
            AnomalyKind::NodeDown,
            if was_primary {
                Severity::Critical
            } else {
                Severity::Warning
            },
            &[name],
            // What it was comes first: a banner cut to one line still says it.
            format!(
                "{name} is down{}; {} ({}: {err})",
                last_role_words(n),
                last_answered(now, n.last_ok),
                n.addr,
            ),
        ),
        NodeState::Unresponsive => push(
            out,
            AnomalyKind::NodeUnresponsive,
            if was_primary {
                Severity::Critical
            } else {
                Severity::Warning
            },
            &[name],
            format!(
                "{name} does not answer{}; {}; it accepts connections ({}: {err}): frozen, \
                 swapping or black-holed",
                last_role_words(n),
                last_answered(now, n.last_ok),
                n.addr,
            ),
        ),
        NodeState::Loading => {
            let perc = n
                .info
                .as_ref()
                .and_then(|i| i.persistence.loading_perc)
                .map(|p| format!(" ({p:.0}% done)"))
                .unwrap_or_default();
            push(
                out,
                AnomalyKind::NodeError,
                Severity::Warning,
                &[name],
                format!("{name} is loading its dataset{perc}: it answers INFO but not reads"),
            );
        }
        NodeState::AuthError
        | NodeState::NoPerm
        | NodeState::TlsError
        | NodeState::Busy
        | NodeState::Stale
        | NodeState::Error => {
            let hint = match n.state {
                NodeState::AuthError => ": check the username and password for this node",
                NodeState::NoPerm => ": the ACL user needs +info (and +client|setname)",
                NodeState::TlsError => ": check tls and ca_file for this node",
                NodeState::Busy => {
                    ": a script is running; only SCRIPT KILL or SHUTDOWN NOSAVE work"
                }
                _ => "",
            };
            push(
                out,
                AnomalyKind::NodeError,
                Severity::Warning,
                &[name],
                format!("{name} ({}) cannot be read: {err}{hint}", n.addr),
            );
        }
        NodeState::Unknown | NodeState::Up => {}
    }
}

fn replica_link(n: &NodeView, nodes: &[NodeView], out: &mut Vec<Anomaly>) {
    if n.role != Role::Replica || n.stale_info {
        return;
    }
    let name = n.name.as_str();
    let up_name = n.upstream.as_ref().map_or_else(
        || "its primary".to_string(),
        |u| u.index.map_or(u.addr.clone(), |j| nodes[j].name.clone()),
    );
    if let Some(u) = &n.upstream {
        if u.index.is_none() {
            push(
                out,
                AnomalyKind::UnknownPrimary,
                Severity::Warning,
                &[name],
                format!(
                    "{name} replicates from {}, which is not a node of this group",
                    u.addr
                ),
            );
        }
    }
    if n.sync_in_progress {
        let read = n
            .info
            .as_ref()
            .and_then(|i| i.replication.sync_read_bytes)
            .and_then(|b| u64::try_from(b).ok())
            .map(|b| format!(", {} received so far", human_bytes(b)))
            .unwrap_or_default();
        push(
            out,
            AnomalyKind::FullSync,
            Severity::Warning,
            &[name],
            format!(
                "{name} is receiving a full sync from {up_name}{read}: its old data is being \
                 replaced; keep it out of promotions until it finishes"
            ),
        );
    } else if let Some(Link::Down { since }) = n.link {
        let msg = match since {
            Some(d) => format!(
                "{name}'s replication link to {up_name} has been down for {}",
                human_secs(d.as_secs_f64())
            ),
            None => format!(
                "{name}'s replication link to {up_name} has never come up since it was pointed \
                 there: check that {up_name} is reachable from {name}, and masterauth/masteruser/TLS"
            ),
        };
        push(out, AnomalyKind::LinkDown, Severity::Warning, &[name], msg);
    }
    out.extend(lag_high(n));
}

/// `lag_high` for a replica whose lag level is warn or critical.
pub(super) fn lag_high(n: &NodeView) -> Option<Anomaly> {
    let (Some(bytes), LagLevel::Warn | LagLevel::Critical) = (n.lag_bytes, n.lag_level) else {
        return None;
    };
    let name = n.name.as_str();
    let secs = n
        .lag_seconds
        .map(|s| format!(" (about {})", crate::timefmt::lag(s)))
        .unwrap_or_default();
    Some(Anomaly {
        kind: AnomalyKind::LagHigh,
        severity: if n.lag_level == LagLevel::Critical {
            Severity::Critical
        } else {
            Severity::Warning
        },
        nodes: vec![name.to_string()],
        message: format!("{name} is {} behind its primary{secs}", human_bytes(bytes)),
    })
}

fn persistence(n: &NodeView, out: &mut Vec<Anomaly>) {
    if n.stale_info || !n.state.is_reachable() {
        return;
    }
    let Some(info) = &n.info else { return };
    let name = n.name.as_str();
    let p = &info.persistence;
    if p.last_bgsave_ok == Some(false) {
        push(
            out,
            AnomalyKind::BgsaveFailed,
            Severity::Critical,
            &[name],
            format!(
                "the last BGSAVE on {name} failed: with save points set and \
                 stop-writes-on-bgsave-error yes (the default) it refuses writes with MISCONF \
                 until a save succeeds; check its log and disk"
            ),
        );
    }
    if p.aof_last_write_ok == Some(false) {
        push(
            out,
            AnomalyKind::BgsaveFailed,
            Severity::Critical,
            &[name],
            format!("{name} cannot write its AOF: it refuses writes with MISCONF; check its disk"),
        );
    }
    if n.role == Role::Primary && p.save_config.as_deref() == Some("") && !p.aof_enabled {
        let replicas = info.replication.connected_replicas;
        push(
            out,
            AnomalyKind::NoPersistence,
            Severity::Warning,
            &[name],
            format!(
                "{name} is a primary with no persistence (no save points, no AOF): if it \
                 restarts it comes back empty{}",
                if replicas > 0 {
                    format!(
                        " and its {} will copy the empty dataset",
                        crate::words::count(replicas, "replica")
                    )
                } else {
                    String::new()
                }
            ),
        );
    }
    if let Some(state) = info
        .replication
        .failover_state
        .as_deref()
        .filter(|s| *s != "no-failover")
    {
        push(
            out,
            AnomalyKind::FailoverInProgress,
            Severity::Warning,
            &[name],
            format!(
                "{name} is in a FAILOVER ({state}): writes to it are paused or refused until it \
                 completes or is aborted (FAILOVER ABORT)"
            ),
        );
    }
}

/// Indices of the nodes that are primaries this cycle, each server once.
fn current_primaries(nodes: &[NodeView]) -> Vec<usize> {
    (0..nodes.len())
        .filter(|&i| {
            let n = &nodes[i];
            n.role == Role::Primary && !n.unmanaged && !n.stale_info && n.same_server_as.is_none()
        })
        .collect()
}

/// A group of Redis Cluster nodes (`cluster = true`, or a node in cluster mode).
pub(super) fn is_cluster(group: &Group, nodes: &[NodeView]) -> bool {
    group.cluster
        || nodes.iter().any(|n| {
            n.info
                .as_ref()
                .and_then(|i| i.server.mode.as_deref())
                .is_some_and(|m| m == "cluster")
        })
}

/// A replication id that names a history: the all-zero id means "none" (a fresh server's
/// `master_replid2`), never a history two nodes share.
fn history_id(id: Option<&String>) -> Option<&str> {
    id.map(String::as_str)
        .filter(|s| !s.is_empty() && s.bytes().any(|b| b != b'0'))
}

/// `no_primary` when nodes answer and none is a primary; true when there is no primary.
fn no_primary(nodes: &[NodeView], prim: &[usize], out: &mut Vec<Anomaly>) -> bool {
    if !prim.is_empty() {
        return false;
    }
    if nodes.iter().any(|n| !n.unmanaged && n.state.is_reachable()) {
        push(
            out,
            AnomalyKind::NoPrimary,
            Severity::Critical,
            &[],
            "no reachable node is a primary: writes have nowhere to go".to_string(),
        );
    }
    true
}

fn primaries(nodes: &[NodeView], out: &mut Vec<Anomaly>) {
    let prim = current_primaries(nodes);
    if no_primary(nodes, &prim, out) || prim.len() < 2 {
        return;
    }
    // Replicas hanging (directly or through a chain) below each primary.
    let children = children(nodes);
    let subtree_size = |p: usize| descendants(p, &children);
    // The main primary: most replicas below it, then the highest offset.
    let main = prim
        .iter()
        .copied()
        .max_by_key(|&i| (subtree_size(i), nodes[i].offset.unwrap_or(0)))
        .unwrap_or(prim[0]);
    let names: Vec<&str> = prim.iter().map(|&i| nodes[i].name.as_str()).collect();
    let mut msg = format!(
        "{} nodes are primaries at once ({}): each accepts writes, and writes to one are missing \
         from the other",
        prim.len(),
        names.join(", ")
    );
    let m = &nodes[main];
    let repl = |i: usize| nodes[i].info.as_ref().map(|x| &x.replication);
    for &x in prim.iter().filter(|&&x| x != main) {
        let (Some(mr), Some(xr)) = (repl(main), repl(x)) else {
            continue;
        };
        let n = &nodes[x];
        if xr.replid2.is_some() && xr.replid2 == mr.replid {
            let fork = xr.second_offset.map_or(0, |s| s - 1);
            let _ = write!(
                msg,
                "; {} was promoted from {}'s history at offset {fork}",
                n.name, m.name
            );
        } else if mr.replid2.is_some() && mr.replid2 == xr.replid {
            let fork = mr.second_offset.map_or(0, |s| s - 1);
            let _ = write!(
                msg,
                "; {} was promoted from {}'s history at offset {fork}",
                m.name, n.name
            );
            if let (Some(xo), true) = (xr.offset, fork > 0) {
                let fork = u64::try_from(fork).unwrap_or(0);
                if xo > fork {
                    let _ = write!(
                        msg,
                        "; {} holds {} of writes {} never saw",
                        n.name,
                        human_bytes(xo - fork),
                        m.name
                    );
                }
            }
        }
        // A restarted old primary: it came back on a new history branched off one `m` knows
        // (a restarting primary takes a new replid and keeps the old one as replid2, REDIS.md
        // 2.1), has no replicas, is behind. A primary still on the history `m` was promoted
        // from never restarted: it is an old primary not demoted yet (the split brain below
        // says so), not one that came back with old data.
        let x_from = history_id(xr.replid2.as_ref());
        let shares_history = x_from.is_some()
            && (x_from == history_id(mr.replid2.as_ref())
                || x_from == history_id(mr.replid.as_ref()));
        let restarted_recently = n
            .info
            .as_ref()
            .and_then(|i| i.server.uptime_seconds)
            .is_some_and(|u| u < 3600);
        if subtree_size(x) == 0
            && shares_history
            && restarted_recently
            && xr.offset.unwrap_or(0) < mr.offset.unwrap_or(0)
        {
            push(
                out,
                AnomalyKind::StalePrimary,
                Severity::Critical,
                &[n.name.as_str(), m.name.as_str()],
                format!(
                    "{} came back as a primary with old data (offset {} against {} on {}): \
                     clients that reach it read stale data and their writes will be lost; \
                     rejoin it as a replica of {} (its snapshot is downloaded first)",
                    n.name,
                    xr.offset.unwrap_or(0),
                    mr.offset.unwrap_or(0),
                    m.name,
                    m.name
                ),
            );
        }
    }
    push(
        out,
        AnomalyKind::SplitBrain,
        Severity::Critical,
        &names,
        msg,
    );
}

fn loops(nodes: &[NodeView], out: &mut Vec<Anomaly>) {
    let mut reported: Vec<Vec<usize>> = Vec::new();
    for start in 0..nodes.len() {
        let mut path = vec![start];
        let mut cur = start;
        for _ in 0..nodes.len() {
            let Some(next) = nodes[cur].upstream.as_ref().and_then(|u| u.index) else {
                break;
            };
            if let Some(pos) = path.iter().position(|&p| p == next) {
                let mut cycle: Vec<usize> = path[pos..].to_vec();
                cycle.sort_unstable();
                if !reported.contains(&cycle) {
                    let chain: Vec<&str> = path[pos..]
                        .iter()
                        .chain(std::iter::once(&next))
                        .map(|&i| nodes[i].name.as_str())
                        .collect();
                    let names: Vec<&str> = cycle.iter().map(|&i| nodes[i].name.as_str()).collect();
                    let msg = if let [only] = names.as_slice() {
                        format!(
                            "{only} replicates from itself (REPLICAOF its own address): it \
                             accepts no writes and its link never comes up; point it at the \
                             primary or promote it (REPLICAOF NO ONE)"
                        )
                    } else {
                        format!(
                            "replication loop {}: none of these nodes accepts writes, even if \
                             their links show up; promote one of them (REPLICAOF NO ONE)",
                            chain.join(" -> ")
                        )
                    };
                    push(
                        out,
                        AnomalyKind::ReplicationLoop,
                        Severity::Critical,
                        &names,
                        msg,
                    );
                    reported.push(cycle);
                }
                break;
            }
            path.push(next);
            cur = next;
        }
    }
}

fn unmanaged(nodes: &[NodeView], out: &mut Vec<Anomaly>) {
    for n in nodes.iter().filter(|n| n.unmanaged) {
        let up = n
            .upstream
            .as_ref()
            .and_then(|u| u.index)
            .map_or("a primary", |j| nodes[j].name.as_str());
        push(
            out,
            AnomalyKind::UnmanagedReplica,
            Severity::Info,
            &[n.name.as_str()],
            format!(
                "{up} has a replica at {} that is not configured here (or announces another \
                 address)",
                n.addr
            ),
        );
    }
}

/// `same_server`: one server answered (same `run_id`) under several configured entries, given
/// as (group, node) in config order; `here` is the group the anomaly is raised in.
pub(super) fn same_server(members: &[(&str, &str)], here: &str, run_id: &str) -> Anomaly {
    let one_group = members.iter().all(|(g, _)| *g == here);
    let words: Vec<String> = members
        .iter()
        .map(|(g, n)| {
            if one_group {
                (*n).to_string()
            } else {
                format!("{n} (group {g})")
            }
        })
        .collect();
    let listed = match words.as_slice() {
        [a, b] => format!("{a} and {b}"),
        _ => words.join(", "),
    };
    let short: String = run_id.chars().take(8).collect();
    Anomaly {
        kind: AnomalyKind::SameServer,
        severity: Severity::Critical,
        nodes: members
            .iter()
            .filter(|(g, _)| *g == here)
            .map(|(_, n)| (*n).to_string())
            .collect(),
        message: format!(
            "{listed} are the same server (run_id {short}…): remove one from the config; until \
             then no action but a snapshot is taken on this group"
        ),
    }
}
