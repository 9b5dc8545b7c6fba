//! Issue 8.5: files. A device, a FIFO or a huge file as the config or the password file is
//! refused at once with exit 2 (it used to read /dev/zero until allocation failed, and hang
//! on a FIFO forever). Under umask 022 the audit log is created 0600 and redops's
//! directories (data, backups) 0700.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::server;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

fn redops(args: &[&str]) -> Output {
    crate::common::bin::redops_within(args, Duration::from_secs(20))
}

fn fifo(dir: &Path) -> String {
    let p = dir.join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&p).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    p.display().to_string()
}

fn refused(args: &[&str], expect: &str) {
    let started = Instant::now();
    let out = redops(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(expect), "{args:?}: {err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{args:?} took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_device_a_fifo_or_a_huge_file_is_not_a_config() {
    let dir = tempfile::tempdir().unwrap();
    refused(
        &["check-config", "-c", "/dev/zero"],
        "cannot read config file '/dev/zero': a device, not a regular file",
    );
    let f = fifo(dir.path());
    refused(&["check-config", "-c", &f], "a FIFO, not a regular file");
    refused(&["status", "-c", &f], "a FIFO, not a regular file");
    let big = dir.path().join("big.toml");
    std::fs::write(&big, "#".repeat(5 * 1024 * 1024)).unwrap();
    refused(
        &["check-config", "-c", &big.display().to_string()],
        "larger than 4 MB",
    );
}

fn config_with_password_file(dir: &Path, password_file: &str) -> String {
    let path = dir.join("c.toml");
    std::fs::write(
        &path,
        format!(
            "[[groups]]\nname = \"g\"\n\n[[groups.nodes]]\nname = \"a\"\n\
             addr = \"127.0.0.1:6379\"\npassword_file = \"{password_file}\"\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn a_device_or_a_fifo_is_not_a_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let c = config_with_password_file(dir.path(), "/dev/zero");
    refused(
        &["check-config", "-c", &c],
        "cannot read password file '/dev/zero': a device, not a regular file",
    );
    let f = fifo(dir.path());
    let c = config_with_password_file(dir.path(), &f);
    refused(&["check-config", "-c", &c], "a FIFO, not a regular file");
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_and_the_backups_are_private_under_umask_022() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = data.join("audit.jsonl");
    drop(redops::audit::AuditLog::open(&log).unwrap());
    assert_eq!(mode(&data), 0o700, "data dir");
    assert_eq!(mode(&log), 0o600, "audit log");

    let s = server::Server::start(&[]);
    let backups = data.join("backups");
    let b = redops::node::rdb::backup(
        &s.node("n1"),
        "g",
        server::timeouts(),
        &backups,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(mode(&backups), 0o700, "backups dir");
    let mut d = b.rdb.parent().unwrap().to_path_buf();
    while d != data {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        d = d.parent().unwrap().to_path_buf();
    }
    assert_eq!(mode(&b.rdb), 0o600, "rdb");
}
