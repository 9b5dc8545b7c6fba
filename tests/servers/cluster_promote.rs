//! `promote` in a Redis Cluster against real servers: `CLUSTER FAILOVER FORCE` when a shard's
//! primary is dead and the cluster has not failed over by itself (a long
//! `cluster-node-timeout` keeps it from doing so), the statement when it already has, the
//! refusal while the primary is up, and `TAKEOVER` only with an override when no majority of
//! primaries can vote.
//!
//! Every test starts its own cluster; the monitor keeps the old primary's last offset, as the
//! console does.

use std::time::{Duration, Instant, SystemTime};

use redops::audit::AuditLog;
use redops::cluster::{self, nodes};
use redops::config::{Config, Node};
use redops::monitor::{Lookup, Monitor};
use redops::ops::promote::{plan_promote, PromotePlan, PromoteRequest};
use redops::ops::redis_ops::action_client_name;
use redops::ops::{
    Approval, Budgets, CheckStatus, ErrorKind, Plan, RealOps, RunOutcome, RunStatus, StepKind,
};
use redops::sandbox::{ClusterShape, Sandbox, Spec};
use redops::topology::{GroupTopology, Liveness, Topology};

use crate::common::cluster_writer::{client, lost, ClusterWriter};

/// Longer than any test here: the cluster never marks a dead primary failed by itself, so
/// the promotion is redops's to do.
const LONG_TIMEOUT: Duration = Duration::from_secs(60);

/// Short: the cluster fails over by itself within a few seconds.
const SHORT_TIMEOUT: Duration = Duration::from_millis(1500);

async fn start(node_timeout: Duration) -> Sandbox {
    let shape = ClusterShape {
        primaries: 3,
        replicas: 1,
        node_timeout,
    };
    Sandbox::start_cluster(shape, &Spec::default())
        .await
        .expect("a sandbox cluster")
}

/// One poll of every node into the continuous monitor (which keeps a dead node's last INFO).
async fn cycle(m: &mut Monitor, config: &Config) -> Topology {
    for o in redops::poller::poll_once(config).await {
        m.observe(o);
    }
    m.cycle(SystemTime::now(), |_| Lookup::Later);
    m.topology().clone()
}

/// Cycles (bounded) until `done` holds for the group; returns the topology.
async fn cycle_until(
    m: &mut Monitor,
    config: &Config,
    what: &str,
    done: impl Fn(&GroupTopology) -> bool,
) -> Topology {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let t = cycle(m, config).await;
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

fn down(g: &GroupTopology, name: &str) -> bool {
    g.nodes
        .iter()
        .position(|v| v.name == name)
        .is_some_and(|i| g.liveness(i).is_proven_down())
}

fn promote(config: &Config, topo: &Topology, node: &str) -> redops::ops::OpsResult<PromotePlan> {
    let req = PromoteRequest {
        node: Some(node.to_string()),
        budgets: Budgets::default(),
        max_extra_link_down: redops::ops::promote::DEFAULT_MAX_EXTRA_LINK_DOWN,
        now: SystemTime::now(),
    };
    plan_promote(config, topo, &req)
}

async fn run(config: &Config, plan: &Plan, confirm: &str, reason: Option<&str>) -> RunOutcome {
    let ops = RealOps::new(
        config,
        0,
        &action_client_name("test", "host", std::process::id()),
    )
    .expect("ops");
    let mut log = AuditLog::open(&config.console.audit_log).expect("audit log");
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let approval = Approval {
        confirmation: Some(confirm.to_string()),
        force_reason: reason.map(str::to_string),
        ..Approval::default()
    };
    redops::ops::run(plan, &approval, &ops, &mut log, &tx).await
}

fn failed(plan: &Plan) -> Vec<(&str, bool)> {
    plan.checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| (c.message.as_str(), c.overridable))
        .collect()
}

/// Who owns `slot` in `n`'s `CLUSTER NODES`, by port.
async fn owner(n: &Node, slot: u16) -> Option<u16> {
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("NODES");
    let text: String = client(n).query(&cmd).await.ok()?;
    nodes::parse(&text)
        .nodes
        .iter()
        .find(|x| x.flags.primary && x.slots.iter().any(|r| r.start <= slot && slot <= r.end))
        .map(|x| x.port)
}

async fn myself_id(n: &Node) -> String {
    let r = cluster::read(&mut client(n)).await;
    r.nodes.myself().expect("myself").id.clone()
}

async fn config_set(n: &Node, key: &str, value: &str) {
    let mut cmd = redis::cmd("CONFIG");
    cmd.arg("SET").arg(key).arg(value);
    client(n).query::<()>(&cmd).await.expect("CONFIG SET");
}

async fn setslot(n: &Node, args: &[&str]) {
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("SETSLOT").arg(args);
    client(n).query::<()>(&cmd).await.expect("CLUSTER SETSLOT");
}

async fn role(n: &Node) -> String {
    let mut cmd = redis::cmd("INFO");
    cmd.arg("replication");
    let text: String = client(n).query(&cmd).await.expect("INFO");
    text.lines()
        .find_map(|l| l.trim().strip_prefix("role:"))
        .unwrap_or_default()
        .to_string()
}

/// The cluster's own refusals, with n1 dead: a replica configured never to fail over, then a
/// slot of the shard being imported elsewhere; each set back after. Returns the topology in
/// which neither is left.
async fn the_clusters_own_refusals(
    m: &mut Monitor,
    config: &Config,
    nodes: &[Node],
    n1_id: &str,
) -> Topology {
    config_set(&nodes[3], "cluster-replica-no-failover", "yes").await;
    let t = cycle_until(m, config, "n4 flagged nofailover", |g| {
        g.cluster.as_ref().is_some_and(|c| {
            c.shards
                .iter()
                .flat_map(|s| &s.replicas)
                .any(|r| r.name == "n4" && r.flags.nofailover)
        })
    })
    .await;
    let refused = promote(config, &t, "n4").expect("a plan");
    assert!(
        failed(&refused.plan)
            .iter()
            .any(|(m, over)| !over && m.contains("cluster-replica-no-failover")),
        "{:?}",
        refused.plan.checks
    );
    config_set(&nodes[3], "cluster-replica-no-failover", "no").await;
    setslot(&nodes[1], &["7", "IMPORTING", n1_id]).await;
    let t = cycle_until(m, config, "n4 without nofailover, slot 7 open", |g| {
        g.cluster.as_ref().is_some_and(|c| {
            !c.open_slots.is_empty()
                && !c
                    .shards
                    .iter()
                    .flat_map(|s| &s.replicas)
                    .any(|r| r.flags.nofailover)
        })
    })
    .await;
    let refused = promote(config, &t, "n4").expect("a plan");
    let refusals = failed(&refused.plan);
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert!(
        refusals[0].0.contains("slot 7 importing on n2"),
        "{refusals:?}"
    );
    setslot(&nodes[1], &["7", "STABLE"]).await;
    cycle_until(m, config, "slot 7 closed", |g| {
        g.cluster.as_ref().is_some_and(|c| c.open_slots.is_empty())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_forces_the_failover_of_a_dead_primary_and_loses_no_acknowledged_write() {
    let mut sb = start(LONG_TIMEOUT).await;
    let config = sb.config();
    let nodes = config.groups[0].nodes.clone();
    let mut m = Monitor::new(&config, SystemTime::now());

    // While n1 is up, promoting its replica is refused: it is a switchover.
    let t = cycle(&mut m, &config).await;
    let up = promote(&config, &t, "n4").expect("a plan");
    let refusals = failed(&up.plan);
    assert!(
        refusals
            .iter()
            .any(|(m, over)| !over && m.contains("n1 is up") && m.contains("switchover")),
        "{refusals:?}"
    );
    // The step it would run does not call n1 down.
    let titles: Vec<&str> = up.plan.steps.iter().map(|s| s.title.as_str()).collect();
    assert!(
        titles
            .iter()
            .any(|t| t.contains("takes over from n1, up: refused")),
        "{titles:?}"
    );
    assert!(!titles.iter().any(|t| t.contains("down")), "{titles:?}");
    assert_eq!(
        run(&config, &up.plan, "n4", Some("testing")).await.status,
        RunStatus::Refused
    );
    assert_eq!(role(&nodes[3]).await, "slave", "nothing changed");

    // Writes on n1's shard, acknowledged, then seen applied on n4 before n1 dies.
    let tag = cluster::tag_in(0, 5460).expect("a tag on n1's shard");
    let key = format!("{tag}:log");
    let writer = ClusterWriter::start(nodes[0].clone(), key.clone());
    writer.wait_more(200).await;
    let acked = writer.stop().await;
    cycle_until(&mut m, &config, "n4 caught up with n1", |g| {
        let off = |n: &str| g.nodes.iter().find(|v| v.name == n).and_then(|v| v.offset);
        off("n1").is_some() && off("n1") == off("n4")
    })
    .await;
    let n1_id = myself_id(&nodes[0]).await;
    sb.kill("n1").expect("kill n1");
    cycle_until(&mut m, &config, "n1 proven down", |g| down(g, "n1")).await;

    let t = the_clusters_own_refusals(&mut m, &config, &nodes, &n1_id).await;

    let pp = promote(&config, &t, "n4").expect("a plan");
    let plan = &pp.plan;
    assert!(failed(plan).is_empty(), "{:?}", plan.checks);
    assert_eq!(plan.ha_manager, None, "through the cluster's own failover");
    assert!(
        matches!(
            plan.steps[0].kind,
            StepKind::ClusterForceFailover { takeover: false }
        ),
        "{:?}",
        plan.steps
    );
    assert!(
        plan.steps[0].title.contains("takes over from n1, down"),
        "{}",
        plan.steps[0].title
    );
    let loss = plan
        .checks
        .iter()
        .find(|c| c.message.contains("acknowledged write"))
        .expect("the loss statement");
    assert_eq!(loss.status, CheckStatus::Pass, "{}", loss.message);
    assert!(
        loss.message.contains("no acknowledged write can be lost"),
        "{}",
        loss.message
    );
    assert!(plan.checks.iter().any(|c| c.message.contains("2 of the 3")));

    let outcome = run(&config, plan, "n4", None).await;
    assert_eq!(outcome.status, RunStatus::Done, "{outcome:?}");
    println!(
        "cluster promote (FORCE): {} ms, {} writes acknowledged before n1 died",
        outcome.elapsed_ms,
        acked.len()
    );
    assert_eq!(role(&nodes[3]).await, "master");
    // Every node that answers names n4 the owner of the shard's slots.
    for n in nodes.iter().skip(1) {
        for slot in [0, 5460] {
            assert_eq!(owner(n, slot).await, Some(nodes[3].addr.port), "{}", n.name);
        }
    }
    let lost = lost(&nodes[3], &key, &acked).await;
    assert!(lost.is_empty(), "{} acknowledged writes lost", lost.len());
    // No rejoin mark after it: the cluster makes n1 a replica when it comes back.
    assert!(pp.through_cluster());
}

#[tokio::test]
async fn promote_after_the_cluster_failed_over_says_so_and_changes_nothing() {
    let mut sb = start(SHORT_TIMEOUT).await;
    let config = sb.config();
    let mut m = Monitor::new(&config, SystemTime::now());
    cycle_until(&mut m, &config, "n1 and n4 polled", |g| {
        g.nodes.iter().all(|v| v.offset.is_some())
    })
    .await;
    sb.kill("n1").expect("kill n1");
    // n4's own INFO too: the cluster's map can name it before its next poll does.
    let t = cycle_until(&mut m, &config, "n4 serving slot 0", |g| {
        g.nodes
            .iter()
            .any(|v| v.name == "n4" && v.role == redops::topology::Role::Primary && !v.stale_info)
            && g.cluster.as_ref().is_some_and(|c| {
                c.state_ok == Some(true)
                    && c.shards
                        .iter()
                        .any(|s| s.primary.name == "n4" && s.slot_count == 5461)
            })
    })
    .await;
    let e = promote(&config, &t, "n4").expect_err("nothing to do");
    assert_eq!(e.kind, ErrorKind::NothingToDo, "{e:?}");
    for part in [
        "already failed over by itself",
        "promoted n4 in place of n1",
        "slots 0-5460",
        "no acknowledged write is lost",
        "Nothing was changed",
    ] {
        assert!(e.message.contains(part), "{part}: {}", e.message);
    }
}

#[tokio::test]
async fn takeover_needs_an_override_when_no_majority_can_vote() {
    let mut sb = start(LONG_TIMEOUT).await;
    let config = sb.config();
    let nodes = config.groups[0].nodes.clone();
    let mut m = Monitor::new(&config, SystemTime::now());
    cycle(&mut m, &config).await;
    sb.kill("n1").expect("kill n1");
    sb.kill("n2").expect("kill n2");
    let t = cycle_until(&mut m, &config, "n1 and n2 proven down", |g| {
        down(g, "n1") && down(g, "n2")
    })
    .await;
    assert_eq!(
        t.groups[0].liveness(3),
        Liveness::Answers,
        "n4 answers: {:?}",
        t.groups[0].nodes[3]
    );
    let pp = promote(&config, &t, "n4").expect("a plan");
    let plan = &pp.plan;
    let refusals = failed(plan);
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    let (msg, overridable) = refusals[0];
    assert!(overridable, "{msg}");
    assert!(msg.contains("only 1 of the 3 primaries"), "{msg}");
    assert!(msg.contains("TAKEOVER"), "{msg}");
    assert!(matches!(
        plan.steps[0].kind,
        StepKind::ClusterForceFailover { takeover: true }
    ));
    // Without --force (no reason): refused, nothing sent.
    let outcome = run(&config, plan, "n4", None).await;
    assert_eq!(outcome.status, RunStatus::Refused, "{outcome:?}");
    assert_eq!(role(&nodes[3]).await, "slave", "nothing changed");

    // With it: n4 takes the slots under a new epoch, and the override is in the audit log.
    let reason = "n1 and n2 are gone with their host";
    let outcome = run(&config, plan, "n4", Some(reason)).await;
    assert_eq!(outcome.status, RunStatus::Done, "{outcome:?}");
    println!("cluster promote (TAKEOVER): {} ms", outcome.elapsed_ms);
    assert_eq!(role(&nodes[3]).await, "master");
    for n in [&nodes[2], &nodes[3], &nodes[4], &nodes[5]] {
        assert_eq!(owner(n, 0).await, Some(nodes[3].addr.port), "{}", n.name);
    }
    let audit = std::fs::read_to_string(&config.console.audit_log).expect("audit log");
    assert!(audit.contains(reason), "the override's reason is recorded");
    assert!(audit.contains("CLUSTER FAILOVER TAKEOVER"));
}

/// A one-shot run after the primary died, as the CLI makes (it never saw the primary up): the
/// loss statement takes the old primary's offset the cluster last heard (`CLUSTER SHARDS`,
/// as it was gossiped) and says where the figure comes from, never that no write was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_never_saw_the_primary_takes_its_offset_from_the_cluster() {
    let mut sb = start(LONG_TIMEOUT).await;
    let config = sb.config();
    let nodes = config.groups[0].nodes.clone();
    let mut m = Monitor::new(&config, SystemTime::now());
    let tag = cluster::tag_in(0, 5460).expect("a tag on n1's shard");
    let writer = ClusterWriter::start(nodes[0].clone(), format!("{tag}:log"));
    writer.wait_more(200).await;
    writer.stop().await;
    let t = cycle_until(&mut m, &config, "n4 caught up with n1", |g| {
        let off = |n: &str| g.nodes.iter().find(|v| v.name == n).and_then(|v| v.offset);
        off("n1").is_some() && off("n1") == off("n4")
    })
    .await;
    let last = t.groups[0]
        .nodes
        .iter()
        .find(|v| v.name == "n1")
        .and_then(|v| v.offset)
        .expect("n1's offset");
    let n1_id = myself_id(&nodes[0]).await;
    // The cluster bus carries n1's offset in its next messages: wait until n2 has heard the
    // last one (a few pings), so that the figure asserted below is known.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply: redis::Value = client(&nodes[1])
            .query(redis::cmd("CLUSTER").arg("SHARDS"))
            .await
            .expect("CLUSTER SHARDS");
        let heard = cluster::shards::parse(&reply)
            .into_iter()
            .find(|o| o.id == n1_id)
            .map(|o| o.offset);
        // At least: n1's own pings to n4 (every 10 s) move its offset on.
        if heard.is_some_and(|h| h >= last) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "n2 did not hear n1's offset {last} in 30s (heard {heard:?})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sb.kill("n1").expect("kill n1");

    // One snapshot per try, as a one-shot CLI run takes it (bounded).
    let deadline = Instant::now() + Duration::from_secs(30);
    let (t, heard) = loop {
        let t = redops::cli::status::snapshot(&config).await;
        let g = &t.groups[0];
        if down(g, "n1") {
            if let Some(h) = redops::ops::promote::cluster_loss::gossiped(g, &n1_id) {
                break (t, h);
            }
        }
        assert!(
            Instant::now() < deadline,
            "n1 down with its offset in CLUSTER SHARDS: not seen in 30s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (gossip, by) = heard;
    assert!(gossip >= last, "gossiped {gossip}, n1 had written {last}");
    assert_ne!(by, "n1");
    let pp = promote(&config, &t, "n4").expect("a plan");
    let loss = pp
        .plan
        .checks
        .iter()
        .find(|c| c.message.contains("CLUSTER SHARDS"))
        .unwrap_or_else(|| panic!("no loss statement from the cluster: {:?}", pp.plan.checks));
    let m = &loss.message;
    assert_eq!(loss.status, CheckStatus::Warn, "{m}");
    assert!(
        m.contains(&format!("the cluster last heard offset {gossip} from n1")),
        "{m}"
    );
    assert!(m.contains(&format!("CLUSTER SHARDS on {by}")), "{m}");
    assert!(m.contains("this console never saw n1 up"), "{m}");
    // n4's own offset against the cluster's figure: at least that (and no more is claimed),
    // or the bytes it misses (a replication ping of n1's it had not applied yet).
    let n4 = t.groups[0]
        .nodes
        .iter()
        .find(|v| v.name == "n4")
        .and_then(|v| v.offset)
        .expect("n4's offset");
    if n4 >= gossip {
        assert!(
            m.contains(&format!("n4 has applied {n4}, at least that")),
            "{m}"
        );
    } else {
        let missing = format!(
            "{} bytes of writes n1 acknowledged are missing on n4",
            gossip - n4
        );
        assert!(m.starts_with(&missing), "{m}");
    }
    assert!(!m.contains("no acknowledged write"), "{m}");
}
