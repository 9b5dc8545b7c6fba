//! `redis://` and `rediss://` URLs as node addresses, the way operators paste them from
//! redis-cli: `redis://host[:port][/db]`, `rediss://` for TLS, `[v6]` hosts.
//!
//! Owns the URL shape only; `host:port` itself is read by [`super::Addr`]. A URL that carries a
//! user name or password is refused, and the refusal never repeats what stood before the `@`:
//! a password in a URL ends up in shell history and process lists.

use super::Addr;

/// An address as written: the server's `host:port` and what the spelling said beyond it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAddr {
    pub addr: Addr,
    /// Written as `rediss://`: the connection must use TLS.
    pub tls: bool,
    /// The port was written out (a bare host or `redis://host` means the default port).
    pub port_given: bool,
}

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    /// Not a usable `host:port` or URL; the message quotes the value and says why.
    #[error("{0}")]
    Invalid(String),
    /// A URL with a user name or password; `shown` has everything before the `@` masked.
    #[error(
        "'{shown}': a user name or password in a URL is refused (passwords in URLs end up in \
         shell history and process lists)"
    )]
    Credentials { shown: String },
    /// A URL that selects a database other than 0.
    #[error("'{shown}' selects database {db}; replication is per server, not per database")]
    Database { shown: String, db: String },
}

/// Reads `s` (trimmed) when it is written as a URL (`scheme://...`); `None` when it is not one.
pub(super) fn parse(s: &str) -> Option<Result<ParsedAddr, AddrError>> {
    let (scheme, rest) = s.split_once("://")?;
    Some(parse_url(s, scheme, rest))
}

fn parse_url(s: &str, scheme: &str, rest: &str) -> Result<ParsedAddr, AddrError> {
    // Checked first, before any message that would quote the value.
    if let Some((_, after)) = rest.rsplit_once('@') {
        return Err(AddrError::Credentials {
            shown: format!("{scheme}://***@{after}"),
        });
    }
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "redis" => false,
        "rediss" => true,
        _ => {
            return Err(AddrError::Invalid(format!(
                "'{s}': unknown scheme '{scheme}' (give host:port, redis://host:port or \
                 rediss://host:port)"
            )))
        }
    };
    if rest.contains(['?', '#']) {
        return Err(AddrError::Invalid(format!(
            "'{s}': URL options ('?...') are not read; give redis://host:port"
        )));
    }
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, p),
        None => (rest, ""),
    };
    match path {
        "" | "0" => {}
        db if db.chars().all(|c| c.is_ascii_digit()) => {
            return Err(AddrError::Database {
                shown: s.to_string(),
                db: db.to_string(),
            })
        }
        other => {
            return Err(AddrError::Invalid(format!(
                "'{s}': '/{other}' is not a database number"
            )))
        }
    }
    if authority.is_empty() {
        return Err(AddrError::Invalid(format!("'{s}' has no host")));
    }
    let (addr, port_given) = Addr::parse_host_port(authority).map_err(AddrError::Invalid)?;
    Ok(ParsedAddr {
        addr,
        tls,
        port_given,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> ParsedAddr {
        Addr::parse_full(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn urls_give_the_address_and_tls() {
        let p = ok("redis://127.0.0.1:7001");
        assert_eq!(
            (p.addr.to_string(), p.tls, p.port_given),
            ("127.0.0.1:7001".into(), false, true)
        );
        let p = ok("redis://cache-a");
        assert_eq!(
            (p.addr.to_string(), p.tls, p.port_given),
            ("cache-a:6379".into(), false, false)
        );
        let p = ok("rediss://cache-a:6380");
        assert_eq!((p.addr.to_string(), p.tls), ("cache-a:6380".into(), true));
        assert!(ok("REDISS://cache-a").tls);
        assert_eq!(ok("redis://[::1]:6379").addr.to_string(), "[::1]:6379");
        assert_eq!(ok("redis://[::1]").addr.port, 6379);
        for db0 in ["redis://h:1/", "redis://h:1/0", "  redis://h:1/0  "] {
            assert_eq!(ok(db0).addr.to_string(), "h:1", "{db0}");
        }
        // Plain addresses say nothing about TLS.
        let p = ok("10.0.0.1:6380");
        assert_eq!((p.tls, p.port_given), (false, true));
        assert!(!ok("cache-a").port_given);
    }

    #[test]
    fn credentials_are_refused_without_echoing_them() {
        for url in [
            "redis://user:hunter2@h:6379",
            "redis://:hunter2@h:6379",
            "rediss://hunter2@h",
            "redis://user:hun@ter2@h:6379/0",
            "ftp://user:hunter2@h",
        ] {
            let e = Addr::parse(url).expect_err(url);
            assert!(matches!(e, AddrError::Credentials { .. }), "{url}: {e:?}");
            let text = e.to_string();
            assert!(
                !text.contains("hunter2") && !text.contains("ter2"),
                "{text}"
            );
            assert!(!text.contains("user:"), "{text}");
            assert!(text.contains("shell history"), "{text}");
        }
        let e = Addr::parse("redis://u:pw@h:7000").unwrap_err().to_string();
        assert!(e.starts_with("'redis://***@h:7000'"), "{e}");
    }

    #[test]
    fn other_urls_are_refused_with_the_reason() {
        let db = Addr::parse("redis://h:6379/2").unwrap_err();
        assert_eq!(
            db,
            AddrError::Database {
                shown: "redis://h:6379/2".into(),
                db: "2".into()
            }
        );
        for (url, why) in [
            ("http://h:1", "unknown scheme 'http'"),
            ("redis://", "has no host"),
            ("redis:///0", "has no host"),
            ("redis://h:1/x", "not a database number"),
            ("redis://h:1?protocol=3", "options"),
            ("redis://h:0", "not a number from 1 to 65535"),
            ("redis://::1:7000", "[addr]:port"),
        ] {
            let e = Addr::parse(url).expect_err(url).to_string();
            assert!(e.contains(why), "{url}: {e}");
        }
    }
}
