//! `CLUSTER SHARDS` (Redis 7.0+): of its reply redops keeps each node's `replication-offset`,
//! which for another node is the offset it last gossiped on the cluster bus. When the console
//! never saw a primary up (a one-shot CLI run after it died), that is the only figure of how
//! far it had written: the cluster's, as last heard, not a poll of the node itself.
//!
//! The reply is untrusted: RESP2 flat arrays of names and values or RESP3 maps, bounded in
//! shards and nodes; anything else is skipped.

use redis::Value;

/// Shards and nodes per shard read from one reply, at most.
const MAX_SHARDS: usize = 16_384;
const MAX_NODES: usize = 1_000;

/// One node's offset as the reporter knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossipedOffset {
    /// The 40-hex node id.
    pub id: String,
    pub offset: u64,
}

/// The `replication-offset` of every node in a `CLUSTER SHARDS` reply.
#[must_use]
pub fn parse(reply: &Value) -> Vec<GossipedOffset> {
    let mut out = Vec::new();
    let Value::Array(shards) = reply else {
        return out;
    };
    for shard in shards.iter().take(MAX_SHARDS) {
        let Some(Value::Array(nodes)) = field(shard, "nodes") else {
            continue;
        };
        for node in nodes.iter().take(MAX_NODES) {
            let id = field(node, "id").and_then(text);
            let offset = field(node, "replication-offset").and_then(number);
            if let (Some(id), Some(offset)) = (id, offset) {
                if id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    out.push(GossipedOffset { id, offset });
                }
            }
        }
    }
    out
}

/// The value named `name` in a flat array of names and values, or a map.
fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let pairs: Vec<(&Value, &Value)> = match v {
        Value::Array(items) => items.chunks_exact(2).map(|p| (&p[0], &p[1])).collect(),
        Value::Map(items) => items.iter().map(|(k, v)| (k, v)).collect(),
        _ => return None,
    };
    pairs
        .into_iter()
        .find(|(k, _)| text(k).as_deref() == Some(name))
        .map(|(_, v)| v)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Int(n) => u64::try_from(*n).ok(),
        other => text(other)?.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn node(id: &str, offset: i64) -> Value {
        Value::Array(vec![
            bulk("id"),
            bulk(id),
            bulk("port"),
            Value::Int(7001),
            bulk("role"),
            bulk("master"),
            bulk("replication-offset"),
            Value::Int(offset),
            bulk("health"),
            bulk("fail"),
        ])
    }

    #[test]
    fn each_nodes_offset_is_read_and_anything_else_skipped() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let reply = Value::Array(vec![
            Value::Array(vec![
                bulk("slots"),
                Value::Array(vec![Value::Int(0), Value::Int(5460)]),
                bulk("nodes"),
                Value::Array(vec![node(&a, 1234), node(&b, 1200)]),
            ]),
            // A shard with no nodes, a node with a bad id or a negative offset: skipped.
            Value::Array(vec![bulk("slots"), Value::Array(vec![])]),
            Value::Array(vec![
                bulk("nodes"),
                Value::Array(vec![node("x\u{1b}[2J", 5), node(&"c".repeat(40), -1)]),
            ]),
            Value::Int(3),
        ]);
        assert_eq!(
            parse(&reply),
            [
                GossipedOffset {
                    id: a.clone(),
                    offset: 1234
                },
                GossipedOffset {
                    id: b,
                    offset: 1200
                },
            ]
        );
        // RESP3 maps.
        let map = Value::Array(vec![Value::Map(vec![(
            bulk("nodes"),
            Value::Array(vec![Value::Map(vec![
                (bulk("id"), bulk(&a)),
                (bulk("replication-offset"), Value::Int(9)),
            ])]),
        )])]);
        assert_eq!(parse(&map), [GossipedOffset { id: a, offset: 9 }]);
        assert!(parse(&Value::Nil).is_empty());
    }
}
