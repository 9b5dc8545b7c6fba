//! The data-loss watch in the console, as `impl App`: the monitor keeps a primary that
//! restarted with less data a critical anomaly until acknowledged with `a`; the backup lookups
//! and the memory writes it asks for are effects, answered by messages, so `update` stays free
//! of I/O.

use crate::topology::data_loss::{LossKey, LossState, SnapshotQuery, SnapshotRef};

use super::{App, Effect};

impl App {
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
        let (nodes, up) = self.monitor.acknowledge(&name, self.now);
        if nodes.is_empty() {
            self.flash_info("nothing to acknowledge: no data-loss alarm in this group");
            return Vec::new();
        }
        self.flash_info(&format!(
            "acknowledged: data lost on restart ({})",
            nodes.join(", ")
        ));
        self.take_update(up)
    }

    /// The memory file could not be written: said once.
    pub(super) fn loss_memory_failed(&mut self, e: &str) {
        if !self.loss_memory_warned {
            self.loss_memory_warned = true;
            self.flash_error(&format!("the data-loss memory is not kept: {e}"));
        }
    }
}
