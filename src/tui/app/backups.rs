//! The backups pane (`:backups`, `B`) as `impl App`: opening it, moving in the catalog, Enter
//! for a manifest in full, `v` for a restore test of the selected backup. Reading the catalog
//! and the restore test are effects ([`Effect::ReadCatalog`], [`Effect::VerifyBackup`]) that the
//! runtime carries out on tasks (the test recorded and audited); nothing here touches a file or
//! a server.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use crate::backup::{Catalog, Entry, Filter};

use super::super::modal::{Modal, Prompt, PromptKind};
use super::runs::list_keys;
use super::{App, Effect};

/// Which backups the pane lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The shown group's.
    Group,
    /// The selected node's.
    Node,
    /// Every group's.
    All,
}

impl Scope {
    fn next(self) -> Self {
        match self {
            Self::Group => Self::Node,
            Self::Node => Self::All,
            Self::All => Self::Group,
        }
    }
}

/// The result of a restore test run from the pane.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub id: String,
    /// The result in lines (passed or failed), or why it could not run.
    pub passed: bool,
    pub lines: Vec<String>,
}

/// The backups pane while it is open.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupsView {
    pub scope: Scope,
    /// The group and node the scope was taken from.
    pub group: String,
    pub node: Option<String>,
    /// `None` while it is being read.
    pub catalog: Option<Catalog>,
    /// Row in the catalog, newest first.
    pub selected: usize,
    /// The manifest of the selected backup shown in full (Enter), scrolled by `scroll`.
    pub manifest: bool,
    pub scroll: u16,
}

/// The restore tests started from the pane: kept while it is closed, so that one running is
/// still shown (and not started twice) when it is opened again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestoreTests {
    /// The backup whose restore test runs now.
    pub running: Option<String>,
    /// The last restore test's result.
    pub last: Option<Verified>,
}

impl BackupsView {
    /// The selected backup.
    #[must_use]
    pub fn selected_entry(&self) -> Option<&Entry> {
        self.catalog.as_ref()?.entries.get(self.selected)
    }

    fn rows(&self) -> usize {
        self.catalog.as_ref().map_or(0, |c| c.entries.len())
    }

    fn filter(&self) -> Filter {
        match self.scope {
            Scope::Group => Filter {
                group: Some(self.group.clone()),
                node: None,
            },
            Scope::Node => Filter {
                group: Some(self.group.clone()),
                node: self.node.clone(),
            },
            Scope::All => Filter::default(),
        }
    }

    /// The scope in words, for the title.
    #[must_use]
    pub fn scope_words(&self) -> String {
        match (self.scope, &self.node) {
            (Scope::Group, _) | (Scope::Node, None) => format!("group {}", self.group),
            (Scope::Node, Some(n)) => format!("{}/{n}", self.group),
            (Scope::All, _) => "all groups".to_string(),
        }
    }
}

impl App {
    /// Opens the backups pane on the shown group (closing the history) and reads the catalog.
    pub(super) fn open_backups(&mut self) -> Vec<Effect> {
        self.runs = None;
        self.check = None;
        let group = self
            .shown_group()
            .map(|g| g.name.clone())
            .or_else(|| self.config.groups.get(self.group).map(|g| g.name.clone()));
        let view = BackupsView {
            scope: Scope::Group,
            group: group.unwrap_or_default(),
            node: self.selected_node().map(|n| n.name.clone()),
            catalog: None,
            selected: 0,
            manifest: false,
            scroll: 0,
        };
        let fx = self.read_catalog(&view);
        self.backups = Some(Box::new(view));
        fx
    }

    fn read_catalog(&self, view: &BackupsView) -> Vec<Effect> {
        vec![Effect::ReadCatalog {
            backups_dir: self.config.console.backups_dir.clone(),
            filter: view.filter(),
        }]
    }

    /// The catalog came back.
    pub(super) fn catalog_read(&mut self, catalog: Catalog) {
        let Some(view) = self.backups.as_mut() else {
            return;
        };
        // Keep the selection on the same backup across a reload (a restore test rewrote it).
        let was = view.selected_entry().map(|e| e.id.clone());
        view.selected = was
            .and_then(|id| catalog.entries.iter().position(|e| e.id == id))
            .unwrap_or(0);
        view.catalog = Some(catalog);
    }

    /// A restore test ended (its result was written into the manifest and audited).
    pub(super) fn backup_verified(&mut self, v: Verified) -> Vec<Effect> {
        let words = format!(
            "restore test of {}: {}",
            v.id,
            if v.passed { "passed" } else { "FAILED" }
        );
        self.restore_tests.running = None;
        self.restore_tests.last = Some(v);
        let Some(view) = self.backups.as_ref() else {
            if self.restore_tests.last.as_ref().is_some_and(|v| v.passed) {
                self.flash_info(&words);
            } else {
                self.flash_error(&words);
            }
            return Vec::new();
        };
        let view = view.clone();
        self.read_catalog(&view)
    }

    /// A key while the backups pane is open.
    pub(super) fn backups_key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        let audit_log = self.config.console.audit_log.clone();
        let Some(view) = self.backups.as_mut() else {
            return Vec::new();
        };
        let rows = view.rows();
        match k.code {
            KeyCode::Esc | KeyCode::Backspace | KeyCode::Left | KeyCode::Char('q') => {
                if view.manifest {
                    view.manifest = false;
                } else {
                    self.backups = None;
                }
            }
            code if list_keys(
                code,
                view.manifest,
                &mut view.selected,
                &mut view.scroll,
                rows,
            ) => {}
            KeyCode::Enter | KeyCode::Right
                if !view.manifest && view.selected_entry().is_some() =>
            {
                view.manifest = true;
                view.scroll = 0;
            }
            KeyCode::Char('v') => return self.verify_selected(audit_log),
            KeyCode::Char('n') if !view.manifest => {
                view.scope = view.scope.next();
                view.selected = 0;
                view.catalog = None;
                let view = view.clone();
                return self.read_catalog(&view);
            }
            KeyCode::Char('r') if !view.manifest => {
                let view = view.clone();
                return self.read_catalog(&view);
            }
            KeyCode::Char(':') => self
                .modals
                .push(Modal::Prompt(Prompt::new(PromptKind::Command, ""))),
            _ => {}
        }
        Vec::new()
    }

    fn verify_selected(&mut self, audit_log: std::path::PathBuf) -> Vec<Effect> {
        let Some(view) = self.backups.as_mut() else {
            return Vec::new();
        };
        if let Some(id) = &self.restore_tests.running {
            let msg = format!("the restore test of {id} is still running");
            self.flash_info(&msg);
            return Vec::new();
        }
        let Some(entry) = view.selected_entry().cloned() else {
            self.flash_error("no backup selected");
            return Vec::new();
        };
        self.restore_tests = RestoreTests {
            running: Some(entry.id.clone()),
            last: None,
        };
        let msg = format!(
            "restore test of {} started: a scratch server loads it",
            entry.id
        );
        self.flash_info(&msg);
        vec![Effect::VerifyBackup {
            entry: Box::new(entry),
            audit_log,
        }]
    }
}
