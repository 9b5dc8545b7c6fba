//! One local `redis-server` / `valkey-server` process: finding the binary, choosing a free
//! loopback port, spawning it in its own directory, waiting until it answers, and signalling or
//! killing it by PID.
//!
//! Every process is owned by a [`ServerProcess`] holding its `Child`, so it is only ever
//! signalled while it is not yet reaped (its PID cannot have been reused), and it is killed and
//! reaped on drop. Each start and stop is reported to the sandbox's [`Watchdog`] (`del` before
//! a kill, or right after a reap), which kills what is left if the owner dies without clean-up.
//! This file never talks to anything but 127.0.0.1.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use rand::Rng;

use super::ready;
use super::tls::TlsFiles;
use super::watchdog::Watchdog;
use super::SandboxError;
use crate::config::{Addr, Node, Secret};

/// Environment variable naming the server binary when none is given explicitly.
pub const SERVER_BIN_ENV: &str = "REDOPS_SERVER_BIN";

/// How long a spawned server gets to answer `INFO` (not loading) before it counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server that answers while loading its data may take to load it.
const LOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// How many fresh ports a spawn tries when the chosen one turns out to be taken.
const PORT_ATTEMPTS: usize = 5;

/// What to tell someone who has no server binary.
const INSTALL_HINT: &str = "install one: `apt-get install redis-server` (Debian/Ubuntu) or \
     `brew install redis` (macOS), or pass --server-bin PATH to a redis-server or valkey-server \
     binary";

/// A running (or killed, awaiting restart) local server.
#[derive(Debug)]
pub struct ServerProcess {
    /// Node name in the sandbox config (`n1`, `n2`, …).
    pub name: String,
    /// Loopback port it listens on (kept across restarts).
    pub port: u16,
    /// PID of the current process (of the last one, once killed).
    pub pid: u32,
    /// Its working directory: `dump.rdb`, `redis.log`, `stderr.log`.
    pub dir: PathBuf,
    /// The node it was started as a replica of, if any (roles may change later).
    pub replica_of: Option<String>,
    launch: Launch,
    child: Mutex<Option<Child>>,
    frozen: AtomicBool,
    watchdog: Arc<Watchdog>,
}

/// The save points every sandbox server gets: (seconds, changes).
const SAVE_POINTS: &[(u32, u32)] = &[(3600, 1), (300, 100), (60, 10000)];

/// One argument as a `redis.conf` word: double-quoted, `\\` and `"` escaped, any other
/// byte outside printable ASCII as `\\xHH` (what the server's own parser reads back).
fn conf_quote(arg: &str) -> String {
    let mut q = String::from("\"");
    for b in arg.bytes() {
        match b {
            b'\\' => q.push_str("\\\\"),
            b'"' => q.push_str("\\\""),
            0x20..=0x7e => q.push(char::from(b)),
            _ => q.push_str(&format!("\\x{b:02x}")),
        }
    }
    q.push('"');
    q
}

/// Everything needed to start (and restart) one server except its port.
#[derive(Debug, Clone)]
pub(super) struct Launch {
    pub bin: PathBuf,
    pub dir: PathBuf,
    /// Port of the upstream this server replicates from at start.
    pub upstream_port: Option<u16>,
    /// `--enable-debug-command local` (7.0+ only; earlier versions allow DEBUG anyway).
    pub debug_command: bool,
    /// `--enable-protected-configs local` (7.0+ only; earlier versions have no such guard).
    pub protected_configs: bool,
    /// `requirepass`, and `masterauth` so that a replica can sync from a primary that has it.
    pub password: Option<String>,
    /// TLS only: no plaintext port, `PORT` is the TLS port; replication over TLS too.
    pub tls: Option<TlsFiles>,
    pub extra_args: Vec<String>,
    /// Set for a sentinel: it runs with `--sentinel` from a config of its own.
    pub sentinel: Option<super::sentinel::Watch>,
    /// A fixed port, and a host bound besides loopback (a restore's scratch server).
    pub listen: Option<Addr>,
}

impl Launch {
    /// The full command line for this server on `port`.
    pub fn args(&self, port: u16) -> Vec<String> {
        let dir = self.dir.to_string_lossy().into_owned();
        let mut a: Vec<String> = match &self.tls {
            None => vec!["--port".into(), port.to_string()],
            Some(_) => vec![
                "--port".into(),
                "0".into(),
                "--tls-port".into(),
                port.to_string(),
            ],
        };
        a.push("--bind".into());
        a.push("127.0.0.1".into());
        if let Some(h) = self.listen.as_ref().map(|l| l.host.as_str()) {
            if !matches!(h, "127.0.0.1" | "localhost") {
                a.push(h.to_string());
            }
        }
        a.extend([
            "--dir".into(),
            dir.clone(),
            "--daemonize".into(),
            "no".into(),
            "--logfile".into(),
            format!("{dir}/redis.log"),
        ]);
        if self.debug_command {
            a.extend(["--enable-debug-command".into(), "local".into()]);
        }
        if self.protected_configs {
            a.extend(["--enable-protected-configs".into(), "local".into()]);
        }
        if let Some(tls) = &self.tls {
            a.extend(tls.server_args());
            // Client certificates are checked when presented, not required: the sandbox's
            // own clients present one, a test may connect with the CA alone.
            a.extend(["--tls-auth-clients".into(), "optional".into()]);
            a.extend(["--tls-replication".into(), "yes".into()]);
        }
        if let Some(pw) = &self.password {
            a.extend(["--requirepass".into(), pw.clone()]);
            a.extend(["--masterauth".into(), pw.clone()]);
        }
        a.extend(["--repl-diskless-sync-delay".into(), "0".into()]);
        // Keep save points: a primary without persistence is flagged as an anomaly. Each
        // point as `--save SECONDS CHANGES`, every number its own argument: 6.2 quotes each
        // argument into one config word, so `--save "3600 1 300 100 60 10000"` (or even
        // `--save "3600 1"`) becomes a `save` it ignores, leaving none (observed on 6.2.14);
        // 7.x accepts this shape too.
        for (seconds, changes) in SAVE_POINTS {
            a.extend(["--save".into(), seconds.to_string(), changes.to_string()]);
        }
        if let Some(up) = self.upstream_port {
            a.extend(["--replicaof".into(), "127.0.0.1".into(), up.to_string()]);
        }
        a.extend(self.extra_args.iter().cloned());
        a
    }
}

impl Launch {
    /// The node's config file, `<dir>/redis.conf`: the server is started with it, so a killed
    /// node restarts with its settings (and whatever `CONFIG REWRITE` put there since).
    pub fn conf_path(&self) -> PathBuf {
        self.dir.join("redis.conf")
    }

    /// [`args`](Self::args) as a `redis.conf`: one directive per `--name`, every argument
    /// quoted (6.2 and 7.x read `save "3600" "1"` and `save ""` alike).
    pub fn conf_text(&self, port: u16) -> String {
        if let Some(watch) = &self.sentinel {
            return watch.conf_text(port, &self.dir);
        }
        let mut out = String::from(
            "# Written by the redops sandbox; the server is started with this file, so a\n\
             # restart keeps these settings and anything CONFIG REWRITE adds.\n",
        );
        let mut line: Option<String> = None;
        for a in self.args(port) {
            if let Some(name) = a.strip_prefix("--") {
                if let Some(l) = line.take() {
                    out.push_str(&l);
                    out.push('\n');
                }
                line = Some(name.to_string());
            } else if let Some(l) = line.as_mut() {
                l.push(' ');
                l.push_str(&conf_quote(&a));
            }
        }
        if let Some(l) = line {
            out.push_str(&l);
            out.push('\n');
        }
        out
    }

    /// Writes [`conf_text`](Self::conf_text) to [`conf_path`](Self::conf_path).
    fn write_conf(&self, port: u16) -> Result<(), SandboxError> {
        // Owner only: it may hold the sandbox's password.
        super::write_private(&self.conf_path(), self.conf_text(port).as_bytes())
    }

    /// How a client reaches this server on `port`: the sandbox's password and TLS client
    /// settings when it has them.
    pub fn node(&self, name: &str, port: u16) -> Node {
        Node {
            name: name.to_string(),
            addr: Addr {
                host: "127.0.0.1".into(),
                port,
            },
            username: None,
            password: self.password.as_deref().map(Secret::new),
            tls: self.tls.as_ref().map(TlsFiles::client),
        }
    }
}

impl ServerProcess {
    /// Starts a server on a free port (retrying with fresh ports when one is taken) and waits
    /// until it answers `INFO` and has loaded its data.
    pub(super) async fn spawn(
        name: &str,
        launch: Launch,
        replica_of: Option<String>,
        watchdog: Arc<Watchdog>,
    ) -> Result<Self, SandboxError> {
        std::fs::create_dir_all(&launch.dir).map_err(|e| SandboxError::io(&launch.dir, e))?;
        let mut last_err = None;
        // A fixed port is tried once: another process holding it is the operator's to see.
        let attempts = if launch.listen.is_some() {
            1
        } else {
            PORT_ATTEMPTS
        };
        for _ in 0..attempts {
            let port = launch.listen.as_ref().map_or_else(free_port, |l| l.port);
            launch.write_conf(port)?;
            match start_child(name, &launch, port, &watchdog).await {
                Ok(child) => {
                    return Ok(Self {
                        name: name.to_string(),
                        port,
                        pid: child.id(),
                        dir: launch.dir.clone(),
                        replica_of,
                        launch,
                        child: Mutex::new(Some(child)),
                        frozen: AtomicBool::new(false),
                        watchdog,
                    })
                }
                Err(e) if e.is_port_in_use() => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| SandboxError::Spawn {
            node: name.to_string(),
            message: "no free port found".into(),
            log_tail: String::new(),
        }))
    }

    /// Starts the server again on the same port, in the same directory, from the same
    /// `redis.conf` (a killed primary comes back with its old `dump.rdb`; a node whose role
    /// was persisted with `CONFIG REWRITE` comes back in that role). A process still
    /// running is killed first. Waits until the server answers.
    pub(super) async fn restart(&mut self) -> Result<(), SandboxError> {
        self.kill();
        if !self.launch.conf_path().exists() {
            self.launch.write_conf(self.port)?;
        }
        let child = start_child(&self.name, &self.launch, self.port, &self.watchdog).await?;
        self.pid = child.id();
        self.frozen.store(false, Ordering::SeqCst);
        *self.lock() = Some(child);
        Ok(())
    }

    /// `127.0.0.1:PORT`.
    #[must_use]
    pub fn addr(&self) -> Addr {
        Addr {
            host: "127.0.0.1".into(),
            port: self.port,
        }
    }

    /// This server as a config node: the sandbox's password and TLS client settings (CA and
    /// client certificate) when it has them.
    #[must_use]
    pub fn node(&self) -> Node {
        self.launch.node(&self.name, self.port)
    }

    /// Path of its log file.
    #[must_use]
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// The settings it was first started with, as command-line arguments (its
    /// [`conf_path`](Self::conf_path) holds them as directives).
    #[must_use]
    pub fn args(&self) -> Vec<String> {
        self.launch.args(self.port)
    }

    /// Its config file, `<dir>/redis.conf`, which every start and restart reads.
    #[must_use]
    pub fn conf_path(&self) -> PathBuf {
        self.launch.conf_path()
    }

    /// The arguments it was started with beyond the sandbox's own (`Spec::extra_args` and the
    /// node's), as given.
    pub(super) fn launch_args(&self) -> &[String] {
        &self.launch.extra_args
    }

    /// True while the process has not exited (a frozen process is running).
    #[must_use]
    pub fn is_running(&self) -> bool {
        let mut guard = self.lock();
        match guard.as_mut() {
            None => false,
            Some(child) => {
                if matches!(child.try_wait(), Ok(None)) {
                    true
                } else {
                    self.forget(&mut guard);
                    false
                }
            }
        }
    }

    /// True while this process is held unreaped (running, or exited and not yet seen).
    pub(super) fn has_child(&self) -> bool {
        self.lock().is_some()
    }

    /// True after [`freeze`](super::Sandbox::freeze) until thawed or killed.
    #[must_use]
    pub fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::SeqCst)
    }

    /// Sends a signal while the process is known to be ours and unreaped.
    pub(super) fn signal(&self, sig: Signal) -> Result<(), SandboxError> {
        let mut guard = self.lock();
        let alive = match guard.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        };
        if !alive {
            self.forget(&mut guard);
            return Err(SandboxError::NotRunning {
                node: self.name.clone(),
            });
        }
        send(self.pid, sig).map_err(|e| SandboxError::Spawn {
            node: self.name.clone(),
            message: format!("cannot send {sig} to pid {}: {e}", self.pid),
            log_tail: String::new(),
        })?;
        match sig {
            Signal::SIGSTOP => self.frozen.store(true, Ordering::SeqCst),
            Signal::SIGCONT => self.frozen.store(false, Ordering::SeqCst),
            _ => {}
        }
        Ok(())
    }

    /// SIGCONT if frozen, then SIGKILL, then reap. Idempotent.
    pub fn kill(&self) {
        let mut guard = self.lock();
        if let Some(mut child) = guard.take() {
            // Unlisted while still unreaped: its PID cannot be reused before the watchdog
            // reads this line.
            self.watchdog.del(self.pid);
            if self.frozen.swap(false, Ordering::SeqCst) {
                let _ = send(self.pid, Signal::SIGCONT);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Drops a child that `try_wait` found exited (and so reaped, or unusable), and unlists it.
    fn forget(&self, guard: &mut MutexGuard<'_, Option<Child>>) {
        if guard.take().is_some() {
            self.watchdog.del(self.pid);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn send(pid: u32, sig: Signal) -> nix::Result<()> {
    let raw = i32::try_from(pid).map_err(|_| nix::errno::Errno::ESRCH)?;
    signal::kill(Pid::from_raw(raw), sig)
}

/// Spawns the process, lists it with the watchdog, and waits until it answers; kills it again
/// on failure.
async fn start_child(
    name: &str,
    launch: &Launch,
    port: u16,
    watchdog: &Watchdog,
) -> Result<Child, SandboxError> {
    let stderr_path = launch.dir.join("stderr.log");
    let stderr = File::create(&stderr_path).map_err(|e| SandboxError::io(&stderr_path, e))?;
    let mut cmd = Command::new(&launch.bin);
    cmd.arg(launch.conf_path());
    if launch.sentinel.is_some() {
        cmd.arg("--sentinel");
    }
    cmd.current_dir(&launch.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr));
    // Own process group: a Ctrl-C in the terminal reaches redops, which then stops the
    // servers in order, instead of reaching every server at once.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().map_err(|e| SandboxError::Spawn {
        node: name.to_string(),
        message: format!("cannot run '{}': {e}", launch.bin.display()),
        log_tail: String::new(),
    })?;
    let pid = child.id();
    // Killed on any early return and if this future is dropped mid-wait (cancelled start).
    let mut guard = ChildGuard {
        child: Some(child),
        watchdog,
    };
    // Listed at once, not once it answers: the owner may die while it loads. Never run it
    // unwatched: the guard kills it when no watchdog can be had.
    watchdog.add(pid)?;
    let node = launch.node(name, port);
    let started = Instant::now();
    let mut deadline = started + START_TIMEOUT;
    let mut last_state = String::from("not polled yet");
    loop {
        if let Some(status) = guard.exited() {
            return Err(SandboxError::Spawn {
                node: name.to_string(),
                message: format!("the server exited at start ({status})"),
                log_tail: log_tail(&launch.dir),
            });
        }
        match ready::probe_node(&node).await {
            // Another process answering on the port (it took the port first: ours is about to
            // exit with "Address already in use") is never mistaken for ours.
            Ok(state) if state.process_id.is_some_and(|p| p != pid) => {
                last_state = format!("port {port} is answered by pid {:?}", state.process_id);
            }
            Ok(state) if !state.loading => {
                if let Some(child) = guard.child.take() {
                    return Ok(child);
                }
            }
            Ok(_) => {
                // Answering and loading (a large RDB, a restore's scratch server): alive, so
                // it gets the time a load takes, bounded.
                last_state = "loading its data".into();
                deadline = deadline.max(started + LOAD_TIMEOUT);
            }
            Err(e) => last_state = e.to_string(),
        }
        if Instant::now() >= deadline {
            drop(guard);
            return Err(SandboxError::Spawn {
                node: name.to_string(),
                message: format!(
                    "not ready on port {port} within {}s (last: {last_state})",
                    started.elapsed().as_secs()
                ),
                log_tail: log_tail(&launch.dir),
            });
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Owns a just-spawned child until it is known to be up; unlists, kills and reaps it
/// otherwise.
struct ChildGuard<'a> {
    child: Option<Child>,
    watchdog: &'a Watchdog,
}

impl ChildGuard<'_> {
    /// The exit status if the child has exited (it is then reaped, and unlisted).
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok().flatten()?;
        if let Some(c) = self.child.take() {
            self.watchdog.del(c.id());
        }
        Some(status)
    }
}

impl Drop for ChildGuard<'_> {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            self.watchdog.del(c.id());
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The last lines of a node's `redis.log` and `stderr.log` (configuration errors are printed
/// on stderr before the log file is opened).
#[must_use]
pub fn log_tail(dir: &Path) -> String {
    let mut out = String::new();
    for file in ["stderr.log", "redis.log"] {
        let Ok(text) = std::fs::read_to_string(dir.join(file)) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        for l in &lines[lines.len().saturating_sub(12)..] {
            out.push_str(l.trim_end());
            out.push('\n');
        }
    }
    out
}

/// A port that was free on 127.0.0.1 a moment ago (bind to port 0, read it, release it).
/// Another process may take it before the server binds; spawning retries on that.
#[must_use]
pub fn free_port() -> u16 {
    for _ in 0..20 {
        if let Ok(port) = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
        {
            return port;
        }
    }
    // Binding to port 0 does not fail on a working loopback; a random port is a last resort
    // that the spawn retries cover.
    rand::rng().random_range(20_000..30_000)
}

/// Finds the server binary: `explicit` if given, else `$REDOPS_SERVER_BIN`, else
/// `redis-server`, then `valkey-server` on `PATH`.
///
/// # Errors
/// [`SandboxError::NoServer`] with the install hint.
pub fn find_server_binary(explicit: Option<&Path>) -> Result<PathBuf, SandboxError> {
    let from_env = std::env::var_os(SERVER_BIN_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    if let Some(path) = explicit.map(Path::to_path_buf).or(from_env) {
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(SandboxError::NoServer {
                message: format!(
                    "server binary '{}' does not exist or is not executable",
                    path.display()
                ),
                hint: INSTALL_HINT.into(),
            })
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["redis-server", "valkey-server"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(SandboxError::NoServer {
        message: "no redis-server or valkey-server found on PATH".into(),
        hint: INSTALL_HINT.into(),
    })
}

/// For tests: the server binary, or a panic with the install hint (tests must fail, not skip,
/// when no server is installed).
///
/// # Panics
/// When no server binary is found.
#[must_use]
pub fn require_server_binary() -> PathBuf {
    match find_server_binary(None) {
        Ok(p) => p,
        Err(e) => panic!("these tests need a real redis-server: {e}"),
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `redis-server --version` → (product, version), e.g. `("Redis", "7.0.15")`.
#[must_use]
pub fn server_version(bin: &Path) -> Option<(String, String)> {
    let out = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let product = text.split_whitespace().next()?.to_string();
    let version = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("v="))?
        .to_string();
    Some((product, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_has_the_required_options() {
        let launch = Launch {
            bin: PathBuf::from("redis-server"),
            dir: PathBuf::from("/tmp/x/n2"),
            upstream_port: Some(7001),
            debug_command: true,
            protected_configs: false,
            password: None,
            tls: None,
            extra_args: vec!["--maxmemory".into(), "10mb".into()],
            sentinel: None,
            listen: None,
        };
        let a = launch.args(7002).join(" ");
        assert!(a.starts_with("--port 7002 --bind 127.0.0.1 --dir /tmp/x/n2 --daemonize no"));
        assert!(a.contains("--logfile /tmp/x/n2/redis.log"));
        assert!(a.contains("--enable-debug-command local"));
        let args = launch.args(7002);
        let saves: Vec<String> = args
            .iter()
            .enumerate()
            .filter(|(_, w)| *w == "--save")
            .map(|(i, _)| {
                args[i + 1..]
                    .iter()
                    .take_while(|w| !w.starts_with("--"))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        // One point per `--save`, every number its own argument: 6.2 reads a single
        // "3600 1 300 100 60 10000" (or "3600 1") argument as no save points at all.
        assert_eq!(saves, ["3600|1", "300|100", "60|10000"]);
        assert!(a.contains("--replicaof 127.0.0.1 7001"));
        assert!(a.ends_with("--maxmemory 10mb"));
    }

    #[test]
    fn conf_file_has_one_directive_per_option_every_word_quoted() {
        let launch = Launch {
            bin: PathBuf::from("redis-server"),
            dir: PathBuf::from("/tmp/a b/n2"),
            upstream_port: Some(7001),
            debug_command: false,
            protected_configs: false,
            password: Some("p\"w\\x\n".into()),
            tls: None,
            extra_args: vec!["--save".into(), String::new()],
            sentinel: None,
            listen: None,
        };
        let text = launch.conf_text(7002);
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines[0], "port \"7002\"");
        assert!(lines.contains(&"dir \"/tmp/a b/n2\""), "{text}");
        assert!(
            lines.contains(&"requirepass \"p\\\"w\\\\x\\x0a\""),
            "{text}"
        );
        assert!(lines.contains(&"save \"3600\" \"1\""), "{text}");
        assert!(
            lines.contains(&"replicaof \"127.0.0.1\" \"7001\""),
            "{text}"
        );
        assert_eq!(lines.last(), Some(&"save \"\""), "extra args last: {text}");
        assert_eq!(launch.conf_path(), PathBuf::from("/tmp/a b/n2/redis.conf"));
    }

    #[test]
    fn tls_password_and_protected_configs_on_the_command_line() {
        let dir = PathBuf::from("/tmp/x");
        let tls = TlsFiles {
            dir: dir.join("tls"),
            ca_file: dir.join("tls/ca.crt"),
            ca_key: dir.join("tls/ca.key"),
            server_cert: dir.join("tls/server.crt"),
            server_key: dir.join("tls/server.key"),
            client_cert: dir.join("tls/client.crt"),
            client_key: dir.join("tls/client.key"),
        };
        let launch = Launch {
            bin: PathBuf::from("redis-server"),
            dir: dir.join("n2"),
            upstream_port: Some(7001),
            debug_command: true,
            protected_configs: true,
            password: Some("pw".into()),
            tls: Some(tls),
            extra_args: vec!["--tls-auth-clients".into(), "yes".into()],
            sentinel: None,
            listen: None,
        };
        let a = launch.args(7002).join(" ");
        assert!(
            a.starts_with("--port 0 --tls-port 7002 --bind 127.0.0.1"),
            "{a}"
        );
        assert!(a.contains("--enable-protected-configs local"), "{a}");
        assert!(a.contains("--tls-cert-file /tmp/x/tls/server.crt"), "{a}");
        assert!(a.contains("--tls-replication yes"), "{a}");
        assert!(a.contains("--requirepass pw --masterauth pw"), "{a}");
        assert!(
            a.ends_with("--tls-auth-clients yes"),
            "extra args come last: {a}"
        );
        let node = launch.node("n2", 7002);
        assert_eq!(node.password.as_ref().map(Secret::expose), Some("pw"));
        let tls = node.tls.expect("tls");
        assert_eq!(
            tls.ca_file.as_deref(),
            Some(dir.join("tls/ca.crt").as_path())
        );
        assert!(
            tls.client_cert.is_some(),
            "the probe presents a client certificate"
        );
    }

    #[test]
    fn explicit_missing_binary_gives_the_install_hint() {
        let e = find_server_binary(Some(Path::new("/nonexistent/redis-server")))
            .expect_err("a missing path is an error");
        let text = e.to_string();
        assert!(text.contains("'/nonexistent/redis-server'"), "{text}");
        assert!(text.contains("apt-get install redis-server"), "{text}");
        assert!(text.contains("--server-bin"), "{text}");
    }

    #[test]
    fn free_ports_are_bindable() {
        let p = free_port();
        assert!(TcpListener::bind(("127.0.0.1", p)).is_ok());
    }
}
