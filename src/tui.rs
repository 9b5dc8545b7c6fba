//! The console: a ratatui front-end over the core's poller, fleet state, history and
//! topology.
//!
//! ```text
//! tui.rs          launch: resolve targets, pick the theme, run the console
//! tui/runtime     the event loop: terminal, crossterm events, observations, ticks, signals,
//!                 effects; draws only when something changed, at most ~30 frames a second
//! tui/app         model + `update(Msg) -> Vec<Effect>` (no I/O); app/navigate, app/prompt
//! tui/actions     the action keys: availability, requests, dialogs, runbook, start-up findings
//! tui/prepare     request -> the engine's plan (pure), scoped to one group like `--group`
//! tui/run         a confirmed plan run on a task (audit log, connections, engine, marks)
//! tui/runbook     the running action's steps, states and timings, from the engine's events
//! tui/view        `render(&App, &mut Frame)` (pure) and its panes
//! tui/keymap      the binding table (keys, help and footer from one place)
//! tui/modal       the modal stack: help, prompts, plan, confirmation, picker, notice
//! tui/next_step   the core's next step in the console's words (the key to press) and its offer
//! tui/command     `:` commands and completion
//! tui/events      the event log and its export
//! tui/theme       TOML themes: palette + semantic roles, embedded defaults, user overlay
//! tui/fmt         short text for numbers, ages, times and health words
//! ```
//!
//! Polls never run on the UI task: the poller's tasks send observations on a channel.

mod actions;
pub mod app;
pub mod command;
pub mod events;
pub mod fmt;
pub mod keymap;
pub mod modal;
pub mod next_step;
pub mod prepare;
pub mod run;
pub mod runbook;
pub mod runtime;
pub mod theme;
pub mod view;

use crate::cli::{output, Global, TargetArgs, EXIT_USAGE};
use crate::config::Config;

pub use app::{App, Effect, Msg, Options};
pub use theme::{Theme, ThemeError};

/// The side of a terminal the console lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTerminal {
    /// stdout is a pipe or a file: there is nowhere to draw.
    Output,
    /// Neither stdin nor a controlling terminal (`/dev/tty`) to read keys from.
    Input,
}

/// What the console lacks to run, if anything. It draws on stdout and reads keys from stdin
/// when that is a terminal, else from the controlling terminal, as crossterm does. Checked
/// before anything starts (targets, pollers, the demo's servers): from cron, a pipe or
/// `ssh host redops` without `-t`, raw mode would otherwise fail with a bare "No such device
/// or address (os error 6)".
#[must_use]
pub fn missing_terminal() -> Option<NoTerminal> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return Some(NoTerminal::Output);
    }
    let keys = std::io::stdin().is_terminal()
        || std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .is_ok();
    (!keys).then_some(NoTerminal::Input)
}

/// Opens the console on the targets; returns the process exit code.
pub async fn launch(targets: &TargetArgs, global: &Global) -> u8 {
    let config = match targets.resolve_or_report().await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let theme = match theme_for(&config, global) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let opts = Options {
        read_only: global.read_only || config.console.read_only,
        label: None,
        loss_file: targets.loss_memory(&config),
    };
    runtime::run(config, theme, opts).await
}

/// The theme asked for by `--theme` or `console.theme`, or exit code 2 after printing why.
///
/// # Errors
/// An unknown or broken theme: the message (with line and column) and hint are printed.
pub fn theme_for(config: &Config, global: &Global) -> Result<Theme, u8> {
    let name = global
        .theme
        .clone()
        .unwrap_or_else(|| config.console.theme.clone());
    theme::load(&name, theme::no_color_env()).map_err(|e| {
        if global.theme.is_none() {
            // From the config file: say where, as for any other config error.
            let located =
                crate::config::value_error(config, &["console", "theme"], &e.message, &e.hint);
            output::note(&located.to_string());
        } else {
            output::error(&e.message, Some(&e.hint));
        }
        EXIT_USAGE
    })
}
