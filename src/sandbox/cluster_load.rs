//! A scratch cluster loaded from a cluster backup: one primary per shard, each started with
//! `--cluster-enabled yes` on a free loopback port with the shard's RDB as its `dump.rdb`
//! (a symlink, persistence off: the file is never written over), given the shard's slot
//! ranges, then met and waited on until `cluster_state:ok` (bounded). Killed by PID like every
//! sandbox server, also on panic.
//!
//! A node that loads keys of a slot nobody serves takes that slot by itself (the server's own
//! check at start); the slots it still lacks are added here, so what it ends up serving is
//! what its file and the manifest say together: `backup verify` compares that with the
//! manifest.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::cluster::{add_slots, bus_port, client, everyone_known, failed, wait};
use super::process::free_port;
use super::{ClusterShape, Sandbox, SandboxError, Spec, CLUSTER_READY_TIMEOUT};
use crate::cluster;
use crate::config::Node;

/// The scratch cluster's node timeout: nothing fails over in it.
const NODE_TIMEOUT: Duration = Duration::from_secs(5);

/// One shard to load: its RDB and the slot ranges it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardLoad {
    pub rdb: PathBuf,
    pub slots: Vec<(u16, u16)>,
}

impl Sandbox {
    /// Starts one primary per shard (`s1`, `s2`, ... in order), each loaded from its RDB and
    /// serving its slot ranges, and waits until every node knows every other and reports
    /// `cluster_state:ok`. Whatever was started is stopped again on error.
    ///
    /// # Errors
    /// No binary, a server older than 7.0, a file that cannot be linked, a server that does
    /// not start (a file it cannot load), or a cluster that is not whole in time.
    pub async fn start_cluster_loaded(
        shards: &[ShardLoad],
        spec: &Spec,
    ) -> Result<Self, SandboxError> {
        let mut sb = Self::empty(spec)?;
        if !sb.is_at_least_redis_7() {
            return Err(SandboxError::InvalidSpec(format!(
                "a scratch cluster needs Redis 7.0 or later (or Valkey); this is {}\n  hint: \
                 pass --server-bin with a newer server",
                sb.server_version().unwrap_or_else(|| "unknown".into())
            )));
        }
        sb.cluster = Some(ClusterShape {
            primaries: shards.len(),
            replicas: 0,
            node_timeout: NODE_TIMEOUT,
        });
        let timeout_ms = NODE_TIMEOUT.as_millis().to_string();
        for (i, s) in shards.iter().enumerate() {
            let name = format!("s{}", i + 1);
            let dir = sb.dir.path().join(&name);
            std::fs::create_dir_all(&dir).map_err(|e| SandboxError::io(&dir, e))?;
            let target = std::path::absolute(&s.rdb).map_err(|e| SandboxError::io(&s.rdb, e))?;
            let link = dir.join("dump.rdb");
            std::os::unix::fs::symlink(&target, &link).map_err(|e| SandboxError::io(&link, e))?;
            let bus = free_port().to_string();
            let args = [
                "--cluster-enabled",
                "yes",
                "--cluster-node-timeout",
                &timeout_ms,
                "--cluster-port",
                &bus,
                "--save",
                "",
                "--appendonly",
                "no",
            ];
            sb.spawn_node(&name, None, &args, None).await?;
        }
        sb.form_loaded(shards).await?;
        Ok(sb)
    }

    /// Each node's missing slots added, MEET, then the wait.
    async fn form_loaded(&self, shards: &[ShardLoad]) -> Result<(), SandboxError> {
        let deadline = Instant::now() + CLUSTER_READY_TIMEOUT;
        let nodes: Vec<Node> = self.nodes.iter().map(super::ServerProcess::node).collect();
        let mut clients = Vec::new();
        for n in &nodes {
            clients.push(client(n)?);
        }
        // Slots first, each node in its own view (none has met another yet): no "busy" slot.
        for ((c, n), s) in clients.iter_mut().zip(&nodes).zip(shards) {
            let own = cluster::read(c).await;
            let owned: Vec<(u16, u16)> = own
                .nodes
                .myself()
                .map(|m| m.slots.iter().map(|r| (r.start, r.end)).collect())
                .unwrap_or_default();
            for (start, end) in missing(&s.slots, &owned) {
                add_slots(c, n, start, end).await?;
            }
        }
        if let Some(first) = clients.first_mut() {
            for (proc, n) in self.nodes.iter().zip(&nodes).skip(1) {
                let bus = bus_port(proc)?;
                let mut cmd = redis::cmd("CLUSTER");
                cmd.arg("MEET").arg("127.0.0.1").arg(proc.port).arg(bus);
                first
                    .query::<()>(&cmd)
                    .await
                    .map_err(|e| failed(n, "CLUSTER MEET", &e))?;
            }
        }
        let total = nodes.len();
        wait(deadline, &nodes, |r| {
            r.info.state_ok == Some(true) && everyone_known(r, total)
        })
        .await
    }
}

/// The parts of `want` (inclusive ranges) not in `owned`, as inclusive ranges.
fn missing(want: &[(u16, u16)], owned: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let has = |slot: u16| owned.iter().any(|&(a, b)| a <= slot && slot <= b);
    let mut out: Vec<(u16, u16)> = Vec::new();
    for &(a, b) in want {
        for slot in a..=b.min(cluster::SLOTS - 1) {
            if has(slot) {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.1 + 1 == slot => last.1 = slot,
                _ => out.push((slot, slot)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::missing;

    #[test]
    fn missing_slots_are_the_ranges_minus_what_is_owned() {
        assert_eq!(missing(&[(0, 10)], &[]), [(0, 10)]);
        assert_eq!(
            missing(&[(0, 10)], &[(3, 3), (7, 8)]),
            [(0, 2), (4, 6), (9, 10)]
        );
        assert_eq!(missing(&[(0, 10)], &[(0, 16383)]), []);
        assert_eq!(missing(&[(0, 1), (5, 6)], &[(1, 5)]), [(0, 0), (6, 6)]);
    }
}
