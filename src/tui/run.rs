//! Carrying out a confirmed action off the UI task: the core's `session::execute` (audit log,
//! named connections, the engine, the after-run work on rejoin marks) on its own thread, each
//! [`RunEvent`] forwarded to the app as a stamped `Msg::Run`, then `Msg::RunEnded` with the
//! after-run work in the console's words. Also the start-up reads: interrupted runs in the
//! audit log, and the rejoin marks.
//!
//! This is I/O, so only the runtime calls it (on tasks). It decides nothing about safety: the
//! engine enforces read-only, the checks, the confirmation, the gate and the lock.

use std::path::Path;
use std::time::SystemTime;

use tokio::sync::mpsc::UnboundedSender;

use crate::audit::{self, AuditLog, InterruptedRun};
use crate::ops::promote::{self, RejoinMark};
use crate::ops::recovery::{self, Advice};
use crate::ops::session::{self, Aftermath, MarkClearing, Prepared};
use crate::ops::{Approval, OpsError, RealOps, RedisOps, RunEvent, RunOutcome};
use crate::topology::Topology;

use super::app::Msg;

/// A confirmed action: the plan and what the operator gave for it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunJob {
    pub prepared: Prepared,
    pub approval: Approval,
}

/// How a run ended: the engine's outcome, or why it could not start; and what was done
/// afterwards, in the console's words.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub outcome: Result<RunOutcome, OpsError>,
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
                        outcome: Err(OpsError::io(format!(
                            "cannot start the action's runtime: {e}"
                        ))),
                        notes: Vec::new(),
                    }));
                }
            }
        });
    if let Err(e) = started {
        let _ = report.send(Msg::RunEnded(RunEnd {
            outcome: Err(OpsError::io(format!(
                "cannot start the action's thread: {e}"
            ))),
            notes: Vec::new(),
        }));
    }
}

/// Runs `job` on real connections, reporting to `tx`. Never panics.
pub async fn run_job(job: RunJob, tx: UnboundedSender<Msg>) {
    let ran = session::execute(
        &job.prepared,
        &job.approval,
        RealOps::new,
        forwarder(tx.clone()),
    )
    .await;
    let end = match ran {
        Ok(done) => RunEnd {
            notes: notes(&done.after),
            outcome: Ok(done.outcome),
        },
        Err(e) => RunEnd {
            outcome: Err(e),
            notes: Vec::new(),
        },
    };
    let _ = tx.send(Msg::RunEnded(end));
}

/// Runs `job` through `ops` (real or simulated): the engine's events go to `tx` as
/// `Msg::Run`, in order, then one `Msg::RunEnded`. Returns the outcome.
pub async fn drive<O: RedisOps>(
    job: &RunJob,
    ops: &O,
    log: &mut AuditLog,
    tx: &UnboundedSender<Msg>,
) -> RunOutcome {
    let done = session::execute_on(
        &job.prepared,
        &job.approval,
        ops,
        log,
        forwarder(tx.clone()),
    )
    .await;
    let _ = tx.send(Msg::RunEnded(RunEnd {
        outcome: Ok(done.outcome.clone()),
        notes: notes(&done.after),
    }));
    done.outcome
}

/// Each engine event to the app, stamped when it arrives.
fn forwarder(tx: UnboundedSender<Msg>) -> impl FnMut(RunEvent) + Send + 'static {
    move |event| {
        let _ = tx.send(Msg::Run {
            at: SystemTime::now(),
            event,
        });
    }
}

/// The after-run work in the console's words.
#[must_use]
pub fn notes(after: &Aftermath) -> Vec<String> {
    match after {
        Aftermath::Nothing => Vec::new(),
        Aftermath::Marked { mark, .. } => vec![format!(
            "{} is marked for rejoin: when it is back the banner says so; select it and press J",
            mark.node
        )],
        Aftermath::MarkCleared { node } => vec![format!("{node}'s rejoin mark was cleared")],
        Aftermath::MarkFailed { error } => vec![format!(
            "warning: the old primary could not be marked: {error}"
        )],
        Aftermath::ClearFailed { error } => vec![format!(
            "warning: the rejoin mark could not be cleared: {error}"
        )],
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

/// Clears rejoin marks beside the audit log at `audit_log`, each with an audit record.
///
/// # Errors
/// The audit log cannot be opened, or a mark cannot be cleared.
pub fn clear_marks(audit_log: &Path, marks: &[MarkClearing]) -> Result<(), String> {
    session::clear_marks(audit_log, marks).map_err(|e| e.message)
}

/// The rejoin marks kept beside the audit log at `audit_log`.
///
/// # Errors
/// The marks file exists but cannot be read or parsed.
pub fn load_marks(audit_log: &Path) -> Result<Vec<RejoinMark>, String> {
    promote::load_marks(&promote::marks_path(audit_log)).map_err(|e| e.to_string())
}

/// A restore's backup pick: the node's backups listed, or the picked one resolved (file
/// reads and a CRC check, off the UI task). Other effects are not this function's.
pub fn spawn_backup_pick(fx: super::app::Effect, tx: UnboundedSender<Msg>) {
    use super::app::Effect;
    match fx {
        Effect::ListBackups {
            backups_dir,
            group,
            request,
        } => {
            tokio::task::spawn_blocking(move || {
                let node = request.node.clone().unwrap_or_default();
                let result = list_backups(&backups_dir, &group, &node);
                let _ = tx.send(Msg::BackupsListed { request, result });
            });
        }
        Effect::ResolveBackup {
            backups_dir,
            request,
        } => {
            tokio::task::spawn_blocking(move || {
                let _ = tx.send(Msg::BackupResolved(resolve_backup(&backups_dir, request)));
            });
        }
        _ => {}
    }
}

/// The backups of `node` in group `group` in the catalog, newest first, as picker rows.
///
/// # Errors
/// None found (said in words).
pub fn list_backups(
    backups_dir: &Path,
    group: &str,
    node: &str,
) -> Result<Vec<super::modal::PickItem>, String> {
    let filter = crate::backup::Filter {
        group: Some(group.to_string()),
        node: Some(node.to_string()),
    };
    let cat = crate::backup::catalog::load(backups_dir, &filter);
    let now = SystemTime::now();
    if cat.entries.is_empty() {
        return Err(format!(
            "no backup of {node} in '{}': take a snapshot with its RDB downloaded first",
            backups_dir.display()
        ));
    }
    Ok(cat
        .entries
        .iter()
        .map(|e| {
            let m = &e.manifest;
            let keys = m.info.as_ref().map_or(0, |i| i.total_keys);
            let tested = match &m.restore_test {
                Some(t) if t.passed => ", restore-tested",
                Some(_) => ", restore test FAILED",
                None => "",
            };
            let taken =
                SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(m.taken_at_unix_ms);
            super::modal::PickItem {
                name: e.id.clone(),
                about: format!(
                    "{} ({} ago) · {} · {}{tested}",
                    crate::timefmt::clock(taken),
                    crate::timefmt::age(now, taken),
                    crate::topology::human_bytes(m.bytes),
                    crate::words::count(keys, "key")
                ),
            }
        })
        .collect())
}

/// `req` (a restore whose `source` is the picked backup's id) with the backup resolved and
/// checked, and a free loopback port for the scratch server.
///
/// # Errors
/// The id names no backup.
pub fn resolve_backup(
    backups_dir: &Path,
    mut req: crate::ops::Request,
) -> Result<crate::ops::Request, String> {
    let id = req.source.take().unwrap_or_default();
    let source = crate::backup::restore::resolve(backups_dir, &id).map_err(|e| e.to_string())?;
    req.restore = Some(Box::new(crate::ops::RestoreFrom {
        source,
        listen: crate::backup::restore::default_listen(),
        server_bin: None,
    }));
    Ok(req)
}
