//! The checks of a drill whose sandbox is a Redis Cluster (`sandbox.cluster = "3x1"`): the
//! shape reads, and the settings of a single replication group are left out (a cluster
//! starts empty: its writer's keys are its data).

use super::DrillError;
use crate::drill::spec::SandboxSpec;

/// At most this many servers in a drill's cluster.
const MAX_CLUSTER_NODES: usize = 12;

/// The sandbox section's cluster settings, when it has one.
pub(super) fn check_sandbox(s: &SandboxSpec) -> Result<(), DrillError> {
    let Some(text) = &s.cluster else {
        return Ok(());
    };
    let shape: crate::sandbox::ClusterShape = text.parse().map_err(|e: String| {
        let (message, hint) = e
            .split_once("\n  hint: ")
            .map_or((e.as_str(), ""), |(m, h)| (m, h));
        DrillError::new(format!("sandbox.cluster: {message}"), hint)
    })?;
    if shape.total() > MAX_CLUSTER_NODES {
        return Err(DrillError::new(
            format!(
                "sandbox.cluster '{text}' makes {} servers, more than a drill needs",
                shape.total()
            ),
            format!("a drill's cluster has at most {MAX_CLUSTER_NODES} servers"),
        ));
    }
    let single_group = [
        (s.chain, "chain"),
        (s.spare > 0, "spare"),
        (s.data_keys > 0, "data_keys"),
        (s.primary_persistence.is_some(), "primary_persistence"),
        (s.sentinels > 0, "sentinels"),
        (!s.never_promote.is_empty(), "never_promote"),
    ];
    if let Some((_, key)) = single_group.iter().find(|(set, _)| *set) {
        return Err(DrillError::new(
            format!("sandbox.{key} does not apply to a cluster sandbox"),
            "a cluster's shape is its `cluster` setting and it starts empty (the writer's keys \
             are its data): set data_keys = 0 and drop chain, spare, primary_persistence, sentinels and \
             never_promote",
        ));
    }
    Ok(())
}
