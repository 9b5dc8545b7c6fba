//! `redops history` against a real audit log: a snapshot and a switchover run on sandbox
//! servers, then listed (text and JSON), one run's steps, filters, and a log with garbage and a
//! torn last line (skipped with their line numbers), or that is not a regular file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use crate::common::bin::redops;
use crate::common::cluster::Cluster;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = redops(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_the_runs_of_the_audit_log_and_one_runs_steps() {
    let c = Cluster::start(&["r0", "r1"], &[]).await;
    let cfg = c.config_file(Some("r0"));
    let cfg = cfg.to_str().unwrap();

    let (code, out, err) = run(&["-c", cfg, "history"]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(err.contains("no audit log"), "{err}");

    let (code, out, _) = run(&["-c", cfg, "snapshot", "r1", "--yes"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = run(&["-c", cfg, "switchover", "--to", "r1", "--yes"]);
    assert_eq!(code, 0, "{out}");

    let (code, out, err) = run(&["-c", cfg, "history"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("WHEN") && lines[0].contains("PAUSED"),
        "{out}"
    );
    assert!(
        lines[1].contains("snapshot") && lines[1].contains(" r1 "),
        "{out}"
    );
    assert!(
        lines[2].contains("switchover") && lines[2].contains("r0 r1") && lines[2].contains("done"),
        "{out}"
    );
    assert!(err.is_empty(), "{err}");

    let (code, out, _) = run(&["-c", cfg, "history", "--json"]);
    assert_eq!(code, 0);
    let runs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(runs.len(), 2, "{out}");
    let sw = &runs[1];
    assert_eq!(sw["action"], "switchover");
    assert_eq!(sw["outcome"], "done");
    assert_eq!(sw["group"], "g");
    assert_eq!(sw["nodes"][1]["name"], "r1");
    assert!(
        sw["pause_ms"].is_u64(),
        "the switchover paused writes: {sw}"
    );
    assert!(sw["duration_ms"].is_u64(), "{sw}");
    let started = sw["started_at"].as_str().unwrap();
    assert!(
        started.len() == 24 && started.ends_with('Z') && started.as_bytes()[19] == b'.',
        "RFC 3339 in milliseconds: {started}"
    );

    // One run's steps, by the start of its id.
    let id = sw["run_id"].as_str().unwrap();
    let (code, out, err) = run(&["-c", cfg, "history", &id[..14]]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("switchover on g by "), "{out}");
    assert!(
        out.contains("step 1 started") && out.contains("pause writes on r0"),
        "{out}"
    );
    assert!(
        out.contains("run finished") && out.contains("CLIENT PAUSE"),
        "{out}"
    );
    let (code, out, _) = run(&["-c", cfg, "history", id, "--json"]);
    assert_eq!(code, 0);
    let one: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(one["steps"][0]["event"], "run_started");
    assert!(one["steps"].as_array().unwrap().len() > 5, "{one}");

    // Filters: the group, the newest N, an unknown id.
    let (_, out, _) = run(&["-c", cfg, "history", "-g", "other"]);
    assert!(out.is_empty(), "{out}");
    let (_, out, _) = run(&["-c", cfg, "history", "--json", "--limit", "1"]);
    assert_eq!(out.lines().count(), 1);
    assert!(out.contains("switchover"), "{out}");
    let (_, out, _) = run(&["-c", cfg, "history", "--json", "--since", "1h"]);
    assert_eq!(out.lines().count(), 2);
    let (code, _, err) = run(&["-c", cfg, "history", "nosuchrun"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no run 'nosuchrun'") && err.contains("hint"),
        "{err}"
    );

    // Garbage and a torn last line: skipped, with their line numbers; the runs still read.
    let audit = c.dir.path().join("audit.jsonl");
    let before = std::fs::read_to_string(&audit).unwrap().lines().count();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&audit)
        .unwrap();
    f.write_all(b"\x00\xffgarbage\n{\"run_id\":\"x\",\"event\":\"RunSta")
        .unwrap();
    drop(f);
    let (code, out, err) = run(&["-c", cfg, "history"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(
        err.contains(&format!("line {}: not an audit record", before + 1))
            && err.contains(&format!("line {}: torn last line", before + 2)),
        "{err}"
    );

    // Not a regular file: said, exit 2, no hang.
    let (code, _, err) = run(&["history", "--audit-log", c.dir.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("a directory, not a regular file"), "{err}");
}
