//! Promote and rejoin on a Sentinel group, against real servers and three real sentinels from
//! the sandbox, through the core session (prepare, then execute with `RealOps`, as the CLI and
//! the console do): after Sentinel has failed over by itself, `promote` states what Sentinel
//! did and changes nothing; the restarted old primary is rejoined under the master every
//! sentinel names, every acknowledged write kept; with too few sentinels left to fail over by
//! themselves, rejoin is refused and promote asks the one left (`SENTINEL FAILOVER`), steered
//! to the named replica, priorities put back, every write the replica had kept; when Sentinel
//! refuses it (no replica it may pick), the run fails with the priorities put back and no role
//! changed.

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

pub(super) async fn sandbox() -> Sandbox {
    Sandbox::start(&Spec {
        replicas: 2,
        sentinels: 3,
        ..Spec::default()
    })
    .await
    .expect("sandbox with sentinels")
}

pub(super) fn fast(mut config: Config) -> Config {
    config.console.timeout = Duration::from_secs(2);
    config.console.connect_timeout = Duration::from_secs(2);
    config
}

/// What `status` (and every CLI action) sees: every node and every sentinel polled once.
pub(super) async fn look(config: &Config) -> Topology {
    let mut m = Monitor::one_shot(config, SystemTime::now());
    m.observe_once(config).await;
    m.cycle(SystemTime::now(), |_| Lookup::Later);
    m.into_topology()
}

/// Polls (bounded) until `pred` holds; returns that topology.
pub(super) async fn until(
    config: &Config,
    what: &str,
    pred: impl Fn(&Topology) -> bool,
) -> Topology {
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

pub(super) fn roles(t: &Topology) -> Vec<(String, Role, bool)> {
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
    let req = Request::new(action, node.map(str::to_string));
    session::prepare(&context(config, t), &req)
}

/// What the session prepares against: `t`, no rejoin marks, not read-only, now.
pub(super) fn context<'a>(config: &'a Config, t: &'a Topology) -> Context<'a> {
    Context {
        config,
        topology: t,
        marks: &[],
        read_only: false,
        now: SystemTime::now(),
    }
}

fn conn(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap()
}

/// `n` writes to the primary at `port`, each acknowledged, then until every replica holds them
/// (`WAIT`, on the writing connection: it proves the replicas received them).
pub(super) fn write_acknowledged(port: u16, n: u64, replicas: i64) -> Vec<u64> {
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

pub(super) fn missing(port: u16, acked: &[u64]) -> usize {
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

pub(super) fn port(config: &Config, node: &str) -> u16 {
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

/// n1's rejoin, prepared once n1 is up and past the dump it restarted from (Sentinel's hellos
/// reach it every 2 s), with the master the sentinels name then. Planned again (30 s at most) while Sentinel's own moves leave a passing state: its failover still
/// ending, n1 caught between its restart and Sentinel's `+convert-to-slave`.
async fn rejoin_prepared(config: &Config) -> (Option<String>, redops::ops::OpsResult<Preparation>) {
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        let t = until(
            config,
            "n1 answering, past its dump, every sentinel agreeing, no failover under way",
            |t| {
                named_master(t).is_some()
                    && t.groups[0]
                        .sentinel
                        .as_ref()
                        .is_some_and(|s| !s.failover_in_progress())
                    && t.groups[0].by_name("n1").is_some_and(|v| {
                        v.state.is_reachable()
                            && !v.stale_info
                            && v.info.as_ref().is_some_and(|i| {
                                let r = &i.replication;
                                let dump = r.second_offset.and_then(|o| u64::try_from(o).ok());
                                dump.is_some_and(|d| r.offset.is_some_and(|o| o >= d))
                            })
                    })
            },
        )
        .await;
        // On a loaded machine Sentinel may have failed over a second time (a new master slow to
        // answer its PINGs): the rejoin goes under the master the sentinels name now.
        let now = named_master(&t);
        match prepare(config, &t, ActionKind::Rejoin, Some("n1")) {
            Ok(Preparation::Run(p)) if p.refusal().is_some() || !p.plan.checks_pass() => {
                assert!(Instant::now() < give_up, "{}", p.plan);
                eprintln!("rejoin not yet: {}", p.plan);
            }
            Err(e) if e.kind == ErrorKind::Refused => {
                assert!(Instant::now() < give_up, "{e:?}");
                eprintln!("rejoin not yet: {e:?}");
            }
            other => return (now, other),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
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
    let (now, prepared) = rejoin_prepared(&config).await;
    match prepared {
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

/// `replica-priority` of the node at `port`.
fn priority(port: u16) -> String {
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("replica-priority")
        .query(&mut conn(port))
        .unwrap();
    v.get(1).cloned().unwrap_or_default()
}

/// The writes of `acked` (the Sentinel-aware writer's list) that node `name` holds.
async fn held(config: &Config, name: &str, acked: &[u64]) -> Vec<u64> {
    let node = config.groups[0]
        .nodes
        .iter()
        .find(|n| n.name == name)
        .unwrap();
    let lost: std::collections::HashSet<u64> =
        crate::common::cluster_writer::lost(node, "w", acked)
            .await
            .into_iter()
            .collect();
    acked
        .iter()
        .copied()
        .filter(|i| !lost.contains(i))
        .collect()
}

/// One look more with the same monitor: a node that went down keeps its last reading (the
/// old primary's offset, for the loss statement), as in the console.
async fn look_again(m: &mut Monitor, config: &Config) -> Topology {
    m.observe_once(config).await;
    m.cycle(SystemTime::now(), |_| Lookup::Later);
    m.topology().clone()
}

/// The promote plan of n3 through Sentinel, with one sentinel of three: not refused, no
/// pause, n2 steered away; returns its loss statement.
fn through_sentinel(p: &session::Prepared) -> String {
    assert_eq!(p.refusal(), None, "{}", p.plan);
    assert!(p.plan.checks_pass(), "{}", p.plan);
    assert_eq!(p.plan.strategy, Some(redops::ops::Strategy::Sentinel));
    let said: Vec<&str> = p.plan.checks.iter().map(|c| c.message.as_str()).collect();
    assert!(
        said.iter().any(|m| m.contains(
            "Sentinel cannot fail over by itself: 1 of 3 sentinels answer, fewer than the quorum 2"
        )),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|m| m.contains("1 of 3 sentinels answer, fewer than the quorum 2: only they")),
        "{said:?}"
    );
    let loss = said
        .iter()
        .find(|m| {
            m.contains("no acknowledged write can be lost")
                || m.contains("acknowledged are missing on n3")
                || m.contains("writes may be lost")
        })
        .map(|m| (*m).to_string())
        .expect("the loss statement");
    let steps: Vec<&str> = p.plan.steps.iter().map(|s| s.title.as_str()).collect();
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("set n2's replica-priority to 0 (it was 50;")),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("ask Sentinel (sentinel ") && s.ends_with("to fail over to n3")),
        "{steps:?}"
    );
    assert!(!steps.iter().any(|s| s.contains("pause")), "{steps:?}");

    loss
}

/// `CONFIG SET replica-priority` on the node at `port`.
fn set_priority(port: u16, value: &str) {
    let _: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("replica-priority")
        .arg(value)
        .query(&mut conn(port))
        .unwrap();
}

/// Polls (bounded) until the first sentinel reads `value` as the priority of the replica at
/// `port` (`SENTINEL REPLICAS`: Sentinel picks by what it last read).
async fn sentinel_reads(config: &Config, port: u16, value: &str) {
    let s = &config.groups[0].sentinel.as_ref().unwrap().addrs[0];
    let end = Instant::now() + WAIT;
    loop {
        let replicas: Vec<Vec<String>> = redis::cmd("SENTINEL")
            .arg("REPLICAS")
            .arg("sandbox")
            .query(&mut conn(s.port))
            .unwrap();
        let field = |r: &[String], f: &str| {
            r.chunks(2)
                .find(|kv| kv[0] == f)
                .and_then(|kv| kv.get(1).cloned())
        };
        let read = replicas
            .iter()
            .find(|r| field(r, "port") == Some(port.to_string()))
            .and_then(|r| field(r, "slave-priority"));
        if read.as_deref() == Some(value) {
            return;
        }
        assert!(
            Instant::now() < end,
            "the sentinel reads {read:?}, not {value}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fault: n3 made one Sentinel never picks after the plan was made (priority 0, read by
/// the sentinel). Sentinel refuses the failover (-NOGOODSLAVE); the run fails with n2's
/// priority put back and no role changed; then n3's priority is put back too.
async fn refused_by_sentinel(config: &Config, t: &Topology) {
    let p = match prepare(config, t, ActionKind::Promote, Some("n3")) {
        Ok(Preparation::Run(p)) => p,
        other => panic!("{other:?}"),
    };
    let n3 = port(config, "n3");
    set_priority(n3, "0");
    sentinel_reads(config, n3, "0").await;
    let approval = p.approval(Some("n3".into()), None, None);
    let done = session::execute(&p, &approval, RealOps::new, |_| {})
        .await
        .unwrap();
    assert_eq!(done.outcome.status, RunStatus::Failed, "{:?}", done.outcome);
    assert!(
        done.outcome
            .detail
            .contains("No suitable replica to promote"),
        "{:?}",
        done.outcome
    );
    assert_eq!(priority(port(config, "n2")), "50", "put back");
    let t = look(config).await;
    for n in ["n2", "n3"] {
        assert!(
            t.groups[0]
                .by_name(n)
                .is_some_and(|v| v.role == Role::Replica),
            "{n} is still a replica: {t:#?}"
        );
    }
    set_priority(n3, "100");
    sentinel_reads(config, n3, "100").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_too_few_sentinels_promote_asks_sentinel_for_the_named_replica() {
    use crate::common::sentinel_group::{assert_roles, assert_sentinels_name, writer};
    let mut sb = sandbox().await;
    let config = fast(sb.config());
    // Sentinel's own pick would be n2 (a lower priority wins): promote names n3.
    let _: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("replica-priority")
        .arg("50")
        .query(&mut conn(port(&config, "n2")))
        .unwrap();
    let w = writer(&config);
    w.wait_more(500).await;
    // One sentinel of three: no quorum for o_down, so Sentinel cannot fail over by itself.
    sb.kill("s2").unwrap();
    sb.kill("s3").unwrap();
    let mut m = Monitor::one_shot(&config, SystemTime::now());
    let t = look_again(&mut m, &config).await;
    assert!(
        t.groups[0]
            .by_name("n1")
            .is_some_and(|v| v.role == Role::Primary),
        "{t:#?}"
    );
    // The primary answers: refused (a switchover is what is meant), nothing asked of Sentinel.
    match prepare(&config, &t, ActionKind::Promote, Some("n3")) {
        Ok(Preparation::Run(p)) => {
            let r = p.refusal().expect("refused");
            assert!(r.message().contains("n1 is up and a primary"), "{r}");
            assert!(r.message().contains("switch over instead"), "{r}");
        }
        other => panic!("{other:?}"),
    }
    sb.kill("n1").unwrap();
    let end = Instant::now() + WAIT;
    let t = loop {
        let t = look_again(&mut m, &config).await;
        let g = &t.groups[0];
        let n1_down = g.by_name("n1").is_some_and(|v| !v.state.is_reachable());
        let links_down = ["n2", "n3"].iter().all(|n| {
            g.by_name(n)
                .is_some_and(|v| v.link != Some(redops::topology::Link::Up))
        });
        let one_sentinel = g
            .sentinel
            .as_ref()
            .is_some_and(|s| s.rows.iter().filter(|r| r.is_up()).count() == 1);
        if n1_down && links_down && one_sentinel {
            break t;
        }
        assert!(Instant::now() < end, "n1 not seen down: {t:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // What n3 holds of what n1 acknowledged: the writer is stuck (Sentinel names n1).
    let acked_by_n1 = w.acked();
    let on_n3 = held(&config, "n3", &acked_by_n1).await;

    // rejoin stays refused: one sentinel cannot vouch for a master.
    let e = prepare(&config, &t, ActionKind::Rejoin, Some("n1")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused, "{e:?}");
    assert!(
        e.message.contains("only 1 of 3 sentinels") && e.message.contains("quorum 2"),
        "{}",
        e.message
    );

    refused_by_sentinel(&config, &t).await;
    let t = look_again(&mut m, &config).await;
    let p = match prepare(&config, &t, ActionKind::Promote, Some("n3")) {
        Ok(Preparation::Run(p)) => p,
        other => panic!("{other:?}"),
    };
    let loss = through_sentinel(&p);
    let approval = p.approval(Some("n3".into()), None, None);
    let done = session::execute(&p, &approval, RealOps::new, |_| {})
        .await
        .unwrap();
    assert_eq!(done.outcome.status, RunStatus::Done, "{:?}", done.outcome);

    // n3 the primary, n2 its replica, the answering sentinel names n3, priorities back.
    assert_roles(&config, "n3", &["n1"]).await;
    assert_sentinels_name(&config, "n3", &[1, 2]).await;
    assert_eq!(priority(port(&config, "n2")), "50");
    assert_eq!(priority(port(&config, "n3")), "100");
    // The writer found n3 through Sentinel and wrote there.
    w.wait_more(200).await;
    let acked = w.stop().await;
    // The writer numbers its acknowledged writes in order: the rest went to n3.
    let after = acked[acked_by_n1.len()..].to_vec();
    assert!(!after.is_empty());
    // Every acknowledged write n3 had is on it and on n2; what n1 acknowledged past it is the
    // loss the plan stated.
    for n in ["n3", "n2"] {
        assert_eq!(held(&config, n, &on_n3).await, on_n3, "{n}");
        assert_eq!(held(&config, n, &after).await, after, "{n}");
    }
    let lost = acked_by_n1.len() - on_n3.len();
    if loss.contains("no acknowledged write can be lost") {
        // Proven against n1's last reading: only writes after that reading may be missing.
        eprintln!("plan: {loss}; {lost} acknowledged writes after that reading not on n3");
    } else {
        eprintln!("plan: {loss}; {lost} acknowledged writes of n1 not on n3");
    }
    let audit = std::fs::read_to_string(&config.console.audit_log).unwrap();
    assert!(
        audit
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .any(|r| r["action"] == "promote" && r["outcome"] == "done"),
        "{audit}"
    );
}
