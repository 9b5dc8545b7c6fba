//! A replica whose primary is in another shard's view: a node that says, on its own line, that
//! it replicates from P, while other nodes' maps place it under another primary, or while its
//! own map gives P other slots than the shown map does (it copies a shard the rest of the
//! cluster does not see P serving). Gossip settles such a picture within a few node timeouts
//! after a `CLUSTER REPLICATE` or a failover; one that stays means the nodes disagree about
//! which shard holds the replica's copy. Pure, like the rest of the view.

use super::{report, Names};
use crate::cluster::nodes::{self, NodesReply};
use crate::cluster::NodeReport;
use crate::topology::NodeView;

/// How many slot ranges one side of a slot disagreement lists.
const RANGES_SHOWN: usize = 4;

/// A replica the nodes place in different shards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misplaced {
    /// The replica.
    pub node: String,
    /// The primary it follows, by its own line.
    pub own_primary: String,
    /// Other nodes that place it under another primary: (the reporter, that primary).
    pub elsewhere: Vec<(String, String)>,
    /// Its own map's slots for its primary against the shown map's, when they differ.
    pub slots: Option<(String, String)>,
}

/// Every misplaced replica among the nodes that answered; `src` is the shown map's report.
pub(super) fn find(names: &Names<'_>, nodes: &[NodeView], src: &NodeReport) -> Vec<Misplaced> {
    let fresh: Vec<(&NodeView, &NodeReport)> = nodes
        .iter()
        .filter_map(|v| Some((v, report(v).filter(|r| r.error.is_none())?)))
        .collect();
    let mut out = Vec::new();
    for &(v, r) in &fresh {
        let Some(me) = r.nodes.myself() else { continue };
        let Some(p_id) = me.primary_id.as_deref().filter(|_| me.flags.replica) else {
            continue;
        };
        let elsewhere: Vec<(String, String)> = fresh
            .iter()
            .filter(|(w, _)| !std::ptr::eq(*w, v))
            .filter_map(|(w, wr)| {
                let seen = wr.nodes.by_id(&me.id)?;
                let q = seen.primary_id.as_deref().filter(|_| seen.flags.replica)?;
                (q != p_id).then(|| (w.name.clone(), names.name_of_id(&wr.nodes, q)))
            })
            .collect();
        let slots = slot_mismatch(&r.nodes, &src.nodes, p_id);
        if elsewhere.is_empty() && slots.is_none() {
            continue;
        }
        out.push(Misplaced {
            node: v.name.clone(),
            own_primary: names.name_of_id(&r.nodes, p_id),
            elsewhere,
            slots,
        });
    }
    out
}

/// Primary `p`'s slots in the replica's own map and in the shown map, when both know it and
/// they differ.
fn slot_mismatch(own: &NodesReply, shown: &NodesReply, p: &str) -> Option<(String, String)> {
    let (a, b) = (own.by_id(p)?, shown.by_id(p)?);
    if a.slots == b.slots {
        return None;
    }
    let text = |n: &nodes::ClusterNode| {
        if n.slots.is_empty() {
            "no slots".to_string()
        } else {
            nodes::ranges_text(&n.slots, RANGES_SHOWN)
        }
    };
    Some((text(a), text(b)))
}
