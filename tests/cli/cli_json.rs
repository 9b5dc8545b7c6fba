//! Every `--json` command's stdout is JSON lines: each line one object, every key and event
//! name in snake case, every time RFC 3339 in milliseconds (status, watch, check-config, an
//! action's dry run and a real one with its progress). Without a terminal and without
//! `--json`, an action's progress is plain lines (no bar, no carriage return).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

use redops::sandbox::{Sandbox, Spec};
use serde_json::Value;

use super::cli_watch::Watch;

fn redops(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(assert_cmd::cargo::cargo_bin("redops"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("REDOPS_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn is_snake(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `2026-12-05T07:42:05.123Z`: a date, `T`, a time, exactly three fractional digits, `Z`.
fn is_ms_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
}

/// A string that starts like an RFC 3339 time.
fn looks_like_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 11 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b'T'
}

/// Every key snake case, every `event` snake case, every time in milliseconds.
fn check(v: &Value, line: &str, path: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                assert!(is_snake(k), "key '{path}.{k}' is not snake case: {line}");
                if k == "event" {
                    let e = x.as_str().unwrap_or_default();
                    assert!(is_snake(e), "event '{e}' is not snake case: {line}");
                }
                check(x, line, &format!("{path}.{k}"));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| check(x, line, path)),
        Value::String(s) if looks_like_time(s) => {
            assert!(
                is_ms_time(s),
                "'{path}' = '{s}' is not RFC 3339 in ms: {line}"
            );
        }
        _ => {}
    }
}

/// Each line of `out` a JSON object that passes [`check`]; the objects.
fn json_lines(what: &str, out: &str) -> Vec<Value> {
    assert!(!out.trim().is_empty(), "{what}: no output");
    out.lines()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {l}"));
            assert!(v.is_object(), "{what}: not an object: {l}");
            check(&v, l, "");
            v
        })
        .collect()
}

fn events(v: &[Value]) -> Vec<&str> {
    v.iter().filter_map(|x| x["event"].as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_line_is_an_object_in_snake_case_with_ms_times() {
    let sb = Sandbox::start(&Spec::default()).await.expect("sandbox");
    let cfg = sb.write_config().unwrap();
    let cfg = cfg.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dl = dir.path().to_str().unwrap();

    let (_, out, err) = redops(&["-c", cfg, "status", "--json"]);
    let status = json_lines("status", &out);
    assert!(status[0]["at"].is_string(), "{out}{err}");

    let (code, out, err) = redops(&["-c", cfg, "check-config", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(events(&json_lines("check-config", &out)), ["config_valid"]);
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[console]\npoll_interval = 3\n").unwrap();
    let (code, out, _) = redops(&["-c", bad.to_str().unwrap(), "check-config", "--json"]);
    assert_eq!(code, 2);
    assert_eq!(
        events(&json_lines("check-config (invalid)", &out)),
        ["config_invalid"]
    );

    let (code, out, err) = redops(&["-c", cfg, "switchover", "--to", "n2", "--dry-run", "--json"]);
    assert_eq!(code, 0, "{err}");
    let dry = json_lines("switchover --dry-run", &out);
    assert_eq!(events(&dry), ["plan", "dry_run"], "{out}");
    assert_eq!(dry[1]["changed"], false);

    // A real run, watched by another process: both streams are JSON lines.
    let w = Watch::start(&["--config", cfg, "--json", "--heartbeat", "1s"]);
    w.until("heartbeat", |l| l.contains("\"heartbeat\""));
    let (code, out, err) = redops(&[
        "-c",
        cfg,
        "snapshot",
        "n1",
        "--download",
        dl,
        "--yes",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let run = json_lines("snapshot --json", &out);
    let names = events(&run);
    for want in [
        "plan",
        "run_started",
        "snapshot_started",
        "snapshot_verified",
        "download_started",
        "download_progress",
        "download_verified",
        "run_finished",
        "outcome",
    ] {
        assert!(names.contains(&want), "{want} missing: {names:?}");
    }
    let progress = run
        .iter()
        .find(|v| v["event"] == "download_progress")
        .unwrap();
    assert!(
        progress["bytes"].is_u64() && progress["elapsed_ms"].is_u64(),
        "{progress}"
    );
    let watched = w.until("run_finished", |l| l.contains("\"run_finished\""));
    w.stop();
    json_lines("watch --json", &watched.join("\n"));

    // No terminal, no --json: plain progress lines, no bar drawn anywhere.
    let (code, out, err) = redops(&["-c", cfg, "snapshot", "n2", "--download", dl, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.contains(" download: n2: ") && l.contains(" B")),
        "a plain progress line:\n{out}"
    );
    for text in [&out, &err] {
        assert!(
            !text.contains('\r') && !text.contains('\u{1b}') && !text.contains('█'),
            "no bar without a terminal:\n{text}"
        );
    }
    assert!(out.contains("done: n2 saved its dataset"), "{out}");
}
