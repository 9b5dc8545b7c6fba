//! The core against real servers: roles and offsets, chains, a killed node, a frozen node, a
//! black-holed port, split brain, a wrong password, a node loading. Every server is a real
//! `redis-server` on a free loopback port, killed by PID when the sandbox is dropped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant, SystemTime};

use redops::config::{Addr, Config, Node, Secret};
use redops::history::History;
use redops::node::{NodeClient, Timeouts};
use redops::observe::{FleetState, NodeError, NodeState};
use redops::sandbox::{Blackhole, Sandbox, Spec};
use redops::topology::{self, AnomalyKind, Link, Role, Topology};

fn fast(mut config: Config) -> Config {
    config.console.poll_interval = Duration::from_millis(300);
    config.console.timeout = Duration::from_millis(300);
    config.console.connect_timeout = Duration::from_millis(300);
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

fn node_of(config: &Config, port: u16) -> Node {
    config.groups[0]
        .nodes
        .iter()
        .find(|n| n.addr.port == port)
        .cloned()
        .expect("node of the sandbox")
}

async fn send(node: &Node, args: &[&str]) -> Result<redis::Value, NodeError> {
    let t = Timeouts {
        connect: Duration::from_secs(2),
        read: Duration::from_secs(10),
    };
    let mut c = NodeClient::new(node, t, "redops-test")?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    c.query(&cmd).await
}

async fn sandbox(replicas: usize, chain: bool) -> Sandbox {
    Sandbox::start(&Spec {
        replicas,
        chain,
        ..Spec::default()
    })
    .await
    .expect("sandbox starts (redis-server must be installed: apt-get install redis-server)")
}

/// Runs pollers and rebuilds the topology until `pred` holds or `within` passes.
async fn watch_until(
    config: &Config,
    within: Duration,
    mut pred: impl FnMut(&Topology, &FleetState) -> bool,
) -> Option<(Duration, Topology, FleetState)> {
    let (mut pollers, mut rx) = redops::poller::spawn(config);
    let mut fleet = FleetState::new(config);
    let mut history = History::new(100);
    let start = Instant::now();
    let mut result = None;
    while start.elapsed() < within {
        let Ok(Some(obs)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
        else {
            continue;
        };
        history.record(&obs);
        fleet.apply(obs);
        let t = topology::build(config, &fleet, &history, SystemTime::now());
        if pred(&t, &fleet) {
            result = Some((start.elapsed(), t, fleet.clone()));
            break;
        }
    }
    pollers.stop();
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_offsets_and_chain() {
    let sb = sandbox(2, true).await;
    let config = fast(sb.config());
    send(&config.groups[0].nodes[0], &["SET", "k", "v"])
        .await
        .unwrap();
    // Let the write reach every replica, chained one included.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = once(&config).await;
    let g = &t.groups[0];
    assert_eq!(
        g.nodes.len(),
        4,
        "{:#?}",
        g.nodes.iter().map(|n| &n.name).collect::<Vec<_>>()
    );
    assert_eq!(g.nodes[0].name, "n1");
    assert_eq!(g.nodes[0].role, Role::Primary);
    let primary_offset = g.nodes[0].offset.unwrap();
    assert!(primary_offset > 0);
    for n in &g.nodes[1..] {
        assert_eq!(n.role, Role::Replica, "{}", n.name);
        assert_eq!(n.state, NodeState::Up);
        assert_eq!(n.link, Some(Link::Up));
        assert_eq!(
            n.replid, g.nodes[0].replid,
            "one history for the whole group"
        );
        assert!(n.lag_bytes.is_some(), "{} has a byte lag", n.name);
    }
    let chained = g
        .nodes
        .iter()
        .find(|n| n.depth == 2)
        .expect("a chained replica");
    let up = chained.upstream.as_ref().unwrap();
    assert_eq!(g.nodes[up.index.unwrap()].role, Role::Replica);
    assert!(g.anomalies.is_empty(), "{:?}", g.anomalies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_node_is_down_within_interval_plus_timeout() {
    let mut sb = sandbox(2, false).await;
    let config = fast(sb.config());
    let bound = config.console.poll_interval + config.console.timeout;
    // Everything up first.
    let up = watch_until(&config, Duration::from_secs(5), |_, f| {
        f.groups[0].iter().all(|s| s.state() == NodeState::Up)
    })
    .await;
    assert!(up.is_some(), "all nodes up");
    sb.kill("n1").unwrap();
    let killed_at = Instant::now();
    let seen = watch_until(&config, Duration::from_secs(10), |t, _| {
        t.groups[0]
            .by_name("n1")
            .is_some_and(|n| n.state == NodeState::Down)
    })
    .await
    .expect("n1 reported down");
    let took = killed_at.elapsed();
    // Pollers restarted for the watch: their first poll is within 10% of an interval.
    assert!(
        took <= bound + Duration::from_millis(700),
        "down after {took:?}, bound {bound:?}"
    );
    let t = seen.1;
    let n1 = t.groups[0].by_name("n1").unwrap();
    assert!(t.groups[0]
        .anomalies
        .iter()
        .any(|a| a.kind == AnomalyKind::NodeDown && a.nodes == ["n1"]));
    assert!(matches!(n1.error, Some(NodeError::Refused(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_node_is_unresponsive_while_others_keep_updating() {
    let sb = sandbox(2, false).await;
    let config = fast(sb.config());
    sb.freeze("n3").unwrap();
    let result = watch_until(&config, Duration::from_secs(8), |t, f| {
        let frozen = t.groups[0]
            .by_name("n3")
            .is_some_and(|n| n.state == NodeState::Unresponsive);
        // n1 must have been polled several times meanwhile: the freeze stalls nobody else.
        frozen && f.groups[0][0].polls >= 4
    })
    .await;
    sb.thaw("n3").unwrap();
    let (_, t, fleet) = result.expect("n3 unresponsive while n1 keeps being polled");
    assert!(fleet.groups[0][0].polls >= 4);
    assert_eq!(fleet.groups[0][0].state(), NodeState::Up);
    assert!(t.groups[0]
        .anomalies
        .iter()
        .any(|a| a.kind == AnomalyKind::NodeUnresponsive && a.nodes == ["n3"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackholed_port_costs_one_timeout() {
    let sb = sandbox(1, false).await;
    let hole = Blackhole::start().unwrap();
    let mut config = fast(sb.config());
    config.groups[0].nodes.push(Node {
        name: "hole".into(),
        addr: Addr {
            host: "127.0.0.1".into(),
            port: hole.port,
        },
        username: None,
        password: None,
        tls: None,
    });
    let start = Instant::now();
    let t = once(&config).await;
    let took = start.elapsed();
    let g = &t.groups[0];
    assert_eq!(g.by_name("hole").unwrap().state, NodeState::Unresponsive);
    assert_eq!(g.by_name("n1").unwrap().state, NodeState::Up);
    assert_eq!(g.by_name("n2").unwrap().state, NodeState::Up);
    // Connect succeeds, the read times out: bounded by connect + read timeouts.
    assert!(took < Duration::from_secs(3), "one cycle took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_brain_after_replicaof_no_one() {
    let sb = sandbox(2, false).await;
    let config = fast(sb.config());
    let n2 = node_of(&config, sb.node("n2").unwrap().port);
    send(&n2, &["REPLICAOF", "NO", "ONE"]).await.unwrap();
    let t = once(&config).await;
    let g = &t.groups[0];
    let a = g
        .anomalies
        .iter()
        .find(|a| a.kind == AnomalyKind::SplitBrain)
        .unwrap_or_else(|| panic!("split brain flagged: {:?}", g.anomalies));
    assert_eq!(a.nodes, vec!["n1".to_string(), "n2".to_string()]);
    assert!(
        a.message.contains("n2 was promoted from n1's history"),
        "{}",
        a.message
    );
    assert_eq!(g.primaries().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_missing_password_are_auth_errors() {
    let sb = sandbox(0, false).await;
    let mut config = fast(sb.config());
    let n1 = config.groups[0].nodes[0].clone();
    send(&n1, &["CONFIG", "SET", "requirepass", "s3cret-pw"])
        .await
        .unwrap();
    for (name, pw) in [
        ("wrong", Some("nope")),
        ("none", None),
        ("right", Some("s3cret-pw")),
    ] {
        config.groups[0].nodes.push(Node {
            name: name.into(),
            password: pw.map(Secret::new),
            ..n1.clone()
        });
    }
    let t = once(&config).await;
    let g = &t.groups[0];
    assert_eq!(g.by_name("wrong").unwrap().state, NodeState::AuthError);
    assert_eq!(g.by_name("none").unwrap().state, NodeState::AuthError);
    assert_eq!(g.by_name("right").unwrap().state, NodeState::Up);
    let all = format!("{t:?} {config:?}");
    assert!(
        !all.contains("s3cret-pw"),
        "the password leaks into Debug output"
    );
    assert!(g
        .anomalies
        .iter()
        .any(|a| a.kind == AnomalyKind::NodeError && a.message.contains("password")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_loading_its_dataset() {
    let mut sb = sandbox(0, false).await;
    let primary = sb.node("n1").unwrap().port;
    let loader = sb
        .add_node(
            "loader",
            &[
                "--key-load-delay",
                "100",
                "--loading-process-events-interval-bytes",
                "1024",
            ],
        )
        .await
        .unwrap()
        .port;
    let config = fast(sb.config());
    let n1 = node_of(&config, primary);
    send(&n1, &["DEBUG", "POPULATE", "60000", "key", "500"])
        .await
        .unwrap();
    let mut config = config;
    config.groups[0].nodes.retain(|n| n.addr.port == loader);
    let l = config.groups[0].nodes[0].clone();
    // A full sync of 60k keys, loaded at 100 µs a key: about 6 s of loading.
    send(&l, &["REPLICAOF", "127.0.0.1", &primary.to_string()])
        .await
        .unwrap();
    let seen = watch_until(&config, Duration::from_secs(15), |t, _| {
        t.groups[0].nodes[0].state == NodeState::Loading
    })
    .await
    .expect("the node is seen loading");
    let node = &seen.1.groups[0].nodes[0];
    assert!(node.info.as_ref().unwrap().persistence.loading);
    assert!(seen.1.groups[0]
        .anomalies
        .iter()
        .any(|a| a.message.contains("loading")));
}
