//! One-line descriptions of a node's state, for the audit log, events and failure reports.
//! Pure text formatting; no I/O.

use super::plan::{ActionKind, Plan, StepKind};
use crate::info::{Info, InfoRole};

/// What a plan did, in the past tense and by node names: the detail of a run whose every step
/// was verified (`n2 is now the primary in place of n1`, `n4 now replicates from n2`).
#[must_use]
pub fn done(plan: &Plan) -> String {
    let name = |i: usize| plan.name(i).to_string();
    let verified_primary = plan.steps.iter().find_map(|s| match &s.kind {
        StepKind::Verify { primary, .. } => Some(*primary),
        _ => None,
    });
    let repointed = plan.steps.iter().find_map(|s| match &s.kind {
        StepKind::ReplicaOf { to } => Some((s.node, *to)),
        _ => None,
    });
    let old_primary = plan.expects.iter().find(|e| e.primary).map(|e| e.node);
    let cut = plan
        .steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::ClusterCut { .. }));
    let mut line = match (plan.action, verified_primary, repointed) {
        (ActionKind::Snapshot, ..) if cut => format!(
            "every primary saved at one cut: {} RDBs downloaded and checked, one cluster manifest",
            plan.nodes.len()
        ),
        (ActionKind::Snapshot, ..) => {
            let who = plan.snapshots.first().or(plan.downloads.first()).copied();
            let who = who.map_or_else(|| "the node".to_string(), name);
            if plan.downloads.is_empty() {
                format!("{who} saved its dataset: BGSAVE verified")
            } else {
                format!("{who} saved its dataset: BGSAVE verified, its RDB downloaded and checked")
            }
        }
        (ActionKind::Rejoin, _, Some((n, to))) => {
            format!("{} rejoined: it now replicates from {}", name(n), name(to))
        }
        (ActionKind::Repoint, _, Some((n, to))) => {
            format!("{} now replicates from {}", name(n), name(to))
        }
        (ActionKind::SentinelReset, ..) => format!(
            "{} sentinel(s) reset one at a time; each knows the replicas and its peers again",
            plan.steps
                .iter()
                .filter(|s| matches!(s.kind, StepKind::SentinelReset { .. }))
                .count()
        ),
        (ActionKind::Restore, ..) => {
            let n = plan
                .steps
                .first()
                .map_or_else(|| "the node".to_string(), |s| name(s.node));
            format!(
                "{n} holds the backup's data and is a primary again; the scratch server is stopped"
            )
        }
        (_, Some(p), _) => match old_primary.filter(|o| *o != p) {
            Some(o) => format!("{} is now the primary in place of {}", name(p), name(o)),
            None => format!("{} is now the primary", name(p)),
        },
        _ => format!("{} (every step verified)", plan.summary),
    };
    for fact in &plan.done_facts {
        line.push_str("; ");
        line.push_str(fact);
    }
    line
}

/// `1 full resync`, `3 full resyncs`.
#[must_use]
pub fn full_resyncs(n: u64) -> String {
    if n == 1 {
        "1 full resync".to_string()
    } else {
        format!("{n} full resyncs")
    }
}

/// `s` cut to at most `max` bytes (on a character boundary), marked when cut.
#[must_use]
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut i = max;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    format!("{} ... ({} bytes)", &s[..i], s.len())
}

/// The replication facts of one INFO reply in one line:
/// `role=replica of 127.0.0.1:7000 link=up offset=1234 replid=0d1d37..` .
#[must_use]
pub fn info_line(i: &Info) -> String {
    let r = &i.replication;
    let p = &i.persistence;
    let mut out = match r.role {
        Some(InfoRole::Primary) => format!(
            "role=primary offset={} replicas={}",
            opt(r.offset),
            r.connected_replicas
        ),
        Some(InfoRole::Replica) => format!(
            "role=replica of {}:{} link={} offset={}{}",
            r.master_host.as_deref().unwrap_or("?"),
            r.master_port
                .map_or_else(|| "?".to_string(), |p| p.to_string()),
            match r.link_up {
                Some(true) => "up",
                Some(false) => "down",
                None => "?",
            },
            opt(r.replica_offset),
            if r.sync_in_progress { " syncing" } else { "" }
        ),
        None => "role=?".to_string(),
    };
    if let Some(id) = &r.replid {
        out.push_str(&format!(" replid={}", short(id)));
    }
    if let Some(st) = r.failover_state.as_deref().filter(|s| *s != "no-failover") {
        out.push_str(&format!(" failover={st}"));
    }
    if p.bgsave_in_progress {
        out.push_str(" bgsave=running");
    }
    if p.last_bgsave_ok == Some(false) {
        out.push_str(" bgsave_status=err");
    }
    if p.loading {
        out.push_str(" loading");
    }
    out
}

/// The first 8 characters of a replication id.
#[must_use]
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "?".to_string(), |v| v.to_string())
}

/// Bytes for humans: `812 B`, `3.2 MB`.
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn bytes(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if f < K {
        format!("{n} B")
    } else if f < K * K {
        format!("{:.1} KB", f / K)
    } else if f < K * K * K {
        format!("{:.1} MB", f / K / K)
    } else {
        format!("{:.1} GB", f / K / K / K)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resyncs_are_counted_in_words() {
        assert_eq!(full_resyncs(1), "1 full resync");
        assert_eq!(full_resyncs(2), "2 full resyncs");
    }

    #[test]
    fn clip_and_bytes() {
        assert_eq!(clip("abc", 5), "abc");
        assert!(clip("abcdef", 3).starts_with("abc ..."));
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(3_355_443), "3.2 MB");
    }
}
