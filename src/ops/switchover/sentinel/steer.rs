//! The steps a plan through Sentinel is made of, shared by the switchover (and failback) and
//! the promote that asks Sentinel: the sentinels as plan nodes, Sentinel steered away from the
//! other replicas (`replica-priority` 0, read back by the asked sentinel), `SENTINEL FAILOVER`,
//! the priorities put back.

use crate::config::{Group, Sentinel};
use crate::observe::NodeId;

use super::super::super::plan::{Plan, Step, StepKind};
use super::super::super::redis_ops::{sentinel_node_name, Command, ConfigParam};
use super::{lower_title, PROMOTE_WAIT, SEE_PRIORITIES_WAIT};

/// The group's sentinels as plan nodes (numbered after its data nodes), kept as the plan's
/// `sentinel_nodes`.
pub(crate) fn sentinel_plan_nodes(
    plan: &mut Plan,
    sentinel: &Sentinel,
    group: &Group,
) -> Vec<usize> {
    let gi = plan.group_index;
    let sentinels: Vec<usize> = sentinel
        .addrs
        .iter()
        .enumerate()
        .map(|(k, a)| {
            plan.add_node(
                &sentinel_node_name(a),
                a,
                NodeId {
                    group: gi,
                    node: group.nodes.len() + k,
                },
            )
        })
        .collect();
    plan.sentinel_nodes.clone_from(&sentinels);
    sentinels
}

/// Sentinel steered away from `others` (each with the priority to put back): every one's
/// `replica-priority` set to 0, then read by sentinel `asked`.
pub(crate) fn push_lower_steps(
    plan: &mut Plan,
    others: &[(usize, u64)],
    asked: usize,
    master: &str,
) {
    for &(o, old) in others {
        let on = plan.name(o).to_string();
        plan.steps.push(Step {
            title: lower_title(&on, old),
            node: o,
            kind: StepKind::LowerPriority { old },
            commands: vec![
                Command::ConfigGet(ConfigParam::ReplicaPriority),
                Command::ConfigSet(ConfigParam::ReplicaPriority, "0".to_string()),
            ],
            waits_for: None,
            deadline: None,
            verify: "+OK; the old value is kept (and journalled) to be put back".to_string(),
            rollback: format!("CONFIG SET replica-priority <old value> on {on}"),
            critical: true,
        });
    }
    if others.is_empty() {
        return;
    }
    let an = plan.name(asked).to_string();
    plan.steps.push(Step {
        title: format!("wait until {an} reads priority 0 on the other replicas"),
        node: asked,
        kind: StepKind::SentinelSeesPriorities {
            master: master.to_string(),
            lowered: others.iter().map(|(o, _)| *o).collect(),
        },
        commands: vec![Command::SentinelReplicas(master.to_string())],
        waits_for: Some(
            "SENTINEL REPLICAS: Sentinel picks by the priority it last read (it reads every \
             replica every 10 s, every second while the master is down)"
                .to_string(),
        ),
        deadline: Some(SEE_PRIORITIES_WAIT),
        verify: "slave-priority 0 for each of them".to_string(),
        rollback: "the priorities put back; nothing else has changed".to_string(),
        critical: true,
    });
}

/// `SENTINEL FAILOVER master` on sentinel `asked`, waited on until `t` (of `(p, t)`, the
/// primary it replaces and the target) is a primary.
pub(crate) fn failover_step(
    plan: &Plan,
    asked: usize,
    master: &str,
    (p, t): (usize, usize),
    rollback: String,
) -> Step {
    let (an, tn) = (plan.name(asked), plan.name(t));
    Step {
        title: format!("ask Sentinel ({an}) to fail over to {tn}"),
        node: asked,
        kind: StepKind::SentinelFailover {
            master: master.to_string(),
            primary: p,
            target: t,
        },
        commands: vec![Command::SentinelFailover {
            master: master.to_string(),
            coordinated: false,
        }],
        waits_for: Some(format!(
            "{tn} reports role master (Sentinel's SLAVEOF NO ONE: the only replica it may pick)"
        )),
        deadline: Some(PROMOTE_WAIT),
        verify: format!("{tn} read back as a primary"),
        rollback,
        critical: true,
    }
}

/// The priorities of `others` put back, once Sentinel's failover is over.
pub(crate) fn push_restore_steps(plan: &mut Plan, others: &[(usize, u64)]) {
    for &(o, old) in others {
        let on = plan.name(o).to_string();
        plan.steps.push(Step {
            title: format!("put {on}'s replica-priority back to {old}"),
            node: o,
            kind: StepKind::RestorePriority,
            commands: vec![Command::ConfigSet(
                ConfigParam::ReplicaPriority,
                old.to_string(),
            )],
            waits_for: None,
            deadline: None,
            verify: "+OK".to_string(),
            rollback: format!("none: the warning names {on} and its value"),
            critical: false,
        });
    }
}
