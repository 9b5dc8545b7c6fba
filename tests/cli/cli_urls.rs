//! `redis://` and `rediss://` URLs as targets, on the built binary against real servers:
//! `--node` and `--discover` read them (`rediss` turns TLS on), a URL with a user or password
//! or a database other than 0 is refused with exit 2 and the password is never printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::bin::redops;
use crate::common::server as support;

use std::process::Output;

use serde_json::Value;
use support::Server;

/// Save points, so a lone primary is healthy (no `no_persistence` warning): exit 0.
const SAVE: [&str; 3] = ["--save", "3600", "1"];

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `status --json` on these arguments: exit 0, one node, up, at `addr`.
fn status_up(args: &[&str], addr: &str) {
    let mut all = vec!["status", "--json"];
    all.extend_from_slice(args);
    let out = redops(&all);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let nodes = doc["groups"][0]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{doc}");
    assert_eq!(nodes[0]["addr"], addr, "{doc}");
    assert_eq!(nodes[0]["state"], "up", "{doc}");
}

#[test]
fn redis_urls_name_a_server() {
    let server = Server::start(&SAVE);
    let addr = format!("127.0.0.1:{}", server.port);
    for url in [
        format!("redis://{addr}"),
        format!("redis://{addr}/0"),
        format!("REDIS://{addr}/"),
    ] {
        status_up(&["--node", &url], &addr);
    }
    status_up(&["--discover", &format!("redis://{addr}")], &addr);
}

#[test]
fn rediss_urls_connect_with_tls() {
    let server = Server::start_tls(&SAVE);
    let addr = format!("127.0.0.1:{}", server.port);
    let ca = server.ca_file();
    let ca = ca.to_str().unwrap();
    // No --tls: the scheme says it, and --ca-file is accepted with it.
    status_up(
        &["--node", &format!("rediss://{addr}"), "--ca-file", ca],
        &addr,
    );
    status_up(
        &["--discover", &format!("rediss://{addr}"), "--ca-file", ca],
        &addr,
    );
    // The same server as redis:// is spoken to without TLS, so it is not read as up.
    let out = redops(&["status", "--json", "--node", &format!("redis://{addr}")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn urls_with_credentials_are_refused_without_showing_them() {
    let server = Server::start(&[]);
    let p = server.port;
    for (flag, url) in [
        ("--node", format!("redis://ops:hunter2-pw@127.0.0.1:{p}")),
        ("--node", format!("redis://:hunter2-pw@127.0.0.1:{p}/0")),
        ("--node", format!("rediss://hunter2-pw@127.0.0.1:{p}")),
        (
            "--discover",
            format!("redis://ops:hunter2-pw@127.0.0.1:{p}"),
        ),
    ] {
        let out = redops(&["status", flag, &url]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{url}: {all}");
        assert!(!all.contains("hunter2"), "the password is shown: {all}");
        assert!(all.contains(&format!("invalid {flag}")), "{all}");
        assert!(all.contains("shell history"), "{all}");
        assert!(
            all.contains("hint:") && all.contains("--user NAME --password-env VAR"),
            "{all}"
        );
    }
}

#[test]
fn a_database_other_than_0_is_refused() {
    let out = redops(&["status", "--node", "redis://127.0.0.1:6399/3"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("replication is per server"), "{all}");
    assert!(all.contains("hint: remove '/3'"), "{all}");
}
