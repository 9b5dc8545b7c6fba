//! Silent data loss at a restart (DESIGN invariant 11): a primary that came back as a new
//! process with less than it had, and whose replicas copy it. Every other anomaly is derived
//! from one cycle; this one needs memory: what each node was the last time it answered.
//!
//! [`LossWatch`] keeps that memory (and the losses found, until an operator acknowledges them)
//! and adds its anomalies to each cycle's topology, the way `Confirm` holds some back. It is
//! pure: the front-end looks up the latest backup of a group when a loss is found
//! ([`LossWatch::unresolved`] / [`LossWatch::resolve`]) and may keep the memory on disk between
//! runs ([`LossState`]), so that one-shot `status` can judge a restart it did not witness.
//!
//! **The rule** ([`judge`]). A node *restarted* when its `run_id` differs from the one last
//! seen at its address. A restart of a node that was a primary and is a primary again (seen
//! after it finished loading) *lost data* when either:
//! - **its key count dropped**: it has fewer keys than it had by more than 1% of what it had,
//!   and the sighting compared with is at most [`BASELINE_WINDOW`] older than the restart (a
//!   count seen long before may have moved for good reasons since); or
//! - **its history was cut with unsaved writes**: without AOF, it had writes not in its last
//!   RDB (`rdb_changes_since_last_save > 0`) and the history it came back with does not reach
//!   the offset it had (neither `master_replid` nor `master_replid2` continues the old
//!   `master_replid` up to the old `master_repl_offset`). This catches an older dump reloaded
//!   over overwritten keys, whose count does not move. Only 7.0+ restores the history of its
//!   RDB at a restart as primary, so this half is judged from 7.0 (Valkey included).
//!
//! Offsets alone are not evidence: replication PINGs move an idle primary's offset, so an RDB
//! node killed after a quiet hour comes back "behind" with nothing lost. Overwrites lost at a
//! restart of an AOF node (at most a second of `appendfsync everysec`) go unseen.
//!
//! A loss is *raised* (shown) once it matters to the group: a replica follows the restarted
//! node (it copied it, is copying it, or will as soon as its link is up), or no other node of
//! the group holds more keys. A restarted primary that nobody follows while another node holds
//! the data is a stale primary, the identity anomalies' business. Once raised, it stays,
//! critical, until acknowledged; its message follows what the replicas do.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{Anomaly, AnomalyKind, GroupTopology, Link, NodeView, Role, Severity, Topology};
use crate::observe::NodeState;

/// A key count is trusted as the "before" of a restart only if seen at most this long before
/// the restart.
pub const BASELINE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Acknowledged restarts remembered (so a merge never brings one back), newest kept.
const ACK_KEEP: usize = 64;
/// Format version of [`LossState`].
pub const LOSS_STATE_VERSION: u32 = 1;

/// What a node was when it last answered: all a restart is judged against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// The configured address (a different address is a different server).
    pub addr: String,
    pub run_id: String,
    pub primary: bool,
    /// Keys over all databases.
    pub keys: u64,
    pub replid: Option<String>,
    /// `master_repl_offset`.
    pub offset: Option<u64>,
    /// `rdb_changes_since_last_save`: writes not in its last RDB.
    pub unsaved: Option<u64>,
    pub aof: bool,
    /// When, in Unix milliseconds.
    pub at_ms: u64,
}

/// A node as it answers now: [`Seen`] plus what the judgement of a restart needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub seen: Seen,
    pub replid2: Option<String>,
    /// `second_repl_offset`: `replid2` is valid up to this minus one.
    pub second_offset: Option<i64>,
    pub uptime_s: Option<u64>,
    /// The server restores its RDB's history when it restarts as a primary (7.0+).
    pub keeps_history: bool,
}

impl Sighting {
    /// A configured node that answered this cycle and is not loading; `None` otherwise.
    #[must_use]
    pub fn of(v: &NodeView, now: SystemTime) -> Option<Self> {
        if v.unmanaged || v.stale_info || v.state != NodeState::Up {
            return None;
        }
        let info = v.info.as_ref()?;
        let p = &info.persistence;
        if p.loading || p.async_loading {
            return None;
        }
        let r = &info.replication;
        Some(Self {
            seen: Seen {
                addr: v.addr.clone(),
                run_id: info.server.run_id.clone()?,
                primary: v.role == Role::Primary,
                keys: info.total_keys(),
                replid: r.replid.clone(),
                offset: r.offset,
                unsaved: p.changes_since_last_save,
                aof: p.aof_enabled,
                at_ms: unix_ms(now),
            },
            replid2: r.previous_replid().map(str::to_string),
            second_offset: r.second_offset,
            uptime_s: info.server.uptime_seconds,
            keeps_history: info.server.at_least(7, 0),
        })
    }
}

/// What a restart cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The key count dropped beyond the tolerance.
    pub keys_dropped: bool,
    /// Writes made since the last save that the new history does not contain (at least).
    pub unsaved_lost: Option<u64>,
}

/// The rule (see the module doc): `Some` when the node restarted as a primary, having been
/// one, and lost keys or unsaved writes.
#[must_use]
pub fn judge(before: &Seen, after: &Sighting) -> Option<Verdict> {
    let now = &after.seen;
    if before.run_id == now.run_id || before.addr != now.addr || !before.primary || !now.primary {
        return None;
    }
    let restarted_ms = after.uptime_s.map_or(now.at_ms, |u| {
        now.at_ms.saturating_sub(u.saturating_mul(1000))
    });
    let window = u64::try_from(BASELINE_WINDOW.as_millis()).unwrap_or(u64::MAX);
    let recent = before.at_ms.saturating_add(window) >= restarted_ms;
    let keys_dropped = recent && before.keys > now.keys.saturating_add(before.keys / 100);
    let unsaved_lost = match before.unsaved {
        Some(n) if n > 0 && !before.aof && after.keeps_history && !continues(before, after) => {
            Some(n)
        }
        _ => None,
    };
    (keys_dropped || unsaved_lost.is_some()).then_some(Verdict {
        keys_dropped,
        unsaved_lost,
    })
}

/// The new history contains the old one up to the old offset.
fn continues(before: &Seen, after: &Sighting) -> bool {
    let Some(old) = before.offset else {
        return true;
    };
    let now = &after.seen;
    if now.replid.is_some() && now.replid == before.replid {
        return now.offset.is_some_and(|o| o >= old);
    }
    if after.replid2.is_some() && after.replid2 == before.replid {
        let old = i64::try_from(old).unwrap_or(i64::MAX);
        // `replid2` is valid up to `second_offset - 1`.
        return after.second_offset.is_some_and(|s| s > old);
    }
    false
}

/// A downloaded snapshot to restore from (a manifest found in the backups directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRef {
    pub path: String,
    pub node: String,
    pub taken_at_ms: u64,
    pub keys: Option<u64>,
}

/// Which restart: one loss per process that came back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LossKey {
    pub group: String,
    pub node: String,
    pub run_id: String,
}

/// A restart that lost data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loss {
    pub key: LossKey,
    /// The node before the restart.
    pub before: Seen,
    pub keys_after: u64,
    pub keys_dropped: bool,
    pub unsaved_lost: Option<u64>,
    pub found_at_ms: u64,
    /// Shown: see the module doc.
    pub raised: bool,
    /// The backups directory was searched (`snapshot` is the result).
    pub looked_up: bool,
    pub snapshot: Option<SnapshotRef>,
}

/// A backup lookup the front-end owes a loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotQuery {
    pub key: LossKey,
    /// The group's configured nodes, the restarted one first.
    pub nodes: Vec<String>,
    /// Only snapshots taken before this (Unix ms) hold the lost data.
    pub before_ms: u64,
}

/// One node's last sighting, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenEntry {
    pub group: String,
    pub node: String,
    pub seen: Seen,
}

/// The watch's memory, as kept on disk between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LossState {
    pub version: u32,
    pub seen: Vec<SeenEntry>,
    /// Unacknowledged losses.
    pub losses: Vec<Loss>,
    /// Acknowledged restarts, oldest first.
    pub acknowledged: Vec<LossKey>,
}

impl LossState {
    /// Folds `other` (read back from disk, possibly written by another redops meanwhile) into
    /// `self`: the newer sighting of each node wins, losses are the union of both minus every
    /// acknowledged one.
    pub fn merge(&mut self, other: LossState) {
        for e in other.seen {
            match self
                .seen
                .iter_mut()
                .find(|m| m.group == e.group && m.node == e.node)
            {
                Some(m) if m.seen.at_ms >= e.seen.at_ms => {}
                Some(m) => *m = e,
                None => self.seen.push(e),
            }
        }
        for k in other.acknowledged {
            if !self.acknowledged.contains(&k) {
                self.acknowledged.push(k);
            }
        }
        let excess = self.acknowledged.len().saturating_sub(ACK_KEEP);
        self.acknowledged.drain(..excess);
        for l in other.losses {
            if !self.losses.iter().any(|m| m.key == l.key) {
                self.losses.push(l);
            }
        }
        let acked = self.acknowledged.clone();
        self.losses.retain(|l| !acked.contains(&l.key));
    }
}

/// Memory across cycles: last sightings, losses found, acknowledgements.
#[derive(Debug, Clone, Default)]
pub struct LossWatch {
    seen: BTreeMap<(String, String), Seen>,
    losses: Vec<Loss>,
    acknowledged: Vec<LossKey>,
    /// Something worth keeping on disk changed since [`take_changed`](Self::take_changed).
    changed: bool,
}

impl LossWatch {
    /// No memory yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The memory kept by an earlier run.
    #[must_use]
    pub fn from_state(state: LossState) -> Self {
        Self {
            seen: state
                .seen
                .into_iter()
                .map(|e| ((e.group, e.node), e.seen))
                .collect(),
            losses: state.losses,
            acknowledged: state.acknowledged,
            changed: false,
        }
    }

    /// The memory, to keep on disk.
    #[must_use]
    pub fn state(&self) -> LossState {
        LossState {
            version: LOSS_STATE_VERSION,
            seen: self
                .seen
                .iter()
                .map(|((group, node), seen)| SeenEntry {
                    group: group.clone(),
                    node: node.clone(),
                    seen: seen.clone(),
                })
                .collect(),
            losses: self.losses.clone(),
            acknowledged: self.acknowledged.clone(),
        }
    }

    /// True (once) when a restart, a role change, a new node, a loss or an acknowledgement
    /// happened since the last call: the moments the memory on disk must follow.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// The unacknowledged losses.
    #[must_use]
    pub fn losses(&self) -> &[Loss] {
        &self.losses
    }

    /// Compares every node that answered this cycle with its last sighting, records new
    /// losses, raises the ones that now matter, and remembers the sightings.
    pub fn observe(&mut self, topo: &Topology, now: SystemTime) {
        for g in &topo.groups {
            for v in &g.nodes {
                let Some(after) = Sighting::of(v, now) else {
                    continue;
                };
                let key = (g.name.clone(), v.name.clone());
                match self.seen.get(&key) {
                    Some(before) if before.run_id != after.seen.run_id => {
                        self.changed = true;
                        if let Some(verdict) = judge(before, &after) {
                            self.record(g, v, before.clone(), &after, verdict);
                        }
                    }
                    Some(before) if before.primary == after.seen.primary => {}
                    _ => self.changed = true,
                }
                self.seen.insert(key, after.seen);
            }
            for l in self
                .losses
                .iter_mut()
                .filter(|l| l.key.group == g.name && !l.raised)
            {
                if matters(l, g) {
                    l.raised = true;
                    self.changed = true;
                }
            }
        }
    }

    fn record(
        &mut self,
        g: &GroupTopology,
        v: &NodeView,
        before: Seen,
        after: &Sighting,
        verdict: Verdict,
    ) {
        let key = LossKey {
            group: g.name.clone(),
            node: v.name.clone(),
            run_id: after.seen.run_id.clone(),
        };
        if self.acknowledged.contains(&key) || self.losses.iter().any(|l| l.key == key) {
            return;
        }
        self.losses.push(Loss {
            key,
            before,
            keys_after: after.seen.keys,
            keys_dropped: verdict.keys_dropped,
            unsaved_lost: verdict.unsaved_lost,
            found_at_ms: after.seen.at_ms,
            raised: false,
            looked_up: false,
            snapshot: None,
        });
    }

    /// The backup lookups owed: one per loss not searched for yet.
    #[must_use]
    pub fn unresolved(&self, topo: &Topology) -> Vec<SnapshotQuery> {
        self.losses
            .iter()
            .filter(|l| !l.looked_up)
            .map(|l| {
                let mut nodes = vec![l.key.node.clone()];
                if let Some(g) = topo.groups.iter().find(|g| g.name == l.key.group) {
                    nodes.extend(
                        g.nodes
                            .iter()
                            .filter(|n| !n.unmanaged && n.name != l.key.node)
                            .map(|n| n.name.clone()),
                    );
                }
                SnapshotQuery {
                    key: l.key.clone(),
                    nodes,
                    before_ms: l.before.at_ms.max(l.found_at_ms.saturating_sub(1)),
                }
            })
            .collect()
    }

    /// The result of a lookup (`None`: no backup found).
    pub fn resolve(&mut self, key: &LossKey, snapshot: Option<SnapshotRef>) {
        if let Some(l) = self.losses.iter_mut().find(|l| &l.key == key) {
            l.looked_up = true;
            l.snapshot = snapshot;
            self.changed = true;
        }
    }

    /// Adds a critical anomaly per raised, unacknowledged loss whose backup lookup is done.
    pub fn annotate(&self, topo: &mut Topology) {
        for g in &mut topo.groups {
            let mut added = false;
            for l in self
                .losses
                .iter()
                .filter(|l| l.key.group == g.name && l.raised && l.looked_up)
            {
                let message = message(l, g);
                g.anomalies.push(Anomaly {
                    kind: AnomalyKind::DataLostOnRestart,
                    severity: Severity::Critical,
                    nodes: vec![l.key.node.clone()],
                    message,
                });
                added = true;
            }
            if added {
                g.anomalies
                    .sort_by(|a, b| b.severity.cmp(&a.severity).then(a.kind.cmp(&b.kind)));
            }
        }
    }

    /// Acknowledges every loss of `group`; returns the nodes concerned.
    pub fn acknowledge(&mut self, group: &str) -> Vec<String> {
        let mut nodes = Vec::new();
        let mut keep = Vec::with_capacity(self.losses.len());
        for l in std::mem::take(&mut self.losses) {
            if l.key.group == group && l.raised {
                nodes.push(l.key.node.clone());
                self.acknowledged.push(l.key);
            } else {
                keep.push(l);
            }
        }
        self.losses = keep;
        let excess = self.acknowledged.len().saturating_sub(ACK_KEEP);
        self.acknowledged.drain(..excess);
        if !nodes.is_empty() {
            self.changed = true;
        }
        nodes
    }
}

/// Index of the loss's node in the group, and the nodes following it.
fn followers<'a>(l: &Loss, g: &'a GroupTopology) -> (Option<usize>, Vec<&'a NodeView>) {
    let idx = g.nodes.iter().position(|n| n.name == l.key.node);
    let list = g
        .nodes
        .iter()
        .filter(|n| {
            !n.unmanaged && idx.is_some() && n.upstream.as_ref().and_then(|u| u.index) == idx
        })
        .collect();
    (idx, list)
}

fn keys_of(n: &NodeView) -> Option<u64> {
    if n.stale_info || !n.state.is_reachable() {
        return None;
    }
    n.info.as_ref().map(|i| i.total_keys())
}

/// A replica follows it, or no other node holds more keys than it now has.
fn matters(l: &Loss, g: &GroupTopology) -> bool {
    let (idx, follow) = followers(l, g);
    if !follow.is_empty() {
        return true;
    }
    let now = idx
        .and_then(|i| keys_of(&g.nodes[i]))
        .unwrap_or(l.keys_after);
    !g.nodes
        .iter()
        .filter(|n| !n.unmanaged && n.name != l.key.node)
        .any(|n| keys_of(n).is_some_and(|k| k > now))
}

/// The anomaly's words, from the loss and what the group looks like now.
fn message(l: &Loss, g: &GroupTopology) -> String {
    let name = &l.key.node;
    let mut m = if l.keys_dropped {
        format!(
            "{name} restarted with {} keys (it had {})",
            thousands(l.keys_after),
            thousands(l.before.keys)
        )
    } else {
        format!(
            "{name} restarted from an older state ({} keys)",
            thousands(l.keys_after)
        )
    };
    if let Some(n) = l.unsaved_lost {
        m.push_str(&format!(
            ", without at least {} write(s) made since its last save",
            thousands(n)
        ));
    }
    let (idx, follow) = followers(l, g);
    let replid = idx.and_then(|i| g.nodes[i].replid.clone());
    let now_keys = idx
        .and_then(|i| keys_of(&g.nodes[i]))
        .unwrap_or(l.keys_after);
    let mut copied = Vec::new();
    let mut copying = Vec::new();
    let mut holding = Vec::new();
    for n in &follow {
        let synced = replid.is_some()
            && n.replid == replid
            && n.link == Some(Link::Up)
            && !n.sync_in_progress;
        if synced {
            copied.push(n.name.as_str());
        } else if n.sync_in_progress {
            copying.push(n.name.as_str());
        } else if let Some(k) = keys_of(n).filter(|&k| k > now_keys) {
            holding.push(format!(
                "{} still holds {} keys and will copy it as soon as its link is up: promote it \
                 or stop its replication first",
                n.name,
                thousands(k)
            ));
        } else {
            copying.push(n.name.as_str());
        }
    }
    for n in g
        .nodes
        .iter()
        .filter(|n| !n.unmanaged && n.name != *name && !follow.iter().any(|f| f.name == n.name))
    {
        if let Some(k) = keys_of(n).filter(|&k| k > now_keys) {
            holding.push(format!("{} still holds {} keys", n.name, thousands(k)));
        }
    }
    if !copied.is_empty() {
        m.push_str(&format!("; {} copied it", join_names(&copied)));
    }
    if !copying.is_empty() {
        m.push_str(&format!(
            "; {} {} copying it",
            join_names(&copying),
            if copying.len() == 1 { "is" } else { "are" }
        ));
    }
    for h in &holding {
        m.push_str("; ");
        m.push_str(h);
    }
    if holding.is_empty() {
        m.push_str(if follow.is_empty() {
            ": no other node holds the data"
        } else {
            ": the data is gone from the group"
        });
    }
    match (&l.snapshot, l.looked_up) {
        (Some(s), _) => m.push_str(&format!(
            "; restore from the snapshot of {} ({}, {}{})",
            clock(s.taken_at_ms),
            s.node,
            s.path,
            s.keys
                .map(|k| format!(", {} keys", thousands(k)))
                .unwrap_or_default()
        )),
        (None, true) => {
            m.push_str("; redops has no downloaded snapshot of this group to restore from")
        }
        (None, false) => {}
    }
    m
}

/// `a`, `a and b`, `a, b and c`.
fn join_names(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `20,150`.
#[must_use]
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2025-01-02 14:02 UTC`.
fn clock(ms: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms);
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from(t)
        .format(&fmt)
        .unwrap_or_else(|_| format!("{} s", ms / 1000))
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::info::{DbKeys, Info, InfoRole};
    use crate::observe::NodeId;
    use crate::topology::Upstream;

    const T0: u64 = 1_800_000_000_000;

    fn seen(run_id: &str, keys: u64) -> Seen {
        Seen {
            addr: "127.0.0.1:7001".into(),
            run_id: run_id.into(),
            primary: true,
            keys,
            replid: Some("old".into()),
            offset: Some(5000),
            unsaved: Some(0),
            aof: false,
            at_ms: T0,
        }
    }

    fn after(run_id: &str, keys: u64) -> Sighting {
        Sighting {
            seen: Seen {
                replid: Some("new".into()),
                offset: Some(0),
                at_ms: T0 + 3000,
                ..seen(run_id, keys)
            },
            replid2: None,
            second_offset: None,
            uptime_s: Some(1),
            keeps_history: true,
        }
    }

    #[test]
    fn a_restart_with_fewer_keys_is_a_loss() {
        let v = judge(&seen("a", 20_150), &after("b", 0)).unwrap();
        assert!(v.keys_dropped);
        // 1% of what it had is tolerated (keys expiring or deleted around the restart).
        assert!(judge(&seen("a", 20_150), &after("b", 19_950)).is_none());
        assert!(judge(&seen("a", 20_150), &after("b", 19_948)).is_some());
        // Same process: nothing restarted.
        assert!(judge(&seen("a", 20_150), &after("a", 0)).is_none());
    }

    #[test]
    fn only_a_primary_that_came_back_primary_counts() {
        let mut before = seen("a", 100);
        before.primary = false;
        assert!(judge(&before, &after("b", 0)).is_none());
        let mut now = after("b", 0);
        now.seen.primary = false;
        assert!(judge(&seen("a", 100), &now).is_none());
        // Another address is another server.
        let mut now = after("b", 0);
        now.seen.addr = "127.0.0.1:7002".into();
        assert!(judge(&seen("a", 100), &now).is_none());
    }

    #[test]
    fn an_old_key_count_is_not_evidence() {
        let mut before = seen("a", 100);
        // Seen 20 minutes before a restart that happened 1 s before this sighting.
        before.at_ms = T0 + 3000 - 1000 - 20 * 60 * 1000;
        assert!(judge(&before, &after("b", 0)).is_none());
        before.at_ms = T0 + 3000 - 1000 - 14 * 60 * 1000;
        assert!(judge(&before, &after("b", 0)).is_some());
    }

    #[test]
    fn unsaved_writes_lost_with_an_older_dump_even_at_the_same_key_count() {
        let mut before = seen("a", 1000);
        before.unsaved = Some(500);
        // Reloaded a dump taken at offset 3000 of the old history: the writes after it are gone.
        let mut now = after("b", 1000);
        now.replid2 = Some("old".into());
        now.second_offset = Some(3001);
        let v = judge(&before, &now).unwrap();
        assert!(!v.keys_dropped);
        assert_eq!(v.unsaved_lost, Some(500));
        // A dump that reaches the old offset (SHUTDOWN saved it): nothing lost.
        now.second_offset = Some(5001);
        assert!(judge(&before, &now).is_none());
        // Nothing unsaved (an idle RDB primary whose offset only moved by PINGs): nothing lost.
        before.unsaved = Some(0);
        now.second_offset = Some(3001);
        assert!(judge(&before, &now).is_none());
        // With AOF the RDB's age says nothing.
        before.unsaved = Some(500);
        before.aof = true;
        assert!(judge(&before, &now).is_none());
        // Before 7.0 a restarted primary never keeps its history: not judged on it.
        before.aof = false;
        now.keeps_history = false;
        assert!(judge(&before, &now).is_none());
    }

    fn view(name: &str, port: u16, run_id: &str, keys: u64, replid: &str) -> NodeView {
        let mut info = Info::default();
        info.server.run_id = Some(run_id.into());
        info.server.version = Some("7.0.15".into());
        info.server.uptime_seconds = Some(100);
        info.replication.role = Some(InfoRole::Primary);
        info.replication.replid = Some(replid.into());
        info.replication.offset = Some(100);
        info.persistence.changes_since_last_save = Some(0);
        if keys > 0 {
            info.keyspace.push(DbKeys {
                db: 0,
                keys,
                ..DbKeys::default()
            });
        }
        let mut v = NodeView::new(
            Some(NodeId {
                group: 0,
                node: usize::from(port - 7001),
            }),
            name,
            &format!("127.0.0.1:{port}"),
        );
        v.state = NodeState::Up;
        v.role = Role::Primary;
        v.replid = Some(replid.into());
        v.info = Some(Arc::new(info));
        v
    }

    fn replica_of(mut v: NodeView, upstream: usize, synced: bool) -> NodeView {
        v.role = Role::Replica;
        v.upstream = Some(Upstream {
            addr: "127.0.0.1:7001".into(),
            index: Some(upstream),
        });
        v.link = Some(if synced {
            Link::Up
        } else {
            Link::Down { since: None }
        });
        v
    }

    fn topo(nodes: Vec<NodeView>) -> Topology {
        Topology {
            at: None,
            groups: vec![GroupTopology {
                index: 0,
                name: "g".into(),
                nodes,
                anomalies: Vec::new(),
            }],
        }
    }

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn the_watch_raises_once_the_replicas_copy_and_keeps_it_until_acknowledged() {
        let mut w = LossWatch::new();
        let before = topo(vec![
            view("n1", 7001, "a", 20_150, "r1"),
            replica_of(view("n2", 7002, "x", 20_150, "r1"), 0, true),
            replica_of(view("n3", 7003, "y", 20_150, "r1"), 0, true),
        ]);
        w.observe(&before, at(T0));
        assert!(w.losses().is_empty());
        // n1 restarted empty; its replicas already copied it (new replid, link up).
        let mut after = topo(vec![
            view("n1", 7001, "b", 0, "r2"),
            replica_of(view("n2", 7002, "x", 0, "r2"), 0, true),
            replica_of(view("n3", 7003, "y", 0, "r2"), 0, true),
        ]);
        w.observe(&after, at(T0 + 2000));
        assert_eq!(w.losses().len(), 1);
        // Not shown before the backup lookup answers (the message names the snapshot).
        w.annotate(&mut after);
        assert!(after.groups[0].anomalies.is_empty());
        let q = w.unresolved(&after);
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].nodes, ["n1", "n2", "n3"]);
        w.resolve(
            &q[0].key,
            Some(SnapshotRef {
                path: "/b/g/n1/20250102T140200.000Z.rdb".into(),
                node: "n1".into(),
                taken_at_ms: 1_735_826_520_000,
                keys: Some(20_000),
            }),
        );
        w.annotate(&mut after);
        let a = &after.groups[0].anomalies[0];
        assert_eq!(a.kind, AnomalyKind::DataLostOnRestart);
        assert_eq!(a.severity, Severity::Critical);
        assert_eq!(
            a.message,
            "n1 restarted with 0 keys (it had 20,150); n2 and n3 copied it: the data is gone \
             from the group; restore from the snapshot of 2025-01-02 14:02 UTC (n1, \
             /b/g/n1/20250102T140200.000Z.rdb, 20,000 keys)"
        );
        // Later cycles: the same process, nothing new, the alarm stays.
        let mut later = topo(after.groups[0].nodes.clone());
        w.observe(&later, at(T0 + 60_000));
        w.annotate(&mut later);
        assert_eq!(later.groups[0].anomalies.len(), 1);
        assert_eq!(w.acknowledge("g"), ["n1"]);
        let mut acked = topo(after.groups[0].nodes.clone());
        w.observe(&acked, at(T0 + 61_000));
        w.annotate(&mut acked);
        assert!(acked.groups[0].anomalies.is_empty());
        assert!(w.acknowledge("g").is_empty());
    }

    #[test]
    fn a_replica_still_holding_the_data_is_named() {
        let mut w = LossWatch::new();
        w.observe(
            &topo(vec![
                view("n1", 7001, "a", 500, "r1"),
                replica_of(view("n2", 7002, "x", 500, "r1"), 0, true),
            ]),
            at(T0),
        );
        let mut t = topo(vec![
            view("n1", 7001, "b", 0, "r2"),
            replica_of(view("n2", 7002, "x", 500, "r1"), 0, false),
        ]);
        w.observe(&t, at(T0 + 1000));
        let q = w.unresolved(&t);
        w.resolve(&q[0].key, None);
        w.annotate(&mut t);
        assert_eq!(
            t.groups[0].anomalies[0].message,
            "n1 restarted with 0 keys (it had 500); n2 still holds 500 keys and will copy it as \
             soon as its link is up: promote it or stop its replication first; redops has no \
             downloaded snapshot of this group to restore from"
        );
    }

    #[test]
    fn a_restarted_primary_nobody_follows_beside_a_holder_is_not_raised() {
        // The stale old primary after a promotion: the data lives on n2; the identity anomalies
        // report n1.
        let mut w = LossWatch::new();
        w.observe(&topo(vec![view("n1", 7001, "a", 500, "r1")]), at(T0));
        let mut t = topo(vec![
            view("n2", 7002, "x", 500, "r9"),
            view("n1", 7001, "b", 0, "r2"),
        ]);
        w.observe(&t, at(T0 + 1000));
        let q = w.unresolved(&t);
        w.resolve(&q[0].key, None);
        w.annotate(&mut t);
        assert!(t.groups[0].anomalies.is_empty());
        // A replica pointed at it: now it matters.
        t.groups[0].nodes[0] = replica_of(view("n2", 7002, "x", 500, "r9"), 1, false);
        w.observe(&t, at(T0 + 2000));
        w.annotate(&mut t);
        assert_eq!(t.groups[0].anomalies.len(), 1);
    }

    #[test]
    fn the_memory_survives_a_round_trip_and_merges() {
        let mut w = LossWatch::new();
        w.observe(&topo(vec![view("n1", 7001, "a", 500, "r1")]), at(T0));
        assert!(w.take_changed(), "a first sighting is worth keeping");
        w.observe(&topo(vec![view("n1", 7001, "a", 501, "r1")]), at(T0 + 1000));
        assert!(!w.take_changed(), "a key count moving is not");
        let state = w.state();
        let text = serde_json::to_string(&state).unwrap();
        let back: LossState = serde_json::from_str(&text).unwrap();
        assert_eq!(back, state);
        // Another process restarted it while this one was not running.
        let mut w2 = LossWatch::from_state(back);
        w2.observe(&topo(vec![view("n1", 7001, "b", 0, "r2")]), at(T0 + 5000));
        assert_eq!(w2.losses().len(), 1);
        // Merging: the newer sighting wins, an acknowledgement removes the loss everywhere.
        let mut disk = w2.state();
        let mut mine = state.clone();
        mine.merge(disk.clone());
        assert_eq!(mine.seen[0].seen.run_id, "b");
        assert_eq!(mine.losses.len(), 1);
        disk.acknowledged.push(disk.losses[0].key.clone());
        mine.merge(disk);
        assert!(mine.losses.is_empty());
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(20_150), "20,150");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
