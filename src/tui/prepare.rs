//! From an action key to a plan the console can show: the [`Request`] (action, node, source,
//! strategy, download), the group scoped the way the CLI's `--group` scopes it, the engine's
//! own plan builders, and the sections the dialog shows beside the plan (the candidates
//! table of a promotion, what the wipe guard found before a repoint or rejoin).
//!
//! Pure: no I/O, no terminal. Every check is the engine's; this file only decides which
//! builder to call and, like the CLI, whether the plan can be offered at all ([`Prepared::blocked`]).

use std::time::SystemTime;

use crate::config::Config;
use crate::ops::promote::{self, Candidates, Loss, PromoteRequest, RejoinMark};
use crate::ops::repoint::{self, RepointRequest};
use crate::ops::switchover::{self, SwitchoverRequest};
use crate::ops::{self, ActionKind, Budgets, OpsError, OpsResult, Plan, Strategy};
use crate::topology::Topology;

use super::keymap::ActionKey;

/// What the operator asked for, before any plan exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub action: ActionKey,
    /// Index of the group in the console's config.
    pub group: usize,
    /// The node acted on: snapshot, switchover target, promote candidate (`None`: the best),
    /// repoint or rejoin node.
    pub node: Option<String>,
    /// Where a repointed node will replicate from.
    pub source: Option<String>,
    /// Switchover and failback.
    pub strategy: Strategy,
    /// Snapshot, switchover, failback: also download the RDB into the backups directory.
    pub download: bool,
}

impl Request {
    /// A request for `action` on `group`, defaults elsewhere (manual strategy, no download).
    #[must_use]
    pub fn new(action: ActionKey, group: usize, node: Option<String>) -> Self {
        Self {
            action,
            group,
            node,
            source: None,
            strategy: Strategy::Manual,
            download: false,
        }
    }

    /// True when the strategy can be chosen (switchover, failback).
    #[must_use]
    pub fn has_strategy(&self) -> bool {
        matches!(self.action, ActionKey::Switchover | ActionKey::Failback)
    }

    /// True when an optional download can be asked for.
    #[must_use]
    pub fn has_download(&self) -> bool {
        matches!(
            self.action,
            ActionKey::Snapshot | ActionKey::Switchover | ActionKey::Failback
        )
    }
}

/// A titled block of lines shown in the plan dialog beside the plan itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    pub lines: Vec<String>,
}

/// What the console does once the run has ended (as the CLI does after `run_plan`).
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    Nothing,
    /// A promotion: mark the old primary for rejoin (when the run changed roles).
    MarkOldPrimary {
        /// Boxed: the table (with the old primary's liveness) dwarfs the other variants.
        candidates: Box<Candidates>,
        chosen: Option<String>,
        loss: Option<Loss>,
    },
    /// A rejoin: clear the node's rejoin mark (when the run is done).
    ClearMark {
        node: String,
    },
}

/// A plan ready to be shown, with everything needed to run it.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub request: Request,
    pub plan: Plan,
    /// The console's config scoped to the plan's group (group index 0), which the engine's
    /// connections are made from, as with the CLI's `--group`.
    pub config: Config,
    pub sections: Vec<Section>,
    /// The plan's notes not already shown in a section.
    pub notes: Vec<String>,
    pub after: After,
}

impl Prepared {
    /// Why the plan cannot run at all, even with an override: read-only mode, an HA manager
    /// owning the group, or a failed check that cannot be overridden (the CLI's rule for
    /// not asking). The engine refuses these anyway; the dialog does not offer them.
    #[must_use]
    pub fn blocked(&self, read_only: bool) -> Option<String> {
        let p = &self.plan;
        if read_only {
            return Some("read-only mode: redops takes no action".to_string());
        }
        if let Some(r) = &p.read_only {
            return Some(r.clone());
        }
        if p.changes_roles() {
            if let Some(r) = &p.ha_manager {
                return Some(r.clone());
            }
        }
        if p.has_hard_failure() {
            return Some("a pre-check failed that cannot be overridden".to_string());
        }
        None
    }

    /// True when some failed check needs an override (with a reason) before it can run.
    #[must_use]
    pub fn needs_override(&self) -> bool {
        !self.plan.checks_pass()
    }

    /// The word the typed confirmation asks for, or `None` for a plain confirm.
    #[must_use]
    pub fn confirm_word(&self) -> Option<&str> {
        match &self.plan.confirm {
            ops::Confirm::Yes => None,
            ops::Confirm::TypeName(n) => Some(n),
        }
    }

    /// A short title: `switchover to r1`, `snapshot of m1`, `promote r2`.
    #[must_use]
    pub fn title(&self) -> String {
        let r = &self.request;
        let node = |n: &Option<String>| n.clone().unwrap_or_default();
        match (self.plan.action, &self.after) {
            (ActionKind::Snapshot, _) => format!("snapshot of {}", node(&r.node)),
            (ActionKind::Switchover, _) => format!("switchover to {}", node(&r.node)),
            (ActionKind::Failback, _) => match self.confirm_word() {
                Some(w) => format!("failback to {w}"),
                None => "failback".to_string(),
            },
            (ActionKind::Promote, After::MarkOldPrimary { chosen, .. }) => {
                format!("promote {}", chosen.as_deref().unwrap_or("(none eligible)"))
            }
            (ActionKind::Promote, _) => "promote".to_string(),
            (ActionKind::Repoint, _) => format!(
                "repoint {} to {}",
                node(&r.node),
                r.source.as_deref().unwrap_or("?")
            ),
            (ActionKind::Rejoin, _) => format!("rejoin {}", node(&r.node)),
        }
    }
}

/// The config and topology of group `gi` alone, re-indexed as group 0, as the CLI sees them
/// with `--group NAME`.
#[must_use]
pub fn scope(config: &Config, topology: &Topology, gi: usize) -> Option<(Config, Topology)> {
    let group = config.groups.get(gi)?.clone();
    let mut c = config.clone();
    c.groups = vec![group];
    let mut gt = ops::group_topology(topology, gi);
    gt.index = 0;
    for v in &mut gt.nodes {
        if let Some(id) = &mut v.id {
            id.group = 0;
        }
    }
    let t = Topology {
        at: topology.at,
        groups: vec![gt],
    };
    Some((c, t))
}

/// The engine's budgets for actions from this console (the CLI's: the read timeout and the
/// download budget from the config, the rest defaults).
#[must_use]
pub fn budgets(config: &Config) -> Budgets {
    Budgets::for_console(&config.console)
}

/// Builds the plan of `req` from the live topology with the engine's builders.
///
/// # Errors
/// A usage problem the builder reports (unknown node, no preferred primary, no primary to
/// rejoin ...), with its hint.
pub fn prepare(
    config: &Config,
    topology: &Topology,
    marks: &[RejoinMark],
    req: &Request,
    now: SystemTime,
) -> OpsResult<Prepared> {
    let (cfg, topo) =
        scope(config, topology, req.group).ok_or_else(|| OpsError::usage("no such group"))?;
    let budgets = budgets(&cfg);
    let backups = cfg.console.backups_dir.clone();
    let download = req.download.then(|| backups.clone());
    let need = |n: &Option<String>| {
        n.clone()
            .ok_or_else(|| OpsError::usage("select a node first").hint("↑/↓ or j/k in the tree"))
    };
    let mut sections = Vec::new();
    let mut after = After::Nothing;
    let plan = match req.action {
        ActionKey::Snapshot => {
            let name = need(&req.node)?;
            let node = ops::find_node(&cfg, &topo, &name)?;
            let mut plan = ops::snapshot::plan_snapshot(&node, download, budgets);
            if let Some(g) = cfg.groups.get(node.group_index) {
                let gt = ops::group_topology(&topo, node.group_index);
                ops::checks::group_guard(&mut plan, g, &gt);
            }
            plan
        }
        ActionKey::Switchover => {
            let r = SwitchoverRequest {
                to: need(&req.node)?,
                strategy: req.strategy,
                budgets,
                download_dir: download,
            };
            switchover::plan_switchover(&cfg, &topo, &r)?
        }
        ActionKey::Failback => {
            switchover::plan_failback(&cfg, &topo, req.strategy, budgets, download)?
        }
        ActionKey::Promote => {
            let r = PromoteRequest {
                node: req.node.clone(),
                budgets,
                max_extra_link_down: promote::DEFAULT_MAX_EXTRA_LINK_DOWN,
                now,
            };
            let pp = promote::plan_promote(&cfg, &topo, &r)?;
            sections.push(candidates_section(&pp.candidates));
            after = After::MarkOldPrimary {
                candidates: Box::new(pp.candidates),
                chosen: pp.chosen,
                loss: pp.loss,
            };
            pp.plan
        }
        ActionKey::Repoint | ActionKey::Rejoin => {
            let node = need(&req.node)?;
            let rp = if req.action == ActionKey::Repoint {
                let r = RepointRequest {
                    node,
                    to: req
                        .source
                        .clone()
                        .ok_or_else(|| OpsError::usage("choose the source to replicate from"))?,
                    budgets,
                    backups_dir: backups,
                    sync_deadline: repoint::DEFAULT_SYNC_DEADLINE,
                };
                repoint::plan_repoint(&cfg, &topo, &r)?
            } else {
                let rp = repoint::plan_rejoin(
                    &cfg,
                    &topo,
                    &node,
                    marks,
                    budgets,
                    backups,
                    repoint::DEFAULT_SYNC_DEADLINE,
                )?;
                let name = rp.plan.nodes.first().map(|n| n.name.clone());
                after = After::ClearMark {
                    node: name.unwrap_or(node),
                };
                rp
            };
            if let Some(g) = &rp.guard {
                let (n, s) = (&g.node.name, &g.source.name);
                let resync = match &g.resync {
                    Some(repoint::Resync::Partial { bytes, .. }) => format!(
                        "a partial resync is expected: {n} keeps its data and receives {bytes} bytes"
                    ),
                    Some(repoint::Resync::Full { why }) => {
                        format!("a full sync replaces all of {n}'s data with {s}'s: {why}")
                    }
                    None => format!("a full sync replaces all of {n}'s data with {s}'s"),
                };
                let mut lines = vec![
                    format!("the node: {}", g.node.describe()),
                    format!("its new source: {}", g.source.describe()),
                    resync,
                ];
                if let Some(repoint::MarkCheck::Matches(d)) = &g.rejoin {
                    lines.push(format!("discarded by the rejoin: {}", d.describe(n, s)));
                }
                lines.push(format!("download first: {}", g.download.why));
                sections.push(Section {
                    title: "At risk (the wipe guard)".to_string(),
                    lines,
                });
            }
            rp.plan
        }
    };
    let mut req = req.clone();
    if req.action == ActionKey::Rejoin {
        // A rejoin's source is the current primary the builder chose.
        req.source = plan.nodes.get(1).map(|n| n.name.clone());
    }
    let shown: Vec<&String> = sections.iter().flat_map(|s| &s.lines).collect();
    let notes = plan
        .notes
        .iter()
        .filter(|n| !n.starts_with("candidates ("))
        .filter(|n| !n.contains(" holds: ") && !n.starts_with("download: "))
        .filter(|n| !shown.iter().any(|l| n.contains(l.trim())))
        .cloned()
        .collect();
    Ok(Prepared {
        request: req,
        plan,
        config: cfg,
        sections,
        notes,
        after,
    })
}

fn candidates_section(c: &Candidates) -> Section {
    let mut lines: Vec<String> = Vec::new();
    for row in &c.rows {
        lines.extend(promote::table_line(row).lines().map(str::to_string));
    }
    if lines.is_empty() {
        lines.push("no replica to choose from".to_string());
    }
    Section {
        title: "Candidates (Sentinel's rules; ranked by priority, then offset)".to_string(),
        lines,
    }
}
