//! The consistency check (`:check-data`) as `impl App`: the shown group checked as an effect
//! ([`Effect::CheckData`], carried out on a task and audited by the runtime), its verdicts kept
//! for the pane, and the y/N before checking again with a bounded write pause when writes were
//! too fast to catch both sides at one point in time (never in read-only mode). No I/O here.

use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use crate::datacheck::GroupReport;

use super::super::modal::{Modal, Prompt, PromptKind};
use super::{App, Effect};

/// The shortest write pause the console offers when a check could not catch both sides at one
/// point in time (writes too fast): bounded by the server too (`CLIENT PAUSE <ms> WRITE`).
pub const CONSOLE_PAUSE: Duration = Duration::from_millis(200);
/// The longest (the CLI's bound too).
pub const MAX_PAUSE: Duration = Duration::from_secs(10);

/// The pause that covers both digests of a dataset of `keys` keys (`DEBUG DIGEST` takes about
/// 2.5 s per million keys on each side), between [`CONSOLE_PAUSE`] and [`MAX_PAUSE`].
#[must_use]
pub fn pause_for(keys: u64) -> Duration {
    Duration::from_micros(keys.saturating_mul(5)).clamp(CONSOLE_PAUSE, MAX_PAUSE)
}

/// The check of one group, while its pane is open.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckView {
    pub group: String,
    /// The pause the running (or last) check was allowed.
    pub pause: Option<Duration>,
    /// `None` while it runs.
    pub report: Option<GroupReport>,
    /// The operator is asked whether to pause writes for this long at most and check again.
    pub asking: Option<Duration>,
    pub scroll: u16,
}

impl App {
    /// `:check-data`: the shown group's replicas against their primary, without a pause.
    pub(super) fn start_check(&mut self, pause: Option<Duration>) -> Vec<Effect> {
        let Some(group) = self.config.groups.get(self.group).cloned() else {
            self.flash_error("no group to check");
            return Vec::new();
        };
        if let Some(running) = self.check.as_ref().filter(|c| c.report.is_none()) {
            let msg = format!("check-data {} is still running", running.group);
            self.flash_info(&msg);
            return Vec::new();
        }
        self.runs = None;
        self.backups = None;
        self.check = Some(Box::new(CheckView {
            group: group.name.clone(),
            pause,
            report: None,
            asking: None,
            scroll: 0,
        }));
        vec![Effect::CheckData {
            group: Box::new(group),
            timeouts: crate::node::Timeouts::from(&self.config.console),
            allow_pause: pause,
            audit_log: self.config.console.audit_log.clone(),
        }]
    }

    /// A check ended (audited by the runtime). A group that could not be caught at one point
    /// in time under writes asks whether to pause writes briefly and check again (never in
    /// read-only mode).
    pub(super) fn data_checked(&mut self, report: GroupReport) {
        let read_only = self.read_only()
            || self
                .config
                .groups
                .iter()
                .any(|g| g.name == report.group && g.read_only);
        let Some(view) = self.check.as_mut().filter(|v| v.group == report.group) else {
            let words = format!("check-data {}: {}", report.group, report.summary());
            if report.consistent() {
                self.flash_info(&words);
            } else {
                self.flash_error(&words);
            }
            return;
        };
        // Long enough for the digests of the primary's dataset, as the console last saw it.
        let keys = self
            .topology
            .groups
            .iter()
            .filter(|g| g.name == report.group)
            .flat_map(|g| &g.nodes)
            .filter(|n| report.primaries.contains(&n.name))
            .filter_map(|n| n.info.as_ref().map(|i| i.total_keys()))
            .max()
            .unwrap_or(0);
        view.asking = (report.needs_pause() && !read_only).then(|| pause_for(keys));
        view.report = Some(report);
        view.scroll = 0;
    }

    /// A key while the check's pane is open.
    pub(super) fn check_key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        let Some(view) = self.check.as_mut() else {
            return Vec::new();
        };
        if let Some(pause) = view.asking.take() {
            if matches!(k.code, KeyCode::Char('y' | 'Y')) {
                return self.start_check(Some(pause));
            }
            self.flash_info("no write pause: nothing was paused");
            return Vec::new();
        }
        match k.code {
            KeyCode::Esc | KeyCode::Backspace | KeyCode::Left | KeyCode::Char('q') => {
                self.check = None;
            }
            KeyCode::Up | KeyCode::Char('k') => view.scroll = view.scroll.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => view.scroll = view.scroll.saturating_add(1),
            KeyCode::Char('r') if view.report.is_some() => return self.start_check(None),
            KeyCode::Char(':') => self
                .modals
                .push(Modal::Prompt(Prompt::new(PromptKind::Command, ""))),
            _ => {}
        }
        Vec::new()
    }
}
