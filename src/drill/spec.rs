//! The drill file format: what a drill TOML file says, as typed data (serde). A drill names
//! the incident it rehearses, the sandbox to start, and its steps; a step has its faults, its
//! goal in words, the typed condition that ends it, hints and a time limit.
//!
//! This file only describes; reading and checking a file is `load.rs`, judging a condition
//! against a topology is `condition.rs`. Unknown keys are refused everywhere
//! (`deny_unknown_fields`), so a misspelt key never silently does nothing.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::condition::Condition;

/// A whole drill.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DrillSpec {
    /// Short name, used on the command line (`master-crash`).
    pub id: String,
    pub title: String,
    /// The incident rehearsed, in words.
    pub incident: String,
    /// Set when the drill cannot be run yet, with why (shown by `drill list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<String>,
    /// The whole drill's time limit (each step may have its own too).
    #[serde(with = "duration")]
    pub time_limit: Duration,
    #[serde(default)]
    pub sandbox: SandboxSpec,
    /// The commands an expert runs, in order, as shown to a trainee after the drill (and
    /// played by the tests): `redops -c CONFIG` is put in front of each.
    #[serde(default)]
    pub solution: Vec<String>,
    pub steps: Vec<StepSpec>,
}

/// The sandbox a drill starts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSpec {
    /// Replicas of the primary `n1` (named `n2..`).
    pub replicas: usize,
    /// One more replica hanging from `n2`.
    pub chain: bool,
    pub persistence: Persistence,
    /// The primary's own persistence, when it differs from the others'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_persistence: Option<Persistence>,
    /// `enable-protected-configs local`: what lets the snapshot gate save a server that has
    /// no persistence under a temporary name.
    pub protected_configs: bool,
    /// Standalone empty servers started beside the group (named after the replicas), e.g.
    /// a new machine to add as a replica.
    pub spare: usize,
    /// Keys of 100 bytes written to the primary before the drill starts.
    pub data_keys: u64,
    /// The writer's rate, in acknowledged writes a second (0: no writer).
    pub writer_rate: u32,
    /// Sentinels (`s1..`) watching the group (0: none); the config names them.
    pub sentinels: usize,
    /// Replicas started with `replica-priority 0`: Sentinel never promotes them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub never_promote: Vec<String>,
    /// A Redis Cluster instead of one replication group: `PxR` (`3x1`: primaries `n1..n3`
    /// with slots in order, then their replicas `n4..n6`). The writer then writes to the
    /// first shard (`n1`'s slots), following `MOVED` as a cluster client does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

impl SandboxSpec {
    /// The cluster shape, when the sandbox is a cluster (`None` also when it does not read:
    /// loading a drill refuses that).
    #[must_use]
    pub fn cluster_shape(&self) -> Option<crate::sandbox::ClusterShape> {
        self.cluster.as_deref().and_then(|s| s.parse().ok())
    }
}

impl Default for SandboxSpec {
    fn default() -> Self {
        Self {
            replicas: 2,
            chain: false,
            persistence: Persistence::Rdb,
            primary_persistence: None,
            protected_configs: false,
            spare: 0,
            data_keys: 1000,
            writer_rate: 50,
            sentinels: 0,
            never_promote: Vec::new(),
            cluster: None,
        }
    }
}

/// How the sandbox's servers persist their data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// RDB snapshots at the sandbox's save points.
    Rdb,
    /// RDB and an append-only file.
    Aof,
    /// Neither: a restart comes back empty.
    None,
}

/// One step of a drill.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// What the trainee must achieve, in plain words.
    pub goal: String,
    /// What happens as the step starts (or `after` its start).
    #[serde(default)]
    pub faults: Vec<FaultAt>,
    /// The condition on the live topology that ends the step.
    pub until: Condition,
    /// Moves that end the drill as failed at once.
    #[serde(default)]
    pub forbid: Vec<Forbidden>,
    #[serde(default)]
    pub hints: Vec<HintSpec>,
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub time_limit: Option<Duration>,
}

/// A fault and when, counted from its step's start. Written as one table:
/// `{ kind = "kill", node = "n1", after = "5s" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultAt {
    #[serde(flatten)]
    pub fault: Fault,
    #[serde(with = "duration", skip_serializing_if = "Duration::is_zero")]
    pub after: Duration,
}

impl<'de> Deserialize<'de> for FaultAt {
    /// `after` is taken out first and the rest read as a [`Fault`], which refuses unknown keys
    /// (serde's `flatten` cannot refuse them).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut table = toml::Table::deserialize(d)?;
        let after = match table.remove("after") {
            None => Duration::ZERO,
            Some(toml::Value::String(s)) => {
                crate::config::parse_duration(&s).map_err(D::Error::custom)?
            }
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "'after' is a {}, expected a duration like \"5s\"",
                    other.type_str()
                )))
            }
        };
        let fault = Fault::deserialize(toml::Value::Table(table)).map_err(D::Error::custom)?;
        Ok(Self { fault, after })
    }
}

/// What the sandbox does to a node: an effect the runner carries out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// SIGKILL.
    Kill { node: String },
    /// Start it again on its port, with its old data, none, or the same data (saved first).
    Restart {
        node: String,
        #[serde(default)]
        data: RestartData,
    },
    /// SIGSTOP: the port accepts, nothing answers.
    Freeze { node: String },
    /// SIGCONT.
    Thaw { node: String },
    /// Every later BGSAVE on the node fails (its directory is taken away).
    BgsaveFails { node: String },
    /// The node's replication link is cut: it is pointed at a port that never answers.
    CutLink { node: String },
    /// `REPLICAOF` the named node, or `REPLICAOF NO ONE` when `of` is absent.
    Replicaof {
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        of: Option<String>,
    },
    /// `FLUSHALL` on the node.
    Flushall { node: String },
    /// The drill's writer stops writing to the node for good (the application taken offline
    /// for maintenance): what it acknowledged until then is what must survive.
    StopWrites { node: String },
    /// The node backed up as an operator's routine would: its RDB downloaded, verified and put
    /// in the catalog (the sandbox's backups directory), for the trainee to find and restore.
    Backup { node: String },
    /// `keys` more keys of 100 bytes written to the node (replicated as any write).
    Fill { node: String, keys: u64 },
    /// The node stops for `for` (frozen, then thawed): a replica falls behind.
    Slow {
        node: String,
        #[serde(rename = "for", with = "duration")]
        pause: Duration,
    },
}

impl Fault {
    /// The node the fault is done to.
    #[must_use]
    pub fn node(&self) -> &str {
        match self {
            Self::Kill { node }
            | Self::Restart { node, .. }
            | Self::Freeze { node }
            | Self::Thaw { node }
            | Self::BgsaveFails { node }
            | Self::CutLink { node }
            | Self::Replicaof { node, .. }
            | Self::Flushall { node }
            | Self::StopWrites { node }
            | Self::Backup { node }
            | Self::Fill { node, .. }
            | Self::Slow { node, .. } => node,
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Kill { node } => write!(f, "{node} killed"),
            Self::Restart { node, data } => write!(f, "{node} restarted with {}", data.words()),
            Self::Freeze { node } => write!(f, "{node} frozen"),
            Self::Thaw { node } => write!(f, "{node} thawed"),
            Self::BgsaveFails { node } => write!(f, "BGSAVE fails on {node}"),
            Self::CutLink { node } => write!(f, "{node}'s replication link cut"),
            Self::Replicaof { node, of: Some(of) } => write!(f, "{node} made a replica of {of}"),
            Self::Replicaof { node, of: None } => write!(f, "{node} made a primary"),
            Self::Flushall { node } => write!(f, "FLUSHALL on {node}"),
            Self::StopWrites { node } => write!(f, "writes to {node} stopped"),
            Self::Backup { node } => write!(
                f,
                "{node}'s routine backup taken (now in the backups catalog)"
            ),
            Self::Fill { node, keys } => write!(f, "{keys} keys filled into {node}"),
            Self::Slow { node, pause } => {
                write!(
                    f,
                    "{node} stalled for {}",
                    crate::config::format_duration(*pause)
                )
            }
        }
    }
}

/// The data a restarted node comes back with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartData {
    /// Whatever its last snapshot holds (a killed primary comes back stale).
    #[default]
    Old,
    /// None: its data files are removed first.
    No,
    /// What it holds now: saved (`SAVE`) before the restart.
    Same,
    /// A maintenance restart: `SHUTDOWN`, which saves only when the node persists (save
    /// points or AOF), then started again with its command line (runtime `CONFIG SET`s lost).
    Graceful,
}

impl RestartData {
    fn words(self) -> &'static str {
        match self {
            Self::Old => "its old data",
            Self::No => "no data",
            Self::Same => "the same data",
            Self::Graceful => "what its own shutdown saved",
        }
    }
}

/// A move that fails the drill at once, seen on the topology (whoever made it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Forbidden {
    /// The node becomes a primary (e.g. the lagging replica promoted).
    Primary(String),
    /// `[node, of]`: the node becomes a replica of `of` (e.g. the primary made a replica of
    /// an empty server, which wipes it).
    ReplicaOf([String; 2]),
}

impl std::fmt::Display for Forbidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Primary(n) => write!(f, "{n} became a primary"),
            Self::ReplicaOf([n, of]) => write!(f, "{n} became a replica of {of}"),
        }
    }
}

/// A hint: shown on demand, or by itself `after` that long into its step.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HintSpec {
    pub text: String,
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub after: Option<Duration>,
}

/// Durations as the config writes them ("500ms", "20s", "2m").
pub(crate) mod duration {
    use super::{Deserialize, Deserializer, Duration, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        crate::config::parse_duration(&s).map_err(serde::de::Error::custom)
    }

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` signature
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::config::format_duration(*d))
    }
}

/// Optional durations, as [`duration`].
pub(crate) mod opt_duration {
    use super::{Deserializer, Duration, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(d).map(Some)
    }

    #[allow(clippy::ref_option)] // serde's `with` signature
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }
}
