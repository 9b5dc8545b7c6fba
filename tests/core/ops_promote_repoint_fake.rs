//! Promote, repoint and rejoin plans run through the engine on the simulated group
//! (`ops::fake`): candidate choice, step order, refusals and overrides, the rejoin mark. The
//! same actions against real servers are in `ops_promote_repoint.rs`.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use redops::audit::AuditLog;
use redops::ops::fake::FakeOps;
use redops::ops::promote::{self, plan_promote, Loss, PromoteRequest};
use redops::ops::repoint::{plan_rejoin, plan_repoint, RepointRequest};
use redops::ops::{self, Approval, Budgets, CheckStatus, Plan, RunOutcome, RunStatus};

fn budgets() -> Budgets {
    Budgets {
        verify: Duration::from_millis(300),
        snapshot: Duration::from_secs(2),
        command: Duration::from_millis(100),
        ..Budgets::default()
    }
}

fn promote_req(node: Option<&str>) -> PromoteRequest {
    PromoteRequest {
        node: node.map(ToString::to_string),
        budgets: budgets(),
        max_extra_link_down: Duration::from_secs(60),
        now: SystemTime::now(),
    }
}

async fn run(fake: &FakeOps, plan: &Plan, approval: &Approval) -> RunOutcome {
    let mut log = AuditLog::memory();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    ops::run(plan, approval, fake, &mut log, &tx).await
}

fn approve(name: &str) -> Approval {
    Approval {
        confirmation: Some(name.to_string()),
        ..Approval::default()
    }
}

/// p down; r1 behind, r2 most advanced, r3 in sync with r1.
fn primary_down() -> FakeOps {
    let fake = FakeOps::group(&["p", "r1", "r2", "r3"]);
    fake.node("p", |n| n.down = true);
    for (name, off) in [("r1", 990), ("r2", 1000), ("r3", 990)] {
        fake.node(name, |n| {
            n.offset = off;
            n.link_up = false;
        });
    }
    fake
}

fn failures(plan: &Plan) -> Vec<String> {
    plan.failures().map(|c| c.message.clone()).collect()
}

#[tokio::test]
async fn promote_picks_the_most_advanced_and_repoints_its_siblings() {
    let fake = primary_down();
    let (config, topo) = fake.config_and_topology("g");
    let pp = plan_promote(&config, &topo, &promote_req(None)).unwrap();
    assert_eq!(pp.chosen.as_deref(), Some("r2"));
    assert!(pp.plan.checks_pass(), "{}", pp.plan);
    // The fake's topology has no last observation of p: the loss is unknown, and said so.
    assert!(matches!(pp.loss, Some(Loss::Unknown { .. })));
    let text = pp.plan.to_string();
    assert!(text.contains("#1 r2"), "{text}");
    assert!(
        text.contains("writes may be lost, how many is unknown"),
        "{text}"
    );

    let out = run(&fake, &pp.plan, &approve("r2")).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    let log = fake.log();
    let pos = |s: &str| {
        log.iter()
            .position(|l| l.starts_with(s))
            .unwrap_or_else(|| panic!("{s} not sent: {log:#?}"))
    };
    assert!(pos("r2: BGSAVE") < pos("r2: REPLICAOF NO ONE"));
    assert!(pos("r2: REPLICAOF NO ONE") < pos("r1: REPLICAOF 127.0.0.1 7002"));
    assert!(pos("r2: REPLICAOF NO ONE") < pos("r3: REPLICAOF 127.0.0.1 7002"));
    fake.with(|w| assert!(w.violations.is_empty(), "{:?}", w.violations));

    // The old primary is marked for rejoin.
    let dir = tempfile::tempdir().unwrap();
    let marks = promote::marks_path(&dir.path().join("audit.jsonl"));
    let m = pp.mark_old_primary(&out, &marks).unwrap().unwrap();
    assert_eq!((m.node.as_str(), m.promoted.as_str()), ("p", "r2"));
    assert_eq!(promote::load_marks(&marks).unwrap(), vec![m]);
}

#[tokio::test]
async fn promoting_a_less_advanced_replica_needs_force() {
    let fake = primary_down();
    let (config, topo) = fake.config_and_topology("g");
    let pp = plan_promote(&config, &topo, &promote_req(Some("r1"))).unwrap();
    let f = failures(&pp.plan);
    assert!(
        f.iter().any(|m| m.contains("r2 has 10 bytes more")),
        "{f:?}"
    );
    assert!(!pp.plan.has_hard_failure());
    let out = run(&fake, &pp.plan, &approve("r1")).await;
    assert_eq!(out.status, RunStatus::Refused);
    assert!(!fake.log().iter().any(|l| l.contains("REPLICAOF")));
    let dir = tempfile::tempdir().unwrap();
    let marks = promote::marks_path(&dir.path().join("audit.jsonl"));
    assert_eq!(pp.mark_old_primary(&out, &marks).unwrap(), None);

    let forced = Approval {
        force_reason: Some("r2's disk is failing".into()),
        ..approve("r1")
    };
    let out = run(&fake, &pp.plan, &forced).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
}

#[tokio::test]
async fn promote_is_refused_while_the_primary_is_up() {
    let fake = FakeOps::group(&["p", "r1"]);
    let (config, topo) = fake.config_and_topology("g");
    let pp = plan_promote(&config, &topo, &promote_req(Some("r1"))).unwrap();
    assert!(pp.plan.has_hard_failure());
    assert!(
        failures(&pp.plan)
            .iter()
            .any(|m| m.contains("p is up and a primary")),
        "{}",
        pp.plan
    );
    let out = run(&fake, &pp.plan, &approve("r1")).await;
    assert_eq!(out.status, RunStatus::Refused);
    assert!(fake.log().iter().all(|l| !l.contains("REPLICAOF")));
}

#[tokio::test]
async fn repointing_a_primary_with_replicas_is_refused_unless_forced() {
    // Two separate primaries; p2 has a replica. Pointing p2 at p: p2 is a primary with replicas
    // and in another history.
    let fake = FakeOps::group(&["p", "p2", "r"]);
    fake.node("p2", |n| {
        n.primary = true;
        n.master = None;
        n.replid = "b".repeat(40);
    });
    fake.node("r", |n| {
        n.master = Some(redops::config::Addr {
            host: "127.0.0.1".into(),
            port: 7001,
        });
        n.replid = "b".repeat(40);
    });
    let (config, topo) = fake.config_and_topology("g");
    let rp = plan_repoint(
        &config,
        &topo,
        &RepointRequest {
            node: "p2".into(),
            to: "p".into(),
            budgets: budgets(),
            backups_dir: PathBuf::from("/nonexistent"),
            sync_deadline: Duration::from_millis(300),
        },
    )
    .unwrap();
    let f = failures(&rp.plan);
    assert!(
        f.iter().any(|m| m.contains("primary with 1 replica:")),
        "{f:?}"
    );
    assert!(!rp.plan.has_hard_failure(), "{}", rp.plan);
    // The fake reports no keys: nothing to download, and it says so.
    assert!(rp.plan.downloads.is_empty());
    assert!(rp.plan.to_string().contains("holds no keys"), "{}", rp.plan);
    let out = run(&fake, &rp.plan, &approve("p2")).await;
    assert_eq!(out.status, RunStatus::Refused);
    assert!(fake.log().iter().all(|l| !l.contains("REPLICAOF")));
}

#[tokio::test]
async fn rejoin_targets_the_current_primary_and_loops_are_caught() {
    let fake = FakeOps::group(&["p", "r1", "r2"]);
    // r2 chained under r1; repointing r1 to r2 closes a loop.
    fake.node("r2", |n| {
        n.master = Some(redops::config::Addr {
            host: "127.0.0.1".into(),
            port: 7001,
        });
    });
    let (config, topo) = fake.config_and_topology("g");
    let rp = plan_repoint(
        &config,
        &topo,
        &RepointRequest {
            node: "r1".into(),
            to: "r2".into(),
            budgets: budgets(),
            backups_dir: PathBuf::from("/nonexistent"),
            sync_deadline: Duration::from_millis(300),
        },
    )
    .unwrap();
    assert!(
        failures(&rp.plan)
            .iter()
            .any(|m| m.contains("loop: r2 already replicates from r1")),
        "{}",
        rp.plan
    );

    // Rejoin of r1, already following p with its link up: nothing to do.
    let rj = plan_rejoin(
        &config,
        &topo,
        "r1",
        &[],
        budgets(),
        PathBuf::from("/nonexistent"),
        Duration::from_millis(300),
    )
    .unwrap();
    assert_eq!(rj.plan.nodes[1].name, "p");
    assert!(rj
        .plan
        .checks
        .iter()
        .any(|c| c.status == CheckStatus::Fail && c.message.contains("nothing to do")));

    // Rejoin of the healthy primary: why there is nothing to rejoin, and what to run instead.
    let e = plan_rejoin(
        &config,
        &topo,
        "p",
        &[],
        budgets(),
        PathBuf::from("/nonexistent"),
        Duration::from_millis(300),
    )
    .unwrap_err();
    let text = format!("{} hint: {}", e.message, e.hint.unwrap_or_default());
    assert!(
        text.contains("p is the primary of group 'g': there is no old primary to rejoin")
            && text.contains("run a switchover"),
        "{text}"
    );
}
