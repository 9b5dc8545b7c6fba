//! Unplanned promotion, when the primary is down: pick the replica (Sentinel's eligibility
//! rules, a reason for every excluded one), say what the offsets prove about lost writes,
//! snapshot it, `REPLICAOF NO ONE`, repoint its siblings, and mark the old primary so that it
//! is flagged for rejoin when it comes back.
//!
//! Plan building is pure; the engine runs the plan. [`PromotePlan::mark_old_primary`] writes
//! the rejoin mark once a run has started changing roles.

pub mod candidates;
pub mod cluster;
pub mod cluster_loss;
pub mod marks;
pub mod sentinel;
#[cfg(test)]
mod tests;
mod through_sentinel;

pub use candidates::{assess, describe_loss, Candidate, Candidates, Loss, OldPrimary, Reason};
pub use marks::{flags, load as load_marks, marks_path, Flag, RejoinMark};

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::info::InfoRole;
use crate::observe::NodeState;
use crate::topology::{GroupTopology, Liveness, Role, Topology};

use super::checks::{group_guard, latency};
use super::engine::{RunOutcome, RunStatus};
use super::error::{OpsError, OpsResult};
use super::plan::{ActionKind, Budgets, Check, Confirm, Expect, NoteKind, Plan, Step, StepKind};
use super::redis_ops::{Command, InfoSection};
use super::{find_node, group_topology};

/// Sentinel's default `down-after-milliseconds` (30 s) times 10 would be 300 s; redops is
/// stricter by default: a replica whose link was down a minute longer than the primary's
/// outage is too stale to promote without a reason.
pub const DEFAULT_MAX_EXTRA_LINK_DOWN: Duration = Duration::from_secs(60);

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct PromoteRequest {
    /// The replica to promote; the best candidate when `None`.
    pub node: Option<String>,
    pub budgets: Budgets,
    /// How much longer than the primary's outage a replica's link may have been down
    /// (Sentinel allows 10 x down-after-milliseconds).
    pub max_extra_link_down: Duration,
    pub now: SystemTime,
}

/// The plan, the table it was chosen from, and who is promoted in whose place.
#[derive(Debug, Clone)]
pub struct PromotePlan {
    pub plan: Plan,
    pub candidates: Candidates,
    /// The chosen replica, when there is one.
    pub chosen: Option<String>,
    /// What the offsets prove for the chosen replica.
    pub loss: Option<Loss>,
}

/// One line of the candidates table.
#[must_use]
pub fn table_line(c: &Candidate) -> String {
    let rank = c.rank.map_or_else(|| "-".to_string(), |r| format!("#{r}"));
    let mut s = format!(
        "{rank:>3} {:<12} priority {:>3}  offset {:>12}  link {}",
        c.name,
        c.priority
            .map_or_else(|| "?".to_string(), |p| p.to_string()),
        c.offset.map_or_else(|| "?".to_string(), |o| o.to_string()),
        c.link
    );
    for r in &c.reasons {
        s.push_str(&format!("\n      not eligible: {}", r.text));
    }
    for w in &c.warnings {
        s.push_str(&format!("\n      note: {w}"));
    }
    s
}

/// Whether the old primary may be promoted around: only when it is proven down (DESIGN
/// invariant 9). Alive but unreadable, or silent while a replica's link to it is up, is a hard
/// refusal with the fix: promoting then makes two primaries.
fn old_primary_check(p: &OldPrimary, now: SystemTime) -> Check {
    let last_seen = p
        .last_seen
        .and_then(|t| now.duration_since(t).ok())
        .map_or_else(
            || "not seen by this console before".to_string(),
            |d| format!("last seen {} ago", crate::timefmt::span(d)),
        );
    match &p.liveness {
        Liveness::ProvenDown { state, .. } if *state == NodeState::Unresponsive => {
            Check::fail_overridable(format!(
                "{} does not answer but may be frozen, not dead: if it wakes up it is a second primary \
                 until it is rejoined",
                p.name
            ))
        }
        l @ Liveness::ProvenDown { .. } => Check::pass(format!(
            "{} ({last_seen})",
            l.describe(&p.name)
        )),
        l => Check::fail(format!(
            "{}; promoting a replica now would make two primaries{}",
            l.describe(&p.name),
            l.fix().map_or_else(String::new, |f| format!(". hint: {f}"))
        )),
    }
}

/// Nodes this console cannot read, not proven down, whose role is not known to be replica:
/// any of them may be a writable primary next to the promoted one. The operator may know
/// better (a reason is recorded).
fn unreadable_nodes(gt: &GroupTopology, old: Option<usize>) -> Vec<Check> {
    gt.nodes
        .iter()
        .enumerate()
        .filter(|(k, v)| !v.unmanaged && Some(*k) != old)
        .filter_map(|(k, v)| {
            let l = gt.liveness(k);
            if l == Liveness::Answers || l.is_proven_down() {
                return None;
            }
            let last_role = v.info.as_ref().and_then(|i| i.replication.role);
            if last_role == Some(InfoRole::Replica) {
                return None;
            }
            Some(Check::fail_overridable(format!(
                "{}; {}: if it is a primary, promoting makes two{}",
                l.describe(&v.name),
                if last_role.is_some() {
                    "it was a primary when last read"
                } else {
                    "its role is unknown"
                },
                l.fix().map_or_else(String::new, |f| format!(". hint: {f}"))
            )))
        })
        .collect()
}

/// Why `cand` is not eligible (each reason a check, overridable unless hard), or that it is,
/// with its rank; then its warnings.
fn eligibility(cands: &Candidates, cand: &Candidate) -> Vec<Check> {
    let mut out: Vec<Check> = cand
        .reasons
        .iter()
        .map(|r| {
            let msg = format!("{} is not eligible: {}", cand.name, r.text);
            if r.hard {
                Check::fail(msg)
            } else {
                Check::fail_overridable(msg)
            }
        })
        .collect();
    if cand.eligible() {
        out.push(Check::pass(format!(
            "{} is eligible (rank {} of {})",
            cand.name,
            cand.rank.unwrap_or(0),
            cands.rows.iter().filter(|c| c.eligible()).count()
        )));
    }
    out.extend(
        cand.warnings
            .iter()
            .map(|w| Check::warn(format!("{}: {w}", cand.name))),
    );
    out
}

/// A replica more advanced than `cand` on the same history: promoting `cand` loses the
/// difference (an override).
fn better_sibling(cands: &Candidates, cand: &Candidate) -> Option<Check> {
    let (mine, id) = (cand.offset?, cand.replid.as_deref()?);
    let better = cands
        .rows
        .iter()
        .filter(|c| c.name != cand.name && !c.hard_blocked())
        .filter(|c| c.replid.as_deref() == Some(id))
        .filter(|c| c.offset.is_some_and(|o| o > mine))
        .max_by_key(|c| c.offset)?;
    Some(Check::fail_overridable(format!(
        "{} has {} bytes more of the stream than {}: promoting {} loses them",
        better.name,
        better.offset.unwrap_or(0) - mine,
        cand.name,
        cand.name
    )))
}

/// The loss statement as a check: a pass when nothing can be lost, else a warning.
fn loss_check(loss: &Loss, cand: &str, old: &str) -> Check {
    let text = describe_loss(loss, cand, old);
    match loss {
        Loss::NoneProven { .. } => Check::pass(text),
        _ => Check::warn(text),
    }
}

/// Builds the plan of `promote [REPLICA]`.
///
/// # Errors
/// The named replica is unknown, is not a candidate, or no group can be chosen.
#[allow(clippy::too_many_lines)]
pub fn plan_promote(
    config: &Config,
    topology: &Topology,
    req: &PromoteRequest,
) -> OpsResult<PromotePlan> {
    let gi =
        match &req.node {
            Some(n) => find_node(config, topology, n)?.group_index,
            None => match config.groups.len() {
                1 => 0,
                0 => return Err(OpsError::usage("no group to promote in")),
                _ => return Err(
                    OpsError::usage("several groups are configured: say which one").hint(
                        "scope the targets to one group (the group option), or name the replica",
                    ),
                ),
            },
        };
    let group = &config.groups[gi];
    let gt = group_topology(topology, gi);
    if group.sentinel.is_some() {
        if let Some(done) = sentinel::already_promoted(&gt) {
            let asked = req
                .node
                .as_deref()
                .and_then(|n| find_node(config, topology, n).ok())
                .map(|n| n.cfg.name.clone())
                .filter(|n| *n != done.master);
            return Err(OpsError::nothing_to_do(match asked {
                Some(n) => format!("{n} is not promoted: {}", done.statement),
                None => done.statement,
            }));
        }
    }
    if cluster::is_cluster(group, &gt) {
        let named = match &req.node {
            Some(n) => Some(find_node(config, topology, n)?.cfg.name.clone()),
            None => None,
        };
        return cluster::build(config, &gt, gi, req, named.as_deref());
    }
    let cands = assess(&gt, req.now, req.max_extra_link_down);
    let mut plan = Plan::new(ActionKind::Promote, &group.name, gi, req.budgets);
    group_guard(&mut plan, group, &gt);
    if group.sentinel.is_some() {
        plan.checks
            .extend(sentinel::why_not_yet(&gt).map(Check::warn));
    }
    plan.notes.push_as(
        NoteKind::Candidates,
        "candidates (Sentinel's rules: reachable, not syncing or loading, priority > 0, \
                     link not down too long; ranked by priority, then offset):",
    );
    for row in &cands.rows {
        plan.notes.push_as(NoteKind::Candidates, table_line(row));
    }

    for p in &cands.live_primaries {
        plan.checks.push(Check::fail(format!(
            "{p} is up and a primary: promoting another node would make two primaries. hint: switch \
             over instead while the primary is healthy"
        )));
    }
    let old = cands.old_primary.clone();
    match &old {
        Some(p) => plan.checks.push(old_primary_check(p, req.now)),
        None if cands.live_primaries.is_empty() => plan.checks.push(Check::warn(
            "no old primary could be identified (no replica points to a down node)".to_string(),
        )),
        None => {}
    }
    plan.checks
        .extend(unreadable_nodes(&gt, old.as_ref().map(|p| p.index)));

    let chosen = match &req.node {
        Some(n) => {
            let want = find_node(config, topology, n)?;
            match cands.get(&want.cfg.name) {
                Some(c) => Some(c.clone()),
                None => {
                    return Err(OpsError::usage(format!(
                        "'{}' is not a promotion candidate (it is the old primary, or not a managed replica)",
                        want.cfg.name
                    )))
                }
            }
        }
        None => cands.best().cloned(),
    };
    let Some(cand) = chosen else {
        plan.summary = format!("promote a replica of group '{}'", group.name);
        plan.checks.push(Check::fail(
            "no replica is eligible for promotion (see the candidates table)".to_string(),
        ));
        return Ok(PromotePlan {
            plan,
            candidates: cands,
            chosen: None,
            loss: None,
        });
    };
    // The primary up, when a promote is asked next to it (refused above): named as such.
    let up = match (&old, cands.live_primaries.as_slice()) {
        (None, [up]) => Some(up.clone()),
        _ => None,
    };
    let old_name = old
        .as_ref()
        .map(|p| p.name.clone())
        .or_else(|| up.clone())
        .unwrap_or_else(|| "the old primary".to_string());
    plan.summary = match &up {
        Some(up) => format!(
            "promote {} while {up} is up and the primary (refused: it would make two primaries)",
            cand.name
        ),
        None => format!("promote {} in place of {old_name}", cand.name),
    };
    plan.confirm = Confirm::TypeName(cand.name.clone());

    plan.checks.extend(eligibility(&cands, &cand));
    plan.checks.extend(better_sibling(&cands, &cand));
    let loss = cands.loss(&cand);
    // With the primary up nothing is lost yet: the refusal above says what matters.
    if up.is_none() {
        plan.checks.push(loss_check(&loss, &cand.name, &old_name));
    }

    let Some(cv) = gt.nodes.get(cand.index) else {
        return Ok(PromotePlan {
            plan,
            candidates: cands,
            chosen: Some(cand.name.clone()),
            loss: Some(loss),
        });
    };
    plan.checks.push(latency(cv, req.budgets.max_rtt));
    let Some(c_id) = cv.id else {
        plan.checks.push(Check::fail(format!(
            "{} is not a configured node",
            cand.name
        )));
        return Ok(PromotePlan {
            plan,
            candidates: cands,
            chosen: Some(cand.name.clone()),
            loss: Some(loss),
        });
    };
    let c_cfg = &group.nodes[c_id.node];
    let ci = plan.add_node(&c_cfg.name, &c_cfg.addr, c_id);
    let oi = old.as_ref().and_then(|p| {
        let id = gt.nodes.get(p.index)?.id?;
        let cfg = group.nodes.get(id.node)?;
        Some(plan.add_node(&cfg.name, &cfg.addr, id))
    });
    plan.expects.push(Expect {
        node: ci,
        primary: false,
        upstream: oi,
    });

    // Siblings: reachable direct replicas of the old primary (of the primary up, when a
    // promote is asked next to it). Chained ones follow their upstream.
    let primary_index = old.as_ref().map(|p| p.index).or_else(|| {
        up.as_ref()
            .and_then(|n| gt.nodes.iter().position(|v| &v.name == n))
    });
    let mut siblings = Vec::new();
    for (k, v) in gt.nodes.iter().enumerate() {
        if v.unmanaged || k == cand.index || primary_index == Some(k) {
            continue;
        }
        let direct =
            primary_index.is_some() && v.upstream.as_ref().and_then(|u| u.index) == primary_index;
        if !direct {
            if v.role == Role::Replica {
                plan.notes.push(format!(
                    "{} replicates from {} (chained): left as it is",
                    v.name,
                    v.upstream.as_ref().map_or("?", |u| gt.upstream_name(u))
                ));
            }
            continue;
        }
        let Some(id) = v.id else { continue };
        if !v.state.is_reachable() || v.stale_info {
            plan.checks.push(Check::warn(format!(
                "{} is {}: it is not repointed now; when it comes back, repoint it to {}",
                v.name,
                v.state.as_str(),
                cand.name
            )));
            continue;
        }
        let cfg = &group.nodes[id.node];
        let si = plan.add_node(&cfg.name, &cfg.addr, id);
        plan.expects.push(Expect {
            node: si,
            primary: false,
            upstream: oi,
        });
        siblings.push(si);
    }
    plan.snapshots.push(ci);
    super::snapshot::note_no_persistence(&mut plan, ci, gt.nodes.get(cand.index));
    plan.notes.push(format!(
        "{}'s data is the data that survives: it is saved (BGSAVE) before the promotion",
        cand.name
    ));

    let by_itself = through_sentinel::sentinel_can_by_itself(&gt);
    if let (Some(why), Some(_)) = (&by_itself, &group.sentinel) {
        plan.checks.push(Check::warn(why.clone()));
    }
    let view = gt.sentinel.clone().filter(|v| !v.rows.is_empty());
    if let (Some(s), Some(view), None) = (&group.sentinel, &view, &by_itself) {
        let nodes = through_sentinel::Nodes {
            target: ci,
            old: oi,
            siblings: &siblings,
        };
        through_sentinel::steer(&mut plan, group, &gt, (s, view), &nodes);
        return Ok(PromotePlan {
            plan,
            chosen: Some(cand.name.clone()),
            candidates: cands,
            loss: Some(loss),
        });
    }
    let c_name = cand.name.clone();
    plan.steps.push(Step {
        title: format!("promote {c_name}"),
        node: ci,
        kind: StepKind::Promote,
        commands: vec![Command::ReplicaOf(None)],
        waits_for: None,
        deadline: None,
        verify: "+OK".to_string(),
        rollback: format!(
            "none once clients write to {c_name}; before that, REPLICAOF {old_name} on {c_name}"
        ),
        critical: true,
    });
    plan.push_sibling_repoints(&siblings, ci, &format!("keeps waiting for {old_name}"));
    plan.steps.push(Step {
        title: format!("verify {c_name} is primary and its replicas follow it"),
        node: ci,
        kind: StepKind::Verify {
            primary: ci,
            replicas: siblings.clone(),
        },
        commands: vec![Command::Info(InfoSection::Default)],
        waits_for: Some("role, link up, one replid on every node".to_string()),
        deadline: Some(req.budgets.verify),
        verify: "all conditions hold in one round of reads".to_string(),
        rollback: "none: the report says what is left".to_string(),
        critical: true,
    });
    let mut persist = vec![ci];
    persist.extend(&siblings);
    plan.steps.push(Step {
        title: "persist the new roles (CONFIG REWRITE where a config file is used)".to_string(),
        node: ci,
        kind: StepKind::ConfigRewrite { nodes: persist },
        commands: vec![Command::ConfigRewrite],
        waits_for: None,
        deadline: None,
        verify: "+OK on each node that has a config file".to_string(),
        rollback: "none".to_string(),
        critical: false,
    });
    if up.is_none() {
        plan.notes.push(format!(
            "{old_name} is marked for rejoin: if it restarts, it comes back as a primary with its old \
             data; rejoining it makes it a replica of {c_name} (its snapshot is downloaded first)"
        ));
    }
    Ok(PromotePlan {
        plan,
        chosen: Some(c_name),
        candidates: cands,
        loss: Some(loss),
    })
}

impl PromotePlan {
    /// True for a cluster's promotion (`CLUSTER FAILOVER FORCE|TAKEOVER`): the cluster turns
    /// the old primary into a replica when it comes back, so it is not marked for rejoin.
    #[must_use]
    pub fn through_cluster(&self) -> bool {
        self.plan
            .steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::ClusterForceFailover { .. }))
    }

    /// After a run that changed roles (done, or failed after starting), records the old primary
    /// in the rejoin marks file. A refused run records nothing. Returns the mark written.
    ///
    /// # Errors
    /// The marks file cannot be written.
    pub fn mark_old_primary(
        &self,
        outcome: &RunOutcome,
        marks_file: &Path,
    ) -> OpsResult<Option<RejoinMark>> {
        if outcome.status == RunStatus::Refused {
            return Ok(None);
        }
        let (Some(old), Some(chosen)) = (&self.candidates.old_primary, &self.chosen) else {
            return Ok(None);
        };
        let addr = self
            .plan
            .nodes
            .iter()
            .find(|n| n.name == old.name)
            .map(|n| n.addr.to_string())
            .unwrap_or_default();
        // The promotion point as the plan saw the chosen replica: with its primary down its
        // offset no longer moves, so it is where `REPLICAOF NO ONE` forks the histories.
        let cand = self.candidates.get(chosen);
        let mark = RejoinMark {
            group: self.plan.group.clone(),
            node: old.name.clone(),
            addr,
            promoted: chosen.clone(),
            last_replid: old.last_replid.clone(),
            last_offset: old.last_offset,
            fork_replid: cand.and_then(|c| c.replid.clone()),
            fork_offset: cand.and_then(|c| c.offset),
            marked_at: crate::audit::now_stamp().0,
            run_id: outcome.run_id.clone(),
        };
        marks::add(marks_file, mark.clone())?;
        Ok(Some(mark))
    }
}
