//! The action commands through the built binary: exit codes and refusals, a switchover from
//! the CLI, the console itself `SIGKILLed` mid-run (the pause expires; the next start finds
//! the interrupted run in the audit log and explains it), and the RDB download budget from the
//! config and from `--download-timeout` against a frozen source.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::cluster as support;
use crate::common::files::walk;

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
    assert!(out.contains("\"step_verified\""), "{out}");
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

/// The RDB download budget comes from `console.download_timeout`, and `--download-timeout`
/// overrides it for one action: a source frozen (SIGSTOP) after its BGSAVE, in the middle of
/// the download, fails it at that budget, named in the message, and nothing is changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_budget_from_the_config_and_the_flag_stops_a_frozen_source() {
    let c = Cluster::start(&["r0"], &[]).await;
    let p = c.port("r0");
    // A slow transfer (100 µs a key: about 2 s), so the freeze lands in the middle of it.
    raw_cmd(p, &["DEBUG", "POPULATE", "20000", "key", "64"])
        .await
        .unwrap();
    raw_cmd(p, &["CONFIG", "SET", "rdb-key-save-delay", "100"])
        .await
        .unwrap();
    let cfg = c.config_file(None);
    let text = std::fs::read_to_string(&cfg).unwrap().replacen(
        "[console]\n",
        "[console]\ndownload_timeout = \"900ms\"\n",
        1,
    );
    std::fs::write(&cfg, text).unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let dir = c.dir.path().join("dl");
    let dir = dir.to_str().unwrap().to_string();

    for bad in ["0s", "fast"] {
        let args = [
            "-c",
            &cfg,
            "snapshot",
            "r0",
            "--download",
            &dir,
            "--download-timeout",
            bad,
            "--yes",
        ];
        let (code, out, err) = redops(&args).await;
        assert_eq!(code, 2, "{bad}: {out}{err}");
        assert!(
            err.contains("invalid --download-timeout") && err.contains("hint"),
            "{bad}: {err}"
        );
    }

    // Both budgets are below the 1 s read and connect timeouts, so wherever the freeze lands
    // (the INFO before the download, the handshake, the transfer) the budget is what ends it.
    for (flag, shown, said) in [(None, "900ms", "900ms"), (Some("600ms"), "600ms", "600ms")] {
        let mut args = vec!["-c", &cfg, "snapshot", "r0", "--download", &dir, "--yes"];
        if let Some(f) = flag {
            args.extend(["--download-timeout", f]);
        }
        let mut child = tokio::process::Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = Vec::new();
        let mut frozen_at = None;
        let ended = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("snapshot: r0 verified") {
                    // The BGSAVE is done; the download has just begun: freeze the source.
                    c.server("r0").signal("STOP");
                    frozen_at = Some(std::time::Instant::now());
                }
                seen.push(line);
            }
            child.wait().await.unwrap()
        })
        .await;
        let took = frozen_at.map(|t| t.elapsed());
        c.server("r0").signal("CONT");
        let status = ended.expect("the snapshot did not end within 60 s");
        let out = seen.join("\n");
        eprintln!("budget {said}: the download failed {took:?} after the freeze");
        assert!(took.is_some(), "the snapshot never verified: {out}");
        assert_eq!(status.code(), Some(3), "{out}");
        assert!(out.contains(&format!("at most {shown} each")), "{out}");
        assert!(
            out.contains(&format!("ran out of its {said} budget"))
                && out.contains("--download-timeout"),
            "{out}"
        );
        let left: Vec<_> = walk(std::path::Path::new(&dir))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rdb"))
            .collect();
        assert!(left.is_empty(), "a failed download left {left:?}");
    }
}
