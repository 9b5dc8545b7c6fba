//! Plans of `promote` around an old primary that is not proven down (DESIGN invariant 9): the
//! refusal is hard, names the reason and the fix; a proven-down primary still passes.

use std::time::{Duration, SystemTime};

use super::{plan_promote, PromoteRequest};
use crate::observe::{NodeError, NodeState};
use crate::ops::fake::FakeOps;
use crate::ops::plan::{Budgets, CheckStatus};
use crate::topology::{Link, Topology};

fn req() -> PromoteRequest {
    PromoteRequest {
        node: None,
        budgets: Budgets::default(),
        max_extra_link_down: Duration::from_secs(60),
        now: SystemTime::now(),
    }
}

/// p has stopped answering INFO; r1 and r2 still point to it with their links down.
fn group() -> (crate::config::Config, Topology) {
    let fake = FakeOps::group(&["p", "r1", "r2"]);
    fake.node("p", |n| n.down = true);
    for r in ["r1", "r2"] {
        fake.node(r, |n| n.link_up = false);
    }
    fake.config_and_topology("g")
}

fn set_primary(topo: &mut Topology, state: NodeState, error: NodeError) {
    let p = &mut topo.groups[0].nodes[0];
    assert_eq!(p.name, "p");
    p.state = state;
    p.error = Some(error);
}

/// The plan's checks about p, in order.
fn about_p(plan: &crate::ops::Plan) -> Vec<(CheckStatus, bool, String)> {
    plan.checks
        .iter()
        .filter(|c| c.message.starts_with("p "))
        .map(|c| (c.status, c.overridable, c.message.clone()))
        .collect()
}

#[test]
fn a_primary_that_answers_with_an_error_is_never_promoted_around() {
    for (state, error, fix) in [
        (
            NodeState::AuthError,
            NodeError::Auth("NOAUTH Authentication required.".into()),
            "password",
        ),
        (
            NodeState::NoPerm,
            NodeError::NoPerm("info".into()),
            "the ACL user needs +info",
        ),
        (NodeState::Busy, NodeError::Busy, "script"),
        (NodeState::Loading, NodeError::Loading, "loaded its dataset"),
        (
            NodeState::Error,
            NodeError::Other("ERR max number of clients reached".into()),
            "alive",
        ),
    ] {
        let (config, mut topo) = group();
        set_primary(&mut topo, state, error);
        let pp = plan_promote(&config, &topo, &req()).unwrap();
        assert!(pp.plan.has_hard_failure(), "{state:?}: {}", pp.plan);
        let p = about_p(&pp.plan);
        assert!(
            p.iter().all(|(s, _, _)| *s != CheckStatus::Pass),
            "{state:?}: {p:?}"
        );
        assert!(
            p.iter().any(|(s, o, m)| *s == CheckStatus::Fail
                && !o
                && m.starts_with("p answers but cannot be read")
                && m.contains("two primaries")
                && m.contains(fix)),
            "{state:?}: {p:?}"
        );
    }
}

#[test]
fn a_silent_primary_with_a_replica_link_up_is_alive() {
    for (state, error) in [
        (
            NodeState::Down,
            NodeError::Refused("connection refused".into()),
        ),
        (
            NodeState::Unresponsive,
            NodeError::Unresponsive(Duration::from_secs(1)),
        ),
    ] {
        let (config, mut topo) = group();
        set_primary(&mut topo, state, error);
        let r2 = &mut topo.groups[0].nodes[2];
        assert_eq!(r2.name, "r2");
        r2.link = Some(Link::Up);
        let pp = plan_promote(&config, &topo, &req()).unwrap();
        assert!(pp.plan.has_hard_failure(), "{state:?}: {}", pp.plan);
        let p = about_p(&pp.plan);
        assert!(
            p.iter().any(|(s, o, m)| *s == CheckStatus::Fail
                && !o
                && m.contains("r2's link to it is up")),
            "{state:?}: {p:?}"
        );
    }
}

#[test]
fn a_proven_down_primary_may_be_promoted_around() {
    let (config, topo) = group();
    let pp = plan_promote(&config, &topo, &req()).unwrap();
    assert!(pp.plan.checks_pass(), "{}", pp.plan);
    let p = about_p(&pp.plan);
    assert!(
        p.iter().any(|(s, _, m)| *s == CheckStatus::Pass
            && m.starts_with("p is down (connection refused) and no replica's link to it is up")),
        "{p:?}"
    );
}

#[test]
fn another_unreadable_node_of_unknown_role_needs_a_reason() {
    let fake = FakeOps::group(&["p", "r1", "x"]);
    fake.node("p", |n| n.down = true);
    fake.node("r1", |n| n.link_up = false);
    let (config, mut topo) = fake.config_and_topology("g");
    let x = &mut topo.groups[0].nodes[2];
    assert_eq!(x.name, "x");
    x.state = NodeState::AuthError;
    x.error = Some(NodeError::Auth("WRONGPASS".into()));
    x.info = None;
    x.upstream = None;
    x.link = None;
    let pp = plan_promote(&config, &topo, &req().clone()).unwrap();
    assert!(!pp.plan.has_hard_failure(), "{}", pp.plan);
    assert!(
        pp.plan.failures().any(|c| c.overridable
            && c.message.starts_with("x answers but cannot be read")
            && c.message.contains("its role is unknown")),
        "{}",
        pp.plan
    );
}

/// `promote` while the primary is up: refused as before, and the plan says why in its summary,
/// ranks no chained replica first, and names the chain's upstream by name.
#[test]
fn a_promote_while_the_primary_is_up_says_so() {
    let fake = FakeOps::group(&["p", "r1", "r2", "r3"]);
    // r2 chained under r1, ahead of it on the stream.
    fake.node("r2", |n| {
        n.master = Some(crate::config::Addr {
            host: "127.0.0.1".into(),
            port: 7001,
        });
    });
    let (config, topo) = fake.config_and_topology("g");
    let pp = plan_promote(&config, &topo, &req()).unwrap();
    let plan = &pp.plan;
    assert!(!plan.checks_pass(), "{plan}");
    assert!(
        plan.summary
            .starts_with("promote r1 while p is up and the primary (refused"),
        "{}",
        plan.summary
    );
    assert_eq!(pp.candidates.best().map(|c| c.name.as_str()), Some("r1"));
    let text = plan.to_string();
    assert!(
        text.contains("r2 replicates from r1 (chained)") && !text.contains("from 127.0.0.1"),
        "{text}"
    );
    assert!(!text.contains("the old primary"), "{text}");
    assert!(
        !text.contains("p is marked for rejoin") && !text.contains("r3 replicates from p"),
        "a primary up is not an old one, and its direct replicas are not chained: {text}"
    );
}
