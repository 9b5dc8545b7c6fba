//! The console. (Placeholder: being written.)

use crate::cli::{output, Global, TargetArgs, EXIT_USAGE};

/// Opens the console on the targets.
pub async fn launch(_targets: &TargetArgs, _global: &Global) -> u8 {
    output::error("the console is not available in this build", None);
    EXIT_USAGE
}
