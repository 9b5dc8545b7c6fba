//! The console's action keys on the core's session: a settled rejoin mark is cleared rather
//! than planned, and a Sentinel group's keys say the core's one refusal text.

use std::time::{Duration, SystemTime};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::super::app::{App, Effect, Msg, Options};
use super::super::theme;
use crate::config::{Addr, Sentinel};
use crate::ops::fake::FakeOps;
use crate::ops::promote::RejoinMark;
use crate::ops::{ActionKind, Refusal};

fn app(fake: &FakeOps) -> App {
    let (config, topology) = fake.config_and_topology("g");
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let theme = theme::resolve_builtin("dark").unwrap_or_else(|e| panic!("{e}"));
    let mut app = App::new(config, theme, Options::default(), t0);
    app.update(Msg::Resize(120, 40));
    app.update(Msg::Tick(t0 + Duration::from_secs(60)));
    app.set_topology(topology);
    app
}

fn press(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

#[test]
fn rejoin_of_a_node_whose_mark_is_settled_clears_the_mark() {
    let fake = FakeOps::group(&["p", "r1"]);
    let mut app = app(&fake);
    app.marks = vec![RejoinMark {
        group: "g".into(),
        node: "r1".into(),
        addr: "127.0.0.1:7001".into(),
        promoted: "p".into(),
        last_replid: None,
        last_offset: None,
        fork_replid: None,
        fork_offset: None,
        marked_at: String::new(),
        run_id: "x".into(),
    }];
    app.selected = Some("r1".into());
    let fx = press(&mut app, 'J');
    assert!(app.modals.is_empty(), "nothing to plan");
    assert!(app.marks.is_empty());
    let cleared: Vec<_> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::ClearMarks { marks, .. } => Some(marks.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(cleared.len(), 1, "{fx:?}");
    assert_eq!(cleared[0][0].node, "r1");
    assert!(cleared[0][0].why.contains("follows"), "{:?}", cleared[0]);
}

#[test]
fn a_sentinel_group_greys_the_role_changes_sentinel_does_not_carry_with_the_cores_text() {
    let fake = FakeOps::group(&["p", "r1"]);
    let mut app = app(&fake);
    app.config.groups[0].sentinel = Some(Sentinel {
        addrs: vec![Addr::parse("127.0.0.1:26379").unwrap_or_else(|e| panic!("{e}"))],
        master_name: "mymaster".into(),
    });
    let core = Refusal::Sentinel {
        group: "g".into(),
        master_name: "mymaster".into(),
    };
    assert_eq!(
        app.action_blocked(ActionKind::Repoint),
        Some(core.message()),
        "a repoint by hand"
    );
    // A switchover and a failback go through Sentinel; a snapshot changes no role; promote
    // (what Sentinel did) and rejoin (under the master the sentinels name) are decided by
    // Sentinel's view when planned.
    for a in [
        ActionKind::Switchover,
        ActionKind::Failback,
        ActionKind::Snapshot,
        ActionKind::Promote,
        ActionKind::Rejoin,
    ] {
        assert_eq!(app.action_blocked(a), None, "{a:?}");
    }
}

fn flash(app: &App) -> String {
    app.flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default()
}

/// `J` on a healthy primary, or on a replica already linked to it: a whole message that fits
/// an 80-column status line, saying why and which key does what may have been meant.
#[test]
fn rejoin_of_a_healthy_node_says_why_and_what_to_do() {
    let fake = FakeOps::group(&["p", "r1"]);
    let mut app = app(&fake);
    app.selected = Some("p".into());
    press(&mut app, 'J');
    assert!(app.modals.is_empty());
    let f = flash(&app);
    assert_eq!(
        f,
        "rejoin: p is the primary: nothing to rejoin (to hand its role over: S)"
    );
    assert!(f.chars().count() <= 80, "{f}");
    app.selected = Some("r1".into());
    press(&mut app, 'J');
    assert!(app.modals.is_empty());
    let f = flash(&app);
    assert_eq!(
        f,
        "rejoin: r1 already follows p: nothing to rejoin (to change its source: r)"
    );
    assert!(f.chars().count() <= 80, "{f}");
}

/// A key bound to nothing flashes so; a modifier alone or a release says nothing.
#[test]
fn an_unknown_key_flashes_and_a_modifier_alone_does_not() {
    use ratatui::crossterm::event::{KeyEventKind, ModifierKeyCode};
    let fake = FakeOps::group(&["p", "r1"]);
    let mut app = app(&fake);
    press(&mut app, 'Z');
    assert_eq!(flash(&app), "unknown key Z, ? for help");
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('x'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(flash(&app), "unknown key Ctrl-x, ? for help");
    app.flash = None;
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Modifier(ModifierKeyCode::LeftShift),
        KeyModifiers::SHIFT,
    )));
    let mut release = KeyEvent::new(KeyCode::Char('Z'), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    app.update(Msg::Key(release));
    assert!(app.flash.is_none(), "{:?}", app.flash);
    press(&mut app, '?');
    assert!(!app.modals.is_empty(), "a bound key still works");
}

/// A refusal too long for the status line opens a notice with all of it, hint included,
/// instead of a line cut mid-sentence.
#[test]
fn a_long_refusal_is_shown_whole_in_a_notice() {
    use super::super::modal::Modal;
    let fake = FakeOps::group(&["p", "r1"]);
    let mut app = app(&fake);
    app.update(Msg::Resize(80, 24));
    app.config.groups[0].sentinel = Some(Sentinel {
        addrs: vec![Addr::parse("127.0.0.1:26379").unwrap_or_else(|e| panic!("{e}"))],
        master_name: "mymaster".into(),
    });
    app.selected = Some("r1".into());
    press(&mut app, 'r');
    let Some(Modal::Notice(n)) = app.modals.last() else {
        panic!("a notice, not a cut flash: {:?}", app.flash);
    };
    assert_eq!(n.title, "repoint: not planned");
    assert!(n.lines[0].contains("watched by Sentinel"), "{:?}", n.lines);
    assert!(
        n.lines
            .iter()
            .any(|l| l.starts_with("hint: switch over through Sentinel")),
        "{:?}",
        n.lines
    );
}
