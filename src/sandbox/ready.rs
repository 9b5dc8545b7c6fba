//! Is a sandbox server up, and are its replicas in sync? One `INFO` through
//! [`NodeClient`](crate::node::NodeClient), read for the handful of fields a start-up wait
//! needs. Every wait here is bounded in time.
//!
//! Only the few readiness fields are read from the raw text, so the sandbox works whatever
//! state the full INFO parser is in; the console's own view never comes from here.

use std::time::{Duration, Instant};

use crate::config::{Addr, Node};
use crate::node::{NodeClient, Timeouts};
use crate::observe::NodeError;

/// The client name sandbox probes use (visible in `CLIENT LIST`).
pub const SANDBOX_CLIENT_NAME: &str = "redops-sandbox";

/// What a probe saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplState {
    /// `role:` as printed (`master` or `slave`).
    pub role: String,
    pub loading: bool,
    /// `master_link_status:up` (replicas only).
    pub link_up: bool,
    pub sync_in_progress: bool,
    /// `rdb_bgsave_in_progress:1`: a fork child (a save, or an RDB for a replica) is running.
    pub bgsave_in_progress: bool,
    /// `master_port:` (replicas only): where the replica replicates from now.
    pub master_port: Option<u16>,
}

impl ReplState {
    /// A replica with its link up and no sync running.
    #[must_use]
    pub fn is_synced_replica(&self) -> bool {
        self.role == "slave" && self.link_up && !self.sync_in_progress && !self.loading
    }

    /// Reads the fields from INFO text.
    #[must_use]
    pub fn from_info(text: &str) -> Self {
        let mut s = Self::default();
        for line in text.lines() {
            let Some((k, v)) = line.trim_end().split_once(':') else {
                continue;
            };
            match k {
                "role" => s.role = v.to_string(),
                "loading" => s.loading = v == "1",
                "master_link_status" => s.link_up = v == "up",
                "master_sync_in_progress" => s.sync_in_progress = v == "1",
                "rdb_bgsave_in_progress" => s.bgsave_in_progress = v == "1",
                "master_port" => s.master_port = v.parse().ok(),
                _ => {}
            }
        }
        s
    }

    /// Short description for errors: `role=slave link=down sync=1`.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut s = format!("role={}", self.role);
        if self.role == "slave" {
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

/// One `INFO` to a loopback server with short timeouts.
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
    let timeouts = Timeouts {
        connect: Duration::from_millis(500),
        read: Duration::from_secs(1),
    };
    let mut client = NodeClient::new(&node, timeouts, SANDBOX_CLIENT_NAME)?;
    let v: redis::Value = client.query(&redis::cmd("INFO")).await?;
    let text = crate::node::reply::text(v, "INFO")?;
    Ok(ReplState::from_info(&text))
}

/// Polls until the node is a replica with its link up and no sync in progress, or the time
/// is up; returns the last state seen (or the last error) on timeout.
/// Returns the state that satisfied the wait.
pub(super) async fn wait_synced(
    name: &str,
    addr: &Addr,
    timeout: Duration,
) -> Result<ReplState, String> {
    wait_until(name, addr, timeout, ReplState::is_synced_replica).await
}

/// Polls until the node runs no fork child, or the time is up. A replica can report its link
/// up a moment before its primary has reaped the child that produced its RDB; a `SAVE` or
/// `BGSAVE` in that moment fails with "Background save already in progress".
pub(super) async fn wait_no_fork(name: &str, addr: &Addr, timeout: Duration) -> Result<(), String> {
    wait_until(name, addr, timeout, |s| !s.bgsave_in_progress)
        .await
        .map(drop)
}

async fn wait_until(
    name: &str,
    addr: &Addr,
    timeout: Duration,
    done: impl Fn(&ReplState) -> bool,
) -> Result<ReplState, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match probe(name, addr).await {
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

    #[test]
    fn reads_the_readiness_fields() {
        let s = ReplState::from_info(
            "# Persistence\r\nloading:0\r\n# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\n\
             master_link_status:up\r\nmaster_sync_in_progress:0\r\n",
        );
        assert!(s.is_synced_replica());
        let s = ReplState::from_info("role:slave\r\nmaster_link_status:down\r\n");
        assert!(!s.is_synced_replica());
        assert_eq!(s.describe(), "role=slave link=down sync=0");
        let s = ReplState::from_info("role:master\r\nloading:1\r\n");
        assert!(!s.is_synced_replica());
        assert_eq!(s.describe(), "role=master loading=1");
        let s = ReplState::from_info("role:master\r\nrdb_bgsave_in_progress:1\r\n");
        assert!(s.bgsave_in_progress);
        assert_eq!(s.describe(), "role=master bgsave=1");
    }
}
