//! What to do about a run that never finished: given an interrupted run from the audit log
//! and the group as it is now, describe the state and the safe next step (decided by the
//! same rules as a failed run's, `next_step.rs`).
//!
//! Pure: it reads the topology, it changes nothing. The CLI prints the advice before any
//! action; the TUI shows it at start-up.

use serde::Serialize;

use crate::audit::InterruptedRun;
use crate::info::Info;
use crate::topology::{GroupTopology, NodeView};

use super::next_step::{decide, NextStep, Situation};
use super::summary::info_line;

/// The state of an interrupted run's group and what to do next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    /// One line per node.
    pub state: Vec<String>,
    /// Decided by [`next_step::decide`](super::next_step::decide), as for a failed run.
    pub next_step: NextStep,
    /// True when the group is consistent (one primary, every reachable replica follows it with
    /// its link up, no `replica-priority` the run lowered still 0): the run may be acknowledged.
    pub settled: bool,
    /// What a switchover through Sentinel left to put back: one line per replica whose
    /// `replica-priority` it set to 0 and that still reads 0.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restore: Vec<String>,
}

/// Advice for `run` given its group as polled now. What the group shows decides it, not what
/// the run was doing: a run may have died at any instant.
#[must_use]
pub fn advise(run: &InterruptedRun, group: &GroupTopology) -> Advice {
    let mut a = advise_group(group, &[]);
    a.restore = priorities_left(run, group);
    if !a.restore.is_empty() {
        a.settled = false;
    }
    a
}

/// The replicas whose `replica-priority` the interrupted run set to 0 (journalled in the
/// title of the step that did it, before the command was sent) and whose INFO still says 0.
fn priorities_left(run: &InterruptedRun, group: &GroupTopology) -> Vec<String> {
    run.steps_started
        .iter()
        .filter_map(|t| super::switchover::lowered_priority(t))
        .filter(|(node, _)| {
            group.nodes.iter().any(|n| {
                &n.name == node
                    && n.info
                        .as_ref()
                        .and_then(|i| i.replication.priority)
                        .is_some_and(|p| p == 0)
            })
        })
        .map(|(node, old)| {
            format!(
                "{node}'s replica-priority is still 0 (set by the interrupted run, it was {old}): \
                 put it back with CONFIG SET replica-priority {old} on {node} once Sentinel runs \
                 no failover"
            )
        })
        .collect()
}

/// The advice for a group as polled now, with old primaries known to need a rejoin (the
/// console's marks) besides the stale primaries the topology flags.
#[must_use]
pub fn advise_group(group: &GroupTopology, rejoin: &[String]) -> Advice {
    let state: Vec<String> = group
        .nodes
        .iter()
        .filter(|n| !n.unmanaged)
        .map(|n| match &n.info {
            Some(i) => format!("{}: {}", n.name, named_upstream(info_line(i), i, n, group)),
            None => format!("{}: {}", n.name, n.state.as_str()),
        })
        .collect();
    let d = decide(&Situation::of_group(group).also_rejoin(rejoin.iter().cloned()));
    Advice {
        state,
        next_step: d.next,
        settled: d.settled,
        restore: Vec::new(),
    }
}

/// `line` (an [`info_line`]) with the upstream a replica reports (`of host:port`) named when
/// it is a node of the group: nodes by name, an address only for one the group does not know.
fn named_upstream(line: String, i: &Info, n: &NodeView, group: &GroupTopology) -> String {
    let r = &i.replication;
    let (Some(host), Some(port), Some(u)) = (&r.master_host, r.master_port, &n.upstream) else {
        return line;
    };
    if u.index.is_none() {
        return line;
    }
    line.replacen(
        &format!("replica of {host}:{port} "),
        &format!("replica of {} ", group.upstream_name(u)),
        1,
    )
}

/// Interrupted runs in the audit log at `path`, each with advice for its group as it is now.
/// Runs of a process that is still alive on this host are left out (they are running).
///
/// # Errors
/// The audit log exists but cannot be read.
pub fn check_interrupted(
    path: &std::path::Path,
    topology: &crate::topology::Topology,
) -> std::io::Result<Vec<(InterruptedRun, Advice)>> {
    let me = crate::audit::Who::current();
    let runs = crate::audit::interrupted_runs(path)?;
    Ok(runs
        .into_iter()
        .filter(|r| !(r.host == me.host && r.pid != me.pid && process_alive(r.pid)))
        .filter(|r| r.pid != me.pid)
        .map(|r| {
            let group = topology
                .groups
                .iter()
                .find(|g| g.name == r.group)
                .cloned()
                .unwrap_or_default();
            let advice = if group.nodes.is_empty() {
                Advice {
                    state: Vec::new(),
                    next_step: NextStep::manual(format!(
                        "group '{}' is not among the current targets: look at it with them included",
                        r.group
                    )),
                    settled: false,
                    restore: Vec::new(),
                }
            } else {
                advise(&r, &group)
            };
            (r, advice)
        })
        .collect())
}

/// True when a process with this id exists on this machine.
fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::advise_group;
    use crate::ops::fake::FakeOps;

    /// The group's state names a replica's upstream by node name, not by address.
    #[test]
    fn state_lines_name_known_upstreams() {
        let fake = FakeOps::group(&["p", "r1"]);
        let (_, topo) = fake.config_and_topology("g");
        let a = advise_group(&topo.groups[0], &[]);
        let r1 = a.state.iter().find(|l| l.starts_with("r1: ")).unwrap();
        assert!(r1.starts_with("r1: role=replica of p link=up"), "{r1}");
    }
}
