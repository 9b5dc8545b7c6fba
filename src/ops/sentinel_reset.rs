//! The plan of `sentinel reset`: `SENTINEL RESET <master>` on each sentinel of a group, one
//! at a time, for stale replica and sentinel lists (a replica retired for good, a sentinel
//! moved). A reset sentinel forgets the master's replicas and its peers and finds them again
//! (the master's `INFO`, the hello channel); meanwhile it cannot vote, so the next one is
//! reset only once it has found them all again (bounded), and none is reset unless a quorum
//! of the others still knows the master (read again by the step, before each reset).
//!
//! Pure: Sentinel's view on the topology in, a [`Plan`] out, its refusals as failed checks.
//! The engine runs the steps (`engine/sentinel_reset.rs`). Never a role change: no snapshot
//! gate, nothing to roll back.

use std::time::Duration;

use crate::config::Config;
use crate::sentinel::GroupSentinel;
use crate::topology::{Role, Topology};

use super::error::{OpsError, OpsResult};
use super::plan::{ActionKind, Budgets, Check, Plan, Step, StepKind};
use super::redis_ops::Command;

/// How long a reset sentinel may take to find the replicas and its peers again (the hello
/// channel speaks every 2 s; the master's INFO is read at once).
pub const REDISCOVERY: Duration = Duration::from_secs(30);

/// Why the plan needs no snapshot gate.
pub const NO_GATE: &str = "no data moves and no role changes: SENTINEL RESET only makes a \
                           sentinel forget the replicas and the other sentinels and find them again";

/// What a step that stops the run leaves: nothing to undo.
const NOTHING_TO_UNDO: &str = "nothing to roll back: a reset sentinel finds the replicas and \
                               its peers again by itself; the sentinels after it are not reset";

/// Plans the reset of the sentinels of group `gi` (of `config`) from one poll with
/// Sentinel's view. A refusal (the view unknown, a failover under way, the sentinels
/// disagreeing, fewer than a quorum left knowing the master while one is reset) is a failed
/// check of the plan, which the engine refuses.
///
/// # Errors
/// Usage: no such group, or no sentinel configured for it.
pub fn plan_reset(
    config: &Config,
    topology: &Topology,
    gi: usize,
    budgets: Budgets,
) -> OpsResult<Plan> {
    let Some(group) = config.groups.get(gi) else {
        return Err(OpsError::usage(format!(
            "no group number {gi} in the config"
        )));
    };
    let Some(cfg) = group.sentinel.as_ref() else {
        return Err(OpsError::usage(format!(
            "group '{}' has no sentinels in the config: there is nothing to reset",
            group.name
        ))
        .hint("a Sentinel group has sentinel = { addrs = [...], master_name = \"...\" }"));
    };
    let mut plan = Plan::new(ActionKind::SentinelReset, &group.name, gi, budgets);
    let name = cfg.master_name.clone();
    plan.summary = format!("SENTINEL RESET {name} on each sentinel, one at a time");
    plan.gate_skipped = Some(NO_GATE.to_string());
    let all = super::switchover::sentinel::sentinel_plan_nodes(&mut plan, cfg, group);
    let gt = super::group_topology(topology, gi);
    let Some(view) = gt.sentinel.as_ref() else {
        plan.checks.push(Check::fail(format!(
            "Sentinel's view of group '{}' is not known: check the sentinels' addresses \
             (redops status shows each sentinel)",
            group.name
        )));
        return Ok(plan);
    };
    let master_node = agreement(&mut plan, view, &name);
    let knows = |addr: &str| {
        view.rows
            .iter()
            .any(|r| r.addr == addr && r.is_up() && !r.unknown_master && r.master.is_some())
    };
    let knowing: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&s| knows(&plan.nodes[s].addr.to_string()))
        .collect();
    let quorum = view.quorum().max(1);
    plan.checks.push(Check::require(
        knowing.len() > quorum,
        format!(
            "{} of {} sentinels know the master: while one is reset, at least the quorum {quorum} \
             remain knowing it",
            knowing.len(),
            all.len()
        ),
        format!(
            "{} of {} sentinels know the master: while one is reset, fewer than the quorum \
             {quorum} would remain knowing it (bring the other sentinels back first)",
            knowing.len(),
            all.len()
        ),
    ));
    for &s in all.iter().filter(|s| !knowing.contains(s)) {
        plan.checks.push(Check::warn(format!(
            "{} does not answer or does not know the master: it is not reset",
            plan.name(s)
        )));
    }
    let replicas = master_node
        .as_deref()
        .and_then(|m| gt.by_name(m))
        .filter(|v| v.role == Role::Primary && v.state.is_reachable())
        .and_then(|v| v.info.as_ref())
        .map_or(0, |i| i.replication.replicas.len() as u64);
    let peers = knowing.len().saturating_sub(1) as u64;
    // Where the sentinels say the master is, as they say it (the steps' guard compares it).
    let at = view
        .rows
        .iter()
        .filter(|r| r.is_up())
        .find_map(|r| r.master.as_deref())
        .and_then(|a| crate::config::Addr::parse(a).ok());
    if let Some(m) = &master_node {
        plan.summary = format!(
            "SENTINEL RESET {name} on {} sentinel(s), one at a time (master {m})",
            knowing.len()
        );
    }
    if let (Some(at), true) = (at, master_node.is_some()) {
        for &s in &knowing {
            let guard = Guard {
                at: at.clone(),
                quorum,
            };
            push_steps(&mut plan, &name, s, &knowing, &guard, (replicas, peers));
        }
    }
    Ok(plan)
}

/// The checks of Sentinel's agreement: no failover under way, every answering sentinel
/// naming one master of the group. Returns that master's node name.
fn agreement(plan: &mut Plan, view: &GroupSentinel, name: &str) -> Option<String> {
    plan.checks.push(Check::require(
        !view.failover_in_progress(),
        format!("no Sentinel failover of '{name}' is under way"),
        format!(
            "a Sentinel failover of '{name}' is under way: a reset would abort it (wait for it \
             to end)"
        ),
    ));
    match super::repoint::sentinel::agreed_master(view, &plan.group) {
        Ok(m) => {
            plan.checks.push(Check::pass(format!(
                "the sentinels agree: {m} is the master"
            )));
            Some(m)
        }
        Err(e) => {
            plan.checks.push(Check::fail(e.message));
            None
        }
    }
}

/// What each reset's guard reads again: the master where the sentinels named it, and how
/// many of the others must still name it.
struct Guard {
    at: crate::config::Addr,
    quorum: usize,
}

/// The reset of sentinel `s` (its guard on the others in `knowing`), then its wait until it
/// knows `replicas` replicas and `peers` other sentinels again.
fn push_steps(
    plan: &mut Plan,
    master: &str,
    s: usize,
    knowing: &[usize],
    guard: &Guard,
    (replicas, peers): (u64, u64),
) {
    let quorum = guard.quorum;
    let master = master.to_string();
    let sn = plan.name(s).to_string();
    let addr = plan.nodes[s].addr.to_string();
    let others: Vec<usize> = knowing.iter().copied().filter(|&o| o != s).collect();
    plan.steps.push(Step {
        title: format!("reset {addr}"),
        node: s,
        kind: StepKind::SentinelReset {
            master: master.clone(),
            at: guard.at.clone(),
            others,
            quorum,
        },
        commands: vec![Command::SentinelReset(master.clone())],
        waits_for: Some(format!(
            "first, read now (SENTINEL MASTER on each): no failover under way, at least {quorum} \
             other sentinel(s) still name {}",
            guard.at
        )),
        deadline: None,
        verify: "1 (one master reset)".to_string(),
        rollback: NOTHING_TO_UNDO.to_string(),
        critical: true,
    });
    plan.steps.push(Step {
        title: format!("{addr} rediscovers"),
        node: s,
        kind: StepKind::SentinelRediscovered {
            master: master.clone(),
            replicas,
            peers,
        },
        commands: vec![Command::SentinelKnows(master)],
        waits_for: Some(format!(
            "{sn} knows {replicas} replica(s) and {peers} other sentinel(s) again"
        )),
        deadline: Some(REDISCOVERY),
        verify: "SENTINEL MASTER: num-slaves and num-other-sentinels".to_string(),
        rollback: NOTHING_TO_UNDO.to_string(),
        critical: true,
    });
}

#[cfg(test)]
mod tests;
