//! The live picture in the console, as `impl App`: observations go into the core's
//! [`Monitor`](crate::monitor::Monitor), and each update it returns comes back as the live
//! topology, lines in the event log, first-seen times for the banner, and effects. The data-loss
//! watch lives there too: a primary that restarted with less data stays a critical anomaly until
//! acknowledged with `a`; the backup lookups and memory writes the monitor asks for are effects,
//! answered by messages, so `update` stays free of I/O.

use std::collections::HashMap;

use crate::monitor::{Lookup, Update};
use crate::observe::Observation;
use crate::topology::data_loss::{LossKey, LossState, SnapshotQuery, SnapshotRef};
use crate::topology::{Anomaly, AnomalyKind, Topology};

use super::{App, Effect};

impl App {
    /// A batch of observations: one monitor cycle at the console's clock, then the start-up
    /// reads once warm, or the rejoin marks that the new picture settles.
    pub(super) fn observed(&mut self, batch: Vec<Observation>) -> Vec<Effect> {
        for obs in batch {
            if obs.at > self.now {
                self.now = obs.at;
            }
            self.monitor.observe(obs);
        }
        // Backup lookups are effects: `Msg::SnapshotFound` answers them.
        let up = self.monitor.cycle(self.now, |_| Lookup::Later);
        let mut fx = self.take_update(up);
        if !self.started_up && self.warm() {
            self.started_up = true;
            fx.extend(self.startup_effects());
        } else {
            fx.extend(self.settle_marks());
        }
        fx
    }

    /// Nodes polled at least once, and all nodes: until every node has answered or failed
    /// once, the topology is partial (a replica seen before its primary is not a "no primary").
    #[must_use]
    pub fn polled(&self) -> (usize, usize) {
        self.monitor.polled()
    }

    /// The monitor's warm-up rule, now: every node polled, or the patience ran out.
    #[must_use]
    pub fn warm(&self) -> bool {
        self.monitor.warm(self.now)
    }

    /// Replaces the live topology, logging what changed (also used by tests and benches).
    pub fn set_topology(&mut self, next: Topology) {
        let up = self.monitor.publish(next, self.now);
        self.take_update(up);
    }

    /// Takes in what the monitor published: the live topology, its changes in the event log
    /// (what was wrong at start is the banner's, not the log's), and the effects it asks for.
    pub(super) fn take_update(&mut self, up: Update) -> Vec<Effect> {
        self.log.extend(up.changes);
        let next = self.monitor.topology();
        let mut seen = HashMap::new();
        for g in &next.groups {
            for a in &g.anomalies {
                let key = anomaly_key(&g.name, a);
                let since = self.anomaly_since.get(&key).copied().unwrap_or(self.now);
                seen.insert(key, since);
            }
        }
        self.anomaly_since = seen;
        self.topology = next.clone();
        self.keep_selection_visible();
        self.loss_effects(up.lookups, up.save)
    }

    /// The lookups and the memory write the monitor asked for.
    pub(super) fn loss_effects(
        &self,
        lookups: Vec<SnapshotQuery>,
        save: Option<LossState>,
    ) -> Vec<Effect> {
        let mut fx: Vec<Effect> = lookups
            .into_iter()
            .map(|q| Effect::FindSnapshot {
                backups_dir: self.config.console.backups_dir.clone(),
                group: q.key.group.clone(),
                nodes: q.nodes,
                before_ms: q.before_ms,
                key: q.key,
            })
            .collect();
        if let (Some(path), Some(state)) = (self.opts.loss_file.clone(), save) {
            fx.push(Effect::SaveLossMemory {
                path,
                state: Box::new(state),
            });
        }
        fx
    }

    /// A backup lookup answered: the loss is shown (its message names the snapshot) at once.
    pub(super) fn snapshot_found(
        &mut self,
        key: &LossKey,
        snapshot: Option<SnapshotRef>,
    ) -> Vec<Effect> {
        let up = self.monitor.resolve(key, snapshot, self.now);
        self.take_update(up)
    }

    /// `a`: acknowledges the shown group's data-loss alarms.
    pub(super) fn acknowledge_losses(&mut self) -> Vec<Effect> {
        let Some(name) = self.config.groups.get(self.group).map(|g| g.name.clone()) else {
            return Vec::new();
        };
        let kinds = self.data_loss_words(&name);
        let (nodes, up) = self.monitor.acknowledge(&name, self.now);
        if nodes.is_empty() {
            return self.notice_in_drill(name);
        }
        let what = format!("{kinds} ({})", nodes.join(", "));
        if let Some(p) = self.drill.as_mut() {
            p.noticed.get_or_insert(self.now);
            self.flash_info(&format!(
                "acknowledged: {what} (the drill counts it as detected)"
            ));
        } else {
            self.flash_info(&format!("acknowledged: {what}"));
        }
        let mut effects = self.take_update(up);
        effects.push(self.acknowledgement(name, nodes, what));
        effects
    }

    /// The group's data-loss alarms in words: `data wiped`, `data lost on restart`.
    fn data_loss_words(&self, group: &str) -> String {
        let mut words: Vec<&str> = self
            .topology
            .groups
            .iter()
            .filter(|g| g.name == group)
            .flat_map(|g| g.anomalies.iter())
            .filter_map(|a| match a.kind {
                AnomalyKind::DataWiped => Some("data wiped"),
                AnomalyKind::DataLostOnRestart => Some("data lost on restart"),
                _ => None,
            })
            .collect();
        words.dedup();
        if words.is_empty() {
            "data lost".to_string()
        } else {
            words.join(", ")
        }
    }

    /// `a` with no data-loss alarm: in a drill the trainee says they have spotted what the
    /// group shows (it counts for the report's time to detect); elsewhere there is nothing to
    /// acknowledge.
    fn notice_in_drill(&mut self, group: String) -> Vec<Effect> {
        let shown = self
            .topology
            .groups
            .iter()
            .find(|g| g.name == group)
            .map(|g| g.anomalies.as_slice())
            .unwrap_or_default();
        if self.drill.is_none() {
            self.flash_info("nothing to acknowledge: no data-loss alarm in this group");
            return Vec::new();
        }
        if shown.is_empty() {
            self.flash_info("nothing looks wrong in this group yet: press a once you see it");
            return Vec::new();
        }
        let mut nodes: Vec<String> = shown.iter().flat_map(|a| a.nodes.clone()).collect();
        nodes.sort();
        nodes.dedup();
        let kinds: Vec<&str> = shown.iter().map(|a| a.kind.as_str()).collect();
        let what = format!("seen: {}", kinds.join(", "));
        self.flash_info(&format!("noted, {what} (the drill counts it as detected)"));
        if let Some(p) = self.drill.as_mut() {
            p.noticed.get_or_insert(self.now);
        }
        vec![self.acknowledgement(group, nodes, what)]
    }

    fn acknowledgement(&self, group: String, nodes: Vec<String>, what: String) -> Effect {
        Effect::RecordAcknowledgement {
            audit_log: self.config.console.audit_log.clone(),
            group,
            nodes,
            what,
        }
    }

    /// The memory file could not be written: said once.
    pub(super) fn loss_memory_failed(&mut self, e: &str) {
        if !self.loss_memory_warned {
            self.loss_memory_warned = true;
            self.flash_error(&format!("the data-loss memory is not kept: {e}"));
        }
    }
}

/// The key of an anomaly for its first-seen time: group, kind and nodes.
pub(super) fn anomaly_key(group: &str, a: &Anomaly) -> String {
    format!("{group}|{}|{}", a.kind.as_str(), a.nodes.join(","))
}
