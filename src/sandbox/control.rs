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

/// What a fault did, for the front-ends to put in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultDone {
    pub fault: Fault,
    pub node: String,
    /// The process signalled, or (restart) the new one.
    pub pid: u32,
    pub port: u16,
    /// The config file a restart read.
    pub conf: PathBuf,
    /// False when a kill found the node already stopped.
    pub was_running: bool,
}

/// A server that exited on its own and was reaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exited {
    pub node: String,
    pub pid: u32,
}

/// The owner's answer on the socket.
#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    Done(FaultDone),
    UnknownNode { node: String, nodes: Vec<String> },
    NotRunning { node: String },
    Failed { node: String, message: String },
    BadRequest { message: String },
}

/// A control request that could not be carried out, or no sandbox to send it to.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No running sandbox in the temp dir.
    #[error("no running sandbox found in '{}'", tmp.display())]
    NoneRunning { tmp: PathBuf },
    /// Several running sandboxes and none chosen.
    #[error("{} sandboxes are running: {}", dirs.len(), list(dirs))]
    Several { dirs: Vec<PathBuf> },
    /// The sandbox's owner cannot be reached (gone, not redops, no answer).
    #[error("cannot reach the sandbox in '{}': {reason}", dir.display())]
    Unreachable { dir: PathBuf, reason: String },
    /// No node of that name in the sandbox.
    #[error("no node '{node}' in this sandbox: it has {}", nodes.join(", "))]
    UnknownNode { node: String, nodes: Vec<String> },
    /// The node is not running (freeze, thaw).
    #[error("'{node}' is not running")]
    NotRunning { node: String },
    /// The owner tried and failed (a restart that did not come up).
    #[error("'{node}': {message}")]
    Failed { node: String, message: String },
    /// The owner could not read the request.
    #[error("the sandbox refused the request: {message}")]
    BadRequest { message: String },
}

fn list(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl ControlError {
    /// What to do about it, when there is something to say.
    #[must_use]
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::NoneRunning { .. } => Some(
                "start one with `redops sandbox` (or `redops demo`), or name its directory with --dir",
            ),
            Self::Several { .. } => Some("choose one with --dir"),
            Self::Unreachable { .. } => {
                Some("is its `redops sandbox` (or `redops demo`) still running?")
            }
            Self::NotRunning { .. } => Some("restart it first"),
            Self::Failed { .. } => Some("see its redis.log in the sandbox directory"),
            Self::UnknownNode { .. } | Self::BadRequest { .. } => None,
        }
    }

    /// True for a mistake in what was asked (no such sandbox or node), as opposed to a fault
    /// that could not be done.
    #[must_use]
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::NoneRunning { .. }
                | Self::Several { .. }
                | Self::Unreachable { .. }
                | Self::UnknownNode { .. }
        )
    }
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
                .processes()
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

    /// Injects a fault into one node; what was done.
    ///
    /// # Errors
    /// An unknown node, a node not running (freeze, thaw), or a restart that failed.
    pub async fn apply(&mut self, fault: Fault, name: &str) -> Result<FaultDone, ControlError> {
        let Ok(node) = self.get(name) else {
            return Err(ControlError::UnknownNode {
                node: name.to_string(),
                nodes: self.processes().map(|n| n.name.clone()).collect(),
            });
        };
        let was_running = node.is_running();
        let not_running = || ControlError::NotRunning {
            node: name.to_string(),
        };
        let failed = |e: SandboxError| match e {
            SandboxError::NotRunning { .. } => not_running(),
            other => ControlError::Failed {
                node: name.to_string(),
                message: other.to_string(),
            },
        };
        match fault {
            Fault::Kill => self.kill(name).map_err(failed)?,
            Fault::Restart => self.restart(name).await.map_err(failed)?,
            Fault::Freeze => self.freeze(name).map_err(failed)?,
            Fault::Thaw => self.thaw(name).map_err(failed)?,
        }
        let node = self.get(name).map_err(failed)?;
        Ok(FaultDone {
            fault,
            node: name.to_string(),
            pid: node.pid,
            port: node.port,
            conf: node.conf_path(),
            was_running,
        })
    }

    /// Reaps servers that exited on their own (a `kill -9` from outside, a crash), so that none
    /// stays a zombie; returns those found gone since the last call.
    #[must_use]
    pub fn reap_exited(&self) -> Vec<Exited> {
        self.processes()
            .filter(|n| n.has_child() && !n.is_running())
            .map(|n| Exited {
                node: n.name.clone(),
                pid: n.pid,
            })
            .collect()
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
    /// replies; returns what was done, for the owner to show too.
    /// Not cancel-safe: a restart dropped half-way kills the server it was starting.
    ///
    /// # Errors
    /// What was refused or failed, as the asker is told: an unreadable request or one from
    /// another user, an unknown node, a node not running, a failed restart.
    pub async fn handle(
        &self,
        stream: UnixStream,
        sandbox: &mut Sandbox,
    ) -> Result<FaultDone, ControlError> {
        let same_user = stream.peer_cred().is_ok_and(|c| c.uid() == self.owner_uid);
        let (read, mut write) = stream.into_split();
        let result = if same_user {
            match read_request(read).await {
                Ok(req) => sandbox.apply(req.fault, &req.node).await,
                Err(message) => Err(ControlError::BadRequest { message }),
            }
        } else {
            Err(ControlError::BadRequest {
                message: "it comes from another user".into(),
            })
        };
        let reply = match &result {
            Ok(done) => Reply::Done(done.clone()),
            Err(ControlError::UnknownNode { node, nodes }) => Reply::UnknownNode {
                node: node.clone(),
                nodes: nodes.clone(),
            },
            Err(ControlError::NotRunning { node }) => Reply::NotRunning { node: node.clone() },
            Err(ControlError::Failed { node, message }) => Reply::Failed {
                node: node.clone(),
                message: message.clone(),
            },
            Err(other) => Reply::BadRequest {
                message: other.to_string(),
            },
        };
        // Before the reply: whoever asked reads the new state once answered.
        let _ = sandbox.write_state();
        let line = serde_json::to_string(&reply).unwrap_or_default() + "\n";
        let _ = tokio::time::timeout(IO_TIMEOUT, write.write_all(line.as_bytes())).await;
        result
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
pub async fn send(dir: &Path, fault: Fault, node: &str) -> Result<FaultDone, ControlError> {
    let unreachable = |reason: String| ControlError::Unreachable {
        dir: dir.to_path_buf(),
        reason,
    };
    let state = read_state(dir).map_err(unreachable)?;
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
    match reply {
        Reply::Done(done) => Ok(done),
        Reply::UnknownNode { node, nodes } => Err(ControlError::UnknownNode { node, nodes }),
        Reply::NotRunning { node } => Err(ControlError::NotRunning { node }),
        Reply::Failed { node, message } => Err(ControlError::Failed { node, message }),
        Reply::BadRequest { message } => Err(ControlError::BadRequest { message }),
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
        0 => Err(ControlError::NoneRunning { tmp }),
        _ => Err(ControlError::Several { dirs: found }),
    }
}
