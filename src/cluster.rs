//! Redis Cluster: what each node says about the cluster (`CLUSTER NODES`, `CLUSTER INFO`),
//! and the one view redops draws from all of them: shards (a primary, its slot ranges and its
//! replicas), `cluster_state`, and the anomalies of a cluster in plain words.
//!
//! The poller reads [`NodeReport`] on every poll of a node in cluster mode (next to its
//! `INFO`); the topology builds the [`ClusterView`] of a group from its nodes' reports. Parsers
//! and the view are pure; only [`read`] and [`discover`] talk to a server, read-only.

pub mod anomaly;
pub mod discover;
pub mod info;
pub mod nodes;
pub mod shards;
pub mod slot;
pub mod view;

pub use info::ClusterInfo;
pub use nodes::{ClusterNode, Flags, NodesReply, SlotRange, SLOTS};
pub use slot::{key_slot, tag_in};
pub use view::{ClusterView, Shard, ShardNode};

use crate::node::{reply, NodeClient};
use crate::observe::NodeError;

/// What one node answered to `CLUSTER INFO` and `CLUSTER NODES`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeReport {
    pub info: ClusterInfo,
    pub nodes: NodesReply,
    /// Why the node's view could not be read (`NOPERM`, a timeout), when it could not.
    pub error: Option<String>,
    /// Each node's replication offset as this node last heard it (`CLUSTER SHARDS`, 7.0+),
    /// read only while a node of its map is failed, suspected or cut off; empty otherwise.
    pub offsets: Vec<shards::GossipedOffset>,
}

/// Reads one node's view of the cluster. A failure is kept in the report (the node answered
/// `INFO`, so it is alive: a refused `CLUSTER` command is not a down node).
pub async fn read(client: &mut NodeClient) -> NodeReport {
    match read_both(client).await {
        Ok((info, nodes)) => {
            let nodes = nodes::parse(&nodes);
            let offsets = if someone_unreachable(&nodes) {
                read_offsets(client).await
            } else {
                Vec::new()
            };
            NodeReport {
                info: info::parse(&info),
                nodes,
                error: None,
                offsets,
            }
        }
        Err(e) => NodeReport {
            error: Some(e.to_string()),
            ..NodeReport::default()
        },
    }
}

/// A node of the map other than the reporter is failed, suspected, or its link is down.
fn someone_unreachable(nodes: &NodesReply) -> bool {
    nodes
        .nodes
        .iter()
        .any(|n| !n.flags.myself && (n.flags.fail || n.flags.pfail || !n.connected))
}

/// `CLUSTER SHARDS`'s offsets; none on a server without it (before 7.0) or on any error.
async fn read_offsets(client: &mut NodeClient) -> Vec<shards::GossipedOffset> {
    client
        .query::<redis::Value>(redis::cmd("CLUSTER").arg("SHARDS"))
        .await
        .map(|v| shards::parse(&v))
        .unwrap_or_default()
}

async fn read_both(client: &mut NodeClient) -> Result<(String, String), NodeError> {
    let info: redis::Value = client.query(redis::cmd("CLUSTER").arg("INFO")).await?;
    let nodes: redis::Value = client.query(redis::cmd("CLUSTER").arg("NODES")).await?;
    Ok((
        reply::text(info, "CLUSTER INFO")?,
        reply::text(nodes, "CLUSTER NODES")?,
    ))
}
