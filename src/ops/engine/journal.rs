//! The run's one voice: each [`RunEvent`] is written to the audit log as one record (its
//! body plus the run's envelope) and then sent to the front-end, so the log and the screen
//! tell the same story in the same order.
//!
//! The record is written first: an event the operator sees is already on disk, and a console
//! killed between the two leaves a log that says at least as much as the screen did.
//!
//! Progress notes are the exception to "one record per event": they arrive up to ten times a
//! second (the snapshot gate's polls, the download's chunks), so the log keeps the first of
//! each node's gate item and then at most one every [`PROGRESS_RECORD_EVERY`]; the front-end
//! gets each one. Everything else is written every time.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::audit::AuditLog;

use super::super::plan::Plan;
use super::RunEvent;

/// The least time between two progress records of one node's snapshot or download.
pub const PROGRESS_RECORD_EVERY: Duration = Duration::from_secs(5);

/// Where a run's events go, and what each record carries besides the event.
pub(super) struct Journal<'a> {
    audit: &'a mut AuditLog,
    events: &'a UnboundedSender<RunEvent>,
    run_id: String,
    group: String,
    action: String,
    /// `name=host:port` of every plan node.
    nodes: Vec<String>,
    seq: u32,
    /// Commands sent (not INFO reads) and their replies since the last record.
    exchanges: Vec<(String, String)>,
    /// Records that could not be written (the outcome warns about them).
    pub(super) errors: u32,
    /// Which progress notes are written: per (event name, node).
    progress_written: Every<(&'static str, String)>,
    /// How long writes were paused, for the `RunFinished` record.
    pub(super) pause_ms: Option<u64>,
}

/// Lets through the first of each key, then at most one per `every`.
#[derive(Debug)]
pub(super) struct Every<K> {
    every: Duration,
    last: HashMap<K, Instant>,
}

impl<K: Hash + Eq> Every<K> {
    pub(super) fn new(every: Duration) -> Self {
        Self {
            every,
            last: HashMap::new(),
        }
    }

    /// True (and remembered) when `key` was never let through, or not for `every`.
    pub(super) fn pass(&mut self, key: K, now: Instant) -> bool {
        match self.last.get(&key) {
            Some(&t) if now.saturating_duration_since(t) < self.every => false,
            _ => {
                self.last.insert(key, now);
                true
            }
        }
    }
}

impl<'a> Journal<'a> {
    pub(super) fn new(
        plan: &Plan,
        run_id: String,
        audit: &'a mut AuditLog,
        events: &'a UnboundedSender<RunEvent>,
    ) -> Self {
        Self {
            audit,
            events,
            run_id,
            group: plan.group.clone(),
            action: plan.action.as_str().to_string(),
            nodes: plan
                .nodes
                .iter()
                .map(|n| format!("{}={}", n.name, n.addr))
                .collect(),
            seq: 0,
            exchanges: Vec::new(),
            errors: 0,
            progress_written: Every::new(PROGRESS_RECORD_EVERY),
            pause_ms: None,
        }
    }

    pub(super) fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Keeps a command and its reply for the next record.
    pub(super) fn exchange(&mut self, command: String, reply: String) {
        self.exchanges.push((command, reply));
    }

    /// Writes `e` to the audit log (unless it is a progress note inside its quiet interval),
    /// then sends it to the front-end (a dropped receiver is fine).
    ///
    /// # Errors
    /// The record could not be written; the event was sent all the same.
    pub(super) fn event(&mut self, e: RunEvent) -> std::io::Result<()> {
        let written = if self.worth_a_record(&e) {
            self.write(&e)
        } else {
            Ok(())
        };
        let _ = self.events.send(e);
        written
    }

    fn worth_a_record(&mut self, e: &RunEvent) -> bool {
        if !e.is_progress() {
            return true;
        }
        let key = (e.name(), e.node().unwrap_or_default().to_string());
        self.progress_written.pass(key, Instant::now())
    }

    fn write(&mut self, e: &RunEvent) -> std::io::Result<()> {
        let mut rec = e.body();
        rec.run_id.clone_from(&self.run_id);
        rec.seq = self.seq;
        self.seq += 1;
        rec.group.clone_from(&self.group);
        rec.action.clone_from(&self.action);
        rec.nodes.clone_from(&self.nodes);
        if matches!(e, RunEvent::RunFinished { .. }) {
            rec.pause_ms = self.pause_ms;
        }
        for (c, reply) in self.exchanges.drain(..) {
            rec.commands.push(c);
            rec.replies.push(reply);
        }
        let r = self.audit.write(rec);
        if r.is_err() {
            self.errors += 1;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lets_the_first_through_then_one_per_interval_per_key() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut e = Every::new(Duration::from_secs(5));
        let passed: Vec<u64> = (0..=12_000)
            .step_by(100)
            .filter(|&ms| e.pass("a", at(ms)))
            .collect();
        assert_eq!(passed, [0, 5000, 10_000]);
        assert!(e.pass("b", at(12_000)), "another key has its own clock");
        assert!(!e.pass("b", at(12_100)));
    }
}
