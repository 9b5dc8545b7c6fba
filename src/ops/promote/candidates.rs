//! Choosing the replica to promote when the primary is down: the candidates table with
//! Sentinel's eligibility rules (reachable, not loading or syncing, `replica-priority` not 0,
//! link not down for too long, a direct replica of the old primary on its history), ranked by
//! priority then offset, and what the offsets say about writes that may be lost.
//!
//! Pure: node views in, a table out. The plan builder (`promote.rs`) turns it into checks.

use std::time::{Duration, SystemTime};

use crate::info::InfoRole;
use crate::observe::NodeState;
use crate::topology::{GroupTopology, Link, Liveness, NodeView, Role};

/// `replica-priority` when a server does not report one (Redis's default).
const DEFAULT_PRIORITY: u64 = 100;

/// Why a replica is not eligible. `hard` reasons cannot be overridden, even by naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub text: String,
    pub hard: bool,
}

/// One row of the candidates table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    /// Index into the group topology's `nodes`.
    pub index: usize,
    pub priority: Option<u64>,
    pub offset: Option<u64>,
    pub replid: Option<String>,
    /// Link to the old primary, in words.
    pub link: String,
    /// Empty when eligible.
    pub reasons: Vec<Reason>,
    /// Worth knowing, not disqualifying.
    pub warnings: Vec<String>,
    /// 1 = best; `None` when ineligible.
    pub rank: Option<usize>,
}

impl Candidate {
    #[must_use]
    pub fn eligible(&self) -> bool {
        self.reasons.is_empty()
    }

    /// True when some reason cannot be overridden.
    #[must_use]
    pub fn hard_blocked(&self) -> bool {
        self.reasons.iter().any(|r| r.hard)
    }
}

/// What is known of the primary that stopped answering this console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldPrimary {
    pub name: String,
    pub index: usize,
    pub state: NodeState,
    /// Whether it is proven down: only then may a replica be promoted in its place.
    pub liveness: Liveness,
    /// From its last successful poll.
    pub last_offset: Option<u64>,
    pub last_replid: Option<String>,
    pub last_seen: Option<SystemTime>,
}

/// What the offsets prove about acknowledged writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loss {
    /// The candidate applied exactly what the old primary had written at its last observation.
    NoneProven { offset: u64 },
    /// The candidate misses at least `bytes` the old primary had written.
    AtLeast { bytes: u64 },
    /// The offsets cannot bound it.
    Unknown { why: String },
}

/// The table, ranked, with the old primary it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidates {
    pub old_primary: Option<OldPrimary>,
    /// Reachable primaries: a promotion next to one of them makes a split brain.
    pub live_primaries: Vec<String>,
    /// Eligible rows by rank, then the others by name.
    pub rows: Vec<Candidate>,
}

impl Candidates {
    /// True when the old primary is known and proven down (DESIGN invariant 9): it refuses
    /// connections or does not answer, and no replica's link to it is up.
    #[must_use]
    pub fn primary_down(&self) -> bool {
        self.old_primary
            .as_ref()
            .is_some_and(|p| p.liveness.is_proven_down())
    }

    /// The best eligible candidate.
    #[must_use]
    pub fn best(&self) -> Option<&Candidate> {
        self.rows.iter().find(|c| c.rank == Some(1))
    }

    /// A row by node name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Candidate> {
        self.rows.iter().find(|c| c.name == name)
    }

    /// What the offsets prove for `cand` (see [`Loss`]).
    #[must_use]
    pub fn loss(&self, cand: &Candidate) -> Loss {
        let Some(p) = &self.old_primary else {
            return Loss::Unknown {
                why: match self.live_primaries.as_slice() {
                    [p] => format!("{p} is up and still the primary: nothing is lost yet"),
                    _ => "no old primary is known for this group".to_string(),
                },
            };
        };
        let (Some(p_off), Some(p_id)) = (p.last_offset, p.last_replid.as_deref()) else {
            return Loss::Unknown {
                why: format!(
                    "{} was not seen up by this console: its last offset is unknown",
                    p.name
                ),
            };
        };
        let Some(c_off) = cand.offset else {
            return Loss::Unknown {
                why: format!("{}'s offset is unknown", cand.name),
            };
        };
        if cand.replid.as_deref() != Some(p_id) {
            return Loss::Unknown {
                why: format!(
                    "{} is on another replication history than {}'s last known one: offsets cannot be compared",
                    cand.name, p.name
                ),
            };
        }
        match c_off.cmp(&p_off) {
            std::cmp::Ordering::Equal => Loss::NoneProven { offset: c_off },
            std::cmp::Ordering::Less => Loss::AtLeast {
                bytes: p_off - c_off,
            },
            std::cmp::Ordering::Greater => Loss::Unknown {
                why: format!(
                    "{} received {} bytes after {}'s last poll (offset {p_off}): {} kept writing, and \
                     whether it acknowledged writes it never sent is unknown",
                    cand.name,
                    c_off - p_off,
                    p.name,
                    p.name
                ),
            },
        }
    }
}

/// Plain words for a [`Loss`].
#[must_use]
pub fn describe_loss(loss: &Loss, cand: &str, old: &str) -> String {
    match loss {
        Loss::NoneProven { offset } => format!(
            "no acknowledged write can be lost: {cand} has applied everything {old} had written at its last \
             poll (offset {offset}, same history)"
        ),
        Loss::AtLeast { bytes } => format!(
            "{bytes} bytes of writes {old} acknowledged are missing on {cand} (at least: {old} may have \
             written more after its last poll)"
        ),
        Loss::Unknown { why } => format!("writes may be lost, how many is unknown: {why}"),
    }
}

fn current(v: &NodeView) -> Option<&crate::info::Info> {
    if v.stale_info || !v.state.is_reachable() {
        return None;
    }
    v.info.as_deref()
}

/// Builds the ranked table for `group`. `max_extra_link_down` is how much longer than the old
/// primary has been down a replica's link may have been down (Sentinel: 10 x down-after).
#[must_use]
pub fn assess(group: &GroupTopology, now: SystemTime, max_extra_link_down: Duration) -> Candidates {
    let live_primaries: Vec<String> = group
        .nodes
        .iter()
        .filter(|v| !v.unmanaged && v.role == Role::Primary && current(v).is_some())
        .map(|v| v.name.clone())
        .collect();
    let old = old_primary(group);
    // The primary a candidate must be a direct replica of: the old one, else (a promote asked
    // while the primary is up, which the plan refuses) the one live primary.
    let live_primary = group
        .nodes
        .iter()
        .position(|v| !v.unmanaged && v.role == Role::Primary && current(v).is_some());
    let reference = match (&old, live_primaries.len()) {
        (Some(p), _) => Some(Reference {
            index: p.index,
            name: p.name.clone(),
            replid: p.last_replid.clone(),
        }),
        (None, 1) => live_primary.map(|i| Reference {
            index: i,
            name: group.nodes[i].name.clone(),
            replid: current(&group.nodes[i]).and_then(|x| x.replication.replid.clone()),
        }),
        (None, _) => None,
    };
    // Unknown when this console never saw the old primary up (counted as no outage).
    let down_for = old
        .as_ref()
        .and_then(|p| p.last_seen)
        .and_then(|t| now.duration_since(t).ok());

    let mut rows: Vec<Candidate> = group
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, v)| !v.unmanaged && reference.as_ref().is_none_or(|p| p.index != *i))
        .map(|(i, v)| {
            row(
                group,
                i,
                v,
                reference.as_ref(),
                down_for,
                max_extra_link_down,
            )
        })
        .collect();

    // Siblings that could not load the candidate's RDB after a full sync.
    let versions: Vec<(String, (u32, u32, u32))> = rows
        .iter()
        .filter_map(|c| {
            let v = group.nodes.get(c.index)?.info.as_deref()?;
            Some((c.name.clone(), v.server.version_triple()?))
        })
        .collect();
    for c in &mut rows {
        let Some(mine) = versions.iter().find(|(n, _)| n == &c.name).map(|x| x.1) else {
            continue;
        };
        if let Some((other, _)) = versions.iter().find(|(_, v)| *v > mine) {
            c.warnings.push(format!(
                "runs an older version than {other}: after a full sync {other} could not load its RDB"
            ));
        }
    }

    let mut eligible: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].eligible()).collect();
    eligible.sort_by(|&a, &b| {
        let (x, y) = (&rows[a], &rows[b]);
        x.priority
            .unwrap_or(DEFAULT_PRIORITY)
            .cmp(&y.priority.unwrap_or(DEFAULT_PRIORITY))
            .then(y.offset.unwrap_or(0).cmp(&x.offset.unwrap_or(0)))
            .then(x.name.cmp(&y.name))
    });
    for (rank, &i) in eligible.iter().enumerate() {
        rows[i].rank = Some(rank + 1);
    }
    rows.sort_by(|a, b| match (a.rank, b.rank) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.name.cmp(&b.name),
    });
    Candidates {
        old_primary: old,
        live_primaries,
        rows,
    }
}

/// The primary that stopped answering: the node this console cannot read that most replicas
/// still point to, else such a node whose last INFO said primary. Whether it is *down* is its
/// [`Liveness`], decided apart: an unreadable primary is often alive.
fn old_primary(group: &GroupTopology) -> Option<OldPrimary> {
    let unread = |v: &NodeView| !v.unmanaged && current(v).is_none();
    let mut votes: Vec<(usize, usize)> = Vec::new();
    for v in &group.nodes {
        if let Some(i) = v.upstream.as_ref().and_then(|u| u.index) {
            if group.nodes.get(i).is_some_and(unread) {
                match votes.iter_mut().find(|(j, _)| *j == i) {
                    Some(e) => e.1 += 1,
                    None => votes.push((i, 1)),
                }
            }
        }
    }
    votes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let index = votes.first().map(|v| v.0).or_else(|| {
        group.nodes.iter().position(|v| {
            unread(v)
                && v.info
                    .as_ref()
                    .is_some_and(|i| i.replication.role == Some(InfoRole::Primary))
        })
    })?;
    OldPrimary::of(group, index)
}

impl OldPrimary {
    /// Node `index` of `group` as an old primary: its liveness, and its offset and history
    /// from the last poll that saw it a primary (an earlier one when it is down now).
    #[must_use]
    pub fn of(group: &GroupTopology, index: usize) -> Option<Self> {
        let v = group.nodes.get(index)?;
        let last = v
            .info
            .as_ref()
            .filter(|i| i.replication.role == Some(InfoRole::Primary));
        Some(Self {
            name: v.name.clone(),
            index,
            state: v.state,
            liveness: group.liveness(index),
            last_offset: last.and_then(|i| i.replication.offset),
            last_replid: last.and_then(|i| i.replication.replid.clone()),
            last_seen: v.last_ok,
        })
    }
}

/// The primary the candidates are judged against (see [`assess`]).
struct Reference {
    index: usize,
    name: String,
    replid: Option<String>,
}

fn row(
    group: &GroupTopology,
    index: usize,
    v: &NodeView,
    old: Option<&Reference>,
    down_for: Option<Duration>,
    max_extra: Duration,
) -> Candidate {
    let mut reasons = Vec::new();
    let mut hard = |text: String| reasons.push(Reason { text, hard: true });
    let info = current(v);
    let mut c = Candidate {
        name: v.name.clone(),
        index,
        priority: info.and_then(|i| i.replication.priority),
        offset: info.and_then(|i| i.replication.offset),
        replid: info.and_then(|i| i.replication.replid.clone()),
        link: link_words(v.link),
        reasons: Vec::new(),
        warnings: Vec::new(),
        rank: None,
    };
    let Some(info) = info else {
        let why = v
            .error
            .as_ref()
            .map_or_else(|| v.state.as_str().to_string(), ToString::to_string);
        hard(format!("unreachable: {why}"));
        c.reasons = reasons;
        return c;
    };
    let r = &info.replication;
    if r.role != Some(InfoRole::Replica) {
        hard("it is a primary, not a replica".to_string());
    }
    if info.persistence.loading {
        hard("it is loading its dataset".to_string());
    }
    if r.sync_in_progress {
        hard("a full sync is in progress: its data is being replaced".to_string());
    }
    let mut soft = |text: String| reasons.push(Reason { text, hard: false });
    if r.priority == Some(0) {
        soft("replica-priority is 0: it is configured never to be promoted".to_string());
    }
    if let Some(p) = old {
        let follows = v.upstream.as_ref().and_then(|u| u.index) == Some(p.index);
        if r.role == Some(InfoRole::Replica) && !follows {
            soft(format!(
                "it replicates from {}, not from {} (chained or elsewhere)",
                v.upstream
                    .as_ref()
                    .map_or("nothing known", |u| group.upstream_name(u)),
                p.name
            ));
        }
        if let (Some(mine), Some(theirs)) = (r.replid.as_deref(), p.replid.as_deref()) {
            if mine != theirs {
                soft(format!(
                    "it is on another replication history (replid {}) than {} was ({})",
                    super::super::repoint::short(mine),
                    p.name,
                    super::super::repoint::short(theirs)
                ));
            }
        }
    }
    match v.link {
        Some(Link::Down { since: None }) => {
            soft("its link never came up: it may hold no data".to_string());
        }
        Some(Link::Down { since: Some(d) }) if d > down_for.unwrap_or_default() + max_extra => {
            soft(match down_for {
                Some(o) => format!(
                    "its link has been down for {}, more than the primary's {} outage plus {}: \
                     its data is too old",
                    crate::timefmt::span(d),
                    crate::timefmt::span(o),
                    crate::timefmt::span(max_extra)
                ),
                None => format!(
                    "its link has been down for {}, more than {}, and how long the primary has \
                     been down is not known (not seen by this console before): its data may be too old",
                    crate::timefmt::span(d),
                    crate::timefmt::span(max_extra)
                ),
            });
        }
        _ => {}
    }
    c.reasons = reasons;
    c
}

/// A candidate's link to its primary, as the table says it.
pub(super) fn link_words(link: Option<Link>) -> String {
    match link {
        Some(Link::Up) => "up".to_string(),
        Some(Link::Down { since: Some(d) }) => format!("down {}", crate::timefmt::span(d)),
        Some(Link::Down { since: None }) => "never up".to_string(),
        None => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::Info;
    use crate::observe::NodeError;
    use crate::topology::Upstream;
    use std::sync::Arc;

    const NOW: u64 = 1_800_000_000;

    fn at(secs_ago: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW - secs_ago)
    }

    fn primary_down(offset: u64) -> NodeView {
        let mut v = NodeView::new(None, "p1", "127.0.0.1:7000");
        let mut i = Info::default();
        i.replication.role = Some(InfoRole::Primary);
        i.replication.replid = Some("hist-a".into());
        i.replication.offset = Some(offset);
        v.info = Some(Arc::new(i));
        v.stale_info = true;
        v.state = NodeState::Down;
        v.last_ok = Some(at(5));
        v
    }

    fn replica(name: &str, offset: u64, priority: u64, link_down: u64) -> NodeView {
        let mut v = NodeView::new(None, name, "127.0.0.1:7001");
        let mut i = Info::default();
        i.replication.role = Some(InfoRole::Replica);
        i.replication.replid = Some("hist-a".into());
        i.replication.offset = Some(offset);
        i.replication.priority = Some(priority);
        i.server.version = Some("7.0.15".into());
        v.info = Some(Arc::new(i));
        v.state = NodeState::Up;
        v.role = Role::Replica;
        v.link = Some(Link::Down {
            since: Some(Duration::from_secs(link_down)),
        });
        v.upstream = Some(Upstream {
            addr: "127.0.0.1:7000".into(),
            index: Some(0),
        });
        v
    }

    fn group(nodes: Vec<NodeView>) -> GroupTopology {
        GroupTopology {
            nodes,
            ..GroupTopology::default()
        }
    }

    fn with_info(mut v: NodeView, f: impl FnOnce(&mut Info)) -> NodeView {
        let mut i = (*v.info.take().unwrap()).clone();
        f(&mut i);
        v.info = Some(Arc::new(i));
        v
    }

    #[test]
    fn ranks_by_priority_then_offset_with_reasons() {
        let g = group(vec![
            primary_down(1000),
            replica("r1", 990, 100, 5),
            replica("r2", 1000, 100, 5),
            replica("r3", 1000, 50, 5),
            replica("r4", 1000, 0, 5),
            replica("r5", 1000, 100, 600),
            with_info(replica("r6", 1000, 100, 5), |i| {
                i.replication.sync_in_progress = true;
            }),
            with_info(replica("r7", 1000, 100, 5), |i| {
                i.replication.replid = Some("hist-b".into());
            }),
        ]);
        let c = assess(&g, at(0), Duration::from_secs(60));
        assert_eq!(c.old_primary.as_ref().map(|p| p.name.as_str()), Some("p1"));
        let ranked: Vec<(&str, Option<usize>)> =
            c.rows.iter().map(|r| (r.name.as_str(), r.rank)).collect();
        assert_eq!(
            ranked,
            vec![
                ("r3", Some(1)),
                ("r2", Some(2)),
                ("r1", Some(3)),
                ("r4", None),
                ("r5", None),
                ("r6", None),
                ("r7", None),
            ]
        );
        let why = |n: &str| c.get(n).unwrap().reasons[0].text.clone();
        assert!(why("r4").contains("replica-priority is 0"));
        assert!(why("r5").contains("down for 10m"), "{}", why("r5"));
        assert!(why("r6").contains("full sync is in progress"));
        assert!(c.get("r6").unwrap().hard_blocked());
        assert!(why("r7").contains("another replication history"));
        assert!(!c.get("r7").unwrap().hard_blocked());
    }

    #[test]
    fn loss_statements() {
        let g = group(vec![
            primary_down(1000),
            replica("r1", 1000, 100, 5),
            replica("r2", 990, 100, 5),
            replica("r3", 1010, 100, 5),
        ]);
        let c = assess(&g, at(0), Duration::from_secs(60));
        assert_eq!(c.best().unwrap().name, "r3");
        assert_eq!(
            c.loss(c.get("r1").unwrap()),
            Loss::NoneProven { offset: 1000 }
        );
        assert_eq!(c.loss(c.get("r2").unwrap()), Loss::AtLeast { bytes: 10 });
        assert!(matches!(c.loss(c.get("r3").unwrap()), Loss::Unknown { .. }));
        let text = describe_loss(&c.loss(c.get("r1").unwrap()), "r1", "p1");
        assert!(
            text.starts_with("no acknowledged write can be lost"),
            "{text}"
        );
    }

    #[test]
    fn primary_never_seen_gives_unknown_loss() {
        let mut p = primary_down(0);
        p.info = None;
        p.last_ok = None;
        let g = group(vec![p, replica("r1", 1000, 100, 5)]);
        let c = assess(&g, at(0), Duration::from_secs(60));
        assert_eq!(c.old_primary.as_ref().map(|p| p.name.as_str()), Some("p1"));
        match c.loss(c.best().unwrap()) {
            Loss::Unknown { why } => assert!(why.contains("not seen up"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_live_primary_is_reported() {
        let mut p = primary_down(1000);
        p.stale_info = false;
        p.state = NodeState::Up;
        p.role = Role::Primary;
        let mut r = replica("r1", 1000, 100, 0);
        r.link = Some(Link::Up);
        let c = assess(&group(vec![p, r]), at(0), Duration::from_secs(60));
        assert_eq!(c.live_primaries, vec!["p1".to_string()]);
    }

    /// `p` while the primary is up: the chained replica (the highest offset here) is not
    /// eligible and never ranked first; the live primary is no candidate row; the loss says
    /// the primary is up; the chain is named by node, not address.
    #[test]
    fn with_the_primary_up_a_chained_replica_is_not_ranked_first() {
        let mut p = primary_down(1000);
        p.stale_info = false;
        p.state = NodeState::Up;
        p.role = Role::Primary;
        let mut r1 = replica("r1", 990, 100, 0);
        r1.link = Some(Link::Up);
        let mut r2 = replica("r2", 1000, 100, 0);
        r2.link = Some(Link::Up);
        r2.upstream = Some(Upstream {
            addr: "127.0.0.1:7001".into(),
            index: Some(1),
        });
        let c = assess(&group(vec![p, r1, r2]), at(0), Duration::from_secs(60));
        assert!(c.old_primary.is_none());
        let ranked: Vec<(&str, Option<usize>)> =
            c.rows.iter().map(|r| (r.name.as_str(), r.rank)).collect();
        assert_eq!(ranked, vec![("r1", Some(1)), ("r2", None)]);
        assert_eq!(c.best().map(|b| b.name.as_str()), Some("r1"));
        let why = &c.get("r2").unwrap().reasons[0].text;
        assert_eq!(
            why,
            "it replicates from r1, not from p1 (chained or elsewhere)"
        );
        match c.loss(c.get("r1").unwrap()) {
            Loss::Unknown { why } => assert!(why.starts_with("p1 is up and still the primary")),
            other => panic!("{other:?}"),
        }
        for r in &c.rows {
            assert!(
                r.rank.is_none() || r.eligible(),
                "{} ranked but not eligible",
                r.name
            );
        }
    }

    /// A primary that answers with an error is alive, whatever the error (invariant 9).
    #[test]
    fn a_primary_that_answers_with_an_error_is_not_down() {
        for (state, error) in [
            (
                NodeState::AuthError,
                NodeError::Auth("NOAUTH Authentication required.".into()),
            ),
            (NodeState::NoPerm, NodeError::NoPerm("info".into())),
            (NodeState::Busy, NodeError::Busy),
            (NodeState::Loading, NodeError::Loading),
            (NodeState::TlsError, NodeError::Tls("bad record".into())),
            (NodeState::Error, NodeError::Other("ERR max clients".into())),
        ] {
            let mut p = primary_down(1000);
            p.state = state;
            p.error = Some(error);
            let c = assess(
                &group(vec![p, replica("r1", 1000, 100, 5)]),
                at(0),
                Duration::from_secs(60),
            );
            let old = c.old_primary.as_ref().expect("the old primary is found");
            assert_eq!(old.name, "p1");
            assert!(!c.primary_down(), "{state:?}: {:?}", old.liveness);
            assert!(
                matches!(old.liveness, Liveness::Unreadable { .. }),
                "{state:?}: {:?}",
                old.liveness
            );
            assert!(old.liveness.fix().is_some(), "{state:?}");
            // The ranking is not what refuses: the plan does, from the liveness.
            assert_eq!(c.best().map(|b| b.name.as_str()), Some("r1"));
        }
    }

    #[test]
    fn a_silent_primary_is_down_only_when_no_replica_link_is_up() {
        for state in [NodeState::Down, NodeState::Unresponsive] {
            let mut p = primary_down(1000);
            p.state = state;
            let linked = {
                let mut r = replica("r2", 1000, 100, 0);
                r.link = Some(Link::Up);
                r
            };
            let c = assess(
                &group(vec![p.clone(), replica("r1", 1000, 100, 5), linked]),
                at(0),
                Duration::from_secs(60),
            );
            assert!(!c.primary_down(), "{state:?}");
            assert!(
                matches!(&c.old_primary.as_ref().unwrap().liveness, Liveness::LinkedFrom { by, .. } if by == "r2"),
                "{:?}",
                c.old_primary
            );
            let c = assess(
                &group(vec![p, replica("r1", 1000, 100, 5)]),
                at(0),
                Duration::from_secs(60),
            );
            assert!(c.primary_down(), "{state:?}: {:?}", c.old_primary);
        }
    }

    /// A primary this console never saw up has an outage of unknown length: the link rule
    /// says so instead of "the primary's 0 s outage".
    #[test]
    fn an_unknown_outage_is_not_called_0_s() {
        let mut p = primary_down(1000);
        p.last_ok = None;
        let c = assess(
            &group(vec![p, replica("r1", 1000, 100, 600)]),
            at(0),
            Duration::from_secs(60),
        );
        let why = &c.get("r1").unwrap().reasons[0].text;
        assert!(
            why.contains("how long the primary has been down is not known")
                && !why.contains("outage plus"),
            "{why}"
        );
    }

    #[test]
    fn unreachable_replica_is_hard_blocked() {
        let mut r = replica("r1", 1000, 100, 5);
        r.state = NodeState::Unresponsive;
        let c = assess(
            &group(vec![primary_down(1000), r]),
            at(0),
            Duration::from_secs(60),
        );
        assert!(c.best().is_none());
        assert!(c.get("r1").unwrap().hard_blocked());
    }
}
