//! Test harness: real `redis-server` processes on free 127.0.0.1 ports, each in its own temp
//! dir, killed by PID on drop (also when a test panics). A missing `redis-server` fails the
//! test loudly with an install hint; it never skips.
//!
//! Kept small on purpose: the project's sandbox module replaces it once it lands.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redops::config::{Addr, Node, Secret};
use redops::node::Timeouts;

pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// One running server.
pub struct Server {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    extra: Vec<String>,
    /// TLS-only (`--port 0 --tls-port`), with certificates in `dir/tls`.
    tls: bool,
}

/// A free loopback port (bound then released: the tiny race is acceptable in tests).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

fn binary() -> &'static str {
    if !std::path::Path::new(REDIS_SERVER).exists() {
        panic!(
            "{REDIS_SERVER} is missing: these tests need a real server. \
             hint: apt-get install redis-server redis-tools"
        );
    }
    REDIS_SERVER
}

impl Server {
    /// Starts a server with test defaults (no save points, diskless sync without delay,
    /// DEBUG allowed locally) plus `extra` arguments, and waits until it answers PING.
    pub fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut s = Self {
            port: free_port(),
            dir,
            child: None,
            extra: extra.iter().map(ToString::to_string).collect(),
            tls: false,
        };
        s.spawn_on_a_free_port();
        s
    }

    /// Spawns; when the process exits at once (its port was taken meanwhile), tries another.
    fn spawn_on_a_free_port(&mut self) {
        for _ in 0..5 {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.spawn())) {
                Ok(()) => return,
                Err(_) if self.log().contains("Address already in use") => {
                    let _ = std::fs::remove_file(self.dir.path().join("redis.log"));
                    self.port = free_port();
                }
                Err(e) => std::panic::resume_unwind(e),
            }
        }
        panic!("no free port found for redis-server after 5 tries");
    }

    /// A TLS-only server (no plaintext port) with a fresh CA and a certificate for
    /// 127.0.0.1 made by `openssl`. The CA is at [`Server::ca_file`].
    pub fn start_tls(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        make_certs(&dir.path().join("tls"));
        let mut s = Self {
            port: free_port(),
            dir,
            child: None,
            extra: extra.iter().map(ToString::to_string).collect(),
            tls: true,
        };
        s.spawn_on_a_free_port();
        s
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/ca.crt")
    }

    fn spawn(&mut self) {
        let dir = self.dir.path().to_string_lossy().into_owned();
        let mut cmd = Command::new(binary());
        if self.tls {
            let tls = self.dir.path().join("tls");
            let f = |n: &str| tls.join(n).to_string_lossy().into_owned();
            cmd.args(["--port", "0", "--tls-port", &self.port.to_string()])
                .args(["--tls-cert-file", &f("server.crt")])
                .args(["--tls-key-file", &f("server.key")])
                .args(["--tls-ca-cert-file", &f("ca.crt")])
                .args(["--tls-auth-clients", "no"]);
        } else {
            cmd.args(["--port", &self.port.to_string()]);
        }
        cmd.args(["--bind", "127.0.0.1"])
            .args(["--dir", &dir, "--logfile", "redis.log", "--daemonize", "no"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--repl-diskless-sync-delay", "0"])
            .args(["--enable-debug-command", "local"])
            // Without persistence the snapshot gate saves under a temporary dbfilename, a
            // protected config from 7.0: allowed from this host, as an operator would set it.
            .args(["--enable-protected-configs", "local"])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child = Some(cmd.spawn().expect("spawn redis-server"));
        if !self.wait_ready() {
            let log = self.log();
            self.child = None;
            panic!(
                "redis-server on port {} exited at start; log:\n{log}",
                self.port
            );
        }
    }

    /// Waits until *this* process answers (its `process_id` in INFO), so that a port taken
    /// by another test's server in the meantime is never mistaken for ours.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = self.pid();
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return false;
                }
            }
            if self.tls {
                if self.log().contains("Ready to accept connections") {
                    return true;
                }
            } else if let Ok(mut c) = self.try_conn() {
                let info: redis::RedisResult<String> =
                    redis::cmd("INFO").arg("server").query(&mut c);
                if let Ok(text) = info {
                    if text.contains(&format!("process_id:{pid}\r")) {
                        return true;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "redis-server on port {} did not answer within 10 s; log:\n{}",
            self.port,
            self.log()
        );
    }

    fn try_conn(&self) -> redis::RedisResult<redis::Connection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?;
        let c = client.get_connection_with_timeout(Duration::from_secs(2))?;
        c.set_read_timeout(Some(Duration::from_secs(10)))?;
        c.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(c)
    }

    /// A synchronous connection as the default user (no password).
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

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGSTOP / SIGCONT by PID.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([format!("-{sig}"), self.pid().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{sig} {}", self.pid());
    }

    /// Kills the process (SIGKILL) and reaps it; the data dir stays.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT".to_string(), c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the process again on the same port and dir (loads its dump.rdb if any).
    pub fn restart(&mut self, extra: &[&str]) {
        self.kill();
        self.extra.extend(extra.iter().map(ToString::to_string));
        self.spawn();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The config node for this server.
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

/// A CA and a server certificate for IP 127.0.0.1 / localhost, in `dir`.
fn make_certs(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).expect("tls dir");
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is missing. hint: apt-get install openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=redops test ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .expect("write san.ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(1),
        read: Duration::from_secs(2),
    }
}
