//! Builders for config and topology fixtures that several test modules share: nodes by
//! address, a group of loopback nodes, the anomaly kinds of a built topology.

use redops::config::{Addr, Config, Console, Group, Node};
use redops::topology::{AnomalyKind, Topology};

/// A node at `addr` (`host:port`), no credentials, no TLS.
pub fn node(name: &str, addr: &str) -> Node {
    Node {
        name: name.into(),
        addr: Addr::parse(addr).expect("a valid host:port"),
        username: None,
        password: None,
        tls: None,
    }
}

/// A node at `127.0.0.1:port`, no credentials, no TLS.
pub fn loopback_node(name: &str, port: u16) -> Node {
    node(name, &format!("127.0.0.1:{port}"))
}

/// One group `g` of `n` nodes `n1..` on `127.0.0.1:7001..`, console defaults.
pub fn loopback_config(n: usize) -> Config {
    let nodes = (0..n)
        .map(|i| {
            let port = 7001 + u16::try_from(i).expect("fewer than 64k nodes");
            loopback_node(&format!("n{}", i + 1), port)
        })
        .collect();
    Config {
        console: Console::default(),
        groups: vec![Group::new("g", nodes)],
        source: None,
    }
}

/// The anomaly kinds of group `g`, in order.
pub fn kinds(t: &Topology, g: usize) -> Vec<AnomalyKind> {
    t.groups[g].anomalies.iter().map(|a| a.kind).collect()
}
