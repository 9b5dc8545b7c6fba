//! Reusable pre-checks: the group guard (read-only, Sentinel, cluster) and the facts every
//! role change needs about a node (reachable, role, link, sync, lag, version, latency).
//!
//! Pure functions over the topology and the config; each returns [`Check`]s whose messages
//! name the node and the number that failed.

use std::time::Duration;

use crate::config::Group;
use crate::info::InfoRole;
use crate::observe::NodeState;
use crate::topology::{AnomalyKind, GroupTopology, Link, Liveness, NodeView};

use super::guard::Refusal;
use super::plan::{ActionKind, Check, Plan, PlanNode};
use super::redis_ops::Command;
use super::summary::bytes;

/// What the config and the nodes say about acting on a group at all: read-only by config,
/// and an HA manager (Sentinel, cluster mode) that owns its roles. Decided here once for the
/// plan builders, the session (for every plan) and the console's keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupPolicy {
    pub read_only: Option<Refusal>,
    pub ha_manager: Option<Refusal>,
}

impl GroupPolicy {
    /// The policy of `group` as configured and as its nodes report (a node in cluster mode).
    #[must_use]
    pub fn of(group: &Group, topo: &GroupTopology) -> Self {
        let read_only = group.read_only.then(|| Refusal::GroupReadOnly {
            group: group.name.clone(),
        });
        let cluster_node = topo.nodes.iter().any(|n| {
            n.info
                .as_ref()
                .and_then(|i| i.server.mode.as_deref())
                .is_some_and(|m| m == "cluster")
        });
        let ha_manager = if group.cluster || cluster_node {
            Some(Refusal::Cluster {
                group: group.name.clone(),
            })
        } else {
            group.sentinel.as_ref().map(|s| Refusal::Sentinel {
                group: group.name.clone(),
                master_name: s.master_name.clone(),
            })
        };
        Self {
            read_only,
            ha_manager,
        }
    }

    /// Sets the plan's `read_only` and `ha_manager` (the engine refuses on them). A plan that
    /// goes through the cluster's own failover (`CLUSTER FAILOVER`, `FORCE`, `TAKEOVER`) is
    /// not refused for the cluster owning the roles: it asks the cluster.
    pub fn apply(&self, plan: &mut Plan) {
        plan.read_only.clone_from(&self.read_only);
        plan.ha_manager.clone_from(&self.ha_manager);
        // A plan under the master Sentinel names (`repoint/sentinel.rs`) asks nothing of
        // Sentinel it would not do itself.
        if plan.sentinel_master.is_some()
            && matches!(plan.ha_manager, Some(Refusal::Sentinel { .. }))
        {
            plan.ha_manager = None;
        }
        // A switchover through CLUSTER FAILOVER, a promotion through CLUSTER FAILOVER
        // FORCE|TAKEOVER, and nothing else that changes a role (a cluster plan refused for a
        // check of its own has no step at all: its check says why, not the cluster).
        let cluster_command = |c: &Command| match plan.action {
            ActionKind::Switchover => matches!(c, Command::ClusterFailover),
            ActionKind::Promote => matches!(c, Command::ClusterFailoverForced { .. }),
            _ => false,
        };
        let through_cluster = matches!(plan.action, ActionKind::Switchover | ActionKind::Promote)
            && plan
                .steps
                .iter()
                .flat_map(|s| &s.commands)
                .filter(|c| c.is_role_change())
                .all(cluster_command);
        // A cluster-wide snapshot changes no role: its pause is bounded and lifted by itself.
        let cut = plan.action == ActionKind::Snapshot
            && plan
                .steps
                .iter()
                .any(|s| matches!(s.kind, super::plan::StepKind::ClusterCut { .. }));
        if (through_cluster || cut) && matches!(plan.ha_manager, Some(Refusal::Cluster { .. })) {
            plan.ha_manager = None;
        }
        // Likewise a switchover or failback that goes through Sentinel asks Sentinel.
        if plan.through_sentinel() && matches!(plan.ha_manager, Some(Refusal::Sentinel { .. })) {
            plan.ha_manager = None;
        }
    }
}

/// Fills `plan.read_only` and `plan.ha_manager` from the config and what the nodes report
/// ([`GroupPolicy`]), `plan.lock` with every node of the group that answered (see
/// [`lock_group`]), and refuses a role change while one server answers under two configured
/// entries (its role would be counted twice and the loop guard could not see it).
pub fn group_guard(plan: &mut Plan, group: &Group, topo: &GroupTopology) {
    lock_group(plan, group, topo);
    if plan.action != ActionKind::Snapshot {
        for a in topo
            .anomalies
            .iter()
            .filter(|a| a.kind == AnomalyKind::SameServer)
        {
            plan.checks.push(Check::fail(a.message.clone()));
        }
    }
    GroupPolicy::of(group, topo).apply(plan);
}

/// Sets `plan.lock` to every configured node of the group whose latest poll answered: the lock
/// is checked and held on all of them, not only on the nodes the steps touch, so that any two
/// actions on one group meet on a common node. A node that did not answer is left out: nothing
/// can be read there, and any other action holds the lock on the nodes that did answer.
pub fn lock_group(plan: &mut Plan, group: &Group, topo: &GroupTopology) {
    plan.lock = topo
        .nodes
        .iter()
        .enumerate()
        .filter(|(k, v)| !v.unmanaged && topo.liveness(*k) == Liveness::Answers)
        .filter_map(|(_, v)| {
            let id = v.id?;
            let cfg = group.nodes.get(id.node)?;
            Some(PlanNode {
                name: cfg.name.clone(),
                addr: cfg.addr.clone(),
                id,
            })
        })
        .collect();
}

/// The node is reachable, answers INFO and is not loading.
#[must_use]
pub fn reachable(v: &NodeView) -> Check {
    match v.state {
        NodeState::Up if !v.stale_info => Check::pass(format!("{} is reachable", v.name)),
        NodeState::Loading => Check::fail(format!("{} is loading its dataset", v.name)),
        state => Check::fail(format!(
            "{} is {}{}{}",
            v.name,
            state.as_str(),
            v.error
                .as_ref()
                .map_or_else(String::new, |e| format!(": {e}")),
            // An error answer means alive: say what would make it readable.
            v.error
                .as_ref()
                .and_then(crate::observe::NodeError::fix)
                .map_or_else(String::new, |f| format!(". hint: {f}"))
        )),
    }
}

/// How long a replica's link has been down, in words.
#[must_use]
pub fn link_down_words(link: Option<Link>) -> String {
    match link {
        Some(Link::Down { since: Some(d) }) => {
            format!("its link has been down for {}", crate::timefmt::span(d))
        }
        Some(Link::Down { since: None }) => "its link has never come up".to_string(),
        Some(Link::Up) => "its link is up".to_string(),
        None => "its link state is unknown".to_string(),
    }
}

/// Checks that `t` can take over from `primary` now: a direct replica, link up, not syncing
/// or loading, same replid, within the lag limit (overridable), version at least the others'.
#[must_use]
pub fn target_ready(
    t: &NodeView,
    primary: &NodeView,
    others: &[&NodeView],
    lag_limit: u64,
) -> Vec<Check> {
    let mut out = vec![reachable(t)];
    let Some(info) = t.info.as_ref() else {
        return out;
    };
    let r = &info.replication;
    let reported = match (&r.master_host, r.master_port) {
        (Some(h), Some(p)) => Some(format!("{h}:{p}")),
        _ => None,
    };
    let upstream = t.upstream.as_ref().map(|u| u.addr.clone()).or(reported);
    let follows_primary = upstream.as_deref() == Some(primary.addr.as_str());
    out.push(Check::require(
        r.role == Some(InfoRole::Replica) && follows_primary,
        format!("{} is a replica of {}", t.name, primary.name),
        format!(
            "{} cannot be the target: it is not a direct replica of the primary {} (it {})",
            t.name,
            primary.name,
            match (r.role, &t.upstream) {
                (Some(InfoRole::Primary), _) => "is a primary".to_string(),
                // A known node by name; an address only for what the group does not know.
                (_, Some(u)) => format!(
                    "replicates from {}",
                    others
                        .iter()
                        .copied()
                        .chain([primary])
                        .find(|v| v.addr == u.addr)
                        .map_or(u.addr.as_str(), |v| v.name.as_str())
                ),
                _ => "has no upstream".to_string(),
            }
        ),
    ));
    out.push(Check::require(
        r.link_up == Some(true),
        format!("{}'s link to {} is up", t.name, primary.name),
        format!(
            "{} cannot be the target: {}",
            t.name,
            link_down_words(t.link)
        ),
    ));
    out.push(Check::require(
        !r.sync_in_progress && !info.persistence.loading,
        format!("{} is not syncing or loading", t.name),
        format!(
            "{} cannot be the target: a full sync or load is in progress",
            t.name
        ),
    ));
    let primary_replid = primary
        .info
        .as_ref()
        .and_then(|i| i.replication.replid.as_deref());
    let same_replid = r.replid.is_some() && r.replid.as_deref() == primary_replid;
    out.push(Check::require(
        same_replid,
        format!("{} shares {}'s replication id", t.name, primary.name),
        format!(
            "{} is on another replication history than {} (replid differs): its offsets cannot be compared",
            t.name, primary.name
        ),
    ));
    match t.lag_bytes {
        Some(l) if l > lag_limit => out.push(Check::fail_overridable(format!(
            "{} is {} behind, over the {} limit",
            t.name,
            bytes(l),
            bytes(lag_limit)
        ))),
        Some(l) => out.push(Check::pass(format!("{} is {} behind", t.name, bytes(l)))),
        None => out.push(Check::warn(format!("{}'s lag is unknown", t.name))),
    }
    let tv = info.server.version_triple();
    for o in others {
        let ov = o.info.as_ref().and_then(|i| i.server.version_triple());
        if let (Some(tv), Some(ov)) = (tv, ov) {
            // The new primary's replicas must be able to load its RDB: an older server
            // cannot load a newer format (after it has already flushed its data).
            if (tv.0, tv.1) > (ov.0, ov.1) {
                out.push(Check::fail_overridable(format!(
                    "{} runs {} but {} runs {}: if a full sync happens, {} cannot load {}'s newer RDB",
                    t.name,
                    t.version.as_deref().unwrap_or("?"),
                    o.name,
                    o.version.as_deref().unwrap_or("?"),
                    o.name,
                    t.name
                )));
            }
        }
    }
    out
}

/// The node's last poll was quick enough to act on within the action's budget.
#[must_use]
pub fn latency(v: &NodeView, max: Duration) -> Check {
    if !v.state.is_reachable() {
        // The last figure is from before it stopped answering: no latency to speak of.
        return Check::warn(format!("{} does not answer: no latency figure", v.name));
    }
    match v.rtt {
        Some(rtt) if rtt > max => Check::fail_overridable(format!(
            "{}'s last poll took {} ms, over the {} ms an action allows",
            v.name,
            rtt.as_millis(),
            max.as_millis()
        )),
        Some(rtt) => Check::pass(format!("{} answers in {} ms", v.name, rtt.as_millis())),
        None => Check::warn(format!("{}'s poll latency is unknown", v.name)),
    }
}
