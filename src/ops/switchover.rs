//! Planned switchover (and failback) with zero acknowledged writes lost, REDIS.md 3d.
//!
//! Manual strategy: pause writes on the primary with a bounded `CLIENT PAUSE <ms> WRITE`, prove
//! the target caught up on its own `slave_repl_offset`, demote the old primary, promote the
//! target, unpause, then repoint the siblings, verify. Demoting first (the order `FAILOVER`
//! uses inside the server) means the console may die between any two commands and leave at
//! most one node that accepts writes: see the engine's module doc. Native strategy: the server's
//! `FAILOVER TO ... TIMEOUT`, then repoint the siblings it leaves chained. Plan building only:
//! pure functions of the topology and the request.
//!
//! Only the primary and the target are touched while writes are paused. The siblings are
//! replicas: "at most one writable primary" rests on demoting the old primary before the
//! unpause, not on them, and until they are repointed they keep replicating through the old
//! primary (chained). So a frozen or black-holed sibling costs the run its command timeout,
//! never the writers.

pub(crate) mod cluster;
pub(crate) mod sentinel;

pub use sentinel::lowered_priority;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::info::InfoRole;
use crate::topology::{AnomalyKind, Liveness, NodeView, Role, Topology};

use super::checks::{group_guard, latency, reachable, target_ready};
use super::error::{OpsError, OpsResult};
use super::plan::{ActionKind, Budgets, Check, Confirm, Expect, Plan, Step, StepKind, Strategy};
use super::redis_ops::{Command, InfoSection};
use super::{find_node, group_topology};

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchoverRequest {
    /// The replica to promote, by name or address.
    pub to: String,
    pub strategy: Strategy,
    pub budgets: Budgets,
    /// Download the old primary's RDB here before it is demoted.
    pub download_dir: Option<PathBuf>,
}

/// The `CLIENT PAUSE` timeout: longer than everything that runs while paused (the catch-up, and
/// for each node touched while paused its role command, a watch of
/// [`WATCH_TIMEOUTS`](super::engine::WATCH_TIMEOUTS) command timeouts if it goes unanswered, the
/// fence and one resend), at least `budgets.pause`, so that a crashed console's pause still
/// expires; short enough that a crashed console does not hold the writers for long.
#[must_use]
pub fn pause_ms(budgets: &Budgets, nodes_to_touch: usize) -> u64 {
    let per_node = 3 + super::engine::WATCH_TIMEOUTS;
    let n = u32::try_from(nodes_to_touch)
        .unwrap_or(u32::MAX)
        .saturating_mul(per_node)
        .saturating_add(3);
    let needed = budgets.catch_up + budgets.command * n + Duration::from_secs(2);
    u64::try_from(needed.max(budgets.pause).as_millis()).unwrap_or(u64::MAX)
}

/// Builds the plan of a switchover to `req.to`.
///
/// # Errors
/// The target names no configured node (a usage error, not a failed check).
pub fn plan_switchover(
    config: &Config,
    topology: &Topology,
    req: &SwitchoverRequest,
) -> OpsResult<Plan> {
    build(config, topology, req).map(|b| b.plan)
}

/// A switchover plan, and whether its target is already the group's primary (a failed check
/// of the plan, which a failback reads instead of the check's words).
struct Built {
    plan: Plan,
    target_is_primary: bool,
}

#[allow(clippy::too_many_lines)]
fn build(config: &Config, topology: &Topology, req: &SwitchoverRequest) -> OpsResult<Built> {
    let target = find_node(config, topology, &req.to)?;
    let gi = target.group_index;
    let group = &config.groups[gi];
    let gt = group_topology(topology, gi);
    if gt.cluster.is_some() || group.cluster {
        return Ok(cluster::build(config, &gt, req, &target));
    }
    if let Some(s) = &group.sentinel {
        return sentinel::build(config, &gt, req, &target, s);
    }
    if req.strategy == Strategy::Sentinel {
        return Err(OpsError::usage(format!(
            "group '{}' is not watched by Sentinel: there is no Sentinel to switch over through",
            group.name
        ))
        .hint(
            "leave the strategy out, or configure sentinel = { addrs, master_name } for the group",
        ));
    }
    let mut plan = Plan::new(ActionKind::Switchover, &group.name, gi, req.budgets);
    plan.strategy = Some(req.strategy);
    plan.strategy_reason = Some(match req.strategy {
        Strategy::Manual | Strategy::Sentinel => "bounded CLIENT PAUSE WRITE and a catch-up proven on the target's own offset: \
                             the write stall is the catch-up plus a few round trips"
            .to_string(),
        Strategy::Native => "the server's FAILOVER TO: it waits for the target's once-a-second ACK, so the \
                             write stall is longer; the siblings it leaves chained are repointed after"
            .to_string(),
    });
    group_guard(&mut plan, group, &gt);
    plan.confirm = Confirm::TypeName(target.cfg.name.clone());

    for a in &gt.anomalies {
        if matches!(
            a.kind,
            AnomalyKind::SplitBrain
                | AnomalyKind::ReplicationLoop
                | AnomalyKind::FailoverInProgress
        ) {
            plan.checks.push(Check::fail(format!(
                "the group is not healthy: {}",
                a.message
            )));
        }
    }
    let primaries: Vec<&NodeView> = gt.primaries().into_iter().map(|i| &gt.nodes[i]).collect();
    let primary = match primaries.as_slice() {
        [p] => *p,
        [] => {
            plan.summary = format!("switch the primary over to {}", target.cfg.name);
            plan.checks.push(Check::fail(format!(
                "group '{}' has no reachable primary: a switchover needs a healthy one. hint: use promote",
                group.name
            )));
            return Ok(Built::refused(plan));
        }
        many => {
            plan.summary = format!("switch the primary over to {}", target.cfg.name);
            let names: Vec<&str> = many.iter().map(|p| p.name.as_str()).collect();
            plan.checks.push(Check::fail(format!(
                "group '{}' has {} primaries ({}): resolve that first",
                group.name,
                many.len(),
                names.join(", ")
            )));
            return Ok(Built::refused(plan));
        }
    };
    let Some(p_id) = primary.id else {
        plan.checks.push(Check::fail(format!(
            "the primary {} is not a configured node",
            primary.name
        )));
        return Ok(Built::refused(plan));
    };
    let p_cfg = &group.nodes[p_id.node];
    plan.summary = format!(
        "{} ({}) -> {} ({}), strategy {}",
        p_cfg.name,
        p_cfg.addr,
        target.cfg.name,
        target.cfg.addr,
        req.strategy.as_str()
    );
    let pi = plan.add_node(&p_cfg.name, &p_cfg.addr, p_id);
    let target_is_primary = target.id == p_id;
    if target_is_primary {
        plan.checks.push(Check::fail(format!(
            "{} is already the primary",
            target.cfg.name
        )));
        return Ok(Built {
            plan,
            target_is_primary,
        });
    }
    let ti = plan.add_node(&target.cfg.name, &target.cfg.addr, target.id);
    let Some(t_view) = target.view else {
        plan.checks.push(Check::fail(format!(
            "{} has not been polled",
            target.cfg.name
        )));
        return Ok(Built::refused(plan));
    };

    primary_checks(&mut plan, primary, t_view);

    // Siblings: the primary's other direct replicas. Chained ones follow their upstream.
    let mut siblings = Vec::new();
    let mut others: Vec<&NodeView> = vec![primary];
    for (k, v) in gt.nodes.iter().enumerate().filter(|(_, v)| !v.unmanaged) {
        let Some(id) = v.id else { continue };
        if id == p_id || id == target.id {
            continue;
        }
        let follows_p = v.upstream.as_ref().is_some_and(|u| u.addr == primary.addr);
        let cfg = &group.nodes[id.node];
        let liveness = gt.liveness(k);
        if let Liveness::Unreadable { .. } | Liveness::Unknown = liveness {
            // Alive (it answered) but unreadable: it keeps following whatever it follows, which
            // is safe (never a second primary), but the plan cannot know where it stands.
            plan.checks.push(Check::warn(format!(
                "{}: it will not be repointed; if it follows {}, it ends up chained under {} (then a \
                 replica of {}): look where it replicates from once it can be read{}",
                liveness.describe(&v.name),
                primary.name,
                primary.name,
                target.cfg.name,
                liveness
                    .fix()
                    .map_or_else(String::new, |f| format!(". hint: {f}"))
            )));
            continue;
        }
        if !v.state.is_reachable() {
            let then = if follows_p {
                format!(
                    "if it comes back it still follows {} (then a replica of {}): repoint it then",
                    primary.name, target.cfg.name
                )
            } else {
                format!(
                    "its upstream is not known: when it is back, look where it replicates from and \
                     repoint it to {} if needed",
                    target.cfg.name
                )
            };
            plan.checks.push(Check::warn(format!(
                "{} is {}: it will not be repointed; {then}",
                v.name,
                v.state.as_str()
            )));
            continue;
        }
        if follows_p {
            if v.link != Some(crate::topology::Link::Up) {
                plan.checks.push(Check::warn(format!(
                    "{} follows {} but {}",
                    v.name,
                    primary.name,
                    super::checks::link_down_words(v.link)
                )));
            }
            others.push(v);
            siblings.push(plan.add_node(&cfg.name, &cfg.addr, id));
        } else if v.role == Role::Replica {
            plan.notes.push(format!(
                "{} replicates from {} (chained): left as it is",
                v.name,
                v.upstream.as_ref().map_or("?", |u| gt.upstream_name(u))
            ));
        }
    }
    plan.checks
        .extend(target_ready(t_view, primary, &others, group.lag.warn_bytes));
    if let Some(pref) = &group.preferred_primary {
        if pref != &target.cfg.name {
            plan.notes.push(format!(
                "{pref} is the group's preferred primary: a failback brings it back later"
            ));
        }
    }

    expect_switch(&mut plan, pi, ti);
    for &s in &siblings {
        plan.expects.push(Expect {
            node: s,
            primary: false,
            upstream: Some(pi),
        });
    }
    plan.snapshots.push(pi);
    if let Some(d) = &req.download_dir {
        plan.downloads.push(pi);
        plan.download_dir = Some(d.clone());
    }
    super::snapshot::note_no_persistence(&mut plan, pi, Some(primary));
    if req.download_dir.is_none() {
        plan.notes.push(format!(
            "{} keeps its data: it continues by partial resync on the same history (no off-box copy \
             unless a download is asked for)",
            p_cfg.name
        ));
    }

    let t_addr = target.cfg.addr.clone();
    let t_name = target.cfg.name.clone();
    let p_name = p_cfg.name.clone();
    let b = req.budgets;
    match req.strategy {
        // Sentinel's strategy was sent to `switchover/sentinel.rs` (or refused) above.
        Strategy::Manual | Strategy::Sentinel => {
            // Paused: the primary and the target only (the siblings come after the unpause).
            let ms = pause_ms(&b, 2);
            plan.steps.push(Step {
                title: format!("pause writes on {p_name}"),
                node: pi,
                kind: StepKind::PauseWrites { ms },
                commands: vec![Command::ClientPause { ms, write: true }],
                waits_for: None,
                deadline: None,
                verify: "+OK; the pause expires by itself after the timeout if the console dies"
                    .to_string(),
                rollback: format!("CLIENT UNPAUSE on {p_name}"),
                critical: true,
            });
            plan.steps.push(catch_up_step(
                &plan,
                pi,
                ti,
                format!("CLIENT UNPAUSE on {p_name}; nothing else has changed"),
            ));
            plan.steps.push(demote_step(
                &plan,
                pi,
                ti,
                &format!("{t_name} is promoted"),
                format!(
                    "REPLICAOF NO ONE on {p_name} (it took no write: paused), then CLIENT UNPAUSE on {p_name}"
                ),
            ));
            plan.steps.push(Step {
                title: format!("promote {t_name}"),
                node: ti,
                kind: StepKind::Promote,
                commands: vec![Command::ReplicaOf(None)],
                waits_for: Some(format!(
                    "+OK; unanswered: {t_name} is watched, its stale connection closed, and the promotion sent again"
                )),
                deadline: None,
                verify: format!("+OK, or {t_name} read back as a primary"),
                rollback: format!(
                    "{p_name} back to primary (REPLICAOF NO ONE) and unpaused, unless {t_name} may still run its \
                     promotion: then {p_name} stays a replica and no node takes writes until {t_name} answers"
                ),
                critical: true,
            });
            plan.steps.push(unpause_step(
                pi,
                format!("resume writes on {p_name} (paused writers now get READONLY)"),
                ms,
            ));
            // After the unpause: a sibling that does not answer must not hold the writers.
            push_sibling_steps(&mut plan, &siblings, ti);
        }
        Strategy::Native => {
            let listed = listed_addr(primary, t_view);
            match &listed {
                Some(a) => plan.checks.push(Check::pass(format!("{p_name} lists {t_name} as {a}"))),
                None => plan.checks.push(Check::fail(format!(
                    "{p_name} does not list {t_name} among its online replicas (slaveN): FAILOVER TO needs the \
                     address the primary knows it by"
                ))),
            }
            let to = listed.unwrap_or_else(|| t_addr.clone());
            let timeout_ms = u64::try_from(b.failover.as_millis()).unwrap_or(u64::MAX);
            plan.steps.push(Step {
                title: format!("FAILOVER from {p_name} to {t_name}"),
                node: pi,
                kind: StepKind::Failover { target: ti, to: to.clone(), timeout_ms },
                commands: vec![Command::Failover { to, timeout_ms, force: false }],
                waits_for: Some(format!(
                    "{p_name} reports master_failover_state:no-failover and role replica ({t_name} promoted itself)"
                )),
                deadline: Some(b.failover + Duration::from_secs(3)),
                verify: format!("{p_name} is a replica of {t_name}"),
                rollback: format!("FAILOVER ABORT on {p_name} (it stays primary and writes resume)"),
                critical: true,
            });
            push_sibling_steps(&mut plan, &siblings, ti);
        }
    }
    let mut replicas = vec![pi];
    replicas.extend(&siblings);
    plan.steps.push(Step {
        title: format!("verify {t_name} is the only primary and every replica follows it"),
        node: ti,
        kind: StepKind::Verify {
            primary: ti,
            replicas,
        },
        commands: vec![Command::Info(InfoSection::Default)],
        waits_for: Some("role, link up, one replid on every node; no new full sync".to_string()),
        deadline: Some(b.verify),
        verify: "all conditions hold in one round of reads".to_string(),
        rollback: "none: the roles have changed; the report says what is left".to_string(),
        critical: true,
    });
    let all: Vec<usize> = (0..plan.nodes.len()).collect();
    plan.steps.push(Step {
        title: "persist the new roles (CONFIG REWRITE where a config file is used)".to_string(),
        node: ti,
        kind: StepKind::ConfigRewrite { nodes: all },
        commands: vec![Command::ConfigRewrite],
        waits_for: None,
        deadline: None,
        verify: "+OK on each node that has a config file; a warning for the others".to_string(),
        rollback: "none".to_string(),
        critical: false,
    });
    Ok(Built {
        plan,
        target_is_primary: false,
    })
}

/// The primary answers quickly, runs 6.2+ (CLIENT PAUSE WRITE, CLIENT UNPAUSE) and runs no
/// FAILOVER itself; the target answers quickly.
fn primary_checks(plan: &mut Plan, primary: &NodeView, t: &NodeView) {
    plan.checks.push(reachable(primary));
    plan.checks.push(latency(primary, plan.budgets.max_rtt));
    plan.checks.push(latency(t, plan.budgets.max_rtt));
    let Some(info) = &primary.info else { return };
    let fo = info
        .replication
        .failover_state
        .as_deref()
        .unwrap_or("no-failover");
    plan.checks.push(Check::require(
        fo == "no-failover",
        format!("no failover in progress on {}", primary.name),
        format!("{} reports master_failover_state:{fo}", primary.name),
    ));
    plan.checks.push(Check::require(
        info.server.at_least(6, 2),
        format!(
            "{} runs {} (6.2+: CLIENT PAUSE WRITE, CLIENT UNPAUSE, FAILOVER)",
            primary.name,
            primary.version.as_deref().unwrap_or("?")
        ),
        format!(
            "{} runs {}: a switchover needs 6.2+ (CLIENT PAUSE WRITE and CLIENT UNPAUSE)",
            primary.name,
            primary.version.as_deref().unwrap_or("an unknown version")
        ),
    ));
}

/// Waits until `ti` has applied everything `pi` wrote (writes paused), proven on `ti`'s own
/// offset.
fn catch_up_step(plan: &Plan, pi: usize, ti: usize, rollback: String) -> Step {
    let (p, t) = (plan.name(pi), plan.name(ti));
    Step {
        title: format!("wait until {t} has applied everything {p} wrote"),
        node: ti,
        kind: StepKind::WaitCaughtUp {
            primary: pi,
            target: ti,
        },
        commands: vec![Command::Info(InfoSection::Replication)],
        waits_for: Some(format!(
            "{t}'s own slave_repl_offset == {p}'s master_repl_offset, read {p}, {t}, {p}, all \
             equal on one replid"
        )),
        deadline: Some(plan.budgets.catch_up),
        verify: "three equal reads".to_string(),
        rollback,
        critical: true,
    }
}

/// `REPLICAOF ti` on the old primary `pi`, paused, before anything promotes `ti`: no node
/// takes writes `until` then.
fn demote_step(plan: &Plan, pi: usize, ti: usize, until: &str, rollback: String) -> Step {
    let (p, t) = (plan.name(pi), plan.name(ti));
    Step {
        title: format!("demote {p} to replicate from {t} (no node takes writes until {until})"),
        node: pi,
        kind: StepKind::Demote { to: ti },
        commands: vec![Command::ReplicaOf(Some(plan.nodes[ti].addr.clone()))],
        waits_for: Some(format!(
            "+OK; unanswered: {p} is watched, its stale connection closed, and the demotion sent \
             again"
        )),
        deadline: None,
        verify: format!("+OK, or {p} read back as a replica of {t}"),
        rollback,
        critical: true,
    }
}

/// `CLIENT UNPAUSE` on `pi`: not critical, the pause of `ms` expires by itself.
fn unpause_step(pi: usize, title: String, ms: u64) -> Step {
    Step {
        title,
        node: pi,
        kind: StepKind::Unpause,
        commands: vec![Command::ClientUnpause],
        waits_for: None,
        deadline: None,
        verify: "+OK".to_string(),
        rollback: format!("none needed: the pause expires by itself after {ms} ms"),
        critical: false,
    }
}

/// The old primary a primary, the target its replica: what the engine reads again before
/// the first step.
fn expect_switch(plan: &mut Plan, pi: usize, ti: usize) {
    plan.expects.push(Expect {
        node: pi,
        primary: true,
        upstream: None,
    });
    plan.expects.push(Expect {
        node: ti,
        primary: false,
        upstream: Some(pi),
    });
}

impl Built {
    /// A plan stopped by a failed check before its target was compared with the primary.
    fn refused(plan: Plan) -> Self {
        Self {
            plan,
            target_is_primary: false,
        }
    }
}

fn push_sibling_steps(plan: &mut Plan, siblings: &[usize], ti: usize) {
    let left_behind = format!(
        "keeps following its old upstream (now a replica of {})",
        plan.name(ti)
    );
    plan.push_sibling_repoints(siblings, ti, &left_behind);
}

/// The target's address as the primary lists it in `slaveN` (what `FAILOVER TO` requires).
fn listed_addr(primary: &NodeView, target: &NodeView) -> Option<crate::config::Addr> {
    let info = primary.info.as_ref()?;
    let t_port = target
        .info
        .as_ref()
        .and_then(|i| i.server.tcp_port)
        .or_else(|| {
            crate::config::Addr::parse(&target.addr)
                .ok()
                .map(|a| a.port)
        })?;
    let t_host = crate::config::Addr::parse(&target.addr)
        .ok()
        .map(|a| a.host);
    let online = info
        .replication
        .replicas
        .iter()
        .filter(|l| l.state == "online" && l.port == t_port);
    let lines: Vec<_> = online.collect();
    let line = lines
        .iter()
        .find(|l| Some(&l.ip) == t_host.as_ref())
        .or_else(|| {
            if lines.len() == 1 {
                lines.first()
            } else {
                None
            }
        })?;
    Some(crate::config::Addr {
        host: line.ip.clone(),
        port: line.port,
    })
}

/// Builds the plan of a failback: a switchover to the group's `preferred_primary`.
///
/// # Errors
/// No group given when there are several, or the group has no preferred primary.
pub fn plan_failback(
    config: &Config,
    topology: &Topology,
    strategy: Strategy,
    budgets: Budgets,
    download_dir: Option<PathBuf>,
) -> OpsResult<Plan> {
    let group = match config.groups.as_slice() {
        [g] => g,
        [] => return Err(OpsError::usage("no group to fail back")),
        _ => {
            return Err(
                OpsError::usage("several groups are configured: say which one")
                    .hint("scope the targets to one group (the group option)"),
            )
        }
    };
    let Some(pref) = &group.preferred_primary else {
        return Err(
            OpsError::usage(format!("group '{}' has no preferred primary", group.name))
                .hint("set preferred_primary = \"NODE\" in the group's config"),
        );
    };
    let req = SwitchoverRequest {
        to: pref.clone(),
        strategy,
        budgets,
        download_dir,
    };
    let Built {
        mut plan,
        target_is_primary,
    } = build(config, topology, &req)?;
    plan.action = ActionKind::Failback;
    plan.checks.insert(
        0,
        Check::pass(format!("{pref} is the group's preferred primary")),
    );
    let in_sync = topology
        .groups
        .iter()
        .flat_map(|g| &g.nodes)
        .find(|n| &n.name == pref)
        .and_then(|n| n.info.as_ref())
        .is_some_and(|i| i.replication.role == Some(InfoRole::Replica));
    if !in_sync && !target_is_primary {
        plan.checks.push(Check::fail(format!(
            "{pref} is not a replica yet: it must be an in-sync replica before failing back (rejoin it first)"
        )));
    }
    Ok(plan)
}
