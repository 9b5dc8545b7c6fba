//! `redops status`. (Placeholder: being written.)

use clap::Args;

use super::{TargetArgs, EXIT_USAGE};

/// `redops status` options.
#[derive(Debug, Clone, Default, Args)]
pub struct StatusArgs {
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Prints the topology once.
pub async fn run(_targets: &TargetArgs, _args: StatusArgs) -> u8 {
    EXIT_USAGE
}
