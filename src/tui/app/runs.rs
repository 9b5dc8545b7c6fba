//! The history of runs (`:history`) as `impl App`: opening it, moving in the list, Enter on a
//! run for its steps, Esc back. The audit log is read by the runtime ([`Effect::ReadRuns`]);
//! nothing here touches the file.

use std::path::PathBuf;

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use crate::audit::runs::{Query, Run, RunLog};

use super::super::modal::{Modal, Prompt, PromptKind};
use super::{App, Effect};

/// The most runs the list reads (the newest).
pub const LIST_LIMIT: usize = 500;

/// The history view while it is open.
#[derive(Debug, Clone, PartialEq)]
pub struct RunsView {
    /// The audit log read.
    pub path: PathBuf,
    /// `None` while it is being read; the error in words.
    pub list: Option<Result<RunLog, String>>,
    /// Row in the list, newest first.
    pub selected: usize,
    /// The run whose steps are shown (Enter), or why they could not be read.
    pub steps: Option<Result<Run, String>>,
    /// Lines scrolled in the steps.
    pub scroll: u16,
}

impl RunsView {
    /// The log's file name, for the title.
    #[must_use]
    pub fn path_name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// The selected run (the list is drawn newest first).
    #[must_use]
    pub fn selected_run(&self) -> Option<&Run> {
        let log = self.list.as_ref()?.as_ref().ok()?;
        log.runs.iter().rev().nth(self.selected)
    }

    fn rows(&self) -> usize {
        self.list
            .as_ref()
            .and_then(|l| l.as_ref().ok())
            .map_or(0, |l| l.runs.len())
    }
}

/// ↑↓ (k j), Page Up/Down, Home and End in a pane with a list whose item can be opened as text
/// (the history's runs, the backups' manifests): they move the selection in the list, and
/// scroll the text while it is open. Whether `code` was one of them.
pub(super) fn list_keys(
    code: KeyCode,
    text_open: bool,
    selected: &mut usize,
    scroll: &mut u16,
    rows: usize,
) -> bool {
    let last = rows.saturating_sub(1);
    match code {
        KeyCode::Up | KeyCode::Char('k') if text_open => *scroll = scroll.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') if text_open => *scroll = scroll.saturating_add(1),
        KeyCode::Up | KeyCode::Char('k') => *selected = selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => *selected = (*selected + 1).min(last),
        KeyCode::PageUp => {
            *scroll = scroll.saturating_sub(10);
            *selected = selected.saturating_sub(10);
        }
        KeyCode::PageDown => {
            *scroll = scroll.saturating_add(10);
            *selected = (*selected + 10).min(last);
        }
        KeyCode::Home => {
            *scroll = 0;
            *selected = 0;
        }
        KeyCode::End => *selected = last,
        _ => return false,
    }
    true
}

impl App {
    /// Opens the history and asks for the list.
    pub(super) fn open_runs(&mut self) -> Vec<Effect> {
        let path = self.config.console.audit_log.clone();
        self.backups = None;
        self.check = None;
        self.runs = Some(RunsView {
            path: path.clone(),
            list: None,
            selected: 0,
            steps: None,
            scroll: 0,
        });
        vec![Effect::ReadRuns {
            audit_log: path,
            query: Query {
                limit: Some(LIST_LIMIT),
                ..Query::default()
            },
        }]
    }

    /// The list (or one run's steps, when `query.run_id` was set) came back.
    pub(super) fn runs_read(&mut self, steps: bool, result: Result<RunLog, String>) {
        let Some(view) = self.runs.as_mut() else {
            return;
        };
        if steps {
            view.scroll = 0;
            view.steps = Some(result.and_then(|log| {
                log.runs
                    .into_iter()
                    .next()
                    .ok_or_else(|| "the run is no longer in the audit log".to_string())
            }));
        } else {
            view.selected = 0;
            view.list = Some(result);
        }
    }

    /// A key while the history is open.
    pub(super) fn runs_key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        let Some(view) = self.runs.as_mut() else {
            return Vec::new();
        };
        let in_steps = view.steps.is_some();
        let rows = view.rows();
        match k.code {
            KeyCode::Esc | KeyCode::Backspace | KeyCode::Left | KeyCode::Char('q') => {
                if in_steps {
                    view.steps = None;
                } else {
                    self.runs = None;
                }
            }
            code if list_keys(code, in_steps, &mut view.selected, &mut view.scroll, rows) => {}
            KeyCode::Enter | KeyCode::Right if !in_steps => {
                if let Some(run) = view.selected_run() {
                    return vec![Effect::ReadRuns {
                        audit_log: view.path.clone(),
                        query: Query {
                            run_id: Some(run.run_id.clone()),
                            ..Query::default()
                        },
                    }];
                }
            }
            KeyCode::Char('r') if !in_steps => return self.open_runs(),
            KeyCode::Char(':') => self
                .modals
                .push(Modal::Prompt(Prompt::new(PromptKind::Command, ""))),
            _ => {}
        }
        Vec::new()
    }
}
