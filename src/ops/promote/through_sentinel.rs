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
/// gate, expectations already in it, no step yet) into one that goes through Sentinel, by
/// Sentinel's view `view` (polled: without it the plan stays refused for Sentinel owning the
/// group).
pub(super) fn steer(
    plan: &mut Plan,
    group: &Group,
    gt: &GroupTopology,
    (sentinel, view): (&Sentinel, &GroupSentinel),
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
    let asked = sentinel_checks(plan, view, x);
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::super::{plan_promote, PromoteRequest};
    use super::sentinel_can_by_itself;
    use crate::config::{Addr, Config, Sentinel};
    use crate::ops::fake::FakeOps;
    use crate::ops::plan::{Budgets, CheckStatus, StepKind, Strategy};
    use crate::ops::Plan;
    use crate::sentinel::{GroupSentinel, SentinelRow};
    use crate::topology::Topology;

    fn row(i: u16, up: bool, quorum: u64) -> SentinelRow {
        SentinelRow {
            addr: format!("127.0.0.1:{}", 26_000 + i),
            error: (!up).then(|| "connection refused".to_string()),
            pending: false,
            unknown_master: false,
            master: up.then(|| "127.0.0.1:7000".to_string()),
            master_node: up.then(|| "p".to_string()),
            flags: vec!["master".into()],
            quorum: up.then_some(quorum),
            ckquorum: None,
            failover_state: None,
            epoch: Some(1),
            tilt: false,
            other_sentinels: None,
        }
    }

    /// p down, r1 and r2 its replicas (links down, priorities 100 and 50), three sentinels of
    /// which `up` answer, quorum `quorum`.
    fn group(up: usize, quorum: u64) -> (Config, Topology) {
        let fake = FakeOps::group(&["p", "r1", "r2"]);
        fake.node("p", |n| n.down = true);
        for r in ["r1", "r2"] {
            fake.node(r, |n| n.link_up = false);
        }
        let (mut config, mut topo) = fake.config_and_topology("g");
        let addrs: Vec<Addr> = (0..3u16)
            .map(|i| {
                Addr::parse(&format!("127.0.0.1:{}", 26_000 + i)).unwrap_or_else(|_| unreachable!())
            })
            .collect();
        config.groups[0].sentinel = Some(Sentinel {
            addrs,
            master_name: "mymaster".into(),
        });
        let g = &mut topo.groups[0];
        for (name, p) in [("r1", 100), ("r2", 50)] {
            if let Some(v) = g.nodes.iter_mut().find(|v| v.name == name) {
                if let Some(i) = v.info.as_mut() {
                    std::sync::Arc::make_mut(i).replication.priority = Some(p);
                }
            }
        }
        g.sentinel = Some(GroupSentinel {
            master_name: "mymaster".into(),
            master_node: Some("p".into()),
            rows: (0..3u16)
                .map(|i| row(i, usize::from(i) < up, quorum))
                .collect(),
            ..Default::default()
        });
        (config, topo)
    }

    fn promote(config: &Config, topo: &Topology, node: &str) -> Plan {
        let req = PromoteRequest {
            node: Some(node.to_string()),
            budgets: Budgets::default(),
            max_extra_link_down: Duration::from_secs(60),
            now: SystemTime::now(),
        };
        plan_promote(config, topo, &req)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .plan
    }

    fn fails(plan: &Plan) -> Vec<String> {
        plan.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .map(|c| c.message.clone())
            .collect()
    }

    #[test]
    fn sentinel_can_by_itself_with_the_quorum_and_a_majority() {
        let can = |up, q| sentinel_can_by_itself(&group(up, q).1.groups[0]).is_some();
        assert!(can(3, 2));
        assert!(can(2, 2));
        assert!(!can(1, 2), "no o_down");
        assert!(!can(2, 3), "quorum 3, one sentinel down");
        assert!(!can(1, 1), "o_down, but no majority to elect a leader");
    }

    #[test]
    fn one_sentinel_is_asked_steered_to_the_named_replica() {
        let (config, topo) = group(1, 2);
        let plan = promote(&config, &topo, "r1");
        assert_eq!(plan.strategy, Some(Strategy::Sentinel));
        assert_eq!(plan.ha_manager, None, "it asks Sentinel");
        assert!(fails(&plan).is_empty(), "{plan}");
        let kinds: Vec<String> = plan
            .steps
            .iter()
            .map(|s| format!("{} {:?}", plan.name(s.node), s.kind))
            .collect();
        let want = [
            "r2 LowerPriority { old: 50 }",
            "sentinel 127.0.0.1:26000 SentinelSeesPriorities",
            "sentinel 127.0.0.1:26000 SentinelFailover",
            "r1 SentinelConverge",
            "r2 RestorePriority",
            "r1 Verify",
        ];
        assert_eq!(kinds.len(), want.len(), "{kinds:#?}");
        for (k, w) in kinds.iter().zip(want) {
            assert!(k.starts_with(w), "{k} is not {w}");
        }
        assert!(
            matches!(
                plan.steps[3].kind,
                StepKind::SentinelConverge { quorum: 1, .. }
            ),
            "at least the one that answers"
        );
        assert!(plan.snapshots.contains(&0), "the snapshot gate on r1");
        assert!(
            plan.checks.iter().any(|c| c.status == CheckStatus::Warn
                && c.message
                    .contains("1 of 3 sentinels answer, fewer than the quorum 2")),
            "{plan}"
        );
        assert!(plan.through_sentinel());
    }

    #[test]
    fn refused_with_the_reason() {
        // Sentinel can do it: not raced, refused for Sentinel owning the group.
        let (config, topo) = group(3, 2);
        let plan = promote(&config, &topo, "r1");
        assert!(plan.ha_manager.is_some(), "{plan}");
        assert!(plan
            .checks
            .iter()
            .any(|c| c.message.contains("Sentinel can fail over by itself")));
        // No sentinel answers.
        let (config, topo) = group(0, 2);
        let plan = promote(&config, &topo, "r1");
        assert!(
            fails(&plan)
                .iter()
                .any(|m| m.contains("no sentinel answers")),
            "{plan}"
        );
        assert!(plan.steps.is_empty(), "{plan}");
        // A failover under way.
        let (config, mut topo) = group(1, 2);
        if let Some(s) = topo.groups[0].sentinel.as_mut() {
            s.rows[0].failover_state = Some("wait_promotion".into());
        }
        let plan = promote(&config, &topo, "r1");
        assert!(
            fails(&plan)
                .iter()
                .any(|m| m.contains("failover in progress")),
            "{plan}"
        );
        // Sentinel names another master than the primary that is down.
        let (config, mut topo) = group(1, 2);
        if let Some(s) = topo.groups[0].sentinel.as_mut() {
            s.master_node = Some("r2".into());
        }
        let plan = promote(&config, &topo, "r1");
        assert!(
            fails(&plan)
                .iter()
                .any(|m| m.contains("Sentinel names r2 the master, not p")),
            "{plan}"
        );
    }
}
