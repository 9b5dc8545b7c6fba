//! The drill panel's model (`redops drill NAME`): what the drill runner says comes in as
//! `Msg::Drill` events (step started, fault injected, hint, waiting for, step done, the
//! report); `h` asks for the current step's next hint (`Effect::DrillHint`, which the runner
//! answers with a `hint` event at its next poll). Everything else in the console works as
//! usual: the trainee's actions go through the same session, and the runner reads them from
//! the audit log. When the last step is done the view freezes on the topology that passed
//! (the runner then stops the servers); `f` resumes the live view.

use std::time::{Duration, SystemTime};

use super::{App, Effect};
use crate::drill::{DrillEvent, Report, RunnerEvent};

/// A fault as the panel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSeen {
    pub step: usize,
    pub what: String,
    pub at: SystemTime,
}

/// The step under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepShown {
    pub index: usize,
    pub goal: String,
    /// Hints the step has, and those shown so far (in order).
    pub hints_total: usize,
    pub hints: Vec<String>,
    /// For each hint, when it shows by itself (ms into the step).
    pub hint_after_ms: Vec<Option<u64>>,
    /// The faults the step injects: until they are all in, the incident is still unfolding
    /// and the goal describes what is coming.
    pub faults_total: usize,
    pub limit: Option<Duration>,
    pub started: SystemTime,
}

impl StepShown {
    /// When the next hint shows by itself, if it does.
    #[must_use]
    pub fn next_hint_at(&self) -> Option<SystemTime> {
        let after = (*self.hint_after_ms.get(self.hints.len())?)?;
        Some(self.started + Duration::from_millis(after))
    }
}

/// What the drill panel shows.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillPanel {
    pub id: String,
    pub title: String,
    pub incident: String,
    pub steps: usize,
    pub limit: Duration,
    pub started: SystemTime,
    pub step: Option<StepShown>,
    /// Steps done: goal and how long each took.
    pub done: Vec<(String, u64)>,
    pub faults: Vec<FaultSeen>,
    /// What the current step's condition still misses.
    pub waiting: Vec<String>,
    /// `h` was pressed and the hint has not come yet.
    pub hint_asked: bool,
    pub report: Option<Box<Report>>,
    /// When the report came (the clock stops there).
    pub ended: Option<SystemTime>,
    /// When the trainee last said they saw the current step's fault (`a`).
    pub noticed: Option<SystemTime>,
}

impl DrillPanel {
    fn step_started(&mut self, step: StepShown) {
        self.step = Some(step);
        self.waiting.clear();
        self.hint_asked = false;
        self.noticed = None;
    }

    /// Time since the drill (or `since`) started, stopped at its end.
    #[must_use]
    pub fn elapsed(&self, since: SystemTime, now: SystemTime) -> Duration {
        self.ended
            .unwrap_or(now)
            .duration_since(since)
            .unwrap_or_default()
    }
}

impl App {
    /// Takes in one event of the drill runner.
    pub fn drill_event(&mut self, ev: RunnerEvent) {
        let now = self.now;
        if let RunnerEvent::DrillStarted {
            drill,
            title,
            incident,
            time_limit,
            steps,
            ..
        } = ev
        {
            self.drill = Some(DrillPanel {
                id: drill,
                title,
                incident,
                steps,
                limit: time_limit,
                started: now,
                step: None,
                done: Vec::new(),
                faults: Vec::new(),
                waiting: Vec::new(),
                hint_asked: false,
                report: None,
                ended: None,
                noticed: None,
            });
            return;
        }
        let Some(p) = self.drill.as_mut() else {
            return;
        };
        match ev {
            RunnerEvent::DrillStarted { .. } | RunnerEvent::Step(DrillEvent::FaultDue { .. }) => {}
            RunnerEvent::Step(DrillEvent::StepStarted {
                step,
                goal,
                hints,
                hint_after_ms,
                faults,
                time_limit,
            }) => p.step_started(StepShown {
                index: step,
                goal,
                hints_total: hints,
                hints: Vec::new(),
                hint_after_ms,
                faults_total: faults,
                limit: time_limit,
                started: now,
            }),
            RunnerEvent::FaultInjected { step, what, .. } => {
                p.faults.push(FaultSeen {
                    step,
                    what,
                    at: now,
                });
            }
            RunnerEvent::Waiting { missing, .. } => p.waiting = missing,
            RunnerEvent::Step(DrillEvent::Hint { text, asked, .. }) => {
                p.hint_asked = false;
                let n = p.step.as_mut().map_or(0, |s| {
                    s.hints.push(text);
                    s.hints.len()
                });
                if !asked {
                    // It may land behind a dialog: the status line says so.
                    self.flash_info(&format!(
                        "hint {n} shown by itself (the step ran long): see the drill panel"
                    ));
                }
            }
            RunnerEvent::Step(DrillEvent::StepDone { step, elapsed_ms }) => {
                let goal = p
                    .step
                    .as_ref()
                    .filter(|s| s.index == step)
                    .map(|s| s.goal.clone())
                    .unwrap_or_default();
                p.done.push((goal, elapsed_ms));
                p.waiting.clear();
                // The last step done: the runner checks the writes and stops the servers. The
                // view stays on the topology that passed (f resumes the live one).
                if step + 1 == p.steps && self.frozen.is_none() {
                    self.toggle_freeze();
                }
            }
            RunnerEvent::Step(DrillEvent::Over { .. }) => {
                p.ended = Some(now);
                // Timed out or a wrong move: the view stays on the topology judged, as after
                // the last step (the runner stops the servers next).
                if self.frozen.is_none() {
                    self.toggle_freeze();
                }
            }
            RunnerEvent::DrillFinished { report } => {
                let text = report.verdict();
                p.ended.get_or_insert(now);
                p.waiting.clear();
                p.report = Some(report);
                // The header says FROZEN: the view stays on the end.
                self.flash_info(&format!("drill over, {text}; q quits · f: live view"));
            }
        }
    }

    /// `h`: the current step's next hint.
    pub(super) fn hint_key(&mut self) -> Vec<Effect> {
        let Some(p) = self.drill.as_mut() else {
            self.flash_info("h reveals a drill's hints: `redops drill NAME` only");
            return Vec::new();
        };
        if p.report.is_some() {
            self.flash_info("the drill is over: q quits");
            return Vec::new();
        }
        let Some(s) = p.step.as_ref() else {
            self.flash_info("the drill has not started yet");
            return Vec::new();
        };
        if s.hints.len() + usize::from(p.hint_asked) >= s.hints_total {
            let text = if s.hints_total == 0 {
                "this step has no hints"
            } else {
                "every hint of this step is shown"
            };
            self.flash_info(text);
            return Vec::new();
        }
        p.hint_asked = true;
        vec![Effect::DrillHint]
    }
}
