//! DESIGN invariant 10 on a Sentinel group: the console (the CLI binary) running a switchover
//! through Sentinel is `SIGKILLed` at every step boundary, against real servers and sentinels,
//! with a Sentinel-aware writer recording every acknowledged write and a sampler reading every
//! node's role.
//!
//! For each kill point: no sample ever shows two primaries at once; once the pause the dead
//! console left is over (lifted here, as its expiry would), the group settles by itself (the
//! old primary, or the target Sentinel promotes) with every sentinel naming that master; the
//! next run's recovery note names every `replica-priority` still 0 with its old value, and
//! once put back as it says, every priority is what it was; every acknowledged write is on the
//! primary at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use redops::config::Config;

use crate::common::cluster::{info_field, raw_cmd, raw_info};
use crate::common::sentinel_group::{
    assert_no_loss, assert_priorities, assert_roles, assert_sentinels_name, port, sandbox, writer,
};
use crate::safety_kill::{redops, run_and_kill, step_count, Sampler};

/// The one master of the group once it has settled (60 s at most): the old primary when the
/// failover never started, the target when Sentinel carried it out.
async fn settled_master(c: &Config, label: &str) -> String {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let mut masters = Vec::new();
        for n in &c.groups[0].nodes {
            let info = raw_info(n.addr.port).await.unwrap_or_default();
            if info_field(&info, "role").as_deref() == Some("master") {
                masters.push(n.name.clone());
            }
        }
        if let [m] = masters.as_slice() {
            return m.clone();
        }
        assert!(
            Instant::now() < end,
            "{label}: no single master after the kill: {masters:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn kill_case(k: u64) {
    let label = format!("sentinel switchover, killed at step {k}");
    let sb = sandbox().await;
    let c = sb.config();
    let cfg = sb.write_config().unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let w = writer(&c);
    w.wait_more(100).await;
    let ports: Vec<u16> = c.groups[0].nodes.iter().map(|n| n.addr.port).collect();
    let sampler = Sampler::start(ports.clone());
    let args = ["-c", &cfg, "switchover", "--to", "n2", "--yes", "--json"];
    let (killed, seen) = run_and_kill(&args, k).await;
    assert!(killed, "{label}: step {k} never started: {seen:#?}");
    // The pause's expiry, brought forward.
    for &p in &ports {
        let _ = raw_cmd(p, &["CLIENT", "UNPAUSE"]).await;
    }
    let master = settled_master(&c, &label).await;
    eprintln!("{label}: {master} is the master after the kill");
    assert!(["n1", "n2"].contains(&master.as_str()), "{label}: {master}");
    assert_roles(&c, &master, &[]).await;
    assert_sentinels_name(&c, &master, &[]).await;
    w.wait_more_within(100, Duration::from_secs(60)).await;
    let (samples, both) = sampler.stop().await;
    assert!(samples > 0, "{label}: no sample taken");
    assert!(both.is_empty(), "{label}: {both:?}");

    // The next run reads the journal: every priority still 0, with the value to put back.
    let (_, _, err) = redops(&["-c", &cfg, "failback", "--dry-run"]).await;
    let n3 = port(&c, "n3");
    let now = raw_priority(n3).await;
    if now == "0" {
        eprintln!("{label}: n3's replica-priority left at 0, named by the recovery note");
        assert!(
            err.contains("CONFIG SET replica-priority 100 on n3"),
            "{label}: the recovery note names n3's priority: {err}"
        );
        raw_cmd(n3, &["CONFIG", "SET", "replica-priority", "100"])
            .await
            .unwrap();
    } else {
        assert!(
            !err.contains("put back:"),
            "{label}: nothing to put back: {err}"
        );
    }
    assert_priorities(&c, "100", &[]).await;
    assert_no_loss(&c, &master, w).await;
}

/// `replica-priority` of the node at `port`, read from its INFO (replicas list it).
async fn raw_priority(port: u16) -> String {
    let info = raw_cmd(port, &["INFO", "replication"]).await.unwrap();
    info_field(&info, "slave_priority").unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_switchover_killed_at_every_step_keeps_one_primary_and_every_write() {
    let sb = sandbox().await;
    let cfg = sb.write_config().unwrap();
    let steps = step_count(&[
        "-c",
        cfg.to_str().unwrap(),
        "switchover",
        "--to",
        "n2",
        "--json",
    ])
    .await;
    drop(sb);
    assert!(steps >= 10, "{steps} steps");
    for k in 0..steps {
        kill_case(k).await;
    }
}
