//! When to pause for a switchover through Sentinel: just after Sentinel's last `INFO` read of
//! the target, so that its next read comes right after it has promoted the target.
//!
//! Sentinel names the new master (`SENTINEL GET-MASTER-ADDR-BY-NAME`, what a Sentinel client
//! asks) only once an `INFO` of the target, read after its own `SLAVEOF NO ONE`, says `master`.
//! While a failover runs it reads each replica's `INFO` once a second, the first time as soon
//! as the failover starts if its last read is older than that; and it sends `SLAVEOF NO ONE`
//! only on its third timer tick after `SENTINEL FAILOVER` (ticks are 52 to 100 ms apart). Asked
//! at once, it reads the target before promoting it, and names it a second later: the writers,
//! paused, wait that second. Asked about [`ASK_AFTER_READ`] after its last read (and before
//! 800 ms), its next read falls after the third tick and names the target at once.
//!
//! Only reads are sent; a target whose last read is not listed, or not seen in time, is not
//! waited for: the switchover goes on, its writers only wait longer.

use std::time::Duration;

use tokio::time::Instant;

use super::super::error::OpsResult;
use super::super::redis_ops::{Command, RedisOps, Reply};
use super::Run;

/// When Sentinel is best asked, after its last read of the target: at the latest 800 ms after
/// it (its second tick may come 200 ms after it is asked, and the next read must not be due by
/// then), and the later the shorter the writers wait; 50 ms are kept for a late tick.
pub const ASK_AFTER_READ: Duration = Duration::from_millis(750);

/// The pause comes this many round trips to the sentinel before Sentinel is asked: the pause,
/// the catch-up's reads and the demotion (a few milliseconds on a local network).
const LEAD_ROUND_TRIPS: u32 = 6;
/// The lead's bounds: at least a few milliseconds; at most this, or the timing is given up.
const MIN_LEAD: Duration = Duration::from_millis(5);
const MAX_LEAD: Duration = Duration::from_millis(400);

/// How often the sentinel's view is read while waiting: more often than the window after a
/// read is long, so no read is missed.
const PHASE_POLL: Duration = Duration::from_millis(250);

impl<O: RedisOps> Run<'_, O> {
    /// Reads `SENTINEL REPLICAS` on sentinel `s` until its last read of `t` is recent enough,
    /// then waits until [`PAUSE_AFTER_READ`] after it. Never fails: unaligned, it says why.
    pub(super) async fn sentinel_info_phase(
        &mut self,
        s: usize,
        master: &str,
        t: usize,
        deadline: Duration,
    ) -> OpsResult<String> {
        let (sn, tn) = (self.plan.name(s).to_string(), self.plan.name(t).to_string());
        let t_addr = self.plan.nodes[t].addr.clone();
        let end = Instant::now() + deadline;
        let mut last: String;
        loop {
            let sent = Instant::now();
            let reply = self
                .ops
                .send(
                    &self.plan.nodes[s],
                    &Command::SentinelReplicas(master.to_string()),
                )
                .await;
            // The sentinel measured the age halfway through the round trip.
            let rtt = sent.elapsed();
            let at = sent + rtt / 2;
            let lead = (rtt * LEAD_ROUND_TRIPS).max(MIN_LEAD);
            match reply {
                Ok(Reply::Text(text)) => match super::sentinel::listed_refresh(&text, &t_addr) {
                    Some(age) => {
                        let read = at.checked_sub(Duration::from_millis(age));
                        let start = read.map(|r| r + ASK_AFTER_READ.saturating_sub(lead));
                        if let (Some(read), Some(start)) = (read, start) {
                            if lead > MAX_LEAD {
                                return Ok(format!(
                                    "{sn} answers in {} ms: too slow to time the pause on its \
                                     reads; not waited for (the writers may wait up to a second \
                                     more)",
                                    rtt.as_millis()
                                ));
                            }
                            if Instant::now() <= start {
                                tokio::time::sleep_until(start).await;
                                self.st.sentinel_read = Some(read);
                                return Ok(format!(
                                    "{sn} read {tn}'s INFO {age} ms before this; pausing {} ms \
                                     after that read to ask Sentinel about {} ms after it, so \
                                     its next read comes after it promotes {tn}",
                                    ASK_AFTER_READ.saturating_sub(lead).as_millis(),
                                    ASK_AFTER_READ.as_millis()
                                ));
                            }
                        }
                        last = format!("{sn} last read {tn}'s INFO {age} ms ago");
                    }
                    None => {
                        return Ok(format!(
                            "{sn} does not say when it last read {tn}'s INFO: not waited for \
                             (the writers may wait up to a second more)"
                        ))
                    }
                },
                Ok(other) => last = format!("{sn} answered '{}'", other.summary()),
                Err(e) => last = format!("{sn}: {e}"),
            }
            if Instant::now() + PHASE_POLL >= end {
                return Ok(format!(
                    "{last}: no fresh read within {}; not waited for (the writers may wait up \
                     to a second more)",
                    crate::config::format_duration(deadline)
                ));
            }
            tokio::time::sleep(PHASE_POLL).await;
        }
    }

    /// How long after Sentinel's last read of the target it was asked, for the step's words.
    pub(super) fn asked_after_read(&self) -> Option<u128> {
        self.st.sentinel_read.map(|r| r.elapsed().as_millis())
    }
}
