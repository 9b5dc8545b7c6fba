//! What a poll produced, and the latest of it per node.
//!
//! An [`Observation`] is one poll of one node: the parsed `INFO` or a classified error. The
//! [`FleetState`] keeps the latest observation of every node plus its last *good* one (a down
//! node's last offsets matter for a lossless promotion). Pure data: no I/O here.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::info::Info;

/// A configured node: index of its group in `Config::groups` and of the node in that group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub group: usize,
    pub node: usize,
}

/// Why a node could not be read, classified for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// TCP connection refused or reset, or no route to the host: nothing is there to answer.
    /// Holds the whole description.
    #[error("{0}")]
    Refused(String),
    /// Connect or read timed out: frozen, swapping or black-holed.
    #[error("no answer within {0:?}")]
    Unresponsive(Duration),
    /// NOAUTH / WRONGPASS.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// NOPERM, naming the command.
    #[error("no permission to run '{0}'")]
    NoPerm(String),
    /// `LOADING` answered to a command that needs the dataset.
    #[error("loading the dataset")]
    Loading,
    /// `BUSY`: a script is running.
    #[error("busy running a script")]
    Busy,
    /// `MASTERDOWN`: stale replica refusing reads.
    #[error("stale: link to primary down and replica-serve-stale-data is no")]
    Stale,
    #[error("TLS error: {0}")]
    Tls(String),
    /// Name resolution failed.
    #[error("cannot resolve host: {0}")]
    Resolve(String),
    /// The server answered with an error reply (`ERR ...`, `READONLY ...`): the command was
    /// refused, it did not run.
    #[error("{0}")]
    Reply(String),
    /// Anything else (a broken socket): a command sent may or may not have run.
    #[error("{0}")]
    Other(String),
}

impl NodeError {
    /// What the operator can do so that this console can read the node, for the errors a
    /// live node answers with (`None` for no answer at all, and for `MASTERDOWN`, which INFO
    /// does not get).
    #[must_use]
    pub fn fix(&self) -> Option<String> {
        match self {
            Self::Refused(_) | Self::Unresponsive(_) | Self::Resolve(_) | Self::Stale => None,
            Self::Auth(_) => {
                Some("give the console the node's password (and its ACL username)".to_string())
            }
            Self::NoPerm(cmd) => Some(format!("the ACL user needs +{cmd}")),
            Self::Loading => Some("wait until it has loaded its dataset".to_string()),
            Self::Busy => Some(
                "wait for its script to end (or end it with SCRIPT KILL / FUNCTION KILL)"
                    .to_string(),
            ),
            Self::Tls(_) => Some("check the node's tls and ca_file settings".to_string()),
            Self::Reply(_) | Self::Other(_) => {
                Some("read the error: the node answered, so it is alive".to_string())
            }
        }
    }

    /// The state word this error puts the node in.
    #[must_use]
    pub fn state(&self) -> NodeState {
        match self {
            Self::Refused(_) | Self::Resolve(_) => NodeState::Down,
            Self::Unresponsive(_) => NodeState::Unresponsive,
            Self::Auth(_) => NodeState::AuthError,
            Self::NoPerm(_) => NodeState::NoPerm,
            Self::Loading => NodeState::Loading,
            Self::Busy => NodeState::Busy,
            Self::Stale => NodeState::Stale,
            Self::Tls(_) => NodeState::TlsError,
            Self::Reply(_) | Self::Other(_) => NodeState::Error,
        }
    }
}

/// The health word shown for a node (`status --json` `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeState {
    /// Not polled yet.
    Unknown,
    Up,
    Loading,
    Busy,
    Stale,
    Down,
    Unresponsive,
    AuthError,
    NoPerm,
    TlsError,
    Error,
}

impl NodeState {
    /// The `snake_case` word used in JSON and on screen.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Up => "up",
            Self::Loading => "loading",
            Self::Busy => "busy",
            Self::Stale => "stale",
            Self::Down => "down",
            Self::Unresponsive => "unresponsive",
            Self::AuthError => "auth_error",
            Self::NoPerm => "no_perm",
            Self::TlsError => "tls_error",
            Self::Error => "error",
        }
    }

    /// True when the node answered INFO (its data is current).
    #[must_use]
    pub fn is_reachable(self) -> bool {
        matches!(self, Self::Up | Self::Loading | Self::Stale)
    }

    /// True when the node gave this console no answer at all: it refused the connection (or
    /// its name did not resolve) or did not answer in time. Only these states may mean a dead
    /// node; every other state is an answer, so the node is alive (DESIGN invariant 9). Whether
    /// it is *proven* down also needs its replicas' links: see
    /// [`GroupTopology::liveness`](crate::topology::GroupTopology::liveness).
    #[must_use]
    pub fn is_silent(self) -> bool {
        matches!(self, Self::Down | Self::Unresponsive)
    }
}

/// One poll of one node.
#[derive(Debug, Clone)]
pub struct Observation {
    pub id: NodeId,
    /// When the poll started (wall clock).
    pub at: SystemTime,
    /// Round trip of the INFO call (or time until the error).
    pub rtt: Duration,
    pub result: Result<Arc<Info>, NodeError>,
}

/// Latest knowledge about one node.
#[derive(Debug, Clone, Default)]
pub struct NodeStatus {
    pub latest: Option<Observation>,
    /// The last successful observation (kept while the node is down).
    pub last_good: Option<Observation>,
    /// When the current run of failures started.
    pub failing_since: Option<SystemTime>,
    /// Number of polls so far.
    pub polls: u64,
}

impl NodeStatus {
    /// The state from the latest observation.
    #[must_use]
    pub fn state(&self) -> NodeState {
        match &self.latest {
            None => NodeState::Unknown,
            Some(Observation {
                result: Ok(info), ..
            }) => {
                if info.persistence.loading {
                    NodeState::Loading
                } else {
                    NodeState::Up
                }
            }
            Some(Observation { result: Err(e), .. }) => e.state(),
        }
    }

    /// The INFO of the latest observation, when it succeeded.
    #[must_use]
    pub fn info(&self) -> Option<&Arc<Info>> {
        self.latest.as_ref()?.result.as_ref().ok()
    }

    /// The last INFO known, fresh or not.
    #[must_use]
    pub fn last_info(&self) -> Option<&Arc<Info>> {
        self.info()
            .or_else(|| self.last_good.as_ref()?.result.as_ref().ok())
    }

    /// The latest error, if the latest poll failed.
    #[must_use]
    pub fn error(&self) -> Option<&NodeError> {
        self.latest.as_ref()?.result.as_ref().err()
    }
}

/// Latest status of every configured node, indexed like the config.
#[derive(Debug, Clone, Default)]
pub struct FleetState {
    pub groups: Vec<Vec<NodeStatus>>,
}

impl FleetState {
    /// An empty state shaped like the config.
    #[must_use]
    pub fn new(config: &crate::config::Config) -> Self {
        Self {
            groups: config
                .groups
                .iter()
                .map(|g| vec![NodeStatus::default(); g.nodes.len()])
                .collect(),
        }
    }

    /// Records an observation. Returns false if the id is not part of this fleet.
    pub fn apply(&mut self, obs: Observation) -> bool {
        let Some(status) = self
            .groups
            .get_mut(obs.id.group)
            .and_then(|g| g.get_mut(obs.id.node))
        else {
            return false;
        };
        status.polls += 1;
        if obs.result.is_ok() {
            status.failing_since = None;
            status.last_good = Some(obs.clone());
        } else if status.failing_since.is_none() {
            status.failing_since = Some(obs.at);
        }
        status.latest = Some(obs);
        true
    }

    /// Status of one node.
    #[must_use]
    pub fn get(&self, id: NodeId) -> Option<&NodeStatus> {
        self.groups.get(id.group)?.get(id.node)
    }
}
