//! DESIGN invariant 10 on a Sentinel group: the console (the CLI binary) running a switchover
//! through Sentinel, and the failback after one, is `SIGKILLed` at every step boundary, against real servers and sentinels,
//! with a Sentinel-aware writer recording every acknowledged write and a sampler reading every
//! node's role.
//!
//! For each kill point: no sample ever shows two primaries at once; once the pause the dead
//! console left is over (lifted here, as its expiry would), the group settles by itself (the
//! old primary, or the target Sentinel promotes) with every sentinel naming that master; the
//! next run's recovery note names every `replica-priority` still 0 with its old value, and
//! once put back as it says, every priority is what it was; every acknowledged write is on the
//! primary at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use redops::config::Config;

use crate::common::cluster::{info_field, raw_cmd, raw_info};
use crate::common::sentinel_group::{
    assert_no_loss, assert_priorities, assert_roles, assert_sentinels_name, port, sandbox, writer,
};
use crate::safety_kill::{redops, run_and_kill, step_count, Sampler};

/// The one master of the group once it has settled (60 s at most): the old primary when the
/// failover never started, the target when Sentinel carried it out.
async fn settled_master(c: &Config, label: &str) -> String {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let mut masters = Vec::new();
        for n in &c.groups[0].nodes {
            let info = raw_info(n.addr.port).await.unwrap_or_default();
            if info_field(&info, "role").as_deref() == Some("master") {
                masters.push(n.name.clone());
            }
        }
        if let [m] = masters.as_slice() {
            return m.clone();
        }
        assert!(
            Instant::now() < end,
            "{label}: no single master after the kill: {masters:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The action killed: a switchover from n1 to n2, or the failback from n2 to n1 after one.
#[derive(Clone, Copy, PartialEq)]
enum Action {
    Switchover,
    Failback,
}

impl Action {
    fn args(self) -> &'static [&'static str] {
        match self {
            Self::Switchover => &["switchover", "--to", "n2", "--json"],
            Self::Failback => &["failback", "--json"],
        }
    }
}

/// A switchover to n2 run to its end, so that a failback has one to undo.
async fn switched_over(cfg: &str) {
    let (code, out, err) = redops(&["-c", cfg, "switchover", "--to", "n2", "--yes"]).await;
    assert_eq!(code, 0, "the switchover before the failback: {out}{err}");
}

async fn kill_case(action: Action, k: u64) {
    let name = match action {
        Action::Switchover => "switchover",
        Action::Failback => "failback",
    };
    let label = format!("sentinel {name}, killed at step {k}");
    let sb = sandbox().await;
    let c = sb.config();
    let cfg = sb.write_config().unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    if action == Action::Failback {
        switched_over(&cfg).await;
    }
    let w = writer(&c);
    w.wait_more(100).await;
    let ports: Vec<u16> = c.groups[0].nodes.iter().map(|n| n.addr.port).collect();
    let sampler = Sampler::start(ports.clone());
    let mut args = vec!["-c", cfg.as_str()];
    args.extend_from_slice(action.args());
    args.push("--yes");
    let (killed, seen) = run_and_kill(&args, k).await;
    assert!(killed, "{label}: step {k} never started: {seen:#?}");
    // The pause's expiry, brought forward.
    for &p in &ports {
        let _ = raw_cmd(p, &["CLIENT", "UNPAUSE"]).await;
    }
    let master = settled_master(&c, &label).await;
    eprintln!("{label}: {master} is the master after the kill");
    assert!(["n1", "n2"].contains(&master.as_str()), "{label}: {master}");
    if !started(&seen, "demote ") {
        // Killed before the demotion: no role was touched; the first primary still is.
        let first = if action == Action::Switchover {
            "n1"
        } else {
            "n2"
        };
        assert_eq!(
            master, first,
            "{label}: Sentinel never asked, yet {master} is primary"
        );
    }
    assert_roles(&c, &master, &[]).await;
    assert_sentinels_name(&c, &master, &[]).await;
    w.wait_more_within(100, Duration::from_secs(60)).await;
    let (samples, both) = sampler.stop().await;
    assert!(samples > 0, "{label}: no sample taken");
    assert!(both.is_empty(), "{label}: {both:?}");

    // The next run reads the journal: every priority still 0, with the value to put back.
    let next: &[&str] = match action {
        Action::Switchover => &["failback", "--dry-run"],
        Action::Failback => &["switchover", "--to", "n3", "--dry-run"],
    };
    let mut args = vec!["-c", cfg.as_str()];
    args.extend_from_slice(next);
    let (_, _, err) = redops(&args).await;
    let n3 = port(&c, "n3");
    let now = raw_priority(n3).await;
    if now == "0" {
        eprintln!("{label}: n3's replica-priority left at 0, named by the recovery note");
        assert!(
            err.contains("CONFIG SET replica-priority 100 on n3"),
            "{label}: the recovery note names n3's priority: {err}"
        );
        raw_cmd(n3, &["CONFIG", "SET", "replica-priority", "100"])
            .await
            .unwrap();
    } else {
        assert!(
            !err.contains("put back:"),
            "{label}: nothing to put back: {err}"
        );
    }
    assert_priorities(&c, "100", &[]).await;
    assert_no_loss(&c, &master, w).await;
}

/// Whether a step whose title starts with `title` started before the kill.
fn started(seen: &[String], title: &str) -> bool {
    seen.iter().any(|l| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
        v["event"] == "step_started" && v["title"].as_str().is_some_and(|t| t.starts_with(title))
    })
}

/// `replica-priority` of the node at `port`, read from its INFO (replicas list it).
async fn raw_priority(port: u16) -> String {
    let info = raw_cmd(port, &["INFO", "replication"]).await.unwrap();
    info_field(&info, "slave_priority").unwrap_or_default()
}

/// Every step boundary of `action`, each on a fresh group.
async fn kill_at_every_step(action: Action) {
    let sb = sandbox().await;
    let cfg = sb.write_config().unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    if action == Action::Failback {
        switched_over(&cfg).await;
    }
    let mut args = vec!["-c", cfg.as_str()];
    args.extend_from_slice(action.args());
    let steps = step_count(&args).await;
    drop(sb);
    assert!(steps >= 10, "{steps} steps");
    for k in 0..steps {
        kill_case(action, k).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_switchover_killed_at_every_step_keeps_one_primary_and_every_write() {
    kill_at_every_step(Action::Switchover).await;
}

/// The failback (n2 back to n1, after a switchover) goes the same way through Sentinel; killed
/// at each of its steps, the same invariants hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failback_killed_at_every_step_keeps_one_primary_and_every_write() {
    kill_at_every_step(Action::Failback).await;
}
