//! Shell completions and the man page (issue 10 item 8), from the real binary: `redops
//! completions SHELL` prints a script that knows the subcommands, `redops man` a roff page.

#![allow(clippy::unwrap_used)]

use predicates::prelude::*;

fn redops(args: &[&str]) -> assert_cmd::assert::Assert {
    crate::common::bin::command().args(args).assert()
}

#[test]
fn completion_scripts_know_the_subcommands() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef redops"),
        ("fish", "complete -c redops"),
    ] {
        let out = redops(&["completions", shell]).code(0);
        let script = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        assert!(script.contains(marker), "{shell}: no '{marker}'");
        for word in ["switchover", "status", "theme"] {
            assert!(script.contains(word), "{shell}: no '{word}'");
        }
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    redops(&["completions", "tcsh"])
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("tcsh"));
}

#[test]
fn the_man_page_is_roff_with_the_subcommands() {
    redops(&["man"])
        .code(0)
        .stdout(predicate::str::contains(".TH redops 1"))
        .stdout(predicate::str::contains("switchover"))
        .stdout(predicate::str::contains("\\-\\-read\\-only"));
}
