//! `redops repoint`, `promote` and `rejoin` through the built binary on a sandbox: the wipe
//! guard's refusal and its forced run with the download, a promotion after the primary is
//! killed (the old primary marked), and the rejoin of the restarted old primary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use redops::sandbox::{Sandbox, Spec};

const BIN: &str = env!("CARGO_BIN_EXE_redops");

async fn redops(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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

fn field(port: u16, name: &str) -> Option<String> {
    let text: String = cmd(port, &["INFO", "everything"]);
    text.lines().find_map(|l| {
        l.strip_prefix(&format!("{name}:"))
            .map(|v| v.trim().to_string())
    })
}

fn rdb_count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "rdb"))
        })
        .count()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repoint_refused_then_forced_with_the_download() {
    let mut sb = Sandbox::start(&Spec {
        replicas: 0,
        group: "g".into(),
        ..Spec::default()
    })
    .await
    .unwrap();
    sb.add_node("e", &[]).await.unwrap();
    let cfg = sb.write_config().unwrap();
    let cfg = cfg.to_str().unwrap();
    let (n1, e) = (sb.node("n1").unwrap().port, sb.node("e").unwrap().port);
    let _: String = cmd(n1, &["DEBUG", "POPULATE", "500", "key", "16"]);

    let (code, out, err) = redops(&["-c", cfg, "repoint", "n1", "--to", "e", "--dry-run"]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("e is empty and n1 holds 500 keys"), "{out}");
    assert!(out.contains("would be refused"), "{out}");

    let (code, out, err) = redops(&["-c", cfg, "repoint", "n1", "--to", "e", "--yes"]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("--force"), "{out}");
    assert_eq!(cmd::<u64>(n1, &["DBSIZE"]), 500);
    assert_eq!(field(n1, "role").as_deref(), Some("master"));

    let (code, out, err) = redops(&[
        "-c",
        cfg,
        "repoint",
        "n1",
        "--to",
        "e",
        "--yes",
        "--force",
        "--reason",
        "test rebuild",
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("download: n1 ->"), "{out}");
    assert_eq!(rdb_count(&sb.dir().join("backups/g/n1")), 1);
    assert_eq!(field(n1, "master_port"), Some(e.to_string()));
    assert_eq!(cmd::<u64>(n1, &["DBSIZE"]), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_after_a_kill_then_rejoin_from_the_cli() {
    let mut sb = Sandbox::start(&Spec {
        replicas: 2,
        group: "g".into(),
        ..Spec::default()
    })
    .await
    .unwrap();
    let cfg = sb.write_config().unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let port = |sb: &Sandbox, n: &str| sb.node(n).unwrap().port;
    let n1 = port(&sb, "n1");
    // Real writes (DEBUG POPULATE is not replicated: the replicas would hold nothing, and the
    // wipe guard would rightly refuse the rejoin below).
    let mut mset = vec!["MSET".to_string()];
    for i in 0..300 {
        mset.extend([format!("k{i}"), i.to_string()]);
    }
    let mset: Vec<&str> = mset.iter().map(String::as_str).collect();
    let _: () = cmd(n1, &mset);
    let _: () = cmd(n1, &["SET", "last", "1"]);
    for r in ["n2", "n3"] {
        let end = std::time::Instant::now() + Duration::from_secs(10);
        while cmd::<u64>(port(&sb, r), &["DBSIZE"]) < 301 {
            assert!(std::time::Instant::now() < end, "{r} never got the writes");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let _: String = cmd(n1, &["SAVE"]);
    sb.kill("n1").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (code, out, err) = redops(&["-c", &cfg, "promote", "--yes"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("#1 n2") || out.contains("#1 n3"), "{out}");
    assert!(out.contains("marked for rejoin"), "{out}");
    let marks = std::fs::read_to_string(sb.dir().join("rejoin-pending.json")).unwrap();
    assert!(marks.contains("\"node\": \"n1\""), "{marks}");
    let primaries: Vec<&str> = ["n2", "n3"]
        .into_iter()
        .filter(|n| field(port(&sb, n), "role").as_deref() == Some("master"))
        .collect();
    assert_eq!(primaries.len(), 1);
    let new = port(&sb, primaries[0]);
    assert_eq!(
        cmd::<Option<String>>(new, &["GET", "last"]).as_deref(),
        Some("1")
    );

    sb.restart("n1").await.unwrap();
    assert_eq!(field(n1, "role").as_deref(), Some("master"));
    let (code, out, err) = redops(&["-c", &cfg, "rejoin", "n1", "--yes"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("download: n1 ->"), "{out}");
    assert_eq!(field(n1, "master_port"), Some(new.to_string()));
    assert_eq!(field(n1, "master_link_status").as_deref(), Some("up"));
    let marks = std::fs::read_to_string(sb.dir().join("rejoin-pending.json")).unwrap();
    assert!(!marks.contains("\"node\": \"n1\""), "{marks}");
}
