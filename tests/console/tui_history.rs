//! The console's history of runs (`:history`, Enter on a run for its steps), Enter on a node
//! (its detail full screen), `y` (the address to the clipboard) and `:export` asking before it
//! overwrites, driven through `App::update` and drawn on ratatui's `TestBackend`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use redops::audit::runs::{read_from, Query};
use redops::audit::{Outcome, Record};
use redops::config::{Config, Console, Group};
use redops::tui::theme;
use redops::tui::{App, Effect, Msg, Options};

use crate::common::fixtures::loopback_node as node;
use crate::common::screen;

const T0: f64 = 1_700_000_000.0;

fn at(sec: f64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs_f64(T0 + sec)
}

fn app(w: u16, h: u16) -> App {
    let config = Config {
        console: Console {
            audit_log: PathBuf::from("/var/lib/redops/audit.jsonl"),
            ..Console::default()
        },
        groups: vec![Group::new(
            "cache",
            vec![node("n1", 7001), node("n2", 7002), node("n3", 7003)],
        )],
        source: None,
    };
    let theme = theme::resolve_builtin("dark").unwrap();
    let mut app = App::new(config, theme, Options::default(), at(0.0));
    app.update(Msg::Resize(w, h));
    app.update(Msg::Tick(at(600.0)));
    app
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

fn text(app: &App) -> String {
    screen::text(&screen::draw(app))
}

fn rec(run: &str, sec: f64, event: &str) -> Record {
    Record {
        run_id: run.into(),
        ts: T0 + sec,
        user: "op".into(),
        host: "bastion".into(),
        group: "cache".into(),
        action: "switchover".into(),
        nodes: vec![
            "n1=127.0.0.1:7001".into(),
            "n2=127.0.0.1:7002".into(),
            "n3=127.0.0.1:7003".into(),
        ],
        event: event.into(),
        ..Record::default()
    }
}

/// A refused snapshot, a switchover with its steps, and a torn last line.
fn audit_log() -> String {
    let mut recs = Vec::new();
    let mut snap = rec("18b0c0ffee-0001", 10.0, "RunStarted");
    snap.action = "snapshot".into();
    snap.nodes = vec!["n2=127.0.0.1:7002".into()];
    recs.push(snap.clone());
    snap.event = "RunFinished".into();
    snap.ts += 0.002;
    snap.outcome = Some(Outcome::Refused);
    snap.detail = Some("n2 is loading".into());
    recs.push(snap);
    recs.push(rec("18b0c0ffee-0002", 300.0, "RunStarted"));
    for (i, (title, sec)) in [("pause writes on n1", 300.1), ("promote n2", 300.15)]
        .iter()
        .enumerate()
    {
        let mut s = rec("18b0c0ffee-0002", *sec, "StepStarted");
        s.step = Some(i);
        s.title = Some((*title).into());
        recs.push(s.clone());
        s.event = "StepVerified".into();
        s.ts += 0.01;
        s.detail = Some("ok".into());
        s.commands = vec![if i == 0 {
            "n1: CLIENT PAUSE 20000 WRITE".into()
        } else {
            "n2: REPLICAOF NO ONE".into()
        }];
        recs.push(s);
    }
    let mut done = rec("18b0c0ffee-0002", 300.4, "RunFinished");
    done.outcome = Some(Outcome::Done);
    done.pause_ms = Some(182);
    done.detail = Some("n1 -> n2, strategy manual: done".into());
    recs.push(done);
    let mut text: String = recs
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    text.push_str(r#"{"run_id":"18b0c0ffee-0003","ev"#);
    text
}

fn answer(app: &mut App, fx: &[Effect]) {
    let [Effect::ReadRuns {
        audit_log: path,
        query,
    }] = fx
    else {
        panic!("expected one read of the audit log, got {fx:?}");
    };
    assert_eq!(path, &PathBuf::from("/var/lib/redops/audit.jsonl"));
    let result = read_from(audit_log().as_bytes(), query).map_err(|e| e.to_string());
    app.update(Msg::RunsRead {
        steps: query.run_id.is_some(),
        result,
    });
}

/// The history pane listing the runs of `audit_log()`.
pub(crate) fn history_pane(w: u16, h: u16) -> App {
    let mut app = app(w, h);
    let fx = command(&mut app, "history");
    answer(&mut app, &fx);
    app
}

#[test]
fn history_lists_runs_and_enter_shows_a_runs_steps() {
    for (w, h) in [(120, 35), (80, 24)] {
        let mut app = app(w, h);
        let fx = command(&mut app, "history");
        assert!(
            matches!(
                &fx[..],
                [Effect::ReadRuns {
                    query: Query {
                        run_id: None,
                        limit: Some(_),
                        ..
                    },
                    ..
                }]
            ),
            "{fx:?}"
        );
        assert!(text(&app).contains("reading the audit log"));
        answer(&mut app, &fx);
        insta::assert_snapshot!(format!("history_list_{w}x{h}"), text(&app));

        // Newest first: the switchover is selected; Enter reads its steps.
        let fx = key(&mut app, KeyCode::Enter);
        let [Effect::ReadRuns { query, .. }] = &fx[..] else {
            panic!("{fx:?}")
        };
        assert_eq!(query.run_id.as_deref(), Some("18b0c0ffee-0002"));
        answer(&mut app, &fx);
        insta::assert_snapshot!(format!("history_steps_{w}x{h}"), text(&app));

        key(&mut app, KeyCode::Esc);
        assert!(text(&app).contains("refused"), "back to the list");
        key(&mut app, KeyCode::Down);
        let fx = key(&mut app, KeyCode::Enter);
        let [Effect::ReadRuns { query, .. }] = &fx[..] else {
            panic!("{fx:?}")
        };
        assert_eq!(query.run_id.as_deref(), Some("18b0c0ffee-0001"));
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Esc);
        assert!(app.runs.is_none(), "Esc twice closes the history");
    }
}

#[test]
fn history_says_when_the_log_cannot_be_read() {
    let mut app = app(120, 35);
    command(&mut app, "history");
    app.update(Msg::RunsRead {
        steps: false,
        result: Err("no audit log at '/var/lib/redops/audit.jsonl'".into()),
    });
    assert!(text(&app).contains("no audit log at"), "{}", text(&app));
}

#[test]
fn enter_opens_the_nodes_detail_full_screen_and_y_copies_its_address() {
    let mut app = app(120, 35);
    key(&mut app, KeyCode::Down);
    let tree = text(&app);
    assert!(tree.contains("n3"), "{tree}");
    key(&mut app, KeyCode::Enter);
    assert!(app.detail_zoom);
    let zoomed = text(&app);
    insta::assert_snapshot!("detail_full_screen", zoomed);
    key(&mut app, KeyCode::Esc);
    assert!(!app.detail_zoom, "Esc returns to the tree");

    let fx = key(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(&fx[..], [Effect::Copy(a)] if a == "127.0.0.1:7002"),
        "{fx:?}"
    );
    assert!(text(&app).contains("copied 127.0.0.1:7002"));
}

#[test]
fn export_asks_before_overwriting() {
    let mut app = app(120, 35);
    let fx = command(&mut app, "export ~/x.txt");
    assert!(
        matches!(&fx[..], [Effect::Export { path, overwrite: false, .. }] if path == &PathBuf::from("~/x.txt")),
        "{fx:?}"
    );
    // The runtime found the file there (its expanded path): the operator is asked.
    let home = PathBuf::from("/home/op/x.txt");
    app.update(Msg::ExportExists(home.clone()));
    assert!(
        text(&app).contains("'/home/op/x.txt' exists: overwrite it? y/N"),
        "{}",
        text(&app)
    );
    assert!(key(&mut app, KeyCode::Char('n')).is_empty());
    assert!(text(&app).contains("not exported: '/home/op/x.txt' kept"));
    app.update(Msg::ExportExists(home.clone()));
    let fx = key(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(&fx[..], [Effect::Export { path, overwrite: true, .. }] if path == &home),
        "{fx:?}"
    );
}
