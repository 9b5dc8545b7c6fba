//! The console's side of the guarded actions, as `impl App`: which action keys are live (and
//! why not), what each key asks for (the selected node, a source picked from a list), the
//! plan dialog, the confirmation, the run as an [`Effect`], the runbook fed by the engine's
//! events, and what the start-up finds (interrupted runs, rejoin marks, stale primaries).
//!
//! Synchronous and free of I/O like the rest of `update`: requests are prepared by the core
//! (`ops::session::prepare`, pure), which also decides every refusal; the run and the file
//! reads are effects carried out by the runtime (`run.rs`, on `ops::session::execute`).

use std::time::SystemTime;

use crate::audit::InterruptedRun;
use crate::ops::promote::{self, RejoinMark};
use crate::ops::recovery::{self, Advice};
use crate::ops::session::{self, Context, MarkClearing, Preparation};
use crate::ops::{self, ActionKind, NextStep, Request, RunEvent};
use crate::topology::{AnomalyKind, GroupTopology, Role, Severity};

use super::app::{App, Effect, Pane};
use super::events::LogEntry;
use super::modal::{
    Armed, Button, ConfirmDialog, Modal, NoticeDialog, PickItem, Picker, PlanDialog,
};
use super::next_step;
use super::prepare;
use super::run::{RunEnd, RunJob};
use super::runbook::{Ended, Runbook};

impl App {
    /// The live (not frozen) topology of group `gi`, empty when it has none yet.
    fn live_group(&self, gi: usize) -> &GroupTopology {
        static EMPTY: std::sync::OnceLock<GroupTopology> = std::sync::OnceLock::new();
        self.topology
            .groups
            .iter()
            .find(|g| g.index == gi)
            .unwrap_or_else(|| EMPTY.get_or_init(GroupTopology::default))
    }

    /// Read-only from the command line or the console config (the engine is told too).
    #[must_use]
    pub fn read_only(&self) -> bool {
        self.opts.read_only || self.config.console.read_only
    }

    /// What the core prepares this console's requests against: the config, the live (not
    /// frozen) topology, the marks, read-only mode and the console's clock.
    fn session(&self) -> Context<'_> {
        Context {
            config: &self.config,
            topology: &self.topology,
            marks: &self.marks,
            read_only: self.read_only(),
            now: self.now,
        }
    }

    /// Why action `a` is not available in the shown group right now (greyed, refused with
    /// this reason), or `None`. The guard's part is the core's (`session::standing`: read-only,
    /// the group read-only, an HA manager); the console adds its own states. Node-specific
    /// problems are the plan's checks.
    #[must_use]
    pub fn action_blocked(&self, a: ActionKind) -> Option<String> {
        if let Some(r) = session::standing(&self.session(), self.group, a) {
            return Some(r.message());
        }
        self.config.groups.get(self.group)?;
        if self.run.as_ref().is_some_and(Runbook::running) {
            return Some("an action is running: wait for it to end".to_string());
        }
        if !self.warm() {
            return Some("waiting for the first poll of every node".to_string());
        }
        None
    }

    /// An action key was pressed.
    pub(super) fn action_key(&mut self, a: ActionKind) -> Vec<Effect> {
        if let Some(r) = session::standing(&self.session(), self.group, a) {
            self.refuse(a, &prepare::flash(&r));
            return Vec::new();
        }
        if let Some(why) = self.action_blocked(a) {
            self.refuse(a, &why);
            return Vec::new();
        }
        match self.request_for(a) {
            Ok(Some(req)) => self.open_plan(&req),
            Ok(None) => Vec::new(),
            Err(why) => {
                self.refuse(a, &why);
                Vec::new()
            }
        }
    }

    /// The request a key makes from the selection; `None` when a picker was opened instead.
    fn request_for(&mut self, a: ActionKind) -> Result<Option<Request>, String> {
        let gi = self.group;
        let live = ops::group_topology(&self.topology, gi);
        let sel = self.selected_node().map(|n| n.name.clone());
        let role = |n: &str| live.by_name(n).map(|v| v.role);
        let need = || sel.clone().ok_or_else(|| "select a node first".to_string());
        let node = match a {
            ActionKind::Switchover => {
                let n = need()?;
                if role(&n) == Some(Role::Primary) {
                    return Err(format!("{n} is a primary: select the replica to promote"));
                }
                Some(n)
            }
            ActionKind::Failback => None,
            ActionKind::Promote => sel.filter(|n| role(n) == Some(Role::Replica)),
            ActionKind::Repoint => {
                let n = need()?;
                self.pick_source(Request::new(a, Some(n.clone())).in_group(gi), &live, &n);
                return Ok(None);
            }
            ActionKind::Rejoin => {
                let flagged = self.rejoin_candidates(gi);
                let n = match sel {
                    Some(s) if flagged.contains(&s) => s,
                    _ if flagged.len() == 1 => flagged[0].clone(),
                    s => s.ok_or_else(|| "select the old primary to rejoin".to_string())?,
                };
                // A marked node goes to the core, which clears a mark that has settled.
                let marked = self.marks.iter().any(|m| m.node == n);
                if !flagged.contains(&n) && !marked {
                    if let Some(why) = nothing_to_rejoin(&live, &n) {
                        return Err(why);
                    }
                }
                Some(n)
            }
            // A snapshot, and any action on the selected node.
            ActionKind::Snapshot => Some(need()?),
            // The shown group's sentinels (`:sentinel-reset`), no node.
            ActionKind::SentinelReset => return Ok(Some(Request::sentinel_reset(gi))),
            ActionKind::Restore => {
                let n = need()?;
                if role(&n) == Some(Role::Replica) {
                    return Err(format!(
                        "{n} is a replica: restore its primary (its replicas follow it)"
                    ));
                }
                return Ok(Some(Request::new(a, Some(n)).in_group(gi)));
            }
        };
        Ok(Some(Request::new(a, node).in_group(gi)))
    }

    fn pick_source(&mut self, req: Request, live: &GroupTopology, node: &str) {
        let items: Vec<PickItem> = live
            .nodes
            .iter()
            .filter(|v| v.name != node && !v.unmanaged)
            .map(|v| PickItem {
                name: v.name.clone(),
                about: format!(
                    "{} · {} · {}{}",
                    v.addr,
                    v.role.as_str(),
                    super::fmt::state(v.state).1,
                    v.offset
                        .map_or_else(String::new, |o| format!(" · offset {o}"))
                ),
            })
            .collect();
        let chosen = live
            .nodes
            .iter()
            .filter(|v| v.name != node && !v.unmanaged)
            .position(|v| v.role == Role::Primary && v.state.is_reachable())
            .unwrap_or(0);
        self.modals.push(Modal::Pick(Picker {
            title: format!("repoint {node}: replicate from which node?"),
            items,
            chosen,
            request: req,
        }));
    }

    /// Nodes of group `gi` to offer a rejoin for: stale primaries the topology flags, and
    /// marked old primaries that are back.
    #[must_use]
    pub fn rejoin_candidates(&self, gi: usize) -> Vec<String> {
        let live = self.live_group(gi);
        let mut out: Vec<String> = live
            .anomalies
            .iter()
            .filter(|a| a.kind == AnomalyKind::StalePrimary)
            .filter_map(|a| a.nodes.first().cloned())
            .collect();
        for f in promote::flags(&self.marks, live) {
            if !out.contains(&f.node) {
                out.push(f.node);
            }
        }
        out
    }

    /// The backups of the node a restore was asked for: a picker of them, newest first.
    pub(super) fn backups_listed(
        &mut self,
        request: Request,
        result: Result<Vec<PickItem>, String>,
    ) {
        match result {
            Ok(items) => {
                let node = request.node.clone().unwrap_or_default();
                self.modals.push(Modal::Pick(Picker {
                    title: format!("restore {node}: load which backup?"),
                    items,
                    chosen: 0,
                    request,
                }));
            }
            Err(e) => self.refuse(ActionKind::Restore, &e),
        }
    }

    /// Prepares `req` from the live topology (the core's `session::prepare`) and opens its
    /// plan dialog; a rejoin whose mark what is seen has settled clears the mark instead.
    /// A restore first picks its backup (listed, then resolved and checked: effects).
    pub(super) fn open_plan(&mut self, req: &Request) -> Vec<Effect> {
        if req.action == ActionKind::Restore && req.restore.is_none() {
            let backups_dir = self.config.console.backups_dir.clone();
            if req.source.is_some() {
                return vec![Effect::ResolveBackup {
                    backups_dir,
                    request: req.clone(),
                }];
            }
            return vec![Effect::ListBackups {
                backups_dir,
                group: self.request_group(req),
                request: req.clone(),
            }];
        }
        match session::prepare(&self.session(), req) {
            Ok(Preparation::Run(p)) => {
                if self.frozen.is_some() {
                    self.flash_info("the view is frozen; the plan is built from live data");
                }
                self.modals.push(Modal::Plan(PlanDialog::new(*p)));
                Vec::new()
            }
            Ok(Preparation::ClearMark(m)) => {
                self.marks
                    .retain(|k| !(k.group == m.group && k.node == m.node));
                let gn = m.group.clone();
                self.note(
                    Severity::Info,
                    &gn,
                    Some(m.node.clone()),
                    format!("{}; its rejoin mark is cleared", m.why),
                );
                self.flash_info(&format!(
                    "{}: {}; its rejoin mark is cleared",
                    m.node, m.why
                ));
                vec![Effect::ClearMarks {
                    audit_log: self.config.console.audit_log.clone(),
                    marks: vec![m],
                }]
            }
            // Sentinel already promoted: the statement, shown whole and recorded.
            Err(e)
                if e.kind == crate::ops::ErrorKind::NothingToDo
                    && req.action == ActionKind::Promote =>
            {
                self.refuse(req.action, &e.message);
                vec![Effect::RecordPromoteStatement {
                    audit_log: self.config.console.audit_log.clone(),
                    group: self.request_group(req),
                    statement: e.message,
                }]
            }
            Err(e) => {
                let hint = e
                    .hint
                    .as_ref()
                    .map_or_else(String::new, |h| format!(" (hint: {h})"));
                self.refuse(req.action, &format!("{}{hint}", e.message));
                Vec::new()
            }
        }
    }

    /// The name of the group a request is for (its scope, else the selected group).
    fn request_group(&self, req: &crate::ops::Request) -> String {
        let gi = req.group.unwrap_or(self.group);
        self.config
            .groups
            .get(gi)
            .map(|g| g.name.clone())
            .unwrap_or_default()
    }

    /// Why action `a` was not planned, whole: in the status line when it fits there, else
    /// in a notice (a status line cuts a long reason mid-sentence, and the hint is its end).
    fn refuse(&mut self, a: ActionKind, why: &str) {
        let line = format!("{}: {why}", a.as_str());
        if line.chars().count() <= usize::from(self.size.0) {
            self.flash_error(&line);
            return;
        }
        let (reason, hint) = match why.split_once(" (hint: ") {
            Some((r, h)) => (r.to_string(), Some(h.trim_end_matches(')').to_string())),
            None => (why.to_string(), None),
        };
        let mut lines = vec![reason];
        if let Some(h) = hint {
            lines.push(String::new());
            lines.push(format!("hint: {h}"));
        }
        self.modals.push(Modal::Notice(NoticeDialog {
            title: format!("{}: not planned", a.as_str()),
            lines,
            offer: None,
            focus: Button::Cancel,
            scroll: 0,
        }));
    }

    /// Proceed was chosen in the plan dialog: a plain confirm runs it; a role change asks
    /// for the target's name.
    pub(super) fn plan_accepted(&mut self, armed: Box<Armed>) -> Vec<Effect> {
        match armed.prepared.confirm_word().map(str::to_string) {
            Some(word) => {
                self.modals
                    .push(Modal::Confirm(ConfirmDialog::new(armed, &word)));
                Vec::new()
            }
            None => self.start_run(*armed, "yes".to_string()),
        }
    }

    /// Confirmed: the runbook opens and the run is handed to the runtime.
    pub(super) fn start_run(&mut self, armed: Armed, confirmation: String) -> Vec<Effect> {
        if self.run.as_ref().is_some_and(Runbook::running) {
            self.flash_error("an action is already running");
            return Vec::new();
        }
        let title = armed.prepared.title();
        let plan = &armed.prepared.plan;
        self.run = Some(Runbook::new(plan, &title, self.now));
        self.detail_scroll = 0;
        if self.focus == Pane::Log && self.size.0 < super::view::WIDE {
            self.focus = Pane::Detail;
        }
        let mut why = armed
            .override_reason
            .as_ref()
            .map_or_else(String::new, |r| format!(" (failed checks overridden: {r})"));
        if let Some(r) = &armed.skip_snapshot_reason {
            why.push_str(&format!(" (snapshot gate skipped: {r})"));
        }
        self.note(
            Severity::Info,
            &plan.group,
            None,
            format!("{title}: started{why}"),
        );
        self.flash_info(&format!("{title}: running (the runbook shows each step)"));
        let mut approval = armed.prepared.approval(
            Some(confirmation),
            armed.override_reason,
            armed.skip_snapshot_reason,
        );
        // Read-only now, not only when the plan was prepared (the engine refuses it).
        approval.read_only |= self.read_only();
        vec![Effect::RunAction(Box::new(RunJob {
            prepared: armed.prepared,
            approval,
        }))]
    }

    /// One engine event, stamped by the runtime.
    pub(super) fn run_event(&mut self, at: SystemTime, event: &RunEvent) {
        if at > self.now {
            self.now = at;
        }
        let Some(rb) = &mut self.run else { return };
        rb.apply(event, at);
        let (group, title) = (rb.group.clone(), rb.title.clone());
        match event {
            RunEvent::StepFailed {
                title: t, error, ..
            } => {
                self.note(
                    Severity::Critical,
                    &group,
                    None,
                    format!("{title}: {t} failed: {error}"),
                );
            }
            RunEvent::RolledBack { what, .. } => {
                self.note(
                    Severity::Warning,
                    &group,
                    None,
                    format!("{title}: rolled back: {what}"),
                );
            }
            _ => {}
        }
    }

    /// The run is over: the outcome into the runbook and the log; marks and interrupted runs
    /// are read again.
    pub(super) fn run_ended(&mut self, end: &RunEnd) -> Vec<Effect> {
        let at = self.now;
        let Some(rb) = &mut self.run else {
            return Vec::new();
        };
        let why = end.outcome.as_ref().err().map(|e| match &e.hint {
            Some(h) => format!("{} (hint: {h})", e.message),
            None => e.message.clone(),
        });
        let outcome = match (&end.outcome, &why) {
            (Ok(o), _) => Ok(o),
            (Err(_), Some(w)) => Err(w.as_str()),
            (Err(e), None) => Err(e.message.as_str()),
        };
        rb.ended(outcome, &end.notes, at);
        let (group, title) = (rb.group.clone(), rb.title.clone());
        let (ended, detail) = rb
            .ending
            .as_ref()
            .map_or((Ended::NotStarted, String::new()), |e| {
                (e.outcome, e.detail.clone())
            });
        let word = ended.word();
        let severity = if ended.is_done() {
            Severity::Info
        } else {
            Severity::Critical
        };
        self.note(severity, &group, None, format!("{title}: {word}: {detail}"));
        for n in &end.notes {
            self.note(Severity::Info, &group, None, n.clone());
        }
        if ended.is_done() {
            self.flash_info(&format!("{title}: done · Esc closes the runbook"));
        } else {
            self.flash_error(&format!(
                "{title}: {word} · the runbook says why and what next"
            ));
        }
        self.quit_armed = false;
        self.startup_effects()
    }

    /// Reads done at start-up (once every node was polled) and after each run.
    pub(super) fn startup_effects(&self) -> Vec<Effect> {
        let path = self.config.console.audit_log.clone();
        vec![
            Effect::LoadMarks {
                audit_log: path.clone(),
            },
            Effect::CheckInterrupted {
                audit_log: path,
                topology: Box::new(self.topology.clone()),
            },
        ]
    }

    /// The rejoin marks were read.
    pub(super) fn marks_loaded(&mut self, r: Result<Vec<RejoinMark>, String>) {
        match r {
            Ok(m) => self.marks = m,
            Err(e) => self.flash_error(&format!("warning: {e}")),
        }
    }

    /// Marks whose node the live topology shows following its primary with the link up (it
    /// was repaired by hand, or rejoined elsewhere) stop alarming: they are dropped here and
    /// cleared from the file, with an audit record, by the runtime. Only on a complete poll
    /// cycle: a half-polled group proves nothing.
    pub(super) fn settle_marks(&mut self) -> Vec<Effect> {
        if !self.warm() || self.marks.is_empty() {
            return Vec::new();
        }
        let settled: Vec<MarkClearing> = self
            .marks
            .iter()
            .filter_map(|m| {
                let g = self.topology.groups.iter().find(|g| g.name == m.group)?;
                Some(MarkClearing {
                    group: m.group.clone(),
                    node: m.node.clone(),
                    why: promote::marks::settled(m, g)?,
                })
            })
            .collect();
        if settled.is_empty() {
            return Vec::new();
        }
        self.marks.retain(|m| {
            !settled
                .iter()
                .any(|c| c.group == m.group && c.node == m.node)
        });
        for c in &settled {
            self.note(
                Severity::Info,
                &c.group,
                Some(c.node.clone()),
                format!("{}; its rejoin mark is cleared", c.why),
            );
        }
        vec![Effect::ClearMarks {
            audit_log: self.config.console.audit_log.clone(),
            marks: settled,
        }]
    }

    /// The audit log was searched for runs that never finished.
    pub(super) fn interrupted_found(&mut self, r: Result<Vec<(InterruptedRun, Advice)>, String>) {
        let list = match r {
            Ok(l) => l,
            Err(e) => {
                self.flash_error(&format!("warning: {e}"));
                return;
            }
        };
        for (run, advice) in &list {
            let (sev, what) = if advice.settled {
                (Severity::Info, "settled since, acknowledged")
            } else {
                (Severity::Critical, "next")
            };
            self.note(
                sev,
                &run.group,
                None,
                format!(
                    "{}; {what}: {}",
                    run.describe(),
                    next_step::render(&advice.next_step)
                ),
            );
        }
        self.interrupted = list.into_iter().filter(|(_, a)| !a.settled).collect();
        let fresh: Vec<(InterruptedRun, Advice)> = self
            .interrupted
            .iter()
            .filter(|(r, _)| !self.interrupted_seen.contains(&r.run_id))
            .cloned()
            .collect();
        for (run, advice) in fresh {
            self.interrupted_seen.push(run.run_id.clone());
            let gi = self.config.groups.iter().position(|g| g.name == run.group);
            // The console knows its rejoin marks too: the same rules, with them.
            let step = gi.map_or(advice.next_step.clone(), |gi| self.next_step_for(gi));
            let mut lines = vec![run.describe(), String::new(), "the group now:".to_string()];
            lines.extend(advice.state.iter().map(|s| format!("  {s}")));
            lines.extend(advice.restore.iter().map(|s| format!("  put back: {s}")));
            lines.push(String::new());
            lines.push(format!("safe next step: {}", next_step::render(&step)));
            let offer = gi.and_then(|gi| self.offer(&step, gi));
            self.modals.push(Modal::Notice(NoticeDialog {
                title: format!("an earlier {} did not finish", run.action),
                lines,
                offer,
                focus: Button::Cancel,
                scroll: 0,
            }));
        }
    }

    /// The safe next step for group `gi` as the console sees it now (its rejoin marks
    /// included), by the core's rules.
    #[must_use]
    pub fn next_step_for(&self, gi: usize) -> NextStep {
        let live = self.live_group(gi);
        recovery::advise_group(live, &self.rejoin_candidates(gi)).next_step
    }

    /// The plan the console can offer for `step` in group `gi`; `None` when actions are
    /// blocked or the step is not one the console can plan as it stands.
    fn offer(&self, step: &NextStep, gi: usize) -> Option<(String, Request)> {
        if self.read_only() {
            return None;
        }
        next_step::offer(step, gi)
    }

    /// The action the console can offer to bring group `gi` back to one primary with every
    /// replica following it (rejoin a stale primary, promote when no primary answers, repoint
    /// a replica that does not follow the primary), from [`next_step_for`](Self::next_step_for).
    /// `None` when actions are blocked or nothing is to be done.
    #[must_use]
    pub fn safe_next(&self, gi: usize) -> Option<(String, Request)> {
        self.offer(&self.next_step_for(gi), gi)
    }

    /// Lines for the banner besides the anomalies: unfinished runs and old primaries back.
    #[must_use]
    pub fn notices(&self) -> Vec<(Severity, String)> {
        let Some(g) = self.config.groups.get(self.group) else {
            return Vec::new();
        };
        let mut out: Vec<(Severity, String)> = self
            .interrupted
            .iter()
            .filter(|(r, _)| r.group == g.name)
            .map(|(r, a)| {
                (
                    Severity::Critical,
                    format!(
                        "an earlier {} (run {}, {}@{}) did not finish: {}",
                        r.action,
                        r.run_id,
                        r.user,
                        r.host,
                        next_step::render(&a.next_step)
                    ),
                )
            })
            .collect();
        for f in promote::flags(&self.marks, self.live_group(self.group)) {
            let sev = if f.stale_primary {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let key = next_step::key(ActionKind::Rejoin);
            out.push((sev, format!("{key} rejoins {}: {}", f.node, f.message)));
        }
        out
    }

    /// Adds the console's own line to the event log.
    fn note(&mut self, severity: Severity, group: &str, node: Option<String>, message: String) {
        self.log.push(LogEntry {
            at: self.now,
            severity,
            group: group.to_string(),
            node,
            kind: "action",
            message,
        });
    }
}

/// Why `J` on `node` has nothing to do, when it is plain from the view: the node is the only
/// primary, or a replica already linked to the primary. Short enough for an 80-column status
/// line, with the key that does what the operator may have meant.
fn nothing_to_rejoin(live: &GroupTopology, node: &str) -> Option<String> {
    let v = live.by_name(node)?;
    let current = |p: &crate::topology::NodeView| {
        !p.unmanaged && p.role == Role::Primary && p.state.is_reachable() && !p.stale_info
    };
    if current(v) && live.nodes.iter().filter(|p| current(p)).count() == 1 {
        return Some(format!(
            "{node} is the primary: nothing to rejoin (to hand its role over: S)"
        ));
    }
    let up = v.upstream.as_ref()?.index.and_then(|i| live.nodes.get(i))?;
    (v.role == Role::Replica && current(up) && v.link == Some(crate::topology::Link::Up)).then(
        || {
            format!(
                "{node} already follows {}: nothing to rejoin (to change its source: r)",
                up.name
            )
        },
    )
}

#[cfg(test)]
mod tests;
