//! What a run has changed so far: a list of typed [`Change`]s, in the order they happened,
//! that the steps add to and the rollback (`rollback.rs`) walks newest first. A change that
//! is undone (a pause lifted, a demotion reverted) leaves the list.
//!
//! Besides the changes, the few things a run read that later steps and the failure report
//! need: the nodes as read before the first step, the offset proven equal under the pause,
//! how long writes were paused.

use std::collections::HashMap;

use tokio::time::Instant;

use crate::info::Info;

use super::ms;

/// One thing the run changed on a plan node, or may have changed: a role command that was
/// sent and never answered may still run when the node answers again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// `CLIENT PAUSE ... WRITE` acknowledged; sent at `at`.
    Paused { node: usize, at: Instant },
    /// The node replicates from another now (the old primary, demoted).
    Demoted(usize),
    /// The node is a primary now.
    Promoted(usize),
    /// `FAILOVER` accepted (or sent and unanswered) and not seen complete: it may be running.
    FailoverStarted(usize),
    /// A demotion (`REPLICAOF`, or what a `FAILOVER` does first) sent and never answered.
    DemotionPending(usize),
    /// `REPLICAOF NO ONE` sent and never answered.
    PromotionPending(usize),
    /// A restore's scratch server runs (the step's node is the one restored).
    ScratchStarted(usize),
    /// The node was pointed at the scratch server (`REPLICAOF`, answered or not).
    FollowsScratch(usize),
    /// The node's `replica-priority` was set to 0 (or the command went unanswered); its old
    /// value is in [`RunState::priorities`].
    PriorityLowered(usize),
    /// `SENTINEL FAILOVER` accepted (or sent and unanswered) and the node, its target, not yet
    /// seen a primary: Sentinel may still promote it.
    SentinelFailoverPending(usize),
}

/// Mutable state of a run: what it changed, for the rollback, and what it read.
#[derive(Debug, Default)]
pub(super) struct RunState {
    /// In the order they happened.
    changes: Vec<Change>,
    /// From `CLIENT PAUSE` sent to `CLIENT UNPAUSE` acknowledged.
    pub(super) pause_ms: Option<u64>,
    /// The offset the target was proven to have applied, writes paused.
    pub(super) captured_offset: Option<u64>,
    /// INFO read before the first step, per plan node.
    pub(super) pre: HashMap<usize, Info>,
    /// `replica-priority` as read before the run lowered it, per plan node.
    pub(super) priorities: HashMap<usize, String>,
    /// When the asked sentinel last read the target's `INFO`, as the pause was timed on it.
    pub(super) sentinel_read: Option<tokio::time::Instant>,
    /// The sentinels sent `SENTINEL RESET` (answered, or possibly run), in order.
    pub(super) reset: Vec<usize>,
    /// The reset sentinels seen to know the group again.
    pub(super) rediscovered: Vec<usize>,
}

impl RunState {
    /// The run changed (or may have changed) something.
    pub(super) fn did(&mut self, c: Change) {
        self.changes.push(c);
    }

    /// The changes so far, oldest first.
    pub(super) fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// `c` is no longer true (undone, or it turned out otherwise).
    pub(super) fn undid(&mut self, c: Change) {
        self.changes.retain(|x| *x != c);
    }

    /// The writes paused on `node` were resumed: the pause is over and its length known.
    pub(super) fn unpaused(&mut self, node: usize) {
        let paused = self.paused();
        if let Some((n, at)) = paused.filter(|(n, _)| *n == node) {
            self.pause_ms = Some(ms(at.elapsed()));
            self.undid(Change::Paused { node: n, at });
        }
    }

    /// The node whose writes are paused, and when the pause was sent.
    pub(super) fn paused(&self) -> Option<(usize, Instant)> {
        self.changes.iter().find_map(|c| match *c {
            Change::Paused { node, at } => Some((node, at)),
            _ => None,
        })
    }

    pub(super) fn demoted(&self) -> Option<usize> {
        self.find(|c| matches!(c, Change::Demoted(_)))
    }

    pub(super) fn promoted(&self) -> Option<usize> {
        self.find(|c| matches!(c, Change::Promoted(_)))
    }

    /// A node that may still run its demotion.
    pub(super) fn pending_demotion(&self) -> Option<usize> {
        self.find(|c| matches!(c, Change::DemotionPending(_)))
    }

    /// A node that may still run its promotion.
    pub(super) fn pending_promotion(&self) -> Option<usize> {
        self.find(|c| matches!(c, Change::PromotionPending(_)))
    }

    /// A target Sentinel may still promote.
    pub(super) fn sentinel_pending(&self) -> Option<usize> {
        self.find(|c| matches!(c, Change::SentinelFailoverPending(_)))
    }

    fn find(&self, which: impl Fn(&Change) -> bool) -> Option<usize> {
        self.changes.iter().find(|c| which(c)).map(Change::node)
    }
}

impl Change {
    /// The plan node it happened on.
    pub(super) fn node(&self) -> usize {
        match *self {
            Self::Paused { node, .. }
            | Self::Demoted(node)
            | Self::Promoted(node)
            | Self::FailoverStarted(node)
            | Self::DemotionPending(node)
            | Self::PromotionPending(node)
            | Self::ScratchStarted(node)
            | Self::FollowsScratch(node)
            | Self::PriorityLowered(node)
            | Self::SentinelFailoverPending(node) => node,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undone_changes_leave_the_list_and_the_pause_is_timed() {
        let mut st = RunState::default();
        let at = Instant::now();
        st.did(Change::Paused { node: 0, at });
        st.did(Change::Demoted(0));
        st.did(Change::PromotionPending(1));
        assert_eq!(st.paused(), Some((0, at)));
        assert_eq!(
            (st.demoted(), st.promoted(), st.pending_promotion()),
            (Some(0), None, Some(1))
        );
        st.unpaused(1);
        assert!(st.paused().is_some(), "another node's pause is not lifted");
        st.unpaused(0);
        assert_eq!(st.paused(), None);
        assert!(st.pause_ms.is_some());
        st.undid(Change::Demoted(0));
        assert_eq!(st.changes(), [Change::PromotionPending(1)]);
    }
}
