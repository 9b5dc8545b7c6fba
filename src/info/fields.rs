//! Field by field: maps one trimmed `field:value` pair onto the typed `Info`.
//!
//! Owns the table of known field names and the value conventions (numbers, `0/1` flags,
//! `ok/err`, `up/down`). A value that does not parse becomes `None` (or `false`/0 for the
//! plain flags and counters), never a panic. It must not split lines or track sections: that
//! is `parse.rs`. `slaveN` and `dbN` lists are `lists.rs`. Product and version need several
//! fields at once and are resolved in `parse.rs`.

use super::{lists, Info, InfoRole};

/// Applies one field to `info`. Unknown names are ignored (they stay in `raw`).
pub(super) fn apply(info: &mut Info, name: &str, v: &str) {
    if apply_server(info, name, v)
        || apply_replication(info, name, v)
        || apply_persistence(info, name, v)
        || apply_counters(info, name, v)
    {
        return;
    }
    lists::apply(info, name, v);
}

/// `# Server`, except product, version and mode (see `parse.rs`).
fn apply_server(info: &mut Info, name: &str, v: &str) -> bool {
    let s = &mut info.server;
    match name {
        "run_id" => s.run_id = text(v),
        "tcp_port" => s.tcp_port = v.parse().ok(),
        "process_id" => s.process_id = v.parse().ok(),
        "uptime_in_seconds" => s.uptime_seconds = v.parse().ok(),
        "server_time_usec" => s.time_usec = v.parse().ok(),
        // Empty is meaningful here: "running without a config file".
        "config_file" => s.config_file = Some(v.to_string()),
        "executable" => s.executable = text(v),
        _ => return false,
    }
    true
}

/// `# Replication`, both sides.
fn apply_replication(info: &mut Info, name: &str, v: &str) -> bool {
    let r = &mut info.replication;
    match name {
        "role" => r.role = role(v),
        "master_host" => r.master_host = text(v),
        "master_port" => r.master_port = v.parse().ok(),
        "master_link_status" => r.link_up = up_down(v),
        "master_last_io_seconds_ago" => r.last_io_seconds_ago = v.parse().ok(),
        "master_sync_in_progress" => r.sync_in_progress = v == "1",
        "slave_repl_offset" => r.replica_offset = v.parse().ok(),
        "slave_read_repl_offset" => r.replica_read_offset = v.parse().ok(),
        "master_link_down_since_seconds" => r.link_down_since_seconds = v.parse().ok(),
        "slave_priority" | "replica_priority" => r.priority = v.parse().ok(),
        "slave_read_only" | "replica_read_only" => r.read_only = zero_one(v),
        "replica_announced" => r.announced = zero_one(v),
        "master_sync_total_bytes" => r.sync_total_bytes = v.parse().ok(),
        "master_sync_read_bytes" => r.sync_read_bytes = v.parse().ok(),
        "master_sync_left_bytes" => r.sync_left_bytes = v.parse().ok(),
        "master_sync_perc" => r.sync_perc = float(v),
        "master_sync_last_io_seconds_ago" => r.sync_last_io_seconds_ago = v.parse().ok(),
        "connected_slaves" => r.connected_replicas = v.parse().unwrap_or(0),
        "min_slaves_good_slaves" => r.good_replicas = v.parse().ok(),
        "master_failover_state" => r.failover_state = text(v),
        "master_replid" => r.replid = text(v),
        "master_replid2" => r.replid2 = text(v),
        "master_repl_offset" => r.offset = v.parse().ok(),
        "second_repl_offset" => r.second_offset = v.parse().ok(),
        "repl_backlog_active" => r.backlog_active = zero_one(v),
        "repl_backlog_size" => r.backlog_size = v.parse().ok(),
        "repl_backlog_first_byte_offset" => r.backlog_first_byte_offset = v.parse().ok(),
        "repl_backlog_histlen" => r.backlog_histlen = v.parse().ok(),
        _ => return false,
    }
    true
}

/// `# Persistence`.
fn apply_persistence(info: &mut Info, name: &str, v: &str) -> bool {
    let p = &mut info.persistence;
    match name {
        "loading" => p.loading = v == "1",
        "async_loading" => p.async_loading = v == "1",
        "loading_loaded_perc" => p.loading_perc = float(v),
        "loading_eta_seconds" => p.loading_eta_seconds = v.parse().ok(),
        "rdb_changes_since_last_save" => p.changes_since_last_save = v.parse().ok(),
        "rdb_bgsave_in_progress" => p.bgsave_in_progress = v == "1",
        "rdb_last_save_time" => p.last_save_time = v.parse().ok(),
        "rdb_last_bgsave_status" => p.last_bgsave_ok = ok_err(v),
        "rdb_last_bgsave_time_sec" => p.last_bgsave_time_sec = v.parse().ok(),
        "rdb_current_bgsave_time_sec" => p.current_bgsave_time_sec = v.parse().ok(),
        "rdb_saves" => p.saves = v.parse().ok(),
        "aof_enabled" => p.aof_enabled = v == "1",
        "aof_rewrite_in_progress" => p.aof_rewrite_in_progress = v == "1",
        "aof_rewrite_scheduled" => p.aof_rewrite_scheduled = v == "1",
        "aof_last_write_status" => p.aof_last_write_ok = ok_err(v),
        "aof_last_bgrewrite_status" => p.aof_last_bgrewrite_ok = ok_err(v),
        "module_fork_in_progress" => p.module_fork_in_progress = v == "1",
        "current_save_keys_processed" => p.keys_processed = v.parse().ok(),
        "current_save_keys_total" => p.keys_total = v.parse().ok(),
        _ => return false,
    }
    true
}

/// `# Memory`, `# Clients` and `# Stats`: the few counters the console shows.
fn apply_counters(info: &mut Info, name: &str, v: &str) -> bool {
    // Parsed only for a counter: most names that reach this point are not one.
    let n = || v.parse::<u64>().ok();
    match name {
        "used_memory" => info.memory.used_memory = n(),
        "used_memory_rss" => info.memory.used_memory_rss = n(),
        "maxmemory" => info.memory.maxmemory = n(),
        "maxmemory_policy" => info.memory.maxmemory_policy = text(v),
        "connected_clients" => info.clients.connected = n(),
        "blocked_clients" => info.clients.blocked = n(),
        "total_commands_processed" => info.stats.total_commands_processed = n(),
        "instantaneous_ops_per_sec" => info.stats.instantaneous_ops_per_sec = n(),
        "sync_full" => info.stats.sync_full = n(),
        "sync_partial_ok" => info.stats.sync_partial_ok = n(),
        "sync_partial_err" => info.stats.sync_partial_err = n(),
        _ => return false,
    }
    true
}

/// `master` is a primary; `slave` (and `replica`, the spelling of `HELLO`) a replica.
fn role(v: &str) -> Option<InfoRole> {
    match v {
        "master" => Some(InfoRole::Primary),
        "slave" | "replica" => Some(InfoRole::Replica),
        _ => None,
    }
}

/// A non-empty string value.
fn text(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_string())
}

/// A finite float (`NaN` and `inf` would only confuse comparisons downstream).
fn float(v: &str) -> Option<f64> {
    v.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn zero_one(v: &str) -> Option<bool> {
    match v {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

fn ok_err(v: &str) -> Option<bool> {
    match v {
        "ok" => Some(true),
        "err" => Some(false),
        _ => None,
    }
}

fn up_down(v: &str) -> Option<bool> {
    match v {
        "up" => Some(true),
        "down" => Some(false),
        _ => None,
    }
}
