//! Issue 8.7 (mutual TLS): beside the CA file, a client certificate and key (redis-cli's
//! `--cert`/`--key`), from the config (`cert_file`/`key_file`) or the command line, against a
//! real TLS-only server that requires client certificates (`tls-auth-clients yes`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::server;

use std::path::{Path, PathBuf};
use std::time::Duration;

use redops::config::{ClientCert, Tls};
use redops::node::NodeClient;
use server::Server;

/// A client certificate signed by the server's test CA: (cert, key).
fn client_cert(s: &Server) -> (PathBuf, PathBuf) {
    (s.tls().client_cert.clone(), s.tls().client_key.clone())
}

fn tls_node(s: &Server, client: Option<(PathBuf, PathBuf)>) -> redops::config::Node {
    let mut n = s.node("t1");
    n.tls = Some(Tls {
        ca_file: Some(s.ca_file()),
        client_cert: client.map(|(cert_file, key_file)| ClientCert {
            cert_file,
            key_file,
        }),
    });
    n
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_requires_client_certificates() {
    let s = Server::start_tls(&["--tls-auth-clients", "yes"]);
    let (cert, key) = client_cert(&s);

    let mut without = NodeClient::new(&tls_node(&s, None), server::timeouts(), "t").unwrap();
    assert!(
        without.info().await.is_err(),
        "the server must require a certificate"
    );

    let node = tls_node(&s, Some((cert.clone(), key.clone())));
    let mut with = NodeClient::new(&node, server::timeouts(), "t").unwrap();
    let (info, _) = with.info().await.expect("INFO with a client certificate");
    assert!(info.server.version.is_some());

    // The command line, as redis-cli: --tls --ca-file --cert --key.
    let addr = format!("127.0.0.1:{}", s.port);
    let out = assert_cmd::Command::cargo_bin("redops")
        .unwrap()
        .args(["status", "--json", "--node", &addr, "--tls"])
        .args([
            "--ca-file",
            &show(&s.ca_file()),
            "--cert",
            &show(&cert),
            "--key",
            &show(&key),
        ])
        .env_remove("REDOPS_CONFIG")
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["groups"][0]["nodes"][0]["state"], "up", "{v}");

    // The config file: cert_file and key_file beside ca_file.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[groups]]\nname = \"g\"\ntls = true\nca_file = \"{}\"\ncert_file = \"{}\"\n\
             key_file = \"{}\"\n\n[[groups.nodes]]\nname = \"t1\"\naddr = \"{addr}\"\n",
            show(&s.ca_file()),
            show(&cert),
            show(&key)
        ),
    )
    .unwrap();
    let out = assert_cmd::Command::cargo_bin("redops")
        .unwrap()
        .args(["status", "--json", "-c", &show(&cfg)])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["groups"][0]["nodes"][0]["state"], "up", "{v}");

    // Half a pair is a config error with its location.
    std::fs::write(
        &cfg,
        format!(
            "[[groups]]\nname = \"g\"\ntls = true\ncert_file = \"{}\"\n\n\
             [[groups.nodes]]\nname = \"t1\"\naddr = \"{addr}\"\n",
            show(&cert)
        ),
    )
    .unwrap();
    let out = assert_cmd::Command::cargo_bin("redops")
        .unwrap()
        .args(["check-config", "-c", &show(&cfg)])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("needs both cert_file and key_file"), "{err}");
    assert!(err.contains(":4:"), "{err}");
}

/// The TLS hint only where the evidence points at TLS: a plaintext client on a TLS port is
/// told to check `tls = true`; a node killed under an open connection is not.
#[tokio::test]
async fn the_tls_hint_only_on_a_tls_port() {
    let s = Server::start_tls(&[]);
    let mut plain = NodeClient::new(&s.node("t1"), server::timeouts(), "t").unwrap();
    let e = plain.info().await.unwrap_err().to_string();
    println!("plaintext to a TLS port: {e}");
    assert!(e.contains("tls = true"), "{e}");

    let mut killed = Server::start(&[]);
    let mut c = NodeClient::new(&killed.node("k1"), server::timeouts(), "t").unwrap();
    c.info().await.expect("INFO before the kill");
    let mut q = NodeClient::new(&killed.node("k1"), server::timeouts(), "q").unwrap();
    let ping = redis::cmd("PING");
    q.query::<String>(&ping)
        .await
        .expect("PING before the kill");
    killed.kill();
    // A command on the connection open before the kill: reset or closed, never "TLS".
    if let Err(e) = q.query::<String>(&ping).await {
        println!("after kill -9, on an open connection: {e}");
        assert!(!e.to_string().to_ascii_lowercase().contains("tls"), "{e}");
    }
    for _ in 0..3 {
        let e = c.info().await.unwrap_err().to_string();
        println!("after kill -9: {e}");
        assert!(!e.to_ascii_lowercase().contains("tls"), "{e}");
    }
}
