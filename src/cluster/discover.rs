//! Every node of a cluster from any one of its nodes: the addresses in its `CLUSTER NODES`.
//! A cluster group (`cluster = true`, or `--cluster ADDR`) is completed with the nodes it
//! lacks before polling starts, each named by its address, so that every node is polled,
//! shown, and addressable by address in every command.
//!
//! A discovered node gets the connection settings (credentials, TLS) of the node that named
//! it: the nodes of one cluster share them, as every cluster client that follows a `MOVED`
//! redirection assumes.

use crate::config::{Addr, Config, Node};
use crate::node::{NodeClient, Timeouts};
use crate::observe::NodeError;

/// The most nodes discovery adds to one group.
const MAX_NODES: usize = 1000;

/// The addresses `seed` lists in `CLUSTER NODES` (itself left out), those it knows.
///
/// # Errors
/// When the seed cannot be read or does not answer `CLUSTER NODES`.
pub async fn discover(seed: &Node, timeouts: Timeouts) -> Result<Vec<Addr>, NodeError> {
    let mut client = NodeClient::new(seed, timeouts, "redops-discover")?;
    let report = super::read(&mut client).await;
    if let Some(e) = report.error {
        return Err(NodeError::Other(e));
    }
    Ok(report
        .nodes
        .nodes
        .iter()
        .filter(|n| !n.flags.myself && !n.flags.noaddr && !n.host.is_empty() && n.port != 0)
        .take(MAX_NODES)
        .map(|n| Addr {
            host: n.host.clone(),
            port: n.port,
        })
        .collect())
}

/// Adds to every cluster group of `config` the nodes the first of its nodes that answers
/// knows and the group lacks. A group none of whose nodes answers stays as it is (its nodes
/// show down).
pub async fn expand(config: &mut Config) {
    let timeouts = Timeouts::from(&config.console);
    for g in config.groups.iter_mut().filter(|g| g.cluster) {
        let mut found = None;
        for seed in &g.nodes {
            if let Ok(addrs) = discover(seed, timeouts).await {
                found = Some((seed.clone(), addrs));
                break;
            }
        }
        let Some((seed, addrs)) = found else { continue };
        for addr in addrs {
            let name = addr.to_string();
            if g.nodes.iter().any(|n| n.addr == addr || n.name == name) {
                continue;
            }
            g.nodes.push(Node {
                name,
                addr,
                ..seed.clone()
            });
        }
    }
}
