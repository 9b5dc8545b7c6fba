//! The action engine: runs any [`Plan`] through [`RedisOps`]; each transition is one
//! [`RunEvent`] (named as a past fact, `engine/event.rs`), written to the audit log and sent to
//! the front-end from the same value (`engine/journal.rs`).
//!
//! Every guard is enforced here, not in a front-end (DESIGN invariant 1): read-only mode, HA
//! managers, failed pre-checks without a recorded override, a missing confirmation, another
//! redops action on the group (the lock), the plan being out of date, and the snapshot gate.
//! What runs before the first step (live pre-checks, the snapshot gate) is in `engine/before.rs`,
//! step execution in `engine/steps.rs`, what the run changed in `engine/state.rs`, rollback in
//! `engine/rollback.rs`, unanswered role commands in `engine/fence.rs`.
//!
//! # The console may die at any instant (DESIGN invariant 10)
//!
//! A switchover never has a moment where the console's death could leave two nodes accepting
//! writes, because no node is promoted while the old primary could become writable by itself:
//!
//! 1. `CLIENT PAUSE <ms> WRITE` on the old primary P. Dying here: the pause expires, P is the
//!    only primary.
//! 2. The target T's own offset is proven equal to P's. Dying here: as above.
//! 3. `REPLICAOF T` on P: P is a replica now, T still a replica of P (7.0+ keeps T's link up,
//!    so P continues by partial resync from T). Dying here: no node takes writes (P and T
//!    replicate from each other); the pause expiring changes nothing, P is a replica. Every
//!    acknowledged write is on T (caught up, P paused). The next start finds the loop and the
//!    unfinished run; promoting T finishes it.
//! 4. `REPLICAOF NO ONE` on T: T is the only primary. Dying here: P's pause expires on a
//!    replica; the siblings still replicate through P (chained), nothing is lost.
//! 5. `CLIENT UNPAUSE` on P: the postponed writes get `READONLY` (an error, never a silent
//!    loss). Then the siblings are repointed, outside the pause.
//!
//! This is the order the server's own `FAILOVER` uses internally (demote first, then `PSYNC
//! ... FAILOVER` promotes the target). The older order (promote, then demote) had a window
//! between 4 and 3 where a dead console left T writable and P writable again when its pause
//! expired.
//!
//! A role command that times out is watched and driven to its end state (`fence.rs`); one
//! still unanswered after the watch is reported as pending, and the rollback keeps the group
//! where that late command cannot make a second primary. What remains: an old primary frozen
//! for longer than its pause (20 s by default) with the demotion still in its socket may run
//! postponed writes before the demotion when it wakes; the target was not promoted then, so
//! there is still one primary, but those writes are not on the target.

mod before;
mod cluster;
mod cluster_cut;
mod cluster_promote;
mod event;
mod fence;
mod journal;
mod permissions;
mod rollback;
mod scratch;
mod sentinel;
mod sentinel_phase;
mod sentinel_reset;
mod state;
mod steps;
#[cfg(test)]
mod tests;

pub use event::RunEvent;
pub use fence::WATCH_TIMEOUTS;
pub use journal::PROGRESS_RECORD_EVERY;

use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::audit::AuditLog;
use crate::info::Info;

use journal::Journal;
use state::RunState;

use super::error::{OpsError, OpsResult};
use super::next_step::NextStep;
use super::plan::{CheckStatus, Plan, PlanNode};
use super::redis_ops::{Command, InfoSection, RedisOps, Reply};

/// What the operator gave for this run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Approval {
    /// Read-only mode from the command line or the console config.
    pub read_only: bool,
    /// `Some("yes")` for a plain yes, or the typed node name for role changes.
    pub confirmation: Option<String>,
    /// Reason for overriding failed (overridable) pre-checks.
    pub force_reason: Option<String>,
    /// Reason for skipping the snapshot gate.
    pub skip_snapshot_reason: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every step verified.
    Done,
    /// A guard or pre-check refused it; nothing was changed.
    Refused,
    /// It started changing things and stopped; `RunOutcome` explains the state.
    Failed,
}

impl RunStatus {
    /// `done`, `refused` or `failed`: the word the JSON output and the audit log use.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunOutcome {
    pub run_id: String,
    pub status: RunStatus,
    /// Why it was refused or failed, or what was done.
    pub detail: String,
    /// One line per node, read after the run (failed runs).
    pub state: Vec<String>,
    /// What to do next (failed runs), decided by [`super::next_step::decide`].
    pub next_step: Option<NextStep>,
    /// Non-fatal problems (a sibling not repointed, no config file to rewrite ...).
    pub warnings: Vec<String>,
    /// What to do about a refusal, when the engine knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The refusal is lifted by an override with a recorded reason (each front-end says how).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub overridable: bool,
    pub elapsed_ms: u64,
    /// From `CLIENT PAUSE` sent to `CLIENT UNPAUSE` acknowledged (manual strategy).
    pub pause_ms: Option<u64>,
}

impl RunOutcome {
    /// The CLI exit code: 0 done, 1 failed, 3 refused.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self.status {
            RunStatus::Done => 0,
            RunStatus::Failed => 1,
            RunStatus::Refused => 3,
        }
    }
}

/// A fresh run id: time plus randomness, sortable.
#[must_use]
pub fn new_run_id() -> String {
    let (_, ts) = crate::audit::now_stamp();
    let r: u32 = rand::random();
    // A wall-clock time in ms: positive and far below 2^53.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = (ts * 1000.0) as u64;
    format!("{ms:x}-{r:08x}")
}

pub(crate) struct Run<'a, O: RedisOps> {
    plan: &'a Plan,
    ops: &'a O,
    /// Where every event goes: the audit log, then the front-end.
    journal: Journal<'a>,
    started: Instant,
    st: RunState,
    warnings: Vec<String>,
    /// The plan's old primary (first `Expect` that is a primary).
    old_primary: Option<usize>,
}

/// Runs a plan. Never panics; every error ends in an explained [`RunOutcome`].
///
/// Events go to `events` (unbounded, so a slow front-end never holds the engine while writes
/// are paused); a dropped receiver is fine.
pub async fn run<O: RedisOps>(
    plan: &Plan,
    approval: &Approval,
    ops: &O,
    audit: &mut AuditLog,
    events: &UnboundedSender<RunEvent>,
) -> RunOutcome {
    let run_id = new_run_id();
    let mut r = Run {
        plan,
        ops,
        journal: Journal::new(plan, run_id.clone(), audit, events),
        started: Instant::now(),
        st: RunState::default(),
        warnings: Vec::new(),
        old_primary: plan.expects.iter().find(|e| e.primary).map(|e| e.node),
    };
    let started = r.journal.event(RunEvent::RunStarted {
        run_id,
        action: plan.action.as_str().to_string(),
        group: plan.group.clone(),
        summary: plan.summary.clone(),
        reason: approval.force_reason.clone(),
    });
    if let Err(e) = started {
        return r.refuse(
            OpsError::io(format!("cannot write the audit log: {e}")).hint(
                "fix the audit_log path or its permissions; no action runs without an audit trail",
            ),
        );
    }
    if let Err(reason) = guards(plan, approval) {
        return r.refuse(reason);
    }
    let unchecked_lock = match r.live_prechecks(approval).await {
        Ok(u) => u,
        Err(reason) => return r.refuse(reason),
    };
    let overridden: Vec<String> = plan
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| c.message.clone())
        .chain(unchecked_lock)
        .collect();
    let state = r.pre_state();
    r.event(RunEvent::PrecheckPassed {
        reason: (!overridden.is_empty())
            .then(|| approval.force_reason.clone())
            .flatten(),
        overridden,
        state,
    });
    if let Err(reason) = r.snapshot_gate(approval).await {
        return r.refuse(reason);
    }
    r.run_steps().await
}

/// The operator forced the run and said why (`--force --reason`).
fn has_reason(approval: &Approval) -> bool {
    approval
        .force_reason
        .as_deref()
        .is_some_and(|r| !r.trim().is_empty())
}

/// The guards that need no network (`ops::guard`): read-only, HA manager, checks, the
/// snapshot gate or a recorded reason for its absence, confirmation.
fn guards(plan: &Plan, approval: &Approval) -> OpsResult<()> {
    super::guard::check(plan, approval).map_err(|r| r.error())
}

impl<O: RedisOps> Run<'_, O> {
    /// One transition: audited, then sent to the front-end. A record that cannot be written
    /// is counted (the outcome warns about it); the run goes on.
    fn event(&mut self, e: RunEvent) {
        let _ = self.journal.event(e);
    }

    /// Sends a command, keeping it (not INFO reads) for the next audit record.
    async fn send(
        &mut self,
        node: usize,
        cmd: Command,
    ) -> Result<Reply, crate::observe::NodeError> {
        let plan = self.plan;
        self.send_to(&plan.nodes[node], cmd).await
    }

    /// [`send`](Self::send) to any node of the group (the lock covers nodes no step touches).
    async fn send_to(
        &mut self,
        n: &PlanNode,
        cmd: Command,
    ) -> Result<Reply, crate::observe::NodeError> {
        let r = self.ops.send(n, &cmd).await;
        if !matches!(cmd, Command::Info(_)) {
            let shown = match &r {
                Ok(reply) => reply.summary(),
                Err(e) => format!("error: {e}"),
            };
            self.journal.exchange(format!("{}: {cmd}", n.name), shown);
        }
        r
    }

    /// INFO on a node, parsed.
    async fn info(&mut self, node: usize, section: InfoSection) -> OpsResult<Info> {
        match self.send(node, Command::Info(section)).await {
            Ok(Reply::Info(i)) => Ok(*i),
            Ok(other) => Err(OpsError::failed(format!(
                "unexpected INFO reply: {}",
                other.summary()
            ))),
            Err(e) => Err(OpsError::failed(e.to_string())),
        }
    }

    fn refuse(&mut self, e: OpsError) -> RunOutcome {
        self.event(RunEvent::PrecheckFailed {
            reason: e.message.clone(),
            hint: e.hint.clone(),
        });
        let mut o = self.finish(RunStatus::Refused, e.message, Vec::new(), None);
        o.hint = e.hint;
        o.overridable = e.overridable;
        o
    }

    fn finish(
        &mut self,
        status: RunStatus,
        detail: String,
        state: Vec<String>,
        next_step: Option<NextStep>,
    ) -> RunOutcome {
        // `history` shows how long writes were paused: the last record carries it.
        self.journal.pause_ms = self.st.pause_ms;
        self.event(RunEvent::RunFinished {
            outcome: status,
            detail: detail.clone(),
            state: state.clone(),
            next_step: next_step.clone(),
        });
        // Counted after the last record, so that a failed RunFinished is counted too.
        if self.journal.errors > 0 {
            self.warnings.push(format!(
                "{} could not be written",
                crate::words::count(self.journal.errors, "audit record")
            ));
        }
        RunOutcome {
            run_id: self.journal.run_id().to_string(),
            status,
            detail,
            state,
            next_step,
            warnings: std::mem::take(&mut self.warnings),
            hint: None,
            overridable: false,
            elapsed_ms: ms(self.started.elapsed()),
            pause_ms: self.st.pause_ms,
        }
    }
}

/// `localhost` and `127.0.0.1` name the same host; otherwise hosts compare as written.
pub(crate) fn same_host(a: &str, b: &str) -> bool {
    let norm = |h: &str| {
        if h == "localhost" {
            "127.0.0.1".to_string()
        } else {
            h.to_string()
        }
    };
    norm(a) == norm(b)
}

pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
