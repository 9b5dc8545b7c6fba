//! Cluster backups against real clusters: `snapshot --all` through the session and the engine
//! (every primary downloaded at one cut, one cluster manifest), with and without the write
//! pause, refused on a migrating slot or a group that is not a cluster; the backup listed as
//! one entry, and its restore test into a scratch cluster, passing, then failing on a
//! corrupted shard file.

use std::time::{Duration, Instant, SystemTime};

use redops::audit::AuditLog;
use redops::backup::cluster::{self as cb, ClusterEntry};
use redops::backup::cluster_verify::{verify_cluster, ClusterVerifyError};
use redops::cluster::{key_slot, tag_in};
use redops::config::{Config, Node};
use redops::ops::redis_ops::action_client_name;
use redops::ops::session::{self, Context, Prepared};
use redops::ops::snapshot::cluster::AllPrimaries;
use redops::ops::{
    ActionKind, Approval, CheckStatus, ErrorKind, RealOps, Request, RunOutcome, RunStatus,
};
use redops::sandbox::ClusterShape;

use super::cluster::{set_migrating, start};
use crate::common::cluster_writer::{client, ClusterWriter};

async fn prepare(
    config: &Config,
    pause: Option<Duration>,
) -> Result<Prepared, redops::ops::OpsError> {
    let topology = redops::cli::status::poll(config, None).await;
    let ctx = Context {
        config,
        topology: &topology,
        marks: &[],
        read_only: false,
        now: SystemTime::now(),
    };
    let req = Request {
        all: Some(AllPrimaries { pause }),
        ..Request::new(ActionKind::Snapshot, None)
    };
    session::prepare(&ctx, &req).map(|p| p.into_run().expect("a plan"))
}

async fn run(p: &Prepared) -> RunOutcome {
    let ops = RealOps::new(
        &p.config,
        0,
        &action_client_name("test", "host", std::process::id()),
    )
    .expect("ops");
    let mut log = AuditLog::open(&p.config.console.audit_log).expect("audit log");
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let approval = Approval {
        confirmation: Some("yes".into()),
        ..Approval::default()
    };
    redops::ops::run(&p.plan, &approval, &ops, &mut log, &tx).await
}

fn entries(config: &Config) -> Vec<ClusterEntry> {
    let (e, problems) = cb::load(&config.console.backups_dir, None);
    assert!(problems.is_empty(), "{problems:?}");
    e
}

/// The node of a 3-shard sandbox cluster that serves `key`.
fn owner<'a>(config: &'a Config, key: &str) -> &'a Node {
    let shape = ClusterShape {
        primaries: 3,
        replicas: 1,
        node_timeout: Duration::from_secs(1),
    };
    let slot = key_slot(key.as_bytes());
    let i = (0..3)
        .find(|&i| {
            let (a, b) = shape.slots_of(i);
            (a..=b).contains(&slot)
        })
        .expect("a shard");
    &config.groups[0].nodes[i]
}

/// `SET seed:i i` for `n` keys, each on its slot's primary; the count per shard.
async fn seed(config: &Config, n: usize) -> [u64; 3] {
    let mut per = [0u64; 3];
    let mut clients: Vec<_> = config.groups[0].nodes[..3].iter().map(client).collect();
    for i in 0..n {
        let key = format!("seed:{i}");
        let node = owner(config, &key);
        let k = config.groups[0].nodes[..3]
            .iter()
            .position(|x| x.name == node.name)
            .expect("a primary");
        let mut cmd = redis::cmd("SET");
        cmd.arg(&key).arg(i);
        clients[k].query::<()>(&cmd).await.expect("SET");
        per[k] += 1;
    }
    per
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_all_under_writes_is_one_manifest_that_restores_and_a_corrupt_shard_fails() {
    let sb = start(3, 1).await;
    let config = sb.config();
    let seeded = seed(&config, 300).await;
    // One writer per shard, each on one list key of its shard.
    let mut writers = Vec::new();
    for i in 0..3 {
        let (a, b) = ClusterShape {
            primaries: 3,
            replicas: 1,
            node_timeout: Duration::from_secs(1),
        }
        .slots_of(i);
        let key = format!("{}:log", tag_in(a, b).expect("a tag"));
        writers.push(ClusterWriter::start(config.groups[0].nodes[i].clone(), key));
    }
    for w in &writers {
        w.wait_more(50).await;
    }
    let p = prepare(&config, None).await.expect("a plan");
    assert!(
        p.plan.checks.iter().all(|c| c.status == CheckStatus::Pass),
        "{:?}",
        p.plan.checks
    );
    assert_eq!(
        p.plan.ha_manager, None,
        "a cluster snapshot is not refused for the cluster"
    );
    let outcome = run(&p).await;
    assert_eq!(outcome.status, RunStatus::Done, "{outcome:?}");
    for w in writers {
        w.stop().await;
    }
    let all = entries(&config);
    assert_eq!(all.len(), 1, "one cluster backup");
    let m = &all[0].manifest;
    assert_eq!(m.group, config.groups[0].name);
    assert_eq!(m.shards.len(), 3);
    assert_eq!(m.slots_covered(), 16384);
    assert_eq!((m.pause_bound_ms, m.paused_ms), (None, None));
    println!("cut without a pause: spread {} ms", m.spread_ms);
    for (i, s) in m.shards.iter().enumerate() {
        assert_eq!(s.node, config.groups[0].nodes[i].name);
        assert!(s.crc_ok);
        let check = redops::node::rdb::verify(&s.file).expect("the shard's file verifies");
        assert!(check.crc.is_verified());
        assert!(s.manifest.exists(), "the per-node manifest beside it");
        // The seeded keys and the shard's list: what the file holds, exactly.
        assert_eq!(s.keys, Some(seeded[i] + 1), "shard {}", i + 1);
    }
    assert_eq!(
        m.total_keys,
        Some(m.shards.iter().filter_map(|s| s.keys).sum())
    );

    let report = verify_cluster(m, None, 50)
        .await
        .expect("the restore test runs");
    assert!(report.passed(), "{:?}", report.problems);
    assert_eq!(
        report.keys,
        m.shards
            .iter()
            .map(|s| s.keys.expect("keys"))
            .collect::<Vec<_>>()
    );
    assert!(report.state_ok);
    assert_eq!(report.slots_ok, Some(16384));
    assert_eq!(report.sampled, 150, "50 keys read back per shard");

    // One byte of shard 2's file changed: the test fails naming that shard.
    let file = &m.shards[1].file;
    let mut bytes = std::fs::read(file).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(file, bytes).expect("write");
    match verify_cluster(m, None, 50).await {
        Err(e @ ClusterVerifyError::Shard { shard: 2, .. }) => {
            assert!(
                e.to_string().starts_with("shard 2 (n2, slots 5461-10921)"),
                "{e}"
            );
        }
        other => panic!("a corrupted shard must fail the test: {other:?}"),
    }
}

/// Writes `i` to the first shard, then `i` to the second, each acknowledged before the next:
/// in any one point in time the first list is as long as the second, or one longer.
async fn ping_pong(
    a: Node,
    b: Node,
    ka: String,
    kb: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> u64 {
    let (mut ca, mut cb) = (client(&a), client(&b));
    let mut i = 0u64;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) && i < 1_000_000 {
        let mut cmd = redis::cmd("RPUSH");
        cmd.arg(&ka).arg(i);
        ca.query::<()>(&cmd).await.expect("RPUSH a");
        let mut cmd = redis::cmd("RPUSH");
        cmd.arg(&kb).arg(i);
        cb.query::<()>(&cmd).await.expect("RPUSH b");
        i += 1;
    }
    i
}

/// `LLEN key` in an RDB, through a scratch server loaded with it.
async fn llen_in(rdb: &std::path::Path, key: &str) -> u64 {
    let scratch = redops::backup::start_scratch(rdb, None, None, None, None)
        .await
        .expect("a scratch server");
    let mut cmd = redis::cmd("LLEN");
    cmd.arg(key);
    let n: u64 = client(&scratch.node).query(&cmd).await.expect("LLEN");
    scratch.stop();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_all_with_a_pause_is_one_point_in_time_and_writes_resume() {
    let sb = start(3, 1).await;
    let config = sb.config();
    let nodes = &config.groups[0].nodes;
    let ka = format!("{}:seq", tag_in(0, 5460).expect("tag"));
    let kb = format!("{}:seq", tag_in(5461, 10921).expect("tag"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let task = tokio::spawn(ping_pong(
        nodes[0].clone(),
        nodes[1].clone(),
        ka.clone(),
        kb.clone(),
        stop.clone(),
    ));
    // The writer is under way: its first list grows.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut c0 = client(&nodes[0]);
    loop {
        let mut cmd = redis::cmd("LLEN");
        cmd.arg(&ka);
        if c0.query::<u64>(&cmd).await.expect("LLEN") > 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the writer made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let bound = Duration::from_secs(5);
    let p = prepare(&config, Some(bound)).await.expect("a plan");
    let outcome = run(&p).await;
    assert_eq!(outcome.status, RunStatus::Done, "{outcome:?}");
    // Unpaused now: a write answers well within the 5 s bound, on every primary.
    for n in &nodes[..3] {
        let t = redops::node::Timeouts {
            connect: Duration::from_millis(500),
            read: Duration::from_millis(300),
        };
        let mut c = redops::node::NodeClient::new(n, t, "redops-test").expect("client");
        let key = format!("{}:probe", tag_in(0, 16383).expect("tag"));
        let mut cmd = redis::cmd("SET");
        // Any key: a MOVED reply is an answer too, and a paused node gives none.
        cmd.arg(&key).arg(1);
        let answered: Result<(), _> = c.query(&cmd).await;
        assert!(
            answered.is_ok()
                || !answered
                    .as_ref()
                    .is_err_and(|e| e.to_string().contains("timed out")),
            "{} still paused: {answered:?}",
            n.name
        );
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let written = task.await.expect("writer");
    let all = entries(&config);
    assert_eq!(all.len(), 1);
    let m = &all[0].manifest;
    assert_eq!(m.pause_bound_ms, Some(5000));
    let paused = m.paused_ms.expect("the pause's length");
    assert!(paused < 5000, "lifted before its bound: {paused} ms");
    assert_eq!(outcome.pause_ms, Some(paused));
    println!(
        "cut with a pause: spread {} ms, writes paused {paused} ms",
        m.spread_ms
    );
    // The writer went on after the cut: more writes than the files hold.
    let (la, lb) = (
        llen_in(&m.shards[0].file, &ka).await,
        llen_in(&m.shards[1].file, &kb).await,
    );
    assert!(
        written > la,
        "writes resumed after the cut: {written} > {la}"
    );
    assert!(
        la == lb || la == lb + 1,
        "one point in time across shards: first list {la}, second {lb}"
    );
}

#[tokio::test]
async fn snapshot_all_refuses_a_migrating_slot_a_pause_shorter_than_the_fork_delay_and_a_group_not_a_cluster(
) {
    let sb = start(2, 0).await;
    let config = sb.config();
    let nodes = &config.groups[0].nodes;
    set_migrating(&nodes[0], &nodes[1], 7).await;
    let p = prepare(&config, Some(Duration::from_secs(2)))
        .await
        .expect("a plan");
    let failed: Vec<&str> = p
        .plan
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| c.message.as_str())
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].starts_with("slot 7 is migrating on n1 (to n2)"),
        "{}",
        failed[0]
    );
    let outcome = run(&p).await;
    assert_eq!(outcome.status, RunStatus::Refused, "{outcome:?}");
    assert_eq!(outcome.exit_code(), 3);
    assert!(entries(&config).is_empty(), "no cluster backup written");
    // Nothing was paused: a write on n1 answers at once.
    let key = format!("{}:w", tag_in(0, 8191).expect("tag"));
    let mut set = redis::cmd("SET");
    set.arg(&key).arg(1);
    client(&nodes[0])
        .query::<()>(&set)
        .await
        .expect("SET on n1");

    // The slot settled, a fork delay longer than the pause: nothing is paused.
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("SETSLOT").arg(7).arg("STABLE");
    client(&nodes[0])
        .query::<()>(&cmd)
        .await
        .expect("SETSLOT STABLE");
    let mut cmd = redis::cmd("CONFIG");
    cmd.arg("SET").arg("repl-diskless-sync-delay").arg(5);
    client(&nodes[0])
        .query::<()>(&cmd)
        .await
        .expect("CONFIG SET");
    let p = prepare(&config, Some(Duration::from_secs(2)))
        .await
        .expect("a plan");
    assert!(
        p.plan.checks.iter().all(|c| c.status == CheckStatus::Pass),
        "{:?}",
        p.plan.checks
    );
    let outcome = run(&p).await;
    assert_eq!(outcome.status, RunStatus::Failed, "{outcome:?}");
    assert!(
        outcome.detail.contains("n1 (repl-diskless-sync-delay 5)"),
        "{}",
        outcome.detail
    );
    assert!(
        outcome.detail.contains("nothing was paused"),
        "{}",
        outcome.detail
    );
    let next = outcome.next_step.expect("a next step");
    assert_eq!(next.action, None, "nothing to repair: {next:?}");
    assert!(next.why.starts_with("no role changed"), "{}", next.why);
    assert!(entries(&config).is_empty(), "no cluster backup written");
    let started = Instant::now();
    client(&nodes[0])
        .query::<()>(&set)
        .await
        .expect("SET on n1");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "n1 answers writes at once"
    );

    let mut plain = config.clone();
    plain.groups[0].cluster = false;
    let topology = redops::cli::status::poll(&plain, None).await;
    let ctx = Context {
        config: &plain,
        topology: &topology,
        marks: &[],
        read_only: false,
        now: SystemTime::now(),
    };
    let req = Request {
        all: Some(AllPrimaries::default()),
        ..Request::new(ActionKind::Snapshot, None)
    };
    let e = session::prepare(&ctx, &req).expect_err("refused");
    assert_eq!(e.kind, ErrorKind::Usage);
    assert!(
        e.message.contains("is not a cluster group"),
        "{}",
        e.message
    );
    assert!(e.hint.is_some());
}
