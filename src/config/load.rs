//! Reading the TOML file into a validated [`Config`](super::Config). (Placeholder: being written.)

use std::path::{Path, PathBuf};

use super::Config;

/// The fully commented default configuration (also `sample-configs/full.toml`).
pub const DEFAULT_CONFIG_TOML: &str = "";

/// A configuration problem, with where it is and a hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub message: String,
}

/// `$XDG_CONFIG_HOME/redops/config.toml`, else `~/.config/redops/config.toml`.
#[must_use]
pub fn default_config_path() -> PathBuf {
    PathBuf::from("config.toml")
}

/// Loads and validates a config file.
///
/// # Errors
/// Any problem with the file, its syntax or its values.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        message: e.to_string(),
    })?;
    load_str(&text, Some(path))
}

/// Loads and validates config text; `path` is used in messages.
///
/// # Errors
/// Any problem with the syntax or the values.
pub fn load_str(_text: &str, _path: Option<&Path>) -> Result<Config, ConfigError> {
    Err(ConfigError {
        message: "not yet".into(),
    })
}
