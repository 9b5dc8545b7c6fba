//! The TOML schema exactly as written in the file: every field optional, unknown keys rejected.
//!
//! These structs only describe the shape of the file. Every field keeps its byte span so that
//! validation (`validate.rs`) can point at the exact spot of a bad value. Nothing here applies
//! defaults, checks values or touches the environment.

use serde::Deserialize;
use serde_spanned::Spanned;

/// A value together with where it was written.
pub(super) type S<T> = Spanned<T>;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub console: Option<S<RawConsole>>,
    pub groups: Option<S<Vec<S<RawGroup>>>>,
}

/// `[console]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConsole {
    pub poll_interval: Option<S<String>>,
    pub connect_timeout: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub theme: Option<S<String>>,
    pub read_only: Option<S<bool>>,
    pub audit_log: Option<S<String>>,
    pub backups_dir: Option<S<String>>,
    /// Signed so that a negative number gets our message, not serde's.
    pub history_len: Option<S<i64>>,
    pub download_timeout: Option<S<String>>,
}

/// How to reach a server, as written at one level (`[[groups]]` defaults or `[[groups.nodes]]`).
/// Not deserialized itself: serde's `flatten` would lose the spans.
#[derive(Debug, Default, Clone)]
pub(super) struct RawConnection {
    pub username: Option<S<String>>,
    pub password_env: Option<S<String>>,
    pub password_file: Option<S<String>>,
    pub tls: Option<S<bool>>,
    pub ca_file: Option<S<String>>,
    pub cert_file: Option<S<String>>,
    pub key_file: Option<S<String>>,
}

/// `[[groups]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGroup {
    pub name: Option<S<String>>,
    pub env: Option<S<String>>,
    pub read_only: Option<S<bool>>,
    #[serde(alias = "preferred_master")]
    pub preferred_primary: Option<S<String>>,
    pub lag_warn_bytes: Option<S<i64>>,
    pub lag_crit_bytes: Option<S<i64>>,
    pub lag_warn_seconds: Option<S<f64>>,
    pub lag_crit_seconds: Option<S<f64>>,
    pub cluster: Option<S<bool>>,
    pub sentinel: Option<S<RawSentinel>>,
    pub username: Option<S<String>>,
    pub password_env: Option<S<String>>,
    pub password_file: Option<S<String>>,
    pub tls: Option<S<bool>>,
    pub ca_file: Option<S<String>>,
    pub cert_file: Option<S<String>>,
    pub key_file: Option<S<String>>,
    pub nodes: Option<S<Vec<S<RawNode>>>>,
}

impl RawGroup {
    /// The group-level connection defaults, in the same shape a node has.
    pub fn connection(&self) -> RawConnection {
        RawConnection {
            username: self.username.clone(),
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
            tls: self.tls.clone(),
            ca_file: self.ca_file.clone(),
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
        }
    }
}

/// `sentinel = { addrs = [...], master_name = "..." }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSentinel {
    pub addrs: Option<S<Vec<S<String>>>>,
    pub master_name: Option<S<String>>,
}

/// `[[groups.nodes]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    pub name: Option<S<String>>,
    pub addr: Option<S<String>>,
    pub username: Option<S<String>>,
    pub password_env: Option<S<String>>,
    pub password_file: Option<S<String>>,
    pub tls: Option<S<bool>>,
    pub ca_file: Option<S<String>>,
    pub cert_file: Option<S<String>>,
    pub key_file: Option<S<String>>,
}

impl RawNode {
    /// The node's own connection settings (each may be absent and inherited from the group).
    pub fn connection(&self) -> RawConnection {
        RawConnection {
            username: self.username.clone(),
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
            tls: self.tls.clone(),
            ca_file: self.ca_file.clone(),
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
        }
    }
}

/// The keys each table accepts, for "did you mean" and "belongs elsewhere" hints.
/// A unit test keeps these equal to what serde accepts.
pub(super) const KEYS_TOP: &[&str] = &["console", "groups"];
pub(super) const KEYS_CONSOLE: &[&str] = &[
    "poll_interval",
    "connect_timeout",
    "timeout",
    "theme",
    "read_only",
    "audit_log",
    "backups_dir",
    "history_len",
    "download_timeout",
];
pub(super) const KEYS_GROUP: &[&str] = &[
    "name",
    "env",
    "read_only",
    "preferred_primary",
    "preferred_master",
    "lag_warn_bytes",
    "lag_crit_bytes",
    "lag_warn_seconds",
    "lag_crit_seconds",
    "cluster",
    "sentinel",
    "username",
    "password_env",
    "password_file",
    "tls",
    "ca_file",
    "cert_file",
    "key_file",
    "nodes",
];
pub(super) const KEYS_SENTINEL: &[&str] = &["addrs", "master_name"];
pub(super) const KEYS_NODE: &[&str] = &[
    "name",
    "addr",
    "username",
    "password_env",
    "password_file",
    "tls",
    "ca_file",
    "cert_file",
    "key_file",
];
