//! DESIGN invariant 10, end to end: the console (the CLI binary) is `SIGKILLed` at every step
//! boundary of a switchover (both strategies), a failback and a promote, against real servers
//! with a writer recording every acknowledged write and a sampler reading every node's role.
//!
//! For each kill point: no sample ever shows two primaries at once; once the pauses the dead
//! console left behind are over (lifted here, as their expiry would), at most one node is a
//! primary; a group left with none (killed between the demotion and the promotion) is finished
//! by `redops promote`; and every acknowledged write is on the primary at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::cluster as support;

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redops::audit::AuditLog;
use redops::config::Config;
use redops::observe::NodeError;
use redops::ops::promote::{plan_promote, PromoteRequest};
use redops::ops::redis_ops::action_client_name;
use redops::ops::switchover::{plan_failback, plan_switchover, SwitchoverRequest};
use redops::ops::{
    Approval, Budgets, Command, Confirm, Plan, PlanNode, RealOps, RedisOps, Reply, RunStatus,
    Strategy,
};
use support::{info_field, missing_keys, raw_cmd, raw_info, Cluster, WriterHandle};
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_redops");

pub(crate) async fn redops(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Reads every node's role in two rounds, over and over. A node that is a primary in both
/// rounds was a primary during every read in between (nothing here demotes and re-promotes a
/// node within milliseconds): another node read as a primary in between was one at the same
/// time. Records each such instant.
pub(crate) struct Sampler {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<u64>,
}

impl Sampler {
    pub(crate) fn start(ports: Vec<u16>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (st, sn) = (stop.clone(), seen.clone());
        let task = tokio::spawn(async move {
            let mut samples = 0u64;
            let end = Instant::now() + Duration::from_secs(120);
            while !st.load(Ordering::SeqCst) && Instant::now() < end {
                let a = roles(&ports).await;
                let b = roles(&ports).await;
                samples += 1;
                for (i, &port) in ports.iter().enumerate() {
                    if !(a[i] && b[i]) {
                        continue;
                    }
                    // Reads of another node that fell between this node's two reads: after
                    // it in the first round, before it in the second.
                    for (j, &other) in ports.iter().enumerate() {
                        if (j > i && a[j]) || (j < i && b[j]) {
                            sn.lock()
                                .unwrap()
                                .push(format!("{port} and {other} primaries at once"));
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            samples
        });
        Self { stop, seen, task }
    }

    pub(crate) async fn stop(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let samples = self.task.await.unwrap_or(0);
        let seen = self.seen.lock().unwrap().clone();
        (samples, seen)
    }
}

/// `role:master` per port (false when the node does not answer).
async fn roles(ports: &[u16]) -> Vec<bool> {
    let mut out = Vec::new();
    for &p in ports {
        let master = raw_cmd(p, &["INFO", "replication"])
            .await
            .ok()
            .and_then(|i| info_field(&i, "role"))
            .is_some_and(|r| r == "master");
        out.push(master);
    }
    out
}

/// Runs `args` and SIGKILLs it once it reports the start of step `kill_at` (JSON events).
/// Returns whether it was killed (false: it finished first) and the events seen.
pub(crate) async fn run_and_kill(args: &[&str], kill_at: u64) -> (bool, Vec<String>) {
    let mut child = tokio::process::Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let killed = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line.clone());
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if v["event"] == "step_started" && v["index"].as_u64() == Some(kill_at) {
                child.start_kill().unwrap();
                let _ = child.wait().await;
                return true;
            }
        }
        let _ = child.wait().await;
        false
    })
    .await
    .unwrap_or(false);
    (killed, seen)
}

/// How many steps a plan has, from `--dry-run --json`.
pub(crate) async fn step_count(args: &[&str]) -> u64 {
    let mut a = args.to_vec();
    a.push("--dry-run");
    let (code, out, err) = redops(&a).await;
    assert_eq!(code, 0, "{out}{err}");
    let plan = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "plan")
        .unwrap_or_else(|| panic!("no plan in {out}"));
    plan["plan"]["steps"].as_array().unwrap().len() as u64
}

/// After the kill: lift what the dead console left paused (its expiry, brought forward),
/// then require at most one primary; finish a group left with none by promoting `target`.
async fn settle_after_kill(c: &Cluster, cfg: &str, target: &str, label: &str) {
    for p in c.ports() {
        let _ = raw_cmd(p, &["CLIENT", "UNPAUSE"]).await;
    }
    let primaries = c.primaries().await;
    eprintln!("{label}: {} primary(ies) after the kill", primaries.len());
    assert!(primaries.len() <= 1, "{label}: primaries {primaries:?}");
    if primaries.is_empty() {
        // A switchover that died between the demotion and the promotion is explained.
        if raw_info(c.port("r0")).await.is_ok() {
            let config = c.config(Some("r0"));
            let runs = redops::audit::interrupted_runs(&config.console.audit_log).unwrap();
            let run = runs.last().expect("the dead run is in the audit log");
            let topo = redops::cli::status::snapshot(&config).await;
            let advice = redops::ops::recovery::advise(run, &topo.groups[0]);
            assert!(
                advice
                    .next_step
                    .why
                    .contains("replicate from each other at the same offset"),
                "{label}: the interrupted run's advice: {advice:#?}"
            );
        }
        let (code, out, err) = redops(&["-c", cfg, "promote", target, "--yes"]).await;
        assert_eq!(code, 0, "{label}: finishing by promote: {out}{err}");
        assert_eq!(c.primaries().await, vec![c.port(target)], "{label}");
    }
}

async fn assert_nothing_lost(c: &Cluster, writer: WriterHandle, label: &str) {
    writer.wait_more(50).await;
    let acked = writer.stop().await;
    let primaries = c.primaries().await;
    assert_eq!(primaries.len(), 1, "{label}: {primaries:?}");
    let missing = missing_keys(primaries[0], &acked).await;
    assert!(
        missing.is_empty(),
        "{label}: {} of {} acknowledged writes lost, first {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
}

/// One kill point of one action: a fresh group, a writer, a sampler; `prepare` runs before
/// the killed command (e.g. a first switchover before a failback).
async fn kill_case(action: &[&str], kill_at: u64, prepare: Option<&[&str]>, label: &str) -> bool {
    let c = Cluster::start(&["r0", "r1", "r2"], &[]).await;
    let cfg = c.config_file(Some("r0"));
    let cfg = cfg.to_str().unwrap().to_string();
    let writer = WriterHandle::start(c.ports());
    writer.wait_more(100).await;
    if let Some(p) = prepare {
        let mut args = vec!["-c", cfg.as_str()];
        args.extend_from_slice(p);
        let (code, out, err) = redops(&args).await;
        assert_eq!(code, 0, "{label}: prepare: {out}{err}");
        writer.wait_more(100).await;
    }
    let sampler = Sampler::start(c.ports());
    let mut args = vec!["-c", cfg.as_str()];
    args.extend_from_slice(action);
    args.extend_from_slice(&["--yes", "--json"]);
    let (killed, seen) = run_and_kill(&args, kill_at).await;
    assert!(killed, "{label}: step {kill_at} never started: {seen:#?}");
    let target = action
        .iter()
        .skip_while(|a| **a != "--to")
        .nth(1)
        .copied()
        .unwrap_or("r0");
    settle_after_kill(&c, &cfg, target, label).await;
    writer.wait_more(50).await;
    let (samples, both) = sampler.stop().await;
    eprintln!("{label}: {samples} role samples");
    assert!(samples > 0, "{label}: no sample taken");
    assert!(both.is_empty(), "{label}: {both:?}");
    assert_nothing_lost(&c, writer, label).await;
    killed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switchover_killed_at_every_step_never_makes_two_primaries_or_loses_a_write() {
    for strategy in ["manual", "native"] {
        let c = Cluster::start(&["r0", "r1", "r2"], &[]).await;
        let cfg = c.config_file(Some("r0"));
        let steps = step_count(&[
            "-c",
            cfg.to_str().unwrap(),
            "switchover",
            "--to",
            "r1",
            "--strategy",
            strategy,
            "--json",
        ])
        .await;
        drop(c);
        assert!(steps >= 4, "{strategy}: {steps} steps");
        for k in 0..steps {
            let label = format!("switchover {strategy}, killed at step {k}");
            kill_case(
                &["switchover", "--to", "r1", "--strategy", strategy],
                k,
                None,
                &label,
            )
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failback_killed_at_every_step_never_makes_two_primaries_or_loses_a_write() {
    let c = Cluster::start(&["r0", "r1", "r2"], &[]).await;
    let cfg = c.config_file(Some("r0"));
    let cfg = cfg.to_str().unwrap().to_string();
    let (code, out, err) = redops(&["-c", &cfg, "switchover", "--to", "r1", "--yes"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let steps = step_count(&["-c", &cfg, "failback", "--json"]).await;
    drop(c);
    for k in 0..steps {
        let label = format!("failback, killed at step {k}");
        kill_case(
            &["failback"],
            k,
            Some(&["switchover", "--to", "r1", "--yes"]),
            &label,
        )
        .await;
    }
}

/// The primary dies with every acknowledged write on its replicas (the writer stops and the
/// replicas catch up first: what promote can keep is what the replicas have); the console
/// running `promote` is killed at each step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_killed_at_every_step_never_makes_two_primaries_or_loses_a_write() {
    let mut k = 0u64;
    loop {
        let mut c = Cluster::start(&["r0", "r1", "r2"], &[]).await;
        let cfg = c.config_file(Some("r0"));
        let cfg = cfg.to_str().unwrap().to_string();
        let writer = WriterHandle::start(c.ports());
        writer.wait_more(200).await;
        let acked = writer.stop().await;
        let offset =
            info_field(&raw_info(c.port("r0")).await.unwrap(), "master_repl_offset").unwrap();
        for r in ["r1", "r2"] {
            c.wait_field(c.port(r), "slave_repl_offset", &offset).await;
        }
        c.server_mut("r0").kill();
        for r in ["r1", "r2"] {
            c.wait_field(c.port(r), "master_link_status", "down").await;
        }
        let label = format!("promote, killed at step {k}");
        let sampler = Sampler::start(c.ports());
        let (killed, seen) =
            run_and_kill(&["-c", &cfg, "promote", "r1", "--yes", "--json"], k).await;
        if !killed {
            // Past the last step: the run finished; every step boundary was covered.
            assert!(k >= 3, "{label}: promote has too few steps: {seen:#?}");
            let (_, both) = sampler.stop().await;
            assert!(both.is_empty(), "{label}: {both:?}");
            break;
        }
        settle_after_kill(&c, &cfg, "r1", &label).await;
        let (samples, both) = sampler.stop().await;
        assert!(samples > 0 && both.is_empty(), "{label}: {both:?}");
        let primaries = c.primaries().await;
        assert_eq!(primaries, vec![c.port("r1")], "{label}");
        let missing = missing_keys(c.port("r1"), &acked).await;
        assert!(missing.is_empty(), "{label}: {} lost", missing.len());
        k += 1;
        assert!(k < 20, "promote never finished");
    }
}

/// A console that dies just before its `at`-th command of the run proper (INFO reads and the
/// gate's reads and saves not counted, so that a retried BGSAVE does not shift the points):
/// that command never leaves, and the run is dropped with its connections, as a SIGKILL would.
struct DiesBefore<O> {
    inner: O,
    at: usize,
    sent: std::sync::atomic::AtomicUsize,
    died: AtomicBool,
}

impl<O: RedisOps> RedisOps for DiesBefore<O> {
    async fn send(&self, node: &PlanNode, cmd: &Command) -> Result<Reply, NodeError> {
        let counted = !matches!(
            cmd,
            Command::Info(_)
                | Command::BgSave { .. }
                | Command::LastSave
                | Command::ClientList
                | Command::PermissionProbe(_)
        );
        if counted && self.sent.fetch_add(1, Ordering::SeqCst) == self.at {
            eprintln!("dies before {}: {cmd}", node.name);
            self.died.store(true, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        self.inner.send(node, cmd).await
    }

    fn client_name(&self) -> &str {
        self.inner.client_name()
    }
}

/// Which action the in-process console runs.
#[derive(Clone, Copy, Debug)]
enum Act {
    Switchover(Strategy),
    Failback,
    Promote,
}

async fn plan_for(config: &Config, act: Act) -> Plan {
    let topo = redops::cli::status::snapshot(config).await;
    let budgets = Budgets::for_console(&config.console);
    match act {
        Act::Switchover(strategy) => {
            let req = SwitchoverRequest {
                to: "r1".into(),
                strategy,
                budgets,
                download_dir: None,
            };
            plan_switchover(config, &topo, &req).unwrap()
        }
        Act::Failback => plan_failback(config, &topo, Strategy::Manual, budgets, None).unwrap(),
        Act::Promote => {
            let req = PromoteRequest {
                node: Some("r1".into()),
                budgets,
                max_extra_link_down: redops::ops::promote::DEFAULT_MAX_EXTRA_LINK_DOWN,
                now: std::time::SystemTime::now(),
            };
            plan_promote(config, &topo, &req).unwrap().plan
        }
    }
}

/// Runs `plan`, dying before command `at`. `None` when the run finished first.
async fn run_dying(config: &Config, plan: &Plan, at: usize) -> Option<()> {
    let ops = DiesBefore {
        inner: RealOps::new(
            config,
            0,
            &action_client_name("kill", "test", std::process::id()),
        )
        .unwrap(),
        at,
        sent: std::sync::atomic::AtomicUsize::new(0),
        died: AtomicBool::new(false),
    };
    let mut log = AuditLog::open(&config.console.audit_log).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let approval = Approval {
        confirmation: Some(match &plan.confirm {
            Confirm::TypeName(n) => n.clone(),
            Confirm::Yes => "yes".into(),
        }),
        ..Approval::default()
    };
    let died = {
        let run = redops::ops::run(plan, &approval, &ops, &mut log, &tx);
        tokio::pin!(run);
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            tokio::select! {
                out = &mut run => {
                    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
                    break false;
                }
                () = tokio::time::sleep(Duration::from_millis(1)) => {
                    if ops.died.load(Ordering::SeqCst) {
                        break true;
                    }
                    assert!(Instant::now() < end, "the run neither ended nor died");
                }
            }
        }
    };
    // The run future is gone; dropping the connections is the rest of the SIGKILL.
    drop(ops);
    died.then_some(())
}

/// For every `at` until the run completes: a fresh group, a writer, the sampler, a console
/// that dies before its `at`-th command. Returns how many commands a full run sends.
async fn die_before_every_command(act: Act) -> usize {
    for at in 0..40 {
        let label = format!("{act:?}, died before command {at}");
        let mut c = Cluster::start(&["r0", "r1", "r2"], &[]).await;
        let cfg_path = c.config_file(Some("r0"));
        let cfg = cfg_path.to_str().unwrap().to_string();
        let config = c.config(Some("r0"));
        let mut writer = Some(WriterHandle::start(c.ports()));
        writer.as_ref().unwrap().wait_more(100).await;
        let mut acked_before = Vec::new();
        match act {
            Act::Failback => {
                let (code, out, err) =
                    redops(&["-c", &cfg, "switchover", "--to", "r1", "--yes"]).await;
                assert_eq!(code, 0, "{label}: {out}{err}");
                writer.as_ref().unwrap().wait_more(100).await;
            }
            Act::Promote => {
                // Every acknowledged write on the replicas, then the primary dies.
                acked_before = writer.take().unwrap().stop().await;
                let info = raw_info(c.port("r0")).await.unwrap();
                let offset = info_field(&info, "master_repl_offset").unwrap();
                for r in ["r1", "r2"] {
                    c.wait_field(c.port(r), "slave_repl_offset", &offset).await;
                }
                c.server_mut("r0").kill();
                for r in ["r1", "r2"] {
                    c.wait_field(c.port(r), "master_link_status", "down").await;
                }
            }
            Act::Switchover(_) => {}
        }
        let plan = plan_for(&config, act).await;
        assert!(
            plan.checks_pass() || matches!(act, Act::Promote),
            "{label}: {plan}"
        );
        let sampler = Sampler::start(c.ports());
        let died = run_dying(&config, &plan, at).await;
        let target = if matches!(act, Act::Failback) {
            "r0"
        } else {
            "r1"
        };
        if died.is_some() {
            settle_after_kill(&c, &cfg, target, &label).await;
        }
        let (samples, both) = sampler.stop().await;
        assert!(samples > 0, "{label}: no sample");
        assert!(both.is_empty(), "{label}: {both:?}");
        if let Some(w) = writer {
            assert_nothing_lost(&c, w, &label).await;
        } else {
            let primaries = c.primaries().await;
            assert_eq!(primaries, vec![c.port(target)], "{label}");
            let missing = missing_keys(primaries[0], &acked_before).await;
            assert!(missing.is_empty(), "{label}: {} lost", missing.len());
        }
        if died.is_none() {
            eprintln!("{act:?}: killed before each of its {at} commands");
            return at;
        }
    }
    panic!("{act:?}: the run never completed within 40 commands");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_dying_before_any_command_of_a_manual_switchover() {
    assert!(die_before_every_command(Act::Switchover(Strategy::Manual)).await >= 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_dying_before_any_command_of_a_native_switchover() {
    assert!(die_before_every_command(Act::Switchover(Strategy::Native)).await >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_dying_before_any_command_of_a_failback() {
    assert!(die_before_every_command(Act::Failback).await >= 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_dying_before_any_command_of_a_promote() {
    assert!(die_before_every_command(Act::Promote).await >= 2);
}
