//! Integration tests against real `redis-server` processes through the library (no built
//! binary, except where the sandbox's watchdog is tested from a killed owner): the INFO parser
//! and the poller on live servers, TLS, RDB downloads, actions through the engine, and the
//! sandbox itself, and the drills' faults. Every server comes from the sandbox (`redops::sandbox`).
//!
//! One test binary, one module per subject; helpers shared with the other binaries are in
//! `tests/common/`.

#[path = "../common/mod.rs"]
mod common;

mod cluster;
mod cluster_backup;
mod cluster_misplaced;
mod cluster_promote;
mod drill_faults;
mod info_live;
mod ops_promote_repoint;
mod ops_real;
mod rdb_download;
mod sandbox;
mod sandbox_watchdog;
mod sentinel;
mod sentinel_ops;
mod sentinel_promote;
mod sentinel_reset;
mod status_live;
mod tls_status;
