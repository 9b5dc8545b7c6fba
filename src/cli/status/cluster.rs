//! A cluster group in `status`: the `groups[].cluster` JSON object (schema in the README) and
//! the text header and shard lines under the node table. Words only; the view is built in
//! the core (`crate::cluster::view`).

use serde_json::{json, Value};

use super::super::output::Paint;
use crate::cluster::nodes::ranges_text;
use crate::cluster::{ClusterView, ShardNode};
use crate::sanitize::visible;

fn state_word(ok: Option<bool>) -> Option<&'static str> {
    ok.map(|ok| if ok { "ok" } else { "fail" })
}

fn node_json(n: &ShardNode) -> Value {
    json!({
        "id": n.id,
        "name": n.name,
        "addr": n.addr,
        "flags": n.flags.words(),
        "config_epoch": n.config_epoch,
        "connected": n.connected,
        "polled": n.polled,
        "reachable": n.reachable,
        "keys": n.keys,
        "lag_bytes": n.lag_bytes,
    })
}

/// The `groups[].cluster` object.
#[must_use]
pub fn to_json(v: &ClusterView) -> Value {
    let ranges = |r: &[crate::cluster::SlotRange]| -> Vec<String> {
        r.iter().map(ToString::to_string).collect()
    };
    json!({
        "state": state_word(v.state_ok),
        "source": v.source,
        "slots": {
            "assigned": v.slots_assigned,
            "ok": v.slots_ok,
            "pfail": v.slots_pfail,
            "fail": v.slots_fail,
        },
        "known_nodes": v.known_nodes,
        "current_epoch": v.current_epoch,
        "node_states": v.states.iter().map(|(n, ok)| json!({"node": n, "state": state_word(*ok)})).collect::<Vec<_>>(),
        "shards": v.shards.iter().map(|s| json!({
            "primary": node_json(&s.primary),
            "slots": ranges(&s.slots),
            "slot_count": s.slot_count,
            "replicas": s.replicas.iter().map(node_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "uncovered": ranges(&v.uncovered),
        "open_slots": v.open_slots.iter().map(|o| json!({
            "node": o.node,
            "slot": o.slot,
            "state": if o.migrating { "migrating" } else { "importing" },
            "peer": o.peer,
        })).collect::<Vec<_>>(),
        "disagreements": v.disagreements.iter().map(|d| json!({
            "node": d.node,
            "slots": d.slots,
            "epochs": d.epochs.iter().map(|(n, a, b)| json!({"node": n, "source_epoch": a, "node_epoch": b})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The header line: state, slot counts, shards, epoch, and whose view it is.
#[must_use]
pub fn header(v: &ClusterView, p: Paint) -> String {
    let state = match v.state_ok {
        Some(true) => p.green("cluster_state ok"),
        Some(false) => p.red("cluster_state FAIL"),
        None => p.yellow("cluster_state unknown"),
    };
    let n = |x: Option<u32>| x.map_or_else(|| "?".to_string(), |x| x.to_string());
    format!(
        "  {state}  slots ok {} pfail {} fail {}  {} shard(s)  epoch {}  (as {} sees it)",
        n(v.slots_ok),
        n(v.slots_pfail),
        n(v.slots_fail),
        v.shards.iter().filter(|s| s.slot_count > 0).count(),
        v.current_epoch
            .map_or_else(|| "?".to_string(), |e| e.to_string()),
        visible(&v.source)
    )
}

fn who(n: &ShardNode) -> String {
    let flags = n.flags.words();
    let mut s = visible(&n.name).into_owned();
    if !flags.is_empty() {
        s.push_str(&format!(" [{}]", flags.join(",")));
    }
    s
}

/// One line per shard: primary, slot ranges and count, epoch, keys, replicas.
#[must_use]
pub fn shard_lines(v: &ClusterView, p: Paint) -> Vec<String> {
    let mut out = Vec::new();
    for s in &v.shards {
        let replicas: Vec<String> = s.replicas.iter().map(who).collect();
        let slots = if s.slot_count == 0 {
            p.dim("no slots")
        } else {
            format!("slots {} ({})", ranges_text(&s.slots, 4), s.slot_count)
        };
        out.push(format!(
            "  {} {}: {slots}, epoch {}, keys {}, replicas: {}",
            if s.slot_count == 0 {
                "primary"
            } else {
                "shard"
            },
            who(&s.primary),
            s.primary.config_epoch,
            s.primary
                .keys
                .map_or_else(|| "?".to_string(), |k| k.to_string()),
            if replicas.is_empty() {
                p.yellow("none")
            } else {
                replicas.join(", ")
            }
        ));
    }
    if !v.uncovered.is_empty() {
        out.push(format!(
            "  {}",
            p.red(&format!(
                "slots served by nobody: {}",
                ranges_text(&v.uncovered, 4)
            ))
        ));
    }
    out
}
