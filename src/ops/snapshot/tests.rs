//! Unit tests of `snapshot`.
use std::time::Duration;

use super::*;
use crate::audit::AuditLog;
use crate::observe::NodeId;
use crate::ops::fake::{FakeOps, SaveEnd};
use crate::ops::{node_ref, Approval, RunStatus};

fn plan_node(fake: &FakeOps, name: &str) -> PlanNode {
    fake.with(|w| {
        let (i, n) = w
            .nodes
            .iter()
            .enumerate()
            .find(|(_, n)| n.name == name)
            .unwrap();
        PlanNode {
            name: n.name.clone(),
            addr: n.addr.clone(),
            id: NodeId { group: 0, node: i },
        }
    })
}

async fn gate(fake: &FakeOps, name: &str) -> Result<GateResult, GateError> {
    run_gate(
        fake,
        &plan_node(fake, name),
        Duration::from_secs(2),
        &mut |_| {},
    )
    .await
}

fn files(fake: &FakeOps, name: &str) -> (String, Vec<String>) {
    fake.with(|w| {
        let n = w.nodes.iter().find(|n| n.name == name).unwrap();
        (n.dbfilename.clone(), n.saved_to.clone())
    })
}

fn no_persistence(fake: &FakeOps, name: &str) {
    fake.node(name, |n| n.save = String::new());
}

#[test]
fn temp_names_carry_the_original() {
    let t = temp_dbfilename("e679f9b99b046d77c71ac1c46cc381fdc022535e", "dump.rdb");
    assert_eq!(t, "redops-snapshot-e679f9b9.dump.rdb");
    assert_eq!(original_of_temp(&t), Some("dump.rdb"));
    assert_eq!(original_of_temp("dump.rdb"), None);
    assert_eq!(original_of_temp("redops-snapshot-x."), None);
}

#[tokio::test]
async fn a_node_that_persists_saves_to_its_own_file() {
    let fake = FakeOps::group(&["p", "r"]);
    let g = gate(&fake, "p").await.unwrap();
    assert_eq!(g.saved_aside, None);
    assert_eq!(
        files(&fake, "p"),
        ("dump.rdb".into(), vec!["dump.rdb".into()])
    );
    assert!(!fake.log().iter().any(|l| l.contains("CONFIG SET")));
    // With AOF on, `save` is not even asked.
    let fake = FakeOps::group(&["p", "r"]);
    fake.node("p", |n| {
        n.aof_enabled = true;
        n.save = String::new();
    });
    gate(&fake, "p").await.unwrap();
    assert!(!fake.log().iter().any(|l| l.contains("CONFIG")));
}

#[tokio::test]
async fn no_persistence_saves_aside_and_puts_the_name_back() {
    let fake = FakeOps::group(&["p", "r"]);
    no_persistence(&fake, "p");
    let g = gate(&fake, "p").await.unwrap();
    let temp = "redops-snapshot-unknown.dump.rdb";
    assert_eq!(g.saved_aside.as_deref(), Some(temp));
    assert_eq!(files(&fake, "p"), ("dump.rdb".into(), vec![temp.into()]));
    let log = fake.log();
    let pos = |s: &str| log.iter().position(|l| l == s).unwrap();
    let set = pos(&format!("p: CONFIG SET dbfilename {temp}"));
    let save = pos("p: BGSAVE");
    let back = pos("p: CONFIG SET dbfilename dump.rdb");
    assert!(set < save && save < back, "{log:#?}");
}

#[tokio::test]
async fn the_name_is_put_back_when_the_save_fails() {
    let fake = FakeOps::group(&["p", "r"]);
    no_persistence(&fake, "p");
    fake.node("p", |n| n.save_end = SaveEnd::Fail);
    let e = gate(&fake, "p").await.unwrap_err();
    assert_eq!(e.kind, GateFailure::Failed);
    assert!(
        e.message.contains("rdb_last_bgsave_status:err"),
        "{}",
        e.message
    );
    assert_eq!(files(&fake, "p").0, "dump.rdb");
}

#[tokio::test]
async fn a_leftover_temporary_name_is_put_back_first() {
    let fake = FakeOps::group(&["p", "r"]);
    no_persistence(&fake, "p");
    fake.node("p", |n| {
        n.dbfilename = "redops-snapshot-deadbeef.my.rdb".into();
    });
    let g = gate(&fake, "p").await.unwrap();
    assert_eq!(
        g.saved_aside.as_deref(),
        Some("redops-snapshot-unknown.my.rdb")
    );
    assert_eq!(files(&fake, "p").0, "my.rdb");
}

#[tokio::test]
async fn a_protected_dbfilename_means_no_save_at_all() {
    let fake = FakeOps::group(&["p", "r"]);
    no_persistence(&fake, "p");
    fake.node("p", |n| n.dbfilename_protected = true);
    let e = gate(&fake, "p").await.unwrap_err();
    assert_eq!(e.kind, GateFailure::WouldPlant);
    assert!(
        e.message.contains("reloads at its next restart"),
        "{}",
        e.message
    );
    assert!(e
        .hint
        .as_deref()
        .is_some_and(|h| h.starts_with("take the snapshot as a download")));
    assert_eq!(files(&fake, "p"), ("dump.rdb".into(), vec![]));
    assert!(!fake.log().iter().any(|l| l.contains("BGSAVE")));
}

/// Through the engine: without a download the run stops before any step; with one, the
/// gate is skipped (recorded) and the download is the snapshot.
#[tokio::test]
async fn the_engine_relies_on_the_download_or_stops() {
    for download in [false, true] {
        let fake = FakeOps::group(&["p", "r"]);
        no_persistence(&fake, "p");
        fake.node("p", |n| n.dbfilename_protected = true);
        let (config, topo) = fake.config_and_topology("g");
        let node = node_ref(&config, &topo, NodeId { group: 0, node: 0 }).unwrap();
        let dir = download.then(|| std::path::PathBuf::from("/nonexistent/backups"));
        let plan = plan_snapshot(&config, &topo, &node, dir, Budgets::default());
        let mut log = AuditLog::memory();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let approval = Approval {
            confirmation: Some("p".into()),
            ..Approval::default()
        };
        let out = crate::ops::run(&plan, &approval, &fake, &mut log, &tx).await;
        assert!(!fake.log().iter().any(|l| l.contains("BGSAVE")));
        let skipped = log.records().iter().any(|r| r.event == "SnapshotSkipped");
        assert_eq!(skipped, download, "{out:#?}");
        if download {
            // The fake has no RDB transfer: the run stops at the download, not the gate.
            assert!(out.detail.contains("download"), "{}", out.detail);
        } else {
            assert_eq!(out.status, RunStatus::Refused, "{out:#?}");
            assert!(
                out.detail.contains("reloads at its next restart"),
                "{}",
                out.detail
            );
        }
    }
}

/// An `appendonly yes` node: the plan says the RDB is not what the server reloads.
#[test]
fn an_aof_node_is_told_apart_in_the_plan() {
    for aof in [false, true] {
        let fake = FakeOps::group(&["p", "r"]);
        fake.node("p", |n| n.aof_enabled = aof);
        let (config, topo) = fake.config_and_topology("g");
        let node = node_ref(&config, &topo, NodeId { group: 0, node: 0 }).unwrap();
        let plan = plan_snapshot(&config, &topo, &node, None, Budgets::default());
        let said = plan
            .notes
            .iter()
            .any(|n| n.text.contains("reloads its AOF, not this RDB"));
        assert_eq!(said, aof, "{:?}", plan.notes);
    }
}

/// A node of a cluster group: the plan says how to take the whole cluster's cut.
#[test]
fn a_cluster_nodes_plan_points_to_snapshot_all() {
    for cluster in [false, true] {
        let fake = FakeOps::group(&["p", "r"]);
        let (mut config, topo) = fake.config_and_topology("g");
        config.groups[0].cluster = cluster;
        let node = node_ref(&config, &topo, NodeId { group: 0, node: 0 }).unwrap();
        let mut plan = plan_snapshot(&config, &topo, &node, None, Budgets::default());
        let said = plan
            .notes
            .iter()
            .any(|n| n.text.contains("snapshot --all") && n.text.contains(":snapshot-all [MS]"));
        assert_eq!(said, cluster, "{:?}", plan.notes);
        // The cluster owns the roles, and a snapshot changes none: it is not refused for it.
        crate::ops::checks::GroupPolicy::of(&config.groups[0], &topo.groups[0]).apply(&mut plan);
        assert_eq!(plan.ha_manager.is_some(), cluster);
        let approval = Approval {
            read_only: false,
            ..Approval::default()
        };
        assert_eq!(crate::ops::guard::refusal(&plan, &approval), None);
        assert!(!plan.to_string().contains("REFUSED"), "{plan}");
    }
}
