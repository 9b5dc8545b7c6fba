//! Carrying out a drill's faults on its sandbox, through the sandbox's public API (kill,
//! restart, freeze, thaw) and plain commands to loopback servers (`REPLICAOF`, `FLUSHALL`,
//! `MSET`, `CONFIG SET dir`). What a fault means is `spec::Fault`; when it is due is
//! the engine's business. Every command runs under a timeout; a fault that cannot be carried
//! out is an error the runner ends the drill with.

use std::time::{Duration, Instant};

use crate::config::Node;
use crate::info::InfoRole;
use crate::node::{NodeClient, Timeouts};
use crate::sandbox::{Blackhole, Sandbox, ServerProcess};

use super::spec::{Fault, RestartData};
use super::writer::Writer;

/// The client name of the connections faults are sent on.
const CLIENT_NAME: &str = "redops-drill";
const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(1),
    read: Duration::from_secs(2),
};
/// `SAVE` and the fills of a drill's data take longer than a plain command.
const SLOW_COMMAND: Duration = Duration::from_secs(20);
/// Keys per `MSET` of a fill, and the size of each value.
const FILL_BATCH: u64 = 500;
const FILL_VALUE_BYTES: usize = 100;
/// How long a kill of the primary waits for its replicas to catch up first.
const CATCH_UP: Duration = Duration::from_secs(3);

/// What the faults keep between calls: the port that never answers (cut links), the nodes
/// stalled until a time.
#[derive(Debug, Default)]
pub struct Injector {
    blackhole: Option<Blackhole>,
    stalled: Vec<(Instant, String)>,
}

impl Injector {
    /// Carries out one fault. A kill of the primary first holds `writer` and lets the replicas
    /// catch up, so that the writes lost are the trainee's, not the crash's.
    ///
    /// # Errors
    /// What failed, in words.
    pub async fn inject(
        &mut self,
        sb: &mut Sandbox,
        fault: &Fault,
        writer: Option<&Writer>,
    ) -> Result<(), String> {
        let name = fault.node();
        let node = sb
            .node(name)
            .map(ServerProcess::node)
            .ok_or_else(|| format!("no node '{name}' in the sandbox"))?;
        match fault {
            Fault::Kill { .. } => {
                let primary = is_primary(&node).await;
                if let (true, Some(w)) = (primary, writer) {
                    w.hold(CATCH_UP).await;
                    catch_up(sb, &node).await;
                }
                let r = sb.kill(name).map_err(|e| e.to_string());
                if let Some(w) = writer {
                    w.resume();
                }
                r
            }
            Fault::Restart { data, .. } => {
                match data {
                    RestartData::Old => {}
                    RestartData::Same => {
                        save(&node).await?;
                    }
                    RestartData::Graceful => {
                        // The connection closes as the server exits: no reply is the answer.
                        let _ = send(&node, redis::cmd("SHUTDOWN").clone(), SLOW_COMMAND).await;
                        wait_exit(sb, name).await;
                    }
                    RestartData::No => {
                        let _ = sb.kill(name);
                        let dir = sb.node(name).map(|p| p.dir.clone()).unwrap_or_default();
                        let _ = std::fs::remove_file(dir.join("dump.rdb"));
                        let _ = std::fs::remove_dir_all(dir.join("appendonlydir"));
                    }
                }
                sb.restart(name).await.map_err(|e| e.to_string())
            }
            Fault::Freeze { .. } => sb.freeze(name).map_err(|e| e.to_string()),
            Fault::Thaw { .. } => sb.thaw(name).map_err(|e| e.to_string()),
            Fault::Slow { pause, .. } => {
                sb.freeze(name).map_err(|e| e.to_string())?;
                self.stalled
                    .push((Instant::now() + *pause, name.to_string()));
                Ok(())
            }
            Fault::BgsaveFails { .. } => {
                // A directory the server chdirs to, then taken away: its next BGSAVE cannot
                // create its temp file (root ignores permissions, so removing is the way).
                let gone = sb.dir().join(format!("{name}-gone"));
                std::fs::create_dir_all(&gone).map_err(|e| e.to_string())?;
                let dir = gone.display().to_string();
                send(
                    &node,
                    redis::cmd("CONFIG").arg("SET").arg("dir").arg(&dir).clone(),
                    TIMEOUTS.read,
                )
                .await?;
                std::fs::remove_dir_all(&gone).map_err(|e| e.to_string())
            }
            Fault::CutLink { .. } => {
                if self.blackhole.is_none() {
                    self.blackhole = Some(Blackhole::start().map_err(|e| e.to_string())?);
                }
                let port = self.blackhole.as_ref().map_or(0, |b| b.port);
                let cmd = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(port).clone();
                send(&node, cmd, TIMEOUTS.read).await
            }
            Fault::Replicaof { of, .. } => {
                let mut cmd = redis::cmd("REPLICAOF");
                match of.as_deref().and_then(|o| sb.node(o)) {
                    Some(up) => cmd.arg("127.0.0.1").arg(up.port),
                    None => cmd.arg("NO").arg("ONE"),
                };
                send(&node, cmd, TIMEOUTS.read).await
            }
            Fault::Flushall { .. } => {
                send(&node, redis::cmd("FLUSHALL").clone(), SLOW_COMMAND).await
            }
            Fault::Fill { keys, .. } => fill(&node, *keys).await,
            Fault::StopWrites { .. } => {
                if let Some(w) = writer {
                    w.hold(CATCH_UP).await;
                }
                Ok(())
            }
            Fault::Backup { .. } => {
                let config = sb.config();
                let group = config.groups.first().map_or("", |g| g.name.as_str());
                crate::node::rdb::backup(
                    &node,
                    group,
                    TIMEOUTS,
                    &config.console.backups_dir,
                    SLOW_COMMAND,
                )
                .await
                .map(|_| ())
                .map_err(|e| format!("{name}: the backup failed: {e}"))
            }
        }
    }

    /// Thaws the stalled nodes whose time has come.
    pub fn thaw_due(&mut self, sb: &Sandbox) {
        let now = Instant::now();
        self.stalled.retain(|(until, name)| {
            if *until <= now {
                let _ = sb.thaw(name);
                false
            } else {
                true
            }
        });
    }
}

/// `SAVE` on `node`: its snapshot on disk holds what it has now.
///
/// # Errors
/// The node cannot be reached or the save failed, in words.
pub async fn save(node: &Node) -> Result<(), String> {
    send(node, redis::cmd("SAVE").clone(), SLOW_COMMAND).await
}

/// Fills `keys` keys `drill:data:N` of [`FILL_VALUE_BYTES`] bytes with `MSET`s, which the
/// replicas receive too (`DEBUG POPULATE` is not replicated).
///
/// # Errors
/// The node refused or did not answer.
pub async fn fill(node: &Node, keys: u64) -> Result<(), String> {
    let mut c = NodeClient::new(node, TIMEOUTS, CLIENT_NAME).map_err(|e| e.to_string())?;
    let value = "x".repeat(FILL_VALUE_BYTES);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut start = 0;
    while start < keys {
        let end = (start + FILL_BATCH).min(keys);
        let mut cmd = redis::cmd("MSET");
        for i in start..end {
            cmd.arg(format!("drill:data:{stamp}:{i}")).arg(&value);
        }
        c.query_with_timeout::<redis::Value>(&cmd, SLOW_COMMAND)
            .await
            .map_err(|e| format!("{}: {e}", node.name))?;
        start = end;
    }
    Ok(())
}

async fn send(node: &Node, cmd: redis::Cmd, timeout: Duration) -> Result<(), String> {
    let mut c = NodeClient::new(node, TIMEOUTS, CLIENT_NAME).map_err(|e| e.to_string())?;
    c.query_with_timeout::<redis::Value>(&cmd, timeout)
        .await
        .map(|_| ())
        .map_err(|e| format!("{}: {e}", node.name))
}

async fn is_primary(node: &Node) -> bool {
    let Ok(mut c) = NodeClient::new(node, TIMEOUTS, CLIENT_NAME) else {
        return false;
    };
    c.info()
        .await
        .is_ok_and(|(i, _)| i.replication.role == Some(InfoRole::Primary))
}

/// Waits (bounded: a save on shutdown of a drill's data takes well under this) until the
/// node's process has exited.
async fn wait_exit(sb: &Sandbox, name: &str) {
    let deadline = Instant::now() + SLOW_COMMAND;
    while sb.node(name).is_some_and(ServerProcess::is_running) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (bounded) until every running replica of `primary` has applied its offset.
async fn catch_up(sb: &Sandbox, primary: &Node) {
    let deadline = Instant::now() + CATCH_UP;
    let Ok(mut p) = NodeClient::new(primary, TIMEOUTS, CLIENT_NAME) else {
        return;
    };
    let Ok((info, _)) = p.info().await else {
        return;
    };
    let Some(target) = info.replication.offset else {
        return;
    };
    let others: Vec<Node> = sb
        .nodes()
        .iter()
        .filter(|n| n.name != primary.name && n.is_running() && !n.is_frozen())
        .map(ServerProcess::node)
        .collect();
    for n in others {
        while Instant::now() < deadline {
            let Ok(mut c) = NodeClient::new(&n, TIMEOUTS, CLIENT_NAME) else {
                break;
            };
            match c.info().await {
                // A replica whose link is down cannot catch up: what it misses is the
                // incident's, not the crash's.
                Ok((i, _))
                    if i.replication.role == Some(InfoRole::Replica)
                        && i.replication.link_up == Some(true) =>
                {
                    if i.replication.replica_offset.is_some_and(|o| o >= target) {
                        break;
                    }
                }
                _ => break,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
