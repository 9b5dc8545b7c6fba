//! Reading a config file into a validated [`Config`](super::Config), and where that file lives.
//!
//! The pipeline is: read the file -> parse TOML (syntax errors) -> map onto the raw schema in
//! `raw.rs` (unknown keys, wrong types; see `diagnose.rs`) -> `validate.rs` (values, defaults,
//! passwords) -> every error gets its file, line and column here. Nothing here prints.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::DeTable;

use super::diagnose::{schema_error, syntax_error};
use super::error::{quoted, ConfigError, ErrorKind};
use super::raw::RawConfig;
use super::validate::{validate_config, Ctx};
use super::Config;

/// The fully commented default configuration (also `sample-configs/full.toml`): every key,
/// set to its default or shown commented out with an example.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../../sample-configs/full.toml");

/// `$XDG_CONFIG_HOME/redops/config.toml` when `XDG_CONFIG_HOME` is set and not empty, else
/// `$HOME/.config/redops/config.toml` (`.config/redops/config.toml` without a `HOME`).
#[must_use]
pub fn default_config_path() -> PathBuf {
    default_config_path_from(&|name| std::env::var_os(name))
}

fn default_config_path_from(env: &dyn Fn(&str) -> Option<OsString>) -> PathBuf {
    let non_empty = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = non_empty("XDG_CONFIG_HOME")
        .or_else(|| non_empty("HOME").map(|home| home.join(".config")))
        .unwrap_or_else(|| PathBuf::from(".config"));
    base.join("redops").join("config.toml")
}

/// Loads and validates a config file, reading passwords from the process environment.
///
/// # Errors
/// A missing or unreadable file, a TOML syntax error, an unknown key, a wrong type, or a value
/// that does not validate; each with the file, line, column, key and a hint.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    load_file_with_env(path, &|name| std::env::var_os(name))
}

/// [`load_file`] with environment variables looked up through `env` (for tests and callers
/// that carry their own environment).
///
/// # Errors
/// As [`load_file`].
pub fn load_file_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Config, ConfigError> {
    let shown = quoted(&path.display().to_string());
    let text = super::read_small_text(path).map_err(|e| {
        let (kind, message, hint) = match e.kind() {
            std::io::ErrorKind::NotFound => (
                ErrorKind::NotFound,
                format!("config file {shown} not found"),
                "create one (sample-configs/full.toml lists every key), or use --node ADDR to \
                 watch a node without a config, or run `redops sandbox` to try redops on local \
                 servers",
            ),
            _ => (
                ErrorKind::Unreadable,
                format!(
                    "cannot read config file {shown}: {}",
                    super::validate::io_reason(&e)
                ),
                "check that the path names a UTF-8 text file readable by this user",
            ),
        };
        ConfigError::new(kind, message)
            .with_hint(hint)
            .with_file(Some(path))
    })?;
    load_str_with_env(&text, Some(path), env)
}

/// Loads and validates config text; `path` names it in errors and anchors relative paths.
///
/// # Errors
/// As [`load_file`], except the file cannot be missing.
pub fn load_str(text: &str, path: Option<&Path>) -> Result<Config, ConfigError> {
    load_str_with_env(text, path, &|name| std::env::var_os(name))
}

/// [`load_str`] with environment variables (`password_env`, `HOME`, `XDG_DATA_HOME`) looked up
/// through `env` instead of the process environment.
///
/// # Errors
/// As [`load_str`].
pub fn load_str_with_env(
    text: &str,
    path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Config, ConfigError> {
    let base_dir = path.and_then(Path::parent);
    let ctx = Ctx { env, base_dir };
    parse_and_validate(text, &ctx)
        .map(|(console, groups)| Config {
            console,
            groups,
            source: path.map(Path::to_path_buf),
        })
        .map_err(|e| e.locate(text, path))
}

fn parse_and_validate(
    text: &str,
    ctx: &Ctx<'_>,
) -> Result<(super::Console, Vec<super::Group>), ConfigError> {
    let root = DeTable::parse(text).map_err(|e| syntax_error(&e))?;
    let raw = RawConfig::deserialize(toml::de::Deserializer::from(root.clone()))
        .map_err(|e| schema_error(&e, &root))?;
    validate_config(&raw, ctx)
}

/// Expands a leading `~` or `~/` to `$HOME`; anything else (including `~user`) is unchanged.
#[must_use]
pub fn expand_tilde(path: &str) -> PathBuf {
    expand_tilde_with(path, std::env::var_os("HOME"))
}

/// [`expand_tilde`] with `$HOME` given (tests, and callers that read it once).
#[must_use]
pub fn expand_tilde_with(path: &str, home: Option<OsString>) -> PathBuf {
    let home = home.filter(|h| !h.is_empty()).map(PathBuf::from);
    match (path, home) {
        ("~", Some(home)) => home,
        (p, Some(home)) if p.starts_with("~/") => home.join(&p[2..]),
        (p, _) => PathBuf::from(p),
    }
}

#[cfg(test)]
mod tests;

/// An error about a value the loader accepted but a front-end cannot use (an unknown theme in
/// `console.theme`): located at that key of the config file the config was loaded from, like
/// every other config error. Without a file, or when the key is not in it, the error has the
/// key but no line and column.
#[must_use]
pub fn value_error(config: &Config, key: &[&str], message: &str, hint: &str) -> ConfigError {
    let mut e = ConfigError::new(ErrorKind::InvalidValue, message)
        .with_key(key.join("."))
        .with_hint(hint);
    let Some(path) = config.source.as_deref() else {
        return e;
    };
    let text = super::read_small_text(path).unwrap_or_default();
    if let Some(span) = value_span(&text, key) {
        e = e.with_span(span);
    }
    e.locate(&text, Some(path))
}

/// The byte range of the value at `key` (a path of table keys) in a TOML text.
fn value_span(text: &str, key: &[&str]) -> Option<std::ops::Range<usize>> {
    let root = DeTable::parse(text).ok()?;
    let (last, tables) = key.split_last()?;
    let mut table = root.get_ref();
    for k in tables {
        match table.get(*k)?.get_ref() {
            toml::de::DeValue::Table(t) => table = t,
            _ => return None,
        }
    }
    Some(table.get(*last)?.span())
}
