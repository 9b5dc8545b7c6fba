//! The action commands through the built binary: exit codes and refusals, a switchover from
//! the CLI, and the console itself SIGKILLed mid-run (the pause expires; the next start finds
//! the interrupted run in the audit log and explains it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "ops_support.rs"]
mod support;

use std::process::Stdio;
use std::time::Duration;

use support::{missing_keys, raw_cmd, Cluster, WriterHandle};
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_redops");

async fn redops(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_refusals_and_a_cli_switchover() {
    let c = Cluster::start(&["r0", "r1"], &[]).await;
    let cfg = c.config_file(Some("r0"));
    let cfg = cfg.to_str().unwrap();

    let (code, out, _) = redops(&["-c", cfg, "switchover", "--to", "r1", "--dry-run"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("CLIENT PAUSE") && out.contains("dry run: nothing was changed"),
        "{out}"
    );

    let (code, _, err) = redops(&["-c", cfg, "switchover", "--to", "r1"]).await;
    assert_eq!(code, 2, "no terminal and no --yes: {err}");
    assert!(
        err.contains("not a terminal") && err.contains("--yes"),
        "{err}"
    );

    let (code, _, err) = redops(&["-c", cfg, "switchover", "--to", "r1", "--yes", "--force"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("--force needs a reason"), "{err}");

    let (code, _, err) = redops(&["-c", cfg, "switchover", "--to", "nosuch", "--yes"]).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("no node named 'nosuch'") && err.contains("hint"),
        "{err}"
    );

    let (code, out, _) = redops(&[
        "-c",
        cfg,
        "--read-only",
        "switchover",
        "--to",
        "r1",
        "--yes",
    ])
    .await;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("read-only"), "{out}");

    let (code, out, _) = redops(&["-c", cfg, "switchover", "--to", "r0", "--yes"]).await;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("r0 is already the primary"), "{out}");
    assert_eq!(c.primaries().await, vec![c.port("r0")]);

    let (code, out, _) = redops(&["-c", cfg, "snapshot", "r1", "--yes"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verified"), "{out}");

    let addr = format!("127.0.0.1:{}", c.port("r1"));
    let (code, out, err) =
        redops(&["-c", cfg, "switchover", "--to", &addr, "--yes", "--json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    for line in out.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v.get("event").is_some(), "{line}");
    }
    assert!(out.contains("\"StepVerified\""), "{out}");
    assert_eq!(c.primaries().await, vec![c.port("r1")]);

    let (code, out, _) = redops(&["-c", cfg, "failback", "--yes", "--strategy", "native"]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(c.primaries().await, vec![c.port("r0")]);
    let audit = std::fs::read_to_string(c.dir.path().join("audit.jsonl")).unwrap();
    assert!(audit.lines().count() > 10);
    assert!(
        audit.contains("FAILOVER TO") && audit.contains("\"user\""),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_killed_mid_run_is_found_and_explained_at_the_next_start() {
    let c = Cluster::start(&["r0", "r1", "r2"], &[]).await;
    let cfg = c.config_file(None);
    let cfg = cfg.to_str().unwrap().to_string();
    let writer = WriterHandle::start(c.ports());
    writer.wait_more(200).await;

    let mut child = tokio::process::Command::new(BIN)
        .args(["-c", &cfg, "switchover", "--to", "r1", "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let r1 = c.port("r1");
    let mut seen = Vec::new();
    let killed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line.clone());
            if line.contains("snapshot: BGSAVE on r0") {
                // The target stops answering during the gate: the catch-up will wait on it.
                tokio::spawn(async move { raw_cmd(r1, &["DEBUG", "SLEEP", "4"]).await });
            }
            if line.contains("step 1 ok") {
                child.start_kill().unwrap();
                let _ = child.wait().await;
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(killed, "the pause step never appeared: {seen:#?}");

    // The pause left behind expires by itself and writes resume on r0.
    writer.wait_more(200).await;
    assert_eq!(c.primaries().await, vec![c.port("r0")]);

    let (code, out, err) = redops(&["-c", &cfg, "switchover", "--to", "r1", "--dry-run"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("warning: an earlier run did not finish: switchover on group 'g'"),
        "{err}"
    );
    assert!(
        err.contains("of step 1 (pause writes on r0)") || err.contains("of step 2"),
        "it names where it stopped: {err}"
    );
    assert!(err.contains("nothing is left to finish"), "{err}");
    // Settled runs are acknowledged: the next start is quiet.
    let (_, _, err) = redops(&["-c", &cfg, "switchover", "--to", "r1", "--dry-run"]).await;
    assert!(!err.contains("did not finish"), "{err}");

    let acked = writer.stop().await;
    let missing = missing_keys(c.port("r0"), &acked).await;
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost",
        missing.len()
    );
}
