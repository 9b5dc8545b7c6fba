//! The audit records of the checks that change no role: the restore test (`backup verify`),
//! retention (`backup prune`, when it deletes) and the consistency check (`check-data`, whose
//! optional write pause is the one thing among them that touches a live server's writes).
//!
//! Each is one run of two records written together once the check is done: a `RunStarted`
//! stamped with the check's start (so the history shows how long it took) and a `RunFinished`
//! with its outcome, who, when, what, the result in words and the pause. `redops history` and
//! the console's `:history` list it as a run, and it never reads as an unfinished one. The CLI and the console build it from the same
//! constructors (`backup::restore_test::audit`, `backup::catalog::prune_audit`,
//! `datacheck::audit`), so both leave the same trail. Writing it is the caller's effect.

use std::io;
use std::path::Path;
use std::time::SystemTime;

use super::{AuditLog, Outcome, Record, RUN_FINISHED, RUN_STARTED};

/// The action word of a restore test.
pub const BACKUP_VERIFY: &str = "backup-verify";
/// The action word of a prune that deleted (a dry run writes nothing).
pub const BACKUP_PRUNE: &str = "backup-prune";
/// The action word of a consistency check.
pub const CHECK_DATA: &str = "check-data";

/// One check's result, as its audit record says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// [`BACKUP_VERIFY`], [`BACKUP_PRUNE`] or [`CHECK_DATA`].
    pub action: &'static str,
    pub group: String,
    /// The nodes it was about (names).
    pub nodes: Vec<String>,
    /// `done` (passed, consistent, deleted), `failed` (a failed test, a mismatch, a pair not
    /// compared, a file not deleted) or `refused` (a write pause not confirmed).
    pub outcome: Outcome,
    /// The result in words.
    pub detail: String,
    /// Why it ran as it did (a pause allowed, a retention rule).
    pub reason: Option<String>,
    /// How long writes were paused, measured (check-data with a pause allowed).
    pub pause_ms: Option<u64>,
    /// When the check began.
    pub started: SystemTime,
}

impl Check {
    /// The two records written for it, start and finish (who and when are filled in by
    /// [`AuditLog::write`]).
    #[must_use]
    pub fn records(&self) -> [Record; 2] {
        let started = Record {
            run_id: crate::ops::engine::new_run_id(),
            group: self.group.clone(),
            action: self.action.to_string(),
            nodes: self.nodes.clone(),
            event: RUN_STARTED.to_string(),
            reason: self.reason.clone(),
            ..Record::default()
        };
        let finished = Record {
            seq: 1,
            event: RUN_FINISHED.to_string(),
            outcome: Some(self.outcome),
            detail: Some(self.detail.clone()),
            pause_ms: self.pause_ms,
            ..started.clone()
        };
        [started, finished]
    }
}

/// Appends `check` to the audit log at `audit_log` (created if need be).
///
/// # Errors
/// The log cannot be opened or written.
pub fn write(audit_log: &Path, check: &Check) -> io::Result<()> {
    let mut log = AuditLog::open(audit_log)?;
    let [started, finished] = check.records();
    log.write_at(started, check.started)?;
    log.write(finished)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_is_one_closed_run_in_the_history() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("audit.jsonl");
        let check = Check {
            action: CHECK_DATA,
            group: "g".into(),
            nodes: vec!["p".into(), "r1".into()],
            outcome: Outcome::Failed,
            detail: "r1: MISMATCH".into(),
            reason: Some("a write pause of at most 200ms allowed".into()),
            pause_ms: Some(12),
            started: SystemTime::now() - std::time::Duration::from_secs(2),
        };
        write(&path, &check).expect("write");
        assert!(super::super::interrupted_runs(&path)
            .expect("read")
            .is_empty());
        let log =
            super::super::runs::read(&path, &super::super::runs::Query::default()).expect("runs");
        let run = &log.runs[0];
        assert_eq!(run.action, "check-data");
        assert_eq!(run.outcome_word(), "failed");
        assert_eq!(run.pause_ms, Some(12));
        assert_eq!(run.detail.as_deref(), Some("r1: MISMATCH"));
        assert!(run.duration().expect("finished") >= std::time::Duration::from_secs(2));
    }
}
