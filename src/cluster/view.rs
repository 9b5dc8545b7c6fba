//! The one picture of a cluster redops draws from every node's own report: shards (a primary,
//! its slot ranges, its replicas), `cluster_state` and slot counts, and what the nodes do not
//! agree on. Pure: the group's node views (each with the `CLUSTER` replies of its last poll)
//! in, a [`ClusterView`] out.
//!
//! The slot map shown is the one of the *source*: the node answering with the highest
//! `cluster_current_epoch` (the most recent configuration it has seen), the first such in
//! tree order. Every other node's map is compared with it.

use std::collections::BTreeMap;

pub mod misplaced;
pub use misplaced::Misplaced;

use super::nodes::{self, ClusterNode, Flags, SlotRange, SLOTS};
use super::NodeReport;
use crate::topology::NodeView;

/// A cluster as redops shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterView {
    /// The node whose map is shown.
    pub source: String,
    /// `cluster_state` on the source (`None`: it did not say).
    pub state_ok: Option<bool>,
    /// Every answering node's `cluster_state`, by name.
    pub states: Vec<(String, Option<bool>)>,
    pub slots_assigned: Option<u32>,
    pub slots_ok: Option<u32>,
    pub slots_pfail: Option<u32>,
    pub slots_fail: Option<u32>,
    pub known_nodes: Option<u32>,
    pub current_epoch: Option<u64>,
    /// By first slot; primaries without slots last.
    pub shards: Vec<Shard>,
    /// Slots no primary serves, in the source's map.
    pub uncovered: Vec<SlotRange>,
    /// Slots left migrating or importing, as the node moving them reports.
    pub open_slots: Vec<OpenSlot>,
    /// Nodes whose map differs from the source's.
    pub disagreements: Vec<Disagreement>,
    /// Two nodes that each claim, as primaries, the same slots (split brain inside a shard).
    pub overlaps: Vec<Overlap>,
    /// Replicas the nodes place in different shards.
    pub misplaced: Vec<Misplaced>,
    /// Nodes that answered `INFO` but whose cluster view could not be read: (name, why).
    pub unread: Vec<(String, String)>,
    /// Lines of a `CLUSTER NODES` reply that did not read: (name, line number, why).
    pub bad_lines: Vec<(String, usize, String)>,
}

/// One primary with its slots and replicas.
#[derive(Debug, Clone, PartialEq)]
pub struct Shard {
    pub primary: ShardNode,
    pub replicas: Vec<ShardNode>,
    pub slots: Vec<SlotRange>,
    pub slot_count: u32,
}

impl Shard {
    /// Replicas that could take over: not failed, not suspected, answering when polled.
    #[must_use]
    pub fn healthy_replicas(&self) -> usize {
        self.replicas.iter().filter(|r| r.is_healthy()).count()
    }
}

/// A node of a shard, as the source sees it and as redops polled it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardNode {
    pub id: String,
    /// The configured (or discovered) name; the address when the group does not hold it.
    pub name: String,
    pub addr: String,
    pub flags: Flags,
    pub config_epoch: u64,
    /// The source's cluster-bus link to it.
    pub connected: bool,
    /// Part of the group (polled by redops).
    pub polled: bool,
    /// Answered redops's last poll.
    pub reachable: bool,
    pub keys: Option<u64>,
    /// For a replica: bytes behind its primary (the replica's own offset, as everywhere).
    pub lag_bytes: Option<u64>,
}

impl ShardNode {
    /// Not failed or suspected by the cluster, and answering when redops polls it.
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        !self.flags.is_unhealthy() && (!self.polled || self.reachable)
    }
}

/// A slot being moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSlot {
    /// The node reporting it (the one moving the slot).
    pub node: String,
    pub slot: u16,
    /// True: migrating out to `peer`; false: importing from `peer`.
    pub migrating: bool,
    pub peer: String,
}

/// How one node's map differs from the source's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    pub node: String,
    /// Slots it gives another owner than the source does.
    pub slots: u32,
    /// One of them, with both owners (source's, this node's).
    pub example: Option<(u16, String, String)>,
    /// Nodes whose config epoch it sees differently: (node, source's epoch, its epoch).
    pub epochs: Vec<(String, u64, u64)>,
}

/// Two primaries claiming the same slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    pub a: String,
    pub b: String,
    pub ranges: Vec<SlotRange>,
}

/// A fresh report of a node redops reached this cycle.
fn report(v: &NodeView) -> Option<&NodeReport> {
    if v.stale_info || !v.state.is_reachable() {
        return None;
    }
    v.info.as_ref()?.cluster.as_deref()
}

/// How operator text names a cluster node: the group's name for it, else its address.
struct Names<'a> {
    nodes: &'a [NodeView],
    /// Node id -> index into `nodes`, from each node's own line.
    by_id: BTreeMap<&'a str, usize>,
}

impl<'a> Names<'a> {
    fn new(nodes: &'a [NodeView]) -> Self {
        let by_id = nodes
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((report(v)?.nodes.myself()?.id.as_str(), i)))
            .collect();
        Self { nodes, by_id }
    }

    fn view(&self, n: &ClusterNode) -> Option<&'a NodeView> {
        let addr = n.addr();
        self.by_id
            .get(n.id.as_str())
            .map(|&i| &self.nodes[i])
            .or_else(|| self.nodes.iter().find(|v| v.addr == addr && !v.unmanaged))
    }

    fn name(&self, n: &ClusterNode) -> String {
        self.view(n).map_or_else(|| n.addr(), |v| v.name.clone())
    }

    fn name_of_id(&self, map: &nodes::NodesReply, id: &str) -> String {
        map.by_id(id)
            .map_or_else(|| id.chars().take(8).collect(), |n| self.name(n))
    }
}

/// The view of a cluster group; `None` when no node of it answered with a cluster report.
#[must_use]
pub fn build(nodes: &[NodeView]) -> Option<ClusterView> {
    let names = Names::new(nodes);
    let mut out = ClusterView::default();
    for v in nodes {
        let Some(r) = report(v) else { continue };
        if let Some(e) = &r.error {
            out.unread.push((v.name.clone(), e.clone()));
            continue;
        }
        out.states.push((v.name.clone(), r.info.state_ok));
        for (line, why) in &r.nodes.bad_lines {
            out.bad_lines.push((v.name.clone(), *line, why.clone()));
        }
    }
    let source = nodes
        .iter()
        .filter_map(|v| Some((v, report(v).filter(|r| r.error.is_none())?)))
        .filter(|(_, r)| r.nodes.myself().is_some())
        .fold(None::<(&NodeView, &NodeReport)>, |best, cur| match best {
            Some(b) if b.1.info.current_epoch >= cur.1.info.current_epoch => Some(b),
            _ => Some(cur),
        });
    let Some((src_view, src)) = source else {
        return (!out.unread.is_empty()).then_some(out);
    };
    out.source.clone_from(&src_view.name);
    out.state_ok = src.info.state_ok;
    out.slots_assigned = src.info.slots_assigned;
    out.slots_ok = src.info.slots_ok;
    out.slots_pfail = src.info.slots_pfail;
    out.slots_fail = src.info.slots_fail;
    out.known_nodes = src.info.known_nodes;
    out.current_epoch = src.info.current_epoch;
    out.shards = shards(&names, src);
    let owners = owner_map(&src.nodes);
    out.uncovered = nodes::ranges((0..SLOTS).filter(|&s| owners[usize::from(s)].is_none()));
    for v in nodes {
        let Some(r) = report(v).filter(|r| r.error.is_none()) else {
            continue;
        };
        open_slots(&names, v, r, &mut out.open_slots);
        if std::ptr::eq(r, src) {
            continue;
        }
        if let Some(d) = disagreement(&names, v, src, &owners, r) {
            out.disagreements.push(d);
        }
    }
    out.overlaps = overlaps(nodes);
    out.misplaced = misplaced::find(&names, nodes, src);
    Some(out)
}

fn shard_node(names: &Names<'_>, n: &ClusterNode) -> ShardNode {
    let v = names.view(n);
    ShardNode {
        id: n.id.clone(),
        name: names.name(n),
        addr: n.addr(),
        flags: n.flags,
        config_epoch: n.config_epoch,
        connected: n.connected || n.flags.myself,
        polled: v.is_some(),
        reachable: v.is_some_and(|v| v.state.is_reachable()),
        keys: v.and_then(|v| v.info.as_ref()).map(|i| i.total_keys()),
        lag_bytes: v.and_then(|v| v.lag_bytes),
    }
}

fn shards(names: &Names<'_>, src: &NodeReport) -> Vec<Shard> {
    let mut out: Vec<Shard> = src
        .nodes
        .nodes
        .iter()
        .filter(|n| n.flags.primary)
        .map(|p| Shard {
            primary: shard_node(names, p),
            replicas: src
                .nodes
                .nodes
                .iter()
                .filter(|r| r.primary_id.as_deref() == Some(p.id.as_str()))
                .map(|r| shard_node(names, r))
                .collect(),
            slots: p.slots.clone(),
            slot_count: p.slot_count(),
        })
        .collect();
    out.sort_by_key(|s| s.slots.first().map_or(u32::MAX, |r| u32::from(r.start)));
    out
}

/// Slot -> owner id, in one node's map.
fn owner_map(map: &nodes::NodesReply) -> Vec<Option<&str>> {
    let mut owners = vec![None; usize::from(SLOTS)];
    for n in map.nodes.iter().filter(|n| n.flags.primary) {
        for r in &n.slots {
            for s in r.start..=r.end {
                owners[usize::from(s)] = Some(n.id.as_str());
            }
        }
    }
    owners
}

fn open_slots(names: &Names<'_>, v: &NodeView, r: &NodeReport, out: &mut Vec<OpenSlot>) {
    let Some(me) = r.nodes.myself() else { return };
    let mut push = |o: &nodes::OpenSlot, migrating: bool| {
        out.push(OpenSlot {
            node: v.name.clone(),
            slot: o.slot,
            migrating,
            peer: names.name_of_id(&r.nodes, &o.peer),
        });
    };
    for o in &me.migrating {
        push(o, true);
    }
    for o in &me.importing {
        push(o, false);
    }
}

fn disagreement(
    names: &Names<'_>,
    v: &NodeView,
    src: &NodeReport,
    owners: &[Option<&str>],
    r: &NodeReport,
) -> Option<Disagreement> {
    let theirs = owner_map(&r.nodes);
    let mut slots = 0u32;
    let mut example = None;
    for (s, (a, b)) in owners.iter().zip(&theirs).enumerate() {
        if a != b {
            slots += 1;
            if example.is_none() {
                let name = |id: Option<&str>| {
                    id.map_or_else(
                        || "nobody".to_string(),
                        |id| names.name_of_id(&src.nodes, id),
                    )
                };
                example = Some((u16::try_from(s).unwrap_or(0), name(*a), name(*b)));
            }
        }
    }
    let epochs: Vec<(String, u64, u64)> = src
        .nodes
        .nodes
        .iter()
        .filter_map(|n| {
            let theirs = r.nodes.by_id(&n.id)?;
            (theirs.config_epoch != n.config_epoch)
                .then(|| (names.name(n), n.config_epoch, theirs.config_epoch))
        })
        .collect();
    (slots > 0 || !epochs.is_empty()).then(|| Disagreement {
        node: v.name.clone(),
        slots,
        example,
        epochs,
    })
}

/// Slots two primaries each claim on their own line: both serve writes for them.
fn overlaps(nodes: &[NodeView]) -> Vec<Overlap> {
    let claims: Vec<(&str, &ClusterNode)> = nodes
        .iter()
        .filter_map(|v| {
            let me = report(v)?.nodes.myself()?;
            (me.flags.primary && !me.slots.is_empty()).then_some((v.name.as_str(), me))
        })
        .collect();
    let mut out = Vec::new();
    for (i, (a, ma)) in claims.iter().enumerate() {
        for (b, mb) in &claims[i + 1..] {
            if ma.id == mb.id {
                continue;
            }
            let ranges: Vec<SlotRange> = ma
                .slots
                .iter()
                .flat_map(|ra| {
                    mb.slots.iter().filter_map(move |rb| {
                        let (start, end) = (ra.start.max(rb.start), ra.end.min(rb.end));
                        (start <= end).then_some(SlotRange { start, end })
                    })
                })
                .collect();
            if !ranges.is_empty() {
                out.push(Overlap {
                    a: (*a).to_string(),
                    b: (*b).to_string(),
                    ranges,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
