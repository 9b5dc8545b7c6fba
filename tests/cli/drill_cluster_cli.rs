//! The `cluster-shard-failover` drill end to end on the built binary: a 3x1 cluster, its
//! first shard's primary killed under writes; the cluster fails over by itself, the old
//! primary comes back as a replica, and the reference solution switches the shard back to it
//! with no acknowledged write lost. Switching another shard over instead is a wrong move,
//! named in the report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crate::common::bin::redops;
use crate::common::cluster::info_field;
use crate::drill_cli::{assert_passed, Drill};

/// `redops -c CONFIG ARGS`, whatever it exits with: its output.
fn run(d: &Drill, args: &str) -> String {
    let mut all = vec!["-c", d.config.as_str()];
    all.extend(args.split_whitespace());
    String::from_utf8_lossy(&redops(&all).stdout).into_owned()
}

/// Waits (bounded) until `args` would run: its dry run exits 0 (the cluster's map, not only
/// the node itself, must say it is a replica in sync before a switchover to it may go).
fn until_plannable(d: &Drill, args: &str) {
    let end = Instant::now() + Duration::from_secs(60);
    let mut all = vec!["-c", d.config.as_str()];
    all.extend(args.split_whitespace());
    all.push("--dry-run");
    loop {
        let out = redops(&all);
        if out.status.success() {
            return;
        }
        assert!(
            Instant::now() < end,
            "{args} never became plannable: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits (bounded) until `node` replicates with its link up and no sync running: a
/// switchover to it is refused before.
fn in_sync(d: &Drill, node: &str) {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let info = d.raw(node, &["INFO", "replication"]).unwrap_or_default();
        if info_field(&info, "master_link_status").as_deref() == Some("up")
            && info_field(&info, "master_sync_in_progress").as_deref() == Some("0")
        {
            return;
        }
        assert!(Instant::now() < end, "{node} never came in sync: {info}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn cluster_shard_failover_reference_solution_passes() {
    let spec = redops::drill::load::find("cluster-shard-failover").unwrap();
    assert_eq!(spec.solution, ["status", "switchover --to n1 --yes"]);
    let d = Drill::start("cluster-shard-failover");
    d.fault("n1 killed");
    // The cluster's own failover ends the first step; the trainee looks.
    d.step(1);
    // `status` exits 1 while anything is left to say (n1 rejoining): its words are read.
    let status = run(&d, &spec.solution[0]);
    assert!(status.contains("cluster_state ok"), "{status}");
    assert!(status.contains("shard n4: slots 0-5460"), "{status}");
    d.fault("n1 restarted with its old data");
    in_sync(&d, "n1");
    until_plannable(&d, &spec.solution[1]);
    d.act(&spec.solution[1]);
    let (report, code) = d.finish();
    assert_passed("cluster-shard-failover", &report, code);
}

#[test]
fn cluster_shard_failover_switching_another_shard_fails_naming_the_move() {
    let d = Drill::start("cluster-shard-failover");
    d.step(1);
    d.fault("n1 restarted with its old data");
    in_sync(&d, "n5");
    until_plannable(&d, "switchover --to n5");
    // The drill ends as soon as n5 is a primary, stopping the sandbox under the switchover's
    // last step: how that run ends is not the point.
    run(&d, "switchover --to n5 --yes");
    let (report, code) = d.finish();
    assert_eq!(code, 1);
    let ending = &report["ending"];
    assert_eq!(ending["kind"], "wrong_move", "{report:#}");
    assert_eq!(ending["what"], "n5 became a primary");
    assert!(ending["by"].as_str().unwrap().contains("n5"), "{report:#}");
}
