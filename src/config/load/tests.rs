//! Tests of loading: one per error case (kind, key, line:column, hint), the shipped samples,
//! the defaults, inheritance, paths, and that no password ever shows. Shared helpers here;
//! error cases in `tests/errors.rs` and `tests/secrets.rs` beside this file, valid files in
//! `tests/loading.rs`.

mod errors;
mod loading;
mod secrets;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

use super::load_str_with_env;
use crate::config::{Config, ConfigError, ErrorKind, Location};

pub(super) const SECRET: &str = "hunter2-very-secret";
pub(super) const FILE: &str = "/etc/redops/config.toml";

pub(super) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let map: HashMap<String, OsString> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), OsString::from(v)))
        .collect();
    move |name| map.get(name).cloned()
}

pub(super) fn test_env() -> impl Fn(&str) -> Option<OsString> {
    env_of(&[
        ("HOME", "/home/op"),
        ("REDIS_OPS_PASSWORD", SECRET),
        ("EMPTY_PASSWORD", ""),
    ])
}

pub(super) fn load(text: &str) -> Result<Config, ConfigError> {
    load_str_with_env(text, Some(Path::new(FILE)), &test_env())
}

pub(super) fn err(text: &str) -> ConfigError {
    match load(text) {
        Ok(c) => panic!("expected an error, loaded {c:?}"),
        Err(e) => e,
    }
}

/// Checks every part of an error and that its Display carries them (and no secret).
#[track_caller]
pub(super) fn check(
    e: &ConfigError,
    kind: ErrorKind,
    key: Option<&str>,
    line: usize,
    column: usize,
) {
    assert_eq!(e.kind(), kind, "{e}");
    assert_eq!(e.key(), key, "{e}");
    assert_eq!(e.location(), Some(Location { line, column }), "{e}");
    assert_eq!(e.file(), Some(Path::new(FILE)));
    assert!(!e.hint().is_empty(), "no hint: {e}");
    let shown = e.to_string();
    assert!(shown.starts_with("error: "), "{shown}");
    assert!(
        shown.contains(&format!("--> {FILE}:{line}:{column}")),
        "{shown}"
    );
    assert!(shown.contains("\n  hint: "), "{shown}");
    if let Some(key) = key {
        assert!(shown.contains(&format!(" at {key}")), "{shown}");
    }
    assert_no_secret(e);
}

#[track_caller]
pub(super) fn assert_no_secret(e: &ConfigError) {
    assert!(!e.to_string().contains(SECRET), "{e}");
    assert!(!format!("{e:?}").contains(SECRET), "{e:?}");
}

/// A valid group to append error cases to.
pub(super) const GROUP: &str =
    "[[groups]]\nname = \"g\"\n[[groups.nodes]]\nname = \"m1\"\naddr = \"127.0.0.1:6379\"\n";
