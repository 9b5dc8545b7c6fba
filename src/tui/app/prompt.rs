//! The `:` command line of the console, as `impl App`: running a command, Tab completion
//! over commands, groups and themes, and stepping through the history. Slow commands (theme,
//! export) come back as effects; no I/O here.

use std::path::PathBuf;

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::super::command::{self, Command};
use super::super::modal::{LineInput, Modal};
use super::super::theme;
use super::{App, Effect};

impl App {
    pub(super) fn run_command(&mut self, line: &str) -> Vec<Effect> {
        match command::parse(line) {
            Err(e) => self.flash_error(&e),
            Ok(Command::Quit) => self.quit = true,
            Ok(Command::Help) => self.modals.push(Modal::Help { scroll: 0 }),
            Ok(Command::Freeze) => self.toggle_freeze(),
            Ok(Command::Filter(f)) => {
                self.filter = f.unwrap_or_default();
                self.keep_selection_visible();
            }
            Ok(Command::Group(name)) => {
                match self.config.groups.iter().position(|g| g.name == name) {
                    Some(i) => self.switch_group(i),
                    None => self.flash_error(&format!(
                        "no group '{name}'; groups: {}",
                        self.group_names().join(", ")
                    )),
                }
            }
            Ok(Command::Theme(name)) => {
                return vec![Effect::LoadTheme {
                    name,
                    no_color: !self.theme.colored,
                }]
            }
            Ok(Command::Export(path)) => {
                return vec![Effect::Export {
                    path,
                    text: self.log.export_text(),
                    overwrite: false,
                }]
            }
            Ok(Command::History) => return self.open_runs(),
            Ok(Command::Backups) => return self.open_backups(),
            Ok(Command::CheckData) => return self.start_check(None),
            Ok(Command::SnapshotAll(pause)) => return self.snapshot_all(pause),
            Ok(Command::Prune(rule)) => return self.prune(&rule),
            // The same plan, confirm and run as an action key; refused read-only.
            Ok(Command::SentinelReset) => {
                return self.action_key(crate::ops::ActionKind::SentinelReset)
            }
        }
        Vec::new()
    }

    /// `:snapshot-all [MS]`: the plan of every primary of the shown group at one cut, as
    /// any other action's (refused by the core on a group that is not a cluster).
    fn snapshot_all(&mut self, pause_ms: Option<u64>) -> Vec<Effect> {
        let kind = crate::ops::ActionKind::Snapshot;
        if let Some(why) = self.action_blocked(kind) {
            self.flash_error(&format!("snapshot-all: {why}"));
            return Vec::new();
        }
        let req = crate::ops::Request {
            all: Some(crate::ops::snapshot::cluster::AllPrimaries {
                pause: pause_ms.map(std::time::Duration::from_millis),
            }),
            ..crate::ops::Request::new(kind, None).in_group(self.group)
        };
        self.open_plan(&req)
    }

    /// The answer to "overwrite?": `y` writes (the event log as it is now), anything else
    /// keeps the file.
    pub(super) fn export_answer(&mut self, path: PathBuf, k: &KeyEvent) -> Vec<Effect> {
        if matches!(k.code, KeyCode::Char('y' | 'Y')) {
            return vec![Effect::Export {
                path,
                text: self.log.export_text(),
                overwrite: true,
            }];
        }
        self.flash_info(&format!("not exported: '{}' kept", path.display()));
        Vec::new()
    }

    pub(super) fn group_names(&self) -> Vec<String> {
        self.config.groups.iter().map(|g| g.name.clone()).collect()
    }

    pub(super) fn complete(&mut self, back: bool) {
        let groups = self.group_names();
        let themes: Vec<String> = theme::builtin_names()
            .into_iter()
            .map(String::from)
            .collect();
        let Some(Modal::Prompt(p)) = self.modals.last_mut() else {
            return;
        };
        if p.candidates.is_empty() {
            p.candidates = command::complete(&p.input.text, &groups, &themes);
            p.chosen = None;
        }
        let n = p.candidates.len();
        if n == 0 {
            return;
        }
        let next = match (p.chosen, back) {
            (None, false) => 0,
            (None, true) => n - 1,
            (Some(i), false) => (i + 1) % n,
            (Some(i), true) => (i + n - 1) % n,
        };
        p.chosen = Some(next);
        p.input = LineInput::with(&p.candidates[next]);
        if n == 1 {
            p.candidates.clear();
            p.chosen = None;
        }
    }

    pub(super) fn history_step(&mut self, older: bool) {
        let hist = self.command_history.clone();
        let Some(Modal::Prompt(p)) = self.modals.last_mut() else {
            return;
        };
        if hist.is_empty() {
            return;
        }
        let pos = match (p.history_pos, older) {
            (None, true) => Some(hist.len() - 1),
            (None, false) => None,
            (Some(i), true) => Some(i.saturating_sub(1)),
            (Some(i), false) if i + 1 < hist.len() => Some(i + 1),
            (Some(_), false) => None,
        };
        p.history_pos = pos;
        p.input = LineInput::with(pos.map_or("", |i| hist[i].as_str()));
    }
}
