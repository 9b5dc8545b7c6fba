//! Switchover and failback through Sentinel against real `redis-server` and `redis-sentinel`
//! processes from the sandbox, with a Sentinel-aware writer recording every acknowledged
//! write: 0 lost, every node's role, every sentinel's master and every replica-priority
//! checked after. The faults: the target frozen during the catch-up (rolled back: unpaused,
//! priorities put back, the old primary still primary), one sentinel down with the quorum
//! still met (works), the quorum not met (refused before any change).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use redops::config::Config;
use redops::ops::redis_ops::action_client_name;
use redops::ops::switchover::{plan_failback, plan_switchover, SwitchoverRequest};
use redops::ops::{Budgets, Plan, RealOps, RunStatus, Strategy};

use crate::common::cluster::Hooked;
use crate::common::cluster_writer::client;
use crate::common::sentinel_group::{
    assert_no_loss, assert_priorities, assert_roles, assert_sentinels_name, config_of, sandbox,
    writer,
};
use crate::ops_real::run_with;

fn budgets() -> Budgets {
    Budgets {
        catch_up: Duration::from_secs(3),
        ..Budgets::default()
    }
}

async fn plan_to(c: &Config, to: &str) -> Plan {
    let topo = redops::cli::status::snapshot(c).await;
    let req = SwitchoverRequest {
        to: to.into(),
        strategy: Strategy::Manual,
        budgets: budgets(),
        download_dir: None,
    };
    plan_switchover(c, &topo, &req).unwrap()
}

fn ops_for(c: &Config) -> RealOps {
    RealOps::new(
        c,
        0,
        &action_client_name("test", "host", std::process::id()),
    )
    .unwrap()
}

/// Sets `replica-priority` on `node` (to tell the restore from the default).
async fn set_priority(c: &Config, node: &str, v: &str) {
    let n = c.groups[0].nodes.iter().find(|n| n.name == node).unwrap();
    let mut cmd = redis::cmd("CONFIG");
    cmd.arg("SET").arg("replica-priority").arg(v);
    let _: String = client(n).query(&cmd).await.unwrap();
}

#[tokio::test]
async fn switchover_and_failback_through_sentinel_lose_no_acknowledged_write() {
    let sb = sandbox().await;
    let c = config_of(&sb);
    set_priority(&c, "n3", "77").await;
    let w = writer(&c);
    w.wait_more(200).await;

    let plan = plan_to(&c, "n2").await;
    assert_eq!(plan.strategy, Some(Strategy::Sentinel), "{plan}");
    assert!(plan.checks_pass(), "{plan}");
    assert!(plan.ha_manager.is_none(), "{plan}");
    let text = plan.to_string();
    assert!(text.contains("SENTINEL FAILOVER sandbox"), "{text}");
    assert!(text.contains("CONFIG SET replica-priority 0"), "{text}");
    let out = run_with(&c, &plan, &ops_for(&c)).await;
    assert_eq!(out.status, RunStatus::Done, "{out:?}");
    assert!(out.pause_ms.is_some(), "{out:?}");
    w.wait_more(200).await;
    assert_roles(&c, "n2", &[]).await;
    assert_sentinels_name(&c, "n2", &[]).await;
    assert_priorities(&c, "100", &["n3"]).await;
    assert_priorities(&c, "77", &["n1", "n2"]).await;

    // Back to the preferred primary, the same way.
    let topo = redops::cli::status::snapshot(&c).await;
    let fb = plan_failback(&c, &topo, Strategy::Manual, budgets(), None).unwrap();
    assert_eq!(fb.strategy, Some(Strategy::Sentinel), "{fb}");
    assert!(fb.checks_pass(), "{fb}");
    let out = run_with(&c, &fb, &ops_for(&c)).await;
    assert_eq!(out.status, RunStatus::Done, "{out:?}");
    w.wait_more(200).await;
    assert_roles(&c, "n1", &[]).await;
    assert_sentinels_name(&c, "n1", &[]).await;
    assert_priorities(&c, "77", &["n1", "n2"]).await;
    assert_no_loss(&c, "n1", w).await;
}

#[tokio::test]
async fn a_hand_made_strategy_on_a_sentinel_group_is_a_usage_error() {
    let sb = sandbox().await;
    let c = config_of(&sb);
    let topo = redops::cli::status::snapshot(&c).await;
    let req = SwitchoverRequest {
        to: "n2".into(),
        strategy: Strategy::Native,
        budgets: budgets(),
        download_dir: None,
    };
    let e = plan_switchover(&c, &topo, &req).unwrap_err();
    assert_eq!(e.kind, redops::ops::ErrorKind::Usage, "{e:?}");
    assert!(e.message.contains("Sentinel"), "{e:?}");
    assert!(e.hint.is_some(), "{e:?}");

    // The binary: exit 2 with a hint for either hand-made strategy; the plan without one.
    let cfg = sb.write_config().unwrap();
    let cfg = cfg.to_str().unwrap();
    for strategy in ["native", "manual"] {
        let (code, _, err) = cli(&[
            "-c",
            cfg,
            "switchover",
            "--to",
            "n2",
            "--strategy",
            strategy,
            "--yes",
        ])
        .await;
        assert_eq!(code, 2, "--strategy {strategy}: {err}");
        assert!(
            err.contains("watched by Sentinel") && err.contains("hint"),
            "{err}"
        );
    }
    let (code, out, err) = cli(&["-c", cfg, "switchover", "--to", "n2", "--dry-run"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("strategy: sentinel"), "{out}");
    assert!(out.contains("SENTINEL FAILOVER sandbox"), "{out}");
    assert_priorities(&c, "100", &[]).await;
}

/// The built binary, off the runtime's thread: exit code, stdout, stderr.
async fn cli(args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(ToString::to_string).collect();
    let out = tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::common::bin::redops(&a)
    })
    .await
    .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn target_frozen_during_catch_up_is_rolled_back_unpaused_with_priorities_restored() {
    let sb = sandbox().await;
    let c = config_of(&sb);
    let w = writer(&c);
    w.wait_more(200).await;
    let plan = plan_to(&c, "n2").await;
    assert!(plan.checks_pass(), "{plan}");
    let ops = Hooked::new(ops_for(&c));
    let n2_pid = sb.node("n2").unwrap().pid;
    // Frozen just before the pause: the catch-up can never be proven.
    ops.hook("n1", "CLIENT PAUSE", false, move || {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(n2_pid).unwrap()),
            nix::sys::signal::Signal::SIGSTOP,
        );
    });
    let out = run_with(&c, &plan, &ops).await;
    sb.thaw("n2").unwrap();
    assert_eq!(out.status, RunStatus::Failed, "{out:?}");
    let sent = ops.sent();
    assert!(
        !sent.iter().any(|s| s.contains("SENTINEL FAILOVER")),
        "Sentinel was never asked: {sent:?}"
    );
    assert!(
        sent.iter().any(|s| s == "n1: CLIENT UNPAUSE"),
        "unpaused: {sent:?}"
    );
    // Writes go on on n1 without waiting for the pause to expire.
    w.wait_more(100).await;
    assert_roles(&c, "n1", &[]).await;
    assert_sentinels_name(&c, "n1", &[]).await;
    assert_priorities(&c, "100", &[]).await;
    assert_no_loss(&c, "n1", w).await;
}

#[tokio::test]
async fn one_sentinel_down_with_the_quorum_met_still_switches_over() {
    let mut sb = sandbox().await;
    let c = config_of(&sb);
    sb.kill("s3").unwrap();
    let w = writer(&c);
    w.wait_more(200).await;
    let plan = plan_to(&c, "n3").await;
    assert!(plan.checks_pass(), "{plan}");
    assert!(
        plan.to_string().contains("does not answer"),
        "the plan says which sentinel is down: {plan}"
    );
    let out = run_with(&c, &plan, &ops_for(&c)).await;
    assert_eq!(out.status, RunStatus::Done, "{out:?}");
    w.wait_more(200).await;
    assert_roles(&c, "n3", &[]).await;
    assert_sentinels_name(&c, "n3", &[2]).await;
    assert_priorities(&c, "100", &[]).await;
    assert_no_loss(&c, "n3", w).await;
}

#[tokio::test]
async fn quorum_not_met_is_refused_before_any_change() {
    let mut sb = sandbox().await;
    let c = config_of(&sb);
    sb.kill("s2").unwrap();
    sb.kill("s3").unwrap();
    let w = writer(&c);
    w.wait_more(100).await;
    let plan = plan_to(&c, "n2").await;
    assert!(!plan.checks_pass(), "{plan}");
    assert!(plan.to_string().contains("below the quorum"), "{plan}");
    let ops = Hooked::new(ops_for(&c));
    let out = run_with(&c, &plan, &ops).await;
    assert_eq!(out.status, RunStatus::Refused, "{out:?}");
    assert_eq!(out.exit_code(), 3);
    let changed: Vec<String> = ops
        .sent()
        .into_iter()
        .filter(|s| s.contains("CONFIG SET") || s.contains("PAUSE") || s.contains("FAILOVER"))
        .collect();
    assert!(changed.is_empty(), "nothing changed: {changed:?}");
    w.wait_more(100).await;
    assert_roles(&c, "n1", &[]).await;
    assert_priorities(&c, "100", &[]).await;
    assert_no_loss(&c, "n1", w).await;
}
