//! Turns the TOML parser's and serde's errors into [`ConfigError`]s an operator can act on.
//!
//! Owns: finding the dotted key path at a byte offset of the parsed document, "did you mean"
//! suggestions for unknown keys, and an example line for each key (the hint for wrong types).
//! It must not quote a value found under a key that may hold a password.

use std::ops::Range;

use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{quoted, ConfigError, ErrorKind};
use super::raw::{KEYS_CONSOLE, KEYS_GROUP, KEYS_NODE, KEYS_SENTINEL, KEYS_TOP};

/// A TOML syntax error (the document could not be parsed at all).
pub(super) fn syntax_error(err: &toml::de::Error) -> ConfigError {
    let detail = lower_first(err.message().trim()).replace('`', "'");
    let hint = if detail.contains("string") {
        "a string needs double quotes on both ends, on one line: name = \"cache-main\""
    } else if detail.contains("duplicate key") {
        "each key may appear once per table; remove one of them"
    } else if detail.contains("table") || detail.contains("array") {
        "write tables as [console], lists of tables as [[groups]] and [[groups.nodes]], \
         each defined once"
    } else {
        "check the TOML syntax here: key = value, strings in double quotes, tables in [brackets]"
    };
    let mut e = ConfigError::new(ErrorKind::Syntax, "invalid TOML")
        .with_detail(detail)
        .with_hint(hint);
    if let Some(span) = err.span() {
        e = e.with_span(span);
    }
    e
}

/// A serde error while mapping a parsed document onto the schema (unknown key, wrong type).
pub(super) fn schema_error(err: &toml::de::Error, root: &Spanned<DeTable<'_>>) -> ConfigError {
    let msg = err.message();
    let span = err.span();
    let path = span
        .as_ref()
        .map_or_else(Vec::new, |s| path_at(root, s.start));
    let key = format_path(&path);
    let table = table_of(&path);

    let e = if let Some(rest) = msg.strip_prefix("unknown field ") {
        let mut names = backticked(rest);
        let unknown = if names.is_empty() {
            String::new()
        } else {
            names.remove(0)
        };
        ConfigError::new(
            ErrorKind::UnknownKey,
            format!("unknown key {}", quoted(&unknown)),
        )
        .with_hint(unknown_key_hint(&unknown, &names, table))
    } else if let Some(rest) = msg.strip_prefix("duplicate field ") {
        let name = backticked(rest).into_iter().next().unwrap_or_default();
        ConfigError::new(
            ErrorKind::Duplicate,
            format!("key {} given twice", quoted(&name)),
        )
        .with_hint("keep one of them (preferred_master is another name for preferred_primary)")
    } else if let Some(rest) = msg.strip_prefix("invalid type: ") {
        let (found, expected) = rest
            .split_once(", expected ")
            .unwrap_or((rest, "another type"));
        let found = plain_found(found, may_hold_secret(&key));
        ConfigError::new(ErrorKind::WrongType, "wrong type")
            .with_detail(format!("expected {}, found {found}", plain_type(expected)))
            .with_hint(example_hint(&path))
    } else {
        // Anything else serde may say (invalid length, ...): keep its words, drop values.
        ConfigError::new(ErrorKind::WrongType, "unexpected value")
            .with_detail(lower_first(msg).replace('`', "'"))
            .with_hint(example_hint(&path))
    };
    let e = if key.is_empty() { e } else { e.with_key(key) };
    match span {
        Some(span) => e.with_span(span),
        None => e,
    }
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

/// The deepest key path whose key or value covers byte `offset` (empty when none does).
pub(super) fn path_at(root: &Spanned<DeTable<'_>>, offset: usize) -> Vec<Seg> {
    let mut path = Vec::new();
    search_table(root.get_ref(), offset, &mut path);
    path
}

fn covers(span: &Range<usize>, offset: usize) -> bool {
    span.contains(&offset) || (span.is_empty() && span.start == offset)
}

fn search_table(table: &DeTable<'_>, offset: usize, path: &mut Vec<Seg>) -> bool {
    for (k, v) in table {
        path.push(Seg::Key(k.get_ref().to_string()));
        if search_value(v.get_ref(), offset, path)
            || covers(&k.span(), offset)
            || covers(&v.span(), offset)
        {
            return true;
        }
        path.pop();
    }
    false
}

fn search_value(value: &DeValue<'_>, offset: usize, path: &mut Vec<Seg>) -> bool {
    match value {
        DeValue::Table(t) => search_table(t, offset, path),
        DeValue::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                if search_value(v.get_ref(), offset, path) || covers(&v.span(), offset) {
                    return true;
                }
                path.pop();
            }
            false
        }
        _ => false,
    }
}

/// `groups[0].nodes[1].addr`; keys that are not bare TOML keys are double-quoted.
pub(super) fn format_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                let bare = !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if bare {
                    out.push_str(k);
                } else {
                    out.push_str(&format!("{k:?}"));
                }
            }
        }
    }
    out
}

/// The tables of the schema, for hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    Top,
    Console,
    Group,
    Node,
    Sentinel,
    Other,
}

impl Table {
    fn keys(self) -> &'static [&'static str] {
        match self {
            Table::Top => KEYS_TOP,
            Table::Console => KEYS_CONSOLE,
            Table::Group => KEYS_GROUP,
            Table::Node => KEYS_NODE,
            Table::Sentinel => KEYS_SENTINEL,
            Table::Other => &[],
        }
    }

    fn title(self) -> &'static str {
        match self {
            Table::Top => "the top level",
            Table::Console => "[console]",
            Table::Group => "[[groups]]",
            Table::Node => "[[groups.nodes]]",
            Table::Sentinel => "sentinel = { ... }",
            Table::Other => "this table",
        }
    }
}

/// The table that holds the last key of `path`.
fn table_of(path: &[Seg]) -> Table {
    let parent = &path[..path.len().saturating_sub(1)];
    let shape: Vec<&str> = parent
        .iter()
        .map(|s| match s {
            Seg::Key(k) => k.as_str(),
            Seg::Index(_) => "[]",
        })
        .collect();
    match shape.as_slice() {
        [] => Table::Top,
        ["console"] => Table::Console,
        ["groups", "[]"] => Table::Group,
        ["groups", "[]", "nodes", "[]"] => Table::Node,
        ["groups", "[]", "sentinel"] => Table::Sentinel,
        _ => Table::Other,
    }
}

/// Keys (or misspellings) an operator might use to write a password inline.
const PASSWORD_WORDS: &[&str] = &[
    "password",
    "pass",
    "passwd",
    "requirepass",
    "masterauth",
    "auth",
    "secret",
];

/// True for keys whose value must never be echoed.
pub(super) fn may_hold_secret(key: &str) -> bool {
    let leaf = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    leaf.contains("pass") || leaf.contains("secret") || leaf.contains("auth")
}

fn unknown_key_hint(unknown: &str, expected: &[String], table: Table) -> String {
    let normal = unknown.to_ascii_lowercase().replace('-', "_");
    if PASSWORD_WORDS.contains(&normal.as_str()) {
        return "passwords are not written in the config: set password_env = \"VAR\" (the \
                environment variable holding it) or password_file = \"/path\""
            .to_string();
    }
    let known: Vec<&str> = if expected.is_empty() {
        table.keys().to_vec()
    } else {
        expected.iter().map(String::as_str).collect()
    };
    if let Some(near) = nearest(&normal, &known) {
        return format!("did you mean '{near}'?");
    }
    for other in [
        Table::Top,
        Table::Console,
        Table::Group,
        Table::Node,
        Table::Sentinel,
    ] {
        if other != table && other.keys().contains(&normal.as_str()) {
            return format!(
                "'{normal}' belongs in {}, not in {}",
                other.title(),
                table.title()
            );
        }
    }
    if known.is_empty() {
        "remove it".to_string()
    } else {
        format!("known keys here: {}", known.join(", "))
    }
}

/// The known key closest to `word`, if it is close enough to be a typo.
pub(super) fn nearest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let (best, dist) = known
        .iter()
        .map(|k| (*k, edit_distance(word, k)))
        .min_by_key(|(_, d)| *d)?;
    let limit = (word.chars().count() / 3).clamp(1, 3);
    (dist <= limit).then_some(best)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Every `` `word` `` in serde's message, in order.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// serde's description of the value found (such as integer \`5\` or map) in operator words, with
/// the value quoted, or left out when the key may hold a secret.
fn plain_found(found: &str, secret: bool) -> String {
    let (kind, value) = match found.split_once(' ') {
        Some((kind, value)) => (kind, Some(value)),
        None => (found, None),
    };
    let kind = match kind {
        "map" => "a table",
        "sequence" => "a list",
        "floating" => "floating point",
        other => other,
    };
    let value = value
        .map(|v| v.trim_start_matches("point ").trim_end_matches(" as i128"))
        .map(|v| v.trim_matches(|c| c == '`' || c == '"'));
    match value {
        Some(v) if !secret && !v.is_empty() => format!("{kind} {}", quoted(v)),
        _ => kind.to_string(),
    }
}

/// serde's type names in operator words.
fn plain_type(expected: &str) -> String {
    if expected.contains("struct") || expected.contains("map") {
        "a table".to_string()
    } else if expected.contains("sequence") {
        "a list".to_string()
    } else if expected.len() > 1
        && (expected.starts_with('i') || expected.starts_with('u'))
        && expected[1..].chars().all(|c| c.is_ascii_digit())
    {
        "a whole number".to_string()
    } else if expected == "f64" {
        "a number".to_string()
    } else {
        expected.to_string()
    }
}

fn example_hint(path: &[Seg]) -> String {
    let leaf = path.iter().rev().find_map(|s| match s {
        Seg::Key(k) => Some(k.as_str()),
        Seg::Index(_) => None,
    });
    match leaf.and_then(example) {
        Some(line) => format!("write it like: {line}"),
        None => "see sample-configs/full.toml for the expected form of each key".to_string(),
    }
}

/// An example line for each key of the schema.
pub(super) fn example(key: &str) -> Option<&'static str> {
    Some(match key {
        "console" => "[console] followed by its keys, e.g. poll_interval = \"1s\"",
        "groups" => "[[groups]] (double brackets) once per group",
        "nodes" => "[[groups.nodes]] (double brackets) once per node, under its [[groups]]",
        "poll_interval" => "poll_interval = \"1s\"",
        "connect_timeout" => "connect_timeout = \"1s\"",
        "timeout" => "timeout = \"1s\"",
        "theme" => "theme = \"dark\"",
        "read_only" => "read_only = false",
        "audit_log" => "audit_log = \"~/.local/share/redops/audit.jsonl\"",
        "backups_dir" => "backups_dir = \"~/.local/share/redops/backups\"",
        "history_len" => "history_len = 600",
        "download_timeout" => "download_timeout = \"10m\"",
        "name" => "name = \"cache-main\"",
        "env" => "env = \"production\"",
        "preferred_primary" | "preferred_master" => "preferred_primary = \"m1\"",
        "lag_warn_bytes" => "lag_warn_bytes = 1_048_576",
        "lag_crit_bytes" => "lag_crit_bytes = 16_777_216",
        "lag_warn_seconds" => "lag_warn_seconds = 5.0",
        "lag_crit_seconds" => "lag_crit_seconds = 30.0",
        "cluster" => "cluster = false",
        "sentinel" => "sentinel = { addrs = [\"10.0.0.5:26379\"], master_name = \"mymaster\" }",
        "addrs" => "addrs = [\"10.0.0.5:26379\", \"10.0.0.6:26379\"]",
        "master_name" => "master_name = \"mymaster\"",
        "username" => "username = \"ops\"",
        "password_env" => "password_env = \"REDIS_OPS_PASSWORD\"",
        "password_file" => "password_file = \"/etc/redops/password\"",
        "tls" => "tls = true",
        "ca_file" => "ca_file = \"/etc/redops/ca.pem\"",
        "addr" => "addr = \"10.0.0.11:6379\"",
        _ => return None,
    })
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let known = ["poll_interval", "connect_timeout", "timeout", "theme"];
        assert_eq!(nearest("pol_interval", &known), Some("poll_interval"));
        assert_eq!(nearest("timout", &known), Some("timeout"));
        assert_eq!(nearest("colour", &known), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn paths_at_offsets() {
        let text = "[console]\ntheme = \"x\"\n[[groups]]\nname = \"a\"\n[[groups.nodes]]\n\
                    addr = \"h:1\"\n[[groups.nodes]]\naddr = \"h:2\"\n";
        let root = DeTable::parse(text).unwrap();
        let at = |needle: &str| format_path(&path_at(&root, text.find(needle).unwrap()));
        assert_eq!(at("\"x\""), "console.theme");
        assert_eq!(at("\"a\""), "groups[0].name");
        assert_eq!(at("\"h:2\""), "groups[0].nodes[1].addr");
        assert_eq!(at("addr"), "groups[0].nodes[0].addr");
    }

    #[test]
    fn secretish_keys() {
        assert!(may_hold_secret("groups[0].password_env"));
        assert!(may_hold_secret("groups[0].nodes[1].password"));
        assert!(!may_hold_secret("groups[0].nodes[1].addr"));
    }
}
