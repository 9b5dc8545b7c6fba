//! What an action will do, as data: the [`Plan`] with its pre-check results, snapshot list,
//! ordered steps (exact commands, waits with deadlines, verification, rollback) and the live
//! facts the engine re-reads before acting.
//!
//! Plans are built by pure functions (`ops::switchover`, `ops::snapshot`, ...) and only
//! displayed here; running them is the engine's job. Nothing in this file does I/O.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::config::Addr;
use crate::observe::NodeId;

use super::guard::{ser_refusal, Refusal};
use super::redis_ops::Command;

mod notes;
pub use notes::{Note, NoteKind, Notes};

/// The actions redops can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Snapshot,
    Switchover,
    Failback,
    Promote,
    Repoint,
    Rejoin,
    /// Load a backup into a node through a scratch server it replicates from.
    Restore,
    /// `SENTINEL RESET` on each sentinel of a group, one at a time (`ops::sentinel_reset`).
    SentinelReset,
}

impl ActionKind {
    /// True when the action changes roles (all but a snapshot): an HA manager owning the
    /// group refuses it before any plan is built.
    #[must_use]
    pub fn changes_roles(self) -> bool {
        !matches!(self, Self::Snapshot | Self::SentinelReset)
    }

    /// The word used in the CLI, JSON and the audit log.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Snapshot => "snapshot",
            Self::Switchover => "switchover",
            Self::Failback => "failback",
            Self::Promote => "promote",
            Self::Repoint => "repoint",
            Self::Rejoin => "rejoin",
            Self::Restore => "restore",
            Self::SentinelReset => "sentinel-reset",
        }
    }
}

/// How a switchover is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Pause writes, prove catch-up, demote the old primary, promote the target, unpause, then
    /// repoint the siblings (REDIS.md 3d, demote-first like FAILOVER, siblings out of the pause).
    Manual,
    /// The server's `FAILOVER TO ... TIMEOUT`, then repoint the siblings it leaves chained.
    Native,
    /// Through Sentinel (a group with `sentinel = {...}`): the other replicas' priority set to
    /// 0, writes paused, catch-up proven, `SENTINEL FAILOVER`, the old primary demoted to
    /// the new one before the unpause, every sentinel waited on, the priorities restored.
    Sentinel,
}

impl Strategy {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Native => "native",
            Self::Sentinel => "sentinel",
        }
    }
}

/// A node the plan touches. Steps refer to nodes by their index in [`Plan::nodes`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanNode {
    pub name: String,
    #[serde(serialize_with = "ser_display")]
    pub addr: Addr,
    #[serde(skip)]
    pub id: NodeId,
}

fn ser_display<S: serde::Serializer, T: fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

#[allow(clippy::ref_option)] // serde's `serialize_with` passes `&Option<T>`.
fn ser_opt_duration<S: serde::Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        None => s.serialize_none(),
    }
}

/// Outcome of one pre-check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    /// Worth knowing; does not block.
    Warn,
    Fail,
}

/// One pre-check, with its plain reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub status: CheckStatus,
    pub message: String,
    /// A failure may be overridden (`--force --reason`) because doing so cannot lose data
    /// by itself; the override is recorded.
    pub overridable: bool,
}

impl Check {
    #[must_use]
    pub fn pass(message: impl Into<String>) -> Self {
        Self {
            status: CheckStatus::Pass,
            message: message.into(),
            overridable: false,
        }
    }
    #[must_use]
    pub fn warn(message: impl Into<String>) -> Self {
        Self {
            status: CheckStatus::Warn,
            message: message.into(),
            overridable: false,
        }
    }
    /// A failure that no flag overrides.
    #[must_use]
    pub fn fail(message: impl Into<String>) -> Self {
        Self {
            status: CheckStatus::Fail,
            message: message.into(),
            overridable: false,
        }
    }
    /// A failure `--force --reason` may override.
    #[must_use]
    pub fn fail_overridable(message: impl Into<String>) -> Self {
        Self {
            status: CheckStatus::Fail,
            message: message.into(),
            overridable: true,
        }
    }
    /// `pass(ok)` when `cond`, else `fail(bad)`.
    #[must_use]
    pub fn require(cond: bool, ok: impl Into<String>, bad: impl Into<String>) -> Self {
        if cond {
            Self::pass(ok)
        } else {
            Self::fail(bad)
        }
    }
}

/// What a step does; the engine knows how to run, wait for and verify each kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// `CLIENT PAUSE ms WRITE` on the step's node.
    PauseWrites { ms: u64 },
    /// Read primary, target, primary until all offsets are equal on one replid.
    WaitCaughtUp { primary: usize, target: usize },
    /// `REPLICAOF NO ONE` on the step's node.
    Promote,
    /// `REPLICAOF <to>` on the old primary while its writes are paused and before `to` is
    /// promoted: from here until the promotion no node accepts writes, so a console that dies
    /// in between leaves no second writable primary (see the engine's module doc).
    Demote { to: usize },
    /// `REPLICAOF <to>` on the step's node (a repoint).
    ReplicaOf { to: usize },
    /// Wait until the step's node replicates from `to` with the link up and no sync running.
    WaitLinkUp { to: usize },
    /// Read the step's node, then `source`, until the source's offset has reached the node's
    /// on one replid (its link up): the node's `PSYNC` then asks for bytes the source holds.
    WaitSourceCaughtUp { source: usize },
    /// `CLIENT UNPAUSE` on the step's node.
    Unpause,
    /// `FAILOVER TO <to> TIMEOUT ms` on the step's node (the primary), then wait for it.
    Failover {
        target: usize,
        #[serde(serialize_with = "ser_display")]
        to: Addr,
        timeout_ms: u64,
    },
    /// `CLUSTER FAILOVER` on the step's node (a replica of `primary` in a cluster), then wait
    /// until it is a primary and `primary` replicates from it.
    ClusterFailover { primary: usize },
    /// Poll every node of `nodes` until its `CLUSTER NODES` names the step's node the primary
    /// of the shard's slots and `old` its replica.
    VerifyCluster { old: usize, nodes: Vec<usize> },
    /// `CLUSTER FAILOVER FORCE` (or `TAKEOVER`) on the step's node, a replica whose primary is
    /// down, then wait until it is a primary.
    ClusterForceFailover { takeover: bool },
    /// Poll every node of `nodes` until its `CLUSTER NODES` names the step's node the primary
    /// of every slot of `slots` (inclusive ranges): the promotion of a replica whose primary
    /// is down, which cannot be asked to follow.
    VerifyClusterSlots {
        nodes: Vec<usize>,
        slots: Vec<(u16, u16)>,
    },
    /// `CONFIG SET replica-priority 0` on the step's node (a replica Sentinel must not pick),
    /// once its value is read again and found to be `old` (as the plan saw it, and as the
    /// step's title journals it); put back by [`RestorePriority`](Self::RestorePriority) or
    /// the rollback.
    LowerPriority { old: u64 },
    /// Poll `SENTINEL REPLICAS` on the step's node (a sentinel) until it reads priority 0 on
    /// every node of `lowered`: Sentinel picks by what it last read (every 10 s).
    SentinelSeesPriorities { master: String, lowered: Vec<usize> },
    /// Poll `SENTINEL REPLICAS` on the step's node (a sentinel) until its last read of
    /// `target`'s `INFO` is recent, then wait until the pause is best started after it
    /// (`engine/sentinel_phase.rs`): only reads; never fails.
    SentinelInfoPhase { master: String, target: usize },
    /// `CONFIG SET replica-priority <old>` on the step's node: the value read before it was
    /// lowered.
    RestorePriority,
    /// `SENTINEL FAILOVER master` on the step's node (a sentinel) while `primary`'s writes are
    /// paused, then wait until `target` is a primary.
    SentinelFailover {
        master: String,
        primary: usize,
        target: usize,
    },
    /// Poll `SENTINEL MASTER` on each of `sentinels` until every one that answers, and at
    /// least `quorum`, names the step's node, with no failover in progress.
    SentinelConverge {
        master: String,
        sentinels: Vec<usize>,
        quorum: usize,
    },
    /// Poll until `primary` is the only primary and every replica follows it, link up, same replid.
    Verify {
        primary: usize,
        replicas: Vec<usize>,
    },
    /// `CONFIG REWRITE` on each of the nodes that has a config file.
    ConfigRewrite { nodes: Vec<usize> },
    /// Start a scratch server on the operator's machine, loaded with `rdb`, listening on
    /// `listen`; its keys per database must be what `expected` allows (a restore).
    StartScratch {
        rdb: PathBuf,
        #[serde(serialize_with = "ser_display")]
        listen: Addr,
        source_version: Option<String>,
        expected: Option<crate::backup::restore::Expected>,
        /// The server binary asked for (`None`: chosen as `backup verify` chooses).
        server_bin: Option<PathBuf>,
    },
    /// `REPLICAOF <listen>` on the step's node: it full-syncs from the scratch server.
    FollowScratch {
        #[serde(serialize_with = "ser_display")]
        listen: Addr,
    },
    /// Wait until the step's node follows the scratch server with its link up, no sync
    /// running and its offset at the scratch server's, then compare keys per database.
    WaitRestored {
        #[serde(serialize_with = "ser_display")]
        listen: Addr,
    },
    /// Stop the scratch server (by PID).
    StopScratch,
    /// `SENTINEL RESET master` on the step's node (a sentinel), once it and `others`
    /// (sentinels) are read again: none with a failover under way, none naming another master
    /// than `at`, and at least `quorum` of the others naming it.
    SentinelReset {
        master: String,
        #[serde(serialize_with = "ser_display")]
        at: Addr,
        others: Vec<usize>,
        quorum: usize,
    },
    /// Poll `SENTINEL MASTER` on the step's node (a sentinel just reset) until it knows at
    /// least `replicas` replicas and `peers` other sentinels again.
    SentinelRediscovered {
        master: String,
        replicas: u64,
        peers: u64,
    },
    /// Every primary of a cluster downloaded at once (optionally under a bounded write pause
    /// on all of them), then one cluster manifest (`ops::snapshot::cluster`).
    ClusterCut {
        shards: Vec<super::snapshot::cluster::CutShard>,
        pause_ms: Option<u64>,
    },
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub title: String,
    /// Index into [`Plan::nodes`] of the node the commands go to.
    pub node: usize,
    pub kind: StepKind,
    /// The exact commands, for display (the engine sends exactly these, plus INFO reads).
    pub commands: Vec<Command>,
    /// What it waits for, if anything.
    pub waits_for: Option<String>,
    /// How long it may wait.
    #[serde(serialize_with = "ser_opt_duration")]
    pub deadline: Option<Duration>,
    /// How success is established.
    pub verify: String,
    /// What is done if this or a later step fails.
    pub rollback: String,
    /// A failure here stops the run (and rolls back); otherwise it is recorded and the run goes on.
    pub critical: bool,
}

/// A live fact the engine re-reads before acting; a mismatch means the plan is out of date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expect {
    pub node: usize,
    /// `true`: the node must be a primary; `false`: a replica of `upstream`.
    pub primary: bool,
    pub upstream: Option<usize>,
}

/// What the operator must give before the engine runs a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "token", rename_all = "snake_case")]
pub enum Confirm {
    /// A plain yes.
    Yes,
    /// The operator types this (the target node's name) for role changes.
    TypeName(String),
}

/// Time budgets of an action.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Budgets {
    /// Lower bound of the `CLIENT PAUSE` timeout (the plan may use more, never less).
    #[serde(serialize_with = "ser_ms")]
    pub pause: Duration,
    #[serde(serialize_with = "ser_ms")]
    pub catch_up: Duration,
    #[serde(serialize_with = "ser_ms")]
    pub failover: Duration,
    #[serde(serialize_with = "ser_ms")]
    pub verify: Duration,
    #[serde(serialize_with = "ser_ms")]
    pub snapshot: Duration,
    /// The read timeout of one command (from the console config).
    #[serde(serialize_with = "ser_ms")]
    pub command: Duration,
    /// Nodes whose last poll took longer than this are not acted on.
    #[serde(serialize_with = "ser_ms")]
    pub max_rtt: Duration,
    /// The longest one RDB download may take (`console.download_timeout`).
    #[serde(serialize_with = "ser_ms")]
    pub download: Duration,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Default for Budgets {
    fn default() -> Self {
        Self {
            pause: Duration::from_secs(10),
            catch_up: Duration::from_secs(5),
            failover: Duration::from_secs(5),
            verify: Duration::from_secs(10),
            snapshot: Duration::from_secs(600),
            command: Duration::from_secs(1),
            max_rtt: Duration::from_millis(500),
            download: crate::config::DEFAULT_DOWNLOAD_TIMEOUT,
        }
    }
}

impl Budgets {
    /// The defaults, with what the console config sets: the read timeout of one command and
    /// the RDB download budget.
    #[must_use]
    pub fn for_console(console: &crate::config::Console) -> Self {
        Self {
            command: console.timeout,
            download: console.download_timeout,
            ..Self::default()
        }
    }
}

/// An action, fully described before anything runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub action: ActionKind,
    pub group: String,
    /// Index of the group in the config.
    pub group_index: usize,
    /// One line: what this does.
    pub summary: String,
    pub strategy: Option<Strategy>,
    /// Why this strategy.
    pub strategy_reason: Option<String>,
    pub nodes: Vec<PlanNode>,
    pub checks: Vec<Check>,
    /// Nodes to BGSAVE (and verify) before any step; the gate runs before any pause.
    pub snapshots: Vec<usize>,
    /// Nodes whose RDB is downloaded (and CRC-checked) into `download_dir` before any step.
    pub downloads: Vec<usize>,
    pub download_dir: Option<PathBuf>,
    pub steps: Vec<Step>,
    pub expects: Vec<Expect>,
    /// The one-operator lock: every node of the group that answered when the plan was made
    /// (filled by `checks::group_guard`). Before any change the engine reads `CLIENT LIST` on
    /// each (another redops action, Sentinel), and this run's named connections then hold the
    /// lock there until it ends. Two actions on one group share every node, so each sees the
    /// other whichever nodes their steps touch.
    pub lock: Vec<PlanNode>,
    pub confirm: Confirm,
    /// Set when the group is read-only by config: the engine refuses.
    #[serde(serialize_with = "ser_refusal")]
    pub read_only: Option<Refusal>,
    /// Set when an HA manager (Sentinel, cluster) owns the group: the engine refuses a role
    /// change.
    #[serde(serialize_with = "ser_refusal")]
    pub ha_manager: Option<Refusal>,
    /// Set when the steps follow the master Sentinel names (a rejoin on a Sentinel group):
    /// the engine does not refuse the run for Sentinel's connections to the nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentinel_master: Option<String>,
    /// Why this plan has no snapshot gate although it may change roles (nothing to save, a
    /// partial resync keeps the data ...), said by its builder. The engine refuses a role
    /// change with neither a gate nor this reason (or the operator's), and records it.
    pub gate_skipped: Option<String>,
    pub budgets: Budgets,
    /// Things the operator should know (what is left alone, what to do afterwards).
    pub notes: Notes,
    /// The plan nodes that are sentinels (a switchover through Sentinel), not data nodes:
    /// never read with INFO as one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sentinel_nodes: Vec<usize>,
    /// Facts the outcome of a run that ends done repeats, in the past tense (what a rejoin
    /// discarded): the done line is built from the steps, these are not in them.
    pub done_facts: Vec<String>,
}

impl Plan {
    /// One non-critical `REPLICAOF` step per sibling, moving it to node `to` on the same
    /// history. `left_behind` says what a sibling whose step fails goes on doing.
    pub(crate) fn push_sibling_repoints(
        &mut self,
        siblings: &[usize],
        to: usize,
        left_behind: &str,
    ) {
        let to_name = self.name(to).to_string();
        for &s in siblings {
            let s_name = self.name(s).to_string();
            self.steps.push(Step {
                title: format!("repoint {s_name} to {to_name}"),
                node: s,
                kind: StepKind::ReplicaOf { to },
                commands: vec![Command::ReplicaOf(Some(self.nodes[to].addr.clone()))],
                waits_for: None,
                deadline: None,
                verify: "+OK (partial resync expected: same history)".to_string(),
                rollback: format!("none needed: {s_name} {left_behind}; repoint it later"),
                critical: false,
            });
        }
    }

    /// An empty plan for a group; builders fill it in.
    #[must_use]
    pub fn new(action: ActionKind, group: &str, group_index: usize, budgets: Budgets) -> Self {
        Self {
            action,
            group: group.to_string(),
            group_index,
            summary: String::new(),
            strategy: None,
            strategy_reason: None,
            nodes: Vec::new(),
            checks: Vec::new(),
            snapshots: Vec::new(),
            downloads: Vec::new(),
            download_dir: None,
            steps: Vec::new(),
            expects: Vec::new(),
            lock: Vec::new(),
            confirm: Confirm::Yes,
            read_only: None,
            ha_manager: None,
            sentinel_master: None,
            gate_skipped: None,
            done_facts: Vec::new(),
            sentinel_nodes: Vec::new(),
            budgets,
            notes: Notes::default(),
        }
    }

    /// Adds a node (once) and returns its index.
    pub fn add_node(&mut self, name: &str, addr: &Addr, id: NodeId) -> usize {
        if let Some(i) = self.nodes.iter().position(|n| n.name == name) {
            return i;
        }
        self.nodes.push(PlanNode {
            name: name.to_string(),
            addr: addr.clone(),
            id,
        });
        self.nodes.len() - 1
    }

    /// The name of a plan node (or `?` for a bad index).
    #[must_use]
    pub fn name(&self, i: usize) -> &str {
        self.nodes.get(i).map_or("?", |n| n.name.as_str())
    }

    /// The nodes step `s` acts on, for its title: every primary for a cluster cut.
    #[must_use]
    pub fn step_nodes(&self, s: &Step) -> String {
        match &s.kind {
            StepKind::ClusterCut { shards, .. } => shards
                .iter()
                .map(|c| self.name(c.node))
                .collect::<Vec<_>>()
                .join(", "),
            _ => self.name(s.node).to_string(),
        }
    }

    /// The commands of step `s` that `shown` keeps, as shown: a cluster cut's each with the
    /// primary it goes to (`m2: CLIENT PAUSE 200 WRITE`), since it sends them to every one.
    #[must_use]
    pub fn step_commands(&self, s: &Step, shown: impl Fn(&Command) -> bool) -> Vec<String> {
        let cmds = s.commands.iter().filter(|c| shown(c));
        match &s.kind {
            StepKind::ClusterCut { shards, .. } => cmds
                .flat_map(|c| {
                    shards
                        .iter()
                        .map(move |cut| format!("{}: {c}", self.name(cut.node)))
                })
                .collect(),
            _ => cmds.map(ToString::to_string).collect(),
        }
    }

    /// Failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == CheckStatus::Fail)
    }

    /// True when some failed check cannot be overridden.
    #[must_use]
    pub fn has_hard_failure(&self) -> bool {
        self.failures().any(|c| !c.overridable)
    }

    /// True when the checks pass without any override.
    #[must_use]
    pub fn checks_pass(&self) -> bool {
        self.failures().next().is_none()
    }

    /// True when the plan goes through Sentinel (a switchover, failback or promote of a group
    /// Sentinel watches): Sentinel's connections on the nodes are expected, not a reason to
    /// refuse.
    #[must_use]
    pub fn through_sentinel(&self) -> bool {
        matches!(
            self.action,
            ActionKind::Switchover | ActionKind::Failback | ActionKind::Promote
        ) && self.strategy == Some(Strategy::Sentinel)
    }

    /// True when a step changes a role or pauses writes.
    #[must_use]
    pub fn changes_roles(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.commands.iter().any(Command::is_role_change))
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} on group '{}': {}",
            self.action.as_str(),
            self.group,
            self.summary
        )?;
        if let Some(s) = self.strategy {
            write!(f, "strategy: {}", s.as_str())?;
            if let Some(why) = &self.strategy_reason {
                write!(f, " ({why})")?;
            }
            writeln!(f)?;
        }
        // An HA manager refuses only what changes a role (`guard::refusal`): not a snapshot.
        if let Some(r) = self.ha_manager.as_ref().filter(|_| self.changes_roles()) {
            writeln!(f, "REFUSED: {r}")?;
        }
        if let Some(r) = &self.read_only {
            writeln!(f, "READ-ONLY: {r}")?;
        }
        writeln!(f, "pre-checks:")?;
        for c in &self.checks {
            let word = match (c.status, c.overridable) {
                (CheckStatus::Pass, _) => "ok  ",
                (CheckStatus::Warn, _) => "warn",
                (CheckStatus::Fail, false) => "FAIL",
                (CheckStatus::Fail, true) => "fail",
            };
            let tail = if c.status == CheckStatus::Fail && c.overridable {
                "  (may be overridden, with a recorded reason)"
            } else {
                ""
            };
            writeln!(f, "  {word}  {}{tail}", c.message)?;
        }
        if self.snapshots.is_empty() && self.downloads.is_empty() {
            match &self.gate_skipped {
                Some(why) => writeln!(f, "snapshot gate: none needed ({why})")?,
                _ => writeln!(f, "snapshot gate: none")?,
            }
        } else {
            let names = |v: &[usize]| {
                v.iter()
                    .map(|&i| self.name(i).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !self.snapshots.is_empty() {
                writeln!(
                    f,
                    "snapshot gate: BGSAVE on {} (done when finished, status ok, lastsave >= request time)",
                    names(&self.snapshots)
                )?;
            }
            if !self.downloads.is_empty() {
                let dir = self
                    .download_dir
                    .as_ref()
                    .map_or_else(|| "?".to_string(), |d| d.display().to_string());
                writeln!(
                    f,
                    "download: RDB of {} into {dir} (CRC64 verified; at most {} each)",
                    names(&self.downloads),
                    crate::config::format_duration(self.budgets.download)
                )?;
            }
        }
        if !self.steps.is_empty() {
            writeln!(f, "steps:")?;
        }
        for (i, s) in self.steps.iter().enumerate() {
            let cmds = self.step_commands(s, |_| true);
            write!(f, "  {}. {} [{}]", i + 1, s.title, self.step_nodes(s))?;
            if !cmds.is_empty() {
                write!(f, ": {}", cmds.join("; "))?;
            }
            writeln!(f)?;
            if let Some(w) = &s.waits_for {
                let d = s.deadline.map_or_else(String::new, |d| {
                    format!(" (deadline {})", crate::config::format_duration(d))
                });
                writeln!(f, "     waits for: {w}{d}")?;
            }
            writeln!(f, "     verified by: {}", s.verify)?;
            writeln!(f, "     if it fails: {}", s.rollback)?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}
