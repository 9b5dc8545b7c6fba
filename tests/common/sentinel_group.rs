//! A Sentinel group for the tests of actions through Sentinel: the sandbox's primary, two
//! replicas and three sentinels, its config with timeouts a loaded machine does not trip, a
//! Sentinel-aware writer, and the checks every such test ends with: every node's role, every
//! sentinel's master, every `replica-priority`, every acknowledged write.
//!
//! Part of `tests/common`, shared by the `servers` and `safety` binaries.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use redops::config::{Addr, Config};
use redops::sandbox::{Sandbox, Spec};

use super::cluster::{info_field, raw_info};
use super::cluster_writer::{client, lost, ClusterWriter};
use super::sentinel_writer::{self, ask_master};

/// A primary, two replicas and three sentinels (quorum 2).
pub async fn sandbox() -> Sandbox {
    Sandbox::start(&Spec {
        replicas: 2,
        sentinels: 3,
        ..Spec::default()
    })
    .await
    .expect("sandbox with sentinels")
}

/// The sandbox's config with timeouts a loaded 2-core machine does not trip.
pub fn config_of(sb: &Sandbox) -> Config {
    let mut c = sb.config();
    c.console.timeout = Duration::from_secs(2);
    c.console.connect_timeout = Duration::from_secs(2);
    c
}

/// The sentinels' addresses, in the config's order.
pub fn sentinel_addrs(c: &Config) -> Vec<Addr> {
    c.groups[0].sentinel.as_ref().unwrap().addrs.clone()
}

/// The port of node `name`.
pub fn port(c: &Config, name: &str) -> u16 {
    c.groups[0]
        .nodes
        .iter()
        .find(|n| n.name == name)
        .unwrap()
        .addr
        .port
}

fn field(info: &str, f: &str) -> Option<String> {
    info_field(info, f)
}

/// Every node's role: `primary` the only master, every other running node its replica with
/// the link up (bounded wait: Sentinel repoints the other replicas by itself).
pub async fn assert_roles(c: &Config, primary: &str, down: &[&str]) {
    let p_port = port(c, primary);
    let end = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut wrong = Vec::new();
        for n in &c.groups[0].nodes {
            if down.contains(&n.name.as_str()) {
                continue;
            }
            let info = raw_info(n.addr.port).await.unwrap_or_default();
            let role = field(&info, "role");
            let ok = if n.name == primary {
                role.as_deref() == Some("master")
            } else {
                role.as_deref() == Some("slave")
                    && field(&info, "master_port") == Some(p_port.to_string())
                    && field(&info, "master_link_status").as_deref() == Some("up")
            };
            if !ok {
                wrong.push(format!("{}: role {role:?}", n.name));
            }
        }
        if wrong.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < end,
            "roles not settled with {primary} the primary: {wrong:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every sentinel that runs names `primary` (bounded wait: hello messages every 2 s).
pub async fn assert_sentinels_name(c: &Config, primary: &str, down: &[usize]) {
    let p_port = port(c, primary);
    let end = std::time::Instant::now() + Duration::from_secs(30);
    for (k, s) in sentinel_addrs(c).iter().enumerate() {
        if down.contains(&k) {
            continue;
        }
        loop {
            let named = ask_master(std::slice::from_ref(s), "sandbox").await;
            if named.as_ref().map(|a| a.port) == Some(p_port) {
                break;
            }
            assert!(
                std::time::Instant::now() < end,
                "sentinel {s} names {named:?}, not {primary}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `replica-priority` of every running node is `want`.
pub async fn assert_priorities(c: &Config, want: &str, skip: &[&str]) {
    for n in &c.groups[0].nodes {
        if skip.contains(&n.name.as_str()) {
            continue;
        }
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("GET").arg("replica-priority");
        let v: Vec<String> = client(n).query(&cmd).await.unwrap();
        assert_eq!(
            v.get(1).map(String::as_str),
            Some(want),
            "{}'s replica-priority",
            n.name
        );
    }
}

/// A Sentinel-aware writer of key `w` for the sandbox's master name.
pub fn writer(c: &Config) -> ClusterWriter {
    sentinel_writer::start(sentinel_addrs(c), "sandbox".into(), "w".into())
}

/// Stops the writer; every acknowledged write is on `primary`.
pub async fn assert_no_loss(c: &Config, primary: &str, w: ClusterWriter) {
    let key = w.key.clone();
    let acked = w.stop().await;
    assert!(!acked.is_empty(), "the writer acknowledged nothing");
    let node = c.groups[0]
        .nodes
        .iter()
        .find(|n| n.name == primary)
        .unwrap();
    let missing = lost(node, &key, &acked).await;
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost, first {:?}",
        missing.len(),
        missing.first()
    );
}
