//! The CLI's words for what the core hands over as data: a [`NextStep`] becomes its reason
//! followed by the command to type (`... (run `redops rejoin n1`)`), and a refused run's
//! typed override flag becomes the flags that override it. The core never writes these.

use super::{EXIT_OK, EXIT_PROBLEM, EXIT_REFUSED, EXIT_USAGE};
use crate::ops::{ActionKind, ErrorKind, NextStep, RunOutcome};

/// What `--force --reason` does, said after a refusal that an override may lift.
pub const OVERRIDE: &str = "--force --reason TEXT overrides these (recorded)";

/// The command line that carries out `step`'s action, if it has one.
#[must_use]
pub fn command(step: &NextStep) -> Option<String> {
    let node = step.node.as_deref().unwrap_or("NODE");
    Some(match step.action? {
        ActionKind::Snapshot => format!("redops snapshot {node}"),
        ActionKind::Switchover => format!("redops switchover --to {node}"),
        ActionKind::Failback => "redops failback".to_string(),
        ActionKind::Promote => match &step.node {
            Some(n) => format!("redops promote {n}"),
            None => "redops promote".to_string(),
        },
        ActionKind::Repoint => format!(
            "redops repoint {node} --to {}",
            step.source.as_deref().unwrap_or("NODE")
        ),
        ActionKind::Rejoin => format!("redops rejoin {node}"),
        ActionKind::Restore => format!("redops restore {node} --from ID"),
        ActionKind::SentinelReset => "redops sentinel reset GROUP".to_string(),
    })
}

/// `step` in the CLI's words: the reason, then the command to run.
#[must_use]
pub fn render(step: &NextStep) -> String {
    match command(step) {
        Some(c) => format!("{} (run `{c}`)", step.why),
        None => step.why.clone(),
    }
}

/// The exit code of a core error of kind `kind` that stops a command before any run.
#[must_use]
pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Usage | ErrorKind::Io => EXIT_USAGE,
        ErrorKind::Refused => EXIT_REFUSED,
        ErrorKind::NothingToDo => EXIT_OK,
        ErrorKind::Failed => EXIT_PROBLEM,
    }
}

/// The hint lines of a refused run: the engine's hint, then the override when one is possible.
#[must_use]
pub fn refusal_hints(o: &RunOutcome) -> Vec<String> {
    let mut out: Vec<String> = o.hint.iter().cloned().collect();
    if o.overridable {
        out.push(OVERRIDE.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_is_rendered_as_the_command_to_type() {
        let step = |a, n: Option<&str>| NextStep::action(a, n.map(str::to_string), "why");
        assert_eq!(
            render(&step(ActionKind::Rejoin, Some("n1"))),
            "why (run `redops rejoin n1`)"
        );
        assert_eq!(
            render(&step(ActionKind::Promote, None)),
            "why (run `redops promote`)"
        );
        assert_eq!(
            render(&step(ActionKind::Repoint, None).from_source("p")),
            "why (run `redops repoint NODE --to p`)"
        );
        assert_eq!(render(&NextStep::manual("look")), "look");
    }
}
