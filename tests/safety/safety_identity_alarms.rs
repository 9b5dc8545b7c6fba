//! Issue 7, items 5 and 10, against real `redis-server` processes (sandbox, free loopback
//! ports, killed by PID on drop): one server under two addresses, a connection the server
//! kills, a node that replicates from itself, a cluster's shards, a fresh server in a group.
//! The pure rules behind them are pinned in `tests/core/topology_identity_alarms.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::fixtures::{kinds, node as named};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use redops::config::{Config, Group};
use redops::history::History;
use redops::node::{NodeClient, Timeouts};
use redops::observe::{FleetState, NodeId, NodeState};
use redops::ops::plan::Budgets;
use redops::ops::repoint::{plan_repoint, RepointRequest};
use redops::sandbox::{Sandbox, Spec};
use redops::topology::{self, AnomalyKind, ChangeKind, Role, Severity, Topology};

const BIN: &str = env!("CARGO_BIN_EXE_redops");

fn fast(mut config: Config) -> Config {
    config.console.poll_interval = Duration::from_millis(300);
    config.console.timeout = Duration::from_millis(500);
    config.console.connect_timeout = Duration::from_millis(500);
    config
}

async fn once(config: &Config) -> Topology {
    let mut fleet = FleetState::new(config);
    let mut history = History::new(10);
    for obs in redops::poller::poll_once(config).await {
        history.record(&obs);
        fleet.apply(obs);
    }
    topology::build(config, &fleet, &history, SystemTime::now())
}

fn cmd<T: redis::FromRedisValue>(port: u16, args: &[&str]) -> T {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let mut c = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = redis::cmd(args[0]);
    for a in &args[1..] {
        r.arg(*a);
    }
    r.query(&mut c).unwrap()
}

async fn sandbox(replicas: usize, extra_args: &[&str]) -> Sandbox {
    Sandbox::start(&Spec {
        replicas,
        group: "g".into(),
        extra_args: extra_args.iter().map(ToString::to_string).collect(),
        ..Spec::default()
    })
    .await
    .expect("sandbox starts (redis-server must be installed: apt-get install redis-server)")
}

async fn redops(args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_kills_is_made_again_before_the_node_is_called_down() {
    let mut sb = sandbox(0, &[]).await;
    let n1 = sb.node("n1").unwrap();
    let port = n1.port;
    let t = Timeouts {
        connect: Duration::from_secs(2),
        read: Duration::from_secs(5),
    };
    let mut c = NodeClient::new(&n1.node(), t, redops::poller::POLLER_CLIENT_NAME).unwrap();
    c.info().await.unwrap();
    // As Sentinel does to every normal client during a failover (SKIPME spares ours).
    let killed: u64 = cmd(port, &["CLIENT", "KILL", "TYPE", "normal"]);
    assert!(killed >= 1, "the poller's connection was killed");
    let (info, _) = c
        .info()
        .await
        .expect("a killed connection is not a node down");
    assert_eq!(info.server.tcp_port, Some(port));
    let list: String = cmd(port, &["CLIENT", "LIST"]);
    assert!(list.contains("name=redops-poll"), "reconnected: {list}");

    // A server that is really gone stays down: the one reconnection is refused.
    sb.kill("n1").unwrap();
    let e = c.info().await.expect_err("a killed server is down");
    assert_eq!(e.state(), NodeState::Down, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_flip_across_a_killed_connection_is_a_change_not_a_node_down() {
    let sb = sandbox(1, &[]).await;
    let config = fast(sb.config());
    let n2 = sb.node("n2").unwrap().port;
    let (mut pollers, mut rx) = redops::poller::spawn(&config);
    let mut fleet = FleetState::new(&config);
    let mut history = History::new(100);
    let mut confirm = topology::Confirm::new();
    let mut prev: Option<Topology> = None;
    let mut changes = Vec::new();
    let mut flipped_at: Option<SystemTime> = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    let n2_id = NodeId { group: 0, node: 1 };
    loop {
        assert!(Instant::now() < deadline, "no poll of n2 after the flip");
        let Ok(Some(obs)) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await else {
            continue;
        };
        let after_flip = obs.id == n2_id && flipped_at.is_some_and(|t| obs.at > t);
        let ok = obs.result.is_ok();
        history.record(&obs);
        fleet.apply(obs);
        let now = SystemTime::now();
        let mut next = topology::build(&config, &fleet, &history, now);
        confirm.apply(&mut next, now);
        if let Some(p) = &prev {
            changes.extend(topology::changes(p, &next, now));
        }
        let all_up = fleet.groups[0].iter().all(|s| s.state() == NodeState::Up);
        if prev.is_none() && all_up {
            prev = Some(next.clone());
            // The flip and the kill in one transaction: no poll can see the new role on the
            // old connection, so the change is seen across the reconnection.
            let mut c = redis::Client::open(format!("redis://127.0.0.1:{n2}/"))
                .unwrap()
                .get_connection_with_timeout(Duration::from_secs(2))
                .unwrap();
            let _: redis::Value = redis::pipe()
                .atomic()
                .cmd("REPLICAOF")
                .arg("NO")
                .arg("ONE")
                .cmd("CLIENT")
                .arg("KILL")
                .arg("TYPE")
                .arg("normal")
                .query(&mut c)
                .unwrap();
            flipped_at = Some(SystemTime::now());
            continue;
        }
        if prev.is_some() {
            prev = Some(next.clone());
        }
        if after_flip {
            assert!(ok, "the first poll after the kill answered: {changes:#?}");
            let n = next.groups[0].by_name("n2").unwrap();
            assert_eq!(n.role, Role::Primary);
            break;
        }
    }
    pollers.stop();
    assert!(
        !changes.iter().any(|c| c.kind == ChangeKind::NodeDown),
        "{changes:#?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c.kind == ChangeKind::RoleChanged && c.node.as_deref() == Some("n2")),
        "{changes:#?}"
    );
}

/// n1 as `127.0.0.1:P` and as `localhost:P`, n2 its replica, in one group.
fn twin_config(sb: &Sandbox) -> Config {
    let (p1, p2) = (sb.node("n1").unwrap().port, sb.node("n2").unwrap().port);
    let mut config = sb.config();
    config.groups[0].nodes = vec![
        named("n1", &format!("127.0.0.1:{p1}")),
        named("n1b", &format!("localhost:{p1}")),
        named("n2", &format!("127.0.0.1:{p2}")),
    ];
    fast(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_under_two_addresses_is_one_server() {
    let sb = sandbox(1, &[]).await;
    let config = twin_config(&sb);
    let t = once(&config).await;
    let g = &t.groups[0];
    assert!(
        !kinds(&t, 0).contains(&AnomalyKind::SplitBrain),
        "{:?}",
        g.anomalies
    );
    let a = &g.anomalies[0];
    assert_eq!(a.kind, AnomalyKind::SameServer, "{:?}", g.anomalies);
    assert_eq!(a.severity, Severity::Critical);
    assert!(
        a.message
            .starts_with("n1 and n1b are the same server (run_id "),
        "{}",
        a.message
    );
    assert!(!redops::cli::status::is_healthy(&t), "status exits 1");

    // The loop guard sees the server, not the spelling: n2 follows n1, which is n1b.
    let req = RepointRequest {
        node: "n1b".into(),
        to: "n2".into(),
        budgets: Budgets::default(),
        backups_dir: sb.dir().join("backups"),
        sync_deadline: Duration::from_secs(10),
    };
    let rp = plan_repoint(&config, &t, &req).unwrap();
    let text = rp.plan.to_string();
    assert!(
        text.contains("replication loop: n2 already replicates from n1b"),
        "{text}"
    );
    assert!(
        rp.plan.has_hard_failure(),
        "refused, whatever --force says: {text}"
    );

    // In two groups: named in both.
    let mut two = config.clone();
    let twin = two.groups[0].nodes.remove(1);
    let mut other = Group::new("other", vec![twin]);
    other.lag = two.groups[0].lag;
    two.groups.push(other);
    let t = once(&two).await;
    for g in &t.groups {
        assert!(
            g.anomalies
                .iter()
                .any(|a| a.kind == AnomalyKind::SameServer),
            "{}: {:?}",
            g.name,
            g.anomalies
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_repoint_onto_a_second_spelling_is_refused_and_status_exits_1() {
    let sb = sandbox(1, &[]).await;
    let (p1, p2) = (sb.node("n1").unwrap().port, sb.node("n2").unwrap().port);
    let (a, b, c) = (
        format!("127.0.0.1:{p1}"),
        format!("localhost:{p1}"),
        format!("127.0.0.1:{p2}"),
    );
    let targets = ["--node", &a, "--node", &b, "--node", &c];

    let mut args = targets.to_vec();
    args.push("status");
    let (code, out) = redops(&args).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("are the same server"), "{out}");

    let mut args = targets.to_vec();
    args.extend([
        "repoint", &b, "--to", &c, "--yes", "--force", "--reason", "test",
    ]);
    let (code, out) = redops(&args).await;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("are the same server"), "{out}");
    let info: String = cmd(p1, &["INFO", "replication"]);
    assert!(info.contains("role:master"), "n1 untouched: {info}\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_replicates_from_itself_is_a_loop() {
    let sb = sandbox(0, &[]).await;
    let port = sb.node("n1").unwrap().port;
    let _: () = cmd(port, &["REPLICAOF", "127.0.0.1", &port.to_string()]);
    let config = fast(sb.config());
    let t = once(&config).await;
    let k = kinds(&t, 0);
    assert!(!k.contains(&AnomalyKind::UnknownPrimary), "{k:?}");
    let a = t.groups[0]
        .anomalies
        .iter()
        .find(|a| a.kind == AnomalyKind::ReplicationLoop)
        .unwrap_or_else(|| panic!("{:?}", t.groups[0].anomalies));
    assert_eq!(a.nodes, vec!["n1".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_cluster_is_shards_not_a_split_brain() {
    let mut sb = sandbox(0, &["--cluster-enabled", "yes"]).await;
    sb.add_node("n2", &[]).await.unwrap();
    let (p1, p2) = (sb.node("n1").unwrap().port, sb.node("n2").unwrap().port);
    let _: () = cmd(p1, &["CLUSTER", "ADDSLOTSRANGE", "0", "8191"]);
    let _: () = cmd(p2, &["CLUSTER", "ADDSLOTSRANGE", "8192", "16383"]);
    let _: () = cmd(p1, &["CLUSTER", "MEET", "127.0.0.1", &p2.to_string()]);
    let end = Instant::now() + Duration::from_secs(20);
    for p in [p1, p2] {
        while !cmd::<String>(p, &["CLUSTER", "INFO"]).contains("cluster_state:ok") {
            assert!(Instant::now() < end, "the cluster never formed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for flag in [true, false] {
        let mut config = fast(sb.config());
        config.groups[0].cluster = flag;
        let t = once(&config).await;
        let g = &t.groups[0];
        assert!(
            !kinds(&t, 0).contains(&AnomalyKind::SplitBrain),
            "{:?}",
            g.anomalies
        );
        // Two shards, each without a replica: a warning each, and nothing else.
        let view = g.cluster.as_ref().expect("the cluster's own view");
        assert_eq!(view.state_ok, Some(true));
        assert_eq!(view.shards.len(), 2);
        assert_eq!(
            kinds(&t, 0),
            [AnomalyKind::ShardNoReplica, AnomalyKind::ShardNoReplica],
            "{:?}",
            g.anomalies
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_server_added_to_a_group_is_not_a_stale_primary() {
    let mut sb = sandbox(1, &[]).await;
    let p1 = sb.node("n1").unwrap().port;
    let _: () = cmd(p1, &["SET", "k", "v"]);
    sb.add_node("e", &[]).await.unwrap();
    let t = once(&fast(sb.config())).await;
    let k = kinds(&t, 0);
    assert!(t.groups[0].by_name("n1").unwrap().offset.unwrap() > 0);
    assert!(
        !k.contains(&AnomalyKind::StalePrimary),
        "{:?}",
        t.groups[0].anomalies
    );
    assert!(
        k.contains(&AnomalyKind::SplitBrain),
        "still two primaries: {k:?}"
    );
}
