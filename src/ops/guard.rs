//! Why an action may not run, decided once for every front-end and for the engine: read-only
//! mode, a group read-only by config, an HA manager owning the group, pre-checks that failed,
//! a role change with no snapshot gate and no recorded reason for it, a missing confirmation.
//!
//! [`refusal`] is the one function the engine's own guard, the console (to grey a key or
//! refuse a plan) and the CLI (to decide whether to ask for a confirmation) call. Each
//! [`Refusal`] is typed; its words are one text, with the hint as its own field. Pure: no I/O.

use std::fmt;

use serde::Serialize;

use super::engine::Approval;
use super::error::OpsError;
use super::plan::{Confirm, Plan};

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    /// Read-only mode (the command line or the console config).
    ReadOnly,
    /// The group is read-only in the config.
    GroupReadOnly { group: String },
    /// Sentinel watches the group: a role change by hand would be undone or fought.
    Sentinel { group: String, master_name: String },
    /// The group runs in cluster mode: REPLICAOF and FAILOVER are refused there.
    Cluster { group: String },
    /// Pre-checks failed that no override covers.
    HardFailure { failed: Vec<String> },
    /// Pre-checks failed that an override (with a recorded reason) may cover, and none was
    /// given.
    NeedsOverride { failed: Vec<String> },
    /// The plan changes roles, has no snapshot gate, and carries no recorded reason why.
    NoSnapshotGate,
    /// A snapshot gate skip was asked for without a reason.
    SkipWithoutReason,
    /// The confirmation is missing or wrong (`Some(name)`: the name to type).
    NotConfirmed { expected: Option<String> },
}

impl Refusal {
    /// What is refused and why, without the hint.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Self::ReadOnly => "read-only mode".to_string(),
            Self::GroupReadOnly { group } => {
                format!("group '{group}' is read-only in the config: redops takes no action on it")
            }
            Self::Sentinel { group, master_name } => format!(
                "group '{group}' is watched by Sentinel (master name '{master_name}'): a manual \
                 role change would be undone or fought by Sentinel"
            ),
            Self::Cluster { group } => format!(
                "group '{group}' runs in cluster mode: REPLICAOF and FAILOVER are refused there"
            ),
            Self::HardFailure { failed } | Self::NeedsOverride { failed } => {
                format!("pre-checks failed: {}", failed.join("; "))
            }
            Self::NoSnapshotGate => {
                "the plan changes roles without a snapshot gate and says no reason why".to_string()
            }
            Self::SkipWithoutReason => "skipping the snapshot gate needs a reason".to_string(),
            Self::NotConfirmed { expected: None } => "not confirmed".to_string(),
            Self::NotConfirmed { expected: Some(n) } => {
                format!("not confirmed: the target's name '{n}' was not typed")
            }
        }
    }

    /// What to do instead, when there is something to say.
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::ReadOnly => Some(
                "redops was started read-only (the command line or console.read_only): it \
                 takes no action"
                    .to_string(),
            ),
            Self::Sentinel { .. } => Some(
                "switch over through Sentinel (SENTINEL FAILOVER with writes paused), not by \
                 hand; Sentinel fails a dead primary over and repoints the replicas by itself \
                 (promote then says what it did), and a returning old primary rejoins under the \
                 master the sentinels name (rejoin)"
                    .to_string(),
            ),
            Self::Cluster { .. } => Some(
                "the cluster makes its own role changes: a planned switchover to a replica is \
                 sent as CLUSTER FAILOVER; a dead primary's replica takes over by itself (or \
                 is promoted with CLUSTER FAILOVER FORCE when it does not)"
                    .to_string(),
            ),
            Self::NoSnapshotGate => Some(
                "skip the gate with a reason (recorded), or plan the change with a snapshot"
                    .to_string(),
            ),
            // An override lifts it: each front-end says how (`answerable`, `OpsError::overridable`).
            Self::NeedsOverride { .. }
            | Self::GroupReadOnly { .. }
            | Self::HardFailure { .. }
            | Self::SkipWithoutReason
            | Self::NotConfirmed { .. } => None,
        }
    }

    /// True when an answer of the operator can lift it (an override reason, a confirmation),
    /// so a front-end offers the plan and asks.
    #[must_use]
    pub fn answerable(&self) -> bool {
        matches!(self, Self::NeedsOverride { .. } | Self::NotConfirmed { .. })
    }

    /// The refusal as the action layer's error (kind `Refused`).
    #[must_use]
    pub fn error(&self) -> OpsError {
        let mut e = OpsError::refused(self.message());
        e.hint = self.hint();
        if matches!(self, Self::NeedsOverride { .. }) {
            e = e.overridable();
        }
        e
    }
}

/// `message. hint: hint`: the engine's outcome detail and the plan's text.
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())?;
        match self.hint() {
            Some(h) => write!(f, ". hint: {h}"),
            None => Ok(()),
        }
    }
}

/// Serialized as its text, as the plan's JSON has always carried it.
#[allow(clippy::ref_option)] // serde's `serialize_with` passes `&Option<T>`.
pub(crate) fn ser_refusal<S: serde::Serializer>(
    r: &Option<Refusal>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match r {
        Some(r) => s.serialize_str(&r.to_string()),
        None => s.serialize_none(),
    }
}

/// The refusals known before any plan is built: read-only mode, the group read-only by config,
/// an HA manager when the action changes roles. `group_read_only` and `ha_manager` are what
/// [`GroupPolicy`](super::checks::GroupPolicy) found for the group.
#[must_use]
pub fn standing(
    read_only: bool,
    group_read_only: Option<&Refusal>,
    ha_manager: Option<&Refusal>,
    changes_roles: bool,
) -> Option<Refusal> {
    if read_only {
        return Some(Refusal::ReadOnly);
    }
    if let Some(r) = group_read_only {
        return Some(r.clone());
    }
    if changes_roles {
        return ha_manager.cloned();
    }
    None
}

/// Every refusal of `plan` that needs no network, in the engine's order, with what the
/// operator gave in `approval` (its confirmation is not looked at: see [`confirmation`]).
#[must_use]
pub fn refusal(plan: &Plan, approval: &Approval) -> Option<Refusal> {
    if let Some(r) = standing(
        approval.read_only,
        plan.read_only.as_ref(),
        plan.ha_manager.as_ref(),
        plan.changes_roles(),
    ) {
        return Some(r);
    }
    let hard: Vec<String> = plan
        .failures()
        .filter(|c| !c.overridable)
        .map(|c| c.message.clone())
        .collect();
    if !hard.is_empty() {
        return Some(Refusal::HardFailure { failed: hard });
    }
    if let Some(r) = &approval.skip_snapshot_reason {
        if r.trim().is_empty() {
            return Some(Refusal::SkipWithoutReason);
        }
    }
    if plan.changes_roles()
        && plan.snapshots.is_empty()
        && plan.downloads.is_empty()
        && plan.gate_skipped.is_none()
        && approval.skip_snapshot_reason.is_none()
    {
        return Some(Refusal::NoSnapshotGate);
    }
    let soft: Vec<String> = plan.failures().map(|c| c.message.clone()).collect();
    let reason = approval
        .force_reason
        .as_deref()
        .is_some_and(|r| !r.trim().is_empty());
    if !soft.is_empty() && !reason {
        return Some(Refusal::NeedsOverride { failed: soft });
    }
    None
}

/// The confirmation in `approval` against the one `plan` asks for.
#[must_use]
pub fn confirmation(plan: &Plan, approval: &Approval) -> Option<Refusal> {
    let confirmed = match (&plan.confirm, approval.confirmation.as_deref()) {
        (_, None) => false,
        (Confirm::Yes, Some(_)) => true,
        (Confirm::TypeName(name), Some(typed)) => typed.trim() == name,
    };
    if confirmed {
        return None;
    }
    Some(Refusal::NotConfirmed {
        expected: match &plan.confirm {
            Confirm::Yes => None,
            Confirm::TypeName(n) => Some(n.clone()),
        },
    })
}

/// The engine's guard before anything is sent: [`refusal`], then [`confirmation`].
///
/// # Errors
/// The first refusal found.
pub fn check(plan: &Plan, approval: &Approval) -> Result<(), Refusal> {
    match refusal(plan, approval).or_else(|| confirmation(plan, approval)) {
        Some(r) => Err(r),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
