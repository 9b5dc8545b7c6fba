//! The built `redops` binary, run the way the CLI tests run it: no config from the
//! environment (`REDOPS_CONFIG` removed), no colour (`NO_COLOR=1`), a bounded run time.

use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;

/// How long [`redops`] lets one run take before it is killed and the test fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(30);

/// `redops` with no config from the environment and no colour, ready for more arguments.
pub fn command() -> Command {
    let mut cmd = Command::cargo_bin("redops").expect("the redops binary is built");
    cmd.env_remove("REDOPS_CONFIG").env("NO_COLOR", "1");
    cmd
}

/// Runs `redops ARGS` to the end ([`RUN_LIMIT`] at most); its output.
pub fn redops(args: &[&str]) -> Output {
    redops_within(args, RUN_LIMIT)
}

/// Runs `redops ARGS` to the end (`limit` at most); its output.
pub fn redops_within(args: &[&str], limit: Duration) -> Output {
    command()
        .args(args)
        .timeout(limit)
        .output()
        .expect("run the redops binary")
}
