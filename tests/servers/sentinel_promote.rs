//! Promote and rejoin on a Sentinel group, against real servers and three real sentinels from
//! the sandbox, through the core session (prepare, then execute with `RealOps`, as the CLI and
//! the console do): after Sentinel has failed over by itself, `promote` states what Sentinel
//! did and changes nothing; the restarted old primary is rejoined under the master every
//! sentinel names, every acknowledged write kept; with too few sentinels left to vouch for a
//! master (and so none to fail over), promote and rejoin are refused and nothing changes.

// Which way the rejoin went is printed for the record (`--nocapture`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::time::{Duration, Instant, SystemTime};

use redops::config::Config;
use redops::monitor::{Lookup, Monitor};
use redops::ops::session::{self, Context, Preparation};
use redops::ops::{ActionKind, ErrorKind, RealOps, Request, RunStatus};
use redops::sandbox::{Sandbox, Spec};
use redops::topology::{Role, Topology};

/// How long any wait on Sentinel or a server may take.
const WAIT: Duration = Duration::from_secs(45);

async fn sandbox() -> Sandbox {
    Sandbox::start(&Spec {
        replicas: 2,
        sentinels: 3,
        ..Spec::default()
    })
    .await
    .expect("sandbox with sentinels")
}

fn fast(mut config: Config) -> Config {
    config.console.timeout = Duration::from_secs(2);
    config.console.connect_timeout = Duration::from_secs(2);
    config
}

/// What `status` (and every CLI action) sees: every node and every sentinel polled once.
async fn look(config: &Config) -> Topology {
    let mut m = Monitor::one_shot(config, SystemTime::now());
    m.observe_once(config).await;
    m.cycle(SystemTime::now(), |_| Lookup::Later);
    m.into_topology()
}

/// Polls (bounded) until `pred` holds; returns that topology.
async fn until(config: &Config, what: &str, pred: impl Fn(&Topology) -> bool) -> Topology {
    let end = Instant::now() + WAIT;
    loop {
        let t = look(config).await;
        if pred(&t) {
            return t;
        }
        assert!(Instant::now() < end, "{what} not within {WAIT:?}: {t:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every sentinel answers and names `node`, which answers as the only primary.
/// The node every sentinel names as the master, when they all answer and agree.
fn named_master(t: &Topology) -> Option<String> {
    let rows = &t.groups[0].sentinel.as_ref()?.rows;
    let first = rows.first()?.master_node.clone()?;
    rows.iter()
        .all(|r| r.is_up() && r.master_node.as_deref() == Some(first.as_str()))
        .then_some(first)
}

fn sentinels_name(t: &Topology, node: &str) -> bool {
    let g = &t.groups[0];
    let named = g.sentinel.as_ref().is_some_and(|s| {
        s.rows
            .iter()
            .all(|r| r.is_up() && r.master_node.as_deref() == Some(node))
    });
    let primaries: Vec<&str> = g
        .nodes
        .iter()
        .filter(|v| v.state.is_reachable() && !v.stale_info && v.role == Role::Primary)
        .map(|v| v.name.as_str())
        .collect();
    named && primaries == [node]
}

fn roles(t: &Topology) -> Vec<(String, Role, bool)> {
    t.groups[0]
        .nodes
        .iter()
        .map(|v| (v.name.clone(), v.role, v.state.is_reachable()))
        .collect()
}

fn prepare(
    config: &Config,
    t: &Topology,
    action: ActionKind,
    node: Option<&str>,
) -> redops::ops::OpsResult<Preparation> {
    let ctx = Context {
        config,
        topology: t,
        marks: &[],
        read_only: false,
        now: SystemTime::now(),
    };
    session::prepare(&ctx, &Request::new(action, node.map(str::to_string)))
}

fn conn(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap()
}

/// `n` writes to the primary at `port`, each acknowledged, then until every replica holds them
/// (`WAIT`, on the writing connection: it proves the replicas received them).
fn write_acknowledged(port: u16, n: u64, replicas: i64) -> Vec<u64> {
    let mut c = conn(port);
    let acked: Vec<u64> = (0..n)
        .filter(|i| {
            redis::cmd("SET")
                .arg(format!("sp:{i}"))
                .arg(i)
                .query::<String>(&mut c)
                .is_ok()
        })
        .collect();
    let got: i64 = redis::cmd("WAIT")
        .arg(replicas)
        .arg(5000)
        .query(&mut c)
        .unwrap();
    assert_eq!(got, replicas, "every replica received the writes");
    acked
}

fn missing(port: u16, acked: &[u64]) -> usize {
    let mut c = conn(port);
    acked
        .iter()
        .filter(|i| {
            redis::cmd("GET")
                .arg(format!("sp:{i}"))
                .query::<Option<String>>(&mut c)
                .unwrap()
                .is_none()
        })
        .count()
}

fn port(config: &Config, node: &str) -> u16 {
    config.groups[0]
        .nodes
        .iter()
        .find(|n| n.name == node)
        .unwrap()
        .addr
        .port
}

/// After Sentinel's failover to `master`: promote, with or without `other` named, is only
/// the statement (kind nothing-to-do).
fn promote_states_what_sentinel_did(config: &Config, t: &Topology, master: &str, other: &str) {
    let e = prepare(config, t, ActionKind::Promote, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NothingToDo, "{e:?}");
    assert!(
        e.message
            .contains("Sentinel has already failed over 'sandbox'")
            && e.message
                .contains(&format!("every answering sentinel names {master}"))
            && e.message.contains("n1 is down"),
        "{}",
        e.message
    );
    // Naming the other replica changes nothing either: Sentinel's choice stands.
    let e = prepare(config, t, ActionKind::Promote, Some(other)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NothingToDo, "{e:?}");
    assert!(
        e.message
            .starts_with(&format!("{other} is not promoted: Sentinel has already")),
        "{}",
        e.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sentinel_fails_over_promote_states_it_and_rejoin_follows_sentinel() {
    let mut sb = sandbox().await;
    let config = fast(sb.config());
    let acked = write_acknowledged(port(&config, "n1"), 2000, 2);
    // n1's data on disk: it comes back with it.
    let saved: String = redis::cmd("SAVE")
        .query(&mut conn(port(&config, "n1")))
        .unwrap();
    assert_eq!(saved, "OK");
    sb.kill("n1").unwrap();
    let t = until(&config, "Sentinel's failover", |t| {
        sentinels_name(t, "n2") || sentinels_name(t, "n3")
    })
    .await;
    let master = if sentinels_name(&t, "n2") { "n2" } else { "n3" };
    let other = if master == "n2" { "n3" } else { "n2" };
    let t = until(&config, "the other replica under the new master", |t| {
        t.groups[0]
            .by_name(other)
            .is_some_and(|v| v.role == Role::Replica && v.link == Some(redops::topology::Link::Up))
    })
    .await;

    // promote: the statement, nothing else.
    let before = roles(&t);
    promote_states_what_sentinel_did(&config, &t, master, other);
    assert_eq!(roles(&look(&config).await), before, "nothing changed");
    assert_eq!(missing(port(&config, master), &acked), 0);

    // n1 back with its old data, as a primary: rejoined under the master Sentinel names.
    sb.restart("n1").await.unwrap();
    // Up, and past the dump it restarted from: Sentinel's hellos reach it every 2 s.
    let t = until(&config, "n1 answering, past its dump", |t| {
        t.groups[0].by_name("n1").is_some_and(|v| {
            v.state.is_reachable()
                && !v.stale_info
                && v.info.as_ref().is_some_and(|i| {
                    let r = &i.replication;
                    let dump = r.second_offset.and_then(|o| u64::try_from(o).ok());
                    dump.is_some_and(|d| r.offset.is_some_and(|o| o >= d))
                })
        })
    })
    .await;
    // On a loaded machine Sentinel may have failed over a second time (a new master slow to
    // answer its PINGs): the rejoin goes under the master the sentinels name now.
    let now = named_master(&t);
    match prepare(&config, &t, ActionKind::Rejoin, Some("n1")) {
        Ok(Preparation::Run(p)) => {
            assert_eq!(
                Some(&p.plan.nodes[1].name),
                now.as_ref(),
                "under the master Sentinel names"
            );
            assert_eq!(p.refusal(), None, "{}", p.plan);
            assert!(
                !p.plan.downloads.is_empty(),
                "n1 holds data: downloaded first"
            );
            // Sentinel's failover stands for a promote's mark: what n1 took since its restart
            // (Sentinel's own hello messages, at least) is stated, not an override.
            assert!(p.plan.checks_pass(), "{}", p.plan);
            assert!(
                p.plan
                    .checks
                    .iter()
                    .any(|c| c.message.contains("(run Sentinel's failover)")),
                "{}",
                p.plan
            );
            let approval = p.approval(Some("n1".into()), None, None);
            let done = session::execute(&p, &approval, RealOps::new, |_| {})
                .await
                .unwrap();
            assert_eq!(done.outcome.status, RunStatus::Done, "{:?}", done.outcome);
            eprintln!("rejoin ran under {now:?}");
        }
        // Sentinel got there first (it converts a returning old master within seconds).
        Err(e) if e.kind == ErrorKind::NothingToDo => {
            assert!(
                e.message.contains("Sentinel reconfigured it"),
                "{}",
                e.message
            );
        }
        other => panic!("{other:?}"),
    }
    let t = until(&config, "n1 in sync under the master", |t| {
        named_master(t).is_some_and(|m| sentinels_name(t, &m))
            && t.groups[0].by_name("n1").is_some_and(|v| {
                v.role == Role::Replica
                    && v.link == Some(redops::topology::Link::Up)
                    && !v.sync_in_progress
            })
    })
    .await;
    let master = named_master(&t).expect("the sentinels agree");
    let other = if master == "n2" { "n3" } else { "n2" };
    assert_eq!(missing(port(&config, &master), &acked), 0, "on the master");
    assert_eq!(missing(port(&config, "n1"), &acked), 0, "on n1");
    assert_eq!(missing(port(&config, other), &acked), 0, "on {other}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_too_few_sentinels_promote_and_rejoin_are_refused_and_nothing_changes() {
    let mut sb = sandbox().await;
    let config = fast(sb.config());
    let acked = write_acknowledged(port(&config, "n1"), 500, 2);
    // One sentinel of three: no quorum for ODOWN, so Sentinel cannot fail over by itself.
    sb.kill("s2").unwrap();
    sb.kill("s3").unwrap();
    sb.kill("n1").unwrap();
    let t = until(&config, "n1 down with one sentinel left", |t| {
        let g = &t.groups[0];
        g.by_name("n1").is_some_and(|v| !v.state.is_reachable())
            && g.sentinel
                .as_ref()
                .is_some_and(|s| s.rows.iter().filter(|r| r.is_up()).count() == 1)
    })
    .await;
    let before = roles(&t);
    match prepare(&config, &t, ActionKind::Promote, None) {
        Ok(Preparation::Run(p)) => {
            let r = p.refusal().expect("refused");
            assert!(r.message().contains("watched by Sentinel"), "{r}");
            assert!(r.hint().is_some(), "says what to do instead");
            let why = p
                .plan
                .checks
                .iter()
                .map(|c| c.message.clone())
                .collect::<Vec<_>>();
            assert!(
                why.iter().any(|m| m.contains(
                    "Sentinel cannot fail over by itself: 1 of 3 sentinels answer, fewer than the quorum 2"
                )),
                "{why:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let e = prepare(&config, &t, ActionKind::Rejoin, Some("n1")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused, "{e:?}");
    assert!(
        e.message.contains("only 1 of 3 sentinels") && e.message.contains("quorum 2"),
        "{}",
        e.message
    );
    let after = look(&config).await;
    assert_eq!(roles(&after), before, "nothing changed");
    for n in ["n2", "n3"] {
        assert_eq!(missing(port(&config, n), &acked), 0, "{n}");
    }
}

/// `SENTINEL MASTER` on every sentinel of the config: (replicas, other sentinels) each knows.
async fn known_by_each(config: &Config) -> Vec<(u64, u64)> {
    let s = config.groups[0].sentinel.as_ref().unwrap();
    let mut out = Vec::new();
    for r in redops::sentinel::poll::poll_group(0, s, redops::node::Timeouts::from(&config.console))
        .await
    {
        let m = r
            .seen
            .expect("the sentinel answers")
            .master
            .expect("it knows the master");
        out.push((m.num_replicas.unwrap(), m.num_other_sentinels.unwrap()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_reset_forgets_a_retired_replica_one_sentinel_at_a_time() {
    use redops::ops::sentinel_reset::{self, ResetEvent};
    let mut sb = sandbox().await;
    let config = fast(sb.config());
    let acked = write_acknowledged(port(&config, "n1"), 300, 2);
    // n3 retired for good: every sentinel still lists it (down).
    sb.kill("n3").unwrap();
    until(&config, "n3 seen down", |t| {
        t.groups[0]
            .by_name("n3")
            .is_some_and(|v| !v.state.is_reachable())
    })
    .await;
    assert!(known_by_each(&config).await.iter().all(|k| *k == (2, 2)));
    let t = look(&config).await;
    let before = roles(&t);
    let plan = sentinel_reset::plan(&config, &t, "sandbox").unwrap();
    assert_eq!(
        (plan.replicas, plan.peers, plan.quorum),
        (1, 2, 2),
        "{plan}"
    );
    assert_eq!(plan.sentinels.len(), 3);
    let mut events = Vec::new();
    let done = sentinel_reset::run(
        &plan,
        redops::node::Timeouts::from(&config.console),
        &config.console.audit_log,
        |e| events.push(e),
    )
    .await
    .unwrap();
    assert!(done, "{events:?}");
    // One at a time: each reset is followed by its rediscovery before the next is sent.
    let order: Vec<&str> = events
        .iter()
        .map(|e| match e {
            ResetEvent::ResetSent { .. } => "sent",
            ResetEvent::Rediscovered { .. } => "found",
            ResetEvent::Stopped { .. } => "stopped",
            ResetEvent::Finished { .. } => "finished",
        })
        .collect();
    assert_eq!(
        order,
        ["sent", "found", "sent", "found", "sent", "found", "finished"]
    );
    assert!(
        known_by_each(&config).await.iter().all(|k| *k == (1, 2)),
        "n3 forgotten"
    );
    assert_eq!(roles(&look(&config).await), before, "no role moved");
    assert_eq!(missing(port(&config, "n1"), &acked), 0);
    let audit = std::fs::read_to_string(&config.console.audit_log).unwrap();
    let records: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["action"] == "sentinel-reset")
        .collect();
    assert_eq!(records.first().unwrap()["event"], "RunStarted");
    assert_eq!(records.last().unwrap()["outcome"], "done");
    assert_eq!(
        records
            .iter()
            .filter(|r| r["event"] == "StepVerified")
            .count(),
        3
    );

    // A sentinel down: resetting any other would leave fewer than the quorum knowing the
    // master. Refused before anything is sent.
    sb.kill("s3").unwrap();
    let t = until(&config, "s3 seen down", |t| {
        t.groups[0]
            .sentinel
            .as_ref()
            .is_some_and(|s| s.rows.iter().filter(|r| r.is_up()).count() == 2)
    })
    .await;
    let e = sentinel_reset::plan(&config, &t, "sandbox").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused, "{e:?}");
    assert!(
        e.message.contains("fewer than the quorum 2"),
        "{}",
        e.message
    );
}
