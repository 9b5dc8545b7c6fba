//! Integration tests of the console: whole-screen snapshots (insta, `snapshots/`) on ratatui's
//! `TestBackend`, the action dialogs and runbook on the simulated group (`ops::fake`), a
//! switchover taken from the console on real servers, and the real binary in a pseudo-terminal.
//!
//! One test binary, one module per subject; helpers shared with the other binaries are in
//! `tests/common/`.

#[path = "../common/mod.rs"]
mod common;

mod tui_actions;
mod tui_actions_live;
mod tui_backups;
mod tui_backups_cluster;
mod tui_backups_live;
mod tui_cluster;
mod tui_drill;
mod tui_e2e;
mod tui_history;
mod tui_practice;
mod tui_sentinel;
mod tui_sentinel_reset;
mod tui_snapshot_all;
mod tui_snapshots;
