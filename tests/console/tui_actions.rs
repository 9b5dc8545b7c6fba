//! The console's actions, driven through `App::update` like an operator would: the plan
//! dialog (checks passing, failing with and without an override, the download budget at 80
//! columns), the typed confirmation, the runbook mid-run and after a failure, read-only and
//! Sentinel refusals, the interrupted run found at start-up; and whole runs (switchover then
//! failback, a failure with rollback, a promotion that marks the old primary) through the same
//! path the runtime takes (`tui::run::drive`), on the engine's simulated group (`ops::fake`).
//! Snapshots are text.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::common::screen::{draw, text};
use redops::audit::{AuditLog, Record};
use redops::config::{Addr, Sentinel};
use redops::ops::fake::{Effect as Fault, FakeOps};
use redops::ops::progress::SaveProgress;
use redops::ops::{RunEvent, RunOutcome, RunStatus};
use redops::tui::modal::Modal;
use redops::tui::run::{self, RunEnd, RunJob};
use redops::tui::theme::{self, Ui};
use redops::tui::{App, Effect, Msg, Options};

const T0: u64 = 1_700_000_000;

fn at_ms(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(T0 * 1000 + ms)
}

/// A console on the simulated group `demo` (m1 primary, r1 and r2 its replicas), files in
/// `dir`, every node polled (the clock is past the warm-up).
fn app_on(fake: &FakeOps, dir: &std::path::Path, opts: Options, w: u16, h: u16) -> App {
    let (mut config, topology) = fake.config_and_topology("demo");
    config.console.audit_log = dir.join("audit.jsonl");
    config.console.backups_dir = dir.join("backups");
    config.groups[0].preferred_primary = Some("m1".into());
    let mut app = App::new(
        config,
        theme::resolve_builtin("dark").unwrap(),
        opts,
        at_ms(0),
    );
    app.update(Msg::Resize(w, h));
    app.update(Msg::Tick(at_ms(60_000)));
    app.set_topology(topology);
    app
}

/// The live topology taken again from the simulated group (as a poll would).
fn repoll(app: &mut App, fake: &FakeOps) {
    let (_, topology) = fake.config_and_topology("demo");
    app.set_topology(topology);
}

fn press(app: &mut App, c: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)))
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn select(app: &mut App, name: &str) {
    app.selected = Some(name.to_string());
}

fn screen(app: &App) -> String {
    text(&draw(app))
}

/// Through the plan dialog (Proceed chosen) and, for a role change, the typed name: the
/// effect that runs it.
fn confirm(app: &mut App, name: Option<&str>) -> RunJob {
    press(app, KeyCode::Right);
    let mut fx = press(app, KeyCode::Enter);
    if let Some(n) = name {
        assert!(
            matches!(app.modals.last(), Some(Modal::Confirm(_))),
            "a role change asks for the name"
        );
        typed(app, n);
        fx = press(app, KeyCode::Enter);
    }
    match fx.pop() {
        Some(Effect::RunAction(job)) => *job,
        other => panic!(
            "expected a run, got {other:?}; modals {:?}",
            app.modals.len()
        ),
    }
}

/// Runs `job` the way the runtime does, feeding every message into the app; returns the
/// engine's event names in order.
async fn drive(app: &mut App, job: &RunJob, fake: &FakeOps) -> (Vec<String>, RunOutcome) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut log = AuditLog::memory();
    let outcome = run::drive(job, fake, &mut log, &tx).await;
    drop(tx);
    let mut names = Vec::new();
    while let Some(m) = rx.recv().await {
        match &m {
            Msg::Run { event, .. } => {
                names.push(event.name().to_string());
            }
            Msg::RunEnded(_) => names.push("(RunEnded)".to_string()),
            _ => {}
        }
        app.update(m);
    }
    (names, outcome)
}

#[test]
fn plan_dialog_with_checks_passing() {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_on(&fake, dir.path(), Options::default(), 120, 40);
    select(&mut app, "r1");
    press(&mut app, KeyCode::Char('S'));
    let t = screen(&app);
    assert!(t.contains("[ Cancel ]"), "Cancel is focused:\n{t}");
    assert!(t.contains("✓ r1 is a replica of m1"), "{t}");
    assert!(t.contains("› CLIENT PAUSE"), "exact commands:\n{t}");
    insta::assert_snapshot!("plan_dialog_passing", t);
    // Enter on Cancel closes it: nothing runs.
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app.modals.is_empty());
}

#[test]
fn plan_dialog_with_checks_failing() {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    // A newer target than its siblings: may be overridden (with a reason).
    fake.node("r1", |n| n.version = "7.2.4".into());
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_on(&fake, dir.path(), Options::default(), 120, 40);
    select(&mut app, "r1");
    press(&mut app, KeyCode::Char('S'));
    let t = screen(&app);
    assert!(t.contains("o overrides them with a reason"), "{t}");
    insta::assert_snapshot!("plan_dialog_overridable_failure", t);
    // The greyed Continue takes the focus; Enter on it keeps the plan and says why.
    press(&mut app, KeyCode::Right);
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let t = screen(&app);
    assert!(
        t.contains("Continue is disabled: 2 failed checks (✗ above); o overrides with a reason"),
        "{t}"
    );
    assert!(matches!(app.modals.last(), Some(Modal::Plan(_))));
    insta::assert_snapshot!("plan_dialog_enter_on_disabled_continue", t);
    press(&mut app, KeyCode::Left);
    press(&mut app, KeyCode::Char('o'));
    typed(&mut app, "replicas are upgraded next");
    press(&mut app, KeyCode::Enter);
    let t = screen(&app);
    assert!(t.contains("OVERRIDE"), "{t}");
    let job = confirm(&mut app, Some("r1"));
    assert_eq!(
        job.approval.force_reason.as_deref(),
        Some("replicas are upgraded next"),
        "the reason goes to the engine (and the audit log)"
    );

    // A target that is down: a hard failure, nothing is offered.
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    fake.node("r1", |n| n.down = true);
    let mut app = app_on(&fake, dir.path(), Options::default(), 120, 40);
    select(&mut app, "r1");
    press(&mut app, KeyCode::Char('S'));
    let t = screen(&app);
    assert!(t.contains("cannot run:"), "{t}");
    assert!(t.contains("(cannot be overridden)"), "{t}");
    insta::assert_snapshot!("plan_dialog_hard_failure", t);
    press(&mut app, KeyCode::Char('o'));
    press(&mut app, KeyCode::Right);
    assert!(
        press(&mut app, KeyCode::Enter).is_empty(),
        "no way to run it"
    );
}

/// `d` in a snapshot's plan dialog: the gate names the RDB download with its budget (the
/// config's `download_timeout`), wrapped to an 80-column terminal.
#[test]
fn plan_dialog_shows_the_download_budget_at_80_columns() {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_on(&fake, dir.path(), Options::default(), 80, 30);
    // A fixed directory keeps the snapshot stable; nothing runs, so nothing is written there.
    app.config.console.backups_dir = "/var/backups/redops".into();
    app.config.console.download_timeout = Duration::from_secs(90);
    select(&mut app, "r1");
    press(&mut app, KeyCode::Char('s'));
    let t = screen(&app);
    assert!(t.contains("Snapshot gate"), "{t}");
    assert!(
        !t.contains("download the RDB of"),
        "no download until d:\n{t}"
    );
    press(&mut app, KeyCode::Char('d'));
    let t = screen(&app);
    // The dialog's own text: between its double borders, its two lines joined.
    let gate: String = t
        .lines()
        .filter_map(|l| Some(l.split('║').nth(1)?.trim()))
        .skip_while(|l| !l.starts_with("download the RDB of"))
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        gate.contains(
            "download the RDB of r1 into /var/backups/redops (CRC64 verified; at most 90s each)"
        ),
        "the budget from the config, wrapped:\n{t}"
    );
    insta::assert_snapshot!("plan_dialog_download_80x30", t);
}

#[test]
fn typed_confirmation() {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_on(&fake, dir.path(), Options::default(), 100, 30);
    select(&mut app, "r1");
    press(&mut app, KeyCode::Char('S'));
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Enter);
    typed(&mut app, "r");
    let t = screen(&app);
    assert!(t.contains("Type r1 and press Enter"), "{t}");
    insta::assert_snapshot!("typed_confirmation", t);
    assert!(
        press(&mut app, KeyCode::Enter).is_empty(),
        "a partial name runs nothing"
    );
    let t = screen(&app);
    assert!(t.contains("type r1 to confirm: you typed r"), "{t}");
    assert!(matches!(app.modals.last(), Some(Modal::Confirm(_))));
    insta::assert_snapshot!("typed_confirmation_wrong_name", t);
    press(&mut app, KeyCode::Esc);
    assert!(app.modals.is_empty() && app.run.is_none());
}

/// A switchover confirmed, then the engine's events scripted at fixed times.
fn scripted_switchover(w: u16, h: u16) -> (App, RunJob, tempfile::TempDir) {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_on(&fake, dir.path(), Options::default(), w, h);
    select(&mut app, "r1");
    press(&mut app, KeyCode::Char('S'));
    let job = confirm(&mut app, Some("r1"));
    let steps: Vec<(String, String)> = job
        .prepared
        .plan
        .steps
        .iter()
        .map(|s| (s.title.clone(), job.prepared.plan.name(s.node).to_string()))
        .collect();
    let mut t = 60_000;
    let mut ev = |app: &mut App, e: RunEvent, dt: u64| {
        t += dt;
        app.update(Msg::Run {
            at: at_ms(t),
            event: e,
        });
    };
    ev(
        &mut app,
        RunEvent::RunStarted {
            run_id: "18bc-0001".into(),
            action: "switchover".into(),
            group: "demo".into(),
            summary: job.prepared.plan.summary.clone(),
            reason: None,
        },
        5,
    );
    ev(
        &mut app,
        RunEvent::PrecheckPassed {
            overridden: vec![],
            reason: None,
            state: vec![],
        },
        12,
    );
    ev(&mut app, RunEvent::SnapshotStarted { node: "m1".into() }, 1);
    ev(
        &mut app,
        RunEvent::SnapshotVerified {
            node: "m1".into(),
            last_save: 1_700_000_061,
            requested_at: 1_700_000_060,
            saved_aside: None,
        },
        340,
    );
    for (i, (title, node)) in steps.iter().take(2).enumerate() {
        ev(
            &mut app,
            RunEvent::StepStarted {
                index: i,
                title: title.clone(),
                node: node.clone(),
                commands: vec![],
            },
            1,
        );
        ev(
            &mut app,
            RunEvent::StepVerified {
                index: i,
                title: title.clone(),
                detail: "ok".into(),
                elapsed_ms: 2,
            },
            2,
        );
    }
    ev(
        &mut app,
        RunEvent::StepStarted {
            index: 2,
            title: steps[2].0.clone(),
            node: steps[2].1.clone(),
            commands: vec![],
        },
        1,
    );
    app.update(Msg::Tick(at_ms(t + 400)));
    (app, job, dir)
}

/// A snapshot with its download confirmed, then the gate's events scripted: the BGSAVE
/// verified after an estimated progress, the download 41% through an 83 MB file.
pub(crate) fn scripted_download(w: u16, h: u16) -> (App, tempfile::TempDir) {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_on(&fake, dir.path(), Options::default(), w, h);
    app.config.console.backups_dir = "/var/backups/redops".into();
    select(&mut app, "r1");
    press(&mut app, KeyCode::Char('s'));
    press(&mut app, KeyCode::Char('d'));
    let _job = confirm(&mut app, None);
    let mut t = 60_000;
    let mut ev = |app: &mut App, e: RunEvent, dt: u64| {
        t += dt;
        app.update(Msg::Run {
            at: at_ms(t),
            event: e,
        });
    };
    ev(
        &mut app,
        RunEvent::RunStarted {
            run_id: "18bc-0002".into(),
            action: "snapshot".into(),
            group: "demo".into(),
            summary: "verified BGSAVE of r1".into(),
            reason: None,
        },
        5,
    );
    ev(
        &mut app,
        RunEvent::PrecheckPassed {
            overridden: vec![],
            reason: None,
            state: vec![],
        },
        12,
    );
    ev(&mut app, RunEvent::SnapshotStarted { node: "r1".into() }, 1);
    ev(
        &mut app,
        RunEvent::SnapshotProgress {
            node: "r1".into(),
            progress: SaveProgress::new(
                Duration::from_millis(600),
                Some(1),
                Some(400_000),
                Some(1),
            ),
        },
        600,
    );
    let t_mid = screen(&app);
    assert!(
        t_mid.contains("0.6s of about 1.5s (40%, an estimate from the last BGSAVE's"),
        "{t_mid}"
    );
    assert!(
        t_mid.contains("████████████████░░░░"),
        "the bar at 40%:\n{t_mid}"
    );
    ev(
        &mut app,
        RunEvent::SnapshotVerified {
            node: "r1".into(),
            last_save: 1_700_000_061,
            requested_at: 1_700_000_060,
            saved_aside: None,
        },
        700,
    );
    ev(
        &mut app,
        RunEvent::DownloadStarted {
            node: "r1".into(),
            path: "/var/backups/redops".into(),
        },
        1,
    );
    ev(
        &mut app,
        RunEvent::DownloadProgress {
            node: "r1".into(),
            bytes: 34 << 20,
            total: Some(83 << 20),
            elapsed_ms: 2400,
            expected: None,
        },
        2400,
    );
    app.update(Msg::Tick(at_ms(t + 100)));
    (app, dir)
}

/// The download's bar, bytes, rate and time left, at 120x35 and 80x24.
#[test]
fn runbook_mid_download() {
    let (app, _dir) = scripted_download(120, 35);
    let t = screen(&app);
    assert!(
        t.contains("34.0 MB of 83.0 MB (40%) · 14.2 MB/s · 3.5s left"),
        "{t}"
    );
    insta::assert_snapshot!("runbook_mid_download", t);
    let (app80, _dir) = scripted_download(80, 24);
    let t = screen(&app80);
    assert!(t.contains("40%"), "{t}");
    insta::assert_snapshot!("runbook_mid_download_80x24", t);
}

#[test]
fn runbook_mid_run() {
    let (mut app, _job, _dir) = scripted_switchover(120, 35);
    let t = screen(&app);
    assert!(t.contains("runbook · switchover to r1 · running"), "{t}");
    assert!(t.contains("▶  3"), "the running step:\n{t}");
    insta::assert_snapshot!("runbook_mid_run", t);
    // The keys are refused while it runs; the tree and polls go on.
    press(&mut app, KeyCode::Char('b'));
    assert!(app
        .flash
        .as_ref()
        .unwrap()
        .text
        .contains("an action is running"));
    assert!(app.modals.is_empty());
    // q once warns, Esc does not close a running runbook.
    press(&mut app, KeyCode::Char('q'));
    assert!(!app.quit);
    press(&mut app, KeyCode::Esc);
    assert!(app.run.is_some());
    let (app80, _, _dir) = scripted_switchover(80, 24);
    insta::assert_snapshot!("runbook_mid_run_80x24", screen(&app80));
}

/// The plan dialog and the runbook at the three sizes the layout is checked at: the smallest
/// the console draws on, the common one, and a wide screen. No step's commands are cut.
#[test]
fn plan_and_runbook_at_three_sizes() {
    for (w, h) in [(80, 24), (120, 35), (200, 50)] {
        let fake = FakeOps::group(&["m1", "r1", "r2"]);
        let dir = tempfile::tempdir().unwrap();
        let mut app = app_on(&fake, dir.path(), Options::default(), w, h);
        select(&mut app, "r1");
        press(&mut app, KeyCode::Char('S'));
        let t = screen(&app);
        assert!(t.contains("switchover to r1"), "{w}x{h}:\n{t}");
        insta::assert_snapshot!(format!("plan_dialog_{w}x{h}"), t);

        let (app, _job, _dir) = scripted_switchover(w, h);
        let t = screen(&app);
        let rb = app.run.as_ref().unwrap();
        for row in &rb.steps {
            for c in &row.commands {
                assert!(t.contains(c.as_str()), "{w}x{h}: '{c}' is cut:\n{t}");
            }
        }
        // `runbook_mid_run` snapshots this same screen at 120x35 and 80x24.
        if w == 200 {
            insta::assert_snapshot!("runbook_mid_run_200x50", t);
        }
    }
}

#[test]
fn runbook_failure_state() {
    let (mut app, job, _dir) = scripted_switchover(120, 35);
    let title = job.prepared.plan.steps[2].title.clone();
    let err = "REPLICAOF 127.0.0.1 7001 on m1 answered 'ERR boom'";
    let base = 61_000;
    for (dt, e) in [
        (
            0,
            RunEvent::StepFailed {
                index: 2,
                title,
                error: err.into(),
                critical: true,
            },
        ),
        (
            3,
            RunEvent::RolledBack {
                step: 2,
                what: "writes on m1 unpaused".into(),
            },
        ),
        (
            9,
            RunEvent::RunFinished {
                outcome: RunStatus::Failed,
                detail: format!("step 3 failed: {err}"),
                state: vec![
                    "m1: role=primary offset=9500 replicas=2".into(),
                    "r1: role=replica of 127.0.0.1:7000 link=up offset=9000".into(),
                ],
                next_step: Some(redops::ops::NextStep::manual(
                    "nothing was changed: m1 is still the primary and writes resumed; fix the cause above and run it again",
                )),
            },
        ),
    ] {
        app.update(Msg::Run {
            at: at_ms(base + dt),
            event: e,
        });
    }
    let fx = app.update(Msg::RunEnded(RunEnd {
        outcome: Ok(RunOutcome {
            run_id: "18bc-0001".into(),
            status: RunStatus::Failed,
            detail: format!("step 3 failed: {err}"),
            state: vec![
                "m1: role=primary offset=9500 replicas=2".into(),
                "r1: role=replica of 127.0.0.1:7000 link=up offset=9000".into(),
            ],
            next_step: Some(redops::ops::NextStep::manual(
                "nothing was changed: m1 is still the primary and writes resumed; fix the cause above and run it again",
            )),
            warnings: vec![],
            hint: None,
            overridable: false,
            elapsed_ms: 1_020,
            pause_ms: Some(31),
        }),
        notes: vec![],
    }));
    assert!(
        fx.iter()
            .any(|f| matches!(f, Effect::CheckInterrupted { .. })),
        "the audit log is read again after a run"
    );
    let t = screen(&app);
    assert!(t.contains("FAILED"), "{t}");
    assert!(t.contains("↶ rolled back: writes on m1 unpaused"), "{t}");
    assert!(t.contains("next:"), "{t}");
    insta::assert_snapshot!("runbook_failed", t);
    assert!(app.log.export_text().contains("failed"));
    press(&mut app, KeyCode::Esc);
    assert!(app.run.is_none(), "Esc closes an ended runbook");
}

#[test]
fn read_only_greys_the_action_keys() {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        read_only: true,
        label: None,
        loss_file: None,
        sandbox_dir: None,
    };
    let mut app = app_on(&fake, dir.path(), opts, 120, 35);
    select(&mut app, "r1");
    let buf = draw(&app);
    let t = text(&buf);
    let y = buf.area.height - 1;
    let row = t.lines().nth(usize::from(y)).unwrap();
    let x = row.find("S switch").unwrap();
    let x = u16::try_from(row[..x].chars().count()).unwrap();
    assert_eq!(
        buf[(x, y)].fg,
        app.theme.s(Ui::KeyReserved).fg.unwrap(),
        "S is greyed in the footer"
    );
    for c in ['s', 'S', 'b', 'p', 'r', 'J'] {
        press(&mut app, KeyCode::Char(c));
        let f = app.flash.clone().unwrap();
        assert!(f.error && f.text.contains("read-only"), "{c}: {}", f.text);
        assert!(app.modals.is_empty());
    }
    press(&mut app, KeyCode::Char('?'));
    let t = screen(&app);
    assert!(t.contains("greyed: unavailable: read-only mode"), "{t}");
    insta::assert_snapshot!("help_read_only", t);
}

#[test]
fn sentinel_groups_switch_over_through_sentinel_and_refuse_other_role_changes() {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_on(&fake, dir.path(), Options::default(), 120, 35);
    app.config.groups[0].sentinel = Some(Sentinel {
        addrs: vec![Addr::parse("127.0.0.1:26379").unwrap()],
        master_name: "mymaster".into(),
    });
    select(&mut app, "r1");
    // A switchover goes through Sentinel: its plan, with Sentinel's strategy.
    press(&mut app, KeyCode::Char('S'));
    let Some(Modal::Plan(d)) = app.modals.last() else {
        panic!("{:?} {:?}", app.flash, app.modals.len());
    };
    assert_eq!(
        d.prepared.plan.strategy,
        Some(redops::ops::Strategy::Sentinel)
    );
    press(&mut app, KeyCode::Esc);
    assert!(app.modals.is_empty());
    // A repoint by hand is refused. Too long for the status line with its hint: shown whole
    // in a notice, no plan.
    press(&mut app, KeyCode::Char('r'));
    let Some(Modal::Notice(n)) = app.modals.last() else {
        panic!("{:?}", app.flash);
    };
    assert!(n.lines[0].contains("watched by Sentinel"), "{:?}", n.lines);
    assert!(!app.modals.iter().any(|m| matches!(m, Modal::Plan(_))));
    press(&mut app, KeyCode::Esc);
    assert!(app.modals.is_empty());
    // A snapshot changes no role: it is offered.
    press(&mut app, KeyCode::Char('s'));
    assert!(matches!(app.modals.last(), Some(Modal::Plan(_))));
}

#[test]
fn repoint_picks_the_source_from_a_list() {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_on(&fake, dir.path(), Options::default(), 120, 35);
    select(&mut app, "r2");
    press(&mut app, KeyCode::Char('r'));
    let t = screen(&app);
    assert!(t.contains("repoint r2: replicate from which node?"), "{t}");
    press(&mut app, KeyCode::Down); // r1
    press(&mut app, KeyCode::Enter);
    let t = screen(&app);
    assert!(t.contains("repoint r2 to r1"), "{t}");
    assert!(t.contains("At risk (the wipe guard)"), "{t}");
    assert!(t.contains("the node: r2: replica"), "{t}");
}

#[test]
fn restore_picks_a_backup_from_the_catalog_then_shows_its_plan() {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_on(&fake, dir.path(), Options::default(), 120, 35);
    // A replica is refused: its primary's resync would undo it.
    select(&mut app, "r1");
    assert!(press(&mut app, KeyCode::Char('L')).is_empty());
    assert!(screen(&app).contains("r1 is a replica: restore its primary"));
    select(&mut app, "m1");
    let fx = press(&mut app, KeyCode::Char('L'));
    let [Effect::ListBackups { group, request, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(group, "demo");
    let item = |name: &str| redops::tui::modal::PickItem {
        name: name.into(),
        about: "08:00:00 (1m ago) · 1.0 KB · 10 keys".into(),
    };
    app.update(Msg::BackupsListed {
        request: request.clone(),
        result: Ok(vec![item("aaaa1111"), item("bbbb2222")]),
    });
    assert!(screen(&app).contains("restore m1: load which backup?"));
    press(&mut app, KeyCode::Down);
    let fx = press(&mut app, KeyCode::Enter);
    let [Effect::ResolveBackup { request, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(request.source.as_deref(), Some("bbbb2222"));
    // Resolved by the runtime (`tui::run::resolve_backup`); here a file that is no RDB.
    let file = dir.path().join("x.rdb");
    std::fs::write(&file, b"not an rdb").unwrap();
    let mut req = request.clone();
    req.source = None;
    req.restore = Some(Box::new(redops::ops::RestoreFrom {
        source: redops::backup::restore::source(&file, None),
        listen: Addr::parse("127.0.0.1:7777").unwrap(),
        server_bin: None,
    }));
    app.update(Msg::BackupResolved(Ok(req)));
    let t = screen(&app);
    assert!(t.contains("restore m1"), "{t}");
    assert!(t.contains("the backup cannot be restored"), "{t}");
    assert!(t.contains("REPLICAOF 127.0.0.1 7777"), "{t}");
}

#[tokio::test]
async fn switchover_then_failback_through_the_console() {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_on(&fake, dir.path(), Options::default(), 120, 35);
    select(&mut app, "r1");
    press(&mut app, KeyCode::Char('S'));
    let job = confirm(&mut app, Some("r1"));
    let (names, outcome) = drive(&mut app, &job, &fake).await;
    assert_eq!(outcome.status, RunStatus::Done, "{outcome:?}");
    assert_eq!(names.first().map(String::as_str), Some("RunStarted"));
    assert_eq!(
        &names[names.len() - 2..],
        ["RunFinished", "(RunEnded)"],
        "{names:?}"
    );
    let rb = app.run.as_ref().unwrap();
    assert!(rb.all_verified(), "{:?}", rb.steps);
    assert!(rb.ending.as_ref().unwrap().outcome.is_done());
    let t = screen(&app);
    assert!(t.contains("runbook · switchover to r1 · DONE"), "{t}");
    assert_eq!(
        t.matches("✓ ").count(),
        rb.steps.len() + rb.gate.len() + 2,
        "every step, the gate, the pre-checks and the outcome verified:\n{t}"
    );
    assert!(
        fake.with(|w| w.violations.is_empty()),
        "two writable primaries"
    );
    assert!(fake.with(|w| w.nodes[1].primary && !w.nodes[0].primary));

    // Failback with `b`, on the group as it is now.
    press(&mut app, KeyCode::Esc);
    repoll(&mut app, &fake);
    press(&mut app, KeyCode::Char('b'));
    let job = confirm(&mut app, Some("m1"));
    let (_, outcome) = drive(&mut app, &job, &fake).await;
    assert_eq!(outcome.status, RunStatus::Done, "{outcome:?}");
    assert!(app.run.as_ref().unwrap().all_verified());
    assert!(fake.with(|w| w.nodes[0].primary && !w.nodes[1].primary));
}

#[tokio::test]
async fn skipping_the_snapshot_gate_takes_a_typed_reason_and_sends_no_bgsave() {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_on(&fake, dir.path(), Options::default(), 120, 35);
    select(&mut app, "r1");
    press(&mut app, KeyCode::Char('S'));
    press(&mut app, KeyCode::Char('x'));
    typed(&mut app, "fresh backup taken by hand");
    press(&mut app, KeyCode::Enter);
    let t = screen(&app);
    assert!(t.contains("SNAPSHOT GATE SKIPPED"), "{t}");
    assert!(t.contains("fresh backup taken by hand"), "{t}");
    let job = confirm(&mut app, Some("r1"));
    assert_eq!(
        job.approval.skip_snapshot_reason.as_deref(),
        Some("fresh backup taken by hand")
    );
    assert_eq!(job.approval.force_reason, None);
    let (names, outcome) = drive(&mut app, &job, &fake).await;
    assert_eq!(outcome.status, RunStatus::Done, "{outcome:?}");
    assert!(names.iter().any(|n| n == "SnapshotSkipped"), "{names:?}");
    assert!(!names.iter().any(|n| n == "SnapshotStarted"), "{names:?}");
    assert!(
        !fake.log().iter().any(|l| l.contains("BGSAVE")),
        "{:?}",
        fake.log()
    );
    assert!(fake.with(|w| w.nodes[1].primary && !w.nodes[0].primary));
    let events = app.log.export_text();
    assert!(
        events.contains("snapshot gate skipped: fresh backup taken by hand"),
        "{events}"
    );
}

#[tokio::test]
async fn a_failed_switchover_shows_rollback_and_next_step() {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_on(&fake, dir.path(), Options::default(), 120, 35);
    select(&mut app, "r1");
    press(&mut app, KeyCode::Char('S'));
    let job = confirm(&mut app, Some("r1"));
    // The target dies once writes are paused.
    fake.inject_after("r1", "INFO", "m1: CLIENT PAUSE", Fault::Kill);
    let (_, outcome) = drive(&mut app, &job, &fake).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let rb = app.run.as_ref().unwrap();
    assert!(!rb.rollbacks.is_empty(), "{rb:?}");
    let t = screen(&app);
    assert!(t.contains("FAILED"), "{t}");
    assert!(t.contains("rolled back"), "{t}");
    assert!(t.contains("next:"), "{t}");
    assert!(fake.with(|w| w.nodes[0].primary), "m1 stays the primary");
}

#[tokio::test]
async fn promote_shows_candidates_and_marks_the_old_primary() {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    let dir = tempfile::tempdir().unwrap();
    // The console saw m1 before it died: its last offset is known.
    let mut app = app_on(&fake, dir.path(), Options::default(), 120, 45);
    fake.node("m1", |n| n.down = true);
    for r in ["r1", "r2"] {
        fake.node(r, |n| n.link_up = false);
    }
    let (_, mut down) = fake.config_and_topology("demo");
    // Keep m1's last INFO as the console's history does (stale, not current).
    let last = app.topology.groups[0].nodes[0].info.clone();
    let m1 = &mut down.groups[0].nodes[0];
    m1.info = last;
    m1.stale_info = true;
    app.set_topology(down);
    select(&mut app, "m1");
    press(&mut app, KeyCode::Char('p'));
    let t = screen(&app);
    assert!(t.contains("Candidates"), "{t}");
    assert!(t.contains("no acknowledged write can be lost"), "{t}");
    let Some(Modal::Plan(d)) = app.modals.last() else {
        panic!("a plan dialog")
    };
    let chosen = d.prepared.confirm_word().unwrap().to_string();
    let job = confirm(&mut app, Some(&chosen));
    let (_, outcome) = drive(&mut app, &job, &fake).await;
    assert_eq!(outcome.status, RunStatus::Done, "{outcome:?}");
    let notes = &app.run.as_ref().unwrap().ending.as_ref().unwrap().notes;
    assert!(
        notes.iter().any(|n| n.contains("m1 is marked for rejoin")),
        "{notes:?}"
    );
    let marks = run::load_marks(&dir.path().join("audit.jsonl")).unwrap();
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0].node, "m1");

    // m1 comes back as a primary with its old data: the banner names it and J is offered,
    // whatever node is selected.
    app.update(Msg::Marks(Ok(marks)));
    press(&mut app, KeyCode::Esc);
    fake.node("m1", |n| n.down = false);
    repoll(&mut app, &fake);
    let t = screen(&app);
    assert!(t.contains("J rejoins m1"), "{t}");
    select(&mut app, &chosen);
    press(&mut app, KeyCode::Char('J'));
    let t = screen(&app);
    assert!(t.contains("rejoin m1 · group demo"), "{t}");
}

#[test]
fn an_interrupted_run_is_shown_at_start_up_with_the_next_step() {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    // A switchover that died after promoting r1: two primaries.
    fake.node("r1", |n| {
        n.primary = true;
        n.master = None;
        n.replid2 = Some(n.replid.clone());
        n.replid = "b".repeat(40);
    });
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let rec = Record {
        run_id: "18bc-dead".into(),
        at: "2023-11-14T22:13:20Z".into(),
        user: "ops".into(),
        host: "bastion-2".into(),
        pid: 4_000_000,
        group: "demo".into(),
        action: "switchover".into(),
        event: "StepStarted".into(),
        step: Some(3),
        title: Some("demote m1 to replicate from r1".into()),
        ..Record::default()
    };
    let started = Record {
        event: "RunStarted".into(),
        step: None,
        title: None,
        ..rec.clone()
    };
    let lines = [&started, &rec]
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&log, lines + "\n").unwrap();
    let mut app = app_on(&fake, dir.path(), Options::default(), 120, 35);
    let found = run::check_interrupted(&log, &app.topology);
    app.update(Msg::Interrupted(found));
    let t = screen(&app);
    assert!(t.contains("an earlier switchover did not finish"), "{t}");
    assert!(t.contains("safe next step:"), "{t}");
    insta::assert_snapshot!("interrupted_run_dialog", t);
    press(&mut app, KeyCode::Esc);
    let t = screen(&app);
    assert!(t.contains("did not finish"), "the banner keeps it:\n{t}");
    // The dialog again (a second start-up read does not repeat it), then its offer.
    app.update(Msg::Interrupted(run::check_interrupted(
        &log,
        &app.topology,
    )));
    assert!(app.modals.is_empty(), "shown once per run");
    app.interrupted_seen.clear();
    app.update(Msg::Interrupted(run::check_interrupted(
        &log,
        &app.topology,
    )));
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Enter);
    let t = screen(&app);
    assert!(
        t.contains("rejoin m1 · group demo"),
        "the offer plans the rejoin:\n{t}"
    );
}

#[test]
fn start_up_reads_the_audit_log_once_warm() {
    let fake = FakeOps::group(&["m1", "r1"]);
    let dir = tempfile::tempdir().unwrap();
    let app = app_on(&fake, dir.path(), Options::default(), 120, 35);
    assert!(!app.started_up, "set_topology alone does not start up");
    // The runtime's path: observations make the console warm, then the reads go out once.
    let (config, _) = fake.config_and_topology("demo");
    let mut app = App::new(
        config,
        theme::resolve_builtin("dark").unwrap(),
        Options::default(),
        at_ms(0),
    );
    let fx = app.update(Msg::Tick(at_ms(60_000)));
    assert!(fx.is_empty());
    let fx = app.update(Msg::Observed(vec![]));
    assert!(
        fx.iter()
            .any(|f| matches!(f, Effect::CheckInterrupted { .. }))
            && fx.iter().any(|f| matches!(f, Effect::LoadMarks { .. })),
        "{fx:?}"
    );
    assert!(app.update(Msg::Observed(vec![])).is_empty(), "only once");
}
