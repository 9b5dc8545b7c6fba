//! `sentinel reset` against real servers and three real sentinels from the sandbox, through
//! the core session (prepare, then execute with `RealOps`, as the CLI and the console do): a
//! retired replica is forgotten by every sentinel, one sentinel at a time, each finding the
//! remaining replica and its peers again before the next is reset, no role moved and every
//! acknowledged write kept, each step in the audit log; with a sentinel down, the plan is
//! refused and nothing is sent; a sentinel frozen once the first is reset stops the run before
//! the others are reset, the outcome naming them, no role moved, no write lost.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use redops::config::Config;
use redops::ops::plan::StepKind;
use redops::ops::session::{self, Preparation, Prepared};
use redops::ops::{RealOps, Request, RunEvent, RunOutcome, RunStatus};
use redops::topology::Topology;
use std::sync::{Arc, Mutex};

use super::sentinel_promote::{
    context, fast, look, missing, port, roles, sandbox, until, write_acknowledged,
};

/// `SENTINEL MASTER` on every sentinel of the config: (replicas, other sentinels) each knows.
async fn known_by_each(config: &Config) -> Vec<(u64, u64)> {
    let s = config.groups[0].sentinel.as_ref().unwrap();
    let mut out = Vec::new();
    for r in redops::sentinel::poll::poll_group(0, s, redops::node::Timeouts::from(&config.console))
        .await
    {
        let m = r
            .seen
            .expect("the sentinel answers")
            .master
            .expect("it knows the master");
        out.push((m.num_replicas.unwrap(), m.num_other_sentinels.unwrap()));
    }
    out
}

fn prepared(config: &Config, t: &Topology) -> Prepared {
    match session::prepare(&context(config, t), &Request::sentinel_reset(0)).unwrap() {
        Preparation::Run(p) => *p,
        Preparation::ClearMark(m) => panic!("a reset clears no mark: {m:?}"),
    }
}

async fn execute(p: &Prepared) -> (RunOutcome, Vec<RunEvent>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    let approval = p.approval(Some("yes".into()), None, None);
    let done = session::execute(p, &approval, RealOps::new, move |e| {
        seen.lock().unwrap().push(e);
    })
    .await
    .unwrap();
    let events = events.lock().unwrap().clone();
    (done.outcome, events)
}

/// The audit records of run `run_id`.
fn records(config: &Config, run_id: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(&config.console.audit_log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["run_id"] == run_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_reset_forgets_a_retired_replica_one_sentinel_at_a_time() {
    let mut sb = sandbox().await;
    let config = fast(sb.config());
    let acked = write_acknowledged(port(&config, "n1"), 300, 2);
    // n3 retired for good: every sentinel still lists it (down).
    sb.kill("n3").unwrap();
    until(&config, "n3 seen down", |t| {
        t.groups[0]
            .by_name("n3")
            .is_some_and(|v| !v.state.is_reachable())
    })
    .await;
    assert!(known_by_each(&config).await.iter().all(|k| *k == (2, 2)));
    let t = look(&config).await;
    let before = roles(&t);
    let p = prepared(&config, &t);
    assert!(p.plan.checks_pass(), "{}", p.plan);
    assert!(p.refusal().is_none(), "{}", p.plan);
    assert_eq!(p.plan.steps.len(), 6, "{}", p.plan);
    assert!(
        p.plan.steps.iter().all(|s| match &s.kind {
            StepKind::SentinelReset { quorum, others, .. } => *quorum == 2 && others.len() == 2,
            StepKind::SentinelRediscovered {
                replicas, peers, ..
            } => (*replicas, *peers) == (1, 2),
            _ => false,
        }),
        "{}",
        p.plan
    );
    let (out, events) = execute(&p).await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    // One at a time: each step verified before the next starts, reset then rediscovered.
    let order: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::StepStarted { index, .. } => Some(format!("start {index}")),
            RunEvent::StepVerified { index, .. } => Some(format!("ok {index}")),
            RunEvent::StepFailed { index, .. } => Some(format!("failed {index}")),
            _ => None,
        })
        .collect();
    let expected: Vec<String> = (0..6)
        .flat_map(|i| [format!("start {i}"), format!("ok {i}")])
        .collect();
    assert_eq!(order, expected);
    assert!(
        known_by_each(&config).await.iter().all(|k| *k == (1, 2)),
        "n3 forgotten"
    );
    assert_eq!(roles(&look(&config).await), before, "no role moved");
    assert_eq!(missing(port(&config, "n1"), &acked), 0);
    let recs = records(&config, &out.run_id);
    assert!(recs.iter().all(|r| r["action"] == "sentinel-reset"));
    assert_eq!(recs.first().unwrap()["event"], "RunStarted");
    assert_eq!(recs.last().unwrap()["outcome"], "done");
    let resets: Vec<&serde_json::Value> = recs
        .iter()
        .filter(|r| r["event"] == "StepVerified")
        .collect();
    assert_eq!(resets.len(), 6);

    // A sentinel down: resetting any other would leave fewer than the quorum knowing the
    // master. Refused before anything is sent.
    sb.kill("s3").unwrap();
    let t = until(&config, "s3 seen down", |t| {
        t.groups[0]
            .sentinel
            .as_ref()
            .is_some_and(|s| s.rows.iter().filter(|r| r.is_up()).count() == 2)
    })
    .await;
    let p = prepared(&config, &t);
    assert!(p.blocked().is_some(), "{}", p.plan);
    assert!(
        p.plan
            .failures()
            .any(|c| c.message.contains("fewer than the quorum 2")),
        "{}",
        p.plan
    );
    let (out, _) = execute(&p).await;
    assert_eq!(out.status, RunStatus::Refused, "{out:#?}");
    let recs = records(&config, &out.run_id);
    assert!(
        !recs.iter().any(|r| r["event"] == "StepStarted"),
        "nothing sent: {recs:#?}"
    );
    assert_eq!(recs.last().unwrap()["outcome"], "refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_frozen_mid_run_stops_the_reset_and_the_rest_is_not_reset() {
    let sb = Arc::new(sandbox().await);
    let config = fast(sb.config());
    let acked = write_acknowledged(port(&config, "n1"), 200, 2);
    let t = until(&config, "every sentinel up", |t| {
        t.groups[0]
            .sentinel
            .as_ref()
            .is_some_and(|s| s.rows.iter().filter(|r| r.is_up()).count() == 3)
    })
    .await;
    let before = roles(&t);
    let mut p = prepared(&config, &t);
    assert!(p.refusal().is_none(), "{}", p.plan);
    // A shorter wait than in production, so that a sentinel that cannot find its frozen peer
    // again stops the run quickly.
    for s in &mut p.plan.steps {
        if matches!(s.kind, StepKind::SentinelRediscovered { .. }) {
            s.deadline = Some(std::time::Duration::from_secs(5));
        }
    }
    let s3 = p.plan.nodes[p.plan.sentinel_nodes[2]].name.clone();
    // Once the first sentinel is reset, the third freezes: either the first cannot find it
    // again (it sends no hello), or the second's guard cannot read it. Either way the run
    // stops before the second or the third is reset.
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    let frozen = Arc::clone(&sb);
    let approval = p.approval(Some("yes".into()), None, None);
    let done = session::execute(&p, &approval, RealOps::new, move |e| {
        if matches!(e, RunEvent::StepVerified { index: 0, .. }) {
            frozen.freeze("s3").unwrap();
        }
        seen.lock().unwrap().push(e);
    })
    .await
    .unwrap();
    sb.thaw("s3").unwrap();
    let out = done.outcome;
    assert_eq!(out.status, RunStatus::Failed, "{out:#?}");
    let events = events.lock().unwrap().clone();
    let verified: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::StepVerified { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    assert!(verified == [0] || verified == [0, 1], "{events:#?}");
    let said = events
        .iter()
        .find_map(|e| match e {
            RunEvent::RolledBack { what, .. } => Some(what.clone()),
            _ => None,
        })
        .unwrap();
    let s2 = p.plan.name(p.plan.sentinel_nodes[1]).to_string();
    assert!(said.contains(&format!("not reset: {s2}, {s3}")), "{said}");
    assert!(said.contains("nothing to roll back"), "{said}");
    assert_eq!(roles(&look(&config).await), before, "no role moved");
    assert_eq!(missing(port(&config, "n1"), &acked), 0);
}
