//! An ad-hoc Sentinel target (`--sentinel ADDR --master-name NAME`): the group as Sentinel
//! knows it, asked of the first named sentinel that answers: the master's address, its
//! replicas (those Sentinel does not see down), and the other sentinels it knows. Read-only;
//! every address here comes from server data (the caller decides who gets credentials).

use crate::config::Addr;
use crate::node::{NodeClient, Timeouts};

/// What a sentinel says the group is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub master: Addr,
    pub replicas: Vec<Addr>,
    /// The named sentinels, then the others the first one knows.
    pub sentinels: Vec<Addr>,
}

/// Why no sentinel could describe the group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DiscoverError {
    pub message: String,
    pub hint: String,
}

/// Asks the named sentinels in turn, and returns the first answer.
///
/// # Errors
/// No sentinel answered, or none monitors `master_name`.
pub async fn discover(
    named: &[Addr],
    master_name: &str,
    timeouts: Timeouts,
) -> Result<Found, DiscoverError> {
    let mut why = Vec::new();
    for addr in named {
        let node = super::poll::as_node(addr);
        let mut client = match NodeClient::new(&node, timeouts, super::SENTINEL_CLIENT_NAME) {
            Ok(c) => c,
            Err(e) => {
                why.push(format!("{addr}: {e}"));
                continue;
            }
        };
        match super::poll_one(&mut client, master_name).await {
            Err(e) => why.push(format!("{addr}: {e}")),
            Ok(seen) => match seen.master.and_then(|m| m.addr) {
                None => why.push(format!("{addr}: no master named '{master_name}'")),
                Some(master) => {
                    let replicas = seen
                        .replicas
                        .iter()
                        .filter(|r| !r.is_down())
                        .filter_map(|r| r.addr.clone())
                        .filter(|a| *a != master)
                        .collect();
                    let mut sentinels = named.to_vec();
                    for p in seen.peers.iter().filter_map(|p| p.addr.clone()) {
                        if !sentinels.contains(&p) {
                            sentinels.push(p);
                        }
                    }
                    return Ok(Found {
                        master,
                        replicas,
                        sentinels,
                    });
                }
            },
        }
    }
    Err(DiscoverError {
        message: format!(
            "no sentinel describes master '{master_name}' ({})",
            why.join("; ")
        ),
        hint: "check the --sentinel addresses (a sentinel listens on 26379 by default) and \
               --master-name (SENTINEL MASTERS on a sentinel lists the names it monitors)"
            .to_string(),
    })
}
