//! Typed errors of the action layer: what went wrong, in words, with the hint as its own field.
//!
//! Builders and the session return these; a front-end renders them in its own terms (the CLI
//! prints `error: ...` then `  hint: ...` and picks the exit code from [`ErrorKind`]; the
//! console shows the message in its status line). Nothing here is decided by reading a message.

use serde::Serialize;

/// What kind of problem an [`OpsError`] is: it decides the exit code and the console's
/// reaction, never the message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request names something that does not exist or does not fit (unknown node, no
    /// source chosen, a bad value): exit 2.
    Usage,
    /// A guard refuses the action as asked (read-only, an HA manager, a failed pre-check):
    /// exit 3.
    Refused,
    /// There is nothing to do: the group is already as asked (the target is already the
    /// primary, the node already replicates from the source).
    NothingToDo,
    /// Local I/O failed (the audit log, the marks file, a download directory).
    Io,
}

/// An error of the action layer: a message, an optional hint, and its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct OpsError {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl OpsError {
    /// A usage error (exit 2).
    #[must_use]
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Usage,
            message: message.into(),
            hint: None,
        }
    }

    /// A refusal by a guard (exit 3).
    #[must_use]
    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Refused,
            message: message.into(),
            hint: None,
        }
    }

    /// The group is already as asked.
    #[must_use]
    pub fn nothing_to_do(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::NothingToDo,
            message: message.into(),
            hint: None,
        }
    }

    /// Local I/O failed.
    #[must_use]
    pub fn io(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Io,
            message: message.into(),
            hint: None,
        }
    }

    /// The same error with a hint.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// The action layer's result.
pub type OpsResult<T> = Result<T, OpsError>;

// TEMPORARY: removed when the builders return OpsError.
/// A builder's `message\n  hint: ...` string as a usage error with its hint split out.
#[must_use]
pub fn from_legacy(text: String) -> OpsError {
    match text.split_once("\n  hint: ") {
        Some((m, h)) => OpsError::usage(m).hint(h),
        None => OpsError::usage(text),
    }
}
