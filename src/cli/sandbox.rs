//! `redops sandbox`. (Placeholder: being written.)

use clap::Args;

use super::{output, EXIT_USAGE};

/// `redops sandbox` options.
#[derive(Debug, Clone, Default, Args)]
pub struct SandboxArgs {
    /// Number of replicas of the primary.
    #[arg(long, default_value_t = 2)]
    pub replicas: usize,
    /// Add a chained replica under the first replica.
    #[arg(long)]
    pub chain: bool,
    /// redis-server or valkey-server binary (default: found on PATH).
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<std::path::PathBuf>,
}

/// Runs the sandbox until interrupted.
pub async fn run(_args: SandboxArgs) -> u8 {
    output::error("the sandbox is not available in this build", None);
    EXIT_USAGE
}
