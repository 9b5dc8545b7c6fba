//! The engine's vocabulary: one [`RunEvent`] per transition of a run, named as a past fact.
//!
//! The same value goes to the front-end and to the audit log: [`RunEvent::body`] is the
//! record it is written as (the run's envelope is added by `journal.rs`), so what an operator
//! saw on the screen is what the log says, and no transition is one without the other. The
//! record keeps the log's historic shape (`event` is the variant's name, the fields are the
//! flat [`Record`] ones), so logs written before and after read alike.
//!
//! Nothing here decides or sends anything: it is the words, not the run.

use serde::Serialize;

use crate::audit::{Outcome, Record};

use super::super::next_step::NextStep;
use super::super::progress::{SaveProgress, Transfer};
use super::RunStatus;

/// Progress of a run, as past facts. Serialized with its name in snake case under `event`
/// (the CLI's JSON lines: `run_started`); the audit record keeps the log's historic
/// `RunStarted` ([`RunEvent::name`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    RunStarted {
        run_id: String,
        action: String,
        group: String,
        summary: String,
        /// The operator's reason for overriding failed pre-checks, when given.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A guard, a pre-check or the snapshot gate refused the run; nothing was changed.
    PrecheckFailed {
        reason: String,
        /// What to do about it, as the operator is told.
        #[serde(skip_serializing_if = "Option::is_none")]
        hint: Option<String>,
    },
    PrecheckPassed {
        /// Failed checks the operator overrode (with `reason`).
        overridden: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// One line per node whose roles the plan expects, read live just now.
        state: Vec<String>,
    },
    SnapshotStarted {
        node: String,
    },
    /// How far the BGSAVE is (at most one a second; `ops::progress` says what it rests on).
    SnapshotProgress {
        node: String,
        #[serde(flatten)]
        progress: SaveProgress,
    },
    /// A note about the BGSAVE: a wait for another child, a save under another name.
    SnapshotNoted {
        node: String,
        note: String,
    },
    SnapshotVerified {
        node: String,
        /// `rdb_last_save_time` after the save.
        last_save: i64,
        /// The node's clock when the save was asked for.
        requested_at: i64,
        /// The file name the snapshot went to when it is not the node's `dbfilename`.
        #[serde(skip_serializing_if = "Option::is_none")]
        saved_aside: Option<String>,
    },
    /// The gate was skipped: for the whole run (`node: None`, the operator's reason) or for one
    /// node (the engine's reason, e.g. its verified download is the snapshot).
    SnapshotSkipped {
        #[serde(skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    SnapshotFailed {
        node: String,
        error: String,
    },
    /// The RDB download of `node` into the directory `path` began.
    DownloadStarted {
        node: String,
        path: String,
    },
    /// Payload bytes written so far, and the length the node announced (`None` for a
    /// diskless transfer, whose length is known only at its end).
    DownloadProgress {
        node: String,
        bytes: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        total: Option<u64>,
        /// Since the download began: the mean rate is `bytes / elapsed_ms`.
        elapsed_ms: u64,
        /// Without `total`: the size of the node's last download, an estimate of it.
        #[serde(skip_serializing_if = "Option::is_none")]
        expected: Option<u64>,
    },
    DownloadVerified {
        node: String,
        path: String,
        bytes: u64,
        /// CRC64 checked (false only when the file says `rdbchecksum no`).
        crc_ok: bool,
        /// The check's summary (format, keys, ...).
        detail: String,
    },
    DownloadFailed {
        node: String,
        error: String,
    },
    StepStarted {
        index: usize,
        title: String,
        node: String,
        commands: Vec<String>,
    },
    StepVerified {
        index: usize,
        title: String,
        detail: String,
        elapsed_ms: u64,
    },
    StepFailed {
        index: usize,
        title: String,
        error: String,
        critical: bool,
    },
    /// One thing undone (or deliberately left) after the critical step `step` failed.
    RolledBack {
        step: usize,
        what: String,
    },
    /// A restore's scratch server runs, loaded with the backup.
    ScratchStarted {
        node: String,
        addr: String,
        pid: u32,
        server: String,
        keys: u64,
        load_ms: u64,
    },
    /// A node's sync from the scratch server, as last read (a progress note).
    SyncProgress {
        node: String,
        detail: String,
        elapsed_ms: u64,
    },
    /// The scratch server was stopped by PID; `gone`: that process no longer exists.
    ScratchStopped {
        pid: u32,
        gone: bool,
    },
    RunFinished {
        outcome: RunStatus,
        detail: String,
        state: Vec<String>,
        next_step: Option<NextStep>,
    },
}

impl RunEvent {
    /// The event's name: the `event` key of its JSON and of its audit record.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::RunStarted { .. } => crate::audit::RUN_STARTED,
            Self::PrecheckFailed { .. } => "PrecheckFailed",
            Self::PrecheckPassed { .. } => "PrecheckPassed",
            Self::SnapshotStarted { .. } => "SnapshotStarted",
            Self::SnapshotProgress { .. } => "SnapshotProgress",
            Self::SnapshotNoted { .. } => "SnapshotNoted",
            Self::SnapshotVerified { .. } => "SnapshotVerified",
            Self::SnapshotSkipped { .. } => "SnapshotSkipped",
            Self::SnapshotFailed { .. } => "SnapshotFailed",
            Self::DownloadStarted { .. } => "DownloadStarted",
            Self::DownloadProgress { .. } => "DownloadProgress",
            Self::DownloadVerified { .. } => "DownloadVerified",
            Self::DownloadFailed { .. } => "DownloadFailed",
            Self::StepStarted { .. } => crate::audit::STEP_STARTED,
            Self::StepVerified { .. } => "StepVerified",
            Self::StepFailed { .. } => "StepFailed",
            Self::RolledBack { .. } => "RolledBack",
            Self::ScratchStarted { .. } => "ScratchStarted",
            Self::SyncProgress { .. } => "SyncProgress",
            Self::ScratchStopped { .. } => "ScratchStopped",
            Self::RunFinished { .. } => crate::audit::RUN_FINISHED,
        }
    }

    /// A progress note: written to the audit log at a bounded rate (`journal.rs`), not each.
    #[must_use]
    pub fn is_progress(&self) -> bool {
        matches!(
            self,
            Self::SnapshotProgress { .. }
                | Self::DownloadProgress { .. }
                | Self::SyncProgress { .. }
        )
    }

    /// The transfer a `DownloadProgress` reports.
    #[must_use]
    pub fn transfer(&self) -> Option<Transfer> {
        match self {
            Self::DownloadProgress {
                bytes,
                total,
                elapsed_ms,
                expected,
                ..
            } => Some(Transfer {
                bytes: *bytes,
                total: *total,
                elapsed_ms: *elapsed_ms,
                expected: *expected,
            }),
            _ => None,
        }
    }

    /// The node a gate event is about.
    #[must_use]
    pub fn node(&self) -> Option<&str> {
        match self {
            Self::SnapshotStarted { node }
            | Self::SnapshotProgress { node, .. }
            | Self::SnapshotNoted { node, .. }
            | Self::SnapshotVerified { node, .. }
            | Self::SnapshotFailed { node, .. }
            | Self::DownloadStarted { node, .. }
            | Self::DownloadProgress { node, .. }
            | Self::DownloadVerified { node, .. }
            | Self::DownloadFailed { node, .. }
            | Self::ScratchStarted { node, .. }
            | Self::SyncProgress { node, .. }
            | Self::StepStarted { node, .. } => Some(node),
            Self::SnapshotSkipped { node, .. } => node.as_deref(),
            _ => None,
        }
    }

    /// The audit record this event is written as, without the run's envelope (run id, seq,
    /// who, group, action, nodes, commands and replies).
    #[must_use]
    #[allow(clippy::too_many_lines)] // one arm per event: the vocabulary in one place.
    pub fn body(&self) -> Record {
        let mut r = Record {
            event: self.name().to_string(),
            node: self.node().map(str::to_string),
            ..Record::default()
        };
        match self {
            Self::RunStarted {
                summary, reason, ..
            } => {
                r.detail = Some(summary.clone());
                r.reason.clone_from(reason);
            }
            Self::PrecheckFailed { reason, hint } => {
                r.detail = Some(reason.clone());
                r.hint.clone_from(hint);
            }
            Self::PrecheckPassed {
                overridden,
                reason,
                state,
            } => {
                r.reason = (!overridden.is_empty()).then(|| {
                    format!(
                        "overridden: {}; reason: {}",
                        overridden.join("; "),
                        reason.as_deref().unwrap_or_default()
                    )
                });
                r.state = Some(state.join(" | "));
            }
            Self::SnapshotStarted { node } => r.title = Some(format!("BGSAVE on {node}")),
            Self::SnapshotProgress { progress, .. } => r.detail = Some(progress.line()),
            Self::SnapshotNoted { note, .. } => r.detail = Some(note.clone()),
            Self::SnapshotVerified {
                last_save,
                requested_at,
                saved_aside,
                ..
            } => {
                let aside = saved_aside.as_ref().map_or_else(String::new, |f| {
                    format!(
                        "; saved as '{f}' in its dir (no persistence: the server never loads \
                         it), its dbfilename put back"
                    )
                });
                r.detail = Some(format!(
                    "rdb_last_save_time {last_save} >= requested at {requested_at}{aside}"
                ));
            }
            Self::SnapshotSkipped { reason, detail, .. } => {
                r.reason = Some(reason.clone());
                r.detail.clone_from(detail);
            }
            Self::SnapshotFailed { error, .. } | Self::DownloadFailed { error, .. } => {
                r.detail = Some(error.clone());
            }
            Self::DownloadStarted { node, path } => {
                r.title = Some(format!("RDB download of {node}"));
                r.detail = Some(format!("into {path}"));
            }
            Self::DownloadProgress {
                bytes,
                total,
                elapsed_ms,
                ..
            } => {
                r.detail = Some(match total {
                    Some(t) => format!("{bytes} of {t} bytes in {elapsed_ms} ms"),
                    None => format!("{bytes} bytes in {elapsed_ms} ms"),
                });
            }
            Self::DownloadVerified {
                path,
                bytes,
                crc_ok,
                detail,
                ..
            } => r.detail = Some(format!("{path} ({bytes} bytes, crc ok: {crc_ok}) {detail}")),
            Self::StepStarted { index, title, .. } => {
                r.step = Some(*index);
                r.title = Some(title.clone());
            }
            Self::StepVerified {
                index,
                title,
                detail,
                ..
            } => {
                r.step = Some(*index);
                r.title = Some(title.clone());
                r.detail = Some(detail.clone());
            }
            Self::StepFailed {
                index,
                title,
                error,
                ..
            } => {
                r.step = Some(*index);
                r.title = Some(title.clone());
                r.detail = Some(error.clone());
            }
            Self::RolledBack { step, what } => {
                r.step = Some(*step);
                r.detail = Some(what.clone());
            }
            Self::ScratchStarted {
                addr,
                pid,
                server,
                keys,
                load_ms,
                ..
            } => {
                r.title = Some("scratch server".to_string());
                r.detail = Some(format!(
                    "{server} on {addr}, pid {pid}: loaded {keys} keys in {load_ms} ms"
                ));
            }
            Self::SyncProgress {
                detail, elapsed_ms, ..
            } => r.detail = Some(format!("{detail} ({elapsed_ms} ms)")),
            Self::ScratchStopped { pid, gone } => {
                r.title = Some("scratch server".to_string());
                r.detail = Some(if *gone {
                    format!("pid {pid} stopped")
                } else {
                    format!("pid {pid} was killed but is still listed")
                });
            }
            Self::RunFinished {
                outcome,
                detail,
                state,
                next_step,
            } => {
                r.outcome = Some(Outcome::from(*outcome));
                r.detail = Some(detail.clone());
                r.state = (!state.is_empty()).then(|| state.join(" | "));
                r.reason = next_step.as_ref().map(ToString::to_string);
            }
        }
        r
    }
}

impl From<RunStatus> for Outcome {
    fn from(s: RunStatus) -> Self {
        match s {
            RunStatus::Done => Self::Done,
            RunStatus::Refused => Self::Refused,
            RunStatus::Failed => Self::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::too_many_lines)] // one of each event: the list is the vocabulary.
    fn one_of_each() -> Vec<RunEvent> {
        let s = String::new;
        vec![
            RunEvent::RunStarted {
                run_id: s(),
                action: s(),
                group: s(),
                summary: s(),
                reason: None,
            },
            RunEvent::PrecheckFailed {
                reason: s(),
                hint: Some(s()),
            },
            RunEvent::PrecheckPassed {
                overridden: vec![],
                reason: None,
                state: vec![],
            },
            RunEvent::SnapshotStarted { node: s() },
            RunEvent::SnapshotProgress {
                node: s(),
                progress: SaveProgress::new(std::time::Duration::ZERO, None, None, None),
            },
            RunEvent::SnapshotNoted {
                node: s(),
                note: s(),
            },
            RunEvent::SnapshotVerified {
                node: s(),
                last_save: 0,
                requested_at: 0,
                saved_aside: None,
            },
            RunEvent::SnapshotSkipped {
                node: None,
                reason: s(),
                detail: None,
            },
            RunEvent::SnapshotFailed {
                node: s(),
                error: s(),
            },
            RunEvent::DownloadStarted {
                node: s(),
                path: s(),
            },
            RunEvent::DownloadProgress {
                node: s(),
                bytes: 0,
                total: None,
                elapsed_ms: 0,
                expected: None,
            },
            RunEvent::DownloadVerified {
                node: s(),
                path: s(),
                bytes: 0,
                crc_ok: true,
                detail: s(),
            },
            RunEvent::DownloadFailed {
                node: s(),
                error: s(),
            },
            RunEvent::StepStarted {
                index: 0,
                title: s(),
                node: s(),
                commands: vec![],
            },
            RunEvent::StepVerified {
                index: 0,
                title: s(),
                detail: s(),
                elapsed_ms: 0,
            },
            RunEvent::StepFailed {
                index: 0,
                title: s(),
                error: s(),
                critical: true,
            },
            RunEvent::RolledBack { step: 0, what: s() },
            RunEvent::ScratchStarted {
                node: s(),
                addr: s(),
                pid: 1,
                server: s(),
                keys: 0,
                load_ms: 0,
            },
            RunEvent::SyncProgress {
                node: s(),
                detail: s(),
                elapsed_ms: 0,
            },
            RunEvent::ScratchStopped { pid: 1, gone: true },
            RunEvent::RunFinished {
                outcome: RunStatus::Done,
                detail: s(),
                state: vec![],
                next_step: None,
            },
        ]
    }

    /// `RunStarted` -> `run_started`.
    fn snake(name: &str) -> String {
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    #[test]
    fn the_json_says_in_snake_case_what_the_record_names() {
        for e in one_of_each() {
            let json = serde_json::to_value(&e).unwrap();
            assert_eq!(json["event"], snake(e.name()), "{e:?}");
            assert_eq!(e.body().event, e.name());
            for key in json.as_object().unwrap().keys() {
                assert_eq!(key, &snake(key), "{e:?}");
            }
        }
    }

    #[test]
    fn the_outcome_is_written_as_before() {
        let e = RunEvent::RunFinished {
            outcome: RunStatus::Refused,
            detail: "read-only".into(),
            state: vec![],
            next_step: None,
        };
        assert_eq!(serde_json::to_value(&e).unwrap()["outcome"], "refused");
        let rec = serde_json::to_value(e.body()).unwrap();
        assert_eq!(rec["outcome"], "refused");
        assert!(rec.get("state").is_none());
    }
}
