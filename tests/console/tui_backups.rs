//! The console's backups pane (`B`, `:backups`) and consistency check (`:check-data`), driven
//! through `App::update`: the catalog asked for in the shown group's scope, then the node's,
//! then every group's; Enter for the manifest; `v` a restore test as an effect (never run on
//! the UI task) whose result is shown; `:check-data` an effect, its verdicts shown, and a y/N
//! before a bounded write pause when writes were too fast (never offered in read-only mode).
//! The fixtures here also feed the snapshot and contrast tests (`tui_snapshots.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use redops::backup::{Catalog, Entry, Problem};
use redops::config::{Config, Console, Group};
use redops::datacheck::{DbDiff, GroupReport, Method, PairReport, Undecided, Verdict};
use redops::node::rdb::{DbCount, Manifest};
use redops::tui::app::{pause_for, Scope, Verified, CONSOLE_PAUSE, MAX_PAUSE};
use redops::tui::theme;
use redops::tui::{App, Effect, Msg, Options};

use crate::common::fixtures::loopback_node as node;
use crate::common::screen;

const T0: u64 = 1_700_000_000;

fn manifest(group: &str, node: &str, at_ms: u64, keys: u64, tested: Option<bool>) -> Manifest {
    let restore_test = tested.map(|passed| {
        serde_json::json!({
            "at": "x", "at_unix_ms": at_ms + 60_000, "keys": keys,
            "server_version": "Redis 7.2.4", "passed": passed,
            "problems": if passed { vec![] } else { vec!["db0: the manifest allows 1200 keys, the scratch server loaded 1100"] },
        })
    });
    serde_json::from_value(serde_json::json!({
        "manifest_version": 1, "group": group, "node": node, "addr": "127.0.0.1:7001",
        "taken_at": "2023-11-14T22:10:00.000Z", "taken_at_unix_ms": at_ms,
        "file": format!("{at_ms}.rdb"), "bytes": keys * 40 + 200,
        "framing": "length", "duration_ms": 12, "rdb_format": "redis", "rdb_version": 11,
        "crc_status": "verified", "crc64": "b4803e2ad609c4bd",
        "aux_repl_id": "8e1f2a9c55d0b7e34f6a1c2d3e4f5a6b7c8d9e0f", "aux_repl_offset": 68000,
        "aux_server_version": "7.2.4", "aux_ctime": 1_700_000_000,
        "info": {
            "role": "primary", "server_version": "7.2.4", "run_id": null,
            "replid": null, "replid2": null, "offset": 68000, "replica_offset": null,
            "keys": [{"db": 0, "keys": keys, "expires": 0}], "total_keys": keys,
            "used_memory": 2_400_000, "aof_enabled": node == "r1",
        },
        "info_error": null, "notes": [], "restore_test": restore_test,
    }))
    .expect("manifest json")
}

fn entry(id: &str, m: Manifest) -> Entry {
    let dir = PathBuf::from(format!("/var/lib/redops/backups/{}/{}", m.group, m.node));
    let rdb = dir.join(&m.file);
    Entry {
        id: id.into(),
        manifest_path: PathBuf::from(format!("{}.json", rdb.display())),
        rdb,
        manifest: m,
        external: false,
    }
}

/// Three backups of `cache-main` (newest first), one of them never restore-tested, one that
/// failed its test, and a manifest that could not be read.
#[must_use]
pub fn catalog() -> Catalog {
    let ms = |sec: u64| (T0 - sec) * 1000;
    Catalog {
        entries: vec![
            entry(
                "1a2b3c4d",
                manifest("cache-main", "m1", ms(300), 12_345, None),
            ),
            entry(
                "5e6f7a8b",
                manifest("cache-main", "r1", ms(7_200), 12_000, Some(true)),
            ),
            entry(
                "9c0d1e2f",
                manifest("cache-main", "m1", ms(90_000), 1_200, Some(false)),
            ),
        ],
        problems: vec![Problem {
            path: PathBuf::from("/var/lib/redops/backups/cache-main/m1/old.rdb.json"),
            message: "not a manifest: expected value at line 1 column 1".into(),
        }],
    }
}

fn key(app: &mut App, c: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)))
}

fn command(app: &mut App, line: &str) -> Vec<Effect> {
    key(app, KeyCode::Char(':'));
    for c in line.chars() {
        key(app, KeyCode::Char(c));
    }
    key(app, KeyCode::Enter)
}

/// `B`, and the catalog read.
pub fn open_backups(app: &mut App) {
    key(app, KeyCode::Char('B'));
    app.update(Msg::CatalogRead(catalog()));
}

/// A restore test that passed, as the runtime answers it.
#[must_use]
pub fn passed(id: &str) -> Verified {
    Verified {
        id: id.into(),
        passed: true,
        lines: vec![
            "RDB 11 (482K), CRC verified".into(),
            "loaded by Redis 7.2.4 (the source's major version) in 41ms: 12,345 keys (db0=12345)"
                .into(),
            "read back 100 sampled keys: hash 12, string 88".into(),
            "restore test passed in 58ms".into(),
            "the result is recorded in the manifest".into(),
        ],
    }
}

fn pair(replica: &str, verdict: Verdict) -> PairReport {
    let keys = vec![DbCount {
        db: 0,
        keys: 12_345,
        expires: 0,
    }];
    PairReport {
        primary: "m1".into(),
        replica: replica.into(),
        method: (!matches!(verdict, Verdict::Undecided(_))).then_some(Method::Digest),
        offset: (!matches!(verdict, Verdict::Undecided(_))).then_some(68_000),
        attempts: if matches!(verdict, Verdict::Undecided(_)) {
            50
        } else {
            2
        },
        paused: None,
        paused_for: None,
        primary_keys: keys.clone(),
        replica_keys: keys,
        elapsed: Duration::from_millis(40),
        verdict,
    }
}

/// `cache-main` checked: r1 consistent, r2 written to directly, r3 never caught at the
/// primary's offset (writes too fast).
#[must_use]
pub fn report() -> GroupReport {
    GroupReport {
        group: "cache-main".into(),
        primaries: vec!["m1".into()],
        pairs: vec![
            pair("r1", Verdict::Consistent),
            pair(
                "r2",
                Verdict::Mismatch {
                    dbs: vec![DbDiff {
                        db: 0,
                        primary_keys: 12_345,
                        replica_keys: 12_845,
                    }],
                    examples: vec![
                        "db0: stray:17 (only on the replica)".into(),
                        "db0: stray:4 (only on the replica)".into(),
                    ],
                },
            ),
            pair("r3", Verdict::Undecided(Undecided::NoEqualOffsets)),
        ],
        problem: None,
    }
}

/// `:check-data`, and its report.
pub fn checked(app: &mut App) {
    command(app, "check-data");
    app.update(Msg::DataChecked {
        report: Box::new(report()),
        audit_error: None,
    });
}

pub fn app(read_only: bool) -> App {
    let config = Config {
        console: Console {
            audit_log: PathBuf::from("/var/lib/redops/audit.jsonl"),
            backups_dir: PathBuf::from("/var/lib/redops/backups"),
            ..Console::default()
        },
        groups: vec![
            Group::new("cache-main", vec![node("m1", 7001), node("r1", 7002)]),
            Group::new("sessions", vec![node("s1", 7101)]),
        ],
        source: None,
    };
    let theme = theme::resolve_builtin("dark").unwrap();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(T0);
    let mut app = App::new(
        config,
        theme,
        Options {
            read_only,
            ..Options::default()
        },
        now,
    );
    app.update(Msg::Resize(120, 35));
    app
}

fn text(app: &App) -> String {
    screen::text(&screen::draw(app))
}

#[test]
fn the_catalog_is_read_in_the_groups_scope_then_the_nodes_then_all() {
    let mut app = app(false);
    let fx = key(&mut app, KeyCode::Char('B'));
    let [Effect::ReadCatalog {
        backups_dir,
        filter,
    }] = fx.as_slice()
    else {
        panic!("B reads the catalog: {fx:?}");
    };
    assert_eq!(backups_dir, &PathBuf::from("/var/lib/redops/backups"));
    assert_eq!(filter.group.as_deref(), Some("cache-main"));
    assert_eq!(filter.node, None);
    assert!(text(&app).contains("reading…"));
    app.update(Msg::CatalogRead(catalog()));
    let t = text(&app);
    assert!(t.contains("backups · group cache-main · 3"), "{t}");
    assert!(t.contains("never"), "{t}");
    assert!(t.contains("restore test FAILED"), "{t}");
    assert!(t.contains("1 file skipped"), "{t}");
    // n: the selected node's, then every group's, then the group's again.
    let fx = key(&mut app, KeyCode::Char('n'));
    assert!(matches!(
        fx.as_slice(),
        [Effect::ReadCatalog { filter, .. }] if filter.group.as_deref() == Some("cache-main")
    ));
    assert_eq!(app.backups.as_ref().unwrap().scope, Scope::Node);
    let fx = key(&mut app, KeyCode::Char('n'));
    assert!(matches!(
        fx.as_slice(),
        [Effect::ReadCatalog { filter, .. }] if filter.group.is_none() && filter.node.is_none()
    ));
    key(&mut app, KeyCode::Esc);
    assert!(app.backups.is_none());
    // The command opens it too.
    assert!(matches!(
        command(&mut app, "backups").as_slice(),
        [Effect::ReadCatalog { .. }]
    ));
}

#[test]
fn enter_shows_the_manifest_and_v_runs_the_restore_test_as_an_effect() {
    let mut app = app(false);
    open_backups(&mut app);
    key(&mut app, KeyCode::Down); // r1's, the AOF node
    key(&mut app, KeyCode::Enter);
    let t = text(&app);
    assert!(t.contains("backup 5e6f7a8b · manifest"), "{t}");
    assert!(t.contains("\"aux_repl_offset\": 68000"), "{t}");
    assert!(t.contains("appendonly yes"), "{t}");
    key(&mut app, KeyCode::Esc);
    let fx = key(&mut app, KeyCode::Char('v'));
    let [Effect::VerifyBackup { entry, audit_log }] = fx.as_slice() else {
        panic!("v starts a restore test: {fx:?}");
    };
    assert_eq!(entry.id, "5e6f7a8b");
    assert_eq!(audit_log, &PathBuf::from("/var/lib/redops/audit.jsonl"));
    let t = text(&app);
    assert!(t.contains("testing…"), "{t}");
    assert!(t.contains("a scratch server is loading it"), "{t}");
    // A second v while it runs starts nothing, even once the pane is closed and opened again.
    assert!(key(&mut app, KeyCode::Char('v')).is_empty());
    key(&mut app, KeyCode::Esc);
    open_backups(&mut app);
    key(&mut app, KeyCode::Down);
    assert!(text(&app).contains("testing…"));
    assert!(key(&mut app, KeyCode::Char('v')).is_empty());
    // The result is shown and the catalog read again (the manifest was rewritten).
    let fx = app.update(Msg::BackupVerified(passed("5e6f7a8b")));
    assert!(matches!(fx.as_slice(), [Effect::ReadCatalog { .. }]));
    let t = text(&app);
    assert!(t.contains("restore test of 5e6f7a8b: passed"), "{t}");
    assert!(t.contains("12,345 keys"), "{t}");
    // Closed meanwhile: the result is a flash.
    key(&mut app, KeyCode::Esc);
    app.update(Msg::BackupVerified(Verified {
        passed: false,
        ..passed("1a2b3c4d")
    }));
    assert!(text(&app).contains("restore test of 1a2b3c4d: FAILED"));
}

#[test]
fn check_data_shows_each_verdict_and_asks_before_a_write_pause() {
    let mut app = app(false);
    let fx = command(&mut app, "check-data");
    let [Effect::CheckData {
        group, allow_pause, ..
    }] = fx.as_slice()
    else {
        panic!(":check-data is an effect: {fx:?}");
    };
    assert_eq!(group.name, "cache-main");
    assert_eq!(*allow_pause, None, "no pause unless asked");
    assert!(text(&app).contains("checking…"));
    app.update(Msg::DataChecked {
        report: Box::new(report()),
        audit_error: None,
    });
    let t = text(&app);
    assert!(t.contains("r1: consistent"), "{t}");
    assert!(t.contains("r2: MISMATCH"), "{t}");
    assert!(t.contains("db0: 12345 keys on m1, 12845 on r2"), "{t}");
    assert!(
        t.contains("differs: db0: stray:17 (only on the replica)"),
        "{t}"
    );
    assert!(t.contains("r3: NOT COMPARED"), "{t}");
    assert!(t.contains("200ms per replica and check again? y/N"), "{t}");
    // n: nothing paused, the result stays.
    assert!(key(&mut app, KeyCode::Char('n')).is_empty());
    assert!(!text(&app).contains("y/N"));
    assert!(text(&app).contains("r2: MISMATCH"));
    // Asked again after another check; y checks again with the pause.
    key(&mut app, KeyCode::Char('r'));
    app.update(Msg::DataChecked {
        report: Box::new(report()),
        audit_error: None,
    });
    let fx = key(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(fx.as_slice(), [Effect::CheckData { allow_pause: Some(p), .. }] if *p == CONSOLE_PAUSE),
        "{fx:?}"
    );
    assert!(text(&app).contains("writes paused ≤200ms"));
}

#[test]
fn the_pause_offered_covers_both_digests_within_bounds() {
    assert_eq!(pause_for(0), CONSOLE_PAUSE);
    assert_eq!(pause_for(200_000), Duration::from_secs(1));
    assert_eq!(pause_for(1_000_000), Duration::from_secs(5));
    assert_eq!(pause_for(u64::MAX), MAX_PAUSE);
}

#[test]
fn read_only_never_offers_a_write_pause() {
    // The console's read-only mode.
    let mut console_ro = app(true);
    checked(&mut console_ro);
    let t = text(&console_ro);
    assert!(t.contains("r3: NOT COMPARED"), "{t}");
    assert!(!t.contains("y/N"), "{t}");
    assert!(key(&mut console_ro, KeyCode::Char('y')).is_empty());
    // A read-only group likewise.
    let mut group_ro = app(false);
    group_ro.config.groups[0].read_only = true;
    checked(&mut group_ro);
    assert!(!text(&group_ro).contains("y/N"));
}
