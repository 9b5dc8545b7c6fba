//! "Rejoin pending" marks: after a promotion, the old primary is recorded in a small JSON file
//! beside the audit log, so that when it comes back as a stale primary (even to a console
//! started later) it is flagged by name with the rejoin to run.
//!
//! This file owns the mark format and the pure match against a topology. It never decides to
//! act: the console shows the flag, the operator runs `redops rejoin`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::topology::{GroupTopology, Role};

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
pub fn load(path: &Path) -> Result<Vec<RejoinMark>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| format!("'{}' is not a rejoin marks file: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read '{}': {e}", path.display())),
    }
}

fn save(path: &Path, marks: &[RejoinMark]) -> Result<(), String> {
    let err = |e: String| format!("cannot write '{}': {e}", path.display());
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
pub fn add(path: &Path, mark: RejoinMark) -> Result<(), String> {
    let mut marks = load(path)?;
    marks.retain(|m| !(m.group == mark.group && m.node == mark.node));
    marks.push(mark);
    save(path, &marks)
}

/// Removes the mark of `group`/`node` (after a successful rejoin). Returns whether one existed.
///
/// # Errors
/// The file cannot be read or written.
pub fn clear(path: &Path, group: &str, node: &str) -> Result<bool, String> {
    let mut marks = load(path)?;
    let before = marks.len();
    marks.retain(|m| !(m.group == group && m.node == node));
    if marks.len() == before {
        return Ok(false);
    }
    save(path, &marks)?;
    Ok(true)
}

/// A marked node seen again, and what to tell the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub group: String,
    pub node: String,
    /// True when it is back as a primary: a second writable primary next to the promoted one.
    pub stale_primary: bool,
    pub message: String,
}

/// The marks of `group` whose node is reachable again, with the rejoin to offer.
#[must_use]
pub fn flags(marks: &[RejoinMark], group: &GroupTopology) -> Vec<Flag> {
    marks
        .iter()
        .filter(|m| m.group == group.name)
        .filter_map(|m| {
            let v = group.by_name(&m.node)?;
            if !v.state.is_reachable() || v.stale_info {
                return None;
            }
            let stale_primary = v.role == Role::Primary;
            let message = if stale_primary {
                format!(
                    "{} is back as a primary with the data it had before {} was promoted in its place \
                     (run {}): its writes since then are not on {}. rejoin it: redops rejoin {}",
                    m.node, m.promoted, m.run_id, m.promoted, m.node
                )
            } else {
                format!(
                    "{} is back (as a replica); it was replaced by {} (run {}): check it follows {}, then \
                     `redops rejoin {}` clears this mark",
                    m.node, m.promoted, m.run_id, m.promoted, m.node
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
    use crate::topology::NodeView;

    fn mark(node: &str) -> RejoinMark {
        RejoinMark {
            group: "g".into(),
            node: node.into(),
            addr: "127.0.0.1:7000".into(),
            promoted: "r1".into(),
            last_replid: Some("abc".into()),
            last_offset: Some(10),
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
        assert!(load(&path).unwrap_err().contains("not a rejoin marks file"));
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
        assert!(
            f[0].message.contains("redops rejoin p1"),
            "{}",
            f[0].message
        );
    }
}
