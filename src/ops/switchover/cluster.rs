//! A switchover in a Redis Cluster: `CLUSTER FAILOVER` sent to the replica (REDIS.md 3f), the
//! cluster's own coordinated switchover (the primary pauses its clients until the replica has
//! its offset: no acknowledged write is lost), waited on, then verified on every node's slot
//! map. Refused while a slot of the shard is migrating or importing (a resharding owns it),
//! while the cluster is not `ok`, and for a replica the cluster marks failed or `nofailover`.
//! Same plan, checks, snapshot gate and audit as every action. Pure.

use std::time::Duration;

use crate::cluster::ClusterView;
use crate::config::{Config, Group};
use crate::topology::{GroupTopology, NodeView};

use super::super::checks::{group_guard, latency, reachable, target_ready};
use super::super::plan::{ActionKind, Check, Confirm, Plan, Step, StepKind};
use super::super::redis_ops::Command;
use super::super::NodeRef;
use super::{Built, SwitchoverRequest};

/// The slot map's settling after the election: gossip reaches every node within a few node
/// timeouts.
const SETTLE: Duration = Duration::from_secs(20);

/// The plan of a switchover to `target` in cluster group `gt`.
pub(super) fn build(
    config: &Config,
    gt: &GroupTopology,
    req: &SwitchoverRequest,
    target: &NodeRef<'_>,
) -> Built {
    let group = &config.groups[target.group_index];
    let mut plan = Plan::new(
        ActionKind::Switchover,
        &group.name,
        target.group_index,
        req.budgets,
    );
    plan.strategy_reason = Some(
        "a cluster: CLUSTER FAILOVER on the replica, the cluster's own coordinated switchover \
         (the primary pauses its clients until the replica has caught up, then an election)"
            .to_string(),
    );
    group_guard(&mut plan, group, gt);
    plan.confirm = Confirm::TypeName(target.cfg.name.clone());
    plan.summary = format!(
        "CLUSTER FAILOVER to {} ({})",
        target.cfg.name, target.cfg.addr
    );
    let Some(view) = gt.cluster.as_deref() else {
        plan.checks.push(Check::fail(
            "no node of the cluster answered CLUSTER NODES: its shards are not known. hint: \
             check that the nodes run in cluster mode and that the ACL allows CLUSTER NODES"
                .to_string(),
        ));
        return Built::refused(plan);
    };
    let name = target.cfg.name.as_str();
    let Some(shard) = view
        .shards
        .iter()
        .find(|s| s.replicas.iter().any(|r| r.name == name))
    else {
        plan.checks.push(Check::fail(format!(
            "{name} is not a replica in the cluster's map ({} sees it): the target of a cluster \
             switchover is a replica of the shard to switch",
            view.source
        )));
        return Built::refused(plan);
    };
    let Some((p_view, p_id)) = view_of(gt, &shard.primary.name) else {
        plan.checks.push(Check::fail(format!(
            "the primary of {name}'s shard, {}, is not a node of the group",
            shard.primary.name
        )));
        return Built::refused(plan);
    };
    let Some(t_view) = target.view else {
        plan.checks
            .push(Check::fail(format!("{name} has not been polled")));
        return Built::refused(plan);
    };
    let p_cfg = &group.nodes[p_id.node];
    plan.summary = format!(
        "{} ({}) -> {name} ({}), CLUSTER FAILOVER, slots {}",
        p_cfg.name,
        p_cfg.addr,
        target.cfg.addr,
        crate::cluster::nodes::ranges_text(&shard.slots, 4)
    );
    let pi = plan.add_node(&p_cfg.name, &p_cfg.addr, p_id);
    let ti = plan.add_node(&target.cfg.name, &target.cfg.addr, target.id);
    checks(&mut plan, view, shard, p_view, t_view, group);

    // Every other node that answers verifies the new map too.
    let mut verifiers = vec![pi, ti];
    for v in gt
        .nodes
        .iter()
        .filter(|v| v.state.is_reachable() && !v.unmanaged)
    {
        let Some(id) = v.id else { continue };
        if id == p_id || id == target.id {
            continue;
        }
        let cfg = &group.nodes[id.node];
        verifiers.push(plan.add_node(&cfg.name, &cfg.addr, id));
    }
    super::expect_switch(&mut plan, pi, ti);
    plan.snapshots.push(pi);
    super::super::snapshot::note_no_persistence(&mut plan, pi, Some(p_view));
    push_steps(&mut plan, pi, ti, verifiers);
    // Again now that the plan goes through the cluster's own failover (not refused for it).
    super::super::checks::GroupPolicy::of(group, gt).apply(&mut plan);
    Built {
        plan,
        target_is_primary: false,
    }
}

/// `CLUSTER FAILOVER` on the target, then the slot map verified on every node.
fn push_steps(plan: &mut Plan, pi: usize, ti: usize, verifiers: Vec<usize>) {
    let (p_name, t_name) = (plan.name(pi).to_string(), plan.name(ti).to_string());
    plan.steps.push(Step {
        title: format!("CLUSTER FAILOVER on {t_name} (takes over from {p_name})"),
        node: ti,
        kind: StepKind::ClusterFailover { primary: pi },
        commands: vec![Command::ClusterFailover],
        waits_for: Some(format!(
            "{t_name} a primary and {p_name} its replica ({p_name} pauses its clients until \
             {t_name} has its offset, then {t_name} wins an election)"
        )),
        deadline: None,
        verify: format!("{t_name} reports role master; {p_name} replicates from it"),
        rollback: "none needed: a manual failover that does not complete is given up by the \
                   server after 5 s and the primary resumes"
            .to_string(),
        critical: true,
    });
    plan.steps.push(verify_maps_step(
        format!("verify every node's slot map names {t_name} the primary and {p_name} its replica"),
        ti,
        StepKind::VerifyCluster {
            old: pi,
            nodes: verifiers,
        },
    ));
}

/// The step that reads `CLUSTER NODES` on every node until the maps agree (`kind` says on
/// what), within the slot map's settling time.
pub(crate) fn verify_maps_step(title: String, node: usize, kind: StepKind) -> Step {
    Step {
        title,
        node,
        kind,
        commands: vec![Command::ClusterNodes],
        waits_for: Some("CLUSTER NODES on every node that answers".to_string()),
        deadline: Some(SETTLE),
        verify: "one round of reads in which every map agrees".to_string(),
        rollback: "none: the roles have changed; the report says what is left".to_string(),
        critical: true,
    }
}

fn view_of<'a>(
    gt: &'a GroupTopology,
    name: &str,
) -> Option<(&'a NodeView, crate::observe::NodeId)> {
    let v = gt.nodes.iter().find(|v| v.name == name)?;
    Some((v, v.id?))
}

/// No slot of the shard of `primary` and `replica` is migrating or importing: a resharding
/// owns the shard until it is finished (or set back).
pub(crate) fn migrations(view: &ClusterView, primary: &str, replica: &str) -> Check {
    let names = [primary, replica];
    let open: Vec<String> = view
        .open_slots
        .iter()
        .filter(|o| names.contains(&o.node.as_str()) || names.contains(&o.peer.as_str()))
        .map(|o| {
            format!(
                "slot {} {} on {}",
                o.slot,
                if o.migrating {
                    "migrating"
                } else {
                    "importing"
                },
                o.node
            )
        })
        .collect();
    Check::require(
        open.is_empty(),
        format!("no slot of {primary}'s shard is migrating or importing"),
        format!(
            "a resharding is in progress on {primary}'s shard ({}): redops takes no action on a \
             shard with a migration in progress; let it finish (or close it) first",
            open.join(", ")
        ),
    )
}

/// The cluster's own state, the shard's migrations and flags, then the usual facts about the
/// primary and the target (reachable, latency, link, lag).
fn checks(
    plan: &mut Plan,
    view: &ClusterView,
    shard: &crate::cluster::Shard,
    p: &NodeView,
    t: &NodeView,
    group: &Group,
) {
    plan.checks.push(Check::require(
        view.state_ok == Some(true),
        "cluster_state is ok".to_string(),
        format!(
            "cluster_state is not ok ({} sees it): fix the cluster before switching a shard",
            view.source
        ),
    ));
    plan.checks.push(migrations(view, &p.name, &t.name));
    let t_flags = shard
        .replicas
        .iter()
        .find(|r| r.name == t.name)
        .map(|r| r.flags)
        .unwrap_or_default();
    plan.checks.push(Check::require(
        !t_flags.nofailover,
        format!("{} may fail over (no nofailover flag)", t.name),
        format!(
            "{} is configured cluster-replica-no-failover: it never takes over",
            t.name
        ),
    ));
    let unhealthy: Vec<&str> = [(&shard.primary, p), (&shard.primary, t)]
        .iter()
        .map(|(_, v)| v.name.as_str())
        .filter(|n| {
            std::iter::once(&shard.primary)
                .chain(&shard.replicas)
                .any(|m| m.name == *n && m.flags.is_unhealthy())
        })
        .collect();
    plan.checks.push(Check::require(
        unhealthy.is_empty(),
        format!("the cluster marks neither {} nor {} failed", p.name, t.name),
        format!(
            "the cluster marks {} failed or suspected: a coordinated failover needs both sides up \
             (use promote when the primary is down)",
            unhealthy.join(" and ")
        ),
    ));
    plan.checks.push(reachable(p));
    plan.checks.push(latency(p, plan.budgets.max_rtt));
    plan.checks.push(latency(t, plan.budgets.max_rtt));
    plan.checks
        .extend(target_ready(t, p, &[], group.lag.warn_bytes));
}
