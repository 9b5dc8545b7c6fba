//! From the raw schema to the validated [`Config`](super::Config): defaults, checks, secrets.
//!
//! Owns the `[console]` checks and the helpers every `validate_*` function shares (durations,
//! names, paths, quoting). Groups and nodes are in `validate/group.rs`, connection settings
//! (username, password, TLS) in `validate/connection.rs`. Each check returns the first problem
//! as a [`ConfigError`] with the key path and the span of the offending value. Reads the
//! environment only through [`Ctx::env`], and files only for passwords and CA bundles.

mod connection;
mod group;

use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{quoted, ConfigError, ErrorKind};
use super::load::expand_tilde_with;
use super::raw::{RawConfig, RawConsole, S};
use super::{data_dir_from, parse_duration, Console, Group};

pub(super) use group::validate_groups;

/// What validation may read besides the text: environment variables and the config's folder.
pub(super) struct Ctx<'a> {
    /// Looks up an environment variable (the process environment, or a map in tests).
    pub env: &'a dyn Fn(&str) -> Option<OsString>,
    /// Relative paths in the file are taken from here (the config file's folder).
    pub base_dir: Option<&'a Path>,
}

impl Ctx<'_> {
    /// A path as written in the config: `~` expanded, relative paths from the config's folder.
    pub fn resolve_path(&self, written: &str) -> PathBuf {
        let path = expand_tilde_with(written, (self.env)("HOME"));
        match self.base_dir {
            Some(base) if path.is_relative() => base.join(path),
            _ => path,
        }
    }
}

type Result<T> = std::result::Result<T, ConfigError>;

/// The shortest poll interval accepted: faster polling only loads the servers.
pub(super) const MIN_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Bounds of `history_len`.
pub(super) const HISTORY_LEN: std::ops::RangeInclusive<i64> = 10..=100_000;

/// Validates the whole file.
pub(super) fn validate_config(raw: &RawConfig, ctx: &Ctx<'_>) -> Result<(Console, Vec<Group>)> {
    let console = validate_console(raw.console.as_ref().map(S::get_ref), ctx)?;
    let groups = validate_groups(raw.groups.as_ref(), ctx)?;
    Ok((console, groups))
}

/// `[console]`, merged over the defaults.
fn validate_console(raw: Option<&RawConsole>, ctx: &Ctx<'_>) -> Result<Console> {
    let mut console = Console::with_data_dir(&data_dir_from(ctx.env));
    let Some(raw) = raw else {
        return Ok(console);
    };
    if let Some(v) = &raw.poll_interval {
        let key = "console.poll_interval";
        console.poll_interval = validate_duration(v, key)?;
        if console.poll_interval < MIN_POLL_INTERVAL {
            return Err(invalid(v, key, "poll interval too short")
                .with_detail("the minimum is 100ms")
                .with_hint("polling faster than every 100ms only loads the servers; write \"100ms\" or more"));
        }
    }
    if let Some(v) = &raw.connect_timeout {
        console.connect_timeout = validate_timeout(v, "console.connect_timeout")?;
    }
    if let Some(v) = &raw.timeout {
        console.timeout = validate_timeout(v, "console.timeout")?;
    }
    if let Some(v) = &raw.theme {
        if v.get_ref().trim().is_empty() {
            return Err(empty(v, "console.theme", "theme = \"dark\""));
        }
        console.theme.clone_from(v.get_ref());
    }
    if let Some(v) = &raw.read_only {
        console.read_only = *v.get_ref();
    }
    if let Some(v) = &raw.audit_log {
        console.audit_log = validate_path(v, "console.audit_log", ctx)?;
    }
    if let Some(v) = &raw.backups_dir {
        console.backups_dir = validate_path(v, "console.backups_dir", ctx)?;
    }
    if let Some(v) = &raw.history_len {
        let n = *v.get_ref();
        if !HISTORY_LEN.contains(&n) {
            return Err(ConfigError::new(
                ErrorKind::InvalidValue,
                format!("history length '{n}' out of range"),
            )
            .with_key("console.history_len")
            .with_span(v.span())
            .with_detail("it must be from 10 to 100000 samples per node")
            .with_hint("600 samples keep 10 minutes at a 1s poll interval"));
        }
        console.history_len = usize::try_from(n).unwrap_or(600);
    }
    if let Some(v) = &raw.download_timeout {
        console.download_timeout = validate_timeout(v, "console.download_timeout")?;
    }
    Ok(console)
}

/// A duration string such as `"500ms"`.
pub(super) fn validate_duration(v: &S<String>, key: &str) -> Result<Duration> {
    let written = v.get_ref();
    parse_duration(written).map_err(|msg| {
        let reason = msg.split("; ").next().unwrap_or(&msg);
        invalid(v, key, format!("invalid duration {}", quoted(written)))
            .with_detail(strip_value(reason, written))
            .with_hint("write it like \"500ms\", \"1s\" or \"2m\" (units: ms, s, m, h)")
    })
}

/// A duration that must be more than zero.
fn validate_timeout(v: &S<String>, key: &str) -> Result<Duration> {
    let d = validate_duration(v, key)?;
    if d.is_zero() {
        return Err(
            invalid(v, key, format!("zero timeout {}", quoted(v.get_ref())))
                .with_detail("a zero timeout would fail every call")
                .with_hint("give a positive duration, e.g. \"1s\""),
        );
    }
    Ok(d)
}

/// A file or folder path: not empty, `~` expanded.
fn validate_path(v: &S<String>, key: &str, ctx: &Ctx<'_>) -> Result<PathBuf> {
    let written = v.get_ref();
    if written.trim().is_empty() {
        return Err(empty(
            v,
            key,
            "a path such as \"~/.local/share/redops/audit.jsonl\"",
        ));
    }
    Ok(ctx.resolve_path(written))
}

/// A group or node name: present, not empty, no spaces or control characters.
pub(super) fn validate_name(
    v: Option<&S<String>>,
    table_span: Range<usize>,
    key: &str,
    example: &str,
) -> Result<String> {
    let Some(v) = v else {
        return Err(ConfigError::new(ErrorKind::MissingKey, "missing key")
            .with_key(key)
            .with_span(table_span)
            .with_hint(format!(
                "every entry needs a name: add name = \"{example}\""
            )));
    };
    let name = v.get_ref();
    if name.is_empty() {
        return Err(empty(v, key, &format!("name = \"{example}\"")));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(v, key, format!("invalid name {}", quoted(name)))
            .with_detail("a name may not contain spaces or control characters")
            .with_hint(format!(
                "use letters, digits, '-', '_' or '.', e.g. \"{example}\""
            )));
    }
    Ok(name.clone())
}

/// An `InvalidValue` error at `v`.
pub(super) fn invalid<T>(v: &S<T>, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::new(ErrorKind::InvalidValue, message)
        .with_key(key)
        .with_span(v.span())
}

/// An "empty value" error at `v`, with an example of a proper one.
pub(super) fn empty<T>(v: &S<T>, key: &str, example: &str) -> ConfigError {
    invalid(v, key, "empty value").with_hint(format!("write it like: {example}, or remove the key"))
}

/// Rewrites a message from `Addr::parse` or `parse_duration` that starts with the quoted value
/// (already shown in our own message) so the value is not said twice.
pub(super) fn strip_value(message: &str, value: &str) -> String {
    let q = quoted(value.trim());
    if let Some(rest) = message.strip_prefix(&format!("{q}: ")) {
        rest.to_string()
    } else if let Some(rest) = message.strip_prefix(&format!("{q} ")) {
        format!("it {rest}")
    } else {
        message.to_string()
    }
}

/// An I/O error in operator words.
pub(super) fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "no such file".to_string(),
        K::PermissionDenied => "permission denied".to_string(),
        K::IsADirectory => "it is a directory".to_string(),
        K::InvalidData => "it is not valid UTF-8 text".to_string(),
        // From `read_small_file`: "a FIFO, not a regular file", "larger than 4 MB".
        K::InvalidInput | K::FileTooLarge => e.to_string(),
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            text.to_lowercase()
        }
    }
}
