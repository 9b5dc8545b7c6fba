//! "Rejoin pending" marks: after a promotion, the old primary is recorded in a small JSON file
//! beside the audit log, so that when it comes back as a stale primary (even to a console
//! started later) it is flagged by name with the rejoin to run.
//!
//! This file owns the mark format, the pure match against a topology (a flag to show, or a
//! mark settled by what is seen: the node already follows the current primary), and clearing a
//! mark with an audit record. It never decides to act on a server: the console shows the flag,
//! the operator asks for the rejoin.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::super::error::{OpsError, OpsResult};
use super::super::next_step::NextStep;
use super::super::plan::ActionKind;
use crate::audit::{AuditLog, Outcome, Record, RUN_FINISHED};
use crate::topology::{GroupTopology, Link, NodeView, Role};

/// One old primary waiting to be rejoined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejoinMark {
    pub group: String,
    pub node: String,
    pub addr: String,
    /// The replica promoted in its place.
    pub promoted: String,
    /// Its history and offset when last seen (a restart keeps them as replid2).
    pub last_replid: Option<String>,
    pub last_offset: Option<u64>,
    /// The promotion point: the history the promoted replica left and the last offset of it
    /// that the replica had applied, as the plan saw it. After `REPLICAOF NO ONE` the promoted
    /// node reports them as `master_replid2` and `second_repl_offset - 1`; a rejoin reads them
    /// there (the live value wins) and checks the history against this one. Everything the old
    /// primary holds past that offset is what a rejoin discards. Absent in older marks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork_replid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork_offset: Option<u64>,
    /// RFC 3339 UTC.
    pub marked_at: String,
    pub run_id: String,
}

/// The marks file next to an audit log: `<dir>/rejoin-pending.json`.
#[must_use]
pub fn marks_path(audit_log: &Path) -> PathBuf {
    audit_log.with_file_name("rejoin-pending.json")
}

/// Reads the marks; a missing file is no marks.
///
/// # Errors
/// The file exists but cannot be read or parsed (the message names it).
pub fn load(path: &Path) -> OpsResult<Vec<RejoinMark>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            OpsError::io(format!(
                "'{}' is not a rejoin marks file: {e}",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(OpsError::io(format!(
            "cannot read '{}': {e}",
            path.display()
        ))),
    }
}

fn save(path: &Path, marks: &[RejoinMark]) -> OpsResult<()> {
    let err = |e: String| OpsError::io(format!("cannot write '{}': {e}", path.display()));
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    crate::config::create_private_dir(dir).map_err(|e| err(e.to_string()))?;
    let text = serde_json::to_string_pretty(marks).map_err(|e| err(e.to_string()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| err(e.to_string()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(|e| err(e.to_string()))?;
    tmp.persist(path).map_err(|e| err(e.error.to_string()))?;
    Ok(())
}

/// Adds (or replaces) the mark for `mark.group`/`mark.node`.
///
/// # Errors
/// The file cannot be read or written.
pub fn add(path: &Path, mark: RejoinMark) -> OpsResult<()> {
    let mut marks = load(path)?;
    marks.retain(|m| !(m.group == mark.group && m.node == mark.node));
    marks.push(mark);
    save(path, &marks)
}

/// Removes the mark of `group`/`node` (after a successful rejoin). Returns whether one existed.
///
/// # Errors
/// The file cannot be read or written.
pub fn clear(path: &Path, group: &str, node: &str) -> OpsResult<bool> {
    let mut marks = load(path)?;
    let before = marks.len();
    marks.retain(|m| !(m.group == group && m.node == node));
    if marks.len() == before {
        return Ok(false);
    }
    save(path, &marks)?;
    Ok(true)
}

/// Removes the mark of `group`/`node` and records why in the audit log (one closed record, so
/// it never reads as an unfinished run). Returns whether a mark existed; nothing is recorded
/// when none did.
///
/// # Errors
/// The marks file cannot be read or written, or the audit record cannot be written.
pub fn clear_audited(
    path: &Path,
    log: &mut AuditLog,
    group: &str,
    node: &str,
    why: &str,
) -> OpsResult<bool> {
    if !clear(path, group, node)? {
        return Ok(false);
    }
    log.write(Record {
        run_id: crate::ops::engine::new_run_id(),
        group: group.to_string(),
        action: "clear-rejoin-mark".to_string(),
        nodes: vec![node.to_string()],
        event: RUN_FINISHED.to_string(),
        outcome: Some(Outcome::Cleared),
        detail: Some(why.to_string()),
        ..Record::default()
    })
    .map_err(|e| {
        OpsError::io(format!(
            "the mark was cleared but the audit record failed: {e}"
        ))
    })?;
    Ok(true)
}

/// Why `mark` no longer needs a rejoin, from the group as seen: its node is a replica with
/// its link up, on the history of the primary it reaches through up links (repaired by hand,
/// or rejoined by another console). `None` while a rejoin is still due or cannot be judged.
#[must_use]
pub fn settled(mark: &RejoinMark, group: &GroupTopology) -> Option<String> {
    if mark.group != group.name {
        return None;
    }
    let v = group.by_name(&mark.node)?;
    if !v.state.is_reachable() || v.stale_info || v.role != Role::Replica {
        return None;
    }
    let upstream = |n: &NodeView| group.nodes.get(n.upstream.as_ref()?.index?);
    let direct = upstream(v)?;
    // Up the chain, every link up, to a primary on the same history.
    let mut cur = v;
    for _ in 0..=group.nodes.len() {
        if cur.link != Some(Link::Up) || cur.sync_in_progress {
            return None;
        }
        let next = upstream(cur)?;
        if !next.state.is_reachable() || next.stale_info {
            return None;
        }
        if next.role == Role::Primary {
            let via = if direct.name == next.name {
                String::new()
            } else {
                format!(" through {}", direct.name)
            };
            return (v.replid.is_some() && v.replid == next.replid).then(|| {
                format!(
                    "{} follows the primary {}{via} with its link up, on its history: no rejoin is due",
                    mark.node, next.name
                )
            });
        }
        cur = next;
    }
    None
}

/// A marked node seen again, and what to tell the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub group: String,
    pub node: String,
    /// True when it is back as a primary: a second writable primary next to the promoted one.
    pub stale_primary: bool,
    /// What is wrong, in plain words (the front-end says how to rejoin).
    pub message: String,
}

impl Flag {
    /// The rejoin this flag asks for, as a typed next step.
    #[must_use]
    pub fn next_step(&self) -> NextStep {
        NextStep::action(
            ActionKind::Rejoin,
            Some(self.node.clone()),
            self.message.clone(),
        )
    }
}

/// The marks of `group` whose node is reachable again, with the rejoin to offer.
#[must_use]
pub fn flags(marks: &[RejoinMark], group: &GroupTopology) -> Vec<Flag> {
    marks
        .iter()
        .filter(|m| m.group == group.name)
        .filter_map(|m| {
            let v = group.by_name(&m.node)?;
            if !v.state.is_reachable() || v.stale_info || settled(m, group).is_some() {
                return None;
            }
            let stale_primary = v.role == Role::Primary;
            let message = if stale_primary {
                format!(
                    "{} is back as a primary beside {}, promoted in its place (run {}): a write it \
                     takes now does not reach {}; rejoin it (the plan shows, by offsets, whether it \
                     holds anything {} lacks)",
                    m.node, m.promoted, m.run_id, m.promoted, m.promoted
                )
            } else {
                format!(
                    "{} is back (as a replica) but does not follow the primary with its link up; it was \
                     replaced by {} (run {}); rejoin it (the mark clears by itself once it follows the \
                     primary, or can be cleared by hand)",
                    m.node, m.promoted, m.run_id
                )
            };
            Some(Flag {
                group: m.group.clone(),
                node: m.node.clone(),
                stale_primary,
                message,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::NodeState;

    fn mark(node: &str) -> RejoinMark {
        RejoinMark {
            group: "g".into(),
            node: node.into(),
            addr: "127.0.0.1:7000".into(),
            promoted: "r1".into(),
            last_replid: Some("abc".into()),
            last_offset: Some(10),
            fork_replid: Some("abc".into()),
            fork_offset: Some(8),
            marked_at: "2026-01-01T00:00:00Z".into(),
            run_id: "run1".into(),
        }
    }

    #[test]
    fn add_load_clear_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = marks_path(&dir.path().join("audit.jsonl"));
        assert_eq!(load(&path).unwrap(), vec![]);
        add(&path, mark("p1")).unwrap();
        add(&path, mark("p1")).unwrap();
        add(&path, mark("p2")).unwrap();
        assert_eq!(load(&path).unwrap().len(), 2);
        assert!(clear(&path, "g", "p1").unwrap());
        assert!(!clear(&path, "g", "p1").unwrap());
        assert_eq!(load(&path).unwrap(), vec![mark("p2")]);
        std::fs::write(&path, "garbage").unwrap();
        assert!(load(&path)
            .unwrap_err()
            .message
            .contains("not a rejoin marks file"));
    }

    #[test]
    fn flags_a_marked_node_back_as_primary() {
        let mut p1 = NodeView::new(None, "p1", "127.0.0.1:7000");
        p1.state = NodeState::Up;
        p1.role = Role::Primary;
        let mut p2 = NodeView::new(None, "p2", "127.0.0.1:7002");
        p2.state = NodeState::Down;
        let g = GroupTopology {
            name: "g".into(),
            nodes: vec![p1, p2],
            ..GroupTopology::default()
        };
        let f = flags(&[mark("p1"), mark("p2")], &g);
        assert_eq!(f.len(), 1);
        assert!(f[0].stale_primary);
        assert!(f[0].message.contains("rejoin it"), "{}", f[0].message);
        assert_eq!(f[0].next_step().node.as_deref(), Some("p1"));
    }

    fn up(name: &str, role: Role, replid: &str) -> NodeView {
        let mut v = NodeView::new(None, name, "127.0.0.1:7000");
        v.state = NodeState::Up;
        v.role = role;
        v.replid = Some(replid.into());
        v
    }

    fn follow(v: &mut NodeView, index: usize, link: Link) {
        v.upstream = Some(crate::topology::Upstream {
            addr: String::new(),
            index: Some(index),
        });
        v.link = Some(link);
    }

    /// Repaired by hand: p1 follows r1 (directly, then through r2) with its link up on r1's
    /// history. The mark is settled, so it is not flagged; a link down or another history is
    /// not settled.
    #[test]
    fn a_marked_node_that_follows_the_primary_is_settled_not_flagged() {
        let r1 = up("r1", Role::Primary, "new");
        let mut r2 = up("r2", Role::Replica, "new");
        follow(&mut r2, 0, Link::Up);
        let mut p1 = up("p1", Role::Replica, "new");
        follow(&mut p1, 0, Link::Up);
        let g = |p1: &NodeView| GroupTopology {
            name: "g".into(),
            nodes: vec![r1.clone(), r2.clone(), p1.clone()],
            ..GroupTopology::default()
        };
        let why = settled(&mark("p1"), &g(&p1)).unwrap();
        assert!(
            why.contains("p1 follows the primary r1 with its link up"),
            "{why}"
        );
        assert!(flags(&[mark("p1")], &g(&p1)).is_empty());

        let mut chained = p1.clone();
        follow(&mut chained, 1, Link::Up);
        let why = settled(&mark("p1"), &g(&chained)).unwrap();
        assert!(why.contains("through r2"), "{why}");

        let mut down = p1.clone();
        follow(&mut down, 0, Link::Down { since: None });
        assert_eq!(settled(&mark("p1"), &g(&down)), None);
        assert_eq!(flags(&[mark("p1")], &g(&down)).len(), 1);

        let mut other = p1.clone();
        other.replid = Some("old".into());
        assert_eq!(settled(&mark("p1"), &g(&other)), None);

        let mut back = p1;
        back.role = Role::Primary;
        back.upstream = None;
        back.link = None;
        assert_eq!(settled(&mark("p1"), &g(&back)), None);
    }

    #[test]
    fn marks_written_before_the_fork_fields_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = marks_path(&dir.path().join("audit.jsonl"));
        std::fs::write(
            &path,
            r#"[{"group":"g","node":"p1","addr":"127.0.0.1:7000","promoted":"r1","last_replid":null,
                "last_offset":null,"marked_at":"2026-01-01T00:00:00Z","run_id":"run1"}]"#,
        )
        .unwrap();
        let m = load(&path).unwrap();
        assert_eq!(
            (m[0].fork_replid.as_deref(), m[0].fork_offset),
            (None, None)
        );
    }

    #[test]
    fn clearing_a_mark_is_audited_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = marks_path(&dir.path().join("audit.jsonl"));
        add(&path, mark("p1")).unwrap();
        let mut log = AuditLog::memory();
        assert!(clear_audited(&path, &mut log, "g", "p1", "repaired by hand").unwrap());
        assert!(!clear_audited(&path, &mut log, "g", "p1", "again").unwrap());
        let recs = log.records();
        assert_eq!(recs.len(), 1, "{recs:?}");
        assert_eq!(recs[0].action, "clear-rejoin-mark");
        assert_eq!(recs[0].event, RUN_FINISHED);
        assert_eq!(recs[0].detail.as_deref(), Some("repaired by hand"));
        assert!(load(&path).unwrap().is_empty());
    }
}
