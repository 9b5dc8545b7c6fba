//! The runbook of the action in progress: each gate item and step with its state and timing,
//! what was rolled back, and how the run ended, built from the engine's [`RunEvent`]s.
//!
//! Pure data: the events arrive as `Msg::Run` (stamped by the runtime), the view draws it.
//! It never decides anything about the run; the engine does.

use std::time::SystemTime;

use crate::ops::{Plan, RunEvent, RunOutcome, RunStatus};

/// Where a step (or gate item) is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    Pending,
    Running {
        since: SystemTime,
        /// Latest progress note (snapshot gate).
        detail: Option<String>,
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

/// One line of the runbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
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

/// How the run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    /// `done`, `refused` or `failed` (the engine's word), or `error` when it could not start.
    pub outcome: String,
    pub detail: String,
    /// One line per node, read after a failed run.
    pub state: Vec<String>,
    pub next_step: Option<String>,
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
    /// Snapshots, then downloads.
    pub gate: Vec<Row>,
    pub steps: Vec<Row>,
    pub rollbacks: Vec<String>,
    pub ending: Option<Ending>,
}

impl Runbook {
    /// Every step of `plan` pending.
    #[must_use]
    pub fn new(plan: &Plan, title: &str, now: SystemTime) -> Self {
        let gate_row = |what: &str, i: usize| Row {
            title: format!("{what} {}", plan.name(i)),
            node: plan.name(i).to_string(),
            commands: Vec::new(),
            state: StepState::Pending,
        };
        let mut gate: Vec<Row> = plan
            .snapshots
            .iter()
            .map(|&i| gate_row("snapshot (BGSAVE, verified) of", i))
            .collect();
        gate.extend(
            plan.downloads
                .iter()
                .map(|&i| gate_row("download (CRC64 verified) of the RDB of", i)),
        );
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
                    title: s.title.clone(),
                    node: plan.name(s.node).to_string(),
                    commands: s.commands.iter().map(ToString::to_string).collect(),
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

    /// Takes in one engine event, stamped `at`.
    pub fn apply(&mut self, ev: &RunEvent, at: SystemTime) {
        match ev {
            RunEvent::RunStarted { run_id, .. } => self.run_id = Some(run_id.clone()),
            RunEvent::PrecheckFailed { reason } => {
                self.prechecks = Prechecks::Refused(reason.clone())
            }
            RunEvent::PrecheckPassed { overridden } => {
                self.prechecks = Prechecks::Passed {
                    overridden: overridden.clone(),
                };
                self.next_download(at);
            }
            RunEvent::SnapshotStarted { node } => {
                if let Some(r) = self.gate_row(node, true) {
                    r.state = StepState::Running {
                        since: at,
                        detail: None,
                    };
                }
            }
            RunEvent::SnapshotProgress { node, detail } => {
                if let Some(r) = self.gate_row(node, true) {
                    if let StepState::Running { detail: d, .. } = &mut r.state {
                        *d = Some(detail.clone());
                    }
                }
            }
            RunEvent::SnapshotVerified { node, last_save } => {
                if let Some(r) = self.gate_row(node, true) {
                    r.state = StepState::Verified {
                        ms: elapsed(&r.state, at),
                        detail: format!("status ok, rdb_last_save_time {last_save}"),
                    };
                }
                self.next_download(at);
            }
            RunEvent::SnapshotSkipped { reason } => {
                for r in &mut self.gate {
                    r.state = StepState::Skipped(reason.clone());
                }
            }
            RunEvent::DownloadVerified { node, path, bytes } => {
                if let Some(r) = self.gate_row(node, false) {
                    r.state = StepState::Verified {
                        ms: elapsed(&r.state, at),
                        detail: format!("{path} ({bytes} bytes)"),
                    };
                }
                self.next_download(at);
            }
            RunEvent::StepStarted { index, .. } => {
                if let Some(r) = self.steps.get_mut(*index) {
                    r.state = StepState::Running {
                        since: at,
                        detail: None,
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
            RunEvent::RolledBack { what } => self.rollbacks.push(what.clone()),
            RunEvent::RunFinished {
                outcome,
                detail,
                state,
                next_step,
            } => {
                self.ending = Some(Ending {
                    outcome: outcome.clone(),
                    detail: detail.clone(),
                    state: state.clone(),
                    next_step: next_step.clone(),
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
            outcome: "error".to_string(),
            detail: String::new(),
            state: Vec::new(),
            next_step: None,
            warnings: Vec::new(),
            notes: Vec::new(),
            elapsed_ms: None,
            pause_ms: None,
            at,
        });
        match outcome {
            Ok(o) => {
                e.outcome = match o.status {
                    RunStatus::Done => "done",
                    RunStatus::Refused => "refused",
                    RunStatus::Failed => "failed",
                }
                .to_string();
                e.detail.clone_from(&o.detail);
                e.state.clone_from(&o.state);
                e.next_step.clone_from(&o.next_step);
                e.warnings.clone_from(&o.warnings);
                e.elapsed_ms = Some(o.elapsed_ms);
                e.pause_ms = o.pause_ms;
            }
            Err(why) => {
                e.outcome = "error".to_string();
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

    fn gate_row(&mut self, node: &str, snapshot: bool) -> Option<&mut Row> {
        let n = self
            .gate
            .iter()
            .filter(|r| !r.title.starts_with("download"))
            .count();
        let range = if snapshot { 0..n } else { n..self.gate.len() };
        self.gate[range].iter_mut().find(|r| r.node == node)
    }

    /// Downloads have no start event: one starts when the gate before it is through.
    fn next_download(&mut self, at: SystemTime) {
        if !matches!(self.prechecks, Prechecks::Passed { .. }) {
            return;
        }
        if self
            .gate
            .iter()
            .any(|r| matches!(r.state, StepState::Running { .. }))
        {
            return;
        }
        if let Some(r) = self.gate.iter_mut().find(|r| r.state.is_pending()) {
            if r.title.starts_with("download") {
                r.state = StepState::Running {
                    since: at,
                    detail: None,
                };
            }
        }
    }

    /// Whatever did not start will not: pending rows become "not run"; a gate row still
    /// running failed (the gate is what refused).
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
        rb.apply(&RunEvent::PrecheckPassed { overridden: vec![] }, t(1));
        assert!(
            rb.gate.iter().all(|r| r.state.is_pending()),
            "snapshot first"
        );
        rb.apply(&RunEvent::SnapshotStarted { node: "m1".into() }, t(2));
        rb.apply(
            &RunEvent::SnapshotVerified {
                node: "m1".into(),
                last_save: 7,
            },
            t(102),
        );
        assert_eq!(
            rb.gate[0].state,
            StepState::Verified {
                ms: Some(100),
                detail: "status ok, rdb_last_save_time 7".into()
            }
        );
        assert!(
            matches!(rb.gate[1].state, StepState::Running { since, .. } if since == t(102)),
            "the download starts when the snapshot is through: {:?}",
            rb.gate[1].state
        );
        // The download fails: the engine refuses and finishes; what ran is failed.
        rb.apply(
            &RunEvent::RunFinished {
                outcome: "refused".into(),
                detail: "the RDB download of m1 failed".into(),
                state: vec![],
                next_step: None,
            },
            t(300),
        );
        assert!(!rb.running());
        assert!(matches!(rb.gate[1].state, StepState::Failed { .. }));
    }
}
