//! The smoke suite: one pass through what redops does, through the built binary, on a sandbox
//! of whatever server `REDOPS_SERVER_BIN` names (else `redis-server` on `PATH`): `status`, a
//! switchover with each strategy (manual, then native `FAILOVER` from 6.2), a snapshot with
//! its download, a promotion after the primary is killed, and the rejoin of the old primary.
//!
//! `make test` runs it against the packaged server; `.ci/run` runs it again against Redis 6.2
//! and Valkey 9.1 (`cargo test --test cli smoke::`), with `REDOPS_SMOKE_EXPECT` set to the
//! version it must find, so that a run on the wrong binary fails instead of passing quietly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::files::walk;
use std::process::Stdio;
use std::time::{Duration, Instant};

use redops::sandbox::{Sandbox, Spec};

const BIN: &str = env!("CARGO_BIN_EXE_redops");

/// The server version the run must be on (`Redis 6.2.`, `Valkey 9.1.`), when set.
const EXPECT_ENV: &str = "REDOPS_SMOKE_EXPECT";

async fn redops(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .env_remove("REDOPS_CONFIG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .unwrap_or_else(|_| panic!("redops {args:?} did not end within 60 s"))
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn conn(port: u16) -> redis::Connection {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let c = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

fn field(port: u16, name: &str) -> Option<String> {
    let text: String = redis::cmd("INFO").query(&mut conn(port)).unwrap();
    text.lines().find_map(|l| {
        l.strip_prefix(&format!("{name}:"))
            .map(|v| v.trim().to_string())
    })
}

fn dbsize(port: u16) -> u64 {
    redis::cmd("DBSIZE").query(&mut conn(port)).unwrap()
}

/// Until `port` is a replica of `upstream` with its link up and holding `keys` keys (bounded).
async fn wait_replica(port: u16, upstream: u16, keys: u64) {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let ok = field(port, "master_port") == Some(upstream.to_string())
            && field(port, "master_link_status").as_deref() == Some("up")
            && dbsize(port) >= keys;
        if ok {
            return;
        }
        assert!(
            Instant::now() < end,
            "port {port} is not an in-sync replica of {upstream} holding {keys} keys after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// `SAVE`, once a background save (a replica's sync, the snapshot's) has ended (bounded).
async fn save(port: u16) {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        match redis::cmd("SAVE").query::<String>(&mut conn(port)) {
            Ok(_) => return,
            Err(e) if e.to_string().contains("in progress") && Instant::now() < end => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(e) => panic!("SAVE on port {port}: {e}"),
        }
    }
}

fn files_with_ext(dir: &std::path::Path, ext: &str) -> usize {
    walk(dir)
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .count()
}

/// Redis 7.0 (and every Valkey) keeps a primary's replication id in its dump and takes it back
/// at a restart; 6.2 starts a new history.
fn keeps_history_across_restart(version: &str) -> bool {
    let Some(v) = version.strip_prefix("Redis ") else {
        return true;
    };
    v.split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .is_none_or(|major| major >= 7)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_switchovers_snapshot_promote_rejoin() {
    let mut sb = Sandbox::start(&Spec {
        replicas: 2,
        group: "g".into(),
        ..Spec::default()
    })
    .await
    .expect("the sandbox starts on this server");
    let version = sb.server_version().unwrap_or_default();
    eprintln!("smoke suite on {version} ({})", sb.server_bin().display());
    if let Some(expect) = std::env::var(EXPECT_ENV).ok().filter(|v| !v.is_empty()) {
        assert!(
            version.starts_with(&expect),
            "{EXPECT_ENV}={expect} but the sandbox runs {version:?} from {}",
            sb.server_bin().display()
        );
    }
    let cfg = sb.write_config().unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let port = |sb: &Sandbox, n: &str| sb.node(n).unwrap().port;
    let (n1, n2, n3) = (port(&sb, "n1"), port(&sb, "n2"), port(&sb, "n3"));

    // status: a fresh sandbox is healthy (6.2 once lost its save points here: `no_persistence`).
    let (code, out, err) = redops(&["-c", &cfg, "status"]).await;
    assert_eq!(
        code, 0,
        "a fresh sandbox is healthy on {version}:\n{out}{err}"
    );
    let (code, out, err) = redops(&["-c", &cfg, "status", "--json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["healthy"], serde_json::Value::Bool(true), "{out}");

    // Real, replicated writes (the wipe guard compares key counts at the rejoin).
    let mut mset = redis::cmd("MSET");
    for i in 0..300 {
        mset.arg(format!("k{i}")).arg(i);
    }
    let () = mset.query(&mut conn(n1)).unwrap();
    wait_replica(n2, n1, 300).await;
    wait_replica(n3, n1, 300).await;

    // Both switchover strategies, there and back.
    for (to, strategy, new, old) in [("n2", "manual", n2, n1), ("n1", "native", n1, n2)] {
        let (code, out, err) = redops(&[
            "-c",
            &cfg,
            "switchover",
            "--to",
            to,
            "--strategy",
            strategy,
            "--yes",
        ])
        .await;
        assert_eq!(code, 0, "{strategy} switchover to {to}:\n{out}{err}");
        assert_eq!(field(new, "role").as_deref(), Some("master"), "{strategy}");
        wait_replica(old, new, 300).await;
        wait_replica(n3, new, 300).await;
    }

    // A snapshot with its download.
    let downloads = sb.dir().join("smoke-downloads");
    let (code, out, err) = redops(&[
        "-c",
        &cfg,
        "snapshot",
        "n1",
        "--download",
        downloads.to_str().unwrap(),
        "--yes",
    ])
    .await;
    assert_eq!(code, 0, "snapshot with download:\n{out}{err}");
    assert_eq!(files_with_ext(&downloads, "rdb"), 1, "{out}");

    promote_then_rejoin(&mut sb, &cfg, &version).await;
}

/// The primary dies: promote, then bring it back and rejoin it.
async fn promote_then_rejoin(sb: &mut Sandbox, cfg: &str, version: &str) {
    let port = |sb: &Sandbox, n: &str| sb.node(n).unwrap().port;
    let (n1, n2, n3) = (port(sb, "n1"), port(sb, "n2"), port(sb, "n3"));
    let () = redis::cmd("SET")
        .arg("last")
        .arg(1)
        .query(&mut conn(n1))
        .unwrap();
    wait_replica(n2, n1, 301).await;
    wait_replica(n3, n1, 301).await;
    save(n1).await;
    sb.kill("n1").unwrap();
    let (code, out, err) = redops(&["-c", cfg, "promote", "--yes"]).await;
    assert_eq!(code, 0, "promote:\n{out}{err}");
    let new = [n2, n3]
        .into_iter()
        .find(|&p| field(p, "role").as_deref() == Some("master"))
        .expect("a replica was promoted");
    let last: Option<String> = redis::cmd("GET").arg("last").query(&mut conn(new)).unwrap();
    assert_eq!(
        last.as_deref(),
        Some("1"),
        "the last acknowledged write survived"
    );

    sb.restart("n1").await.unwrap();
    let (mut code, mut out, mut err) = redops(&["-c", cfg, "rejoin", "n1", "--yes"]).await;
    if !keeps_history_across_restart(version) {
        // Before 7.0 a primary restarted from its dump gets a new replication id: nothing
        // proves its data is on the new primary's history, so the guard refuses and the
        // operator overrides it with a reason.
        assert_eq!(code, 3, "rejoin on {version} is refused first:\n{out}{err}");
        assert!(out.contains("another replication history"), "{out}");
        (code, out, err) = redops(&[
            "-c",
            cfg,
            "rejoin",
            "n1",
            "--yes",
            "--force",
            "--reason",
            "smoke: restarted pre-7.0 primary",
        ])
        .await;
    }
    assert_eq!(code, 0, "rejoin:\n{out}{err}");
    wait_replica(n1, new, 301).await;
}
