//! Building one cycle's topology: node views, edges matched from both sides, tree order, lag.
//!
//! Edges come from the replica's side (`master_host:master_port`, authoritative); a primary's
//! `slaveN` lines only add replicas we were not told about. Lag in bytes compares a replica's
//! own applied offset with its root primary's offset, on the same replid only (REDIS.md 1.5).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use super::{anomaly, GroupTopology, LagLevel, Link, NodeView, Role, Topology, Upstream};
use crate::config::{Config, Group, LagThresholds};
use crate::history::History;
use crate::info::InfoRole;
use crate::observe::{FleetState, NodeId, NodeState};

/// Builds the topology from the latest observations. Pure: same inputs, same output.
#[must_use]
pub fn build(config: &Config, fleet: &FleetState, history: &History, now: SystemTime) -> Topology {
    let mut groups: Vec<GroupTopology> = config
        .groups
        .iter()
        .enumerate()
        .map(|(gi, g)| build_group(gi, g, fleet, history, now))
        .collect();
    same_servers(&mut groups);
    Topology {
        at: Some(now),
        groups,
    }
}

fn build_group(
    gi: usize,
    group: &Group,
    fleet: &FleetState,
    history: &History,
    now: SystemTime,
) -> GroupTopology {
    let mut nodes: Vec<NodeView> = group
        .nodes
        .iter()
        .enumerate()
        .map(|(ni, cfg)| {
            let id = NodeId {
                group: gi,
                node: ni,
            };
            let mut v = NodeView::new(Some(id), &cfg.name, &cfg.addr.to_string());
            if let Some(status) = fleet.get(id) {
                fill_from_status(&mut v, status);
            }
            v
        })
        .collect();

    let canonical = mark_same_servers(&mut nodes);

    // Replica -> upstream edges, matched against the configured addresses, then to the first
    // entry of that server. A node that follows itself (`REPLICAOF` its own address, which
    // Redis accepts and retries forever) gets an edge to itself: a loop of one.
    for i in 0..nodes.len() {
        if nodes[i].same_server_as.is_some() {
            continue;
        }
        let Some(info) = current_info(&nodes[i]) else {
            continue;
        };
        let r = &info.replication;
        if r.role != Some(InfoRole::Replica) {
            continue;
        }
        let (Some(host), Some(port)) = (r.master_host.clone(), r.master_port) else {
            continue;
        };
        let index = match_addr(group, &nodes, &host, port).map(|j| canonical[j]);
        let addr = index.map_or_else(|| join_host_port(&host, port), |j| nodes[j].addr.clone());
        nodes[i].upstream = Some(Upstream { addr, index });
    }

    add_unmanaged(group, &mut nodes);

    // Lag needs the root primary of each replica.
    for i in 0..nodes.len() {
        compute_lag(i, &mut nodes, history, &group.lag, now);
    }

    let order = tree_order(&nodes);
    let mut remap = vec![0usize; nodes.len()];
    for (new, &(old, _)) in order.iter().enumerate() {
        remap[old] = new;
    }
    // Every index appears once in `order`: move each view instead of cloning it.
    let mut slots: Vec<Option<NodeView>> = nodes.into_iter().map(Some).collect();
    let mut ordered: Vec<NodeView> = order
        .iter()
        .filter_map(|&(old, depth)| {
            let mut v = slots.get_mut(old)?.take()?;
            v.depth = depth;
            if let Some(u) = &mut v.upstream {
                u.index = u.index.map(|j| remap[j]);
            }
            Some(v)
        })
        .collect();
    ordered.shrink_to_fit();

    let cluster = if anomaly::is_cluster(group, &ordered) {
        crate::cluster::view::build(&ordered).map(std::sync::Arc::new)
    } else {
        None
    };
    let anomalies = anomaly::detect(group, &ordered, cluster.as_deref(), now);
    GroupTopology {
        index: gi,
        name: group.name.clone(),
        nodes: ordered,
        anomalies,
        sentinel: None,
        cluster,
    }
}

fn fill_from_status(v: &mut NodeView, status: &crate::observe::NodeStatus) {
    v.state = status.state();
    v.error = status.error().cloned();
    v.rtt = status.latest.as_ref().map(|o| o.rtt);
    v.last_ok = status.last_good.as_ref().map(|o| o.at);
    if let Some(info) = status.info() {
        v.info = Some(info.clone());
        v.stale_info = false;
        let r = &info.replication;
        v.role = match r.role {
            Some(InfoRole::Primary) => Role::Primary,
            Some(InfoRole::Replica) => Role::Replica,
            None => Role::Unknown,
        };
        v.offset = match r.role {
            Some(InfoRole::Replica) => r.replica_offset,
            _ => r.offset,
        };
        v.replid.clone_from(&r.replid);
        v.version.clone_from(&info.server.version);
        if v.role == Role::Replica {
            v.sync_in_progress = r.sync_in_progress;
            v.link = Some(match r.link_up {
                Some(true) => Link::Up,
                _ => Link::Down {
                    since: r
                        .link_down_since_seconds
                        .and_then(|s| u64::try_from(s).ok())
                        .map(Duration::from_secs),
                },
            });
        }
        if v.role == Role::Primary {
            v.lag_level = LagLevel::Ok;
            v.lag_hold_level = LagLevel::Ok;
        }
    } else if let Some(info) = status.last_info() {
        // Keep the last known facts (offsets matter for a lossless promotion) but say so.
        v.info = Some(info.clone());
        v.stale_info = true;
        v.version.clone_from(&info.server.version);
        v.replid.clone_from(&info.replication.replid);
        v.offset = match info.replication.role {
            Some(InfoRole::Replica) => info.replication.replica_offset,
            _ => info.replication.offset,
        };
    }
}

/// The `run_id` a node answered with this cycle.
fn run_id(v: &NodeView) -> Option<&str> {
    current_info(v)?
        .server
        .run_id
        .as_deref()
        .filter(|id| !id.is_empty())
}

/// Marks each entry that answered with the `run_id` of an earlier entry of the group (the
/// same server under another address) and returns, for every node, the index of the first
/// entry of its server (itself when it has no twin).
fn mark_same_servers(nodes: &mut [NodeView]) -> Vec<usize> {
    let ids: Vec<Option<String>> = nodes
        .iter()
        .map(|v| run_id(v).map(str::to_string))
        .collect();
    let mut canonical: Vec<usize> = (0..nodes.len()).collect();
    for i in 0..nodes.len() {
        let Some(id) = &ids[i] else { continue };
        if let Some(first) = (0..i).find(|&j| ids[j].as_ref() == Some(id)) {
            canonical[i] = first;
            nodes[i].same_server_as = Some(nodes[first].name.clone());
        }
    }
    canonical
}

/// Raises `same_server` in every group holding a server that answered under two configured
/// entries (in one group or in two): its picture is wrong (a false split brain, a blind loop
/// guard) until the config names each server once.
fn same_servers(groups: &mut [GroupTopology]) {
    let mut by_id: std::collections::BTreeMap<String, Vec<(usize, usize, String)>> =
        std::collections::BTreeMap::new();
    for g in groups.iter() {
        for n in g.nodes.iter().filter(|n| !n.unmanaged) {
            if let (Some(id), Some(nid)) = (run_id(n), n.id) {
                by_id
                    .entry(id.to_string())
                    .or_default()
                    .push((g.index, nid.node, n.name.clone()));
            }
        }
    }
    for (id, mut entries) in by_id.into_iter().filter(|(_, e)| e.len() > 1) {
        entries.sort();
        let members: Vec<(&str, &str)> = entries
            .iter()
            .map(|(gi, _, name)| (groups[*gi].name.as_str(), name.as_str()))
            .collect();
        let mut raised: Vec<(usize, super::Anomaly)> = Vec::new();
        for gi in entries.iter().map(|e| e.0) {
            if raised.iter().all(|(g, _)| *g != gi) {
                raised.push((gi, anomaly::same_server(&members, &groups[gi].name, &id)));
            }
        }
        for (gi, a) in raised {
            let g = &mut groups[gi];
            g.anomalies.push(a);
            anomaly::sort(&mut g.anomalies);
        }
    }
}

/// The INFO of a node when it is current (not a stale copy).
fn current_info(v: &NodeView) -> Option<&std::sync::Arc<crate::info::Info>> {
    if v.stale_info || !v.state.is_reachable() {
        return None;
    }
    v.info.as_ref()
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn is_loopback_host(h: &str) -> bool {
    h == "localhost" || h == "::1" || h.starts_with("127.")
}

fn same_host(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || (is_loopback_host(a) && is_loopback_host(b))
}

/// Finds the node a `host:port` (as a replica or primary reports it) refers to: the exact
/// configured address, then a loopback alias, then a node whose own `tcp_port` is `port` on an
/// equivalent host.
fn match_addr(group: &Group, nodes: &[NodeView], host: &str, port: u16) -> Option<usize> {
    let by_config = group
        .nodes
        .iter()
        .position(|n| n.addr.port == port && same_host(&n.addr.host, host));
    by_config.or_else(|| {
        let hits: Vec<usize> = nodes
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.unmanaged)
            .filter(|(_, v)| {
                v.info
                    .as_ref()
                    .and_then(|i| i.server.tcp_port)
                    .is_some_and(|p| p == port)
            })
            .filter(|(j, _)| {
                group
                    .nodes
                    .get(*j)
                    .is_some_and(|n| same_host(&n.addr.host, host))
            })
            .map(|(j, _)| j)
            .collect();
        (hits.len() == 1).then(|| hits[0])
    })
}

/// Adds replicas that a primary lists in `slaveN` but that no configured node accounts for.
fn add_unmanaged(group: &Group, nodes: &mut Vec<NodeView>) {
    let configured = nodes.len();
    for m in 0..configured {
        // A second entry of one server lists the same replicas as the first.
        if nodes[m].same_server_as.is_some() {
            continue;
        }
        let Some(info) = current_info(&nodes[m]).cloned() else {
            continue;
        };
        // Valkey dual-channel sync lists one replica twice; the rdb channel is not a replica.
        for line in info
            .replication
            .replicas
            .iter()
            .filter(|l| l.kind.as_deref() != Some("rdb-channel"))
            // An RDB download (SYNC without REPLCONF listening-port) is listed with port 0.
            .filter(|l| l.port != 0)
        {
            let port_suffix = format!(":{}", line.port);
            let known = nodes[..configured].iter().enumerate().any(|(j, v)| {
                let points_here = v.upstream.as_ref().and_then(|u| u.index) == Some(m);
                let port_matches = v
                    .info
                    .as_ref()
                    .and_then(|i| i.server.tcp_port)
                    .is_some_and(|p| p == line.port)
                    || v.addr.ends_with(&port_suffix);
                let same_addr = group
                    .nodes
                    .get(j)
                    .is_some_and(|n| n.addr.port == line.port && same_host(&n.addr.host, &line.ip));
                (points_here && port_matches) || (j != m && same_addr)
            });
            if known {
                continue;
            }
            let addr = join_host_port(&line.ip, line.port);
            let mut v = NodeView::new(None, &addr, &addr);
            v.unmanaged = true;
            v.role = Role::Replica;
            v.state = NodeState::Unknown;
            v.offset = line.offset;
            v.sync_in_progress = line.state != "online";
            v.upstream = Some(Upstream {
                addr: nodes[m].addr.clone(),
                index: Some(m),
            });
            nodes.push(v);
        }
    }
}

/// Follows upstream links to the root; `None` on a loop or a missing upstream.
fn root_of(i: usize, nodes: &[NodeView]) -> Option<usize> {
    let mut cur = i;
    for _ in 0..=nodes.len() {
        match nodes[cur].upstream.as_ref() {
            None => return Some(cur),
            Some(u) => cur = u.index?,
        }
    }
    None
}

fn compute_lag(
    i: usize,
    nodes: &mut [NodeView],
    history: &History,
    limits: &LagThresholds,
    now: SystemTime,
) {
    if nodes[i].role != Role::Replica || nodes[i].unmanaged {
        return;
    }
    let Some(root) = root_of(i, nodes).filter(|&r| r != i) else {
        return;
    };
    let (Some(r_info), Some(p_info)) = (current_info(&nodes[i]), current_info(&nodes[root])) else {
        return;
    };
    let (r, p) = (&r_info.replication, &p_info.replication);
    let usable = r.link_up == Some(true)
        && p.role == Some(InfoRole::Primary)
        && r.replid.is_some()
        && r.replid == p.replid;
    let (Some(r_off), Some(p_off)) = (r.replica_offset, p.offset) else {
        return;
    };
    if !usable {
        return;
    }
    let bytes = p_off.saturating_sub(r_off);
    let seconds = match (nodes[root].id, p.replid.as_deref()) {
        (Some(pid), Some(replid)) if bytes > 0 => history.lag_seconds(pid, replid, r_off, now),
        _ => Some(0.0),
    };
    nodes[i].lag_bytes = Some(bytes);
    nodes[i].lag_seconds = seconds;
    nodes[i].lag_level = lag_level(bytes, seconds, limits);
    nodes[i].lag_hold_level = lag_level(bytes, seconds, &super::lag_hold::clear_limits(limits));
}

/// The worse of the byte level and the seconds level.
#[must_use]
pub fn lag_level(bytes: u64, seconds: Option<f64>, t: &LagThresholds) -> LagLevel {
    let by_bytes = if bytes >= t.crit_bytes {
        LagLevel::Critical
    } else if bytes >= t.warn_bytes {
        LagLevel::Warn
    } else {
        LagLevel::Ok
    };
    let by_secs = match seconds {
        Some(s) if s >= t.crit_seconds => LagLevel::Critical,
        Some(s) if s >= t.warn_seconds => LagLevel::Warn,
        _ => LagLevel::Ok,
    };
    by_bytes.max(by_secs)
}

/// Depth-first order: primaries first (then other roots), each followed by its replicas.
/// Nodes caught in a loop are reached from the loop's lowest index so none is lost.
fn tree_order(nodes: &[NodeView]) -> Vec<(usize, usize)> {
    let children = children(nodes);
    let rank = |i: usize| -> u8 {
        let has_children = !children[i].is_empty();
        match (nodes[i].role, has_children) {
            (Role::Primary, _) => 0,
            (Role::Unknown, true) => 1,
            (_, true) => 2,
            _ => 3,
        }
    };
    let mut roots: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].upstream.as_ref().and_then(|u| u.index).is_none())
        .collect();
    // Among primaries, the one with most replicas below it leads (the real one in a split).
    roots.sort_by_cached_key(|&i| (rank(i), std::cmp::Reverse(descendants(i, &children)), i));
    let mut out = Vec::with_capacity(nodes.len());
    let mut seen = vec![false; nodes.len()];
    let visit = |start: usize, out: &mut Vec<(usize, usize)>, seen: &mut [bool]| {
        let mut stack = vec![(start, 0usize)];
        while let Some((i, d)) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            out.push((i, d));
            for &c in children[i].iter().rev() {
                stack.push((c, d + 1));
            }
        }
    };
    for r in roots {
        visit(r, &mut out, &mut seen);
    }
    for i in 0..nodes.len() {
        if !seen[i] {
            visit(i, &mut out, &mut seen);
        }
    }
    out
}

/// For each node, the nodes whose upstream it is (itself excluded), configured ones first,
/// then by index. Computed once per group: every walk of the tree uses it.
pub(super) fn children(nodes: &[NodeView]) -> Vec<Vec<usize>> {
    let mut children = vec![Vec::new(); nodes.len()];
    for (j, v) in nodes.iter().enumerate() {
        if let Some(p) = v.upstream.as_ref().and_then(|u| u.index) {
            if p != j {
                if let Some(c) = children.get_mut(p) {
                    c.push(j);
                }
            }
        }
    }
    for c in &mut children {
        c.sort_by_key(|&j| (nodes[j].unmanaged, j));
    }
    children
}

/// Number of nodes below `i` (directly or through a chain), each counted once.
pub(super) fn descendants(i: usize, children: &[Vec<usize>]) -> usize {
    let mut n = 0;
    let mut frontier = vec![i];
    let mut seen = BTreeSet::from([i]);
    while let Some(x) = frontier.pop() {
        for &c in children.get(x).into_iter().flatten() {
            if seen.insert(c) {
                n += 1;
                frontier.push(c);
            }
        }
    }
    n
}
