//! One real server for a test: a one-node sandbox (`redops::sandbox`), which starts it on a
//! free 127.0.0.1 port (retrying when the port is taken), waits until it answers, and kills it
//! by PID on drop, also when the test panics. A missing `redis-server` fails the test loudly
//! with an install hint; it never skips.
//!
//! What this adds is synchronous conveniences for tests (a connection, one command, one INFO
//! field, "replicate that one"), usable from plain and async tests alike, and the test
//! defaults: no persistence, protected configs allowed locally.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use redops::config::{Addr, Node, Secret};
use redops::node::Timeouts;
use redops::sandbox::{Sandbox, Spec, TlsFiles};

#[allow(unused_imports)] // used by some binaries only
pub use redops::sandbox::free_port;

/// One running server.
pub struct Server {
    pub port: u16,
    sandbox: Sandbox,
}

/// Runs a future to completion on a runtime of its own, in a thread of its own: callable from
/// a plain test and from inside an async test alike.
pub fn block_on<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// A current-thread runtime for [`block_on`].
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

impl Server {
    /// The test defaults: one server, no save points (the snapshot gate saves under a
    /// temporary dbfilename, a protected config from 7.0, allowed from this host as an operator
    /// would set it), plus `extra` arguments.
    pub fn spec(extra: &[&str]) -> Spec {
        let mut extra_args: Vec<String> = ["--save", "", "--appendonly", "no"]
            .iter()
            .map(ToString::to_string)
            .collect();
        extra_args.extend(extra.iter().map(ToString::to_string));
        Spec {
            replicas: 0,
            extra_args,
            protected_configs: true,
            ..Spec::default()
        }
    }

    /// Starts a server with the test defaults plus `extra` arguments.
    pub fn start(extra: &[&str]) -> Self {
        Self::start_with(Self::spec(extra))
    }

    /// A TLS-only server (no plaintext port) with the sandbox's CA, server and client
    /// certificates ([`Server::tls`]).
    pub fn start_tls(extra: &[&str]) -> Self {
        Self::start_with(Spec {
            tls: true,
            ..Self::spec(extra)
        })
    }

    /// Starts the one-node sandbox `spec` describes.
    pub fn start_with(spec: Spec) -> Self {
        let sandbox = block_on(move || {
            runtime()
                .block_on(Sandbox::start(&spec))
                .unwrap_or_else(|e| panic!("cannot start a test server: {e}"))
        });
        let port = sandbox.nodes()[0].port;
        Self { port, sandbox }
    }

    /// The sandbox's certificates (a TLS server only).
    pub fn tls(&self) -> &TlsFiles {
        self.sandbox.tls().expect("a TLS server")
    }

    pub fn ca_file(&self) -> PathBuf {
        self.tls().ca_file.clone()
    }

    fn name(&self) -> String {
        self.sandbox.nodes()[0].name.clone()
    }

    fn try_conn(&self) -> redis::RedisResult<redis::Connection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?;
        let c = client.get_connection_with_timeout(Duration::from_secs(2))?;
        c.set_read_timeout(Some(Duration::from_secs(10)))?;
        c.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(c)
    }

    /// A synchronous connection as the default user (no password, no TLS).
    pub fn conn(&self) -> redis::Connection {
        self.try_conn().expect("connect to test server")
    }

    /// Runs one command and returns its reply.
    pub fn cmd<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        let mut c = self.conn();
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(&mut c)
            .unwrap_or_else(|e| panic!("{args:?} on port {}: {e}", self.port))
    }

    /// One field of `INFO`.
    pub fn info_field(&self, field: &str) -> Option<String> {
        let text: String = self.cmd(&["INFO", "everything"]);
        text.lines().find_map(|l| {
            l.strip_prefix(&format!("{field}:"))
                .map(|v| v.trim().to_string())
        })
    }

    pub fn dbsize(&self) -> u64 {
        self.cmd(&["DBSIZE"])
    }

    /// Makes this server a replica of `primary` and waits until the link is up and synced.
    /// Also proves the command stream flows: right after a diskless sync the primary holds
    /// the stream back until the replica's first ACK, so a write is made (and undone) on the
    /// primary and its offset awaited on the replica.
    pub fn replicate(&self, primary: &Server) {
        let _: String = self.cmd(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]);
        self.wait_link_up();
        let _: () = primary.cmd(&["SET", "__test_stream_probe", "1"]);
        let _: u64 = primary.cmd(&["DEL", "__test_stream_probe"]);
        let target: u64 = primary
            .info_field("master_repl_offset")
            .and_then(|o| o.parse().ok())
            .expect("primary offset");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let got: Option<u64> = self
                .info_field("slave_repl_offset")
                .and_then(|o| o.parse().ok());
            if got.is_some_and(|g| g >= target) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "replica {} never received the stream; log:\n{}",
            self.port,
            self.log()
        );
    }

    pub fn wait_link_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.info_field("master_link_status").as_deref() == Some("up")
                && self.info_field("master_sync_in_progress").as_deref() == Some("0")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "replica {} never got its link up; log:\n{}",
            self.port,
            self.log()
        );
    }

    /// The PID of the running process (of the last one, once killed).
    pub fn pid(&self) -> u32 {
        self.sandbox.nodes()[0].pid
    }

    /// SIGSTOP (`"STOP"`) or SIGCONT (`"CONT"`), by PID.
    pub fn signal(&self, sig: &str) {
        let name = self.name();
        let r = match sig {
            "STOP" => self.sandbox.freeze(&name),
            "CONT" => self.sandbox.thaw(&name),
            other => panic!("signal '{other}': use STOP or CONT (or kill)"),
        };
        r.unwrap_or_else(|e| panic!("SIG{sig} to port {}: {e}", self.port));
    }

    /// Kills the process (SIGKILL) and reaps it; the data dir stays.
    pub fn kill(&mut self) {
        let name = self.name();
        self.sandbox.kill(&name).expect("a node of this sandbox");
    }

    /// Starts the process again on the same port and dir, with the same arguments (it loads
    /// its `dump.rdb`, if any).
    pub fn restart(&mut self) {
        let name = self.name();
        let sandbox = &mut self.sandbox;
        block_on(move || {
            runtime()
                .block_on(sandbox.restart(&name))
                .unwrap_or_else(|e| panic!("cannot restart the test server: {e}"));
        });
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.sandbox.nodes()[0].log_path()).unwrap_or_default()
    }

    /// Its data directory (`dump.rdb`, the log).
    pub fn path(&self) -> PathBuf {
        self.sandbox.nodes()[0].dir.clone()
    }

    /// The config node for this server (no credentials, no TLS: tests add their own).
    pub fn node(&self, name: &str) -> Node {
        Node {
            name: name.to_string(),
            addr: Addr {
                host: "127.0.0.1".to_string(),
                port: self.port,
            },
            username: None,
            password: None,
            tls: None,
        }
    }

    pub fn node_as(&self, name: &str, user: &str, password: &str) -> Node {
        Node {
            username: Some(user.to_string()),
            password: Some(Secret::new(password)),
            ..self.node(name)
        }
    }
}

pub fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(1),
        read: Duration::from_secs(2),
    }
}
