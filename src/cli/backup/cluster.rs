//! `backup list` and `backup verify` for cluster backups (`snapshot --all`): one row per
//! cluster backup (shards, keys, the spread of its cut, its pause, its last restore test), and
//! the restore test into a scratch cluster, whose result goes into the cluster manifest.
//! Printing only: reading and testing are `crate::backup::cluster*`.

use std::path::Path;
use std::time::SystemTime;

use serde_json::json;

use super::super::{output, EXIT_OK, EXIT_PROBLEM};
use crate::backup::cluster::{self as cb, ClusterEntry};
use crate::backup::cluster_verify::{self, ClusterReport};
use crate::timefmt;
use crate::topology::data_loss::thousands;

/// Prints the cluster backups of `group` (every group when `None`).
pub(super) fn list(dir: &Path, group: Option<&str>, as_json: bool) {
    let (entries, problems) = cb::load(dir, group);
    for (path, why) in &problems {
        output::note(&format!("skipped '{}': {why}", path.display()));
    }
    if as_json {
        for e in &entries {
            output::json(&entry_json(e).to_string());
        }
        return;
    }
    if entries.is_empty() {
        return;
    }
    output::line("");
    output::line("cluster backups (snapshot --all):");
    let now = SystemTime::now();
    for e in &entries {
        output::line(&format!("  {}", row(e, now)));
    }
}

fn row(e: &ClusterEntry, now: SystemTime) -> String {
    let m = &e.manifest;
    let taken = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(m.taken_at_unix_ms);
    let keys: Vec<String> = m
        .shards
        .iter()
        .map(|s| s.keys.map_or_else(|| "?".to_string(), thousands))
        .collect();
    let pause = m
        .paused_ms
        .map_or_else(|| "no pause".to_string(), |p| format!("paused {p} ms"));
    let test = match &m.restore_test {
        None => "not verified".to_string(),
        Some(t) if t.passed => format!("restore test passed ({} keys read)", t.sampled),
        Some(t) => format!("restore test FAILED ({})", t.problems.len()),
    };
    format!(
        "{}  {}  cluster  {} ({} ago)  {} shards  keys {} = {}  spread {} ms  {pause}  {test}",
        e.id,
        m.group,
        timefmt::clock(taken),
        timefmt::age(now, taken),
        m.shards.len(),
        keys.join("+"),
        m.total_keys.map_or_else(|| "?".to_string(), thousands),
        m.spread_ms,
    )
}

fn entry_json(e: &ClusterEntry) -> serde_json::Value {
    json!({
        "id": e.id,
        "kind": "cluster",
        "manifest_path": e.path,
        "manifest": e.manifest,
    })
}

/// `backup verify` of a cluster backup: the exit code (0 passed, 1 failed or could not run),
/// and the audit record of the test when it ran.
pub(super) async fn verify(
    entry: &ClusterEntry,
    server_bin: Option<&Path>,
    sample: usize,
    as_json: bool,
) -> (u8, Option<crate::audit::checks::Check>) {
    let mut interrupt =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
            Ok(s) => s,
            Err(e) => {
                output::error(&format!("cannot listen for Ctrl-C: {e}"), None);
                return (EXIT_PROBLEM, None);
            }
        };
    let started = SystemTime::now();
    let test = cluster_verify::verify_cluster(&entry.manifest, server_bin, sample);
    let report = tokio::select! {
        biased;
        _ = interrupt.recv() => {
            // The test's future is dropped here: the scratch cluster is killed with it.
            output::error("interrupted: the scratch cluster was stopped", None);
            return (EXIT_PROBLEM, None);
        }
        r = test => r,
    };
    let check = cluster_verify::audit(&entry.id, &entry.manifest, report.as_ref(), started);
    let mut m = entry.manifest.clone();
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            if as_json {
                output::json(
                    &json!({"id": entry.id, "passed": false, "error": e.to_string()}).to_string(),
                );
            }
            output::error(
                &e.to_string(),
                Some(
                    "take a new cluster backup (snapshot --all); this one cannot be restored whole",
                ),
            );
            m.restore_test = Some(cb::ClusterRestoreTest {
                at: crate::node::rdb::rfc3339(started),
                at_unix_ms: cb::unix_ms(started),
                passed: false,
                keys: Vec::new(),
                sampled: 0,
                problems: vec![e.to_string()],
            });
            write_back(&entry.path, &m);
            return (EXIT_PROBLEM, Some(check));
        }
    };
    m.restore_test = Some(report.record(started));
    write_back(&entry.path, &m);
    if as_json {
        output::json(
            &json!({"id": entry.id, "passed": report.passed(), "keys": report.keys,
                "slots_ok": report.slots_ok, "cluster_state_ok": report.state_ok,
                "sampled": report.sampled, "problems": report.problems,
                "elapsed_ms": u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX)})
            .to_string(),
        );
    } else {
        print(entry, &report);
    }
    let code = if report.passed() {
        EXIT_OK
    } else {
        EXIT_PROBLEM
    };
    (code, Some(check))
}

fn write_back(path: &Path, m: &cb::ClusterManifest) {
    if let Err(e) = cb::write(path, m) {
        output::error(
            &format!("the result was not written into the manifest: {e}"),
            None,
        );
    }
}

fn print(entry: &ClusterEntry, r: &ClusterReport) {
    let m = &entry.manifest;
    output::line(&format!(
        "cluster backup {} of '{}': {} shards loaded into a scratch cluster ({}) in {}",
        entry.id,
        m.group,
        m.shards.len(),
        r.server_version
            .as_deref()
            .unwrap_or("server version unknown"),
        timefmt::span(r.elapsed)
    ));
    for ((s, loaded), i) in m.shards.iter().zip(&r.keys).zip(1..) {
        output::line(&format!(
            "  shard {i}: {} ({}) slots {}: {} keys loaded, {} in the backup",
            s.node,
            &s.node_id.get(..8).unwrap_or(&s.node_id),
            s.slot_count,
            thousands(*loaded),
            s.keys.map_or_else(|| "?".to_string(), thousands)
        ));
    }
    output::line(&format!(
        "cluster_state {}, {} of 16384 slots served, {} sampled keys read through the cluster",
        if r.state_ok { "ok" } else { "NOT ok" },
        r.slots_ok
            .map_or_else(|| "?".to_string(), |n| n.to_string()),
        r.sampled
    ));
    if r.passed() {
        output::line("restore test passed");
    } else {
        for p in &r.problems {
            output::line(&format!("problem: {p}"));
        }
        output::line("restore test FAILED");
    }
}
