//! `repoint NODE --to SOURCE` and `rejoin OLD_PRIMARY` (repoint to the current primary), behind
//! the wipe guard: what the node holds and what replaces it, partial or full resync, refusals
//! with reasons, and the node's snapshot downloaded before its data can be replaced. Under a
//! sibling source the plan first waits until the source holds the node's offset; a rejoin
//! states what it discards when the node's rejoin mark fits.
//!
//! Plan building only (pure): the engine runs the plan. The guard itself is `repoint/guard.rs`,
//! the history rules `repoint/lineage.rs`, what a rejoin mark proves `repoint/rejoin.rs`.

pub mod guard;
pub mod lineage;
pub mod rejoin;
pub mod sentinel;

pub use guard::{assess, assess_rejoin, DownloadNeed, Finding, Holdings, Lag, Verdict, WipeGuard};
pub use lineage::{compare, predict, short, Comparison, History, Lineage, Resync};
pub use rejoin::{Discard, MarkCheck};

use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::info::InfoRole;
use crate::topology::{GroupTopology, NodeView, Role, Topology};

use super::checks::{group_guard, latency};
use super::error::{OpsError, OpsResult};
use super::plan::{ActionKind, Budgets, Check, Confirm, Expect, NoteKind, Plan, Step, StepKind};
use super::promote::RejoinMark;
use super::redis_ops::{Command, InfoSection};
use super::{find_node, group_topology, NodeRef};

/// How long a repoint waits for the link and the sync by default (a full sync of a large
/// dataset takes minutes).
pub const DEFAULT_SYNC_DEADLINE: Duration = Duration::from_secs(300);

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct RepointRequest {
    /// The node that will replicate.
    pub node: String,
    /// The node it will replicate from.
    pub to: String,
    pub budgets: Budgets,
    /// Where the node's RDB is downloaded (`<dir>/<group>/<node>/`).
    pub backups_dir: PathBuf,
    /// How long the link and the sync may take (a full sync of a large dataset is slow).
    pub sync_deadline: Duration,
}

/// A repoint or rejoin plan, with the guard's report for display.
#[derive(Debug, Clone)]
pub struct RepointPlan {
    pub plan: Plan,
    /// `None` when the plan was refused before the guard could run (unknown topology).
    pub guard: Option<WipeGuard>,
}

/// Builds the plan of `repoint NODE --to SOURCE`.
///
/// # Errors
/// A name matches no configured node, or the two are in different groups (usage errors).
pub fn plan_repoint(
    config: &Config,
    topology: &Topology,
    req: &RepointRequest,
) -> OpsResult<RepointPlan> {
    let node = find_node(config, topology, &req.node)?;
    let source = find_node(config, topology, &req.to)?;
    if node.group_index != source.group_index {
        return Err(OpsError::usage(format!(
            "'{}' and '{}' are in different groups ('{}' and '{}')",
            req.node, req.to, node.group_name, source.group_name
        ))
        .hint("a node replicates only within its group"));
    }
    Ok(build(
        config,
        topology,
        &node,
        &source,
        req,
        ActionKind::Repoint,
        None,
    ))
}

/// Builds the plan of `rejoin OLD_PRIMARY`: a repoint to the group's current primary. When
/// several nodes claim to be primary, the one a rejoin mark names (promoted in its place) is
/// taken, else the request is ambiguous.
///
/// # Errors
/// Unknown node, or no single current primary to rejoin (the message says what to do).
pub fn plan_rejoin(
    config: &Config,
    topology: &Topology,
    node: &str,
    marks: &[RejoinMark],
    budgets: Budgets,
    backups_dir: PathBuf,
    sync_deadline: Duration,
) -> OpsResult<RepointPlan> {
    let n = find_node(config, topology, node)?;
    let gt = group_topology(topology, n.group_index);
    let others: Vec<&NodeView> = gt
        .nodes
        .iter()
        .filter(|v| !v.unmanaged && v.role == Role::Primary && v.name != n.cfg.name)
        // Another entry of the same server is not another primary to rejoin.
        .filter(|v| n.view.is_none_or(|me| !v.same_server(me)))
        .filter(|v| v.state.is_reachable() && !v.stale_info)
        .collect();
    let mark = marks
        .iter()
        .find(|m| m.group == n.group_name && m.node == n.cfg.name);
    let marked = mark.map(|m| m.promoted.as_str());
    let through_sentinel = match config.groups[n.group_index].sentinel {
        Some(_) => Some(sentinel::master_for_rejoin(&gt, &n.cfg.name, n.group_name)?),
        None => None,
    };
    let primary = match others.as_slice() {
        _ if through_sentinel.is_some() => through_sentinel
            .as_ref()
            .map(|s| s.master.clone())
            .unwrap_or_default(),
        [p] => p.name.clone(),
        [] if n
            .view
            .is_some_and(|v| v.role == Role::Primary && v.state.is_reachable()) =>
        {
            return Err(OpsError::usage(format!(
                "{} is the primary of group '{}': there is no old primary to rejoin",
                n.cfg.name, n.group_name
            ))
            .hint(
                "rejoin brings an old primary back as a replica after a promote; to hand the \
                 primary role to a replica, run a switchover",
            ))
        }
        [] => {
            return Err(OpsError::usage(format!(
                "group '{}' has no other reachable primary for {} to rejoin",
                n.group_name, n.cfg.name
            ))
            .hint(format!(
                "promote a replica first, or repoint {} to a node chosen by name",
                n.cfg.name
            )))
        }
        many => {
            if let Some(m) = marked.filter(|m| many.iter().any(|p| p.name == *m)) {
                m.to_string()
            } else {
                let names: Vec<&str> = many.iter().map(|p| p.name.as_str()).collect();
                return Err(OpsError::usage(format!(
                "group '{}' has several primaries besides {} ({}): which one is current is not clear",
                n.group_name,
                n.cfg.name,
                names.join(", ")
            ))
            .hint(format!(
                "repoint {} to the primary to keep, chosen by name",
                n.cfg.name
            )));
            }
        }
    };
    let req = RepointRequest {
        node: n.cfg.name.clone(),
        to: primary,
        budgets,
        backups_dir,
        sync_deadline,
    };
    let source = find_node(config, topology, &req.to)?;
    // Sentinel's own failover stands for a promote's mark: the promotion point is read on the
    // master Sentinel promoted, as for a mark redops wrote.
    let by_sentinel = through_sentinel
        .as_ref()
        .filter(|_| mark.is_none())
        .map(|named| sentinel::mark_of_failover(&n, named));
    let mut built = build(
        config,
        topology,
        &n,
        &source,
        &req,
        ActionKind::Rejoin,
        mark.or(by_sentinel.as_ref()),
    );
    if let Some(named) = through_sentinel {
        sentinel::follow(&mut built.plan, &named);
    }
    Ok(built)
}

fn to_check(f: &Finding) -> Check {
    match f.verdict {
        Verdict::Pass => Check::pass(f.message.clone()),
        Verdict::Warn => Check::warn(f.message.clone()),
        Verdict::RefuseUnlessForced => Check::fail_overridable(f.message.clone()),
        Verdict::Refuse => Check::fail(f.message.clone()),
    }
}

#[allow(clippy::too_many_lines)]
fn build(
    config: &Config,
    topology: &Topology,
    node: &NodeRef<'_>,
    source: &NodeRef<'_>,
    req: &RepointRequest,
    action: ActionKind,
    mark: Option<&RejoinMark>,
) -> RepointPlan {
    let gi = node.group_index;
    let group = &config.groups[gi];
    let gt: GroupTopology = group_topology(topology, gi);
    let mut plan = Plan::new(action, &group.name, gi, req.budgets);
    let (n_name, s_name) = (node.cfg.name.clone(), source.cfg.name.clone());
    plan.summary = format!(
        "{n_name} ({}) will replicate from {s_name} ({})",
        node.cfg.addr, source.cfg.addr
    );
    group_guard(&mut plan, group, &gt);
    plan.confirm = Confirm::TypeName(n_name.clone());
    let ni = plan.add_node(&n_name, &node.cfg.addr, node.id);
    let si = plan.add_node(&s_name, &source.cfg.addr, source.id);
    let (Some(nv), Some(sv)) = (node.view, source.view) else {
        plan.checks.push(Check::fail(format!(
            "{} has not been polled: look at the group first",
            if node.view.is_none() {
                &n_name
            } else {
                &s_name
            }
        )));
        return RepointPlan { plan, guard: None };
    };
    let g = assess_rejoin(nv, sv, &gt, source.cfg.password.is_some(), mark);
    if let Some(MarkCheck::Matches(d)) = &g.rejoin {
        let what = if d.bytes == 0 {
            "nothing (proven)".to_string()
        } else {
            format!(
                "{} bytes {s_name} never received (kept in its snapshot)",
                d.bytes
            )
        };
        plan.summary.push_str(&format!("; it discards {what}"));
        plan.done_facts.push(format!("it discarded {what}"));
    }

    // Already there: nothing to do.
    let follows = nv
        .upstream
        .as_ref()
        .and_then(|u| u.index)
        .and_then(|i| gt.nodes.get(i));
    if follows.is_some_and(|u| u.name == s_name)
        && nv.link == Some(crate::topology::Link::Up)
        && nv.role == Role::Replica
    {
        plan.checks.push(Check::fail(format!(
            "{n_name} already replicates from {s_name} with its link up: nothing to do"
        )));
    }
    plan.checks.extend(g.findings.iter().map(to_check));
    plan.checks.push(latency(nv, req.budgets.max_rtt));
    plan.checks.push(latency(sv, req.budgets.max_rtt));
    plan.notes.push_as(
        NoteKind::AtRisk,
        format!("{n_name} holds: {}", g.node.describe()),
    );
    plan.notes.push_as(
        NoteKind::AtRisk,
        format!("{s_name} holds: {}", g.source.describe()),
    );
    if let Some(c) = &g.comparison {
        plan.notes.push(format!(
            "histories: {}; {n_name} has {} bytes {s_name} lacks, {s_name} has {} bytes {n_name} lacks",
            c.lineage.describe(),
            c.node_only.map_or_else(|| "?".to_string(), |b| b.to_string()),
            c.source_only
                .map_or_else(|| "?".to_string(), |b| b.to_string())
        ));
    }
    if g.download.needed {
        plan.downloads.push(ni);
        plan.download_dir = Some(req.backups_dir.clone());
    } else {
        // The guard found nothing a snapshot would keep: the reason is the gate's record.
        plan.gate_skipped = Some(g.download.why.clone());
    }
    plan.notes
        .push_as(NoteKind::AtRisk, format!("download: {}", g.download.why));

    // The node and the source must still be what the plan saw.
    let n_info = nv.info.as_deref();
    if n_info.is_some_and(|i| i.replication.role == Some(InfoRole::Primary)) {
        plan.expects.push(Expect {
            node: ni,
            primary: true,
            upstream: None,
        });
    } else if let Some(up) = follows.and_then(|u| u.id.map(|id| (u, id))) {
        let cfg = &group.nodes[up.1.node];
        let ui = plan.add_node(&cfg.name, &cfg.addr, up.1);
        plan.expects.push(Expect {
            node: ni,
            primary: false,
            upstream: Some(ui),
        });
    }
    let source_is_primary = sv
        .info
        .as_deref()
        .is_some_and(|i| i.replication.role == Some(InfoRole::Primary));
    if source_is_primary {
        plan.expects.push(Expect {
            node: si,
            primary: true,
            upstream: None,
        });
    }

    let full = !g.resync.as_ref().is_some_and(Resync::is_partial);
    if let Some(lag) = &g.lag {
        plan.steps.push(Step {
            title: format!("wait until {s_name} has everything {n_name} has"),
            node: ni,
            kind: StepKind::WaitSourceCaughtUp { source: si },
            commands: vec![Command::Info(InfoSection::Replication)],
            waits_for: Some(format!(
                "{s_name}'s offset >= {n_name}'s, one replid, {s_name}'s link to {} up (read {} bytes behind)",
                lag.root, lag.behind
            )),
            deadline: Some(req.budgets.catch_up),
            verify: format!("one read of {n_name}, then one of {s_name}"),
            rollback: "none: nothing has changed yet".to_string(),
            critical: true,
        });
    }
    plan.steps.push(Step {
        title: format!("point {n_name} at {s_name}"),
        node: ni,
        kind: StepKind::ReplicaOf { to: si },
        commands: vec![Command::ReplicaOf(Some(source.cfg.addr.clone()))],
        waits_for: None,
        deadline: None,
        verify: "+OK (or +OK Already connected)".to_string(),
        rollback: if full {
            format!(
                "none: a full sync replaces {n_name}'s data; restore from the downloaded RDB if needed"
            )
        } else {
            format!("REPLICAOF its previous upstream on {n_name} (partial resync)")
        },
        critical: true,
    });
    plan.steps.push(Step {
        title: format!("wait for {n_name}'s link to {s_name} and the end of the sync"),
        node: ni,
        kind: StepKind::WaitLinkUp { to: si },
        commands: vec![Command::Info(InfoSection::Replication)],
        waits_for: Some(format!(
            "{n_name}: master_link_status:up, master_sync_in_progress:0, following {s_name}"
        )),
        deadline: Some(req.sync_deadline),
        verify: "one INFO read with all three".to_string(),
        rollback: "none: the node keeps trying; see its log (auth, TLS, version)".to_string(),
        critical: true,
    });
    if source_is_primary {
        plan.steps.push(Step {
            title: format!("verify {n_name} is on {s_name}'s history"),
            node: si,
            kind: StepKind::Verify {
                primary: si,
                replicas: vec![ni],
            },
            commands: vec![Command::Info(InfoSection::Default)],
            waits_for: Some("same master_replid, link up".to_string()),
            deadline: Some(req.budgets.verify),
            verify: "all conditions hold in one round of reads".to_string(),
            rollback: "none".to_string(),
            critical: true,
        });
    } else {
        plan.notes.push(format!(
            "{s_name} is a replica: the final check is the link and the end of the sync (a chain has no \
             single primary to compare with here)"
        ));
    }
    plan.steps.push(Step {
        title: format!("persist {n_name}'s new role (CONFIG REWRITE if it has a config file)"),
        node: ni,
        kind: StepKind::ConfigRewrite { nodes: vec![ni] },
        commands: vec![Command::ConfigRewrite],
        waits_for: None,
        deadline: None,
        verify: "+OK, or a warning when it runs without a config file".to_string(),
        rollback: "none".to_string(),
        critical: false,
    });
    if action == ActionKind::Rejoin {
        match &g.rejoin {
            Some(MarkCheck::Matches(d)) => plan.notes.push_as(
                NoteKind::AtRisk,
                format!("discarded by the rejoin: {}", d.describe(&n_name, &s_name)),
            ),
            Some(MarkCheck::Mismatch(why)) => plan
                .notes
                .push(format!("{n_name}'s rejoin mark does not fit: {why}")),
            None => plan.notes.push(format!("{n_name} has no rejoin mark")),
        }
        plan.notes.push(format!(
            "after the rejoin, {n_name}'s rejoin mark (if any) is cleared"
        ));
    }
    RepointPlan {
        plan,
        guard: Some(g),
    }
}
