//! The checks that change no role leave an audit trail, from the CLI: `backup verify`, `backup
//! prune --yes` (a dry run writes nothing) and `check-data` each write one closed record that
//! `redops history` lists; `check-data --allow-pause` asks y/N on a terminal, is refused with
//! exit 3 (and a `refused` record) when declined or in read-only mode, needs `--yes` without a
//! terminal, and records how long writes were paused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::Value;

use crate::cli_confirm::answer;
use crate::common::bin::redops;
use crate::common::cluster::{raw_cmd, Cluster};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(args: &[&str]) -> (i32, String) {
    let out = redops(args);
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

/// The closing records of the runs of `action`, oldest first (each run also has its
/// `RunStarted`, stamped with the check's start).
fn records(audit: &Path, action: &str) -> Vec<Value> {
    std::fs::read_to_string(audit)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["action"] == action && r["event"] == "RunFinished")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_prune_and_check_data_are_audited_and_a_pause_is_confirmed() {
    let c = Cluster::start(&["p", "r"], &[]).await;
    for i in 0..50 {
        raw_cmd(c.port("p"), &["SET", &format!("k:{i}"), "v"])
            .await
            .unwrap();
    }
    let cfg = c.config_file(None);
    let cfg = cfg.to_str().unwrap();
    let audit = c.dir.path().join("audit.jsonl");
    let backups = c.dir.path().join("backups");
    let dir = backups.to_str().unwrap();
    for _ in 0..2 {
        let (code, out) = run(&["-c", cfg, "snapshot", "p", "--download", dir, "--yes"]);
        assert_eq!(code, 0, "{out}");
    }

    // The restore test: one `done` record naming the backup's group and node.
    let (code, out) = run(&["-c", cfg, "backup", "list", "--json"]);
    assert_eq!(code, 0, "{out}");
    let id = serde_json::from_str::<Value>(out.lines().next().unwrap()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, out) = run(&["-c", cfg, "backup", "verify", &id]);
    assert_eq!(code, 0, "{out}");
    let v = records(&audit, "backup-verify");
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0]["outcome"], "done");
    assert_eq!(v[0]["event"], "RunFinished");
    assert_eq!(v[0]["group"], "g");
    assert_eq!(v[0]["nodes"][0], "p");
    assert!(v[0]["detail"]
        .as_str()
        .unwrap()
        .contains("restore-tested, 50 keys"));
    assert!(!v[0]["user"].as_str().unwrap().is_empty());

    // Prune: the dry run writes nothing, the real one its record.
    let (code, out) = run(&["-c", cfg, "backup", "prune", "--keep", "1"]);
    assert_eq!(code, 0, "{out}");
    assert!(records(&audit, "backup-prune").is_empty());
    let (code, out) = run(&["-c", cfg, "backup", "prune", "--keep", "1", "--yes"]);
    assert_eq!(code, 0, "{out}");
    let p = records(&audit, "backup-prune");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0]["outcome"], "done");
    assert_eq!(p[0]["reason"], "retention --keep 1");
    assert!(p[0]["detail"]
        .as_str()
        .unwrap()
        .starts_with("deleted 1 backup"));

    // check-data without a pause: consistent, `done`, no pause recorded.
    let (code, out) = run(&["-c", cfg, "check-data"]);
    assert_eq!(code, 0, "{out}");
    let d = records(&audit, "check-data");
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["outcome"], "done");
    assert_eq!(d[0]["detail"], "r consistent");
    assert!(d[0].get("pause_ms").is_none(), "{d:?}");

    // A pause: no terminal and no --yes is a usage error, nothing paused or recorded.
    let (code, out) = run(&["-c", cfg, "check-data", "--allow-pause", "200ms"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--yes"), "{out}");
    assert_eq!(records(&audit, "check-data").len(), 1);

    // Declined on a terminal: exit 3 and a `refused` record.
    let cfg_s = cfg.to_string();
    let (code, out) = tokio::task::spawn_blocking(move || {
        answer(
            &["-c", &cfg_s, "check-data", "--allow-pause", "200ms"],
            "[y/N]",
            "n",
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("at most 200ms"), "{out}");
    let d = records(&audit, "check-data");
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(d[1]["outcome"], "refused");

    // Confirmed on a terminal: the pause is taken and its length recorded.
    let cfg_s = cfg.to_string();
    let (code, out) = tokio::task::spawn_blocking(move || {
        answer(
            &["-c", &cfg_s, "check-data", "--allow-pause", "200ms"],
            "[y/N]",
            "y",
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}");
    let d = records(&audit, "check-data");
    assert_eq!(d.len(), 3, "{d:?}");
    assert_eq!(d[2]["outcome"], "done");
    let paused = d[2]["pause_ms"].as_u64().unwrap();
    assert!(paused <= 200, "{d:?}");
    assert!(d[2]["reason"].as_str().unwrap().contains("200ms"), "{d:?}");

    // Each run is closed: two records, a start and a finish.
    let all = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(all.matches("\"action\":\"check-data\"").count(), 6, "{all}");

    // `redops history` lists them as runs.
    let (code, out) = run(&["-c", cfg, "history"]);
    assert_eq!(code, 0, "{out}");
    for action in ["backup-verify", "backup-prune", "check-data"] {
        assert!(out.contains(action), "{action}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_takes_no_write_pause() {
    let c = Cluster::start(&["p", "r"], &[]).await;
    let cfg = c.config_file(None);
    let cfg = cfg.to_str().unwrap();
    let audit = c.dir.path().join("audit.jsonl");
    // Read-only: no write pause, even with --yes; refused (exit 3) and recorded.
    let (code, out) = run(&[
        "-c",
        cfg,
        "--read-only",
        "check-data",
        "--allow-pause",
        "200ms",
        "--yes",
    ]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("read-only"), "{out}");
    let d = records(&audit, "check-data");
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["outcome"], "refused");
    assert!(d[0]["detail"].as_str().unwrap().starts_with("read-only"));
}
