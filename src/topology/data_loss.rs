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

/// A primary loses at least this many keys...
const WIPE_MIN_KEYS: u64 = 100;
/// ...and more than half of what it had, between two sightings at most this far apart, without
/// a restart: it was wiped (`FLUSHALL`, `FLUSHDB`, a mass deletion), not drained by expiry.
const WIPE_WINDOW: Duration = Duration::from_secs(60);

/// A primary, the same process, lost most of its keys between two close sightings.
#[must_use]
pub fn wiped(before: &Seen, now: &Seen) -> bool {
    let window = u64::try_from(WIPE_WINDOW.as_millis()).unwrap_or(u64::MAX);
    before.run_id == now.run_id
        && before.addr == now.addr
        && before.primary
        && now.primary
        && before.at_ms.saturating_add(window) >= now.at_ms
        && before.keys >= now.keys.saturating_add(WIPE_MIN_KEYS)
        && now.keys < before.keys / 2
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
    /// Not a restart: the same process lost most of its keys between two polls ([`wiped`]).
    #[serde(default)]
    pub wiped: bool,
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
                    Some(before) if wiped(before, &after.seen) => {
                        self.changed = true;
                        self.record_wipe(g, v, before.clone(), &after);
                    }
                    Some(before) if before.primary == after.seen.primary => {}
                    _ => self.changed = true,
                }
                self.seen.insert(key, after.seen);
            }
            // A loss not raised yet whose node now copies another node's data (a replica, its
            // link up: rejoined, repointed) cannot matter any more: what it lost, another holds.
            let before = self.losses.len();
            self.losses
                .retain(|l| l.key.group != g.name || l.raised || !copies_another(l, g));
            if self.losses.len() != before {
                self.changed = true;
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
            wiped: false,
            unsaved_lost: verdict.unsaved_lost,
            found_at_ms: after.seen.at_ms,
            raised: false,
            looked_up: false,
            snapshot: None,
        });
    }

    /// A wipe: one loss per event (the process did not change, so its key names the moment).
    fn record_wipe(&mut self, g: &GroupTopology, v: &NodeView, before: Seen, after: &Sighting) {
        let key = LossKey {
            group: g.name.clone(),
            node: v.name.clone(),
            run_id: format!("{} wiped at {}", after.seen.run_id, after.seen.at_ms),
        };
        self.losses.push(Loss {
            key,
            before,
            keys_after: after.seen.keys,
            keys_dropped: true,
            wiped: true,
            unsaved_lost: None,
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
                    kind: if l.wiped {
                        AnomalyKind::DataWiped
                    } else {
                        AnomalyKind::DataLostOnRestart
                    },
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

/// The loss's node replicates from another node of the group with its link up.
fn copies_another(l: &Loss, g: &GroupTopology) -> bool {
    g.by_name(&l.key.node).is_some_and(|n| {
        n.role == Role::Replica
            && n.link == Some(Link::Up)
            && !n.sync_in_progress
            && n.upstream.as_ref().is_some_and(|u| u.index.is_some())
    })
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

/// The loss itself: a wipe, a restart with fewer keys, or from an older state.
fn what_happened(l: &Loss) -> String {
    let name = &l.key.node;
    if l.wiped {
        format!(
            "{name} went from {} keys to {} without a restart (FLUSHALL, FLUSHDB or a mass \
             deletion)",
            thousands(l.before.keys),
            thousands(l.keys_after)
        )
    } else if l.keys_dropped {
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
    }
}

/// The anomaly's words, from the loss and what the group looks like now.
fn message(l: &Loss, g: &GroupTopology) -> String {
    let name = &l.key.node;
    let mut m = what_happened(l);
    if let Some(n) = l.unsaved_lost {
        m.push_str(&format!(
            ", without at least {} {} made since its last save",
            thousands(n),
            if n == 1 { "write" } else { "writes" }
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
            m.push_str("; no downloaded snapshot of this group is at hand to restore from");
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
mod tests;
