//! The restore test of a cluster backup (`backup verify ID` of a cluster manifest): every
//! shard's file checked (CRC-64), then loaded into a scratch local cluster (one primary per
//! shard, the same slot ranges: `Sandbox::start_cluster_loaded`), and checked there: keys per
//! shard against the manifest, every slot covered and served as the manifest says,
//! `cluster_state:ok`, and a sample of keys read through the cluster, each from the node its
//! slot's owner is in the scratch cluster's own map. No scratch server outlives the test: the
//! sandbox kills them by PID when it is dropped, on every path.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::cluster::{self, key_slot};
use crate::config::Node;
use crate::node::rdb::{self, RdbError};
use crate::node::{NodeClient, Timeouts};
use crate::sandbox::{Sandbox, ShardLoad, Spec};

use super::cluster::{db0_size, ClusterManifest, ClusterRestoreTest};

const CLIENT_NAME: &str = "redops-restore-test";
/// SCAN calls per shard while sampling, at most.
const MAX_SCAN_CALLS: usize = 100;

/// Why a cluster restore test could not run.
#[derive(Debug, thiserror::Error)]
pub enum ClusterVerifyError {
    /// A shard's file is missing, truncated or corrupted: named by its shard.
    #[error("shard {shard} ({node}, slots {slots}): {error}")]
    Shard {
        shard: usize,
        node: String,
        slots: String,
        error: RdbError,
    },
    /// The scratch cluster did not start or form (a file the server could not load ...).
    #[error("the scratch cluster did not start: {0}")]
    Scratch(String),
    /// The scratch cluster did not answer.
    #[error("the scratch cluster did not answer: {0}")]
    Server(String),
}

/// What the test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterReport {
    /// Keys per shard once loaded.
    pub keys: Vec<u64>,
    pub slots_ok: Option<u32>,
    pub state_ok: bool,
    /// Keys read back through the cluster.
    pub sampled: u64,
    pub problems: Vec<String>,
    pub server_version: Option<String>,
    pub elapsed: Duration,
}

impl ClusterReport {
    #[must_use]
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// The manifest's record of this test.
    #[must_use]
    pub fn record(&self, at: SystemTime) -> ClusterRestoreTest {
        ClusterRestoreTest {
            at: rdb::rfc3339(at),
            at_unix_ms: super::cluster::unix_ms(at),
            passed: self.passed(),
            keys: self.keys.clone(),
            sampled: self.sampled,
            problems: self.problems.clone(),
        }
    }
}

fn ranges(slots: &[(u16, u16)]) -> String {
    slots
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs the restore test of `m`, reading back up to `sample` keys per shard.
///
/// # Errors
/// A shard's file is bad (named), or the scratch cluster did not start or answer.
/// Differences from the manifest are [`ClusterReport::problems`], not errors.
pub async fn verify_cluster(
    m: &ClusterManifest,
    server_bin: Option<&Path>,
    sample: usize,
) -> Result<ClusterReport, ClusterVerifyError> {
    let started = Instant::now();
    for (i, s) in m.shards.iter().enumerate() {
        rdb::verify(&s.file).map_err(|error| ClusterVerifyError::Shard {
            shard: i + 1,
            node: s.node.clone(),
            slots: ranges(&s.slots),
            error,
        })?;
    }
    let loads: Vec<ShardLoad> = m
        .shards
        .iter()
        .map(|s| ShardLoad {
            rdb: s.file.clone(),
            slots: s.slots.clone(),
        })
        .collect();
    let spec = Spec {
        server_bin: server_bin.map(Path::to_path_buf),
        group: "cluster-restore-test".into(),
        ..Spec::default()
    };
    let sb = Sandbox::start_cluster_loaded(&loads, &spec)
        .await
        .map_err(|e| ClusterVerifyError::Scratch(e.message()))?;
    let nodes: Vec<Node> = sb
        .nodes()
        .iter()
        .map(crate::sandbox::ServerProcess::node)
        .collect();
    let report = check(m, &nodes, sample).await;
    // Killed by PID here, and on every early return by the drop.
    drop(sb);
    report.map(|mut r| {
        r.elapsed = started.elapsed();
        r
    })
}

async fn check(
    m: &ClusterManifest,
    nodes: &[Node],
    sample: usize,
) -> Result<ClusterReport, ClusterVerifyError> {
    let timeouts = Timeouts {
        connect: Duration::from_secs(1),
        read: Duration::from_secs(5),
    };
    let mut clients = Vec::new();
    for n in nodes {
        clients.push(
            NodeClient::new(n, timeouts, CLIENT_NAME)
                .map_err(|e| ClusterVerifyError::Server(e.to_string()))?,
        );
    }
    let mut problems = Vec::new();
    let mut keys = Vec::new();
    let mut server_version = None;
    for ((c, s), i) in clients.iter_mut().zip(&m.shards).zip(1..) {
        let (info, _) = c
            .info()
            .await
            .map_err(|e| ClusterVerifyError::Server(e.to_string()))?;
        server_version = server_version.or(info.server.version.clone());
        let loaded = info.total_keys();
        keys.push(loaded);
        // Keys with a TTL may have expired since the backup: restore's rule.
        let (want, expires) = db0_size(&s.file)
            .or(s.keys.map(|k| (k, 0)))
            .unwrap_or((loaded, 0));
        if loaded > want || loaded < want.saturating_sub(expires) {
            problems.push(format!(
                "shard {i} ({}): {loaded} keys loaded, the backup holds {want}",
                s.node
            ));
        }
        let report = cluster::read(c).await;
        let served: Vec<(u16, u16)> = report
            .nodes
            .myself()
            .map(|me| me.slots.iter().map(|r| (r.start, r.end)).collect())
            .unwrap_or_default();
        if served != s.slots {
            problems.push(format!(
                "shard {i} ({}): serves slots {} in the scratch cluster, the manifest says {}",
                s.node,
                ranges(&served),
                ranges(&s.slots)
            ));
        }
    }
    let first = cluster::read(&mut clients[0]).await;
    let state_ok = first.info.state_ok == Some(true);
    if !state_ok {
        problems.push("the scratch cluster's cluster_state is not ok".to_string());
    }
    let slots_ok = first.info.slots_ok;
    if slots_ok != Some(u32::from(cluster::SLOTS)) {
        problems.push(format!(
            "{} of {} slots are served (cluster_slots_ok)",
            slots_ok.map_or_else(|| "?".to_string(), |n| n.to_string()),
            cluster::SLOTS
        ));
    }
    let sampled = sample_reads(&mut clients, &first.nodes, sample, &mut problems).await?;
    Ok(ClusterReport {
        keys,
        slots_ok,
        state_ok,
        sampled,
        problems,
        server_version,
        elapsed: Duration::ZERO,
    })
}

/// Up to `sample` keys of each node (SCAN), each read back (EXISTS) on the node that serves
/// its slot in `map`, the scratch cluster's own: a key found elsewhere, or missing there, is
/// a problem. The number of keys read.
async fn sample_reads(
    clients: &mut [NodeClient],
    map: &cluster::NodesReply,
    sample: usize,
    problems: &mut Vec<String>,
) -> Result<u64, ClusterVerifyError> {
    let ports: Vec<u16> = clients.iter().map(|c| c.node().addr.port).collect();
    let owner = |slot: u16| {
        map.nodes
            .iter()
            .find(|n| n.slots.iter().any(|r| r.start <= slot && slot <= r.end))
            .and_then(|n| ports.iter().position(|p| *p == n.port))
    };
    let mut read = 0u64;
    for from in 0..clients.len() {
        let mut found: Vec<Vec<u8>> = Vec::new();
        let mut cursor = 0u64;
        for _ in 0..MAX_SCAN_CALLS {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(cursor).arg("COUNT").arg(100);
            let (next, batch): (u64, Vec<Vec<u8>>) = clients[from]
                .query(&cmd)
                .await
                .map_err(|e| ClusterVerifyError::Server(e.to_string()))?;
            found.extend(batch);
            cursor = next;
            if cursor == 0 || found.len() >= sample {
                break;
            }
        }
        found.truncate(sample);
        for key in found {
            let slot = key_slot(&key);
            let Some(to) = owner(slot) else {
                problems.push(format!("slot {slot} has no node in the scratch cluster"));
                continue;
            };
            let mut cmd = redis::cmd("EXISTS");
            cmd.arg(&key);
            let exists: i64 = clients[to]
                .query(&cmd)
                .await
                .map_err(|e| ClusterVerifyError::Server(e.to_string()))?;
            read += 1;
            if exists != 1 || to != from {
                problems.push(format!(
                    "key '{}' (slot {slot}) is on shard {} but its slot is served by shard {}",
                    crate::sanitize::visible(&String::from_utf8_lossy(&key)),
                    from + 1,
                    to + 1
                ));
            }
        }
    }
    Ok(read)
}

/// The audit record of the restore test of cluster backup `id` begun at `started`: the group,
/// the shards' primaries, passed or failed, and what was found.
#[must_use]
pub fn audit(
    id: &str,
    m: &ClusterManifest,
    result: Result<&ClusterReport, &ClusterVerifyError>,
    started: SystemTime,
) -> crate::audit::checks::Check {
    use crate::audit::Outcome;
    let (outcome, detail) = match result {
        Ok(r) if r.passed() => (
            Outcome::Done,
            format!(
                "cluster backup {id}: restore-tested in a scratch cluster, {} shards, {} keys, {} \
                 read back through the cluster",
                m.shards.len(),
                r.keys.iter().sum::<u64>(),
                r.sampled
            ),
        ),
        Ok(r) => (
            Outcome::Failed,
            format!(
                "cluster backup {id}: restore test FAILED: {}",
                r.problems.join("; ")
            ),
        ),
        Err(e) => (
            Outcome::Failed,
            format!("cluster backup {id}: restore test FAILED: {e}"),
        ),
    };
    crate::audit::checks::Check {
        action: crate::audit::checks::BACKUP_VERIFY,
        group: m.group.clone(),
        nodes: m.shards.iter().map(|s| s.node.clone()).collect(),
        outcome,
        detail,
        reason: None,
        pause_ms: None,
        started,
    }
}
