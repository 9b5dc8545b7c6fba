//! The console's words for a [`NextStep`] the core decided: the reason, then the key that does
//! it (from the keymap), and the plan the console can open for it (a notice's offer). The
//! core never names keys; the console never names commands to type.

use crate::ops::{ActionKind, NextStep, Request};

use super::keymap::{Intent, BINDINGS};

/// The key bound to `kind` in the main view, as help writes it.
#[must_use]
pub fn key(kind: ActionKind) -> &'static str {
    BINDINGS
        .iter()
        .find(|b| matches!(b.intent, Intent::Action(a) if a == kind))
        .map_or("?", |b| b.label)
}

/// `step` in the console's words: the reason, then what to select and which key to press.
#[must_use]
pub fn render(step: &NextStep) -> String {
    let Some(a) = step.action else {
        return step.why.clone();
    };
    let k = key(a);
    let how = match (a, step.node.as_deref(), step.source.as_deref()) {
        (ActionKind::Promote, None, _) => format!("press {k}"),
        (ActionKind::Failback, ..) => format!("press {k}"),
        (ActionKind::Repoint, n, Some(s)) => {
            format!("select {}, press {k} and pick {s}", n.unwrap_or("the node"))
        }
        (_, n, _) => format!("select {} and press {k}", n.unwrap_or("the node")),
    };
    format!("{} ({how})", step.why)
}

/// The plan the console can offer for `step` in group `group`, with the button's label:
/// only a step it can plan as it stands (a node named where the action needs one).
#[must_use]
pub fn offer(step: &NextStep, group: usize) -> Option<(String, Request)> {
    let action = step.action?;
    let node = step.node.clone();
    match action {
        ActionKind::Promote => Some((
            match &node {
                Some(n) => format!("plan the promotion of {n}"),
                None => "plan a promotion (best candidate)".to_string(),
            },
            Request::new(action, node).in_group(group),
        )),
        ActionKind::Repoint => {
            let (n, s) = (node?, step.source.clone()?);
            let r = Request::new(action, Some(n.clone()))
                .in_group(group)
                .from_source(s.clone());
            Some((format!("plan the repoint of {n} to {s}"), r))
        }
        ActionKind::Rejoin => {
            let n = node?;
            let label = match &step.source {
                Some(s) => format!("plan the rejoin of {n} (to {s})"),
                None => format!("plan the rejoin of {n}"),
            };
            Some((label, Request::new(action, Some(n)).in_group(group)))
        }
        ActionKind::Snapshot
        | ActionKind::Switchover
        | ActionKind::Failback
        | ActionKind::Restore
        | ActionKind::SentinelReset => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_names_the_key_from_its_keymap() {
        let rejoin = NextStep::action(ActionKind::Rejoin, Some("n1".into()), "why");
        assert_eq!(render(&rejoin), "why (select n1 and press J)");
        let promote = NextStep::action(ActionKind::Promote, None, "why");
        assert_eq!(render(&promote), "why (press p)");
        let repoint =
            NextStep::action(ActionKind::Repoint, Some("r3".into()), "why").from_source("r1");
        assert_eq!(render(&repoint), "why (select r3, press r and pick r1)");
        assert!(!render(&repoint).contains("redops"));
        let (label, req) = offer(&repoint, 0).unwrap();
        assert_eq!(label, "plan the repoint of r3 to r1");
        assert_eq!(req.source.as_deref(), Some("r1"));
        assert!(offer(&NextStep::action(ActionKind::Rejoin, None, "why"), 0).is_none());
    }
}
