//! `promote` on a group Sentinel watches, whose primary is down and which Sentinel has not
//! failed over by itself (too few sentinels for the quorum's `o_down`, no leader elected):
//! redops asks one answering sentinel with `SENTINEL FAILOVER <master>`. A forced failover
//! needs neither `o_down` nor a quorum's agreement (REDIS.md 3e), so one sentinel is enough.
//!
//! Sentinel's pick is steered to the chosen replica with the switchover's steps: every other
//! replica's `replica-priority` set to 0 (the old value journalled in the step's title), seen
//! by the asked sentinel, put back after the failover. No write pause: the primary is down.
//! Then the target is waited on as a primary, every answering sentinel (at least one) must
//! name it, the roles are verified. The candidates table, the loss statement and the checks
//! are promote's own. Pure: the plan in, the plan out.

use crate::config::{Group, Sentinel};
use crate::sentinel::GroupSentinel;
use crate::topology::GroupTopology;

use super::super::checks::GroupPolicy;
use super::super::plan::{Check, Plan, Step, StepKind, Strategy};
use super::super::redis_ops::{Command, InfoSection};
use super::super::switchover::sentinel::{
    failover_step, push_lower_steps, push_restore_steps, sentinel_plan_nodes, CONVERGE_WAIT,
};

/// Sentinel can still fail over by itself: enough sentinels answer for the quorum's `o_down`
/// and for a leader's election (a majority of all of them). Then redops does not race it: the
/// promote plan stays refused for Sentinel owning the group, and this says why (`None` when
/// Sentinel cannot, or its view is not known).
#[must_use]
pub fn sentinel_can_by_itself(gt: &GroupTopology) -> Option<String> {
    let view = gt.sentinel.as_ref().filter(|v| !v.rows.is_empty())?;
    let up = view.rows.iter().filter(|r| r.is_up()).count();
    let n = view.rows.len();
    let (quorum, majority) = (view.quorum().max(1), n / 2 + 1);
    (up >= quorum && up >= majority).then(|| {
        format!(
            "Sentinel can fail over by itself ({up} of {n} sentinels answer: the quorum {quorum} \
             for o_down and the majority {majority} to elect a leader): wait for it, promote then \
             says what it did; redops asks Sentinel (SENTINEL FAILOVER) only when it cannot"
        )
    })
}

/// The plan's nodes the steps are made of: the chosen replica, the old primary, the other
/// replicas of the old primary that answer.
pub(super) struct Nodes<'a> {
    pub target: usize,
    pub old: Option<usize>,
    pub siblings: &'a [usize],
}

/// Turns the manual promote plan of a Sentinel group (checks, candidates, loss, snapshot
/// gate, expectations already in it, no step yet) into one that goes through Sentinel.
pub(super) fn steer(
    plan: &mut Plan,
    group: &Group,
    gt: &GroupTopology,
    sentinel: &Sentinel,
    x: &Nodes<'_>,
) {
    plan.strategy = Some(Strategy::Sentinel);
    plan.strategy_reason = Some(format!(
        "group watched by Sentinel (master name '{}'), which has not failed over by itself: \
         one answering sentinel is asked (SENTINEL FAILOVER needs no o_down or quorum), steered \
         to {} by the other replicas' priority 0",
        sentinel.master_name,
        plan.name(x.target)
    ));
    plan.summary = format!("{} through Sentinel", plan.summary);
    let asked = if let Some(view) = gt.sentinel.as_ref() {
        sentinel_checks(plan, view, x)
    } else {
        plan.checks.push(Check::fail(
            "no sentinel of the group has been polled: Sentinel's view is not known",
        ));
        None
    };
    let sentinels = sentinel_plan_nodes(plan, sentinel, group);
    let others = lowered(plan, gt, x);
    if let Some(asked) = asked.and_then(|k| sentinels.get(k).copied()) {
        push_steps(plan, x, &others, &sentinels, asked, &sentinel.master_name);
    }
    GroupPolicy::of(group, gt).apply(plan);
}

/// Sentinel's own state for a forced failover: one sentinel that answers and monitors the
/// master name, the answering ones agreeing on the old primary, none in TILT, no failover
/// under way. Returns the index (in the sentinel rows) of the one to ask.
fn sentinel_checks(plan: &mut Plan, view: &GroupSentinel, x: &Nodes<'_>) -> Option<usize> {
    let up: Vec<_> = view.rows.iter().filter(|r| r.is_up()).collect();
    let quorum = view.quorum();
    for r in view.rows.iter().filter(|r| !r.is_up()) {
        plan.checks.push(Check::warn(format!(
            "sentinel {} does not answer ({}): it learns the new master from the others' hello \
             messages when it is back",
            r.addr,
            r.error.as_deref().unwrap_or("not polled yet")
        )));
    }
    if !up.is_empty() && up.len() < quorum {
        plan.checks.push(Check::warn(format!(
            "{} of {} sentinels answer, fewer than the quorum {quorum}: only they are waited on \
             to name the new master; the others learn it by hello",
            up.len(),
            view.rows.len()
        )));
    }
    let unknown: Vec<&str> = up
        .iter()
        .filter(|r| r.unknown_master)
        .map(|r| r.addr.as_str())
        .collect();
    if !unknown.is_empty() {
        plan.checks.push(Check::fail(format!(
            "sentinel {} does not monitor '{}'",
            unknown.join(", "),
            view.master_name
        )));
    }
    let named: Vec<&str> = up.iter().filter_map(|r| r.master.as_deref()).collect();
    plan.checks.push(Check::require(
        named.windows(2).all(|w| w[0] == w[1]),
        "every sentinel that answers names the same master",
        format!(
            "the sentinels disagree on the master ({}): wait until they agree",
            named.join(", ")
        ),
    ));
    let old = x.old.map(|o| plan.name(o).to_string());
    let master = view.master_node.clone().or_else(|| {
        up.iter()
            .find_map(|r| r.master_node.clone().or_else(|| r.master.clone()))
    });
    if let (Some(old), Some(master)) = (&old, &master) {
        plan.checks.push(Check::require(
            master == old,
            format!("Sentinel names {old}, the primary that is down, the master"),
            format!(
                "Sentinel names {master} the master, not {old} (the primary that is down): \
                 look again once Sentinel's view settles"
            ),
        ));
    }
    let tilt: Vec<&str> = up
        .iter()
        .filter(|r| r.tilt)
        .map(|r| r.addr.as_str())
        .collect();
    plan.checks.push(Check::require(
        tilt.is_empty(),
        "no sentinel is in TILT mode",
        format!(
            "sentinel {} is in TILT mode: it acts on nothing",
            tilt.join(", ")
        ),
    ));
    plan.checks.push(Check::require(
        !view.failover_in_progress(),
        "no failover in progress in Sentinel",
        "Sentinel reports a failover in progress: wait for it; promote then says what it did",
    ));
    let asked = view
        .rows
        .iter()
        .position(|r| r.is_up() && !r.unknown_master && !r.tilt);
    if asked.is_none() {
        plan.checks.push(Check::fail(
            "no sentinel answers: nobody to ask for the failover. hint: bring a sentinel back \
             first",
        ));
    }
    asked
}

/// The other replicas, each with the priority to put back: set to 0 for the run, so that
/// Sentinel can only pick the target.
fn lowered(plan: &mut Plan, gt: &GroupTopology, x: &Nodes<'_>) -> Vec<(usize, u64)> {
    let mut out = Vec::new();
    for &s in x.siblings {
        let name = plan.name(s).to_string();
        let priority = gt
            .by_name(&name)
            .and_then(|v| v.info.as_ref())
            .and_then(|i| i.replication.priority);
        match priority {
            Some(0) => plan.notes.push(format!(
                "{name} already has replica-priority 0: Sentinel never picks it; left as it is"
            )),
            Some(p) => out.push((s, p)),
            None => plan.checks.push(Check::fail(format!(
                "{name}'s replica-priority is not in its INFO: it cannot be put back after the run"
            ))),
        }
    }
    out
}

#[allow(clippy::too_many_lines)] // one step after the other, each a few lines.
fn push_steps(
    plan: &mut Plan,
    x: &Nodes<'_>,
    others: &[(usize, u64)],
    sentinels: &[usize],
    asked: usize,
    master: &str,
) {
    let tn = plan.name(x.target).to_string();
    let old = x.old.map_or_else(
        || "the old primary".to_string(),
        |o| plan.name(o).to_string(),
    );
    push_lower_steps(plan, others, asked, master);
    let rollback = format!(
        "refused by Sentinel: the priorities put back, nothing else has changed; unanswered \
         or slow: {tn} watched (Sentinel may still promote it), the priorities left at 0 until \
         it has"
    );
    let pair = (x.old.unwrap_or(x.target), x.target);
    plan.steps
        .push(failover_step(plan, asked, master, pair, rollback));
    plan.steps.push(Step {
        title: format!("wait until every answering sentinel names {tn} the master"),
        node: x.target,
        kind: StepKind::SentinelConverge {
            master: master.to_string(),
            sentinels: sentinels.to_vec(),
            quorum: 1,
        },
        commands: vec![Command::SentinelMaster(master.to_string())],
        waits_for: Some(format!(
            "SENTINEL MASTER on every sentinel: every one that answers (at least one) names \
             {tn} with no failover in progress (the failover ends once Sentinel has repointed \
             the other replicas)"
        )),
        deadline: Some(CONVERGE_WAIT),
        verify: "one round of reads in which they all agree".to_string(),
        rollback: "none: the roles have changed; the report says which sentinel lags".to_string(),
        critical: true,
    });
    push_restore_steps(plan, others);
    plan.steps.push(Step {
        title: format!("verify {tn} is primary and its replicas follow it"),
        node: x.target,
        kind: StepKind::Verify {
            primary: x.target,
            replicas: x.siblings.to_vec(),
        },
        commands: vec![Command::Info(InfoSection::Default)],
        waits_for: Some(
            "role, link up, one replid on every node (Sentinel repoints the other replicas)"
                .to_string(),
        ),
        deadline: Some(plan.budgets.verify.max(CONVERGE_WAIT)),
        verify: "all conditions hold in one round of reads".to_string(),
        rollback: "none: the roles have changed; the report says what is left".to_string(),
        critical: true,
    });
    plan.notes.push(format!(
        "Sentinel repoints the other replicas to {tn} by itself, and turns {old} into its \
         replica when it comes back (its writes past {tn}'s offset are then discarded)"
    ));
}
