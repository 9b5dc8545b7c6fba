//! What a rejoin mark proves about the node being rejoined, checked against what is seen now.
//!
//! A promotion marks the old primary (`promote/marks.rs`). When that node is rejoined to the
//! replica promoted in its place, the promotion point is on the new primary itself:
//! `master_replid2` is the history it left and `second_repl_offset - 1` the last offset of it
//! that it had applied (REDIS.md 3b). The old primary's data lies on that history (as its
//! `master_replid`, or as its `master_replid2` once it restarted from a dump), so what the
//! rejoin discards is exactly the part of its stream past that offset: the writes it took
//! after the last offset its replica saw. With the snapshot downloaded first, that is the happy
//! path, not an override.
//!
//! A mark that does not fit (another node or address, a source that is not the promoted one,
//! a source that lost the fork, a node restarted from a dataset of another history) proves
//! nothing: the plain wipe guard applies. Pure: node views in, a verdict out.

use crate::config::Addr;
use crate::ops::promote::RejoinMark;
use crate::topology::NodeView;

use super::lineage::{short, History};

/// A mark that fits: the node is the old primary the promotion replaced, and what a rejoin
/// discards is known to the byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discard {
    /// The history the promoted replica left.
    pub fork_replid: String,
    /// The last offset of that history the promoted replica had (the promotion point).
    pub fork_offset: u64,
    /// How far the node's data reaches on that history: its offset, or the offset of the dump
    /// it restarted from.
    pub node_upto: u64,
    /// True when the node restarted since (its data is a dump of that history).
    pub restarted: bool,
    /// Bytes it took after its restart, on the fresh history a restart starts.
    pub after_restart: u64,
    /// Everything it holds that the source never received: what the rejoin discards.
    pub bytes: u64,
}

impl Discard {
    /// "none (proven ...)" or "N bytes: ...", for a pre-check line and the outcome.
    #[must_use]
    pub fn describe(&self, node: &str, source: &str) -> String {
        let (id, fork) = (short(&self.fork_replid), self.fork_offset);
        let held = if self.restarted {
            format!(
                "{node} restarted from a dump of history {id} at offset {}",
                self.node_upto
            )
        } else {
            format!("{node} holds history {id} up to offset {}", self.node_upto)
        };
        if self.bytes == 0 {
            return format!(
                "none: {held}, and {source} was promoted at offset {fork} of it: everything {node} \
                 holds is on {source} (proven by the offsets)"
            );
        }
        let past = self.node_upto.saturating_sub(fork);
        let mut parts = Vec::new();
        if past > 0 {
            parts.push(format!(
                "{past} bytes of writes {node} took after offset {fork}, the last one {source} \
                 received from it before its promotion"
            ));
        }
        if self.after_restart > 0 {
            parts.push(format!(
                "{} bytes written on {node} since its restart",
                self.after_restart
            ));
        }
        format!("{} bytes ({held}): {}", self.bytes, parts.join(", and "))
    }
}

/// What the mark proves, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkCheck {
    Matches(Discard),
    /// The mark does not fit what is seen (why): the plain guard applies.
    Mismatch(String),
}

/// Checks `mark` (for `node`) against `node` and the rejoin `source` as seen now.
#[must_use]
pub fn check(mark: &RejoinMark, node: &NodeView, source: &NodeView) -> MarkCheck {
    let (n, s) = (node.name.as_str(), source.name.as_str());
    let no = |why: String| MarkCheck::Mismatch(why);
    if mark.node != n {
        return no(format!("the mark is for {}, not {n}", mark.node));
    }
    if !mark.addr.is_empty() && !same_addr(&mark.addr, &node.addr) {
        return no(format!(
            "the mark is for {n} at {}, but {n} is configured at {} now",
            mark.addr, node.addr
        ));
    }
    if mark.promoted != s {
        return no(format!(
            "the mark says {} was promoted in {n}'s place (run {}), but the rejoin source is {s}",
            mark.promoted, mark.run_id
        ));
    }
    let info = |v: &NodeView| {
        v.info
            .as_deref()
            .filter(|_| !v.stale_info)
            .and_then(|i| History::from_info(&i.replication))
    };
    let (Some(nh), Some(sh)) = (info(node), info(source)) else {
        return no("a replication id or offset is not known".to_string());
    };
    let (Some(fork_replid), Some(second)) = (sh.replid2.clone(), sh.second_offset) else {
        return no(format!(
            "{s} carries no earlier history (no master_replid2): it restarted or was promoted again \
             since, and the promotion point is lost"
        ));
    };
    let fork_offset = second.saturating_sub(1);
    if let Some(led) = mark.fork_replid.as_deref().or(mark.last_replid.as_deref()) {
        if led != fork_replid {
            return no(format!(
                "{s} left history {}, but the mark says it was promoted out of {} (another failover \
                 since?)",
                short(&fork_replid),
                short(led)
            ));
        }
    }
    let (node_upto, restarted) = if nh.replid == fork_replid {
        (nh.offset, false)
    } else if nh.replid2.as_deref() == Some(fork_replid.as_str()) {
        match nh.second_offset {
            Some(o) => (o.saturating_sub(1), true),
            None => return no(format!("{n}'s second_repl_offset is not known")),
        }
    } else {
        return no(format!(
            "{n}'s data is not on the history {s} was promoted out of ({}): {n} reports replid {} \
             and replid2 {}; it restarted from an older or foreign dataset, or was wiped",
            short(&fork_replid),
            short(&nh.replid),
            nh.replid2.as_deref().map_or("none", short)
        ));
    };
    let after_restart = if restarted {
        nh.offset.saturating_sub(node_upto)
    } else {
        0
    };
    MarkCheck::Matches(Discard {
        bytes: node_upto.saturating_sub(fork_offset) + after_restart,
        fork_replid,
        fork_offset,
        node_upto,
        restarted,
        after_restart,
    })
}

fn same_addr(a: &str, b: &str) -> bool {
    a == b || matches!((Addr::parse(a), Addr::parse(b)), (Ok(x), Ok(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::{Info, InfoRole};
    use crate::observe::NodeState;
    use std::sync::Arc;

    fn view(name: &str, replid: &str, offset: u64, replid2: Option<(&str, u64)>) -> NodeView {
        let mut i = Info::default();
        i.replication.role = Some(InfoRole::Primary);
        i.replication.replid = Some(replid.into());
        i.replication.offset = Some(offset);
        if let Some((id, fork)) = replid2 {
            i.replication.replid2 = Some(id.into());
            i.replication.second_offset = Some(i64::try_from(fork + 1).unwrap());
        }
        let mut v = NodeView::new(None, name, "127.0.0.1:7000");
        v.state = NodeState::Up;
        v.info = Some(Arc::new(i));
        v
    }

    fn mark() -> RejoinMark {
        RejoinMark {
            group: "g".into(),
            node: "n1".into(),
            addr: "127.0.0.1:7000".into(),
            promoted: "n2".into(),
            last_replid: Some("old".into()),
            last_offset: Some(1000),
            fork_replid: Some("old".into()),
            fork_offset: Some(990),
            marked_at: "2026-01-01T00:00:00Z".into(),
            run_id: "run1".into(),
        }
    }

    /// n2 promoted at 990 of `old`; n1 kept history `old` (frozen, partitioned) and reached 1000.
    #[test]
    fn the_writes_past_the_promotion_point_are_counted() {
        let n2 = view("n2", "new", 1500, Some(("old", 990)));
        let n1 = view("n1", "old", 1000, None);
        let MarkCheck::Matches(d) = check(&mark(), &n1, &n2) else {
            panic!()
        };
        assert_eq!((d.bytes, d.restarted, d.fork_offset), (10, false, 990));
        let text = d.describe("n1", "n2");
        assert!(text.starts_with("10 bytes"), "{text}");
        assert!(text.contains("after offset 990"), "{text}");
    }

    /// n1 restarted from a dump saved at 700 of `old`, before the promotion point: nothing is
    /// discarded, and that is proven.
    #[test]
    fn a_restart_from_an_older_dump_discards_nothing() {
        let n2 = view("n2", "new", 1500, Some(("old", 990)));
        let n1 = view("n1", "fresh", 700, Some(("old", 700)));
        let MarkCheck::Matches(d) = check(&mark(), &n1, &n2) else {
            panic!()
        };
        assert_eq!((d.bytes, d.restarted), (0, true));
        assert!(d.describe("n1", "n2").starts_with("none: n1 restarted"));
        // Then 25 bytes written on it since its restart: those are discarded.
        let n1 = view("n1", "fresh", 725, Some(("old", 700)));
        let MarkCheck::Matches(d) = check(&mark(), &n1, &n2) else {
            panic!()
        };
        assert_eq!((d.bytes, d.after_restart), (25, 25));
    }

    #[test]
    fn a_mark_that_does_not_fit_proves_nothing() {
        let n2 = view("n2", "new", 1500, Some(("old", 990)));
        let n1 = view("n1", "old", 1000, None);
        let mismatch = |m: MarkCheck| match m {
            MarkCheck::Mismatch(why) => why,
            MarkCheck::Matches(d) => panic!("{d:?}"),
        };
        // Another source than the promoted one.
        let n3 = view("n3", "new", 1500, Some(("old", 990)));
        assert!(mismatch(check(&mark(), &n1, &n3)).contains("promoted in n1's place"));
        // Another address.
        let mut moved = n1.clone();
        moved.addr = "10.0.0.9:6379".into();
        assert!(mismatch(check(&mark(), &moved, &n2)).contains("configured at"));
        // The source lost its replid2 (restarted, promoted again).
        let bare = view("n2", "new", 1500, None);
        assert!(mismatch(check(&mark(), &n1, &bare)).contains("promotion point is lost"));
        // The source left another history than the marked one.
        let other = view("n2", "new", 1500, Some(("else", 990)));
        assert!(mismatch(check(&mark(), &n1, &other)).contains("another failover"));
        // The node restarted from a dataset of another history: unrelated.
        let foreign = view("n1", "fresh", 300, Some(("older", 300)));
        assert!(mismatch(check(&mark(), &foreign, &n2)).contains("older or foreign dataset"));
    }
}
