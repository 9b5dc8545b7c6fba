//! The action engine's only door to servers: the typed [`Command`]s it may send, the
//! [`RedisOps`] trait, and [`RealOps`], its implementation over [`NodeClient`].
//!
//! Unit tests drive the engine through a fake implementation (`ops::fake`); nothing else in
//! `ops` talks to the network. A command's `Display` is the exact text sent, and no command
//! carries a secret, so it can go to the audit log as is.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::{Addr, Config, Node};
use crate::info::Info;
use crate::node::{NodeClient, Timeouts};
use crate::observe::NodeError;

use super::error::{OpsError, OpsResult};
use super::plan::PlanNode;

/// The prefix of every action connection's client name; another console's run is detected
/// by it in `CLIENT LIST`.
pub const ACTION_CLIENT_PREFIX: &str = "redops-action";

/// Which part of `INFO` to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InfoSection {
    /// `INFO` (default sections: server, persistence, stats, replication, keyspace, ...).
    Default,
    Replication,
    Persistence,
}

/// A command the engine may send. `Display` is the exact text sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Info(InfoSection),
    /// `BGSAVE`, or `BGSAVE SCHEDULE` while an AOF rewrite runs.
    BgSave {
        schedule: bool,
    },
    LastSave,
    /// `REPLICAOF host port`, or `REPLICAOF NO ONE` for `None`.
    ReplicaOf(Option<Addr>),
    /// `CLIENT PAUSE ms [WRITE]`.
    ClientPause {
        ms: u64,
        write: bool,
    },
    ClientUnpause,
    /// `FAILOVER TO host port TIMEOUT ms [FORCE]` (on the primary).
    Failover {
        to: Addr,
        timeout_ms: u64,
        force: bool,
    },
    FailoverAbort,
    ConfigRewrite,
    ClientList,
    /// `CLIENT KILL ID id`: closes one of this run's own stale connections, so that a command
    /// that went unanswered on it can no longer reach the server (the engine's fence).
    ClientKill {
        id: u64,
    },
    /// `CONFIG GET name`: the reply is the value ([`Reply::Text`]), or [`Reply::Nil`] when the
    /// server does not know the setting.
    ConfigGet(ConfigParam),
    /// `CONFIG SET name value`. Only the settings of [`ConfigParam`] can be changed, and only
    /// the snapshot gate does it (a BGSAVE under another file name, put back at once).
    ConfigSet(ConfigParam, String),
    /// `SENTINEL RESET name`, sent to a sentinel (never to a data node): it forgets the
    /// master's replicas and the other sentinels, and finds them again. Sentinel reads the
    /// name as a glob pattern: its `*?[]\\` are sent escaped, so that it matches this master
    /// alone.
    SentinelReset(String),
    /// `CLUSTER FAILOVER` (default mode: the primary pauses its clients until the replica has
    /// its offset, then the replica wins an election), sent to the replica.
    ClusterFailover,
    /// `CLUSTER FAILOVER FORCE` (the replica does not wait for its primary, which is down; a
    /// majority of primaries still elects it) or `CLUSTER FAILOVER TAKEOVER` (no election: the
    /// replica bumps the epoch by itself), sent to the replica. Only a promotion sends them.
    ClusterFailoverForced {
        takeover: bool,
    },
    /// `CLUSTER NODES`: the node's view of the cluster, as text.
    ClusterNodes,
    /// `SENTINEL FAILOVER name [COORDINATED]`, sent to a sentinel: Sentinel promotes the
    /// replica it picks (the others' `replica-priority` set to 0 beforehand makes it the
    /// target). `COORDINATED` (Valkey 9+) has the primary pause and hand over itself.
    SentinelFailover {
        master: String,
        coordinated: bool,
    },
    /// `SENTINEL MASTER name`: the reply is `host port flags` as one text ([`Reply::Text`],
    /// the flags comma-separated, `failover_in_progress` among them while one runs), or
    /// [`Reply::Nil`] for a name the sentinel does not monitor.
    SentinelMaster(String),
    /// `SENTINEL CKQUORUM name`.
    SentinelCkquorum(String),
    /// `SENTINEL MASTER name`, read for what the sentinel knows of the master: the reply is
    /// `replicas N sentinels M` ([`Reply::Text`]: its `num-slaves` and `num-other-sentinels`),
    /// or [`Reply::Nil`] for a name it does not monitor (after `SENTINEL RESET`).
    SentinelKnows(String),
    /// `SENTINEL REPLICAS name`: the reply is one line per replica, `host:port priority
    /// refresh` (the `replica-priority` Sentinel last read from it, and how many milliseconds
    /// ago it read the replica's `INFO`; `?` when unknown).
    SentinelReplicas(String),
    /// A harmless form of a command, to learn before the first step whether the ACL allows
    /// it: the server checks the ACL first (`NOPERM`), then refuses the arguments. Never a
    /// role change.
    PermissionProbe(Probe),
}

/// The server settings the engine may read or change (a closed list, like the commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ConfigParam {
    /// `save`: the RDB save points (`""` = none).
    Save,
    /// `dbfilename`: the RDB file the server writes and loads at start.
    DbFilename,
    /// `masterauth`: the password a replica sends its primary (a restore's scratch server
    /// requires it). Its value is a secret: read with `RedisOps::send`, never journalled.
    MasterAuth,
    /// `masteruser`: the ACL user a replica authenticates to its primary as.
    MasterUser,
    /// `tls-replication`: a replica connects to its primary over TLS.
    TlsReplication,
    /// `repl-diskless-sync`: a full sync streams the RDB from the fork (read only).
    ReplDisklessSync,
    /// `repl-diskless-sync-delay`: seconds a diskless sync waits before it forks (read only).
    ReplDisklessSyncDelay,
    /// `replica-priority`: 0 means Sentinel never promotes the replica. Only a switchover
    /// through Sentinel changes it, and puts the old value back.
    ReplicaPriority,
}

impl ConfigParam {
    /// The setting's name as sent.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Save => "save",
            Self::DbFilename => "dbfilename",
            Self::MasterAuth => "masterauth",
            Self::MasterUser => "masteruser",
            Self::TlsReplication => "tls-replication",
            Self::ReplDisklessSync => "repl-diskless-sync",
            Self::ReplDisklessSyncDelay => "repl-diskless-sync-delay",
            Self::ReplicaPriority => "replica-priority",
        }
    }
}

/// The commands an action sends that have a harmless form (`CLIENT UNPAUSE`, `FAILOVER
/// ABORT`, `CONFIG REWRITE` and `SYNC` have none: no arguments to get wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Probe {
    /// `BGSAVE redops-acl-probe`: `ERR syntax error`.
    BgSave,
    /// `REPLICAOF redops-acl-probe redops-acl-probe`: a port that is not a number, refused by
    /// every version before anything changes. Not `-1`: 6.2 parses it as a port and *runs*
    /// the command (the node becomes a replica of `redops-acl-probe:-1`); 7.0 range-checks it.
    ReplicaOf,
    /// `CLIENT PAUSE redops-acl-probe WRITE`: `ERR timeout is not an integer …`.
    ClientPause,
    /// `FAILOVER TIMEOUT redops-acl-probe`: `ERR value is not an integer …`.
    Failover,
    /// `REPLCONF redops-acl-probe 1`: `ERR Unrecognized REPLCONF option`.
    Replconf,
}

impl Probe {
    /// The probe for a command the plan sends, when it has one.
    #[must_use]
    pub fn of(cmd: &Command) -> Option<Self> {
        match cmd {
            Command::BgSave { .. } => Some(Self::BgSave),
            Command::ReplicaOf(_) => Some(Self::ReplicaOf),
            Command::ClientPause { .. } => Some(Self::ClientPause),
            Command::Failover { .. } => Some(Self::Failover),
            _ => None,
        }
    }
}

impl Command {
    /// The command as arguments, ready to send.
    #[must_use]
    pub fn args(&self) -> Vec<String> {
        let s = |x: &str| x.to_string();
        match self {
            Self::Info(InfoSection::Default) => vec![s("INFO")],
            Self::Info(InfoSection::Replication) => vec![s("INFO"), s("replication")],
            Self::Info(InfoSection::Persistence) => vec![s("INFO"), s("persistence")],
            Self::BgSave { schedule: false } => vec![s("BGSAVE")],
            Self::BgSave { schedule: true } => vec![s("BGSAVE"), s("SCHEDULE")],
            Self::LastSave => vec![s("LASTSAVE")],
            Self::ReplicaOf(None) => vec![s("REPLICAOF"), s("NO"), s("ONE")],
            Self::ReplicaOf(Some(a)) => vec![s("REPLICAOF"), a.host.clone(), a.port.to_string()],
            Self::ClientPause { ms, write } => {
                let mut v = vec![s("CLIENT"), s("PAUSE"), ms.to_string()];
                if *write {
                    v.push(s("WRITE"));
                }
                v
            }
            Self::ClientUnpause => vec![s("CLIENT"), s("UNPAUSE")],
            Self::Failover {
                to,
                timeout_ms,
                force,
            } => {
                let mut v = vec![s("FAILOVER"), s("TO"), to.host.clone(), to.port.to_string()];
                if *force {
                    v.push(s("FORCE"));
                }
                v.push(s("TIMEOUT"));
                v.push(timeout_ms.to_string());
                v
            }
            Self::FailoverAbort => vec![s("FAILOVER"), s("ABORT")],
            Self::SentinelReset(name) => vec![s("SENTINEL"), s("RESET"), glob_literal(name)],
            Self::ClusterFailover => vec![s("CLUSTER"), s("FAILOVER")],
            Self::ClusterFailoverForced { takeover } => vec![
                s("CLUSTER"),
                s("FAILOVER"),
                s(if *takeover { "TAKEOVER" } else { "FORCE" }),
            ],
            Self::ClusterNodes => vec![s("CLUSTER"), s("NODES")],
            Self::SentinelFailover {
                master,
                coordinated,
            } => {
                let mut v = vec![s("SENTINEL"), s("FAILOVER"), master.clone()];
                if *coordinated {
                    v.push(s("COORDINATED"));
                }
                v
            }
            Self::SentinelMaster(m) => vec![s("SENTINEL"), s("MASTER"), m.clone()],
            Self::SentinelCkquorum(m) => vec![s("SENTINEL"), s("CKQUORUM"), m.clone()],
            Self::SentinelKnows(m) => vec![s("SENTINEL"), s("MASTER"), m.clone()],
            Self::SentinelReplicas(m) => vec![s("SENTINEL"), s("REPLICAS"), m.clone()],
            Self::ConfigRewrite => vec![s("CONFIG"), s("REWRITE")],
            Self::ClientList => vec![s("CLIENT"), s("LIST")],
            Self::ClientKill { id } => vec![s("CLIENT"), s("KILL"), s("ID"), id.to_string()],
            Self::ConfigGet(p) => vec![s("CONFIG"), s("GET"), s(p.as_str())],
            Self::ConfigSet(p, v) => vec![s("CONFIG"), s("SET"), s(p.as_str()), v.clone()],
            Self::PermissionProbe(p) => {
                const TAG: &str = "redops-acl-probe";
                match p {
                    Probe::BgSave => vec![s("BGSAVE"), s(TAG)],
                    Probe::ReplicaOf => vec![s("REPLICAOF"), s(TAG), s(TAG)],
                    Probe::ClientPause => vec![s("CLIENT"), s("PAUSE"), s(TAG), s("WRITE")],
                    Probe::Failover => vec![s("FAILOVER"), s("TIMEOUT"), s(TAG)],
                    Probe::Replconf => vec![s("REPLCONF"), s(TAG), s("1")],
                }
            }
        }
    }

    /// True for commands that change a role or pause writes (DESIGN invariant 1).
    #[must_use]
    pub fn is_role_change(&self) -> bool {
        matches!(
            self,
            Self::ReplicaOf(_)
                | Self::ClientPause { .. }
                | Self::Failover { .. }
                | Self::FailoverAbort
                | Self::ClusterFailover
                | Self::ClusterFailoverForced { .. }
                | Self::SentinelFailover { .. }
                | Self::ConfigSet(ConfigParam::ReplicaPriority, _)
        )
    }
}

/// `name` as a glob pattern that matches only itself (Redis's `stringmatchlen`: a backslash
/// makes the next character literal).
fn glob_literal(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.args().join(" "))
    }
}

impl Serialize for Command {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// What a server answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A status or bulk text (`OK`, `Background saving started`, `CLIENT LIST` text ...).
    Text(String),
    Int(i64),
    Nil,
    /// A parsed `INFO` reply.
    Info(Box<Info>),
}

impl Reply {
    /// The text, for status and bulk replies.
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t),
            _ => None,
        }
    }

    /// True when the reply is `OK` (or starts with it, like `OK Already connected ...`).
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.text().is_some_and(|t| t.starts_with("OK"))
    }

    /// The parsed INFO, for `INFO` replies.
    #[must_use]
    pub fn info(&self) -> Option<&Info> {
        match self {
            Self::Info(i) => Some(i),
            _ => None,
        }
    }

    /// A one-line summary for the audit log (INFO replies are summarised, not copied).
    #[must_use]
    pub fn summary(&self) -> String {
        match self {
            Self::Text(t) => super::summary::clip(t, 200),
            Self::Int(i) => i.to_string(),
            Self::Nil => "(nil)".to_string(),
            Self::Info(i) => super::summary::info_line(i),
        }
    }
}

/// What an RDB download produced (filled by the RDB download module).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DownloadSummary {
    pub path: PathBuf,
    pub bytes: u64,
    /// CRC64 verified (false only when the file says `rdbchecksum no`).
    pub crc_ok: bool,
    pub detail: String,
}

/// A scratch server to start for a restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScratchRequest {
    pub rdb: PathBuf,
    pub listen: Addr,
    /// The version that wrote the file: the scratch server's major version matches it where
    /// a binary is found.
    pub source_version: Option<String>,
    /// The binary asked for; else `$REDOPS_SERVER_BIN`, then `PATH` (as `backup verify`).
    pub server_bin: Option<PathBuf>,
    /// The node's `masterauth`: the scratch server requires it, so that the node's `AUTH`
    /// succeeds (a replica with `masterauth` set cannot sync from a server without one).
    pub password: Option<crate::config::Secret>,
}

/// A scratch server that runs, loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScratchStarted {
    #[serde(serialize_with = "ser_addr")]
    pub addr: Addr,
    pub pid: u32,
    /// `Redis 7.0.15`, or the binary's path.
    pub server: String,
    pub loaded: Vec<crate::node::rdb::DbCount>,
    pub load_ms: u64,
}

fn ser_addr<S: serde::Serializer>(a: &Addr, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&a.to_string())
}

/// The engine's only way to reach servers.
///
/// Implementations must bound every call by a timeout and never block the caller longer.
pub trait RedisOps: Sync {
    /// Sends one command to one node.
    fn send(
        &self,
        node: &PlanNode,
        cmd: &Command,
    ) -> impl Future<Output = Result<Reply, NodeError>> + Send;

    /// Downloads the node's RDB over the replication protocol into `dest` and verifies it,
    /// the transfer ending within `budget`, telling `progress` how it goes (see
    /// [`rdb::Progress`](crate::node::rdb::Progress)). The hook the engine calls before a node
    /// holding data is `REPLICAOF`'d.
    fn download_rdb(
        &self,
        node: &PlanNode,
        dest: &Path,
        budget: Duration,
        progress: crate::node::rdb::Progress<'_>,
    ) -> impl Future<Output = OpsResult<DownloadSummary>> + Send {
        let _ = (node, dest, budget, progress);
        async {
            Err(OpsError::failed(
                "RDB download is not available in this build",
            ))
        }
    }

    /// Starts the restore's scratch server, loaded with the file (checked first); at most one
    /// at a time. It is stopped by [`stop_scratch`](Self::stop_scratch), and when the
    /// implementation is dropped.
    fn start_scratch(
        &self,
        req: &ScratchRequest,
    ) -> impl Future<Output = OpsResult<ScratchStarted>> + Send {
        let _ = req;
        async {
            Err(OpsError::failed(
                "a scratch server is not available in this build",
            ))
        }
    }

    /// `INFO` (default sections) of the running scratch server.
    fn scratch_info(&self) -> impl Future<Output = Result<Info, NodeError>> + Send {
        async { Err(NodeError::Other("no scratch server".to_string())) }
    }

    /// Stops the scratch server by PID; returns the PID it had (`None`: none ran) and whether
    /// that process is gone.
    fn stop_scratch(&self) -> impl Future<Output = Option<(u32, bool)>> + Send {
        async { None }
    }

    /// The client name this implementation's connections carry (excluded from the lock check).
    fn client_name(&self) -> &str;

    /// Whether the node's ACL lets this connection run the command `probe` stands for:
    /// `Err(NodeError::NoPerm)` only when the server said so; any other answer (including no
    /// answer) is `Ok`, the run's own reads deal with it. An implementation that cannot tell
    /// (fakes, test wrappers) grants everything, which is the default.
    fn probe(
        &self,
        node: &PlanNode,
        probe: Probe,
    ) -> impl Future<Output = Result<(), NodeError>> + Send {
        let _ = (node, probe);
        async { Ok(()) }
    }
}

/// `redops-action:<user>@<host>:<pid>`, with anything a client name cannot hold replaced.
#[must_use]
pub fn action_client_name(user: &str, host: &str, pid: u32) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!(
        "{ACTION_CLIENT_PREFIX}:{}@{}:{pid}",
        clean(user),
        clean(host)
    )
}

/// The name a sentinel carries as a plan node (never a configured node's: it has a space).
#[must_use]
pub fn sentinel_node_name(addr: &Addr) -> String {
    format!("sentinel {addr}")
}

/// [`RedisOps`] over real connections: one [`NodeClient`] per node, named
/// [`action_client_name`], with the console's connect and read timeouts.
pub struct RealOps {
    clients: HashMap<String, tokio::sync::Mutex<NodeClient>>,
    name: String,
    /// The group's name: downloads land in `<dest>/<group>/<node>/`.
    group: String,
    /// The configured backups directory: a download made elsewhere is recorded in its
    /// catalog file, so that `backup list` finds it.
    backups_dir: PathBuf,
    timeouts: Timeouts,
    /// A restore's scratch server and this run's connection to it.
    scratch: tokio::sync::Mutex<Option<(crate::backup::Scratch, NodeClient)>>,
}

impl fmt::Debug for RealOps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RealOps")
            .field("nodes", &self.clients.keys().collect::<Vec<_>>())
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl RealOps {
    /// Clients for every node of group `group` (nothing is connected until first use).
    ///
    /// # Errors
    /// A node whose client cannot be prepared (unreadable CA file ...).
    pub fn new(config: &Config, group: usize, client_name: &str) -> Result<Self, NodeError> {
        let timeouts = Timeouts::from(&config.console);
        let mut clients = HashMap::new();
        for node in config
            .groups
            .get(group)
            .map(|g| g.nodes.as_slice())
            .unwrap_or_default()
        {
            clients.insert(
                node.name.clone(),
                tokio::sync::Mutex::new(NodeClient::new(node, timeouts, client_name)?),
            );
        }
        // A group watched by Sentinel: its sentinels too, under their plan names.
        if let Some(s) = config.groups.get(group).and_then(|g| g.sentinel.as_ref()) {
            for addr in &s.addrs {
                let node = crate::sentinel::poll::as_node(addr);
                clients.insert(
                    sentinel_node_name(addr),
                    tokio::sync::Mutex::new(NodeClient::new(&node, timeouts, client_name)?),
                );
            }
        }
        Ok(Self {
            clients,
            name: client_name.to_string(),
            group: config
                .groups
                .get(group)
                .map(|g| g.name.clone())
                .unwrap_or_default(),
            backups_dir: config.console.backups_dir.clone(),
            timeouts,
            scratch: tokio::sync::Mutex::new(None),
        })
    }

    /// The configured node behind a plan node.
    async fn node_config(&self, node: &PlanNode) -> Option<Node> {
        let c = self.clients.get(&node.name)?;
        Some(c.lock().await.node().clone())
    }
}

fn to_reply(v: redis::Value) -> Reply {
    match v {
        redis::Value::Nil => Reply::Nil,
        redis::Value::Int(i) => Reply::Int(i),
        redis::Value::Okay => Reply::Text("OK".to_string()),
        redis::Value::SimpleString(s) => Reply::Text(s),
        redis::Value::BulkString(b) => Reply::Text(String::from_utf8_lossy(&b).into_owned()),
        redis::Value::VerbatimString { text, .. } => Reply::Text(text),
        other => Reply::Text(format!("{other:?}")),
    }
}

/// `SENTINEL MASTER`'s field list as `host port flags` (flags comma-separated, `failover_in_progress`
/// added while its failover state is not `none`), or its shape error as text.
fn master_reply(v: &redis::Value) -> Reply {
    match crate::sentinel::reply::master(v) {
        Ok(m) => {
            let mut flags = m.flags.clone();
            if m.failover_in_progress() && !m.has_flag("failover_in_progress") {
                flags.push("failover_in_progress".to_string());
            }
            let addr = m
                .addr
                .as_ref()
                .map_or_else(|| "? ?".to_string(), |a| format!("{} {}", a.host, a.port));
            Reply::Text(format!("{addr} {}", flags.join(",")))
        }
        Err(e) => Reply::Text(format!("unreadable SENTINEL MASTER reply: {e}")),
    }
}

/// `SENTINEL MASTER`'s field list as `replicas N sentinels M`, or its shape error as text.
fn knows_reply(v: &redis::Value) -> Reply {
    match crate::sentinel::reply::master(v) {
        Ok(m) => Reply::Text(format!(
            "replicas {} sentinels {}",
            m.num_replicas
                .map_or_else(|| "?".to_string(), |n| n.to_string()),
            m.num_other_sentinels
                .map_or_else(|| "?".to_string(), |n| n.to_string())
        )),
        Err(e) => Reply::Text(format!("unreadable SENTINEL MASTER reply: {e}")),
    }
}

impl RedisOps for RealOps {
    async fn send(&self, node: &PlanNode, cmd: &Command) -> Result<Reply, NodeError> {
        let Some(client) = self.clients.get(&node.name) else {
            return Err(NodeError::Other(format!(
                "node '{}' is not part of this group",
                node.name
            )));
        };
        let mut rcmd = redis::Cmd::new();
        for a in cmd.args() {
            rcmd.arg(a);
        }
        let mut client = client.lock().await;
        if let Command::Info(_) = cmd {
            // Bytes, parsed lossily (node/reply.rs); the size is bounded while reading.
            let v: redis::Value = client.query(&rcmd).await?;
            return Ok(Reply::Info(Box::new(crate::node::reply::info(v)?)));
        }
        if let Command::SentinelMaster(_) | Command::SentinelKnows(_) = cmd {
            return match client.query::<redis::Value>(&rcmd).await {
                Err(NodeError::Reply(m)) if crate::sentinel::reply::is_unknown_master(&m) => {
                    Ok(Reply::Nil)
                }
                Err(e) => Err(e),
                Ok(v) if matches!(cmd, Command::SentinelKnows(_)) => Ok(knows_reply(&v)),
                Ok(v) => Ok(master_reply(&v)),
            };
        }
        if let Command::SentinelReplicas(_) = cmd {
            let v: redis::Value = client.query(&rcmd).await?;
            let list = crate::sentinel::reply::replicas(&v)
                .map_err(|e| NodeError::Other(e.to_string()))?;
            let lines: Vec<String> = list
                .iter()
                .filter_map(|r| {
                    let a = r.addr.as_ref()?;
                    let or_unknown =
                        |v: Option<u64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
                    Some(format!(
                        "{a} {} {}",
                        or_unknown(r.priority),
                        or_unknown(r.info_refresh_ms)
                    ))
                })
                .collect();
            return Ok(Reply::Text(lines.join("\n")));
        }
        if let Command::ConfigGet(_) = cmd {
            // `[name, value]`, or an empty array for a setting the server does not have.
            let pair: Vec<String> = client.query(&rcmd).await?;
            return Ok(pair.into_iter().nth(1).map_or(Reply::Nil, Reply::Text));
        }
        let v: redis::Value = client.query(&rcmd).await?;
        Ok(to_reply(v))
    }

    async fn download_rdb(
        &self,
        node: &PlanNode,
        dest: &Path,
        budget: Duration,
        progress: crate::node::rdb::Progress<'_>,
    ) -> OpsResult<DownloadSummary> {
        let (Some(cfg), Some(client)) =
            (self.node_config(node).await, self.clients.get(&node.name))
        else {
            return Err(OpsError::usage(format!(
                "node '{}' is not part of this group",
                node.name
            )));
        };
        let timeouts = client.lock().await.timeouts();
        let backup = crate::node::rdb::backup_with_progress(
            &cfg,
            &self.group,
            timeouts,
            dest,
            budget,
            progress,
        );
        match backup.await {
            Ok(b) => {
                let mut detail = b.summary();
                // The download stands; only the listing would miss it.
                if let Err(e) = crate::backup::catalog::record(&self.backups_dir, &b.manifest_path)
                {
                    detail.push_str(&format!(" (not recorded in the backup catalog: {e})"));
                }
                Ok(DownloadSummary {
                    path: b.rdb.clone(),
                    bytes: b.manifest.bytes,
                    crc_ok: b.check.crc.is_verified(),
                    detail,
                })
            }
            Err(e) => Err(OpsError::failed(e.to_string()).with_hint(e.hint())),
        }
    }

    async fn start_scratch(&self, req: &ScratchRequest) -> OpsResult<ScratchStarted> {
        let mut slot = self.scratch.lock().await;
        if slot.is_some() {
            return Err(OpsError::failed(
                "a scratch server already runs for this action",
            ));
        }
        let s = crate::backup::start_scratch(
            &req.rdb,
            req.source_version.clone(),
            req.server_bin.as_deref(),
            Some(&req.listen),
            req.password.as_ref(),
        )
        .await
        .map_err(|e| OpsError::failed(e.to_string()).with_hint(e.hint()))?;
        let client = NodeClient::new(&s.node, self.timeouts, &self.name)
            .map_err(|e| OpsError::failed(format!("cannot reach the scratch server: {e}")))?;
        let started = ScratchStarted {
            addr: req.listen.clone(),
            pid: s.pid,
            server: s
                .server
                .version
                .clone()
                .unwrap_or_else(|| s.server.bin.display().to_string()),
            loaded: s.loaded.clone(),
            load_ms: u64::try_from(s.load_time.as_millis()).unwrap_or(u64::MAX),
        };
        *slot = Some((s, client));
        Ok(started)
    }

    async fn scratch_info(&self) -> Result<Info, NodeError> {
        let mut slot = self.scratch.lock().await;
        let Some((_, client)) = slot.as_mut() else {
            return Err(NodeError::Other("no scratch server runs".to_string()));
        };
        client.info().await.map(|(i, _)| i)
    }

    async fn stop_scratch(&self) -> Option<(u32, bool)> {
        let (s, client) = self.scratch.lock().await.take()?;
        drop(client);
        let pid = s.pid;
        s.stop();
        Some((pid, !crate::sandbox::pid_alive(pid)))
    }

    fn client_name(&self) -> &str {
        &self.name
    }

    async fn probe(&self, node: &PlanNode, probe: Probe) -> Result<(), NodeError> {
        match self.send(node, &Command::PermissionProbe(probe)).await {
            Err(e @ NodeError::NoPerm(_)) => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Command, Probe};

    /// A probe must be refused for its arguments by every version, after the ACL check: the
    /// `REPLICAOF` probe's port is not a number (6.2 takes `-1` as a port and demotes the node).
    #[test]
    fn probes_never_carry_a_number_a_server_could_act_on() {
        for p in [
            Probe::BgSave,
            Probe::ReplicaOf,
            Probe::ClientPause,
            Probe::Failover,
            Probe::Replconf,
        ] {
            let args = Command::PermissionProbe(p).args();
            assert!(!Command::PermissionProbe(p).is_role_change(), "{args:?}");
            if p == Probe::ReplicaOf {
                assert_eq!(args.len(), 3, "{args:?}");
                assert!(args[2].parse::<i64>().is_err(), "{args:?}");
                assert!(!args[1].eq_ignore_ascii_case("no"), "{args:?}");
            }
        }
    }

    /// `SENTINEL RESET` takes a glob: a master name with `*` in it must not reset the others.
    #[test]
    fn a_sentinel_reset_matches_its_master_name_alone() {
        let args = Command::SentinelReset("cache*[1]?\\x".to_string()).args();
        assert_eq!(args[2], "cache\\*\\[1\\]\\?\\\\x");
        assert_eq!(Command::SentinelReset("m-1".into()).args()[2], "m-1");
    }
}
