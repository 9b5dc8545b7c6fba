//! The snapshot gate (REDIS.md 3a) and the `snapshot` action's plan.
//!
//! A BGSAVE is done only when `rdb_bgsave_in_progress:0`, `rdb_last_bgsave_status:ok` and
//! `rdb_last_save_time >= T0`, T0 being the node's own clock when the save was asked for.
//! `BGSAVE SCHEDULE` is used while an AOF rewrite (or module fork) runs; "already in progress"
//! (possibly a diskless replication transfer that writes no file) is waited out and the BGSAVE
//! issued again. The gate runs before any pause, so it never adds to a write stall.
//!
//! **A node without persistence** (`save ""` and `appendonly no`) must not be left with a
//! `dump.rdb`: it would load it at its next restart and bring old data back, which its replicas
//! would then copy (DESIGN invariant 11, the silent loss of issue 7 item 8b). Redis loads only
//! the file named by `dbfilename` at start, so on such a node the gate saves under a temporary
//! name, `redops-snapshot-<run_id[..8]>.<original>`, and puts the original `dbfilename` back
//! right after the save, on every path (success, failed save, timeout), before anything else is
//! sent. The file saved aside stays in the node's `dir`: it is a snapshot, and the server never
//! loads it. The temporary name is never persisted: a restart reads `dbfilename` from the
//! config file, and nothing redops sends between the two `CONFIG SET`s rewrites the config.
//!
//! If the console dies between the two `CONFIG SET`s, the node keeps the temporary name until
//! the next gate on it, which reads it back and restores the original it names (the name
//! carries it). Until then a restart is still safe (the config file holds the original); only a
//! `CONFIG REWRITE` by someone else would persist the temporary name, making the node load that
//! snapshot at its next restart: the reason the original is encoded in the name.
//!
//! From Redis 7.0 `dbfilename` is a protected config, refused by `CONFIG SET` unless the server
//! runs with `enable-protected-configs` (`local` suffices for a console on the same host). When
//! it is refused, the gate does not save: [`GateFailure::WouldPlant`]. The engine then relies on
//! the plan's download of that node (a transfer over the replication protocol, which writes no
//! file when `repl-diskless-sync` is on, the 7.0 default), or stops with that explanation.

use std::time::Duration;

use tokio::time::Instant;

use super::checks::group_guard;
use super::error::{OpsError, OpsResult};
use super::plan::{ActionKind, Budgets, Check, Plan, PlanNode};
use super::progress::SaveProgress;
use super::redis_ops::{Command, ConfigParam, InfoSection, RedisOps, Reply};
use super::{group_topology, NodeRef};
use crate::config::Config;
use crate::info::Info;
use crate::observe::NodeError;
use crate::topology::{NodeView, Topology};

/// How often the gate polls `INFO persistence`.
pub const GATE_POLL: Duration = Duration::from_millis(100);
/// How many times "already in progress" is waited out before giving up.
pub const MAX_REISSUES: u32 = 5;
/// The start of the temporary `dbfilename` the gate saves under on a node without persistence.
pub const TEMP_DBFILENAME_PREFIX: &str = "redops-snapshot-";

/// The temporary `dbfilename` for a node whose `run_id` and `dbfilename` are given:
/// `redops-snapshot-<first 8 of run_id>.<original>`. One per server process: a second gate on
/// the same process replaces the first one's file instead of filling the disk.
#[must_use]
pub fn temp_dbfilename(run_id: &str, original: &str) -> String {
    let id: String = run_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    let id = if id.is_empty() {
        "unknown".to_string()
    } else {
        id
    };
    format!("{TEMP_DBFILENAME_PREFIX}{id}.{original}")
}

/// The original `dbfilename` a leftover temporary name carries (`None` for any other name).
#[must_use]
pub fn original_of_temp(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(TEMP_DBFILENAME_PREFIX)?;
    let (_, original) = rest.split_once('.')?;
    (!original.is_empty() && !original.starts_with(TEMP_DBFILENAME_PREFIX)).then_some(original)
}

/// A verified snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateResult {
    /// The node's clock when the save was asked for (seconds).
    pub t0: i64,
    /// `rdb_last_save_time` after the save.
    pub last_save: i64,
    /// The file name the snapshot was saved under in the node's `dir` when it is not the
    /// node's `dbfilename` (a node without persistence: the server never loads it).
    pub saved_aside: Option<String>,
    /// Commands sent and their replies, for the audit log.
    pub exchanges: Vec<(String, String)>,
}

/// What the gate reports while it works.
#[derive(Debug, Clone, PartialEq)]
pub enum GateNote {
    /// A wait or a choice, in words.
    Note(String),
    /// How far the running save is (each poll; the engine lets one a second through).
    Saving(SaveProgress),
}

/// Why the gate did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateFailure {
    /// The save failed, timed out, or the node could not be read.
    Failed,
    /// Nothing was saved: the node has no persistence and refused to save under another
    /// name, so a BGSAVE would leave a file it reloads at its next restart.
    WouldPlant,
}

/// Why the gate did not pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GateError {
    pub kind: GateFailure,
    pub message: String,
    /// What the operator can do about it.
    pub hint: Option<String>,
    pub exchanges: Vec<(String, String)>,
}

/// The node's own `dbfilename`, and the temporary one the save goes to meanwhile.
struct Aside {
    original: String,
    temp: String,
}

struct Gate<'a, O: RedisOps> {
    ops: &'a O,
    node: &'a PlanNode,
    exchanges: Vec<(String, String)>,
    deadline: Instant,
    /// When the last BGSAVE was asked for: the progress's clock.
    asked: Instant,
    /// `rdb_last_bgsave_time_sec` before this save: what the estimate compares with.
    last_save_secs: Option<i64>,
}

impl<O: RedisOps> Gate<'_, O> {
    async fn send(&mut self, cmd: Command) -> Result<Reply, NodeError> {
        let r = self.ops.send(self.node, &cmd).await;
        let shown = match &r {
            Ok(reply) => reply.summary(),
            Err(e) => format!("error: {e}"),
        };
        if !matches!(cmd, Command::Info(InfoSection::Persistence)) {
            self.exchanges.push((cmd.to_string(), shown));
        }
        r
    }

    fn fail(&mut self, message: String) -> GateError {
        self.fail_with(OpsError::failed(message))
    }

    fn fail_with(&mut self, e: OpsError) -> GateError {
        self.fail_as(GateFailure::Failed, e)
    }

    fn fail_as(&mut self, kind: GateFailure, e: OpsError) -> GateError {
        GateError {
            kind,
            message: e.message,
            hint: e.hint,
            exchanges: std::mem::take(&mut self.exchanges),
        }
    }

    async fn persistence(&mut self) -> OpsResult<Info> {
        match self.send(Command::Info(InfoSection::Persistence)).await {
            Ok(Reply::Info(i)) => Ok(*i),
            Ok(other) => Err(OpsError::failed(format!(
                "unexpected INFO reply: {}",
                other.summary()
            ))),
            Err(e) => Err(OpsError::failed(format!(
                "cannot read '{}' while waiting for its BGSAVE: {e}",
                self.node.name
            ))),
        }
    }

    fn timed_out(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Polls until no RDB child runs, reporting progress.
    async fn wait_no_child(&mut self, progress: &mut dyn FnMut(GateNote)) -> OpsResult<Info> {
        loop {
            let info = self.persistence().await?;
            let p = &info.persistence;
            if !p.bgsave_in_progress {
                return Ok(info);
            }
            if self.timed_out() {
                return Err(OpsError::failed(format!(
                    "the BGSAVE on '{}' did not finish within the snapshot budget",
                    self.node.name
                )));
            }
            // The child's own age counts when it is older than our ask (another's save).
            let child = p
                .current_bgsave_time_sec
                .and_then(|s| u64::try_from(s).ok())
                .map_or(Duration::ZERO, Duration::from_secs);
            progress(GateNote::Saving(SaveProgress::new(
                self.asked.elapsed().max(child),
                p.keys_processed,
                p.keys_total,
                self.last_save_secs,
            )));
            tokio::time::sleep(GATE_POLL).await;
        }
    }

    /// Polls until no AOF rewrite or module fork runs (a scheduled BGSAVE starts after them).
    async fn wait_other_children(&mut self) -> OpsResult<()> {
        loop {
            let info = self.persistence().await?;
            let p = &info.persistence;
            if !p.aof_rewrite_in_progress && !p.module_fork_in_progress {
                return Ok(());
            }
            if self.timed_out() {
                return Err(OpsError::failed(format!(
                    "an AOF rewrite on '{}' still runs: the scheduled BGSAVE could not start within the budget",
                    self.node.name
                )));
            }
            tokio::time::sleep(GATE_POLL).await;
        }
    }

    /// `Some` when the node has no persistence (no AOF, no save points) and now saves under a
    /// temporary name; `None` when it persists (or says nothing about `save`: an ACL without
    /// `+config|get`), so a BGSAVE to its own file is what it does itself anyway.
    async fn set_aside(&mut self, info: &Info) -> Result<Option<Aside>, GateError> {
        let name = self.node.name.clone();
        if info.persistence.aof_enabled {
            return Ok(None);
        }
        match self.send(Command::ConfigGet(ConfigParam::Save)).await {
            Ok(Reply::Text(points)) if points.trim().is_empty() => {}
            Ok(_) => return Ok(None),
            Err(e @ NodeError::Unresponsive(_)) => {
                return Err(self.fail(format!("cannot read '{name}': {e}")))
            }
            Err(_) => return Ok(None),
        }
        let current = match self.send(Command::ConfigGet(ConfigParam::DbFilename)).await {
            Ok(Reply::Text(f)) if !f.is_empty() => f,
            other => {
                let why = match other {
                    Ok(r) => format!("CONFIG GET dbfilename answered {}", r.summary()),
                    Err(e) => e.to_string(),
                };
                return Err(self.would_plant(&name, "dump.rdb", &why));
            }
        };
        // A console killed between the two CONFIG SETs left its temporary name: put the
        // original it carries back first.
        let original = match original_of_temp(&current) {
            Some(o) => {
                let o = o.to_string();
                if let Err(why) = self.set_dbfilename(&o).await {
                    return Err(self.fail(format!(
                        "'{name}' still saves under '{current}', left by a console that died during a \
                         snapshot, and it could not be put back to '{o}': {}",
                        why.message
                    )));
                }
                o
            }
            None => current,
        };
        let temp = temp_dbfilename(info.server.run_id.as_deref().unwrap_or_default(), &original);
        match self
            .send(Command::ConfigSet(ConfigParam::DbFilename, temp.clone()))
            .await
        {
            Ok(r) if r.is_ok() => Ok(Some(Aside { original, temp })),
            Ok(r) => Err(self.would_plant(&name, &original, &r.summary())),
            Err(e) => Err(self.would_plant(&name, &original, &e.to_string())),
        }
    }

    fn would_plant(&mut self, name: &str, file: &str, why: &str) -> GateError {
        self.fail_as(
            GateFailure::WouldPlant,
            OpsError::failed(format!(
                "'{name}' has no persistence (save \"\", appendonly no) and cannot save under \
                 another file name ({why}): a BGSAVE would leave a '{file}' that it reloads at \
                 its next restart, bringing back old data that its replicas would then copy"
            ))
            .hint(format!(
                "take the snapshot as a download instead (nothing is written on '{name}'), start \
                 '{name}' with enable-protected-configs local, or skip the snapshot with a reason"
            )),
        )
    }

    /// `CONFIG SET dbfilename`, then read back; twice at most (a reply lost to a timeout may
    /// still have been applied).
    async fn set_dbfilename(&mut self, file: &str) -> OpsResult<()> {
        let mut why = String::new();
        for _ in 0..2 {
            let set = self
                .send(Command::ConfigSet(
                    ConfigParam::DbFilename,
                    file.to_string(),
                ))
                .await;
            let set = set.map_or_else(|e| format!("CONFIG SET: {e}; "), |_| String::new());
            match self.send(Command::ConfigGet(ConfigParam::DbFilename)).await {
                Ok(Reply::Text(now)) if now == file => return Ok(()),
                Ok(r) => why = format!("{set}dbfilename reads '{}'", r.summary()),
                Err(e) => why = format!("{set}CONFIG GET: {e}"),
            }
        }
        Err(OpsError::failed(why))
    }
}

/// Runs the gate on one node: BGSAVE and wait until the snapshot is proven. On a node without
/// persistence the save goes to a temporary file name, and the node's own is put back before
/// the gate returns (see the module doc).
///
/// # Errors
/// The save failed (`rdb_last_bgsave_status:err`: writes may now be refused with MISCONF),
/// did not finish within `budget`, finished without a fresh `rdb_last_save_time`, the node
/// could not be read, or ([`GateFailure::WouldPlant`]) it has no persistence and refuses to
/// save under another name.
pub async fn run_gate<O: RedisOps>(
    ops: &O,
    node: &PlanNode,
    budget: Duration,
    progress: &mut dyn FnMut(GateNote),
) -> Result<GateResult, GateError> {
    let mut g = Gate {
        ops,
        node,
        exchanges: Vec::new(),
        deadline: Instant::now() + budget,
        asked: Instant::now(),
        last_save_secs: None,
    };
    let info = match g.send(Command::Info(InfoSection::Default)).await {
        Ok(Reply::Info(i)) => *i,
        Ok(other) => return Err(g.fail(format!("unexpected INFO reply: {}", other.summary()))),
        Err(e) => return Err(g.fail(format!("cannot read '{}': {e}", node.name))),
    };
    if info.persistence.loading {
        return Err(g.fail(format!(
            "'{}' is loading its dataset: no snapshot can be taken now",
            node.name
        )));
    }
    let Some(t0) = node_time(&info) else {
        return Err(g.fail(format!(
            "'{}' does not report its clock (server_time_usec) nor a last save time",
            node.name
        )));
    };
    g.last_save_secs = info.persistence.last_bgsave_time_sec;
    let aside = g.set_aside(&info).await?;
    if let Some(a) = &aside {
        progress(GateNote::Note(format!(
            "no persistence: saving as '{}' (never loaded by the server), then putting '{}' back",
            a.temp, a.original
        )));
    }
    let saved = save_and_wait(&mut g, &info, t0, progress).await;
    if let Some(a) = &aside {
        if let Err(why) = g.set_dbfilename(&a.original).await {
            return Err(g.fail_with(
                OpsError::failed(format!(
                    "'{}' still saves under '{}' and its dbfilename could not be put back to '{}' ({})",
                    node.name, a.temp, a.original, why.message
                ))
                .hint(format!(
                    "run CONFIG SET dbfilename {} on it before anything saves or rewrites its config \
                     (CONFIG REWRITE would make it load this snapshot at its next restart)",
                    a.original
                )),
            ));
        }
    }
    match saved {
        Ok(last_save) => Ok(GateResult {
            t0,
            last_save,
            saved_aside: aside.map(|a| a.temp),
            exchanges: g.exchanges,
        }),
        Err(e) => Err(g.fail_with(e)),
    }
}

/// BGSAVE (SCHEDULE when another child runs) and wait for it; the verified last save time.
async fn save_and_wait<O: RedisOps>(
    g: &mut Gate<'_, O>,
    info: &Info,
    t0: i64,
    progress: &mut dyn FnMut(GateNote),
) -> OpsResult<i64> {
    let name = g.node.name.clone();
    let saves_before = info.persistence.saves;
    let mut schedule =
        info.persistence.aof_rewrite_in_progress || info.persistence.module_fork_in_progress;
    let mut reissues = 0;
    loop {
        g.asked = Instant::now();
        let reply = g.send(Command::BgSave { schedule }).await;
        match reply {
            Ok(r) if r.text().is_some_and(|t| t.contains("scheduled")) => {
                progress(GateNote::Note(
                    "BGSAVE scheduled after the running AOF rewrite".to_string(),
                ));
                g.wait_other_children().await?;
                // The scheduled save starts on the next cron tick: wait for a new save to show.
                loop {
                    let info = g.wait_no_child(progress).await?;
                    let p = &info.persistence;
                    let new_save = match (p.saves, saves_before) {
                        (Some(now), Some(before)) => now > before,
                        _ => p.last_save_time.is_some_and(|t| t >= t0),
                    };
                    if new_save || p.last_bgsave_ok == Some(false) {
                        return verdict(&name, &info, t0);
                    }
                    if g.timed_out() {
                        return Err(OpsError::failed(format!(
                            "the scheduled BGSAVE on '{name}' did not run within the budget"
                        )));
                    }
                    tokio::time::sleep(GATE_POLL).await;
                }
            }
            Ok(r) if r.text().is_some_and(|t| t.contains("started")) => {
                let info = g.wait_no_child(progress).await?;
                return verdict(&name, &info, t0);
            }
            Ok(other) => {
                return Err(OpsError::failed(format!(
                    "unexpected BGSAVE reply from '{name}': {}",
                    other.summary()
                )))
            }
            Err(e) => {
                let text = e.to_string();
                if text.contains("already in progress") && reissues < MAX_REISSUES {
                    // Possibly a diskless replication transfer: it writes no file. Wait it out,
                    // then ask again.
                    reissues += 1;
                    progress(GateNote::Note(
                        "another RDB child runs (a save or a replica transfer): waiting, then \
                         asking again"
                            .to_string(),
                    ));
                    g.wait_no_child(progress).await?;
                } else if text.contains("Another child process") && !schedule {
                    schedule = true;
                } else {
                    return Err(OpsError::failed(format!(
                        "BGSAVE on '{name}' was refused: {text}"
                    )));
                }
            }
        }
    }
}

fn verdict(name: &str, info: &Info, t0: i64) -> OpsResult<i64> {
    let p = &info.persistence;
    if p.last_bgsave_ok == Some(false) {
        return Err(OpsError::failed(format!(
            "the BGSAVE on '{name}' failed (rdb_last_bgsave_status:err); with stop-writes-on-bgsave-error \
             the node now refuses writes (MISCONF) until a save succeeds"
        ))
        .hint("check its log, the disk and the 'dir' it saves to"));
    }
    match p.last_save_time {
        Some(t) if t >= t0 => Ok(t),
        Some(t) => Err(OpsError::failed(format!(
            "the BGSAVE on '{name}' ended but rdb_last_save_time ({t}) is older than the request ({t0}): \
             no fresh snapshot on disk"
        ))),
        None => Err(OpsError::failed(format!("'{name}' does not report rdb_last_save_time"))),
    }
}

/// The node's clock in whole seconds (`server_time_usec`), else one second past its last save.
#[must_use]
pub fn node_time(info: &Info) -> Option<i64> {
    if let Some(us) = info.server.time_usec {
        return i64::try_from(us / 1_000_000).ok();
    }
    info.persistence.last_save_time.map(|t| t + 1)
}

/// The plan of `redops snapshot NODE`: pre-checks on the node, the gate, an optional download,
/// and the group guard (read-only by config, the lock on every node that answered) like every
/// other plan.
#[must_use]
pub fn plan_snapshot(
    config: &Config,
    topology: &Topology,
    node: &NodeRef<'_>,
    download_dir: Option<std::path::PathBuf>,
    budgets: Budgets,
) -> Plan {
    let mut plan = Plan::new(
        ActionKind::Snapshot,
        node.group_name,
        node.group_index,
        budgets,
    );
    let mut cluster = false;
    if let Some(g) = config.groups.get(node.group_index) {
        let live = group_topology(topology, node.group_index);
        cluster = g.cluster || live.cluster.is_some();
        group_guard(&mut plan, g, &live);
    }
    let i = plan.add_node(&node.cfg.name, &node.cfg.addr, node.id);
    plan.summary = format!("verified BGSAVE of {} ({})", node.cfg.name, node.cfg.addr);
    plan.snapshots.push(i);
    if let Some(d) = download_dir {
        plan.downloads.push(i);
        plan.download_dir = Some(d);
    }
    match node.view.and_then(|v| v.info.as_ref()) {
        None => plan.checks.push(Check::fail(format!(
            "'{}' could not be read: {}",
            node.cfg.name,
            node.view
                .and_then(|v| v.error.as_ref())
                .map_or_else(|| "no answer".to_string(), ToString::to_string)
        ))),
        Some(info) => {
            let p = &info.persistence;
            plan.checks.push(Check::require(
                !p.loading,
                format!("{} is not loading", node.cfg.name),
                format!("{} is loading its dataset", node.cfg.name),
            ));
            if p.last_bgsave_ok == Some(false) {
                plan.checks.push(Check::warn(format!(
                    "{}'s last BGSAVE failed: this one may fail too (check its disk and log)",
                    node.cfg.name
                )));
            }
            if p.bgsave_in_progress {
                plan.checks.push(Check::warn(format!(
                    "{} is already saving (or sending an RDB to a replica): the gate waits for it, then saves again",
                    node.cfg.name
                )));
            }
            if p.aof_rewrite_in_progress {
                plan.checks.push(Check::warn(format!(
                    "an AOF rewrite runs on {}: BGSAVE SCHEDULE will be used",
                    node.cfg.name
                )));
            }
            if p.aof_enabled {
                plan.notes.push(aof_note(&node.cfg.name));
            }
        }
    }
    plan.notes.push(format!(
        "the save forks {} (copy-on-write memory); it lands in the node's own 'dir'",
        node.cfg.name
    ));
    note_no_persistence(&mut plan, i, node.view);
    if cluster {
        plan.notes.push(CLUSTER_NOTE.to_string());
    }
    plan
}

/// On a cluster, a snapshot of one node holds its shard's keys only.
pub const CLUSTER_NOTE: &str = "this is one node of a cluster: its snapshot holds only its \
     shard's slots; for the whole cluster at one cut, every primary at once with one cluster \
     manifest, run snapshot --all (in the console :snapshot-all [MS])";

/// What an `appendonly yes` node reloads: its AOF, not this RDB. The manifest records
/// `aof_enabled` too.
#[must_use]
pub fn aof_note(node: &str) -> String {
    format!(
        "{node} runs with appendonly yes: at a restart it reloads its AOF, not this RDB; to \
         restore from the RDB, start the server with appendonly no on it, then turn appendonly \
         back on with CONFIG SET (which rewrites the AOF from the loaded data)"
    )
}

/// Says in the plan what the gate does on plan node `node` when its last poll showed no
/// persistence (`save ""`, no AOF): where the save goes, and what happens if the server
/// refuses to save under another name (see the module doc).
pub fn note_no_persistence(plan: &mut Plan, node: usize, view: Option<&NodeView>) {
    let Some(info) = view.and_then(|v| v.info.as_ref()) else {
        return;
    };
    let p = &info.persistence;
    if p.aof_enabled
        || p.save_config
            .as_deref()
            .is_none_or(|s| !s.trim().is_empty())
    {
        return;
    }
    let name = plan.name(node).to_string();
    let otherwise = if plan.downloads.contains(&node) {
        "the download is the snapshot and nothing is saved on it"
    } else {
        "the gate stops rather than leave a file it would reload: download the snapshot \
         instead, or skip it with a reason"
    };
    plan.notes.push(format!(
        "{name} has no persistence: a dump.rdb in its dir would be reloaded at its next restart, \
         so its snapshot is saved as {TEMP_DBFILENAME_PREFIX}<run id>.<dbfilename>, which it \
         never loads, and its dbfilename is put back at once; if it refuses to change \
         dbfilename (a protected config from Redis 7.0), {otherwise}"
    ));
}

pub mod cluster;

#[cfg(test)]
mod tests;
