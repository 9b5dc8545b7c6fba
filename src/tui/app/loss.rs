//! The data-loss watch in the console, as `impl App`: each cycle's topology goes through
//! [`LossWatch`] (a primary that restarted with less data stays a critical anomaly until
//! acknowledged with `a`); the backup lookup and the memory file are effects, answered by
//! messages, so `update` stays free of I/O.

use std::time::SystemTime;

use crate::history::loss_file::SAVE_EVERY;
use crate::topology::data_loss::{LossKey, SnapshotRef};
use crate::topology::{AnomalyKind, Topology};

use super::{App, Effect};

impl App {
    /// Runs the watch on a freshly built topology (after `Confirm`).
    pub(super) fn watch_losses(&mut self, next: &mut Topology) {
        self.loss.observe(next, self.now);
        self.loss.annotate(next);
    }

    /// The lookups and the memory write the watch needs after a cycle.
    pub(super) fn loss_effects(&mut self) -> Vec<Effect> {
        let mut fx = Vec::new();
        for q in self.loss.unresolved(&self.topology) {
            if self.loss_lookups.contains(&q.key) {
                continue;
            }
            self.loss_lookups.push(q.key.clone());
            fx.push(Effect::FindSnapshot {
                backups_dir: self.config.console.backups_dir.clone(),
                group: q.key.group.clone(),
                nodes: q.nodes,
                before_ms: q.before_ms,
                key: q.key,
            });
        }
        let changed = self.loss.take_changed();
        if let Some(path) = self.opts.loss_file.clone() {
            let due = self
                .loss_saved_at
                .is_none_or(|t| self.now.duration_since(t).is_ok_and(|d| d >= SAVE_EVERY));
            if changed || due {
                self.loss_saved_at = Some(self.now);
                fx.push(Effect::SaveLossMemory {
                    path,
                    state: Box::new(self.loss.state()),
                });
            }
        }
        fx
    }

    /// A backup lookup answered: the loss is shown (its message names the snapshot) at once.
    pub(super) fn snapshot_found(
        &mut self,
        key: &LossKey,
        snapshot: Option<SnapshotRef>,
    ) -> Vec<Effect> {
        self.loss.resolve(key, snapshot);
        self.reannotate();
        self.loss_effects()
    }

    /// `a`: acknowledges the shown group's data-loss alarms.
    pub(super) fn acknowledge_losses(&mut self) -> Vec<Effect> {
        let Some(name) = self.config.groups.get(self.group).map(|g| g.name.clone()) else {
            return Vec::new();
        };
        let nodes = self.loss.acknowledge(&name);
        if nodes.is_empty() {
            self.flash_info("nothing to acknowledge: no data-loss alarm in this group");
            return Vec::new();
        }
        self.flash_info(&format!(
            "acknowledged: data lost on restart ({})",
            nodes.join(", ")
        ));
        self.reannotate();
        self.loss_effects()
    }

    /// The live topology with the watch's anomalies as they are now (logging what changed).
    fn reannotate(&mut self) {
        let mut next = self.topology.clone();
        for g in &mut next.groups {
            g.anomalies
                .retain(|a| a.kind != AnomalyKind::DataLostOnRestart);
        }
        self.loss.annotate(&mut next);
        self.set_topology(next);
    }

    /// The memory file could not be written: said once.
    pub(super) fn loss_memory_failed(&mut self, e: &str) {
        if !self.loss_memory_warned {
            self.loss_memory_warned = true;
            self.flash_error(&format!("the data-loss memory is not kept: {e}"));
        }
    }

    /// When the memory was last written (for tests).
    #[must_use]
    pub fn loss_saved_at(&self) -> Option<SystemTime> {
        self.loss_saved_at
    }
}
