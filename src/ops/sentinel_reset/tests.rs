use super::plan_reset;
use crate::config::{Addr, Sentinel};
use crate::drill::testing::{primary, replica, topo};
use crate::info::{Info, ReplicaLine};
use crate::ops::fake::FakeOps;
use crate::ops::plan::{CheckStatus, StepKind};
use crate::ops::{Budgets, ErrorKind, Plan};
use crate::sentinel::{GroupSentinel, SentinelRow};

pub(crate) fn row(i: u16, up: bool) -> SentinelRow {
    SentinelRow {
        addr: format!("127.0.0.1:{}", 26_000 + i),
        error: (!up).then(|| "connection refused".to_string()),
        pending: false,
        unknown_master: false,
        master: Some("127.0.0.1:7000".into()),
        master_node: Some("n1".into()),
        flags: vec!["master".into()],
        quorum: Some(2),
        ckquorum: None,
        failover_state: None,
        epoch: Some(0),
        tilt: false,
        other_sentinels: Some(2),
    }
}

/// A group n1 (two replicas listed in its INFO) with `up` telling which of 3 sentinels answer.
pub(crate) fn setup(up: [bool; 3]) -> (crate::config::Config, crate::topology::Topology) {
    let (mut config, _) = FakeOps::group(&["n1", "n2", "n3"]).config_and_topology("g");
    config.groups[0].sentinel = Some(Sentinel {
        addrs: (0..3)
            .map(|i| {
                Addr::parse(&format!("127.0.0.1:{}", 26_000 + i)).unwrap_or_else(|e| panic!("{e}"))
            })
            .collect(),
        master_name: "m".into(),
    });
    let mut t = topo(
        1,
        &[primary("n1"), replica("n2", "n1"), replica("n3", "n1")],
    );
    t.groups[0].name = "g".into();
    let mut info = Info::default();
    info.replication.replicas = vec![ReplicaLine::default(), ReplicaLine::default()];
    t.groups[0].nodes[0].info = Some(std::sync::Arc::new(info));
    t.groups[0].sentinel = Some(GroupSentinel {
        master_name: "m".into(),
        rows: (0..3).zip(up).map(|(i, u)| row(i, u)).collect(),
        ..Default::default()
    });
    (config, t)
}

fn failed(p: &Plan) -> Vec<String> {
    p.failures().map(|c| c.message.clone()).collect()
}

#[test]
fn every_answering_sentinel_one_at_a_time_with_what_it_must_find_again() {
    let (config, t) = setup([true, true, true]);
    let p = plan_reset(&config, &t, 0, Budgets::default()).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(p.checks_pass(), "{p}");
    assert_eq!(p.sentinel_nodes.len(), 3);
    assert_eq!(p.steps.len(), 6, "{p}");
    for (k, pair) in p.steps.chunks(2).enumerate() {
        assert_eq!(pair[0].node, p.sentinel_nodes[k]);
        assert!(
            matches!(&pair[0].kind, StepKind::SentinelReset { master, at, others, quorum }
                if master == "m" && at.to_string() == "127.0.0.1:7000" && others.len() == 2
                    && *quorum == 2),
            "{:?}",
            pair[0].kind
        );
        assert!(
            matches!(
                pair[1].kind,
                StepKind::SentinelRediscovered {
                    replicas: 2,
                    peers: 2,
                    ..
                }
            ),
            "{:?}",
            pair[1].kind
        );
    }
    assert!(!p.changes_roles());
    let shown = p.to_string();
    assert!(
        shown.contains("snapshot gate: none needed (no data moves"),
        "{shown}"
    );
    assert!(shown.contains("nothing to roll back"), "{shown}");
}

#[test]
fn refused_when_a_reset_would_leave_fewer_than_the_quorum_or_a_failover_runs() {
    let (config, t) = setup([true, true, false]);
    let p = plan_reset(&config, &t, 0, Budgets::default()).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(p.has_hard_failure());
    assert!(
        failed(&p)
            .iter()
            .any(|m| m.contains("fewer than the quorum 2")),
        "{p}"
    );
    assert!(p
        .checks
        .iter()
        .any(|c| c.status == CheckStatus::Warn && c.message.contains("is not reset")));
    let (config, mut t) = setup([true, true, true]);
    if let Some(s) = t.groups[0].sentinel.as_mut() {
        s.rows[0].failover_state = Some("select_slave".into());
    }
    let p = plan_reset(&config, &t, 0, Budgets::default()).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        failed(&p).iter().any(|m| m.contains("would abort it")),
        "{p}"
    );
    let (config, mut t) = setup([true, true, true]);
    if let Some(s) = t.groups[0].sentinel.as_mut() {
        s.rows[2].master_node = Some("n2".into());
        s.rows[2].master = Some("127.0.0.1:7001".into());
    }
    let p = plan_reset(&config, &t, 0, Budgets::default()).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(failed(&p).iter().any(|m| m.contains("disagree")), "{p}");
    let (config, mut t) = setup([true, true, true]);
    t.groups[0].sentinel = None;
    let p = plan_reset(&config, &t, 0, Budgets::default()).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(failed(&p).iter().any(|m| m.contains("not known")), "{p}");
    assert!(p.steps.is_empty());
    let e = plan_reset(&config, &t, 4, Budgets::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Usage);
    let (mut config, t) = setup([true, true, true]);
    config.groups[0].sentinel = None;
    let e = plan_reset(&config, &t, 0, Budgets::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Usage);
}

/// Three simulated sentinels over the fake group: each knows (replicas, peers); a reset makes
/// it know nothing, then everything again after two reads; after the first reset is seen
/// through, the sentinel named in `dies` stops answering (the guard's fault).
struct Sentinels {
    fake: FakeOps,
    state: std::sync::Mutex<SentinelWorld>,
}

/// What else goes wrong in [`Sentinels`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Fault {
    #[default]
    None,
    /// Every sentinel reports a failover under way.
    Failover,
    /// `SENTINEL RESET` gets no answer (it reaches the sentinel all the same).
    SilentReset,
}

#[derive(Default)]
struct SentinelWorld {
    /// Per sentinel plan name: what it knows, reads left until it knows it again, down.
    known: std::collections::HashMap<String, ((u64, u64), u32, bool)>,
    dies: Option<String>,
    fault: Fault,
    /// Every SENTINEL RESET received, by sentinel.
    resets: Vec<String>,
}

impl crate::ops::RedisOps for Sentinels {
    async fn send(
        &self,
        node: &crate::ops::plan::PlanNode,
        cmd: &crate::ops::Command,
    ) -> Result<crate::ops::Reply, crate::observe::NodeError> {
        use crate::ops::{Command, Reply};
        if !node.name.starts_with("sentinel ") {
            return self.fake.send(node, cmd).await;
        }
        let mut w = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dies = w.dies.clone();
        let fault = w.fault;
        let Some(entry) = w.known.get_mut(&node.name) else {
            return Err(crate::observe::NodeError::Refused(
                "no such sentinel".into(),
            ));
        };
        if entry.2 {
            return Err(crate::observe::NodeError::Refused(
                "connection refused".into(),
            ));
        }
        match cmd {
            Command::SentinelReset(_) if fault == Fault::SilentReset => {
                w.resets.push(node.name.clone());
                Err(crate::observe::NodeError::Unresponsive(
                    std::time::Duration::from_secs(1),
                ))
            }
            Command::SentinelReset(_) => {
                entry.1 = 2;
                w.resets.push(node.name.clone());
                Ok(Reply::Int(1))
            }
            Command::SentinelMaster(_) if fault == Fault::Failover => Ok(Reply::Text(
                "127.0.0.1 7000 master,failover_in_progress".into(),
            )),
            Command::SentinelMaster(_) => Ok(Reply::Text("127.0.0.1 7000 master".into())),
            Command::SentinelKnows(_) if entry.1 > 0 => {
                entry.1 -= 1;
                Ok(Reply::Text("replicas 0 sentinels 0".into()))
            }
            Command::SentinelKnows(_) => {
                let ((r, p), _, _) = *entry;
                // The first reset sentinel has found everything again: now one dies.
                if !w.resets.is_empty() {
                    if let Some(d) = dies.and_then(|d| w.known.get_mut(&d)) {
                        d.2 = true;
                    }
                }
                Ok(Reply::Text(format!("replicas {r} sentinels {p}")))
            }
            other => Err(crate::observe::NodeError::Reply(format!(
                "ERR unexpected {other}"
            ))),
        }
    }

    fn client_name(&self) -> &str {
        self.fake.client_name()
    }
}

async fn run_reset(
    dies: Option<&str>,
    fault: Fault,
) -> (
    crate::ops::RunOutcome,
    Vec<crate::ops::RunEvent>,
    Vec<crate::audit::Record>,
    Vec<String>,
) {
    let (config, t) = setup([true, true, true]);
    let plan = plan_reset(&config, &t, 0, Budgets::default()).unwrap_or_else(|e| panic!("{e:?}"));
    let ops = Sentinels {
        fake: FakeOps::group(&["n1", "n2", "n3"]),
        state: std::sync::Mutex::new(SentinelWorld {
            known: plan
                .sentinel_nodes
                .iter()
                .map(|&s| (plan.name(s).to_string(), ((2, 2), 0, false)))
                .collect(),
            dies: dies.map(str::to_string),
            fault,
            resets: Vec::new(),
        }),
    };
    let mut log = crate::audit::AuditLog::memory();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let approval = crate::ops::Approval {
        confirmation: Some("yes".into()),
        ..crate::ops::Approval::default()
    };
    let out = crate::ops::run(&plan, &approval, &ops, &mut log, &tx).await;
    drop(tx);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    let resets = ops
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .resets
        .clone();
    (out, events, log.records(), resets)
}

/// What the run's rollback line says (a reset has one: what was reset, nothing to undo).
fn rolled_back(events: &[crate::ops::RunEvent]) -> String {
    events
        .iter()
        .find_map(|e| match e {
            crate::ops::RunEvent::RolledBack { what, .. } => Some(what.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_sentinel_is_reset_one_after_the_other_through_the_engine() {
    let (out, events, records, resets) = run_reset(None, Fault::None).await;
    assert_eq!(out.status, crate::ops::RunStatus::Done, "{out:#?}");
    assert_eq!(
        resets,
        [
            "sentinel 127.0.0.1:26000",
            "sentinel 127.0.0.1:26001",
            "sentinel 127.0.0.1:26002"
        ]
    );
    let verified = events
        .iter()
        .filter(|e| matches!(e, crate::ops::RunEvent::StepVerified { .. }))
        .count();
    assert_eq!(verified, 6, "{events:#?}");
    assert!(records.iter().any(|r| r.action == "sentinel-reset"));
    assert!(!events
        .iter()
        .any(|e| matches!(e, crate::ops::RunEvent::SnapshotSkipped { .. })));
}

#[tokio::test]
async fn the_guard_failing_mid_run_stops_it_and_says_which_sentinels_were_reset() {
    let (out, events, records, resets) =
        run_reset(Some("sentinel 127.0.0.1:26002"), Fault::None).await;
    assert_eq!(out.status, crate::ops::RunStatus::Failed, "{out:#?}");
    assert_eq!(out.exit_code(), 1);
    // The first sentinel was reset and found the group again; the second's guard read only
    // one other sentinel knowing the master (the third is down): it was not reset.
    assert_eq!(resets, ["sentinel 127.0.0.1:26000"]);
    assert!(
        out.detail.contains("step 3 (reset 127.0.0.1:26001) failed"),
        "{}",
        out.detail
    );
    assert!(
        out.detail.contains("fewer than the quorum 2"),
        "{}",
        out.detail
    );
    let said = rolled_back(&events);
    assert!(
        said.contains("reset and caught up: sentinel 127.0.0.1:26000"),
        "{said}"
    );
    assert!(
        said.contains("not reset: sentinel 127.0.0.1:26001, sentinel 127.0.0.1:26002"),
        "{said}"
    );
    assert!(said.contains("nothing to roll back"), "{said}");
    let next = out
        .next_step
        .as_ref()
        .map(|n| n.why.clone())
        .unwrap_or_default();
    assert!(next.contains("reset again"), "{next}");
    assert!(records
        .iter()
        .any(|r| r.event == "RunFinished" && r.action == "sentinel-reset"));
}

#[tokio::test]
async fn a_failover_seen_by_the_guard_stops_the_reset_before_anything_is_sent() {
    let (out, _, _, resets) = run_reset(None, Fault::Failover).await;
    assert_eq!(out.status, crate::ops::RunStatus::Failed, "{out:#?}");
    assert!(resets.is_empty(), "{resets:?}");
    assert!(
        out.detail.contains("a reset would abort it"),
        "{}",
        out.detail
    );
}

#[tokio::test]
async fn an_unanswered_reset_is_said_to_be_possibly_done_and_stops_the_run() {
    let (out, events, _, resets) = run_reset(None, Fault::SilentReset).await;
    assert_eq!(out.status, crate::ops::RunStatus::Failed, "{out:#?}");
    assert_eq!(resets, ["sentinel 127.0.0.1:26000"]);
    assert!(
        out.detail.contains("it may still have run"),
        "{}",
        out.detail
    );
    let said = rolled_back(&events);
    assert!(
        said.contains("reset, still finding the group: sentinel 127.0.0.1:26000"),
        "{said}"
    );
}
