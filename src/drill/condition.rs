//! The typed conditions that end a drill's step, judged against the core's [`Topology`] on
//! every poll (never against words), and what is still missing when one does not hold yet
//! (the "waiting for" a front-end shows).
//!
//! A drill's sandbox is one group: conditions look at the first group of the topology. A node
//! counts only with a fresh reading (`state` up, not stale): a dead primary's last known role
//! is not a primary.

use serde::{Deserialize, Serialize};

use crate::observe::NodeState;
use crate::topology::{GroupTopology, Link, NodeView, Role, Topology};

/// A condition on the live topology (and on the writer's tally, for [`Condition::NoWritesLost`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Exactly one node of the group is a primary, and it is one of `nodes`.
    OnePrimaryAmong { nodes: Vec<String> },
    /// `node` is the group's only primary.
    PrimaryIs { node: String },
    /// Every other configured node (but `except`) replicates, directly or chained, from
    /// `primary` (the group's only primary when absent), with its link up when `link_up`.
    AllReplicateFrom {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        primary: Option<String>,
        #[serde(default = "yes")]
        link_up: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        except: Vec<String>,
    },
    /// `node` replicates directly from `primary`, with its link up when `link_up`.
    NodeIsReplicaOf {
        node: String,
        primary: String,
        #[serde(default = "yes")]
        link_up: bool,
    },
    /// `node` answers.
    NodeIsUp { node: String },
    /// `node` persists its data: save points set, or the AOF on (as it answers now).
    Persists { node: String },
    /// `node` answers and holds at least `keys` keys (all databases): data put back.
    KeysAtLeast { node: String, keys: u64 },
    /// Every acknowledged write is on the primary (as last checked by the runner).
    NoWritesLost,
    /// Every configured sentinel answers and names the group's only live primary as the
    /// master (Sentinel's configuration agrees with the data nodes).
    SentinelsNamePrimary,
    /// In a cluster: `node` answers and is the primary of the shard serving `slot`.
    ShardPrimary { slot: u16, node: String },
    /// In a cluster: `node` answers and replicates, link up, from the primary of the shard
    /// serving `slot`.
    ShardReplica { slot: u16, node: String },
    /// In a cluster: `cluster_state:ok` on every node that answers, and every slot served by
    /// a primary the cluster does not mark failed.
    ClusterOk,
    /// Every one of these.
    All(Vec<Condition>),
    /// At least one of these (two ways to the same goal).
    Any(Vec<Condition>),
}

fn yes() -> bool {
    true
}

/// The writer's figures as last checked: acknowledged writes, and how many of them the
/// group's primary does not hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WriteCheck {
    pub acknowledged: u64,
    pub lost: u64,
}

impl Condition {
    /// What is missing for the condition to hold (empty: it holds).
    #[must_use]
    pub fn unmet(&self, topology: &Topology, writes: Option<WriteCheck>) -> Vec<String> {
        let Some(group) = topology.groups.first() else {
            return vec!["no topology yet".to_string()];
        };
        let mut out = Vec::new();
        self.collect(group, writes, &mut out);
        out
    }

    /// True when it holds.
    #[must_use]
    pub fn holds(&self, topology: &Topology, writes: Option<WriteCheck>) -> bool {
        self.unmet(topology, writes).is_empty()
    }

    fn collect(&self, g: &GroupTopology, writes: Option<WriteCheck>, out: &mut Vec<String>) {
        match self {
            Self::OnePrimaryAmong { nodes } => match live_primaries(g).as_slice() {
                [p] if nodes.contains(&p.name) => {}
                [p] => out.push(format!(
                    "the primary is {}, not one of {}",
                    p.name,
                    nodes.join(", ")
                )),
                [] => out.push(format!("no primary among {}", nodes.join(", "))),
                many => out.push(format!("{} primaries ({})", many.len(), names(many))),
            },
            Self::PrimaryIs { node } => match live_primaries(g).as_slice() {
                [p] if p.name == *node => {}
                [] => out.push(format!("no primary (want {node})")),
                [p] => out.push(format!("the primary is {}, not {node}", p.name)),
                many => out.push(format!("{} primaries ({})", many.len(), names(many))),
            },
            Self::AllReplicateFrom {
                primary,
                link_up,
                except,
            } => {
                let p = match primary {
                    Some(name) => g.by_name(name),
                    None => match live_primaries(g).as_slice() {
                        [p] => Some(*p),
                        _ => None,
                    },
                };
                let Some(p) = p.filter(|p| is_live(p) && p.role == Role::Primary) else {
                    out.push(match primary {
                        Some(name) => format!("{name} is not a primary"),
                        None => "no single primary for the others to follow".to_string(),
                    });
                    return;
                };
                for n in configured(g) {
                    if n.name == p.name || except.contains(&n.name) {
                        continue;
                    }
                    if let Some(why) = not_following(g, n, p, *link_up, false) {
                        out.push(why);
                    }
                }
            }
            Self::NodeIsReplicaOf {
                node,
                primary,
                link_up,
            } => match (g.by_name(node), g.by_name(primary)) {
                (Some(n), Some(p)) => {
                    if let Some(why) = not_following(g, n, p, *link_up, true) {
                        out.push(why);
                    }
                }
                _ => out.push(format!("no node '{node}' or '{primary}'")),
            },
            Self::NodeIsUp { node } => {
                if !g.by_name(node).is_some_and(is_live) {
                    out.push(format!("{node} is not up"));
                }
            }
            Self::NoWritesLost => match writes {
                Some(w) if w.lost == 0 => {}
                Some(w) => out.push(format!(
                    "{} of {} acknowledged writes are missing",
                    w.lost, w.acknowledged
                )),
                None => out.push("the writes are not checked yet".to_string()),
            },
            Self::SentinelsNamePrimary => sentinels_name_primary(g, out),
            Self::Persists { node } | Self::KeysAtLeast { node, .. } => match g.by_name(node) {
                Some(n) if is_live(n) => self.node_holds(n, out),
                _ => out.push(format!("{node} is not up")),
            },
            Self::ShardPrimary { slot, node } => cluster::shard_primary(g, *slot, node, out),
            Self::ShardReplica { slot, node } => cluster::shard_replica(g, *slot, node, out),
            Self::ClusterOk => cluster::ok(g, out),
            Self::All(all) => {
                for c in all {
                    c.collect(g, writes, out);
                }
            }
            Self::Any(any) => {
                let mut missing = Vec::new();
                for c in any {
                    let mut one = Vec::new();
                    c.collect(g, writes, &mut one);
                    if one.is_empty() {
                        return;
                    }
                    missing.push(one.join(", "));
                }
                out.push(format!("one of: {}", missing.join(" | ")));
            }
        }
    }
}

impl Condition {
    /// What a condition on one live node's own facts misses (persistence, keys).
    fn node_holds(&self, n: &NodeView, out: &mut Vec<String>) {
        let node = &n.name;
        match self {
            Self::Persists { .. } => {
                let p = n.info.as_ref().map(|i| &i.persistence);
                let saves = p
                    .and_then(|p| p.save_config.as_deref())
                    .is_some_and(|s| !s.trim().is_empty());
                if !saves && !p.is_some_and(|p| p.aof_enabled) {
                    out.push(format!("{node} has no save points and no AOF"));
                }
            }
            Self::KeysAtLeast { keys, .. } => {
                let held = n.info.as_ref().map_or(0, |i| i.total_keys());
                if held < *keys {
                    out.push(format!("{node} holds {held} keys, fewer than {keys}"));
                }
            }
            _ => {}
        }
    }
}

/// What keeps the sentinels from naming the group's only live primary, if anything.
fn sentinels_name_primary(g: &GroupTopology, out: &mut Vec<String>) {
    let Some(s) = g.sentinel.as_ref().filter(|s| !s.rows.is_empty()) else {
        out.push("no sentinel watches the group".to_string());
        return;
    };
    let primaries = live_primaries(g);
    let [p] = primaries.as_slice() else {
        out.push("no single primary for the sentinels to name".to_string());
        return;
    };
    let primary = p.name.clone();
    for r in &s.rows {
        if !r.is_up() {
            out.push(format!("sentinel {} does not answer", r.addr));
        } else if r.master_node.as_deref() != Some(primary.as_str()) {
            let names = r
                .master_node
                .clone()
                .or_else(|| r.master.clone())
                .unwrap_or_else(|| "no master".to_string());
            out.push(format!("sentinel {} names {names}, not {primary}", r.addr));
        }
    }
}

/// A fresh reading of a node that answers.
fn is_live(n: &NodeView) -> bool {
    n.state == NodeState::Up && !n.stale_info
}

fn configured(g: &GroupTopology) -> impl Iterator<Item = &NodeView> {
    g.nodes
        .iter()
        .filter(|n| n.id.is_some() && !n.unmanaged && n.same_server_as.is_none())
}

/// The configured nodes that answer as primaries now.
#[must_use]
pub fn live_primaries(g: &GroupTopology) -> Vec<&NodeView> {
    configured(g)
        .filter(|n| is_live(n) && n.role == Role::Primary)
        .collect()
}

fn names(nodes: &[&NodeView]) -> String {
    nodes
        .iter()
        .map(|n| n.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why `n` does not follow `p` (directly when `direct`, else through any chain), if it does not.
fn not_following(
    g: &GroupTopology,
    n: &NodeView,
    p: &NodeView,
    link_up: bool,
    direct: bool,
) -> Option<String> {
    if !is_live(n) {
        return Some(format!("{} is not up", n.name));
    }
    if n.role != Role::Replica {
        return Some(format!(
            "{} is a {}, not a replica of {}",
            n.name,
            n.role.as_str(),
            p.name
        ));
    }
    let follows = if direct {
        upstream(g, n).is_some_and(|u| u.name == p.name)
    } else {
        root(g, n).is_some_and(|r| r.name == p.name)
    };
    if !follows {
        let from = n.upstream.as_ref().map_or_else(
            || "nothing known".to_string(),
            |u| upstream(g, n).map_or_else(|| u.addr.clone(), |v| v.name.clone()),
        );
        return Some(format!("{} replicates from {from}, not {}", n.name, p.name));
    }
    if link_up && (n.link != Some(Link::Up) || n.sync_in_progress) {
        return Some(format!("{}'s link to its primary is not up", n.name));
    }
    None
}

fn upstream<'a>(g: &'a GroupTopology, n: &NodeView) -> Option<&'a NodeView> {
    n.upstream.as_ref()?.index.and_then(|i| g.nodes.get(i))
}

/// The node at the top of `n`'s chain of upstreams (bounded: a loop has no root).
fn root<'a>(g: &'a GroupTopology, n: &'a NodeView) -> Option<&'a NodeView> {
    let mut at = n;
    for _ in 0..=g.nodes.len() {
        match upstream(g, at) {
            Some(u) => at = u,
            None => return (at.role == Role::Primary && at.name != n.name).then_some(at),
        }
    }
    None
}

mod cluster;
#[cfg(test)]
mod tests;
