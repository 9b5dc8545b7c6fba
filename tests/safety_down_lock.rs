//! Issue 7, items 1 and 4, against real `redis-server` processes:
//! - a primary that is alive but unreadable (it wants a password the console was not given) is
//!   never promoted around: `promote` is refused, even forced, and one primary remains.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "ops_support.rs"]
mod support;

use std::process::Stdio;
use std::time::Duration;

use support::{info_field, raw_cmd, Cluster};

const BIN: &str = env!("CARGO_BIN_EXE_redops");

/// Runs the binary with `env` set; exit code, stdout, stderr.
async fn redops(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `role` of the node at `port`, authenticating as `user`/`password` when given.
fn role(port: u16, user: Option<&str>, password: Option<&str>) -> String {
    let url = match (user, password) {
        (Some(u), Some(p)) => format!("redis://{u}:{p}@127.0.0.1:{port}/"),
        (None, Some(p)) => format!("redis://:{p}@127.0.0.1:{port}/"),
        _ => format!("redis://127.0.0.1:{port}/"),
    };
    let client = redis::Client::open(url).unwrap();
    let mut c = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let text: String = redis::cmd("INFO").arg("replication").query(&mut c).unwrap();
    info_field(&text, "role").unwrap()
}

/// Item 1: m wants a password the console lacks, its replicas have it (their links are up).
/// `promote r1` must be refused, with the reason and the fix, even with `--force --reason`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_around_an_alive_but_unreadable_primary_is_refused() {
    let c = Cluster::start(&["m", "r1", "r2"], &[]).await;
    for r in ["r1", "r2"] {
        raw_cmd(c.port(r), &["CONFIG", "SET", "masterauth", "X"])
            .await
            .unwrap();
    }
    raw_cmd(c.port("m"), &["CONFIG", "SET", "requirepass", "X"])
        .await
        .unwrap();
    let noauth = raw_cmd(c.port("m"), &["INFO"]).await.unwrap_err();
    assert!(noauth.starts_with("NOAUTH"), "{noauth}");
    for r in ["r1", "r2"] {
        c.wait_field(c.port(r), "master_link_status", "up").await;
    }
    let cfg = c.config_file(None);
    let cfg = cfg.to_str().unwrap();

    let (code, out, err) = redops(&["-c", cfg, "promote", "r1", "--yes"], &[]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("FAIL  m answers but cannot be read"), "{out}");
    assert!(out.contains("password"), "the fix is named: {out}");
    assert!(!out.contains("ok  m is"), "{out}");

    let (code, out, err) = redops(
        &[
            "-c", cfg, "promote", "r1", "--yes", "--force", "--reason", "drill",
        ],
        &[],
    )
    .await;
    assert_eq!(code, 3, "a plain --force does not override it: {out}{err}");

    let roles = [
        role(c.port("m"), None, Some("X")),
        role(c.port("r1"), None, None),
        role(c.port("r2"), None, None),
    ];
    assert_eq!(roles, ["master", "slave", "slave"], "exactly one primary");
}
