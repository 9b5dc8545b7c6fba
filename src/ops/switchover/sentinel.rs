//! A switchover (or failback) of a group Sentinel watches, through Sentinel (REDIS.md 3e):
//! Sentinel is steered, never fought. `SENTINEL FAILOVER` alone loses acknowledged writes (the
//! old primary stays writable until Sentinel reconfigures it), so redops wraps it:
//!
//! 1. `replica-priority 0` on every other replica (the old values read first): Sentinel can
//!    only pick the target.
//! 2. `CLIENT PAUSE <ms> WRITE` on the primary, bounded.
//! 3. The target's own offset proven equal to the primary's.
//! 4. The old primary demoted to the target by redops (`REPLICAOF`), still paused: from here
//!    no node takes writes until Sentinel promotes the target (the order the server's own
//!    `FAILOVER` uses), so a console killed at any instant leaves at most one writable node,
//!    and no postponed write can land on the old primary. Sentinel's own conversion of the
//!    old primary would wait behind the pause; it agrees with this one.
//! 5. `SENTINEL FAILOVER <master>` on one sentinel; waited on until the target is a primary.
//! 6. `CLIENT UNPAUSE`: postponed writes get `READONLY`, their clients ask Sentinel again.
//! 7. Every sentinel that answers (at least a quorum) names the target.
//! 8. The priorities put back; the roles verified.
//!
//! Refused before any change: a sentinel quorum not reachable, sentinels that disagree or
//! name a master that is not the data nodes' primary, a failover under way, a target Sentinel
//! would not pick. Same plan, checks, snapshot gate and audit as every action. Pure.

use std::time::Duration;

use crate::config::{Config, Group, Sentinel};
use crate::info::InfoRole;
use crate::observe::NodeId;
use crate::sentinel::GroupSentinel;
use crate::topology::{GroupTopology, NodeView, Role};

use super::super::checks::{group_guard, target_ready, GroupPolicy};
use super::super::error::{OpsError, OpsResult};
use super::super::plan::{ActionKind, Check, Confirm, Plan, Step, StepKind, Strategy};
use super::super::redis_ops::{Command, InfoSection};
use super::super::NodeRef;
use super::{Built, SwitchoverRequest};

mod steer;
pub(crate) use steer::{failover_step, push_lower_steps, push_restore_steps, sentinel_plan_nodes};

/// How long Sentinel may take to promote the target once asked (its failover state machine
/// runs ten times a second; the promotion is one `SLAVEOF NO ONE`).
pub const PROMOTE_WAIT: Duration = Duration::from_secs(10);

/// How long Sentinel may take to read a replica's new priority (it sends INFO every 10 s).
pub const SEE_PRIORITIES_WAIT: Duration = Duration::from_secs(25);

/// How long every sentinel may take to name the new master (hello messages every 2 s, a
/// replica reconfigured per second).
pub const CONVERGE_WAIT: Duration = Duration::from_secs(30);
/// How long the pause waits for the asked sentinel's next read of the target (it reads every
/// replica every 10 s): timed on it, the writers wait a few hundred milliseconds, not a second.
pub const INFO_PHASE_WAIT: Duration = Duration::from_secs(11);

/// The plan of a switchover to `target` in Sentinel group `group`.
///
/// # Errors
/// A strategy other than Sentinel's asked for on a Sentinel group (a usage error: never
/// silently ignored).
#[allow(clippy::too_many_lines)] // the checks in the order the plan shows them.
pub(super) fn build(
    config: &Config,
    gt: &GroupTopology,
    req: &SwitchoverRequest,
    target: &NodeRef<'_>,
    sentinel: &Sentinel,
) -> OpsResult<Built> {
    let group = &config.groups[target.group_index];
    if req.strategy == Strategy::Native {
        return Err(OpsError::usage(format!(
            "group '{}' is watched by Sentinel: strategy '{}' would change roles behind Sentinel's \
             back",
            group.name,
            req.strategy.as_str()
        ))
        .hint("leave the strategy out (or say sentinel): the switchover goes through Sentinel"));
    }
    let mut plan = Plan::new(
        ActionKind::Switchover,
        &group.name,
        target.group_index,
        req.budgets,
    );
    plan.strategy = Some(Strategy::Sentinel);
    plan.strategy_reason = Some(format!(
        "group watched by Sentinel (master name '{}'): Sentinel is steered to the target (the \
         other replicas' priority 0), writes paused and the catch-up proven before SENTINEL \
         FAILOVER, the old primary demoted before it: no acknowledged write lost",
        sentinel.master_name
    ));
    group_guard(&mut plan, group, gt);
    plan.confirm = Confirm::TypeName(target.cfg.name.clone());
    plan.summary = format!(
        "switch the primary over to {} through Sentinel",
        target.cfg.name
    );
    let Some(view) = gt.sentinel.as_ref() else {
        plan.checks.push(Check::fail(
            "no sentinel of the group has been polled: Sentinel's view is not known".to_string(),
        ));
        return Ok(refused(plan, group, gt));
    };
    sentinel_checks(&mut plan, view, gt);

    let primaries: Vec<&NodeView> = gt.primaries().into_iter().map(|i| &gt.nodes[i]).collect();
    let [primary] = primaries.as_slice() else {
        plan.checks.push(Check::fail(format!(
            "group '{}' has {} reachable primaries: a switchover through Sentinel needs one \
             healthy primary (use promote when it is down)",
            group.name,
            primaries.len()
        )));
        return Ok(refused(plan, group, gt));
    };
    let primary = *primary;
    let Some(p_id) = primary.id else {
        plan.checks.push(Check::fail(format!(
            "the primary {} is not a configured node",
            primary.name
        )));
        return Ok(refused(plan, group, gt));
    };
    let p_cfg = &group.nodes[p_id.node];
    plan.checks.push(Check::require(
        view.master_node.as_deref() == Some(p_cfg.name.as_str()),
        format!("Sentinel names {} the master", p_cfg.name),
        format!(
            "Sentinel names {} the master, the data nodes {}: fix that before a switchover",
            view.master.as_deref().unwrap_or("no node"),
            p_cfg.name
        ),
    ));
    plan.summary = format!(
        "{} ({}) -> {} ({}) through Sentinel",
        p_cfg.name, p_cfg.addr, target.cfg.name, target.cfg.addr
    );
    let pi = plan.add_node(&p_cfg.name, &p_cfg.addr, p_id);
    if target.id == p_id {
        plan.checks.push(Check::fail(format!(
            "{} is already the primary",
            target.cfg.name
        )));
        return Ok(Built {
            plan: with_policy(plan, group, gt),
            target_is_primary: true,
        });
    }
    let ti = plan.add_node(&target.cfg.name, &target.cfg.addr, target.id);
    let Some(t_view) = target.view else {
        plan.checks.push(Check::fail(format!(
            "{} has not been polled",
            target.cfg.name
        )));
        return Ok(refused(plan, group, gt));
    };
    super::primary_checks(&mut plan, primary, t_view);
    let others = other_replicas(&mut plan, group, gt, p_id, target.id);
    let other_views: Vec<&NodeView> = gt
        .nodes
        .iter()
        .filter(|v| v.id.is_some_and(|id| id != p_id && id != target.id))
        .collect();
    let mut peers = other_views;
    peers.push(primary);
    plan.checks
        .extend(target_ready(t_view, primary, &peers, group.lag.warn_bytes));
    let priority = t_view.info.as_ref().and_then(|i| i.replication.priority);
    plan.checks.push(Check::require(
        priority != Some(0),
        format!(
            "Sentinel may pick {} (replica-priority {})",
            target.cfg.name,
            priority.map_or_else(|| "?".to_string(), |p| p.to_string())
        ),
        format!(
            "{} has replica-priority 0: Sentinel never promotes it",
            target.cfg.name
        ),
    ));

    // The sentinels, as plan nodes: the failover goes to the first that answered.
    let sentinels = sentinel_plan_nodes(&mut plan, sentinel, group);
    let asked = view
        .rows
        .iter()
        .position(|r| r.is_up() && !r.unknown_master)
        .and_then(|k| sentinels.get(k).copied());
    let Some(asked) = asked else {
        plan.checks.push(Check::fail(
            "no sentinel answered: nobody to ask for the failover".to_string(),
        ));
        return Ok(refused(plan, group, gt));
    };

    super::expect_switch(&mut plan, pi, ti);
    plan.snapshots.push(pi);
    if let Some(d) = &req.download_dir {
        plan.downloads.push(pi);
        plan.download_dir = Some(d.clone());
    }
    super::super::snapshot::note_no_persistence(&mut plan, pi, Some(primary));
    let valkey_9 = primary.info.as_ref().is_some_and(|i| {
        i.server.product == crate::info::Product::Valkey
            && i.server.version_triple().is_some_and(|v| v.0 >= 9)
    });
    if valkey_9 {
        plan.notes.push(
            "Valkey 9+: Sentinel also has SENTINEL FAILOVER ... COORDINATED (the primary pauses \
             and hands over itself); redops keeps its own pause and proof of catch-up, which \
             work on every version"
                .to_string(),
        );
    }
    plan.notes.push(format!(
        "Sentinel reconfigures the other replicas to follow {} by itself; the replica-priority \
         of each is put back to the value read before the run",
        target.cfg.name
    ));
    let parts = Parts {
        p: pi,
        t: ti,
        others,
        sentinels,
        asked,
        quorum: view.quorum(),
        master: sentinel.master_name.clone(),
    };
    push_steps(&mut plan, &parts);
    Ok(Built {
        plan: with_policy(plan, group, gt),
        target_is_primary: false,
    })
}

/// The plan's nodes and facts the steps are made of.
struct Parts {
    p: usize,
    t: usize,
    /// The other replicas, each with its `replica-priority` as polled.
    others: Vec<(usize, u64)>,
    sentinels: Vec<usize>,
    asked: usize,
    quorum: usize,
    master: String,
}

fn refused(plan: Plan, group: &Group, gt: &GroupTopology) -> Built {
    Built::refused(with_policy(plan, group, gt))
}

/// The group's policy applied again now that the plan goes through Sentinel (not refused
/// for Sentinel owning the roles: it asks Sentinel).
fn with_policy(mut plan: Plan, group: &Group, gt: &GroupTopology) -> Plan {
    GroupPolicy::of(group, gt).apply(&mut plan);
    plan
}

/// Sentinel's own state: a quorum of sentinels answers, CKQUORUM passes, they agree on the
/// master, know the name, are not in TILT, and no failover runs.
fn sentinel_checks(plan: &mut Plan, view: &GroupSentinel, gt: &GroupTopology) {
    let up = view.rows.iter().filter(|r| r.is_up()).count();
    let quorum = view.quorum();
    for r in view.rows.iter().filter(|r| !r.is_up()) {
        plan.checks.push(Check::warn(format!(
            "sentinel {} does not answer ({}): it learns the new master when it is back",
            r.addr,
            r.error.as_deref().unwrap_or("not polled yet")
        )));
    }
    plan.checks.push(Check::require(
        up >= quorum,
        format!(
            "{up} of {} sentinels answer (quorum {quorum})",
            view.rows.len()
        ),
        format!(
            "only {up} of {} sentinels answer, below the quorum of {quorum}: Sentinel cannot \
             fail over. hint: bring the sentinels back first",
            view.rows.len()
        ),
    ));
    plan.checks.push(match view.quorum_reachable() {
        Some(true) => Check::pass("SENTINEL CKQUORUM passes on every sentinel that answers"),
        Some(false) => {
            let why: Vec<String> = view
                .rows
                .iter()
                .filter_map(|r| match &r.ckquorum {
                    Some(Err(e)) => Some(format!("{}: {e}", r.addr)),
                    _ => None,
                })
                .collect();
            Check::fail(format!(
                "SENTINEL CKQUORUM fails ({}): a failover could not be authorised",
                why.join("; ")
            ))
        }
        None => Check::fail("no sentinel answered SENTINEL CKQUORUM"),
    });
    let unknown: Vec<&str> = view
        .rows
        .iter()
        .filter(|r| r.unknown_master)
        .map(|r| r.addr.as_str())
        .collect();
    plan.checks.push(Check::require(
        unknown.is_empty(),
        format!(
            "every sentinel that answers monitors '{}'",
            view.master_name
        ),
        format!(
            "sentinel {} does not monitor '{}'",
            unknown.join(", "),
            view.master_name
        ),
    ));
    let named: Vec<&str> = view
        .rows
        .iter()
        .filter_map(|r| r.master.as_deref())
        .collect();
    plan.checks.push(Check::require(
        named.windows(2).all(|w| w[0] == w[1]),
        "every sentinel that answers names the same master".to_string(),
        format!(
            "the sentinels disagree on the master ({}): wait until they agree",
            named.join(", ")
        ),
    ));
    let tilt: Vec<&str> = view
        .rows
        .iter()
        .filter(|r| r.tilt)
        .map(|r| r.addr.as_str())
        .collect();
    plan.checks.push(Check::require(
        tilt.is_empty(),
        "no sentinel is in TILT mode".to_string(),
        format!(
            "sentinel {} is in TILT mode: it acts on nothing",
            tilt.join(", ")
        ),
    ));
    plan.checks.push(Check::require(
        !view.failover_in_progress(),
        "no failover in progress in Sentinel".to_string(),
        "Sentinel reports a failover in progress: wait for it to end".to_string(),
    ));
    let _ = gt;
}

/// Every other replica that answers: its priority goes to 0 for the run. One that does not
/// answer cannot be steered: Sentinel would not pick it while it is down, but the plan says so.
fn other_replicas(
    plan: &mut Plan,
    group: &Group,
    gt: &GroupTopology,
    p_id: NodeId,
    t_id: NodeId,
) -> Vec<(usize, u64)> {
    let mut out = Vec::new();
    for v in gt.nodes.iter().filter(|v| !v.unmanaged) {
        let Some(id) = v.id else { continue };
        if id == p_id || id == t_id {
            continue;
        }
        let cfg = &group.nodes[id.node];
        if !v.state.is_reachable() {
            plan.checks.push(Check::warn(format!(
                "{} is {}: its replica-priority cannot be set to 0; Sentinel does not pick a \
                 replica it sees down",
                v.name,
                v.state.as_str()
            )));
            continue;
        }
        let is_replica = v.role == Role::Replica
            || v.info
                .as_ref()
                .is_some_and(|i| i.replication.role == Some(InfoRole::Replica));
        if !is_replica {
            plan.checks.push(Check::fail(format!(
                "{} is not a replica: the group has another writable node",
                v.name
            )));
            continue;
        }
        let p_addr = gt
            .nodes
            .iter()
            .find(|n| n.id == Some(p_id))
            .map(|n| n.addr.as_str());
        if v.upstream.as_ref().map(|u| u.addr.as_str()) != p_addr {
            // Sentinel picks among the master's own replicas only, and leaves this one where
            // it is.
            plan.notes.push(format!(
                "{} replicates from {} (chained): Sentinel cannot pick it; left as it is",
                v.name,
                v.upstream.as_ref().map_or("?", |u| gt.upstream_name(u))
            ));
            continue;
        }
        let Some(priority) = v.info.as_ref().and_then(|i| i.replication.priority) else {
            plan.checks.push(Check::fail(format!(
                "{}'s replica-priority is not in its INFO: it cannot be put back after the run",
                v.name
            )));
            continue;
        };
        if priority == 0 {
            plan.notes.push(format!(
                "{} already has replica-priority 0: Sentinel never picks it; left as it is",
                v.name
            ));
            continue;
        }
        out.push((plan.add_node(&cfg.name, &cfg.addr, id), priority));
    }
    out
}

/// The title of the step that lowers `node`'s priority: it journals the old value in the
/// audit log before anything is sent ([`lowered_priority`] reads it back).
fn lower_title(node: &str, old: u64) -> String {
    format!("set {node}'s replica-priority to 0 (it was {old}; Sentinel must not pick it)")
}

/// The node and old value a [`lower_title`] names: what an interrupted run may have left at
/// priority 0.
#[must_use]
pub fn lowered_priority(title: &str) -> Option<(String, u64)> {
    let rest = title.strip_prefix("set ")?;
    let (node, rest) = rest.split_once("'s replica-priority to 0 (it was ")?;
    let (old, _) = rest.split_once(';')?;
    Some((node.to_string(), old.parse().ok()?))
}

#[allow(clippy::too_many_lines)] // one step after the other, each a few lines.
fn push_steps(plan: &mut Plan, x: &Parts) {
    let (pn, tn) = (plan.name(x.p).to_string(), plan.name(x.t).to_string());
    let b = plan.budgets;
    push_lower_steps(plan, &x.others, x.asked, &x.master);
    let (an, asked_t) = (plan.name(x.asked).to_string(), x.t);
    plan.steps.push(Step {
        title: format!("time the pause on {an}'s reads of {tn}"),
        node: x.asked,
        kind: StepKind::SentinelInfoPhase {
            master: x.master.clone(),
            target: asked_t,
        },
        commands: vec![Command::SentinelReplicas(x.master.clone())],
        waits_for: Some(format!(
            "SENTINEL REPLICAS: {an} names the new master only once it reads {tn}'s INFO after              promoting it, and reads it once a second during a failover; paused just after a              read, its next read follows the promotion and the writers wait a few hundred              milliseconds, not a second"
        )),
        deadline: Some(INFO_PHASE_WAIT),
        verify: "only reads: not seen in time, the switchover goes on".to_string(),
        rollback: "none: nothing has been sent but reads".to_string(),
        critical: false,
    });
    // Paused: the catch-up, Sentinel's promotion, the demotion (each with its watch).
    let ms = super::pause_ms(&b, 2).max(
        u64::try_from(
            (b.catch_up + PROMOTE_WAIT + b.command * 12 + Duration::from_secs(5)).as_millis(),
        )
        .unwrap_or(u64::MAX),
    );
    plan.steps.push(Step {
        title: format!("pause writes on {pn}"),
        node: x.p,
        kind: StepKind::PauseWrites { ms },
        commands: vec![Command::ClientPause { ms, write: true }],
        waits_for: None,
        deadline: None,
        verify: "+OK; the pause expires by itself after the timeout if the console dies"
            .to_string(),
        rollback: format!(
            "CLIENT UNPAUSE on {pn} once Sentinel is known not to promote {tn}, or {pn} is its \
             replica"
        ),
        critical: true,
    });
    plan.steps.push(super::catch_up_step(
        plan,
        x.p,
        x.t,
        format!("CLIENT UNPAUSE on {pn}, priorities put back; nothing else has changed"),
    ));
    plan.steps.push(super::demote_step(
        plan,
        x.p,
        x.t,
        &format!("Sentinel promotes {tn}"),
        format!(
            "REPLICAOF NO ONE on {pn} (it took no write: paused), then CLIENT UNPAUSE, unless \
             Sentinel may still promote {tn}: then {pn} stays its replica"
        ),
    ));
    let rollback = format!(
        "refused by Sentinel: {pn} a primary again and unpaused; unanswered or slow: {tn} \
         watched, {pn} left a paused replica of it (Sentinel may still promote {tn})"
    );
    plan.steps.push(failover_step(
        plan,
        x.asked,
        &x.master,
        (x.p, x.t),
        rollback,
    ));
    plan.steps.push(super::unpause_step(
        x.p,
        format!("resume writes on {pn} (paused writers get READONLY and ask Sentinel)"),
        ms,
    ));
    plan.steps.push(Step {
        title: format!("wait until every sentinel names {tn} the master"),
        node: x.t,
        kind: StepKind::SentinelConverge {
            master: x.master.clone(),
            sentinels: x.sentinels.clone(),
            quorum: x.quorum,
        },
        commands: vec![Command::SentinelMaster(x.master.clone())],
        waits_for: Some(format!(
            "SENTINEL MASTER on every sentinel: every one that answers, and at least {}, names \
             {tn} with no failover in progress (the failover ends once Sentinel has repointed \
             the other replicas)",
            x.quorum
        )),
        deadline: Some(CONVERGE_WAIT),
        verify: "one round of reads in which they all agree".to_string(),
        rollback: "none: the roles have changed; the report says which sentinel lags".to_string(),
        critical: true,
    });
    push_restore_steps(plan, &x.others);
    let mut replicas = vec![x.p];
    replicas.extend(x.others.iter().map(|(o, _)| *o));
    plan.steps.push(Step {
        title: format!("verify {tn} is the only primary and every replica follows it"),
        node: x.t,
        kind: StepKind::Verify {
            primary: x.t,
            replicas,
        },
        commands: vec![Command::Info(InfoSection::Default)],
        waits_for: Some(
            "role, link up, one replid on every node (Sentinel repoints the other replicas)"
                .to_string(),
        ),
        deadline: Some(b.verify.max(CONVERGE_WAIT)),
        verify: "all conditions hold in one round of reads".to_string(),
        rollback: "none: the roles have changed; the report says what is left".to_string(),
        critical: true,
    });
    plan.steps.push(Step {
        title: format!("persist {pn}'s new role (CONFIG REWRITE where a config file is used)"),
        node: x.p,
        kind: StepKind::ConfigRewrite { nodes: vec![x.p] },
        commands: vec![Command::ConfigRewrite],
        waits_for: None,
        deadline: None,
        verify: "+OK when it has a config file; a warning otherwise".to_string(),
        rollback: "none".to_string(),
        critical: false,
    });
}

#[cfg(test)]
mod tests {
    use super::{lower_title, lowered_priority};

    /// The step's title journals the old value; the recovery reads it back.
    #[test]
    fn a_lowered_priority_is_read_back_from_its_title() {
        let t = lower_title("cache-b", 77);
        assert_eq!(lowered_priority(&t), Some(("cache-b".to_string(), 77)));
        assert_eq!(lowered_priority("pause writes on n1"), None);
        assert_eq!(
            lowered_priority("set n2's replica-priority to 0 (it was x; …)"),
            None
        );
    }
}
