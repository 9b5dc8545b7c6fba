//! Shared by the real-server action tests and the switchover benchmark: a primary and its
//! replicas from the sandbox (`redops::sandbox`: free loopback ports, killed by PID on drop,
//! also on panic), named as the test likes, a config for them, an acknowledged-write tracker,
//! and a [`RedisOps`] wrapper that injects a real fault (signal, kill) at an exact point of a
//! run.
//!
//! Part of `tests/common`; `benches/switchover.rs` includes it with `#[path]`.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redops::config::{Addr, Config, Console, Group, LagThresholds, Node};
use redops::observe::NodeError;
use redops::ops::{Command, PlanNode, RedisOps, Reply};
use redops::sandbox::{Sandbox, Spec};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One server of a [`Cluster`].
pub struct Server {
    pub name: String,
    pub port: u16,
    /// Its data directory.
    pub dir: PathBuf,
    sandbox: Arc<Sandbox>,
}

impl Server {
    /// The PID of the running process (of the last one, once killed).
    pub fn pid(&self) -> u32 {
        self.sandbox.node(&self.name).expect("a cluster node").pid
    }

    pub fn addr(&self) -> Addr {
        Addr {
            host: "127.0.0.1".into(),
            port: self.port,
        }
    }

    /// SIGSTOP (`"STOP"`) or SIGCONT (`"CONT"`), by PID; nothing once the server is killed.
    pub fn signal(&self, sig: &str) {
        let _ = match sig {
            "STOP" => self.sandbox.freeze(&self.name),
            "CONT" => self.sandbox.thaw(&self.name),
            other => panic!("signal '{other}': use STOP or CONT (or kill)"),
        };
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        self.sandbox
            .node(&self.name)
            .expect("a cluster node")
            .kill();
    }
}

/// A primary and replicas of it, all linked.
pub struct Cluster {
    /// The group's files: config, audit log, backups.
    pub dir: tempfile::TempDir,
    pub servers: Vec<Server>,
}

impl Cluster {
    /// `names[0]` primary, the others its replicas, without persistence; `primary_extra` are
    /// more arguments for the primary. Waits until every replica is in sync.
    pub async fn start(names: &[&str], primary_extra: &[&str]) -> Self {
        let strings = |a: &[&str]| a.iter().map(ToString::to_string).collect::<Vec<_>>();
        let spec = Spec {
            replicas: names.len() - 1,
            names: strings(names),
            extra_args: strings(&["--save", "", "--appendonly", "no"]),
            primary_args: strings(primary_extra),
            // Without persistence the snapshot gate saves under a temporary dbfilename, a
            // protected config from 7.0: allowed from this host, as an operator would set it.
            protected_configs: true,
            group: "g".into(),
            ..Spec::default()
        };
        let sandbox = Arc::new(
            Sandbox::start(&spec)
                .await
                .unwrap_or_else(|e| panic!("cannot start the test servers: {e}")),
        );
        let servers = sandbox
            .nodes()
            .iter()
            .map(|n| Server {
                name: n.name.clone(),
                port: n.port,
                dir: n.dir.clone(),
                sandbox: Arc::clone(&sandbox),
            })
            .collect();
        Self {
            dir: tempfile::tempdir().unwrap(),
            servers,
        }
    }

    pub fn port(&self, name: &str) -> u16 {
        self.servers.iter().find(|s| s.name == name).unwrap().port
    }

    pub fn server(&self, name: &str) -> &Server {
        self.servers.iter().find(|s| s.name == name).unwrap()
    }

    pub fn server_mut(&mut self, name: &str) -> &mut Server {
        self.servers.iter_mut().find(|s| s.name == name).unwrap()
    }

    pub fn ports(&self) -> Vec<u16> {
        self.servers.iter().map(|s| s.port).collect()
    }

    /// Waits (10 s at most) until `INFO` on `port` shows `field:value`.
    pub async fn wait_field(&self, port: u16, field: &str, value: &str) {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(info) = raw_info(port).await {
                if info_field(&info, field).as_deref() == Some(value) {
                    return;
                }
            }
            assert!(
                Instant::now() < end,
                "port {port}: {field} never became {value}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A config for this group; the audit log goes in the temp dir.
    pub fn config(&self, preferred: Option<&str>) -> Config {
        let console = Console {
            audit_log: self.dir.path().join("audit.jsonl"),
            backups_dir: self.dir.path().join("backups"),
            timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            ..Console::default()
        };
        Config {
            console,
            groups: vec![Group {
                name: "g".into(),
                env: None,
                read_only: false,
                preferred_primary: preferred.map(ToString::to_string),
                lag: LagThresholds::default(),
                sentinel: None,
                cluster: false,
                nodes: self
                    .servers
                    .iter()
                    .map(|s| Node {
                        name: s.name.clone(),
                        addr: s.addr(),
                        username: None,
                        password: None,
                        tls: None,
                    })
                    .collect(),
            }],
            source: None,
        }
    }

    /// The same config as a TOML file (for the binary).
    pub fn config_file(&self, preferred: Option<&str>) -> PathBuf {
        let mut t = format!(
            "[console]\ntimeout = \"1s\"\nconnect_timeout = \"1s\"\naudit_log = \"{}\"\nbackups_dir = \"{}\"\n\n[[groups]]\nname = \"g\"\n",
            self.dir.path().join("audit.jsonl").display(),
            self.dir.path().join("backups").display()
        );
        if let Some(p) = preferred {
            t.push_str(&format!("preferred_primary = \"{p}\"\n"));
        }
        for s in &self.servers {
            t.push_str(&format!(
                "\n[[groups.nodes]]\nname = \"{}\"\naddr = \"127.0.0.1:{}\"\n",
                s.name, s.port
            ));
        }
        let path = self.dir.path().join("redops.toml");
        std::fs::write(&path, t).unwrap();
        path
    }

    /// Ports of the nodes that say `role:master`.
    pub async fn primaries(&self) -> Vec<u16> {
        let mut out = Vec::new();
        for s in &self.servers {
            if let Ok(i) = raw_info(s.port).await {
                if info_field(&i, "role").as_deref() == Some("master") {
                    out.push(s.port);
                }
            }
        }
        out
    }
}

/// One RESP command on a fresh connection, 2 s at most; the raw reply text.
pub async fn raw_cmd(port: u16, args: &[&str]) -> Result<String, String> {
    raw_cmd_within(port, args, Duration::from_secs(2)).await
}

/// [`raw_cmd`] for a command that takes time on the server (`DEBUG POPULATE` of a large
/// dataset on a loaded machine).
pub async fn raw_cmd_within(port: u16, args: &[&str], limit: Duration) -> Result<String, String> {
    let fut = async {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(resp(args).as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut r = BufReader::new(s);
        read_reply(&mut r).await
    };
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| "timeout".to_string())?
}

pub async fn raw_info(port: u16) -> Result<String, String> {
    raw_cmd(port, &["INFO"]).await
}

pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

pub fn resp(args: &[&str]) -> String {
    let mut s = format!("*{}\r\n", args.len());
    for a in args {
        s.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s
}

pub async fn read_reply(r: &mut BufReader<TcpStream>) -> Result<String, String> {
    let mut line = String::new();
    r.read_line(&mut line).await.map_err(|e| e.to_string())?;
    let line = line.trim_end().to_string();
    match line.chars().next() {
        Some('+' | ':') => Ok(line[1..].to_string()),
        Some('-') => Err(line[1..].to_string()),
        Some('$') => {
            let n: i64 = line[1..].parse().map_err(|_| "bad bulk".to_string())?;
            if n < 0 {
                return Ok(String::new());
            }
            let mut buf = vec![0u8; usize::try_from(n).unwrap() + 2];
            tokio::io::AsyncReadExt::read_exact(r, &mut buf)
                .await
                .map_err(|e| e.to_string())?;
            buf.truncate(buf.len() - 2);
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        _ => Err(format!("unexpected reply '{line}'")),
    }
}

/// A client that writes `SET w:i i` on one connection and records every acknowledged i with
/// its time; on an error (READONLY ...) it finds the primary again among `ports`.
pub struct WriterHandle {
    stop: Arc<AtomicBool>,
    pub acks: Arc<Mutex<Vec<(u64, Instant)>>>,
    pub errors: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl WriterHandle {
    pub fn start(ports: Vec<u16>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(writer_loop(
            ports,
            stop.clone(),
            acks.clone(),
            errors.clone(),
        ));
        Self {
            stop,
            acks,
            errors,
            task,
        }
    }

    pub fn acked(&self) -> Vec<u64> {
        self.acks.lock().unwrap().iter().map(|(i, _)| *i).collect()
    }

    pub fn count(&self) -> usize {
        self.acks.lock().unwrap().len()
    }

    /// The longest gap between consecutive acknowledgements with the later one in `[from, to]`.
    pub fn max_gap(&self, from: Instant, to: Instant) -> Duration {
        let acks = self.acks.lock().unwrap();
        acks.windows(2)
            .filter(|w| w[1].1 >= from && w[1].1 <= to)
            .map(|w| w[1].1 - w[0].1)
            .max()
            .unwrap_or_default()
    }

    /// Waits until at least `n` more writes are acknowledged (30 s at most: a write pause
    /// left by a killed console takes up to its timeout to expire).
    pub async fn wait_more(&self, n: usize) {
        let start = self.count();
        let end = Instant::now() + Duration::from_secs(30);
        while self.count() < start + n {
            assert!(
                Instant::now() < end,
                "the writer made no progress: {:?}",
                self.errors.lock().unwrap().last()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn stop(self) -> Vec<u64> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = tokio::time::timeout(Duration::from_secs(20), self.task).await;
        self.acks.lock().unwrap().iter().map(|(i, _)| *i).collect()
    }
}

async fn find_primary(ports: &[u16]) -> Option<u16> {
    for &p in ports {
        if let Ok(i) = raw_info(p).await {
            if info_field(&i, "role").as_deref() == Some("master") {
                return Some(p);
            }
        }
    }
    None
}

async fn writer_loop(
    ports: Vec<u16>,
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Vec<(u64, Instant)>>>,
    errors: Arc<Mutex<Vec<String>>>,
) {
    let mut i = 0u64;
    let mut conn: Option<BufReader<TcpStream>> = None;
    while !stop.load(Ordering::SeqCst) {
        if conn.is_none() {
            let Some(p) = find_primary(&ports).await else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            match TcpStream::connect(("127.0.0.1", p)).await {
                Ok(s) => conn = Some(BufReader::new(s)),
                Err(_) => continue,
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        i += 1;
        let (k, v) = (format!("w:{i}"), i.to_string());
        let cmd = resp(&["SET", &k, &v]);
        let sent = c.get_mut().write_all(cmd.as_bytes()).await;
        let reply = match sent {
            Ok(()) => tokio::time::timeout(Duration::from_secs(20), read_reply(c)).await,
            Err(e) => Ok(Err(e.to_string())),
        };
        match reply {
            Ok(Ok(r)) if r == "OK" => acks.lock().unwrap().push((i, Instant::now())),
            Ok(Ok(r) | Err(r)) => {
                errors.lock().unwrap().push(format!("{i}: {r}"));
                conn = None;
            }
            Err(_) => {
                errors
                    .lock()
                    .unwrap()
                    .push(format!("{i}: no reply in 20 s"));
                conn = None;
            }
        }
    }
}

/// Every acknowledged key is on the node at `port` with its value: returns the missing ones.
pub async fn missing_keys(port: u16, acked: &[u64]) -> Vec<u64> {
    let mut missing = Vec::new();
    let mut s = BufReader::new(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    for chunk in acked.chunks(500) {
        let mut batch = String::new();
        for i in chunk {
            batch.push_str(&resp(&["GET", &format!("w:{i}")]));
        }
        s.get_mut().write_all(batch.as_bytes()).await.unwrap();
        for i in chunk {
            let v = read_reply(&mut s).await.unwrap_or_default();
            if v != i.to_string() {
                missing.push(*i);
            }
        }
    }
    missing
}

type Hook = Box<dyn Fn() + Send + Sync>;

/// A [`RedisOps`] that runs a hook (a real fault) just before or after a chosen command.
pub struct Hooked<O> {
    pub inner: O,
    hooks: Mutex<Vec<(String, String, bool, Hook)>>,
    /// Every command sent: `node: COMMAND` (INFO reads left out).
    pub sent: Mutex<Vec<String>>,
}

impl<O: RedisOps> Hooked<O> {
    pub fn new(inner: O) -> Self {
        Self {
            inner,
            hooks: Mutex::new(Vec::new()),
            sent: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` once, before (`after == false`) or after the first command to `node` whose text
    /// starts with `prefix`.
    pub fn hook(
        &self,
        node: &str,
        prefix: &str,
        after: bool,
        f: impl Fn() + Send + Sync + 'static,
    ) {
        self.hooks
            .lock()
            .unwrap()
            .push((node.into(), prefix.into(), after, Box::new(f)));
    }

    fn fire(&self, node: &str, text: &str, after: bool) {
        let mut hooks = self.hooks.lock().unwrap();
        if let Some(k) = hooks
            .iter()
            .position(|(n, p, a, _)| n == node && text.starts_with(p.as_str()) && *a == after)
        {
            let (_, _, _, f) = hooks.remove(k);
            f();
        }
    }

    pub fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }
}

impl<O: RedisOps> RedisOps for Hooked<O> {
    async fn send(&self, node: &PlanNode, cmd: &Command) -> Result<Reply, NodeError> {
        let text = cmd.to_string();
        if !matches!(cmd, Command::Info(_)) {
            self.sent
                .lock()
                .unwrap()
                .push(format!("{}: {text}", node.name));
        }
        self.fire(&node.name, &text, false);
        let r = self.inner.send(node, cmd).await;
        self.fire(&node.name, &text, true);
        r
    }

    fn client_name(&self) -> &str {
        self.inner.client_name()
    }
}
