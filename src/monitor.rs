//! The observation pipeline, written once for every front-end: observations -> history and
//! fleet state -> topology ([`topology::build`]) -> confirmation ([`Confirm`]: structural
//! anomalies held back until re-polled, lag alerts with hysteresis) -> the data-loss watch
//! ([`LossWatch`]) -> what changed since the last update, behind one warm-up rule.
//!
//! Pure: no I/O, no clock, no terminal. The console, `watch` and `status` feed it observations
//! and the time and carry out what an [`Update`] asks for: the console as effects on tasks
//! (its `App::update` stays free of I/O), `watch` and `status` in line. Searching the backups
//! directory for a loss is the caller's ([`Lookup`]), and so are reading and writing the memory
//! file ([`Monitor::remember`], [`Update::save`]).
//!
//! **The warm-up.** Until every configured node has answered or failed one poll, the picture
//! is partial: a replica seen before its primary is not a "no primary". A poll that never ends
//! must not silence a front-end for ever either, so the wait ends in any case after twice the
//! poll interval plus the timeouts ([`Monitor::warm`]). Updates before then carry no change.
//! The first update after it carries, in [`Update::at_start`], what was already wrong
//! compared with knowing nothing (what `watch` prints when it starts; the console shows it in
//! its banner instead); each later one carries in [`Update::changes`] what changed since the
//! update before.
//!
//! **Continuous or one-shot.** The console and `watch` run continuously ([`Monitor::new`]):
//! what one straddling cycle can fake is held back until confirmed, lag alerts rise and clear
//! with hysteresis. `status` polls every node once and reports the reading it took
//! ([`Monitor::one_shot`]): nothing is held back.

use std::time::SystemTime;

use crate::config::Config;
use crate::history::loss_file::SAVE_EVERY;
use crate::history::History;
use crate::observe::{FleetState, Observation};
use crate::topology::data_loss::{Loss, LossKey, LossState, SnapshotQuery, SnapshotRef};
use crate::topology::{self, Change, Confirm, LossWatch, Topology};

/// How a front-end answers a backup lookup that the data-loss watch needs for a loss (the
/// alarm names the newest backup to restore, so it is shown once the lookup is answered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Looked up at once (`None`: no backup found).
    Found(Option<SnapshotRef>),
    /// Asked for; the answer comes later through [`Monitor::resolve`].
    Later,
}

/// What the front-end has to show and do after the monitor took something in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    /// What changed since the update before (empty until the monitor is warm).
    pub changes: Vec<Change>,
    /// On the first warm update only: what was already so compared with knowing nothing
    /// (anomalies present at start, a full sync under way, ...).
    pub at_start: Vec<Change>,
    /// Backup lookups answered [`Lookup::Later`]: the front-end owes [`Monitor::resolve`].
    pub lookups: Vec<SnapshotQuery>,
    /// The data-loss memory to write to its file now (only when it is kept, see
    /// [`Monitor::remember`]): it changed, or was last handed out [`SAVE_EVERY`] ago.
    pub save: Option<LossState>,
}

/// One pipeline from observations to the topology and its changes. See the module doc.
#[derive(Debug, Clone)]
pub struct Monitor {
    config: Config,
    /// Continuous (hold back with `confirm`), not one-shot.
    holds: bool,
    fleet: FleetState,
    history: History,
    confirm: Confirm,
    loss: LossWatch,
    /// Lookups answered [`Lookup::Later`] and not resolved yet: not asked again.
    asked: Vec<LossKey>,
    /// `Some` when the memory is kept across runs: when it was last handed out to be written.
    #[allow(clippy::option_option)] // None: not kept; Some(None): kept, not handed out yet.
    memory: Option<Option<SystemTime>>,
    started: SystemTime,
    /// The topology last published was built warm.
    was_warm: bool,
    topology: Topology,
    /// The latest report of each sentinel (groups Sentinel watches).
    sentinels: crate::sentinel::view::Latest,
}

impl Monitor {
    /// A continuous monitor (the console, `watch`) started at `now`, nothing polled yet.
    #[must_use]
    pub fn new(config: &Config, now: SystemTime) -> Self {
        let fleet = FleetState::new(config);
        let history = History::new(config.console.history_len);
        let topology = topology::build(config, &fleet, &history, now);
        Self {
            config: config.clone(),
            holds: true,
            fleet,
            history,
            confirm: Confirm::new(),
            loss: LossWatch::new(),
            asked: Vec::new(),
            memory: None,
            started: now,
            was_warm: false,
            topology,
            sentinels: crate::sentinel::view::Latest::default(),
        }
    }

    /// A one-shot monitor (`status`): it reports the readings it takes as they are, holding
    /// nothing back for a later cycle to confirm.
    #[must_use]
    pub fn one_shot(config: &Config, now: SystemTime) -> Self {
        Self {
            holds: false,
            ..Self::new(config, now)
        }
    }

    /// Keeps the data-loss memory across runs, starting from `state` (what the memory file
    /// held; empty when it had nothing or could not be read, so the next write replaces it).
    /// From then on updates say when to write it ([`Update::save`]).
    pub fn remember(&mut self, state: LossState) {
        self.loss = LossWatch::from_state(state);
        self.memory = Some(None);
    }

    /// Takes in one observation (history and fleet state); the topology follows at the next
    /// [`Monitor::cycle`].
    pub fn observe(&mut self, obs: Observation) {
        self.history.record(&obs);
        self.fleet.apply(obs);
    }

    /// Polls every node and every sentinel of `config` once (at once, each bounded by the
    /// timeouts) and takes the answers in; the next [`cycle`](Self::cycle) builds on them.
    pub async fn observe_once(&mut self, config: &Config) {
        let (observed, sentinels) = tokio::join!(
            crate::poller::poll_once(config),
            crate::sentinel::poll::poll_config(config)
        );
        for r in sentinels {
            self.observe_sentinel(r);
        }
        for obs in observed {
            self.observe(obs);
        }
    }

    /// Takes in one sentinel's report; Sentinel's view follows at the next cycle.
    pub fn observe_sentinel(&mut self, report: crate::sentinel::SentinelReport) {
        self.sentinels.record(report);
    }

    /// Takes in what a sentinel task sent: a report is kept for the next cycle; an event is
    /// returned as a change for the event log (in words naming the group's nodes), unless
    /// another sentinel just said the same or it concerns another master.
    pub fn sentinel_feed(
        &mut self,
        feed: crate::sentinel::SentinelFeed,
    ) -> Option<topology::Change> {
        match feed {
            crate::sentinel::SentinelFeed::Report(r) => {
                self.sentinels.record(*r);
                None
            }
            crate::sentinel::SentinelFeed::Event(ev) => {
                let cfg = self.config.groups.get(ev.group)?;
                let name = &cfg.sentinel.as_ref()?.master_name;
                let g = self.topology.groups.iter().find(|g| g.index == ev.group)?;
                let (severity, node, message) = crate::sentinel::events::describe(&ev, name, g)?;
                if !self.sentinels.record_event(&ev) {
                    return None;
                }
                Some(topology::Change {
                    at: ev.at,
                    group: cfg.name.clone(),
                    node,
                    kind: topology::ChangeKind::SentinelEvent,
                    severity,
                    message,
                })
            }
        }
    }

    /// Builds the topology as of `now` from everything observed, holds back what is not
    /// confirmed yet, runs the data-loss watch (asking `lookup` for the backup of each new
    /// loss), and publishes it.
    pub fn cycle(
        &mut self,
        now: SystemTime,
        mut lookup: impl FnMut(&SnapshotQuery) -> Lookup,
    ) -> Update {
        let mut next = topology::build(&self.config, &self.fleet, &self.history, now);
        crate::sentinel::annotate(&mut next, &self.config, &self.sentinels);
        self.history.record_lag(&next);
        if self.holds {
            self.confirm.apply(&mut next, now);
        }
        self.loss.observe(&next, now);
        let mut owed = Vec::new();
        for q in self.loss.unresolved(&next) {
            if self.asked.contains(&q.key) {
                continue;
            }
            match lookup(&q) {
                Lookup::Found(snapshot) => self.loss.resolve(&q.key, snapshot),
                Lookup::Later => {
                    self.asked.push(q.key.clone());
                    owed.push(q);
                }
            }
        }
        self.loss.annotate(&mut next);
        let mut up = self.publish(next, now);
        up.lookups = owed;
        up.save = self.save_due(now);
        up
    }

    /// The answer to a lookup handed out as [`Lookup::Later`]: the loss is shown at once (its
    /// message names the backup).
    pub fn resolve(
        &mut self,
        key: &LossKey,
        snapshot: Option<SnapshotRef>,
        now: SystemTime,
    ) -> Update {
        self.asked.retain(|k| k != key);
        self.loss.resolve(key, snapshot);
        self.refresh(now)
    }

    /// Acknowledges every data-loss alarm of `group`; returns the nodes concerned (none: there
    /// was nothing to acknowledge, and nothing changed).
    pub fn acknowledge(&mut self, group: &str, now: SystemTime) -> (Vec<String>, Update) {
        let nodes = self.loss.acknowledge(group);
        if nodes.is_empty() {
            return (nodes, Update::default());
        }
        let up = self.refresh(now);
        (nodes, up)
    }

    /// Publishes a topology built elsewhere (tests, benchmarks) as if a cycle had built it:
    /// changes by the warm-up rule, nothing held back or added.
    pub fn publish(&mut self, next: Topology, now: SystemTime) -> Update {
        let warm = self.warm(now);
        let mut up = Update::default();
        if warm && self.was_warm {
            up.changes = topology::changes(&self.topology, &next, now);
        } else if warm {
            up.at_start = topology::changes(&self.unpolled(now), &next, now);
        }
        self.was_warm = warm;
        self.topology = next;
        up
    }

    /// The topology last published.
    #[must_use]
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The topology last published, by value (a one-shot monitor's result).
    #[must_use]
    pub fn into_topology(self) -> Topology {
        self.topology
    }

    /// The history of every node (trends, lag in seconds).
    #[must_use]
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The unacknowledged data losses.
    #[must_use]
    pub fn losses(&self) -> &[Loss] {
        self.loss.losses()
    }

    /// Nodes polled at least once, and all nodes: until every node has answered or failed
    /// once, the topology is partial.
    #[must_use]
    pub fn polled(&self) -> (usize, usize) {
        let all = self.fleet.groups.iter().flatten();
        let total = all.clone().count();
        (all.filter(|s| s.polls > 0).count(), total)
    }

    /// The warm-up rule: true once every node has been polled, or at `now` twice the poll
    /// interval plus the timeouts after the start, whichever comes first.
    #[must_use]
    pub fn warm(&self, now: SystemTime) -> bool {
        let (done, total) = self.polled();
        let c = &self.config.console;
        let patience = (c.poll_interval + c.timeout + c.connect_timeout) * 2;
        done >= total
            || now
                .duration_since(self.started)
                .is_ok_and(|d| d >= patience)
    }

    /// The topology last published was built warm: what it shows is the whole picture.
    #[must_use]
    pub fn published_warm(&self) -> bool {
        self.was_warm
    }

    /// The live topology with the data-loss watch's anomalies as they are now.
    fn refresh(&mut self, now: SystemTime) -> Update {
        let mut next = self.topology.clone();
        for g in &mut next.groups {
            g.anomalies.retain(|a| !a.kind.is_data_loss());
        }
        self.loss.annotate(&mut next);
        let mut up = self.publish(next, now);
        up.save = self.save_due(now);
        up
    }

    /// The memory to write: when it changed, or was last handed out `SAVE_EVERY` ago.
    fn save_due(&mut self, now: SystemTime) -> Option<LossState> {
        let saved_at = self.memory.as_mut()?;
        let due = saved_at.is_none_or(|t| now.duration_since(t).is_ok_and(|d| d >= SAVE_EVERY));
        if self.loss.take_changed() || due {
            *saved_at = Some(now);
            return Some(self.loss.state());
        }
        None
    }

    /// What is known before any poll: the baseline of the first warm update.
    fn unpolled(&self, now: SystemTime) -> Topology {
        let fleet = FleetState::new(&self.config);
        topology::build(&self.config, &fleet, &History::new(2), now)
    }
}

#[cfg(test)]
mod tests;
