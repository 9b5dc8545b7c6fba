//! Typed view of the `INFO` reply, for every version from 2.8 to 7.x and Valkey.
//!
//! The parser (`info/parse.rs`) is total: any input gives an `Info`, never a panic. Fields that
//! are absent are `None`; unknown fields are kept in `raw`. Redis's words (`master`, `slave`)
//! stop here: the rest of redops speaks of primaries and replicas.

mod parse;

pub use parse::parse;

use std::collections::BTreeMap;

/// Everything redops reads from one `INFO` reply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Info {
    pub server: Server,
    pub replication: Replication,
    pub persistence: Persistence,
    pub memory: Memory,
    pub clients: Clients,
    pub stats: Stats,
    pub keyspace: Vec<DbKeys>,
    /// Every `field:value` of every section, unknown ones included, by lowercase section name.
    pub raw: BTreeMap<String, Vec<(String, String)>>,
}

impl Info {
    /// Total keys over all databases.
    #[must_use]
    pub fn total_keys(&self) -> u64 {
        self.keyspace.iter().map(|d| d.keys).sum()
    }

    /// A raw field by section and name.
    #[must_use]
    pub fn field(&self, section: &str, name: &str) -> Option<&str> {
        self.raw
            .get(section)?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Redis or Valkey, detected from `server_name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Product {
    #[default]
    Redis,
    Valkey,
}

/// `# Server`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Server {
    pub product: Product,
    /// `valkey_version` on Valkey, else `redis_version`.
    pub version: Option<String>,
    /// `redis_mode` or `server_mode`: standalone, cluster, sentinel.
    pub mode: Option<String>,
    pub run_id: Option<String>,
    pub tcp_port: Option<u16>,
    pub process_id: Option<u32>,
    pub uptime_seconds: Option<u64>,
    /// `server_time_usec`: the node's own clock.
    pub time_usec: Option<u64>,
    /// Empty string means "running without a config file".
    pub config_file: Option<String>,
    pub executable: Option<String>,
}

impl Server {
    /// Parsed `major.minor.patch`, or `None` when absent or malformed.
    #[must_use]
    pub fn version_triple(&self) -> Option<(u32, u32, u32)> {
        let v = self.version.as_deref()?;
        let mut it = v.split('.').map(|p| p.parse::<u32>().ok());
        Some((
            it.next()??,
            it.next().flatten().unwrap_or(0),
            it.next().flatten().unwrap_or(0),
        ))
    }

    /// True when the server is at least the given Redis-compatible version.
    /// Valkey versions count from 7.2 (Valkey 7.2 = Redis 7.2.4).
    #[must_use]
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        match (self.product, self.version_triple()) {
            (Product::Valkey, Some(_)) => (major, minor) <= (7, 2),
            (Product::Redis, Some((a, b, _))) => (a, b) >= (major, minor),
            (_, None) => false,
        }
    }
}

/// What `role:` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoRole {
    Primary,
    Replica,
}

/// `# Replication`, both the replica side and the primary side (a replica relays too).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replication {
    pub role: Option<InfoRole>,
    // Replica side.
    pub master_host: Option<String>,
    pub master_port: Option<u16>,
    /// `master_link_status:up`.
    pub link_up: Option<bool>,
    pub last_io_seconds_ago: Option<i64>,
    pub sync_in_progress: bool,
    /// `slave_repl_offset`: bytes applied.
    pub replica_offset: Option<u64>,
    /// `slave_read_repl_offset` (6.2.6+).
    pub replica_read_offset: Option<u64>,
    /// `master_link_down_since_seconds`; -1 means "never up since it became a replica".
    pub link_down_since_seconds: Option<i64>,
    pub priority: Option<u64>,
    pub read_only: Option<bool>,
    pub sync_total_bytes: Option<i64>,
    pub sync_read_bytes: Option<i64>,
    pub sync_left_bytes: Option<i64>,
    pub sync_perc: Option<f64>,
    pub sync_last_io_seconds_ago: Option<i64>,
    // Primary side (also printed by replicas for their own sub-replicas).
    pub connected_replicas: u64,
    pub replicas: Vec<ReplicaLine>,
    pub failover_state: Option<String>,
    pub replid: Option<String>,
    pub replid2: Option<String>,
    /// `master_repl_offset`.
    pub offset: Option<u64>,
    pub second_offset: Option<i64>,
    pub backlog_active: Option<bool>,
    pub backlog_size: Option<u64>,
    pub backlog_first_byte_offset: Option<u64>,
    pub backlog_histlen: Option<u64>,
}

/// One `slaveN:` line on a primary: the replica as the primary sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaLine {
    pub index: u32,
    pub ip: String,
    pub port: u16,
    /// online, wait_bgsave, send_bulk, bg_transfer …
    pub state: String,
    /// Last ACKed offset (stale by up to ~1 s: display only).
    pub offset: Option<u64>,
    /// Seconds since the last ACK.
    pub lag: Option<i64>,
}

/// `# Persistence`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Persistence {
    pub loading: bool,
    pub async_loading: bool,
    pub loading_perc: Option<f64>,
    pub loading_eta_seconds: Option<i64>,
    pub changes_since_last_save: Option<u64>,
    pub bgsave_in_progress: bool,
    pub last_save_time: Option<i64>,
    /// `rdb_last_bgsave_status:ok`.
    pub last_bgsave_ok: Option<bool>,
    pub last_bgsave_time_sec: Option<i64>,
    pub saves: Option<u64>,
    pub aof_enabled: bool,
    pub aof_rewrite_in_progress: bool,
    pub aof_rewrite_scheduled: bool,
    pub aof_last_write_ok: Option<bool>,
    pub module_fork_in_progress: bool,
    pub keys_processed: Option<u64>,
    pub keys_total: Option<u64>,
    /// The `save` setting from `CONFIG GET save` (not part of INFO; filled by the poller when
    /// the ACL allows it). `Some("")` means no save points.
    pub save_config: Option<String>,
}

/// `# Memory` (the fields the console shows).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Memory {
    pub used_memory: Option<u64>,
    pub used_memory_rss: Option<u64>,
    pub maxmemory: Option<u64>,
    pub maxmemory_policy: Option<String>,
}

/// `# Clients`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Clients {
    pub connected: Option<u64>,
    pub blocked: Option<u64>,
}

/// `# Stats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub total_commands_processed: Option<u64>,
    pub instantaneous_ops_per_sec: Option<u64>,
    pub sync_full: Option<u64>,
    pub sync_partial_ok: Option<u64>,
    pub sync_partial_err: Option<u64>,
}

/// One `dbN:` line of `# Keyspace`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbKeys {
    pub db: u32,
    pub keys: u64,
    pub expires: u64,
}
