//! Engine tests on the simulated group (`ops::fake`): ordering, rollback, unpause on every
//! error path, every refusal, the snapshot gate's cases, the native strategy, the audit trail.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use redops::audit::{self, AuditLog};
use redops::ops::fake::{Effect, FailoverEnd, FakeOps, SaveEnd};
use redops::ops::switchover::{plan_failback, plan_switchover, SwitchoverRequest};
use redops::ops::{self, Approval, Budgets, Plan, RunOutcome, RunStatus, Strategy};

pub(crate) fn budgets() -> Budgets {
    Budgets {
        pause: Duration::from_secs(10),
        catch_up: Duration::from_millis(100),
        failover: Duration::from_millis(200),
        verify: Duration::from_millis(300),
        snapshot: Duration::from_secs(2),
        command: Duration::from_millis(100),
        max_rtt: Duration::from_millis(500),
        download: Duration::from_secs(2),
    }
}

fn plan(fake: &FakeOps, to: &str, strategy: Strategy) -> Plan {
    let (config, topo) = fake.config_and_topology("g");
    plan_switchover(
        &config,
        &topo,
        &SwitchoverRequest {
            to: to.to_string(),
            strategy,
            budgets: budgets(),
            download_dir: None,
        },
    )
    .unwrap()
}

pub(crate) fn approve(name: &str) -> Approval {
    Approval {
        confirmation: Some(name.to_string()),
        ..Approval::default()
    }
}

pub(crate) async fn run(
    fake: &FakeOps,
    plan: &Plan,
    approval: &Approval,
) -> (RunOutcome, AuditLog) {
    let mut log = AuditLog::memory();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let out = ops::run(plan, approval, fake, &mut log, &tx).await;
    (out, log)
}

fn position(log: &[String], needle: &str) -> usize {
    log.iter()
        .position(|l| l == needle)
        .unwrap_or_else(|| panic!("'{needle}' not sent; log: {log:#?}"))
}

fn no_role_change(fake: &FakeOps) {
    let log = fake.log();
    assert!(
        !log.iter()
            .any(|l| l.contains("REPLICAOF") || l.contains("PAUSE") || l.contains("FAILOVER")),
        "a role change was sent: {log:#?}"
    );
}

/// After any run: never two writable primaries, no pause left behind on a primary.
fn settled(fake: &FakeOps) {
    fake.with(|w| {
        assert!(
            w.violations.is_empty(),
            "two writable primaries: {:?}",
            w.violations
        );
        for n in &w.nodes {
            // A frozen node cannot be unpaused: its pause expires by itself.
            if n.primary && !n.down && !n.frozen {
                assert!(
                    n.paused_until.is_none(),
                    "{} left paused; log {:#?}",
                    n.name,
                    w.log
                );
            }
        }
    });
}

#[tokio::test]
async fn manual_switchover_order_and_result() {
    let fake = FakeOps::group(&["p", "t", "s"]);
    fake.node("p", |n| n.config_file = "/etc/redis.conf".into());
    let plan = plan(&fake, "t", Strategy::Manual);
    assert!(plan.checks_pass(), "{plan}");
    let text = plan.to_string();
    assert!(text.contains("CLIENT PAUSE"), "{text}");
    let (out, log) = run(&fake, &plan, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    let cmds = fake.log();
    let pause = position(
        &cmds,
        &format!("p: CLIENT PAUSE {} WRITE", 10_000.max(plan_pause(&plan))),
    );
    let promote = position(&cmds, "t: REPLICAOF NO ONE");
    let demote = position(&cmds, "p: REPLICAOF 127.0.0.1 7001");
    let sib = position(&cmds, "s: REPLICAOF 127.0.0.1 7001");
    let unpause = position(&cmds, "p: CLIENT UNPAUSE");
    let bgsave = position(&cmds, "p: BGSAVE");
    // Demote first: no node is promoted while the old primary could become writable by itself
    // (a pause that expires). The siblings come after the unpause: one that does not answer
    // never holds the writers.
    assert!(
        bgsave < pause && pause < demote && demote < promote && promote < unpause && unpause < sib,
        "{cmds:#?}"
    );
    assert!(cmds.contains(&"p: CONFIG REWRITE".to_string()));
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("without a config file")),
        "{:?}",
        out.warnings
    );
    settled(&fake);
    fake.with(|w| {
        assert!(w.nodes[1].primary);
        assert!(!w.nodes[0].primary && w.nodes[2].master == Some(w.nodes[1].addr.clone()));
        assert_eq!(w.nodes[1].sync_full, 0, "partial resyncs only");
    });
    let recs = log.records();
    assert_eq!(recs.first().map(|r| r.event.as_str()), Some("RunStarted"));
    assert_eq!(recs.last().map(|r| r.event.as_str()), Some("RunFinished"));
    assert!(recs
        .iter()
        .any(|r| r.commands.iter().any(|c| c.contains("REPLICAOF NO ONE"))));
    assert!(recs.iter().all(|r| r.run_id == out.run_id));
}

fn plan_pause(plan: &Plan) -> u64 {
    plan.steps
        .iter()
        .find_map(|s| match s.kind {
            ops::StepKind::PauseWrites { ms } => Some(ms),
            _ => None,
        })
        .unwrap()
}

#[tokio::test]
async fn catch_up_timeout_rolls_back_and_changes_nothing_else() {
    let fake = FakeOps::group(&["p", "t", "s"]);
    let plan = plan(&fake, "t", Strategy::Manual);
    fake.node("t", |n| n.lagging = true);
    let (out, _) = run(&fake, &plan, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(out.detail.contains("did not catch up"), "{}", out.detail);
    assert!(
        out.next_step
            .as_ref()
            .is_some_and(|n| n.why.contains("nothing was changed")),
        "{out:#?}"
    );
    let cmds = fake.log();
    assert!(position(&cmds, "p: CLIENT PAUSE 10000 WRITE") < position(&cmds, "p: CLIENT UNPAUSE"));
    assert!(!cmds.iter().any(|c| c.contains("REPLICAOF")), "{cmds:#?}");
    settled(&fake);
    fake.with(|w| assert!(w.nodes[0].primary && !w.nodes[1].primary));
}

#[tokio::test]
async fn every_error_path_unpauses_and_never_two_writable_primaries() {
    let boom = || Effect::Error("ERR boom".into());
    // (node, command prefix, active after, effect, the run must fail)
    let points: &[(&str, &str, &str, Effect, bool)] = &[
        ("p", "CLIENT PAUSE", "p: CLIENT LIST", boom(), true),
        ("t", "INFO", "p: CLIENT PAUSE", Effect::Freeze, true),
        ("t", "INFO", "p: CLIENT PAUSE", Effect::Kill, true),
        // One failed read during the catch-up is retried.
        ("p", "INFO", "p: CLIENT PAUSE", boom(), false),
        ("p", "INFO", "p: CLIENT PAUSE", Effect::Kill, true),
        ("p", "REPLICAOF", "p: CLIENT PAUSE", boom(), true),
        ("p", "REPLICAOF", "p: CLIENT PAUSE", Effect::Kill, true),
        ("p", "REPLICAOF", "p: CLIENT PAUSE", Effect::Freeze, true),
        // Unanswered, then answering: driven forward (watched, fenced, sent again).
        ("p", "REPLICAOF", "p: CLIENT PAUSE", Effect::Stall(3), false),
        ("t", "REPLICAOF NO ONE", "p: REPLICAOF", boom(), true),
        ("t", "REPLICAOF NO ONE", "p: REPLICAOF", Effect::Kill, true),
        (
            "t",
            "REPLICAOF NO ONE",
            "p: REPLICAOF",
            Effect::Freeze,
            true,
        ),
        (
            "t",
            "REPLICAOF NO ONE",
            "p: REPLICAOF",
            Effect::Stall(3),
            false,
        ),
        ("s", "REPLICAOF", "t: REPLICAOF NO ONE", boom(), true),
        ("s", "REPLICAOF", "t: REPLICAOF NO ONE", Effect::Kill, true),
        (
            "s",
            "REPLICAOF",
            "t: REPLICAOF NO ONE",
            Effect::Freeze,
            true,
        ),
        ("p", "CLIENT UNPAUSE", "t: REPLICAOF NO ONE", boom(), false),
        // One failed read during the verification is retried.
        ("t", "INFO", "p: CLIENT UNPAUSE", boom(), false),
    ];
    for (node, prefix, after, effect, must_fail) in points {
        let fake = FakeOps::group(&["p", "t", "s"]);
        let plan = plan(&fake, "t", Strategy::Manual);
        fake.inject_after(node, prefix, after, effect.clone());
        let (out, _) = run(&fake, &plan, &approve("t")).await;
        let label = format!("{node} {prefix} (after {after}) {effect:?}");
        fake.with(|w| {
            assert!(w.violations.is_empty(), "{label}: {:?}", w.violations);
            let writable: Vec<_> = w
                .nodes
                .iter()
                .filter(|n| n.primary && !n.down && n.paused_until.is_none())
                .collect();
            assert!(writable.len() <= 1, "{label}: {writable:?}");
        });
        if *prefix == "CLIENT UNPAUSE" {
            // The unpause itself failed: non-critical, the pause expires by itself.
            assert_eq!(out.status, RunStatus::Done, "{label}: {out:#?}");
            assert!(
                out.warnings.iter().any(|w| w.contains("CLIENT UNPAUSE")),
                "{label}"
            );
            continue;
        }
        if !must_fail {
            assert_eq!(out.status, RunStatus::Done, "{label}: {out:#?}");
            settled(&fake);
            continue;
        }
        assert_eq!(out.status, RunStatus::Failed, "{label}: {out:#?}");
        assert!(out.next_step.is_some(), "{label}");
        if *node == "s" {
            assert!(
                out.detail.contains("s:"),
                "{label}: verify names the sibling: {}",
                out.detail
            );
            let cmds = fake.log();
            assert!(
                position(&cmds, "p: CLIENT UNPAUSE")
                    < position(&cmds, "s: REPLICAOF 127.0.0.1 7001"),
                "{label}: the sibling held the pause: {cmds:#?}"
            );
        }
        settled(&fake);
    }
}

#[tokio::test]
async fn a_target_that_answers_its_promotion_late_is_fenced_and_the_run_goes_on() {
    let fake = FakeOps::group(&["p", "t", "s"]);
    let plan = plan(&fake, "t", Strategy::Manual);
    // The promotion gets no answer; the target runs it a few fake ms later, while watched.
    fake.inject("t", "REPLICAOF NO ONE", 0, Effect::Stall(3));
    let (out, _) = run(&fake, &plan, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    let cmds = fake.log();
    let demote = position(&cmds, "p: REPLICAOF 127.0.0.1 7001");
    let woke = position(&cmds, "t: (woke) REPLICAOF NO ONE");
    let fence = position(&cmds, "t: CLIENT KILL ID 1");
    let unpause = position(&cmds, "p: CLIENT UNPAUSE");
    assert!(
        demote < woke && woke < fence && fence < unpause,
        "{cmds:#?}"
    );
    fake.with(|w| assert!(!w.nodes[0].primary && w.nodes[1].primary && !w.nodes[2].primary));
    settled(&fake);
}

#[tokio::test]
async fn a_target_silent_through_the_watch_leaves_the_old_primary_a_replica() {
    let fake = FakeOps::group(&["p", "t", "s"]);
    let plan = plan(&fake, "t", Strategy::Manual);
    fake.inject("t", "REPLICAOF NO ONE", 0, Effect::Stall(1_000_000));
    let (out, log) = run(&fake, &plan, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Failed, "{out:#?}");
    let next = out
        .next_step
        .clone()
        .map(|n| n.to_string())
        .unwrap_or_default();
    assert!(
        next.contains("t never answered REPLICAOF NO ONE") && !next.contains("nothing was changed"),
        "{next}"
    );
    let rolled_back: Vec<String> = log
        .records()
        .into_iter()
        .filter(|r| r.event == "RolledBack")
        .filter_map(|r| r.detail)
        .collect();
    assert!(
        rolled_back
            .iter()
            .any(|r| r.contains("p stays a replica of t")),
        "{rolled_back:#?}"
    );
    let cmds = fake.log();
    // The old primary is not made a primary again: the target may still promote itself.
    assert!(
        !cmds.iter().any(|c| c == "p: REPLICAOF NO ONE"),
        "{cmds:#?}"
    );
    assert!(position(&cmds, "p: CLIENT UNPAUSE") > position(&cmds, "t: REPLICAOF NO ONE"));
    settled(&fake);
    // No node takes writes until the target answers: then it alone is the primary.
    fake.with(|w| assert!(w.nodes.iter().all(|n| !n.primary)));
}

#[tokio::test]
async fn a_refused_promotion_makes_the_old_primary_primary_again() {
    let fake = FakeOps::group(&["p", "t"]);
    let plan = plan(&fake, "t", Strategy::Manual);
    fake.inject("t", "REPLICAOF NO ONE", 0, Effect::Error("ERR boom".into()));
    let (out, _) = run(&fake, &plan, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Failed);
    let cmds = fake.log();
    let back = position(&cmds, "p: REPLICAOF NO ONE");
    assert!(back < position(&cmds, "p: CLIENT UNPAUSE"), "{cmds:#?}");
    fake.with(|w| assert!(w.nodes[0].primary && !w.nodes[1].primary));
    settled(&fake);
}

#[tokio::test]
async fn a_refused_demotion_changes_nothing() {
    let fake = FakeOps::group(&["p", "t"]);
    let plan = plan(&fake, "t", Strategy::Manual);
    fake.inject("p", "REPLICAOF", 0, Effect::Error("ERR boom".into()));
    let (out, _) = run(&fake, &plan, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Failed);
    let next = out.next_step.map(|n| n.to_string()).unwrap_or_default();
    assert!(next.contains("nothing was changed"), "{next}");
    let cmds = fake.log();
    assert!(
        !cmds.iter().any(|c| c.starts_with("t: REPLICAOF")),
        "{cmds:#?}"
    );
    fake.with(|w| assert!(w.nodes[0].primary && !w.nodes[1].primary));
    settled(&fake);
}

#[tokio::test]
async fn a_demotion_answered_late_is_fenced_and_the_run_goes_on() {
    let fake = FakeOps::group(&["p", "t", "s"]);
    let plan = plan(&fake, "t", Strategy::Manual);
    fake.inject("p", "REPLICAOF", 0, Effect::Stall(3));
    let (out, _) = run(&fake, &plan, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    let cmds = fake.log();
    let woke = position(&cmds, "p: (woke) REPLICAOF 127.0.0.1 7001");
    let fence = position(&cmds, "p: CLIENT KILL ID 1");
    let promote = position(&cmds, "t: REPLICAOF NO ONE");
    assert!(woke < fence && fence < promote, "{cmds:#?}");
    settled(&fake);
}

#[tokio::test]
async fn a_demotion_never_answered_is_never_reported_as_nothing_changed() {
    let fake = FakeOps::group(&["p", "t", "s"]);
    let plan = plan(&fake, "t", Strategy::Manual);
    fake.inject("p", "REPLICAOF", 0, Effect::Stall(1_000_000));
    let (out, _) = run(&fake, &plan, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Failed, "{out:#?}");
    let next = out
        .next_step
        .clone()
        .map(|n| n.to_string())
        .unwrap_or_default();
    assert!(
        next.contains("p never answered its demotion") || out.detail.contains("got no answer"),
        "{out:#?}"
    );
    assert!(!next.contains("nothing was changed"), "{next}");
    // The target is never promoted while the old primary may still be a primary.
    let cmds = fake.log();
    assert!(
        !cmds.iter().any(|c| c == "t: REPLICAOF NO ONE"),
        "{cmds:#?}"
    );
    settled(&fake);
}

#[tokio::test]
async fn primary_killed_after_the_pause_is_explained() {
    let fake = FakeOps::group(&["p", "t", "s"]);
    let plan = plan(&fake, "t", Strategy::Manual);
    fake.inject_after("p", "INFO", "p: CLIENT PAUSE", Effect::Kill);
    let (out, _) = run(&fake, &plan, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Failed);
    let next = out.next_step.map(|n| n.to_string()).unwrap_or_default();
    assert!(
        next.contains("p is down") && next.contains("promote"),
        "{next}"
    );
    assert!(
        out.state.iter().any(|l| l.starts_with("p: unreachable")),
        "{:?}",
        out.state
    );
    settled(&fake);
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one scenario per refusal, each checked the same way.
async fn refusals_send_no_role_change() {
    // Read-only.
    let fake = FakeOps::group(&["p", "t"]);
    let p = plan(&fake, "t", Strategy::Manual);
    let a = Approval {
        read_only: true,
        ..approve("t")
    };
    let (out, log) = run(&fake, &p, &a).await;
    assert_eq!((out.status, out.exit_code()), (RunStatus::Refused, 3));
    assert!(out.detail.contains("read-only"));
    assert_eq!(
        log.records().last().map(|r| r.outcome),
        Some(Some(audit::Outcome::Refused))
    );
    no_role_change(&fake);

    // Group read-only by config, Sentinel, cluster.
    for which in ["read_only", "sentinel", "cluster"] {
        let fake = FakeOps::group(&["p", "t"]);
        let (mut config, topo) = fake.config_and_topology("g");
        match which {
            "read_only" => config.groups[0].read_only = true,
            "sentinel" => {
                config.groups[0].sentinel = Some(redops::config::Sentinel {
                    addrs: vec![],
                    master_name: "m".into(),
                });
            }
            _ => config.groups[0].cluster = true,
        }
        let req = SwitchoverRequest {
            to: "t".into(),
            strategy: Strategy::Manual,
            budgets: budgets(),
            download_dir: None,
        };
        let p = plan_switchover(&config, &topo, &req).unwrap();
        let (out, log) = run(&fake, &p, &approve("t")).await;
        assert_eq!(out.status, RunStatus::Refused, "{which}");
        let refusal = log
            .records()
            .into_iter()
            .find(|r| r.event == "PrecheckFailed");
        assert_eq!(
            refusal.and_then(|r| r.hint),
            out.hint,
            "{which}: the log keeps the hint the operator was given"
        );
        let word = if which == "read_only" {
            "read-only"
        } else {
            which
        };
        assert!(
            out.detail.to_lowercase().contains(word),
            "{which}: {}",
            out.detail
        );
        if which == "cluster" {
            // A cluster's switchover is its CLUSTER FAILOVER, planned from the cluster's own
            // map: the simulated group has none, so a failed check refuses it.
            assert!(out.detail.contains("CLUSTER NODES"), "{}", out.detail);
        } else if which == "sentinel" {
            // A Sentinel group's switchover goes through Sentinel, planned from Sentinel's
            // view: the simulated group has no sentinel, so a failed check refuses it.
            assert!(out.detail.contains("Sentinel's view"), "{}", out.detail);
        } else {
            assert!(
                out.hint.is_some() || which == "read_only",
                "{which}: says what to do instead"
            );
        }
        no_role_change(&fake);
    }

    // Sentinel seen in CLIENT LIST; another console holding the lock.
    for (line, word) in [
        (
            "id=9 addr=127.0.0.1:5 laddr=x fd=9 name=sentinel-ca06ba0d-cmd age=9 idle=0",
            "Sentinel",
        ),
        (
            "id=9 addr=10.1.1.1:5 laddr=x fd=9 name=redops-action:bob@b2:77 age=9 idle=0",
            "bob@b2:77",
        ),
    ] {
        let fake = FakeOps::group(&["p", "t"]);
        fake.node("p", |n| n.clients.push(line.to_string()));
        let p = plan(&fake, "t", Strategy::Manual);
        let (out, _) = run(&fake, &p, &approve("t")).await;
        assert_eq!(out.status, RunStatus::Refused);
        assert!(out.detail.contains(word), "{}", out.detail);
        no_role_change(&fake);
    }

    // Missing or wrong confirmation.
    for conf in [None, Some("p".to_string())] {
        let fake = FakeOps::group(&["p", "t"]);
        let p = plan(&fake, "t", Strategy::Manual);
        let a = Approval {
            confirmation: conf,
            ..Approval::default()
        };
        let (out, _) = run(&fake, &p, &a).await;
        assert_eq!(out.status, RunStatus::Refused);
        assert!(out.detail.contains("not confirmed"));
        no_role_change(&fake);
    }

    // A target over the lag limit: refused without a reason, runs with --force --reason.
    let fake = FakeOps::group(&["p", "t"]);
    fake.node("t", |n| n.offset = 1);
    fake.node("p", |n| n.offset = 5_000_000);
    fake.node("t", |n| n.lagging = true);
    let p = plan(&fake, "t", Strategy::Manual);
    let lag = p
        .failures()
        .find(|c| c.message.contains("behind"))
        .expect("lag check fails");
    assert!(
        lag.overridable && lag.message.contains("over the 1.0 MB limit"),
        "{}",
        lag.message
    );
    let (out, _) = run(&fake, &p, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Refused);
    assert!(out.overridable, "an override lifts it: {out:?}");
    no_role_change(&fake);
    fake.node("t", |n| n.lagging = false);
    let a = Approval {
        force_reason: Some("drill".into()),
        ..approve("t")
    };
    let (out, log) = run(&fake, &p, &a).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    let rec = log
        .records()
        .into_iter()
        .find(|r| r.event == "PrecheckPassed")
        .unwrap();
    assert!(
        rec.reason.unwrap_or_default().contains("drill"),
        "the override reason is recorded"
    );

    // A hard failure cannot be forced: the target's link is down.
    let fake = FakeOps::group(&["p", "t"]);
    fake.node("p", |n| n.frozen = true);
    let (config, topo) = fake.config_and_topology("g");
    fake.node("p", |n| n.frozen = false);
    let req = SwitchoverRequest {
        to: "t".into(),
        strategy: Strategy::Manual,
        budgets: budgets(),
        download_dir: None,
    };
    let p = plan_switchover(&config, &topo, &req).unwrap();
    assert!(p.has_hard_failure());
    let a = Approval {
        force_reason: Some("please".into()),
        ..approve("t")
    };
    let (out, _) = run(&fake, &p, &a).await;
    assert_eq!(out.status, RunStatus::Refused);
    no_role_change(&fake);
}

#[tokio::test]
async fn link_down_target_is_explained() {
    let fake = FakeOps::group(&["p", "t", "s"]);
    fake.node("t", |n| {
        n.link_up = false;
        n.lagging = true;
    });
    // Poll as-is (the fake recomputes links on every command, so read the plan first).
    let (config, mut topo) = fake.config_and_topology("g");
    let v = topo.groups[0]
        .nodes
        .iter_mut()
        .find(|n| n.name == "t")
        .unwrap();
    v.link = Some(redops::topology::Link::Down {
        since: Some(Duration::from_secs(42)),
    });
    let mut info = (**v.info.as_ref().unwrap()).clone();
    info.replication.link_up = Some(false);
    v.info = Some(std::sync::Arc::new(info));
    let req = SwitchoverRequest {
        to: "t".into(),
        strategy: Strategy::Manual,
        budgets: budgets(),
        download_dir: None,
    };
    let p = plan_switchover(&config, &topo, &req).unwrap();
    assert!(
        p.failures().any(
            |c| c.message == "t cannot be the target: its link has been down for 42s"
                && !c.overridable
        ),
        "{p}"
    );
}

#[tokio::test]
async fn snapshot_gate_cases() {
    // AOF rewrite running: BGSAVE SCHEDULE, then the save after it.
    let fake = FakeOps::group(&["p", "t"]);
    fake.node("p", |n| n.aof_polls = 10);
    let p = plan(&fake, "t", Strategy::Manual);
    let (out, _) = run(&fake, &p, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    assert!(
        fake.log().contains(&"p: BGSAVE SCHEDULE".to_string()),
        "{:#?}",
        fake.log()
    );

    // Another child (diskless transfer) runs: "already in progress", wait, ask again.
    let fake = FakeOps::group(&["p", "t"]);
    fake.node("p", |n| {
        n.save_polls = 4;
        n.save_end = SaveEnd::NoFile;
    });
    let p = plan(&fake, "t", Strategy::Manual);
    let (out, _) = run(&fake, &p, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    let bgsaves = fake
        .log()
        .iter()
        .filter(|l| l.as_str() == "p: BGSAVE")
        .count();
    assert_eq!(
        bgsaves,
        2,
        "re-issued after the transfer: {:#?}",
        fake.log()
    );

    // The save fails: refused before any pause, MISCONF explained.
    let fake = FakeOps::group(&["p", "t"]);
    fake.node("p", |n| n.save_end = SaveEnd::Fail);
    let p = plan(&fake, "t", Strategy::Manual);
    let (out, _) = run(&fake, &p, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Refused);
    assert!(
        out.detail.contains("rdb_last_bgsave_status:err") && out.detail.contains("MISCONF"),
        "{}",
        out.detail
    );
    no_role_change(&fake);

    // The save ends "ok" without a fresh last save time: not a snapshot.
    let fake = FakeOps::group(&["p", "t"]);
    fake.node("p", |n| n.save_end = SaveEnd::NoFile);
    let p = plan(&fake, "t", Strategy::Manual);
    let (out, _) = run(&fake, &p, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Refused);
    assert!(
        out.detail.contains("older than the request"),
        "{}",
        out.detail
    );
    no_role_change(&fake);

    // Skipped with a reason: recorded, no BGSAVE.
    let fake = FakeOps::group(&["p", "t"]);
    let p = plan(&fake, "t", Strategy::Manual);
    let a = Approval {
        skip_snapshot_reason: Some("fresh backup at 10:02".into()),
        ..approve("t")
    };
    let (out, log) = run(&fake, &p, &a).await;
    assert_eq!(out.status, RunStatus::Done);
    assert!(!fake.log().iter().any(|l| l.contains("BGSAVE")));
    assert!(log
        .records()
        .iter()
        .any(|r| r.event == "SnapshotSkipped"
            && r.reason.as_deref() == Some("fresh backup at 10:02")));
}

#[tokio::test]
async fn native_strategy_repoints_siblings_and_aborts_on_failure() {
    let fake = FakeOps::group(&["p", "t", "s"]);
    let p = plan(&fake, "t", Strategy::Native);
    assert!(p.checks_pass(), "{p}");
    let (out, _) = run(&fake, &p, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    let cmds = fake.log();
    let fo = position(&cmds, "p: FAILOVER TO 127.0.0.1 7001 TIMEOUT 200");
    assert!(fo < position(&cmds, "s: REPLICAOF 127.0.0.1 7001"));
    assert!(!cmds.iter().any(|c| c.contains("PAUSE")));
    settled(&fake);

    // The server gives up by itself: nothing changed.
    let fake = FakeOps::group(&["p", "t", "s"]);
    fake.node("p", |n| n.next_failover = (FailoverEnd::Timeout, 2));
    let p = plan(&fake, "t", Strategy::Native);
    let (out, _) = run(&fake, &p, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(!fake.log().iter().any(|c| c.contains("s: REPLICAOF")));
    fake.with(|w| assert!(w.nodes[0].primary));

    // Stuck in progress: FAILOVER ABORT when the deadline passes.
    let fake = FakeOps::group(&["p", "t", "s"]);
    fake.node("p", |n| n.next_failover = (FailoverEnd::Stuck, 0));
    let p = plan(&fake, "t", Strategy::Native);
    let (out, _) = run(&fake, &p, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(fake.log().contains(&"p: FAILOVER ABORT".to_string()));
    fake.with(|w| assert!(w.nodes[0].primary && w.nodes[0].failover.is_none()));
    settled(&fake);
}

#[tokio::test]
async fn failback_goes_to_the_preferred_primary() {
    let fake = FakeOps::group(&["p", "t"]);
    let (mut config, topo) = fake.config_and_topology("g");
    config.groups[0].preferred_primary = Some("t".into());
    let plan = plan_failback(&config, &topo, Strategy::Manual, budgets(), None).unwrap();
    assert_eq!(plan.action, ops::ActionKind::Failback);
    assert!(
        plan.summary.contains("p (127.0.0.1:7000) -> t"),
        "{}",
        plan.summary
    );
    let (out, _) = run(&fake, &plan, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Done);
    // Now t is primary and preferred: failback has nothing to do.
    let (mut config, topo) = fake.config_and_topology("g");
    config.groups[0].preferred_primary = Some("t".into());
    let plan = plan_failback(&config, &topo, Strategy::Manual, budgets(), None).unwrap();
    assert!(plan
        .failures()
        .any(|c| c.message.contains("already the primary")));
    config.groups[0].preferred_primary = None;
    assert!(
        plan_failback(&config, &topo, Strategy::Manual, budgets(), None)
            .unwrap_err()
            .hint
            .is_some()
    );
}

#[tokio::test]
async fn interrupted_run_is_found_and_split_brain_explained() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let fake = FakeOps::group(&["p", "t", "s"]);
    let plan = plan(&fake, "t", Strategy::Manual);
    // Die right after the promotion: the target is primary, the old primary is not demoted.
    fake.inject("p", "REPLICAOF", 0, Effect::Freeze);
    let mut log = AuditLog::open(&path).unwrap();
    {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let a = approve("t");
        let fut = ops::run(&plan, &a, &fake, &mut log, &tx);
        // Abandon the run mid-flight, as a killed console would.
        let _ = tokio::time::timeout(Duration::from_millis(1), fut).await;
    }
    // Make the world look like the console died between promote and demote.
    fake.with(|w| {
        w.rules.clear();
        w.nodes[0].frozen = false;
        w.nodes[0].paused_until = None;
    });
    fake.node("t", |n| {
        n.primary = true;
        n.master = None;
        n.replid2 = Some("a".repeat(40));
        n.replid = "b".repeat(40);
    });
    let runs = audit::interrupted_runs(&path).unwrap();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let (_, topo) = fake.config_and_topology("g");
    let advice = ops::recovery::advise(&runs[0], &topo.groups[0]);
    assert!(!advice.settled);
    assert!(
        advice.next_step.why.contains("finish the")
            && advice.next_step.action == Some(ops::ActionKind::Rejoin)
            && advice.next_step.node.as_deref() == Some("p"),
        "{:?}",
        advice.next_step
    );
}

#[tokio::test]
async fn an_unanswered_failover_is_aborted_and_never_reported_as_nothing_changed() {
    let fake = FakeOps::group(&["p", "t", "s"]);
    let plan = plan(&fake, "t", Strategy::Native);
    fake.inject("p", "FAILOVER", 0, Effect::Stall(1_000_000));
    let (out, _) = run(&fake, &plan, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Failed, "{out:#?}");
    let next = out
        .next_step
        .clone()
        .map(|n| n.to_string())
        .unwrap_or_default();
    assert!(!next.contains("nothing was changed"), "{next}");
    assert!(next.contains("p answers again"), "{next}");
    let cmds = fake.log();
    assert!(cmds.iter().any(|c| c == "p: FAILOVER ABORT"), "{cmds:#?}");
    settled(&fake);
}

#[tokio::test]
async fn an_old_primary_that_answers_with_errors_is_alive_in_the_advice() {
    let fake = FakeOps::group(&["p", "t", "s"]);
    let plan = plan(&fake, "t", Strategy::Manual);
    // After the pause, p answers every INFO with an error (its password changed): alive.
    for _ in 0..400 {
        fake.inject_after(
            "p",
            "INFO",
            "p: CLIENT PAUSE",
            Effect::Error("NOAUTH Authentication required.".into()),
        );
    }
    let (out, _) = run(&fake, &plan, &approve("t")).await;
    assert_eq!(out.status, RunStatus::Failed, "{out:#?}");
    let next = out
        .next_step
        .clone()
        .map(|n| n.to_string())
        .unwrap_or_default();
    assert!(next.contains("p answers but cannot be read"), "{next}");
    assert!(!next.contains("promote"), "{next}");
    settled(&fake);
}
