//! The Sentinel strip: on the bottom border of the tree, for a group Sentinel watches, one
//! line of what the sentinels say: each sentinel up or down and the master it names (with
//! its flags when they say more than `master`), the quorum and whether `CKQUORUM` passes,
//! the config epoch, a failover's state, TILT. Pure: reads the topology's Sentinel view.

use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use crate::sentinel::{GroupSentinel, SentinelRow};
use crate::topology::GroupTopology;
use crate::tui::theme::{Theme, Ui};

fn row_spans(t: &Theme, i: usize, r: &SentinelRow) -> Vec<Span<'static>> {
    let label = Span::styled(format!("s{} ", i + 1), t.s(Ui::Muted));
    let (text, style) = if r.pending {
        ("…".to_string(), t.s(Ui::Muted))
    } else if r.error.is_some() {
        ("✗ down".to_string(), t.s(Ui::Down))
    } else if r.unknown_master {
        ("✗ no such master".to_string(), t.s(Ui::Danger))
    } else {
        let who = r
            .master_node
            .clone()
            .or_else(|| r.master.clone())
            .unwrap_or_else(|| "?".into());
        let extra: Vec<&str> = r
            .flags
            .iter()
            .map(String::as_str)
            .filter(|f| *f != "master")
            .collect();
        let style = if extra.is_empty() {
            t.s(Ui::Up)
        } else {
            t.s(Ui::Warning)
        };
        if extra.is_empty() {
            (format!("✓ {who}"), style)
        } else {
            (format!("✓ {who} {}", extra.join(",")), style)
        }
    };
    vec![label, Span::styled(text, style)]
}

/// The strip's line.
#[must_use]
pub fn strip(t: &Theme, s: &GroupSentinel) -> Line<'static> {
    let sep = || Span::styled(" · ", t.s(Ui::Muted));
    let mut spans = vec![Span::styled(
        format!(" Sentinel '{}' ", crate::sanitize::visible(&s.master_name)),
        t.s(Ui::Title),
    )];
    for (i, r) in s.rows.iter().enumerate() {
        if i > 0 {
            spans.push(sep());
        }
        spans.extend(row_spans(t, i, r));
    }
    spans.push(sep());
    let (q, qs) = match s.quorum_reachable() {
        None => (format!("quorum {} ?", s.quorum()), t.s(Ui::Muted)),
        Some(true) => (format!("quorum {} ✓", s.quorum()), t.s(Ui::Up)),
        Some(false) => (format!("quorum {} ✗", s.quorum()), t.s(Ui::Danger)),
    };
    spans.push(Span::styled(q, qs));
    if let Some(state) = s.rows.iter().find_map(|r| r.failover_state.clone()) {
        spans.push(sep());
        spans.push(Span::styled(
            format!("failing over: {}", crate::sanitize::visible(&state)),
            t.s(Ui::Warning),
        ));
    }
    if s.rows.iter().any(|r| r.tilt) {
        spans.push(sep());
        spans.push(Span::styled("TILT", t.s(Ui::Warning)));
    }
    // Last: on a narrow screen the border cuts the end, and the epoch matters least.
    if let Some(e) = s.rows.iter().filter_map(|r| r.epoch).max() {
        spans.push(sep());
        spans.push(Span::styled(format!("epoch {e}"), t.s(Ui::Muted)));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// `block` with the strip on its bottom border when Sentinel watches the group.
#[must_use]
pub fn with_strip<'a>(block: Block<'a>, t: &Theme, g: &GroupTopology) -> Block<'a> {
    match &g.sentinel {
        Some(s) => block.title_bottom(strip(t, s)),
        None => block,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(master: Option<&str>) -> SentinelRow {
        SentinelRow {
            addr: "127.0.0.1:26379".into(),
            error: None,
            pending: false,
            unknown_master: false,
            master: master.map(|_| "127.0.0.1:7001".to_string()),
            master_node: master.map(str::to_string),
            flags: vec!["master".into()],
            quorum: Some(2),
            ckquorum: Some(Ok("OK 3 usable Sentinels".into())),
            failover_state: None,
            epoch: Some(4),
            tilt: false,
            other_sentinels: Some(2),
        }
    }

    fn text(l: &Line<'_>) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn strip_says_who_is_up_what_they_name_and_the_quorum() {
        let t = Theme::builtin_default();
        let mut down = row(None);
        down.error = Some("connection refused".into());
        down.ckquorum = None;
        let mut failing = row(Some("n1"));
        failing.failover_state = Some("wait_promotion".into());
        failing.flags.push("failover_in_progress".into());
        let s = GroupSentinel {
            master_name: "grp\x1b[2J".into(),
            rows: vec![failing, row(Some("n1")), down],
            master: Some("127.0.0.1:7001".into()),
            master_node: Some("n1".into()),
            agreeing: 2,
        };
        let line = text(&strip(&t, &s));
        assert_eq!(
            line,
            " Sentinel 'grp\\x1b[2J' s1 ✓ n1 failover_in_progress · s2 ✓ n1 · s3 ✗ down · quorum 2 ✓ \
             · failing over: wait_promotion · epoch 4 "
        );
    }
}
