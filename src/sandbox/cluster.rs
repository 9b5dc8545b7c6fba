//! A sandbox Redis Cluster: `P` primaries with `R` replicas each, every server started with
//! `--cluster-enabled yes` on free loopback ports (and a cluster-bus port of its own), the
//! cluster formed by redops itself: `CLUSTER MEET`, `CLUSTER ADDSLOTSRANGE`, `CLUSTER
//! REPLICATE`, then a bounded wait until every node reports `cluster_state:ok` and the same
//! shards, and every replica is in sync.
//!
//! Nodes are `n1..nP` (the primaries, slots split evenly in order) then the replicas, `n(P+1)`
//! replicating `n1`, `n(P+2)` replicating `n2`, … A short `cluster-node-timeout` (chosen by the
//! caller) keeps failover tests fast. Killing is the sandbox's own: by PID, also on panic.

use std::str::FromStr;
use std::time::{Duration, Instant};

use super::process::free_port;
use super::ready::SANDBOX_CLIENT_NAME;
use super::{Sandbox, SandboxError, Spec};
use crate::cluster::{self, SLOTS};
use crate::config::Node;
use crate::node::{NodeClient, Timeouts};

/// How long [`Sandbox::start_cluster`] waits for the cluster to be whole and in sync.
pub const CLUSTER_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The most servers one sandbox cluster may have.
const MAX_NODES: usize = 32;

/// How a sandbox cluster is made: `primaries` shards with `replicas` replicas each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterShape {
    pub primaries: usize,
    pub replicas: usize,
    /// `cluster-node-timeout`: how long a node may be silent before it is suspected.
    pub node_timeout: Duration,
}

impl ClusterShape {
    /// The node timeout of `redops sandbox --cluster` and the demo: long enough for a busy
    /// laptop, short enough to watch a failover happen.
    pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(3);

    /// Every server of the cluster.
    #[must_use]
    pub fn total(self) -> usize {
        self.primaries * (1 + self.replicas)
    }

    /// The slot range of the `i`th primary: 16384 slots split evenly, in order.
    #[must_use]
    pub fn slots_of(self, i: usize) -> (u16, u16) {
        let n = self.primaries.max(1);
        let at = |k: usize| u16::try_from(k * usize::from(SLOTS) / n).unwrap_or(SLOTS);
        (at(i), at(i + 1).saturating_sub(1))
    }
}

impl FromStr for ClusterShape {
    type Err = String;

    /// `PxR`, e.g. `3x1`: 3 primaries with 1 replica each.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hint = "give PRIMARIESxREPLICAS, e.g. 3x1 (3 primaries, 1 replica each)";
        let (p, r) = s
            .trim()
            .split_once(['x', 'X'])
            .ok_or_else(|| format!("'{s}' is not a cluster shape\n  hint: {hint}"))?;
        let num = |v: &str, what: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("'{v}' in '{s}' is not a number of {what}\n  hint: {hint}"))
        };
        let shape = Self {
            primaries: num(p, "primaries")?,
            replicas: num(r, "replicas")?,
            node_timeout: Self::DEFAULT_NODE_TIMEOUT,
        };
        if shape.primaries == 0 {
            return Err(format!(
                "'{s}': a cluster needs at least one primary\n  hint: {hint}"
            ));
        }
        if shape.total() > MAX_NODES {
            return Err(format!(
                "'{s}' makes {} servers; a sandbox cluster has at most {MAX_NODES}\n  hint: {hint}",
                shape.total()
            ));
        }
        Ok(shape)
    }
}

impl Sandbox {
    /// Starts a cluster of `shape` (see the module doc for names and slots) and waits, at most
    /// [`CLUSTER_READY_TIMEOUT`], until it is whole: `cluster_state:ok` on every node, every
    /// node seeing every other with the intended roles, every replica in sync. `spec` gives
    /// the binary, extra arguments, a password and the group name; `replicas`, `chain`, `tls`
    /// and `names` do not apply. Whatever was started is stopped again on error.
    ///
    /// # Errors
    /// No binary, a server older than 7.0 (no `cluster-port`), TLS asked for, a spawn
    /// failure, or a cluster that did not form in time.
    pub async fn start_cluster(shape: ClusterShape, spec: &Spec) -> Result<Self, SandboxError> {
        if spec.tls {
            return Err(SandboxError::InvalidSpec(
                "a sandbox cluster does not run TLS\n  hint: drop --tls".into(),
            ));
        }
        if spec.sentinels > 0 {
            return Err(SandboxError::InvalidSpec(
                "sentinels watch a primary and its replicas, not a Redis Cluster (its nodes fail \
                 over by themselves)\n  hint: drop --sentinels or --cluster"
                    .into(),
            ));
        }
        let mut sb = Self::empty(spec)?;
        if !sb.is_at_least_redis_7() {
            return Err(SandboxError::InvalidSpec(format!(
                "a sandbox cluster needs Redis 7.0 or later (or Valkey) for its cluster-bus \
                 ports; this is {}\n  hint: pass --server-bin with a newer server",
                sb.server_version().unwrap_or_else(|| "unknown".into())
            )));
        }
        sb.cluster = Some(shape);
        let timeout_ms = shape.node_timeout.as_millis().to_string();
        for i in 0..shape.total() {
            let bus = free_port().to_string();
            let args = [
                "--cluster-enabled",
                "yes",
                "--cluster-node-timeout",
                &timeout_ms,
                "--cluster-port",
                &bus,
                // A replica always stands for election, however long its primary was away:
                // the sandbox is for watching failovers.
                "--cluster-replica-validity-factor",
                "0",
            ];
            sb.spawn_node(&format!("n{}", i + 1), None, &args, None)
                .await?;
            if i >= shape.primaries {
                let primary = format!("n{}", (i - shape.primaries) % shape.primaries + 1);
                if let Some(n) = sb.nodes.last_mut() {
                    n.replica_of = Some(primary);
                }
            }
        }
        sb.form_cluster(shape).await?;
        Ok(sb)
    }

    /// MEET, ADDSLOTSRANGE, REPLICATE, then the wait.
    async fn form_cluster(&self, shape: ClusterShape) -> Result<(), SandboxError> {
        let deadline = Instant::now() + CLUSTER_READY_TIMEOUT;
        let nodes: Vec<Node> = self.nodes.iter().map(super::ServerProcess::node).collect();
        let mut clients = Vec::new();
        for n in &nodes {
            clients.push(client(n)?);
        }
        let mut ids = Vec::new();
        for (c, n) in clients.iter_mut().zip(&nodes) {
            let id: String = c
                .query(redis::cmd("CLUSTER").arg("MYID"))
                .await
                .map_err(|e| failed(n, "CLUSTER MYID", &e))?;
            ids.push(id);
        }
        let first = clients
            .first_mut()
            .ok_or_else(|| SandboxError::InvalidSpec("a cluster needs at least one node".into()))?;
        for (proc, n) in self.nodes.iter().zip(&nodes).skip(1) {
            let bus = bus_port(proc)?;
            let mut cmd = redis::cmd("CLUSTER");
            cmd.arg("MEET").arg("127.0.0.1").arg(proc.port).arg(bus);
            first
                .query::<()>(&cmd)
                .await
                .map_err(|e| failed(n, "CLUSTER MEET", &e))?;
        }
        for i in 0..shape.primaries {
            let (start, end) = shape.slots_of(i);
            add_slots(&mut clients[i], &nodes[i], start, end).await?;
        }
        wait(deadline, &nodes, |r| everyone_known(r, nodes.len())).await?;
        for i in shape.primaries..shape.total() {
            let primary = (i - shape.primaries) % shape.primaries;
            let mut cmd = redis::cmd("CLUSTER");
            cmd.arg("REPLICATE").arg(&ids[primary]);
            clients[i]
                .query::<()>(&cmd)
                .await
                .map_err(|e| failed(&nodes[i], "CLUSTER REPLICATE", &e))?;
        }
        let expect = |r: &cluster::NodeReport| whole(r, shape, &ids);
        wait(deadline, &nodes, expect).await?;
        for proc in self.nodes.iter().skip(shape.primaries) {
            let left = deadline.saturating_duration_since(Instant::now());
            self.wait_synced(&proc.name, left).await?;
        }
        Ok(())
    }
}

pub(super) fn client(n: &Node) -> Result<NodeClient, SandboxError> {
    let timeouts = Timeouts {
        connect: Duration::from_secs(1),
        read: Duration::from_secs(5),
    };
    NodeClient::new(n, timeouts, SANDBOX_CLIENT_NAME).map_err(|e| failed(n, "connect", &e))
}

pub(super) fn failed(n: &Node, what: &str, e: &dyn std::fmt::Display) -> SandboxError {
    SandboxError::Cluster(format!("{what} on '{}' ({}): {e}", n.name, n.addr))
}

/// The cluster-bus port the sandbox gave a server (`--cluster-port`), read from its arguments.
pub(super) fn bus_port(p: &super::ServerProcess) -> Result<u16, SandboxError> {
    p.launch_args()
        .windows(2)
        .find(|w| w[0] == "--cluster-port")
        .and_then(|w| w[1].parse().ok())
        .ok_or_else(|| SandboxError::Cluster(format!("'{}' has no cluster-bus port", p.name)))
}

/// `CLUSTER ADDSLOTSRANGE` (7.0+).
pub(super) async fn add_slots(
    c: &mut NodeClient,
    n: &Node,
    start: u16,
    end: u16,
) -> Result<(), SandboxError> {
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("ADDSLOTSRANGE").arg(start).arg(end);
    c.query::<()>(&cmd)
        .await
        .map_err(|e| failed(n, "CLUSTER ADDSLOTSRANGE", &e))
}

/// Every node knows `total` nodes, each with an address and past the handshake.
pub(super) fn everyone_known(r: &cluster::NodeReport, total: usize) -> bool {
    r.nodes.nodes.len() == total
        && r.nodes
            .nodes
            .iter()
            .all(|n| !n.flags.handshake && !n.flags.noaddr && n.port != 0)
}

/// `cluster_state:ok`, and the shards as made: primary `i` with its slots, each replica
/// following its primary, nobody failed or suspected.
fn whole(r: &cluster::NodeReport, shape: ClusterShape, ids: &[String]) -> bool {
    if r.info.state_ok != Some(true) || !everyone_known(r, shape.total()) {
        return false;
    }
    ids.iter().enumerate().all(|(i, id)| {
        let Some(n) = r.nodes.by_id(id) else {
            return false;
        };
        if n.flags.fail || n.flags.pfail {
            return false;
        }
        if i < shape.primaries {
            let (start, end) = shape.slots_of(i);
            n.flags.primary && n.slots == [cluster::SlotRange { start, end }]
        } else {
            let primary = &ids[(i - shape.primaries) % shape.primaries];
            n.flags.replica && n.primary_id.as_ref() == Some(primary)
        }
    })
}

/// Polls every node's cluster view until `done` holds for all of them, or the deadline.
pub(super) async fn wait(
    deadline: Instant,
    nodes: &[Node],
    done: impl Fn(&cluster::NodeReport) -> bool,
) -> Result<(), SandboxError> {
    let mut clients = Vec::new();
    for n in nodes {
        clients.push(client(n)?);
    }
    loop {
        let mut lagging = None;
        for (c, n) in clients.iter_mut().zip(nodes) {
            let r = cluster::read(c).await;
            if !done(&r) {
                lagging = Some((n, r));
                break;
            }
        }
        let Some((n, r)) = lagging else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            let why = r.error.clone().unwrap_or_else(|| {
                format!(
                    "cluster_state {}, {} node(s) known",
                    match r.info.state_ok {
                        Some(true) => "ok",
                        Some(false) => "fail",
                        None => "unknown",
                    },
                    r.nodes.nodes.len()
                )
            });
            return Err(SandboxError::Cluster(format!(
                "'{}' ({}) is not part of a whole cluster after {}s: {why}",
                n.name,
                n.addr,
                CLUSTER_READY_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse_with_clear_errors() {
        let s: ClusterShape = "3x1".parse().expect("3x1");
        assert_eq!((s.primaries, s.replicas, s.total()), (3, 1, 6));
        assert_eq!(s.slots_of(0), (0, 5460));
        assert_eq!(s.slots_of(1), (5461, 10921));
        assert_eq!(s.slots_of(2), (10922, 16383));
        let one: ClusterShape = "1X0".parse().expect("1x0");
        assert_eq!(one.slots_of(0), (0, 16383));
        for bad in ["3", "x1", "3x", "0x1", "ax1", "3x-1", "20x1"] {
            let e = bad.parse::<ClusterShape>().expect_err(bad);
            assert!(e.contains("hint: "), "{bad}: {e}");
        }
    }
}
