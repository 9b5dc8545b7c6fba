//! Typed view of the `INFO` reply, for every version from 2.6 to 7.x and Valkey 7.2 to 9.x.
//!
//! The parser (`info/parse.rs`) is total: any input gives an `Info`, never a panic. Fields that
//! are absent are `None`; unknown fields are kept in `raw`. Redis's words (`master`, `slave`)
//! stop here: the rest of redops speaks of primaries and replicas. This file holds only the
//! types and small questions about them; it does no I/O and no parsing.

mod fields;
mod lists;
mod parse;
mod raw;

pub use parse::{parse, parse_owned};
pub use raw::RawInfo;

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
    /// Every `field:value` of every section, unknown ones included, by lowercase section name
    /// (`"replication"`, `"keyspace"`, …), in reply order. Lines before any `# Section` header
    /// are kept under the empty name `""`. Held as the reply text (see [`RawInfo`]).
    pub raw: RawInfo,
    /// What the node says about its cluster (`CLUSTER INFO`, `CLUSTER NODES`), read in the
    /// same poll when it runs in cluster mode (`node.rs`); `None` otherwise.
    pub cluster: Option<std::sync::Arc<crate::cluster::NodeReport>>,
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
        self.raw.get(section, name)
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
    /// `replica_announced` (6.2.2+): false hides the replica from `SENTINEL REPLICAS`.
    pub announced: Option<bool>,
    // Primary side (also printed by replicas for their own sub-replicas).
    pub connected_replicas: u64,
    /// `min_slaves_good_slaves`: printed only when both `min-replicas-*` settings are non-zero.
    pub good_replicas: Option<u64>,
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

impl Replication {
    /// True when `role:` said `slave` (a chained replica with replicas of its own included).
    #[must_use]
    pub fn is_replica(&self) -> bool {
        self.role == Some(InfoRole::Replica)
    }

    /// `master_replid2` when it names a real previous history (valid up to
    /// `second_repl_offset - 1`); `None` when absent or all zeros (no previous history).
    #[must_use]
    pub fn previous_replid(&self) -> Option<&str> {
        self.replid2
            .as_deref()
            .filter(|id| !id.is_empty() && id.bytes().any(|b| b != b'0'))
    }
}

/// One `slaveN:` line on a primary: the replica as the primary sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaLine {
    pub index: u32,
    pub ip: String,
    pub port: u16,
    /// online, `wait_bgsave`, `send_bulk`, `bg_transfer` …
    pub state: String,
    /// Last `ACKed` offset (stale by up to ~1 s: display only).
    pub offset: Option<u64>,
    /// Seconds since the last ACK.
    pub lag: Option<i64>,
    /// Valkey 8+ `type=`: `replica`, `rdb-channel` or `main-channel`; `None` before.
    pub kind: Option<String>,
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
    /// `rdb_current_bgsave_time_sec`: age of the running RDB child, -1 when none.
    pub current_bgsave_time_sec: Option<i64>,
    /// `rdb_saves` (7.0+): counts save attempts, not successes.
    pub saves: Option<u64>,
    pub aof_enabled: bool,
    pub aof_rewrite_in_progress: bool,
    pub aof_rewrite_scheduled: bool,
    pub aof_last_write_ok: Option<bool>,
    /// `aof_last_bgrewrite_status:ok`.
    pub aof_last_bgrewrite_ok: Option<bool>,
    pub module_fork_in_progress: bool,
    /// `current_save_keys_processed` (6.2+): progress of the running child.
    pub keys_processed: Option<u64>,
    /// `current_save_keys_total` (6.2+).
    pub keys_total: Option<u64>,
    /// The `save` setting from `CONFIG GET save` (not part of INFO; filled by the poller when
    /// the ACL allows it). `Some("")` means no save points.
    pub save_config: Option<String>,
}

impl Persistence {
    /// True when the last BGSAVE failed (`rdb_last_bgsave_status:err`). `LASTSAVE` does not move
    /// on a failure, so this is the only signal; with `stop-writes-on-bgsave-error` writes are down.
    #[must_use]
    pub fn bgsave_failed(&self) -> bool {
        self.last_bgsave_ok == Some(false)
    }

    /// True while any fork child runs (RDB, AOF rewrite or module): a new BGSAVE would be refused.
    #[must_use]
    pub fn child_active(&self) -> bool {
        self.bgsave_in_progress || self.aof_rewrite_in_progress || self.module_fork_in_progress
    }
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
    /// `avg_ttl` in milliseconds (0 when no key has a TTL).
    pub avg_ttl: Option<u64>,
    /// Redis 7.4+ `subexpiry`: keys with hash-field expirations.
    pub subexpiry: Option<u64>,
    /// Valkey 9+ `keys_with_volatile_items`.
    pub volatile_items: Option<u64>,
}
