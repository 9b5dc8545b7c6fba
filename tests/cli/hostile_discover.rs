//! Issue 8.3: `--discover` sent the operator's password to addresses chosen by server data
//! (a replica's announced IP/port, a `REPLICAOF` to any host). Now only the seed and the
//! `--node` addresses get credentials; a discovered node that wants them shows `auth_error`
//! with the `--discover-auth` hint; `--discover-auth` opts in.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::hostile;

use std::time::Duration;

use assert_cmd::Command;
use hostile::{bulk, upper, Act, Fake};

const PASSWORD: &str = "s3cret-of-the-operator";

/// A node that wants a password before anything else, and logs what it is sent.
fn listener() -> Fake {
    Fake::start(|args| match upper(args).as_str() {
        "AUTH" => Act::Send(b"+OK\r\n".to_vec()),
        _ => Act::Send(b"-NOAUTH Authentication required.\r\n".to_vec()),
    })
}

/// The seed: a replica whose primary and whose own replica are the listeners.
fn seed(primary: &Fake, replica: &Fake) -> Fake {
    let info = format!(
        "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:{}\r\n\
         master_link_status:up\r\nslave_repl_offset:10\r\nconnected_slaves:1\r\n\
         slave0:ip=127.0.0.1,port={},state=online,offset=10,lag=0\r\n\
         master_replid:0000000000000000000000000000000000000000\r\nmaster_repl_offset:10\r\n",
        primary.port(),
        replica.port()
    );
    Fake::info(bulk(info.as_bytes()))
}

fn status(seed: &Fake, extra: &[&str]) -> serde_json::Value {
    let addr = seed.addr_string();
    let mut args = vec![
        "status",
        "--json",
        "--discover",
        &addr,
        "--password-env",
        "PW",
    ];
    args.extend_from_slice(extra);
    let out = Command::cargo_bin("redops")
        .unwrap()
        .args(&args)
        .env_remove("REDOPS_CONFIG")
        .env("PW", PASSWORD)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON ({e}): {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn sent_password(f: &Fake) -> bool {
    f.commands().iter().any(|c| c.contains(PASSWORD))
}

#[test]
fn discovered_addresses_get_no_credentials() {
    let (p, r) = (listener(), listener());
    let s = seed(&p, &r);
    let v = status(&s, &[]);
    assert!(sent_password(&s), "the seed was named: it gets them");
    for (who, f) in [("primary", &p), ("replica", &r)] {
        assert!(
            !sent_password(f),
            "{who} got the password: {:?}",
            f.commands()
        );
        assert!(
            !f.commands().is_empty(),
            "{who} was never contacted: the test proves nothing"
        );
        let addr = f.addr_string();
        let nodes = v["groups"][0]["nodes"].as_array().unwrap();
        let n = nodes
            .iter()
            .find(|n| n["addr"] == addr.as_str())
            .unwrap_or_else(|| panic!("{who} not in {v}"));
        assert_eq!(n["state"], "auth_error", "{v}");
        assert!(
            n["error"]
                .as_str()
                .unwrap_or_default()
                .contains("--discover-auth"),
            "{v}"
        );
    }
}

#[test]
fn discover_auth_opts_in() {
    let (p, r) = (listener(), listener());
    let s = seed(&p, &r);
    let _ = status(&s, &["--discover-auth"]);
    assert!(sent_password(&p) && sent_password(&r));
}
