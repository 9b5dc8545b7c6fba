//! Replication histories compared: which history two nodes share, how many bytes one holds that
//! the other never saw (the divergence test, REDIS.md 2.3), and whether `REPLICAOF` would
//! continue by partial resync or start a full one (the `PSYNC` acceptance rule, REDIS.md 3b).
//!
//! Pure functions over the `# Replication` fields of two INFO replies. No I/O, no policy: the
//! wipe guard (`guard.rs`) decides what to refuse.

use crate::info::{InfoRole, Replication};

/// `master_replid2` when a node has no secondary history.
const NO_REPLID: &str = "0000000000000000000000000000000000000000";

/// The replication facts of one node that the rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub replid: String,
    /// The previous history, valid up to `second_offset - 1`.
    pub replid2: Option<String>,
    pub second_offset: Option<u64>,
    /// `master_repl_offset`: on a replica, the bytes of the stream it has applied.
    pub offset: u64,
    pub backlog_active: bool,
    pub backlog_first: u64,
    pub backlog_histlen: u64,
}

impl History {
    /// From INFO; `None` when the replid or the offset is missing.
    #[must_use]
    pub fn from_info(r: &Replication) -> Option<Self> {
        let replid = r
            .replid
            .clone()
            .filter(|id| !id.is_empty() && id != NO_REPLID)?;
        Some(Self {
            replid,
            replid2: r
                .replid2
                .clone()
                .filter(|id| !id.is_empty() && id != NO_REPLID),
            second_offset: r.second_offset.and_then(|o| u64::try_from(o).ok()),
            offset: r.offset?,
            backlog_active: r.backlog_active.unwrap_or(false),
            backlog_first: r.backlog_first_byte_offset.unwrap_or(0),
            backlog_histlen: r.backlog_histlen.unwrap_or(0),
        })
    }

    /// The last offset of the previous history (`second_offset - 1`), when there is one.
    fn fork_point(&self) -> Option<u64> {
        self.replid2.as_ref()?;
        self.second_offset.map(|s| s.saturating_sub(1))
    }
}

/// How the histories of a node and a source relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lineage {
    /// Same `master_replid`.
    Same,
    /// The source was promoted out of the node's history (source replid2 = node replid).
    SourceBranchedFromNode,
    /// The node was promoted (or restarted as a primary) out of the source's history.
    NodeBranchedFromSource,
    /// Both left the same earlier history (both replid2 equal): two promotions, or a restarted
    /// old primary next to the replica promoted in its place.
    CommonAncestor,
    /// Nothing in common: another group, or a node that was wiped.
    Unrelated,
}

impl Lineage {
    /// Plain words for a pre-check line.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Same => "the same replication history",
            Self::SourceBranchedFromNode => "the source was promoted out of the node's history",
            Self::NodeBranchedFromSource => {
                "the node left the source's history (promoted or restarted)"
            }
            Self::CommonAncestor => {
                "both left one earlier history (two primaries since a failover)"
            }
            Self::Unrelated => "unrelated histories (another group, or a wiped node)",
        }
    }
}

/// The two histories compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparison {
    pub lineage: Lineage,
    /// The last offset up to which both hold the same stream (`None` when unrelated).
    pub common: Option<u64>,
    /// Bytes the node holds beyond the common point: writes the source never saw, discarded
    /// by a full sync (`None` when unrelated: the whole dataset is different).
    pub node_only: Option<u64>,
    /// Bytes the source holds beyond the common point.
    pub source_only: Option<u64>,
}

impl Comparison {
    /// True when the node holds nothing the source lacks.
    #[must_use]
    pub fn node_is_contained(&self) -> bool {
        self.node_only == Some(0)
    }
}

/// Compares histories: the divergence test of REDIS.md 2.3, generalised to both directions.
#[must_use]
pub fn compare(node: &History, source: &History) -> Comparison {
    let (lineage, common) = if node.replid == source.replid {
        (Lineage::Same, Some(node.offset.min(source.offset)))
    } else if source.replid2.as_deref() == Some(node.replid.as_str()) {
        (
            Lineage::SourceBranchedFromNode,
            source.fork_point().map(|f| f.min(node.offset)),
        )
    } else if node.replid2.as_deref() == Some(source.replid.as_str()) {
        (
            Lineage::NodeBranchedFromSource,
            node.fork_point().map(|f| f.min(source.offset)),
        )
    } else if node.replid2.is_some() && node.replid2 == source.replid2 {
        let common = match (node.fork_point(), source.fork_point()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            _ => None,
        };
        (Lineage::CommonAncestor, common)
    } else {
        (Lineage::Unrelated, None)
    };
    let lineage = if common.is_none() {
        Lineage::Unrelated
    } else {
        lineage
    };
    Comparison {
        lineage,
        common,
        node_only: common.map(|c| node.offset.saturating_sub(c)),
        source_only: common.map(|c| source.offset.saturating_sub(c)),
    }
}

/// What `REPLICAOF source` on the node is expected to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resync {
    /// `+CONTINUE`: the node keeps its data and receives `bytes` from the source's backlog.
    Partial { request_offset: u64, bytes: u64 },
    /// `+FULLRESYNC`: the node's dataset and its `dump.rdb` are replaced.
    Full { why: String },
}

impl Resync {
    #[must_use]
    pub fn is_partial(&self) -> bool {
        matches!(self, Self::Partial { .. })
    }
}

/// Predicts the source's answer to the node's `PSYNC` (7.0 `masterTryPartialResynchronization`):
/// the node asks `PSYNC <its replid> <its offset + 1>` (a primary synthesises that from itself);
/// the source continues iff the id is its replid, or its replid2 with the offset at most
/// `second_repl_offset`, and the offset lies inside its backlog.
#[must_use]
pub fn predict(node: &History, node_role: Option<InfoRole>, source: &History) -> Resync {
    let o = node.offset.saturating_add(1);
    let id = node.replid.as_str();
    let id_ok = id == source.replid
        || (source.replid2.as_deref() == Some(id) && source.second_offset.is_some_and(|s| o <= s));
    if !id_ok {
        let why = if source.replid2.as_deref() == Some(id) {
            format!(
                "the node asks for offset {o} of its history, but the source shares it only up to {}",
                source.second_offset.map_or(0, |s| s.saturating_sub(1))
            )
        } else {
            let role = match node_role {
                Some(InfoRole::Primary) => "the node is a primary whose",
                _ => "the node's",
            };
            format!(
                "{role} replication id {} is unknown to the source",
                short(id)
            )
        };
        return Resync::Full { why };
    }
    if !source.backlog_active {
        return Resync::Full {
            why: "the source has no replication backlog".to_string(),
        };
    }
    let end = source.backlog_first.saturating_add(source.backlog_histlen);
    if o < source.backlog_first || o > end {
        return Resync::Full {
            why: format!(
                "offset {o} is outside the source's backlog ({}..{end})",
                source.backlog_first
            ),
        };
    }
    Resync::Partial {
        request_offset: o,
        bytes: end - o,
    }
}

/// The first 8 characters of a replication id, for messages.
#[must_use]
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(replid: &str, offset: u64) -> History {
        History {
            replid: replid.to_string(),
            replid2: None,
            second_offset: None,
            offset,
            backlog_active: true,
            backlog_first: 1,
            backlog_histlen: offset,
        }
    }

    fn branched(replid: &str, from: &str, fork: u64, offset: u64) -> History {
        History {
            replid2: Some(from.to_string()),
            second_offset: Some(fork + 1),
            ..h(replid, offset)
        }
    }

    /// REDIS.md 2.3: 17002 promoted at 73200330 while 17001 stayed primary, nothing written
    /// since: 17001 can rejoin losslessly, by partial resync.
    #[test]
    fn old_primary_without_writes_after_the_fork_is_contained() {
        let old = h("ccbced", 73_200_330);
        let new = branched("6c3f57", "ccbced", 73_200_330, 73_200_330);
        let c = compare(&old, &new);
        assert_eq!(c.lineage, Lineage::SourceBranchedFromNode);
        assert!(c.node_is_contained());
        assert!(predict(&old, Some(InfoRole::Primary), &new).is_partial());
    }

    /// REDIS.md 3c: 17002 (old primary) wrote after the split, 17003 was promoted at 73200372:
    /// 87 divergent bytes, and a full sync.
    #[test]
    fn divergent_writes_are_counted_and_force_a_full_sync() {
        let old = h("6c3f57", 73_200_459);
        let new = branched("c7c2fb", "6c3f57", 73_200_372, 73_200_372);
        let c = compare(&old, &new);
        assert_eq!(c.node_only, Some(87));
        assert_eq!(c.source_only, Some(0));
        match predict(&old, Some(InfoRole::Primary), &new) {
            Resync::Full { why } => assert!(why.contains("up to 73200372"), "{why}"),
            other @ Resync::Partial { .. } => panic!("{other:?}"),
        }
    }

    /// Observed: a restarted old primary (new replid, replid2 = the old history, fork at 50)
    /// next to the replica promoted at 50; the zombie then took one write (51 bytes).
    #[test]
    fn zombie_primary_next_to_the_promoted_replica() {
        let zombie = branched("0388af", "855d64", 50, 101);
        let promoted = branched("74dfe9", "855d64", 50, 100);
        let c = compare(&zombie, &promoted);
        assert_eq!(c.lineage, Lineage::CommonAncestor);
        assert_eq!(c.common, Some(50));
        assert_eq!(c.node_only, Some(51));
        assert_eq!(c.source_only, Some(50));
        assert!(!predict(&zombie, Some(InfoRole::Primary), &promoted).is_partial());
    }

    #[test]
    fn empty_unrelated_source() {
        let node = h("aaaa", 500);
        let fresh = History {
            backlog_active: false,
            backlog_histlen: 0,
            ..h("bbbb", 0)
        };
        let c = compare(&node, &fresh);
        assert_eq!(c.lineage, Lineage::Unrelated);
        assert_eq!(c.node_only, None);
        match predict(&node, Some(InfoRole::Primary), &fresh) {
            Resync::Full { why } => assert!(why.contains("unknown to the source"), "{why}"),
            other @ Resync::Partial { .. } => panic!("{other:?}"),
        }
    }

    #[test]
    fn sibling_replica_ahead_of_the_source_needs_a_full_sync() {
        // Same history, the node is 10 bytes ahead of the sibling it is pointed at.
        let node = h("aaaa", 110);
        let sibling = h("aaaa", 100);
        let c = compare(&node, &sibling);
        assert_eq!(c.node_only, Some(10));
        assert!(!predict(&node, Some(InfoRole::Replica), &sibling).is_partial());
        // Behind: partial, receiving the missing bytes.
        let behind = h("aaaa", 90);
        assert_eq!(
            predict(&behind, Some(InfoRole::Replica), &sibling),
            Resync::Partial {
                request_offset: 91,
                bytes: 10
            }
        );
    }

    #[test]
    fn offset_fallen_out_of_the_backlog() {
        let node = h("aaaa", 10);
        let source = History {
            backlog_first: 1000,
            backlog_histlen: 1_048_576,
            ..h("aaaa", 1_049_575)
        };
        match predict(&node, Some(InfoRole::Replica), &source) {
            Resync::Full { why } => assert!(why.contains("outside the source's backlog"), "{why}"),
            other @ Resync::Partial { .. } => panic!("{other:?}"),
        }
    }

    #[test]
    fn node_promoted_out_of_the_source_history() {
        // The node was promoted at 100 and took 40 bytes of writes; the source kept going too.
        let node = branched("nnnn", "ssss", 100, 140);
        let source = h("ssss", 130);
        let c = compare(&node, &source);
        assert_eq!(c.lineage, Lineage::NodeBranchedFromSource);
        assert_eq!(
            (c.common, c.node_only, c.source_only),
            (Some(100), Some(40), Some(30))
        );
    }

    #[test]
    fn zero_replid2_is_no_history() {
        let r = Replication {
            replid: Some("abc".into()),
            replid2: Some(NO_REPLID.into()),
            offset: Some(5),
            second_offset: Some(-1),
            ..Replication::default()
        };
        let h = History::from_info(&r).unwrap();
        assert_eq!(h.replid2, None);
        assert_eq!(h.second_offset, None);
        assert!(History::from_info(&Replication::default()).is_none());
    }
}
