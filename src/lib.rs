//! redops: a terminal operations console for Redis and Valkey replication.
//!
//! Module map (data flows top to bottom):
//!
//! ```text
//! config      TOML schema, defaults, validation, secrets            (core)
//! targets     config file | --node | --discover  ->  Config          (core)
//! node        connections with timeouts, AUTH/ACL, TLS, errors       (core)
//! info        the INFO parser: typed, total, keeps unknown fields    (core)
//! observe     Observation, NodeId, NodeState, FleetState             (core)
//! poller      one task per node -> bounded channel of Observations   (core)
//! history     ring buffers per node, explicit gaps; last-seen memory file (core)
//! cluster     Redis Cluster: CLUSTER NODES / INFO parsers, the shard view, its anomalies (core)
//! topology    pure: observations + history -> groups, edges, lag, anomalies;
//!             data-loss watch (memory of each node across restarts)    (core)
//! monitor     observations -> history -> topology -> confirmation -> data-loss watch
//!             -> changes, one warm-up rule: the console, watch and status feed it (core)
//! ops         requests -> session (prepare: plan and every refusal; execute: audit log,
//!             connections, engine, after-run marks) -> engine (typed events, emitted and
//!             audited); planners, guard, next step, snapshot gate and its progress,
//!             RDB download                                           (core)
//! backup      the catalog of downloaded backups, retention, the restore test into a
//!             scratch server, what a restore loads and its offline mode; cluster
//!             backups (one manifest per cut) and their restore test into a scratch
//!             cluster                                                (core)
//! datacheck   primary and replicas compared at one proven point in time (core)
//! audit       JSON Lines audit log; read back as runs (`history`); the one run a check
//!             (verify, prune, check-data) writes                     (core)
//! sanitize    outside text made safe for a terminal or a JSON line   (core)
//! words       counts in operator text: "1 replica", "3 replicas"    (core)
//! sentinel    Sentinel's view of a group: polled, parsed, summarised, anomalies (core)
//! sandbox     local redis-server / valkey-server topologies          (core)
//! timefmt     ages and clock times in one format, never an epoch     (core)
//! drill       guided drills: format, pure engine, writer, report, headless runner (core)
//! tui         the ratatui console (front-end); returns a ConsoleExit, never imports cli
//! cli         clap commands, text and JSON output (front-end; the only place that prints)
//! ```
//!
//! The core modules never import ratatui, crossterm or clap, and `tui` never imports `cli`
//! (`make boundary` checks both).

pub mod audit;
pub mod backup;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod datacheck;
pub mod drill;
pub mod history;
pub mod info;
pub mod monitor;
pub mod node;
pub mod observe;
pub mod ops;
pub mod poller;
pub mod sandbox;
pub mod sanitize;
pub mod sentinel;
pub mod targets;
pub mod timefmt;
pub mod topology;
pub mod tui;
pub mod words;
