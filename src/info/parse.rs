//! The INFO text parser: splits the reply into `# Section` headers and `field:value` lines
//! (`lines`, shared with `raw.rs`), hands each field to `fields::apply` for the typed view, and
//! keeps the reply text itself as `Info::raw`.
//!
//! It is total: any `&str` gives an `Info` and nothing here can panic (no indexing, no unwrap).
//! It does no I/O and knows nothing about which sections were asked for. It allocates only for
//! the typed strings it keeps: polling hundreds of nodes a second parses hundreds of replies.
//!
//! Rules (REDIS.md §1.1): lines end in `\r\n` (a bare `\n` is accepted too); `# Name` starts a
//! section; every other non-empty line is `field:value`, split on the **first** `:` only. Lines
//! without a `:` are ignored. Typed fields are filled by field name whatever section they sit
//! in, so a reply cut to one section, or with no headers at all, still parses. When a field
//! repeats, the last value wins in the typed view; `raw` keeps them all.

use super::{fields, lists, Info, Product, RawInfo};

/// Parses an INFO reply. Total: never panics, whatever the input.
///
/// Callers holding raw bytes should convert with `String::from_utf8_lossy` first; callers that
/// own the reply should use [`parse_owned`], which keeps it without a copy.
#[must_use]
pub fn parse(text: &str) -> Info {
    parse_owned(text.to_owned())
}

/// As [`parse`], taking the reply by value: it becomes `Info::raw` as is.
#[must_use]
pub fn parse_owned(text: String) -> Info {
    let mut info = Info::default();
    let mut product = ProductHints::default();
    for line in lines(&text) {
        if let Line::Field(name, value) = line {
            let (name, value) = (trim(name), trim(value));
            if !product.note(name, value) {
                fields::apply(&mut info, name, value);
            }
        }
    }
    product.resolve(&mut info);
    lists::finish(&mut info);
    info.raw = RawInfo::new(text);
    info
}

/// One meaningful line of a reply; blank lines and lines without `:` are not lines here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Line<'a> {
    /// `# Name`: what follows the `#`, untrimmed and in its own case.
    Header(&'a str),
    /// `name:value`, split on the first `:`, both untrimmed.
    Field(&'a str, &'a str),
}

/// The lines of a reply, in order: `\n`-separated, one trailing `\r` dropped.
pub(super) fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        while !rest.is_empty() {
            let (end, colon) = scan_line(rest.as_bytes());
            let line = rest.get(..end).unwrap_or_default();
            rest = rest.get(end + 1..).unwrap_or_default();
            if let Some(l) = classify(line, colon) {
                return Some(l);
            }
        }
        None
    })
}

/// One `\n`-free line, `colon` the index of its first `:`.
fn classify(line: &str, colon: Option<usize>) -> Option<Line<'_>> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let first = *line.as_bytes().first()?;
    // Only a line starting with a space, a control byte or a non-ASCII char can be blank.
    if (first <= b' ' || !first.is_ascii()) && line.trim().is_empty() {
        return None;
    }
    if let Some(header) = line.strip_prefix('#') {
        return Some(Line::Header(header));
    }
    let colon = colon?;
    Some(Line::Field(line.get(..colon)?, line.get(colon + 1..)?))
}

/// The index of the first `\n` (or the length) and of the first `:` before it. Reads eight
/// bytes at a time: lines are ~25 bytes, too short for `memchr` to pay for its set-up twice
/// per line, and this is most of the parser's time.
fn scan_line(bytes: &[u8]) -> (usize, Option<usize>) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The lowest set high bit marks the first zero byte (bits above it may be spurious).
    let first_zero = |x: u64| {
        let z = x.wrapping_sub(ONES) & !x & HIGHS;
        (z != 0).then(|| (z.trailing_zeros() / 8) as usize)
    };
    let (newlines, colons) = (ONES * u64::from(b'\n'), ONES * u64::from(b':'));
    let mut colon = None;
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let word = u64::from_le_bytes(word);
        if colon.is_none() {
            colon = first_zero(word ^ colons).map(|i| base + i);
        }
        if let Some(i) = first_zero(word ^ newlines) {
            let end = base + i;
            return (end, colon.filter(|&c| c < end));
        }
        base += 8;
    }
    for (i, &b) in chunks.remainder().iter().enumerate() {
        if b == b'\n' {
            return (base + i, colon);
        }
        if b == b':' && colon.is_none() {
            colon = Some(base + i);
        }
    }
    (bytes.len(), colon)
}

/// `str::trim`, without the char walk when both ends are plainly not whitespace.
fn trim(s: &str) -> &str {
    let plain = |b: u8| b > b' ' && b.is_ascii();
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(&a), Some(&z)) if plain(a) && plain(z) => s,
        _ => s.trim(),
    }
}

/// The `# Server` fields that decide product and version. They can come in any order
/// (`redis_version` precedes `server_name` on Valkey), so they are resolved after the last line.
/// They borrow from the reply and become owned strings only in `resolve`.
#[derive(Default)]
struct ProductHints<'a> {
    server_name: Option<&'a str>,
    redis_version: Option<&'a str>,
    valkey_version: Option<&'a str>,
    redis_mode: Option<&'a str>,
    server_mode: Option<&'a str>,
}

impl<'a> ProductHints<'a> {
    /// Notes one of the five fields; false for any other name.
    fn note(&mut self, name: &str, value: &'a str) -> bool {
        let slot = match name {
            "server_name" => &mut self.server_name,
            "redis_version" => &mut self.redis_version,
            "valkey_version" => &mut self.valkey_version,
            "redis_mode" => &mut self.redis_mode,
            "server_mode" => &mut self.server_mode,
            _ => return false,
        };
        *slot = Some(value);
        true
    }

    /// REDIS.md §1.4: `server_name` present means Valkey, whose version is `valkey_version`
    /// (`redis_version` stays 7.2.4 there and must not be used). Mode is `server_mode`
    /// (Valkey 8+) or `redis_mode`.
    fn resolve(self, info: &mut Info) {
        let server = &mut info.server;
        if self.server_name.is_some() {
            server.product = Product::Valkey;
            server.version = owned(self.valkey_version);
        } else {
            server.product = Product::Redis;
            server.version = owned(self.redis_version);
        }
        server.mode = owned(self.server_mode.or(self.redis_mode));
    }
}

/// A non-empty value as an owned string.
fn owned(v: Option<&str>) -> Option<String> {
    v.filter(|v| !v.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::InfoRole;

    #[test]
    fn scan_line_finds_the_end_and_the_first_colon_at_any_offset() {
        for len in 0..40 {
            for nl in 0..=len {
                for colon in [None, Some(0), Some(nl / 2), Some(nl + 1)] {
                    let mut b = vec![b'x'; len];
                    if nl < len {
                        b[nl] = b'\n';
                    }
                    if let Some(c) = colon.filter(|&c| c < len && c != nl) {
                        b[c] = b':';
                    }
                    let want_end = b.iter().position(|&x| x == b'\n').unwrap_or(len);
                    let want_colon = b[..want_end].iter().position(|&x| x == b':');
                    assert_eq!(scan_line(&b), (want_end, want_colon), "{b:?}");
                }
            }
        }
        assert_eq!(scan_line(b"a:b:c\n:"), (5, Some(1)));
        assert_eq!(scan_line("é:\u{2028}\n".as_bytes()), (6, Some(2)));
    }

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
        assert_eq!(i.raw.len(), 3);
    }

    #[test]
    fn last_duplicate_wins_and_raw_keeps_both() {
        let i = parse("master_repl_offset:5\r\nmaster_repl_offset:9\r\n");
        assert_eq!(i.replication.offset, Some(9));
        assert_eq!(i.raw.section("").count(), 2);
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
