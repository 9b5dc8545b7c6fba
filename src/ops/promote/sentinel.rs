//! `promote` on a group Sentinel watches, once Sentinel has failed over by itself: redops says
//! which node Sentinel promoted and what the offsets prove was lost, and changes nothing.
//!
//! The promotion point is on the new master itself: `master_replid2` is the history it left and
//! `second_repl_offset - 1` the last offset of it that it had applied (REDIS.md 3b). Whatever
//! the old primary acknowledged past that offset is gone from the new master; the old
//! primary's offset is read from the poll (or its last reading, in the console), and is
//! unknown while it is down and unseen. Pure: the group's topology (with Sentinel's view) in,
//! the statement out; [`record`] writes it to the audit log.

use crate::audit::{AuditLog, Outcome, Record, RUN_FINISHED};
use crate::config::Config;
use crate::ops::error::{OpsError, OpsResult};
use crate::ops::find_node;
use crate::ops::repoint::sentinel::agreed_master;
use crate::ops::repoint::short;
use crate::topology::{GroupTopology, NodeView, Role, Topology};

/// What Sentinel did, when it has already promoted a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadyPromoted {
    /// The node every answering sentinel names, a primary now.
    pub master: String,
    /// The configured nodes left behind on the old history (down, or still primaries).
    pub old: Vec<String>,
    /// The statement, in words.
    pub statement: String,
}

/// The new master's promotion point: the history it left and its last offset there.
fn promotion_point(v: &NodeView) -> Option<(String, u64)> {
    let r = &v.info.as_ref()?.replication;
    let id = r.previous_replid()?.to_string();
    let second = u64::try_from(r.second_offset?).ok()?;
    Some((id, second.checked_sub(1)?))
}

/// How far `v`'s data reaches on history `id` (its offset, when it is on it).
fn offset_on(v: &NodeView, id: &str) -> Option<u64> {
    let r = &v.info.as_ref()?.replication;
    (r.replid.as_deref() == Some(id) || r.previous_replid() == Some(id))
        .then_some(r.offset)
        .flatten()
}

/// Sentinel has already promoted a replica: a quorum of answering sentinels agree on a master,
/// that master answers as a primary, and it left an earlier history (it was promoted). `None`
/// when that is not so (no failover yet, or not settled): the promote plan decides then.
#[must_use]
pub fn already_promoted(gt: &GroupTopology) -> Option<AlreadyPromoted> {
    let s = gt.sentinel.as_ref()?;
    let master = agreed_master(s, &gt.name).ok()?;
    let mv = gt.by_name(&master)?;
    if mv.role != Role::Primary || !mv.state.is_reachable() || mv.stale_info {
        return None;
    }
    let (id, point) = promotion_point(mv)?;
    let epoch = s.rows.iter().filter_map(|r| r.epoch).max();
    let left: Vec<&NodeView> = gt
        .nodes
        .iter()
        .filter(|v| !v.unmanaged && v.id.is_some() && v.name != master)
        // Live replicas follow someone already; the others are what the failover left behind.
        .filter(|v| !(v.state.is_reachable() && !v.stale_info && v.role == Role::Replica))
        .collect();
    let mut parts = vec![format!(
        "Sentinel has already failed over '{}'{}: every answering sentinel names {master}, which \
         took over at offset {point} of history {}",
        s.master_name,
        epoch.map_or_else(String::new, |e| format!(" (config epoch {e})")),
        short(&id)
    )];
    for v in &left {
        let live = v.state.is_reachable() && !v.stale_info;
        let seen = if live { "is at" } else { "was last seen at" };
        parts.push(match offset_on(v, &id) {
            Some(o) if o > point => format!(
                "{} {seen} offset {o}: {} bytes of writes it acknowledged are not on {master} \
                 (lost{})",
                v.name,
                o - point,
                if live { "" } else { ", at least" }
            ),
            Some(o) if live => format!(
                "{} is at offset {o}: nothing it holds is missing on {master} (proven by the \
                 offsets)",
                v.name
            ),
            Some(o) => format!(
                "{} was last seen at offset {o}, which {master} has: nothing it had written by \
                 then is missing; what it wrote after that reading, if anything, is not known",
                v.name
            ),
            None if !v.state.is_reachable() => format!(
                "{} is down and its last offset is not known here: whatever it acknowledged past \
                 offset {point} is lost; when it is back, its rejoin states the bytes it discards",
                v.name
            ),
            None => format!(
                "{} holds another history: its rejoin says what it would discard",
                v.name
            ),
        });
    }
    parts.push("redops changes nothing: Sentinel's choice stands".to_string());
    Some(AlreadyPromoted {
        old: left.iter().map(|v| v.name.clone()).collect(),
        statement: parts.join("; "),
        master,
    })
}

/// Why Sentinel has not failed over yet, in words, for the promote plan of a Sentinel group
/// whose master is down (`None` without Sentinel's view).
#[must_use]
pub fn why_not_yet(gt: &GroupTopology) -> Option<String> {
    let s = gt.sentinel.as_ref().filter(|s| !s.rows.is_empty())?;
    let up: Vec<_> = s.rows.iter().filter(|r| r.is_up()).collect();
    let (n, q) = (s.rows.len(), s.quorum().max(1));
    let master = s
        .master_node
        .clone()
        .or_else(|| s.master.clone())
        .unwrap_or_else(|| "the master".to_string());
    let flagged = |f: &str| up.iter().filter(|r| r.flags.iter().any(|x| x == f)).count();
    let text = if up.len() < q {
        format!(
            "Sentinel cannot fail over by itself: {} of {n} sentinels answer, fewer than the \
             quorum {q} that must agree {master} is down (o_down)",
            up.len()
        )
    } else if let Some(state) = up.iter().find_map(|r| {
        r.failover_state
            .clone()
            .filter(|st| !st.is_empty() && st != "none")
    }) {
        format!(
            "Sentinel's failover of {master} is under way ({state}): wait for it; promote then \
             says what it did"
        )
    } else if flagged("o_down") > 0 {
        format!(
            "the sentinels agree {master} is down (o_down) but no failover has started: a leader \
             needs the votes of a majority of all sentinels ({} of {n}); the event log shows \
             Sentinel's -failover-abort-* reasons",
            n / 2 + 1
        )
    } else if flagged("s_down") > 0 {
        format!(
            "{} of {} answering sentinels see {master} down (s_down), fewer than the quorum {q} \
             for o_down",
            flagged("s_down"),
            up.len()
        )
    } else {
        format!(
            "no sentinel sees {master} down yet (its down-after-milliseconds has not elapsed, or \
             it answers Sentinel)"
        )
    };
    Some(format!("Sentinel has not failed over: {text}"))
}

/// The statement as its own audit record (action `promote`, nothing changed), in the group
/// the request names (its scope, its replica's group, else the only or first group).
///
/// # Errors
/// The audit log cannot be opened or written.
pub fn record(
    config: &Config,
    topology: &Topology,
    req: &crate::ops::request::Request,
    statement: &str,
) -> OpsResult<()> {
    let group = match (req.group, req.node.as_deref()) {
        (Some(gi), _) => config.groups.get(gi).map(|g| g.name.clone()),
        (None, Some(n)) => find_node(config, topology, n)
            .ok()
            .map(|n| n.group_name.to_string()),
        (None, None) => config.groups.first().map(|g| g.name.clone()),
    }
    .unwrap_or_default();
    record_in(&config.console.audit_log, &group, statement)
}

/// The statement as its own audit record in `path`, for group `group`.
///
/// # Errors
/// The audit log cannot be opened or written.
pub fn record_in(path: &std::path::Path, group: &str, statement: &str) -> OpsResult<()> {
    let mut log = AuditLog::open(path).map_err(|e| {
        OpsError::io(format!(
            "cannot open the audit log '{}': {e}",
            path.display()
        ))
    })?;
    log.write(Record {
        run_id: crate::ops::engine::new_run_id(),
        group: group.to_string(),
        action: "promote".to_string(),
        event: RUN_FINISHED.to_string(),
        outcome: Some(Outcome::Noted),
        detail: Some(statement.to_string()),
        ..Record::default()
    })
    .map_err(|e| OpsError::io(format!("the statement was not recorded: {e}")))
}

#[cfg(test)]
mod tests {
    use super::already_promoted;
    use crate::drill::testing::{down, primary, replica, topo};
    use crate::info::Info;
    use crate::sentinel::{GroupSentinel, SentinelRow};
    use crate::topology::GroupTopology;

    fn row(i: u16, names: &str) -> SentinelRow {
        SentinelRow {
            addr: format!("127.0.0.1:{}", 26_000 + i),
            error: None,
            pending: false,
            unknown_master: false,
            master: Some(format!("{names}:addr")),
            master_node: Some(names.to_string()),
            flags: vec!["master".into()],
            quorum: Some(2),
            ckquorum: None,
            failover_state: None,
            epoch: Some(3),
            tilt: false,
            other_sentinels: None,
        }
    }

    fn info(replid: &str, replid2: Option<&str>, offset: u64, second: i64) -> std::sync::Arc<Info> {
        let mut i = Info::default();
        i.replication.replid = Some(replid.to_string());
        i.replication.replid2 = replid2.map(str::to_string);
        i.replication.offset = Some(offset);
        i.replication.second_offset = Some(second);
        std::sync::Arc::new(i)
    }

    const OLD: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const NEW: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn failed_over(names: &str) -> GroupTopology {
        let mut g = topo(
            1,
            &[down(primary("n1")), primary("n2"), replica("n3", "n2")],
        )
        .groups[0]
            .clone();
        g.nodes[1].info = Some(info(NEW, Some(OLD), 5000, 4001));
        g.sentinel = Some(GroupSentinel {
            master_name: "grp".into(),
            rows: (0..3).map(|i| row(i, names)).collect(),
            ..Default::default()
        });
        g
    }

    #[test]
    fn names_sentinel_s_choice_and_what_the_offsets_prove() {
        let g = failed_over("n2");
        let done = already_promoted(&g).unwrap();
        assert_eq!(done.master, "n2");
        assert_eq!(done.old, ["n1"]);
        assert!(
            done.statement
                .contains("names n2, which took over at offset 4000 of history aaaaaaaa"),
            "{}",
            done.statement
        );
        assert!(
            done.statement.contains("(config epoch 3)"),
            "{}",
            done.statement
        );
        assert!(
            done.statement
                .contains("n1 is down and its last offset is not known"),
            "{}",
            done.statement
        );
        // Its last reading (the console keeps it): the bytes past the promotion point.
        let mut g = failed_over("n2");
        g.nodes[0].info = Some(info(OLD, None, 4250, -1));
        g.nodes[0].stale_info = true;
        let done = already_promoted(&g).unwrap();
        assert!(
            done.statement
                .contains("n1 was last seen at offset 4250: 250 bytes of writes it acknowledged are not on n2"),
            "{}",
            done.statement
        );
        g.nodes[0].info = Some(info(OLD, None, 3990, -1));
        let done = already_promoted(&g).unwrap();
        assert!(
            done.statement.contains(
                "n1 was last seen at offset 3990, which n2 has: nothing it had written by then \
                 is missing; what it wrote after that reading, if anything, is not known"
            ),
            "{}",
            done.statement
        );
    }

    #[test]
    fn why_sentinel_has_not_failed_over_is_said() {
        use super::why_not_yet;
        let mut g = failed_over("n1");
        if let Some(s) = g.sentinel.as_mut() {
            s.master_node = Some("n1".into());
            s.rows[1].error = Some("connection refused".into());
            s.rows[2].error = Some("connection refused".into());
        }
        let why = why_not_yet(&g).unwrap();
        assert!(
            why.contains(
                "1 of 3 sentinels answer, fewer than the quorum 2 that must agree n1 is down"
            ),
            "{why}"
        );
        let mut g = failed_over("n1");
        if let Some(s) = g.sentinel.as_mut() {
            s.master_node = Some("n1".into());
            s.rows[0].flags.push("s_down".into());
        }
        let why = why_not_yet(&g).unwrap();
        assert!(
            why.contains("1 of 3 answering sentinels see n1 down (s_down)"),
            "{why}"
        );
        if let Some(s) = g.sentinel.as_mut() {
            s.rows[1].flags.push("o_down".into());
        }
        assert!(why_not_yet(&g).unwrap().contains("no failover has started"));
        if let Some(s) = g.sentinel.as_mut() {
            s.rows[2].failover_state = Some("wait_promotion".into());
        }
        assert!(why_not_yet(&g)
            .unwrap()
            .contains("under way (wait_promotion)"));
    }

    #[test]
    fn no_statement_before_sentinel_has_promoted() {
        // The sentinels still name the dead primary: no failover (yet).
        assert_eq!(already_promoted(&failed_over("n1")), None);
        // A master that never left a history was not promoted.
        let mut g = failed_over("n2");
        g.nodes[1].info = Some(info(NEW, None, 5000, -1));
        assert_eq!(already_promoted(&g), None);
        let mut g = failed_over("n2");
        g.sentinel = None;
        assert_eq!(already_promoted(&g), None);
    }
}
