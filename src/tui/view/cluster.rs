//! A cluster group in the console: the cluster summary in the table's title (`cluster ok ·
//! 3 shards · 16384 slots ok`) and the SLOTS column of the shard tree (each primary's slot
//! ranges and count, a failed or suspected node's flags). Pure drawing from the core's
//! [`ClusterView`].

use ratatui::text::{Line, Span};

use crate::cluster::nodes::ranges_text;
use crate::cluster::ClusterView;
use crate::topology::NodeView;

use super::super::theme::{Theme, Ui};

/// The title's cluster part: state, shards, slots ok (and pfail/fail when any).
pub(super) fn title_spans(t: &Theme, v: &ClusterView) -> Vec<Span<'static>> {
    let (word, style) = match v.state_ok {
        Some(true) => ("cluster ok", Ui::Up),
        Some(false) => ("cluster FAIL", Ui::Danger),
        None => ("cluster ?", Ui::Muted),
    };
    let shards = v.shards.iter().filter(|s| s.slot_count > 0).count();
    let mut spans = vec![
        Span::styled(format!("{word} "), t.s(style)),
        Span::styled(
            format!(
                "· {shards} shard{} · {} slots ok ",
                if shards == 1 { "" } else { "s" },
                v.slots_ok
                    .map_or_else(|| "?".to_string(), |n| n.to_string())
            ),
            t.s(Ui::Muted),
        ),
    ];
    let bad = [("pfail", v.slots_pfail), ("fail", v.slots_fail)];
    for (word, n) in bad {
        if let Some(n) = n.filter(|&n| n > 0) {
            spans.push(Span::styled(format!("· {n} {word} "), t.s(Ui::Danger)));
        }
    }
    spans
}

/// The SLOTS cell of a node: a shard primary's ranges and count; the cluster's flags for a
/// node it marks failed or suspected.
pub(super) fn slots_cell(t: &Theme, v: &ClusterView, n: &NodeView) -> Line<'static> {
    let shards = v.shards.iter();
    let primary = shards.clone().find(|s| s.primary.name == n.name);
    let member = primary.map(|s| &s.primary).or_else(|| {
        shards
            .flat_map(|s| s.replicas.iter())
            .find(|r| r.name == n.name)
    });
    let flags = member.map(|m| m.flags.words()).unwrap_or_default();
    let mut spans = Vec::new();
    if let Some(s) = primary.filter(|s| s.slot_count > 0) {
        spans.push(Span::styled(
            format!("{} ({})", ranges_text(&s.slots, 2), s.slot_count),
            t.s(Ui::Text),
        ));
    }
    if !flags.is_empty() {
        if !spans.is_empty() {
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(flags.join(","), t.s(Ui::Danger)));
    }
    Line::from(spans)
}

/// The detail pane's cluster fields of a node: its id, its shard, the slots it serves, the
/// cluster's flags and its config epoch, as the view's source sees them. Empty for a node
/// the map does not hold.
pub(super) fn detail_fields(v: &ClusterView, n: &NodeView) -> Vec<(&'static str, String, Ui)> {
    let mut out = Vec::new();
    for s in &v.shards {
        let is_primary = s.primary.name == n.name;
        let Some(m) = std::iter::once(&s.primary)
            .chain(&s.replicas)
            .find(|m| m.name == n.name)
        else {
            continue;
        };
        out.push(("node id", m.id.clone(), Ui::Muted));
        let shard = if is_primary {
            format!(
                "primary, {}",
                crate::words::count(s.replicas.len(), "replica")
            )
        } else {
            format!("replica of {}", s.primary.name)
        };
        out.push(("shard", shard, Ui::Text));
        if is_primary {
            let slots = if s.slot_count == 0 {
                "none".to_string()
            } else {
                format!("{} ({})", ranges_text(&s.slots, 3), s.slot_count)
            };
            out.push(("slots", slots, Ui::Text));
        }
        let flags = m.flags.words();
        if !flags.is_empty() {
            out.push(("flags", flags.join(", "), Ui::Danger));
        }
        out.push(("config epoch", m.config_epoch.to_string(), Ui::Text));
        break;
    }
    out
}
