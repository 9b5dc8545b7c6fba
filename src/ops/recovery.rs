//! What to do about a run that never finished: given an interrupted run from the audit log
//! and the group as it is now, describe the state and the safe next step.
//!
//! Pure: it reads the topology, it changes nothing. The CLI prints the advice before any
//! action; the TUI shows it at start-up.

use serde::Serialize;

use crate::audit::InterruptedRun;
use crate::info::InfoRole;
use crate::topology::{GroupTopology, Link, Role};

use super::summary::info_line;

/// The state of an interrupted run's group and what to do next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    /// One line per node.
    pub state: Vec<String>,
    pub next_step: String,
    /// True when the group is consistent (one primary, every reachable replica follows it with
    /// its link up): the run may be acknowledged.
    pub settled: bool,
}

/// Two nodes that replicate from each other at one offset: what a switchover leaves when it
/// dies between the demotion and the promotion.
fn loop_pair(group: &GroupTopology) -> Option<(String, String)> {
    let offset = |n: &crate::topology::NodeView| n.info.as_ref().and_then(|i| i.replication.offset);
    group.nodes.iter().find_map(|a| {
        let up = a.upstream.as_ref()?;
        let b = group.nodes.iter().find(|b| b.addr == up.addr)?;
        let back = b.upstream.as_ref()?;
        (back.addr == a.addr && a.name < b.name && offset(a).is_some() && offset(a) == offset(b))
            .then(|| (a.name.clone(), b.name.clone()))
    })
}

/// Advice for `run` given the group as polled now.
#[must_use]
pub fn advise(run: &InterruptedRun, group: &GroupTopology) -> Advice {
    let state: Vec<String> = group
        .nodes
        .iter()
        .filter(|n| !n.unmanaged)
        .map(|n| match &n.info {
            Some(i) => format!("{}: {}", n.name, info_line(i)),
            None => format!("{}: {}", n.name, n.state.as_str()),
        })
        .collect();
    let failing_over = group.nodes.iter().find(|n| {
        n.info
            .as_ref()
            .and_then(|i| i.replication.failover_state.as_deref())
            .is_some_and(|s| s != "no-failover")
    });
    if let Some(n) = failing_over {
        return Advice {
            state,
            next_step: format!(
                "a FAILOVER is still in progress on {} (the {} run died during it): abort it with FAILOVER \
                 ABORT on {}, then look again",
                n.name, run.action, n.name
            ),
            settled: false,
        };
    }
    let primaries: Vec<_> = group
        .nodes
        .iter()
        .filter(|n| n.role == Role::Primary && !n.unmanaged)
        .collect();
    match primaries.as_slice() {
        [] => Advice {
            state,
            next_step: match loop_pair(group) {
                Some((a, b)) => format!(
                    "no node takes writes: {a} and {b} replicate from each other at the same offset (the run \
                     died after demoting the old primary and before promoting its target): promote the \
                     target to finish (`redops promote NODE`); either holds every acknowledged write"
                ),
                None => "no primary answers: if the replicas form a loop or all lost their primary, promote \
                         the most advanced replica (`redops promote`)"
                    .to_string(),
            },
            settled: false,
        },
        [p] => {
            let strays: Vec<&str> = group
                .nodes
                .iter()
                .filter(|n| !n.unmanaged && n.role == Role::Replica)
                .filter(|n| {
                    n.link != Some(Link::Up)
                        || n.info.as_ref().is_some_and(|i| i.replication.replid != p.info.as_ref().and_then(|pi| pi.replication.replid.clone()))
                })
                .map(|n| n.name.as_str())
                .collect();
            if strays.is_empty() {
                Advice {
                    state,
                    next_step: format!(
                        "the group is consistent: {} is the only primary and every reachable replica follows it; \
                         nothing is left to finish",
                        p.name
                    ),
                    settled: true,
                }
            } else {
                Advice {
                    state,
                    next_step: format!(
                        "{} is the primary; {} do(es) not follow it with a live link: repoint them to {} \
                         (`redops repoint NODE --to {}`)",
                        p.name,
                        strays.join(", "),
                        p.name,
                        p.name
                    ),
                    settled: false,
                }
            }
        }
        many => {
            // The promoted node carries the old history as replid2.
            let promoted = many.iter().find(|b| {
                many.iter().any(|a| {
                    let (ai, bi) = (a.info.as_ref(), b.info.as_ref());
                    match (ai, bi) {
                        (Some(ai), Some(bi)) => {
                            bi.replication.replid2.is_some()
                                && bi.replication.replid2 == ai.replication.replid
                                && ai.replication.role == Some(InfoRole::Primary)
                        }
                        _ => false,
                    }
                })
            });
            let next_step = match promoted {
                Some(new) => {
                    let old: Vec<&str> = many
                        .iter()
                        .filter(|o| o.name != new.name)
                        .map(|o| o.name.as_str())
                        .collect();
                    format!(
                        "{} was promoted from {}'s history but {} is still a primary (split brain): finish the \
                         demotion: `redops rejoin {}` (it becomes a replica of {}; writes it took after the \
                         promotion are lost, the rejoin guard shows how many bytes)",
                        new.name,
                        old.join(", "),
                        old.join(", "),
                        old.first().copied().unwrap_or("?"),
                        new.name
                    )
                }
                None => format!(
                    "{} primaries ({}) on unrelated histories: choose the one to keep and rejoin the others",
                    many.len(),
                    many.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            };
            Advice {
                state,
                next_step,
                settled: false,
            }
        }
    }
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
                    next_step: format!("group '{}' is not among the current targets: look at it with `redops status`", r.group),
                    settled: false,
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
