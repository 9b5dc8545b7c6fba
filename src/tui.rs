//! The console: a ratatui front-end over the core's poller and monitor (fleet state, history,
//! topology, changes).
//!
//! It never reaches into the CLI: the CLI resolves the targets, picks the theme, prints what
//! went wrong, and hands [`runtime::run`] a ready config; the console answers with a typed
//! [`ConsoleExit`] that the CLI turns into an exit code.
//!
//! ```text
//! tui.rs          what the console needs to run (a terminal) and how it ended
//! tui/runtime     the event loop: terminal, crossterm events, observations, ticks, signals,
//!                 effects; draws only when something changed, at most ~30 frames a second
//! tui/app         model + `update(Msg) -> Vec<Effect>` (no I/O); app/navigate, app/prompt
//! tui/actions     the action keys: availability, requests, dialogs, runbook, start-up findings
//! tui/prepare     request -> the engine's plan (pure), scoped to one group like `--group`
//! tui/run         a confirmed plan run on a task (audit log, connections, engine, marks)
//! tui/checks      a restore test and a consistency check run on tasks, recorded and audited
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
pub mod checks;
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

pub use app::{App, Effect, Msg, Options};
pub use theme::{Theme, ThemeError};

/// How the console ended.
#[derive(Debug)]
pub enum ConsoleExit {
    /// The operator quit (`q`, or SIGTERM / SIGHUP / SIGINT).
    Quit,
    /// The terminal failed: it could not be set up, read or drawn on.
    Failed(std::io::Error),
}

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
