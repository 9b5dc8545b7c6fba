//! The runbook of the action in progress: each gate item and step with its state and timing,
//! what was rolled back, and how the run ended, built from the engine's [`RunEvent`]s.
//!
//! Pure data: the events arrive as `Msg::Run` (stamped by the runtime), the view draws it.
//! It never decides anything about the run; the engine does.

use std::time::SystemTime;

use crate::ops::{Command, NextStep, Plan, RunEvent, RunOutcome, RunStatus};

/// Where a step (or gate item) is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    Pending,
    Running {
        since: SystemTime,
        /// Latest progress in words (snapshot gate: the save's keys or estimate, the
        /// download's bytes, rate and time left).
        detail: Option<String>,
        /// How far, in thousandths, when it is known (a bar is drawn).
        permille: Option<u16>,
    },
    Verified {
        ms: Option<u64>,
        detail: String,
    },
    /// `critical: false`: recorded, the run went on.
    Failed {
        error: String,
        critical: bool,
    },
    Skipped(String),
    /// The run ended before this step.
    NotRun,
}

impl StepState {
    /// True for a step that has not started.
    #[must_use]
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::Pending)
    }
}

/// What a runbook row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// The snapshot gate's BGSAVE on a node.
    Snapshot,
    /// The gate's RDB download of a node.
    Download,
    /// A step of the plan.
    Step,
}

/// One line of the runbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub kind: RowKind,
    pub title: String,
    /// The node the commands go to.
    pub node: String,
    /// The exact commands.
    pub commands: Vec<String>,
    pub state: StepState,
}

/// The pre-checks the engine re-reads live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prechecks {
    Pending,
    Passed { overridden: Vec<String> },
    Refused(String),
}

/// How the run ended: the engine's status, or that the console could not start it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Run(RunStatus),
    /// The audit log or the connections could not be opened: the detail says which.
    NotStarted,
}

impl Ended {
    /// `done`, `refused`, `failed` (the engine's word), or `error`.
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Self::Run(s) => s.as_str(),
            Self::NotStarted => "error",
        }
    }

    /// Every step verified.
    #[must_use]
    pub fn is_done(self) -> bool {
        self == Self::Run(RunStatus::Done)
    }
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    pub outcome: Ended,
    pub detail: String,
    /// One line per node, read after a failed run.
    pub state: Vec<String>,
    pub next_step: Option<NextStep>,
    /// What to do about a refusal, when the engine said.
    pub hint: Option<String>,
    pub warnings: Vec<String>,
    /// What the console did afterwards (rejoin mark written or cleared).
    pub notes: Vec<String>,
    pub elapsed_ms: Option<u64>,
    pub pause_ms: Option<u64>,
    pub at: SystemTime,
}

/// The runbook of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Runbook {
    pub title: String,
    pub group: String,
    pub run_id: Option<String>,
    pub started: SystemTime,
    pub prechecks: Prechecks,
    /// Snapshots ([`RowKind::Snapshot`]), then downloads ([`RowKind::Download`]).
    pub gate: Vec<Row>,
    pub steps: Vec<Row>,
    pub rollbacks: Vec<String>,
    pub ending: Option<Ending>,
}

impl Runbook {
    /// Every step of `plan` pending.
    #[must_use]
    pub fn new(plan: &Plan, title: &str, now: SystemTime) -> Self {
        let gate_row = |kind: RowKind, what: &str, i: usize| Row {
            kind,
            title: format!("{what} {}", plan.name(i)),
            node: plan.name(i).to_string(),
            commands: Vec::new(),
            state: StepState::Pending,
        };
        let mut gate: Vec<Row> = plan
            .snapshots
            .iter()
            .map(|&i| gate_row(RowKind::Snapshot, "snapshot (BGSAVE, verified) of", i))
            .collect();
        gate.extend(plan.downloads.iter().map(|&i| {
            gate_row(
                RowKind::Download,
                "download (CRC64 verified) of the RDB of",
                i,
            )
        }));
        Self {
            title: title.to_string(),
            group: plan.group.clone(),
            run_id: None,
            started: now,
            prechecks: Prechecks::Pending,
            gate,
            steps: plan
                .steps
                .iter()
                .map(|s| Row {
                    kind: RowKind::Step,
                    title: s.title.clone(),
                    node: plan.step_nodes(s),
                    // Reads (INFO) are how a step checks itself, not what it does.
                    commands: plan.step_commands(s, |c| !matches!(c, Command::Info(_))),
                    state: StepState::Pending,
                })
                .collect(),
            rollbacks: Vec::new(),
            ending: None,
        }
    }

    /// True until the run has ended.
    #[must_use]
    pub fn running(&self) -> bool {
        self.ending.is_none()
    }

    /// The step that runs now says `detail` (a restore's scratch server and sync).
    fn running_detail(&mut self, detail: String) {
        if let Some(StepState::Running { detail: d, .. }) = self
            .steps
            .iter_mut()
            .map(|r| &mut r.state)
            .find(|s| matches!(s, StepState::Running { .. }))
        {
            *d = Some(detail);
        }
    }

    /// Takes in one engine event, stamped `at`.
    #[allow(clippy::too_many_lines)] // one arm per engine event.
    pub fn apply(&mut self, ev: &RunEvent, at: SystemTime) {
        match ev {
            RunEvent::RunStarted { run_id, .. } => self.run_id = Some(run_id.clone()),
            RunEvent::PrecheckFailed { reason, .. } => {
                self.prechecks = Prechecks::Refused(reason.clone());
            }
            RunEvent::PrecheckPassed { overridden, .. } => {
                self.prechecks = Prechecks::Passed {
                    overridden: overridden.clone(),
                };
            }
            RunEvent::SnapshotStarted { node } => self.start(RowKind::Snapshot, node, at),
            RunEvent::SnapshotProgress { node, progress } => {
                self.progress(
                    RowKind::Snapshot,
                    node,
                    progress.line(),
                    progress.fraction.map(permille),
                );
            }
            RunEvent::SnapshotNoted { node, note } => {
                self.progress(RowKind::Snapshot, node, note.clone(), None);
            }
            RunEvent::SnapshotVerified {
                node, last_save, ..
            } => self.verified(
                RowKind::Snapshot,
                node,
                format!(
                    "status ok, saved at {} by the node's clock",
                    crate::timefmt::unix_clock(*last_save)
                ),
                at,
            ),
            RunEvent::SnapshotSkipped {
                node: Some(node),
                reason,
                ..
            } => {
                if let Some(r) = self.gate_row(RowKind::Snapshot, node) {
                    r.state = StepState::Skipped(reason.clone());
                }
            }
            RunEvent::SnapshotSkipped {
                node: None, reason, ..
            } => {
                for r in &mut self.gate {
                    r.state = StepState::Skipped(reason.clone());
                }
            }
            RunEvent::SnapshotFailed { node, error } => {
                self.failed(RowKind::Snapshot, node, error);
            }
            RunEvent::DownloadStarted { node, .. } => self.start(RowKind::Download, node, at),
            RunEvent::DownloadProgress { node, .. } => {
                if let Some(t) = ev.transfer() {
                    let f = t.fraction().map(permille);
                    self.progress(RowKind::Download, node, t.line(), f);
                }
            }
            RunEvent::DownloadVerified {
                node, path, bytes, ..
            } => self.verified(
                RowKind::Download,
                node,
                format!("{path} ({bytes} bytes)"),
                at,
            ),
            RunEvent::DownloadFailed { node, error } => {
                self.failed(RowKind::Download, node, error);
            }
            RunEvent::StepStarted { index, .. } => {
                if let Some(r) = self.steps.get_mut(*index) {
                    r.state = StepState::Running {
                        since: at,
                        detail: None,
                        permille: None,
                    };
                }
            }
            RunEvent::StepVerified {
                index,
                detail,
                elapsed_ms,
                ..
            } => {
                if let Some(r) = self.steps.get_mut(*index) {
                    r.state = StepState::Verified {
                        ms: Some(*elapsed_ms),
                        detail: detail.clone(),
                    };
                }
            }
            RunEvent::StepFailed {
                index,
                error,
                critical,
                ..
            } => {
                if let Some(r) = self.steps.get_mut(*index) {
                    r.state = StepState::Failed {
                        error: error.clone(),
                        critical: *critical,
                    };
                }
            }
            RunEvent::RolledBack { what, .. } => self.rollbacks.push(what.clone()),
            RunEvent::ScratchStarted {
                addr, pid, keys, ..
            } => self.running_detail(format!("scratch server on {addr} (pid {pid}): {keys} keys")),
            RunEvent::SyncProgress { detail, .. } => self.running_detail(detail.clone()),
            RunEvent::ScratchStopped { pid, .. } => {
                self.running_detail(format!("scratch server (pid {pid}) stopped"));
            }
            RunEvent::RunFinished {
                outcome,
                detail,
                state,
                next_step,
            } => {
                self.ending = Some(Ending {
                    outcome: Ended::Run(*outcome),
                    detail: detail.clone(),
                    state: state.clone(),
                    next_step: next_step.clone(),
                    hint: None,
                    warnings: Vec::new(),
                    notes: Vec::new(),
                    elapsed_ms: None,
                    pause_ms: None,
                    at,
                });
                self.close();
            }
        }
    }

    /// The run is over: the engine's outcome (or why it could not start) and the console's
    /// own notes.
    pub fn ended(&mut self, outcome: Result<&RunOutcome, &str>, notes: &[String], at: SystemTime) {
        let e = self.ending.get_or_insert_with(|| Ending {
            outcome: Ended::NotStarted,
            detail: String::new(),
            state: Vec::new(),
            next_step: None,
            hint: None,
            warnings: Vec::new(),
            notes: Vec::new(),
            elapsed_ms: None,
            pause_ms: None,
            at,
        });
        match outcome {
            Ok(o) => {
                e.outcome = Ended::Run(o.status);
                e.detail.clone_from(&o.detail);
                e.state.clone_from(&o.state);
                e.next_step.clone_from(&o.next_step);
                e.hint.clone_from(&o.hint);
                e.warnings.clone_from(&o.warnings);
                e.elapsed_ms = Some(o.elapsed_ms);
                e.pause_ms = o.pause_ms;
            }
            Err(why) => {
                e.outcome = Ended::NotStarted;
                e.detail = why.to_string();
            }
        }
        e.notes.extend(notes.iter().cloned());
        self.close();
    }

    /// True when every step was verified.
    #[must_use]
    pub fn all_verified(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s.state, StepState::Verified { .. }))
    }

    fn gate_row(&mut self, kind: RowKind, node: &str) -> Option<&mut Row> {
        self.gate
            .iter_mut()
            .find(|r| r.kind == kind && r.node == node)
    }

    fn start(&mut self, kind: RowKind, node: &str, at: SystemTime) {
        if let Some(r) = self.gate_row(kind, node) {
            r.state = StepState::Running {
                since: at,
                detail: None,
                permille: None,
            };
        }
    }

    /// A note keeps the last known fraction; a measure replaces it.
    fn progress(&mut self, kind: RowKind, node: &str, detail: String, done: Option<u16>) {
        if let Some(r) = self.gate_row(kind, node) {
            if let StepState::Running {
                detail: d,
                permille: p,
                ..
            } = &mut r.state
            {
                *d = Some(detail);
                if done.is_some() {
                    *p = done;
                }
            }
        }
    }

    fn verified(&mut self, kind: RowKind, node: &str, detail: String, at: SystemTime) {
        if let Some(r) = self.gate_row(kind, node) {
            r.state = StepState::Verified {
                ms: elapsed(&r.state, at),
                detail,
            };
        }
    }

    fn failed(&mut self, kind: RowKind, node: &str, error: &str) {
        if let Some(r) = self.gate_row(kind, node) {
            r.state = StepState::Failed {
                error: error.to_string(),
                critical: true,
            };
        }
    }

    /// Whatever did not start will not: pending rows become "not run"; a row still running
    /// did not finish (the run ended under it).
    fn close(&mut self) {
        for r in self.gate.iter_mut().chain(self.steps.iter_mut()) {
            match &r.state {
                StepState::Pending => r.state = StepState::NotRun,
                StepState::Running { .. } => {
                    r.state = StepState::Failed {
                        error: "did not finish".to_string(),
                        critical: true,
                    };
                }
                _ => {}
            }
        }
    }
}

/// 0.0 to 1.0 as thousandths.
fn permille(f: f64) -> u16 {
    // Clamped to 0..=1000 first.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let p = (f.clamp(0.0, 1.0) * 1000.0).floor() as u16;
    p
}

fn elapsed(state: &StepState, at: SystemTime) -> Option<u64> {
    match state {
        StepState::Running { since, .. } => at
            .duration_since(*since)
            .ok()
            .and_then(|d| u64::try_from(d.as_millis()).ok()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::fake::FakeOps;
    use crate::ops::session::{self, Context};
    use crate::ops::{ActionKind, Download, Request};
    use std::time::Duration;

    fn t(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn gate_then_end_states() {
        let fake = FakeOps::group(&["m1", "r1"]);
        let (config, topology) = fake.config_and_topology("g");
        let mut req = Request::new(ActionKind::Snapshot, Some("m1".into())).in_group(0);
        req.download = Download::Backups;
        let ctx = Context {
            config: &config,
            topology: &topology,
            marks: &[],
            read_only: false,
            now: t(0),
        };
        let p = session::prepare(&ctx, &req).unwrap().into_run().unwrap();
        let mut rb = Runbook::new(&p.plan, &p.title(), t(0));
        assert_eq!(rb.gate.len(), 2, "a snapshot and a download");
        rb.apply(
            &RunEvent::PrecheckPassed {
                overridden: vec![],
                reason: None,
                state: vec![],
            },
            t(1),
        );
        assert!(
            rb.gate.iter().all(|r| r.state.is_pending()),
            "snapshot first"
        );
        rb.apply(&RunEvent::SnapshotStarted { node: "m1".into() }, t(2));
        rb.apply(
            &RunEvent::SnapshotVerified {
                node: "m1".into(),
                last_save: 7,
                requested_at: 6,
                saved_aside: None,
            },
            t(102),
        );
        assert_eq!(
            rb.gate[0].state,
            StepState::Verified {
                ms: Some(100),
                detail: "status ok, saved at 1970-01-01 00:00:07 UTC by the node's clock".into()
            }
        );
        assert!(rb.gate[1].state.is_pending(), "{:?}", rb.gate[1].state);
        // The download has its own events: same node, its own row.
        rb.apply(
            &RunEvent::DownloadStarted {
                node: "m1".into(),
                path: "/backups/g/m1".into(),
            },
            t(110),
        );
        rb.apply(
            &RunEvent::DownloadProgress {
                node: "m1".into(),
                bytes: 512 << 10,
                total: Some(2 << 20),
                elapsed_ms: 500,
                expected: None,
            },
            t(150),
        );
        assert_eq!(rb.gate[0].kind, RowKind::Snapshot);
        assert!(matches!(rb.gate[0].state, StepState::Verified { .. }));
        assert_eq!(
            rb.gate[1].state,
            StepState::Running {
                since: t(110),
                detail: Some("512.0 KB of 2.0 MB (25%) · 1.0 MB/s · 1.5s left".into()),
                permille: Some(250),
            }
        );
        // The download fails: the engine says so, refuses and finishes.
        rb.apply(
            &RunEvent::DownloadFailed {
                node: "m1".into(),
                error: "transfer cut".into(),
            },
            t(200),
        );
        rb.apply(
            &RunEvent::RunFinished {
                outcome: RunStatus::Refused,
                detail: "the RDB download of m1 failed".into(),
                state: vec![],
                next_step: None,
            },
            t(300),
        );
        assert!(!rb.running());
        assert_eq!(
            rb.gate[1].state,
            StepState::Failed {
                error: "transfer cut".into(),
                critical: true
            }
        );
        assert_eq!(
            rb.ending.as_ref().map(|e| e.outcome),
            Some(Ended::Run(RunStatus::Refused))
        );
        assert!(rb.steps.iter().all(|s| s.state == StepState::NotRun));
    }

    #[test]
    fn a_snapshot_skipped_for_one_node_leaves_its_download() {
        let fake = FakeOps::group(&["m1", "r1"]);
        let (config, topology) = fake.config_and_topology("g");
        let mut req = Request::new(ActionKind::Snapshot, Some("m1".into())).in_group(0);
        req.download = Download::Backups;
        let ctx = Context {
            config: &config,
            topology: &topology,
            marks: &[],
            read_only: false,
            now: t(0),
        };
        let p = session::prepare(&ctx, &req).unwrap().into_run().unwrap();
        let mut rb = Runbook::new(&p.plan, &p.title(), t(0));
        rb.apply(&RunEvent::SnapshotStarted { node: "m1".into() }, t(1));
        rb.apply(
            &RunEvent::SnapshotSkipped {
                node: Some("m1".into()),
                reason: "no persistence: the download is the snapshot".into(),
                detail: None,
            },
            t(2),
        );
        assert!(matches!(rb.gate[0].state, StepState::Skipped(_)));
        assert!(rb.gate[1].state.is_pending());
        rb.apply(
            &RunEvent::DownloadStarted {
                node: "m1".into(),
                path: "/b".into(),
            },
            t(3),
        );
        rb.apply(
            &RunEvent::DownloadVerified {
                node: "m1".into(),
                path: "/b/x.rdb".into(),
                bytes: 9,
                crc_ok: true,
                detail: String::new(),
            },
            t(5),
        );
        assert_eq!(
            rb.gate[1].state,
            StepState::Verified {
                ms: Some(2),
                detail: "/b/x.rdb (9 bytes)".into()
            }
        );
    }
}
