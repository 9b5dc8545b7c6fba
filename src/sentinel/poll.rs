//! Polling sentinels: one read-only pass over one sentinel ([`poll_one`]), every sentinel of a
//! group at once ([`poll_group`], for `status`), and one task per sentinel for the console
//! ([`SentinelPollers`]). Every command has the console's read timeout; a sentinel that does
//! not answer costs only its own task.

use std::time::{Duration, SystemTime};

use futures::future::join_all;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{reply, Seen, SentinelFeed, SentinelReport};
use crate::config::{Config, Node, Sentinel};
use crate::node::{NodeClient, Timeouts};
use crate::observe::NodeError;

/// The name redops's sentinel connections carry (visible in `CLIENT LIST` on a sentinel).
pub const SENTINEL_CLIENT_NAME: &str = "redops-sentinel";

/// A sentinel as a node to connect to: no credentials (sentinels in the config carry none).
pub(crate) fn as_node(addr: &crate::config::Addr) -> Node {
    Node {
        name: format!("sentinel {addr}"),
        addr: addr.clone(),
        username: None,
        password: None,
        tls: None,
    }
}

fn sentinel_cmd(sub: &str, master_name: &str) -> redis::Cmd {
    let mut c = redis::cmd("SENTINEL");
    c.arg(sub).arg(master_name);
    c
}

/// One pass over one sentinel: `INFO`, then what it knows of `master_name`.
///
/// # Errors
/// The sentinel did not answer, refused a command other than for an unknown master name, or
/// sent a reply of the wrong shape.
pub async fn poll_one(client: &mut NodeClient, master_name: &str) -> Result<Seen, NodeError> {
    let text: redis::Value = client.query(&redis::cmd("INFO")).await?;
    let info = reply::info(&crate::node::reply::text(text, "INFO")?);
    let shape = |e: reply::ShapeError| NodeError::Other(e.to_string());
    let master = match client
        .query::<redis::Value>(&sentinel_cmd("MASTER", master_name))
        .await
    {
        Err(NodeError::Reply(m)) if reply::is_unknown_master(&m) => None,
        Err(e) => return Err(e),
        Ok(v) => Some(reply::master(&v).map_err(shape)?),
    };
    let mut seen = Seen {
        info,
        master,
        replicas: Vec::new(),
        peers: Vec::new(),
        quorum: None,
    };
    if seen.master.is_none() {
        return Ok(seen);
    }
    let v: redis::Value = client.query(&sentinel_cmd("REPLICAS", master_name)).await?;
    seen.replicas = reply::replicas(&v).map_err(shape)?;
    let v: redis::Value = client
        .query(&sentinel_cmd("SENTINELS", master_name))
        .await?;
    seen.peers = reply::peers(&v).map_err(shape)?;
    seen.quorum = Some(
        match client
            .query::<redis::Value>(&sentinel_cmd("CKQUORUM", master_name))
            .await
        {
            Ok(v) => Ok(crate::node::reply::text(v, "SENTINEL CKQUORUM")?),
            Err(NodeError::Reply(m)) => Err(m),
            Err(e) => return Err(e),
        },
    );
    Ok(seen)
}

async fn report(
    client: &mut Result<NodeClient, NodeError>,
    group: usize,
    addr: &crate::config::Addr,
    master_name: &str,
) -> SentinelReport {
    let seen = match client {
        Ok(c) => {
            let r = poll_one(c, master_name).await;
            if r.is_err() {
                c.disconnect();
            }
            r
        }
        Err(e) => Err(e.clone()),
    };
    SentinelReport {
        group,
        addr: addr.clone(),
        seen,
        at: SystemTime::now(),
    }
}

/// Every sentinel of one group, polled at once (each bounded by the timeouts).
pub async fn poll_group(group: usize, s: &Sentinel, timeouts: Timeouts) -> Vec<SentinelReport> {
    join_all(s.addrs.iter().map(|addr| async move {
        let mut client = NodeClient::new(&as_node(addr), timeouts, SENTINEL_CLIENT_NAME);
        report(&mut client, group, addr, &s.master_name).await
    }))
    .await
}

/// Every sentinel of every group of `config`, once.
pub async fn poll_config(config: &Config) -> Vec<SentinelReport> {
    let timeouts = Timeouts::from(&config.console);
    let groups = config
        .groups
        .iter()
        .enumerate()
        .filter_map(|(i, g)| g.sentinel.as_ref().map(|s| poll_group(i, s, timeouts)));
    join_all(groups).await.into_iter().flatten().collect()
}

/// Two tasks per sentinel, one polling at the console's interval, one subscribed to its event
/// channels, both sending on one bounded channel; dropping this stops them.
#[derive(Debug)]
pub struct SentinelPollers {
    tasks: Vec<JoinHandle<()>>,
}

impl SentinelPollers {
    /// Starts a task per sentinel of every group (none for a config without Sentinel).
    #[must_use]
    pub fn spawn(config: &Config) -> (Self, mpsc::Receiver<SentinelFeed>) {
        let timeouts = Timeouts::from(&config.console);
        let every = config.console.poll_interval.max(Duration::from_millis(100));
        let all: Vec<(usize, crate::config::Addr, String)> = config
            .groups
            .iter()
            .enumerate()
            .filter_map(|(i, g)| g.sentinel.as_ref().map(|s| (i, s)))
            .flat_map(|(i, s)| {
                s.addrs
                    .iter()
                    .map(move |a| (i, a.clone(), s.master_name.clone()))
            })
            .collect();
        let (tx, rx) = mpsc::channel(all.len().max(1) * 16);
        let mut tasks = Vec::new();
        for (group, addr, name) in all {
            tasks.push(tokio::spawn(super::events::subscribe(
                group,
                addr.clone(),
                timeouts.connect,
                tx.clone(),
            )));
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                let mut client = NodeClient::new(&as_node(&addr), timeouts, SENTINEL_CLIENT_NAME);
                loop {
                    let r = report(&mut client, group, &addr, &name).await;
                    if tx.send(SentinelFeed::Report(Box::new(r))).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(every).await;
                }
            }));
        }
        (Self { tasks }, rx)
    }
}

impl Drop for SentinelPollers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
