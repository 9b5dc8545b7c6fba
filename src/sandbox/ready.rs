//! Is a sandbox server up, and are its replicas in sync? One `INFO` through
//! [`NodeClient`](crate::node::NodeClient), parsed by the crate's own INFO parser
//! ([`crate::info`]) and reduced to the handful of fields a start-up wait needs. Every wait
//! here is bounded in time.

use std::time::{Duration, Instant};

use crate::config::{Addr, Node};
use crate::info::{Info, InfoRole};
use crate::node::{NodeClient, Timeouts};
use crate::observe::NodeError;

/// The client name sandbox probes use (visible in `CLIENT LIST`).
pub const SANDBOX_CLIENT_NAME: &str = "redops-sandbox";

/// What a probe saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplState {
    /// `role:`, when the server said it.
    pub role: Option<InfoRole>,
    pub loading: bool,
    /// `master_link_status:up` (replicas only).
    pub link_up: bool,
    pub sync_in_progress: bool,
    /// `rdb_bgsave_in_progress:1`: a fork child (a save, or an RDB for a replica) is running.
    pub bgsave_in_progress: bool,
    /// `master_port:` (replicas only): where the replica replicates from now.
    pub master_port: Option<u16>,
    /// `process_id:`: tells the server we started from another one that holds the port.
    pub process_id: Option<u32>,
}

impl ReplState {
    /// A replica with its link up and no sync running.
    #[must_use]
    pub fn is_synced_replica(&self) -> bool {
        self.role == Some(InfoRole::Replica)
            && self.link_up
            && !self.sync_in_progress
            && !self.loading
    }

    /// The readiness fields of a parsed INFO reply.
    #[must_use]
    pub fn from_info(info: &Info) -> Self {
        let r = &info.replication;
        Self {
            role: r.role,
            loading: info.persistence.loading,
            link_up: r.link_up == Some(true),
            sync_in_progress: r.sync_in_progress,
            bgsave_in_progress: info.persistence.bgsave_in_progress,
            master_port: r.master_port,
            process_id: info.server.process_id,
        }
    }

    /// Short description for errors: `role=replica link=down sync=1`.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut s = String::from(match self.role {
            Some(InfoRole::Primary) => "role=primary",
            Some(InfoRole::Replica) => "role=replica",
            None => "role=?",
        });
        if self.role == Some(InfoRole::Replica) {
            s.push_str(if self.link_up {
                " link=up"
            } else {
                " link=down"
            });
            s.push_str(if self.sync_in_progress {
                " sync=1"
            } else {
                " sync=0"
            });
        }
        if self.loading {
            s.push_str(" loading=1");
        }
        if self.bgsave_in_progress {
            s.push_str(" bgsave=1");
        }
        s
    }
}

/// One `INFO` to a plain loopback server (no password, no TLS) with short timeouts.
///
/// # Errors
/// The classified failure.
pub async fn probe(name: &str, addr: &Addr) -> Result<ReplState, NodeError> {
    let node = Node {
        name: name.to_string(),
        addr: addr.clone(),
        username: None,
        password: None,
        tls: None,
    };
    probe_node(&node).await
}

/// One `INFO` to a loopback server with short timeouts, with the node's credentials and TLS
/// settings.
///
/// # Errors
/// The classified failure.
pub async fn probe_node(node: &Node) -> Result<ReplState, NodeError> {
    let timeouts = Timeouts {
        connect: Duration::from_millis(500),
        read: Duration::from_secs(1),
    };
    let mut client = NodeClient::new(node, timeouts, SANDBOX_CLIENT_NAME)?;
    let (info, _) = client.info().await?;
    Ok(ReplState::from_info(&info))
}

/// Polls until the node is a replica with its link up and no sync in progress, or the time
/// is up; returns the last state seen (or the last error) on timeout.
/// Returns the state that satisfied the wait.
pub(super) async fn wait_synced(node: &Node, timeout: Duration) -> Result<ReplState, String> {
    wait_until(node, timeout, ReplState::is_synced_replica).await
}

/// Polls until the node runs no fork child, or the time is up. A replica can report its link
/// up a moment before its primary has reaped the child that produced its RDB; a `SAVE` or
/// `BGSAVE` in that moment fails with "Background save already in progress".
pub(super) async fn wait_no_fork(node: &Node, timeout: Duration) -> Result<(), String> {
    wait_until(node, timeout, |s| !s.bgsave_in_progress)
        .await
        .map(drop)
}

async fn wait_until(
    node: &Node,
    timeout: Duration,
    done: impl Fn(&ReplState) -> bool,
) -> Result<ReplState, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match probe_node(node).await {
            Ok(state) if done(&state) => return Ok(state),
            Ok(state) => state.describe(),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::ReplState;
    use crate::info::parse;

    fn state(text: &str) -> ReplState {
        ReplState::from_info(&parse(text))
    }

    #[test]
    fn reads_the_readiness_fields() {
        let s = state(
            "# Persistence\r\nloading:0\r\n# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\n\
             master_port:7001\r\nmaster_link_status:up\r\nmaster_sync_in_progress:0\r\n",
        );
        assert!(s.is_synced_replica());
        assert_eq!(s.master_port, Some(7001));
        let s = state("# Server\r\nprocess_id:4242\r\n# Replication\r\nrole:master\r\n");
        assert_eq!(s.process_id, Some(4242));
        let s = state("# Replication\r\nrole:slave\r\nmaster_link_status:down\r\n");
        assert!(!s.is_synced_replica());
        assert_eq!(s.describe(), "role=replica link=down sync=0");
        let s = state("# Persistence\r\nloading:1\r\n# Replication\r\nrole:master\r\n");
        assert!(!s.is_synced_replica());
        assert_eq!(s.describe(), "role=primary loading=1");
        let s =
            state("# Persistence\r\nrdb_bgsave_in_progress:1\r\n# Replication\r\nrole:master\r\n");
        assert!(s.bgsave_in_progress);
        assert_eq!(s.describe(), "role=primary bgsave=1");
    }
}
