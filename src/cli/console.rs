//! `redops` without a subcommand: the console. The CLI's side of it: resolve the targets and
//! the theme (printing what is wrong, exit code 2), run the console with a ready config, and
//! turn how it ended ([`ConsoleExit`]) into an exit code. The console itself never prints and
//! never sees a clap type.

use super::{output, Global, TargetArgs, EXIT_OK, EXIT_PROBLEM, EXIT_USAGE};
use crate::config::Config;
use crate::tui::{theme, ConsoleExit, Options, Theme};

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
        sandbox_dir: None,
    };
    exit_code(crate::tui::runtime::run(config, theme, opts).await)
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

/// The exit code for how the console ended; a failure is reported on stderr.
#[must_use]
pub fn exit_code(end: ConsoleExit) -> u8 {
    match end {
        ConsoleExit::Quit => EXIT_OK,
        ConsoleExit::Failed(e) => {
            // After a hang-up stderr may be gone too: `output` never panics on a failed write.
            output::error(&format!("the console failed: {e}"), None);
            EXIT_PROBLEM
        }
    }
}
