//! `redops status` end to end on the built binary against real servers: the JSON schema, the
//! exit codes, ad-hoc `--node` and `--discover` targets, and usage errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::bin::redops;
use std::process::Output;

use redops::sandbox::{Sandbox, Spec};
use serde_json::Value;

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON object ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_schema_and_exit_codes() {
    let mut sb = Sandbox::start(&Spec {
        replicas: 2,
        chain: true,
        ..Spec::default()
    })
    .await
    .expect("sandbox starts");
    let addrs: Vec<String> = sb
        .nodes()
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let mut args = vec!["status", "--json"];
    for a in &addrs {
        args.push("--node");
        args.push(a);
    }
    let out = redops(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json_of(&out);
    assert_eq!(doc["healthy"], true);
    let nodes = doc["groups"][0]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 4);
    let primary = &nodes[0];
    assert_eq!(primary["role"], "primary");
    assert_eq!(primary["state"], "up");
    assert_eq!(primary["addr"], addrs[0]);
    assert!(primary["primary"].is_null());
    assert!(primary["offset"].is_u64());
    assert!(primary["version"]
        .as_str()
        .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit())));
    for n in &nodes[1..] {
        for key in [
            "name",
            "addr",
            "role",
            "state",
            "primary",
            "link",
            "lag_bytes",
            "lag_seconds",
            "offset",
            "replid",
            "version",
        ] {
            assert!(n.get(key).is_some(), "node has '{key}': {n}");
        }
        assert_eq!(n["role"], "replica");
        assert_eq!(n["link"], "up");
        assert_eq!(n["replid"], primary["replid"]);
        let upstream = n["primary"].as_str().unwrap();
        assert!(
            addrs.iter().any(|a| a == upstream),
            "primary uses the given spelling: {upstream}"
        );
    }
    assert!(doc["groups"][0]["anomalies"].as_array().unwrap().is_empty());

    // Text output of the same.
    let text = redops(
        &args[..1]
            .iter()
            .chain(&args[2..])
            .copied()
            .collect::<Vec<_>>(),
    );
    assert_eq!(text.status.code(), Some(0));
    let s = String::from_utf8_lossy(&text.stdout);
    assert!(s.contains("primary") && s.contains("healthy"), "{s}");

    // Discovery from a replica finds the whole group.
    let out = redops(&["status", "--json", "--discover", &addrs[3]]);
    let doc = json_of(&out);
    assert_eq!(
        doc["groups"][0]["nodes"].as_array().unwrap().len(),
        4,
        "{doc}"
    );

    // A killed replica: exit 1, state down, an anomaly.
    sb.kill("n2").unwrap();
    let out = redops(&args);
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    let n2 = doc["groups"][0]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["addr"] == addrs[1])
        .unwrap()
        .clone();
    assert_eq!(n2["state"], "down");
    let anomalies = doc["groups"][0]["anomalies"].as_array().unwrap();
    assert!(anomalies.iter().any(|a| a["kind"] == "node_down"), "{doc}");
    for a in anomalies {
        assert!(a["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(a["nodes"].is_array());
    }
}

#[test]
fn usage_errors_exit_2_with_a_hint() {
    for args in [
        vec!["status", "--node", "not a host:99999"],
        vec!["status", "--node", "127.0.0.1:0"],
        vec!["status", "--config", "/nonexistent/redops.toml"],
        vec![
            "status",
            "--node",
            "127.0.0.1:1",
            "--password-env",
            "REDOPS_TEST_UNSET_VAR",
        ],
        vec!["status", "--frobnicate"],
    ] {
        let out = redops(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains("error"), "{args:?}: {err}");
    }
    let out = redops(&["status", "--node", "127.0.0.1:0"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));
}
