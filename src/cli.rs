//! CLI. (Placeholder: being written.)

/// Entry point of the binary.
#[must_use]
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
