//! A drill's faults carried out on real servers (`drill::faults::Injector`), each with the
//! effect a trainee would see: fills that replicate, a cut link, `REPLICAOF` both ways, a
//! BGSAVE that fails, a stall that thaws by itself, `FLUSHALL`, restarts with the same data,
//! after a shutdown that saves, and with none. The drills themselves are played end to end in
//! `tests/cli/drill_cli.rs`.

use std::time::{Duration, Instant};

use redops::config::Node;
use redops::drill::faults::Injector;
use redops::drill::spec::{Fault, RestartData};
use redops::node::{NodeClient, Timeouts};
use redops::sandbox::{require_server_binary, Sandbox, Spec};

const T: Timeouts = Timeouts {
    connect: Duration::from_millis(500),
    read: Duration::from_secs(2),
};

async fn query(node: &Node, args: &[&str]) -> Result<redis::Value, String> {
    let mut c = NodeClient::new(node, T, "redops-test").map_err(|e| e.to_string())?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    c.query(&cmd).await.map_err(|e| e.to_string())
}

async fn dbsize(node: &Node) -> i64 {
    match query(node, &["DBSIZE"]).await {
        Ok(redis::Value::Int(n)) => n,
        other => panic!("DBSIZE on {}: {other:?}", node.name),
    }
}

async fn info_field(node: &Node, field: &str) -> Option<String> {
    let Ok(redis::Value::BulkString(b)) = query(node, &["INFO", "all"]).await else {
        return None;
    };
    String::from_utf8_lossy(&b).lines().find_map(|l| {
        l.trim_end()
            .strip_prefix(field)?
            .strip_prefix(':')
            .map(str::to_string)
    })
}

/// Waits (10 s at most) until `field` of INFO on `node` reads `want`.
async fn wait_field(node: &Node, field: &str, want: &str) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = info_field(node, field).await;
        if seen.as_deref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < end,
            "{}: {field} is {seen:?}, not {want}",
            node.name
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_has_its_effect() {
    let spec = Spec {
        replicas: 2,
        server_bin: Some(require_server_binary()),
        protected_configs: true,
        ..Spec::default()
    };
    let mut sb = Sandbox::start(&spec).await.expect("sandbox starts");
    let node = |sb: &Sandbox, n: &str| sb.node(n).expect("node").node();
    let (n1, n2, n3) = (node(&sb, "n1"), node(&sb, "n2"), node(&sb, "n3"));
    let mut inj = Injector::default();

    // A fill is written like any write: the replicas get it.
    let fill = Fault::Fill {
        node: "n1".into(),
        keys: 1200,
    };
    inj.inject(&mut sb, &fill, None).await.expect("fill");
    assert_eq!(dbsize(&n1).await, 1200);
    let end = Instant::now() + Duration::from_secs(10);
    while dbsize(&n2).await != 1200 {
        assert!(Instant::now() < end, "n2 never got the fill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A cut link: n3 follows a port that never answers.
    inj.inject(&mut sb, &Fault::CutLink { node: "n3".into() }, None)
        .await
        .expect("cut");
    wait_field(&n3, "master_link_status", "down").await;
    assert_ne!(
        info_field(&n3, "master_port").await,
        Some(n1.addr.port.to_string())
    );
    // Back under n1, then made a primary.
    let back = Fault::Replicaof {
        node: "n3".into(),
        of: Some("n1".into()),
    };
    inj.inject(&mut sb, &back, None).await.expect("replicaof");
    wait_field(&n3, "master_link_status", "up").await;
    let alone = Fault::Replicaof {
        node: "n3".into(),
        of: None,
    };
    inj.inject(&mut sb, &alone, None).await.expect("no one");
    wait_field(&n3, "role", "master").await;

    // BGSAVE fails on n2 from now on.
    inj.inject(&mut sb, &Fault::BgsaveFails { node: "n2".into() }, None)
        .await
        .expect("bgsave fails");
    query(&n2, &["BGSAVE"]).await.expect("BGSAVE is accepted");
    wait_field(&n2, "rdb_bgsave_in_progress", "0").await;
    wait_field(&n2, "rdb_last_bgsave_status", "err").await;

    // A stall: frozen now, thawed by itself once its time has come.
    let slow = Fault::Slow {
        node: "n3".into(),
        pause: Duration::from_millis(300),
    };
    inj.inject(&mut sb, &slow, None).await.expect("slow");
    assert!(sb.node("n3").expect("n3").is_frozen());
    inj.thaw_due(&sb);
    assert!(
        sb.node("n3").expect("n3").is_frozen(),
        "not before its time"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    inj.thaw_due(&sb);
    assert!(!sb.node("n3").expect("n3").is_frozen());
    assert_eq!(dbsize(&n3).await, 1200);

    // FLUSHALL.
    assert_eq!(dbsize(&n3).await, 1200);
    inj.inject(&mut sb, &Fault::Flushall { node: "n3".into() }, None)
        .await
        .expect("flushall");
    assert_eq!(dbsize(&n3).await, 0);

    // A kill, then a node that is not there.
    inj.inject(&mut sb, &Fault::Kill { node: "n3".into() }, None)
        .await
        .expect("kill");
    assert!(!sb.node("n3").expect("n3").is_running());
    let err = inj
        .inject(&mut sb, &Fault::Kill { node: "n9".into() }, None)
        .await
        .expect_err("no n9");
    assert!(err.contains("n9"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_keep_or_drop_the_data_as_asked() {
    let spec = Spec {
        replicas: 0,
        server_bin: Some(require_server_binary()),
        ..Spec::default()
    };
    let mut sb = Sandbox::start(&spec).await.expect("sandbox starts");
    let n1 = sb.node("n1").expect("n1").node();
    let mut inj = Injector::default();
    let fill = Fault::Fill {
        node: "n1".into(),
        keys: 1200,
    };
    inj.inject(&mut sb, &fill, None).await.expect("fill");
    // A restart with the same data keeps it; with none, n1 comes back empty.
    let same = Fault::Restart {
        node: "n1".into(),
        data: RestartData::Same,
    };
    inj.inject(&mut sb, &same, None)
        .await
        .expect("restart same");
    assert_eq!(dbsize(&n1).await, 1200);
    // A maintenance restart: its own shutdown saves it (the sandbox's save points).
    query(&n1, &["SET", "after-the-save", "1"])
        .await
        .expect("SET");
    let graceful = Fault::Restart {
        node: "n1".into(),
        data: RestartData::Graceful,
    };
    inj.inject(&mut sb, &graceful, None)
        .await
        .expect("graceful restart");
    assert_eq!(dbsize(&n1).await, 1201);
    let none = Fault::Restart {
        node: "n1".into(),
        data: RestartData::No,
    };
    inj.inject(&mut sb, &none, None)
        .await
        .expect("restart no data");
    assert_eq!(dbsize(&n1).await, 0);
}
