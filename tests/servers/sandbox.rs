//! The sandbox against real `redis-server` processes: topology and links, fault injection
//! (kill, freeze/thaw, restart with old data), clean-up on drop and on panic (servers and
//! watchdog), the black hole. A `SIGKILLed` owner is in `sandbox_watchdog.rs`.
//! These tests fail (never skip) when no server binary is installed.

use std::time::Duration;

use nix::errno::Errno;
use nix::unistd::Pid;
use redops::config::{Addr, Node};
use redops::node::{NodeClient, Timeouts};
use redops::observe::NodeError;
use redops::sandbox::{require_server_binary, Blackhole, Sandbox, SandboxError, Spec};

fn client(addr: &Addr, read_ms: u64) -> NodeClient {
    let node = Node {
        name: "t".into(),
        addr: addr.clone(),
        username: None,
        password: None,
        tls: None,
    };
    let t = Timeouts {
        connect: Duration::from_millis(500),
        read: Duration::from_millis(read_ms),
    };
    NodeClient::new(&node, t, "redops-test").expect("client")
}

async fn info(addr: &Addr) -> Result<String, NodeError> {
    client(addr, 2000).query(&redis::cmd("INFO")).await
}

fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.trim_end().strip_prefix(key)?.strip_prefix(':'))
}

fn gone(pid: u32) -> bool {
    let pid = Pid::from_raw(i32::try_from(pid).expect("pid fits"));
    nix::sys::signal::kill(pid, None) == Err(Errno::ESRCH)
}

fn spec(replicas: usize, chain: bool) -> Spec {
    Spec {
        replicas,
        chain,
        server_bin: Some(require_server_binary()),
        ..Spec::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_replicas_and_chain_are_linked() {
    let sb = Sandbox::start(&spec(2, true))
        .await
        .expect("sandbox starts");
    let names: Vec<_> = sb.nodes().iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["n1", "n2", "n3", "n4"]);
    let port = |n: &str| sb.node(n).expect("node").port.to_string();

    let n1 = info(&sb.node("n1").expect("n1").addr())
        .await
        .expect("info");
    assert_eq!(field(&n1, "role"), Some("master"));
    assert_eq!(field(&n1, "connected_slaves"), Some("2"));
    for (name, upstream) in [("n2", "n1"), ("n3", "n1"), ("n4", "n2")] {
        let text = info(&sb.node(name).expect("node").addr())
            .await
            .expect("info");
        assert_eq!(field(&text, "role"), Some("slave"), "{name}");
        assert_eq!(field(&text, "master_link_status"), Some("up"), "{name}");
        assert_eq!(field(&text, "master_sync_in_progress"), Some("0"), "{name}");
        assert_eq!(
            field(&text, "master_port"),
            Some(port(upstream).as_str()),
            "{name}"
        );
    }
    // Save points stay on: a primary without persistence would be an anomaly.
    let save: Vec<String> = client(&sb.node("n1").expect("n1").addr(), 2000)
        .query(redis::cmd("CONFIG").arg("GET").arg("save"))
        .await
        .expect("config get");
    assert_eq!(save[1], "3600 1 300 100 60 10000");

    let cfg = sb.config();
    assert_eq!(cfg.groups.len(), 1);
    assert_eq!(cfg.groups[0].name, "sandbox");
    let addrs: Vec<_> = cfg.groups[0]
        .nodes
        .iter()
        .map(|n| n.addr.to_string())
        .collect();
    let expected: Vec<_> = sb
        .nodes()
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    assert_eq!(addrs, expected);
    assert!(cfg.console.audit_log.starts_with(sb.dir()));
    assert!(cfg.console.backups_dir.starts_with(sb.dir()));
    // The TOML file loads back into the same config.
    let loaded = redops::config::load_str(&sb.config_toml(), None)
        .unwrap_or_else(|e| panic!("the sandbox config must load: {e}\n{}", sb.config_toml()));
    assert_eq!(loaded.console, cfg.console);
    assert_eq!(loaded.groups, cfg.groups);
    let path = sb.write_config().expect("write config");
    assert_eq!(path, sb.dir().join("redops.toml"));
    let text = std::fs::read_to_string(&path).expect("read back");
    for n in sb.nodes() {
        assert!(text.contains(&format!("addr = \"127.0.0.1:{}\"", n.port)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_freeze_thaw_restart() {
    let mut sb = Sandbox::start(&spec(2, false))
        .await
        .expect("sandbox starts");
    let n3 = sb.node("n3").expect("n3");
    let (addr3, old_pid) = (n3.addr(), n3.pid);

    // kill: the process is gone and the port refuses.
    sb.kill("n3").expect("kill");
    assert!(gone(old_pid));
    assert!(!sb.node("n3").expect("n3").is_running());
    assert!(matches!(info(&addr3).await, Err(NodeError::Refused(_))));
    assert!(matches!(
        sb.freeze("n3"),
        Err(SandboxError::NotRunning { .. })
    ));

    // restart: same port, new process, back in sync.
    sb.restart("n3").await.expect("restart");
    let n3 = sb.node("n3").expect("n3");
    assert_eq!(n3.addr(), addr3);
    assert_ne!(n3.pid, old_pid);
    sb.wait_synced("n3", Duration::from_secs(10))
        .await
        .expect("n3 back in sync");

    // freeze: TCP accepts, nothing answers; thaw: answers again.
    let addr2 = sb.node("n2").expect("n2").addr();
    sb.freeze("n2").expect("freeze");
    assert!(sb.node("n2").expect("n2").is_frozen());
    let r: Result<String, _> = client(&addr2, 300).query(&redis::cmd("INFO")).await;
    assert!(matches!(r, Err(NodeError::Unresponsive(_))), "{r:?}");
    sb.thaw("n2").expect("thaw");
    assert!(!sb.node("n2").expect("n2").is_frozen());
    let text = info(&addr2).await.expect("answers after thaw");
    assert_eq!(field(&text, "role"), Some("slave"));

    assert!(matches!(sb.kill("nope"), Err(SandboxError::UnknownNode(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_primary_restarts_with_its_old_dump() {
    let mut sb = Sandbox::start(&spec(1, false))
        .await
        .expect("sandbox starts");
    let addr = sb.node("n1").expect("n1").addr();
    let mut c = client(&addr, 2000);
    let _: () = c
        .query(redis::cmd("SET").arg("saved").arg("1"))
        .await
        .expect("set");
    let _: () = c.query(&redis::cmd("SAVE")).await.expect("save");
    let _: () = c
        .query(redis::cmd("SET").arg("unsaved").arg("1"))
        .await
        .expect("set");
    drop(c);
    sb.kill("n1").expect("kill");
    sb.restart("n1").await.expect("restart");
    let mut c = client(&addr, 2000);
    let saved: Option<String> = c.query(redis::cmd("GET").arg("saved")).await.expect("get");
    let unsaved: Option<String> = c
        .query(redis::cmd("GET").arg("unsaved"))
        .await
        .expect("get");
    assert_eq!(saved.as_deref(), Some("1"), "the old dump.rdb was loaded");
    assert_eq!(unsaved, None, "writes after the last save are lost");
    let text = info(&addr).await.expect("info");
    assert_eq!(field(&text, "role"), Some("master"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_runs_from_its_redis_conf_and_restarts_in_the_role_config_rewrite_kept() {
    let mut sb = Sandbox::start(&spec(1, false))
        .await
        .expect("sandbox starts");
    let n2 = sb.node("n2").expect("n2");
    let (addr, conf) = (n2.addr(), n2.conf_path());
    assert_eq!(conf, n2.dir.join("redis.conf"));
    let text = info(&addr).await.expect("info");
    assert_eq!(
        field(&text, "config_file").map(std::path::PathBuf::from),
        Some(conf.clone()),
        "started from its redis.conf"
    );
    // The operator promotes it and persists the role, as an action's last step does.
    let mut c = client(&addr, 2000);
    let _: () = c
        .query(redis::cmd("REPLICAOF").arg("NO").arg("ONE"))
        .await
        .expect("replicaof no one");
    let _: () = c
        .query(redis::cmd("CONFIG").arg("REWRITE"))
        .await
        .expect("config rewrite");
    drop(c);
    sb.kill("n2").expect("kill");
    sb.restart("n2").await.expect("restart");
    let text = info(&addr).await.expect("info");
    assert_eq!(field(&text, "role"), Some("master"), "the rewritten role");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_node_is_standalone_and_configured() {
    let mut sb = Sandbox::start(&spec(1, false))
        .await
        .expect("sandbox starts");
    let x = sb
        .add_node("x", &["--maxmemory", "64mb"])
        .await
        .expect("add node");
    let (addr, dir) = (x.addr(), x.dir.clone());
    assert!(dir.starts_with(sb.dir()));
    let text = info(&addr).await.expect("info");
    assert_eq!(field(&text, "role"), Some("master"));
    assert_eq!(field(&text, "connected_slaves"), Some("0"));
    assert_eq!(field(&text, "maxmemory"), Some("67108864"));
    let names: Vec<_> = sb.config().groups[0]
        .nodes
        .iter()
        .map(|n| n.name.clone())
        .collect();
    assert_eq!(names, ["n1", "n2", "x"]);
    assert!(sb.add_node("x", &[]).await.is_err(), "names are unique");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_and_stop_leave_no_process() {
    let sb = Sandbox::start(&spec(1, true))
        .await
        .expect("sandbox starts");
    sb.freeze("n2").expect("freeze");
    let mut pids: Vec<u32> = sb.nodes().iter().map(|n| n.pid).collect();
    pids.push(sb.watchdog_pid().expect("a watchdog runs"));
    let dir = sb.dir().to_path_buf();
    drop(sb);
    for pid in pids {
        assert!(gone(pid), "pid {pid} still alive after drop");
    }
    assert!(!dir.exists(), "the temp dir is removed");

    let mut sb = Sandbox::start(&spec(1, false))
        .await
        .expect("sandbox starts");
    let mut pids: Vec<u32> = sb.nodes().iter().map(|n| n.pid).collect();
    pids.push(sb.watchdog_pid().expect("a watchdog runs"));
    sb.stop();
    sb.stop();
    for pid in pids {
        assert!(gone(pid), "pid {pid} still alive after stop");
    }
}

#[test]
fn a_panicking_owner_leaves_no_process() {
    let bin = require_server_binary();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let sb = rt
            .block_on(Sandbox::start(&Spec {
                replicas: 2,
                server_bin: Some(bin),
                ..Spec::default()
            }))
            .expect("sandbox starts");
        let mut pids: Vec<u32> = sb.nodes().iter().map(|n| n.pid).collect();
        pids.push(sb.watchdog_pid().expect("a watchdog runs"));
        tx.send(pids).expect("send");
        panic!("deliberate panic with a running sandbox");
    });
    assert!(handle.join().is_err(), "the thread panicked");
    let pids = rx.recv().expect("pids were sent before the panic");
    assert_eq!(pids.len(), 4, "three servers and the watchdog");
    for pid in pids {
        assert!(gone(pid), "pid {pid} survived the panic");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackhole_accepts_and_never_answers() {
    let hole = Blackhole::start().expect("blackhole");
    let addr = Addr {
        host: "127.0.0.1".into(),
        port: hole.port,
    };
    let started = std::time::Instant::now();
    let r: Result<String, _> = client(&addr, 300).query(&redis::cmd("INFO")).await;
    assert!(matches!(r, Err(NodeError::Unresponsive(_))), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn missing_binary_is_a_clear_error() {
    let r = Sandbox::start(&Spec {
        server_bin: Some("/nonexistent/redis-server".into()),
        ..Spec::default()
    })
    .await;
    let Err(e) = r else {
        panic!("a missing binary must not start")
    };
    assert!(matches!(e, SandboxError::NoServer { .. }));
    assert!(e.to_string().contains("apt-get install redis-server"));
    let r = Sandbox::start(&Spec {
        replicas: 0,
        chain: true,
        ..Spec::default()
    })
    .await;
    assert!(matches!(r, Err(SandboxError::InvalidSpec(_))));
    let r = Sandbox::start(&Spec {
        replicas: 0,
        names: vec!["a".into(), "b".into()],
        ..Spec::default()
    })
    .await;
    assert!(
        matches!(r, Err(SandboxError::InvalidSpec(_))),
        "two names, one node"
    );
}

/// A TLS-only sandbox with a password: the replica syncs over TLS (masterauth), the nodes carry
/// the names, the primary its own arguments, and the config file written for it reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_password_names_and_primary_args() {
    let sb = Sandbox::start(&Spec {
        replicas: 1,
        names: vec!["p".into(), "r".into()],
        primary_args: vec!["--maxmemory".into(), "64mb".into()],
        password: Some("sandbox-s3cret".into()),
        tls: true,
        protected_configs: true,
        ..spec(1, false)
    })
    .await
    .expect("sandbox starts");
    let names: Vec<_> = sb.nodes().iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["p", "r"]);
    let t = Timeouts {
        connect: Duration::from_secs(2),
        read: Duration::from_secs(5),
    };
    let query = |node: Node, args: &'static [&'static str]| async move {
        let mut c = NodeClient::new(&node, t, "redops-test")?;
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        c.query::<redis::Value>(&cmd).await
    };
    let (p, r) = (sb.node("p").expect("p"), sb.node("r").expect("r"));
    assert!(p.node().password.is_some() && p.node().tls.is_some());

    let mut c = NodeClient::new(&r.node(), t, "redops-test").expect("client");
    let (info, _) = c.info().await.expect("INFO over TLS with the password");
    assert_eq!(info.replication.link_up, Some(true), "replication over TLS");
    assert_eq!(info.replication.master_port, Some(p.port));

    let maxmemory = |v: redis::Value| format!("{v:?}").contains("67108864");
    let on_p = query(p.node(), &["CONFIG", "GET", "maxmemory"]).await;
    let on_r = query(r.node(), &["CONFIG", "GET", "maxmemory"]).await;
    assert!(maxmemory(on_p.expect("p")), "the primary's own arguments");
    assert!(!maxmemory(on_r.expect("r")), "not the replica's");
    let set = query(p.node(), &["CONFIG", "SET", "dbfilename", "other.rdb"]).await;
    assert!(set.is_ok(), "protected configs allowed locally: {set:?}");

    let mut no_password = p.node();
    no_password.password = None;
    let e = query(no_password, &["PING"]).await.expect_err("NOAUTH");
    assert!(matches!(e, NodeError::Auth(_)), "{e:?}");
    let mut plain = p.node();
    plain.password = None;
    plain.tls = None;
    assert!(query(plain, &["PING"]).await.is_err(), "no plaintext port");

    let path = sb.write_config().expect("write config");
    let text = std::fs::read_to_string(&path).expect("read back");
    assert!(!text.contains("sandbox-s3cret"), "{text}");
    let cfg = redops::config::load_file(&path).expect("the written config loads");
    let mut c = NodeClient::new(&cfg.groups[0].nodes[0], t, "redops-test").expect("client");
    c.info()
        .await
        .expect("the config file reaches a TLS node with a password");
}
