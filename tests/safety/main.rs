//! The safety suites (issue 7): data loss, a down node and the action lock, identity alarms,
//! a console killed mid-action, the rejoin guard; against real `redis-server` processes from
//! the sandbox (`redops::sandbox`), through the library, the console's model and the binary.
//!
//! One test binary, one module per subject; helpers shared with the other binaries are in
//! `tests/common/`.

// The kill tests say on stderr which step they are at: the test runner shows it on failure.
#![allow(clippy::print_stderr)]

#[path = "../common/mod.rs"]
mod common;

mod safety_data_loss;
mod safety_down_lock;
mod safety_identity_alarms;
mod safety_kill;
mod safety_rejoin_guard;
mod safety_sentinel_kill;
