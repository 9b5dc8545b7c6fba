//! `redops promote` and `redops sentinel reset` on a Sentinel group, from the built binary
//! against real servers and three real sentinels: the reset's plan, usage errors and the
//! read-only refusal, then the reset run (exit 0, one JSON line per engine event, every
//! sentinel knowing the replicas and its peers after, the run in the audit log); promote
//! refused while the primary answers (exit 3); after Sentinel's own failover, promote's
//! statement (exit 0, nothing changed) and its audit record; with a sentinel down, the reset
//! refused (exit 3) with nothing sent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use redops::sandbox::{Sandbox, Spec};

use crate::common::bin::redops;

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `sentinel reset --yes --json` on the sandbox's group: a plan, then one event per step, then
/// the outcome; every sentinel knows the two replicas and its two peers after; the run audited.
async fn reset_through_the_engine(sb: &Sandbox, c: &str) {
    // The reset, through the engine: a plan, then one event per step, then the outcome.
    let out = redops(&["-c", c, "sentinel", "reset", "sandbox", "--yes", "--json"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["event"], "plan", "{said}");
    assert_eq!(lines[0]["plan"]["action"], "sentinel_reset", "{said}");
    let verified = lines
        .iter()
        .filter(|l| l["event"] == "step_verified")
        .count();
    assert_eq!(verified, 6, "{said}");
    let outcome = lines.last().unwrap();
    assert_eq!(outcome["outcome"]["status"], "done", "{said}");
    let s = sb.config().groups[0].sentinel.clone().unwrap();
    let timeouts = redops::node::Timeouts::from(&sb.config().console);
    for r in redops::sentinel::poll::poll_group(0, &s, timeouts).await {
        let m = r.seen.unwrap().master.unwrap();
        assert_eq!((m.num_replicas, m.num_other_sentinels), (Some(2), Some(2)));
    }
    let audit = std::fs::read_to_string(sb.config().console.audit_log).unwrap();
    let run_id = outcome["outcome"]["run_id"].as_str().unwrap();
    let run: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["run_id"] == run_id)
        .collect();
    assert!(
        run.iter().all(|r| r["action"] == "sentinel-reset"),
        "{run:#?}"
    );
    assert_eq!(run.last().unwrap()["outcome"], "done", "{run:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_reset_and_promote_from_the_command_line() {
    let mut sb = Sandbox::start(&Spec {
        replicas: 2,
        sentinels: 3,
        ..Spec::default()
    })
    .await
    .expect("sandbox with sentinels");
    let config = sb.write_config().unwrap();
    let c = config.to_str().unwrap();

    let out = redops(&["-c", c, "sentinel", "reset", "nosuch", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no group 'nosuch'"), "{}", text(&out));

    let out = redops(&["-c", c, "sentinel", "reset", "sandbox", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = text(&out);
    assert_eq!(
        said.matches("]: SENTINEL RESET sandbox").count(),
        3,
        "{said}"
    );
    assert!(said.contains("snapshot gate: none needed"), "{said}");
    assert!(said.contains("dry run: nothing was changed"), "{said}");

    let out = redops(&[
        "-c",
        c,
        "--read-only",
        "sentinel",
        "reset",
        "sandbox",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("read-only"), "{}", text(&out));

    reset_through_the_engine(&sb, c).await;

    // The primary answers: promote is refused (a switchover is what is meant), nothing sent.
    let out = redops(&["-c", c, "promote", "n3", "--yes"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("n1 is up and a primary"), "{said}");
    assert!(said.contains("switch over instead"), "{said}");
    assert!(!said.contains("SENTINEL FAILOVER sandbox"), "{said}");

    // Sentinel fails the killed primary over by itself; promote then says what it did.
    sb.kill("n1").unwrap();
    let end = Instant::now() + Duration::from_secs(45);
    let said = loop {
        let out = redops(&["-c", c, "promote", "--yes"]);
        let said = text(&out);
        if out.status.code() == Some(0) {
            break said;
        }
        // Before the failover: refused for Sentinel owning the group, nothing changed.
        assert_eq!(out.status.code(), Some(3), "{said}");
        assert!(said.contains("watched by Sentinel"), "{said}");
        assert!(Instant::now() < end, "no failover by Sentinel: {said}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        said.contains("Sentinel has already failed over 'sandbox'"),
        "{said}"
    );
    assert!(said.contains("redops changes nothing"), "{said}");
    let audit = std::fs::read_to_string(sb.config().console.audit_log).unwrap();
    let statement = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["action"] == "promote" && r["outcome"] == "noted")
        .expect("the statement is audited");
    assert!(
        statement["detail"]
            .as_str()
            .unwrap()
            .contains("Sentinel has already failed over"),
        "{statement}"
    );

    // A sentinel down: resetting another would leave fewer than the quorum knowing the
    // master. Refused (exit 3) before anything is sent, and the refusal audited.
    sb.kill("s3").unwrap();
    let out = redops(&["-c", c, "sentinel", "reset", "sandbox", "--yes"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("fewer than the quorum 2"), "{said}");
    let audit = std::fs::read_to_string(sb.config().console.audit_log).unwrap();
    let resets: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["action"] == "sentinel-reset")
        .collect();
    let refused = resets.last().unwrap();
    assert_eq!(refused["outcome"], "refused", "{refused}");
    let run_id = &refused["run_id"];
    assert!(
        !resets
            .iter()
            .any(|r| r["run_id"] == *run_id && r["event"] == "StepStarted"),
        "nothing sent: {resets:#?}"
    );
}
