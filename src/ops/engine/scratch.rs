//! The restore's steps (`ops::restore`): the scratch server started through [`RedisOps`]
//! and compared with the manifest, the node pointed at it, its full sync waited for and its
//! keys compared with the scratch server's, and the scratch server stopped by PID. The
//! detach is the ordinary promotion step; the undo of each change is in `rollback.rs`.

use std::time::Duration;

use tokio::time::Instant;

use crate::backup::restore::Expected;
use crate::config::Addr;
use crate::info::{Info, InfoRole};
use crate::node::rdb::DbCount;

use super::super::error::{OpsError, OpsResult};
use super::super::redis_ops::{Command, ConfigParam, InfoSection, RedisOps, Reply, ScratchRequest};
use super::before::DOWNLOAD_PROGRESS_EVERY;
use super::journal::Every;
use super::state::Change;
use super::steps::{follows, WAIT_POLL};
use super::{ms, Run, RunEvent};

impl<O: RedisOps> Run<'_, O> {
    /// Starts the scratch server loaded with `rdb`; its keys per database must be what the
    /// manifest allows.
    pub(super) async fn start_scratch(
        &mut self,
        node: usize,
        req: &ScratchRequest,
        expected: Option<&Expected>,
    ) -> OpsResult<String> {
        let s = self.ops.start_scratch(req).await?;
        self.st.did(Change::ScratchStarted(node));
        let keys: u64 = s.loaded.iter().map(|d| d.keys).sum();
        self.event(RunEvent::ScratchStarted {
            node: self.plan.name(node).to_string(),
            addr: s.addr.to_string(),
            pid: s.pid,
            server: s.server.clone(),
            keys,
            load_ms: s.load_ms,
        });
        let words = format!(
            "{} on {} (pid {}) loaded {keys} keys in {} ms",
            s.server, s.addr, s.pid, s.load_ms
        );
        if let Some(e) = expected {
            let problems = e.problems(&s.loaded);
            if !problems.is_empty() {
                return Err(OpsError::failed(format!(
                    "the backup does not hold what its manifest says: {}",
                    problems.join("; ")
                )));
            }
        }
        Ok(match expected {
            Some(_) => format!("{words}: keys per db as the manifest says"),
            None => format!("{words} (no manifest: these counts are the reference)"),
        })
    }

    /// The node's `masterauth`, when it has one: read without the journal (it is a secret);
    /// the audit log says only whether it is set. Not readable (no `+config|get`): none.
    pub(super) async fn master_auth(&mut self, node: usize) -> Option<crate::config::Secret> {
        let n = &self.plan.nodes[node];
        let got = self
            .ops
            .send(n, &Command::ConfigGet(ConfigParam::MasterAuth))
            .await;
        let (secret, said) = match got {
            Ok(Reply::Text(s)) if !s.is_empty() => (
                Some(crate::config::Secret::new(s)),
                "set: the scratch server requires it".to_string(),
            ),
            Ok(_) => (None, "not set".to_string()),
            Err(e) => (
                None,
                format!("not read ({e}): the scratch server has no password"),
            ),
        };
        self.journal
            .exchange(format!("{}: CONFIG GET masterauth", n.name), said);
        secret
    }

    /// What would keep the node from syncing from a plain scratch server with only the default
    /// user, read before anything starts: replication over TLS, an ACL user for replication.
    /// A setting that cannot be read is no reason to stop (the sync's deadline still holds).
    pub(super) async fn scratch_reachable(&mut self, node: usize) -> OpsResult<()> {
        let name = self.plan.name(node).to_string();
        let get = async |run: &mut Self, p: ConfigParam| match run
            .send(node, Command::ConfigGet(p))
            .await
        {
            Ok(Reply::Text(v)) => v,
            _ => String::new(),
        };
        if get(self, ConfigParam::TlsReplication)
            .await
            .eq_ignore_ascii_case("yes")
        {
            return Err(OpsError::failed(format!(
                "{name} replicates over TLS (tls-replication yes) and the scratch server has no TLS: \
                 nothing was changed; restore it offline"
            )));
        }
        let user = get(self, ConfigParam::MasterUser).await;
        if !user.is_empty() {
            return Err(OpsError::failed(format!(
                "{name} authenticates to its primary as the ACL user '{user}' (masteruser) and the \
                 scratch server knows only the default user: nothing was changed; restore it offline"
            )));
        }
        Ok(())
    }

    /// `REPLICAOF <listen>` on the node.
    pub(super) async fn follow_scratch(&mut self, node: usize, listen: &Addr) -> OpsResult<String> {
        // Recorded before it is sent: a command that goes unanswered may still run.
        self.st.did(Change::FollowsScratch(node));
        self.expect_ok(node, Command::ReplicaOf(Some(listen.clone())))
            .await?;
        Ok(format!(
            "{} replicates from the scratch server on {listen}",
            self.plan.name(node)
        ))
    }

    /// Reads the scratch server, then the node, until the node follows it with its link up,
    /// no sync running and its offset at least the scratch server's (read first); then its
    /// keys per database must be the scratch server's as read in the same round. Keys that
    /// expire meanwhile reach the node as `DEL`s a moment later: counts that differ are read
    /// again for [`KEYS_SETTLE`] before they fail the step.
    pub(super) async fn wait_restored(
        &mut self,
        node: usize,
        listen: &Addr,
        deadline: Duration,
    ) -> OpsResult<String> {
        let name = self.plan.name(node).to_string();
        let started = Instant::now();
        let end = started + deadline;
        let mut every = Every::new(DOWNLOAD_PROGRESS_EVERY);
        let mut last: String;
        let mut synced_at: Option<Instant> = None;
        loop {
            let scratch = self.ops.scratch_info().await;
            let n = self.info(node, InfoSection::Default).await;
            match (scratch, n) {
                (Ok(s), Ok(i)) => {
                    let r = &i.replication;
                    let s_off = s.replication.offset.unwrap_or_default();
                    let n_off = r.replica_offset.unwrap_or_default();
                    let synced = follows(&i, listen)
                        && r.link_up == Some(true)
                        && !r.sync_in_progress
                        && n_off >= s_off;
                    if synced {
                        let since = *synced_at.get_or_insert_with(Instant::now);
                        match compare_keys(&name, &i, &s, n_off) {
                            Ok(done) => return Ok(done),
                            Err(e) if since.elapsed() >= KEYS_SETTLE => {
                                return Err(OpsError::failed(e));
                            }
                            Err(e) => last = e,
                        }
                    } else {
                        last = sync_words(&i, n_off, s_off);
                    }
                    if r.role == Some(InfoRole::Primary) {
                        return Err(OpsError::failed(format!(
                            "{name} is a primary again: something detached it from the scratch server"
                        )));
                    }
                }
                (Err(e), _) => last = format!("the scratch server: {e}"),
                (_, Err(e)) => last = format!("{name}: {e}"),
            }
            if every.pass((), Instant::now()) {
                self.event(RunEvent::SyncProgress {
                    node: name.clone(),
                    detail: last.clone(),
                    elapsed_ms: ms(started.elapsed()),
                });
            }
            if Instant::now() >= end {
                return Err(OpsError::failed(format!(
                    "{name} did not finish its sync from the scratch server within {}: {last}",
                    crate::config::format_duration(deadline)
                )));
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }

    /// Stops the scratch server; `Err` when its process is still there.
    pub(super) async fn stop_scratch(&mut self) -> OpsResult<String> {
        match self.ops.stop_scratch().await {
            None => Ok("no scratch server was running".to_string()),
            Some((pid, gone)) => {
                if let Some(n) = self.scratch_node() {
                    self.st.undid(Change::ScratchStarted(n));
                }
                self.event(RunEvent::ScratchStopped { pid, gone });
                if gone {
                    Ok(format!("the scratch server (pid {pid}) is stopped"))
                } else {
                    Err(OpsError::failed(format!(
                        "the scratch server (pid {pid}) was killed but its process is still there"
                    )))
                }
            }
        }
    }

    fn scratch_node(&self) -> Option<usize> {
        self.st.changes().iter().find_map(|c| match c {
            Change::ScratchStarted(n) => Some(*n),
            _ => None,
        })
    }
}

/// How long a synced node's keys may differ from the scratch server's (expiring keys) before
/// the step fails.
const KEYS_SETTLE: Duration = Duration::from_secs(5);

/// The node's keys per database against the scratch server's (`Err`: the difference, in words).
fn compare_keys(name: &str, node: &Info, scratch: &Info, offset: u64) -> Result<String, String> {
    let (got, want) = (DbCount::of(node), DbCount::of(scratch));
    let count = |l: &[DbCount], db: u32| l.iter().find(|d| d.db == db).map_or(0, |d| d.keys);
    let dbs: std::collections::BTreeSet<u32> = got.iter().chain(&want).map(|d| d.db).collect();
    let wrong: Vec<String> = dbs
        .iter()
        .filter(|&&db| count(&got, db) != count(&want, db))
        .map(|&db| {
            format!(
                "db{db}: {name} holds {}, the scratch server {}",
                count(&got, db),
                count(&want, db)
            )
        })
        .collect();
    if !wrong.is_empty() {
        return Err(format!(
            "{name} synced but its keys differ: {}",
            wrong.join("; ")
        ));
    }
    let total: u64 = got.iter().map(|d| d.keys).sum();
    Ok(format!(
        "{name} synced to offset {offset}; {total} keys in {}, equal to the scratch server's",
        crate::words::count(dbs.len(), "db")
    ))
}

/// How a node's sync from the scratch server stands, from its INFO: the bytes of the transfer
/// while it runs (its own offset is still its old history's then), else link and offsets.
fn sync_words(i: &Info, node_offset: u64, scratch_offset: u64) -> String {
    let r = &i.replication;
    if r.sync_in_progress {
        let human = |b: i64| crate::topology::human_bytes(u64::try_from(b).unwrap_or(0));
        return match (r.sync_read_bytes, r.sync_total_bytes) {
            (Some(read), Some(total)) if total > 0 => {
                format!("sync in progress: {} of {}", human(read), human(total))
            }
            (Some(read), _) => format!("sync in progress: {} received", human(read)),
            _ => "sync in progress".to_string(),
        };
    }
    format!(
        "link {}, offset {node_offset} of {scratch_offset}",
        if r.link_up == Some(true) {
            "up"
        } else {
            "down"
        }
    )
}
