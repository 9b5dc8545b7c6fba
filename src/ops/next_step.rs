//! The safe next step after a run that failed, was interrupted, or left the group changed:
//! one typed value decided in the core, rendered by each front-end in its own terms (the
//! console names the key to press, the CLI the command to type). The core never writes CLI
//! syntax or key names into it.

use serde::Serialize;

use super::plan::ActionKind;

/// What to do next, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextStep {
    /// The redops action that is the next step, when there is one (`None`: something to do by
    /// hand or to look at, said in `why`).
    pub action: Option<ActionKind>,
    /// The node the action applies to (the one to promote, repoint or rejoin).
    pub node: Option<String>,
    /// Where it should replicate from (repoint), when the step names it.
    pub source: Option<String>,
    /// Why, in plain words, without command syntax.
    pub why: String,
}

impl NextStep {
    /// A next step that is a redops action on `node`.
    #[must_use]
    pub fn action(action: ActionKind, node: Option<String>, why: impl Into<String>) -> Self {
        Self {
            action: Some(action),
            node,
            source: None,
            why: why.into(),
        }
    }

    /// A next step that is not a redops action (look, wait, act by hand).
    #[must_use]
    pub fn manual(why: impl Into<String>) -> Self {
        Self {
            action: None,
            node: None,
            source: None,
            why: why.into(),
        }
    }

    /// The same step with the source to replicate from.
    #[must_use]
    pub fn from_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }
}
