//! `redops check-config`: load and validate the config, print a summary or the error.

use super::{output, TargetArgs, EXIT_OK, EXIT_USAGE};
use crate::config;

/// Validates the config file named by `--config` (or the default location).
#[must_use]
pub fn run(targets: &TargetArgs) -> u8 {
    let path = targets
        .config
        .clone()
        .unwrap_or_else(config::default_config_path);
    match config::load_file(&path) {
        Err(e) => {
            output::note(&e.to_string());
            EXIT_USAGE
        }
        Ok(cfg) => {
            // The console would refuse an unknown theme at start: refuse it here, located.
            if let Err(e) = crate::tui::theme::load(&cfg.console.theme, false) {
                let located = config::value_error(&cfg, &["console", "theme"], &e.message, &e.hint);
                output::note(&located.to_string());
                return EXIT_USAGE;
            }
            output::line(&format!("{}: ok", path.display()));
            for g in &cfg.groups {
                let mut extra = Vec::new();
                if g.is_production() {
                    extra.push("production".to_string());
                }
                if g.read_only {
                    extra.push("read-only".to_string());
                }
                if g.sentinel.is_some() {
                    extra.push("sentinel".to_string());
                }
                if g.cluster {
                    extra.push("cluster".to_string());
                }
                let extra = if extra.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", extra.join(", "))
                };
                let nodes: Vec<String> = g
                    .nodes
                    .iter()
                    .map(|n| format!("{}={}", n.name, n.addr))
                    .collect();
                output::line(&format!("  group {}{extra}: {}", g.name, nodes.join(" ")));
            }
            EXIT_OK
        }
    }
}
