//! The steps of `sentinel reset` (`ops/sentinel_reset.rs`): the guard read again and
//! `SENTINEL RESET` on one sentinel, then the bounded wait until it knows the replicas and its
//! peers again; and what a run that stops half-way says (which sentinels were reset, which
//! were not). Nothing is rolled back: a reset moves no master, and a reset sentinel finds the
//! group again by itself.

use std::time::Duration;

use tokio::time::Instant;

use super::super::error::{OpsError, OpsResult};
use super::super::next_step::NextStep;
use super::super::plan::{ActionKind, StepKind};
use super::super::redis_ops::{Command, RedisOps, Reply};
use super::sentinel::names;
use super::Run;
use crate::config::Addr;

/// Polls of a reset sentinel's view: the hello channel speaks every 2 s.
const REDISCOVERY_POLL: Duration = Duration::from_millis(250);

/// What `SENTINEL MASTER` (as [`Command::SentinelKnows`] renders it) says the sentinel knows:
/// (replicas, other sentinels); `None` for anything else (the name unknown, a shape error).
pub(super) fn known(reply: &Reply) -> Option<(u64, u64)> {
    let text = reply.text()?;
    let mut w = text.split_whitespace();
    match (w.next(), w.next(), w.next(), w.next(), w.next()) {
        (Some("replicas"), Some(r), Some("sentinels"), Some(s), None) => {
            Some((r.parse().ok()?, s.parse().ok()?))
        }
        _ => None,
    }
}

impl<O: RedisOps> Run<'_, O> {
    /// The guard, read live on `s` and `others`: no failover under way, no sentinel naming
    /// another master than `at`, at least `quorum` of `others` naming it; then
    /// `SENTINEL RESET master` on sentinel `s`.
    pub(super) async fn sentinel_reset(
        &mut self,
        s: usize,
        master: &str,
        at: &Addr,
        others: &[usize],
        quorum: usize,
    ) -> OpsResult<String> {
        let sn = self.plan.name(s).to_string();
        let mut knowing = 0;
        let mut not = Vec::new();
        for &o in std::iter::once(&s).chain(others) {
            let on = self.plan.name(o).to_string();
            let cmd = Command::SentinelMaster(master.to_string());
            match self.ops.send(&self.plan.nodes[o], &cmd).await {
                Ok(Reply::Text(t)) if t.contains("failover_in_progress") => {
                    return Err(OpsError::failed(format!(
                        "{on} has a failover of '{master}' under way: a reset would abort it, so \
                         {sn} is not reset"
                    )))
                }
                Ok(Reply::Text(t)) if names(&t, at) => knowing += usize::from(o != s),
                Ok(r @ Reply::Text(_)) if !r.summary().starts_with("unreadable") => {
                    return Err(OpsError::failed(format!(
                        "{on} names {} as the master of '{master}', not {at} as planned: {sn} \
                         is not reset (look again and re-plan)",
                        r.summary()
                    )))
                }
                Ok(r) => not.push(format!("{on} answered {}", r.summary())),
                Err(e) => not.push(format!("{on}: {e}")),
            }
        }
        if knowing < quorum {
            return Err(OpsError::failed(format!(
                "only {knowing} other sentinel(s) name the master now, fewer than the quorum \
                 {quorum} ({}): {sn} is not reset",
                not.join("; ")
            )));
        }
        let cmd = Command::SentinelReset(master.to_string());
        match self.send(s, cmd.clone()).await {
            Ok(Reply::Int(1)) => {
                self.st.reset.push(s);
                Ok(format!(
                    "{knowing} other sentinel(s) name {at}, no failover under way; {sn} reset"
                ))
            }
            Ok(r) => Err(OpsError::failed(format!(
                "{sn} answered {} to {cmd}: it does not monitor that master name",
                r.summary()
            ))),
            Err(e) => {
                // Not answered is not "not run": it may have reset all the same (as `try_ok`).
                let maybe = matches!(
                    e,
                    crate::observe::NodeError::Unresponsive(_)
                        | crate::observe::NodeError::Other(_)
                );
                if maybe {
                    self.st.reset.push(s);
                }
                Err(OpsError::failed(format!(
                    "{cmd} on {sn} failed: {e}{}",
                    if maybe {
                        " (it may still have run)"
                    } else {
                        ""
                    }
                )))
            }
        }
    }

    /// Polls `SENTINEL MASTER` on sentinel `s` until it knows at least `replicas` replicas and
    /// `peers` other sentinels.
    pub(super) async fn sentinel_rediscovered(
        &mut self,
        s: usize,
        master: &str,
        (replicas, peers): (u64, u64),
        deadline: Duration,
    ) -> OpsResult<String> {
        let sn = self.plan.name(s).to_string();
        let end = Instant::now() + deadline;
        let mut last: String;
        loop {
            let cmd = Command::SentinelKnows(master.to_string());
            match self.ops.send(&self.plan.nodes[s], &cmd).await {
                Ok(reply) => match known(&reply) {
                    Some((r, p)) if r >= replicas && p >= peers => {
                        self.st.rediscovered.push(s);
                        return Ok(format!(
                            "{sn} knows {r} replica(s) and {p} other sentinel(s) again"
                        ));
                    }
                    Some((r, p)) => last = format!("{r} replica(s), {p} other sentinel(s)"),
                    None => last = format!("answered {}", reply.summary()),
                },
                Err(e) => last = e.to_string(),
            }
            if Instant::now() >= end {
                return Err(OpsError::failed(format!(
                    "{sn} was reset but has not found {replicas} replica(s) and {peers} other \
                     sentinel(s) again within {} (last read: {last})",
                    crate::config::format_duration(deadline)
                )));
            }
            tokio::time::sleep(REDISCOVERY_POLL).await;
        }
    }

    /// The sentinels of a reset plan: (reset and caught up, reset but not caught up, not
    /// reset), by name.
    fn reset_split(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let mut sentinels: Vec<usize> = Vec::new();
        for s in &self.plan.steps {
            if matches!(s.kind, StepKind::SentinelReset { .. }) && !sentinels.contains(&s.node) {
                sentinels.push(s.node);
            }
        }
        let (mut done, mut behind, mut not) = (Vec::new(), Vec::new(), Vec::new());
        for s in sentinels {
            let name = self.plan.name(s).to_string();
            if self.st.rediscovered.contains(&s) {
                done.push(name);
            } else if self.st.reset.contains(&s) {
                behind.push(name);
            } else {
                not.push(name);
            }
        }
        (done, behind, not)
    }

    /// What a reset run that stopped leaves, in words: which sentinels were reset, which were
    /// not, and that there is nothing to roll back. `None` for other plans.
    pub(super) fn reset_stop_words(&self) -> Option<String> {
        if self.plan.action != ActionKind::SentinelReset {
            return None;
        }
        let (done, behind, not) = self.reset_split();
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        let mut words = format!("reset and caught up: {}", list(&done));
        if !behind.is_empty() {
            words.push_str(&format!(
                "; reset, still finding the group: {}",
                list(&behind)
            ));
        }
        words.push_str(&format!(
            "; not reset: {}; nothing to roll back (a reset moves no master, and a reset \
             sentinel finds the replicas and its peers by itself)",
            list(&not)
        ));
        Some(words)
    }

    /// The next step after a reset run that stopped.
    pub(super) fn reset_next_step(&self) -> Option<NextStep> {
        self.reset_stop_words().map(|_| NextStep {
            action: None,
            node: None,
            source: None,
            why: "look at the sentinels (redops status) and deal with the cause above, then \
                  reset again: a sentinel already reset is reset once more, harmlessly"
                .to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::known;
    use crate::ops::Reply;

    #[test]
    fn what_a_sentinel_knows_is_read_from_its_words_only() {
        let r = |t: &str| Reply::Text(t.to_string());
        assert_eq!(known(&r("replicas 2 sentinels 1")), Some((2, 1)));
        assert_eq!(known(&r("replicas ? sentinels 1")), None);
        assert_eq!(known(&r("replicas 2 sentinels 1 more")), None);
        assert_eq!(known(&r("unreadable SENTINEL MASTER reply: x")), None);
        assert_eq!(known(&Reply::Nil), None);
        assert_eq!(known(&Reply::Int(1)), None);
    }
}
