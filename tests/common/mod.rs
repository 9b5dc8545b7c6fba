//! Helpers shared by the integration test binaries, one copy: each `tests/<binary>/main.rs`
//! includes this module with `#[path = "../common/mod.rs"] mod common;` (a `mod.rs`, not a
//! `common.rs` beside `common/`: a module loaded by `#[path]` looks for its children in its own
//! directory).
//!
//! Every real server comes from the sandbox (`redops::sandbox`); `server` and `cluster` only
//! shape it for tests. Nothing here is a test itself.

#![allow(dead_code)]

pub mod bin;
pub mod byte_path;
pub mod cluster;
pub mod cluster_writer;
pub mod console;
pub mod files;
pub mod fixtures;
pub mod hostile;
pub mod screen;
pub mod sentinel_group;
pub mod sentinel_writer;
pub mod server;
