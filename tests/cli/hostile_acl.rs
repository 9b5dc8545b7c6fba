//! Issue 8.7 (least privilege): the two users the README documents, against real servers.
//! The watcher (`+info +client|setname +config|get`) sees everything and the servers log no
//! denial; every action run as the watcher is refused before any change (exit 3) with the
//! missing grant named, never exit 1 after a half-step. The operator (the action grants of
//! the README) runs a snapshot and a switchover with no denial logged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::server;

use std::path::Path;
use std::time::Duration;

use server::Server;

/// As in the README's "Least privilege" section.
const WATCHER: &[&str] = &["+info", "+client|setname", "+config|get"];
const OPERATOR: &[&str] = &[
    "+info",
    "+client|setname",
    "+config|get",
    "+client|list",
    "+bgsave",
    "+replconf",
    "+sync",
    "+replicaof",
    "+client|pause",
    "+client|unpause",
    "+failover",
    "+config|rewrite",
];

fn add_user(s: &Server, name: &str, password: &str, grants: &[&str]) {
    let mut c = s.conn();
    let mut cmd = redis::cmd("ACL");
    cmd.arg("SETUSER")
        .arg(name)
        .arg("on")
        .arg(format!(">{password}"));
    for g in grants {
        cmd.arg(*g);
    }
    let _: () = cmd.query(&mut c).unwrap();
    let _: () = redis::cmd("ACL")
        .arg("LOG")
        .arg("RESET")
        .query(&mut c)
        .unwrap();
}

/// Denials the server logged (`ACL LOG`), as "user: object" strings.
fn denials(s: &Server) -> Vec<String> {
    let mut c = s.conn();
    let log: Vec<redis::Value> = redis::cmd("ACL").arg("LOG").query(&mut c).unwrap();
    log.iter()
        .map(|entry| format!("{entry:?}"))
        .filter(|e| e.contains("reason"))
        .collect()
}

fn config(dir: &Path, user: &str, servers: &[(&str, &Server)]) -> String {
    let mut text = format!(
        "[console]\naudit_log = \"{0}/audit.jsonl\"\nbackups_dir = \"{0}/backups\"\n\n\
         [[groups]]\nname = \"g\"\nusername = \"{user}\"\npassword_env = \"ACL_PW\"\n",
        dir.display()
    );
    for (name, s) in servers {
        text.push_str(&format!(
            "\n[[groups.nodes]]\nname = \"{name}\"\naddr = \"127.0.0.1:{}\"\n",
            s.port
        ));
    }
    let path = dir.join(format!("{user}.toml"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn redops(cfg: &str, password: &str, args: &[&str]) -> (i32, String) {
    let out = assert_cmd::Command::cargo_bin("redops")
        .unwrap()
        .args(["-c", cfg])
        .args(args)
        .env("ACL_PW", password)
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn role(s: &Server) -> String {
    s.info_field("role").unwrap_or_default()
}

#[test]
fn the_watcher_sees_everything_and_every_action_is_refused_before_any_change() {
    let p = Server::start(&["--save", "3600 1"]);
    let r1 = Server::start(&["--save", "3600 1"]);
    let r2 = Server::start(&["--save", "3600 1"]);
    r1.replicate(&p);
    r2.replicate(&p);
    let servers = [("p", &p), ("r1", &r1), ("r2", &r2)];
    for (_, s) in &servers {
        add_user(s, "watcher", "wpass", WATCHER);
        add_user(s, "operator", "opass", OPERATOR);
    }
    let dir = tempfile::tempdir().unwrap();
    let watcher = config(dir.path(), "watcher", &servers);
    let dl = dir.path().join("dl").display().to_string();

    // Watching: everything visible, healthy, and not one denial logged by any server.
    let (code, out) = redops(&watcher, "wpass", &["status", "--json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    for n in v["groups"][0]["nodes"].as_array().unwrap() {
        assert_eq!(n["state"], "up", "{v}");
        assert!(n["error"].is_null(), "{v}");
    }
    for (name, s) in &servers {
        assert!(denials(s).is_empty(), "{name}: {:?}", denials(s));
    }

    // Every action: exit 3, the grant named, nothing changed (roles, data, no pause).
    let cases: [(&[&str], &str); 4] = [
        (&["snapshot", "p", "--yes"], "bgsave"),
        (&["switchover", "--to", "r1", "--yes"], "may not run '"),
        (&["repoint", "r2", "--to", "r1", "--yes"], "may not run '"),
        (
            &["snapshot", "r1", "--download", &dl, "--yes"],
            "may not run '",
        ),
    ];
    for (args, named) in cases {
        let saves = p.info_field("rdb_saves");
        let (code, out) = redops(&watcher, "wpass", args);
        assert_eq!(code, 3, "{args:?}: {out}");
        assert!(out.contains(named), "{args:?}: {out}");
        assert!(!out.contains("resumed"), "{args:?}: {out}");
        assert_eq!(role(&p), "master", "{args:?}");
        assert_eq!(role(&r1), "slave", "{args:?}");
        assert_eq!(p.info_field("rdb_saves"), saves, "{args:?}: a BGSAVE ran");
    }

    // The probes were denied, so the servers logged them (this also proves `denials` sees
    // denials: the empty logs above mean something).
    assert!(!denials(&p).is_empty());

    // Promote (primary down): refused too, the candidates untouched.
    let mut p = p;
    p.kill();
    let (code, out) = redops(&watcher, "wpass", &["promote", "--yes"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("may not run '"), "{out}");
    assert_eq!(role(&r1), "slave");
    assert_eq!(role(&r2), "slave");
}

#[test]
fn the_operator_grants_are_enough_for_a_switchover() {
    let p = Server::start(&["--save", "3600 1"]);
    let r1 = Server::start(&["--save", "3600 1"]);
    r1.replicate(&p);
    let servers = [("p", &p), ("r1", &r1)];
    for (_, s) in &servers {
        add_user(s, "operator", "opass", OPERATOR);
    }
    let dir = tempfile::tempdir().unwrap();
    let op = config(dir.path(), "operator", &servers);
    let dl = dir.path().join("dl").display().to_string();
    let (code, out) = redops(&op, "opass", &["snapshot", "p", "--download", &dl, "--yes"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = redops(&op, "opass", &["switchover", "--to", "r1", "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(role(&r1), "master");
    for (name, s) in &servers {
        assert!(denials(s).is_empty(), "{name}: {:?}", denials(s));
    }
}
