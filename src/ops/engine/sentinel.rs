//! The steps of a switchover through Sentinel (`switchover/sentinel.rs`): Sentinel steered by
//! `replica-priority`, asked with `SENTINEL FAILOVER`, waited on, and its priorities put
//! back, and what the rollback does about each.
//!
//! Never two writable primaries: the old primary stays paused from before `SENTINEL FAILOVER`
//! until it is a replica of the new master, or until Sentinel is known not to have promoted
//! the target. A target still not a primary when the wait ends may be promoted later by
//! Sentinel: the old primary is then left paused (the pause expires by itself) rather than
//! unpaused under a failover that may still happen.

use std::time::Duration;

use tokio::time::Instant;

use crate::info::{Info, InfoRole};

use super::super::error::{OpsError, OpsResult};
use super::super::redis_ops::{Command, ConfigParam, InfoSection, RedisOps, Reply};
use super::super::summary::info_line;
use super::state::Change;
use super::steps::{follows, WAIT_POLL};
use super::{same_host, Run};

/// Polls of a sentinel's view: it changes at most ten times a second.
const SENTINEL_POLL: Duration = Duration::from_millis(100);

/// How long a rollback watches a target Sentinel was asked to promote.
const SETTLE_WAIT: Duration = Duration::from_secs(5);

impl<O: RedisOps> Run<'_, O> {
    /// `CONFIG GET replica-priority` then `CONFIG SET replica-priority 0` on `node`; the old
    /// value must be `planned`, the one the step's title journalled before anything was sent
    /// (a console killed after the `CONFIG SET` leaves it in the audit log for the next run).
    pub(super) async fn lower_priority(&mut self, node: usize, planned: u64) -> OpsResult<String> {
        let name = self.plan.name(node).to_string();
        let old = match self
            .send(node, Command::ConfigGet(ConfigParam::ReplicaPriority))
            .await
        {
            Ok(Reply::Text(v)) if v.trim().parse::<u64>().is_ok() => v.trim().to_string(),
            Ok(other) => {
                return Err(OpsError::failed(format!(
                    "CONFIG GET replica-priority on {name} answered '{}'",
                    other.summary()
                )))
            }
            Err(e) => {
                return Err(OpsError::failed(format!(
                    "CONFIG GET replica-priority on {name} failed: {e}"
                )))
            }
        };
        if old != planned.to_string() {
            return Err(OpsError::failed(format!(
                "{name}'s replica-priority is {old}, not {planned} as planned: look again and \
                 re-plan"
            )));
        }
        self.st.priorities.insert(node, old.clone());
        let cmd = Command::ConfigSet(ConfigParam::ReplicaPriority, "0".to_string());
        match self.try_ok(node, cmd).await {
            Ok(()) => {
                self.st.did(Change::PriorityLowered(node));
                Ok(format!("{name}'s replica-priority {old} -> 0"))
            }
            Err((error, pending)) => {
                if pending {
                    self.st.did(Change::PriorityLowered(node));
                }
                Err(OpsError::failed(error))
            }
        }
    }

    /// `CONFIG SET replica-priority <old>` on `node`, tried three times.
    pub(super) async fn restore_priority(&mut self, node: usize) -> OpsResult<String> {
        let name = self.plan.name(node).to_string();
        let Some(old) = self.st.priorities.get(&node).cloned() else {
            return Err(OpsError::failed(format!(
                "{name}'s replica-priority was never read: nothing to put back"
            )));
        };
        let mut last = String::new();
        for _ in 0..3 {
            let cmd = Command::ConfigSet(ConfigParam::ReplicaPriority, old.clone());
            match self.try_ok(node, cmd).await {
                Ok(()) => {
                    self.st.undid(Change::PriorityLowered(node));
                    return Ok(format!("{name}'s replica-priority is {old} again"));
                }
                Err((e, _)) => last = e,
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
        Err(OpsError::failed(format!(
            "{last}; {name}'s replica-priority is still 0: set it back to {old} (CONFIG SET \
             replica-priority {old})"
        )))
    }

    /// The rollback's words for [`restore_priority`](Self::restore_priority).
    pub(super) async fn restore_priority_words(&mut self, node: usize) -> String {
        match self.restore_priority(node).await {
            Ok(w) => w,
            Err(e) => e.message,
        }
    }

    /// Polls `SENTINEL REPLICAS` on sentinel `s` until it reads priority 0 on each of `lowered`.
    pub(super) async fn sentinel_sees_priorities(
        &mut self,
        s: usize,
        master: &str,
        lowered: &[usize],
        deadline: Duration,
    ) -> OpsResult<String> {
        let sn = self.plan.name(s).to_string();
        let end = Instant::now() + deadline;
        let mut last: String;
        loop {
            match self
                .ops
                .send(
                    &self.plan.nodes[s],
                    &Command::SentinelReplicas(master.to_string()),
                )
                .await
            {
                Ok(Reply::Text(text)) => {
                    // A replica Sentinel does not list (chained under another) is not one it
                    // can pick.
                    let waiting: Vec<String> = lowered
                        .iter()
                        .filter(|&&n| {
                            !matches!(
                                listed_priority(&text, &self.plan.nodes[n].addr),
                                Listed::No | Listed::Priority(0)
                            )
                        })
                        .map(|&n| self.plan.name(n).to_string())
                        .collect();
                    if waiting.is_empty() {
                        return Ok(format!("{sn} reads priority 0 on every other replica"));
                    }
                    last = format!(
                        "{sn} still reads a priority above 0 on {}",
                        waiting.join(", ")
                    );
                }
                Ok(other) => last = format!("{sn} answered '{}'", other.summary()),
                Err(e) => last = format!("{sn}: {e}"),
            }
            if Instant::now() >= end {
                return Err(OpsError::failed(format!(
                    "{last}: Sentinel could still pick another replica than the target"
                )));
            }
            tokio::time::sleep(SENTINEL_POLL).await;
        }
    }

    /// `SENTINEL FAILOVER` on sentinel `s`, then waits until `t` is a primary.
    pub(super) async fn sentinel_failover(
        &mut self,
        s: usize,
        master: &str,
        p: usize,
        t: usize,
        deadline: Duration,
    ) -> OpsResult<String> {
        let cmd = Command::SentinelFailover {
            master: master.to_string(),
            coordinated: false,
        };
        let after_read = self.asked_after_read();
        if let Err((error, pending)) = self.try_ok(s, cmd).await {
            if pending {
                // It may still run: never "nothing changed".
                self.st.did(Change::SentinelFailoverPending(t));
            }
            return Err(OpsError::failed(format!(
                "{error} (-INPROG: a failover already runs; -NOGOODSLAVE: Sentinel sees no \
                 replica it may promote)"
            )));
        }
        self.st.did(Change::SentinelFailoverPending(t));
        let (pn, tn) = (self.plan.name(p).to_string(), self.plan.name(t).to_string());
        let end = Instant::now() + deadline;
        let mut last: String;
        loop {
            match self.info(t, InfoSection::Replication).await {
                Ok(i) if i.replication.role == Some(InfoRole::Primary) => {
                    self.st.undid(Change::SentinelFailoverPending(t));
                    self.st.did(Change::Promoted(t));
                    // A promote has no old primary to follow it: it is down.
                    let mut words = match self.old_primary {
                        Some(_) => format!("Sentinel promoted {tn}; {pn} replicates from it"),
                        None => format!("Sentinel promoted {tn}"),
                    };
                    if let Some(ms) = after_read {
                        words.push_str(&format!(
                            " (asked {ms} ms after its last read of {tn}'s INFO)"
                        ));
                    }
                    return Ok(words);
                }
                Ok(i) => last = format!("{tn}: {}", info_line(&i)),
                // Sentinel closes normal clients on the node it promotes: read again.
                Err(e) => last = format!("{tn}: {e}"),
            }
            if Instant::now() >= end {
                return Err(OpsError::failed(format!(
                    "Sentinel has not promoted {tn} in {} ({last})",
                    crate::config::format_duration(deadline)
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls `SENTINEL MASTER` on every sentinel of `sentinels` until every one that answers,
    /// and at least `quorum`, names `t` with no failover in progress (the leader names the new
    /// master only once its failover ended: every other replica repointed).
    pub(super) async fn sentinel_converge(
        &mut self,
        t: usize,
        master: &str,
        sentinels: &[usize],
        quorum: usize,
        deadline: Duration,
    ) -> OpsResult<String> {
        let tn = self.plan.name(t).to_string();
        let t_addr = self.plan.nodes[t].addr.clone();
        let end = Instant::now() + deadline;
        loop {
            let (mut agree, mut behind, mut silent) = (0usize, Vec::new(), Vec::new());
            for &s in sentinels {
                let sn = self.plan.name(s).to_string();
                let cmd = Command::SentinelMaster(master.to_string());
                match self.ops.send(&self.plan.nodes[s], &cmd).await {
                    Ok(Reply::Text(a))
                        if names(&a, &t_addr) && !a.contains("failover_in_progress") =>
                    {
                        agree += 1;
                    }
                    Ok(other) => behind.push(format!("{sn} names {}", other.summary())),
                    Err(e) => silent.push(format!("{sn}: {e}")),
                }
            }
            if behind.is_empty() && agree >= quorum {
                let mut words = format!("{agree} sentinels name {tn} the master");
                if !silent.is_empty() {
                    words.push_str(&format!(
                        "; not answering: {} (they learn it when back)",
                        silent.join("; ")
                    ));
                }
                return Ok(words);
            }
            if Instant::now() >= end {
                let mut all = behind;
                all.extend(silent);
                return Err(OpsError::failed(format!(
                    "only {agree} sentinels name {tn} the master (quorum {quorum}): {}",
                    all.join("; ")
                )));
            }
            tokio::time::sleep(SENTINEL_POLL).await;
        }
    }

    /// The rollback of a `SENTINEL FAILOVER` whose target was not seen promoted: watch the
    /// target; promoted, the old primary (still paused) is demoted to it, so the pause can be
    /// lifted; not promoted, the old primary stays paused (the pause expires by itself).
    pub(super) async fn settle_sentinel_failover(&mut self, t: usize) -> String {
        let tn = self.plan.name(t).to_string();
        let end = Instant::now() + SETTLE_WAIT;
        loop {
            if let Ok(i) = self.info(t, InfoSection::Replication).await {
                if i.replication.role == Some(InfoRole::Primary) {
                    self.st.undid(Change::SentinelFailoverPending(t));
                    self.st.did(Change::Promoted(t));
                    if self.st.demoted().is_some() {
                        return format!("Sentinel promoted {tn} late; the old primary follows it");
                    }
                    return self.demote_old_primary(t).await;
                }
            }
            if Instant::now() >= end && self.old_primary.is_none() {
                // A promote: the primary is down, nothing is paused.
                return format!(
                    "Sentinel has not promoted {tn}: the failover may still run, so the other \
                     replicas keep priority 0 (put them back once Sentinel's failover state is \
                     none)"
                );
            }
            if Instant::now() >= end {
                return format!(
                    "Sentinel has not promoted {tn}: the failover may still run, so the old \
                     primary stays a paused replica of {tn} and the other replicas keep priority \
                     0 (put them back once Sentinel's failover state is none); if Sentinel gives \
                     the failover up, it sees the old primary as a replica and fails over to \
                     {tn} by itself"
                );
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }

    /// `REPLICAOF t` on the old primary (paused), once Sentinel promoted `t`.
    async fn demote_old_primary(&mut self, t: usize) -> String {
        let tn = self.plan.name(t).to_string();
        let Some(p) = self.old_primary else {
            return format!("Sentinel promoted {tn}");
        };
        let pn = self.plan.name(p).to_string();
        let addr = self.plan.nodes[t].addr.clone();
        let reached = |i: &Info| follows(i, &addr);
        match self
            .role_command(p, Command::ReplicaOf(Some(addr.clone())), reached)
            .await
        {
            Ok(_) => {
                self.st.did(Change::Demoted(p));
                format!("Sentinel promoted {tn} late; {pn} demoted to it while still paused")
            }
            Err(f) => {
                if f.pending {
                    self.st.did(Change::DemotionPending(p));
                }
                format!(
                    "Sentinel promoted {tn}; {pn} could not be demoted ({}): it stays paused \
                     until Sentinel converts it",
                    f.error
                )
            }
        }
    }

    /// True when lifting the old primary's pause could make a second writable primary: a
    /// failover Sentinel may still carry out, or a target promoted while the old primary is
    /// not (yet) its replica.
    pub(super) fn keep_paused_for_sentinel(&self) -> bool {
        self.st.sentinel_pending().is_some()
            || (self.plan.through_sentinel()
                && self.st.promoted().is_some()
                && self.st.demoted().is_none())
    }

    /// The rollback's words for a pause left in place.
    pub(super) fn still_paused_words(&self, node: usize) -> String {
        format!(
            "writes on {} stay paused until the pause expires by itself: Sentinel may have made \
             another node the master",
            self.plan.name(node)
        )
    }
}

/// What `SENTINEL REPLICAS` says of one replica.
#[derive(Debug, PartialEq, Eq)]
enum Listed {
    /// Not among the master's replicas: Sentinel cannot pick it.
    No,
    /// Listed without a priority Sentinel has read.
    Unknown,
    Priority(u64),
}

/// The words after the address on `addr`'s line of `SENTINEL REPLICAS` (as
/// [`Command::SentinelReplicas`] renders it): its priority and the age of the last read.
fn listed_line<'a>(text: &'a str, addr: &crate::config::Addr) -> Option<Vec<&'a str>> {
    text.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        let (h, port) = words.next()?.rsplit_once(':')?;
        (port.parse::<u16>().ok()? == addr.port && same_host(h, &addr.host))
            .then(|| words.collect())
    })
}

/// What `SENTINEL REPLICAS` lists for `addr`.
fn listed_priority(text: &str, addr: &crate::config::Addr) -> Listed {
    match listed_line(text, addr) {
        None => Listed::No,
        Some(w) => w
            .first()
            .and_then(|p| p.parse().ok())
            .map_or(Listed::Unknown, Listed::Priority),
    }
}

/// How many milliseconds ago the sentinel read `addr`'s `INFO`, as `SENTINEL REPLICAS` lists it.
pub(super) fn listed_refresh(text: &str, addr: &crate::config::Addr) -> Option<u64> {
    listed_line(text, addr)?.get(1)?.parse().ok()
}

/// `host port flags` (as [`Command::SentinelMaster`] renders it) names `addr`.
pub(super) fn names(text: &str, addr: &crate::config::Addr) -> bool {
    let mut words = text.split_whitespace();
    match (words.next(), words.next()) {
        (Some(h), Some(p)) => p.parse::<u16>().ok() == Some(addr.port) && same_host(h, &addr.host),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{listed_priority, listed_refresh, names, Listed};
    use crate::config::Addr;

    #[test]
    fn sentinel_replies_are_read_by_address() {
        let a = Addr::parse("127.0.0.1:7001").unwrap_or_else(|_| unreachable!());
        let text = "127.0.0.1:7002 100 20\n127.0.0.1:7001 0 4410\nlocalhost:7003 ? ?";
        assert_eq!(listed_priority(text, &a), Listed::Priority(0));
        assert_eq!(listed_refresh(text, &a), Some(4410));
        let b = Addr::parse("127.0.0.1:7002").unwrap_or_else(|_| unreachable!());
        assert_eq!(listed_refresh(text, &b), Some(20));
        let c = Addr::parse("127.0.0.1:7003").unwrap_or_else(|_| unreachable!());
        assert_eq!(listed_priority(text, &c), Listed::Unknown, "not 0");
        let d = Addr::parse("127.0.0.1:7009").unwrap_or_else(|_| unreachable!());
        assert_eq!(
            listed_priority(text, &d),
            Listed::No,
            "chained: not a candidate"
        );
        assert!(names("127.0.0.1 7001 master", &a));
        assert!(names("localhost 7001", &a));
        assert!(!names("127.0.0.1 70011 master", &a));
        assert!(!names("garbage", &a));
    }
}
