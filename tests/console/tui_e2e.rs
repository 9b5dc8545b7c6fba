//! End to end: the real `redops` binary in a pseudo-terminal against real `redis-server`
//! processes. It reads the screen (vt100), SIGKILLs the primary, sees it reported down within
//! a bounded wait, presses `q`, and checks the exit code and that the terminal was restored
//! (the alternate screen was left: `ESC[?1049l`). And `redops drill master-crash` played to
//! its report with the console's keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

use crate::common::server::Server;

/// The console in a pty: everything it writes, and a vt100 screen.
struct Console {
    output: Arc<Mutex<Vec<u8>>>,
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Console {
    fn screen(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits (bounded) until the screen satisfies `pred`; returns how long it took.
    fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> Duration {
        let start = Instant::now();
        while start.elapsed() < limit {
            if pred(&self.screen()) {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}; screen:\n{}", self.screen());
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
    }
}

fn spawn_console(args: &[String]) -> Console {
    spawn_console_with(args, &[])
}

/// [`spawn_console`] with environment variables set.
fn spawn_console_with(args: &[String], env: &[(&str, &std::path::Path)]) -> Console {
    let pty = native_pty_system();
    let pair = pty
        .openpty(PtySize {
            rows: 35,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_redops"));
    cmd.args(args);
    cmd.env("TERM", "xterm-256color");
    cmd.env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let writer = pair.master.take_writer().unwrap();
    let output = Arc::new(Mutex::new(Vec::new()));
    let screen = Arc::new(Mutex::new(vt100::Parser::new(
        std::num::NonZeroU16::new(35).unwrap(),
        std::num::NonZeroU16::new(120).unwrap(),
        0,
    )));
    let (o, s) = (output.clone(), screen.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        // Ends when the pty closes (the child exited and the master is dropped).
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            o.lock().unwrap().extend_from_slice(&buf[..n]);
            s.lock().unwrap().process(&buf[..n]);
        }
    });
    // Keep the master alive as long as the console: leak it into the reader's lifetime.
    std::mem::forget(pair.master);
    Console {
        output,
        screen,
        writer,
        child,
    }
}

impl Console {
    fn keys(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    /// An action by its key: the plan for `node` (Continue), then its name typed to confirm.
    fn act(&mut self, key: &[u8], action: &str, node: &str) {
        let long = Duration::from_secs(60);
        self.keys(key);
        let title = format!("{action} {node} · group drill");
        self.wait_for(&title, long, |s| s.contains(&title));
        self.keys(b"\x1b[C\r");
        let typed = format!("Type {node}");
        self.wait_for(&typed, long, |s| s.contains(&typed));
        self.keys(format!("{node}\r").as_bytes());
    }

    /// Waits (bounded) for the process to exit; its exit code.
    fn exit_code(&mut self, limit: Duration) -> u32 {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.exit_code();
            }
            assert!(Instant::now() < deadline, "the console did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn count(screen: &str, needle: &str) -> usize {
    screen.matches(needle).count()
}

#[test]
fn console_sees_a_killed_primary_and_quits_cleanly() {
    let mut primary = Server::start(&[]);
    let replica = Server::start(&["--replicaof", "127.0.0.1", &primary.port.to_string()]);
    let args = vec![
        "--node".to_string(),
        format!("127.0.0.1:{}", primary.port),
        "--node".to_string(),
        format!("127.0.0.1:{}", replica.port),
        "--timeout".to_string(),
        "500ms".to_string(),
    ];
    let mut console = spawn_console(&args);

    console.wait_for("both nodes up", Duration::from_secs(20), |s| {
        count(s, "● up") >= 2
    });
    let first = console.screen();
    assert!(first.contains("redops"), "{first}");
    assert!(first.contains(&format!("127.0.0.1:{}", primary.port)));

    // SIGKILL the primary, by PID.
    let pid = primary.pid();
    primary.kill();
    let took = console.wait_for("the primary reported down", Duration::from_secs(10), |s| {
        s.contains("✖ down")
    });
    println!("killed primary (pid {pid}) shown down after {took:?} (poll 1s + timeout 500ms)");
    assert_eq!(count(&console.screen(), "● up"), 1, "{}", console.screen());

    // Keys are answered while the dead node is being polled.
    console.writer.write_all(b"?").unwrap();
    console.writer.flush().unwrap();
    console.wait_for("the help overlay", Duration::from_secs(5), |s| {
        s.contains("help · Esc closes")
    });
    console.writer.write_all(b"\x1b").unwrap();
    console.writer.flush().unwrap();
    console.wait_for("help closed", Duration::from_secs(5), |s| {
        !s.contains("help · Esc closes")
    });

    console.writer.write_all(b"q").unwrap();
    console.writer.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = console.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "the console did not exit after q"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    // The last bytes may still be on their way through the pty: wait (bounded) for them.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !String::from_utf8_lossy(&console.output.lock().unwrap()).contains("\x1b[?1049l")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = console.output.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("\x1b[?1049h"), "entered the alternate screen");
    assert!(
        text.rfind("\x1b[?1049l") > text.rfind("\x1b[?1049h"),
        "left the alternate screen last"
    );
    drop(replica);
}

/// `redops drill master-crash` played from the console with its ordinary keys, as a trainee
/// would from the drill panel's guidance: `p` on the dead primary promotes the best replica,
/// `J` on the old primary rejoins it; the panel shows each step, the faults and the report;
/// `q` exits 0 (passed) and the report file is in the data directory.
#[test]
fn a_drill_is_played_from_the_console_panel() {
    let data = tempfile::tempdir().unwrap();
    let args = vec!["drill".to_string(), "master-crash".to_string()];
    let mut c = spawn_console_with(&args, &[("XDG_DATA_HOME", data.path())]);
    let long = Duration::from_secs(60);
    // As a trainee would, act once the console has confirmed the outage (the banner), not
    // in the second the kill shows: a plan prepared before the next poll can be outdated.
    c.wait_for(
        "step 1, the primary killed and the outage confirmed",
        long,
        |s| {
            s.contains("step 1 of 2")
                && s.contains("n1 killed")
                && s.contains("Still wrong:")
                && s.contains("no reachable node is a primary")
        },
    );
    // The selection is on n1 (down): p promotes the best replica.
    c.act(b"p", "promote", "n2");
    // The panel says n1 restarted as soon as the runner did it; the tree shows it up once the
    // poller has reached it again (its back-off after a refused connection): only then can a
    // rejoin plan read it.
    c.wait_for("step 2 and n1 back", long, |s| {
        s.contains("step 2 of 2")
            && s.contains("n1 restarted")
            && s.lines()
                .any(|l| l.starts_with("┃n1 ") && l.contains("● up"))
    });
    c.keys(b"h");
    c.wait_for("a hint", long, |s| s.contains("Hints: 1 of 2"));
    // n1 is the last row: End, then J rejoins it.
    c.keys(b"\x1b[F");
    c.act(b"J", "rejoin", "n1");
    let took = c.wait_for("the report", long, |s| {
        s.contains("passed: every step done")
    });
    let screen = c.screen();
    assert!(screen.contains("writes: lost 0 of"), "{screen}");
    assert!(
        screen.contains("FROZEN"),
        "the view stays on the end: {screen}"
    );
    println!("the report came {took:?} after the rejoin was confirmed");
    c.keys(b"q");
    assert_eq!(c.exit_code(Duration::from_secs(20)), 0, "passed: exit 0");
    let reports: Vec<_> = std::fs::read_dir(data.path().join("redops/drills"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        reports
            .iter()
            .any(|f| f.starts_with("master-crash-") && f.ends_with(".json")),
        "{reports:?}"
    );
}
