//! `redops watch`. (Placeholder: being written.)

use clap::Args;

use super::{TargetArgs, EXIT_USAGE};

/// `redops watch` options.
#[derive(Debug, Clone, Default, Args)]
pub struct WatchArgs {
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Streams changes until interrupted.
pub async fn run(_targets: &TargetArgs, _args: WatchArgs) -> u8 {
    EXIT_USAGE
}
