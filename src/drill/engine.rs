//! The drill engine: pure. [`Drill::update`] takes the topology of one poll and the time and
//! returns what happened ([`DrillEvent`]s): a step started, a fault is due (an effect the runner
//! carries out on the sandbox), a hint, a step done, a time limit passed, a forbidden move, the
//! drill over. [`Drill::action`] takes what the trainee did (read from the audit log: an action
//! started, refused by a guard, or run over a guard with a reason), for the report's time to
//! detect and guards tripped. No I/O, no clock of its own, no front-end.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::condition::{live_primaries, WriteCheck};
use super::report::{GuardTrip, Report, StepReport};
use super::spec::{DrillSpec, Fault, Forbidden};
use crate::topology::Topology;

/// How many polls in a row a step's condition must hold on (one poll can straddle a change).
const HOLDS_FOR: u32 = 2;

/// What the trainee did, as the audit log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// An action started (`summary` is its plan's one line: "promote n3 in place of n1").
    Started { action: String, summary: String },
    /// A guard or pre-check refused it.
    Refused { action: String, reason: String },
    /// It ran over failed pre-checks, with the operator's reason.
    Overridden { action: String, reason: String },
    /// The trainee said they have seen what is wrong (the console's acknowledge key): it
    /// counts for the time to detect and changes nothing.
    Noticed { what: String },
}

/// Something the engine decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DrillEvent {
    StepStarted {
        step: usize,
        goal: String,
        hints: usize,
        /// For each hint, when it shows by itself (ms into the step); `None`: on demand only.
        hint_after_ms: Vec<Option<u64>>,
        /// The faults the step injects (the incident is under way until they are all in).
        faults: usize,
        #[serde(with = "super::spec::opt_duration")]
        time_limit: Option<Duration>,
    },
    /// An effect: the runner injects it, then says so with [`Drill::fault_done`].
    FaultDue {
        step: usize,
        fault: Fault,
    },
    Hint {
        step: usize,
        index: usize,
        text: String,
        /// Asked for (`h`, `hint`), or shown by itself once its delay passed.
        asked: bool,
    },
    StepDone {
        step: usize,
        elapsed_ms: u64,
    },
    /// The drill is over (see [`Drill::report`] for the rest of the verdict).
    Over {
        ending: Ending,
    },
}

/// Why a drill ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ending {
    /// Every step's condition held.
    Completed,
    /// A time limit passed (the step's, or the drill's when `step` is the last reached).
    TimedOut { step: usize, limit_ms: u64 },
    /// A forbidden move was seen: what, and the action that made it when one is known.
    WrongMove {
        step: usize,
        what: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// Stopped from outside (the runner could not carry on: a fault failed, Ctrl-C).
    Aborted { why: String },
}

#[derive(Debug, Clone, Default)]
struct StepState {
    started: Option<SystemTime>,
    done: Option<SystemTime>,
    /// Faults not yet handed out, with their delay from the step's start.
    pending: Vec<(Duration, Fault)>,
    /// Handed out and not yet reported done.
    in_flight: usize,
    /// When the step's last fault was injected: only later polls are judged, and the time to
    /// detect counts from it.
    judge_after: Option<SystemTime>,
    first_action: Option<SystemTime>,
    hints_shown: Vec<bool>,
    /// Shown because the trainee asked (`h`), not by their delay.
    hints_asked: Vec<bool>,
    holding: u32,
}

/// One drill being played.
#[derive(Debug, Clone)]
pub struct Drill {
    spec: DrillSpec,
    time_limit: Duration,
    started: Option<SystemTime>,
    current: usize,
    steps: Vec<StepState>,
    guards: Vec<GuardTrip>,
    last_action: Option<String>,
    writes: Option<WriteCheck>,
    waiting_for: Vec<String>,
    ending: Option<Ending>,
    ended_at: Option<SystemTime>,
}

impl Drill {
    /// A drill not started yet; `time_limit` overrides the file's.
    #[must_use]
    pub fn new(spec: DrillSpec, time_limit: Option<Duration>) -> Self {
        let steps = spec
            .steps
            .iter()
            .map(|s| StepState {
                pending: s
                    .faults
                    .iter()
                    .map(|f| (f.after, f.fault.clone()))
                    .collect(),
                hints_shown: vec![false; s.hints.len()],
                hints_asked: vec![false; s.hints.len()],
                ..StepState::default()
            })
            .collect();
        Self {
            time_limit: time_limit.unwrap_or(spec.time_limit),
            spec,
            started: None,
            current: 0,
            steps,
            guards: Vec::new(),
            last_action: None,
            writes: None,
            waiting_for: Vec::new(),
            ending: None,
            ended_at: None,
        }
    }

    /// The drill as loaded.
    #[must_use]
    pub fn spec(&self) -> &DrillSpec {
        &self.spec
    }

    /// The index of the step under way (the number of steps once all are done).
    #[must_use]
    pub fn current_step(&self) -> usize {
        self.current
    }

    /// What the current step's condition still misses, as of the last poll judged.
    #[must_use]
    pub fn waiting_for(&self) -> &[String] {
        &self.waiting_for
    }

    /// How it ended, once it has.
    #[must_use]
    pub fn ending(&self) -> Option<&Ending> {
        self.ending.as_ref()
    }

    /// The writer's latest figures (the runner checks them on every poll).
    pub fn writes(&mut self, check: WriteCheck) {
        self.writes = Some(check);
    }

    /// One poll: start the drill or the next step, hand out due faults and hints, judge the
    /// step's condition and forbidden moves, and the time limits.
    pub fn update(&mut self, topology: &Topology, now: SystemTime) -> Vec<DrillEvent> {
        let mut out = Vec::new();
        if self.ending.is_some() {
            return out;
        }
        let started = *self.started.get_or_insert(now);
        if self.current < self.steps.len() && self.steps[self.current].started.is_none() {
            self.start_step(now, &mut out);
        }
        // A copy: the step's spec is read while the engine's state changes.
        let Some(step) = self.spec.steps.get(self.current).cloned() else {
            return out;
        };
        let i = self.current;
        // Forbidden moves first: they end the drill whatever else holds.
        if let Some(what) = forbidden_seen(&step.forbid, topology) {
            self.end(
                Ending::WrongMove {
                    step: i,
                    what,
                    by: self.last_action.clone(),
                },
                now,
                &mut out,
            );
            return out;
        }
        self.due_faults(now, &mut out);
        self.due_hints(now, &mut out);
        let st = &mut self.steps[i];
        let fresh = topology
            .at
            .is_some_and(|at| st.judge_after.is_none_or(|after| at > after));
        if st.pending.is_empty() && st.in_flight == 0 && fresh {
            self.waiting_for = step.until.unmet(topology, self.writes);
            if self.waiting_for.is_empty() {
                st.holding += 1;
            } else {
                st.holding = 0;
            }
            if st.holding >= HOLDS_FOR {
                st.done = Some(now);
                let elapsed = since(st.started.unwrap_or(now), now);
                out.push(DrillEvent::StepDone {
                    step: i,
                    elapsed_ms: ms(elapsed),
                });
                self.current += 1;
                if self.current == self.steps.len() {
                    self.end(Ending::Completed, now, &mut out);
                } else {
                    self.start_step(now, &mut out);
                }
                return out;
            }
        }
        let st = &self.steps[i];
        let step_over = step
            .time_limit
            .filter(|limit| since(st.started.unwrap_or(now), now) > *limit);
        let drill_over = (since(started, now) > self.time_limit).then_some(self.time_limit);
        if let Some(limit) = step_over.or(drill_over) {
            self.end(
                Ending::TimedOut {
                    step: i,
                    limit_ms: ms(limit),
                },
                now,
                &mut out,
            );
        }
        out
    }

    /// The runner injected a fault it was handed (successfully or not: a failure aborts).
    pub fn fault_done(&mut self, now: SystemTime) {
        if let Some(st) = self.steps.get_mut(self.current) {
            st.in_flight = st.in_flight.saturating_sub(1);
            st.judge_after = Some(now);
        }
    }

    /// What the trainee did. The first thing done after the step's faults are all in (an
    /// action, a refusal, or saying they have seen it) counts for its time to detect.
    pub fn action(&mut self, activity: Activity, now: SystemTime) {
        if let Some(st) = self.steps.get_mut(self.current) {
            let faults_out = st.pending.is_empty() && st.in_flight == 0;
            if faults_out && st.judge_after.is_some_and(|done| done <= now) {
                st.first_action.get_or_insert(now);
            }
        }
        match activity {
            Activity::Started { summary, .. } => self.last_action = Some(summary),
            Activity::Noticed { .. } => {}
            Activity::Refused { action, reason } => {
                // A refused action changed nothing: it cannot be the move a topology shows.
                self.last_action = None;
                self.guards.push(GuardTrip::Refusal {
                    action,
                    reason,
                    step: self.current,
                });
            }
            Activity::Overridden { action, reason } => {
                if let Some(last) = &mut self.last_action {
                    last.push_str(&format!(", forced: \"{reason}\""));
                }
                self.guards.push(GuardTrip::Override {
                    action,
                    reason,
                    step: self.current,
                });
            }
        }
    }

    /// The next hint of the current step not shown yet, shown now (on demand).
    pub fn ask_hint(&mut self) -> Option<DrillEvent> {
        let i = self.current;
        let st = self.steps.get_mut(i)?;
        let index = st.hints_shown.iter().position(|shown| !shown)?;
        st.hints_shown[index] = true;
        st.hints_asked[index] = true;
        Some(DrillEvent::Hint {
            step: i,
            index,
            text: self.spec.steps[i].hints[index].text.clone(),
            asked: true,
        })
    }

    /// Ends the drill from outside (the runner cannot go on).
    pub fn abort(&mut self, why: String, now: SystemTime) -> Vec<DrillEvent> {
        let mut out = Vec::new();
        if self.ending.is_none() {
            self.end(Ending::Aborted { why }, now, &mut out);
        }
        out
    }

    /// The report, with the writer's final figures (`writes`: checked on the final primary
    /// once the drill is over; `None` when no check could be made, which fails the drill).
    #[must_use]
    pub fn report(&self, writes: Option<WriteCheck>) -> Report {
        let started = self.started.unwrap_or(SystemTime::UNIX_EPOCH);
        let ended = self.ended_at.unwrap_or(started);
        let steps: Vec<StepReport> = self
            .spec
            .steps
            .iter()
            .zip(&self.steps)
            .map(|(spec, st)| StepReport {
                goal: spec.goal.clone(),
                done: st.done.is_some(),
                elapsed_ms: st.started.map(|s| ms(since(s, st.done.unwrap_or(ended)))),
                time_to_detect_ms: st
                    .judge_after
                    .zip(st.first_action)
                    .map(|(f, a)| ms(since(f, a))),
                hints_used: st.hints_shown.iter().filter(|s| **s).count(),
                hints_asked: st.hints_asked.iter().filter(|s| **s).count(),
            })
            .collect();
        let ending = self.ending.clone().unwrap_or(Ending::Aborted {
            why: "the drill did not end".to_string(),
        });
        let writes_ok = writes.is_some_and(|w| w.lost == 0);
        Report {
            drill: self.spec.id.clone(),
            title: self.spec.title.clone(),
            passed: ending == Ending::Completed && writes_ok,
            elapsed_ms: ms(since(started, ended)),
            time_to_detect_ms: steps.iter().find_map(|s| s.time_to_detect_ms),
            hints_used: steps.iter().map(|s| s.hints_used).sum(),
            hints_asked: steps.iter().map(|s| s.hints_asked).sum(),
            guards_tripped: self.guards.clone(),
            waiting_for: if ending == Ending::Completed {
                Vec::new()
            } else {
                self.waiting_for.clone()
            },
            writes_acknowledged: writes.map(|w| w.acknowledged),
            writes_lost: writes.map(|w| w.lost),
            ending,
            steps,
            path: None,
        }
    }

    fn start_step(&mut self, now: SystemTime, out: &mut Vec<DrillEvent>) {
        let i = self.current;
        let spec = &self.spec.steps[i];
        self.steps[i].started = Some(now);
        self.waiting_for.clear();
        out.push(DrillEvent::StepStarted {
            step: i,
            goal: spec.goal.clone(),
            hints: spec.hints.len(),
            hint_after_ms: spec.hints.iter().map(|h| h.after.map(ms)).collect(),
            faults: spec.faults.len(),
            time_limit: spec.time_limit,
        });
        self.due_faults(now, out);
    }

    fn due_faults(&mut self, now: SystemTime, out: &mut Vec<DrillEvent>) {
        let i = self.current;
        let st = &mut self.steps[i];
        let elapsed = since(st.started.unwrap_or(now), now);
        // In file order: a later fault waits for the ones before it.
        while st
            .pending
            .first()
            .is_some_and(|(after, _)| *after <= elapsed)
        {
            let (_, fault) = st.pending.remove(0);
            st.in_flight += 1;
            out.push(DrillEvent::FaultDue { step: i, fault });
        }
    }

    fn due_hints(&mut self, now: SystemTime, out: &mut Vec<DrillEvent>) {
        let i = self.current;
        let st = &mut self.steps[i];
        let elapsed = since(st.started.unwrap_or(now), now);
        for (index, hint) in self.spec.steps[i].hints.iter().enumerate() {
            if !st.hints_shown[index] && hint.after.is_some_and(|after| after <= elapsed) {
                st.hints_shown[index] = true;
                out.push(DrillEvent::Hint {
                    step: i,
                    index,
                    text: hint.text.clone(),
                    asked: false,
                });
            }
        }
    }

    fn end(&mut self, ending: Ending, now: SystemTime, out: &mut Vec<DrillEvent>) {
        self.ending = Some(ending.clone());
        self.ended_at = Some(now);
        out.push(DrillEvent::Over { ending });
    }
}

/// The first forbidden move the topology shows.
fn forbidden_seen(forbid: &[Forbidden], topology: &Topology) -> Option<String> {
    let group = topology.groups.first()?;
    let primaries = live_primaries(group);
    forbid
        .iter()
        .find(|f| match f {
            Forbidden::Primary(node) => primaries.iter().any(|p| p.name == *node),
            Forbidden::ReplicaOf([node, of]) => replicates_from(group, node, of),
        })
        .map(ToString::to_string)
}

/// `node` says it replicates from `of` (link up or not).
fn replicates_from(group: &crate::topology::GroupTopology, node: &str, of: &str) -> bool {
    group.by_name(node).is_some_and(|n| {
        n.state == crate::observe::NodeState::Up
            && n.role == crate::topology::Role::Replica
            && n.upstream
                .as_ref()
                .and_then(|u| u.index)
                .and_then(|i| group.nodes.get(i))
                .is_some_and(|u| u.name == of)
    })
}

fn since(from: SystemTime, to: SystemTime) -> Duration {
    to.duration_since(from).unwrap_or_default()
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
