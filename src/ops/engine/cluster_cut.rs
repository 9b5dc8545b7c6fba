//! The cluster cut (`snapshot --all`): every primary's RDB downloaded at once, each transfer
//! a fork of its primary, optionally under a bounded `CLIENT PAUSE WRITE` on every primary
//! that is lifted as soon as every transfer has begun, and on every other path (a refused
//! pause, a failed transfer, the bound reached). Then one cluster manifest.
//!
//! A transfer "begins" when its payload header arrives: a diskless transfer's header is
//! written by the fork, a disk-based one's after the fork's save. Either way the file holds
//! the primary's data as of a moment before it: with the pause, a moment inside the pause.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::backup::cluster::{self as cb, ClusterManifest, ClusterShard};

use super::super::error::{OpsError, OpsResult};
use super::super::next_step::NextStep;
use super::super::plan::{PlanNode, StepKind};
use super::super::redis_ops::{Command, ConfigParam, DownloadSummary, RedisOps, Reply};
use super::super::snapshot::cluster::CutShard;
use super::{ms, Run, RunEvent};

/// How often the pause watcher looks at the transfers.
const WATCH_POLL: Duration = Duration::from_millis(1);

/// What the transfers told, shared with their progress callbacks.
struct Marks {
    began: Mutex<Vec<Option<Instant>>>,
    ended: Vec<AtomicBool>,
}

impl Marks {
    fn new(n: usize) -> Self {
        Self {
            began: Mutex::new(vec![None; n]),
            ended: (0..n).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    fn begin(&self, k: usize) {
        if let Ok(mut b) = self.began.lock() {
            if let Some(slot) = b.get_mut(k) {
                slot.get_or_insert_with(Instant::now);
            }
        }
    }

    fn began(&self) -> Vec<Option<Instant>> {
        self.began.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// Every transfer has begun or ended.
    fn settled(&self) -> bool {
        let began = self.began();
        began.len() == self.ended.len()
            && began
                .iter()
                .zip(&self.ended)
                .all(|(b, e)| b.is_some() || e.load(Ordering::SeqCst))
    }
}

impl<O: RedisOps> Run<'_, O> {
    /// The cut; its detail names the cluster manifest written.
    pub(super) async fn cluster_cut(
        &mut self,
        shards: &[CutShard],
        pause_ms: Option<u64>,
    ) -> OpsResult<String> {
        let plan = self.plan;
        let Some(dir) = plan.download_dir.clone() else {
            return Err(OpsError::usage(
                "a cluster cut was planned without a directory",
            ));
        };
        let nodes: Vec<PlanNode> = shards.iter().map(|s| plan.nodes[s.node].clone()).collect();
        let first_pause = Instant::now();
        let paused = match pause_ms {
            Some(ms) => {
                self.fork_within(shards, ms).await?;
                self.pause_every(shards, ms).await?
            }
            None => Vec::new(),
        };
        for n in &nodes {
            self.event(RunEvent::DownloadStarted {
                node: n.name.clone(),
                path: dir.display().to_string(),
            });
        }
        let marks = Marks::new(nodes.len());
        let budget = plan.budgets.download;
        let ops = self.ops;
        let downloads = futures::future::join_all(nodes.iter().enumerate().map(|(k, n)| {
            let (marks, dir) = (&marks, &dir);
            async move {
                let mut progress = |_: u64, _: Option<u64>| marks.begin(k);
                let r = ops.download_rdb(n, dir, budget, &mut progress).await;
                marks.ended[k].store(true, Ordering::SeqCst);
                r
            }
        }));
        let bound = pause_ms.map(Duration::from_millis);
        let paused_nodes: Vec<PlanNode> = paused.iter().map(|&i| plan.nodes[i].clone()).collect();
        let watch = async {
            let bound = bound?;
            // Bounded by the pause itself: past it the server has resumed writes anyway.
            while !marks.settled() && first_pause.elapsed() < bound {
                tokio::time::sleep(WATCH_POLL).await;
            }
            let unpause_sent = Instant::now();
            let mut replies = Vec::new();
            for n in &paused_nodes {
                replies.push((n.name.clone(), ops.send(n, &Command::ClientUnpause).await));
            }
            Some((unpause_sent, replies, Instant::now()))
        };
        let (results, unpaused) = tokio::join!(downloads, watch);
        let mut unpause_failed = Vec::new();
        if let Some((_, replies, lifted)) = &unpaused {
            for (name, r) in replies {
                let shown = match r {
                    Ok(reply) => reply.summary(),
                    Err(e) => format!("error: {e}"),
                };
                if !r.as_ref().is_ok_and(super::super::redis_ops::Reply::is_ok) {
                    unpause_failed.push(format!("{name} ({shown})"));
                }
                self.journal
                    .exchange(format!("{name}: {}", Command::ClientUnpause), shown);
            }
            // From the first CLIENT PAUSE sent to the last CLIENT UNPAUSE answered.
            self.st.pause_ms = Some(ms(*lifted - first_pause));
        }
        if !unpause_failed.is_empty() {
            self.warnings.push(format!(
                "CLIENT UNPAUSE was not acknowledged by {}: their pause ends by its bound",
                unpause_failed.join(", ")
            ));
        }
        let began = marks.began();
        let files = self.check_transfers(&nodes, results)?;
        if let (Some(bound), Some((unpause_sent, _, _))) = (bound, &unpaused) {
            late_for_pause(&nodes, &began, first_pause, *unpause_sent, bound)?;
        }
        self.write_cluster_manifest(shards, &nodes, &files, &began, pause_ms)
    }

    /// Each transfer's verified-or-failed event; the files, or the first failure naming its
    /// shard.
    fn check_transfers(
        &mut self,
        nodes: &[PlanNode],
        results: Vec<OpsResult<DownloadSummary>>,
    ) -> OpsResult<Vec<DownloadSummary>> {
        let mut files = Vec::new();
        let mut failed = Vec::new();
        for (n, r) in nodes.iter().zip(results) {
            match r {
                Ok(d) => {
                    self.event(RunEvent::DownloadVerified {
                        node: n.name.clone(),
                        path: d.path.display().to_string(),
                        bytes: d.bytes,
                        crc_ok: d.crc_ok,
                        detail: d.detail.clone(),
                    });
                    files.push(d);
                }
                Err(e) => {
                    self.event(RunEvent::DownloadFailed {
                        node: n.name.clone(),
                        error: e.message.clone(),
                    });
                    failed.push(format!("{}: {}", n.name, e.message));
                }
            }
        }
        if failed.is_empty() {
            Ok(files)
        } else {
            Err(OpsError::failed(format!(
                "the RDB download of shard {} failed, so no cluster backup was written",
                failed.join("; ")
            )))
        }
    }

    fn write_cluster_manifest(
        &mut self,
        shards: &[CutShard],
        nodes: &[PlanNode],
        files: &[DownloadSummary],
        began: &[Option<Instant>],
        pause_ms: Option<u64>,
    ) -> OpsResult<String> {
        let first = began.iter().flatten().min().copied();
        let last = began.iter().flatten().max().copied();
        let spread = match (first, last) {
            (Some(a), Some(b)) => ms(b - a),
            _ => 0,
        };
        let mut out = Vec::new();
        for ((s, n), (d, b)) in shards.iter().zip(nodes).zip(files.iter().zip(began)) {
            out.push(ClusterShard {
                node: n.name.clone(),
                addr: n.addr.to_string(),
                node_id: s.node_id.clone(),
                slot_count: s
                    .slots
                    .iter()
                    .map(|&(a, b)| u32::from(b.saturating_sub(a)) + 1)
                    .sum(),
                slots: s.slots.clone(),
                file: d.path.clone(),
                manifest: crate::node::rdb::manifest_path(&d.path),
                bytes: d.bytes,
                crc_ok: d.crc_ok,
                keys: cb::keys_in_rdb(&d.path),
                began_after_ms: match (first, b) {
                    (Some(a), Some(b)) => ms(*b - a),
                    _ => 0,
                },
            });
        }
        let total_keys = out.iter().map(|s| s.keys).sum::<Option<u64>>();
        let (taken_at, taken_at_unix_ms) = cb::now_stamp();
        let manifest = ClusterManifest {
            manifest_version: cb::CLUSTER_MANIFEST_VERSION,
            group: self.plan.group.clone(),
            taken_at,
            taken_at_unix_ms,
            pause_bound_ms: pause_ms,
            paused_ms: pause_ms.and(self.st.pause_ms),
            spread_ms: spread,
            shards: out,
            total_keys,
            restore_test: None,
        };
        let Some(dir) = self.plan.download_dir.as_deref() else {
            return Err(OpsError::usage(
                "a cluster cut was planned without a directory",
            ));
        };
        let path = cb::write_new(dir, &manifest).map_err(OpsError::failed)?;
        let keys = total_keys.map_or_else(|| "keys unknown".to_string(), |k| format!("{k} keys"));
        let paused = match manifest.paused_ms {
            Some(p) => format!("writes paused {p} ms"),
            None => "no pause".to_string(),
        };
        Ok(format!(
            "cluster backup {} at {}: {} shards, {keys}, cut spread {spread} ms, {paused}",
            crate::backup::catalog::id_for(&path),
            path.display(),
            manifest.shards.len()
        ))
    }

    /// Refuses a pause that would end before a primary forks for its transfer: a diskless
    /// sync waits `repl-diskless-sync-delay` seconds, then up to a second more for the
    /// server's cron (Redis 7.0's default is 5 s). A setting that cannot be read (an ACL
    /// without `+config|get`) is a warning: the transfers' own timing then decides.
    async fn fork_within(&mut self, shards: &[CutShard], pause_ms: u64) -> OpsResult<()> {
        let mut slow = Vec::new();
        for s in shards {
            let name = self.plan.name(s.node).to_string();
            let diskless = self
                .send(s.node, Command::ConfigGet(ConfigParam::ReplDisklessSync))
                .await;
            let delay = self
                .send(
                    s.node,
                    Command::ConfigGet(ConfigParam::ReplDisklessSyncDelay),
                )
                .await;
            match (diskless, delay) {
                (Ok(Reply::Text(d)), Ok(Reply::Text(secs))) => {
                    let secs: u64 = secs.trim().parse().unwrap_or(0);
                    let worst = secs.saturating_add(1).saturating_mul(1000);
                    if d.trim() == "yes" && secs > 0 && worst >= pause_ms {
                        slow.push(format!("{name} (repl-diskless-sync-delay {secs})"));
                    }
                }
                _ => self.warnings.push(format!(
                    "the fork delay of {name} could not be read (CONFIG GET repl-diskless-sync-delay): \
                     a transfer that begins after the pause fails the cut"
                )),
            }
        }
        if slow.is_empty() {
            return Ok(());
        }
        Err(OpsError::failed(format!(
            "{}: a primary forks for a diskless transfer only after its delay (and up to a \
             second more), so a {pause_ms} ms pause would end first; nothing was paused or \
             downloaded. Give a longer --pause, set repl-diskless-sync-delay 0 on the primaries, \
             or snapshot without a pause",
            slow.join(", ")
        )))
    }

    /// `CLIENT PAUSE ms WRITE` on every shard's primary; the nodes paused. A refusal lifts
    /// every pause already sent.
    async fn pause_every(&mut self, shards: &[CutShard], ms: u64) -> OpsResult<Vec<usize>> {
        let mut paused = Vec::new();
        for s in shards {
            match self
                .try_ok(s.node, Command::ClientPause { ms, write: true })
                .await
            {
                Ok(()) => paused.push(s.node),
                Err((error, pending)) => {
                    if pending {
                        paused.push(s.node);
                    }
                    self.unpause_every(&paused).await;
                    return Err(OpsError::failed(format!(
                        "{error}; every pause sent was lifted, nothing was downloaded"
                    )));
                }
            }
        }
        Ok(paused)
    }

    /// What follows a failed cut: no role was touched, so nothing is to be repaired.
    pub(super) fn cut_next_step(&self) -> Option<NextStep> {
        self.plan
            .steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::ClusterCut { .. }))
            .then(|| NextStep {
                action: None,
                node: None,
                source: None,
                why: "no role changed and no write pause is left (a pause not lifted ends by \
                      its bound); a transfer that finished is a node backup, not a cluster \
                      backup: deal with the cause above and take the cluster snapshot again"
                    .to_string(),
            })
    }

    /// `CLIENT UNPAUSE` on each node (a failure is a warning: the pause ends by its bound).
    async fn unpause_every(&mut self, nodes: &[usize]) {
        for &n in nodes {
            if let Err((e, _)) = self.try_ok(n, Command::ClientUnpause).await {
                self.warnings
                    .push(format!("{e}: its pause ends by its bound"));
            }
        }
    }
}

/// Fails naming the shards whose transfer began after the pause (lifted or expired).
fn late_for_pause(
    nodes: &[PlanNode],
    began: &[Option<Instant>],
    first_pause: Instant,
    unpause_sent: Instant,
    bound: Duration,
) -> OpsResult<()> {
    let late: Vec<&str> = nodes
        .iter()
        .zip(began)
        .filter(|(_, b)| b.is_none_or(|b| b > unpause_sent || b - first_pause >= bound))
        .map(|(n, _)| n.name.as_str())
        .collect();
    if late.is_empty() {
        return Ok(());
    }
    Err(OpsError::failed(format!(
        "the transfer of {} began after the {} ms pause had ended: these files are not one \
         paused cut, so no cluster backup was written",
        late.join(", "),
        bound.as_millis()
    ))
    .hint("give a longer --pause, or lower repl-diskless-sync-delay on the primaries"))
}
