//! Redis Cluster against real servers: the sandbox's `3x1` cluster (formed by redops itself),
//! the cluster view and its anomalies as the topology shows them, and the faults that make a
//! cluster fail over by itself or go down.
//!
//! Every test starts its own small cluster with a short `cluster-node-timeout`, so the faults
//! of one test never reach another.

use std::time::{Duration, Instant};

use redops::audit::AuditLog;
use redops::ops::redis_ops::action_client_name;
use redops::ops::switchover::SwitchoverRequest;
use redops::ops::{Approval, Budgets, CheckStatus, Plan, RealOps, RunOutcome, RunStatus, Strategy};

use redops::cluster::{self, NodeReport, Shard};
use redops::config::{Config, Node};
use redops::sandbox::{ClusterShape, Sandbox, Spec};
use redops::topology::{AnomalyKind, GroupTopology, Severity, Topology};

use crate::common::cluster_writer::{client, lost, ClusterWriter};

/// Short enough that a failover takes a few seconds, long enough for two busy cores.
const NODE_TIMEOUT: Duration = Duration::from_millis(1500);

pub async fn start(primaries: usize, replicas: usize) -> Sandbox {
    let shape = ClusterShape {
        primaries,
        replicas,
        node_timeout: NODE_TIMEOUT,
    };
    Sandbox::start_cluster(shape, &Spec::default())
        .await
        .expect("a sandbox cluster")
}

/// Leaves `slot` migrating from `from` to `to` (as a resharding that stopped half-way).
pub async fn set_migrating(from: &Node, to: &Node, slot: u16) {
    let id = report(to).await.nodes.myself().expect("myself").id.clone();
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("SETSLOT").arg(slot).arg("MIGRATING").arg(&id);
    client(from).query::<()>(&cmd).await.expect("SETSLOT");
}

async fn report(n: &Node) -> NodeReport {
    cluster::read(&mut client(n)).await
}

fn gone(pid: u32) -> bool {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid fits"));
    nix::sys::signal::kill(pid, None) == Err(nix::errno::Errno::ESRCH)
}

#[tokio::test]
async fn sandbox_forms_a_3x1_cluster_and_kills_it_by_pid() {
    let started = Instant::now();
    let sb = start(3, 1).await;
    println!("3x1 cluster formed in {:?}", started.elapsed());
    let config = sb.config();
    assert_eq!(config.groups.len(), 1);
    let g = &config.groups[0];
    assert!(g.cluster, "written as a cluster group");
    assert_eq!(g.preferred_primary, None);
    assert_eq!(g.nodes.len(), 6);
    assert!(sb.config_toml().contains("cluster = true"));
    let mut ids = Vec::new();
    for n in &g.nodes {
        let r = report(n).await;
        assert_eq!(r.error, None);
        assert_eq!(r.info.state_ok, Some(true), "{}", n.name);
        assert_eq!(r.nodes.nodes.len(), 6);
        assert!(r.nodes.bad_lines.is_empty());
        ids.push(r.nodes.myself().expect("myself").id.clone());
    }
    // n4 replicates n1, n5 n2, n6 n3; the primaries share the slots in order.
    let r = report(&g.nodes[0]).await;
    for (replica, primary) in [(3, 0), (4, 1), (5, 2)] {
        let n = r.nodes.by_id(&ids[replica]).expect("replica known");
        assert_eq!(n.primary_id.as_ref(), Some(&ids[primary]));
    }
    let slots: Vec<u32> = (0..3)
        .map(|i| r.nodes.by_id(&ids[i]).expect("primary").slot_count())
        .collect();
    assert_eq!(slots, [5461, 5461, 5462]);
    let pids: Vec<u32> = sb.nodes().iter().map(|n| n.pid).collect();
    drop(sb);
    assert!(pids.iter().all(|&p| gone(p)), "every server killed on drop");
}

/// One poll of every node, as `redops status` takes it.
async fn poll(config: &Config) -> Topology {
    redops::cli::status::poll(config, None).await
}

/// Polls (bounded) until `done` holds for the group's topology; returns it.
async fn poll_until(
    config: &Config,
    what: &str,
    done: impl Fn(&GroupTopology) -> bool,
) -> Topology {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let t = poll(config).await;
        if done(&t.groups[0]) {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen in 30s; last: {:?}\n{:?}",
            t.groups[0].anomalies,
            t.groups[0].cluster
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn shard_of(g: &GroupTopology, first_slot: u16) -> &Shard {
    g.cluster
        .as_ref()
        .expect("a cluster view")
        .shards
        .iter()
        .find(|s| s.slots.first().map(|r| r.start) == Some(first_slot))
        .expect("a shard serving that slot")
}

#[tokio::test]
async fn a_healthy_cluster_is_three_shards_and_exit_0() {
    let sb = start(3, 1).await;
    let config = sb.config();
    let t = poll(&config).await;
    let g = &t.groups[0];
    assert!(g.anomalies.is_empty(), "{:?}", g.anomalies);
    assert!(redops::cli::status::is_healthy(&t));
    let view = g.cluster.as_ref().expect("a cluster view");
    assert_eq!(view.state_ok, Some(true));
    assert_eq!(view.slots_ok, Some(16384));
    assert!(view.uncovered.is_empty());
    let shape: Vec<(String, u32, Vec<String>)> = view
        .shards
        .iter()
        .map(|s| {
            let replicas = s.replicas.iter().map(|r| r.name.clone()).collect();
            (s.primary.name.clone(), s.slot_count, replicas)
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("n1".to_string(), 5461, vec!["n4".to_string()]),
            ("n2".to_string(), 5461, vec!["n5".to_string()]),
            ("n3".to_string(), 5462, vec!["n6".to_string()]),
        ]
    );
    let json = redops::cli::status::to_json(&config, &t);
    let c = &json["groups"][0]["cluster"];
    assert_eq!(c["state"], "ok");
    assert_eq!(c["shards"][0]["slots"][0], "0-5460");
    assert_eq!(c["shards"][2]["replicas"][0]["name"], "n6");
    assert_eq!(c["slots"]["fail"], 0);

    // From one seed: every node is found, named by its address.
    let seed = sb.node("n2").expect("n2").addr().to_string();
    let req = redops::targets::Request {
        cluster: Some(seed.clone()),
        ..Default::default()
    };
    let found = redops::targets::resolve(&req).await.expect("resolved");
    let g = &found.groups[0];
    assert!(g.cluster);
    assert_eq!(g.nodes.len(), 6);
    assert_eq!(g.nodes[0].name, seed);
    let mut want: Vec<String> = sb.nodes().iter().map(|n| n.addr().to_string()).collect();
    let mut got: Vec<String> = g.nodes.iter().map(|n| n.name.clone()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let t = poll(&found).await;
    assert!(
        t.groups[0].anomalies.is_empty(),
        "{:?}",
        t.groups[0].anomalies
    );
}

#[tokio::test]
async fn a_killed_primary_fails_over_by_itself_and_the_view_follows() {
    let mut sb = start(3, 1).await;
    let config = sb.config();
    sb.kill("n1").expect("kill n1");
    // Settled: n4 serves slot 0, the cluster is ok, and what is left to say is true: n1 is
    // down and n4's shard has no replica. Nothing else (no split brain, no disagreement).
    let settled = |g: &GroupTopology| {
        let mut k: Vec<AnomalyKind> = g.anomalies.iter().map(|a| a.kind).collect();
        k.sort();
        g.cluster.as_ref().is_some_and(|c| {
            c.state_ok == Some(true)
                && c.shards
                    .iter()
                    .any(|s| s.primary.name == "n4" && s.slot_count == 5461)
        }) && k == [AnomalyKind::NodeDown, AnomalyKind::ShardNoReplica]
    };
    let t = poll_until(&config, "n4 serving slot 0, only n1 down", settled).await;
    let g = &t.groups[0];
    assert_eq!(shard_of(g, 0).primary.name, "n4");
    // The dead n1 is left in the map as a failed primary without slots, not as a replica.
    assert!(shard_of(g, 0).replicas.is_empty());
}

#[tokio::test]
async fn a_dead_shard_fails_the_cluster() {
    let mut sb = start(3, 1).await;
    let config = sb.config();
    sb.kill("n2").expect("kill n2");
    sb.kill("n5").expect("kill n5");
    let t = poll_until(&config, "cluster_state fail", |g| {
        g.cluster
            .as_ref()
            .is_some_and(|c| c.state_ok == Some(false))
            && g.anomalies
                .iter()
                .any(|a| a.kind == AnomalyKind::SlotsOnFailedNode)
    })
    .await;
    let g = &t.groups[0];
    assert!(!redops::cli::status::is_healthy(&t));
    let down = g
        .anomalies
        .iter()
        .find(|a| a.kind == AnomalyKind::ClusterDown)
        .unwrap_or_else(|| panic!("{:?}", g.anomalies));
    assert_eq!(down.severity, Severity::Critical);
    assert!(down.message.contains("CLUSTERDOWN"), "{}", down.message);
    let failed = g
        .anomalies
        .iter()
        .find(|a| a.kind == AnomalyKind::SlotsOnFailedNode)
        .expect("slots on a failed node");
    assert_eq!(failed.nodes, ["n2"]);
    assert!(failed.message.contains("5461-10921"), "{}", failed.message);
    assert!(!kinds(&t).contains(&AnomalyKind::SplitBrain));
}

#[tokio::test]
async fn a_slot_left_migrating_is_reported() {
    let sb = start(2, 0).await;
    let config = sb.config();
    let (n1, n2) = (&config.groups[0].nodes[0], &config.groups[0].nodes[1]);
    let id = |n: &Node| {
        let n = n.clone();
        async move { report(&n).await.nodes.myself().expect("myself").id.clone() }
    };
    let (id1, id2) = (id(n1).await, id(n2).await);
    let set = |n: &Node, args: [&str; 2]| {
        let n = n.clone();
        let args = args.map(str::to_string);
        async move {
            let mut cmd = redis::cmd("CLUSTER");
            cmd.arg("SETSLOT").arg(100).arg(&args[0]).arg(&args[1]);
            client(&n).query::<()>(&cmd).await.expect("SETSLOT");
        }
    };
    set(n2, ["IMPORTING", &id1]).await;
    set(n1, ["MIGRATING", &id2]).await;
    let t = poll(&config).await;
    let g = &t.groups[0];
    let open: Vec<&redops::topology::Anomaly> = g
        .anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::SlotOpen)
        .collect();
    assert_eq!(open.len(), 2, "{:?}", g.anomalies);
    assert!(open
        .iter()
        .any(|a| a.message.starts_with("slot 100 is migrating on n1 (to n2)")));
    assert!(open.iter().any(|a| a
        .message
        .starts_with("slot 100 is importing on n2 (from n1)")));
    assert_eq!(g.cluster.as_ref().expect("view").open_slots.len(), 2);
}

fn kinds(t: &Topology) -> Vec<AnomalyKind> {
    t.groups[0].anomalies.iter().map(|a| a.kind).collect()
}

fn plan_switchover(config: &Config, topo: &Topology, to: &str) -> Plan {
    let req = SwitchoverRequest {
        to: to.into(),
        strategy: Strategy::Manual,
        budgets: Budgets::default(),
        download_dir: None,
    };
    redops::ops::switchover::plan_switchover(config, topo, &req).expect("a plan")
}

async fn run(config: &Config, plan: &Plan) -> RunOutcome {
    let ops = RealOps::new(
        config,
        0,
        &action_client_name("test", "host", std::process::id()),
    )
    .expect("ops");
    let mut log = AuditLog::open(&config.console.audit_log).expect("audit log");
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let approval = Approval {
        confirmation: Some(plan.nodes[1].name.clone()),
        ..Approval::default()
    };
    redops::ops::run(plan, &approval, &ops, &mut log, &tx).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switchover_is_a_cluster_failover_and_loses_no_acknowledged_write() {
    let sb = start(3, 1).await;
    let config = sb.config();
    let (start_slot, end_slot) = (0, 5460);
    let tag = cluster::tag_in(start_slot, end_slot).expect("a tag on n1's shard");
    let key = format!("{tag}:log");
    let writer = ClusterWriter::start(config.groups[0].nodes[0].clone(), key.clone());
    writer.wait_more(100).await;
    let topo = poll(&config).await;
    let plan = plan_switchover(&config, &topo, "n4");
    assert_eq!(
        plan.ha_manager, None,
        "a cluster switchover is not refused for the cluster"
    );
    assert!(
        plan.checks.iter().all(|c| c.status != CheckStatus::Fail),
        "{:?}",
        plan.checks
    );
    let started = Instant::now();
    let outcome = run(&config, &plan).await;
    assert_eq!(outcome.status, RunStatus::Done, "{outcome:?}");
    writer.wait_more(100).await;
    let stall = writer.max_gap(started, Instant::now());
    let acked = writer.stop().await;
    println!(
        "cluster switchover: {} writes acknowledged, longest gap between two {stall:?}",
        acked.len()
    );
    // Every acknowledged write is on the new primary.
    let lost = lost(&config.groups[0].nodes[3], &key, &acked).await;
    assert!(lost.is_empty(), "{} acknowledged writes lost", lost.len());
    // The links settle a moment after the slot maps: then nothing is left to say.
    let t = poll_until(&config, "a healthy cluster after the switchover", |g| {
        g.anomalies.is_empty()
    })
    .await;
    let g = &t.groups[0];
    assert_eq!(shard_of(g, 0).primary.name, "n4");
    assert_eq!(shard_of(g, 0).replicas[0].name, "n1");
}

#[tokio::test]
async fn a_switchover_on_a_shard_with_a_migration_is_refused() {
    let sb = start(2, 1).await;
    let config = sb.config();
    let nodes = &config.groups[0].nodes;
    set_migrating(&nodes[0], &nodes[1], 7).await;
    let topo = poll(&config).await;
    // n3 replicates n1, whose slot 7 is migrating.
    let plan = plan_switchover(&config, &topo, "n3");
    let failed: Vec<&str> = plan
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| c.message.as_str())
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("migration in progress"), "{}", failed[0]);
    assert!(
        failed[0].contains("slot 7 migrating on n1"),
        "{}",
        failed[0]
    );
}
