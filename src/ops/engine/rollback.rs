//! When a critical step fails: undo what is safe to undo, read the group as it is now, and
//! say what the operator should do next. The rules are in `steps.rs`'s header (DESIGN
//! invariant 3); a target that never answered its promotion is looked at first
//! (`unanswered.rs`).

use std::time::Duration;

use crate::audit::Record;
use crate::info::{Info, InfoRole};

use super::super::redis_ops::{Command, InfoSection, RedisOps};
use super::super::summary::info_line;
use super::{ms, Run, RunEvent, RunOutcome, RunStatus};

impl<O: RedisOps> Run<'_, O> {
    /// A critical step failed: undo what is safe, read the state, explain it.
    pub(super) async fn fail(&mut self, step: usize, error: &str) -> RunOutcome {
        let mut undone = Vec::new();
        if let (Some(p), false) = (self.st.failover_started, self.st.failover_done) {
            match self.send(p, Command::FailoverAbort).await {
                Ok(r) => undone.push(format!(
                    "FAILOVER ABORT on {}: {}",
                    self.plan.name(p),
                    r.summary()
                )),
                Err(e) => undone.push(format!(
                    "FAILOVER ABORT on {} failed: {e}",
                    self.plan.name(p)
                )),
            }
        }
        // What to do about a target that stayed silent leads the next step.
        let mut silent = None;
        if let Some(t) = self.st.promote_unanswered.take() {
            // May set `promoted`: then the target is put back just below.
            let (line, still_silent) = self.settle_unanswered(t).await;
            silent = still_silent.then(|| line.clone());
            undone.push(line);
        }
        if let (Some(t), false) = (self.st.promoted, self.st.demoted) {
            undone.extend(self.undo_promotion(t).await);
        }
        if let (Some(p), false) = (self.st.paused, self.st.keep_paused) {
            let name = self.plan.name(p).to_string();
            let mut lifted = false;
            for _ in 0..3 {
                if let Ok(r) = self.send(p, Command::ClientUnpause).await {
                    if r.is_ok() {
                        lifted = true;
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if lifted {
                self.st.paused = None;
                if let Some(at) = self.st.paused_at.take() {
                    self.st.pause_ms = Some(ms(at.elapsed()));
                }
                undone.push(format!("writes on {name} unpaused"));
            } else {
                undone.push(format!(
                    "CLIENT UNPAUSE on {name} failed: the pause expires by itself"
                ));
            }
        }
        for u in &undone {
            self.emit(RunEvent::RolledBack { what: u.clone() });
        }
        if !undone.is_empty() {
            let _ = self.record(Record {
                event: "RolledBack".to_string(),
                step: Some(step),
                detail: Some(undone.join("; ")),
                ..Record::default()
            });
        }
        let (state, infos) = self.read_state().await;
        let mut next = self.next_step(&infos);
        if let Some(note) = silent {
            next = format!("{note}. {next}");
        }
        let title = &self.plan.steps[step].title;
        self.finish(
            RunStatus::Failed,
            format!("step {} ({title}) failed: {error}", step + 1),
            state,
            Some(next),
        )
    }

    /// The target was promoted, the old primary not demoted: put the target back if it has
    /// accepted no write and the old primary is still there; retry the demotion otherwise.
    pub(super) async fn undo_promotion(&mut self, t: usize) -> Vec<String> {
        let Some(p) = self.old_primary else {
            return Vec::new();
        };
        let (pn, tn) = (self.plan.name(p).to_string(), self.plan.name(t).to_string());
        let p_alive = matches!(self.info(p, InfoSection::Replication).await, Ok(ref i) if i.replication.role == Some(InfoRole::Primary));
        if !p_alive {
            self.st.keep_paused = true;
            return vec![format!(
                "{pn} cannot be read: {tn} stays primary; {pn} must not come back as a primary"
            )];
        }
        let t_offset = self
            .info(t, InfoSection::Replication)
            .await
            .ok()
            .and_then(|i| i.replication.offset);
        if t_offset.is_some() && t_offset == self.st.captured_offset {
            let addr = self.plan.nodes[p].addr.clone();
            if self
                .expect_ok(t, Command::ReplicaOf(Some(addr)))
                .await
                .is_ok()
            {
                self.st.promoted = None;
                return vec![format!(
                    "{tn} returned to being a replica of {pn} (it had accepted no write)"
                )];
            }
        }
        // The target may have taken writes, or refused: demote the old primary instead.
        let addr = self.plan.nodes[t].addr.clone();
        if self
            .expect_ok(p, Command::ReplicaOf(Some(addr)))
            .await
            .is_ok()
        {
            self.st.demoted = true;
            return vec![format!(
                "{pn} demoted to replicate from {tn} on a second attempt"
            )];
        }
        self.st.keep_paused = true;
        vec![format!(
            "{tn} is primary and {pn} could not be demoted: {pn} is left paused (it expires) to avoid two writable primaries"
        )]
    }

    /// One line per plan node, read now, and the raw infos.
    async fn read_state(&mut self) -> (Vec<String>, Vec<(usize, Option<Info>)>) {
        let mut lines = Vec::new();
        let mut infos = Vec::new();
        for n in 0..self.plan.nodes.len() {
            let name = self.plan.name(n).to_string();
            match self.info(n, InfoSection::Replication).await {
                Ok(i) => {
                    lines.push(format!("{name}: {}", info_line(&i)));
                    infos.push((n, Some(i)));
                }
                Err(e) => {
                    lines.push(format!("{name}: unreachable ({e})"));
                    infos.push((n, None));
                }
            }
        }
        (lines, infos)
    }

    fn next_step(&self, infos: &[(usize, Option<Info>)]) -> String {
        let primaries: Vec<&str> = infos
            .iter()
            .filter(|(_, i)| {
                i.as_ref()
                    .is_some_and(|i| i.replication.role == Some(InfoRole::Primary))
            })
            .map(|(n, _)| self.plan.name(*n))
            .collect();
        let down: Vec<&str> = infos
            .iter()
            .filter(|(_, i)| i.is_none())
            .map(|(n, _)| self.plan.name(*n))
            .collect();
        let old = self.old_primary.map(|p| self.plan.name(p));
        match (primaries.as_slice(), old) {
            ([p], Some(o)) if *p == o && down.is_empty() => format!(
                "nothing was changed: {o} is still the primary and writes resumed; fix the cause above and run it again"
            ),
            ([], Some(o)) if down.contains(&o) => {
                let proof = match self.st.captured_offset {
                    Some(off) => {
                        let equal = infos.iter().filter_map(|(_, i)| i.as_ref()).all(|i| {
                            i.replication.role != Some(InfoRole::Replica) || i.replication.replica_offset == Some(off)
                        });
                        if equal {
                            format!("every reachable replica is at the captured offset {off}: promoting one loses no acknowledged write")
                        } else {
                            format!("the captured offset was {off}: promote the replica that reached it")
                        }
                    }
                    None => "no offset was captured after the pause: the loss bound is unknown".to_string(),
                };
                format!("{o} is down with writes paused; {proof}. run `redops promote`, and rejoin {o} as a replica when it is back")
            }
            ([p], Some(o)) if *p != o => format!(
                "{p} is the primary now; bring the remaining nodes to it (`redops repoint NODE --to {p}`){}",
                if down.is_empty() { String::new() } else { format!("; unreachable: {}", down.join(", ")) }
            ),
            (many, _) if many.len() > 1 => format!(
                "more than one primary ({}): demote the one that is not the new primary (`redops rejoin NODE`)",
                many.join(", ")
            ),
            _ => format!(
                "look at the state above{}",
                if down.is_empty() { String::new() } else { format!("; unreachable: {}", down.join(", ")) }
            ),
        }
    }
}
