//! Console benchmarks (a program that prints figures; no timed assertions).
//!
//! 1. Render: a 500-node group (1 primary, 499 replicas, some chained) with a full history,
//!    drawn to ratatui's `TestBackend` at 200x50; per-frame time median and p99, and the
//!    cost of taking in one poll cycle of 500 observations (`App::update` -> topology).
//! 2. Live (unless `--render-only`): the real binary in a pseudo-terminal watching 50 real
//!    `redis-server` processes at a 1 s interval for 20 s; idle CPU (% of one core) and RSS
//!    from `/proc`.
//!
//! Run: `cargo bench --bench render` (release).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_precision_loss,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use redops::config::{Addr, Config, Console, Group, LagThresholds, Node};
use redops::info::{DbKeys, Info, InfoRole};
use redops::observe::{NodeId, Observation};
use redops::tui::{theme, view, App, Msg, Options};

const NODES: usize = 500;

fn node(i: usize) -> Node {
    Node {
        name: format!("n{i:03}"),
        addr: Addr {
            host: "127.0.0.1".into(),
            port: 20_000 + u16::try_from(i).unwrap(),
        },
        username: None,
        password: None,
        tls: None,
    }
}

fn info(i: usize, offset: u64) -> Info {
    let mut info = Info::default();
    info.server.version = Some("7.0.15".into());
    info.memory.used_memory = Some(3_000_000);
    info.clients.connected = Some(4);
    info.keyspace = vec![DbKeys {
        db: 0,
        keys: 10_000,
        expires: 0,
        ..DbKeys::default()
    }];
    info.persistence.last_bgsave_ok = Some(true);
    info.persistence.last_save_time = Some(1_700_000_000);
    let r = &mut info.replication;
    r.replid = Some("b".repeat(40));
    if i == 0 {
        r.role = Some(InfoRole::Primary);
        r.offset = Some(offset);
    } else {
        r.role = Some(InfoRole::Replica);
        r.master_host = Some("127.0.0.1".into());
        // Every tenth replica hangs from the one before it (chained).
        let upstream = if i % 10 == 0 { i - 1 } else { 0 };
        r.master_port = Some(20_000 + u16::try_from(upstream).unwrap());
        r.link_up = Some(true);
        r.last_io_seconds_ago = Some(0);
        r.replica_offset = Some(offset.saturating_sub((i as u64 % 7) * 900));
    }
    info
}

fn cycle(sec: u64) -> Vec<Observation> {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + sec);
    (0..NODES)
        .map(|i| Observation {
            id: NodeId { group: 0, node: i },
            at,
            rtt: Duration::from_micros(400),
            result: Ok(Arc::new(info(i, 1_000_000 + sec * 5_000))),
        })
        .collect()
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let med = v[v.len() / 2];
    let p99 = v[(v.len() * 99 / 100).min(v.len() - 1)];
    (med, p99)
}

fn render_bench() {
    let config = Config {
        console: Console::default(),
        groups: vec![Group {
            name: "big".into(),
            env: Some("production".into()),
            read_only: false,
            preferred_primary: None,
            lag: LagThresholds::default(),
            sentinel: None,
            cluster: false,
            nodes: (0..NODES).map(node).collect(),
        }],
        source: None,
    };
    let theme = theme::resolve_builtin("dark").unwrap();
    let mut app = App::new(
        config,
        theme,
        Options::default(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    );
    app.update(Msg::Resize(200, 50));
    let mut update_ms = Vec::new();
    for sec in 0..120 {
        let batch = cycle(sec);
        let t = Instant::now();
        app.update(Msg::Observed(batch));
        update_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    // Select a replica deep in the table so the detail pane charts it.
    for _ in 0..250 {
        app.update(Msg::Key(ratatui::crossterm::event::KeyEvent::new(
            ratatui::crossterm::event::KeyCode::Down,
            ratatui::crossterm::event::KeyModifiers::NONE,
        )));
    }
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    for _ in 0..20 {
        term.draw(|f| view::render(&app, f)).unwrap();
    }
    let mut frame_ms = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        term.draw(|f| view::render(&app, f)).unwrap();
        frame_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (med, p99) = stats(frame_ms);
    println!("render: {NODES} nodes at 200x50, 500 frames: median {med:.3} ms, p99 {p99:.3} ms");
    let (umed, up99) = stats(update_ms);
    println!(
        "update: one poll cycle of {NODES} observations (fleet, history, topology, changes): \
         median {umed:.3} ms, p99 {up99:.3} ms"
    );
}

/// A redis-server killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn live_bench() {
    const LIVE: usize = 50;
    let dir = tempfile::tempdir().unwrap();
    let mut servers = Vec::new();
    let mut args: Vec<String> = Vec::new();
    for i in 0..LIVE {
        let port = free_port();
        let sub = dir.path().join(port.to_string());
        std::fs::create_dir_all(&sub).unwrap();
        let mut cmd = Command::new("/usr/bin/redis-server");
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no"])
        .arg("--dir")
        .arg(&sub)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if i > 0 {
            let primary = args[1].clone();
            let p = primary.rsplit(':').next().unwrap().to_string();
            cmd.args(["--replicaof", "127.0.0.1", &p]);
        }
        servers.push(Server(cmd.spawn().expect(
            "redis-server is needed for the live figures: apt-get install redis-server",
        )));
        args.push("--node".to_string());
        args.push(format!("127.0.0.1:{port}"));
    }
    std::thread::sleep(Duration::from_secs(2));

    let pty = portable_pty::native_pty_system();
    let pair = pty
        .openpty(portable_pty::PtySize {
            rows: 50,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let exe = std::env::current_dir()
        .unwrap()
        .join("target/release/redops");
    let exe = std::env::var("CARGO_TARGET_DIR")
        .map_or(exe, |d| std::path::PathBuf::from(d).join("release/redops"));
    if !exe.exists() {
        println!("live: skipped: build the release binary first (cargo build --release)");
        return;
    }
    let mut cmd = portable_pty::CommandBuilder::new(&exe);
    cmd.args(&args);
    cmd.env("TERM", "xterm-256color");
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    let pid = child.process_id().unwrap();
    let mut reader = pair.master.try_clone_reader().unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_secs(5));
    let t0 = cpu_ticks(pid).unwrap_or(0);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(20));
    let t1 = cpu_ticks(pid).unwrap_or(0);
    let secs = start.elapsed().as_secs_f64();
    // The kernel reports ticks of 1/100 s (USER_HZ) on Linux.
    #[allow(clippy::cast_precision_loss)]
    let cpu = (t1 - t0) as f64 / 100.0 / secs * 100.0;
    let rss = rss_kb(pid).unwrap_or(0);
    println!(
        "live: {LIVE} real nodes, poll 1s, 200x50 pty, {secs:.0} s: idle CPU {cpu:.2}% of one core, \
         RSS {:.1} MB",
        rss as f64 / 1024.0
    );
    let mut w = pair.master.take_writer().unwrap();
    let _ = std::io::Write::write_all(&mut w, b"q");
    let deadline = Instant::now() + Duration::from_secs(5);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    drop(servers);
}

fn main() {
    render_bench();
    if !std::env::args().any(|a| a == "--render-only") {
        live_bench();
    }
}
