//! Issue 8.2: server-originated text never reaches the terminal raw. A replica announcing an
//! IP full of escape sequences (real server), a fake server with a hostile `redis_version`,
//! `master_host` and error text: `status` shows them with the control characters made
//! visible, `status --json` keeps them exactly (escaped JSON), and nothing in stdout or stderr
//! is a control character but the line break.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::bin::redops;
use crate::common::hostile;
use crate::common::server;

use hostile::{bulk, Act, Fake};
use server::Server;

const TITLE: &str = "x\u{1b}]0;OWNED\u{7}\u{1b}[2J";
const REWRITE: &str = "\r\u{1b}[2K\u{1b}[1Ahealthy: no anomalies\u{9b}";

/// No byte a terminal would act on: C0 controls but `\n`, DEL, and C1 controls (UTF-8
/// `C2 80..9F`).
fn assert_terminal_safe(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let bad: Vec<char> = text
        .chars()
        .filter(|c| *c != '\n' && c.is_control())
        .collect();
    assert!(bad.is_empty(), "{what} holds {bad:?}:\n{text}");
}

fn hostile_replica_info() -> Vec<u8> {
    let info = format!(
        "# Server\r\nredis_version:7.0.15{TITLE}\r\nredis_mode:standalone\r\ntcp_port:6379\r\n\
         # Replication\r\nrole:slave\r\nmaster_host:10.9.9.9{REWRITE}\r\nmaster_port:6379\r\n\
         master_link_status:down\r\nmaster_sync_in_progress:0\r\nslave_repl_offset:0\r\n\
         master_replid:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\n"
    );
    bulk(info.as_bytes())
}

#[test]
fn status_text_makes_hostile_fields_visible_and_json_keeps_them() {
    let fake = Fake::info(hostile_replica_info());
    let addr = fake.addr_string();

    let out = redops(&["status", "--node", &addr, "--timeout", "2s"]);
    assert_terminal_safe("stdout", &out.stdout);
    assert_terminal_safe("stderr", &out.stderr);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("7.0.15x\\x1b]0;OWNED\\x07\\x1b[2J"), "{text}");
    // The forged "healthy" line never stands on its own line: the real verdict is there.
    assert!(
        !text.lines().any(|l| l.trim() == "healthy: no anomalies"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1), "{text}");

    let out = redops(&["status", "--json", "--node", &addr, "--timeout", "2s"]);
    assert_terminal_safe("json stdout", &out.stdout);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let node = &v["groups"][0]["nodes"][0];
    assert_eq!(node["version"], format!("7.0.15{TITLE}"), "{v}");
    let primary = node["primary"].as_str().unwrap_or_default();
    assert!(primary.contains(&format!("10.9.9.9{REWRITE}")), "{v}");
}

#[test]
fn server_error_text_is_made_visible() {
    let fake = Fake::start(|args| match hostile::upper(args).as_str() {
        "INFO" => Act::Send(format!("-ERR no{TITLE}\r\n").into_bytes()),
        _ => Act::Send(b"+OK\r\n".to_vec()),
    });
    let out = redops(&["status", "--node", &fake.addr_string(), "--timeout", "2s"]);
    assert_terminal_safe("stdout", &out.stdout);
    assert_terminal_safe("stderr", &out.stderr);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\\x1b]0;OWNED\\x07"), "{text}");
}

/// The reported incident on a real server: a replica announcing an IP made of escape
/// sequences shows up, made visible, under its primary.
#[test]
fn replica_announce_ip_with_escapes_on_a_real_server() {
    let primary = Server::start(&[]);
    let replica = Server::start(&[]);
    let _: () = replica.cmd(&["CONFIG", "SET", "replica-announce-ip", TITLE]);
    replica.replicate(&primary);
    let addr = format!("127.0.0.1:{}", primary.port);
    let out = redops(&["status", "--node", &addr]);
    assert_terminal_safe("stdout", &out.stdout);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("x\\x1b]0;OWNED\\x07\\x1b[2J"), "{text}");
}
