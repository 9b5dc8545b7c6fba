//! When a critical step fails: undo what is safe to undo, read the group as it is now, and
//! say what the operator should do next (DESIGN invariant 3).
//!
//! Rules: a FAILOVER that has not completed is aborted; an old primary demoted while its target
//! was not promoted is made a primary again (it took no write: paused), unless the target may
//! still run its promotion (then it stays a replica: a late promotion leaves one primary, not
//! two); a command that may still run is never reported as "nothing changed"; every pause is
//! lifted (once the old primary is demoted, lifting it makes no second writable node).
//!
//! What there is to undo is the run's list of changes (`state.rs`), walked newest first: a new
//! kind of change does not compile until this file says what its undo is.

use std::time::Duration;

use crate::info::{Info, InfoRole};

use super::super::next_step::{decide, NextStep, NodeFacts, Pending, RunFacts, Seen, Situation};
use super::super::redis_ops::{Command, InfoSection, RedisOps, Reply};
use super::super::summary::info_line;
use super::state::Change;
use super::{Run, RunEvent, RunOutcome, RunStatus};

impl<O: RedisOps> Run<'_, O> {
    /// A critical step failed: undo what is safe, read the state, explain it.
    ///
    /// The run's changes are walked newest first (a failover is aborted before anything else
    /// is looked at, a pause lifted last); each kind of change says here what its undo is.
    pub(super) async fn fail(&mut self, step: usize, error: &str) -> RunOutcome {
        let mut undone = Vec::new();
        // A command that may still run is said first in the next step.
        let mut pending = None;
        let changes = self.st.changes().to_vec();
        for change in changes.into_iter().rev() {
            match change {
                Change::FailoverStarted(p) => undone.push(self.abort_failover(p).await),
                Change::DemotionPending(p) => {
                    let (pn, tn) = (self.plan.name(p).to_string(), self.target_name());
                    undone.push(format!(
                        "{pn} never answered its demotion: it may still run it; {tn} was not promoted by redops, so \
                         that cannot make two primaries, but after a REPLICAOF no node takes writes ({pn} and {tn} \
                         replicate from each other)"
                    ));
                    pending = Some(Pending::Demotion {
                        old: pn,
                        target: tn,
                    });
                }
                // The promoted node is the group's one primary: it stays one.
                Change::Promoted(_) => {}
                // With a demoted old primary, undoing the demotion (below) deals with it.
                Change::PromotionPending(_) if self.st.demoted().is_some() => {}
                Change::PromotionPending(t) => {
                    // A promotion that may still run, with no demoted old primary (promote action).
                    pending = Some(Pending::Promotion {
                        target: self.plan.name(t).to_string(),
                    });
                }
                // Demoted, and its target promoted: the group has its one primary.
                Change::Demoted(_) if self.st.promoted().is_some() => {}
                // Sentinel may still promote the target: the old primary stays its replica.
                Change::Demoted(p) if self.st.sentinel_pending().is_some() => {
                    undone.push(format!(
                        "{} stays a replica: Sentinel may still promote its target",
                        self.plan.name(p)
                    ));
                }
                Change::Demoted(_) => {
                    undone.push(self.undo_demotion().await);
                    if let (Some(t), Some(p)) = (self.st.pending_promotion(), self.old_primary) {
                        pending = Some(Pending::PromotionAfterDemotion {
                            target: self.plan.name(t).to_string(),
                            old: self.plan.name(p).to_string(),
                        });
                    }
                }
                Change::Paused { node, .. } if self.st.pending_demotion().is_some() => {
                    // Unpausing a primary that may still run its demotion could let it take writes
                    // just before it demotes itself and full-syncs from the target: those writes
                    // would be lost. Left paused, it demotes itself with the writes still postponed.
                    let name = self.plan.name(node).to_string();
                    undone.push(format!(
                        "writes on {name} stay paused until the pause expires by itself: it may still run its \
                         demotion"
                    ));
                }
                Change::Paused { node, .. } if self.keep_paused_for_sentinel() => {
                    undone.push(self.still_paused_words(node));
                }
                Change::Paused { node, .. } => undone.push(self.lift_pause(node).await),
                Change::SentinelFailoverPending(t) => {
                    undone.push(self.settle_sentinel_failover(t).await);
                }
                Change::PriorityLowered(_) if self.st.sentinel_pending().is_some() => {}
                Change::PriorityLowered(n) => undone.push(self.restore_priority_words(n).await),
                // Detached by the run's own step: nothing to undo.
                Change::FollowsScratch(_) if self.st.promoted().is_some() => {}
                Change::FollowsScratch(n) => undone.push(self.detach_from_scratch(n).await),
                Change::ScratchStarted(_) => undone.push(self.stop_scratch_words().await),
            }
        }
        undone.extend(self.reset_stop_words());
        for what in undone {
            self.event(RunEvent::RolledBack { step, what });
        }
        let (state, infos, silent) = self.read_state().await;
        let next = self
            .cluster_next_step()
            .or_else(|| self.cut_next_step())
            .or_else(|| self.reset_next_step())
            .unwrap_or_else(|| self.next_step(&infos, &silent, pending));
        let title = &self.plan.steps[step].title;
        self.finish(
            RunStatus::Failed,
            format!("step {} ({title}) failed: {error}", step + 1),
            state,
            Some(next),
        )
    }

    /// A restore failed after the node was pointed at the scratch server: it was a primary,
    /// it is made one again (holding what the sync left; its data from before is in the
    /// download, when it had any).
    async fn detach_from_scratch(&mut self, n: usize) -> String {
        let name = self.plan.name(n).to_string();
        let reached = |i: &Info| i.replication.role == Some(InfoRole::Primary);
        match self.role_command(n, Command::ReplicaOf(None), reached).await {
            Ok(_) => {
                self.st.undid(Change::FollowsScratch(n));
                format!(
                    "{name} is detached from the scratch server and a primary again, holding what the \
                     sync left (its data from before the restore is in the download, if it had any)"
                )
            }
            Err(f) => format!(
                "{name} could not be detached from the scratch server ({}): it stays a replica of a \
                 server that is about to stop; make it a primary by hand",
                f.error
            ),
        }
    }

    /// Stops the scratch server, in words for the rollback.
    async fn stop_scratch_words(&mut self) -> String {
        match self.stop_scratch().await {
            Ok(w) => w,
            Err(e) => e.message,
        }
    }

    /// `FAILOVER ABORT` on `p`, whose failover may be running.
    async fn abort_failover(&mut self, p: usize) -> String {
        let name = self.plan.name(p).to_string();
        match self.send(p, Command::FailoverAbort).await {
            Ok(r) => format!("FAILOVER ABORT on {name}: {}", r.summary()),
            Err(e) => format!("FAILOVER ABORT on {name} failed: {e}"),
        }
    }

    /// `CLIENT UNPAUSE` on `node`, tried three times; the pause expires by itself otherwise.
    async fn lift_pause(&mut self, node: usize) -> String {
        let name = self.plan.name(node).to_string();
        for _ in 0..3 {
            if let Ok(r) = self.send(node, Command::ClientUnpause).await {
                if r.is_ok() {
                    self.st.unpaused(node);
                    return format!("writes on {name} unpaused");
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        format!("CLIENT UNPAUSE on {name} failed: the pause expires by itself")
    }

    /// The old primary was demoted and the target not promoted: no node takes writes. Make the
    /// old primary a primary again (it took no write: it was paused), unless the target may
    /// still run its promotion: then the old primary stays a replica, so that a late promotion
    /// leaves exactly one primary instead of two.
    async fn undo_demotion(&mut self) -> String {
        let Some(p) = self.old_primary else {
            return "no old primary to restore".to_string();
        };
        let (pn, tn) = (self.plan.name(p).to_string(), self.target_name());
        if let Some(t) = self.st.pending_promotion() {
            let watched = crate::config::format_duration(
                self.plan.budgets.command * super::fence::WATCH_TIMEOUTS,
            );
            return format!(
                "{} never answered REPLICAOF NO ONE (watched {watched} more) and may still run it: {pn} stays \
                 a replica of {tn}, so that {tn} is then the only primary; until {tn} answers, no node takes \
                 writes",
                self.plan.name(t)
            );
        }
        let reached = |i: &Info| i.replication.role == Some(InfoRole::Primary);
        match self.role_command(p, Command::ReplicaOf(None), reached).await {
            Ok(_) => {
                self.st.undid(Change::Demoted(p));
                format!("{pn} is a primary again (it took no write while paused); {tn} is still its replica")
            }
            Err(f) => format!(
                "{pn} could not be made a primary again ({}): no node takes writes; {tn} and {pn} replicate \
                 from each other",
                f.error
            ),
        }
    }

    /// The name of the node a switchover promotes (the `Promote` step's node).
    fn target_name(&self) -> String {
        self.plan
            .steps
            .iter()
            .find(|s| matches!(s.kind, super::super::plan::StepKind::Promote))
            .map_or_else(
                || "the target".to_string(),
                |s| self.plan.name(s.node).to_string(),
            )
    }

    /// One line per plan node, read now, and the raw infos.
    /// Also the nodes that did not answer at all (refused or silent): only those may be down;
    /// one that answered with an error is alive (DESIGN invariant 9).
    async fn read_state(&mut self) -> (Vec<String>, Vec<(usize, Option<Info>)>, Vec<usize>) {
        let mut lines = Vec::new();
        let mut infos = Vec::new();
        let mut silent = Vec::new();
        for n in 0..self.plan.nodes.len() {
            if self.plan.sentinel_nodes.contains(&n) {
                continue;
            }
            let name = self.plan.name(n).to_string();
            match self.send(n, Command::Info(InfoSection::Replication)).await {
                Ok(Reply::Info(i)) => {
                    lines.push(format!("{name}: {}", info_line(&i)));
                    infos.push((n, Some(*i)));
                }
                Ok(r) => {
                    lines.push(format!("{name}: unexpected INFO reply: {}", r.summary()));
                    infos.push((n, None));
                }
                Err(e) => {
                    if e.state().is_silent() {
                        lines.push(format!("{name}: unreachable ({e})"));
                        silent.push(n);
                    } else {
                        lines.push(format!("{name}: answers but cannot be read ({e})"));
                    }
                    infos.push((n, None));
                }
            }
        }
        (lines, infos, silent)
    }
    /// The safe next step, from the nodes as read now and what this run knows.
    fn next_step(
        &self,
        infos: &[(usize, Option<Info>)],
        silent: &[usize],
        pending: Option<Pending>,
    ) -> NextStep {
        let nodes = infos
            .iter()
            .map(|(n, i)| {
                let name = self.plan.name(*n);
                match i {
                    Some(i) => NodeFacts::read(name, i, self.upstream_of(i)),
                    None => NodeFacts {
                        name: name.to_string(),
                        seen: if silent.contains(n) {
                            Seen::Silent
                        } else {
                            Seen::Unreadable
                        },
                    },
                }
            })
            .collect();
        let run = RunFacts {
            old_primary: self.old_primary.map(|p| self.plan.name(p).to_string()),
            captured_offset: self.st.captured_offset,
            demotion_pending: self.st.pending_demotion().is_some(),
            pending,
        };
        decide(&Situation::after_run(nodes, run)).next
    }

    /// The plan node a replica's INFO says it replicates from.
    fn upstream_of(&self, i: &Info) -> Option<String> {
        let r = &i.replication;
        let (host, port) = (r.master_host.as_deref()?, r.master_port?);
        self.plan
            .nodes
            .iter()
            .find(|n| n.addr.port == port && super::same_host(host, &n.addr.host))
            .map(|n| n.name.clone())
    }
}
