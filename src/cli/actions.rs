//! CLI front-end of the guarded actions. (Placeholder: being written; arguments are final.)

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{output, Global, TargetArgs, EXIT_USAGE};

/// Flags shared by every action.
#[derive(Debug, Clone, Default, Args)]
pub struct ActionFlags {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Print the plan and pre-checks; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Override failed pre-checks where that is safe to offer (needs --reason).
    #[arg(long)]
    pub force: bool,
    /// Why: required with --force and --skip-snapshot; recorded in the audit log.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Skip the snapshot gate (needs --reason).
    #[arg(long)]
    pub skip_snapshot: bool,
    /// Progress as JSON lines.
    #[arg(long)]
    pub json: bool,
}

/// `redops snapshot NODE`.
#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    /// Node name or address.
    pub node: String,
    /// Also download the RDB over the replication protocol into this directory.
    #[arg(long, value_name = "DIR")]
    pub download: Option<PathBuf>,
    #[command(flatten)]
    pub flags: ActionFlags,
}

/// Switchover strategy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// Pause writes, wait for proven catch-up, promote, demote, repoint, unpause.
    #[default]
    Manual,
    /// The server's FAILOVER TO command (6.2+), then repoint the siblings.
    Native,
}

/// `redops switchover --to REPLICA`.
#[derive(Debug, Clone, Args)]
pub struct SwitchoverArgs {
    /// The replica to promote (name or address).
    #[arg(long, value_name = "NODE")]
    pub to: String,
    #[arg(long, value_enum, default_value_t)]
    pub strategy: StrategyArg,
    #[command(flatten)]
    pub flags: ActionFlags,
}

/// `redops failback`.
#[derive(Debug, Clone, Args)]
pub struct FailbackArgs {
    #[arg(long, value_enum, default_value_t)]
    pub strategy: StrategyArg,
    #[command(flatten)]
    pub flags: ActionFlags,
}

/// `redops promote [REPLICA]`.
#[derive(Debug, Clone, Args)]
pub struct PromoteArgs {
    /// The replica to promote; the best candidate when omitted.
    pub node: Option<String>,
    #[command(flatten)]
    pub flags: ActionFlags,
}

/// `redops repoint NODE --to SOURCE`.
#[derive(Debug, Clone, Args)]
pub struct RepointArgs {
    /// The node that will replicate (its data is replaced unless a partial resync is possible).
    pub node: String,
    /// The node to replicate from.
    #[arg(long, value_name = "SOURCE")]
    pub to: String,
    #[command(flatten)]
    pub flags: ActionFlags,
}

/// `redops rejoin OLD_PRIMARY`.
#[derive(Debug, Clone, Args)]
pub struct RejoinArgs {
    /// The restarted old primary to bring back as a replica.
    pub node: String,
    #[command(flatten)]
    pub flags: ActionFlags,
}

fn not_yet() -> u8 {
    output::error("actions are not available in this build", None);
    EXIT_USAGE
}

/// `redops snapshot`.
pub async fn snapshot(_t: &TargetArgs, _g: &Global, _a: SnapshotArgs) -> u8 {
    not_yet()
}
/// `redops switchover`.
pub async fn switchover(_t: &TargetArgs, _g: &Global, _a: SwitchoverArgs) -> u8 {
    not_yet()
}
/// `redops failback`.
pub async fn failback(_t: &TargetArgs, _g: &Global, _a: FailbackArgs) -> u8 {
    not_yet()
}
/// `redops promote`.
pub async fn promote(_t: &TargetArgs, _g: &Global, _a: PromoteArgs) -> u8 {
    not_yet()
}
/// `redops repoint`.
pub async fn repoint(_t: &TargetArgs, _g: &Global, _a: RepointArgs) -> u8 {
    not_yet()
}
/// `redops rejoin`.
pub async fn rejoin(_t: &TargetArgs, _g: &Global, _a: RejoinArgs) -> u8 {
    not_yet()
}
