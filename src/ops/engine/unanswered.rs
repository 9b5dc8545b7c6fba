//! A target that was sent `REPLICAOF NO ONE` and never answered (frozen, swapping, or its
//! socket black-holed mid-command). A command that timed out may still sit in the node's socket
//! and run when the node answers again: the node would then be a second primary. REDIS.md
//! (the FAILOVER caveat) says the same of a frozen FAILOVER target: watch it, demote it if it
//! reports `role:master`.
//!
//! While the target is watched, writes on the old primary stay paused, so there is never a
//! moment with two primaries taking writes. The watch is short and bounded (two command
//! timeouts): writes cannot wait on a frozen node. This file only looks; putting the target back
//! is [`undo_promotion`](super::Run::undo_promotion)'s work.

use tokio::time::Instant;

use crate::info::InfoRole;

use super::super::redis_ops::{InfoSection, RedisOps};
use super::steps::WAIT_POLL;
use super::Run;

/// How many command timeouts the silent target is watched for.
const WATCH_TIMEOUTS: u32 = 2;

impl<O: RedisOps> Run<'_, O> {
    /// Watches target `t` for a bounded time. Answering as a primary (it ran the command), it
    /// is marked promoted so that the rollback puts it back; answering as a replica, the command
    /// never ran; silent, the outcome will say what to do when it wakes. One line for the
    /// rollback report, and whether the target is still silent (the line then leads the
    /// outcome's next step).
    pub(super) async fn settle_unanswered(&mut self, t: usize) -> (String, bool) {
        let tn = self.plan.name(t).to_string();
        let watch = self.plan.budgets.command * WATCH_TIMEOUTS;
        let deadline = Instant::now() + watch;
        loop {
            match self.info(t, InfoSection::Replication).await {
                Ok(i) if i.replication.role == Some(InfoRole::Primary) => {
                    self.st.promoted = Some(t);
                    let line = format!(
                        "{tn} answered again as a primary: it ran the REPLICAOF NO ONE it had been sent"
                    );
                    return (line, false);
                }
                Ok(_) => {
                    let line = format!(
                        "{tn} answered again as a replica: the REPLICAOF NO ONE it had been sent never ran"
                    );
                    return (line, false);
                }
                Err(_) if Instant::now() < deadline => tokio::time::sleep(WAIT_POLL).await,
                Err(_) => break,
            }
        }
        let primary = self.old_primary.map_or_else(
            || "the primary".to_string(),
            |p| self.plan.name(p).to_string(),
        );
        let note = format!(
            "{tn} never answered the REPLICAOF NO ONE it was sent (watched {} more): when it answers \
             again it may run it and become a second primary (with no write of its own: {primary} was \
             paused); demote it then with `redops repoint {tn} --to {primary}`",
            crate::config::format_duration(watch)
        );
        (note, true)
    }
}
