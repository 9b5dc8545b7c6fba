//! From a [`Request`] to a plan with the action's builder (`ops::snapshot`, `switchover`,
//! `promote`, `repoint`): the request's fields as the builder's, the typed sections that go
//! beside the plan, and the work after the run; and a rejoin that only clears a mark. Pure.

use crate::config::Config;
use crate::ops::error::{OpsError, OpsResult};
use crate::ops::promote::{self, PromoteRequest, RejoinMark};
use crate::ops::repoint::{self, RepointPlan, RepointRequest};
use crate::ops::request::{Download, Request};
use crate::ops::switchover::{self, SwitchoverRequest};
use crate::ops::{find_node, group_topology, ActionKind, Plan};
use crate::topology::Topology;

use super::{budgets, AfterRun, Context, MarkClearing, Section};

/// A builder's plan with the parts that go beside it.
pub(super) struct Built {
    pub(super) plan: Plan,
    pub(super) sections: Vec<Section>,
    pub(super) after: AfterRun,
}

impl Built {
    fn plain(plan: Plan) -> Self {
        Self {
            plan,
            sections: Vec::new(),
            after: AfterRun::Nothing,
        }
    }
}

/// The node the request names, or a usage error saying the action needs one.
fn need(req: &Request, what: &str) -> OpsResult<String> {
    req.node.clone().ok_or_else(|| {
        OpsError::usage(format!("{} needs {what}", req.action.as_str()))
            .hint("select or name the node")
    })
}

pub(super) fn build(
    ctx: &Context<'_>,
    config: &Config,
    topology: &Topology,
    req: &Request,
) -> OpsResult<Built> {
    let budgets = budgets(config, req);
    let backups = config.console.backups_dir.clone();
    let download = match &req.download {
        Download::Off => None,
        Download::Backups => Some(backups.clone()),
        Download::Into(dir) => Some(dir.clone()),
    };
    Ok(match req.action {
        ActionKind::Snapshot if req.all.is_some() => Built::plain(
            crate::ops::snapshot::cluster::plan_for(config, topology, req, budgets)?,
        ),
        ActionKind::Snapshot => {
            let name = need(req, "a node")?;
            let node = find_node(config, topology, &name)?;
            Built::plain(crate::ops::snapshot::plan_snapshot(
                config, topology, &node, download, budgets,
            ))
        }
        ActionKind::Switchover => {
            let r = SwitchoverRequest {
                to: need(req, "the replica to promote")?,
                strategy: req.strategy,
                budgets,
                download_dir: download,
            };
            Built::plain(switchover::plan_switchover(config, topology, &r)?)
        }
        ActionKind::Failback => Built::plain(switchover::plan_failback(
            config,
            topology,
            req.strategy,
            budgets,
            download,
        )?),
        ActionKind::Promote => {
            let r = PromoteRequest {
                node: req.node.clone(),
                budgets,
                max_extra_link_down: promote::DEFAULT_MAX_EXTRA_LINK_DOWN,
                now: ctx.now,
            };
            promoted(promote::plan_promote(config, topology, &r)?)
        }
        ActionKind::Repoint => {
            let r = RepointRequest {
                node: need(req, "the node to repoint")?,
                to: req.source.clone().ok_or_else(|| {
                    OpsError::usage("repoint needs the source to replicate from")
                        .hint("choose the node it will replicate from")
                })?,
                budgets,
                backups_dir: backups,
                sync_deadline: repoint::DEFAULT_SYNC_DEADLINE,
            };
            guarded(
                repoint::plan_repoint(config, topology, &r)?,
                AfterRun::Nothing,
            )
        }
        ActionKind::Rejoin => {
            let node = need(req, "the old primary to rejoin")?;
            let rp = repoint::plan_rejoin(
                config,
                topology,
                &node,
                ctx.marks,
                budgets,
                backups,
                repoint::DEFAULT_SYNC_DEADLINE,
            )?;
            let name = rp.plan.nodes.first().map_or(node, |n| n.name.clone());
            guarded(rp, AfterRun::ClearMark { node: name })
        }
        // Scoped to its group (`Request::sentinel_reset`): group 0 of the scoped config.
        ActionKind::SentinelReset => match req.group {
            Some(_) => Built::plain(crate::ops::sentinel_reset::plan_reset(
                config, topology, 0, budgets,
            )?),
            None => {
                return Err(OpsError::usage("sentinel reset needs a group")
                    .hint("name the group whose sentinels are reset"))
            }
        },
        ActionKind::Restore => {
            let name = need(req, "the node to restore")?;
            let node = find_node(config, topology, &name)?;
            let from = req.restore.as_deref().ok_or_else(|| {
                OpsError::usage("restore needs the backup to load")
                    .hint("name a backup by its id or its file")
            })?;
            let r = crate::ops::restore::RestoreRequest {
                from,
                budgets,
                backups_dir: backups,
                sync_deadline: crate::ops::restore::DEFAULT_SYNC_DEADLINE,
            };
            Built::plain(crate::ops::restore::plan_restore(
                config, topology, &node, &r,
            ))
        }
    })
}

/// A promotion's plan with its candidates table; the old primary is marked for rejoin after
/// the run, except in a cluster or through Sentinel, which make it a replica by themselves.
fn promoted(pp: promote::PromotePlan) -> Built {
    let after = if pp.through_cluster() || pp.plan.through_sentinel() {
        AfterRun::Nothing
    } else {
        AfterRun::MarkOldPrimary {
            candidates: Box::new(pp.candidates.clone()),
            chosen: pp.chosen,
            loss: pp.loss,
        }
    };
    Built {
        plan: pp.plan,
        sections: vec![Section::Candidates(Box::new(pp.candidates))],
        after,
    }
}

/// A repoint or rejoin plan with its wipe guard as a section.
fn guarded(rp: RepointPlan, after: AfterRun) -> Built {
    Built {
        plan: rp.plan,
        sections: rp
            .guard
            .map(|g| Section::AtRisk(Box::new(g)))
            .into_iter()
            .collect(),
        after,
    }
}

/// The rejoin mark to clear instead of planning a rejoin: the operator asked (`clear_mark`),
/// or the node already follows the primary with its link up (what is seen settled it).
pub(super) fn mark_to_clear(
    config: &Config,
    topology: &Topology,
    marks: &[RejoinMark],
    req: &Request,
) -> OpsResult<Option<MarkClearing>> {
    let name = need(req, "the old primary to rejoin")?;
    let node = find_node(config, topology, &name)?;
    let (group, name) = (node.group_name.to_string(), node.cfg.name.clone());
    let mark = marks.iter().find(|m| m.group == group && m.node == name);
    let why = if req.clear_mark {
        if mark.is_none() {
            return Err(OpsError::nothing_to_do(format!(
                "{name} has no rejoin mark: nothing to clear"
            )));
        }
        "cleared by the operator".to_string()
    } else {
        let gt = group_topology(topology, node.group_index);
        match mark.and_then(|m| promote::marks::settled(m, &gt)) {
            Some(why) => why,
            None => return Ok(None),
        }
    };
    Ok(Some(MarkClearing {
        group,
        node: name,
        why,
    }))
}
