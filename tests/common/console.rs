//! Driving the console's `App` in tests: keys, a `:` command line, and an app sized 120x35
//! with its clock a minute on (so the first poll's nodes are not "new").

use std::time::{Duration, SystemTime};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use redops::config::Config;
use redops::tui::{theme, App, Effect, Msg, Options};

/// One key press.
pub fn press(app: &mut App, c: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)))
}

/// `:line` and Enter.
pub fn command(app: &mut App, line: &str) -> Vec<Effect> {
    press(app, KeyCode::Char(':'));
    for c in line.chars() {
        press(app, KeyCode::Char(c));
    }
    press(app, KeyCode::Enter)
}

/// The console on `config`, dark theme, 120x35, its clock a minute on; no poll yet.
pub fn app(config: Config) -> App {
    let mut app = App::new(
        config,
        theme::resolve_builtin("dark").expect("the dark theme"),
        Options::default(),
        SystemTime::now(),
    );
    app.update(Msg::Resize(120, 35));
    app.update(Msg::Tick(SystemTime::now() + Duration::from_secs(60)));
    app
}

/// Carries out the action `fx` opens (`Effect::RunAction`) as the runtime does, feeding every
/// message back until the run has ended (bounded: `within`).
pub async fn run_to_end(app: &mut App, fx: Vec<Effect>, within: Duration) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for f in fx {
        match f {
            Effect::RunAction(job) => redops::tui::run::spawn(*job, tx.clone()),
            other => panic!("not an action's run: {other:?}"),
        }
    }
    let end = tokio::time::Instant::now() + within;
    loop {
        let m = tokio::time::timeout_at(end, rx.recv())
            .await
            .expect("the run ends in time")
            .expect("the task answers");
        let last = matches!(m, Msg::RunEnded(_));
        app.update(m);
        if last {
            return;
        }
    }
}
