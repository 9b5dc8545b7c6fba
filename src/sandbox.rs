//! Local sandboxes of real `redis-server` / `valkey-server` processes on free 127.0.0.1 ports
//! in a temp dir: a primary `n1`, replicas `n2..`, optionally one replica chained under `n2`;
//! optionally a password, TLS-only servers (certificates made with `openssl`), protected configs
//! allowed locally; fault injection (kill, freeze/thaw, restart with old data) and the config
//! describing them. Every server runs from its own `redis.conf` (`<dir>/<node>/redis.conf`), so
//! a restart keeps its settings and what `CONFIG REWRITE` persisted. A running sandbox takes
//! faults from other processes through its control socket and keeps a state file
//! (`sandbox/control.rs`).
//!
//! Used by `redops sandbox`, `redops demo`, the drills, the benchmarks and every integration
//! test: it is the only way the project starts a real server. Every process is killed by PID and reaped on [`Sandbox::stop`], on drop and so on
//! panic; and when the owning process dies without running any of that (SIGKILL), a watchdog
//! child kills the servers it left (see `sandbox/watchdog.rs`). It never talks to anything but
//! loopback and never prints (the CLI does).

mod blackhole;
mod cluster;
mod cluster_load;
mod config_file;
mod control;
mod process;
mod ready;
mod sentinel;
mod tls;
mod watchdog;

pub use blackhole::Blackhole;
pub use cluster::{ClusterShape, CLUSTER_READY_TIMEOUT};
pub use cluster_load::ShardLoad;
pub use control::{
    find_running, read_state, send, ControlError, ControlServer, Exited, Fault, FaultDone,
    NodeState, State, CONTROL_SOCKET, DIR_PREFIX, STATE_FILE,
};
pub use process::{
    find_server_binary, free_port, log_tail, require_server_binary, server_version, ServerProcess,
    SERVER_BIN_ENV,
};
pub use ready::{probe, probe_node, ReplState, SANDBOX_CLIENT_NAME};
pub use sentinel::{DOWN_AFTER_MS, FAILOVER_TIMEOUT_MS};
pub use tls::TlsFiles;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::config::Config;
use process::Launch;
use watchdog::Watchdog;

/// How long [`Sandbox::start`] waits for every replica to be in sync.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// What to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Replicas of the primary (`n2..`).
    pub replicas: usize,
    /// One more replica, replicating from `n2` (needs at least one replica).
    pub chain: bool,
    /// The server binary; found by [`find_server_binary`] when `None`.
    pub server_bin: Option<PathBuf>,
    /// Appended to every server's command line (e.g. `--repl-timeout 5`).
    pub extra_args: Vec<String>,
    /// Appended to the primary's command line only, after `extra_args`.
    pub primary_args: Vec<String>,
    /// Node names in start order (the primary first); a node past the list is `n1`, `n2`, …
    /// by its position.
    pub names: Vec<String>,
    /// A password for the default user on every server (`requirepass`, and `masterauth` for
    /// the replicas); the sandbox's probes and its config use it.
    pub password: Option<String>,
    /// TLS-only servers: a CA, a server and a client certificate are made with `openssl` in
    /// `<dir>/tls` ([`Sandbox::tls`]); replication runs over TLS; client certificates are
    /// checked when presented but not required.
    pub tls: bool,
    /// `--enable-protected-configs local` (Redis 7.0+, where `CONFIG SET dir/dbfilename` is
    /// refused without it): what an operator sets so that the snapshot gate can save a server
    /// that has no persistence under a temporary name.
    pub protected_configs: bool,
    /// Name of the config group (and the master name sentinels know it by).
    pub group: String,
    /// Sentinels (`s1..`) monitoring the primary, written into the config as the group's
    /// `sentinel = {...}` (`sandbox/sentinel.rs`).
    pub sentinels: usize,
    /// Where the primary listens instead of a free loopback port: this port, on loopback and
    /// on this host (a restore's scratch server, which a remote node must reach).
    pub listen: Option<crate::config::Addr>,
    /// Arguments appended to one node's command line, by its name (after `extra_args`).
    pub node_args: Vec<(String, Vec<String>)>,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            replicas: 2,
            chain: false,
            server_bin: None,
            extra_args: Vec::new(),
            primary_args: Vec::new(),
            names: Vec::new(),
            password: None,
            tls: false,
            protected_configs: false,
            group: "sandbox".to_string(),
            sentinels: 0,
            listen: None,
            node_args: Vec::new(),
        }
    }
}

/// A sandbox problem, with a hint where one helps.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// No server binary to run.
    #[error("{message}\n  hint: {hint}")]
    NoServer { message: String, hint: String },
    /// A server could not be started; `log_tail` is the end of its log.
    #[error("cannot start '{node}': {message}{}", tail_suffix(log_tail))]
    Spawn {
        node: String,
        message: String,
        log_tail: String,
    },
    /// A server started but its replication did not come up in time.
    #[error("'{node}' is not in sync after {}s (last seen: {last_state})\n  hint: see its log in the sandbox dir", READY_TIMEOUT.as_secs())]
    NotReady { node: String, last_state: String },
    /// No node of that name.
    #[error("no node '{0}' in this sandbox\n  hint: nodes are named n1, n2, … in start order, unless the spec names them")]
    UnknownNode(String),
    /// The node's process is not running (killed, or exited).
    #[error("'{node}' is not running\n  hint: restart it first")]
    NotRunning { node: String },
    /// The servers started but did not form a healthy cluster in time.
    #[error("the sandbox cluster did not form: {0}\n  hint: see the nodes' logs (redis.log) in the sandbox dir")]
    Cluster(String),
    /// The spec asks for something impossible.
    #[error("{0}")]
    InvalidSpec(String),
    /// The watchdog that kills the servers if this process dies could not be run; no server
    /// is started without one.
    #[error("{message}\n  hint: the sandbox runs '/bin/sh' to kill its servers if redops is killed; check that it exists and is executable")]
    Watchdog { message: String },
    /// The TLS certificates could not be made.
    #[error("cannot make the sandbox's TLS certificates: {message}\n  hint: the sandbox runs 'openssl' to make them: `apt-get install openssl`")]
    Tls { message: String },
    /// A file or directory could not be made or written.
    #[error("cannot write '{path}': {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn tail_suffix(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("\nlast lines of its log:\n{}", tail.trim_end())
    }
}

impl SandboxError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The hint, for front-ends that print message and hint separately.
    #[must_use]
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::NoServer { hint, .. } => Some(hint),
            _ => None,
        }
    }

    /// The message without a [`hint`](Self::hint) that is returned separately.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Self::NoServer { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    fn is_port_in_use(&self) -> bool {
        matches!(self, Self::Spawn { log_tail, .. } if log_tail.contains("Address already in use"))
    }
}

/// A running sandbox. Owns its temp dir and every process in it.
#[derive(Debug)]
pub struct Sandbox {
    // Declared first: the processes are killed (by `Drop`) before the dir is removed.
    nodes: Vec<ServerProcess>,
    sentinels: Vec<ServerProcess>,
    // After the nodes: closed only once every server is reaped.
    watchdog: Arc<Watchdog>,
    spec: Spec,
    bin: PathBuf,
    version: Option<(String, String)>,
    tls: Option<TlsFiles>,
    /// The shape, when the servers form a Redis Cluster (`sandbox/cluster.rs`).
    cluster: Option<ClusterShape>,
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// Starts the primary `n1`, replicas `n2..=n(1+replicas)`, and with `chain` one more
    /// replica of `n2`; waits (at most [`READY_TIMEOUT`]) until every replica reports its link
    /// up and no sync in progress. Whatever was started is stopped again on error.
    ///
    /// First starts the watchdog (a `/bin/sh` child) that kills every server of this sandbox
    /// if this process dies without stopping them, e.g. by SIGKILL.
    ///
    /// # Errors
    /// No binary, no watchdog, a spawn failure (with the log tail), or replication not ready
    /// in time.
    pub async fn start(spec: &Spec) -> Result<Self, SandboxError> {
        if spec.chain && spec.replicas == 0 {
            return Err(SandboxError::InvalidSpec(
                "a chained replica needs at least one replica to hang from\n  hint: use --replicas 1 or more with --chain".into(),
            ));
        }
        let count = 1 + spec.replicas + usize::from(spec.chain);
        if spec.names.len() > count {
            return Err(SandboxError::InvalidSpec(format!(
                "{} names for {count} node(s)",
                spec.names.len()
            )));
        }
        let mut sb = Self::empty(spec)?;
        let name = |i: usize| {
            spec.names
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("n{}", i + 1))
        };
        let primary_args: Vec<&str> = spec.primary_args.iter().map(String::as_str).collect();
        sb.spawn_node(&name(0), None, &primary_args, spec.listen.as_ref())
            .await?;
        for i in 1..=spec.replicas {
            sb.spawn_node(&name(i), Some(&name(0)), &[], None).await?;
        }
        if spec.chain {
            sb.spawn_node(&name(spec.replicas + 1), Some(&name(1)), &[], None)
                .await?;
        }
        for node in &sb.nodes {
            if node.replica_of.is_some() {
                sb.wait_synced(&node.name, READY_TIMEOUT).await?;
            }
        }
        sb.start_sentinels().await?;
        Ok(sb)
    }

    /// A sandbox with no server yet: its temp dir, TLS files when asked, and the watchdog.
    fn empty(spec: &Spec) -> Result<Self, SandboxError> {
        let bin = find_server_binary(spec.server_bin.as_deref())?;
        let version = process::server_version(&bin);
        let dir = tempfile::Builder::new()
            .prefix(control::DIR_PREFIX)
            // Owner only: it holds the control socket, the password and every redis.conf.
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()
            .map_err(|e| SandboxError::io(&std::env::temp_dir(), e))?;
        let tls = if spec.tls {
            Some(TlsFiles::make(&dir.path().join("tls"))?)
        } else {
            None
        };
        let watchdog = Arc::new(Watchdog::start()?);
        Ok(Self {
            nodes: Vec::new(),
            sentinels: Vec::new(),
            watchdog,
            spec: spec.clone(),
            bin,
            version,
            tls,
            dir,
            cluster: None,
        })
    }

    async fn spawn_node(
        &mut self,
        name: &str,
        upstream: Option<&str>,
        extra: &[&str],
        listen: Option<&crate::config::Addr>,
    ) -> Result<&ServerProcess, SandboxError> {
        if self.node(name).is_some() {
            return Err(SandboxError::InvalidSpec(format!(
                "a node named '{name}' already exists"
            )));
        }
        let upstream_port = match upstream {
            Some(up) => Some(
                self.node(up)
                    .ok_or_else(|| SandboxError::UnknownNode(up.to_string()))?
                    .port,
            ),
            None => None,
        };
        let mut extra_args = self.spec.extra_args.clone();
        extra_args.extend(extra.iter().map(|s| (*s).to_string()));
        if let Some((_, own)) = self.spec.node_args.iter().find(|(n, _)| n == name) {
            extra_args.extend(own.iter().cloned());
        }
        let at_least_7 = self.is_at_least_redis_7();
        let launch = Launch {
            bin: self.bin.clone(),
            dir: self.dir.path().join(name),
            upstream_port,
            debug_command: at_least_7,
            protected_configs: self.spec.protected_configs && at_least_7,
            password: self.spec.password.clone(),
            tls: self.tls.clone(),
            extra_args,
            sentinel: None,
            listen: listen.cloned(),
        };
        let p = ServerProcess::spawn(
            name,
            launch,
            upstream.map(str::to_string),
            Arc::clone(&self.watchdog),
        )
        .await?;
        self.nodes.push(p);
        Ok(self.nodes.last().expect("just pushed"))
    }

    /// Starts `spec.sentinels` sentinels monitoring the primary (the first node) and waits
    /// until they know each other and the replicas.
    async fn start_sentinels(&mut self) -> Result<(), SandboxError> {
        let n = self.spec.sentinels;
        if n == 0 {
            return Ok(());
        }
        if self.tls.is_some() {
            return Err(SandboxError::InvalidSpec(
                "sandbox sentinels do not speak TLS\n  hint: use --sentinels without --tls".into(),
            ));
        }
        let primary_port = self.nodes.first().map_or(0, |p| p.port);
        let watch = sentinel::Watch {
            master_name: self.spec.group.clone(),
            primary_port,
            quorum: sentinel::quorum_for(n),
            auth_pass: self.spec.password.clone(),
        };
        for i in 1..=n {
            let name = format!("s{i}");
            let launch = Launch {
                bin: self.bin.clone(),
                dir: self.dir.path().join(&name),
                upstream_port: None,
                debug_command: false,
                protected_configs: false,
                password: None,
                tls: None,
                extra_args: Vec::new(),
                sentinel: Some(watch.clone()),
                listen: None,
            };
            let p = ServerProcess::spawn(&name, launch, None, Arc::clone(&self.watchdog)).await?;
            self.sentinels.push(p);
        }
        let addrs: Vec<_> = self
            .sentinels
            .iter()
            .map(|s| (s.name.clone(), s.addr()))
            .collect();
        sentinel::wait_ready(
            &addrs,
            &self.spec.group,
            self.spec.replicas as u64,
            READY_TIMEOUT,
        )
        .await
    }

    /// Every process: the data nodes, then the sentinels (what faults and the state file
    /// name).
    pub fn processes(&self) -> impl Iterator<Item = &ServerProcess> {
        self.nodes.iter().chain(&self.sentinels)
    }

    /// The sentinels (`s1..`), in start order; empty without `Spec::sentinels`.
    #[must_use]
    pub fn sentinels(&self) -> &[ServerProcess] {
        &self.sentinels
    }

    /// `--enable-debug-command` and `--enable-protected-configs` exist from Redis 7.0 (and in
    /// every Valkey); earlier versions refuse the unknown options, but allow DEBUG and have no
    /// protected configs anyway.
    fn is_at_least_redis_7(&self) -> bool {
        match &self.version {
            Some((product, v)) if product.eq_ignore_ascii_case("redis") => v
                .split('.')
                .next()
                .and_then(|m| m.parse::<u32>().ok())
                .is_none_or(|major| major >= 7),
            _ => true,
        }
    }

    /// Every node, in start order (`add_node` ones last).
    #[must_use]
    pub fn nodes(&self) -> &[ServerProcess] {
        &self.nodes
    }

    /// A node by name.
    #[must_use]
    pub fn node(&self, name: &str) -> Option<&ServerProcess> {
        self.nodes.iter().find(|n| n.name == name)
    }

    fn get(&self, name: &str) -> Result<&ServerProcess, SandboxError> {
        self.node(name)
            .or_else(|| self.sentinels.iter().find(|s| s.name == name))
            .ok_or_else(|| SandboxError::UnknownNode(name.to_string()))
    }

    /// The temp dir holding every node's directory and the config file.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// PID of the watchdog process, while one runs (from start until [`stop`](Self::stop)).
    #[must_use]
    pub fn watchdog_pid(&self) -> Option<u32> {
        self.watchdog.pid()
    }

    /// The shape, when the servers form a Redis Cluster.
    #[must_use]
    pub fn cluster_shape(&self) -> Option<ClusterShape> {
        self.cluster
    }

    /// The certificates, when the sandbox runs TLS-only servers.
    #[must_use]
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// The server binary in use.
    #[must_use]
    pub fn server_bin(&self) -> &Path {
        &self.bin
    }

    /// `"Redis 7.0.15"`, from `--version`, when it could be read.
    #[must_use]
    pub fn server_version(&self) -> Option<String> {
        self.version.as_ref().map(|(p, v)| format!("{p} {v}"))
    }

    /// One group named after the spec, every node (added ones too) as `127.0.0.1:PORT`,
    /// console defaults with the audit log and backups inside the sandbox dir.
    #[must_use]
    pub fn config(&self) -> Config {
        let mut config = config_file::build(
            &self.spec.group,
            self.nodes.iter().map(ServerProcess::node).collect(),
            self.dir(),
        );
        if !self.sentinels.is_empty() {
            config.groups[0].sentinel = Some(crate::config::Sentinel {
                addrs: self.sentinels.iter().map(ServerProcess::addr).collect(),
                master_name: self.spec.group.clone(),
            });
        }
        if self.cluster.is_some() {
            for g in &mut config.groups {
                g.cluster = true;
                // Every primary owns its own slots: there is no one preferred primary.
                g.preferred_primary = None;
            }
        }
        config
    }

    /// [`config`](Self::config) as a TOML file.
    #[must_use]
    pub fn config_toml(&self) -> String {
        let header = format!(
            "redops sandbox: {} local server(s) in {}.\nUse it with: redops --config <this file>",
            self.nodes.len(),
            self.dir().display()
        );
        let password_file = self.spec.password.as_ref().map(|_| self.password_file());
        config_file::to_toml(&self.config(), &header, password_file.as_deref())
    }

    /// Where [`write_config`](Self::write_config) puts the password, when there is one.
    fn password_file(&self) -> PathBuf {
        self.dir().join("password")
    }

    /// Writes [`config_toml`](Self::config_toml) to `<dir>/redops.toml`, and the password (when
    /// the sandbox has one) to the file it names, readable by its owner only.
    ///
    /// # Errors
    /// When a file cannot be written.
    pub fn write_config(&self) -> Result<PathBuf, SandboxError> {
        if let Some(pw) = &self.spec.password {
            write_private(&self.password_file(), pw.as_bytes())?;
        }
        let path = self.dir().join("redops.toml");
        std::fs::write(&path, self.config_toml()).map_err(|e| SandboxError::io(&path, e))?;
        Ok(path)
    }

    /// SIGKILL (after SIGCONT if frozen), then reap. Killing a node that is not running is
    /// not an error.
    ///
    /// # Errors
    /// An unknown name.
    pub fn kill(&mut self, name: &str) -> Result<(), SandboxError> {
        self.get(name)?.kill();
        Ok(())
    }

    /// SIGSTOP: the port still accepts connections but nothing answers.
    ///
    /// # Errors
    /// An unknown name, or a node that is not running.
    pub fn freeze(&self, name: &str) -> Result<(), SandboxError> {
        self.get(name)?.signal(Signal::SIGSTOP)
    }

    /// SIGCONT.
    ///
    /// # Errors
    /// An unknown name, or a node that is not running.
    pub fn thaw(&self, name: &str) -> Result<(), SandboxError> {
        self.get(name)?.signal(Signal::SIGCONT)
    }

    /// Starts a node again on the same port, in the same dir, with the same arguments (killing
    /// it first if it still runs). A killed primary comes back as a primary with its old
    /// `dump.rdb`: the "stale old master" drill. Waits until it answers `INFO` and has loaded
    /// its data (not until a replica is in sync: see [`wait_synced`](Self::wait_synced)).
    ///
    /// # Errors
    /// An unknown name, or a spawn failure (with the log tail).
    pub async fn restart(&mut self, name: &str) -> Result<(), SandboxError> {
        let node = self
            .nodes
            .iter_mut()
            .chain(self.sentinels.iter_mut())
            .find(|n| n.name == name)
            .ok_or_else(|| SandboxError::UnknownNode(name.to_string()))?;
        node.restart().await
    }

    /// Waits (bounded) until a node is a replica with its link up and no sync in progress.
    ///
    /// # Errors
    /// An unknown name, or [`SandboxError::NotReady`] with the last state seen.
    /// Then waits until its upstream (when it is a sandbox node) has reaped the fork child that produced the replica's RDB,
    /// so that a `SAVE` right after does not meet "Background save already in progress".
    pub async fn wait_synced(&self, name: &str, timeout: Duration) -> Result<(), SandboxError> {
        let node = self.get(name)?;
        let deadline = std::time::Instant::now() + timeout;
        let not_ready = |node: &str| {
            let node = node.to_string();
            move |last_state| SandboxError::NotReady { node, last_state }
        };
        let state = ready::wait_synced(&node.node(), timeout)
            .await
            .map_err(not_ready(name))?;
        let upstream = state
            .master_port
            .and_then(|port| self.nodes.iter().find(|n| n.port == port));
        if let Some(upstream) = upstream {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            ready::wait_no_fork(&upstream.node(), left)
                .await
                .map_err(not_ready(&upstream.name))?;
        }
        Ok(())
    }

    /// Starts one more standalone server (a primary of nothing) in the sandbox dir, with the
    /// spec's extra args plus `extra_args`; it is part of [`config`](Self::config) from then on.
    ///
    /// # Errors
    /// A name already in use, or a spawn failure.
    pub async fn add_node(
        &mut self,
        name: &str,
        extra_args: &[&str],
    ) -> Result<&ServerProcess, SandboxError> {
        self.spawn_node(name, None, extra_args, None).await
    }

    /// Kills every process (SIGCONT first if frozen, then SIGKILL) and reaps it, then closes
    /// and reaps the watchdog. Idempotent; also run on drop. A later restart or `add_node`
    /// starts a new watchdog.
    pub fn stop(&mut self) {
        for n in self.sentinels.iter().chain(&self.nodes) {
            n.kill();
        }
        let _ = self.watchdog.close();
    }
}

/// Writes a file readable by its owner only (a password, a `redis.conf` holding one).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SandboxError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| SandboxError::io(path, e))
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop();
    }
}

/// True while a process with this PID exists (signal 0): how a test or a report proves a
/// server it stopped is gone.
#[must_use]
pub fn pid_alive(pid: u32) -> bool {
    i32::try_from(pid).is_ok_and(|p| {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None::<Signal>).is_ok()
    })
}
