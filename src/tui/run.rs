//! Carrying out a confirmed action off the UI task, as the CLI's `run_plan` does: open the
//! configured audit log, prepare the connections under redops's action client name, run the
//! engine, forward every [`RunEvent`](crate::ops::RunEvent) to the app as a stamped
//! `Msg::Run`, then do the after-run bookkeeping (rejoin marks) and report `Msg::RunEnded`.
//! Also the start-up reads: interrupted runs in the audit log, and the rejoin marks.
//!
//! This is I/O, so only the runtime calls it (on tasks). It decides nothing about safety: the
//! engine enforces read-only, the checks, the confirmation, the gate and the lock.

use std::path::Path;
use std::time::SystemTime;

use tokio::sync::mpsc::{self, UnboundedSender};

use crate::audit::{self, AuditLog, InterruptedRun};
use crate::ops::promote::{self, PromotePlan, RejoinMark};
use crate::ops::recovery::{self, Advice};
use crate::ops::redis_ops::action_client_name;
use crate::ops::{self, Approval, RealOps, RedisOps, RunOutcome, RunStatus};
use crate::topology::Topology;

use super::app::Msg;
use super::prepare::{After, Prepared};

/// A confirmed action: the plan and what the operator gave for it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunJob {
    pub prepared: Prepared,
    pub approval: Approval,
}

/// How a run ended: the engine's outcome, or why it could not start; and what the console
/// did afterwards.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub outcome: Result<RunOutcome, String>,
    pub notes: Vec<String>,
}

/// Starts `job` on its own thread with its own runtime: the engine's future is not `Send`
/// (its snapshot progress callback), and a run that owns a thread never waits on the UI.
/// When the console quits mid-run the thread dies with the process; the run is then found
/// unfinished in the audit log at the next start.
pub fn spawn(job: RunJob, tx: UnboundedSender<Msg>) {
    let report = tx.clone();
    let started = std::thread::Builder::new()
        .name("redops-action".to_string())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(run_job(job, tx)),
                Err(e) => {
                    let _ = tx.send(Msg::RunEnded(RunEnd {
                        outcome: Err(format!("cannot start the action's runtime: {e}")),
                        notes: Vec::new(),
                    }));
                }
            }
        });
    if let Err(e) = started {
        let _ = report.send(Msg::RunEnded(RunEnd {
            outcome: Err(format!("cannot start the action's thread: {e}")),
            notes: Vec::new(),
        }));
    }
}

/// Runs `job` on real connections, reporting to `tx`. Never panics.
pub async fn run_job(job: RunJob, tx: UnboundedSender<Msg>) {
    let path = job.prepared.config.console.audit_log.clone();
    let fail = |why: String| {
        let _ = tx.send(Msg::RunEnded(RunEnd {
            outcome: Err(why),
            notes: Vec::new(),
        }));
    };
    let mut log = match AuditLog::open(&path) {
        Ok(l) => l,
        Err(e) => {
            return fail(format!(
            "cannot open the audit log '{}': {e} (hint: set console.audit_log to a writable file; \
                 no action runs without an audit trail)",
            path.display()
        ))
        }
    };
    let who = log.who().clone();
    let name = action_client_name(&who.user, &who.host, who.pid);
    let ops = match RealOps::new(&job.prepared.config, job.prepared.plan.group_index, &name) {
        Ok(o) => o,
        Err(e) => return fail(format!("cannot prepare the connections: {e}")),
    };
    drive(&job, &ops, &mut log, &tx).await;
}

/// Runs `job` through `ops` (real or simulated): the engine's events go to `tx` as
/// `Msg::Run`, in order, then one `Msg::RunEnded`. Returns the outcome.
pub async fn drive<O: RedisOps>(
    job: &RunJob,
    ops: &O,
    log: &mut AuditLog,
    tx: &UnboundedSender<Msg>,
) -> RunOutcome {
    let (etx, mut erx) = mpsc::unbounded_channel();
    let fwd = tx.clone();
    // Unbounded on both sides: a slow screen never holds the engine while writes are paused.
    let forward = tokio::spawn(async move {
        while let Some(event) = erx.recv().await {
            let _ = fwd.send(Msg::Run {
                at: SystemTime::now(),
                event,
            });
        }
    });
    let outcome = ops::run(&job.prepared.plan, &job.approval, ops, log, &etx).await;
    drop(etx);
    let _ = forward.await;
    let notes = after_run(&job.prepared, &outcome);
    let _ = tx.send(Msg::RunEnded(RunEnd {
        outcome: Ok(outcome.clone()),
        notes,
    }));
    outcome
}

/// The CLI's after-run bookkeeping: a promotion marks the old primary for rejoin, a done
/// rejoin clears the node's mark. Returns what was done, in words.
#[must_use]
pub fn after_run(p: &Prepared, outcome: &RunOutcome) -> Vec<String> {
    let marks = promote::marks_path(&p.config.console.audit_log);
    match &p.after {
        After::Nothing => Vec::new(),
        After::MarkOldPrimary {
            candidates,
            chosen,
            loss,
        } => {
            let pp = PromotePlan {
                plan: p.plan.clone(),
                candidates: candidates.as_ref().clone(),
                chosen: chosen.clone(),
                loss: loss.clone(),
            };
            match pp.mark_old_primary(outcome, &marks) {
                Ok(Some(m)) => vec![format!(
                    "{} is marked for rejoin: when it is back the banner says so; select it and press J",
                    m.node
                )],
                Ok(None) => Vec::new(),
                Err(e) => vec![format!("warning: the old primary could not be marked: {e}")],
            }
        }
        After::ClearMark { node } if outcome.status == RunStatus::Done => {
            match promote::marks::clear(&marks, &p.plan.group, node) {
                Ok(true) => vec![format!("{node}'s rejoin mark was cleared")],
                Ok(false) => Vec::new(),
                Err(e) => vec![format!(
                    "warning: the rejoin mark could not be cleared: {e}"
                )],
            }
        }
        After::ClearMark { .. } => Vec::new(),
    }
}

/// Runs in the audit log at `path` that never finished, each with advice for its group as
/// polled now. Those whose group is consistent again are acknowledged in the log (as the CLI
/// does) and come back with `settled` set.
///
/// # Errors
/// The audit log exists but cannot be read.
pub fn check_interrupted(
    path: &Path,
    topology: &Topology,
) -> Result<Vec<(InterruptedRun, Advice)>, String> {
    let found = recovery::check_interrupted(path, topology)
        .map_err(|e| format!("cannot read the audit log '{}': {e}", path.display()))?;
    for (run, advice) in &found {
        if advice.settled {
            if let Ok(mut log) = AuditLog::open(path) {
                let _ = audit::acknowledge(&mut log, run, &advice.next_step.to_string());
            }
        }
    }
    Ok(found)
}

/// Clears the settled marks `(group, node, why)` beside the audit log at `audit_log`, each with
/// an audit record.
///
/// # Errors
/// The audit log cannot be opened, or a mark cannot be cleared.
pub fn clear_marks(audit_log: &Path, marks: &[(String, String, String)]) -> Result<(), String> {
    let mut log = AuditLog::open(audit_log)
        .map_err(|e| format!("cannot open the audit log '{}': {e}", audit_log.display()))?;
    let file = promote::marks_path(audit_log);
    for (group, node, why) in marks {
        promote::marks::clear_audited(&file, &mut log, group, node, why)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The rejoin marks kept beside the audit log at `audit_log`.
///
/// # Errors
/// The marks file exists but cannot be read or parsed.
pub fn load_marks(audit_log: &Path) -> Result<Vec<RejoinMark>, String> {
    promote::load_marks(&promote::marks_path(audit_log)).map_err(|e| e.to_string())
}
