//! What the runner does differently for a cluster sandbox: the writer's keys go to the first
//! shard (one hash tag), and the writes are checked on whichever primary serves that shard's
//! slot now, as the cluster view says.

use crate::cluster::{key_slot, tag_in};
use crate::sandbox::ClusterShape;
use crate::topology::GroupTopology;

/// A hash tag whose slot is in the first primary's range (`n1`'s shard).
pub(super) fn first_shard_tag(shape: ClusterShape) -> String {
    let (start, end) = shape.slots_of(0);
    // Every range of a shape holds a tag of a few digits; `{t0}` only if none did.
    tag_in(start, end).unwrap_or_else(|| "{t0}".to_string())
}

/// The live primary serving the slot of keys that start with `prefix` (their hash tag), by
/// the cluster view; `None` while none does or it does not answer.
pub(super) fn primary_of_keys(g: &GroupTopology, prefix: &str) -> Option<String> {
    let slot = key_slot(prefix.as_bytes());
    let view = g.cluster.as_deref()?;
    let shard = view
        .shards
        .iter()
        .find(|s| s.slots.iter().any(|r| r.start <= slot && slot <= r.end))?;
    let p = &shard.primary;
    (p.reachable && !p.flags.is_unhealthy()).then(|| p.name.clone())
}
