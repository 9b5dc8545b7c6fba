//! The console's model and its update function.
//!
//! `App::update(Msg) -> Vec<Effect>` is synchronous and does no I/O: keys, mouse, polls,
//! ticks and the action engine's events come in as [`Msg`]s, anything slow (reading a theme
//! file, writing an export, running an action, reading the audit log) goes out as an
//! [`Effect`] that the runtime carries out on a task and answers with another `Msg`.
//! Observations go through the core's [`Monitor`] (history, topology, confirmation, the
//! data-loss watch, changes), which is pure: the backup lookups and memory writes it asks for
//! become effects (`app/live.rs`). The action side (keys, dialogs, runbook, start-up findings)
//! is `actions.rs`; moving around (focus, scroll, selection, mouse) is `app/navigate.rs`; the
//! `:` command line is `app/prompt.rs`; the history of runs (`:history`) is `app/runs.rs`; the
//! backups pane (`:backups`) is `app/backups.rs`, the consistency check (`:check-data`)
//! `app/check_data.rs`.
//! Drawing is `view::render(&App, &mut Frame)`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use ratatui::crossterm::event::{KeyEvent, MouseEvent};
use ratatui::layout::Rect;

use crate::audit::InterruptedRun;
use crate::config::Config;
use crate::history::History;
use crate::monitor::Monitor;
use crate::observe::Observation;
use crate::ops::promote::RejoinMark;
use crate::ops::recovery::Advice;
use crate::ops::session::MarkClearing;
use crate::ops::RunEvent;
use crate::sandbox::{Fault, FaultDone};
use crate::topology::data_loss::{LossKey, LossState, SnapshotRef};
use crate::topology::{Anomaly, GroupTopology, NodeView, Severity, Topology};

use super::events::EventLog;
use super::keymap::{self, Intent};
use super::modal::{Modal, Outcome, Prompt, PromptKind};
use super::run::{RunEnd, RunJob};
use super::runbook::Runbook;
use super::theme::{Theme, ThemeError};
use super::view;

mod backups;
mod check_data;
mod drill;
mod live;
mod navigate;
mod practice;
mod prompt;
mod prune;
mod runs;

pub use backups::{BackupsView, RestoreTests, Row, Scope, Verified};
pub use check_data::{pause_for, CheckView, CONSOLE_PAUSE, MAX_PAUSE};
pub use drill::{DrillPanel, FaultSeen, StepShown};
pub use prune::{question as prune_question, PruneMsg, PrunePending};
pub use runs::RunsView;

use live::anomaly_key;

/// How long a flash message stays in the status line.
pub const FLASH_FOR: Duration = Duration::from_secs(5);

/// Something that happened, for the model to take in.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// A batch of observations drained from the pollers' channel.
    Observed(Vec<Observation>),
    /// One sentinel's report (shown from the next cycle on), or one of its events (logged).
    Sentinel(crate::sentinel::SentinelFeed),
    /// The clock moved (ages and the header clock).
    Tick(SystemTime),
    ThemeLoaded(Result<Theme, ThemeError>),
    /// An export finished: the path written, or the error.
    Exported(Result<PathBuf, String>),
    /// The export's file exists and overwriting was not asked for: the operator is asked.
    ExportExists(PathBuf),
    /// `:prune`'s list read, or its deletion done.
    Prune(PruneMsg),
    /// Runs read from the audit log: the list, or (`steps`) the one run asked for by id.
    RunsRead {
        steps: bool,
        result: Result<crate::audit::runs::RunLog, String>,
    },
    /// The backups catalog was read (the pane's scope).
    CatalogRead(crate::backup::Catalog),
    /// The cluster backups in the pane's scope, sent just after `CatalogRead` by the same read,
    /// with the cluster manifests that could not be read.
    ClustersRead {
        entries: Vec<crate::backup::cluster::ClusterEntry>,
        problems: Vec<crate::backup::Problem>,
    },
    /// A restore test started from the backups pane ended, recorded and audited.
    BackupVerified(Verified),
    /// A consistency check of one group ended (audited, unless `audit_error` says why not).
    DataChecked {
        report: Box<crate::datacheck::GroupReport>,
        audit_error: Option<String>,
    },
    /// SIGTERM or SIGHUP: leave like `q`.
    Quit,
    /// An event of the running action, stamped when the runtime received it.
    Run {
        at: SystemTime,
        event: RunEvent,
    },
    /// The running action ended (after its last `Run` event).
    RunEnded(RunEnd),
    /// Runs in the audit log that never finished, with advice.
    Interrupted(Result<Vec<(InterruptedRun, Advice)>, String>),
    /// The rejoin marks beside the audit log.
    Marks(Result<Vec<RejoinMark>, String>),
    /// The newest backup to restore a data loss from (`None`: none found).
    SnapshotFound {
        key: LossKey,
        snapshot: Option<SnapshotRef>,
    },
    /// The backups a restore may load, newest first (or why there are none).
    BackupsListed {
        request: crate::ops::Request,
        result: Result<Vec<super::modal::PickItem>, String>,
    },
    /// A restore's backup, resolved into its request (or why not).
    BackupResolved(Result<crate::ops::Request, String>),
    /// The data-loss memory was written, or why not.
    LossMemorySaved(Result<(), String>),
    /// What the demo's sandbox did for a practice key, or why not.
    SandboxFault(Result<FaultDone, String>),
    /// What the drill runner says (`redops drill NAME`).
    Drill(crate::drill::RunnerEvent),
    /// The acknowledgement's audit record was written, or why not.
    Acknowledged(Result<(), String>),
}

/// Slow work for the runtime.
#[derive(Debug, Clone)]
pub enum Effect {
    LoadTheme {
        name: String,
        no_color: bool,
    },
    /// Write the event log to `path` (`~` is expanded); an existing file is replaced only
    /// with `overwrite`, else the answer is `Msg::ExportExists`.
    Export {
        path: PathBuf,
        text: String,
        overwrite: bool,
    },
    /// Put text on the terminal's clipboard (OSC 52, which works over SSH).
    Copy(String),
    /// Read past runs from the audit log, answering with `Msg::RunsRead`.
    ReadRuns {
        audit_log: PathBuf,
        query: crate::audit::runs::Query,
    },
    /// List (or, with `delete`, delete and audit) the backups `retention` lets go, answering
    /// with `Msg::Prune`.
    Prune {
        backups_dir: PathBuf,
        audit_log: PathBuf,
        retention: crate::backup::Retention,
        rule: String,
        delete: bool,
    },
    /// Read the backups catalog, answering with `Msg::CatalogRead`.
    ReadCatalog {
        backups_dir: PathBuf,
        filter: crate::backup::Filter,
    },
    /// The restore test of a backup: load it into a scratch server, write the result into its
    /// manifest and an audit record, answering with `Msg::BackupVerified`.
    VerifyBackup {
        entry: Box<crate::backup::Entry>,
        audit_log: PathBuf,
    },
    /// The restore test of a cluster backup in a scratch cluster, its result written into the
    /// cluster manifest and an audit record, answering with `Msg::BackupVerified`.
    VerifyClusterBackup {
        entry: Box<crate::backup::cluster::ClusterEntry>,
        audit_log: PathBuf,
    },
    /// The consistency check of a group (with a write pause of at most `allow_pause`, when
    /// the operator said yes to one), audited, answering with `Msg::DataChecked`.
    CheckData {
        group: Box<crate::config::Group>,
        timeouts: crate::node::Timeouts,
        allow_pause: Option<Duration>,
        audit_log: PathBuf,
    },
    /// Run a confirmed action (the engine, on a task), answering with `Msg::Run` events and
    /// one `Msg::RunEnded`.
    RunAction(Box<RunJob>),
    /// Look for unfinished runs in the audit log (acknowledging settled ones).
    CheckInterrupted {
        audit_log: PathBuf,
        topology: Box<Topology>,
    },
    /// Read the rejoin marks kept beside the audit log.
    LoadMarks {
        audit_log: PathBuf,
    },
    /// Clear rejoin marks that what the console sees has settled, each with an audit record,
    /// then read the marks again.
    ClearMarks {
        audit_log: PathBuf,
        marks: Vec<MarkClearing>,
    },
    /// Look for the newest backup of `nodes` taken before `before_ms`, answering with
    /// `Msg::SnapshotFound`.
    FindSnapshot {
        backups_dir: PathBuf,
        group: String,
        nodes: Vec<String>,
        before_ms: u64,
        key: LossKey,
    },
    /// The backups of a node for a restore, answering with `Msg::BackupsListed`.
    ListBackups {
        backups_dir: PathBuf,
        group: String,
        request: crate::ops::Request,
    },
    /// A restore's picked backup resolved and checked (its CRC), answering with
    /// `Msg::BackupResolved`.
    ResolveBackup {
        backups_dir: PathBuf,
        request: crate::ops::Request,
    },
    /// Merge the data-loss memory into its file (`history::loss_file`), answering with
    /// `Msg::LossMemorySaved`.
    SaveLossMemory {
        path: PathBuf,
        state: Box<LossState>,
    },
    /// A fault for a node of the demo's sandbox (through its control socket), answering with
    /// `Msg::SandboxFault`.
    SandboxFault {
        dir: PathBuf,
        fault: Fault,
        node: String,
    },
    /// Write the audit record of an acknowledgement (`a`), answering with
    /// `Msg::Acknowledged`.
    RecordAcknowledgement {
        audit_log: PathBuf,
        group: String,
        nodes: Vec<String>,
        what: String,
    },
    /// Write the audit record of promote's statement that Sentinel has already failed over,
    /// answering with `Msg::Acknowledged` (its error only).
    RecordPromoteStatement {
        audit_log: PathBuf,
        group: String,
        statement: String,
    },
    /// Ask the drill runner for the current step's next hint (answered by a `Msg::Drill`
    /// hint event at its next poll).
    DrillHint,
}

/// Which pane has the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Tree,
    Detail,
    Log,
}

/// A short message in the status line.
#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
    pub until: SystemTime,
}

/// The view as it was when frozen; polling keeps updating the live state underneath.
#[derive(Debug, Clone)]
pub struct Frozen {
    pub topology: Topology,
    pub history: History,
    pub at: SystemTime,
    pub log_total: u64,
}

/// Options the front-end starts the console with.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub read_only: bool,
    /// Shown in the header (e.g. `demo`).
    pub label: Option<String>,
    /// The data-loss watch's memory file (`None`: kept in memory only, as for ad-hoc targets).
    pub loss_file: Option<PathBuf>,
    /// The demo's sandbox directory: its practice keys (kill, restart, freeze) send faults
    /// there. `None` outside `redops demo`.
    pub sandbox_dir: Option<PathBuf>,
}

/// Everything the console knows and shows.
#[derive(Debug)]
pub struct App {
    pub config: Config,
    pub theme: Theme,
    pub opts: Options,
    /// Observations -> history -> topology -> confirmation -> data-loss watch -> changes.
    pub monitor: Monitor,
    /// The live topology: the monitor's latest, kept as a field for the view and the actions.
    pub topology: Topology,
    loss_memory_warned: bool,
    pub frozen: Option<Frozen>,
    /// Index of the group shown.
    pub group: usize,
    /// Selected node, by name, in the shown group.
    pub selected: Option<String>,
    pub tree_offset: usize,
    pub focus: Pane,
    pub filter: String,
    pub modals: Vec<Modal>,
    pub log: EventLog,
    /// Lines scrolled back from the newest entry (0 follows the newest).
    pub log_scroll: usize,
    pub detail_scroll: u16,
    pub flash: Option<Flash>,
    pub now: SystemTime,
    pub size: (u16, u16),
    /// When each current anomaly was first seen (banner: newest first within a severity).
    pub anomaly_since: HashMap<String, SystemTime>,
    pub command_history: Vec<String>,
    /// The runbook of the running (or last, until closed) action.
    pub run: Option<Runbook>,
    /// Old primaries waiting to be rejoined (the marks file).
    pub marks: Vec<RejoinMark>,
    /// Unfinished runs found in the audit log whose group is not settled.
    pub interrupted: Vec<(InterruptedRun, Advice)>,
    /// Run ids already shown in a dialog.
    pub interrupted_seen: Vec<String>,
    /// The start-up reads (audit log, marks) were asked for.
    pub started_up: bool,
    /// The history of runs (`:history`), while open.
    pub runs: Option<RunsView>,
    /// The backups pane (`:backups`), while open.
    pub backups: Option<Box<BackupsView>>,
    /// The restore tests started from it.
    pub restore_tests: RestoreTests,
    /// The consistency check (`:check-data`), while its pane is open.
    pub check: Option<Box<CheckView>>,
    /// An export waiting for y/N: its file exists.
    pub export_pending: Option<PathBuf>,
    /// `:prune`'s list, waiting for y/N on the status line.
    pub prune_pending: Option<PrunePending>,
    /// The detail pane fills the screen (Enter on a node).
    pub detail_zoom: bool,
    /// `q` was pressed once while an action runs; a second `q` quits.
    pub quit_armed: bool,
    /// The demo's practice keys: the kill awaiting its second `K`, the nodes frozen by `F`.
    pub practice: practice::Practice,
    /// The drill panel, once a drill has started (`redops drill NAME`).
    pub drill: Option<DrillPanel>,
    pub quit: bool,
    /// Something changed since the last frame.
    pub dirty: bool,
}

impl App {
    /// A console on `config`, nothing polled yet.
    #[must_use]
    pub fn new(config: Config, theme: Theme, opts: Options, now: SystemTime) -> Self {
        let mut monitor = Monitor::new(&config, now);
        if opts.loss_file.is_some() {
            // The runtime seeds it from the file before the first poll.
            monitor.remember(LossState::default());
        }
        let topology = monitor.topology().clone();
        Self {
            config,
            theme,
            opts,
            monitor,
            topology,
            loss_memory_warned: false,
            frozen: None,
            group: 0,
            selected: None,
            tree_offset: 0,
            focus: Pane::Tree,
            filter: String::new(),
            modals: Vec::new(),
            log: EventLog::default(),
            log_scroll: 0,
            detail_scroll: 0,
            flash: None,
            now,
            size: (80, 24),
            anomaly_since: HashMap::new(),
            command_history: Vec::new(),
            run: None,
            marks: Vec::new(),
            interrupted: Vec::new(),
            interrupted_seen: Vec::new(),
            started_up: false,
            runs: None,
            backups: None,
            restore_tests: RestoreTests::default(),
            check: None,
            export_pending: None,
            prune_pending: None,
            detail_zoom: false,
            quit_armed: false,
            practice: practice::Practice::default(),
            drill: None,
            quit: false,
            dirty: true,
        }
    }

    /// Takes in one message.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        self.dirty = true;
        match msg {
            Msg::Key(k) => return self.key(&k),
            Msg::Mouse(m) => {
                if self.runs.is_none() && self.backups.is_none() && self.check.is_none() {
                    self.mouse(m);
                }
            }
            Msg::Resize(w, h) => {
                self.size = (w, h);
                self.keep_selection_visible();
            }
            Msg::Observed(batch) => return self.observed(batch),
            Msg::Sentinel(feed) => {
                if let Some(change) = self.monitor.sentinel_feed(feed) {
                    self.log.extend(vec![change]);
                    self.dirty = true;
                }
            }
            Msg::Tick(now) => {
                self.now = now;
                if self.flash.as_ref().is_some_and(|f| f.until <= now) {
                    self.flash = None;
                }
            }
            Msg::ThemeLoaded(Ok(t)) => {
                self.flash_info(&format!("theme {}", t.name));
                self.theme = t;
            }
            Msg::ThemeLoaded(Err(e)) => self.flash_error(&format!("{e} (hint: {})", e.hint)),
            Msg::Exported(Ok(p)) => {
                self.flash_info(&format!(
                    "wrote {} events to {}",
                    self.log.len(),
                    p.display()
                ));
            }
            Msg::Exported(Err(e)) => self.flash_error(&e),
            Msg::ExportExists(p) => self.export_pending = Some(p),
            Msg::Prune(m) => return self.prune_msg(m),
            Msg::RunsRead { steps, result } => self.runs_read(steps, result),
            Msg::CatalogRead(c) => self.catalog_read(c),
            Msg::ClustersRead { entries, problems } => self.clusters_read(entries, problems),
            Msg::BackupVerified(v) => return self.backup_verified(v),
            Msg::DataChecked {
                report,
                audit_error,
            } => {
                self.data_checked(*report);
                if let Some(e) = audit_error {
                    self.flash_error(&e);
                }
            }
            Msg::Quit => self.quit = true,
            Msg::Run { at, event } => self.run_event(at, &event),
            Msg::RunEnded(end) => return self.run_ended(&end),
            Msg::Interrupted(r) => self.interrupted_found(r),
            Msg::Marks(r) => self.marks_loaded(r),
            Msg::SnapshotFound { key, snapshot } => return self.snapshot_found(&key, snapshot),
            Msg::LossMemorySaved(Ok(())) => {}
            Msg::LossMemorySaved(Err(e)) => self.loss_memory_failed(&e),
            Msg::SandboxFault(r) => self.fault_answered(r),
            Msg::BackupsListed { request, result } => self.backups_listed(request, result),
            Msg::BackupResolved(Ok(req)) => return self.open_plan(&req),
            Msg::BackupResolved(Err(e)) => self.flash_error(&format!("restore: {e}")),
            Msg::Drill(ev) => self.drill_event(ev),
            Msg::Acknowledged(Ok(())) => {}
            Msg::Acknowledged(Err(e)) => {
                self.flash_error(&format!("the acknowledgement is not in the audit log: {e}"));
            }
        }
        Vec::new()
    }

    /// The topology on screen: the frozen one, or the live one.
    #[must_use]
    pub fn shown(&self) -> &Topology {
        self.frozen.as_ref().map_or(&self.topology, |f| &f.topology)
    }

    /// The history on screen.
    #[must_use]
    pub fn shown_history(&self) -> &History {
        self.frozen
            .as_ref()
            .map_or(self.monitor.history(), |f| &f.history)
    }

    /// The group on screen.
    #[must_use]
    pub fn shown_group(&self) -> Option<&GroupTopology> {
        self.shown().groups.get(self.group)
    }

    /// Indices into the shown group's nodes that pass the filter, in tree order.
    #[must_use]
    pub fn visible(&self) -> Vec<usize> {
        let Some(g) = self.shown_group() else {
            return Vec::new();
        };
        let f = self.filter.to_lowercase();
        g.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| f.is_empty() || matches_filter(n, &f))
            .map(|(i, _)| i)
            .collect()
    }

    /// Position of the selection in [`App::visible`] (the first row when none).
    #[must_use]
    pub fn selected_row(&self, visible: &[usize]) -> Option<usize> {
        if visible.is_empty() {
            return None;
        }
        let g = self.shown_group()?;
        let pos = self.selected.as_ref().and_then(|name| {
            visible
                .iter()
                .position(|&i| g.nodes.get(i).is_some_and(|n| &n.name == name))
        });
        Some(pos.unwrap_or(0))
    }

    /// The selected node, if any row is visible.
    #[must_use]
    pub fn selected_node(&self) -> Option<&NodeView> {
        let visible = self.visible();
        let row = self.selected_row(&visible)?;
        self.shown_group()?.nodes.get(visible[row])
    }

    /// The shown group's anomalies, worst first and newest first within a severity, with
    /// when each was first seen.
    #[must_use]
    pub fn banner(&self) -> Vec<(&Anomaly, SystemTime)> {
        let Some(g) = self.shown_group() else {
            return Vec::new();
        };
        if !self.warm() {
            return Vec::new();
        }
        let mut v: Vec<(&Anomaly, SystemTime)> = g
            .anomalies
            .iter()
            .map(|a| {
                let since = self
                    .anomaly_since
                    .get(&anomaly_key(&g.name, a))
                    .copied()
                    .unwrap_or(self.now);
                (a, since)
            })
            .collect();
        v.sort_by(|(a, sa), (b, sb)| b.severity.cmp(&a.severity).then(sb.cmp(sa)));
        v
    }

    /// Worst severity of a group's anomalies.
    #[must_use]
    pub fn group_health(&self, index: usize) -> Option<Severity> {
        if !self.warm() {
            return None;
        }
        self.shown()
            .groups
            .get(index)?
            .anomalies
            .iter()
            .map(|a| a.severity)
            .max()
    }

    /// The area of the terminal.
    #[must_use]
    pub fn area(&self) -> Rect {
        Rect::new(0, 0, self.size.0, self.size.1)
    }

    fn key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        if let Some(top) = self.modals.last_mut() {
            let outcome = top.key(k);
            return self.modal_outcome(outcome);
        }
        if let Some(path) = self.export_pending.take() {
            return self.export_answer(path, k);
        }
        if let Some(p) = self.prune_pending.take() {
            return self.prune_answer(p, k);
        }
        if self.runs.is_some() {
            return self.runs_key(k);
        }
        if self.backups.is_some() {
            return self.backups_key(k);
        }
        if self.check.is_some() {
            return self.check_key(k);
        }
        if let Some(i) = keymap::lookup(k) {
            return self.intent(i);
        }
        // A key that does nothing says so, rather than leave the operator guessing.
        if let Some(name) = keymap::unbound_name(k) {
            self.flash_info(&format!("unknown key {name}, ? for help"));
        }
        Vec::new()
    }

    fn intent(&mut self, i: Intent) -> Vec<Effect> {
        if i != Intent::Practice(Fault::Kill) {
            self.practice.armed = None;
        }
        let page = usize::from(view::layout(self, self.area()).tree_rows.max(1));
        match i {
            Intent::Up => self.scroll(-1),
            Intent::Down => self.scroll(1),
            Intent::PageUp => self.scroll(-isize::try_from(page).unwrap_or(10)),
            Intent::PageDown => self.scroll(isize::try_from(page).unwrap_or(10)),
            Intent::Top => self.scroll(isize::MIN / 2),
            Intent::Bottom => self.scroll(isize::MAX / 2),
            Intent::NextPane => self.cycle_focus(true),
            Intent::PrevPane => self.cycle_focus(false),
            Intent::NextGroup => {
                let n = self.config.groups.len().max(1);
                self.switch_group((self.group + 1) % n);
            }
            Intent::Help => self.modals.push(Modal::Help { scroll: 0 }),
            Intent::Filter => self
                .modals
                .push(Modal::Prompt(Prompt::new(PromptKind::Filter, &self.filter))),
            Intent::Command => self
                .modals
                .push(Modal::Prompt(Prompt::new(PromptKind::Command, ""))),
            Intent::Freeze => self.toggle_freeze(),
            Intent::Describe => self.toggle_describe(),
            Intent::Copy => return self.copy_address(),
            Intent::Backups => return self.open_backups(),
            Intent::Back => {
                if self.detail_zoom {
                    self.toggle_describe();
                } else if self.run.as_ref().is_some_and(|r| !r.running()) {
                    self.run = None;
                    self.flash_info("runbook closed");
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                    self.flash_info("filter cleared");
                } else if self.frozen.is_some() {
                    self.toggle_freeze();
                } else {
                    self.flash_info("press q to quit");
                }
            }
            Intent::Quit => {
                if self.run.as_ref().is_some_and(Runbook::running) && !self.quit_armed {
                    self.quit_armed = true;
                    self.flash_error(
                        "an action is running: quitting now leaves it half done (a write pause \
                         expires by itself); q again quits anyway",
                    );
                } else {
                    self.quit = true;
                }
            }
            Intent::Action(a) => return self.action_key(a),
            Intent::Acknowledge => return self.acknowledge_losses(),
            Intent::Practice(f) => return self.practice_key(f),
            Intent::DrillHint => return self.hint_key(),
        }
        Vec::new()
    }

    fn modal_outcome(&mut self, outcome: Outcome) -> Vec<Effect> {
        match outcome {
            Outcome::Keep => {}
            Outcome::Close => {
                self.modals.pop();
            }
            Outcome::FilterChanged(f) => {
                self.filter = f;
                self.keep_selection_visible();
            }
            Outcome::FilterDone(f) => {
                self.modals.pop();
                self.filter = f.unwrap_or_default();
                self.keep_selection_visible();
            }
            Outcome::Run(line) => {
                self.modals.pop();
                let line = line.trim().to_string();
                if !line.is_empty() && self.command_history.last() != Some(&line) {
                    self.command_history.push(line.clone());
                }
                return self.run_command(&line);
            }
            Outcome::Complete { back } => self.complete(back),
            Outcome::History { older } => self.history_step(older),
            Outcome::Replan(req) | Outcome::Picked(req) | Outcome::Offer(req) => {
                self.modals.pop();
                return self.open_plan(&req);
            }
            Outcome::PlanAccepted(armed) => {
                self.modals.pop();
                return self.plan_accepted(armed);
            }
            Outcome::Confirmed { armed, typed } => {
                self.modals.pop();
                return self.start_run(*armed, typed);
            }
        }
        Vec::new()
    }

    fn switch_group(&mut self, i: usize) {
        if i != self.group {
            self.group = i;
            self.selected = None;
            self.tree_offset = 0;
            self.detail_scroll = 0;
        }
        let name = self.config.groups.get(i).map_or("", |g| g.name.as_str());
        let msg = format!("group {name}");
        self.flash_info(&msg);
    }

    fn toggle_freeze(&mut self) {
        if self.frozen.take().is_some() {
            self.flash_info("resumed: showing live data");
        } else {
            self.frozen = Some(Frozen {
                topology: self.topology.clone(),
                history: self.monitor.history().clone(),
                at: self.now,
                log_total: self.log.total,
            });
            self.flash_info("frozen: polling goes on; f or Esc resumes");
        }
    }

    /// Shows an informational message in the status line.
    pub fn flash_info(&mut self, text: &str) {
        self.flash = Some(Flash {
            text: text.to_string(),
            error: false,
            until: self.now + FLASH_FOR,
        });
    }

    /// Shows an error in the status line (longer than an informational flash).
    pub fn flash_error(&mut self, text: &str) {
        self.flash = Some(Flash {
            text: text.to_string(),
            error: true,
            until: self.now + FLASH_FOR * 2,
        });
    }
}

fn matches_filter(n: &NodeView, f: &str) -> bool {
    let (_, word) = super::fmt::state(n.state);
    [
        n.name.as_str(),
        n.addr.as_str(),
        n.role.as_str(),
        word,
        n.state.as_str(),
    ]
    .iter()
    .any(|s| s.to_lowercase().contains(f))
}
