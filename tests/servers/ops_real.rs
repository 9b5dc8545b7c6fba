//! Actions against real `redis-server` processes with a writer recording every acknowledged
//! write: switchover and failback back to back (both strategies), and the faults: target
//! frozen during the catch-up, primary killed after the pause, BGSAVE failing, a sibling down,
//! a sibling frozen (or a node black-holed) before the plan, and a sibling frozen mid-run,
//! which must never hold the write pause. Each ends in an explained state, no acknowledged
//! write lost, never two writable primaries.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::cluster as support;

use std::sync::Arc;
use std::time::Duration;

use redops::audit::AuditLog;
use redops::config::Config;
use redops::ops::redis_ops::action_client_name;
use redops::ops::switchover::{plan_failback, plan_switchover, SwitchoverRequest};
use redops::ops::{self, Approval, Budgets, Plan, RealOps, RunOutcome, RunStatus, Strategy};
use support::{missing_keys, Cluster, Hooked, WriterHandle};

fn budgets() -> Budgets {
    Budgets {
        catch_up: Duration::from_secs(3),
        ..Budgets::default()
    }
}

async fn plan_to(config: &Config, to: &str, strategy: Strategy) -> Plan {
    plan_with(config, to, strategy, budgets()).await
}

async fn plan_with(config: &Config, to: &str, strategy: Strategy, budgets: Budgets) -> Plan {
    let topo = redops::cli::status::snapshot(config).await;
    let req = SwitchoverRequest {
        to: to.into(),
        strategy,
        budgets,
        download_dir: None,
    };
    plan_switchover(config, &topo, &req).unwrap()
}

fn ops_for(config: &Config) -> RealOps {
    RealOps::new(
        config,
        0,
        &action_client_name("test", "host", std::process::id()),
    )
    .unwrap()
}

pub(crate) async fn run_with<O: redops::ops::RedisOps>(
    config: &Config,
    plan: &Plan,
    ops: &O,
) -> RunOutcome {
    let mut log = AuditLog::open(&config.console.audit_log).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let name = match &plan.confirm {
        ops::Confirm::TypeName(n) => n.clone(),
        ops::Confirm::Yes => "yes".into(),
    };
    let approval = Approval {
        confirmation: Some(name),
        ..Approval::default()
    };
    ops::run(plan, &approval, ops, &mut log, &tx).await
}

async fn assert_no_loss(c: &Cluster, writer: WriterHandle) {
    let acked = writer.stop().await;
    assert!(!acked.is_empty(), "the writer acknowledged nothing");
    let primaries = c.primaries().await;
    assert_eq!(
        primaries.len(),
        1,
        "exactly one primary at the end: {primaries:?}"
    );
    let missing = missing_keys(primaries[0], &acked).await;
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost, first {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switchover_and_failback_back_to_back_both_strategies() {
    let c = Cluster::start(&["r0", "r1", "r2"], &[]).await;
    let config = c.config(Some("r0"));
    let writer = WriterHandle::start(c.ports());
    writer.wait_more(200).await;
    for (round, strategy) in [
        Strategy::Manual,
        Strategy::Native,
        Strategy::Manual,
        Strategy::Native,
    ]
    .into_iter()
    .enumerate()
    {
        let to = if round % 2 == 0 { "r1" } else { "r2" };
        let plan = plan_to(&config, to, strategy).await;
        assert!(plan.checks_pass(), "round {round}: {plan}");
        let out = run_with(&config, &plan, &ops_for(&config)).await;
        assert_eq!(
            out.status,
            RunStatus::Done,
            "round {round} switchover: {out:#?}"
        );
        assert!(
            !out.warnings.iter().any(|w| w.contains("full resync")),
            "{:?}",
            out.warnings
        );
        writer.wait_more(200).await;
        // Back to the preferred primary.
        let topo = redops::cli::status::snapshot(&config).await;
        let back = plan_failback(&config, &topo, strategy, budgets(), None).unwrap();
        assert!(back.checks_pass(), "round {round} failback: {back}");
        let out = run_with(&config, &back, &ops_for(&config)).await;
        assert_eq!(
            out.status,
            RunStatus::Done,
            "round {round} failback: {out:#?}"
        );
        writer.wait_more(200).await;
        assert_eq!(c.primaries().await, vec![c.port("r0")]);
    }
    assert_no_loss(&c, writer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_frozen_during_catch_up_rolls_back() {
    let c = Cluster::start(&["r0", "r1", "r2"], &[]).await;
    let config = c.config(None);
    let writer = WriterHandle::start(c.ports());
    writer.wait_more(200).await;
    let plan = plan_to(&config, "r1", Strategy::Manual).await;
    let ops = Hooked::new(ops_for(&config));
    let pid = c.server("r1").pid();
    // Freeze the target the instant before the pause: it falls behind and never answers.
    ops.hook("r0", "CLIENT PAUSE", false, move || {
        let _ = std::process::Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status();
    });
    let out = run_with(&config, &plan, &ops).await;
    assert_eq!(out.status, RunStatus::Failed, "{out:#?}");
    assert!(out.detail.contains("did not catch up"), "{}", out.detail);
    let sent = ops.sent();
    assert!(sent.iter().any(|s| s == "r0: CLIENT UNPAUSE"), "{sent:#?}");
    assert!(!sent.iter().any(|s| s.contains("REPLICAOF")), "{sent:#?}");
    assert_eq!(c.primaries().await, vec![c.port("r0")]);
    writer.wait_more(200).await; // writes resumed
    c.server("r1").signal("CONT");
    c.wait_field(c.port("r1"), "master_link_status", "up").await;
    assert_no_loss(&c, writer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_killed_after_the_pause_is_explained_and_loses_nothing() {
    let c = Arc::new(Cluster::start(&["r0", "r1", "r2"], &[]).await);
    let config = c.config(None);
    let writer = WriterHandle::start(c.ports());
    writer.wait_more(200).await;
    let plan = plan_to(&config, "r1", Strategy::Manual).await;
    let ops = Hooked::new(ops_for(&config));
    let pid = c.server("r0").pid();
    let (p0, p1) = (c.port("r0"), c.port("r1"));
    ops.hook("r0", "CLIENT PAUSE", true, move || {
        // Writes acknowledged before the pause but not yet replicated would be lost by the
        // crash itself, whatever the console does: kill r0 only once r1 has applied all of
        // its stream (REDIS.md 3d, "master dies mid-switchover"), bounded in time.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let primary = info_field(p0, "master_repl_offset");
            if primary.is_some() && primary == info_field(p1, "slave_repl_offset") {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    });
    let out = run_with(&config, &plan, &ops).await;
    assert_eq!(out.status, RunStatus::Failed, "{out:#?}");
    let next = out
        .next_step
        .clone()
        .map(|n| n.to_string())
        .unwrap_or_default();
    assert!(
        next.contains("r0 is down") && next.contains("promote"),
        "{out:#?}"
    );
    assert!(
        out.state.iter().any(|l| l.starts_with("r0: unreachable")),
        "{:?}",
        out.state
    );
    assert!(
        c.primaries().await.is_empty(),
        "no writable primary appeared"
    );
    let acked = writer.stop().await;
    let missing = missing_keys(c.port("r1"), &acked).await;
    assert!(
        missing.is_empty(),
        "{} acknowledged writes missing on r1",
        missing.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_bgsave_refuses_before_any_pause() {
    let c = Cluster::start(&["r0", "r1"], &["--save", "3600 1"]).await;
    let config = c.config(None);
    let plan = plan_to(&config, "r1", Strategy::Manual).await;
    std::fs::remove_dir_all(&c.server("r0").dir).unwrap();
    let ops = Hooked::new(ops_for(&config));
    let out = run_with(&config, &plan, &ops).await;
    assert_eq!(out.status, RunStatus::Refused, "{out:#?}");
    assert!(
        out.detail.contains("rdb_last_bgsave_status:err") && out.detail.contains("MISCONF"),
        "{}",
        out.detail
    );
    let sent = ops.sent();
    assert!(sent.iter().any(|s| s == "r0: BGSAVE"));
    assert!(
        !sent
            .iter()
            .any(|s| s.contains("PAUSE") || s.contains("REPLICAOF")),
        "{sent:#?}"
    );
    assert_eq!(c.primaries().await, vec![c.port("r0")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sibling_down_is_planned_around_and_sibling_lost_mid_run_is_reported() {
    let mut c = Cluster::start(&["r0", "r1", "r2", "r3"], &[]).await;
    let config = c.config(None);
    c.server_mut("r2").kill();
    let writer = WriterHandle::start(c.ports());
    writer.wait_more(200).await;
    let plan = plan_to(&config, "r1", Strategy::Manual).await;
    assert!(
        plan.checks.iter().any(|k| k
            .message
            .starts_with("r2 is down: it will not be repointed")),
        "{plan}"
    );
    assert!(!plan.has_hard_failure(), "{plan}");
    // r3 dies just before it is repointed: the run says so.
    let ops = Hooked::new(ops_for(&config));
    let pid = c.server("r3").pid();
    ops.hook("r3", "REPLICAOF", false, move || {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    });
    let out = run_with(&config, &plan, &ops).await;
    assert_eq!(out.status, RunStatus::Failed, "{out:#?}");
    assert!(out.detail.contains("r3"), "{}", out.detail);
    assert!(
        out.next_step
            .as_ref()
            .is_some_and(|n| n.why.contains("r1 is the primary now")),
        "{out:#?}"
    );
    let sent = ops.sent();
    let unpause = sent
        .iter()
        .position(|s| s == "r0: CLIENT UNPAUSE")
        .expect("unpaused");
    let demote = sent
        .iter()
        .position(|s| s.starts_with("r0: REPLICAOF"))
        .expect("demoted");
    assert!(demote < unpause);
    assert_eq!(c.primaries().await, vec![c.port("r1")]);
    assert_no_loss(&c, writer).await;
}

/// The target freezes with `REPLICAOF NO ONE` in its socket and runs it when thawed; the old
/// primary was demoted before. Thawed while the engine watches it, it is fenced and the run
/// goes on to the end. Thawed after the watch, the run fails with the old primary left a
/// replica (a late promotion then makes one primary, never two), and the target, once awake,
/// is the only primary. Never two primaries, no acknowledged write lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_frozen_at_its_promotion_is_watched_and_never_makes_two_primaries() {
    for thaw_after_ms in [1600_u64, 5000] {
        let c = Cluster::start(&["r0", "r1", "r2"], &[]).await;
        let config = c.config(None);
        let writer = WriterHandle::start(c.ports());
        writer.wait_more(200).await;
        let plan = plan_to(&config, "r1", Strategy::Manual).await;
        let ops = frozen_before(&c, &config, "r1", "REPLICAOF NO ONE", thaw_after_ms);
        let out = run_with(&config, &plan, &ops).await;
        let label = format!("thawed after {thaw_after_ms} ms");
        let sent = ops.sent();
        assert!(
            !sent.iter().any(|s| s == "r0: REPLICAOF NO ONE"),
            "{label}: the old primary is never made primary again: {sent:#?}"
        );
        if thaw_after_ms < 2000 {
            assert_eq!(out.status, RunStatus::Done, "{label}: {out:#?}");
            assert!(
                sent.iter().any(|s| s.starts_with("r1: CLIENT KILL ID")),
                "{label}: the stale connection is closed: {sent:#?}"
            );
        } else {
            assert_eq!(out.status, RunStatus::Failed, "{label}: {out:#?}");
            let next = out
                .next_step
                .clone()
                .map(|n| n.to_string())
                .unwrap_or_default();
            assert!(
                next.contains("r1 never answered REPLICAOF NO ONE"),
                "{label}: {next}"
            );
            // It wakes and runs the promotion it had received: the only primary.
            let end = std::time::Instant::now() + Duration::from_secs(15);
            while c.primaries().await != vec![c.port("r1")] {
                assert!(std::time::Instant::now() < end, "{label}: r1 never woke");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        assert_eq!(wait_following(&c, "r0").await, c.port("r1"), "{label}");
        writer.wait_more(200).await; // writes go to r1
        assert_no_loss(&c, writer).await;
    }
}

/// The old primary freezes with its demotion in its socket (what a proxy holding the command,
/// or a stalled host, does). Thawed during the watch, the run is driven forward. Thawed after
/// it, the run fails without promoting the target and never says "nothing was changed"; the
/// old primary runs the demotion when it wakes, the group has no primary, and promoting the
/// target finishes the switchover. Never two primaries, no acknowledged write lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_primary_answering_its_demotion_late_never_makes_two_primaries() {
    for thaw_after_ms in [1600_u64, 5000] {
        let c = Cluster::start(&["r0", "r1", "r2"], &[]).await;
        let config = c.config(None);
        let writer = WriterHandle::start(c.ports());
        writer.wait_more(200).await;
        let plan = plan_to(&config, "r1", Strategy::Manual).await;
        let ops = frozen_before(&c, &config, "r0", "REPLICAOF", thaw_after_ms);
        let out = run_with(&config, &plan, &ops).await;
        let label = format!("thawed after {thaw_after_ms} ms");
        let sent = ops.sent();
        if thaw_after_ms < 2000 {
            assert_eq!(out.status, RunStatus::Done, "{label}: {out:#?}");
            assert!(
                sent.iter().any(|s| s.starts_with("r0: CLIENT KILL ID")),
                "{label}: answered late, fenced: {sent:#?}"
            );
        } else {
            assert_eq!(out.status, RunStatus::Failed, "{label}: {out:#?}");
            let next = out
                .next_step
                .clone()
                .map(|n| n.to_string())
                .unwrap_or_default();
            assert!(!next.contains("nothing was changed"), "{label}: {next}");
            assert!(next.contains("r0 answers again"), "{label}: {next}");
            assert!(
                !sent.iter().any(|s| s == "r1: REPLICAOF NO ONE"),
                "{label}: {sent:#?}"
            );
            // r0 wakes and demotes itself: no primary at all, never two.
            let end = std::time::Instant::now() + Duration::from_secs(15);
            while !c.primaries().await.is_empty() {
                assert!(
                    std::time::Instant::now() < end,
                    "{label}: r0 never demoted itself"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let topo = redops::cli::status::snapshot(&config).await;
            let req = redops::ops::promote::PromoteRequest {
                node: Some("r1".into()),
                budgets: budgets(),
                max_extra_link_down: redops::ops::promote::DEFAULT_MAX_EXTRA_LINK_DOWN,
                now: std::time::SystemTime::now(),
            };
            let finish = redops::ops::promote::plan_promote(&config, &topo, &req)
                .unwrap()
                .plan;
            let out = run_with(&config, &finish, &ops_for(&config)).await;
            assert_eq!(out.status, RunStatus::Done, "{label}: finishing: {out:#?}");
        }
        assert_eq!(c.primaries().await, vec![c.port("r1")], "{label}");
        writer.wait_more(200).await;
        assert_no_loss(&c, writer).await;
    }
}

/// Real ops that freeze `node` (SIGSTOP: its port still accepts, nothing answers) just before
/// its first command starting with `prefix`, and thaw it `thaw_after_ms` later: the command
/// sits in its socket and runs when it wakes.
fn frozen_before(
    c: &Cluster,
    config: &Config,
    node: &str,
    prefix: &str,
    thaw_after_ms: u64,
) -> Hooked<RealOps> {
    let ops = Hooked::new(ops_for(config));
    let pid = c.server(node).pid();
    ops.hook(node, prefix, false, move || {
        signal_pid(pid, "STOP");
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(thaw_after_ms));
            signal_pid(pid, "CONT");
        });
    });
    ops
}

fn signal_pid(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status();
}

/// Waits (20 s at most) until `node` replicates from someone with its link up; returns the
/// upstream's port.
async fn wait_following(c: &Cluster, node: &str) -> u16 {
    let port = c.port(node);
    let end = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(i) = support::raw_info(port).await {
            let up = support::info_field(&i, "master_link_status").as_deref() == Some("up");
            let syncing =
                support::info_field(&i, "master_sync_in_progress").as_deref() == Some("1");
            if let (true, false, Some(p)) = (up, syncing, support::info_field(&i, "master_port")) {
                return p.parse().unwrap();
            }
        }
        assert!(
            std::time::Instant::now() < end,
            "{node} did not replicate with its link up within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Repoints `node` to `to` through the engine (the way an operator would after a fault). A
/// node just thawed may still miss one read timeout on a loaded machine: the engine then
/// refuses before any step ("cannot read", or the lock's `CLIENT LIST` unanswered), and, as an
/// operator would, this plans again (3 attempts at most).
async fn repoint_through_engine(config: &Config, node: &str, to: &str) -> RunOutcome {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let topo = redops::cli::status::snapshot(config).await;
        let req = redops::ops::repoint::RepointRequest {
            node: node.into(),
            to: to.into(),
            budgets: budgets(),
            backups_dir: config.console.backups_dir.clone(),
            sync_deadline: Duration::from_secs(30),
        };
        let rp = redops::ops::repoint::plan_repoint(config, &topo, &req).unwrap();
        let unreadable = rp.plan.checks.iter().any(|k| {
            k.status == redops::ops::CheckStatus::Fail
                && (k.message.contains("is not reachable") || k.message.contains("no answer"))
        });
        if !unreadable {
            assert!(rp.plan.checks_pass(), "{}", rp.plan);
            let out = run_with(config, &rp.plan, &ops_for(config)).await;
            let refused_unread = out.status == RunStatus::Refused
                && (out.detail.starts_with("cannot read")
                    || out.detail.starts_with("the lock cannot be checked"));
            if !refused_unread || attempt == 3 {
                return out;
            }
        }
        assert!(attempt < 3, "{node} never answered in time: {}", rp.plan);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A sibling that is unreachable in the black-hole sense when the plan is made (`SIGSTOPped`:
/// it accepts TCP and never answers), and a configured node that is a black hole outright: the
/// plan leaves both out with a warning, the run never touches them and ends done, and the
/// frozen sibling, thawed, comes back under the old primary and can be repointed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sibling_frozen_before_the_plan_is_planned_around_both_strategies() {
    for strategy in [Strategy::Manual, Strategy::Native] {
        let s = strategy.as_str();
        let c = Cluster::start(&["r0", "r1", "r2", "r3"], &[]).await;
        let hole = redops::sandbox::Blackhole::start_for(Duration::from_secs(120)).unwrap();
        let mut config = c.config(None);
        config.groups[0].nodes.push(redops::config::Node {
            name: "bh".into(),
            addr: redops::config::Addr {
                host: "127.0.0.1".into(),
                port: hole.port,
            },
            username: None,
            password: None,
            tls: None,
        });
        let writer = WriterHandle::start(c.ports());
        writer.wait_more(200).await;
        c.server("r2").signal("STOP");
        let plan = plan_to(&config, "r1", strategy).await;
        for n in ["r2", "bh"] {
            assert!(
                plan.checks
                    .iter()
                    .any(|k| k.status == redops::ops::CheckStatus::Warn
                        && k.message.starts_with(&format!(
                            "{n} is unresponsive: it will not be repointed"
                        ))),
                "{s}: {plan}"
            );
            assert!(!plan.nodes.iter().any(|p| p.name == n), "{s}: {plan}");
        }
        assert!(plan.checks_pass(), "{s}: {plan}");
        let ops = Hooked::new(ops_for(&config));
        let t0 = std::time::Instant::now();
        let out = run_with(&config, &plan, &ops).await;
        let t1 = std::time::Instant::now();
        assert_eq!(out.status, RunStatus::Done, "{s}: {out:#?}");
        let sent = ops.sent();
        assert!(
            !sent
                .iter()
                .any(|l| l.starts_with("r2:") || l.starts_with("bh:")),
            "{s}: {sent:#?}"
        );
        writer.wait_more(200).await; // writes resumed on r1
        eprintln!(
            "{s}, sibling frozen before the plan: write stall {} ms (pause {:?} ms), run {} ms",
            writer.max_gap(t0, t1).as_millis(),
            out.pause_ms,
            out.elapsed_ms
        );
        assert_eq!(c.primaries().await, vec![c.port("r1")], "{s}");
        assert_eq!(wait_following(&c, "r0").await, c.port("r1"), "{s}");
        assert_eq!(wait_following(&c, "r3").await, c.port("r1"), "{s}");
        // Thawed, r2 still follows r0 (now a replica of r1): chained, link up, same history.
        c.server("r2").signal("CONT");
        assert_eq!(wait_following(&c, "r2").await, c.port("r0"), "{s}");
        let back = repoint_through_engine(&config, "r2", "r1").await;
        assert_eq!(back.status, RunStatus::Done, "{s}: {back:#?}");
        assert_eq!(wait_following(&c, "r2").await, c.port("r1"), "{s}");
        writer.wait_more(100).await;
        assert_no_loss(&c, writer).await;
    }
}

/// A sibling frozen mid-run: after the pause (manual) or while the FAILOVER runs (native). Its
/// repoint gets no answer; the write pause is lifted without waiting for it, the old primary
/// is a replica of the new one, the run fails naming the sibling with the next step, and no
/// acknowledged write is lost. Thawed, the sibling either ran the REPLICAOF that timed out or
/// still follows the old primary; either way it ends on the new primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sibling_frozen_mid_run_never_holds_the_pause_both_strategies() {
    for strategy in [Strategy::Manual, Strategy::Native] {
        let s = strategy.as_str();
        let c = Cluster::start(&["r0", "r1", "r2", "r3"], &[]).await;
        let config = c.config(None);
        let writer = WriterHandle::start(c.ports());
        writer.wait_more(200).await;
        // A short verification budget: the frozen sibling cannot settle before it is thawed.
        let short = Budgets {
            verify: Duration::from_secs(3),
            ..budgets()
        };
        let plan = plan_with(&config, "r1", strategy, short).await;
        assert!(plan.checks_pass(), "{s}: {plan}");
        let ops = Hooked::new(ops_for(&config));
        let pid = c.server("r3").pid();
        let (at, after) = match strategy {
            Strategy::Manual | Strategy::Sentinel => ("CLIENT PAUSE", true),
            Strategy::Native => ("FAILOVER", true),
        };
        ops.hook("r0", at, after, move || signal_pid(pid, "STOP"));
        let t0 = std::time::Instant::now();
        let out = run_with(&config, &plan, &ops).await;
        let t1 = std::time::Instant::now();
        let sent = ops.sent();
        eprintln!(
            "{s}, sibling frozen mid-run: write stall {} ms (pause {:?} ms), run {} ms, outcome {:?}",
            writer.max_gap(t0, t1).as_millis(),
            out.pause_ms,
            out.elapsed_ms,
            out.status
        );
        eprintln!(
            "{s}: {}\n  next: {:?}\n  warnings: {:?}",
            out.detail, out.next_step, out.warnings
        );
        assert_eq!(out.status, RunStatus::Failed, "{s}: {out:#?}");
        assert!(out.detail.contains("r3"), "{s}: {}", out.detail);
        assert!(
            out.warnings
                .iter()
                .any(|w| w.contains("repoint r3") && w.contains("may still run it")),
            "{s}: {:?}",
            out.warnings
        );
        let next = out
            .next_step
            .clone()
            .map(|n| n.to_string())
            .unwrap_or_default();
        assert!(
            next.contains("r1 is the primary now") && next.contains("r3"),
            "{s}: {out:#?}"
        );
        if strategy == Strategy::Manual {
            let pos = |p: &str| sent.iter().position(|l| l.starts_with(p));
            let unpause = pos("r0: CLIENT UNPAUSE").expect("unpaused");
            assert!(
                pos("r0: REPLICAOF").expect("demoted") < unpause,
                "{sent:#?}"
            );
            let r3 = pos("r3: REPLICAOF").expect("r3 repoint tried");
            assert!(
                unpause < r3,
                "the unpause waited for the frozen sibling: {sent:#?}"
            );
        }
        writer.wait_more(200).await; // writes resumed on r1
        assert_eq!(c.primaries().await, vec![c.port("r1")], "{s}");
        assert_eq!(wait_following(&c, "r0").await, c.port("r1"), "{s}");
        assert_eq!(wait_following(&c, "r2").await, c.port("r1"), "{s}");
        c.server("r3").signal("CONT");
        let up = wait_following(&c, "r3").await;
        eprintln!(
            "{s}: thawed r3 follows {}",
            if up == c.port("r1") {
                "r1 (it ran the REPLICAOF that timed out)"
            } else {
                "r0 (chained)"
            }
        );
        if up != c.port("r1") {
            assert_eq!(up, c.port("r0"), "{s}");
            let back = repoint_through_engine(&config, "r3", "r1").await;
            assert_eq!(back.status, RunStatus::Done, "{s}: {back:#?}");
            assert_eq!(wait_following(&c, "r3").await, c.port("r1"), "{s}");
        }
        writer.wait_more(100).await;
        assert_no_loss(&c, writer).await;
    }
}

/// One field of `INFO replication`, read with a blocking socket (the hook runs synchronously).
fn info_field(port: u16, field: &str) -> Option<u64> {
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    sock.write_all(b"*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n")
        .ok()?;
    let mut buf = vec![0u8; 8192];
    let mut text = String::new();
    for _ in 0..20 {
        let n = sock.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
        if text.contains("repl_backlog_histlen") {
            break;
        }
    }
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
}
