//! The plan of `redops snapshot --all` on a cluster group: every primary's RDB downloaded at
//! once, as close to one point in time as the operator allows, and one cluster manifest.
//!
//! The cut is the fork of each primary for the download (the replication-protocol transfer is
//! a BGSAVE for SYNC: the downloaded file is exactly what that fork saw). A separate BGSAVE
//! first would be another moment than the file kept, so none is sent. With `--pause MS`
//! every primary gets `CLIENT PAUSE MS WRITE` before the transfers are asked for, and
//! `CLIENT UNPAUSE` as soon as every transfer has begun (each fork is then past), on every
//! path; without it the spread of the cut (first to last transfer begun) is measured and
//! recorded. The engine runs it as one step ([`StepKind::ClusterCut`]).
//!
//! Refused before anything is sent when the cluster is not `ok`, a slot is not covered, a
//! slot is migrating or importing (a resharding would move keys between shards during the
//! cut), or a primary cannot be read. Pure.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::ops::checks::group_guard;
use crate::ops::error::{OpsError, OpsResult};
use crate::ops::plan::{ActionKind, Budgets, Check, Plan, Step, StepKind};
use crate::ops::redis_ops::Command;
use crate::topology::Topology;

/// What `snapshot --all` asks for beyond a snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllPrimaries {
    /// `CLIENT PAUSE <ms> WRITE` on every primary while the transfers begin.
    pub pause: Option<Duration>,
}

/// The longest write pause `--pause` accepts: a cut that needs more is not a pause.
pub const MAX_PAUSE: Duration = Duration::from_secs(30);

/// One shard of the cut, as the plan saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CutShard {
    /// The primary's index in the plan's nodes.
    pub node: usize,
    /// Its cluster node id.
    pub node_id: String,
    /// Its slot ranges, inclusive.
    pub slots: Vec<(u16, u16)>,
}

/// The plan of `req` (a snapshot with `all` set): its group, into the configured backups
/// directory.
///
/// # Errors
/// As [`group_of`] and [`plan_snapshot_all`].
pub fn plan_for(
    config: &Config,
    topology: &Topology,
    req: &crate::ops::Request,
    budgets: Budgets,
) -> OpsResult<Plan> {
    let gi = group_of(config, req.group)?;
    plan_snapshot_all(
        config,
        topology,
        gi,
        req.all.unwrap_or_default(),
        config.console.backups_dir.clone(),
        budgets,
    )
}

/// The group `snapshot --all` acts on: the one asked for (the config is then scoped to it,
/// index 0), else the config's only cluster group.
///
/// # Errors
/// A usage error (exit 2) naming the choice when there is none or more than one.
pub fn group_of(config: &Config, asked: Option<usize>) -> OpsResult<usize> {
    if let Some(gi) = asked {
        return Ok(if config.groups.len() == 1 { 0 } else { gi });
    }
    if config.groups.len() == 1 {
        return Ok(0);
    }
    let clusters: Vec<usize> = (0..config.groups.len())
        .filter(|&i| config.groups[i].cluster)
        .collect();
    match clusters.as_slice() {
        [one] => Ok(*one),
        [] => Err(OpsError::usage(
            "snapshot --all takes every primary of a cluster, and no group of the config is a cluster group",
        )
        .hint("snapshot one node with `snapshot NODE`, or set cluster = true on a cluster group")),
        _ => Err(OpsError::usage(format!(
            "snapshot --all: {} groups are cluster groups, which one?",
            clusters.len()
        ))
        .hint("name it with -g GROUP")),
    }
}

/// The plan of a cluster-wide snapshot of group `group_index`.
///
/// # Errors
/// A usage error (exit 2) when the group is not a cluster group.
pub fn plan_snapshot_all(
    config: &Config,
    topology: &Topology,
    group_index: usize,
    all: AllPrimaries,
    backups_dir: PathBuf,
    budgets: Budgets,
) -> OpsResult<Plan> {
    let group = config.groups.get(group_index).ok_or_else(|| {
        OpsError::usage("snapshot --all needs a group").hint("name it with -g GROUP")
    })?;
    if !group.cluster {
        return Err(OpsError::usage(format!(
            "snapshot --all takes every primary of a cluster, and group '{}' is not a cluster group",
            group.name
        ))
        .hint("snapshot one node with `snapshot NODE`, or set cluster = true on a cluster group"));
    }
    let gt = crate::ops::group_topology(topology, group_index);
    let mut plan = Plan::new(ActionKind::Snapshot, &group.name, group_index, budgets);
    group_guard(&mut plan, group, &gt);
    plan.download_dir = Some(backups_dir);
    plan.gate_skipped = Some(
        "the transfers are the snapshot: each primary forks for its download (a BGSAVE for \
         SYNC), and the file kept is what that fork saw"
            .to_string(),
    );
    let pause_ms = all
        .pause
        .map(|p| u64::try_from(p.as_millis()).unwrap_or(u64::MAX));
    let Some(view) = gt.cluster.as_deref() else {
        plan.summary = "every primary's RDB at one cut".to_string();
        plan.checks.push(Check::fail(
            "no node of the cluster answered CLUSTER NODES: its shards are not known",
        ));
        return Ok(plan);
    };
    cluster_checks(&mut plan, view);
    let mut shards = Vec::new();
    for shard in view.shards.iter().filter(|s| s.slot_count > 0) {
        let name = &shard.primary.name;
        let Some((v, id)) = gt
            .nodes
            .iter()
            .find(|v| &v.name == name && !v.unmanaged)
            .and_then(|v| Some((v, v.id?)))
        else {
            plan.checks.push(Check::fail(format!(
                "the primary of slots {} ({name}) is not a node of group '{}'",
                crate::cluster::nodes::ranges_text(&shard.slots, 4),
                group.name
            )));
            continue;
        };
        let cfg = &group.nodes[id.node];
        let i = plan.add_node(&cfg.name, &cfg.addr, id);
        match v.info.as_ref() {
            None => plan.checks.push(Check::fail(format!(
                "{} could not be read: {}",
                cfg.name,
                v.error
                    .as_ref()
                    .map_or_else(|| "no answer".to_string(), ToString::to_string)
            ))),
            Some(info) => plan.checks.push(Check::require(
                !info.persistence.loading,
                format!("{} is not loading", cfg.name),
                format!("{} is loading its dataset", cfg.name),
            )),
        }
        shards.push(CutShard {
            node: i,
            node_id: shard.primary.id.clone(),
            slots: shard.slots.iter().map(|r| (r.start, r.end)).collect(),
        });
    }
    if shards.is_empty() {
        plan.checks
            .push(Check::fail("the cluster's map names no primary with slots"));
    }
    let names: Vec<String> = shards
        .iter()
        .map(|s| plan.name(s.node).to_string())
        .collect();
    plan.summary = match pause_ms {
        Some(ms) => format!(
            "RDB of every primary ({}) at one cut, writes paused at most {ms} ms",
            names.join(", ")
        ),
        None => format!(
            "RDB of every primary ({}) at once, without a pause (the spread of the cut is measured)",
            names.join(", ")
        ),
    };
    push_cut(&mut plan, shards, pause_ms);
    plan.notes.push(
        "each primary forks for its transfer (copy-on-write memory), all at once".to_string(),
    );
    if pause_ms.is_some() {
        plan.notes.push(
            "a transfer that has not begun when the pause ends (repl-diskless-sync-delay longer \
             than the pause, a slow fork) fails the snapshot: it would not be the paused cut"
                .to_string(),
        );
    }
    Ok(plan)
}

/// The cluster's own state: `ok`, every slot served, no slot migrating or importing.
fn cluster_checks(plan: &mut Plan, view: &crate::cluster::ClusterView) {
    plan.checks.push(Check::require(
        view.state_ok == Some(true),
        format!("cluster_state ok ({} sees it)", view.source),
        format!(
            "cluster_state is not ok on {}: a shard is down or slots fail; back up the shards \
             one by one (snapshot NODE)",
            view.source
        ),
    ));
    plan.checks.push(Check::require(
        view.uncovered.is_empty(),
        "every slot is served",
        format!(
            "slots {} are served by no primary: the backup would miss their keys",
            crate::cluster::nodes::ranges_text(&view.uncovered, 4)
        ),
    ));
    match view.open_slots.first() {
        None => plan
            .checks
            .push(Check::pass("no slot is migrating or importing")),
        Some(o) => plan.checks.push(Check::fail(format!(
            "slot {} is {} on {} ({} {}): a resharding moves keys between shards, so no cut \
             is one point in time; finish it (redis-cli --cluster fix) and snapshot again",
            o.slot,
            if o.migrating {
                "migrating"
            } else {
                "importing"
            },
            o.node,
            if o.migrating { "to" } else { "from" },
            o.peer
        ))),
    }
}

/// The one step of the cut.
fn push_cut(plan: &mut Plan, shards: Vec<CutShard>, pause_ms: Option<u64>) {
    let node = shards.first().map_or(0, |s| s.node);
    let mut commands = Vec::new();
    if let Some(ms) = pause_ms {
        commands.push(Command::ClientPause { ms, write: true });
    }
    if pause_ms.is_some() {
        commands.push(Command::ClientUnpause);
    }
    let pause = pause_ms.map_or_else(String::new, |ms| {
        format!("CLIENT PAUSE {ms} WRITE on every primary, then ")
    });
    plan.steps.push(Step {
        title: "cut every primary at once".to_string(),
        node,
        kind: StepKind::ClusterCut { shards, pause_ms },
        commands,
        waits_for: Some(format!(
            "{pause}every primary's transfer begun (its fork done), then every RDB downloaded"
        )),
        deadline: None,
        verify: "every RDB's CRC-64 checked, keys per shard read from each file, one cluster \
                 manifest written"
            .to_string(),
        rollback: "CLIENT UNPAUSE on every primary (also on failure); files of a failed cut \
                   are not a cluster backup"
            .to_string(),
        critical: true,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Addr;
    use crate::observe::NodeId;

    fn cut(pause_ms: Option<u64>) -> Plan {
        let mut plan = Plan::new(ActionKind::Snapshot, "c", 0, Budgets::default());
        let shards = ["m1", "m2", "m3"]
            .iter()
            .zip(0u16..)
            .map(|(name, k)| {
                let addr = Addr::parse(&format!("127.0.0.1:{}", 7001 + k)).unwrap();
                let id = NodeId {
                    group: 0,
                    node: usize::from(k),
                };
                CutShard {
                    node: plan.add_node(name, &addr, id),
                    node_id: format!("{name}-id"),
                    slots: vec![(k * 5000, k * 5000 + 4999)],
                }
            })
            .collect();
        push_cut(&mut plan, shards, pause_ms);
        plan
    }

    /// The pause and the unpause go to every primary, and the plan says so on each.
    #[test]
    fn the_plan_shows_the_pause_and_unpause_on_every_primary() {
        let plan = cut(Some(200));
        let text = plan.to_string();
        assert!(
            text.contains("cut every primary at once [m1, m2, m3]"),
            "{text}"
        );
        let shown = plan.step_commands(&plan.steps[0], |_| true);
        assert_eq!(
            shown,
            [
                "m1: CLIENT PAUSE 200 WRITE",
                "m2: CLIENT PAUSE 200 WRITE",
                "m3: CLIENT PAUSE 200 WRITE",
                "m1: CLIENT UNPAUSE",
                "m2: CLIENT UNPAUSE",
                "m3: CLIENT UNPAUSE",
            ]
        );
        for line in &shown {
            assert!(text.contains(line.as_str()), "{line} not in {text}");
        }
        // Without a pause, nothing is sent but the transfers.
        let plan = cut(None);
        assert!(plan.step_commands(&plan.steps[0], |_| true).is_empty());
    }
}
