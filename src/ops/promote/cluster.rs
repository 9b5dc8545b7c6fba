//! A promotion in a Redis Cluster, when a shard's primary is down and the cluster has not
//! failed over by itself: `CLUSTER FAILOVER FORCE` on the replica (it does not wait for its
//! primary; a majority of the primaries that serve slots must still answer to elect it), or,
//! when no majority can vote, `CLUSTER FAILOVER TAKEOVER` (no election: the replica bumps the
//! epoch by itself), offered only as an override with a reason (REDIS.md 3f).
//!
//! The candidates are the shard's replicas (the cluster's own refusals first: failed,
//! suspected, `nofailover`), the loss is the replica's offset against the primary's last seen
//! one, and the result is verified on every reachable node's slot map. A cluster that already
//! promoted the named replica is said (who, in whose place, what the offsets say was lost)
//! and nothing is changed. Pure.

use crate::cluster::{ClusterView, Shard, ShardNode};
use crate::config::{Config, Group};
use crate::info::InfoRole;
use crate::observe::NodeState;
use crate::topology::{GroupTopology, Liveness, NodeView};

use super::super::checks::{group_guard, latency};
use super::super::error::{OpsError, OpsResult};
use super::super::plan::{ActionKind, Check, Confirm, NoteKind, Plan, Step, StepKind};
use super::super::redis_ops::Command;
use super::{table_line, Candidate, Candidates, OldPrimary, Reason};
use super::{PromotePlan, PromoteRequest};

/// How many slot ranges a message lists.
const RANGES_SHOWN: usize = 4;

/// Whether `gt` is a cluster group (configured so, or seen so).
#[must_use]
pub fn is_cluster(group: &Group, gt: &GroupTopology) -> bool {
    group.cluster || gt.cluster.is_some()
}

fn view_index(gt: &GroupTopology, name: &str) -> Option<usize> {
    gt.nodes.iter().position(|v| v.name == name && !v.unmanaged)
}

fn fresh(v: &NodeView) -> Option<&crate::info::Info> {
    (!v.stale_info && v.state.is_reachable())
        .then_some(v.info.as_deref())
        .flatten()
}

/// Down as far as a promotion is concerned: the cluster marks it failed, or it does not
/// answer this console.
fn primary_down(gt: &GroupTopology, p: &ShardNode) -> bool {
    p.flags.fail
        || p.flags.pfail
        || view_index(gt, &p.name).is_some_and(|i| gt.liveness(i) != Liveness::Answers)
}

/// The plan of `promote [REPLICA]` in cluster group `gi`.
///
/// # Errors
/// The named node is unknown; or it already is its shard's primary (nothing to do: the
/// statement of who took over and what was lost is the error's message, exit 0).
pub(super) fn build(
    config: &Config,
    gt: &GroupTopology,
    gi: usize,
    req: &PromoteRequest,
    named: Option<&str>,
) -> OpsResult<PromotePlan> {
    let group = &config.groups[gi];
    let mut plan = Plan::new(ActionKind::Promote, &group.name, gi, req.budgets);
    plan.strategy_reason = Some(
        "a cluster: CLUSTER FAILOVER FORCE on the replica (its primary is down, so it does not \
         wait for it; the primaries elect it), TAKEOVER only when no majority can vote"
            .to_string(),
    );
    group_guard(&mut plan, group, gt);
    let empty = |plan: Plan| PromotePlan {
        plan,
        candidates: Candidates {
            old_primary: None,
            live_primaries: Vec::new(),
            rows: Vec::new(),
        },
        chosen: None,
        loss: None,
    };
    plan.summary = format!("promote a replica of cluster '{}'", group.name);
    let Some(view) = gt.cluster.as_deref() else {
        plan.checks.push(Check::fail(
            "no node of the cluster answered CLUSTER NODES: its shards are not known. hint: \
             check that the nodes run in cluster mode and that the ACL allows CLUSTER NODES"
                .to_string(),
        ));
        return Ok(empty(plan));
    };
    let shard = match find_shard(gt, view, named) {
        Ok(Some(s)) => s,
        Ok(None) => {
            plan.checks.push(Check::fail(match named {
                Some(n) => format!(
                    "{n} is not a replica in the cluster's map ({} sees it): promote a replica \
                     of the shard whose primary is down",
                    view.source
                ),
                None => "every shard's primary is up: there is nothing to promote. hint: a \
                         planned change of primary is a switchover"
                    .to_string(),
            }));
            return Ok(empty(plan));
        }
        Err(e) => return Err(e),
    };
    let cands = candidates(gt, shard);
    let chosen = match named {
        Some(n) => cands.get(n).cloned(),
        None => cands.best().cloned(),
    };
    table_notes(&mut plan, shard, &cands);
    let p_name = shard.primary.name.clone();
    let Some(cand) = chosen else {
        plan.summary = format!("promote a replica of {p_name}'s shard");
        plan.checks.push(Check::fail(format!(
            "no replica of {p_name}'s shard can be promoted (see the candidates table)"
        )));
        return Ok(PromotePlan {
            plan,
            candidates: cands,
            chosen: None,
            loss: None,
        });
    };
    plan.confirm = Confirm::TypeName(cand.name.clone());
    let takeover = primary_checks(&mut plan, gt, view, shard, &cand, &cands);
    let (loss, said) =
        super::cluster_loss::from_cluster(gt, shard, &cands, &cand, cands.loss(&cand));
    let slots = crate::cluster::nodes::ranges_text(&shard.slots, RANGES_SHOWN);
    if primary_down(gt, &shard.primary) {
        plan.checks.push(match said {
            Some(text) => Check::warn(text),
            None => super::loss_check(&loss, &cand.name, &p_name),
        });
        let mode = if takeover { "TAKEOVER" } else { "FORCE" };
        plan.summary = format!(
            "promote {} in place of {p_name} (down), CLUSTER FAILOVER {mode}, slots {slots}",
            cand.name
        );
    } else {
        // Refused above; nothing is lost yet.
        plan.summary = format!(
            "promote {} while {p_name} is up and serves slots {slots} (refused: a switchover)",
            cand.name
        );
    }
    if let Some(steps) = add_steps(&mut plan, gt, group, shard, &cand, takeover) {
        plan.notes.push(steps);
    }
    // Again now that the plan goes through the cluster's own failover.
    super::super::checks::GroupPolicy::of(group, gt).apply(&mut plan);
    Ok(PromotePlan {
        plan,
        chosen: Some(cand.name.clone()),
        candidates: cands,
        loss: Some(loss),
    })
}

/// The shard of the named replica, or the first shard whose primary is down; the named node
/// already a primary is the statement of [`already_primary`].
fn find_shard<'a>(
    gt: &GroupTopology,
    view: &'a ClusterView,
    named: Option<&str>,
) -> OpsResult<Option<&'a Shard>> {
    if let Some(name) = named {
        if let Some(s) = view.shards.iter().find(|s| s.primary.name == name) {
            return Err(already_primary(gt, view, s));
        }
        return Ok(view
            .shards
            .iter()
            .find(|s| s.replicas.iter().any(|r| r.name == name)));
    }
    let down = view
        .shards
        .iter()
        .find(|s| s.slot_count > 0 && primary_down(gt, &s.primary));
    if down.is_none() {
        if let Some(s) = promoted_by_cluster(gt, view) {
            return Err(already_primary(gt, view, s));
        }
    }
    Ok(down)
}

/// The candidates table as the plan's notes.
fn table_notes(plan: &mut Plan, shard: &Shard, cands: &Candidates) {
    plan.notes.push_as(
        NoteKind::Candidates,
        format!(
            "candidates: the replicas of {}'s shard (not failed, suspected or nofailover in the \
             cluster's map, reachable, not syncing; ranked by offset):",
            shard.primary.name
        ),
    );
    for row in &cands.rows {
        plan.notes.push_as(NoteKind::Candidates, table_line(row));
    }
}

/// The shard's replicas as a candidates table, with its primary as the old primary.
fn candidates(gt: &GroupTopology, shard: &Shard) -> Candidates {
    let p = &shard.primary;
    let old_primary = view_index(gt, &p.name).and_then(|i| OldPrimary::of(gt, i));
    let mut rows: Vec<Candidate> = shard
        .replicas
        .iter()
        .filter_map(|r| Some(row(gt, view_index(gt, &r.name)?, r)))
        .collect();
    rows.sort_by(|a, b| {
        b.eligible()
            .cmp(&a.eligible())
            .then(b.offset.cmp(&a.offset))
            .then(a.name.cmp(&b.name))
    });
    for (k, c) in rows.iter_mut().filter(|c| c.eligible()).enumerate() {
        c.rank = Some(k + 1);
    }
    Candidates {
        old_primary,
        live_primaries: Vec::new(),
        rows,
    }
}

fn row(gt: &GroupTopology, index: usize, r: &ShardNode) -> Candidate {
    let v = &gt.nodes[index];
    let info = fresh(v);
    let mut reasons = Vec::new();
    let mut hard = |text: String| reasons.push(Reason { text, hard: true });
    if r.flags.fail || r.flags.pfail {
        hard("the cluster marks it failed or suspected".to_string());
    }
    if r.flags.nofailover {
        hard("it is configured cluster-replica-no-failover: it never takes over".to_string());
    }
    match info {
        None => hard(format!(
            "unreachable: {}",
            v.error
                .as_ref()
                .map_or_else(|| v.state.as_str().to_string(), ToString::to_string)
        )),
        Some(i) => {
            if i.replication.role != Some(InfoRole::Replica) {
                hard("it is a primary, not a replica".to_string());
            }
            if i.persistence.loading {
                hard("it is loading its dataset".to_string());
            }
            if i.replication.sync_in_progress {
                hard("a full sync is in progress: its data is being replaced".to_string());
            }
        }
    }
    Candidate {
        name: r.name.clone(),
        index,
        priority: info.and_then(|i| i.replication.priority),
        offset: info.and_then(|i| i.replication.offset),
        replid: info.and_then(|i| i.replication.replid.clone()),
        link: super::candidates::link_words(v.link),
        reasons,
        warnings: Vec::new(),
        rank: None,
    }
}

/// The old primary down (and proven so), the candidate's eligibility, a better sibling, the
/// shard's migrations and the vote. Returns whether the failover must be a TAKEOVER.
fn primary_checks(
    plan: &mut Plan,
    gt: &GroupTopology,
    view: &ClusterView,
    shard: &Shard,
    cand: &Candidate,
    cands: &Candidates,
) -> bool {
    let p = &shard.primary;
    let liveness = view_index(gt, &p.name).map(|i| gt.liveness(i));
    let marked = if p.flags.fail {
        " and the cluster marks it fail"
    } else if p.flags.pfail {
        " and the cluster suspects it (pfail)"
    } else {
        ""
    };
    plan.checks.push(match &liveness {
        Some(Liveness::Answers) if !p.flags.fail => Check::fail(format!(
            "{} is up and serves slots {}: promoting a replica now takes them from a live \
             primary. hint: use switchover while the primary is healthy",
            p.name,
            crate::cluster::nodes::ranges_text(&shard.slots, RANGES_SHOWN)
        )),
        Some(Liveness::ProvenDown { state, .. }) if *state == NodeState::Unresponsive => {
            Check::fail_overridable(format!(
                "{} does not answer but may be frozen, not dead{marked}: until it hears of the \
                 new epoch it takes writes that will be lost",
                p.name
            ))
        }
        Some(l @ Liveness::ProvenDown { .. }) => {
            Check::pass(format!("{}{marked}", l.describe(&p.name)))
        }
        Some(l) if !p.flags.fail => Check::fail(format!(
            "{}: it is not proven down{}",
            l.describe(&p.name),
            l.fix().map_or_else(String::new, |f| format!(". hint: {f}"))
        )),
        _ => Check::pass(format!("{}{marked}", p.name)),
    });
    plan.checks.extend(super::eligibility(cands, cand));
    plan.checks.extend(super::better_sibling(cands, cand));
    plan.checks
        .push(super::super::switchover::cluster::migrations(
            view, &p.name, &cand.name,
        ));
    vote(plan, gt, view, p, &cand.name)
}

/// Whether a majority of the primaries serving slots can elect the replica: each other such
/// primary that answers this console (or, not polled, that the cluster does not mark failed)
/// votes. Returns true when it cannot (a TAKEOVER, offered as an override).
fn vote(
    plan: &mut Plan,
    gt: &GroupTopology,
    view: &ClusterView,
    p: &ShardNode,
    cand: &str,
) -> bool {
    let voting: Vec<&ShardNode> = view
        .shards
        .iter()
        .filter(|s| s.slot_count > 0)
        .map(|s| &s.primary)
        .collect();
    let size = voting.len();
    let up: Vec<&str> = voting
        .iter()
        .filter(|n| n.id != p.id && !n.flags.is_unhealthy())
        .filter(|n| match view_index(gt, &n.name) {
            Some(i) => gt.liveness(i) == Liveness::Answers,
            None => n.connected,
        })
        .map(|n| n.name.as_str())
        .collect();
    let need = size / 2 + 1;
    if up.len() >= need {
        plan.checks.push(Check::pass(format!(
            "{} of the {size} primaries serving slots answer ({}): a majority ({need}) can elect \
             {cand} (CLUSTER FAILOVER FORCE)",
            up.len(),
            up.join(", ")
        )));
        return false;
    }
    plan.checks.push(Check::fail_overridable(format!(
        "only {} of the {size} primaries serving slots answer{}: no majority ({need}) can elect \
         {cand}. CLUSTER FAILOVER TAKEOVER skips the election: {cand} bumps the epoch by itself \
         and claims the slots. If {} or the silent primaries are only cut off, not dead, two \
         nodes serve the same slots until they hear of the new epoch, and the writes the old \
         side takes meanwhile are lost",
        up.len(),
        if up.is_empty() {
            String::new()
        } else {
            format!(" ({})", up.join(", "))
        },
        p.name
    )));
    plan.notes.push(format!(
        "TAKEOVER: no election; {cand} takes {}'s slots under a new epoch of its own",
        p.name
    ));
    true
}

/// The nodes, expectations, snapshot gate and steps. Returns the note on the old primary once
/// the steps are in; `None` when the candidate is not a configured node (a failed check says
/// so).
fn add_steps(
    plan: &mut Plan,
    gt: &GroupTopology,
    group: &Group,
    shard: &Shard,
    cand: &Candidate,
    takeover: bool,
) -> Option<String> {
    let cv = gt.nodes.get(cand.index)?;
    plan.checks.push(latency(cv, plan.budgets.max_rtt));
    let Some(c_id) = cv.id else {
        plan.checks.push(Check::fail(format!(
            "{} is not a configured node",
            cand.name
        )));
        return None;
    };
    let c_cfg = &group.nodes[c_id.node];
    let ci = plan.add_node(&c_cfg.name, &c_cfg.addr, c_id);
    let oi = view_index(gt, &shard.primary.name).and_then(|i| {
        let id = gt.nodes[i].id?;
        let cfg = group.nodes.get(id.node)?;
        Some(plan.add_node(&cfg.name, &cfg.addr, id))
    });
    // Still a replica of the down primary when the run starts: the cluster has not promoted
    // it (or a sibling) in the meantime.
    plan.expects.push(super::super::plan::Expect {
        node: ci,
        primary: false,
        upstream: oi,
    });
    let mut verifiers = vec![ci];
    for (k, v) in gt.nodes.iter().enumerate() {
        if v.unmanaged || k == cand.index || gt.liveness(k) != Liveness::Answers {
            continue;
        }
        let Some(id) = v.id else { continue };
        let cfg = &group.nodes[id.node];
        verifiers.push(plan.add_node(&cfg.name, &cfg.addr, id));
    }
    plan.snapshots.push(ci);
    super::super::snapshot::note_no_persistence(plan, ci, Some(cv));
    let (t, p) = (cand.name.clone(), shard.primary.name.clone());
    let mode = if takeover { "TAKEOVER" } else { "FORCE" };
    // A plan refused because the primary is up still shows the step it would have run.
    let state = if primary_down(gt, &shard.primary) {
        "down"
    } else {
        "up: refused"
    };
    plan.steps.push(Step {
        title: format!("CLUSTER FAILOVER {mode} on {t} (takes over from {p}, {state})"),
        node: ci,
        kind: StepKind::ClusterForceFailover { takeover },
        commands: vec![Command::ClusterFailoverForced { takeover }],
        waits_for: Some(if takeover {
            format!("{t} a primary (it claims the slots under a new epoch, no election)")
        } else {
            format!("{t} a primary (it asks the primaries for their votes and wins)")
        }),
        deadline: None,
        verify: format!("{t} reports role master"),
        rollback: "none needed: a manual failover that does not complete is given up by the \
                   server after 5 s and nothing changes"
            .to_string(),
        critical: true,
    });
    plan.steps
        .push(super::super::switchover::cluster::verify_maps_step(
            format!("verify every node's slot map names {t} the primary of {p}'s slots"),
            ci,
            StepKind::VerifyClusterSlots {
                nodes: verifiers,
                slots: shard.slots.iter().map(|r| (r.start, r.end)).collect(),
            },
        ));
    Some(format!(
        "{p} is not marked for rejoin: when it comes back the cluster makes it a replica of {t} \
         by itself (its writes since {t}'s last offset are dropped by that resync)"
    ))
}

/// A shard whose primary the cluster promoted in place of a primary it marks failed (one
/// left with no slots): what `promote` without a name is about once the cluster has done it.
fn promoted_by_cluster<'a>(gt: &GroupTopology, view: &'a ClusterView) -> Option<&'a Shard> {
    let failed_without_slots = view
        .shards
        .iter()
        .any(|s| s.slot_count == 0 && s.primary.flags.fail);
    if !failed_without_slots {
        return None;
    }
    view.shards.iter().filter(|s| s.slot_count > 0).find(|s| {
        view_index(gt, &s.primary.name)
            .and_then(|i| fresh(&gt.nodes[i]))
            .is_some_and(|i| i.replication.previous_replid().is_some())
    })
}

/// The named node already serves a shard's slots: who it took over from, if the cluster
/// promoted it, and what the offsets say was lost. Nothing is changed.
fn already_primary(gt: &GroupTopology, view: &ClusterView, s: &Shard) -> OpsError {
    let name = &s.primary.name;
    let slots = crate::cluster::nodes::ranges_text(&s.slots, RANGES_SHOWN);
    let info = view_index(gt, name).and_then(|i| fresh(&gt.nodes[i]));
    let promoted_at = info.and_then(|i| {
        let r = &i.replication;
        let id = r.previous_replid()?;
        let at = u64::try_from(r.second_offset?).ok()?.checked_sub(1)?;
        Some((id.to_string(), at))
    });
    // The old primary: the node last seen a primary on the history it forked from, else the
    // one primary the cluster marks failed with no slots left.
    let old = promoted_at
        .as_ref()
        .and_then(|(id, _)| {
            gt.nodes.iter().find(|v| {
                v.name != *name
                    && v.info.as_ref().is_some_and(|i| {
                        i.replication.role == Some(InfoRole::Primary)
                            && i.replication.replid.as_deref() == Some(id.as_str())
                    })
            })
        })
        .map(|v| v.name.clone())
        .or_else(|| {
            let failed: Vec<&str> = view
                .shards
                .iter()
                .filter(|x| x.slot_count == 0 && x.primary.flags.fail)
                .map(|x| x.primary.name.as_str())
                .collect();
            match failed.as_slice() {
                [one] => Some((*one).to_string()),
                _ => None,
            }
        });
    let Some((_, at)) = promoted_at else {
        return OpsError::nothing_to_do(format!(
            "{name} is already the primary of slots {slots}: there is nothing to promote"
        ));
    };
    let old_words = old.clone().unwrap_or_else(|| "its old primary".to_string());
    let loss = old
        .as_deref()
        .and_then(|o| gt.nodes.iter().find(|v| v.name == o))
        .and_then(|v| v.info.as_ref())
        .and_then(|i| Some((i.replication.offset?, i.replication.replid.clone()?)))
        .filter(|(_, id)| info.and_then(|i| i.replication.previous_replid()) == Some(id.as_str()))
        .map_or_else(
            || {
                format!(
                    "how many writes were lost is unknown: {old_words}'s last offset was not \
                     seen by this console"
                )
            },
            |(off, _)| match off.checked_sub(at) {
                Some(0) | None => format!(
                    "no acknowledged write is lost: {name} had applied everything {old_words} \
                     had written at its last poll (offset {off})"
                ),
                Some(n) => format!(
                    "up to {n} bytes of writes {old_words} acknowledged may be lost (its last \
                     seen offset {off}, {name} took over at {at})"
                ),
            },
        );
    OpsError::nothing_to_do(format!(
        "the cluster already failed over by itself: it promoted {name} in place of {old_words} \
         (at offset {at}); {name} serves slots {slots}. {loss}. Nothing was changed"
    ))
}
