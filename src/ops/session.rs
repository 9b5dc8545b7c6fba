//! One action's lifecycle, the same for the console, the CLI and a drill: [`prepare`] turns a
//! [`Request`] into a plan (or a mark to clear) with every refusal decided here, and
//! [`execute`] runs it (the audit log, the action's named connections, the engine, the
//! after-run work on rejoin marks) with a typed result.
//!
//! What stays in a front-end: how a request is asked for (a key, a subcommand), how a plan and
//! its refusal are shown, the confirmation, and how events and results are put into words.
//! `prepare` is pure; `execute` does the I/O (`session/execute.rs`).

mod build;
mod execute;
#[cfg(test)]
mod tests;

pub use execute::{clear_marks, execute, execute_on, record_acknowledgement, Aftermath, Executed};

use std::time::SystemTime;

use crate::config::Config;
use crate::topology::Topology;

use super::checks::{self, GroupPolicy};
use super::error::{OpsError, OpsResult};
use super::guard::{self, Refusal};
use super::promote::{Candidates, Loss, RejoinMark};
use super::repoint::WipeGuard;
use super::request::Request;
use super::{ActionKind, Approval, Budgets, Confirm, Note, NoteKind, Plan};

/// What a request is prepared against: the config, one poll's topology, the rejoin marks,
/// whether redops runs read-only, and the time (a promotion weighs how long links were down).
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub config: &'a Config,
    pub topology: &'a Topology,
    pub marks: &'a [RejoinMark],
    /// Read-only from the command line or the console config.
    pub read_only: bool,
    pub now: SystemTime,
}

/// What a request comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Preparation {
    /// A plan for the engine.
    Run(Box<Prepared>),
    /// Only a rejoin mark to drop (`clear_mark` asked, or what is seen shows the node settled):
    /// nothing is sent to any server; [`clear_marks`] records it in the audit log.
    ClearMark(MarkClearing),
}

impl Preparation {
    /// The plan, when the request came to one.
    #[must_use]
    pub fn into_run(self) -> Option<Prepared> {
        match self {
            Self::Run(p) => Some(*p),
            Self::ClearMark(_) => None,
        }
    }
}

/// A rejoin mark to clear, and why (recorded in the audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkClearing {
    pub group: String,
    pub node: String,
    pub why: String,
}

/// A part of the plan a front-end may show in its own way beside the plan's text (whose
/// notes of the same kind say it in words).
#[derive(Debug, Clone, PartialEq)]
pub enum Section {
    /// The promotion's candidates table ([`NoteKind::Candidates`]).
    Candidates(Box<Candidates>),
    /// What the wipe guard found before a repoint or rejoin ([`NoteKind::AtRisk`]).
    AtRisk(Box<WipeGuard>),
}

impl Section {
    /// The kind of the plan notes this section stands for.
    #[must_use]
    pub fn note_kind(&self) -> NoteKind {
        match self {
            Self::Candidates(_) => NoteKind::Candidates,
            Self::AtRisk(_) => NoteKind::AtRisk,
        }
    }
}

/// The work [`execute`] does once the engine has ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterRun {
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

/// A plan ready to be shown and run, with what goes with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The request, with what the plan settled (a rejoin's source is the current primary).
    pub request: Request,
    pub plan: Plan,
    /// The config the plan's connections are made from: the request's group alone (index 0)
    /// when it was scoped to one.
    pub config: Config,
    pub sections: Vec<Section>,
    pub after: AfterRun,
    /// Read-only mode when it was prepared (the engine is told again at run time).
    pub read_only: bool,
}

impl Prepared {
    /// The approval the operator's answers make (read-only as prepared).
    #[must_use]
    pub fn approval(
        &self,
        confirmation: Option<String>,
        force_reason: Option<String>,
        skip_snapshot_reason: Option<String>,
    ) -> Approval {
        Approval {
            read_only: self.read_only,
            confirmation,
            force_reason,
            skip_snapshot_reason,
        }
    }

    /// Why the plan is refused before any answer of the operator ([`guard::refusal`]): the
    /// same decision the engine makes.
    #[must_use]
    pub fn refusal(&self) -> Option<Refusal> {
        guard::refusal(&self.plan, &self.approval(None, None, None))
    }

    /// Why the plan cannot run at all, whatever the operator answers (read-only, an HA
    /// manager, a failed check no override covers, no snapshot gate): not offered.
    #[must_use]
    pub fn blocked(&self) -> Option<Refusal> {
        self.refusal().filter(|r| !r.answerable())
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
            Confirm::Yes => None,
            Confirm::TypeName(n) => Some(n),
        }
    }

    /// A short title: `switchover to r1`, `snapshot of m1`, `promote r2`.
    #[must_use]
    pub fn title(&self) -> String {
        let r = &self.request;
        let node = r.node.as_deref().unwrap_or_default();
        match (self.plan.action, &self.after) {
            (ActionKind::Snapshot, _) if r.all.is_some() => "snapshot of every primary".to_string(),
            (ActionKind::Snapshot, _) => format!("snapshot of {node}"),
            (ActionKind::Switchover, _) => format!("switchover to {node}"),
            (ActionKind::Failback, _) => match self.confirm_word() {
                Some(w) => format!("failback to {w}"),
                None => "failback".to_string(),
            },
            (ActionKind::Promote, AfterRun::MarkOldPrimary { chosen, .. }) => {
                format!("promote {}", chosen.as_deref().unwrap_or("(none eligible)"))
            }
            // A cluster's promotion (no rejoin mark): the replica it confirms with.
            (ActionKind::Promote, _) => match self.confirm_word() {
                Some(w) => format!("promote {w}"),
                None => "promote".to_string(),
            },
            (ActionKind::Repoint, _) => {
                format!("repoint {node} to {}", r.source.as_deref().unwrap_or("?"))
            }
            (ActionKind::SentinelReset, _) => "sentinel reset".to_string(),
            // `rejoin n1`, and any action on one node.
            (action, _) => format!("{} {node}", action.as_str()),
        }
    }

    /// The plan's notes that no section stands for.
    pub fn notes(&self) -> impl Iterator<Item = &Note> {
        let shown: Vec<NoteKind> = self.sections.iter().map(Section::note_kind).collect();
        self.plan
            .notes
            .iter()
            .filter(move |n| !shown.contains(&n.kind))
    }

    /// True when the plan has a snapshot gate that may be skipped (with a reason): a role
    /// change that can run at all. An on-demand snapshot is the gate itself.
    #[must_use]
    pub fn gate_skippable(&self) -> bool {
        let p = &self.plan;
        self.blocked().is_none()
            && p.action != ActionKind::Snapshot
            && !(p.snapshots.is_empty() && p.downloads.is_empty())
    }
}

/// The config and topology of group `gi` alone, re-indexed as group 0, as the CLI sees them
/// with `--group NAME`.
#[must_use]
pub fn scope(config: &Config, topology: &Topology, gi: usize) -> Option<(Config, Topology)> {
    let group = config.groups.get(gi)?.clone();
    let mut c = config.clone();
    c.groups = vec![group];
    let mut gt = super::group_topology(topology, gi);
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

/// Why `action` cannot be asked for on group `gi` at all, before any plan: read-only mode,
/// the group read-only by config, an HA manager owning a group whose roles it would change.
/// The console greys its keys with it; [`prepare`] decides the same for every plan.
#[must_use]
pub fn standing(ctx: &Context<'_>, gi: usize, action: ActionKind) -> Option<Refusal> {
    let changes_roles = action.changes_roles();
    let Some(g) = ctx.config.groups.get(gi) else {
        return guard::standing(ctx.read_only, None, None, changes_roles);
    };
    if by_sentinel_view(ctx, g, gi, action) {
        let policy = GroupPolicy::of(g, &super::group_topology(ctx.topology, gi));
        return guard::standing(ctx.read_only, policy.read_only.as_ref(), None, true);
    }
    let policy = GroupPolicy::of(g, &super::group_topology(ctx.topology, gi));
    // A cluster's switchover is its own CLUSTER FAILOVER (`switchover/cluster.rs`).
    // Its promotion is CLUSTER FAILOVER FORCE|TAKEOVER (`promote/cluster.rs`).
    let cluster_switchover = matches!(action, ActionKind::Switchover | ActionKind::Promote)
        && matches!(policy.ha_manager, Some(Refusal::Cluster { .. }));
    // A Sentinel group's switchover and failback go through Sentinel (`switchover/sentinel.rs`).
    let sentinel_switchover = matches!(action, ActionKind::Switchover | ActionKind::Failback)
        && matches!(policy.ha_manager, Some(Refusal::Sentinel { .. }));
    guard::standing(
        ctx.read_only,
        policy.read_only.as_ref(),
        policy
            .ha_manager
            .as_ref()
            .filter(|_| !cluster_switchover && !sentinel_switchover),
        changes_roles,
    )
}

/// A rejoin on a Sentinel group goes under the master the sentinels name
/// (`repoint/sentinel.rs`), which refuses it when they cannot vouch for one; a promote there
/// says what Sentinel did (`promote/sentinel.rs`), its plan refused otherwise: neither is
/// refused before it is planned, but for read-only.
fn by_sentinel_view(
    ctx: &Context<'_>,
    g: &crate::config::Group,
    gi: usize,
    action: ActionKind,
) -> bool {
    matches!(action, ActionKind::Rejoin | ActionKind::Promote)
        && matches!(
            GroupPolicy::of(g, &super::group_topology(ctx.topology, gi)).ha_manager,
            Some(Refusal::Sentinel { .. })
        )
}

/// The budgets of an action: the console config's (the read timeout of one command, the
/// download budget), the request's download budget over it.
#[must_use]
pub fn budgets(config: &Config, req: &Request) -> Budgets {
    let mut b = Budgets::for_console(&config.console);
    if let Some(d) = req.download_timeout {
        b.download = d;
    }
    b
}

/// Prepares `req`: scopes the config to the request's group, builds the plan with the
/// action's builder, then fills what the engine decides on from the config for every plan
/// (read-only group, HA manager, the lock on every node that answered), whatever the builder
/// did. A rejoin whose mark is to be cleared (asked, or settled) comes back as
/// [`Preparation::ClearMark`].
///
/// The plan is returned even when it is refused ([`Prepared::refusal`]): front-ends show it,
/// and the CLI lets the engine record the refusal.
///
/// # Errors
/// A usage problem (unknown node or group, no node where one is needed, no primary to
/// rejoin ...), or nothing to do (`clear_mark` on a node with no mark).
pub fn prepare(ctx: &Context<'_>, req: &Request) -> OpsResult<Preparation> {
    let (config, topology) = match req.group {
        Some(gi) => scope(ctx.config, ctx.topology, gi)
            .ok_or_else(|| OpsError::usage(format!("no group number {gi} in the config")))?,
        None => (ctx.config.clone(), ctx.topology.clone()),
    };
    if req.action == ActionKind::Rejoin {
        if let Some(c) = build::mark_to_clear(&config, &topology, ctx.marks, req)? {
            return Ok(Preparation::ClearMark(c));
        }
    }
    let built = build::build(ctx, &config, &topology, req)?;
    let mut plan = built.plan;
    if let Some(g) = config.groups.get(plan.group_index) {
        let gt = super::group_topology(&topology, plan.group_index);
        GroupPolicy::of(g, &gt).apply(&mut plan);
        checks::lock_group(&mut plan, g, &gt);
    }
    let mut request = req.clone();
    if req.action == ActionKind::Rejoin {
        // A rejoin's source is the current primary the builder chose.
        request.source = plan.nodes.get(1).map(|n| n.name.clone());
    }
    Ok(Preparation::Run(Box::new(Prepared {
        request,
        plan,
        config,
        sections: built.sections,
        after: built.after,
        read_only: ctx.read_only,
    })))
}
