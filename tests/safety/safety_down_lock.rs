//! Issue 7, items 1 and 4, against real `redis-server` processes:
//! - a primary that is alive but unreadable (it wants a password the console was not given) is
//!   never promoted around: `promote` is refused, even forced, and one primary remains;
//! - an ACL user without `+client|list` cannot check the one-operator lock: the action is refused
//!   with the missing permission named, and runs only when forced with a reason (audited);
//! - the lock covers every node of the group: another action holding it on a node the second
//!   action does not touch (or a repoint in its wait step) stops the second action.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::cluster as support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use redops::audit::AuditLog;
use redops::config::Secret;
use redops::ops::redis_ops::action_client_name;
use redops::ops::repoint::{plan_repoint, RepointRequest};
use redops::ops::{self, Approval, Budgets, RealOps, RunEvent};
use support::{info_field, raw_cmd, Cluster};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_redops");

/// Runs the binary with `env` set; exit code, stdout, stderr.
async fn redops(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
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

/// `role` of the node at `port`, authenticating as `user`/`password` when given.
fn role(port: u16, user: Option<&str>, password: Option<&str>) -> String {
    let url = match (user, password) {
        (Some(u), Some(p)) => format!("redis://{u}:{p}@127.0.0.1:{port}/"),
        (None, Some(p)) => format!("redis://:{p}@127.0.0.1:{port}/"),
        _ => format!("redis://127.0.0.1:{port}/"),
    };
    let client = redis::Client::open(url).unwrap();
    let mut c = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let text: String = redis::cmd("INFO").arg("replication").query(&mut c).unwrap();
    info_field(&text, "role").unwrap()
}

/// A config file for the cluster: `group_auth` (user, password variable) for every node,
/// `node_password` (node, password variable) for single nodes.
fn config_file(
    c: &Cluster,
    group_auth: Option<(&str, &str)>,
    node_password: &[(&str, &str)],
) -> PathBuf {
    let mut t = format!(
        "[console]\ntimeout = \"1s\"\nconnect_timeout = \"1s\"\naudit_log = \"{}\"\nbackups_dir = \"{}\"\n\n[[groups]]\nname = \"g\"\n",
        audit_path(c).display(),
        c.dir.path().join("backups").display()
    );
    if let Some((user, var)) = group_auth {
        t.push_str(&format!(
            "username = \"{user}\"\npassword_env = \"{var}\"\n"
        ));
    }
    for s in &c.servers {
        t.push_str(&format!(
            "\n[[groups.nodes]]\nname = \"{}\"\naddr = \"127.0.0.1:{}\"\n",
            s.name, s.port
        ));
        if let Some((_, var)) = node_password.iter().find(|(n, _)| *n == s.name) {
            t.push_str(&format!("password_env = \"{var}\"\n"));
        }
    }
    let path = c.dir.path().join("redops-auth.toml");
    std::fs::write(&path, t).unwrap();
    path
}

fn audit_path(c: &Cluster) -> PathBuf {
    c.dir.path().join("audit.jsonl")
}

/// Item 1: m wants a password the console lacks, its replicas have it (their links are up).
/// `promote r1` must be refused, with the reason and the fix, even with `--force --reason`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_around_an_alive_but_unreadable_primary_is_refused() {
    let c = Cluster::start(&["m", "r1", "r2"], &[]).await;
    for r in ["r1", "r2"] {
        raw_cmd(c.port(r), &["CONFIG", "SET", "masterauth", "X"])
            .await
            .unwrap();
    }
    raw_cmd(c.port("m"), &["CONFIG", "SET", "requirepass", "X"])
        .await
        .unwrap();
    let noauth = raw_cmd(c.port("m"), &["INFO"]).await.unwrap_err();
    assert!(noauth.starts_with("NOAUTH"), "{noauth}");
    for r in ["r1", "r2"] {
        c.wait_field(c.port(r), "master_link_status", "up").await;
    }
    let cfg = c.config_file(None);
    let cfg = cfg.to_str().unwrap();

    let (code, out, err) = redops(&["-c", cfg, "promote", "r1", "--yes"], &[]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("FAIL  m answers but cannot be read"), "{out}");
    assert!(out.contains("password"), "the fix is named: {out}");
    assert!(!out.contains("ok  m is"), "{out}");

    let (code, out, err) = redops(
        &[
            "-c", cfg, "promote", "r1", "--yes", "--force", "--reason", "drill",
        ],
        &[],
    )
    .await;
    assert_eq!(code, 3, "a plain --force does not override it: {out}{err}");

    let roles = [
        role(c.port("m"), None, Some("X")),
        role(c.port("r1"), None, None),
        role(c.port("r2"), None, None),
    ];
    assert_eq!(roles, ["master", "slave", "slave"], "exactly one primary");
}

const ACL_WITHOUT_CLIENT_LIST: &[&str] = &[
    "ACL",
    "SETUSER",
    "ops",
    "on",
    ">opspw",
    "+info",
    "+role",
    "+lastsave",
    "+time",
    "+ping",
    "+client|setname",
    "+config|get",
    // The snapshot gate saves a persistence-off node under another dbfilename.
    "+config|set",
    "+bgsave",
    "+replicaof",
    "+slaveof",
    "+client|pause",
    "+client|unpause",
    "+failover",
];

/// Item 4a: the ACL user of the old `tls-acl.toml` (no `+client|list`): the switchover is
/// refused before any change, naming the permission; forced with a reason it runs, and the
/// audit log records the unchecked lock with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_that_cannot_be_checked_refuses_unless_forced_with_a_reason() {
    let c = Cluster::start(&["m", "r1"], &[]).await;
    for p in c.ports() {
        raw_cmd(p, ACL_WITHOUT_CLIENT_LIST).await.unwrap();
    }
    let cfg = config_file(&c, Some(("ops", "REDOPS_TEST_OPS_PW")), &[]);
    let cfg = cfg.to_str().unwrap();
    let env = [("REDOPS_TEST_OPS_PW", "opspw")];

    let (code, out, err) = redops(&["-c", cfg, "switchover", "--to", "r1", "--yes"], &env).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        out.contains(
            "refused: the lock cannot be checked on m: no permission to run 'client|list'"
        ),
        "{out}"
    );
    assert!(out.contains("+client|list"), "the fix is named: {out}");
    assert_eq!(c.primaries().await, vec![c.port("m")], "nothing changed");

    let (code, out, err) = redops(
        &[
            "-c",
            cfg,
            "switchover",
            "--to",
            "r1",
            "--yes",
            "--force",
            "--reason",
            "acl without client list, one operator on call",
        ],
        &env,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("pre-checks passed with overrides: the lock cannot be checked on m"),
        "{out}"
    );
    assert_eq!(c.primaries().await, vec![c.port("r1")]);
    let audit = std::fs::read_to_string(audit_path(&c)).unwrap();
    let passed = audit
        .lines()
        .rev()
        .find(|l| l.contains("\"PrecheckPassed\""))
        .unwrap();
    assert!(
        passed.contains("client|list")
            && passed.contains("acl without client list, one operator on call"),
        "{passed}"
    );
}

/// Item 4b, the second action's side: another console holds the lock on r2 only (a node a
/// switchover to r1 does not act on); the switchover is refused, and runs once it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_on_another_node_of_the_group_refuses_the_action() {
    let c = Cluster::start(&["m", "r1", "r2"], &[]).await;
    let cfg = c.config_file(None);
    let cfg = cfg.to_str().unwrap();

    let holder = "redops-action:other@elsewhere:4242";
    let mut held = BufReader::new(
        tokio::net::TcpStream::connect(("127.0.0.1", c.port("r2")))
            .await
            .unwrap(),
    );
    held.get_mut()
        .write_all(
            format!(
                "*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n${}\r\n{holder}\r\n",
                holder.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut ok = String::new();
    held.read_line(&mut ok).await.unwrap();
    assert_eq!(ok.trim_end(), "+OK");

    let (code, out, err) = redops(&["-c", cfg, "switchover", "--to", "r1", "--yes"], &[]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        out.contains(&format!(
            "refused: another redops action is running on r2: {holder}"
        )),
        "{out}"
    );
    assert_eq!(c.primaries().await, vec![c.port("m")], "nothing changed");

    drop(held);
    // The server notices the closed connection asynchronously: wait until it is gone.
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while raw_cmd(c.port("r2"), &["CLIENT", "LIST"])
        .await
        .unwrap()
        .contains(holder)
    {
        assert!(std::time::Instant::now() < end, "the holder never left");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, out, err) = redops(&["-c", cfg, "switchover", "--to", "r1", "--yes"], &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(c.primaries().await, vec![c.port("r1")]);
}

/// Item 4b, the case: `repoint r2 --to r1` waits for a link that cannot come up (r1
/// wants a password r2 lacks); meanwhile it holds the lock on every node of the group, m
/// included, and a `switchover --to r1` from another console is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repoint_in_its_wait_step_stops_a_concurrent_switchover() {
    let c = Cluster::start(&["m", "r1", "r2"], &[]).await;
    raw_cmd(c.port("r1"), &["CONFIG", "SET", "requirepass", "X"])
        .await
        .unwrap();
    let mut config = c.config(None);
    config.groups[0].nodes[1].password = Some(Secret::new("X"));
    assert_eq!(config.groups[0].nodes[1].name, "r1");

    let topo = redops::cli::status::snapshot(&config).await;
    let rp = plan_repoint(
        &config,
        &topo,
        &RepointRequest {
            node: "r2".into(),
            to: "r1".into(),
            budgets: Budgets::default(),
            backups_dir: c.dir.path().join("backups"),
            sync_deadline: Duration::from_secs(60),
        },
    )
    .unwrap();
    assert!(rp.plan.checks_pass(), "{}", rp.plan);
    let first_name = action_client_name("first", "console", std::process::id());
    let ops = RealOps::new(&config, 0, &first_name).unwrap();
    let mut log = AuditLog::open(&config.console.audit_log).unwrap();
    let approval = Approval {
        confirmation: Some("r2".into()),
        ..Approval::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The engine's future is not Send: the repoint and the second console run side by side
    // in this task, and the repoint is dropped (mid-wait) once the second one has answered.
    let first = ops::run(&rp.plan, &approval, &ops, &mut log, &tx);
    let second = async {
        // Synchronise on the run's own events: its second step is the wait for the link.
        let waiting = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(e) = rx.recv().await {
                match e {
                    RunEvent::StepStarted { index: 1, .. } => return Ok(()),
                    RunEvent::RunFinished { detail, .. } => return Err(detail),
                    _ => {}
                }
            }
            Err("the run ended without an outcome".to_string())
        })
        .await
        .expect("the repoint never reached its wait step");
        waiting.unwrap();
        let m_clients = raw_cmd(c.port("m"), &["CLIENT", "LIST"]).await.unwrap();
        assert!(
            m_clients.contains(&format!("name={first_name}")),
            "the repoint holds the lock on m too: {m_clients}"
        );
        let cfg = config_file(&c, None, &[("r1", "REDOPS_TEST_R1_PW")]);
        redops(
            &[
                "-c",
                cfg.to_str().unwrap(),
                "switchover",
                "--to",
                "r1",
                "--yes",
            ],
            &[("REDOPS_TEST_R1_PW", "X")],
        )
        .await
    };
    let (code, out, err) = tokio::select! {
        outcome = first => panic!("the repoint ended before the second console answered: {outcome:?}"),
        answer = second => answer,
    };
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        out.contains("refused: another redops action is running on") && out.contains(&first_name),
        "{out}"
    );
    assert_eq!(role(c.port("m"), None, None), "master");
    assert_eq!(
        role(c.port("r1"), None, Some("X")),
        "slave",
        "nothing switched"
    );
}
