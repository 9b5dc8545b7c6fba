//! `prepare` for each action and each refusal, and `execute` over the simulated group.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::*;
use crate::audit::AuditLog;
use crate::config::{Addr, Sentinel};
use crate::observe::NodeError;
use crate::ops::fake::FakeOps;
use crate::ops::promote;
use crate::ops::{ErrorKind, RunEvent, RunStatus};

/// Prepares `req` on `config`/`topology` with the given marks and read-only mode.
fn prep(
    config: &Config,
    topology: &Topology,
    marks: &[RejoinMark],
    read_only: bool,
    req: &Request,
) -> OpsResult<Preparation> {
    let ctx = Context {
        config,
        topology,
        marks,
        read_only,
        now: SystemTime::now(),
    };
    prepare(&ctx, req)
}

/// The prepared plan of `req` on the fake's group (whole config, not read-only).
fn plan_of(fake: &FakeOps, req: &Request) -> Prepared {
    let (config, topology) = fake.config_and_topology("g");
    run_of(prep(&config, &topology, &[], false, req))
}

fn run_of(p: OpsResult<Preparation>) -> Prepared {
    match p {
        Ok(Preparation::Run(p)) => *p,
        other => panic!("expected a plan, got {other:?}"),
    }
}

fn req(action: ActionKind, node: Option<&str>) -> Request {
    Request::new(action, node.map(ToString::to_string))
}

/// The primary `p` is down, `r1` and `r2` lost their link; `r2` is the most advanced.
fn primary_down() -> FakeOps {
    let fake = FakeOps::group(&["p", "r1", "r2"]);
    fake.node("p", |n| n.down = true);
    for (name, off) in [("r1", 990), ("r2", 1000)] {
        fake.node(name, |n| {
            n.offset = off;
            n.link_up = false;
        });
    }
    fake
}

#[test]
fn each_action_prepares_a_plan_with_the_lock_and_no_refusal() {
    let fake = FakeOps::group(&["p", "r1", "r2"]);
    let (mut config, topology) = fake.config_and_topology("g");
    config.groups[0].preferred_primary = Some("r1".into());
    let cases = [
        req(ActionKind::Snapshot, Some("p")),
        req(ActionKind::Switchover, Some("r1")),
        req(ActionKind::Failback, None),
        req(ActionKind::Repoint, Some("r2")).from_source("r1"),
    ];
    for r in &cases {
        let p = run_of(prep(&config, &topology, &[], false, r));
        assert_eq!(p.plan.action, r.action);
        assert_eq!(
            p.plan.lock.len(),
            3,
            "{:?}: the lock on every node",
            r.action
        );
        assert_eq!(p.refusal(), None, "{:?}: {}", r.action, p.plan);
        assert_eq!(p.after, AfterRun::Nothing);
    }
    let p = run_of(prep(&config, &topology, &[], false, &cases[3]));
    assert!(
        matches!(p.sections.as_slice(), [Section::AtRisk(_)]),
        "{:?}",
        p.sections
    );
    assert!(
        p.plan.gate_skipped.is_some(),
        "the fake holds no keys: no download, and the plan says why"
    );
    assert_eq!(p.title(), "repoint r2 to r1");

    let fake = primary_down();
    let p = plan_of(&fake, &req(ActionKind::Promote, None));
    assert_eq!(p.refusal(), None, "{}", p.plan);
    assert!(matches!(p.sections.as_slice(), [Section::Candidates(_)]));
    assert!(
        matches!(&p.after, AfterRun::MarkOldPrimary { chosen: Some(c), .. } if c == "r2"),
        "{:?}",
        p.after
    );
    assert_eq!(p.title(), "promote r2");
}

#[test]
fn notes_a_section_stands_for_are_left_out() {
    let fake = primary_down();
    let p = plan_of(&fake, &req(ActionKind::Promote, None));
    assert!(p.plan.notes.of(NoteKind::Candidates).count() > 1);
    assert!(p.notes().all(|n| n.kind == NoteKind::General));
    assert!(p.notes().count() > 0, "the rejoin note is kept");

    let fake = FakeOps::group(&["p", "r1", "r2"]);
    let p = plan_of(
        &fake,
        &req(ActionKind::Repoint, Some("r2")).from_source("r1"),
    );
    assert!(p.plan.notes.of(NoteKind::AtRisk).count() >= 3);
    assert!(p.notes().all(|n| n.kind != NoteKind::AtRisk));
}

#[test]
fn a_scoped_request_sees_its_group_alone() {
    let fake = FakeOps::group(&["p", "r1"]);
    let (mut config, topology) = fake.config_and_topology("g");
    let mut other = config.groups[0].clone();
    other.name = "h".into();
    config.groups.insert(0, other);
    let mut topology = topology;
    topology.groups[0].index = 1;
    let r = req(ActionKind::Snapshot, Some("p")).in_group(1);
    let p = run_of(prep(&config, &topology, &[], false, &r));
    assert_eq!((p.plan.group.as_str(), p.plan.group_index), ("g", 0));
    assert_eq!(p.config.groups.len(), 1);
    let e = prep(&config, &topology, &[], false, &r.clone().in_group(7)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Usage);
    // Unscoped, the name is in both groups.
    let e = prep(
        &config,
        &topology,
        &[],
        false,
        &req(ActionKind::Snapshot, Some("p")),
    );
    assert_eq!(
        e.unwrap_err().hint.as_deref(),
        Some("say which group it is in (the group option scopes the targets)")
    );
}

#[test]
fn usage_problems_are_typed_with_their_hint() {
    let fake = FakeOps::group(&["p", "r1"]);
    let (config, topology) = fake.config_and_topology("g");
    for r in [
        req(ActionKind::Snapshot, None),
        req(ActionKind::Switchover, None),
        req(ActionKind::Repoint, Some("r1")),
        req(ActionKind::Rejoin, None),
    ] {
        let e = prep(&config, &topology, &[], false, &r).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Usage, "{:?}: {e:?}", r.action);
        assert!(e.hint.is_some(), "{:?}", r.action);
    }
    let e = prep(
        &config,
        &topology,
        &[],
        false,
        &req(ActionKind::Switchover, Some("nosuch")),
    )
    .unwrap_err();
    assert_eq!(e.message, "no node named 'nosuch'");
    assert!(e.hint.is_some_and(|h| h.starts_with("known nodes are")));
}

#[test]
fn read_only_refuses_every_action_the_same_way() {
    let fake = FakeOps::group(&["p", "r1", "r2"]);
    let (mut config, topology) = fake.config_and_topology("g");
    config.groups[0].preferred_primary = Some("r1".into());
    for r in [
        req(ActionKind::Snapshot, Some("p")),
        req(ActionKind::Switchover, Some("r1")),
        req(ActionKind::Failback, None),
        req(ActionKind::Repoint, Some("r2")).from_source("r1"),
    ] {
        let p = run_of(prep(&config, &topology, &[], true, &r));
        assert_eq!(p.refusal(), Some(Refusal::ReadOnly), "{:?}", r.action);
        assert_eq!(p.blocked(), Some(Refusal::ReadOnly));
        assert!(!p.gate_skippable());
        let ctx = Context {
            config: &config,
            topology: &topology,
            marks: &[],
            read_only: true,
            now: SystemTime::now(),
        };
        assert_eq!(standing(&ctx, 0, r.action), Some(Refusal::ReadOnly));
    }
}

#[test]
fn a_read_only_group_refuses_even_a_snapshot() {
    let fake = FakeOps::group(&["p", "r1"]);
    let (mut config, topology) = fake.config_and_topology("g");
    config.groups[0].read_only = true;
    let p = run_of(prep(
        &config,
        &topology,
        &[],
        false,
        &req(ActionKind::Snapshot, Some("p")),
    ));
    let want = Refusal::GroupReadOnly { group: "g".into() };
    assert_eq!(
        p.plan.read_only,
        Some(want.clone()),
        "plan_snapshot guards it"
    );
    assert_eq!(p.blocked(), Some(want));
}

#[test]
fn an_ha_manager_refuses_role_changes_with_one_text() {
    for which in ["sentinel", "cluster"] {
        let fake = FakeOps::group(&["p", "r1"]);
        let (mut config, topology) = fake.config_and_topology("g");
        if which == "sentinel" {
            config.groups[0].sentinel = Some(Sentinel {
                addrs: vec![Addr::parse("127.0.0.1:26379").unwrap_or_else(|e| panic!("{e}"))],
                master_name: "mymaster".into(),
            });
        } else {
            config.groups[0].cluster = true;
        }
        let ctx = Context {
            config: &config,
            topology: &topology,
            marks: &[],
            read_only: false,
            now: SystemTime::now(),
        };
        // A cluster's switchover is its CLUSTER FAILOVER and its promotion CLUSTER FAILOVER
        // FORCE; a Sentinel group's switchover and failback go through Sentinel, its promote
        // and rejoin by Sentinel's view (not refused for the HA manager); a repoint is.
        assert_eq!(standing(&ctx, 0, ActionKind::Switchover), None, "{which}");
        assert_eq!(
            standing(&ctx, 0, ActionKind::Failback).is_none(),
            which == "sentinel",
            "{which}"
        );
        assert_eq!(standing(&ctx, 0, ActionKind::Promote), None, "{which}");
        let action = ActionKind::Repoint;
        let before = standing(&ctx, 0, action).unwrap_or_else(|| panic!("{which}"));
        let p = run_of(prepare(&ctx, &req(action, Some("r1")).from_source("p")));
        assert_eq!(
            p.blocked(),
            Some(before.clone()),
            "{which}: the same refusal"
        );
        assert!(before.hint().is_some(), "{which}: says what to do instead");
        assert_eq!(standing(&ctx, 0, ActionKind::Snapshot), None);
        let s = run_of(prepare(&ctx, &req(ActionKind::Snapshot, Some("p"))));
        assert_eq!(s.refusal(), None, "{which}: a snapshot changes no role");
    }
}

#[test]
fn failed_checks_block_or_ask_for_an_override() {
    let fake = FakeOps::group(&["p", "r1", "r2"]);
    fake.node("r1", |n| n.version = "7.2.4".into());
    let p = plan_of(&fake, &req(ActionKind::Switchover, Some("r1")));
    assert!(matches!(p.refusal(), Some(Refusal::NeedsOverride { .. })));
    assert_eq!(p.blocked(), None, "an override may lift it");
    assert!(p.needs_override());

    let fake = FakeOps::group(&["p", "r1", "r2"]);
    fake.node("r1", |n| n.down = true);
    let p = plan_of(&fake, &req(ActionKind::Switchover, Some("r1")));
    assert!(matches!(p.blocked(), Some(Refusal::HardFailure { .. })));
}

#[test]
fn a_role_change_without_a_gate_is_refused_unless_a_reason_is_recorded() {
    let fake = FakeOps::group(&["p", "r1", "r2"]);
    let mut p = plan_of(&fake, &req(ActionKind::Switchover, Some("r1")));
    p.plan.snapshots.clear();
    assert_eq!(p.blocked(), Some(Refusal::NoSnapshotGate));
    assert!(!p.gate_skippable());
    let skip = p.approval(Some("r1".into()), None, Some("taken by hand".into()));
    assert_eq!(guard::check(&p.plan, &skip), Ok(()));
}

#[test]
fn rejoin_marks_are_cleared_when_asked_or_settled() {
    let fake = FakeOps::group(&["p", "r1"]);
    let (config, topology) = fake.config_and_topology("g");
    let mark = RejoinMark {
        group: "g".into(),
        node: "r1".into(),
        addr: "127.0.0.1:7001".into(),
        promoted: "p".into(),
        last_replid: None,
        last_offset: None,
        fork_replid: None,
        fork_offset: None,
        marked_at: String::new(),
        run_id: "x".into(),
    };
    let mut ask = req(ActionKind::Rejoin, Some("r1"));
    ask.clear_mark = true;
    let e = prep(&config, &topology, &[], false, &ask).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NothingToDo);
    assert_eq!(e.message, "r1 has no rejoin mark: nothing to clear");
    let marks = [mark];
    match prep(&config, &topology, &marks, false, &ask) {
        Ok(Preparation::ClearMark(m)) => {
            assert_eq!((m.group.as_str(), m.node.as_str()), ("g", "r1"));
            assert_eq!(m.why, "cleared by the operator");
        }
        other => panic!("{other:?}"),
    }
    // r1 follows p with its link up: the mark is settled, nothing is planned.
    match prep(
        &config,
        &topology,
        &marks,
        false,
        &req(ActionKind::Rejoin, Some("r1")),
    ) {
        Ok(Preparation::ClearMark(m)) => assert!(m.why.contains("follows"), "{}", m.why),
        other => panic!("{other:?}"),
    }
    // Without a mark it is planned (and refused: nothing to do).
    let p = run_of(prep(
        &config,
        &topology,
        &[],
        false,
        &req(ActionKind::Rejoin, Some("r1")),
    ));
    assert!(p.blocked().is_some());
    assert_eq!(p.request.source.as_deref(), Some("p"));
    assert_eq!(p.after, AfterRun::ClearMark { node: "r1".into() });
}

/// Engine events as their names, collected by the forwarder.
fn collector() -> (
    Arc<Mutex<Vec<String>>>,
    impl FnMut(RunEvent) + Send + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let into = Arc::clone(&seen);
    let f = move |e: RunEvent| {
        let name = e.name().to_string();
        into.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(name);
    };
    (seen, f)
}

fn names(seen: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    seen.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

fn with_files(p: &mut Prepared, dir: &Path) {
    p.config.console.audit_log = dir.join("audit.jsonl");
}

#[tokio::test]
async fn execute_runs_the_plan_and_forwards_every_event() {
    let fake = FakeOps::group(&["p", "r1", "r2"]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut p = plan_of(&fake, &req(ActionKind::Switchover, Some("r1")));
    with_files(&mut p, dir.path());
    let (seen, f) = collector();
    let mut log = AuditLog::memory();
    let a = p.approval(Some("r1".into()), None, None);
    let done = execute_on(&p, &a, &fake, &mut log, f).await;
    assert_eq!(done.outcome.status, RunStatus::Done, "{:?}", done.outcome);
    assert_eq!(done.after, Aftermath::Nothing);
    let n = names(&seen);
    assert_eq!(n.first().map(String::as_str), Some("RunStarted"));
    assert_eq!(n.last().map(String::as_str), Some("RunFinished"));
    assert!(fake.with(|w| w.nodes[1].primary && !w.nodes[0].primary));
}

#[tokio::test]
async fn a_promotion_marks_the_old_primary_and_the_rejoin_clears_it() {
    let fake = primary_down();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut p = plan_of(&fake, &req(ActionKind::Promote, None));
    with_files(&mut p, dir.path());
    let (_, f) = collector();
    let mut log = AuditLog::memory();
    let a = p.approval(Some("r2".into()), None, None);
    let done = execute_on(&p, &a, &fake, &mut log, f).await;
    assert_eq!(done.outcome.status, RunStatus::Done, "{:?}", done.outcome);
    let Aftermath::Marked { mark, file } = &done.after else {
        panic!("{:?}", done.after)
    };
    assert_eq!((mark.node.as_str(), mark.promoted.as_str()), ("p", "r2"));
    let marks = promote::load_marks(file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(marks.len(), 1);

    // p is back, a primary with its old data: the rejoin plans, runs, and clears the mark.
    fake.node("p", |n| n.down = false);
    let (config, topology) = fake.config_and_topology("g");
    let mut r = run_of(prep(
        &config,
        &topology,
        &marks,
        false,
        &req(ActionKind::Rejoin, Some("p")),
    ));
    assert_eq!(r.request.source.as_deref(), Some("r2"));
    assert_eq!(r.refusal(), None, "{}", r.plan);
    with_files(&mut r, dir.path());
    let (seen, f) = collector();
    let a = r.approval(Some("p".into()), None, None);
    let done = execute_on(&r, &a, &fake, &mut log, f).await;
    assert_eq!(done.outcome.status, RunStatus::Done, "{:?}", done.outcome);
    assert_eq!(
        done.outcome.detail,
        "p rejoined: it now replicates from r2; it discarded nothing (proven)"
    );
    assert_eq!(done.after, Aftermath::MarkCleared { node: "p".into() });
    assert!(promote::load_marks(file)
        .unwrap_or_else(|e| panic!("{e}"))
        .is_empty());
    // No gate (nothing to save): the plan's reason is recorded, and said.
    assert!(names(&seen).iter().any(|n| n == "SnapshotSkipped"));
    assert!(log.records().iter().any(|r| r.event == "SnapshotSkipped"));
}

#[tokio::test]
async fn a_refused_run_changes_nothing_and_marks_nothing() {
    let fake = primary_down();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut p = plan_of(&fake, &req(ActionKind::Promote, None));
    with_files(&mut p, dir.path());
    let (_, f) = collector();
    let mut log = AuditLog::memory();
    let done = execute_on(&p, &p.approval(None, None, None), &fake, &mut log, f).await;
    assert_eq!(done.outcome.status, RunStatus::Refused);
    assert_eq!(done.after, Aftermath::Nothing);
    assert!(!fake.log().iter().any(|l| l.contains("REPLICAOF")));
}

#[tokio::test]
async fn execute_opens_the_audit_log_and_the_connections_first() {
    let fake = FakeOps::group(&["p", "r1"]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut p = plan_of(&fake, &req(ActionKind::Snapshot, Some("p")));
    let a = p.approval(Some("yes".into()), None, None);

    // A file where the audit log's directory should be: nothing runs.
    std::fs::write(dir.path().join("file"), "").unwrap_or_else(|e| panic!("{e}"));
    p.config.console.audit_log = dir.path().join("file").join("audit.jsonl");
    let connect = |_: &Config, _: usize, _: &str| -> Result<FakeOps, NodeError> {
        panic!("no connection before the audit log")
    };
    let e = execute(&p, &a, connect, |_| {}).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(e.message.starts_with("cannot open the audit log"), "{e:?}");
    assert!(e.hint.is_some());

    with_files(&mut p, dir.path());
    let refused = |_: &Config, _: usize, _: &str| -> Result<FakeOps, NodeError> {
        Err(NodeError::Other("no CA file".into()))
    };
    let e = execute(&p, &a, refused, |_| {}).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Usage);
    assert!(e.message.contains("no CA file"), "{e:?}");

    // Connections named as the lock expects, the run recorded in the file.
    let named = Arc::new(Mutex::new(String::new()));
    let got = Arc::clone(&named);
    let made = move |c: &Config, gi: usize, name: &str| -> Result<FakeOps, NodeError> {
        assert_eq!((c.groups.len(), gi), (1, 0));
        *got.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = name.to_string();
        Ok(FakeOps::group(&["p", "r1"]))
    };
    let done = execute(&p, &a, made, |_| {})
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(done.outcome.status, RunStatus::Done, "{:?}", done.outcome);
    assert!(names_of(&named).starts_with("redops-action:"));
    let audit =
        std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    assert!(audit.contains("RunFinished"), "{audit}");
}

fn names_of(s: &Arc<Mutex<String>>) -> String {
    s.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

#[test]
fn clearing_a_mark_is_audited() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let audit = dir.path().join("audit.jsonl");
    let file = promote::marks_path(&audit);
    let mark = RejoinMark {
        group: "g".into(),
        node: "n1".into(),
        addr: "127.0.0.1:7000".into(),
        promoted: "n2".into(),
        last_replid: None,
        last_offset: None,
        fork_replid: None,
        fork_offset: None,
        marked_at: String::new(),
        run_id: "x".into(),
    };
    promote::marks::add(&file, mark).unwrap_or_else(|e| panic!("{e}"));
    let m = MarkClearing {
        group: "g".into(),
        node: "n1".into(),
        why: "cleared by the operator".into(),
    };
    clear_marks(&audit, &[m]).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(promote::load_marks(&file)
        .unwrap_or_else(|e| panic!("{e}"))
        .is_empty());
    let text = std::fs::read_to_string(&audit).unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("clear-rejoin-mark"), "{text}");
}
