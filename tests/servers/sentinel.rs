//! Sentinel groups against real `redis-sentinel` processes (`redis-server --sentinel`) from
//! the sandbox: the sandbox's sentinels, Sentinel's view and its anomalies, and a failover
//! by Sentinel watched by the continuous monitor without false alarms.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant, SystemTime};

use redops::config::{Addr, Config};
use redops::monitor::{Lookup, Monitor};
use redops::node::{NodeClient, Timeouts};
use redops::sandbox::{Sandbox, Spec};
use redops::topology::{AnomalyKind, Role, Severity, Topology};

async fn sandbox(sentinels: usize) -> Sandbox {
    Sandbox::start(&Spec {
        replicas: 2,
        sentinels,
        ..Spec::default()
    })
    .await
    .expect("sandbox with sentinels")
}

fn fast(mut config: Config) -> Config {
    config.console.poll_interval = Duration::from_millis(200);
    // Not shorter: the test binary runs real servers in parallel on 2 cores, and a reply late
    // from load alone would read as a node that does not answer.
    config.console.timeout = Duration::from_secs(2);
    config.console.connect_timeout = Duration::from_secs(2);
    config
}

/// One pass of what `status` does: every node and every sentinel polled once.
async fn status(config: &Config) -> Topology {
    let mut m = Monitor::one_shot(config, SystemTime::now());
    cycle(&mut m, config).await
}

async fn cycle(m: &mut Monitor, config: &Config) -> Topology {
    let (obs, sentinels) = tokio::join!(
        redops::poller::poll_once(config),
        redops::sentinel::poll::poll_config(config)
    );
    for o in obs {
        m.observe(o);
    }
    for r in sentinels {
        m.observe_sentinel(r);
    }
    m.cycle(SystemTime::now(), |_| Lookup::Later);
    m.topology().clone()
}

fn kinds(t: &Topology) -> Vec<AnomalyKind> {
    t.groups[0].anomalies.iter().map(|a| a.kind).collect()
}

async fn sentinel_cmd(addr: &Addr, args: &[&str]) -> redis::Value {
    let node = redops::config::Node {
        name: "s".into(),
        addr: addr.clone(),
        username: None,
        password: None,
        tls: None,
    };
    let t = Timeouts {
        connect: Duration::from_secs(2),
        read: Duration::from_secs(5),
    };
    let mut c = NodeClient::new(&node, t, "redops-test").expect("client");
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    c.query(&cmd).await.expect("sentinel answers")
}

#[tokio::test]
async fn sandbox_sentinels_watch_the_primary_and_are_killed_on_drop() {
    let sb = sandbox(3).await;
    let config = sb.config();
    let s = config.groups[0]
        .sentinel
        .as_ref()
        .expect("sentinel in config");
    assert_eq!(s.addrs.len(), 3);
    assert_eq!(s.master_name, "sandbox");
    assert!(sb.config_toml().contains("sentinel = { addrs = ["));
    let t = status(&config).await;
    let view = t.groups[0].sentinel.as_ref().expect("sentinel view");
    assert_eq!(view.master_node.as_deref(), Some("n1"), "{view:?}");
    assert_eq!(view.agreeing, 3);
    assert!(view
        .rows
        .iter()
        .all(|r| r.is_up() && matches!(r.ckquorum, Some(Ok(_)))));
    assert!(
        t.groups[0].anomalies.is_empty(),
        "{:?}",
        t.groups[0].anomalies
    );
    let state = sb.state();
    let names: Vec<&str> = state.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        ["n1", "n2", "n3", "s1", "s2", "s3"],
        "the state file names them"
    );
    let pids: Vec<u32> = sb.sentinels().iter().map(|s| s.pid).collect();
    drop(sb);
    for pid in pids {
        let alive = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
            None,
        )
        .is_ok();
        assert!(!alive, "sentinel pid {pid} still runs after drop");
    }
}

#[tokio::test]
async fn wrong_master_name_and_dead_sentinels_are_not_healthy() {
    let mut sb = sandbox(3).await;
    let mut config = fast(sb.config());
    config.groups[0].sentinel.as_mut().unwrap().master_name = "nope".into();
    let t = status(&config).await;
    let k = kinds(&t);
    assert!(k.contains(&AnomalyKind::SentinelUnknownMaster), "{k:?}");
    assert!(t.groups[0]
        .anomalies
        .iter()
        .any(|a| a.severity == Severity::Critical && a.message.contains("'nope'")));

    let config = fast(sb.config());
    sb.kill("s3").unwrap();
    let t = status(&config).await;
    let k = kinds(&t);
    assert!(k.contains(&AnomalyKind::SentinelDown), "{k:?}");
    assert!(
        !k.contains(&AnomalyKind::SentinelQuorum),
        "2 of 3 still make quorum: {k:?}"
    );

    sb.kill("s2").unwrap();
    let t = status(&config).await;
    let k = kinds(&t);
    assert!(k.contains(&AnomalyKind::SentinelQuorum), "{k:?}");
    // The survivor's CKQUORUM fails once it has seen the others down (down-after 1 s).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let t = status(&config).await;
        let row = t.groups[0].sentinel.as_ref().unwrap().rows[0].clone();
        if matches!(row.ckquorum, Some(Err(_))) {
            let a = &t.groups[0].anomalies;
            assert!(
                a.iter().any(|a| a.kind == AnomalyKind::SentinelQuorum
                    && a.message.contains("cannot reach the quorum")),
                "{a:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "CKQUORUM still passes: {row:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sentinel fails over (`SENTINEL FAILOVER`) while the continuous monitor runs: the console
/// sees the new master, never calls a node down for the connections Sentinel kills, and never
/// calls the old master a stale primary or a split brain while Sentinel demotes it.
#[tokio::test]
async fn sentinel_failover_is_seen_without_false_alarms() {
    let sb = sandbox(3).await;
    let config = fast(sb.config());
    let mut m = Monitor::new(&config, SystemTime::now());
    for _ in 0..3 {
        cycle(&mut m, &config).await;
    }
    let s1 = sb.sentinels()[0].addr();
    let started = Instant::now();
    sentinel_cmd(&s1, &["SENTINEL", "FAILOVER", "sandbox"]).await;
    let deadline = started + Duration::from_secs(40);
    let mut seen_switch: Option<Duration> = None;
    let mut seen_settled: Option<Duration> = None;
    let mut demoting_cycles = 0;
    let forbidden = [
        AnomalyKind::SplitBrain,
        AnomalyKind::StalePrimary,
        AnomalyKind::NodeDown,
        AnomalyKind::NodeUnresponsive,
        AnomalyKind::NodeError,
    ];
    while Instant::now() < deadline {
        let t = cycle(&mut m, &config).await;
        let g = &t.groups[0];
        for a in &g.anomalies {
            assert!(
                !forbidden.contains(&a.kind),
                "false alarm during Sentinel's failover at {:?}: {a:?}",
                started.elapsed()
            );
        }
        if g.anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::SentinelDemoting)
        {
            demoting_cycles += 1;
        }
        let view = g.sentinel.as_ref().unwrap();
        if seen_switch.is_none() && view.master_node.as_deref().is_some_and(|n| n != "n1") {
            seen_switch = Some(started.elapsed());
        }
        let n1_replica = g.by_name("n1").is_some_and(|n| n.role == Role::Replica);
        if seen_switch.is_some() && n1_replica && view.agreeing == 3 && g.primaries().len() == 1 {
            seen_settled = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let switch = seen_switch.expect("the console saw Sentinel name a new master");
    let settled = seen_settled.expect("the old master became a replica, all sentinels agree");
    // Two primaries were seen while Sentinel demoted n1: said in Sentinel's words, not as a
    // split brain.
    assert!(demoting_cycles > 0, "the two-primary window was never seen");
    eprintln!(
        "figure: {demoting_cycles} cycles showed Sentinel demoting the old master; SENTINEL FAILOVER seen by the console after {} ms; old master demoted and \
         every sentinel agreeing after {} ms",
        switch.as_millis(),
        settled.as_millis()
    );
}

/// The console's sentinel tasks: Sentinel's events reach the event log in words naming the
/// nodes, once per event however many sentinels publish it.
#[tokio::test]
async fn sentinel_events_reach_the_log_once() {
    let sb = sandbox(3).await;
    let config = fast(sb.config());
    let mut m = Monitor::new(&config, SystemTime::now());
    cycle(&mut m, &config).await;
    let (_tasks, mut rx) = redops::sentinel::SentinelPollers::spawn(&config);
    // Subscribed once a first report arrived from each (reports and subscriptions start
    // together; a report takes longer than a PSUBSCRIBE).
    let mut reports = 0;
    while reports < 3 {
        let feed = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a report in time")
            .expect("tasks run");
        if matches!(feed, redops::sentinel::SentinelFeed::Report(_)) {
            reports += 1;
        }
        let _ = m.sentinel_feed(feed);
    }
    sentinel_cmd(
        &sb.sentinels()[0].addr(),
        &["SENTINEL", "FAILOVER", "sandbox"],
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        let Ok(Some(feed)) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await else {
            continue;
        };
        if let Some(c) = m.sentinel_feed(feed) {
            lines.push(c.message.clone());
            if lines.iter().any(|l| l.contains("the failover finished")) {
                break;
            }
        }
    }
    let switched: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("switched 'sandbox' from n1 to n"))
        .collect();
    assert_eq!(switched.len(), 1, "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains("starts a failover")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("was elected to lead")),
        "{lines:#?}"
    );
}

/// `--sentinel ADDR --master-name NAME`: the group as the sentinel describes it, with every
/// sentinel it knows; a wrong name is a clear error.
#[tokio::test]
async fn ad_hoc_target_from_one_sentinel() {
    let sb = sandbox(3).await;
    let s1 = sb.sentinels()[0].addr().to_string();
    let req = redops::targets::Request {
        sentinels: vec![s1.clone()],
        master_name: Some("sandbox".into()),
        ..redops::targets::Request::default()
    };
    let config = redops::targets::resolve(&req).await.expect("resolved");
    let g = &config.groups[0];
    let mut ports: Vec<u16> = g.nodes.iter().map(|n| n.addr.port).collect();
    ports.sort_unstable();
    let mut want: Vec<u16> = sb.nodes().iter().map(|n| n.port).collect();
    want.sort_unstable();
    assert_eq!(ports, want);
    assert_eq!(g.nodes[0].addr.port, sb.nodes()[0].port, "the master first");
    let s = g.sentinel.as_ref().expect("sentinel");
    assert_eq!(s.addrs.len(), 3, "the two others learned from s1: {s:?}");
    let t = status(&config).await;
    assert!(
        t.groups[0].anomalies.is_empty(),
        "{:?}",
        t.groups[0].anomalies
    );

    let e = redops::targets::resolve(&redops::targets::Request {
        master_name: Some("nope".into()),
        ..req
    })
    .await
    .expect_err("unknown master name");
    assert!(e.message.contains("'nope'"), "{e:?}");
    assert!(e.hint.is_some_and(|h| h.contains("SENTINEL MASTERS")));
}

/// The primary dies (SIGKILL by PID): Sentinel agrees it is down and promotes a replica; the
/// console says so without calling the replicas down or two primaries a split brain. Then
/// the old primary restarts with its old data and Sentinel turns it into a replica.
#[tokio::test]
async fn primary_killed_sentinel_fails_over_and_the_console_follows() {
    let mut sb = sandbox(3).await;
    let config = fast(sb.config());
    let mut m = Monitor::new(&config, SystemTime::now());
    for _ in 0..3 {
        cycle(&mut m, &config).await;
    }
    let started = Instant::now();
    sb.kill("n1").unwrap();
    let mut promoted: Option<(Duration, String)> = None;
    let deadline = started + Duration::from_secs(40);
    while Instant::now() < deadline {
        let t = cycle(&mut m, &config).await;
        let g = &t.groups[0];
        for a in &g.anomalies {
            let about_replicas = a.nodes.iter().any(|n| n != "n1");
            assert!(
                !(matches!(
                    a.kind,
                    AnomalyKind::NodeDown | AnomalyKind::NodeUnresponsive
                ) && about_replicas)
                    && a.kind != AnomalyKind::SplitBrain,
                "false alarm at {:?}: {a:?}",
                started.elapsed()
            );
        }
        let view = g.sentinel.as_ref().unwrap();
        if let Some(n) = view.master_node.as_deref().filter(|n| *n != "n1") {
            if g.by_name(n).is_some_and(|v| v.role == Role::Primary) && view.agreeing >= 2 {
                promoted = Some((started.elapsed(), n.to_string()));
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (after, new) = promoted.expect("Sentinel promoted a replica and the console saw it");
    eprintln!(
        "figure: primary killed; the console shows Sentinel's new master {new} after {} ms \
         (down-after-milliseconds {} ms)",
        after.as_millis(),
        redops::sandbox::DOWN_AFTER_MS
    );
    sb.restart("n1").await.unwrap();
    let restarted = Instant::now();
    let deadline = restarted + Duration::from_secs(40);
    let mut raised: Vec<AnomalyKind> = Vec::new();
    loop {
        let t = cycle(&mut m, &config).await;
        let g = &t.groups[0];
        for a in &g.anomalies {
            if !raised.contains(&a.kind) {
                raised.push(a.kind);
            }
        }
        if g.by_name("n1").is_some_and(|v| v.role == Role::Replica)
            && g.sentinel.as_ref().unwrap().agreeing == 3
        {
            break;
        }
        assert!(Instant::now() < deadline, "n1 never became a replica");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "figure: old primary restarted; Sentinel made it a replica after {} ms; raised \
         meanwhile: {raised:?}",
        restarted.elapsed().as_millis()
    );
}
