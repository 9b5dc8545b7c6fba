//! The console's words for a prepared plan (`ops::session`): the sections the plan dialog
//! shows beside the plan (the candidates table of a promotion, what the wipe guard found
//! before a repoint or rejoin), and a refusal as the dialog says it.
//!
//! Pure: no I/O, no terminal, no decision. The request, the plan, every refusal and the
//! after-run work are the core's (`ops::session::prepare`).

use crate::ops::promote::{self, Candidates};
use crate::ops::repoint::{self, WipeGuard};
use crate::ops::session::{Prepared, Section};
use crate::ops::Refusal;

/// A titled block of lines shown in the plan dialog beside the plan itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionText {
    pub title: String,
    pub lines: Vec<String>,
}

/// The plan's sections in the console's words.
#[must_use]
pub fn sections(p: &Prepared) -> Vec<SectionText> {
    p.sections
        .iter()
        .map(|s| match s {
            Section::Candidates(c) => candidates(c, is_cluster(p)),
            Section::AtRisk(g) => at_risk(g),
        })
        .collect()
}

/// Why the plan cannot run, as the dialog's last line says it. The failed checks are listed
/// right above, so a hard failure is not repeated.
#[must_use]
pub fn refusal(r: &Refusal) -> String {
    match r {
        Refusal::HardFailure { .. } => "a pre-check failed that cannot be overridden".to_string(),
        Refusal::ReadOnly => "read-only mode: redops takes no action".to_string(),
        other => other.message(),
    }
}

/// A refusal as the status line says it when a key is pressed: with what to do instead,
/// except for read-only mode, which the header already shows.
#[must_use]
pub fn flash(r: &Refusal) -> String {
    match (r, r.hint()) {
        (Refusal::ReadOnly, _) | (_, None) => r.message(),
        (_, Some(h)) => format!("{} (hint: {h})", r.message()),
    }
}

/// The plan's group is a cluster group (its promotion follows the cluster's rules).
fn is_cluster(p: &Prepared) -> bool {
    p.config
        .groups
        .iter()
        .find(|g| g.name == p.plan.group)
        .is_some_and(|g| g.cluster)
}

fn candidates(c: &Candidates, cluster: bool) -> SectionText {
    let mut lines: Vec<String> = Vec::new();
    for row in &c.rows {
        lines.extend(promote::table_line(row).lines().map(str::to_string));
    }
    if lines.is_empty() {
        lines.push("no replica to choose from".to_string());
    }
    SectionText {
        title: if cluster {
            "Candidates (the cluster's: the shard's replicas, not failed, not nofailover; \
             ranked by offset)"
        } else {
            "Candidates (Sentinel's rules; ranked by priority, then offset)"
        }
        .to_string(),
        lines,
    }
}

fn at_risk(g: &WipeGuard) -> SectionText {
    let (n, s) = (&g.node.name, &g.source.name);
    let resync = match &g.resync {
        Some(repoint::Resync::Partial { bytes, .. }) => {
            format!("a partial resync is expected: {n} keeps its data and receives {bytes} bytes")
        }
        Some(repoint::Resync::Full { why }) => {
            format!("a full sync replaces all of {n}'s data with {s}'s: {why}")
        }
        None => format!("a full sync replaces all of {n}'s data with {s}'s"),
    };
    let mut lines = vec![
        format!("the node: {}", g.node.describe()),
        format!("its new source: {}", g.source.describe()),
        resync,
    ];
    if let Some(repoint::MarkCheck::Matches(d)) = &g.rejoin {
        lines.push(format!("discarded by the rejoin: {}", d.describe(n, s)));
    }
    lines.push(format!("download first: {}", g.download.why));
    SectionText {
        title: "At risk (the wipe guard)".to_string(),
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cluster's candidates are ranked by the cluster's rules, not Sentinel's.
    #[test]
    fn the_candidates_heading_names_whose_rules_rank_them() {
        let c = Candidates {
            old_primary: None,
            live_primaries: Vec::new(),
            rows: Vec::new(),
        };
        let cluster = candidates(&c, true).title;
        assert!(cluster.contains("the cluster's"), "{cluster}");
        assert!(cluster.contains("not nofailover"), "{cluster}");
        assert!(!cluster.contains("Sentinel"), "{cluster}");
        let sentinel = candidates(&c, false).title;
        assert!(sentinel.contains("Sentinel's rules"), "{sentinel}");
    }
}
