//! Issue 8.6: inputs accepted that should not be. `--timeout 0s`; an unknown theme that
//! `check-config` passed and the console refused without a location; an INFO reply that is an
//! integer; a connection closed in the middle of a reply; a closed stdout (`| head`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::bin::redops;
use crate::common::hostile;

use std::process::Stdio;
use std::time::Duration;

use hostile::{bulk, upper, Act, Fake};
use redops::config::{Addr, Node};
use redops::node::{NodeClient, Timeouts};
use redops::observe::NodeError;

fn client(fake: &Fake) -> NodeClient {
    let node = Node {
        name: "f".into(),
        addr: Addr {
            host: "127.0.0.1".into(),
            port: fake.port(),
        },
        username: None,
        password: None,
        tls: None,
    };
    let t = Timeouts {
        connect: Duration::from_secs(2),
        read: Duration::from_secs(5),
    };
    NodeClient::new(&node, t, "t").unwrap()
}

#[test]
fn a_zero_timeout_on_the_command_line_is_a_usage_error() {
    let out = redops(&["status", "--node", "127.0.0.1:1", "--timeout", "0s"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("invalid --timeout: zero timeout '0s'"),
        "{err}"
    );
}

#[test]
fn check_config_refuses_an_unknown_theme_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[console]\ntheme = \"no-such-theme\"\n\n[[groups]]\nname = \"g\"\n\n\
         [[groups.nodes]]\nname = \"a\"\naddr = \"127.0.0.1:6379\"\n",
    )
    .unwrap();
    let p = path.display().to_string();
    let out = redops(&["check-config", "--config", &p]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("unknown theme 'no-such-theme'"), "{err}");
    assert!(err.contains("console.theme"), "{err}");
    assert!(err.contains(&format!("{p}:2:9")), "{err}");
    assert!(err.contains("hint: built-in themes are"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integer_answered_to_info_is_an_error_not_an_up_node() {
    let fake = Fake::start(|args| match upper(args).as_str() {
        "INFO" => Act::Send(b":42\r\n".to_vec()),
        _ => Act::Send(b"+OK\r\n".to_vec()),
    });
    let e = client(&fake).info().await.unwrap_err();
    assert_eq!(
        e,
        NodeError::Other(
            "INFO answered an integer, not text: not a Redis server, or a broken one".into()
        )
    );
    let out = redops(&["status", "--json", "--node", &fake.addr_string()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["groups"][0]["nodes"][0]["state"], "error", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_mid_reply_says_so() {
    let fake = Fake::start(|args| match upper(args).as_str() {
        "INFO" => Act::SendClose(b"$100\r\n# Server\r\nredis_ver".to_vec()),
        _ => Act::Send(b"+OK\r\n".to_vec()),
    });
    let e = client(&fake).info().await.unwrap_err();
    let text = e.to_string();
    assert!(!text.contains("Parse error"), "{text}");
    assert!(
        text.contains("closed the connection in the middle of a reply"),
        "{text}"
    );
}

/// `redops status | head -0`: stdout is closed before anything is printed. No panic, the
/// usual exit code.
#[test]
fn a_closed_stdout_ends_quietly() {
    let info = "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\
                master_replid:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\n";
    let fake = Fake::info(bulk(info.as_bytes()));
    let bin = assert_cmd::cargo::cargo_bin("redops");
    let mut child = std::process::Command::new(bin)
        .args(["status", "--node", &fake.addr_string()])
        .env_remove("REDOPS_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?} {err}",
        out.status
    );
}
