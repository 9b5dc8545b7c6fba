//! The cluster steps on the simulated group, whose servers are not in cluster mode: a
//! `CLUSTER FAILOVER` (switchover) or `CLUSTER FAILOVER FORCE` (promotion) that the server
//! refuses fails with a next step that is the cluster's to decide (look at the shard, never a
//! redops role change), and nothing but that command was sent as a role change. The plans
//! themselves are judged against real clusters (`tests/servers/cluster*.rs`).

use std::time::Duration;

use redops::ops::fake::FakeOps;
use redops::ops::{self, ActionKind, Command, Plan, RunOutcome, RunStatus, Step, StepKind};

use crate::ops_engine::{approve, budgets, run};

/// A plan of one cluster step on `t` (a replica of `p`), run on the simulated group; its
/// outcome and the role changes sent.
async fn run_one(action: ActionKind, kind: StepKind, cmd: Command) -> (RunOutcome, Vec<String>) {
    let fake = FakeOps::group(&["p", "t"]);
    let (config, _) = fake.config_and_topology("g");
    let g = &config.groups[0];
    let mut plan = Plan::new(action, "g", 0, budgets());
    let id = |node| redops::observe::NodeId { group: 0, node };
    let pi = plan.add_node("p", &g.nodes[0].addr, id(0));
    let ti = plan.add_node("t", &g.nodes[1].addr, id(1));
    plan.confirm = ops::Confirm::TypeName("t".into());
    plan.snapshots.push(if action == ActionKind::Switchover {
        pi
    } else {
        ti
    });
    let kind = match kind {
        StepKind::ClusterFailover { .. } => StepKind::ClusterFailover { primary: pi },
        other => other,
    };
    plan.steps.push(Step {
        title: format!("{cmd} on t"),
        node: ti,
        kind,
        commands: vec![cmd],
        waits_for: None,
        deadline: Some(Duration::from_secs(1)),
        verify: String::new(),
        rollback: String::new(),
        critical: true,
    });
    let (out, _) = run(&fake, &plan, &approve("t")).await;
    let role_changes = fake
        .log()
        .into_iter()
        .filter(|l| l.contains("REPLICAOF") || l.contains("PAUSE") || l.contains("FAILOVER"))
        .collect();
    (out, role_changes)
}

#[tokio::test]
async fn a_failed_cluster_failover_leaves_the_roles_to_the_cluster() {
    let (out, sent) = run_one(
        ActionKind::Switchover,
        StepKind::ClusterFailover { primary: 0 },
        Command::ClusterFailover,
    )
    .await;
    assert_eq!(out.status, RunStatus::Failed, "{out:?}");
    let next = out.next_step.expect("a next step");
    assert_eq!(next.action, None);
    assert!(
        next.why.starts_with("the cluster decides the roles"),
        "{}",
        next.why
    );
    assert!(
        sent.iter().all(|l| l.contains("CLUSTER FAILOVER")),
        "{sent:?}"
    );
}

#[tokio::test]
async fn a_refused_forced_failover_leaves_the_roles_to_the_cluster() {
    let (out, sent) = run_one(
        ActionKind::Promote,
        StepKind::ClusterForceFailover { takeover: false },
        Command::ClusterFailoverForced { takeover: false },
    )
    .await;
    assert_eq!(out.status, RunStatus::Failed, "{out:?}");
    assert!(
        out.detail.contains("CLUSTER FAILOVER FORCE on t failed"),
        "{}",
        out.detail
    );
    let next = out.next_step.expect("a next step");
    assert_eq!(next.action, None, "never a redops role change");
    assert!(
        next.why.starts_with("the cluster decides the roles")
            && next.why.contains("t did not take"),
        "{}",
        next.why
    );
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("CLUSTER FAILOVER FORCE"), "{sent:?}");
}
