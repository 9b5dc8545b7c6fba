//! `:prune`'s work on a blocking task: the list a retention rule lets go, or their deletion
//! with the audit records (`backup::prune`, as `redops backup prune` does it).

use std::time::SystemTime;

use tokio::sync::mpsc;

use super::super::app::{Effect, Msg, PruneMsg, PrunePending};

/// Carries out an [`Effect::Prune`], answering with [`Msg::Prune`].
pub fn spawn(fx: Effect, tx: mpsc::UnboundedSender<Msg>) {
    let Effect::Prune {
        backups_dir,
        audit_log,
        retention,
        rule,
        delete,
    } = fx
    else {
        return;
    };
    tokio::task::spawn_blocking(move || {
        let msg = prune_backups(&backups_dir, &audit_log, retention, rule, delete);
        let _ = tx.send(Msg::Prune(msg));
    });
}

/// `:prune`'s work: the list the rule lets go, or (`delete`) their deletion with the audit
/// records, as `redops backup prune` does it.
pub fn prune_backups(
    dir: &std::path::Path,
    audit_log: &std::path::Path,
    retention: crate::backup::Retention,
    rule: String,
    delete: bool,
) -> PruneMsg {
    use crate::backup::{catalog, prune};
    let started = SystemTime::now();
    let cat = catalog::load(dir, &crate::backup::Filter::default());
    let (gone, kept_shards) = prune::prunable(dir, &cat, retention, started);
    let bytes = gone.iter().map(|e| e.manifest.bytes).sum();
    if !delete {
        return PruneMsg::Listed {
            pending: PrunePending {
                retention,
                rule,
                ids: gone.iter().map(|e| e.id.clone()).collect(),
                bytes,
            },
            kept_shards,
        };
    }
    let (failed, notes) = prune::delete(dir, &gone, &rule, started, audit_log);
    PruneMsg::Done {
        deleted: gone.len() - failed.len(),
        bytes,
        failed,
        notes,
    }
}
