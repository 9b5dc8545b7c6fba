//! `redops check-config`: load and validate the config, print a summary or the error; with
//! `--json`, one JSON object on stdout either way (`config_valid` / `config_invalid`).

use clap::Args;
use serde_json::json;

use super::{output, TargetArgs, EXIT_OK, EXIT_USAGE};
use crate::config::{self, Config};

/// `redops check-config` options.
#[derive(Debug, Clone, Default, Args)]
pub struct CheckConfigArgs {
    /// One JSON object on stdout (the error too; schema in the README).
    #[arg(long)]
    pub json: bool,
}

/// Validates the config file named by `--config` (or the default location).
#[must_use]
pub fn run(targets: &TargetArgs, args: &CheckConfigArgs) -> u8 {
    let path = targets
        .config
        .clone()
        .unwrap_or_else(config::default_config_path);
    let shown = path.display().to_string();
    let loaded = config::load_file(&path).and_then(|cfg| {
        // The console would refuse an unknown theme at start: refuse it here, located.
        match crate::tui::theme::load(&cfg.console.theme, false) {
            Ok(_) => Ok(cfg),
            Err(e) => Err(config::value_error(
                &cfg,
                &["console", "theme"],
                &e.message,
                &e.hint,
            )),
        }
    });
    match loaded {
        Err(e) => {
            output::note(&e.to_string());
            if args.json {
                output::json(
                    &json!({"event": "config_invalid", "path": shown, "error": e.to_string()})
                        .to_string(),
                );
            }
            EXIT_USAGE
        }
        Ok(cfg) if args.json => {
            output::json(&valid_json(&shown, &cfg).to_string());
            EXIT_OK
        }
        Ok(cfg) => {
            output::line(&format!("{shown}: ok"));
            for g in &cfg.groups {
                let extra = traits(g);
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

/// `production`, `read-only`, `sentinel`, `cluster`: what sets a group apart.
fn traits(g: &config::Group) -> Vec<&'static str> {
    [
        (g.is_production(), "production"),
        (g.read_only, "read-only"),
        (g.sentinel.is_some(), "sentinel"),
        (g.cluster, "cluster"),
    ]
    .into_iter()
    .filter_map(|(on, word)| on.then_some(word))
    .collect()
}

fn valid_json(path: &str, cfg: &Config) -> serde_json::Value {
    let groups: Vec<serde_json::Value> = cfg
        .groups
        .iter()
        .map(|g| {
            json!({
                "name": g.name,
                "production": g.is_production(),
                "read_only": g.read_only,
                "sentinel": g.sentinel.is_some(),
                "cluster": g.cluster,
                "nodes": g.nodes.iter().map(|n| json!({
                    "name": n.name,
                    "addr": n.addr.to_string(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({"event": "config_valid", "path": path, "groups": groups})
}
