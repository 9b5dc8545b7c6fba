//! Cluster backups on the built binary against a real cluster: `snapshot --all --pause` with
//! `--yes --json`, `backup list` showing it as one entry, `backup verify` passing with no
//! scratch server left behind, `backup prune` keeping its shards, then failing (exit 1) on a corrupted shard named in its
//! message; usage errors (exit 2): `--all` on a group that is not a cluster, `--pause`
//! without `--all`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

use redops::sandbox::{ClusterShape, Sandbox, Spec};

use crate::common::bin::redops;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn code(out: &std::process::Output) -> Option<i32> {
    out.status.code()
}

/// Exit 0, or the test fails with everything the command said.
fn succeeded(out: &std::process::Output) {
    assert_eq!(
        code(out),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The scratch cluster servers running now that were not in `before`.
fn started_since(before: &[String]) -> Vec<String> {
    scratch_cluster_servers()
        .into_iter()
        .filter(|s| !before.contains(s))
        .collect()
}

/// Servers of a scratch cluster still running: a `redis-server` in cluster mode whose working
/// directory (its `dir`; the process title no longer shows its arguments) is a sandbox's `sN`.
fn scratch_cluster_servers() -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        let title = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        // A sentinel runs the same binary (a sandbox names its sentinels `sN` too).
        if comm.trim() != "redis-server" || !String::from_utf8_lossy(&title).contains("[cluster]") {
            continue;
        }
        let Ok(cwd) = std::fs::read_link(e.path().join("cwd")) else {
            continue;
        };
        let cwd = cwd
            .to_string_lossy()
            .trim_end_matches(" (deleted)")
            .to_string();
        let mut parts = cwd.rsplit('/');
        let (leaf, parent) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if parent.starts_with("redops-sandbox-")
            && leaf.starts_with('s')
            && leaf[1..].parse::<u32>().is_ok()
        {
            found.push(cwd);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_all_then_list_and_verify_on_the_binary() {
    let shape = ClusterShape {
        primaries: 2,
        replicas: 0,
        node_timeout: std::time::Duration::from_secs(2),
    };
    let sb = Sandbox::start_cluster(shape, &Spec::default())
        .await
        .expect("a cluster");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, sb.config_toml()).unwrap();
    let cfg = cfg.to_str().unwrap();
    let plain = dir.path().join("plain.toml");
    std::fs::write(
        &plain,
        sb.config_toml()
            .replace("cluster = true", "cluster = false"),
    )
    .unwrap();

    let out = redops(&[
        "-c", cfg, "snapshot", "--all", "--pause", "3000", "--yes", "--json",
    ]);
    succeeded(&out);
    let last: Value = serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["outcome"]["status"], "done");
    assert!(last["outcome"]["pause_ms"].as_u64().unwrap() < 3000);

    let out = redops(&["-c", cfg, "backup", "list", "--json"]);
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let clusters: Vec<&Value> = lines.iter().filter(|v| v["kind"] == "cluster").collect();
    assert_eq!(clusters.len(), 1, "one cluster entry: {lines:?}");
    assert_eq!(lines.len(), 3, "the two per-node backups beside it");
    let id = clusters[0]["id"].as_str().unwrap().to_string();
    let m = &clusters[0]["manifest"];
    assert_eq!(m["shards"].as_array().unwrap().len(), 2);
    assert_eq!(m["pause_bound_ms"], 3000);
    let out = redops(&["-c", cfg, "backup", "list"]);
    assert!(
        text(&out.stdout).contains(&format!("{id}  ")),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).contains("2 shards"),
        "{}",
        text(&out.stdout)
    );

    // Other programs' scratch clusters may run meanwhile on a shared machine: only the ones
    // this command started count.
    let before = scratch_cluster_servers();
    let out = redops(&["-c", cfg, "backup", "verify", &id]);
    succeeded(&out);
    assert!(text(&out.stdout).contains("restore test passed"));
    let left = started_since(&before);
    assert!(left.is_empty(), "{left:?}");
    let out = redops(&["-c", cfg, "backup", "list", "--json"]);
    let recorded = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["kind"] == "cluster")
        .unwrap();
    assert_eq!(recorded["manifest"]["restore_test"]["passed"], true);
    let audit = std::fs::read_to_string(&sb.config().console.audit_log).unwrap();
    assert!(
        audit.contains(&format!(
            "cluster backup {id}: restore-tested in a scratch cluster"
        )),
        "the restore test is in the audit log"
    );

    prune_keeps_shards(cfg, m);

    let file = m["shards"][1]["file"].as_str().unwrap();
    let mut bytes = std::fs::read(file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(file, bytes).unwrap();
    let before = scratch_cluster_servers();
    let out = redops(&["-c", cfg, "backup", "verify", &id]);
    assert_eq!(
        code(&out),
        Some(1),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("shard 2 (n2, slots 8192-16383)"),
        "{}",
        text(&out.stderr)
    );
    let left = started_since(&before);
    assert!(left.is_empty(), "{left:?}");
    let audit = std::fs::read_to_string(&sb.config().console.audit_log).unwrap();
    assert!(audit.contains(&format!(
        "cluster backup {id}: restore test FAILED: shard 2"
    )));

    usage_errors(cfg, plain.to_str().unwrap());
}

/// `--all` on a group that is not a cluster, `--pause` without `--all`: exit 2 with a hint.
fn usage_errors(cfg: &str, plain: &str) {
    let out = redops(&["-c", plain, "snapshot", "--all", "--yes"]);
    assert_eq!(code(&out), Some(2));
    assert!(text(&out.stderr).contains("is not a cluster group"));
    assert!(text(&out.stderr).contains("hint: "));
    let out = redops(&["-c", cfg, "snapshot", "n1", "--pause", "100", "--yes"]);
    assert_eq!(code(&out), Some(2));
    assert!(
        text(&out.stderr).contains("goes with --all"),
        "{}",
        text(&out.stderr)
    );
}

/// Pruning every node backup keeps the cluster backup's shards.
fn prune_keeps_shards(cfg: &str, m: &Value) {
    let out = redops(&["-c", cfg, "backup", "prune", "--keep", "0", "--yes"]);
    succeeded(&out);
    assert!(
        text(&out.stderr).contains("kept 2 backups that belong to a cluster backup"),
        "{}",
        text(&out.stderr)
    );
    for s in m["shards"].as_array().unwrap() {
        assert!(std::path::Path::new(s["file"].as_str().unwrap()).exists());
    }
}
