//! What a run does before its first step, after the guards: the live pre-checks (the lock,
//! Sentinel's connections, the plan's expectations read again) and the snapshot gate (BGSAVE
//! verified, RDB downloaded and checked), or its recorded skip.

use std::time::Duration;

use tokio::time::Instant;

use crate::info::InfoRole;

use super::super::error::{OpsError, OpsResult};
use super::super::lock::parse_client_list;
use super::super::redis_ops::{Command, InfoSection, RedisOps};
use super::super::snapshot::{run_gate, GateFailure, GateNote};
use super::super::summary::info_line;
use super::journal::Every;
use super::{same_host, Approval, Run, RunEvent};

/// The least time between two progress events of a BGSAVE or a download: front-ends redraw
/// a bar, they do not need the gate's ten polls a second.
pub(crate) const DOWNLOAD_PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// A lock check that could not be made, in words (overridden with the run's reason).
type Unchecked = String;

/// What to do when the group is no longer as the plan saw it.
const REPLAN: &str = "look again and re-plan";

impl<O: RedisOps> Run<'_, O> {
    /// The lock, Sentinel's connections, and the plan's expectations, read live. Returns the
    /// lock checks that could not be made and were overridden (with the run's reason).
    pub(super) async fn live_prechecks(
        &mut self,
        approval: &Approval,
    ) -> OpsResult<Vec<Unchecked>> {
        // A NOPERM half-way (CLIENT PAUSE refused after the snapshot) is a refusal now.
        self.probe_permissions().await?;
        let overridden = self.check_lock(approval).await?;
        self.check_expects().await?;
        Ok(overridden)
    }

    /// The one-operator lock on every node of [`Plan::lock`](super::super::plan::Plan): another
    /// redops action (or Sentinel, before a role change) refuses the run. A node where the
    /// lock cannot be checked (no `+client|list`, an error, this run's connection unnamed)
    /// refuses it too, unless it is forced with a reason; the unchecked nodes are returned so
    /// that the override is recorded.
    async fn check_lock(&mut self, approval: &Approval) -> OpsResult<Vec<Unchecked>> {
        let plan = self.plan;
        let own = self.ops.client_name().to_string();
        let mut unchecked = Vec::new();
        for node in &plan.lock {
            let name = &node.name;
            match self.send_to(node, Command::ClientList).await {
                Ok(reply) => {
                    let actors = parse_client_list(reply.text().unwrap_or_default(), &own);
                    if let Some(h) = actors.redops.first() {
                        return Err(OpsError::refused(format!(
                            "another redops action is running on {name}: {}",
                            h.describe()
                        ))
                        .hint("wait for it to finish, or ask its operator"));
                    }
                    if plan.changes_roles()
                        && plan.sentinel_master.is_none()
                        && !plan.through_sentinel()
                    {
                        if let Some(s) = actors.sentinels.first() {
                            return Err(OpsError::refused(format!(
                                "Sentinel is connected to {name} ({}): it would undo or fight a manual role \
                                 change",
                                s.describe()
                            ))
                            .hint("switch over through Sentinel instead"));
                        }
                    }
                    if !actors.own_listed {
                        unchecked.push(format!(
                            "the lock is not held on {name}: this run's connection there has no name \
                             (the ACL user needs +client|setname), so no other console can see this run"
                        ));
                    }
                }
                Err(e) => unchecked.push(format!(
                    "the lock cannot be checked on {name}: {e}{}",
                    e.fix().map_or_else(String::new, |f| format!(" ({f})"))
                )),
            }
        }
        if unchecked.is_empty() || super::has_reason(approval) {
            return Ok(unchecked);
        }
        Err(OpsError::refused(unchecked.join("; "))
            .hint(format!(
                "without the lock another console (or Sentinel) acting on group '{}' goes unseen",
                plan.group
            ))
            .overridable())
    }

    /// The plan's expectations (roles, upstreams) read again: the topology has not changed.
    async fn check_expects(&mut self) -> OpsResult<()> {
        for e in &self.plan.expects.clone() {
            let name = self.plan.name(e.node).to_string();
            let info = self
                .info(e.node, InfoSection::Default)
                .await
                .map_err(|err| {
                    OpsError::refused(err.message).context(format!("cannot read {name}"))
                })?;
            let r = &info.replication;
            if e.primary && r.role != Some(InfoRole::Primary) {
                return Err(OpsError::refused(format!(
                    "the topology changed since the plan was made: {name} is no longer a primary ({})",
                    info_line(&info)
                ))
                .hint(REPLAN));
            }
            if let Some(up) = e.upstream {
                let a = &self.plan.nodes[up].addr;
                let follows = r.role == Some(InfoRole::Replica)
                    && r.master_port == Some(a.port)
                    && r.master_host
                        .as_deref()
                        .is_some_and(|h| same_host(h, &a.host));
                if !follows {
                    return Err(OpsError::refused(format!(
                        "the topology changed since the plan was made: {name} no longer replicates from {} ({})",
                        self.plan.name(up),
                        info_line(&info)
                    ))
                    .hint(REPLAN));
                }
            }
            self.st.pre.insert(e.node, info);
        }
        Ok(())
    }

    /// One line per node read live by [`check_expects`](Self::check_expects).
    pub(super) fn pre_state(&self) -> Vec<String> {
        let mut v: Vec<_> = self.st.pre.iter().collect();
        v.sort_by_key(|(k, _)| **k);
        v.iter()
            .map(|(k, i)| format!("{}: {}", self.plan.name(**k), info_line(i)))
            .collect()
    }

    pub(super) async fn snapshot_gate(&mut self, approval: &Approval) -> OpsResult<()> {
        let no_gate = self.plan.snapshots.is_empty() && self.plan.downloads.is_empty();
        if no_gate && !self.plan.changes_roles() {
            return Ok(());
        }
        // A role change without a gate passed the guard only with a reason: it is recorded.
        let why = approval
            .skip_snapshot_reason
            .as_ref()
            .or(no_gate.then_some(self.plan.gate_skipped.as_ref()).flatten());
        if let Some(reason) = why {
            self.event(RunEvent::SnapshotSkipped {
                node: None,
                reason: reason.clone(),
                detail: None,
            });
            return Ok(());
        }
        for &n in &self.plan.snapshots.clone() {
            self.snapshot(n).await?;
        }
        for &n in &self.plan.downloads.clone() {
            self.download(n).await?;
        }
        Ok(())
    }

    /// The BGSAVE of plan node `n`, verified; its progress notes as events.
    async fn snapshot(&mut self, n: usize) -> OpsResult<()> {
        let node = self.plan.nodes[n].clone();
        let name = node.name.clone();
        self.event(RunEvent::SnapshotStarted { node: name.clone() });
        let journal = &mut self.journal;
        let mut every = Every::new(DOWNLOAD_PROGRESS_EVERY);
        let mut progress = |n: GateNote| {
            let e = match n {
                GateNote::Note(note) => RunEvent::SnapshotNoted {
                    node: name.clone(),
                    note,
                },
                GateNote::Saving(p) if every.pass((), Instant::now()) => {
                    RunEvent::SnapshotProgress {
                        node: name.clone(),
                        progress: p,
                    }
                }
                GateNote::Saving(_) => return,
            };
            let _ = journal.event(e);
        };
        let result = run_gate(self.ops, &node, self.plan.budgets.snapshot, &mut progress).await;
        let exchanges = match &result {
            Ok(g) => &g.exchanges,
            Err(e) => &e.exchanges,
        };
        for (c, r) in exchanges {
            self.journal.exchange(format!("{name}: {c}"), r.clone());
        }
        match result {
            Ok(g) => {
                self.event(RunEvent::SnapshotVerified {
                    node: name,
                    last_save: g.last_save,
                    requested_at: g.t0,
                    saved_aside: g.saved_aside,
                });
                Ok(())
            }
            Err(e) if e.kind == GateFailure::WouldPlant && self.plan.downloads.contains(&n) => {
                // Nothing was saved on the node; the download that follows is the snapshot.
                let reason = format!(
                    "no BGSAVE on {name}: it has no persistence and cannot save under another \
                     name, so a saved file would be reloaded at its next restart; the \
                     verified download is the snapshot"
                );
                self.event(RunEvent::SnapshotSkipped {
                    node: Some(name),
                    reason,
                    detail: Some(e.message),
                });
                Ok(())
            }
            Err(e) => {
                let error = OpsError::refused(format!(
                    "snapshot gate failed, nothing was changed: {}",
                    e.message
                ))
                .with_hint(e.hint.clone());
                self.event(RunEvent::SnapshotFailed {
                    node: name,
                    error: e.message,
                });
                Err(error)
            }
        }
    }

    /// The RDB download of plan node `n`, verified; its progress as events, at most one per
    /// [`DOWNLOAD_PROGRESS_EVERY`] besides the first and (length announced) the last.
    async fn download(&mut self, n: usize) -> OpsResult<()> {
        let node = self.plan.nodes[n].clone();
        let Some(dir) = self.plan.download_dir.clone() else {
            return Err(OpsError::usage(
                "a download was planned without a directory",
            ));
        };
        let budget = self.plan.budgets.download;
        let name = node.name.clone();
        self.event(RunEvent::DownloadStarted {
            node: name.clone(),
            path: dir.display().to_string(),
        });
        // A diskless transfer announces no length: the node's last download is the estimate.
        let expected = crate::node::rdb::latest_backup(
            &dir,
            &self.plan.group,
            std::slice::from_ref(&name),
            u64::MAX,
        )
        .map(|(_, m)| m.bytes);
        let journal = &mut self.journal;
        let mut every = Every::new(DOWNLOAD_PROGRESS_EVERY);
        let began = Instant::now();
        let mut progress = |bytes: u64, total: Option<u64>| {
            // The transfer reports every 256 KB write; a front-end needs one line a second.
            if !every.pass((), Instant::now()) && Some(bytes) != total {
                return;
            }
            let _ = journal.event(RunEvent::DownloadProgress {
                node: name.clone(),
                bytes,
                total,
                elapsed_ms: super::ms(began.elapsed()),
                expected: total.is_none().then_some(expected).flatten(),
            });
        };
        let result = self
            .ops
            .download_rdb(&node, &dir, budget, &mut progress)
            .await;
        match result {
            Ok(d) => {
                self.event(RunEvent::DownloadVerified {
                    node: node.name.clone(),
                    path: d.path.display().to_string(),
                    bytes: d.bytes,
                    crc_ok: d.crc_ok,
                    detail: d.detail,
                });
                Ok(())
            }
            Err(e) => {
                self.event(RunEvent::DownloadFailed {
                    node: node.name.clone(),
                    error: e.message.clone(),
                });
                Err(OpsError::refused(format!(
                    "the RDB download of {} failed, nothing was changed: {}",
                    node.name, e.message
                ))
                .with_hint(e.hint))
            }
        }
    }
}
