//! A switchover and a failback taken from the console on real `redis-server` processes, along
//! the runtime's own path: keys into `App::update`, the plan dialog, the typed name, the
//! `RunAction` effect carried out by `tui::run::spawn` (its own thread, real connections, the
//! sandbox's audit log), every engine event fed back as a message until `RunEnded`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;

use redops::sandbox::{Sandbox, Spec};
use redops::topology::Role;
use redops::tui::modal::Modal;
use redops::tui::{run, view, App, Effect, Msg};

fn press(app: &mut App, c: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)))
}

fn screen(app: &App) -> String {
    let mut term = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    term.draw(|f| view::render(app, f)).unwrap();
    let buf = term.backend().buffer().clone();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn poll(app: &mut App) {
    let topo = redops::cli::status::snapshot(&app.config).await;
    app.set_topology(topo);
}

fn primaries(app: &App) -> Vec<String> {
    app.topology.groups[0]
        .nodes
        .iter()
        .filter(|n| n.role == Role::Primary)
        .map(|n| n.name.clone())
        .collect()
}

/// From the open plan dialog: Proceed, the typed name, and the run on its own thread until
/// it ends. Returns the engine's event names.
async fn confirm_and_run(app: &mut App, name: &str) -> Vec<String> {
    assert!(
        matches!(app.modals.last(), Some(Modal::Plan(_))),
        "{}",
        screen(app)
    );
    press(app, KeyCode::Right);
    press(app, KeyCode::Enter);
    for c in name.chars() {
        press(app, KeyCode::Char(c));
    }
    let job = match press(app, KeyCode::Enter).pop() {
        Some(Effect::RunAction(job)) => *job,
        other => panic!("expected a run, got {other:?}"),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    run::spawn(job, tx);
    let mut names = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let m = tokio::time::timeout_at(end, rx.recv())
            .await
            .expect("the run ends within a minute")
            .expect("the run reports its end");
        let done = matches!(m, Msg::RunEnded(_));
        if let Msg::Run { event, .. } = &m {
            names.push(event.name().to_string());
        }
        app.update(m);
        if done {
            return names;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switchover_then_failback_from_the_console_on_real_servers() {
    let spec = Spec {
        replicas: 2,
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
    let mut app = crate::common::console::app(config);
    poll(&mut app).await;
    assert_eq!(primaries(&app), ["n1"]);

    app.selected = Some("n2".into());
    press(&mut app, KeyCode::Char('S'));
    let names = confirm_and_run(&mut app, "n2").await;
    let rb = app.run.clone().unwrap();
    let end = rb.ending.clone().unwrap();
    assert!(end.outcome.is_done(), "{end:?}\n{}", screen(&app));
    assert!(rb.all_verified(), "{:?}", rb.steps);
    assert_eq!(names.first().map(String::as_str), Some("RunStarted"));
    assert_eq!(names.last().map(String::as_str), Some("RunFinished"));
    for n in ["PrecheckPassed", "SnapshotVerified", "StepVerified"] {
        assert!(names.iter().any(|x| x == n), "{n} missing: {names:?}");
    }
    let t = screen(&app);
    assert!(t.contains("switchover to n2 · DONE"), "{t}");
    poll(&mut app).await;
    assert_eq!(primaries(&app), ["n2"], "{}", screen(&app));
    let audit = std::fs::read_to_string(&app.config.console.audit_log).unwrap();
    assert!(
        audit.contains("\"RunFinished\""),
        "the configured audit log is written"
    );

    press(&mut app, KeyCode::Esc);
    assert!(app.run.is_none());
    press(&mut app, KeyCode::Char('b'));
    confirm_and_run(&mut app, "n1").await;
    let end = app.run.as_ref().unwrap().ending.clone().unwrap();
    assert!(end.outcome.is_done(), "{end:?}\n{}", screen(&app));
    poll(&mut app).await;
    assert_eq!(primaries(&app), ["n1"], "{}", screen(&app));
    sandbox.stop();
}
