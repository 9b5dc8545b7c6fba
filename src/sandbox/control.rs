//! Controlling a running sandbox from outside it: `redops sandbox kill|restart|freeze|thaw NODE`
//! in another terminal, or the demo console's keys.
//!
//! The process that owns the sandbox does every fault itself: it is the parent of every server,
//! holds each one's unreaped `Child`, so the PID it signals is always the server it started
//! (never a reused PID), it reaps what it kills (no zombie), and a restarted server is again its
//! child, watched by its watchdog. Others ask it through a Unix socket, `control.sock`, in the
//! sandbox's directory (owner-only, `0700`; the peer's uid is checked too), one JSON request
//! line and one JSON reply line per connection.
//!
//! Beside it, `sandbox.json` (the [`State`]) says who owns the sandbox and, per node, its name,
//! port, PID, state and `redis.conf`: rewritten after every change, for people and drills to
//! read, and for a client to check that the owner named there is alive and is redops before it
//! connects.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::{Sandbox, SandboxError};

/// The state file in the sandbox directory.
pub const STATE_FILE: &str = "sandbox.json";

/// The control socket in the sandbox directory.
pub const CONTROL_SOCKET: &str = "control.sock";

/// The prefix of every sandbox directory (in the system's temp dir).
pub const DIR_PREFIX: &str = "redops-sandbox-";

/// How long either side waits for the other's line, and the longest line read.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_LINE: u64 = 4096;

/// How long a client waits for the reply to a request (a restart waits for the server to load).
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A fault to inject into one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// SIGKILL (after SIGCONT if frozen), then reap; data and `redis.conf` stay.
    Kill,
    /// Start it again from its `redis.conf`, on the same port, with its data.
    Restart,
    /// SIGSTOP: its port accepts connections, nothing answers.
    Freeze,
    /// SIGCONT.
    Thaw,
}

impl Fault {
    /// The command word: `kill`, `restart`, `freeze`, `thaw`.
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Self::Kill => "kill",
            Self::Restart => "restart",
            Self::Freeze => "freeze",
            Self::Thaw => "thaw",
        }
    }
}

/// What the state file says about the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// PID of the redops process that owns the servers.
    pub owner_pid: u32,
    /// `Redis 7.0.15`, when known.
    pub server: Option<String>,
    /// The redops config for these nodes.
    pub config: PathBuf,
    pub nodes: Vec<NodeState>,
}

/// One node in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    pub name: String,
    pub port: u16,
    /// The current process (the last one, once stopped).
    pub pid: u32,
    /// `running`, `frozen` or `stopped`.
    pub state: String,
    /// Its config file; a restart reads it.
    pub conf: PathBuf,
    /// Its data directory (`dump.rdb`, `redis.log`).
    pub dir: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    fault: Fault,
    node: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Reply {
    ok: bool,
    message: String,
}

/// A control request that could not be carried out, or no sandbox to send it to.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No running sandbox where one was looked for, or several and none chosen.
    #[error("{message}\n  hint: {hint}")]
    NotFound { message: String, hint: String },
    /// The owner refused or failed the request (an unknown node, a failed restart).
    #[error("{0}")]
    Refused(String),
    /// The socket could not be used.
    #[error("cannot reach the sandbox in '{dir}': {message}\n  hint: is its `redops sandbox` (or `redops demo`) still running?")]
    Unreachable { dir: PathBuf, message: String },
}

impl Sandbox {
    /// The [`State`] as of now (reaps servers that exited on their own).
    #[must_use]
    pub fn state(&self) -> State {
        State {
            owner_pid: std::process::id(),
            server: self.server_version(),
            config: self.dir().join("redops.toml"),
            nodes: self
                .nodes()
                .iter()
                .map(|n| NodeState {
                    name: n.name.clone(),
                    port: n.port,
                    pid: n.pid,
                    state: if !n.is_running() {
                        "stopped"
                    } else if n.is_frozen() {
                        "frozen"
                    } else {
                        "running"
                    }
                    .to_string(),
                    conf: n.conf_path(),
                    dir: n.dir.clone(),
                })
                .collect(),
        }
    }

    /// Writes the [`State`] to `<dir>/sandbox.json` (a temp file renamed over it: a reader
    /// never sees half a file).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_state(&self) -> Result<PathBuf, SandboxError> {
        let path = self.dir().join(STATE_FILE);
        let tmp = self.dir().join(format!("{STATE_FILE}.tmp"));
        let text = serde_json::to_string_pretty(&self.state()).unwrap_or_default() + "\n";
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| SandboxError::io(&path, e))?;
        Ok(path)
    }

    /// Injects a fault into one node; says what was done, in one line.
    ///
    /// # Errors
    /// An unknown node, a node not running (freeze, thaw), or a restart that failed.
    pub async fn apply(&mut self, fault: Fault, name: &str) -> Result<String, SandboxError> {
        let Some(node) = self.node(name) else {
            let names: Vec<&str> = self.nodes().iter().map(|n| n.name.as_str()).collect();
            return Err(SandboxError::InvalidSpec(format!(
                "no node '{name}' in this sandbox: it has {}",
                names.join(", ")
            )));
        };
        let (pid, port) = (node.pid, node.port);
        let was_running = node.is_running();
        match fault {
            Fault::Kill => {
                self.kill(name)?;
                Ok(if was_running {
                    format!("{name} (pid {pid}) killed and reaped; its data and redis.conf stay: `redops sandbox restart {name}` brings it back")
                } else {
                    format!("{name} (pid {pid}) was not running")
                })
            }
            Fault::Restart => {
                self.restart(name).await?;
                let node = self.get(name)?;
                Ok(format!(
                    "{name} restarted from {} on port {port}, pid {}",
                    node.conf_path().display(),
                    node.pid
                ))
            }
            Fault::Freeze => {
                self.freeze(name)?;
                Ok(format!("{name} (pid {pid}) frozen (SIGSTOP): its port accepts connections, nothing answers; `redops sandbox thaw {name}`"))
            }
            Fault::Thaw => {
                self.thaw(name)?;
                Ok(format!("{name} (pid {pid}) thawed (SIGCONT)"))
            }
        }
    }

    /// Reaps servers that exited on their own (a `kill -9` from outside, a crash), so that none
    /// stays a zombie; returns one line per server found gone since the last call.
    #[must_use]
    pub fn reap_exited(&self) -> Vec<String> {
        let mut gone = Vec::new();
        for n in self.nodes() {
            let had_child = n.has_child();
            if had_child && !n.is_running() {
                gone.push(format!(
                    "{} (pid {}) exited; `redops sandbox restart {}` brings it back",
                    n.name, n.pid, n.name
                ));
            }
        }
        gone
    }
}

/// The owner's end of the control socket.
#[derive(Debug)]
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    owner_uid: u32,
}

impl ControlServer {
    /// Listens on `<dir>/control.sock` of this sandbox.
    ///
    /// # Errors
    /// When the socket cannot be made.
    pub fn bind(sandbox: &Sandbox) -> Result<Self, SandboxError> {
        let path = sandbox.dir().join(CONTROL_SOCKET);
        let _ = std::fs::remove_file(&path);
        let owner_uid = std::fs::metadata(sandbox.dir())
            .map_err(|e| SandboxError::io(sandbox.dir(), e))?
            .uid();
        let listener = UnixListener::bind(&path).map_err(|e| SandboxError::io(&path, e))?;
        Ok(Self {
            listener,
            path,
            owner_uid,
        })
    }

    /// Waits for the next connection. Cancel-safe: race it with anything, then
    /// [`handle`](Self::handle) what it returns without racing that.
    pub async fn accept(&self) -> UnixStream {
        loop {
            match self.listener.accept().await {
                Ok((s, _)) => return s,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Reads the request on `stream`, carries it out on `sandbox`, rewrites the state file,
    /// replies; returns the line describing what was done or refused, for the owner to show.
    /// Not cancel-safe: a restart dropped half-way kills the server it was starting.
    pub async fn handle(&self, stream: UnixStream, sandbox: &mut Sandbox) -> String {
        let same_user = stream.peer_cred().is_ok_and(|c| c.uid() == self.owner_uid);
        let (read, mut write) = stream.into_split();
        let request = if same_user {
            read_request(read).await
        } else {
            Err("refused: the request comes from another user".to_string())
        };
        let (reply, said) = match request {
            Ok(req) => match sandbox.apply(req.fault, &req.node).await {
                Ok(m) => (
                    Reply {
                        ok: true,
                        message: m.clone(),
                    },
                    m,
                ),
                Err(e) => (
                    Reply {
                        ok: false,
                        message: e.to_string(),
                    },
                    format!(
                        "{} {}: {}",
                        req.fault.word(),
                        req.node,
                        first_line(&e.to_string())
                    ),
                ),
            },
            Err(e) => (
                Reply {
                    ok: false,
                    message: e.clone(),
                },
                format!("control request ignored: {e}"),
            ),
        };
        // Before the reply: whoever asked reads the new state once answered.
        let _ = sandbox.write_state();
        let line = serde_json::to_string(&reply).unwrap_or_default() + "\n";
        let _ = tokio::time::timeout(IO_TIMEOUT, write.write_all(line.as_bytes())).await;
        said
    }

    /// The socket's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

async fn read_request(read: tokio::net::unix::OwnedReadHalf) -> Result<Request, String> {
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_LINE));
    match tokio::time::timeout(IO_TIMEOUT, reader.read_line(&mut line)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(format!("cannot read the request: {e}")),
        Err(_) => return Err("no request within 5 s".into()),
    }
    serde_json::from_str(line.trim_end()).map_err(|e| format!("not a request: {e}"))
}

/// Sends one fault to the sandbox in `dir` and returns its answer.
///
/// # Errors
/// The owner is gone or not redops ([`ControlError::Unreachable`]), or it refused or failed
/// the request ([`ControlError::Refused`], its message).
pub async fn send(dir: &Path, fault: Fault, node: &str) -> Result<String, ControlError> {
    let unreachable = |message: String| ControlError::Unreachable {
        dir: dir.to_path_buf(),
        message,
    };
    let state = read_state(dir).map_err(&unreachable)?;
    if !owner_is_redops(state.owner_pid) {
        return Err(unreachable(format!(
            "its owner, pid {}, is no longer running redops",
            state.owner_pid
        )));
    }
    let stream = UnixStream::connect(dir.join(CONTROL_SOCKET))
        .await
        .map_err(|e| unreachable(format!("{CONTROL_SOCKET}: {e}")))?;
    let (read, mut write) = stream.into_split();
    let request = Request {
        fault,
        node: node.to_string(),
    };
    let line = serde_json::to_string(&request).unwrap_or_default() + "\n";
    write
        .write_all(line.as_bytes())
        .await
        .map_err(|e| unreachable(format!("cannot send the request: {e}")))?;
    let mut answer = String::new();
    let mut reader = BufReader::new(read.take(MAX_LINE * 4));
    match tokio::time::timeout(REPLY_TIMEOUT, reader.read_line(&mut answer)).await {
        Ok(Ok(n)) if n > 0 => {}
        Ok(Ok(_)) => {
            return Err(unreachable(
                "it closed the connection without an answer".into(),
            ))
        }
        Ok(Err(e)) => return Err(unreachable(format!("cannot read the answer: {e}"))),
        Err(_) => {
            return Err(unreachable(format!(
                "no answer within {} s",
                REPLY_TIMEOUT.as_secs()
            )))
        }
    }
    let reply: Reply = serde_json::from_str(answer.trim_end())
        .map_err(|e| unreachable(format!("not an answer: {e}")))?;
    if reply.ok {
        Ok(reply.message)
    } else {
        Err(ControlError::Refused(reply.message))
    }
}

/// Reads `<dir>/sandbox.json`.
///
/// # Errors
/// A message saying what is wrong with it.
pub fn read_state(dir: &Path) -> Result<State, String> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("'{}' is not a sandbox state: {e}", path.display()))
}

/// True when `pid` runs and its command line names redops (Linux `/proc`; elsewhere, when it
/// runs at all). A stale state file left by an owner killed by SIGKILL whose PID was reused fails here.
fn owner_is_redops(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None).is_err() {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmd) => cmd
            .split(|&b| b == 0)
            .next()
            .is_some_and(|argv0| String::from_utf8_lossy(argv0).contains("redops")),
        Err(_) => !Path::new("/proc/self").exists(),
    }
}

/// The sandbox to control: `explicit` when given, else the one running sandbox in the temp
/// dir (the demo's too).
///
/// # Errors
/// [`ControlError::NotFound`] when none runs, or several do.
pub fn find_running(explicit: Option<&Path>) -> Result<PathBuf, ControlError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    let tmp = std::env::temp_dir();
    let mut found: Vec<PathBuf> = std::fs::read_dir(&tmp)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(DIR_PREFIX))
        .map(|e| e.path())
        .filter(|d| d.join(CONTROL_SOCKET).exists())
        .filter(|d| read_state(d).is_ok_and(|s| owner_is_redops(s.owner_pid)))
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(ControlError::NotFound {
            message: format!("no running sandbox found in {}", tmp.display()),
            hint: "start one with `redops sandbox` (or `redops demo`), or name its directory with --dir".into(),
        }),
        _ => Err(ControlError::NotFound {
            message: format!(
                "{} sandboxes are running: {}",
                found.len(),
                found
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            hint: "choose one with --dir".into(),
        }),
    }
}
