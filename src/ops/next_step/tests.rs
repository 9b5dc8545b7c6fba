//! The decider, situation by situation: each one the engine's failure report, the advice on
//! an interrupted run or the console's offer handled before they shared these rules, with the
//! advice each gave, now typed.

use super::super::plan::ActionKind;
use super::*;
use crate::observe::NodeState;
use crate::topology::{Anomaly, GroupTopology, NodeView, Severity, Upstream};

fn primary(name: &str, replid: &str, offset: u64) -> NodeFacts {
    NodeFacts {
        name: name.into(),
        seen: Seen::Read(Repl {
            role: Role::Primary,
            replid: Some(replid.into()),
            replid2: None,
            offset: Some(offset),
            replica_offset: None,
            link_up: false,
            upstream: None,
            failing_over: false,
        }),
    }
}

fn replica(name: &str, of: &str, replid: &str, offset: u64, link_up: bool) -> NodeFacts {
    NodeFacts {
        name: name.into(),
        seen: Seen::Read(Repl {
            role: Role::Replica,
            replid: Some(replid.into()),
            replid2: None,
            offset: Some(offset),
            replica_offset: Some(offset),
            link_up,
            upstream: Some(of.into()),
            failing_over: false,
        }),
    }
}

fn silent(name: &str) -> NodeFacts {
    NodeFacts {
        name: name.into(),
        seen: Seen::Silent,
    }
}

fn unreadable(name: &str) -> NodeFacts {
    NodeFacts {
        name: name.into(),
        seen: Seen::Unreadable,
    }
}

fn with_replid2(mut n: NodeFacts, id2: &str) -> NodeFacts {
    if let Seen::Read(r) = &mut n.seen {
        r.replid2 = Some(id2.into());
    }
    n
}

fn after_run(nodes: Vec<NodeFacts>, old: &str) -> Situation {
    Situation::after_run(
        nodes,
        RunFacts {
            old_primary: Some(old.into()),
            ..RunFacts::default()
        },
    )
}

fn now(nodes: Vec<NodeFacts>) -> Situation {
    Situation {
        nodes,
        ..Situation::default()
    }
}

fn step(s: &Situation) -> NextStep {
    decide(s).next
}

// The engine's failure report.

#[test]
fn a_run_that_changed_nothing_says_so() {
    let s = after_run(
        vec![
            primary("p", "a", 10),
            replica("t", "p", "a", 10, true),
            replica("s", "p", "a", 10, true),
        ],
        "p",
    );
    let n = step(&s);
    assert_eq!(n.action, None);
    assert!(
        n.why
            .starts_with("nothing was changed: p is still the primary"),
        "{n}"
    );
    // A node that did not answer, or a demotion that may still run: not "nothing".
    let mut s2 = s.clone();
    s2.nodes[2] = silent("s");
    let n = step(&s2);
    assert_eq!(
        n,
        NextStep::manual("look at the state above; unreachable: s")
    );
    let mut s3 = s.clone();
    if let Some(r) = &mut s3.run {
        r.demotion_pending = true;
    }
    assert!(!step(&s3).why.contains("nothing was changed"));
}

#[test]
fn an_old_primary_that_answers_unreadable_is_never_promoted_over() {
    let s = after_run(
        vec![unreadable("p"), replica("t", "p", "a", 10, false)],
        "p",
    );
    let n = step(&s);
    assert_eq!(n.action, None);
    assert!(n.why.starts_with("p answers but cannot be read"), "{n}");
}

#[test]
fn an_old_primary_down_with_writes_paused_calls_for_a_promotion_with_its_loss_bound() {
    let mut s = after_run(
        vec![
            silent("p"),
            replica("t", "p", "a", 100, false),
            replica("s", "p", "a", 100, false),
        ],
        "p",
    );
    let n = step(&s);
    assert_eq!(
        (n.action, n.node.as_deref()),
        (Some(ActionKind::Promote), None)
    );
    assert!(n.why.contains("p is down with writes paused"), "{n}");
    assert!(n.why.contains("loss bound is unknown"), "{n}");
    assert!(
        n.why.contains("rejoin p as a replica when it is back"),
        "{n}"
    );
    if let Some(r) = &mut s.run {
        r.captured_offset = Some(100);
    }
    assert!(step(&s)
        .why
        .contains("every reachable replica is at the captured offset 100"));
    s.nodes[2] = replica("s", "p", "a", 90, false);
    assert!(step(&s)
        .why
        .contains("the captured offset was 100: promote the replica that reached it"));
}

#[test]
fn a_new_primary_after_a_run_has_the_others_brought_to_it() {
    let s = after_run(
        vec![
            replica("p", "t", "b", 10, true),
            primary("t", "b", 10),
            silent("s"),
        ],
        "p",
    );
    let n = step(&s);
    assert_eq!(n.action, Some(ActionKind::Repoint));
    assert_eq!(n.source.as_deref(), Some("t"));
    assert_eq!(
        n.why,
        "t is the primary now; bring the remaining nodes to it; unreachable: s"
    );
}

#[test]
fn two_primaries_after_a_run_call_for_a_rejoin() {
    let s = after_run(vec![primary("p", "a", 10), primary("t", "b", 10)], "p");
    let n = step(&s);
    assert_eq!(
        (n.action, n.node.as_deref()),
        (Some(ActionKind::Rejoin), None)
    );
    assert!(n.why.starts_with("more than one primary (p, t)"), "{n}");
    // When one was promoted from the other's history, the one to rejoin is named.
    let s = after_run(
        vec![
            primary("p", "a", 10),
            with_replid2(primary("t", "b", 10), "a"),
        ],
        "p",
    );
    let n = step(&s);
    assert_eq!(n.node.as_deref(), Some("p"));
    assert_eq!(n.source.as_deref(), Some("t"));
}

#[test]
fn an_old_primary_left_a_replica_without_a_loop_is_looked_at() {
    let s = after_run(vec![replica("p", "t", "a", 10, false), silent("t")], "p");
    assert_eq!(
        step(&s),
        NextStep::manual("look at the state above; unreachable: t")
    );
}

#[test]
fn a_command_that_may_still_run_is_said_first() {
    let mut s = after_run(vec![silent("p"), replica("t", "p", "a", 10, false)], "p");
    s.run = Some(RunFacts {
        old_primary: Some("p".into()),
        demotion_pending: true,
        pending: Some(Pending::Demotion {
            old: "p".into(),
            target: "t".into(),
        }),
        ..RunFacts::default()
    });
    let n = step(&s);
    assert!(
        n.why
            .starts_with("if p answers again as a replica of t, finish the switchover"),
        "{n}"
    );
    assert!(!n.why.contains("nothing was changed"));
    for (pending, first) in [
        (
            Pending::PromotionAfterDemotion {
                target: "t".into(),
                old: "p".into(),
            },
            "t never answered REPLICAOF NO ONE: when it answers it is the only primary",
        ),
        (
            Pending::Promotion { target: "t".into() },
            "t never answered REPLICAOF NO ONE: it may still run it",
        ),
    ] {
        if let Some(r) = &mut s.run {
            r.pending = Some(pending);
        }
        assert!(step(&s).why.starts_with(first), "{}", step(&s));
    }
}

// The advice on an interrupted run, and the console's offer (the group as polled now).

#[test]
fn a_failover_in_progress_is_aborted_first() {
    let mut p = primary("p", "a", 10);
    if let Seen::Read(r) = &mut p.seen {
        r.failing_over = true;
    }
    let n = step(&now(vec![p, replica("t", "p", "a", 10, true)]));
    assert_eq!(n.action, None);
    assert!(n.why.contains("FAILOVER ABORT on p"), "{n}");
}

#[test]
fn a_replication_loop_at_one_offset_is_finished_by_a_promotion() {
    let n = step(&now(vec![
        replica("p", "t", "a", 50, true),
        replica("t", "p", "a", 50, true),
    ]));
    assert_eq!(
        (n.action, n.node.as_deref()),
        (Some(ActionKind::Promote), None)
    );
    assert!(
        n.why
            .contains("p and t replicate from each other at the same offset"),
        "{n}"
    );
}

#[test]
fn no_primary_calls_for_the_most_advanced_replica_unless_nothing_answers() {
    let n = step(&now(vec![silent("p"), replica("t", "p", "a", 50, false)]));
    assert_eq!(n.action, Some(ActionKind::Promote));
    assert!(n.why.starts_with("no primary answers"), "{n}");
    let n = step(&now(vec![silent("p"), silent("t")]));
    assert_eq!(n.action, None);
}

#[test]
fn replicas_that_do_not_follow_the_primary_are_repointed_to_it() {
    let s = now(vec![
        primary("p", "a", 10),
        replica("t", "p", "a", 10, true),
        replica("s", "x", "c", 10, true),
        replica("u", "p", "a", 10, false),
    ]);
    let d = decide(&s);
    assert!(!d.settled);
    assert_eq!(d.next.action, Some(ActionKind::Repoint));
    assert_eq!(
        (d.next.node.as_deref(), d.next.source.as_deref()),
        (Some("s"), Some("p"))
    );
    assert!(
        d.next.why.contains("s, u do not follow it") && d.next.why.contains("repoint them"),
        "{}",
        d.next
    );
}

#[test]
fn a_consistent_group_is_settled_and_asks_for_nothing() {
    let d = decide(&now(vec![
        primary("p", "a", 10),
        replica("t", "p", "a", 10, true),
    ]));
    assert!(d.settled);
    assert_eq!(d.next.action, None);
    assert!(d
        .next
        .why
        .starts_with("the group is consistent: p is the only primary"));
}

#[test]
fn a_split_brain_names_the_old_primary_to_rejoin_and_unrelated_primaries_do_not() {
    let n = step(&now(vec![
        primary("p", "a", 10),
        with_replid2(primary("t", "b", 12), "a"),
    ]));
    assert_eq!(n.action, Some(ActionKind::Rejoin));
    assert_eq!(
        (n.node.as_deref(), n.source.as_deref()),
        (Some("p"), Some("t"))
    );
    assert!(
        n.why.contains("split brain") && n.why.contains("finish the demotion of p"),
        "{n}"
    );
    let n = step(&now(vec![primary("p", "a", 10), primary("t", "b", 12)]));
    assert_eq!(
        (n.action, n.node.as_deref()),
        (Some(ActionKind::Rejoin), None)
    );
    assert!(n.why.contains("on unrelated histories"), "{n}");
}

#[test]
fn an_old_primary_flagged_for_rejoin_comes_first() {
    let s = now(vec![primary("p", "a", 10), primary("t", "b", 12)])
        .also_rejoin(["p".to_string(), "p".to_string()]);
    assert_eq!(s.rejoin, vec!["p".to_string()]);
    let n = step(&s);
    assert_eq!(
        (n.action, n.node.as_deref()),
        (Some(ActionKind::Rejoin), Some("p"))
    );
}

// From the topology.

fn view(name: &str, port: u16, info: &str) -> NodeView {
    let mut v = NodeView::new(None, name, &format!("127.0.0.1:{port}"));
    v.state = NodeState::Up;
    let i = crate::info::parse(info);
    v.role = match i.replication.role {
        Some(crate::info::InfoRole::Primary) => Role::Primary,
        Some(crate::info::InfoRole::Replica) => Role::Replica,
        None => Role::Unknown,
    };
    v.replid = i.replication.replid.clone();
    v.info = Some(std::sync::Arc::new(i));
    v
}

#[test]
fn the_topology_gives_the_same_facts() {
    let mut p = view(
        "p",
        7000,
        "role:master\r\nmaster_replid:aaaa\r\nmaster_repl_offset:10\r\n",
    );
    p.stale_info = false;
    let mut t = view(
        "t",
        7001,
        "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:7000\r\nmaster_link_status:down\r\n\
         master_replid:aaaa\r\nmaster_repl_offset:10\r\nslave_repl_offset:10\r\n",
    );
    t.upstream = Some(Upstream {
        addr: "127.0.0.1:7000".into(),
        index: Some(0),
    });
    t.link = Some(crate::topology::Link::Down { since: None });
    let mut gone = NodeView::new(None, "s", "127.0.0.1:7002");
    gone.state = NodeState::Down;
    let mut g = GroupTopology {
        name: "g".into(),
        nodes: vec![p, t, gone],
        ..GroupTopology::default()
    };
    let s = Situation::of_group(&g);
    assert_eq!(s.nodes[2].seen, Seen::Silent);
    assert_eq!(
        s.nodes[1].repl().and_then(|r| r.upstream.as_deref()),
        Some("p")
    );
    let n = step(&s);
    assert_eq!(
        (n.action, n.node.as_deref(), n.source.as_deref()),
        (Some(ActionKind::Repoint), Some("t"), Some("p"))
    );
    // A stale primary the topology flags is the first to rejoin.
    g.anomalies.push(Anomaly {
        kind: crate::topology::AnomalyKind::StalePrimary,
        severity: Severity::Critical,
        nodes: vec!["t".into(), "p".into()],
        message: String::new(),
    });
    assert_eq!(Situation::of_group(&g).rejoin, vec!["t".to_string()]);
}

#[test]
fn the_plain_words_name_the_action_without_any_syntax() {
    let n = NextStep::action(ActionKind::Repoint, Some("s".into()), "why").from_source("p");
    assert_eq!(n.to_string(), "why (next: repoint s to p)");
    assert_eq!(NextStep::manual("look").to_string(), "look");
}
