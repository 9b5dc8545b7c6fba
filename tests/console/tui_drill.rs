//! The drill panel (`redops drill NAME`) through `App::update`: the runner's events build it
//! (step, goal, faults, waiting for, hints, steps done, the report), `h` asks for the next hint
//! as one `Effect::DrillHint` (and says so when there is none to ask for), and snapshots of
//! the panel at 120x35 and 80x24: a step running with a hint shown and what the engine waits
//! for, and the final report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use redops::drill::engine::Ending;
use redops::drill::report::{GuardTrip, StepReport};
use redops::drill::{DrillEvent, Fault, Report, RunnerEvent};
use redops::ops::fake::FakeOps;
use redops::topology::{Anomaly, AnomalyKind, Severity};
use redops::tui::{theme, App, Effect, Msg, Options};

use crate::common::screen::{draw, text};

fn at(sec: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + sec)
}

fn app(w: u16, h: u16) -> App {
    let fake = FakeOps::group(&["n1", "n2", "n3"]);
    let (config, topology) = fake.config_and_topology("drill");
    let opts = Options {
        label: Some("drill master-crash".to_string()),
        ..Options::default()
    };
    let mut app = App::new(config, theme::resolve_builtin("dark").unwrap(), opts, at(0));
    app.update(Msg::Resize(w, h));
    app.set_topology(topology);
    app.selected = Some("n2".to_string());
    app
}

fn tick(app: &mut App, sec: u64) {
    app.update(Msg::Tick(at(sec)));
}

fn drill(app: &mut App, ev: RunnerEvent) -> Vec<Effect> {
    app.update(Msg::Drill(ev))
}

fn hint_key(app: &mut App) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('h'),
        KeyModifiers::NONE,
    )))
}

const GOAL: &str = "The primary n1 is down. Promote the best replica (not the lagging one), \
                    and make the other one replicate from it.";

/// A drill started, its first step under way with a fault, one hint shown, and what the
/// engine still waits for.
pub(crate) fn running(w: u16, h: u16) -> App {
    let mut app = app(w, h);
    drill(
        &mut app,
        RunnerEvent::DrillStarted {
            drill: "master-crash".into(),
            title: "The primary crashes under writes".into(),
            incident: "The primary is killed under writes.".into(),
            config: PathBuf::from("/tmp/sb/redops.toml"),
            nodes: vec!["n1".into(), "n2".into(), "n3".into()],
            time_limit: Duration::from_secs(300),
            steps: 2,
        },
    );
    drill(
        &mut app,
        RunnerEvent::Step(DrillEvent::StepStarted {
            step: 0,
            goal: GOAL.into(),
            hints: 2,
            hint_after_ms: vec![None, Some(60_000)],
            faults: 1,
            time_limit: Some(Duration::from_secs(180)),
        }),
    );
    tick(&mut app, 4);
    drill(
        &mut app,
        RunnerEvent::FaultInjected {
            step: 0,
            fault: Fault::Kill { node: "n1".into() },
            what: "n1 killed".into(),
        },
    );
    tick(&mut app, 9);
    drill(
        &mut app,
        RunnerEvent::Waiting {
            step: 0,
            missing: vec![
                "no primary among n2, n3".into(),
                "no single primary for the others to follow".into(),
            ],
        },
    );
    assert_eq!(hint_key(&mut app).len(), 1, "h asks the runner for a hint");
    drill(
        &mut app,
        RunnerEvent::Step(DrillEvent::Hint {
            step: 0,
            index: 0,
            text: "The replica with the highest offset lost the least: press p on it.".into(),
            asked: true,
        }),
    );
    tick(&mut app, 12);
    app
}

const STEP2: &str = "n1 came back as a primary with its old data. Keep the new primary's \
                     data and make n1 its replica.";

fn report() -> Report {
    Report {
        drill: "master-crash".into(),
        title: "The primary crashes under writes".into(),
        passed: true,
        ending: Ending::Completed,
        elapsed_ms: 32_300,
        steps: vec![
            StepReport {
                goal: GOAL.into(),
                done: true,
                elapsed_ms: Some(16_200),
                time_to_detect_ms: Some(10_400),
                hints_used: 1,
                hints_asked: 1,
            },
            StepReport {
                goal: STEP2.into(),
                done: true,
                elapsed_ms: Some(16_100),
                time_to_detect_ms: Some(14_800),
                hints_used: 0,
                hints_asked: 0,
            },
        ],
        time_to_detect_ms: Some(10_400),
        hints_used: 1,
        hints_asked: 1,
        guards_tripped: vec![GuardTrip::Refusal {
            action: "promote".into(),
            reason: "n3 is behind n2 by 3.5 MB: the writes only n2 has would be lost".into(),
            step: 0,
        }],
        waiting_for: Vec::new(),
        writes_acknowledged: Some(1084),
        writes_lost: Some(0),
        path: Some(PathBuf::from(
            "/home/op/.local/share/redops/drills/master-crash-1700000032.json",
        )),
    }
}

pub(crate) fn finished(w: u16, h: u16) -> App {
    let mut app = running(w, h);
    drill(
        &mut app,
        RunnerEvent::Step(DrillEvent::StepDone {
            step: 0,
            elapsed_ms: 16_200,
        }),
    );
    tick(&mut app, 16);
    drill(
        &mut app,
        RunnerEvent::Step(DrillEvent::StepStarted {
            step: 1,
            goal: STEP2.into(),
            hints: 2,
            hint_after_ms: vec![None, None],
            faults: 1,
            time_limit: Some(Duration::from_secs(180)),
        }),
    );
    assert!(app.frozen.is_none());
    drill(
        &mut app,
        RunnerEvent::Step(DrillEvent::StepDone {
            step: 1,
            elapsed_ms: 16_100,
        }),
    );
    assert!(app.frozen.is_some(), "the last step done freezes the view");
    tick(&mut app, 32);
    drill(
        &mut app,
        RunnerEvent::DrillFinished {
            report: Box::new(report()),
        },
    );
    app
}

#[test]
fn the_panel_follows_the_runner_and_h_asks_for_hints() {
    let mut app = app(120, 35);
    assert!(hint_key(&mut app).is_empty(), "no drill: h only says so");
    assert!(app
        .flash
        .as_ref()
        .unwrap()
        .text
        .contains("redops drill NAME"));

    let mut app = running(120, 35);
    let p = app.drill.as_ref().unwrap();
    let s = p.step.as_ref().unwrap();
    assert_eq!((s.index, s.hints_total, s.hints.len()), (0, 2, 1));
    assert_eq!(p.waiting.len(), 2);
    assert_eq!(p.faults[0].what, "n1 killed");
    assert!(!p.hint_asked, "the hint came");
    // The second hint: asked once; a second h while it comes asks for nothing more.
    assert!(matches!(hint_key(&mut app).as_slice(), [Effect::DrillHint]));
    assert!(app.drill.as_ref().unwrap().hint_asked);
    assert!(hint_key(&mut app).is_empty());
    assert!(app.flash.as_ref().unwrap().text.contains("every hint"));

    let mut app = finished(120, 35);
    let p = app.drill.as_ref().unwrap();
    assert_eq!(
        p.done,
        vec![(GOAL.to_string(), 16_200), (STEP2.to_string(), 16_100)]
    );
    assert!(p.report.as_ref().unwrap().passed);
    assert!(p.waiting.is_empty());
    assert!(app
        .flash
        .as_ref()
        .unwrap()
        .text
        .contains("drill over, passed"));
    // The clock stops at the end.
    assert_eq!(p.elapsed(p.started, at(100)), Duration::from_secs(32));
    assert!(hint_key(&mut app).is_empty(), "over: no more hints");
}

#[test]
fn the_help_lists_the_hint_key_in_a_drill_only() {
    let what = "reveal the current step's next hint";
    let mut plain = app(120, 45);
    plain.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('?'),
        KeyModifiers::NONE,
    )));
    assert!(!text(&draw(&plain)).contains(what));
    let mut drilling = running(120, 45);
    drilling.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('?'),
        KeyModifiers::NONE,
    )));
    let t = text(&draw(&drilling));
    assert!(
        t.contains("Drill (redops drill NAME)") && t.contains(what),
        "{t}"
    );
}

#[test]
fn drill_panel_running_120x35() {
    insta::assert_snapshot!(text(&draw(&running(120, 35))));
}

#[test]
fn drill_panel_running_80x24() {
    insta::assert_snapshot!(text(&draw(&running(80, 24))));
}

#[test]
fn drill_panel_report_120x35() {
    insta::assert_snapshot!(text(&draw(&finished(120, 35))));
}

#[test]
fn drill_panel_report_80x24() {
    insta::assert_snapshot!(text(&draw(&finished(80, 24))));
}

fn key(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

/// The group of the drill's app showing the crash the trainee is to spot.
fn crashed(app: &mut App) {
    let mut t = app.topology.clone();
    t.groups[0].anomalies.push(Anomaly {
        kind: AnomalyKind::NoPrimary,
        severity: Severity::Critical,
        nodes: vec!["n1".into()],
        message: "no primary answers".into(),
    });
    app.set_topology(t);
}

#[test]
fn a_in_a_drill_records_that_the_trainee_saw_the_fault() {
    // Outside a drill, with nothing to acknowledge: nothing is written.
    let mut plain = app(120, 35);
    crashed(&mut plain);
    assert!(key(&mut plain, 'a').is_empty());
    assert!(plain
        .flash
        .as_ref()
        .unwrap()
        .text
        .contains("nothing to acknowledge"));

    // In a drill, before anything looks wrong: nothing is written either.
    let mut app = running(120, 35);
    assert!(key(&mut app, 'a').is_empty());
    assert!(app
        .flash
        .as_ref()
        .unwrap()
        .text
        .contains("nothing looks wrong"));

    crashed(&mut app);
    let effects = key(&mut app, 'a');
    let [Effect::RecordAcknowledgement {
        group, nodes, what, ..
    }] = effects.as_slice()
    else {
        panic!("one audit record expected: {effects:?}");
    };
    assert_eq!(group, &app.topology.groups[0].name);
    assert_eq!(nodes, &["n1".to_string()]);
    assert_eq!(what, "seen: no_primary");
    assert!(app
        .flash
        .as_ref()
        .unwrap()
        .text
        .contains("counts it as detected"));
}

#[test]
fn the_view_freezes_when_the_drill_times_out() {
    let mut app = running(120, 35);
    assert!(app.frozen.is_none());
    drill(
        &mut app,
        RunnerEvent::Step(DrillEvent::Over {
            ending: Ending::TimedOut {
                step: 0,
                limit_ms: 180_000,
            },
        }),
    );
    assert!(app.frozen.is_some(), "the topology judged stays on screen");
}

#[test]
fn the_panel_says_the_incident_is_unfolding_and_when_a_hint_shows_by_itself() {
    let mut app = app(120, 35);
    drill(
        &mut app,
        RunnerEvent::Step(DrillEvent::StepStarted {
            step: 0,
            goal: GOAL.into(),
            hints: 1,
            hint_after_ms: vec![Some(30_000)],
            faults: 2,
            time_limit: None,
        }),
    );
    // No drill started: the panel is not there, events are dropped.
    assert!(app.drill.is_none());

    let mut app = running(120, 35);
    drill(
        &mut app,
        RunnerEvent::Step(DrillEvent::StepStarted {
            step: 1,
            goal: STEP2.into(),
            hints: 1,
            hint_after_ms: vec![Some(30_000)],
            faults: 2,
            time_limit: None,
        }),
    );
    drill(
        &mut app,
        RunnerEvent::FaultInjected {
            step: 1,
            fault: Fault::Kill { node: "n1".into() },
            what: "n1 killed".into(),
        },
    );
    let t = text(&draw(&app));
    assert!(
        t.contains("the incident is unfolding (1 of 2 faults in)"),
        "{t}"
    );
    assert!(t.contains("by itself in 30s"), "{t}");
    drill(
        &mut app,
        RunnerEvent::Step(DrillEvent::Hint {
            step: 1,
            index: 0,
            text: "Rejoin n1.".into(),
            asked: false,
        }),
    );
    assert!(app
        .flash
        .as_ref()
        .unwrap()
        .text
        .contains("hint 1 shown by itself"));
}
