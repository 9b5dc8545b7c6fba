//! Polling over TLS with a CA file, against a real TLS-only `redis-server` (certificates made
//! with `openssl` for 127.0.0.1): with the CA it reads the node; without it the certificate is
//! refused and the node is reported as a TLS error, not as up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::server as support;

use std::time::Duration;

use redops::config::{Addr, Node, Secret, Tls};
use redops::node::{NodeClient, Timeouts};
use redops::observe::{NodeError, NodeState};
use redops::sandbox::Spec;
use support::Server;

fn node(port: u16, ca: Option<std::path::PathBuf>, password: Option<&str>) -> Node {
    Node {
        name: "tls".into(),
        addr: Addr {
            host: "127.0.0.1".into(),
            port,
        },
        username: None,
        password: password.map(Secret::new),
        tls: Some(Tls {
            ca_file: ca,
            ..Tls::default()
        }),
    }
}

const T: Timeouts = Timeouts {
    connect: Duration::from_secs(2),
    read: Duration::from_secs(2),
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_over_tls_with_a_ca_file() {
    let server = Server::start_with(Spec {
        tls: true,
        password: Some("tls-s3cret".into()),
        ..Server::spec(&[])
    });
    let ok = node(server.port, Some(server.ca_file()), Some("tls-s3cret"));
    let mut c = NodeClient::new(&ok, T, "redops-test").unwrap();
    let (info, _) = c.info().await.expect("INFO over TLS");
    assert_eq!(
        info.server.tcp_port,
        Some(server.port),
        "tcp_port is the TLS port"
    );

    // The system roots do not know the test CA: refused, and said to be a TLS problem.
    let no_ca = node(server.port, None, Some("tls-s3cret"));
    let err = match NodeClient::new(&no_ca, T, "redops-test") {
        Ok(mut c) => c.info().await.map(|_| ()).unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(err.state(), NodeState::TlsError, "{err:?}");

    // Plain TCP to the TLS port never reads the node as up.
    let mut plain = node(server.port, None, None);
    plain.tls = None;
    let mut c = NodeClient::new(&plain, T, "redops-test").unwrap();
    let err = c.info().await.map(|_| ()).unwrap_err();
    assert!(
        matches!(
            err,
            NodeError::Refused(_) | NodeError::Unresponsive(_) | NodeError::Other(_)
        ),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("tls-s3cret"));
}
