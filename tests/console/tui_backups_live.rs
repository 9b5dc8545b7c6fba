//! The backups pane and `:check-data` on real `redis-server` processes, along the runtime's own
//! path: a snapshot downloaded from the console (`s`, `d`, `y`), `B` reading the catalog, `v`
//! carried out by `tui::checks::spawn_verify` (a scratch server loads it; the result goes into
//! the manifest and the audit log), `:check-data` by `tui::checks::spawn_check` (audited), each
//! answer fed back as a message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ratatui::crossterm::event::KeyCode;
use serde_json::Value;

use redops::sandbox::{Sandbox, Spec};
use redops::tui::{checks, run, App, Effect, Msg};

use crate::common::console::{self, command, press};
use crate::common::screen;

/// Carries out `fx` as the runtime does and feeds every answer back until `done` says so.
async fn carry_out(app: &mut App, fx: Vec<Effect>, done: fn(&Msg) -> bool) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for f in fx {
        match f {
            Effect::RunAction(job) => run::spawn(*job, tx.clone()),
            fx @ (Effect::VerifyBackup { .. }
            | Effect::CheckData { .. }
            | Effect::Prune { .. }
            | Effect::ReadCatalog { .. }) => checks::spawn(fx, tx.clone()),
            other => panic!("unexpected effect {other:?}"),
        }
    }
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let m = tokio::time::timeout_at(end, rx.recv())
            .await
            .expect("an answer within a minute")
            .expect("the task answers");
        let last = done(&m);
        let more = app.update(m);
        if last {
            // The reload a restore test asks for, carried out and taken in too.
            let mut reload = false;
            for f in more {
                if matches!(f, Effect::ReadCatalog { .. }) {
                    reload = true;
                    checks::spawn(f, tx.clone());
                }
            }
            if reload {
                let m = tokio::time::timeout_at(end, rx.recv())
                    .await
                    .expect("the catalog read again within a minute")
                    .expect("the task answers");
                app.update(m);
            }
            return;
        }
    }
}

fn audit(app: &App, action: &str) -> Vec<Value> {
    std::fs::read_to_string(&app.config.console.audit_log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["action"] == action && r["event"] == "RunFinished")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_restore_tested_and_the_group_checked_from_the_console() {
    let spec = Spec {
        replicas: 1,
        group: "live".to_string(),
        ..Spec::default()
    };
    let mut sandbox = Sandbox::start(&spec).await.unwrap_or_else(|e| {
        panic!(
            "this test needs redis-server: {} (hint: apt-get install redis-server)",
            e.message()
        )
    });
    let config = sandbox.config();
    let mut app = console::app(config);
    let topo = redops::cli::status::snapshot(&app.config).await;
    app.set_topology(topo);

    // A snapshot of n1, downloaded into the backups directory.
    app.selected = Some("n1".into());
    press(&mut app, KeyCode::Char('s'));
    press(&mut app, KeyCode::Char('d'));
    let fx = press(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(fx.as_slice(), [Effect::RunAction(_)]),
        "{fx:?}\n{}",
        screen::text(&screen::draw(&app))
    );
    carry_out(&mut app, fx, |m| matches!(m, Msg::RunEnded(_))).await;
    press(&mut app, KeyCode::Esc);

    // B: the catalog; v: the restore test, recorded and audited.
    let fx = press(&mut app, KeyCode::Char('B'));
    carry_out(&mut app, fx, |m| matches!(m, Msg::CatalogRead(_))).await;
    let t = screen::text(&screen::draw(&app));
    assert!(t.contains("backups · group live · 1"), "{t}");
    assert!(t.contains("never"), "{t}");
    let fx = press(&mut app, KeyCode::Char('v'));
    carry_out(&mut app, fx, |m| matches!(m, Msg::BackupVerified(_))).await;
    let t = screen::text(&screen::draw(&app));
    assert!(t.contains("restore test of"), "{t}");
    assert!(t.contains(": passed"), "{t}");
    assert!(
        t.contains("restore-tested"),
        "the catalog was read again: {t}"
    );
    let entry = app.backups.as_ref().unwrap().selected_entry().unwrap();
    assert!(entry.manifest.restore_test.as_ref().unwrap().passed);
    let rdb = entry.rdb.clone();
    let v = audit(&app, "backup-verify");
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0]["outcome"], "done");
    assert_eq!(v[0]["nodes"][0], "n1");

    // :check-data: the group checked on a task, consistent, audited.
    let fx = command(&mut app, "check-data");
    carry_out(&mut app, fx, |m| matches!(m, Msg::DataChecked { .. })).await;
    let t = screen::text(&screen::draw(&app));
    assert!(t.contains("check-data · group live · consistent"), "{t}");
    assert!(t.contains("n2: consistent"), "{t}");
    let d = audit(&app, "check-data");
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["outcome"], "done");
    assert_eq!(d[0]["detail"], "n2 consistent");

    prune_from_the_console(&mut app, &rdb).await;
    sandbox.stop();
}

fn flash(app: &App) -> String {
    app.flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default()
}

/// `:prune` on the one backup `rdb`: refused read-only, a rule needed; then the list first,
/// asked about; n keeps the backup, y deletes it (audited).
async fn prune_from_the_console(app: &mut App, rdb: &std::path::Path) {
    app.opts.read_only = true;
    assert!(command(app, "prune keep 0").is_empty());
    let said = flash(app);
    assert!(said.contains("read-only"), "{said}");
    app.opts.read_only = false;
    assert!(command(app, "prune all").is_empty());
    let said = flash(app);
    assert!(said.contains("keep N or older-than AGE"), "{said}");
    let fx = command(app, "prune keep 0");
    carry_out(app, fx, |m| matches!(m, Msg::Prune(_))).await;
    let t = screen::text(&screen::draw(app));
    assert!(
        t.contains("prune --keep 0: 1 backup") && t.contains("delete them? y/N"),
        "{t}"
    );
    assert!(press(app, KeyCode::Char('n')).is_empty());
    assert!(rdb.is_file(), "n keeps the backup");
    let fx = command(app, "prune keep 0");
    carry_out(app, fx, |m| matches!(m, Msg::Prune(_))).await;
    let fx = press(app, KeyCode::Char('y'));
    carry_out(app, fx, |m| {
        matches!(m, Msg::Prune(redops::tui::app::PruneMsg::Done { .. }))
    })
    .await;
    assert!(!rdb.exists(), "y deleted it");
    let said = flash(app);
    assert!(said.contains("deleted 1 backup"), "{said}");
    let pruned = audit(app, "backup-prune");
    assert_eq!(pruned.len(), 1, "{pruned:?}");
    assert_eq!(pruned[0]["outcome"], "done");
    assert!(
        pruned[0]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("deleted 1 backup")),
        "{pruned:?}"
    );
}
