//! `redops restore` on the built binary against real servers: a backup loaded into an empty
//! primary whose replicas follow it (keys per db equal everywhere afterwards); a node with data
//! refused (exit 3), then forced with its own data downloaded and verified first; a corrupted
//! backup refused before any change; a backup that does not hold what its manifest says fails
//! with the node left a primary; the scratch server's PID gone after a success and after a
//! failure; the offline mode's printed steps followed by hand on a real server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::bin::redops;
use crate::common::cluster::{info_field, raw_cmd, raw_info, Cluster};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn said(out: &std::process::Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// JSON lines of a `--json` run.
fn events(out: &std::process::Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// `keys` keys in db0 and `keys / 10` in db3 on `port`.
async fn fill(port: u16, keys: usize) {
    for i in 0..keys {
        raw_cmd(port, &["SET", &format!("k:{i}"), "v"])
            .await
            .unwrap();
    }
    // A second database: MSET through MULTI is not what raw_cmd does; SELECT is per
    // connection, so one EVAL writes them.
    let script =
        "for i=1,tonumber(ARGV[1]) do redis.call('SELECT',3); redis.call('SET','d3:'..i,'v') end";
    raw_cmd(port, &["EVAL", script, "0", &(keys / 10).to_string()])
        .await
        .unwrap();
}

/// Keys per database from `INFO keyspace`: `[(0, 300), (3, 30)]`.
async fn keyspace(port: u16) -> Vec<(u32, u64)> {
    let info = raw_cmd(port, &["INFO", "keyspace"]).await.unwrap();
    info.lines()
        .filter_map(|l| {
            let (db, rest) = l.strip_prefix("db")?.split_once(':')?;
            let keys = rest.split(',').find_map(|kv| kv.strip_prefix("keys="))?;
            Some((db.parse().ok()?, keys.parse().ok()?))
        })
        .collect()
}

/// Waits (bounded) until `port` holds `want`, keys per db.
async fn wait_keyspace(port: u16, want: &[(u32, u64)]) {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let got = keyspace(port).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < end, "port {port}: {got:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A verified snapshot of `node` downloaded into `dir`; the newest backup's id.
fn snapshot(cfg: &str, node: &str, dir: &Path) -> String {
    super::backup_cli::snapshot(cfg, node, dir);
    super::backup_cli::list_json(cfg)[0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn restore(cfg: &str, node: &str, from: &str, more: &[&str]) -> std::process::Output {
    let mut args = vec!["-c", cfg, "restore", node, "--from", from, "--json"];
    args.extend(more);
    crate::common::bin::redops_within(&args, Duration::from_secs(60))
}

/// The scratch server's PID, from the run's events.
fn scratch_pid(ev: &[Value]) -> Option<u32> {
    ev.iter()
        .find(|e| e["event"] == "scratch_started")
        .and_then(|e| e["pid"].as_u64())
        .map(|p| u32::try_from(p).unwrap())
}

fn outcome(ev: &[Value]) -> Value {
    ev.iter()
        .find(|e| e["event"] == "outcome")
        .map_or(Value::Null, |e| e["outcome"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_into_an_empty_primary_and_its_replicas_follow() {
    let c = Cluster::start(&["p", "r1", "r2"], &[]).await;
    let port = c.port("p");
    fill(port, 400).await;
    let want = keyspace(port).await;
    assert_eq!(want, [(0, 400), (3, 40)]);
    let cfg = c.config_file(None);
    let cfg = cfg.to_str().unwrap();
    let id = snapshot(cfg, "p", &c.dir.path().join("backups"));

    raw_cmd(port, &["FLUSHALL"]).await.unwrap();
    for r in ["r1", "r2"] {
        wait_keyspace(c.port(r), &[]).await;
    }
    let out = restore(cfg, "p", &id, &["--yes"]);
    let ev = events(&out);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let plan = ev
        .iter()
        .find(|e| e["event"] == "plan")
        .unwrap()
        .to_string();
    assert!(
        plan.contains("r1, r2 follow p: resynced from it after the restore"),
        "{plan}"
    );
    assert_eq!(keyspace(port).await, want);
    let info = raw_info(port).await.unwrap();
    assert_eq!(info_field(&info, "role").as_deref(), Some("master"));
    for r in ["r1", "r2"] {
        wait_keyspace(c.port(r), &want).await;
    }
    let pid = scratch_pid(&ev).expect("a scratch_started event");
    assert!(
        !redops::sandbox::pid_alive(pid),
        "the scratch server {pid} is still running"
    );
    assert!(ev
        .iter()
        .any(|e| e["event"] == "scratch_stopped" && e["gone"] == true));
    let audit = std::fs::read_to_string(c.dir.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"ScratchStarted\"") && audit.contains("\"ScratchStopped\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_data_is_refused_then_forced_with_its_data_downloaded_first() {
    let c = Cluster::start(&["p", "r"], &[]).await;
    let port = c.port("p");
    fill(port, 300).await;
    let cfg = c.config_file(None);
    let cfg = cfg.to_str().unwrap();
    let backups = c.dir.path().join("backups");
    let id = snapshot(cfg, "p", &backups);
    for i in 0..50 {
        raw_cmd(port, &["SET", &format!("new:{i}"), "v"])
            .await
            .unwrap();
    }

    let out = restore(cfg, "p", &id, &["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", said(&out));
    assert!(said(&out).contains("p holds 380 keys"), "{}", said(&out));
    assert!(scratch_pid(&events(&out)).is_none());
    assert_eq!(keyspace(port).await, [(0, 350), (3, 30)]);

    let out = restore(cfg, "p", &id, &["--yes", "--force", "--reason", "test"]);
    let ev = events(&out);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let dl = ev
        .iter()
        .find(|e| e["event"] == "download_verified")
        .expect("p's data downloaded before the restore");
    assert_eq!(dl["crc_ok"], true);
    assert_eq!(keyspace(port).await, [(0, 300), (3, 30)]);
    wait_keyspace(c.port("r"), &[(0, 300), (3, 30)]).await;
    // The download is a backup of what p held: 380 keys, in the catalog.
    let entries = super::backup_cli::list_json(cfg);
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(
        entries.iter().any(|e| e.to_string().contains("380")),
        "{entries:?}"
    );
    let pid = scratch_pid(&ev).unwrap();
    assert!(!redops::sandbox::pid_alive(pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_or_mislabelled_backup_changes_nothing_and_leaves_no_scratch_server() {
    let c = Cluster::start(&["p"], &[]).await;
    let port = c.port("p");
    fill(port, 200).await;
    let cfg = c.config_file(None);
    let cfg = cfg.to_str().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    snapshot(cfg, "p", elsewhere.path());
    let rdb = find_rdb(elsewhere.path());
    raw_cmd(port, &["FLUSHALL"]).await.unwrap();

    // A flipped byte: refused on its CRC before any change (exit 3), nothing started.
    let good = std::fs::read(&rdb).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    let corrupt = elsewhere.path().join("corrupt.rdb");
    std::fs::write(&corrupt, &bad).unwrap();
    let out = restore(cfg, "p", corrupt.to_str().unwrap(), &["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", said(&out));
    assert!(
        said(&out).contains("the backup cannot be restored"),
        "{}",
        said(&out)
    );
    assert!(scratch_pid(&events(&out)).is_none());
    let info = raw_info(port).await.unwrap();
    assert_eq!(info_field(&info, "role").as_deref(), Some("master"));

    // A manifest that says more keys than the file holds: the scratch server loads it, the
    // counts differ, the run fails before the node is touched, and the scratch server goes.
    let manifest = redops::node::rdb::manifest_path(&rdb);
    let m = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, m.replace("\"keys\": 200", "\"keys\": 201")).unwrap();
    assert!(std::fs::read_to_string(&manifest)
        .unwrap()
        .contains("\"keys\": 201"));
    let out = restore(cfg, "p", rdb.to_str().unwrap(), &["--yes"]);
    let ev = events(&out);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains("does not hold what its manifest says"),
        "{}",
        said(&out)
    );
    let pid = scratch_pid(&ev).expect("the scratch server was started");
    assert!(
        !redops::sandbox::pid_alive(pid),
        "the scratch server {pid} outlived the failure"
    );
    assert!(
        !ev.iter()
            .any(|e| e["event"] == "step_started" && e["index"] == 1),
        "the node was not touched: {ev:?}"
    );
    let info = raw_info(port).await.unwrap();
    assert_eq!(info_field(&info, "role").as_deref(), Some("master"));
    assert_eq!(outcome(&ev)["status"], "failed", "{ev:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_masterauth_syncs_from_a_scratch_server_on_listen_that_requires_it_unlogged() {
    let c = Cluster::start(&["p"], &["--masterauth", "s3cret-restore"]).await;
    let port = c.port("p");
    fill(port, 100).await;
    let cfg = c.config_file(None);
    let cfg = cfg.to_str().unwrap();
    let id = snapshot(cfg, "p", &c.dir.path().join("backups"));
    raw_cmd(port, &["FLUSHALL"]).await.unwrap();
    // An explicit --listen on another loopback address: bound besides 127.0.0.1, told to p.
    let listen = format!("127.0.0.2:{}", redops::sandbox::free_port());
    let out = restore(cfg, "p", &id, &["--yes", "--listen", &listen]);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let ev = events(&out);
    let started = ev.iter().find(|e| e["event"] == "scratch_started").unwrap();
    assert_eq!(started["addr"], listen.as_str());
    assert!(said(&out).contains(&format!("REPLICAOF 127.0.0.2 {}", &listen[10..])));
    assert_eq!(keyspace(port).await, [(0, 100), (3, 10)]);
    assert!(!said(&out).contains("s3cret"), "{}", said(&out));
    let audit = std::fs::read_to_string(c.dir.path().join("audit.jsonl")).unwrap();
    assert!(!audit.contains("s3cret"), "the audit log holds the secret");
    assert!(audit.contains("CONFIG GET masterauth"), "{audit}");
    assert!(
        audit.contains("set: the scratch server requires it"),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_masteruser_stops_the_restore_before_anything_starts() {
    let c = Cluster::start(&["p"], &[]).await;
    let port = c.port("p");
    fill(port, 50).await;
    let cfg = c.config_file(None);
    let cfg = cfg.to_str().unwrap();
    let id = snapshot(cfg, "p", &c.dir.path().join("backups"));
    raw_cmd(port, &["FLUSHALL"]).await.unwrap();
    // (tls-replication cannot be set on a server without TLS: the engine's tests cover it.)
    raw_cmd(port, &["CONFIG", "SET", "masteruser", "bob"])
        .await
        .unwrap();
    let out = restore(cfg, "p", &id, &["--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains("ACL user 'bob' (masteruser)"),
        "{}",
        said(&out)
    );
    assert!(said(&out).contains("nothing was changed"), "{}", said(&out));
    assert!(scratch_pid(&events(&out)).is_none());
    let info = raw_info(port).await.unwrap();
    assert_eq!(info_field(&info, "role").as_deref(), Some("master"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_that_expired_since_the_backup_do_not_fail_the_restore() {
    let c = Cluster::start(&["p"], &[]).await;
    let port = c.port("p");
    fill(port, 100).await;
    for i in 0..30 {
        raw_cmd(port, &["SET", &format!("ttl:{i}"), "v", "PX", "1500"])
            .await
            .unwrap();
    }
    let cfg = c.config_file(None);
    let cfg = cfg.to_str().unwrap();
    let id = snapshot(cfg, "p", &c.dir.path().join("backups"));
    // Gone from p (expired, then deleted): the backup still holds them, a load skips them.
    wait_keyspace(port, &[(0, 100), (3, 10)]).await;
    raw_cmd(port, &["FLUSHALL"]).await.unwrap();
    let out = restore(cfg, "p", &id, &["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert_eq!(keyspace(port).await, [(0, 100), (3, 10)]);
}

/// The RDB under `dir` (one download).
fn find_rdb(dir: &Path) -> PathBuf {
    crate::common::files::walk(dir)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "rdb"))
        .expect("a downloaded RDB")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_steps_followed_by_hand_restore_the_keys() {
    use redops::sandbox::{Sandbox, Spec};
    let mut sb = Sandbox::start(&Spec {
        replicas: 0,
        names: vec!["p".into()],
        extra_args: vec![
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            "no".into(),
        ],
        protected_configs: true,
        group: "g".into(),
        ..Spec::default()
    })
    .await
    .unwrap();
    let (port, data_dir) = {
        let n = sb.node("p").unwrap();
        (n.port, n.dir.clone())
    };
    fill(port, 250).await;
    let files = tempfile::tempdir().unwrap();
    let cfg_path = files.path().join("redops.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[console]\naudit_log = \"{}\"\nbackups_dir = \"{}\"\n\n[[groups]]\nname = \"g\"\n\n[[groups.nodes]]\nname = \"p\"\naddr = \"127.0.0.1:{port}\"\n",
            files.path().join("audit.jsonl").display(),
            files.path().join("backups").display()
        ),
    )
    .unwrap();
    let cfg = cfg_path.to_str().unwrap();
    let id = snapshot(cfg, "p", &files.path().join("backups"));
    raw_cmd(port, &["FLUSHALL"]).await.unwrap();

    let offline = |dir: &str, more: &[&str]| {
        let mut args = vec!["-c", cfg, "restore", "p", "--from", &id, "--to-dir"];
        let dir = files.path().join(dir);
        args.push(dir.to_str().unwrap());
        args.extend(more);
        redops(&args)
    };
    let out = offline("carry", &[]);
    let steps = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let dir_text = data_dir.display().to_string();
    assert!(
        steps.contains(&format!(
            "dir {dir_text}, dbfilename dump.rdb, appendonly no"
        )),
        "{steps}"
    );
    assert!(steps.contains("SHUTDOWN NOSAVE"), "{steps}");
    assert!(steps.contains("db0:keys=250, db3:keys=25"), "{steps}");
    let cp = steps
        .lines()
        .find_map(|l| l.split("`cp ").nth(1))
        .and_then(|l| l.split('`').next())
        .expect("a cp step");
    let (from, to) = cp.split_once(' ').unwrap();
    assert_eq!(to, format!("{dir_text}/dump.rdb"), "{steps}");
    assert_eq!(keyspace(port).await, []);

    // The steps, by hand: stop (by PID, no save), replace the file, start, check the keys.
    sb.kill("p").unwrap();
    std::fs::copy(from, to).unwrap();
    sb.restart("p").await.unwrap();
    assert_eq!(keyspace(port).await, [(0, 250), (3, 25)]);

    // JSON: the same facts, for a script.
    let out = offline("again", &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let v: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["written"]["settings"]["Ok"]["appendonly"], false, "{v}");
    assert!(v["steps"].as_array().unwrap().len() >= 5, "{v}");
}
