//! The wipe guard (REDIS.md 3c, guards 1-6): everything that must be known before
//! `REPLICAOF SOURCE` runs on a node, as findings with plain reasons.
//!
//! Refused unless forced with a reason: an empty or smaller source over a node with data (full
//! sync), a node that is a primary with replicas, a loop, a source in another history or one
//! missing writes the node holds. Refused outright: a node or source that is down or loading, a
//! source that cannot serve a sync, a source running a newer version (full sync).
//!
//! Not refused, because nothing is lost: a node ahead of a sibling source when both follow one
//! primary with every link up (lag: the bytes are on their way to the source; the plan waits for
//! them), and the rejoin of an old primary whose rejoin mark fits what is seen (what it
//! discards is stated to the byte and its snapshot is downloaded first, `rejoin.rs`).
//! Pure: it reads node views, never the network; the plan builder (`repoint.rs`) turns
//! findings into checks.

use crate::info::{Info, InfoRole, Product};
use crate::observe::NodeState;
use crate::ops::promote::RejoinMark;
use crate::topology::{human_bytes, GroupTopology, Link, NodeView, Role};

use super::lineage::{compare, predict, short, Comparison, History, Lineage, Resync};
use super::rejoin::{self, MarkCheck};

/// How a finding weighs on the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Worth knowing; does not block.
    Warn,
    /// Blocks unless the operator forces it with a reason (recorded).
    RefuseUnlessForced,
    /// Blocks; no flag overrides it.
    Refuse,
}

/// One line of the guard's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub verdict: Verdict,
    pub message: String,
}

impl Finding {
    fn new(verdict: Verdict, message: impl Into<String>) -> Self {
        Self {
            verdict,
            message: message.into(),
        }
    }
}

/// What a node holds, as shown before its data may be replaced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holdings {
    pub name: String,
    pub role: Option<InfoRole>,
    pub keys: u64,
    pub used_memory: Option<u64>,
    /// `rdb_last_save_time` (Unix seconds).
    pub last_save: Option<i64>,
    /// Writes since that save (`rdb_changes_since_last_save`).
    pub changes_since_save: Option<u64>,
    pub replicas: u64,
    pub replid: Option<String>,
    pub offset: Option<u64>,
    pub version: Option<String>,
}

impl Holdings {
    /// From a node view's INFO (an empty record when it has none).
    #[must_use]
    pub fn of(view: &NodeView) -> Self {
        let Some(info) = view.info.as_deref() else {
            return Self {
                name: view.name.clone(),
                ..Self::default()
            };
        };
        Self {
            name: view.name.clone(),
            role: info.replication.role,
            keys: info.total_keys(),
            used_memory: info.memory.used_memory,
            last_save: info.persistence.last_save_time,
            changes_since_save: info.persistence.changes_since_last_save,
            replicas: info.replication.connected_replicas,
            replid: info.replication.replid.clone(),
            offset: info.replication.offset,
            version: info.server.version.clone(),
        }
    }

    /// `r1: primary, 3,000 keys, 1.2 MB, 0 replicas, replid 1a2b3c4d offset 5000, last save
    /// at 2023-11-14 22:13:20 UTC (12 writes since)`.
    #[must_use]
    pub fn describe(&self) -> String {
        let role = match self.role {
            Some(InfoRole::Primary) => "primary",
            Some(InfoRole::Replica) => "replica",
            None => "role unknown",
        };
        let mut s = format!("{}: {role}, {} keys", self.name, self.keys);
        if let Some(m) = self.used_memory {
            s.push_str(&format!(", {} used", human_bytes(m)));
        }
        if self.role == Some(InfoRole::Primary) {
            s.push_str(&format!(
                ", {}",
                crate::words::count(self.replicas, "replica")
            ));
        }
        if let (Some(id), Some(o)) = (&self.replid, self.offset) {
            s.push_str(&format!(", replid {} offset {o}", short(id)));
        }
        // The node's own clock, as a date and time: a person compares it with theirs.
        match (
            self.last_save.map(crate::timefmt::unix_clock),
            self.changes_since_save,
        ) {
            (Some(t), Some(c)) => s.push_str(&format!(", last save at {t} ({c} writes since)")),
            (Some(t), None) => s.push_str(&format!(", last save at {t}")),
            _ => {}
        }
        s
    }
}

/// Whether the node's data must be downloaded before `REPLICAOF`, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadNeed {
    pub needed: bool,
    pub why: String,
}

/// The node and the source follow one primary on one history, every link up, and the source
/// is not upstream of the node: whatever the node holds beyond the source is on that primary
/// and on its way to the source. Lag, not divergence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lag {
    /// The primary both follow.
    pub root: String,
    /// How far the source was read behind the node (0 when it was not behind).
    pub behind: u64,
}

/// The guard's full report for `REPLICAOF source` on `node`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WipeGuard {
    pub node: Holdings,
    pub source: Holdings,
    pub resync: Option<Resync>,
    pub comparison: Option<Comparison>,
    pub findings: Vec<Finding>,
    pub download: DownloadNeed,
    /// Set for siblings: the plan then waits until the source has the node's offset.
    pub lag: Option<Lag>,
    /// For a rejoin with a mark: what the mark proves, or why it does not fit.
    pub rejoin: Option<MarkCheck>,
}

impl WipeGuard {
    /// True when a finding refuses outright.
    #[must_use]
    pub fn refused(&self) -> bool {
        self.findings.iter().any(|f| f.verdict == Verdict::Refuse)
    }

    /// True when a finding refuses unless forced.
    #[must_use]
    pub fn needs_force(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.verdict == Verdict::RefuseUnlessForced)
    }
}

fn current(view: &NodeView) -> Option<&Info> {
    if view.stale_info || view.state != NodeState::Up {
        return None;
    }
    view.info.as_deref()
}

/// Assesses `REPLICAOF <source>` on `node`. `group` is used to find loops; `source_has_password`
/// says the config gives the source a password (the node then needs `masterauth`).
#[must_use]
pub fn assess(
    node: &NodeView,
    source: &NodeView,
    group: &GroupTopology,
    source_has_password: bool,
) -> WipeGuard {
    assess_rejoin(node, source, group, source_has_password, None)
}

/// As [`assess`], for the rejoin of an old primary: `mark` is its rejoin mark, if it has one.
/// A mark that fits what is seen turns "writes the source never saw" into a statement of what
/// the rejoin discards (the snapshot is downloaded first, as for any node with data); one that
/// does not fit is said so, and the plain guard applies.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn assess_rejoin(
    node: &NodeView,
    source: &NodeView,
    group: &GroupTopology,
    source_has_password: bool,
    mark: Option<&RejoinMark>,
) -> WipeGuard {
    let mut f = Vec::new();
    let (n, s) = (node.name.as_str(), source.name.as_str());
    let node_h = Holdings::of(node);
    let source_h = Holdings::of(source);
    let mut report = |v: Verdict, m: String| f.push(Finding::new(v, m));

    if node.name == source.name {
        report(Verdict::Refuse, format!("{n} cannot replicate from itself"));
    } else if node.same_server(source) {
        report(
            Verdict::Refuse,
            format!(
                "{n} and {s} are the same server (same run_id): it cannot replicate from itself; \
                 remove one of the two entries from the config"
            ),
        );
    }
    let node_info = reachable(node, "node", &mut report);
    let source_info = reachable(source, "source", &mut report);
    let (Some(ni), Some(si)) = (node_info, source_info) else {
        return WipeGuard {
            download: DownloadNeed {
                needed: false,
                why: "not assessed: a node is not reachable".to_string(),
            },
            node: node_h,
            source: source_h,
            resync: None,
            comparison: None,
            findings: f,
            lag: None,
            rejoin: None,
        };
    };
    let sr = &si.replication;
    let mark_check = mark.map(|m| rejoin::check(m, node, source));
    let proven = match &mark_check {
        Some(MarkCheck::Matches(d)) => Some(d),
        Some(MarkCheck::Mismatch(why)) => {
            report(
                Verdict::Warn,
                format!(
                    "{n}'s rejoin mark does not fit what is seen ({why}): it proves nothing, the plain \
                     guard applies"
                ),
            );
            None
        }
        None => None,
    };

    // Guard 1: the source can serve a sync, and its RDB can be loaded by the node.
    if sr.role == Some(InfoRole::Replica) {
        if sr.link_up != Some(true) || sr.sync_in_progress {
            report(
                Verdict::Refuse,
                format!(
                    "{s} is a replica whose own link is down or still syncing: it cannot serve a sync \
                     (NOMASTERLINK)"
                ),
            );
        } else {
            report(
                Verdict::Warn,
                format!("{s} is itself a replica: {n} will be a chained replica"),
            );
        }
    }

    // Loop: the source follows the node, directly or through others.
    if let Some(path) = follows_path(group, source, node) {
        report(
            Verdict::RefuseUnlessForced,
            format!("replication loop: {s} already replicates from {n} ({path})"),
        );
    }

    // A primary with replicas: they lose their upstream's history and resync in cascade.
    let nr = &ni.replication;
    if nr.role == Some(InfoRole::Primary) && nr.connected_replicas > 0 {
        report(
            Verdict::RefuseUnlessForced,
            format!(
                "{n} is a primary with {}: they follow it into the change, with full resyncs \
                 if its history changes",
                crate::words::count(nr.connected_replicas, "replica")
            ),
        );
    }

    // History and resync prediction (guard 2) and direction sanity (guard 3).
    let (nh, mut sh) = (History::from_info(nr), History::from_info(sr));
    let mut lag = None;
    if let (Some(nh), Some(sh)) = (&nh, &mut sh) {
        let ahead = nh.offset.saturating_sub(sh.offset);
        let same = nh.replid == sh.replid;
        if let Some(path) = live_path(group, node, source).filter(|_| same && ahead > 0) {
            // The node holds only what the source sent it, through up links on one history.
            // Read ahead of the source, the two were read at different instants while writes
            // flowed: the source is at least where the node is (its backlog runs on with its
            // offset).
            assume_source_has(sh, nh.offset);
            report(
                Verdict::Pass,
                format!(
                    "{n} already follows {s} ({path}) and was read {ahead} bytes ahead of it: read \
                     while writes flowed, {s} holds at least what {n} holds"
                ),
            );
        } else if let Some((root, paths)) = siblings(group, node, source).filter(|_| same) {
            // Every byte the node holds came from `root` on this history, and the source follows
            // `root` with its links up: the bytes it lacks are on their way to it. That is lag
            // (or two reads at different instants), not divergence. Planning the REPLICAOF as
            // is would be wrong the other way: a node that asks a source for an offset it does
            // not have yet gets a full sync (its data and dump.rdb replaced for nothing). So
            // the plan waits, bounded, until the source has reached the node's offset, then
            // sends REPLICAOF: the partial resync predicted here is then what happens.
            assume_source_has(sh, nh.offset);
            lag = Some(Lag {
                root: root.clone(),
                behind: ahead,
            });
            report(
                Verdict::Pass,
                if ahead > 0 {
                    format!(
                        "{s} is {ahead} bytes behind {n}; it will have them: both follow {root} with every \
                         link up on one history ({paths}), so that is lag, not divergence. the repoint \
                         first waits until {s} has reached {n}'s offset"
                    )
                } else {
                    format!(
                        "{n} and {s} both follow {root} with every link up on one history ({paths}): the \
                         repoint first waits until {s} has reached {n}'s offset"
                    )
                },
            );
        }
    }
    let (resync, comparison) = if let (Some(nh), Some(sh)) = (&nh, &sh) {
        (Some(predict(nh, nr.role, sh)), Some(compare(nh, sh)))
    } else {
        report(
            Verdict::Warn,
            "replication ids or offsets are missing: the resync cannot be predicted, a full sync is \
             assumed"
                .to_string(),
        );
        (None, None)
    };
    let full = !resync.as_ref().is_some_and(Resync::is_partial);
    versions(ni, si, n, s, full, &mut report);
    match &resync {
        Some(Resync::Partial { bytes, .. }) => report(
            Verdict::Pass,
            format!("partial resync predicted: {n} keeps its data and receives {bytes} bytes from {s}"),
        ),
        Some(Resync::Full { why }) => report(
            Verdict::Warn,
            format!(
                "full sync predicted ({why}): {n}'s {} keys and its dump.rdb will be replaced by {s}'s {} keys",
                node_h.keys, source_h.keys
            ),
        ),
        None => {}
    }
    if full && node_h.keys > 0 {
        if source_h.keys == 0 {
            report(
                Verdict::RefuseUnlessForced,
                format!(
                    "{s} is empty and {n} holds {} keys: a full sync would wipe them",
                    node_h.keys
                ),
            );
        } else if source_h.keys < node_h.keys {
            report(
                // Under a fitting rejoin mark the discarded writes are stated to the byte below:
                // the key counts only illustrate them.
                if proven.is_some() {
                    Verdict::Warn
                } else {
                    Verdict::RefuseUnlessForced
                },
                format!(
                    "{s} holds fewer keys ({}) than {n} ({}): a full sync would drop {} keys",
                    source_h.keys,
                    node_h.keys,
                    node_h.keys - source_h.keys
                ),
            );
        }
    }
    if let Some(d) = proven {
        let what = d.describe(n, s);
        let run = mark.map_or("?", |m| m.run_id.as_str());
        let head = format!("{n} is the old primary {s} was promoted in place of (run {run})");
        // A statement, not a refusal: the snapshot taken before REPLICAOF keeps those writes.
        report(
            if d.bytes == 0 {
                Verdict::Pass
            } else {
                Verdict::Warn
            },
            if d.bytes == 0 {
                format!("{head}; the rejoin discards {what}")
            } else {
                format!(
                    "{head}; the rejoin discards {what}. they stay in {n}'s snapshot, downloaded \
                     before REPLICAOF"
                )
            },
        );
    } else if let Some(c) = &comparison {
        match (c.lineage, c.node_only) {
            (Lineage::Unrelated, _) if node_h.keys > 0 => report(
                Verdict::RefuseUnlessForced,
                format!(
                    "{s} is in another replication history than {n} (replid {} vs {}): {n}'s data is not \
                     part of {s}'s",
                    short(sr.replid.as_deref().unwrap_or("?")),
                    short(nr.replid.as_deref().unwrap_or("?"))
                ),
            ),
            (Lineage::Unrelated, _) => report(
                Verdict::Pass,
                format!("{n} holds no keys: another history is harmless"),
            ),
            (lineage, Some(d)) if d > 0 => report(
                Verdict::RefuseUnlessForced,
                format!(
                    "{n} holds {d} bytes of writes {s} never saw ({}; common up to offset {}): a full \
                     sync discards them",
                    lineage.describe(),
                    c.common.unwrap_or(0)
                ),
            ),
            (lineage, _) => report(
                Verdict::Pass,
                format!("{s} holds everything {n} holds ({})", lineage.describe()),
            ),
        }
    }

    // Guard 5: persistence of the change. Guard 6: authentication on the link.
    match ni.server.config_file.as_deref() {
        Some(file) if !file.is_empty() => report(
            Verdict::Pass,
            format!("{n} has a config file: CONFIG REWRITE persists the change"),
        ),
        _ => report(
            Verdict::Warn,
            format!(
                "{n} runs without a config file: a restart brings back its old role (change its startup \
                 arguments too)"
            ),
        ),
    }
    if source_has_password {
        report(
            Verdict::Warn,
            format!(
                "{s} requires a password: {n} needs masteruser/masterauth set, or its link stays down \
                 (the wait below would time out)"
            ),
        );
    }

    let download = download_need(&node_h, ni, resync.as_ref());
    WipeGuard {
        node: node_h,
        source: source_h,
        resync,
        comparison,
        findings: f,
        download,
        lag,
        rejoin: mark_check,
    }
}

/// Treats the source as holding the stream up to `offset` (its backlog runs on with it).
fn assume_source_has(sh: &mut History, offset: u64) {
    let ahead = offset.saturating_sub(sh.offset);
    sh.offset = sh.offset.saturating_add(ahead);
    sh.backlog_histlen = sh.backlog_histlen.saturating_add(ahead);
}

/// Reachable and not loading, else an outright refusal.
fn reachable<'a>(
    view: &'a NodeView,
    what: &str,
    report: &mut impl FnMut(Verdict, String),
) -> Option<&'a Info> {
    let Some(info) = current(view) else {
        let why = view
            .error
            .as_ref()
            .map_or_else(|| view.state.as_str().to_string(), ToString::to_string);
        // An error answer means alive, not down: the fix is on this console's side.
        let fix = view
            .error
            .as_ref()
            .and_then(crate::observe::NodeError::fix)
            .map_or_else(String::new, |f| format!(". hint: {f}"));
        report(
            Verdict::Refuse,
            format!("the {what} {} is not reachable: {why}{fix}", view.name),
        );
        return None;
    };
    if info.persistence.loading {
        report(
            Verdict::Refuse,
            format!("the {what} {} is loading its dataset", view.name),
        );
        return None;
    }
    Some(info)
}

fn versions(
    ni: &Info,
    si: &Info,
    n: &str,
    s: &str,
    full: bool,
    report: &mut impl FnMut(Verdict, String),
) {
    let word = |i: &Info| {
        format!(
            "{} {}",
            match i.server.product {
                Product::Redis => "Redis",
                Product::Valkey => "Valkey",
            },
            i.server.version.as_deref().unwrap_or("?")
        )
    };
    if ni.server.product != si.server.product {
        report(
            Verdict::Warn,
            format!(
                "{n} runs {} and {s} runs {}: check that {n} can load {s}'s RDB",
                word(ni),
                word(si)
            ),
        );
        return;
    }
    match (ni.server.version_triple(), si.server.version_triple()) {
        // A newer replica loads an older RDB fine (the rolling-upgrade order); only the
        // reverse fails, after the flush.
        (Some(nv), Some(sv)) if sv < nv => report(
            Verdict::Warn,
            format!(
                "{s} runs {} and {n} runs {}: {n} can load the older RDB, but promoting {n} \
                 later would put {s} under a newer server",
                word(si),
                word(ni)
            ),
        ),
        (Some(nv), Some(sv)) if full && (sv.0, sv.1) > (nv.0, nv.1) => report(
            Verdict::RefuseUnlessForced,
            format!(
                "{s} runs {} and {n} runs {}: in a full sync {n} flushes its data, then may fail to load \
                 the newer RDB (\"Can't handle RDB format version\")",
                word(si),
                word(ni)
            ),
        ),
        (Some(_), Some(_)) => report(
            Verdict::Pass,
            format!("{s} runs {} ({n}: {})", word(si), word(ni)),
        ),
        _ => report(Verdict::Warn, "a server version is unknown".to_string()),
    }
}

/// `Some("a -> b -> node")` when `source` reaches `node` by following upstream links.
fn follows_path(group: &GroupTopology, source: &NodeView, node: &NodeView) -> Option<String> {
    upstream_path(group, source, node, false)
}

/// `Some("node -> a -> source")` when `node` reaches `source` by following upstream links that
/// are all up: every byte the node holds came from the source.
fn live_path(group: &GroupTopology, node: &NodeView, source: &NodeView) -> Option<String> {
    upstream_path(group, node, source, true)
}

/// `Some((root, "n -> a -> root; s -> root"))` when the node and the source both reach the
/// same primary through links that are all up, on that primary's history, and neither is
/// upstream of the other (upstream is [`live_path`]; the other way is a loop).
fn siblings(group: &GroupTopology, node: &NodeView, source: &NodeView) -> Option<(String, String)> {
    let (cn, cs) = (live_chain(group, node)?, live_chain(group, source)?);
    let (rn, rs) = (cn.last()?, cs.last()?);
    let on_chain = |c: &[&NodeView], v: &NodeView| c.iter().any(|x| x.name == v.name);
    if rn.name != rs.name || on_chain(&cn, source) || on_chain(&cs, node) {
        return None;
    }
    let root = *rn;
    let replid = |v: &NodeView| {
        v.info
            .as_deref()
            .and_then(|i| i.replication.replid.clone())
            .or_else(|| v.replid.clone())
    };
    let id = replid(root);
    if id.is_none() || id != replid(node) || id != replid(source) {
        return None;
    }
    let names = |c: &[&NodeView]| {
        c.iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>()
            .join(" -> ")
    };
    Some((root.name.clone(), format!("{}; {}", names(&cn), names(&cs))))
}

/// `from` and the nodes above it up to a reachable primary, when every link on the way is up.
fn live_chain<'a>(group: &'a GroupTopology, from: &'a NodeView) -> Option<Vec<&'a NodeView>> {
    let mut chain = vec![from];
    let mut cur = from;
    for _ in 0..=group.nodes.len() {
        if cur.role == Role::Primary {
            return (cur.state.is_reachable() && !cur.stale_info).then_some(chain);
        }
        if cur.link != Some(Link::Up) {
            return None;
        }
        let up = cur.upstream.as_ref()?;
        cur = match up.index {
            Some(i) => group.nodes.get(i)?,
            None => group.nodes.iter().find(|v| v.addr == up.addr)?,
        };
        chain.push(cur);
    }
    None
}

/// The names from `from` up to `to` by upstream links (bounded by the group's size: a loop
/// ends it), `None` when `to` is not reached or, with `live`, a link on the way is not up.
/// Servers are compared by identity, not by entry: a second entry of one server (another
/// spelling of its address) walks from the first entry's links and matches it.
fn upstream_path(
    group: &GroupTopology,
    from: &NodeView,
    to: &NodeView,
    live: bool,
) -> Option<String> {
    let mut path = vec![from.name.clone()];
    let mut cur = from
        .same_server_as
        .as_deref()
        .and_then(|first| group.nodes.iter().find(|v| v.name == first))
        .unwrap_or(from);
    for _ in 0..=group.nodes.len() {
        if live && cur.link != Some(Link::Up) {
            return None;
        }
        let up = cur.upstream.as_ref()?;
        let next = match up.index {
            Some(i) => group.nodes.get(i)?,
            None => group.nodes.iter().find(|v| v.addr == up.addr)?,
        };
        path.push(next.name.clone());
        if next.same_server(to) {
            return Some(path.join(" -> "));
        }
        cur = next;
    }
    None
}

/// Download before `REPLICAOF` when the node holds data, unless it is a replica predicted to
/// continue by partial resync (its data stays; a replica's offset cannot run away by itself).
fn download_need(node: &Holdings, info: &Info, resync: Option<&Resync>) -> DownloadNeed {
    let n = &node.name;
    if node.keys == 0 {
        return DownloadNeed {
            needed: false,
            why: format!("{n} holds no keys: nothing to save"),
        };
    }
    let partial = resync.is_some_and(Resync::is_partial);
    if partial && info.replication.role == Some(InfoRole::Replica) {
        return DownloadNeed {
            needed: false,
            why: format!(
                "{n} is a replica and a partial resync is predicted: its {} keys stay (no download)",
                node.keys
            ),
        };
    }
    DownloadNeed {
        needed: true,
        why: if partial {
            format!(
                "{n} is a primary: it may take writes until the change, which would turn the predicted partial \
                 resync into a full one; its {} keys are downloaded first",
                node.keys
            )
        } else {
            format!(
                "a full sync replaces {n}'s {} keys and its dump.rdb: they are downloaded first",
                node.keys
            )
        },
    }
}

#[cfg(test)]
mod tests;
