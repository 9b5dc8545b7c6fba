//! Integration tests that need no real server and no built binary: the INFO parser on the
//! recorded fixtures and on generated input, topology building and its identity alarms, the
//! engine and the promote / repoint planners on the simulated group (`ops::fake`), the reply
//! size limits against a fake RESP server. Fast; runs anywhere.
//!
//! One test binary, one module per subject; helpers shared with the other binaries are in
//! `tests/common/`.

#[path = "../common/mod.rs"]
mod common;

mod hostile_limits;
mod info_fixtures;
mod info_props;
mod ops_cluster_fake;
mod ops_engine;
mod ops_promote_repoint_fake;
mod topology_build;
mod topology_identity_alarms;
