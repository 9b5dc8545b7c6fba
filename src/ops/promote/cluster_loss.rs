//! The loss statement of a cluster promote when this console never saw the old primary up (a
//! one-shot CLI run after it died): the cluster's own figure, the offset the old primary last
//! gossiped on the cluster bus as the nodes that answer report it (`CLUSTER SHARDS`, 7.0+),
//! said as such. It is a lower bound of what the old primary wrote (it may have written more
//! after that message), so it can prove a loss, never that none happened. Pure.

use crate::cluster::Shard;
use crate::topology::GroupTopology;

use super::candidates::{Candidate, Candidates, Loss};

/// The old primary's offset as the cluster last heard it: the highest any node that answers
/// reports, and the node that reports it.
#[must_use]
pub fn gossiped(gt: &GroupTopology, primary_id: &str) -> Option<(u64, String)> {
    gt.nodes
        .iter()
        .filter(|v| v.state.is_reachable() && !v.stale_info)
        .filter_map(|v| {
            let report = v.info.as_ref()?.cluster.as_ref()?;
            let o = report.offsets.iter().find(|o| o.id == primary_id)?;
            Some((o.offset, v.name.clone()))
        })
        .max_by_key(|(offset, _)| *offset)
}

/// `loss` (from the console's own polls) unless it is unknown for want of the old primary's
/// offset and the cluster knows one: then the loss from the cluster's figure, with the words
/// of the plan's check when they differ from [`super::candidates::describe_loss`]'s.
#[must_use]
pub fn from_cluster(
    gt: &GroupTopology,
    shard: &Shard,
    cands: &Candidates,
    cand: &Candidate,
    loss: Loss,
) -> (Loss, Option<String>) {
    let never_seen = cands
        .old_primary
        .as_ref()
        .is_some_and(|p| p.last_offset.is_none());
    if !matches!(loss, Loss::Unknown { .. }) || !never_seen {
        return (loss, None);
    }
    let (Some((g, by)), Some(c)) = (gossiped(gt, &shard.primary.id), cand.offset) else {
        return (loss, None);
    };
    statement(g, &by, c, &shard.primary.name, &cand.name)
}

/// The loss when the cluster last heard offset `g` from `old` (as `by` reports it) and
/// candidate `name` has applied `c`.
fn statement(g: u64, by: &str, c: u64, old: &str, name: &str) -> (Loss, Option<String>) {
    let source = format!(
        "the cluster last heard offset {g} from {old} (CLUSTER SHARDS on {by}, as {old} \
         gossiped it; this console never saw {old} up)"
    );
    if c < g {
        let bytes = g - c;
        let text = format!(
            "{bytes} bytes of writes {old} acknowledged are missing on {name} (at least: \
             {source}, {name} has applied {c}; {old} may have written more after)"
        );
        return (Loss::AtLeast { bytes }, Some(text));
    }
    (
        Loss::Unknown {
            why: format!(
                "{source}; {name} has applied {c}, at least that, but what {old} wrote after \
                 its last message on the cluster bus is not known"
            ),
        },
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_figure_proves_a_loss_never_its_absence() {
        let (loss, said) = statement(1_000, "n2", 900, "n1", "n4");
        assert_eq!(loss, Loss::AtLeast { bytes: 100 });
        let said = said.expect("its own words");
        assert!(
            said.starts_with("100 bytes of writes n1 acknowledged are missing on n4 (at least: "),
            "{said}"
        );
        assert!(
            said.contains("the cluster last heard offset 1000 from n1 (CLUSTER SHARDS on n2"),
            "{said}"
        );
        for c in [1_000, 1_200] {
            let (loss, said) = statement(1_000, "n2", c, "n1", "n4");
            assert_eq!(said, None);
            let Loss::Unknown { why } = loss else {
                panic!("{loss:?}");
            };
            assert!(
                why.contains(&format!("n4 has applied {c}, at least that")),
                "{why}"
            );
            assert!(why.contains("this console never saw n1 up"), "{why}");
        }
    }
}
