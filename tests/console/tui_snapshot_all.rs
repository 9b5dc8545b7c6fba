//! `:snapshot-all` in the console on a real cluster, along the runtime's own path: the plan
//! dialog of every primary at one cut, `y`, the run carried out by `tui::run::spawn` and its
//! end fed back; the cluster manifest written; on a group that is not a cluster, refused in the
//! status line with nothing run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ratatui::crossterm::event::KeyCode;

use redops::sandbox::{ClusterShape, Sandbox, Spec};
use redops::tui::{checks, run, App, Effect, Msg};

use crate::common::console::{self, command, press};
use crate::common::screen;

async fn app_on(config: redops::config::Config) -> App {
    let mut app = console::app(config);
    let topo = redops::cli::status::snapshot(&app.config).await;
    app.set_topology(topo);
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_all_from_the_console_writes_one_cluster_manifest() {
    let shape = ClusterShape {
        primaries: 2,
        replicas: 0,
        node_timeout: Duration::from_secs(2),
    };
    let sb = Sandbox::start_cluster(shape, &Spec::default())
        .await
        .expect("a cluster");
    let mut app = app_on(sb.config()).await;
    let fx = command(&mut app, "snapshot-all 3000");
    assert!(fx.is_empty(), "{fx:?}");
    let shown = screen::text(&screen::draw(&app));
    assert!(shown.contains("snapshot of every primary"), "{shown}");
    assert!(shown.contains("writes paused at most 3000 ms"), "{shown}");
    let fx = press(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(fx.as_slice(), [Effect::RunAction(_)]),
        "{fx:?}\n{shown}"
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for f in fx {
        if let Effect::RunAction(job) = f {
            run::spawn(*job, tx.clone());
        }
    }
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let m = tokio::time::timeout_at(end, rx.recv())
            .await
            .expect("the run ends within a minute")
            .expect("the task answers");
        let last = matches!(m, Msg::RunEnded(_));
        app.update(m);
        if last {
            break;
        }
    }
    let shown = screen::text(&screen::draw(&app));
    assert!(shown.contains("every primary saved at one cut"), "{shown}");
    let (entries, problems) = redops::backup::cluster::load(&app.config.console.backups_dir, None);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].manifest.shards.len(), 2);
    assert_eq!(entries[0].manifest.pause_bound_ms, Some(3000));
    restore_test_from_the_backups_pane(&mut app, &entries[0].id).await;

    // The same group said not to be a cluster: refused, nothing to run.
    let mut plain = sb.config();
    plain.groups[0].cluster = false;
    let mut app = app_on(plain).await;
    let fx = command(&mut app, "snapshot-all");
    assert!(fx.is_empty(), "{fx:?}");
    let shown = screen::text(&screen::draw(&app));
    assert!(shown.contains("not a cluster group"), "{shown}");
}

/// Answers to `fx` as the runtime gives them, fed back, until `done` says so (bounded).
async fn answer(app: &mut App, fx: Vec<Effect>, done: fn(&Msg) -> bool) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for f in fx {
        checks::spawn(f, tx.clone());
    }
    let end = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let m = tokio::time::timeout_at(end, rx.recv())
            .await
            .expect("an answer within two minutes")
            .expect("the task answers");
        let last = done(&m);
        app.update(m);
        if last {
            return;
        }
    }
}

/// `B` lists the cluster backup `id` as one row; `v` on it runs its restore test in a scratch
/// cluster (`tui::checks`), whose result is shown, written into the cluster manifest and
/// audited.
async fn restore_test_from_the_backups_pane(app: &mut App, id: &str) {
    let fx = press(app, KeyCode::Char('B'));
    answer(app, fx, |m| matches!(m, Msg::ClustersRead { .. })).await;
    let at = app
        .backups
        .as_ref()
        .unwrap()
        .row_list()
        .iter()
        .position(|r| r.id() == id)
        .expect("the cluster backup is listed");
    for _ in 0..at {
        press(app, KeyCode::Down);
    }
    let view = app.backups.as_ref().unwrap();
    assert_eq!(
        view.selected_row().map(|r| r.id().to_string()).as_deref(),
        Some(id),
        "{at} {}",
        view.selected
    );
    let shown = screen::text(&screen::draw(app));
    let row = shown.lines().find(|l| l.contains(id)).expect("its row");
    assert!(row.contains("cluster ×2") && row.contains("never"), "{row}");
    let fx = press(app, KeyCode::Char('v'));
    assert!(
        matches!(fx.as_slice(), [Effect::VerifyClusterBackup { .. }]),
        "{fx:?}"
    );
    answer(app, fx, |m| matches!(m, Msg::BackupVerified(_))).await;
    let shown = screen::text(&screen::draw(app));
    assert!(
        shown.contains(&format!("restore test of {id}: passed")),
        "{shown}"
    );
    assert!(shown.contains("16384 of 16384 slots served"), "{shown}");
    let (entries, _) = redops::backup::cluster::load(&app.config.console.backups_dir, None);
    let test = entries[0].manifest.restore_test.as_ref().expect("recorded");
    assert!(test.passed, "{test:?}");
    let audit = std::fs::read_to_string(&app.config.console.audit_log).unwrap_or_default();
    assert!(
        audit.lines().any(|l| l.contains("backup-verify")
            && l.contains(&format!("cluster backup {id}: restore-tested"))),
        "{audit}"
    );
}
