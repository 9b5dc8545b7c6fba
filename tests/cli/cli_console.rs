//! The console without a terminal (issue 10 item 7): `redops`, `redops demo` and `redops
//! drill NAME` run from a pipe, cron or `ssh host redops` say that the console needs a
//! terminal and which commands work without one, and exit 2, before anything is resolved or
//! started.
//!
//! `assert_cmd` captures stdout through a pipe, so stdout is never a terminal here.

#![allow(clippy::unwrap_used)]

use crate::common::bin::command as redops;
use predicates::prelude::*;

fn says_it_needs_a_terminal(out: assert_cmd::assert::Assert) -> assert_cmd::assert::Assert {
    out.code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "error: the console needs a terminal, and stdout is not a terminal",
        ))
        .stderr(predicate::str::contains("hint:"))
        .stderr(predicate::str::contains("redops status"))
        .stderr(predicate::str::contains("redops watch"))
        .stderr(predicate::str::contains("os error").not())
}

#[test]
fn the_console_without_a_terminal_says_so_and_exits_2() {
    // A node nothing listens on: the check comes before the targets are resolved.
    says_it_needs_a_terminal(redops().args(["--node", "127.0.0.1:1"]).assert());
}

#[test]
fn the_demo_without_a_terminal_starts_no_server() {
    // With a server binary that does not exist, starting the sandbox would fail with exit 1:
    // exit 2 and no "starting" line show that the check came first.
    says_it_needs_a_terminal(
        redops()
            .args(["demo", "--server-bin", "/nonexistent/redis-server"])
            .assert(),
    )
    .stderr(predicate::str::contains("starting").not());
}

#[test]
fn status_still_works_without_a_terminal() {
    // Not the console: the check must not catch the headless commands.
    redops()
        .args(["status", "--node", "127.0.0.1:1", "--timeout", "200ms"])
        .assert()
        .stderr(predicate::str::contains("needs a terminal").not());
}

#[test]
fn the_drill_console_without_a_terminal_starts_no_server() {
    // `redops drill NAME` opens the console: the check comes before the drill's sandbox.
    says_it_needs_a_terminal(
        redops()
            .args([
                "drill",
                "master-crash",
                "--server-bin",
                "/nonexistent/redis-server",
            ])
            .assert(),
    )
    .stderr(predicate::str::contains("starting").not());
}

#[test]
fn drill_without_a_name_or_with_json_outside_headless_is_a_usage_error() {
    redops()
        .arg("drill")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("which drill?"));
    redops()
        .args(["drill", "run", "master-crash", "--json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--json is for --headless"));
}
