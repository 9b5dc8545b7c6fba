//! Running a prepared plan: open the configured audit log, name the action's connections
//! (`redops-action:<user>@<host>:<pid>`, the lock), run the engine with its events handed to
//! the front-end as they happen, then the after-run work on rejoin marks; and clearing marks
//! with an audit record. The front-end keeps its confirmation, its thread and its words.
//!
//! Generic over [`RedisOps`] (the connections come from a factory) so that tests run it over
//! `ops::fake`. Nothing here decides about safety: the engine enforces every guard again.

use std::path::{Path, PathBuf};

use crate::audit::AuditLog;
use crate::config::Config;
use crate::observe::NodeError;
use crate::ops::engine::{self, Approval, RunEvent, RunOutcome, RunStatus};
use crate::ops::error::{OpsError, OpsResult};
use crate::ops::promote::{self, PromotePlan, RejoinMark};
use crate::ops::redis_ops::{action_client_name, RedisOps};

use super::{AfterRun, MarkClearing, Prepared};

/// How a run ended, and what was done after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    pub outcome: RunOutcome,
    pub after: Aftermath,
}

/// The after-run work that was done (or failed: the run's outcome stands either way).
#[derive(Debug, Clone, PartialEq)]
pub enum Aftermath {
    Nothing,
    /// A promotion changed roles: the old primary is marked for rejoin in `file` (boxed: the
    /// mark dwarfs the other variants).
    Marked {
        mark: Box<RejoinMark>,
        file: PathBuf,
    },
    /// A rejoin is done: the node's rejoin mark was cleared.
    MarkCleared {
        node: String,
    },
    /// The old primary could not be marked.
    MarkFailed {
        error: String,
    },
    /// The rejoined node's mark could not be cleared.
    ClearFailed {
        error: String,
    },
}

/// Runs `prepared` on connections from `connect` (given the config, the group's index and
/// the action's client name; `RealOps::new` for real servers), with the audit log the config
/// names. Each engine event goes to `on_event` as it happens.
///
/// # Errors
/// The audit log cannot be opened (no action runs without an audit trail), or the
/// connections cannot be prepared: nothing ran.
pub async fn execute<O, C, E>(
    prepared: &Prepared,
    approval: &Approval,
    connect: C,
    on_event: E,
) -> OpsResult<Executed>
where
    O: RedisOps,
    C: FnOnce(&Config, usize, &str) -> Result<O, NodeError>,
    E: FnMut(RunEvent) + Send + 'static,
{
    let path = &prepared.config.console.audit_log;
    let mut log = AuditLog::open(path).map_err(|e| {
        OpsError::io(format!(
            "cannot open the audit log '{}': {e}",
            path.display()
        ))
        .hint("set console.audit_log to a writable file; no action runs without an audit trail")
    })?;
    let who = log.who().clone();
    let name = action_client_name(&who.user, &who.host, who.pid);
    let ops = connect(&prepared.config, prepared.plan.group_index, &name)
        .map_err(|e| OpsError::usage(format!("cannot prepare the connections: {e}")))?;
    Ok(execute_on(prepared, approval, &ops, &mut log, on_event).await)
}

/// [`execute`] on given connections and audit log.
pub async fn execute_on<O, E>(
    prepared: &Prepared,
    approval: &Approval,
    ops: &O,
    log: &mut AuditLog,
    mut on_event: E,
) -> Executed
where
    O: RedisOps,
    E: FnMut(RunEvent) + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // Unbounded on both sides: a slow front-end never holds the engine while writes are paused.
    let forward = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            on_event(event);
        }
    });
    let outcome = engine::run(&prepared.plan, approval, ops, log, &tx).await;
    drop(tx);
    let _ = forward.await;
    let after = after_run(prepared, &outcome);
    Executed { outcome, after }
}

/// A promotion that changed roles marks the old primary for rejoin; a done rejoin clears the
/// node's mark.
fn after_run(p: &Prepared, outcome: &RunOutcome) -> Aftermath {
    let file = promote::marks_path(&p.config.console.audit_log);
    match &p.after {
        AfterRun::Nothing => Aftermath::Nothing,
        AfterRun::MarkOldPrimary {
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
            match pp.mark_old_primary(outcome, &file) {
                Ok(Some(mark)) => Aftermath::Marked {
                    mark: Box::new(mark),
                    file,
                },
                Ok(None) => Aftermath::Nothing,
                Err(e) => Aftermath::MarkFailed { error: e.message },
            }
        }
        AfterRun::ClearMark { node } if outcome.status == RunStatus::Done => {
            match promote::marks::clear(&file, &p.plan.group, node) {
                Ok(true) => Aftermath::MarkCleared { node: node.clone() },
                Ok(false) => Aftermath::Nothing,
                Err(e) => Aftermath::ClearFailed { error: e.message },
            }
        }
        AfterRun::ClearMark { .. } => Aftermath::Nothing,
    }
}

/// Writes the record of an acknowledgement: the operator said they have seen `what` about
/// `nodes` of `group` (data-loss alarms cleared, or in a drill the anomaly they spotted).
///
/// # Errors
/// The audit log cannot be opened or written.
pub fn record_acknowledgement(
    audit_log: &Path,
    group: &str,
    nodes: &[String],
    what: &str,
) -> OpsResult<()> {
    let mut log = open_audit(audit_log)?;
    log.write(crate::audit::Record {
        run_id: crate::ops::engine::new_run_id(),
        group: group.to_string(),
        action: crate::audit::ACKNOWLEDGE.to_string(),
        nodes: nodes.to_vec(),
        event: crate::audit::RUN_FINISHED.to_string(),
        outcome: Some(crate::audit::Outcome::Noted),
        detail: Some(what.to_string()),
        ..crate::audit::Record::default()
    })
    .map_err(|e| OpsError::io(format!("the acknowledgement was not recorded: {e}")))
}

/// The audit log at `path`, opened for appending.
fn open_audit(path: &Path) -> OpsResult<AuditLog> {
    AuditLog::open(path).map_err(|e| {
        OpsError::io(format!(
            "cannot open the audit log '{}': {e}",
            path.display()
        ))
        .hint("set console.audit_log to a writable file")
    })
}

/// Clears rejoin marks beside the audit log at `audit_log`, each with an audit record.
///
/// # Errors
/// The audit log cannot be opened, or a mark cannot be cleared.
pub fn clear_marks(audit_log: &Path, marks: &[MarkClearing]) -> OpsResult<()> {
    let mut log = open_audit(audit_log)?;
    let file = promote::marks_path(audit_log);
    for m in marks {
        promote::marks::clear_audited(&file, &mut log, &m.group, &m.node, &m.why)?;
    }
    Ok(())
}
