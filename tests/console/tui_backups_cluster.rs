//! Cluster backups (`snapshot --all`) in the console's backups pane: listed with the node
//! backups, newest first, as one row each (kind cluster, shards, keys, the spread of the cut,
//! the restore test); Enter shows the cluster manifest; `v` starts the cluster restore test
//! as an effect (a scratch cluster, never on the UI task) and its result is shown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use redops::backup::cluster::{ClusterEntry, ClusterManifest};
use redops::backup::Problem;
use redops::tui::app::Verified;
use redops::tui::{App, Effect, Msg};

use crate::common::screen;
use crate::tui_backups;

const T0: u64 = 1_700_000_000;

fn shard(node: &str, port: u16, slots: (u16, u16), keys: u64, began: u64) -> serde_json::Value {
    let dir = format!("/var/lib/redops/backups/cache-main/{node}");
    serde_json::json!({
        "node": node, "addr": format!("127.0.0.1:{port}"),
        "node_id": format!("{node}0f3a9c2b7d4e1f6a8b5c0d9e2f7a4b1c6d3e8f5a"),
        "slots": [[slots.0, slots.1]], "slot_count": u32::from(slots.1 - slots.0) + 1,
        "file": format!("{dir}/x.rdb"), "manifest": format!("{dir}/x.rdb.json"),
        "bytes": keys * 40 + 200, "crc_ok": true, "keys": keys, "began_after_ms": began,
    })
}

/// A cluster backup of `cache-main` taken an hour before `T0`, restore-tested (passed) or not.
#[must_use]
pub fn cluster_entry(tested: bool) -> ClusterEntry {
    let at_ms = (T0 - 3_600) * 1000;
    let restore_test = tested.then(|| {
        serde_json::json!({
            "at": "2023-11-14T21:15:00.000Z", "at_unix_ms": at_ms + 300_000,
            "passed": true, "keys": [4100, 4000, 4245], "sampled": 300, "problems": [],
        })
    });
    let mut m = serde_json::json!({
        "manifest_version": 1, "group": "cache-main",
        "taken_at": "2023-11-14T21:13:20.000Z", "taken_at_unix_ms": at_ms,
        "pause_bound_ms": 200, "paused_ms": 31, "spread_ms": 4,
        "shards": [
            shard("m1", 7001, (0, 5460), 4100, 0),
            shard("m2", 7002, (5461, 10922), 4000, 3),
            shard("m3", 7003, (10923, 16383), 4245, 4),
        ],
        "total_keys": 12_345,
    });
    if let Some(t) = restore_test {
        m["restore_test"] = t;
    }
    let manifest: ClusterManifest = serde_json::from_value(m).expect("cluster manifest json");
    ClusterEntry {
        id: "c0ffee42".into(),
        path: PathBuf::from(
            "/var/lib/redops/backups/cache-main/@cluster/20231114T211320.000Z.cluster.json",
        ),
        manifest,
    }
}

fn key(app: &mut App, c: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)))
}

/// `B`, the catalog read, and the cluster backups after it (as the runtime sends them).
pub fn open_with_cluster(app: &mut App, tested: bool) {
    tui_backups::open_backups(app);
    app.update(Msg::ClustersRead {
        entries: vec![cluster_entry(tested)],
        problems: Vec::new(),
    });
}

fn text(app: &App) -> String {
    screen::text(&screen::draw(app))
}

#[test]
fn a_cluster_backup_is_one_row_among_the_node_backups_newest_first() {
    let mut app = tui_backups::app(false);
    open_with_cluster(&mut app, true);
    let t = text(&app);
    assert!(t.contains("backups · group cache-main · 4"), "{t}");
    let row = t
        .lines()
        .find(|l| l.contains("c0ffee42"))
        .unwrap_or_else(|| panic!("no cluster row: {t}"));
    assert!(row.contains("cluster ×3"), "{row}");
    assert!(row.contains("12,345 in 3 shards"), "{row}");
    assert!(row.contains("restore-tested 21:18, 300 read"), "{row}");
    assert!(row.contains("spread 4 ms"), "{row}");
    // Between the node backup of 5 minutes ago and the one of 2 hours ago.
    let at = |id: &str| t.find(id).unwrap_or_else(|| panic!("{id} not shown: {t}"));
    assert!(at("1a2b3c4d") < at("c0ffee42") && at("c0ffee42") < at("5e6f7a8b"));
    let view = app.backups.as_ref().unwrap();
    assert_eq!(view.row_list().len(), 4);
    // A cluster manifest that could not be read is counted with the catalog's skipped files.
    app.update(Msg::ClustersRead {
        entries: vec![cluster_entry(false)],
        problems: vec![Problem {
            path: PathBuf::from("/var/lib/redops/backups/cache-main/@cluster/bad.cluster.json"),
            message: "not a redops cluster manifest".into(),
        }],
    });
    let t = text(&app);
    assert!(t.contains("2 files skipped"), "{t}");
    let row = t.lines().find(|l| l.contains("c0ffee42")).unwrap();
    assert!(row.contains("never"), "{row}");
}

#[test]
fn enter_shows_the_cluster_manifest_and_v_runs_the_cluster_restore_test() {
    let mut app = tui_backups::app(false);
    open_with_cluster(&mut app, false);
    key(&mut app, KeyCode::Down); // the cluster backup
    key(&mut app, KeyCode::Enter);
    let t = text(&app);
    assert!(t.contains("cluster backup c0ffee42 · manifest"), "{t}");
    assert!(
        t.contains("3 shards · spread 4 ms · writes paused 31 ms · 16384 of 16384 slots"),
        "{t}"
    );
    assert!(t.contains("\"spread_ms\": 4"), "{t}");
    key(&mut app, KeyCode::Esc);
    let fx = key(&mut app, KeyCode::Char('v'));
    let [Effect::VerifyClusterBackup { entry, audit_log }] = fx.as_slice() else {
        panic!("v starts the cluster restore test: {fx:?}");
    };
    assert_eq!(entry.id, "c0ffee42");
    assert_eq!(audit_log, &PathBuf::from("/var/lib/redops/audit.jsonl"));
    let t = text(&app);
    assert!(t.contains("testing…"), "{t}");
    assert!(t.contains("a scratch cluster is loading it"), "{t}");
    assert!(key(&mut app, KeyCode::Char('v')).is_empty());
    // The result shown, the catalog read again, the selection kept on the cluster backup once
    // the catalog and then the cluster backups are back.
    let fx = app.update(Msg::BackupVerified(Verified {
        id: "c0ffee42".into(),
        passed: true,
        lines: vec![
            "3 shards loaded into a scratch cluster (7.2.4) in 1.2s".into(),
            "restore test passed".into(),
        ],
    }));
    assert!(matches!(fx.as_slice(), [Effect::ReadCatalog { .. }]));
    app.update(Msg::CatalogRead(tui_backups::catalog()));
    app.update(Msg::ClustersRead {
        entries: vec![cluster_entry(true)],
        problems: Vec::new(),
    });
    let view = app.backups.as_ref().unwrap();
    assert_eq!(
        view.selected_row().map(|r| r.id().to_string()),
        Some("c0ffee42".into())
    );
    assert!(view.selected_entry().is_none());
    let t = text(&app);
    assert!(t.contains("restore test of c0ffee42: passed"), "{t}");
    insta::assert_snapshot!("backups_cluster_120x35", t);
    key(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("backup_cluster_manifest_120x35", text(&app));
}

/// The newest backup is selected when the pane opens, a cluster backup too (it comes back
/// just after the catalog).
#[test]
fn a_cluster_backup_newer_than_every_node_backup_is_selected_first() {
    let mut app = tui_backups::app(false);
    let mut newest = cluster_entry(false);
    newest.manifest.taken_at_unix_ms = (T0 - 60) * 1000;
    tui_backups::open_backups(&mut app);
    app.update(Msg::ClustersRead {
        entries: vec![newest],
        problems: Vec::new(),
    });
    let view = app.backups.as_ref().unwrap();
    assert_eq!(view.selected, 0);
    assert_eq!(view.selected_row().map(|r| r.id()), Some("c0ffee42"));
}
