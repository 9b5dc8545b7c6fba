//! Issue 8.1: one non-UTF-8 byte in INFO never makes a node unreadable. A real replica with
//! `replica-announce-ip` holding byte 0xE9 leaves its primary readable (`up`, role primary,
//! the replica line kept with U+FFFD), through the client and through `redops status`.
//! The byte path (reply bytes -> INFO -> topology -> printed text) is property-tested here
//! with a small budget; `examples/fuzz_info.rs` runs the same path on 10 million inputs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::byte_path;
use crate::common::server;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use redops::node::NodeClient;
use server::Server;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn raw_reply_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let config = byte_path::config();
        byte_path::check(&config, &[&bytes]);
    }

    #[test]
    fn any_bytes_in_a_bulk_string_are_read(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let mut reply = format!("${}\r\n", body.len()).into_bytes();
        reply.extend_from_slice(&body);
        reply.extend_from_slice(b"\r\n");
        // Any bytes in a well-framed bulk string are INFO text: never an error.
        prop_assert!(byte_path::read(&reply).is_ok());
        let config = byte_path::config();
        byte_path::check(&config, &[&reply]);
    }
}

/// The generator of the bulk run, a few thousand inputs: the CI share of the fuzzing.
#[test]
fn generated_replies_small_budget() {
    let config = byte_path::config();
    let mut g = byte_path::Gen::new(0x8_1);
    for _ in 0..3000 {
        let (a, b, c) = (g.reply(), g.reply(), g.reply());
        byte_path::check(&config, &[&a, &b, &c]);
    }
}

fn raw_info(s: &Server) -> Vec<u8> {
    let mut c = s.conn();
    redis::cmd("INFO").arg("replication").query(&mut c).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_announcing_a_latin1_ip_leaves_its_primary_readable() {
    let primary = Server::start(&[]);
    let replica = Server::start(&[]);
    let mut c = replica.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("replica-announce-ip")
        .arg(&b"10.0.0.\xe9"[..])
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(primary.port)
        .query(&mut c)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !raw_info(&primary)
        .windows(16)
        .any(|w| w == b"state=online,off")
    {
        assert!(Instant::now() < deadline, "the replica never came online");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(raw_info(&primary).windows(8).any(|w| w == b"10.0.0.\xe9"));

    let mut client = NodeClient::new(&primary.node("p"), server::timeouts(), "t").unwrap();
    for _ in 0..2 {
        // Twice: the first INFO is plain, the next asks by section.
        let (info, _) = client.info().await.expect("the primary stays readable");
        assert_eq!(info.replication.replicas.len(), 1);
        assert_eq!(info.replication.replicas[0].ip, "10.0.0.\u{fffd}");
    }

    let p = format!("127.0.0.1:{}", primary.port);
    let r = format!("127.0.0.1:{}", replica.port);
    let out = assert_cmd::Command::cargo_bin("redops")
        .unwrap()
        .args(["status", "--json", "--node", &p, "--node", &r])
        .env_remove("REDOPS_CONFIG")
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let nodes = v["groups"][0]["nodes"].as_array().unwrap();
    let p_node = nodes.iter().find(|n| n["addr"] == p.as_str()).unwrap();
    assert_eq!(p_node["state"], "up", "{v}");
    assert_eq!(p_node["role"], "primary", "{v}");
    let kinds: Vec<&str> = v["groups"][0]["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["kind"].as_str())
        .collect();
    assert!(!kinds.contains(&"no_primary"), "{v}");
    assert!(!kinds.contains(&"node_error"), "{v}");
}
