//! The resolved configuration every other module works from.
//!
//! This file owns the *validated* types. Reading the TOML file lives in `config/load.rs`
//! (pipeline), `config/raw.rs` (serde schema, unknown keys rejected), `config/diagnose.rs`
//! (TOML and serde errors), `config/validate.rs` (values, defaults, passwords) and
//! `config/error.rs` (errors with file/line/column/key/hint); secrets in `config/secret.rs`.
//! Nothing here talks to the network or prints.

mod diagnose;
mod error;
mod file;
mod load;
mod raw;
mod secret;
mod url;
mod validate;

pub use error::{ConfigError, ErrorKind, Location};
pub use file::{create_private_dir, read_small_file, read_small_text, MAX_FILE_BYTES};
pub use load::{
    default_config_path, expand_tilde, expand_tilde_with, load_file, load_file_with_env, load_str,
    load_str_with_env, value_error, DEFAULT_CONFIG_TOML,
};
pub use secret::Secret;
pub use url::{AddrError, ParsedAddr};

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything redops knows about what to watch and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub console: Console,
    pub groups: Vec<Group>,
    /// The file this came from, if any (ad-hoc `--node` targets have none).
    pub source: Option<PathBuf>,
}

/// `[console]`: how the console polls and behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Console {
    pub poll_interval: Duration,
    pub connect_timeout: Duration,
    /// Read timeout applied to every command.
    pub timeout: Duration,
    pub theme: String,
    pub read_only: bool,
    pub audit_log: PathBuf,
    pub backups_dir: PathBuf,
    /// Samples kept per node in the history ring buffers.
    pub history_len: usize,
    /// The longest one RDB download may take, connect to fsync (the snapshot gate before a
    /// repoint or rejoin, `--download` of snapshot, switchover and failback).
    pub download_timeout: Duration,
}

/// The default of `console.download_timeout`: ten minutes, enough for a few GB on a LAN.
pub const DEFAULT_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

impl Default for Console {
    fn default() -> Self {
        Self::with_data_dir(&data_dir())
    }
}

impl Console {
    /// The defaults, with the audit log and backups under `data_dir`.
    #[must_use]
    pub fn with_data_dir(data_dir: &Path) -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            theme: "dark".to_string(),
            read_only: false,
            audit_log: data_dir.join("audit.jsonl"),
            backups_dir: data_dir.join("backups"),
            history_len: 600,
            download_timeout: DEFAULT_DOWNLOAD_TIMEOUT,
        }
    }
}

/// Where redops keeps its audit log and backups unless told otherwise (XDG data home).
#[must_use]
pub fn data_dir() -> PathBuf {
    data_dir_from(&|name| std::env::var_os(name))
}

/// [`data_dir`] with the environment looked up through `env`.
#[must_use]
pub fn data_dir_from(env: &dyn Fn(&str) -> Option<OsString>) -> PathBuf {
    if let Some(dir) = env("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("redops");
    }
    if let Some(home) = env("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".local/share/redops");
    }
    PathBuf::from(".redops")
}

/// One replication group: a primary and its replicas, as the operator thinks of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    /// Free-form environment label; `"production"` is drawn unmistakably.
    pub env: Option<String>,
    /// Actions on this group are refused by the engine.
    pub read_only: bool,
    /// Name of the node that should normally be primary (the failback target).
    pub preferred_primary: Option<String>,
    pub lag: LagThresholds,
    pub sentinel: Option<Sentinel>,
    pub cluster: bool,
    pub nodes: Vec<Node>,
}

impl Group {
    /// A group with these nodes and every other setting at its default (ad-hoc targets,
    /// sandboxes, tests).
    #[must_use]
    pub fn new(name: impl Into<String>, nodes: Vec<Node>) -> Self {
        Self {
            name: name.into(),
            env: None,
            read_only: false,
            preferred_primary: None,
            lag: LagThresholds::default(),
            sentinel: None,
            cluster: false,
            nodes,
        }
    }

    /// True when the group is labelled production.
    #[must_use]
    pub fn is_production(&self) -> bool {
        self.env
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case("production") || e.eq_ignore_ascii_case("prod"))
    }
}

/// Lag levels at which a replica is drawn as warning or critical.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LagThresholds {
    pub warn_bytes: u64,
    pub crit_bytes: u64,
    pub warn_seconds: f64,
    pub crit_seconds: f64,
}

impl Default for LagThresholds {
    fn default() -> Self {
        Self {
            warn_bytes: 1_048_576,
            crit_bytes: 16 * 1_048_576,
            warn_seconds: 5.0,
            crit_seconds: 30.0,
        }
    }
}

/// Sentinel deployment watching a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Sentinel {
    pub addrs: Vec<Addr>,
    pub master_name: String,
}

/// One Redis or Valkey server.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub addr: Addr,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub tls: Option<Tls>,
}

/// TLS settings for a node (`rediss`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tls {
    /// CA bundle used to verify the server certificate; the system roots when absent.
    pub ca_file: Option<PathBuf>,
    /// A client certificate for servers that require one (`tls-auth-clients yes`).
    pub client_cert: Option<ClientCert>,
}

/// A client certificate and its private key (PEM; the key in PKCS#8), for mutual TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// `host:port` exactly as the operator wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr {
    pub host: String,
    pub port: u16,
}

impl Addr {
    /// Parses `host:port`, `[v6]:port`, a bare host (port 6379) or a `redis://` /
    /// `rediss://` URL (see [`Addr::parse_full`]); only the server's address is kept.
    ///
    /// # Errors
    /// What is wrong with the address; never the password of a URL.
    pub fn parse(s: &str) -> Result<Self, AddrError> {
        Self::parse_full(s).map(|p| p.addr)
    }

    /// [`Addr::parse`], keeping what the spelling said: `rediss://` (TLS) and whether a port
    /// was written. URLs are `redis[s]://host[:port][/0]`; a user or password, a database
    /// other than 0 and URL options are refused.
    ///
    /// # Errors
    /// What is wrong with the address; never the password of a URL.
    pub fn parse_full(s: &str) -> Result<ParsedAddr, AddrError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(AddrError::Invalid("the address is empty".to_string()));
        }
        if let Some(parsed) = url::parse(s) {
            return parsed;
        }
        let (addr, port_given) = Self::parse_host_port(s).map_err(AddrError::Invalid)?;
        Ok(ParsedAddr {
            addr,
            tls: false,
            port_given,
        })
    }

    /// `host:port`, `[v6]:port` or a bare host, trimmed and not a URL; true when a port
    /// was written.
    fn parse_host_port(s: &str) -> Result<(Self, bool), String> {
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("'{s}' has '[' without a closing ']'"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("'{s}': expected ':' after ']'"))?,
                ),
            };
            (h.to_string(), port)
        } else if s.matches(':').count() > 1 {
            return Err(format!("'{s}': write an IPv6 address as [addr]:port"));
        } else {
            match s.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (s.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(format!("'{s}' has no host"));
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c == '@')
        {
            return Err(format!("'{s}': '{host}' is not a valid host name"));
        }
        let port_given = port.is_some();
        let port = match port {
            None => 6379,
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => {
                    return Err(format!("'{s}': port '{p}' is not a number from 1 to 65535"))
                }
                Ok(n) => n,
            },
        };
        Ok((Self { host, port }, port_given))
    }

    /// True for loopback hosts (127.0.0.0/8, `::1`, localhost).
    #[must_use]
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self.host == "::1"
            || self
                .host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// True when `other` is this address in another spelling: the same port, and host names
    /// equal but for case, or both `localhost`, `127.0.0.1` or `::1` (what `localhost`
    /// resolves to). Other loopback addresses (127.0.0.2) may be other servers: a server can
    /// bind one and not the other.
    #[must_use]
    pub fn same_endpoint(&self, other: &Addr) -> bool {
        let local = |h: &str| h.eq_ignore_ascii_case("localhost") || h == "127.0.0.1" || h == "::1";
        self.port == other.port
            && (self.host.eq_ignore_ascii_case(&other.host)
                || (local(&self.host) && local(&other.host)))
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parses durations written as `"1s"`, `"500ms"`, `"2m"`, `"1.5s"`.
///
/// # Errors
/// A message saying which forms are accepted.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| {
        format!("'{s}' is not a duration; write it like \"500ms\", \"1s\" or \"2m\"")
    })?;
    let secs = match unit.trim() {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        "" => {
            return Err(format!(
                "'{s}' has no unit; write it like \"500ms\", \"1s\" or \"2m\""
            ))
        }
        other => return Err(format!("'{s}': unknown unit '{other}' (use ms, s, m or h)")),
    };
    if !secs.is_finite() || !(0.0..=86_400.0 * 365.0).contains(&secs) {
        return Err(format!("'{s}' is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Formats a duration the way the config accepts it back.
#[must_use]
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0s".to_string(),
        _ if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        _ if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        _ if ms % 1000 == 0 => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_in_the_largest_whole_unit_and_parse_back() {
        for (ms, text) in [
            (0, "0s"),
            (250, "250ms"),
            (1500, "1500ms"),
            (30_000, "30s"),
            (90_000, "90s"),
            (600_000, "10m"),
            (7_200_000, "2h"),
        ] {
            let d = Duration::from_millis(ms);
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(text), Ok(d), "{text}");
        }
    }

    #[test]
    fn addr_forms() {
        assert_eq!(
            Addr::parse("10.0.0.1:6380").map(|a| a.to_string()),
            Ok("10.0.0.1:6380".into())
        );
        assert_eq!(Addr::parse("cache-a").map(|a| a.port), Ok(6379));
        assert_eq!(
            Addr::parse("[::1]:7000").map(|a| a.to_string()),
            Ok("[::1]:7000".into())
        );
        assert!(Addr::parse("host:0").is_err());
        assert!(Addr::parse("host:99999").is_err());
        assert_eq!(
            Addr::parse("redis://x:1").map(|a| a.to_string()),
            Ok("x:1".into())
        );
        assert!(Addr::parse("::1:7000").is_err());
        assert!(Addr::parse(":7000").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("fast").is_err());
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }
}
