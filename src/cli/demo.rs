//! `redops demo`. (Placeholder: being written.)

pub mod writer;

use clap::Args;

use super::{output, Global, EXIT_USAGE};

/// `redops demo` options.
#[derive(Debug, Clone, Default, Args)]
pub struct DemoArgs {
    /// redis-server or valkey-server binary (default: found on PATH).
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<std::path::PathBuf>,
}

/// Runs the demo.
pub async fn run(_args: DemoArgs, _g: &Global) -> u8 {
    output::error("the demo is not available in this build", None);
    EXIT_USAGE
}
