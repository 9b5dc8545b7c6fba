//! Talking to one Redis/Valkey server: one reused async connection, a connect timeout and a
//! read timeout on every command, AUTH (ACL user + password), TLS with a CA file and an
//! optional client certificate, every reply capped while it is read (`node/stream.rs`) and read
//! as bytes (`node/reply.rs`), and errors classified for the operator ([`NodeError`]).
//!
//! A node that accepts TCP and never answers costs its caller one timeout and nothing else:
//! the connection is dropped after any timeout or I/O error and re-made on the next call.

pub mod rdb;
pub mod reply;
pub mod stream;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisConnectionInfo};

use crate::config::{Console, Node};
use crate::info::Info;
use crate::observe::NodeError;

/// Connect and read timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub read: Duration,
}

impl From<&Console> for Timeouts {
    fn from(c: &Console) -> Self {
        Self {
            connect: c.connect_timeout,
            read: c.timeout,
        }
    }
}

/// The longest INFO reply accepted (a node with thousands of databases prints ~700 KB).
/// Enforced while reading, on every reply of a node connection ([`stream::Capped`]).
pub const MAX_INFO_BYTES: usize = 4 * 1024 * 1024;
/// The cap on one reply: an INFO of [`MAX_INFO_BYTES`] plus its RESP framing.
pub const MAX_REPLY_BYTES: usize = MAX_INFO_BYTES + 64;

/// How long a `CONFIG GET save` answer is trusted. The setting changes at runtime (`CONFIG SET
/// save ""` on a live primary) without a reconnect, and a primary that stops persisting must
/// show as such within about this long, plus one poll.
pub const SAVE_CONFIG_MAX_AGE: Duration = Duration::from_secs(5);

/// The sections redops reads, asked by name once the server is known to be 7.0+ (several
/// sections per call only work from 7.0, REDIS.md §1.1); before that, plain `INFO`.
const INFO_SECTIONS: [&str; 7] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "keyspace",
];

/// A live connection: the driver task is aborted (and the socket closed) when it is dropped,
/// even while a frozen server leaves a reply pending (redis-rs issue 1236).
struct Live {
    conn: MultiplexedConnection,
    driver: tokio::task::AbortHandle,
    /// Set when a reply passed [`MAX_REPLY_BYTES`] and the stream refused it.
    over_cap: Arc<AtomicBool>,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// A client for one node. Not shared between tasks: each poller task owns one.
pub struct NodeClient {
    node: Node,
    redis_info: RedisConnectionInfo,
    tls: Option<tokio_native_tls::TlsConnector>,
    timeouts: Timeouts,
    client_name: String,
    conn: Option<Live>,
    /// `CONFIG GET save`, fetched once per connection (`Some(None)`: not allowed or unknown).
    save_config: Option<(Instant, Option<String>)>,
    /// Ask `INFO` by section: a reply on this connection showed 7.0+.
    info_by_section: bool,
}

impl std::fmt::Debug for NodeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeClient")
            .field("node", &self.node.name)
            .field("addr", &self.node.addr.to_string())
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl NodeClient {
    /// Prepares a client; nothing is sent until the first command.
    ///
    /// # Errors
    /// [`NodeError::Tls`] when the CA file cannot be read, [`NodeError::Other`] for a client
    /// configuration the driver refuses.
    pub fn new(node: &Node, timeouts: Timeouts, client_name: &str) -> Result<Self, NodeError> {
        let mut redis_info = RedisConnectionInfo::default().set_skip_set_lib_name();
        if let Some(user) = &node.username {
            redis_info = redis_info.set_username(user);
        }
        if let Some(pw) = &node.password {
            redis_info = redis_info.set_password(pw.expose());
        }
        let tls = match &node.tls {
            None => None,
            Some(t) => Some(stream::tls_connector(t).map_err(NodeError::Tls)?),
        };
        Ok(Self {
            node: node.clone(),
            redis_info,
            tls,
            timeouts,
            client_name: client_name.to_string(),
            conn: None,
            save_config: None,
            info_by_section: false,
        })
    }

    /// The node this client talks to.
    #[must_use]
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The timeouts in force.
    #[must_use]
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Drops the connection; the next command reconnects.
    pub fn disconnect(&mut self) {
        self.conn = None;
        self.save_config = None;
        self.info_by_section = false;
    }

    /// TCP (and TLS) within the connect timeout, then the driver's handshake (AUTH) within
    /// the read timeout, over a stream that caps every reply while reading it.
    async fn open(&self) -> Result<Live, NodeError> {
        let (connect, read) = (self.timeouts.connect, self.timeouts.read);
        let raw = match tokio::time::timeout(
            connect,
            stream::connect(&self.node.addr, self.tls.as_ref()),
        )
        .await
        {
            Err(_) => return Err(NodeError::Unresponsive(connect)),
            Ok(Err(stream::ConnectError::Io(e))) => return Err(classify(&e.into(), connect)),
            Ok(Err(stream::ConnectError::Tls(m))) => return Err(NodeError::Tls(m)),
            Ok(Ok(s)) => s,
        };
        let over_cap = Arc::new(AtomicBool::new(false));
        let capped = stream::Capped::new(raw, MAX_REPLY_BYTES, over_cap.clone());
        let cfg = AsyncConnectionConfig::new().set_response_timeout(Some(read));
        let (conn, driver) = match tokio::time::timeout(
            read,
            MultiplexedConnection::new_with_config(&self.redis_info, capped, cfg),
        )
        .await
        {
            Err(_) => return Err(NodeError::Unresponsive(read)),
            Ok(Err(e)) => return Err(first_exchange(classify(&e, read), self.tls.is_some())),
            Ok(Ok(c)) => c,
        };
        let driver = tokio::spawn(driver).abort_handle();
        Ok(Live {
            conn,
            driver,
            over_cap,
        })
    }

    async fn connection(&mut self) -> Result<MultiplexedConnection, NodeError> {
        if let Some(live) = &self.conn {
            return Ok(live.conn.clone());
        }
        let live = self.open().await?;
        let mut conn = live.conn.clone();
        // Visible in CLIENT LIST; a user without +client|setname still polls fine.
        let name_cmd = redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(&self.client_name)
            .clone();
        match tokio::time::timeout(self.timeouts.read, name_cmd.query_async::<()>(&mut conn)).await
        {
            Err(_) => return Err(NodeError::Unresponsive(self.timeouts.read)),
            Ok(Err(e)) if is_fatal_to_connection(&e) => {
                return Err(first_exchange(
                    classify(&e, self.timeouts.read),
                    self.tls.is_some(),
                ))
            }
            Ok(_) => {}
        }
        self.conn = Some(live);
        // A new connection may be a restarted (upgraded or downgraded) server.
        self.save_config = None;
        self.info_by_section = false;
        Ok(conn)
    }

    /// Runs one command with the read timeout. Any timeout or I/O error drops the
    /// connection so a late reply can never be taken for the next command's.
    ///
    /// # Errors
    /// The classified failure.
    pub async fn query<T: redis::FromRedisValue>(
        &mut self,
        cmd: &redis::Cmd,
    ) -> Result<T, NodeError> {
        self.query_with_timeout(cmd, self.timeouts.read).await
    }

    /// As [`query`](Self::query) with a specific read timeout (for commands known to be slow).
    ///
    /// # Errors
    /// The classified failure.
    pub async fn query_with_timeout<T: redis::FromRedisValue>(
        &mut self,
        cmd: &redis::Cmd,
        timeout: Duration,
    ) -> Result<T, NodeError> {
        self.query_unhinted(cmd, timeout)
            .await
            .map_err(|e| match e {
                NodeError::Auth(m) if self.node.password.is_none() => NodeError::Auth(format!(
                    "{m} (no credentials were sent to this address: none are configured for \
                     it, or --discover found it; --discover-auth sends them to discovered nodes)"
                )),
                other => other,
            })
    }

    async fn query_unhinted<T: redis::FromRedisValue>(
        &mut self,
        cmd: &redis::Cmd,
        timeout: Duration,
    ) -> Result<T, NodeError> {
        self.query_checked(cmd, timeout).await.map_err(|f| f.error)
    }

    /// As [`query_with_timeout`](Self::query_with_timeout) without the credentials hint,
    /// saying also whether the server closed a connection that was already open (see
    /// [`Failure::closed_by_server`]).
    async fn query_checked<T: redis::FromRedisValue>(
        &mut self,
        cmd: &redis::Cmd,
        timeout: Duration,
    ) -> Result<T, Failure> {
        let reused = self.conn.is_some();
        let mut conn = self.connection().await.map_err(Failure::new)?;
        match tokio::time::timeout(timeout, cmd.query_async::<T>(&mut conn)).await {
            Err(_) => {
                self.conn = None;
                Err(Failure::new(NodeError::Unresponsive(timeout)))
            }
            Ok(Err(e)) => {
                let over_cap = self
                    .conn
                    .as_ref()
                    .is_some_and(|l| l.over_cap.load(Ordering::Relaxed));
                if over_cap || is_fatal_to_connection(&e) {
                    self.conn = None;
                }
                if over_cap {
                    return Err(Failure::new(NodeError::Other(format!(
                        "reply over the {MAX_REPLY_BYTES} byte limit: refused while reading \
                         (an INFO this large means very many databases, or not a Redis server)"
                    ))));
                }
                Err(Failure {
                    error: classify(&e, timeout),
                    closed_by_server: reused && is_closed_by_peer(&e),
                })
            }
            Ok(Ok(v)) => Ok(v),
        }
    }

    /// `INFO`, parsed. Returns the round-trip time too. The first call on a connection sends
    /// plain `INFO` (default sections); once that shows Redis 7.0+ or Valkey, later calls ask
    /// only the sections redops reads (server, clients, memory, persistence, stats,
    /// replication, keyspace), so `Info::raw` then holds those.
    ///
    /// # Errors
    /// The classified failure, or [`NodeError::Other`] for an oversized reply.
    ///
    /// A connection the server closed since the last call (`CLIENT KILL`, as Sentinel does to
    /// every normal client during a failover, or `timeout` idle clients) is re-made and INFO
    /// asked again once before the failure counts: the node answered a new connection, so it
    /// is not down. A refused reconnection is a real failure (a dead server resets its open
    /// connections too).
    pub async fn info(&mut self) -> Result<(Info, Duration), NodeError> {
        let r = match self.info_once().await {
            Err(f) if f.closed_by_server => {
                self.disconnect();
                self.info_once().await
            }
            r => r,
        };
        r.map_err(|f| match f.error {
            NodeError::Auth(m) if self.node.password.is_none() => NodeError::Auth(format!(
                "{m} (no credentials were sent to this address: none are configured for it, or \
                 --discover found it; --discover-auth sends them to discovered nodes)"
            )),
            other => other,
        })
    }

    async fn info_once(&mut self) -> Result<(Info, Duration), Failure> {
        // Connect first: a new connection forgets what the old one learnt about the server.
        let reused = self.conn.is_some();
        self.connection().await.map_err(Failure::new)?;
        let start = Instant::now();
        // As a value, not a String: INFO may hold any byte (reply.rs).
        let v: redis::Value = match self
            .query_checked(info_cmd(self.info_by_section), self.timeouts.read)
            .await
        {
            Ok(v) => v,
            Err(f) => {
                return Err(Failure {
                    closed_by_server: reused && f.closed_by_server,
                    ..f
                })
            }
        };
        let rtt = start.elapsed();
        let mut info = reply::info(v).map_err(Failure::new)?;
        self.info_by_section = info.server.at_least(7, 0);
        let reread = match &self.save_config {
            None => true,
            // A refusal is asked again only on a new connection: each lands in the ACL log.
            Some((_, None)) => false,
            Some((at, Some(_))) => at.elapsed() >= SAVE_CONFIG_MAX_AGE,
        };
        if reread {
            let cmd = redis::cmd("CONFIG").arg("GET").arg("save").clone();
            let got: Result<Vec<String>, NodeError> = self.query(&cmd).await;
            let value = match got {
                Ok(v) => v.get(1).cloned(),
                // Timeouts count as failures of this poll; refusals mean "unknown".
                Err(e @ NodeError::Unresponsive(_)) => return Err(Failure::new(e)),
                Err(_) => None,
            };
            self.save_config = Some((Instant::now(), value));
        }
        info.persistence.save_config = self.save_config.as_ref().and_then(|(_, v)| v.clone());
        if info.server.mode.as_deref() == Some("cluster") {
            info.cluster = Some(std::sync::Arc::new(crate::cluster::read(self).await));
        }
        Ok((info, rtt))
    }
}

/// `INFO`, plain or by section; built once per process (a poll a second per node would
/// otherwise grow a fresh command argument by argument every time).
fn info_cmd(by_section: bool) -> &'static redis::Cmd {
    static PLAIN: OnceLock<redis::Cmd> = OnceLock::new();
    static SECTIONS: OnceLock<redis::Cmd> = OnceLock::new();
    if by_section {
        SECTIONS.get_or_init(|| {
            let mut cmd = redis::cmd("INFO");
            for section in INFO_SECTIONS {
                cmd.arg(section);
            }
            cmd
        })
    } else {
        PLAIN.get_or_init(|| redis::cmd("INFO"))
    }
}

/// A failed call, and whether the server closed the connection under it.
#[derive(Debug)]
struct Failure {
    error: NodeError,
    /// The connection was open before the call and the server closed or reset it: killed by
    /// `CLIENT KILL` or an idle `timeout`, or the server went away. Worth one reconnection
    /// before the node is called down; never a timeout and never a refused connect.
    closed_by_server: bool,
}

impl Failure {
    fn new(error: NodeError) -> Self {
        Self {
            error,
            closed_by_server: false,
        }
    }
}

/// The peer closed or reset the connection (as opposed to a timeout or a refused connect).
fn is_closed_by_peer(e: &redis::RedisError) -> bool {
    !e.is_timeout() && !e.is_connection_refusal() && e.is_connection_dropped()
}

fn is_fatal_to_connection(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_unrecoverable_error()
}

/// Maps a driver error to what the operator needs to know.
#[must_use]
pub fn classify(e: &redis::RedisError, timeout: Duration) -> NodeError {
    let text = e.to_string();
    if e.is_timeout() {
        return NodeError::Unresponsive(timeout);
    }
    if e.kind() == redis::ErrorKind::Parse || e.kind() == redis::ErrorKind::Io {
        // The driver says "Parse error at 0" for a reply cut short by the server hanging up.
        if text.contains("end of input") || text.contains("unexpected end of file") {
            return NodeError::Other(
                "the server closed the connection in the middle of a reply".to_string(),
            );
        }
        if e.kind() == redis::ErrorKind::Parse {
            return NodeError::Other(format!(
                "unreadable reply (not RESP: is this a Redis server?): {}",
                text.lines().skip(1).collect::<Vec<_>>().join("; ").trim()
            ));
        }
    }
    if let Some(code) = e.code() {
        match code {
            "NOAUTH" | "WRONGPASS" => return NodeError::Auth(first_line(&text)),
            "NOPERM" => return NodeError::NoPerm(noperm_command(&text)),
            "LOADING" => return NodeError::Loading,
            "BUSY" => return NodeError::Busy,
            "MASTERDOWN" => return NodeError::Stale,
            _ => return NodeError::Reply(first_line(&text)),
        }
    }
    if e.kind() == redis::ErrorKind::AuthenticationFailed
        || text.contains("WRONGPASS")
        || text.contains("NOAUTH")
        || text.contains("invalid password")
    {
        return NodeError::Auth(first_line(&text));
    }
    if e.is_connection_refusal() || text.contains("Connection refused") {
        return NodeError::Refused("connection refused".to_string());
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("ssl")
        || lower.contains("handshake")
    {
        return NodeError::Tls(first_line(&text));
    }
    if lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
        || lower.contains("no such host")
    {
        return NodeError::Resolve(first_line(&text));
    }
    if lower.contains("no route to host")
        || lower.contains("host is unreachable")
        || lower.contains("network is unreachable")
    {
        // Nothing answered: a host that is off is unreachable, not "in error" (invariant 9).
        return NodeError::Refused(first_line(&text));
    }
    if lower.contains("timed out") {
        return NodeError::Unresponsive(timeout);
    }
    if lower.contains("connection reset") || lower.contains("broken pipe") {
        // An open connection to a killed server is reset: no word of TLS here. A reset in
        // the first exchange on a new connection is what a TLS port does to a plaintext
        // hello: `NodeClient::connection` says so there (`first_exchange`).
        return NodeError::Refused(RESET.to_string());
    }
    NodeError::Other(first_line(&text))
}

/// A connection the server reset or closed under a command.
const RESET: &str = "connection reset by peer (the server closed the connection)";

/// `e` from the first exchange on a new plaintext connection: a reset there is the evidence
/// of a TLS port (a server that went away refuses the connection instead), so the hint
/// names `tls = true`. Any other error, or a TLS connection, is left as it is.
fn first_exchange(e: NodeError, tls: bool) -> NodeError {
    match e {
        NodeError::Refused(m) if !tls && m == RESET => NodeError::Refused(
            "connection reset by peer as soon as it was opened (a TLS port resets a plaintext \
             client this way: if the port serves TLS, set tls = true)"
                .to_string(),
        ),
        other => other,
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

/// `NOPERM this user has no permissions to run the 'config|get' command` → `config|get`.
fn noperm_command(text: &str) -> String {
    text.split('\'')
        .nth(1)
        .map_or_else(|| first_line(text), ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::{noperm_command, NodeClient, Timeouts};
    use crate::sandbox::{Sandbox, Spec};
    use std::time::Duration;

    /// Against the installed server (7.0+ here): the first INFO on a connection is plain, the
    /// next ones ask only redops's sections, and a new connection starts plain again.
    #[tokio::test]
    async fn info_asks_by_section_once_the_server_is_known() {
        let sb = Sandbox::start(&Spec {
            replicas: 0,
            ..Spec::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let node = sb.nodes()[0].node();
        let t = Timeouts {
            connect: Duration::from_secs(2),
            read: Duration::from_secs(5),
        };
        let mut c = NodeClient::new(&node, t, "redops-test").unwrap();
        let (first, _) = c.info().await.unwrap();
        assert!(
            first.server.at_least(7, 0),
            "this test needs redis-server 7.0+"
        );
        assert!(first.raw.contains_section("cpu"), "first INFO is plain");
        let (second, _) = c.info().await.unwrap();
        assert!(
            !second.raw.contains_section("cpu"),
            "{:?}",
            second.raw.section_names()
        );
        for s in super::INFO_SECTIONS {
            assert!(second.raw.contains_section(s), "section {s} missing");
        }
        assert_eq!(second.server.version, first.server.version);
        assert_eq!(second.replication.replid, first.replication.replid);
        assert_eq!(
            second.persistence.save_config,
            first.persistence.save_config
        );
        assert!(second.persistence.save_config.is_some());
        c.disconnect();
        let (third, _) = c.info().await.unwrap();
        assert!(
            third.raw.contains_section("cpu"),
            "a new connection starts plain"
        );
    }

    #[test]
    fn noperm_names_the_command() {
        assert_eq!(
            noperm_command("NOPERM this user has no permissions to run the 'config|get' command"),
            "config|get"
        );
    }
}
