//! The data-loss watch's memory on disk: `last-seen.json` beside the audit log, holding what
//! each node was when redops last saw it, the losses not yet acknowledged and the recent
//! acknowledgements (`topology/data_loss.rs` owns the format and the rule).
//!
//! It is what lets one-shot `status` (what scripts run) judge a restart it did not witness,
//! and a console started after a loss still show it. Every redops on the same data directory
//! (a console, a `watch`, `status` from cron) reads and writes it: each write takes an
//! exclusive `flock` on `last-seen.json.lock`, reads the file again, merges (the newer sighting
//! of each node wins; losses are the union minus every acknowledged one) and replaces the file
//! atomically, created 0600. Ad-hoc targets (`--node`, `--discover`) keep no memory on disk:
//! an address typed once is a look, not a fleet. This module also looks up, for each loss, the
//! newest downloaded backup to restore from.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::node::rdb::latest_backup;
use crate::topology::data_loss::{LossState, SnapshotRef};

/// How often a running console or `watch` writes the memory even when nothing happened, so
/// the key counts a later `status` judges against are at most this old.
pub const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// `<dir of the audit log>/last-seen.json`.
#[must_use]
pub fn path_for(audit_log: &Path) -> PathBuf {
    audit_log.with_file_name("last-seen.json")
}

/// Reads the memory; a missing file is an empty memory.
///
/// # Errors
/// The file exists but cannot be read or parsed (the message names it).
pub fn load(path: &Path) -> Result<LossState, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            format!(
                "'{}' is not a redops memory file ({e}); it is replaced at the next write",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LossState::default()),
        Err(e) => Err(format!("cannot read '{}': {e}", path.display())),
    }
}

/// Merges `state` into the file under an exclusive lock (see the module doc).
///
/// # Errors
/// The directory, the lock or the file cannot be written (the message names it).
pub fn save(path: &Path, state: &LossState) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("cannot write '{}': {e}", path.display());
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    let mut lock_path = path.as_os_str().to_os_string();
    lock_path.push(".lock");
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| err(&e))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive).map_err(|(_, e)| err(&e))?;
    let mut merged = state.clone();
    // A broken file is replaced rather than blocking every later write.
    if let Ok(on_disk) = load(path) {
        merged.merge(on_disk);
    }
    let text = serde_json::to_string_pretty(&merged).map_err(|e| err(&e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| err(&e))?;
    tmp.write_all(text.as_bytes()).map_err(|e| err(&e))?;
    tmp.as_file().sync_all().map_err(|e| err(&e))?;
    tmp.persist(path).map_err(|e| err(&e.error))?;
    Ok(())
}

/// The newest backup of any of `nodes` taken before `before_ms`, as the watch names it.
#[must_use]
pub fn find_snapshot(
    backups_dir: &Path,
    group: &str,
    nodes: &[String],
    before_ms: u64,
) -> Option<SnapshotRef> {
    latest_backup(backups_dir, group, nodes, before_ms).map(|(path, m)| SnapshotRef {
        path: path.display().to_string(),
        node: m.node,
        taken_at_ms: m.taken_at_unix_ms,
        keys: m.info.map(|i| i.total_keys),
    })
}
