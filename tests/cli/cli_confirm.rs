//! The terminal confirmation of an action, through the built binary in a pseudo-terminal: a
//! snapshot asks a y/N, a role change asks for the target's name, and an answer that does not
//! confirm exits 3 ("not confirmed: nothing was changed"), not 2 (a usage error).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

use crate::common::cluster::Cluster;

/// Runs `redops args` on a pty; once `prompt` is on it, types `answer` and a newline. Returns
/// the exit code and everything written (stdout and stderr share the terminal).
pub(crate) fn answer(args: &[&str], prompt: &str, answer: &str) -> (u32, String) {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_redops"));
    cmd.args(args);
    cmd.env("NO_COLOR", "1");
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let mut writer = pair.master.take_writer().unwrap();
    let out = Arc::new(Mutex::new(Vec::new()));
    let o = out.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            o.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let text = |o: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&o.lock().unwrap()).into_owned();
    let start = Instant::now();
    while !text(&out).contains(prompt) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no prompt '{prompt}':\n{}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    writer.write_all(format!("{answer}\r").as_bytes()).unwrap();
    writer.flush().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("redops did not end:\n{}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // The reader drains what is left once the child is gone.
    std::thread::sleep(Duration::from_millis(200));
    drop(pair.master);
    (status.exit_code(), text(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_confirmation_exits_3_and_a_snapshot_asks_y_or_n() {
    let c = Cluster::start(&["r0", "r1"], &[]).await;
    let cfg = c.config_file(Some("r0"));
    let cfg = cfg.to_str().unwrap().to_string();

    let (code, out) = answer(&["-c", &cfg, "snapshot", "r1"], "[y/N]", "n");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("proceed? [y/N]"), "{out}");
    assert!(out.contains("not confirmed: nothing was changed"), "{out}");

    let (code, out) = answer(
        &["-c", &cfg, "switchover", "--to", "r1"],
        "to proceed:",
        "r0",
    );
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("not confirmed: nothing was changed (type r1 to confirm: you typed 'r0')"),
        "{out}"
    );
    assert_eq!(c.primaries().await, vec![c.port("r0")], "nothing changed");

    let (code, out) = answer(&["-c", &cfg, "snapshot", "r1"], "[y/N]", "y");
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("not confirmed"), "{out}");
}
