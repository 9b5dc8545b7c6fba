//! A rejoin on a group Sentinel watches: the old primary goes under the master every answering
//! sentinel names, never under anything else, and only when at least a quorum of them answer
//! and they agree. That is the configuration Sentinel itself imposes (`+convert-to-slave`),
//! so the change does not fight it; the rest (the wipe guard, the download first) is the
//! ordinary rejoin's.
//!
//! Pure: Sentinel's view as annotated on the group's topology in, the master's name (or why
//! not) out.

use crate::ops::error::{OpsError, OpsResult};
use crate::ops::plan::{Check, Plan};
use crate::ops::promote::RejoinMark;
use crate::ops::NodeRef;
use crate::sentinel::GroupSentinel;
use crate::topology::{GroupTopology, Link, Role};

/// The master a rejoin on a Sentinel group goes under, and what vouches for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// The group's node every answering sentinel names.
    pub master: String,
    /// "3 of 3 sentinels name n2 (master name 'grp')", for the plan's checks.
    pub vouched: String,
}

/// Which node every answering sentinel names as master, for `node`'s rejoin.
///
/// # Errors
/// Refused: Sentinel's view is unknown, fewer than a quorum of sentinels answer, they disagree
/// or name an address that is no node of the group, or a failover is under way. Usage: they
/// name `node` itself. Nothing to do: `node` already replicates from that master.
pub fn master_for_rejoin(gt: &GroupTopology, node: &str, group: &str) -> OpsResult<Named> {
    let Some(s) = gt.sentinel.as_ref().filter(|s| !s.rows.is_empty()) else {
        return Err(OpsError::refused(format!(
            "Sentinel's view of group '{group}' is not known: a rejoin there goes under the \
             master the sentinels name"
        ))
        .hint("check the group's sentinel addresses (redops status shows each sentinel)"));
    };
    let master = agreed_master(s, group)?;
    if s.failover_in_progress() {
        return Err(OpsError::refused(format!(
            "a Sentinel failover of '{}' is under way: the master it names may still change",
            s.master_name
        ))
        .hint("wait for the failover to end (the sentinel strip shows its state), then rejoin"));
    }
    if master == node {
        return Err(OpsError::usage(format!(
            "the sentinels name {node} as the master of group '{group}': there is no old primary \
             to rejoin"
        ))
        .hint("rejoin brings an old primary back under the master Sentinel promoted"));
    }
    let up = s.rows.iter().filter(|r| r.is_up()).count();
    let already = gt.by_name(node).is_some_and(|v| {
        v.role == Role::Replica
            && v.state.is_reachable()
            && !v.stale_info
            && v.link == Some(Link::Up)
            && !v.sync_in_progress
            && v.upstream
                .as_ref()
                .and_then(|u| u.index)
                .and_then(|i| gt.nodes.get(i))
                .is_some_and(|u| u.name == master)
    });
    if already {
        return Err(OpsError::nothing_to_do(format!(
            "{node} already replicates from {master}, the master every answering sentinel names \
             (Sentinel reconfigured it): nothing to do"
        )));
    }
    Ok(Named {
        vouched: format!(
            "{up} of {} sentinels answer and name {master} (master name '{}')",
            s.rows.len(),
            s.master_name
        ),
        master,
    })
}

/// The rejoin mark Sentinel's failover stands for: `node` replaced by the master it names.
/// It carries no promotion point of its own: the check reads it on the master
/// (`master_replid2`, `second_repl_offset`), so what the rejoin discards is known to the byte
/// when the node's data lies on the history the master left (a restart included), and the
/// plain wipe guard applies otherwise.
#[must_use]
pub fn mark_of_failover(node: &NodeRef<'_>, named: &Named) -> RejoinMark {
    RejoinMark {
        group: node.group_name.to_string(),
        node: node.cfg.name.clone(),
        addr: node.cfg.addr.to_string(),
        promoted: named.master.clone(),
        last_replid: None,
        last_offset: None,
        fork_replid: None,
        fork_offset: None,
        marked_at: String::new(),
        run_id: "Sentinel's failover".to_string(),
    }
}

/// A rejoin plan that goes under the master Sentinel names: Sentinel owning the group does
/// not refuse it (`GroupPolicy::apply`: the change is the one Sentinel makes itself), the
/// engine leaves Sentinel's connections be, and the check says who vouched for the master.
pub fn follow(plan: &mut Plan, named: &Named) {
    plan.sentinel_master = Some(named.master.clone());
    plan.checks.insert(0, Check::pass(named.vouched.clone()));
    plan.notes.push(format!(
        "Sentinel watches the group: {} goes under {}, the master every answering sentinel names \
         (what Sentinel would do itself)",
        plan.nodes.first().map_or("the node", |n| n.name.as_str()),
        named.master
    ));
}

/// The node every answering sentinel names, when at least a quorum answer.
pub(crate) fn agreed_master(s: &GroupSentinel, group: &str) -> OpsResult<String> {
    let up: Vec<_> = s.rows.iter().filter(|r| r.is_up()).collect();
    let quorum = s.quorum().max(1);
    if up.len() < quorum {
        let (what, hint) = if up.is_empty() {
            (
                "no sentinel of group '{group}' answers".replace("{group}", group),
                "check that the sentinels run and that their addresses are right",
            )
        } else {
            (
                format!(
                    "only {} of {} sentinels of group '{group}' answer, fewer than the quorum {quorum}",
                    up.len(),
                    s.rows.len()
                ),
                "bring the sentinels back first: fewer than a quorum cannot vouch for the master",
            )
        };
        return Err(OpsError::refused(what).hint(hint));
    }
    let mut named: Vec<(String, Option<String>)> = up
        .iter()
        .map(|r| {
            let said = r.master.clone().unwrap_or_else(|| "no master".to_string());
            (said, r.master_node.clone())
        })
        .collect();
    named.sort();
    named.dedup();
    match named.as_slice() {
        [(_, Some(node))] => Ok(node.clone()),
        [(addr, None)] => Err(OpsError::refused(format!(
            "the sentinels name {addr} as the master of '{}', which is no node of group '{group}'",
            s.master_name
        ))
        .hint("add that server to the group's config, or check the sentinels' master name")),
        many => {
            let each: Vec<String> = up
                .iter()
                .map(|r| {
                    let said = r
                        .master_node
                        .clone()
                        .or_else(|| r.master.clone())
                        .unwrap_or_else(|| "no master".to_string());
                    format!("{} names {said}", r.addr)
                })
                .collect();
            Err(OpsError::refused(format!(
                "the sentinels of group '{group}' disagree on the master ({} different): {}",
                many.len(),
                each.join(", ")
            ))
            .hint("wait until Sentinel settles, or run `sentinel reset` on the group, then rejoin"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::master_for_rejoin;
    use crate::drill::testing::{down, primary, replica, topo};
    use crate::ops::ErrorKind;
    use crate::sentinel::{GroupSentinel, SentinelRow};
    use crate::topology::GroupTopology;

    fn row(i: u16, names: Option<&str>) -> SentinelRow {
        SentinelRow {
            addr: format!("127.0.0.1:{}", 26_000 + i),
            error: names.is_none().then(|| "connection refused".to_string()),
            pending: false,
            unknown_master: false,
            master: names.map(|m| format!("127.0.0.1:{m}")),
            master_node: names.filter(|m| m.starts_with('n')).map(str::to_string),
            flags: vec!["master".into()],
            quorum: Some(2),
            ckquorum: None,
            failover_state: None,
            epoch: None,
            tilt: false,
            other_sentinels: None,
        }
    }

    fn group(sentinels: &[Option<&str>], n1_follows: bool) -> GroupTopology {
        let n1 = if n1_follows {
            replica("n1", "n2")
        } else {
            primary("n1")
        };
        let mut g = topo(1, &[n1, primary("n2"), replica("n3", "n2")]).groups[0].clone();
        g.sentinel = Some(GroupSentinel {
            master_name: "grp".into(),
            rows: sentinels.iter().zip(0..).map(|(s, i)| row(i, *s)).collect(),
            ..Default::default()
        });
        g
    }

    #[test]
    fn the_master_every_answering_sentinel_names_with_a_quorum() {
        let g = group(&[Some("n2"), Some("n2"), None], false);
        let named = master_for_rejoin(&g, "n1", "grp").unwrap();
        assert_eq!(named.master, "n2");
        assert_eq!(
            named.vouched,
            "2 of 3 sentinels answer and name n2 (master name 'grp')"
        );
    }

    #[test]
    fn refused_without_a_quorum_or_when_they_disagree() {
        let e =
            master_for_rejoin(&group(&[Some("n2"), None, None], false), "n1", "grp").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(e.message.contains("only 1 of 3"), "{e:?}");
        let e = master_for_rejoin(&group(&[None, None, None], false), "n1", "grp").unwrap_err();
        assert!(e.message.contains("no sentinel"), "{e:?}");
        let e = master_for_rejoin(
            &group(&[Some("n2"), Some("n1"), Some("n2")], false),
            "n1",
            "grp",
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(e.message.contains("disagree"), "{e:?}");
        assert!(e.message.contains("127.0.0.1:26001 names n1"), "{e:?}");
        let e = master_for_rejoin(&group(&[Some("9999"), Some("9999")], false), "n1", "grp")
            .unwrap_err();
        assert!(e.message.contains("no node of group"), "{e:?}");
        let mut g = group(&[Some("n2"), Some("n2")], false);
        g.sentinel = None;
        let e = master_for_rejoin(&g, "n1", "grp").unwrap_err();
        assert!(e.message.contains("not known"), "{e:?}");
    }

    #[test]
    fn a_failover_under_way_is_waited_for() {
        let mut g = group(&[Some("n2"), Some("n2"), Some("n2")], false);
        if let Some(s) = g.sentinel.as_mut() {
            s.rows[1].flags.push("failover_in_progress".into());
        }
        let e = master_for_rejoin(&g, "n1", "grp").unwrap_err();
        assert!(e.message.contains("under way"), "{e:?}");
    }

    #[test]
    fn the_master_itself_or_a_node_already_under_it() {
        let g = group(&[Some("n1"), Some("n1")], false);
        assert_eq!(
            master_for_rejoin(&g, "n1", "grp").unwrap_err().kind,
            ErrorKind::Usage
        );
        let g = group(&[Some("n2"), Some("n2")], true);
        let e = master_for_rejoin(&g, "n1", "grp").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NothingToDo);
        assert!(e.message.contains("Sentinel reconfigured it"), "{e:?}");
        // Down and still named: not "already there".
        let mut g = group(&[Some("n2"), Some("n2")], true);
        g.nodes[0] =
            topo(1, &[down(replica("n1", "n2")), primary("n2")]).groups[0].nodes[0].clone();
        assert!(master_for_rejoin(&g, "n1", "grp").is_ok());
    }
}
