//! The safe next step after a run that failed, was interrupted, or left the group changed:
//! one typed value decided in the core by one set of rules ([`decide`]), rendered by each
//! front-end in its own terms (the console names the key to press, the CLI the command to
//! type). The core never writes CLI syntax or key names into it.
//!
//! Three callers ask, each with what it knows: the engine's failure report (the nodes read
//! right after the rollback, and what the run itself knows: its old primary, the offset it
//! captured, a role command still unanswered), the advice on an interrupted run (the group as
//! polled now) and the console's offer (the same, plus the rejoin marks it holds). They build
//! a [`Situation`] (`next_step/facts.rs`) and get the same answer for the same facts.

mod facts;
mod rules;
#[cfg(test)]
mod tests;

pub use rules::decide;

use std::fmt;

use serde::Serialize;

use super::plan::ActionKind;
use crate::topology::Role;

/// What to do next, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextStep {
    /// The redops action that is the next step, when there is one (`None`: something to do by
    /// hand or to look at, said in `why`).
    pub action: Option<ActionKind>,
    /// The node the action applies to (the one to promote, repoint or rejoin); `None` when
    /// the operator chooses (promote: the best candidate).
    pub node: Option<String>,
    /// Where it should replicate from (repoint), when the step names it.
    pub source: Option<String>,
    /// Why, in plain words, without command syntax.
    pub why: String,
}

impl NextStep {
    /// A next step that is a redops action on `node`.
    #[must_use]
    pub fn action(action: ActionKind, node: Option<String>, why: impl Into<String>) -> Self {
        Self {
            action: Some(action),
            node,
            source: None,
            why: why.into(),
        }
    }

    /// A next step that is not a redops action (look, wait, act by hand).
    #[must_use]
    pub fn manual(why: impl Into<String>) -> Self {
        Self {
            action: None,
            node: None,
            source: None,
            why: why.into(),
        }
    }

    /// The same step with the source to replicate from.
    #[must_use]
    pub fn from_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The same step with `note` said first (a command that may still run).
    #[must_use]
    pub(super) fn after(mut self, note: Option<String>) -> Self {
        if let Some(n) = note {
            self.why = format!("{n}. {}", self.why);
        }
        self
    }
}

/// Plain words, for the audit log and logs: the reason, then the action without any
/// front-end's syntax (`... (next: rejoin n1)`).
impl fmt::Display for NextStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.why)?;
        let Some(a) = self.action else {
            return Ok(());
        };
        write!(f, " (next: {}", a.as_str())?;
        if let Some(n) = &self.node {
            write!(f, " {n}")?;
        }
        if let Some(s) = &self.source {
            write!(f, " to {s}")?;
        }
        write!(f, ")")
    }
}

/// What one node showed when the situation was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// It answered and its replication section was read.
    Read(Repl),
    /// It answers but cannot be read (an error reply, missing permissions): it is alive, so it
    /// may be a primary.
    Unreadable,
    /// It gave no answer at all (refused, silent): only such a node may be down.
    Silent,
}

/// The replication facts of a node that was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repl {
    pub role: Role,
    pub replid: Option<String>,
    pub replid2: Option<String>,
    /// `master_repl_offset`.
    pub offset: Option<u64>,
    /// `slave_repl_offset` (replicas).
    pub replica_offset: Option<u64>,
    /// A replica's link to its upstream is up.
    pub link_up: bool,
    /// The name of the node of the group it replicates from, when it is one we know.
    pub upstream: Option<String>,
    /// A `FAILOVER` is in progress on it.
    pub failing_over: bool,
}

/// One node of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFacts {
    pub name: String,
    pub seen: Seen,
}

impl NodeFacts {
    pub(super) fn repl(&self) -> Option<&Repl> {
        match &self.seen {
            Seen::Read(r) => Some(r),
            _ => None,
        }
    }

    pub(super) fn is(&self, role: Role) -> bool {
        self.repl().is_some_and(|r| r.role == role)
    }
}

/// A role command sent by the run that never answered: it may still run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// The old primary never answered its demotion to `target`.
    Demotion { old: String, target: String },
    /// The target never answered `REPLICAOF NO ONE`, and the old primary stayed demoted so
    /// that a late promotion leaves one primary.
    PromotionAfterDemotion { target: String, old: String },
    /// A promotion never answered, with no demoted old primary (a promote action).
    Promotion { target: String },
}

/// What a run that just failed knows beyond what its nodes show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFacts {
    /// The plan's old primary.
    pub old_primary: Option<String>,
    /// The old primary's offset captured while its writes were paused.
    pub captured_offset: Option<u64>,
    /// The old primary may still run its demotion.
    pub demotion_pending: bool,
    /// The unanswered role command to say first, if any.
    pub pending: Option<Pending>,
}

/// Everything the decider looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Situation {
    /// The group's managed nodes.
    pub nodes: Vec<NodeFacts>,
    /// Old primaries to rejoin first: stale primaries the topology flags, and marked old
    /// primaries that are back (the console's marks).
    pub rejoin: Vec<String>,
    /// Set when the situation is what a run left just now (the engine's failure report).
    pub run: Option<RunFacts>,
}

/// The decider's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub next: NextStep,
    /// The group is consistent: one primary, every replica read follows it with its link up.
    pub settled: bool,
}

impl Decision {
    pub(super) fn open(next: NextStep) -> Self {
        Self {
            next,
            settled: false,
        }
    }
}
