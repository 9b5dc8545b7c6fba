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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::InfoRole;

    #[test]
    fn splits_on_the_first_colon_only() {
        let i = parse("master_host:::1\r\nmaster_port:6379\r\nrole:slave\r\n");
        assert_eq!(i.replication.master_host.as_deref(), Some("::1"));
        assert_eq!(i.replication.master_port, Some(6379));
        assert_eq!(i.field("", "master_host"), Some("::1"));
    }

    #[test]
    fn sections_are_lowercased_and_headerless_lines_kept_under_empty_name() {
        let i = parse("role:master\n# RePlication \nconnected_slaves:3\n#\nx:1\nno colon here\n");
        assert_eq!(i.replication.role, Some(InfoRole::Primary));
        assert_eq!(i.replication.connected_replicas, 3);
        assert_eq!(i.field("", "role"), Some("master"));
        assert_eq!(i.field("replication", "connected_slaves"), Some("3"));
        assert_eq!(i.field("", "x"), Some("1"));
        assert_eq!(i.raw.values().map(Vec::len).sum::<usize>(), 3);
    }

    #[test]
    fn last_duplicate_wins_and_raw_keeps_both() {
        let i = parse("master_repl_offset:5\r\nmaster_repl_offset:9\r\n");
        assert_eq!(i.replication.offset, Some(9));
        assert_eq!(i.raw[""].len(), 2);
    }

    #[test]
    fn garbage_values_become_none() {
        let i = parse(
            "master_repl_offset:-3\nmaster_port:70000\nmaster_link_status:maybe\n\
             loading_loaded_perc:NaN\nmaster_sync_perc:inf\nrdb_last_bgsave_status:\n\
             slave_read_only:yes\nrole:sentinel\nconnected_slaves:x\nrun_id:\n",
        );
        let r = &i.replication;
        assert_eq!((r.offset, r.master_port, r.link_up), (None, None, None));
        assert_eq!((r.sync_perc, r.read_only, r.role), (None, None, None));
        assert_eq!(r.connected_replicas, 0);
        assert_eq!(i.persistence.loading_perc, None);
        assert_eq!(i.persistence.last_bgsave_ok, None);
        assert_eq!(i.server.run_id, None);
    }

    #[test]
    fn replica_spelling_and_product_in_any_order() {
        let i = parse("role:replica\nvalkey_version:8.0.1\nserver_mode:cluster\nserver_name:valkey\nredis_version:7.2.4\n");
        assert_eq!(i.replication.role, Some(InfoRole::Replica));
        assert_eq!(i.server.product, Product::Valkey);
        assert_eq!(i.server.version.as_deref(), Some("8.0.1"));
        assert_eq!(i.server.mode.as_deref(), Some("cluster"));
        assert_eq!(parse("").server.version, None);
    }
}
