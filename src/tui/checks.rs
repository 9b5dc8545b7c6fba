//! The slow work of the backups pane and `:check-data`, carried out by the runtime on tasks:
//! the restore test of a backup (its result written into the manifest and audited, as `redops
//! backup verify` does) and the consistency check of a group (audited, as `redops check-data`
//! does). Both answer with one message; the UI task never waits on them.

use std::path::Path;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use crate::audit::checks;
use crate::backup::{self, restore_test, Entry};
use crate::config::Group;
use crate::datacheck;
use crate::node::rdb::manifest_path;
use crate::node::Timeouts;
use crate::topology::data_loss::thousands;

use super::app::{Effect, Msg, Verified};
use super::fmt;

mod cluster;
mod prune;

/// Carries out the backups pane's and the check's effects (reading the catalog, a restore
/// test, a check), each on a task; any other effect is the runtime's own and ignored here.
pub fn spawn(fx: Effect, tx: mpsc::UnboundedSender<Msg>) {
    match fx {
        Effect::ReadCatalog {
            backups_dir,
            filter,
        } => {
            tokio::task::spawn_blocking(move || {
                let _ = tx.send(Msg::CatalogRead(backup::catalog::load(
                    &backups_dir,
                    &filter,
                )));
                let _ = tx.send(cluster::read(&backups_dir, &filter));
            });
        }
        fx @ Effect::Prune { .. } => prune::spawn(fx, tx),
        Effect::VerifyBackup { entry, audit_log } => spawn_verify(*entry, audit_log, tx),
        Effect::VerifyClusterBackup { entry, audit_log } => {
            cluster::spawn_verify(*entry, audit_log, tx);
        }
        Effect::CheckData {
            group,
            timeouts,
            allow_pause,
            audit_log,
        } => spawn_check(*group, timeouts, allow_pause, audit_log, tx),
        _ => {}
    }
}

/// Runs the restore test of `entry` on a task, answering with [`Msg::BackupVerified`]. When
/// the console quits first, the task is dropped with the runtime and the scratch server with
/// it (the restore test kills it on drop).
pub fn spawn_verify(entry: Entry, audit_log: std::path::PathBuf, tx: mpsc::UnboundedSender<Msg>) {
    tokio::spawn(async move {
        let v = verify(&entry, &audit_log).await;
        let _ = tx.send(Msg::BackupVerified(v));
    });
}

async fn verify(entry: &Entry, audit_log: &Path) -> Verified {
    let m = &entry.manifest;
    let started = SystemTime::now();
    let result =
        backup::restore_test(&entry.rdb, Some(m), None, restore_test::DEFAULT_SAMPLE).await;
    let mpath = manifest_path(&entry.rdb);
    let written = match &result {
        Ok(r) => restore_test::write_back(&mpath, m, r).map(|_| ()),
        Err(e) => restore_test::write_failure(&mpath, m, e).map(|_| ()),
    };
    let mut lines = match &result {
        Ok(r) => report_lines(r),
        Err(e) => {
            let mut l = vec![format!("restore test FAILED: {e}")];
            if let Some(h) = e.hint() {
                l.push(format!("hint: {h}"));
            }
            l
        }
    };
    lines.push(match written {
        Ok(()) => "the result is recorded in the manifest".to_string(),
        Err(e) => format!("the result was not written into the manifest: {e}"),
    });
    let check = restore_test::audit(&entry.rdb, Some(m), result.as_ref(), started);
    if let Err(e) = checks::write(audit_log, &check) {
        lines.push(format!("the audit record was not written: {e}"));
    }
    Verified {
        id: entry.id.clone(),
        passed: result.as_ref().is_ok_and(restore_test::Report::passed),
        lines,
    }
}

fn report_lines(r: &restore_test::Report) -> Vec<String> {
    let mut lines = vec![
        format!(
            "RDB {} ({}), CRC {}",
            r.check.version,
            fmt::bytes(r.check.bytes),
            r.check.crc.as_str()
        ),
        format!(
            "loaded by {}{} in {}: {} keys ({})",
            r.server.version.as_deref().unwrap_or("a local server"),
            if r.server.same_major {
                " (the source's major version)"
            } else {
                " (not the source's major version)"
            },
            fmt::latency(r.load_time),
            thousands(r.total_keys),
            datacheck::counts(&r.loaded)
        ),
        format!(
            "read back {} sampled keys: {}",
            r.sampled,
            r.types
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ];
    lines.extend(r.problems.iter().map(|p| format!("MISMATCH {p}")));
    lines.push(if r.passed() {
        format!("restore test passed in {}", fmt::latency(r.elapsed))
    } else {
        "restore test FAILED".to_string()
    });
    lines
}

/// Runs the consistency check of `group` on a task and audits it, answering with
/// [`Msg::DataChecked`].
pub fn spawn_check(
    group: Group,
    timeouts: Timeouts,
    allow_pause: Option<Duration>,
    audit_log: std::path::PathBuf,
    tx: mpsc::UnboundedSender<Msg>,
) {
    tokio::spawn(async move {
        let opts = datacheck::Options {
            allow_pause,
            ..datacheck::Options::default()
        };
        let started = SystemTime::now();
        let report = datacheck::check_group(&group, timeouts, opts).await;
        let audit_error = checks::write(&audit_log, &report.audit(allow_pause, started))
            .err()
            .map(|e| format!("the audit record was not written: {e}"));
        let _ = tx.send(Msg::DataChecked {
            report: Box::new(report),
            audit_error,
        });
    });
}
