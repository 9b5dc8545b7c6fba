//! The engine's one vocabulary, checked end to end on the simulated group: every event sent to
//! the front-end is the audit record written for it, in the same order, and no record is
//! written without its event (progress notes aside, which the log keeps at a bounded rate).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::*;
use crate::audit::Record;
use crate::node::rdb::Progress;
use crate::observe::{NodeError, NodeId};
use crate::ops::fake::{Effect, FakeOps};
use crate::ops::redis_ops::DownloadSummary;
use crate::ops::snapshot::plan_snapshot;
use crate::ops::switchover::{plan_switchover, SwitchoverRequest};
use crate::ops::{node_ref, Budgets, Strategy};

/// The fake group, with an RDB download that reports `chunks` writes of 1 MB at once, then
/// succeeds or fails with `fail`.
struct WithDownload {
    fake: FakeOps,
    chunks: u64,
    fail: Option<String>,
    calls: AtomicU64,
}

impl RedisOps for WithDownload {
    async fn send(&self, node: &PlanNode, cmd: &Command) -> Result<Reply, NodeError> {
        self.fake.send(node, cmd).await
    }

    fn client_name(&self) -> &str {
        self.fake.client_name()
    }

    async fn download_rdb(
        &self,
        _node: &PlanNode,
        dest: &Path,
        _budget: Duration,
        progress: Progress<'_>,
    ) -> crate::ops::OpsResult<DownloadSummary> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let total = self.chunks << 20;
        progress(0, Some(total));
        for c in 1..=self.chunks {
            progress(c << 20, Some(total));
        }
        match &self.fail {
            Some(e) => Err(crate::ops::OpsError::failed(e.clone())),
            None => Ok(DownloadSummary {
                path: dest.join("x.rdb"),
                bytes: total,
                crc_ok: true,
                detail: "RDB v11, 3 keys".into(),
            }),
        }
    }
}

fn wrap(fake: FakeOps, chunks: u64, fail: Option<&str>) -> WithDownload {
    WithDownload {
        fake,
        chunks,
        fail: fail.map(str::to_string),
        calls: AtomicU64::new(0),
    }
}

fn switchover(fake: &FakeOps) -> Plan {
    let (config, topo) = fake.config_and_topology("g");
    plan_switchover(
        &config,
        &topo,
        &SwitchoverRequest {
            to: "t".into(),
            strategy: Strategy::Manual,
            budgets: Budgets {
                catch_up: Duration::from_millis(100),
                verify: Duration::from_millis(300),
                command: Duration::from_millis(100),
                ..Budgets::default()
            },
            download_dir: None,
        },
    )
    .unwrap()
}

fn snapshot(fake: &FakeOps) -> Plan {
    let (config, topo) = fake.config_and_topology("g");
    let node = node_ref(&config, &topo, NodeId { group: 0, node: 0 }).unwrap();
    plan_snapshot(
        &config,
        &topo,
        &node,
        Some("/backups".into()),
        Budgets::default(),
    )
}

/// Runs `plan`; the outcome, every event sent, every record written.
async fn run_it<O: RedisOps>(
    ops: &O,
    plan: &Plan,
    confirmation: &str,
) -> (RunOutcome, Vec<RunEvent>, Vec<Record>) {
    let mut log = AuditLog::memory();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let approval = Approval {
        confirmation: Some(confirmation.into()),
        ..Approval::default()
    };
    let out = run(plan, &approval, ops, &mut log, &tx).await;
    drop(tx);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    (out, events, log.records())
}

/// The record without its envelope: what the event alone decides.
fn body(r: &Record) -> Record {
    Record {
        event: r.event.clone(),
        node: r.node.clone(),
        step: r.step,
        title: r.title.clone(),
        state: r.state.clone(),
        outcome: r.outcome,
        reason: r.reason.clone(),
        detail: r.detail.clone(),
        hint: r.hint.clone(),
        ..Record::default()
    }
}

/// Every record is the next event's body, in order; an event without a record is a progress
/// note. Returns how many progress notes were left out of the log.
fn same_story(out: &RunOutcome, events: &[RunEvent], records: &[Record]) -> usize {
    let mut recs = records.iter().peekable();
    let mut unrecorded = 0;
    for (i, e) in events.iter().enumerate() {
        match recs.peek() {
            Some(r) if body(r) == e.body() => {
                assert_eq!(r.run_id, out.run_id);
                assert_eq!(
                    r.seq as usize,
                    i - unrecorded,
                    "records are numbered in order"
                );
                recs.next();
            }
            _ => {
                assert!(
                    e.is_progress(),
                    "event {i} has no record: {e:?}\n{records:#?}"
                );
                unrecorded += 1;
            }
        }
    }
    assert!(recs.next().is_none(), "a record without its event");
    unrecorded
}

fn names(events: &[RunEvent]) -> Vec<&'static str> {
    let mut v: Vec<&str> = events.iter().map(RunEvent::name).collect();
    v.dedup();
    v
}

#[tokio::test]
async fn a_switchover_is_told_and_audited_alike() {
    let fake = FakeOps::group(&["p", "t", "s"]);
    let plan = switchover(&fake);
    let (out, events, records) = run_it(&fake, &plan, "t").await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    assert_eq!(
        out.detail, "t is now the primary in place of p",
        "in the past tense"
    );
    same_story(&out, &events, &records);
    assert_eq!(
        names(&events)[..6],
        [
            "RunStarted",
            "PrecheckPassed",
            "SnapshotStarted",
            "SnapshotProgress",
            "SnapshotVerified",
            "StepStarted"
        ]
    );
    assert!(
        records
            .iter()
            .any(|r| r.commands.iter().any(|c| c == "p: BGSAVE")),
        "the exchanges ride on the records"
    );
    let last = records.last().unwrap();
    assert_eq!(last.event, "RunFinished");
    assert!(out.pause_ms.is_some(), "a manual switchover pauses writes");
    assert_eq!(
        last.pause_ms, out.pause_ms,
        "the pause is in the log for `history`"
    );
}

#[tokio::test]
async fn a_failed_step_its_rollback_and_a_refusal_are_told_and_audited_alike() {
    let fake = FakeOps::group(&["p", "t", "s"]);
    let plan = switchover(&fake);
    fake.inject("p", "REPLICAOF", 0, Effect::Error("ERR boom".into()));
    let (out, events, records) = run_it(&fake, &plan, "t").await;
    assert_eq!(out.status, RunStatus::Failed, "{out:#?}");
    same_story(&out, &events, &records);
    let rolled: Vec<_> = records.iter().filter(|r| r.event == "RolledBack").collect();
    assert!(!rolled.is_empty(), "{records:#?}");
    assert!(rolled.iter().all(|r| r.step.is_some()));

    let fake = FakeOps::group(&["p", "t"]);
    let plan = switchover(&fake);
    let (out, events, records) = run_it(&fake, &plan, "not t").await;
    assert_eq!(out.status, RunStatus::Refused);
    same_story(&out, &events, &records);
    assert_eq!(
        names(&events),
        ["RunStarted", "PrecheckFailed", "RunFinished"]
    );
    assert_eq!(records[2].outcome, Some(crate::audit::Outcome::Refused));
}

/// A download reports each write: the front-end hears the first and the last (no second
/// passed between), the log keeps the first note only.
#[tokio::test]
async fn a_download_is_told_and_audited_with_its_progress_thinned() {
    let ops = wrap(FakeOps::group(&["p", "r"]), 500, None);
    let plan = snapshot(&ops.fake);
    let (out, events, records) = run_it(&ops, &plan, "p").await;
    assert_eq!(out.status, RunStatus::Done, "{out:#?}");
    assert_eq!(
        out.detail,
        "p saved its dataset: BGSAVE verified, its RDB downloaded and checked"
    );
    let left_out = same_story(&out, &events, &records);
    let sent: Vec<(u64, Option<u64>)> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::DownloadProgress { bytes, total, .. } => Some((*bytes, *total)),
            _ => None,
        })
        .collect();
    assert_eq!(sent, [(0, Some(500 << 20)), (500 << 20, Some(500 << 20))]);
    let kept = records
        .iter()
        .filter(|r| r.event == "DownloadProgress")
        .count();
    assert_eq!((kept, left_out), (1, 1));
    assert_eq!(
        names(&events)[2..],
        [
            "SnapshotStarted",
            "SnapshotProgress",
            "SnapshotVerified",
            "DownloadStarted",
            "DownloadProgress",
            "DownloadVerified",
            "RunFinished"
        ]
    );
    let started = events
        .iter()
        .find(|e| matches!(e, RunEvent::DownloadStarted { .. }));
    assert_eq!(
        started,
        Some(&RunEvent::DownloadStarted {
            node: "p".into(),
            path: "/backups".into()
        })
    );
}

#[tokio::test]
async fn a_failed_download_is_told_not_only_audited() {
    let ops = wrap(FakeOps::group(&["p", "r"]), 3, Some("the transfer was cut"));
    let plan = snapshot(&ops.fake);
    let (out, events, records) = run_it(&ops, &plan, "p").await;
    assert_eq!(out.status, RunStatus::Refused, "{out:#?}");
    same_story(&out, &events, &records);
    assert!(events.contains(&RunEvent::DownloadFailed {
        node: "p".into(),
        error: "the transfer was cut".into()
    }));
    assert_eq!(ops.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failed_snapshot_is_told_not_only_audited() {
    let fake = FakeOps::group(&["p", "t"]);
    fake.inject("p", "BGSAVE", 0, Effect::Error("ERR no disk".into()));
    let plan = switchover(&fake);
    let (out, events, records) = run_it(&fake, &plan, "t").await;
    assert_eq!(out.status, RunStatus::Refused, "{out:#?}");
    same_story(&out, &events, &records);
    assert!(
        events.iter().any(
            |e| matches!(e, RunEvent::SnapshotFailed { node, error } if node == "p" && error.contains("no disk"))
        ),
        "{events:#?}"
    );
}

/// The fake group with a restore's scratch server that starts, never serves a sync (the node's
/// link to it stays down), and is stopped by the rollback.
struct WithScratch {
    fake: FakeOps,
    started: AtomicU64,
    stopped: AtomicU64,
    /// The node says `tls-replication yes`.
    tls: bool,
}

impl RedisOps for WithScratch {
    async fn send(&self, node: &PlanNode, cmd: &Command) -> Result<Reply, NodeError> {
        let tls = Command::ConfigGet(crate::ops::redis_ops::ConfigParam::TlsReplication);
        if self.tls && *cmd == tls {
            return Ok(Reply::Text("yes".into()));
        }
        self.fake.send(node, cmd).await
    }

    fn client_name(&self) -> &str {
        self.fake.client_name()
    }

    async fn start_scratch(
        &self,
        req: &crate::ops::redis_ops::ScratchRequest,
    ) -> crate::ops::OpsResult<crate::ops::redis_ops::ScratchStarted> {
        self.started.fetch_add(1, Ordering::SeqCst);
        Ok(crate::ops::redis_ops::ScratchStarted {
            addr: req.listen.clone(),
            pid: 4242,
            server: "Redis 7.0.15".into(),
            loaded: vec![crate::node::rdb::DbCount {
                db: 0,
                keys: 3,
                expires: 0,
            }],
            load_ms: 1,
        })
    }

    async fn scratch_info(&self) -> Result<crate::info::Info, NodeError> {
        Ok(crate::info::Info::default())
    }

    async fn stop_scratch(&self) -> Option<(u32, bool)> {
        (self.stopped.fetch_add(1, Ordering::SeqCst) == 0).then_some((4242, true))
    }
}

fn restore_plan(fake: &FakeOps) -> Plan {
    use crate::backup::restore::{FileCheck, RestoreSource};
    use crate::ops::restore::{plan_restore, RestoreRequest};
    let (config, topo) = fake.config_and_topology("g");
    let node = node_ref(&config, &topo, NodeId { group: 0, node: 0 }).unwrap();
    let from = crate::ops::RestoreFrom {
        source: RestoreSource {
            rdb: "/backups/x.rdb".into(),
            id: None,
            bytes: 100,
            taken_from: None,
            taken_at: None,
            expected: None,
            source_version: None,
            aof: false,
            check: Ok(FileCheck {
                crc: "ok".into(),
                rdb_version: 10,
            }),
        },
        listen: crate::config::Addr::parse("127.0.0.1:7777").unwrap(),
        server_bin: None,
    };
    plan_restore(
        &config,
        &topo,
        &node,
        &RestoreRequest {
            from: &from,
            budgets: Budgets {
                command: Duration::from_millis(100),
                ..Budgets::default()
            },
            backups_dir: "/backups".into(),
            sync_deadline: Duration::from_millis(300),
        },
    )
}

fn with_scratch(fake: FakeOps, tls: bool) -> WithScratch {
    WithScratch {
        fake,
        started: AtomicU64::new(0),
        stopped: AtomicU64::new(0),
        tls,
    }
}

#[tokio::test]
async fn a_restore_whose_sync_never_ends_is_detached_and_its_scratch_server_stopped() {
    let fake = FakeOps::group(&["p", "t"]);
    let plan = restore_plan(&fake);
    let ops = with_scratch(fake, false);
    let (out, events, records) = run_it(&ops, &plan, "p").await;
    assert_eq!(out.status, RunStatus::Failed, "{out:#?}");
    assert!(
        out.detail.contains("did not finish its sync"),
        "{}",
        out.detail
    );
    same_story(&out, &events, &records);
    let rolled: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::RolledBack { what, .. } => Some(what.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(rolled.len(), 2, "{rolled:?}");
    assert!(rolled[0].contains("detached from the scratch server and a primary again"));
    assert!(rolled[1].contains("(pid 4242) is stopped"));
    assert!(events.contains(&RunEvent::ScratchStopped {
        pid: 4242,
        gone: true
    }));
    assert_eq!(ops.started.load(Ordering::SeqCst), 1);
    assert!(
        ops.fake.with(|w| w.nodes[0].primary),
        "p is a primary again"
    );
}

#[tokio::test]
async fn a_node_replicating_over_tls_stops_the_restore_before_the_scratch_server_starts() {
    let fake = FakeOps::group(&["p", "t"]);
    let plan = restore_plan(&fake);
    let ops = with_scratch(fake, true);
    let (out, events, records) = run_it(&ops, &plan, "p").await;
    assert_eq!(out.status, RunStatus::Failed, "{out:#?}");
    assert!(out.detail.contains("tls-replication yes"), "{}", out.detail);
    assert!(out.detail.contains("nothing was changed"), "{}", out.detail);
    same_story(&out, &events, &records);
    assert_eq!(ops.started.load(Ordering::SeqCst), 0);
    assert!(!events
        .iter()
        .any(|e| matches!(e, RunEvent::RolledBack { .. })));
}
