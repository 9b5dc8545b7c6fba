//! Running the steps of a plan; each step adds what it changed to the run's list of changes
//! (`state.rs`).
//!
//! A role command that goes unanswered is watched and driven to its end state (`fence.rs`);
//! what a failed step leaves behind is undone in `rollback.rs`.

use std::time::Duration;

use tokio::time::Instant;

use crate::info::{Info, InfoRole};

use super::super::error::{OpsError, OpsResult};
use super::super::plan::{ActionKind, Step, StepKind};
use super::super::redis_ops::{Command, InfoSection, RedisOps, ScratchRequest};
use super::super::summary::info_line;
use super::state::Change;
use super::{ms, same_host, Run, RunEvent, RunOutcome, RunStatus};

/// What a step verified, in words (the runbook's line, the audit record's detail).
type Detail = String;

/// Pause between polls while waiting for a catch-up (INFO replication is ~350 bytes).
const CATCH_UP_POLL: Duration = Duration::from_millis(2);
/// Pause between polls for slower waits (links, failover, verify).
pub(super) const WAIT_POLL: Duration = Duration::from_millis(50);

impl<O: RedisOps> Run<'_, O> {
    pub(super) async fn run_steps(&mut self) -> RunOutcome {
        let plan = self.plan;
        for (i, step) in plan.steps.iter().enumerate() {
            let commands: Vec<String> = step.commands.iter().map(ToString::to_string).collect();
            self.event(RunEvent::StepStarted {
                index: i,
                title: step.title.clone(),
                node: plan.name(step.node).to_string(),
                commands,
            });
            let t = Instant::now();
            match self.exec(step).await {
                Ok(detail) => {
                    self.event(RunEvent::StepVerified {
                        index: i,
                        title: step.title.clone(),
                        detail,
                        elapsed_ms: ms(t.elapsed()),
                    });
                }
                Err(e) => {
                    let error = e.message;
                    self.event(RunEvent::StepFailed {
                        index: i,
                        title: step.title.clone(),
                        error: error.clone(),
                        critical: step.critical,
                    });
                    if step.critical {
                        return self.fail(i, &error).await;
                    }
                    self.warnings.push(format!("{}: {error}", step.title));
                }
            }
        }
        // The pause's length is the outcome's `pause_ms`: each front-end says it its own way.
        let detail = super::super::summary::done(self.plan);
        self.finish(RunStatus::Done, detail, Vec::new(), None)
    }

    #[allow(clippy::too_many_lines)] // one arm per step kind, each a few lines.
    async fn exec(&mut self, step: &Step) -> OpsResult<Detail> {
        let node = step.node;
        let name = self.plan.name(node).to_string();
        match &step.kind {
            StepKind::PauseWrites { ms: pause } => {
                let sent = Instant::now();
                self.expect_ok(
                    node,
                    Command::ClientPause {
                        ms: *pause,
                        write: true,
                    },
                )
                .await?;
                self.st.did(Change::Paused { node, at: sent });
                Ok(format!("writes on {name} paused for at most {pause} ms"))
            }
            StepKind::WaitCaughtUp { primary, target } => {
                self.wait_caught_up(
                    *primary,
                    *target,
                    step.deadline.unwrap_or(self.plan.budgets.catch_up),
                )
                .await
            }
            StepKind::Demote { to } => {
                let addr = self.plan.nodes[*to].addr.clone();
                let reached = |i: &Info| follows(i, &addr);
                match self
                    .role_command(node, Command::ReplicaOf(Some(addr.clone())), reached)
                    .await
                {
                    Ok(note) => {
                        self.st.did(Change::Demoted(node));
                        Ok(join_note(
                            format!("{name} replicates from {}", self.plan.name(*to)),
                            &note,
                        ))
                    }
                    Err(f) => {
                        if f.pending {
                            self.st.did(Change::DemotionPending(node));
                        }
                        Err(OpsError::failed(f.error))
                    }
                }
            }
            StepKind::Promote => {
                let reached = |i: &Info| i.replication.role == Some(InfoRole::Primary);
                match self
                    .role_command(node, Command::ReplicaOf(None), reached)
                    .await
                {
                    Ok(note) => {
                        self.st.did(Change::Promoted(node));
                        Ok(join_note(format!("{name} is a primary"), &note))
                    }
                    Err(f) => {
                        if f.pending {
                            self.st.did(Change::PromotionPending(node));
                        }
                        Err(OpsError::failed(f.error))
                    }
                }
            }
            StepKind::ReplicaOf { to } => {
                let addr = self.plan.nodes[*to].addr.clone();
                self.expect_ok(node, Command::ReplicaOf(Some(addr))).await?;
                Ok(format!("{name} replicates from {}", self.plan.name(*to)))
            }
            StepKind::WaitLinkUp { to } => {
                self.wait_link_up(node, *to, step.deadline.unwrap_or(self.plan.budgets.verify))
                    .await
            }
            StepKind::WaitSourceCaughtUp { source } => {
                self.wait_source_caught_up(
                    node,
                    *source,
                    step.deadline.unwrap_or(self.plan.budgets.catch_up),
                )
                .await
            }
            StepKind::Unpause => {
                // Idempotent, so sent again when the connection broke: Sentinel may have closed
                // it (its `CLIENT KILL TYPE normal` when it reconfigures a node). An error
                // reply is final.
                let mut tries = 0;
                while let Err((e, broke)) = self.try_ok(node, Command::ClientUnpause).await {
                    tries += 1;
                    if !broke || tries >= 3 {
                        return Err(OpsError::failed(e));
                    }
                }
                self.st.unpaused(node);
                Ok(format!("writes on {name} resumed"))
            }
            StepKind::Failover {
                target,
                to,
                timeout_ms,
            } => {
                self.failover(node, *target, to.clone(), *timeout_ms, step.deadline)
                    .await
            }
            StepKind::ClusterFailover { primary } => {
                self.cluster_failover(node, *primary, step.deadline).await
            }
            StepKind::VerifyCluster { old, nodes } => {
                let deadline = step.deadline.unwrap_or(self.plan.budgets.verify);
                self.verify_cluster(node, *old, nodes, deadline).await
            }
            StepKind::ClusterForceFailover { takeover } => {
                self.cluster_force_failover(node, *takeover, step.deadline)
                    .await
            }
            StepKind::VerifyClusterSlots { nodes, slots } => {
                let deadline = step.deadline.unwrap_or(self.plan.budgets.verify);
                self.verify_cluster_slots(node, nodes, slots, deadline)
                    .await
            }
            StepKind::Verify { primary, replicas } => {
                self.verify(
                    *primary,
                    replicas,
                    step.deadline.unwrap_or(self.plan.budgets.verify),
                )
                .await
            }
            StepKind::ConfigRewrite { nodes } => self.config_rewrite(nodes).await,
            StepKind::StartScratch {
                rdb,
                listen,
                source_version,
                expected,
                server_bin,
            } => {
                self.scratch_reachable(node).await?;
                let req = ScratchRequest {
                    rdb: rdb.clone(),
                    listen: listen.clone(),
                    source_version: source_version.clone(),
                    server_bin: server_bin.clone(),
                    password: self.master_auth(node).await,
                };
                self.start_scratch(node, &req, expected.as_ref()).await
            }
            StepKind::FollowScratch { listen } => self.follow_scratch(node, listen).await,
            StepKind::WaitRestored { listen } => {
                self.wait_restored(
                    node,
                    listen,
                    step.deadline.unwrap_or(self.plan.budgets.verify),
                )
                .await
            }
            StepKind::StopScratch => self.stop_scratch().await,
            StepKind::ClusterCut { shards, pause_ms } => self.cluster_cut(shards, *pause_ms).await,
            StepKind::LowerPriority { old } => self.lower_priority(node, *old).await,
            StepKind::RestorePriority => self.restore_priority(node).await,
            StepKind::SentinelSeesPriorities { master, lowered } => {
                let deadline = step.deadline.unwrap_or(self.plan.budgets.verify);
                self.sentinel_sees_priorities(node, master, lowered, deadline)
                    .await
            }
            StepKind::SentinelInfoPhase { master, target } => {
                let deadline = step.deadline.unwrap_or(self.plan.budgets.verify);
                self.sentinel_info_phase(node, master, *target, deadline)
                    .await
            }
            StepKind::SentinelFailover {
                master,
                primary,
                target,
            } => {
                let deadline = step.deadline.unwrap_or(self.plan.budgets.failover);
                self.sentinel_failover(node, master, *primary, *target, deadline)
                    .await
            }
            StepKind::SentinelConverge {
                master,
                sentinels,
                quorum,
            } => {
                let deadline = step.deadline.unwrap_or(self.plan.budgets.verify);
                self.sentinel_converge(node, master, sentinels, *quorum, deadline)
                    .await
            }
            StepKind::SentinelReset {
                master,
                at,
                others,
                quorum,
            } => self.sentinel_reset(node, master, at, others, *quorum).await,
            StepKind::SentinelRediscovered {
                master,
                replicas,
                peers,
            } => {
                let deadline = step.deadline.unwrap_or(self.plan.budgets.verify);
                self.sentinel_rediscovered(node, master, (*replicas, *peers), deadline)
                    .await
            }
        }
    }

    pub(super) async fn expect_ok(&mut self, node: usize, cmd: Command) -> OpsResult<()> {
        self.try_ok(node, cmd)
            .await
            .map_err(|(error, _)| OpsError::failed(error))
    }

    /// As [`expect_ok`](Self::expect_ok); the error also says whether the command was sent and
    /// went unanswered, so that the node may still run it.
    pub(super) async fn try_ok(&mut self, node: usize, cmd: Command) -> Result<(), (String, bool)> {
        let shown = cmd.to_string();
        match self.send(node, cmd).await {
            Ok(r) if r.is_ok() => Ok(()),
            Ok(r) => Err((
                format!(
                    "{shown} on {} answered '{}'",
                    self.plan.name(node),
                    r.summary()
                ),
                false,
            )),
            // A command that timed out is not a command that did not happen: it may sit in the
            // node's socket and run when the node answers again (a frozen process).
            Err(crate::observe::NodeError::Unresponsive(d)) => {
                let name = self.plan.name(node);
                Err((
                    format!(
                        "{shown} on {name} got no answer within {}: {name} may still run it when \
                         it answers again",
                        crate::config::format_duration(d)
                    ),
                    true,
                ))
            }
            // Refused, auth, TLS, an error reply: not run. `Other` may be a socket that broke
            // after the write: counted as possibly run (the safe side: the node is looked at).
            Err(e) => {
                let sent = matches!(e, crate::observe::NodeError::Other(_));
                Err((
                    format!("{shown} on {} failed: {e}", self.plan.name(node)),
                    sent,
                ))
            }
        }
    }

    /// Reads primary, target, primary until the three offsets are equal on one replid.
    async fn wait_caught_up(
        &mut self,
        p: usize,
        t: usize,
        deadline: Duration,
    ) -> OpsResult<Detail> {
        let (pn, tn) = (self.plan.name(p).to_string(), self.plan.name(t).to_string());
        let end = Instant::now() + deadline;
        let mut last: String;
        let mut polls = 0u32;
        let slack = self.plan.budgets.command;
        loop {
            polls += 1;
            let reads = async {
                let p1 = self
                    .info(p, InfoSection::Replication)
                    .await
                    .map_err(|e| format!("{pn}: {e}"))?;
                let t1 = self
                    .info(t, InfoSection::Replication)
                    .await
                    .map_err(|e| format!("{tn}: {e}"))?;
                let p2 = self
                    .info(p, InfoSection::Replication)
                    .await
                    .map_err(|e| format!("{pn}: {e}"))?;
                Ok::<_, String>((p1, t1, p2))
            };
            let reads =
                tokio::time::timeout(end.saturating_duration_since(Instant::now()) + slack, reads)
                    .await;
            match reads {
                Ok(Ok((p1, t1, p2))) => {
                    let (a, b) = (&p1.replication, &p2.replication);
                    let tr = &t1.replication;
                    let same_id =
                        a.replid.is_some() && a.replid == b.replid && a.replid == tr.replid;
                    if a.role == Some(InfoRole::Primary)
                        && tr.role == Some(InfoRole::Replica)
                        && tr.link_up == Some(true)
                        && same_id
                        && a.offset.is_some()
                        && a.offset == b.offset
                        && a.offset == tr.replica_offset
                    {
                        let off = a.offset.unwrap_or_default();
                        self.st.captured_offset = Some(off);
                        return Ok(format!(
                            "{tn} applied offset {off} = {pn}'s master_repl_offset (poll {polls})"
                        ));
                    }
                    last = format!(
                        "{pn} offset {:?}, {tn} offset {:?} (link {}), replid {}",
                        a.offset,
                        tr.replica_offset,
                        if tr.link_up == Some(true) {
                            "up"
                        } else {
                            "down"
                        },
                        if same_id { "same" } else { "differs" }
                    );
                    if a.role != Some(InfoRole::Primary) {
                        return Err(OpsError::failed(format!(
                            "{pn} is no longer a primary: {}",
                            info_line(&p1)
                        )));
                    }
                }
                Ok(Err(e)) => last = e,
                Err(_) => last = "reads timed out".to_string(),
            }
            if Instant::now() >= end {
                return Err(OpsError::failed(format!(
                    "{tn} did not catch up with {pn} within {} ms: {last}",
                    deadline.as_millis()
                )));
            }
            tokio::time::sleep(CATCH_UP_POLL).await;
        }
    }

    /// Reads the node, then the source, until the source's `master_repl_offset` has reached
    /// the node's applied offset on one replid with the source's own link up. Read in that
    /// order, a source found at or past the node's offset held it while the node read it; the
    /// `REPLICAOF` that follows at once then asks the source for bytes inside its backlog
    /// (REDIS.md 3b), not past its end (a full sync).
    async fn wait_source_caught_up(
        &mut self,
        node: usize,
        source: usize,
        deadline: Duration,
    ) -> OpsResult<Detail> {
        let (n, s) = (
            self.plan.name(node).to_string(),
            self.plan.name(source).to_string(),
        );
        let end = Instant::now() + deadline;
        let mut last: String;
        let mut polls = 0u32;
        loop {
            polls += 1;
            let ni = self.info(node, InfoSection::Replication).await;
            let si = self.info(source, InfoSection::Replication).await;
            match (ni, si) {
                (Ok(ni), Ok(si)) => {
                    let (a, b) = (&ni.replication, &si.replication);
                    let n_off = a.replica_offset.or(a.offset);
                    if a.replid.is_none() || a.replid != b.replid {
                        return Err(OpsError::failed(format!(
                            "{n} and {s} are no longer on one history ({n}: {}; {s}: {}): nothing was \
                             changed; look again and re-plan",
                            info_line(&ni),
                            info_line(&si)
                        )));
                    }
                    let source_ok = b.role == Some(InfoRole::Primary)
                        || (b.link_up == Some(true) && !b.sync_in_progress);
                    if let (true, Some(no), Some(so)) = (source_ok, n_off, b.offset) {
                        if so >= no {
                            return Ok(format!(
                                "{s} is at offset {so}, {n} at {no}: {s} has everything {n} has (poll {polls})"
                            ));
                        }
                    }
                    last = format!(
                        "{s} offset {:?} ({}), {n} offset {n_off:?}",
                        b.offset,
                        if source_ok {
                            "link up"
                        } else {
                            "link down or syncing"
                        }
                    );
                }
                (Err(e), _) => last = format!("{n}: {e}"),
                (_, Err(e)) => last = format!("{s}: {e}"),
            }
            if Instant::now() >= end {
                return Err(OpsError::failed(format!(
                    "{s} did not reach {n}'s offset within {} ms ({last}): pointing {n} at it now would make \
                     {n} full-sync, so nothing was changed",
                    deadline.as_millis()
                )));
            }
            tokio::time::sleep(CATCH_UP_POLL).await;
        }
    }

    async fn wait_link_up(
        &mut self,
        node: usize,
        to: usize,
        deadline: Duration,
    ) -> OpsResult<Detail> {
        let (n, tn) = (
            self.plan.name(node).to_string(),
            self.plan.name(to).to_string(),
        );
        let a = self.plan.nodes[to].addr.clone();
        let end = Instant::now() + deadline;
        let mut last: String;
        loop {
            match self.info(node, InfoSection::Replication).await {
                Ok(i) => {
                    let r = &i.replication;
                    if follows(&i, &a) && r.link_up == Some(true) && !r.sync_in_progress {
                        return Ok(format!("{n} replicates from {tn}, link up"));
                    }
                    last = info_line(&i);
                }
                Err(e) => last = e.to_string(),
            }
            if Instant::now() >= end {
                return Err(OpsError::failed(format!(
                    "{n}'s link to {tn} did not come up: {last}"
                )));
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }

    async fn failover(
        &mut self,
        p: usize,
        t: usize,
        to: crate::config::Addr,
        timeout_ms: u64,
        deadline: Option<Duration>,
    ) -> OpsResult<Detail> {
        let (pn, tn) = (self.plan.name(p).to_string(), self.plan.name(t).to_string());
        let sent = self
            .try_ok(
                p,
                Command::Failover {
                    to,
                    timeout_ms,
                    force: false,
                },
            )
            .await;
        if let Err((error, pending)) = sent {
            if pending {
                // It may still start: the rollback aborts it, and never says nothing changed.
                // (A failover demotes first; the rollback, newest first, aborts it first.)
                self.st.did(Change::DemotionPending(p));
                self.st.did(Change::FailoverStarted(p));
            }
            return Err(OpsError::failed(error));
        }
        self.st.did(Change::FailoverStarted(p));
        let end = Instant::now()
            + deadline.unwrap_or(Duration::from_millis(timeout_ms) + Duration::from_secs(3));
        let t_addr = self.plan.nodes[t].addr.clone();
        let mut last: String;
        loop {
            tokio::time::sleep(WAIT_POLL).await;
            match self.info(p, InfoSection::Replication).await {
                Ok(i) => {
                    let r = &i.replication;
                    let idle = r
                        .failover_state
                        .as_deref()
                        .is_none_or(|s| s == "no-failover");
                    if idle && follows(&i, &t_addr) {
                        self.st.undid(Change::FailoverStarted(p));
                        self.st.did(Change::Demoted(p));
                        self.st.did(Change::Promoted(t));
                        return Ok(format!("{tn} promoted itself; {pn} replicates from it"));
                    }
                    if idle && r.role == Some(InfoRole::Primary) {
                        self.st.undid(Change::FailoverStarted(p));
                        return Err(OpsError::failed(format!(
                            "{pn} ended the failover and is still primary (the target did not catch up in time, \
                             or refused): nothing changed"
                        )));
                    }
                    last = info_line(&i);
                }
                Err(e) => last = e.to_string(),
            }
            if Instant::now() >= end {
                return Err(OpsError::failed(format!(
                    "the failover did not complete in time: {pn}: {last}"
                )));
            }
        }
    }

    async fn verify(
        &mut self,
        primary: usize,
        replicas: &[usize],
        deadline: Duration,
    ) -> OpsResult<Detail> {
        let pa = self.plan.nodes[primary].addr.clone();
        let pn = self.plan.name(primary).to_string();
        let end = Instant::now() + deadline;
        loop {
            let mut problems = Vec::new();
            let p = self.info(primary, InfoSection::Default).await;
            let replid = match &p {
                Ok(i) if i.replication.role == Some(InfoRole::Primary) => {
                    i.replication.replid.clone()
                }
                Ok(i) => {
                    problems.push(format!("{pn} is not a primary: {}", info_line(i)));
                    None
                }
                Err(e) => {
                    problems.push(format!("{pn}: {e}"));
                    None
                }
            };
            for &r in replicas {
                let rn = self.plan.name(r).to_string();
                match self.info(r, InfoSection::Replication).await {
                    Ok(i) => {
                        let rr = &i.replication;
                        if !follows(&i, &pa)
                            || rr.link_up != Some(true)
                            || rr.replid != replid
                            || replid.is_none()
                        {
                            problems.push(format!("{rn}: {}", info_line(&i)));
                        }
                    }
                    Err(e) => problems.push(format!("{rn}: {e}")),
                }
            }
            if problems.is_empty() {
                let mut detail = {
                    let checked: Vec<&str> = replicas.iter().map(|&r| self.plan.name(r)).collect();
                    settled_words(&pn, p.as_ref().ok(), &checked)
                };
                if let (Ok(after), Some(before)) = (&p, self.st.pre.get(&primary)) {
                    if let (Some(a), Some(b)) = (after.stats.sync_full, before.stats.sync_full) {
                        if a > b {
                            let why = if self.plan.action == ActionKind::Restore {
                                "expected: they copy the restored data"
                            } else {
                                "expected when a replica was further behind than the \
                                 replication backlog or held other data"
                            };
                            let w = format!(
                                "{pn}'s replicas needed {} from it during the {} (sync_full \
                                 {b} -> {a}: a whole copy of its data each): {why}",
                                super::super::summary::full_resyncs(a - b),
                                self.plan.action.as_str()
                            );
                            self.warnings.push(w.clone());
                            detail.push_str(&format!("; {w}"));
                        } else {
                            detail.push_str("; partial resyncs only (sync_full unchanged)");
                        }
                    }
                }
                return Ok(detail);
            }
            if Instant::now() >= end {
                return Err(OpsError::failed(format!(
                    "not settled after {} ms: {}",
                    deadline.as_millis(),
                    problems.join("; ")
                )));
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }

    async fn config_rewrite(&mut self, nodes: &[usize]) -> OpsResult<Detail> {
        let mut done = Vec::new();
        let mut errors = Vec::new();
        for &n in nodes {
            let name = self.plan.name(n).to_string();
            let has_file = self
                .st
                .pre
                .get(&n)
                .and_then(|i| i.server.config_file.as_deref())
                .is_some_and(|f| !f.is_empty());
            if !has_file {
                self.warnings.push(format!(
                    "{name} runs without a config file: a restart brings back its old role from its command line"
                ));
                continue;
            }
            match self.expect_ok(n, Command::ConfigRewrite).await {
                Ok(()) => done.push(name),
                Err(e) => errors.push(e.message),
            }
        }
        if errors.is_empty() {
            Ok(if done.is_empty() {
                "no node has a config file: nothing to rewrite".to_string()
            } else {
                format!("rewritten on {}", done.join(", "))
            })
        } else {
            Err(OpsError::failed(errors.join("; ")))
        }
    }
}

/// `detail`, then `note` after a semicolon when there is one.
fn join_note(detail: String, note: &str) -> String {
    if note.is_empty() {
        detail
    } else {
        format!("{detail}; {note}")
    }
}

/// True when `info` says it replicates from `addr`.
pub(super) fn follows(info: &Info, addr: &crate::config::Addr) -> bool {
    let r = &info.replication;
    r.role == Some(InfoRole::Replica)
        && r.master_port == Some(addr.port)
        && r.master_host
            .as_deref()
            .is_some_and(|h| same_host(h, &addr.host))
}

/// What a settled verify saw: how many replicas follow the primary (from its own INFO, which
/// lists every replica, not only the ones the plan checked), and which were checked.
fn settled_words(primary: &str, info: Option<&Info>, checked: &[&str]) -> String {
    let listed = info.map_or(0, |i| {
        let r = &i.replication;
        usize::try_from(r.connected_replicas)
            .unwrap_or(usize::MAX)
            .max(r.replicas.len())
    });
    let follow = listed.max(checked.len());
    let verb = if follow == 1 { "follows" } else { "follow" };
    let mut s = format!(
        "{primary} is the only primary; {} {verb} it",
        crate::words::count(follow, "replica")
    );
    if !checked.is_empty() {
        s.push_str(&format!(
            "; {} checked: link up, same replid",
            checked.join(", ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::settled_words;
    use crate::info::Info;

    /// A rejoin checks one replica, but the primary lists three: the count is the primary's.
    #[test]
    fn settled_counts_every_replica_the_primary_lists() {
        let mut i = Info::default();
        i.replication.connected_replicas = 3;
        let s = settled_words("n2", Some(&i), &["n1"]);
        assert_eq!(
            s,
            "n2 is the only primary; 3 replicas follow it; n1 checked: link up, same replid"
        );
        assert!(!s.contains("(s)"), "{s}");
        i.replication.connected_replicas = 1;
        assert_eq!(
            settled_words("n2", Some(&i), &["n1"]),
            "n2 is the only primary; 1 replica follows it; n1 checked: link up, same replid"
        );
        assert!(settled_words("n2", None, &["n1", "n3"]).contains("2 replicas follow it"));
    }
}
