//! `:prune keep N | older-than AGE`: retention from the console, as `redops backup prune`
//! does it. The list of what would go is read on a task and asked about on the status line
//! (y/N); only `y` deletes, with the audit records. Refused in read-only mode.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::{App, Effect};
use crate::backup::prune;
use crate::backup::Retention;

/// A prune whose list was read, waiting for the operator's y/N.
#[derive(Debug, Clone, PartialEq)]
pub struct PrunePending {
    pub retention: Retention,
    /// The rule in the CLI's words (`--keep 3`), for the audit record.
    pub rule: String,
    /// The ids that would go, newest first.
    pub ids: Vec<String>,
    pub bytes: u64,
}

/// What a prune read or did, back from its task.
#[derive(Debug, Clone, PartialEq)]
pub enum PruneMsg {
    /// The backups the rule lets go (a dry run), and how many a cluster backup keeps.
    Listed {
        pending: PrunePending,
        kept_shards: usize,
    },
    /// Deleted: how many, how many bytes, the ones that failed (id, why), notes.
    Done {
        deleted: usize,
        bytes: u64,
        failed: Vec<(String, String)>,
        notes: Vec<String>,
    },
}

impl App {
    /// `:prune RULE`: reads what the rule would delete.
    pub(super) fn prune(&mut self, rule: &str) -> Vec<Effect> {
        if self.read_only() {
            self.flash_error("prune: read-only mode deletes no backup");
            return Vec::new();
        }
        match prune::parse_rule(rule) {
            Err(e) => {
                self.flash_error(&format!("prune {e}"));
                Vec::new()
            }
            Ok((retention, rule)) => vec![self.prune_effect(retention, rule, false)],
        }
    }

    fn prune_effect(&self, retention: Retention, rule: String, delete: bool) -> Effect {
        Effect::Prune {
            backups_dir: self.config.console.backups_dir.clone(),
            audit_log: self.config.console.audit_log.clone(),
            retention,
            rule,
            delete,
        }
    }

    pub(super) fn prune_msg(&mut self, msg: PruneMsg) -> Vec<Effect> {
        match msg {
            PruneMsg::Listed {
                pending,
                kept_shards,
            } => {
                if pending.ids.is_empty() {
                    let kept = if kept_shards > 0 {
                        format!(
                            " ({} kept: shards of a cluster backup)",
                            crate::words::count(kept_shards, "backup")
                        )
                    } else {
                        String::new()
                    };
                    self.flash_info(&format!("prune {}: nothing to prune{kept}", pending.rule));
                } else {
                    self.prune_pending = Some(pending);
                }
                Vec::new()
            }
            PruneMsg::Done {
                deleted,
                bytes,
                failed,
                notes,
            } => {
                let mut text = format!(
                    "deleted {} ({}), audited",
                    crate::words::count(deleted, "backup"),
                    crate::tui::fmt::bytes(bytes)
                );
                for (id, why) in &failed {
                    text.push_str(&format!("; {id} not deleted: {why}"));
                }
                for n in &notes {
                    text.push_str(&format!("; {n}"));
                }
                if failed.is_empty() && notes.is_empty() {
                    self.flash_info(&text);
                } else {
                    self.flash_error(&text);
                }
                match self.backups.as_deref() {
                    Some(view) => self.read_catalog(view),
                    None => Vec::new(),
                }
            }
        }
    }

    /// The answer to "delete them?": `y` deletes, anything else keeps every backup.
    pub(super) fn prune_answer(&mut self, p: PrunePending, k: &KeyEvent) -> Vec<Effect> {
        if matches!(k.code, KeyCode::Char('y' | 'Y')) {
            return vec![self.prune_effect(p.retention, p.rule, true)];
        }
        self.flash_info("nothing deleted: every backup kept");
        Vec::new()
    }
}

/// The status line's question: `prune --keep 3: 4 backups (12.0M) would go: a1, b2, … delete them? y/N`.
#[must_use]
pub fn question(p: &PrunePending) -> String {
    const SHOWN: usize = 4;
    let mut ids = p
        .ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if p.ids.len() > SHOWN {
        ids.push_str(", …");
    }
    format!(
        " prune {}: {} ({}) would go: {ids}; delete them? y/N ",
        p.rule,
        crate::words::count(p.ids.len(), "backup"),
        crate::tui::fmt::bytes(p.bytes)
    )
}
