//! The INFO text parser: splits the reply into sections and `field:value` lines, keeps every
//! line in `Info::raw`, and hands each field to `fields::apply` for the typed view.
//!
//! It is total: any `&str` gives an `Info` and nothing here can panic (no indexing, no unwrap).
//! It does no I/O and knows nothing about which sections were asked for.
//!
//! Rules (REDIS.md §1.1): lines end in `\r\n` (a bare `\n` is accepted too); `# Name` starts a
//! section; every other non-empty line is `field:value`, split on the **first** `:` only. Lines
//! without a `:` are ignored. Typed fields are filled by field name whatever section they sit
//! in, so a reply cut to one section, or with no headers at all, still parses. When a field
//! repeats, the last value wins in the typed view; `raw` keeps them all.

use super::{fields, lists, Info, Product};

/// Parses an INFO reply. Total: never panics, whatever the input.
///
/// Callers holding raw bytes should convert with `String::from_utf8_lossy` first.
#[must_use]
pub fn parse(text: &str) -> Info {
    let mut info = Info::default();
    let mut product = ProductHints::default();
    let mut section = String::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('#') {
            section = name.trim().to_lowercase();
            info.raw.entry(section.clone()).or_default();
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let pair = (name.to_string(), value.to_string());
        match info.raw.get_mut(&section) {
            Some(lines) => lines.push(pair),
            None => {
                info.raw.insert(section.clone(), vec![pair]);
            }
        }
        let (name, value) = (name.trim(), value.trim());
        product.note(name, value);
        fields::apply(&mut info, name, value);
    }
    product.resolve(&mut info);
    lists::finish(&mut info);
    info
}

/// The `# Server` fields that decide product and version. They can come in any order
/// (`redis_version` precedes `server_name` on Valkey), so they are resolved after the last line.
#[derive(Default)]
struct ProductHints {
    server_name: Option<String>,
    redis_version: Option<String>,
    valkey_version: Option<String>,
    redis_mode: Option<String>,
    server_mode: Option<String>,
}

impl ProductHints {
    fn note(&mut self, name: &str, value: &str) {
        let slot = match name {
            "server_name" => &mut self.server_name,
            "redis_version" => &mut self.redis_version,
            "valkey_version" => &mut self.valkey_version,
            "redis_mode" => &mut self.redis_mode,
            "server_mode" => &mut self.server_mode,
            _ => return,
        };
        *slot = Some(value.to_string());
    }

    /// REDIS.md §1.4: `server_name` present means Valkey, whose version is `valkey_version`
    /// (`redis_version` stays 7.2.4 there and must not be used). Mode is `server_mode`
    /// (Valkey 8+) or `redis_mode`.
    fn resolve(self, info: &mut Info) {
        let server = &mut info.server;
        if self.server_name.is_some() {
            server.product = Product::Valkey;
            server.version = self.valkey_version.filter(|v| !v.is_empty());
        } else {
            server.product = Product::Redis;
            server.version = self.redis_version.filter(|v| !v.is_empty());
        }
        server.mode = self
            .server_mode
            .or(self.redis_mode)
            .filter(|m| !m.is_empty());
    }
}
