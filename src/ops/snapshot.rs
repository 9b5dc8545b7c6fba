//! The snapshot gate (REDIS.md 3a) and the `snapshot` action's plan.
//!
//! A BGSAVE is done only when `rdb_bgsave_in_progress:0`, `rdb_last_bgsave_status:ok` and
//! `rdb_last_save_time >= T0`, T0 being the node's own clock when the save was asked for.
//! `BGSAVE SCHEDULE` is used while an AOF rewrite (or module fork) runs; "already in progress"
//! (possibly a diskless replication transfer that writes no file) is waited out and the BGSAVE
//! issued again. The gate runs before any pause, so it never adds to a write stall.

use std::time::Duration;

use tokio::time::Instant;

use super::plan::{ActionKind, Budgets, Check, Plan, PlanNode};
use super::redis_ops::{Command, InfoSection, RedisOps, Reply};
use super::NodeRef;
use crate::info::Info;
use crate::observe::NodeError;

/// How often the gate polls `INFO persistence`.
pub const GATE_POLL: Duration = Duration::from_millis(100);
/// How many times "already in progress" is waited out before giving up.
pub const MAX_REISSUES: u32 = 5;

/// A verified snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateResult {
    /// The node's clock when the save was asked for (seconds).
    pub t0: i64,
    /// `rdb_last_save_time` after the save.
    pub last_save: i64,
    /// Commands sent and their replies, for the audit log.
    pub exchanges: Vec<(String, String)>,
}

/// Why the gate did not pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GateError {
    pub message: String,
    pub exchanges: Vec<(String, String)>,
}

struct Gate<'a, O: RedisOps> {
    ops: &'a O,
    node: &'a PlanNode,
    exchanges: Vec<(String, String)>,
    deadline: Instant,
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
        GateError {
            message,
            exchanges: std::mem::take(&mut self.exchanges),
        }
    }

    async fn persistence(&mut self) -> Result<Info, GateError> {
        match self.send(Command::Info(InfoSection::Persistence)).await {
            Ok(Reply::Info(i)) => Ok(*i),
            Ok(other) => Err(self.fail(format!("unexpected INFO reply: {}", other.summary()))),
            Err(e) => Err(self.fail(format!(
                "cannot read '{}' while waiting for its BGSAVE: {e}",
                self.node.name
            ))),
        }
    }

    fn timed_out(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Polls until no RDB child runs, reporting progress.
    async fn wait_no_child(&mut self, progress: &mut dyn FnMut(String)) -> Result<Info, GateError> {
        loop {
            let info = self.persistence().await?;
            let p = &info.persistence;
            if !p.bgsave_in_progress {
                return Ok(info);
            }
            if self.timed_out() {
                return Err(self.fail(format!(
                    "the BGSAVE on '{}' did not finish within the snapshot budget",
                    self.node.name
                )));
            }
            if let (Some(done), Some(total)) = (p.keys_processed, p.keys_total) {
                progress(format!("{done}/{total} keys saved"));
            }
            tokio::time::sleep(GATE_POLL).await;
        }
    }

    /// Polls until no AOF rewrite or module fork runs (a scheduled BGSAVE starts after them).
    async fn wait_other_children(&mut self) -> Result<(), GateError> {
        loop {
            let info = self.persistence().await?;
            let p = &info.persistence;
            if !p.aof_rewrite_in_progress && !p.module_fork_in_progress {
                return Ok(());
            }
            if self.timed_out() {
                return Err(self.fail(format!(
                    "an AOF rewrite on '{}' still runs: the scheduled BGSAVE could not start within the budget",
                    self.node.name
                )));
            }
            tokio::time::sleep(GATE_POLL).await;
        }
    }
}

/// Runs the gate on one node: BGSAVE and wait until the snapshot is proven.
///
/// # Errors
/// The save failed (`rdb_last_bgsave_status:err`: writes may now be refused with MISCONF),
/// did not finish within `budget`, finished without a fresh `rdb_last_save_time`, or the node
/// could not be read.
pub async fn run_gate<O: RedisOps>(
    ops: &O,
    node: &PlanNode,
    budget: Duration,
    progress: &mut dyn FnMut(String),
) -> Result<GateResult, GateError> {
    let mut g = Gate {
        ops,
        node,
        exchanges: Vec::new(),
        deadline: Instant::now() + budget,
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
    let saves_before = info.persistence.saves;
    let mut schedule =
        info.persistence.aof_rewrite_in_progress || info.persistence.module_fork_in_progress;
    let mut reissues = 0;
    loop {
        let reply = g.send(Command::BgSave { schedule }).await;
        match reply {
            Ok(r) if r.text().is_some_and(|t| t.contains("scheduled")) => {
                progress("BGSAVE scheduled after the running AOF rewrite".to_string());
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
                        return verdict(g, &info, t0);
                    }
                    if g.timed_out() {
                        return Err(g.fail(format!(
                            "the scheduled BGSAVE on '{}' did not run within the budget",
                            node.name
                        )));
                    }
                    tokio::time::sleep(GATE_POLL).await;
                }
            }
            Ok(r) if r.text().is_some_and(|t| t.contains("started")) => {
                let info = g.wait_no_child(progress).await?;
                return verdict(g, &info, t0);
            }
            Ok(other) => {
                return Err(g.fail(format!(
                    "unexpected BGSAVE reply from '{}': {}",
                    node.name,
                    other.summary()
                )))
            }
            Err(e) => {
                let text = e.to_string();
                if text.contains("already in progress") && reissues < MAX_REISSUES {
                    // Possibly a diskless replication transfer: it writes no file. Wait it out,
                    // then ask again.
                    reissues += 1;
                    progress("another RDB child runs (a save or a replica transfer): waiting, then asking again".to_string());
                    g.wait_no_child(progress).await?;
                } else if text.contains("Another child process") && !schedule {
                    schedule = true;
                } else {
                    return Err(g.fail(format!("BGSAVE on '{}' was refused: {text}", node.name)));
                }
            }
        }
    }
}

fn verdict<O: RedisOps>(mut g: Gate<'_, O>, info: &Info, t0: i64) -> Result<GateResult, GateError> {
    let p = &info.persistence;
    let name = g.node.name.clone();
    if p.last_bgsave_ok == Some(false) {
        return Err(g.fail(format!(
            "the BGSAVE on '{name}' failed (rdb_last_bgsave_status:err); with stop-writes-on-bgsave-error \
             the node now refuses writes (MISCONF) until a save succeeds. hint: check its log, the \
             disk and the 'dir' it saves to"
        )));
    }
    match p.last_save_time {
        Some(t) if t >= t0 => Ok(GateResult {
            t0,
            last_save: t,
            exchanges: g.exchanges,
        }),
        Some(t) => Err(g.fail(format!(
            "the BGSAVE on '{name}' ended but rdb_last_save_time ({t}) is older than the request ({t0}): \
             no fresh snapshot on disk"
        ))),
        None => Err(g.fail(format!("'{name}' does not report rdb_last_save_time"))),
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

/// The plan of `redops snapshot NODE`: pre-checks on the node, the gate, an optional download.
#[must_use]
pub fn plan_snapshot(
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
        }
    }
    plan.notes.push(format!(
        "the save forks {} (copy-on-write memory); it lands in the node's own 'dir'",
        node.cfg.name
    ));
    plan
}
