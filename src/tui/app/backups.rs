//! The backups pane (`:backups`, `B`) as `impl App`: opening it, moving in the catalog, Enter
//! for a manifest in full, `v` for a restore test of the selected backup. Reading the catalog
//! and the restore test are effects ([`Effect::ReadCatalog`], [`Effect::VerifyBackup`]) that the
//! runtime carries out on tasks (the test recorded and audited); nothing here touches a file or
//! a server.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use crate::backup::cluster::ClusterEntry;
use crate::backup::{Catalog, Entry, Filter, Problem};

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
    /// The cluster backups (`snapshot --all`) in the scope, read with the catalog.
    pub clusters: Vec<ClusterEntry>,
    /// Row in the catalog, newest first.
    pub selected: usize,
    /// The manifest of the selected backup shown in full (Enter), scrolled by `scroll`.
    pub manifest: bool,
    pub scroll: u16,
    /// The backup selected before the catalog was read again, until the cluster backups (read
    /// just after it) are back: the selection goes back to it then.
    was_selected: Option<String>,
}

/// The restore tests started from the pane: kept while it is closed, so that one running is
/// still shown (and not started twice) when it is opened again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestoreTests {
    /// The backup whose restore test runs now.
    pub running: Option<String>,
    /// The last restore test's result.
    pub last: Option<Verified>,
    /// The one running is a cluster backup's (a scratch cluster loads it).
    pub cluster: bool,
}

/// One row of the pane: a node's backup or a cluster backup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Row<'a> {
    Node(&'a Entry),
    Cluster(&'a ClusterEntry),
}

impl<'a> Row<'a> {
    #[must_use]
    pub fn id(&self) -> &'a str {
        match self {
            Self::Node(e) => &e.id,
            Self::Cluster(c) => &c.id,
        }
    }

    fn taken_ms(&self) -> u64 {
        match self {
            Self::Node(e) => e.manifest.taken_at_unix_ms,
            Self::Cluster(c) => c.manifest.taken_at_unix_ms,
        }
    }
}

impl BackupsView {
    /// The selected backup, when it is a node's.
    #[must_use]
    pub fn selected_entry(&self) -> Option<&Entry> {
        match self.selected_row()? {
            Row::Node(e) => Some(e),
            Row::Cluster(_) => None,
        }
    }

    /// The selected row.
    #[must_use]
    pub fn selected_row(&self) -> Option<Row<'_>> {
        self.row_list().get(self.selected).copied()
    }

    /// Every row, newest first (a cluster backup before node backups taken at the same time).
    #[must_use]
    pub fn row_list(&self) -> Vec<Row<'_>> {
        let Some(cat) = &self.catalog else {
            return Vec::new();
        };
        let mut rows: Vec<Row<'_>> = self.clusters.iter().map(Row::Cluster).collect();
        rows.extend(cat.entries.iter().map(Row::Node));
        // Stable: each list is newest first already, clusters first among equals.
        rows.sort_by_key(|r| std::cmp::Reverse(r.taken_ms()));
        rows
    }

    fn rows(&self) -> usize {
        self.catalog
            .as_ref()
            .map_or(0, |c| c.entries.len() + self.clusters.len())
    }

    /// Puts the selection on the backup `id` when it is listed.
    fn reselect(&mut self, id: Option<String>) {
        let found = id.and_then(|id| self.row_list().iter().position(|r| r.id() == id));
        self.selected = found.unwrap_or(0);
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
            clusters: Vec::new(),
            selected: 0,
            manifest: false,
            scroll: 0,
            was_selected: None,
        };
        let fx = self.read_catalog(&view);
        self.backups = Some(Box::new(view));
        fx
    }

    pub(super) fn read_catalog(&self, view: &BackupsView) -> Vec<Effect> {
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
        let was = view.selected_row().map(|r| r.id().to_string());
        view.catalog = Some(catalog);
        view.reselect(was.clone());
        view.was_selected = was;
    }

    /// The cluster backups came back (just after the catalog, from the same read).
    pub(super) fn clusters_read(&mut self, clusters: Vec<ClusterEntry>, problems: Vec<Problem>) {
        let Some(view) = self.backups.as_mut() else {
            return;
        };
        // Not the row selected now: on a first read it is the newest node backup's, which
        // the cluster backups may push down.
        let was = view.was_selected.take();
        view.clusters = clusters;
        if let Some(cat) = view.catalog.as_mut() {
            cat.problems.extend(problems);
        }
        view.reselect(was);
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
            KeyCode::Enter | KeyCode::Right if !view.manifest && view.selected_row().is_some() => {
                view.manifest = true;
                view.scroll = 0;
            }
            KeyCode::Char('v') => return self.verify_selected(audit_log),
            KeyCode::Char('n') if !view.manifest => {
                view.scope = view.scope.next();
                view.selected = 0;
                view.catalog = None;
                view.clusters.clear();
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
        let entry = match view.selected_row() {
            Some(Row::Node(e)) => e.clone(),
            Some(Row::Cluster(c)) => {
                let c = c.clone();
                return self.verify_cluster(c, audit_log);
            }
            None => {
                self.flash_error("no backup selected");
                return Vec::new();
            }
        };
        self.restore_tests = RestoreTests {
            running: Some(entry.id.clone()),
            last: None,
            cluster: false,
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

impl App {
    /// `v` on a cluster backup: its restore test in a scratch cluster, as `backup verify` runs it.
    fn verify_cluster(
        &mut self,
        entry: ClusterEntry,
        audit_log: std::path::PathBuf,
    ) -> Vec<Effect> {
        self.restore_tests = RestoreTests {
            running: Some(entry.id.clone()),
            last: None,
            cluster: true,
        };
        let msg = format!(
            "restore test of cluster backup {} started: a scratch cluster of {} loads it",
            entry.id,
            crate::words::count(entry.manifest.shards.len(), "shard")
        );
        self.flash_info(&msg);
        vec![Effect::VerifyClusterBackup {
            entry: Box::new(entry),
            audit_log,
        }]
    }
}
