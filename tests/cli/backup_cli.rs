//! `redops backup list|prune|verify` on the built binary against real servers: downloads into
//! the backups directory and elsewhere (recorded in the catalog), a restore test that passes
//! and is recorded in the manifest, a corrupted and a truncated file that fail (exit 1), an
//! RDB without a manifest reported from its load, and a prune that is a dry run until --yes
//! and never touches a file outside the catalog.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::common::bin::redops;
use crate::common::cluster::{raw_cmd, raw_cmd_within, Cluster, WriterHandle};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Exit 0, or the test fails with everything the command said.
fn succeeded(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

pub(crate) fn list_json(cfg: &str) -> Vec<Value> {
    let out = redops(&["-c", cfg, "backup", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub(crate) fn snapshot(cfg: &str, node: &str, dir: &Path) {
    let out = redops(&[
        "-c",
        cfg,
        "snapshot",
        node,
        "--download",
        dir.to_str().unwrap(),
        "--yes",
    ]);
    succeeded(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_verify_corrupt_truncated_foreign_and_prune() {
    let c = Cluster::start(&["p", "r"], &[]).await;
    let port = c.port("p");
    for i in 0..300 {
        raw_cmd(port, &["SET", &format!("k:{i}"), "v"])
            .await
            .unwrap();
    }
    raw_cmd(port, &["RPUSH", "list", "a", "b"]).await.unwrap();
    let cfg_path = c.config_file(None);
    let cfg = cfg_path.to_str().unwrap();
    let backups = c.dir.path().join("backups");
    let elsewhere = tempfile::tempdir().unwrap();

    snapshot(cfg, "p", &backups);
    snapshot(cfg, "p", &backups);
    snapshot(cfg, "p", elsewhere.path());
    let entries = list_json(cfg);
    assert_eq!(entries.len(), 3, "{entries:?}");
    let external: Vec<&Value> = entries
        .iter()
        .filter(|e| e["recorded_elsewhere"] == true)
        .collect();
    assert_eq!(
        external.len(),
        1,
        "the download elsewhere is in the catalog"
    );
    let newest = entries[0]["id"].as_str().unwrap().to_string();

    // Restore test: passes, and the list shows it.
    let out = redops(&["-c", cfg, "backup", "verify", &newest, "--sample", "1000"]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(
        said.contains("301 keys") && said.contains("list 1"),
        "{said}"
    );
    let out = redops(&["-c", cfg, "backup", "list"]);
    assert!(
        text(&out.stdout).contains("restore-tested") && text(&out.stdout).contains("301 keys"),
        "{}",
        text(&out.stdout)
    );

    // A corrupted copy fails on its CRC; a truncated one on its end; both exit 1.
    let rdb = PathBuf::from(external[0]["rdb"].as_str().unwrap());
    let mut bytes = std::fs::read(&rdb).unwrap();
    let full = bytes.clone();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&rdb, &bytes).unwrap();
    let id = external[0]["id"].as_str().unwrap();
    let out = redops(&["-c", cfg, "backup", "verify", id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("corrupt"),
        "{}",
        text(&out.stderr)
    );
    let out = redops(&["-c", cfg, "backup", "list"]);
    assert!(
        text(&out.stdout).contains("restore test FAILED"),
        "{}",
        text(&out.stdout)
    );
    let trunc = elsewhere.path().join("cut.rdb");
    std::fs::write(&trunc, &full[..full.len() - 20]).unwrap();
    let out = redops(&["-c", cfg, "backup", "verify", trunc.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("truncated"),
        "{}",
        text(&out.stderr)
    );

    // An RDB redops did not make: what it holds, from the load.
    let foreign = elsewhere.path().join("foreign.rdb");
    std::fs::write(&foreign, &full).unwrap();
    let out = redops(&["-c", cfg, "backup", "verify", foreign.to_str().unwrap()]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("no manifest") && said.contains("db0=301"),
        "{said}"
    );

    // Prune: a dry run first, then only catalogued files go.
    let stray = backups.join("g").join("p").join("notes.txt");
    std::fs::write(&stray, "keep me").unwrap();
    let out = redops(&["-c", cfg, "backup", "prune", "--keep", "1"]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert_eq!(said.matches("would delete").count(), 2, "{said}");
    assert_eq!(list_json(cfg).len(), 3, "a dry run deletes nothing");
    let out = redops(&["-c", cfg, "backup", "prune", "--keep", "1", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let left = list_json(cfg);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], newest.as_str());
    assert!(stray.exists() && foreign.exists() && trunc.exists());

    aof_node_is_noted(&c, cfg, &backups).await;
}

/// An AOF node: the plan and the manifest say the RDB is not what it reloads.
async fn aof_node_is_noted(c: &Cluster, cfg: &str, backups: &Path) {
    let port = c.port("p");
    raw_cmd(port, &["CONFIG", "SET", "appendonly", "yes"])
        .await
        .unwrap();
    c.wait_field(port, "aof_rewrite_in_progress", "0").await;
    c.wait_field(port, "aof_enabled", "1").await;
    let out = redops(&[
        "-c",
        cfg,
        "snapshot",
        "p",
        "--download",
        backups.to_str().unwrap(),
        "--yes",
    ]);
    let said = text(&out.stdout) + &text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("reloads its AOF, not this RDB"), "{said}");
    let newest = &list_json(cfg)[0];
    assert_eq!(newest["manifest"]["info"]["aof_enabled"], true, "{newest}");
}

/// Under a writer the manifest's counts before and after the download differ from the file's;
/// the restore test takes the file's as a moment between them, not as a mismatch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_passes_its_restore_test() {
    let c = Cluster::start(&["p", "r"], &[]).await;
    let cfg_path = c.config_file(None);
    let cfg = cfg_path.to_str().unwrap().to_string();
    let backups = c.dir.path().join("backups");
    let writer = WriterHandle::start(c.ports());
    writer.wait_more(500).await;
    let (cfg2, dir) = (cfg.clone(), backups.clone());
    tokio::task::spawn_blocking(move || snapshot(&cfg2, "p", &dir))
        .await
        .unwrap();
    writer.stop().await;
    let entries = list_json(&cfg);
    let m = &entries[0]["manifest"];
    let after = m["keys_after"][0]["keys"].as_u64().unwrap();
    let before = m["info"]["total_keys"].as_u64().unwrap();
    assert!(after > before, "the writer wrote during the download: {m}");
    let id = entries[0]["id"].as_str().unwrap();
    let out = redops(&["-c", &cfg, "backup", "verify", id]);
    succeeded(&out);
}

/// PIDs of the servers (`redis-server`, `valkey-server`) whose parent is `parent` (from
/// `/proc/*/stat`).
fn server_children(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`: comm may hold spaces, so split after its `)`.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if !(head.ends_with("(redis-server") || head.ends_with("(valkey-server")) {
            continue;
        }
        let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if ppid == Some(parent) {
            out.extend(e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()));
        }
    }
    out
}

/// Ctrl-C during the load: the scratch server (a child of redops) is gone when redops ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_a_restore_test_leaves_no_scratch_server() {
    let c = Cluster::start(&["p"], &[]).await;
    raw_cmd_within(
        c.port("p"),
        &["DEBUG", "POPULATE", "1000000", "key", "100"],
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let cfg_path = c.config_file(None);
    let cfg = cfg_path.to_str().unwrap().to_string();
    let backups = c.dir.path().join("backups");
    let (cfg2, dir) = (cfg.clone(), backups.clone());
    tokio::task::spawn_blocking(move || snapshot(&cfg2, "p", &dir))
        .await
        .unwrap();
    let id = list_json(&cfg)[0]["id"].as_str().unwrap().to_string();
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_redops"))
        .args(["-c", &cfg, "backup", "verify", &id])
        .env_remove("REDOPS_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut scratch = Vec::new();
    for _ in 0..2_000 {
        scratch = server_children(run.id());
        if !scratch.is_empty() || run.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(!scratch.is_empty(), "no scratch server was seen");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(run.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || run.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("interrupted"),
        "{}",
        text(&out.stderr)
    );
    for pid in scratch {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "scratch server {pid} outlived redops"
        );
    }
}

#[test]
fn bad_manifests_are_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("g").join("n");
    std::fs::create_dir_all(&node).unwrap();
    std::fs::write(node.join("x.rdb.json"), b"\xff\xfe not json").unwrap();
    std::fs::write(dir.path().join("catalog.jsonl"), "garbage\n").unwrap();
    let d = dir.path().to_str().unwrap();
    let out = redops(&["backup", "list", "--backups-dir", d]);
    assert_eq!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(
        err.contains("x.rdb.json") && err.contains("line 1"),
        "{err}"
    );
    let out = redops(&["backup", "verify", "nosuch", "--backups-dir", d]);
    assert_eq!(out.status.code(), Some(2));
}

/// A path that exists but is not a regular file (a device, a directory) is named as such, not
/// as missing; exit 2 before any server starts.
#[test]
fn verify_of_a_path_that_is_not_a_regular_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    for target in ["/dev/zero", dir.path().to_str().unwrap()] {
        let out = redops(&[
            "--node",
            "127.0.0.1:1",
            "backup",
            "verify",
            target,
            "--backups-dir",
            backups.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{target}");
        let err = text(&out.stderr);
        assert!(err.contains("is not a regular file"), "{target}: {err}");
    }
}
