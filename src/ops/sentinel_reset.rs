//! `sentinel reset GROUP`: `SENTINEL RESET <master>` on each sentinel of a group, one at a
//! time, for stale replica and sentinel lists (a replica retired for good, a sentinel moved).
//! A reset sentinel forgets the master's replicas and its peers and finds them again (the
//! master's `INFO`, the hello channel); meanwhile it cannot vote, so the next one is reset
//! only once it has found them all again (bounded), and none is reset unless a quorum of the
//! others still knows the master (read again before each reset).
//!
//! [`plan`] is pure (Sentinel's view on the topology in, the plan or the refusal out);
//! [`run`] does the I/O: each command bounded by the timeouts, every step in the audit log.
//! Never a role change: `SENTINEL RESET` moves no master.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::audit::{AuditLog, Outcome, Record, RUN_FINISHED, RUN_STARTED, STEP_STARTED};
use crate::config::{Addr, Config};
use crate::node::{NodeClient, Timeouts};
use crate::sentinel::reply::{self, MasterEntry};
use crate::topology::{Role, Topology};

use super::error::{OpsError, OpsResult};
use super::redis_ops::Command;

/// How long a reset sentinel may take to find the replicas and its peers again (the hello
/// channel speaks every 2 s; the master's INFO is read at once).
pub const REDISCOVERY: Duration = Duration::from_secs(30);
/// The action's name in the audit log.
pub const ACTION: &str = "sentinel-reset";

/// The reset of one group's sentinels, as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResetPlan {
    pub group: String,
    pub master_name: String,
    /// The master the sentinels name (`host:port`), and its node.
    pub master: String,
    /// The sentinels reset, in this order.
    #[serde(serialize_with = "addrs")]
    pub sentinels: Vec<Addr>,
    /// Sentinels configured that do not answer (not reset).
    pub skipped: Vec<String>,
    pub quorum: usize,
    /// What each reset sentinel must know again before the next: the master's replicas (as
    /// the master lists them) and the other answering sentinels.
    pub replicas: u64,
    pub peers: u64,
    #[serde(with = "crate::drill::spec::duration")]
    pub rediscovery: Duration,
}

fn addrs<S: serde::Serializer>(a: &[Addr], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(a.iter().map(ToString::to_string))
}

impl std::fmt::Display for ResetPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "sentinel reset on group '{}' (master name '{}', master {}): {} sentinel(s), one at a time",
            self.group,
            self.master_name,
            self.master,
            self.sentinels.len()
        )?;
        for (i, s) in self.sentinels.iter().enumerate() {
            writeln!(
                f,
                "  {}. SENTINEL RESET {} on {s}, then wait until it knows {} replica(s) and {} other \
                 sentinel(s) (at most {}s)",
                i + 1,
                self.master_name,
                self.replicas,
                self.peers,
                self.rediscovery.as_secs()
            )?;
        }
        for s in &self.skipped {
            writeln!(f, "  note: {s} does not answer: it is not reset")?;
        }
        write!(
            f,
            "  guard: before each reset, at least {} other sentinel(s) must still know the master",
            self.quorum
        )
    }
}

/// Plans the reset of group `group`'s sentinels from one poll (with Sentinel's view).
///
/// # Errors
/// Usage: no such group, or no sentinel configured for it. Refused: a failover under way, the
/// sentinels disagree on the master or do not know it, or fewer than a quorum would remain
/// knowing the master while one is reset.
pub fn plan(config: &Config, topology: &Topology, group: &str) -> OpsResult<ResetPlan> {
    let Some(gi) = config.groups.iter().position(|g| g.name == group) else {
        let names: Vec<&str> = config.groups.iter().map(|g| g.name.as_str()).collect();
        return Err(OpsError::usage(format!("no group '{group}' in the config"))
            .hint(format!("groups: {}", names.join(", "))));
    };
    let Some(cfg) = config.groups[gi].sentinel.as_ref() else {
        return Err(OpsError::usage(format!(
            "group '{group}' has no sentinels in the config: there is nothing to reset"
        ))
        .hint("a Sentinel group has sentinel = { addrs = [...], master_name = \"...\" }"));
    };
    let gt = super::group_topology(topology, gi);
    let Some(view) = gt.sentinel.as_ref() else {
        return Err(
            OpsError::refused(format!("Sentinel's view of group '{group}' is not known"))
                .hint("check the sentinels' addresses (redops status shows each sentinel)"),
        );
    };
    if view.failover_in_progress() {
        return Err(OpsError::refused(format!(
            "a Sentinel failover of '{}' is under way: a reset would abort it",
            cfg.master_name
        ))
        .hint("wait for the failover to end, then reset"));
    }
    let master_node = super::repoint::sentinel::agreed_master(view, group)?;
    let knowing: Vec<&crate::sentinel::SentinelRow> = view
        .rows
        .iter()
        .filter(|r| r.is_up() && !r.unknown_master && r.master.is_some())
        .collect();
    let quorum = view.quorum().max(1);
    if knowing.len() < quorum + 1 {
        return Err(OpsError::refused(format!(
            "{} of {} sentinels know the master: while one is reset, fewer than the quorum {quorum} \
             would remain knowing it",
            knowing.len(),
            view.rows.len()
        ))
        .hint("bring the other sentinels back first (redops status shows each sentinel)"));
    }
    let replicas = gt
        .by_name(&master_node)
        .filter(|v| v.role == Role::Primary && v.state.is_reachable())
        .and_then(|v| v.info.as_ref())
        .map_or(0, |i| i.replication.replicas.len() as u64);
    let sentinels: Vec<Addr> = cfg
        .addrs
        .iter()
        .filter(|a| knowing.iter().any(|r| r.addr == a.to_string()))
        .cloned()
        .collect();
    let skipped = view
        .rows
        .iter()
        .filter(|r| !sentinels.iter().any(|a| a.to_string() == r.addr))
        .map(|r| r.addr.clone())
        .collect();
    Ok(ResetPlan {
        group: group.to_string(),
        master_name: cfg.master_name.clone(),
        master: format!(
            "{master_node} ({})",
            knowing
                .first()
                .and_then(|r| r.master.clone())
                .unwrap_or_default()
        ),
        peers: sentinels.len() as u64 - 1,
        sentinels,
        skipped,
        quorum,
        replicas,
        rediscovery: REDISCOVERY,
    })
}

/// What a reset run tells its front-end, as it happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ResetEvent {
    /// The others still know the master; this sentinel is reset now.
    ResetSent {
        step: usize,
        sentinel: String,
    },
    /// It knows the replicas and its peers again.
    Rediscovered {
        step: usize,
        sentinel: String,
        replicas: u64,
        peers: u64,
        ms: u64,
    },
    /// The run stopped here; the sentinels after this one were not reset.
    Stopped {
        step: usize,
        why: String,
    },
    Finished {
        done: bool,
    },
}

/// Resets the plan's sentinels one at a time, each step recorded in the audit log at
/// `audit_log`. Returns whether every sentinel was reset and found everything again.
///
/// # Errors
/// The audit log cannot be opened (nothing is sent then).
pub async fn run(
    plan: &ResetPlan,
    timeouts: Timeouts,
    audit_log: &Path,
    mut emit: impl FnMut(ResetEvent),
) -> OpsResult<bool> {
    let mut log = AuditLog::open(audit_log).map_err(|e| {
        OpsError::io(format!(
            "no reset without an audit trail: cannot open '{}': {e}",
            audit_log.display()
        ))
    })?;
    let run_id = super::engine::new_run_id();
    let base = Record {
        run_id: run_id.clone(),
        group: plan.group.clone(),
        action: ACTION.to_string(),
        nodes: plan.sentinels.iter().map(ToString::to_string).collect(),
        ..Record::default()
    };
    let mut seq = 0;
    let mut write = |mut rec: Record| {
        seq += 1;
        rec.seq = seq;
        // A record that cannot be written is not a reason to leave sentinels half reset.
        let _ = log.write(rec);
    };
    write(Record {
        event: RUN_STARTED.to_string(),
        detail: Some(format!(
            "sentinel reset of '{}' on {} sentinel(s), one at a time",
            plan.master_name,
            plan.sentinels.len()
        )),
        ..base.clone()
    });
    let mut stopped = None;
    for (step, addr) in plan.sentinels.iter().enumerate() {
        let cmd = Command::SentinelReset(plan.master_name.clone());
        write(Record {
            event: STEP_STARTED.to_string(),
            step: Some(step),
            node: Some(addr.to_string()),
            title: Some(format!("reset {addr}")),
            commands: vec![format!("{addr}: {cmd}")],
            ..base.clone()
        });
        match reset_one(plan, addr, timeouts, &cmd).await {
            Ok((replicas, peers, ms)) => {
                emit(ResetEvent::ResetSent {
                    step,
                    sentinel: addr.to_string(),
                });
                write(Record {
                    event: "StepVerified".to_string(),
                    step: Some(step),
                    node: Some(addr.to_string()),
                    detail: Some(format!(
                        "{addr} knows {replicas} replica(s) and {peers} other sentinel(s) again after {ms} ms"
                    )),
                    ..base.clone()
                });
                emit(ResetEvent::Rediscovered {
                    step,
                    sentinel: addr.to_string(),
                    replicas,
                    peers,
                    ms,
                });
            }
            Err(Stop { sent, why }) => {
                if sent {
                    emit(ResetEvent::ResetSent {
                        step,
                        sentinel: addr.to_string(),
                    });
                }
                write(Record {
                    event: "StepFailed".to_string(),
                    step: Some(step),
                    node: Some(addr.to_string()),
                    detail: Some(why.clone()),
                    ..base.clone()
                });
                emit(ResetEvent::Stopped { step, why });
                stopped = Some(step);
                break;
            }
        }
    }
    let done = stopped.is_none();
    write(Record {
        event: RUN_FINISHED.to_string(),
        outcome: Some(if done { Outcome::Done } else { Outcome::Failed }),
        detail: Some(finished(plan, stopped)),
        ..base
    });
    emit(ResetEvent::Finished { done });
    Ok(done)
}

/// The last record's words: done, or where it stopped.
fn finished(plan: &ResetPlan, stopped: Option<usize>) -> String {
    match stopped {
        None => format!(
            "every sentinel of '{}' reset and caught up",
            plan.master_name
        ),
        Some(s) => format!(
            "stopped at sentinel {} of {}: the ones after it were not reset",
            s + 1,
            plan.sentinels.len()
        ),
    }
}

/// Why one sentinel's step stopped the run, and whether its reset was sent.
struct Stop {
    sent: bool,
    why: String,
}

fn client(addr: &Addr, timeouts: Timeouts) -> Result<NodeClient, String> {
    NodeClient::new(
        &crate::sentinel::poll::as_node(addr),
        timeouts,
        crate::sentinel::SENTINEL_CLIENT_NAME,
    )
    .map_err(|e| format!("cannot reach {addr}: {e}"))
}

/// `SENTINEL MASTER name` on one sentinel.
async fn master_of(addr: &Addr, name: &str, timeouts: Timeouts) -> Result<MasterEntry, String> {
    let mut c = client(addr, timeouts)?;
    let mut cmd = redis::cmd("SENTINEL");
    cmd.arg("MASTER").arg(name);
    let v: redis::Value = c.query(&cmd).await.map_err(|e| format!("{addr}: {e}"))?;
    reply::master(&v).map_err(|e| format!("{addr}: {e}"))
}

/// The guard read live, the reset, and the wait until it knows everything again: the
/// replicas found, the peers found, and the time it took.
async fn reset_one(
    plan: &ResetPlan,
    addr: &Addr,
    timeouts: Timeouts,
    cmd: &Command,
) -> Result<(u64, u64, u64), Stop> {
    let stop = |sent: bool, why: String| Stop { sent, why };
    let mut knowing = 0;
    for other in plan.sentinels.iter().filter(|o| *o != addr) {
        if master_of(other, &plan.master_name, timeouts).await.is_ok() {
            knowing += 1;
        }
    }
    if knowing < plan.quorum {
        return Err(stop(
            false,
            format!(
                "only {knowing} other sentinel(s) know the master now, fewer than the quorum {}: \
                 {addr} is not reset",
                plan.quorum
            ),
        ));
    }
    let mut c = client(addr, timeouts).map_err(|e| stop(false, e))?;
    let mut redis_cmd = redis::cmd("SENTINEL");
    for a in cmd.args().iter().skip(1) {
        redis_cmd.arg(a);
    }
    match c.query::<i64>(&redis_cmd).await {
        Ok(1) => {}
        Ok(n) => {
            return Err(stop(
                true,
                format!("{addr} answered {n} to {cmd}: it does not monitor that master name"),
            ))
        }
        Err(e) => {
            return Err(stop(
                true,
                format!("{cmd} on {addr} failed: {e} (it may still have run)"),
            ))
        }
    }
    let started = Instant::now();
    let end = started + plan.rediscovery;
    let mut last = String::from("not read yet");
    while Instant::now() < end {
        match master_of(addr, &plan.master_name, timeouts).await {
            Ok(m) => {
                let (r, p) = (
                    m.num_replicas.unwrap_or(0),
                    m.num_other_sentinels.unwrap_or(0),
                );
                if r >= plan.replicas && p >= plan.peers {
                    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    return Ok((r, p, ms));
                }
                last = format!("{r} replica(s), {p} other sentinel(s)");
            }
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(stop(
        true,
        format!(
            "{addr} was reset but has not found {} replica(s) and {} other sentinel(s) again within \
             {}s (last read: {last}): the sentinels after it are not reset",
            plan.replicas,
            plan.peers,
            plan.rediscovery.as_secs()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::plan;
    use crate::config::{Addr, Sentinel};
    use crate::drill::testing::{primary, replica, topo};
    use crate::info::{Info, ReplicaLine};
    use crate::ops::fake::FakeOps;
    use crate::ops::ErrorKind;
    use crate::sentinel::{GroupSentinel, SentinelRow};

    fn row(i: u16, up: bool) -> SentinelRow {
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
    fn setup(up: [bool; 3]) -> (crate::config::Config, crate::topology::Topology) {
        let (mut config, _) = FakeOps::group(&["n1", "n2", "n3"]).config_and_topology("g");
        config.groups[0].sentinel = Some(Sentinel {
            addrs: (0..3)
                .map(|i| {
                    Addr::parse(&format!("127.0.0.1:{}", 26_000 + i))
                        .unwrap_or_else(|e| panic!("{e}"))
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

    #[test]
    fn every_answering_sentinel_one_at_a_time_with_what_it_must_find_again() {
        let (config, t) = setup([true, true, true]);
        let p = plan(&config, &t, "g").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(p.sentinels.len(), 3);
        assert_eq!((p.replicas, p.peers, p.quorum), (2, 2, 2));
        assert!(p.to_string().contains("one at a time"), "{p}");
    }

    #[test]
    fn refused_when_a_reset_would_leave_fewer_than_the_quorum_or_a_failover_runs() {
        let (config, t) = setup([true, true, false]);
        let e = plan(&config, &t, "g").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(e.message.contains("fewer than the quorum 2"), "{e:?}");
        let (config, mut t) = setup([true, true, true]);
        if let Some(s) = t.groups[0].sentinel.as_mut() {
            s.rows[0].failover_state = Some("select_slave".into());
        }
        let e = plan(&config, &t, "g").unwrap_err();
        assert!(e.message.contains("would abort it"), "{e:?}");
        let (config, mut t) = setup([true, true, true]);
        if let Some(s) = t.groups[0].sentinel.as_mut() {
            s.rows[2].master_node = Some("n2".into());
            s.rows[2].master = Some("127.0.0.1:7001".into());
        }
        let e = plan(&config, &t, "g").unwrap_err();
        assert!(e.message.contains("disagree"), "{e:?}");
        let e = plan(&config, &t, "nope").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Usage);
        let (mut config, t) = setup([true, true, true]);
        config.groups[0].sentinel = None;
        assert_eq!(plan(&config, &t, "g").unwrap_err().kind, ErrorKind::Usage);
    }
}
