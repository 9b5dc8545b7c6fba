//! `redops drill NAME`: the console on the drill's fresh sandbox, with the drill panel. The
//! headless runner's machinery plays the drill ([`crate::drill::Ready`]) beside the console;
//! its events reach the console's drill panel through a channel, the hints asked for with `h`
//! go back through a counter. The trainee acts with the console's ordinary keys: the actions
//! write the sandbox's audit log, which the runner reads as in the headless runner. Quitting
//! the console before the end stops the drill (its servers are stopped, no report written).

use std::io::Write as _;

use tokio::sync::mpsc;

use super::super::console::{exit_code, theme_for};
use super::{fail, output, Global, EXIT_OK, EXIT_PROBLEM};
use crate::drill::{self, DrillSpec, Report};
use crate::tui::runtime::DrillFeed;

/// Plays `spec` in the console; returns the exit code (0 passed, 1 failed, timed out or left).
pub async fn play(spec: DrillSpec, opts: &drill::Options, global: &Global) -> u8 {
    output::note(&format!(
        "redops drill {}: starting its sandbox...",
        spec.id
    ));
    let label = format!("drill {}", spec.id);
    let ready = match drill::Ready::start(spec, opts).await {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let config = ready.config().clone();
    let theme = match theme_for(&config, global) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let tui_opts = crate::tui::Options {
        read_only: global.read_only || config.console.read_only,
        label: Some(label),
        loss_file: None,
        sandbox_dir: None,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let feed = DrillFeed {
        events: rx,
        hint_asks: std::sync::Arc::clone(&opts.hint_asks),
    };
    let mut console = Box::pin(crate::tui::runtime::run_with(
        config,
        theme,
        tui_opts,
        Some(feed),
    ));
    let mut played = Box::pin(ready.play(opts, move |e| {
        let _ = tx.send(e);
    }));
    let mut outcome: Option<Result<Report, drill::DrillError>> = None;
    let end = loop {
        tokio::select! {
            end = &mut console => break end,
            r = &mut played, if outcome.is_none() => outcome = Some(r),
        }
    };
    let code = exit_code(end);
    if code != EXIT_OK {
        return code;
    }
    // Not `output::note`: after a hang-up stderr is gone and printing must not panic.
    let mut err = std::io::stderr();
    match outcome {
        None => {
            let _ = writeln!(
                err,
                "redops drill: left before its end; its servers are stopped, no report written"
            );
            EXIT_PROBLEM
        }
        Some(Err(e)) => fail(&e),
        Some(Ok(report)) => {
            let _ = write!(err, "{}", report.to_text());
            if let Some(p) = &report.path {
                let _ = writeln!(err, "report: {}", p.display());
            }
            if report.passed {
                EXIT_OK
            } else {
                EXIT_PROBLEM
            }
        }
    }
}
