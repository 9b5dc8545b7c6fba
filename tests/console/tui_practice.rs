//! The demo's practice keys through `App::update`: `K` asks first and kills on a second `K`
//! (any other key disarms it), `R` restarts, `F` freezes and `F` again thaws, each as one
//! `Effect::SandboxFault` for the selected node; the sandbox's answer is flashed; and outside
//! `redops demo` the keys only say where they work. The help lists them in the demo only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use redops::ops::fake::FakeOps;
use redops::sandbox::{Fault, FaultDone};
use redops::tui::keymap::{Section, BINDINGS};
use redops::tui::{theme, view, App, Effect, Msg, Options};

fn app(sandbox_dir: Option<PathBuf>) -> App {
    let fake = FakeOps::group(&["m1", "r1", "r2"]);
    let (config, topology) = fake.config_and_topology("demo");
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let opts = Options {
        sandbox_dir,
        ..Options::default()
    };
    let mut app = App::new(config, theme::resolve_builtin("dark").unwrap(), opts, at);
    app.update(Msg::Resize(120, 35));
    app.set_topology(topology);
    app.selected = Some("r1".to_string());
    app
}

fn press(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::SHIFT,
    )))
}

fn fault(effects: &[Effect]) -> Option<(Fault, String)> {
    match effects {
        [Effect::SandboxFault { fault, node, dir }] => {
            assert_eq!(dir, &PathBuf::from("/tmp/sb"));
            Some((*fault, node.clone()))
        }
        [] => None,
        other => panic!("unexpected effects {other:?}"),
    }
}

fn flash(app: &App) -> String {
    app.flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default()
}

#[test]
fn kill_asks_first_then_a_second_k_sends_it() {
    let mut app = app(Some(PathBuf::from("/tmp/sb")));
    assert_eq!(fault(&press(&mut app, 'K')), None);
    assert!(flash(&app).contains("kill r1"), "{}", flash(&app));
    assert!(flash(&app).contains("K again"), "{}", flash(&app));
    assert_eq!(
        fault(&press(&mut app, 'K')),
        Some((Fault::Kill, "r1".into()))
    );
    // Another key in between disarms.
    assert_eq!(fault(&press(&mut app, 'K')), None);
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('j'),
        KeyModifiers::NONE,
    )));
    app.selected = Some("r1".to_string());
    assert_eq!(fault(&press(&mut app, 'K')), None, "asks again after j");
}

#[test]
fn restart_and_freeze_then_thaw() {
    let done = |fault| FaultDone {
        fault,
        node: "r1".into(),
        pid: 7,
        port: 7002,
        conf: PathBuf::from("/tmp/sb/r1/redis.conf"),
        was_running: true,
    };
    let mut app = app(Some(PathBuf::from("/tmp/sb")));
    assert_eq!(
        fault(&press(&mut app, 'R')),
        Some((Fault::Restart, "r1".into()))
    );
    assert_eq!(
        fault(&press(&mut app, 'F')),
        Some((Fault::Freeze, "r1".into()))
    );
    // Refused (the node is down): F stays a freeze.
    app.update(Msg::SandboxFault(Err("'r1' is not running".into())));
    assert_eq!(
        fault(&press(&mut app, 'F')),
        Some((Fault::Freeze, "r1".into()))
    );
    app.update(Msg::SandboxFault(Ok(done(Fault::Freeze))));
    assert_eq!(
        fault(&press(&mut app, 'F')),
        Some((Fault::Thaw, "r1".into()))
    );
    app.update(Msg::SandboxFault(Ok(done(Fault::Thaw))));
    assert_eq!(
        fault(&press(&mut app, 'F')),
        Some((Fault::Freeze, "r1".into()))
    );
    app.update(Msg::SandboxFault(Ok(done(Fault::Kill))));
    assert_eq!(flash(&app), "r1 killed (pid 7); R restarts it");
    app.update(Msg::SandboxFault(Ok(done(Fault::Freeze))));
    assert_eq!(flash(&app), "r1 frozen (SIGSTOP); F thaws it");
    app.update(Msg::SandboxFault(Err("'r1' is not running".into())));
    assert_eq!(flash(&app), "'r1' is not running");
}

#[test]
fn outside_the_demo_the_keys_say_where_they_work() {
    let mut app = app(None);
    for c in ['K', 'R', 'F'] {
        assert!(press(&mut app, c).is_empty());
        assert!(flash(&app).contains("redops demo"), "{}", flash(&app));
    }
}

fn help_text(app: &mut App) -> String {
    app.update(Msg::Resize(120, 50));
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('?'),
        KeyModifiers::NONE,
    )));
    let mut term = Terminal::new(TestBackend::new(120, 50)).unwrap();
    term.draw(|f| view::render(app, f)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn help_lists_the_practice_keys_in_the_demo_only() {
    let practice: Vec<_> = BINDINGS
        .iter()
        .filter(|b| b.section == Section::Practice)
        .collect();
    assert_eq!(practice.len(), 3);
    let demo = help_text(&mut app(Some(PathBuf::from("/tmp/sb"))));
    let console = help_text(&mut app(None));
    for b in practice {
        assert!(
            demo.contains(b.what),
            "demo help lacks '{}':\n{demo}",
            b.what
        );
        assert!(!console.contains(b.what), "console help lists '{}'", b.what);
    }
}
