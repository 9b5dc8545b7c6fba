//! Integration tests of the built `redops` binary: the command line, config files, `status`,
//! `watch`, actions, the sandbox and the drills from the CLI, and hostile inputs (bytes, files, fake
//! servers, ACLs, TLS) seen through its output. Real servers come from the sandbox
//! (`redops::sandbox`).
//!
//! One test binary, one module per subject; helpers shared with the other binaries are in
//! `tests/common/`.

#[path = "../common/mod.rs"]
mod common;

mod audit_checks_cli;
mod backup_cli;
mod check_data_cli;
mod cli_completions;
mod cli_config;
mod cli_confirm;
mod cli_console;
mod cli_history;
mod cli_json;
mod cli_status;
mod cli_urls;
mod cli_watch;
mod cluster_backup_cli;
mod drill_cli;
mod drill_cluster_cli;
mod hostile_acl;
mod hostile_bytes;
mod hostile_discover;
mod hostile_files;
mod hostile_inputs;
mod hostile_output;
mod hostile_tls;
mod ops_cli;
mod ops_cli_promote_repoint;
mod restore_cli;
mod sandbox_cli;
mod sandbox_control;
mod sentinel_cli;
mod smoke;
