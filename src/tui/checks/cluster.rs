//! The backups pane's cluster backups: reading them with the catalog, and the restore test of
//! one in a scratch cluster (its result written into the cluster manifest and audited, as
//! `redops backup verify` does).

use std::path::Path;
use std::time::SystemTime;

use tokio::sync::mpsc;

use crate::audit::checks;
use crate::backup::cluster::{self as cb, ClusterEntry, ClusterRestoreTest};
use crate::backup::cluster_verify::{self, ClusterReport};
use crate::backup::{Filter, Problem};
use crate::node::rdb::rfc3339;
use crate::topology::data_loss::thousands;

use super::super::app::{Msg, Verified};
use super::super::fmt;

/// Keys read back per shard by the console's restore test (as `backup verify` by default).
const SAMPLE: usize = crate::backup::restore_test::DEFAULT_SAMPLE;

/// The cluster backups `filter` takes in (a node's scope: those with the node as a shard).
pub(super) fn read(backups_dir: &Path, filter: &Filter) -> Msg {
    let (mut entries, problems) = cb::load(backups_dir, filter.group.as_deref());
    if let Some(node) = &filter.node {
        entries.retain(|e| e.manifest.shards.iter().any(|s| s.node == *node));
    }
    Msg::ClustersRead {
        entries,
        problems: problems
            .into_iter()
            .map(|(path, message)| Problem { path, message })
            .collect(),
    }
}

/// Runs the restore test of cluster backup `entry` on a task, answering with
/// [`Msg::BackupVerified`]. When the console quits first, the task is dropped with the runtime
/// and the scratch cluster with it (the test kills it on drop).
pub(super) fn spawn_verify(
    entry: ClusterEntry,
    audit_log: std::path::PathBuf,
    tx: mpsc::UnboundedSender<Msg>,
) {
    tokio::spawn(async move {
        let v = verify(&entry, &audit_log).await;
        let _ = tx.send(Msg::BackupVerified(v));
    });
}

async fn verify(entry: &ClusterEntry, audit_log: &Path) -> Verified {
    let started = SystemTime::now();
    let result = cluster_verify::verify_cluster(&entry.manifest, None, SAMPLE).await;
    let mut m = entry.manifest.clone();
    m.restore_test = Some(match &result {
        Ok(r) => r.record(started),
        Err(e) => ClusterRestoreTest {
            at: rfc3339(started),
            at_unix_ms: cb::unix_ms(started),
            passed: false,
            keys: Vec::new(),
            sampled: 0,
            problems: vec![e.to_string()],
        },
    });
    let mut lines = match &result {
        Ok(r) => report_lines(entry, r),
        Err(e) => vec![
            format!("restore test FAILED: {e}"),
            "hint: take a new cluster backup (:snapshot-all); this one cannot be restored whole"
                .to_string(),
        ],
    };
    lines.push(match cb::write(&entry.path, &m) {
        Ok(()) => "the result is recorded in the cluster manifest".to_string(),
        Err(e) => format!("the result was not written into the cluster manifest: {e}"),
    });
    let check = cluster_verify::audit(&entry.id, &entry.manifest, result.as_ref(), started);
    if let Err(e) = checks::write(audit_log, &check) {
        lines.push(format!("the audit record was not written: {e}"));
    }
    Verified {
        id: entry.id.clone(),
        passed: result.as_ref().is_ok_and(ClusterReport::passed),
        lines,
    }
}

fn report_lines(entry: &ClusterEntry, r: &ClusterReport) -> Vec<String> {
    let m = &entry.manifest;
    let mut lines = vec![format!(
        "{} loaded into a scratch cluster ({}) in {}",
        crate::words::count(m.shards.len(), "shard"),
        r.server_version
            .as_deref()
            .unwrap_or("server version unknown"),
        fmt::latency(r.elapsed)
    )];
    for ((s, loaded), i) in m.shards.iter().zip(&r.keys).zip(1..) {
        lines.push(format!(
            "shard {i}: {} slots {}: {} keys loaded, {} in the backup",
            s.node,
            s.slot_count,
            thousands(*loaded),
            s.keys.map_or_else(|| "?".to_string(), thousands)
        ));
    }
    lines.push(format!(
        "cluster_state {}, {} of 16384 slots served, {} sampled keys read through the cluster",
        if r.state_ok { "ok" } else { "NOT ok" },
        r.slots_ok
            .map_or_else(|| "?".to_string(), |n| n.to_string()),
        thousands(r.sampled)
    ));
    lines.extend(r.problems.iter().map(|p| format!("MISMATCH {p}")));
    lines.push(if r.passed() {
        "restore test passed".to_string()
    } else {
        "restore test FAILED".to_string()
    });
    lines
}
