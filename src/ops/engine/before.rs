//! What a run does before its first step, after the guards: the live pre-checks (the lock,
//! Sentinel's connections, the plan's expectations read again) and the snapshot gate (BGSAVE
//! verified, RDB downloaded and checked), or its recorded skip.

use crate::audit::Record;
use crate::info::InfoRole;

use super::super::lock::parse_client_list;
use super::super::redis_ops::{Command, InfoSection, RedisOps};
use super::super::snapshot::{run_gate, GateFailure};
use super::super::summary::info_line;
use super::{same_host, Approval, Run, RunEvent};

impl<O: RedisOps> Run<'_, O> {
    /// The lock, Sentinel's connections, and the plan's expectations, read live. Returns the
    /// lock checks that could not be made and were overridden (with the run's reason).
    pub(super) async fn live_prechecks(
        &mut self,
        approval: &Approval,
    ) -> Result<Vec<String>, String> {
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
    async fn check_lock(&mut self, approval: &Approval) -> Result<Vec<String>, String> {
        let plan = self.plan;
        let own = self.ops.client_name().to_string();
        let mut unchecked = Vec::new();
        for node in &plan.lock {
            let name = &node.name;
            match self.send_to(node, Command::ClientList).await {
                Ok(reply) => {
                    let actors = parse_client_list(reply.text().unwrap_or_default(), &own);
                    if let Some(h) = actors.redops.first() {
                        return Err(format!(
                            "another redops action is running on {name}: {}. hint: wait for it to finish, or \
                             ask its operator",
                            h.describe()
                        ));
                    }
                    if plan.changes_roles() {
                        if let Some(s) = actors.sentinels.first() {
                            return Err(format!(
                                "Sentinel is connected to {name} ({}): it would undo or fight a manual role \
                                 change. hint: switch over through Sentinel instead",
                                s.describe()
                            ));
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
        Err(format!(
            "{}. hint: without the lock another console (or Sentinel) acting on group '{}' goes \
             unseen; --force --reason TEXT acts anyway (recorded)",
            unchecked.join("; "),
            plan.group
        ))
    }

    /// The plan's expectations (roles, upstreams) read again: the topology has not changed.
    async fn check_expects(&mut self) -> Result<(), String> {
        for e in &self.plan.expects.clone() {
            let name = self.plan.name(e.node).to_string();
            let info = self
                .info(e.node, InfoSection::Default)
                .await
                .map_err(|err| format!("cannot read {name}: {err}"))?;
            let r = &info.replication;
            if e.primary && r.role != Some(InfoRole::Primary) {
                return Err(format!(
                    "the topology changed since the plan was made: {name} is no longer a primary ({}). hint: \
                     look again and re-plan",
                    info_line(&info)
                ));
            }
            if let Some(up) = e.upstream {
                let a = &self.plan.nodes[up].addr;
                let follows = r.role == Some(InfoRole::Replica)
                    && r.master_port == Some(a.port)
                    && r.master_host
                        .as_deref()
                        .is_some_and(|h| same_host(h, &a.host));
                if !follows {
                    return Err(format!(
                        "the topology changed since the plan was made: {name} no longer replicates from {} ({}). \
                         hint: look again and re-plan",
                        self.plan.name(up),
                        info_line(&info)
                    ));
                }
            }
            self.st.pre.insert(e.node, info);
        }
        Ok(())
    }

    pub(super) fn pre_state(&self) -> String {
        let mut v: Vec<_> = self.st.pre.iter().collect();
        v.sort_by_key(|(k, _)| **k);
        v.iter()
            .map(|(k, i)| format!("{}: {}", self.plan.name(**k), info_line(i)))
            .collect::<Vec<_>>()
            .join(" | ")
    }

    pub(super) async fn snapshot_gate(&mut self, approval: &Approval) -> Result<(), String> {
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
            self.emit(RunEvent::SnapshotSkipped {
                reason: reason.clone(),
            });
            let _ = self.record(Record {
                event: "SnapshotSkipped".to_string(),
                reason: Some(reason.clone()),
                ..Record::default()
            });
            return Ok(());
        }
        for &n in &self.plan.snapshots.clone() {
            let node = self.plan.nodes[n].clone();
            self.emit(RunEvent::SnapshotStarted {
                node: node.name.clone(),
            });
            let _ = self.record(Record {
                event: "SnapshotStarted".to_string(),
                title: Some(format!("BGSAVE on {}", node.name)),
                ..Record::default()
            });
            let events = self.events.clone();
            let name = node.name.clone();
            let mut progress = move |d: String| {
                let _ = events.send(RunEvent::SnapshotProgress {
                    node: name.clone(),
                    detail: d,
                });
            };
            let result = run_gate(self.ops, &node, self.plan.budgets.snapshot, &mut progress).await;
            match result {
                Ok(g) => {
                    self.exchanges.extend(
                        g.exchanges
                            .iter()
                            .map(|(c, r)| (format!("{}: {c}", node.name), r.clone())),
                    );
                    self.emit(RunEvent::SnapshotVerified {
                        node: node.name.clone(),
                        last_save: g.last_save,
                    });
                    let aside = g.saved_aside.as_ref().map_or_else(String::new, |f| {
                        format!(
                            "; saved as '{f}' in its dir (no persistence: the server never \
                             loads it), its dbfilename put back"
                        )
                    });
                    let _ = self.record(Record {
                        event: "SnapshotVerified".to_string(),
                        detail: Some(format!(
                            "rdb_last_save_time {} >= requested at {}{aside}",
                            g.last_save, g.t0
                        )),
                        ..Record::default()
                    });
                }
                Err(e) if e.kind == GateFailure::WouldPlant && self.plan.downloads.contains(&n) => {
                    // Nothing was saved on the node; the download below is the snapshot.
                    self.exchanges.extend(
                        e.exchanges
                            .iter()
                            .map(|(c, r)| (format!("{}: {c}", node.name), r.clone())),
                    );
                    let reason = format!(
                        "no BGSAVE on {}: it has no persistence and cannot save under another \
                         name, so a saved file would be reloaded at its next restart; the \
                         verified download is the snapshot",
                        node.name
                    );
                    self.emit(RunEvent::SnapshotSkipped {
                        reason: reason.clone(),
                    });
                    let _ = self.record(Record {
                        event: "SnapshotSkipped".to_string(),
                        reason: Some(reason),
                        detail: Some(e.message.clone()),
                        ..Record::default()
                    });
                }
                Err(e) => {
                    self.exchanges.extend(
                        e.exchanges
                            .iter()
                            .map(|(c, r)| (format!("{}: {c}", node.name), r.clone())),
                    );
                    let _ = self.record(Record {
                        event: "SnapshotFailed".to_string(),
                        detail: Some(e.message.clone()),
                        ..Record::default()
                    });
                    return Err(format!(
                        "snapshot gate failed, nothing was changed: {}",
                        e.message
                    ));
                }
            }
        }
        for &n in &self.plan.downloads.clone() {
            let node = self.plan.nodes[n].clone();
            let Some(dir) = self.plan.download_dir.clone() else {
                return Err("a download was planned without a directory".to_string());
            };
            let budget = self.plan.budgets.download;
            match self.ops.download_rdb(&node, &dir, budget).await {
                Ok(d) => {
                    self.emit(RunEvent::DownloadVerified {
                        node: node.name.clone(),
                        path: d.path.display().to_string(),
                        bytes: d.bytes,
                    });
                    let _ = self.record(Record {
                        event: "DownloadVerified".to_string(),
                        detail: Some(format!(
                            "{} ({} bytes, crc ok: {}) {}",
                            d.path.display(),
                            d.bytes,
                            d.crc_ok,
                            d.detail
                        )),
                        ..Record::default()
                    });
                }
                Err(e) => {
                    let _ = self.record(Record {
                        event: "DownloadFailed".to_string(),
                        detail: Some(e.clone()),
                        ..Record::default()
                    });
                    return Err(format!(
                        "the RDB download of {} failed, nothing was changed: {e}",
                        node.name
                    ));
                }
            }
        }
        Ok(())
    }
}
