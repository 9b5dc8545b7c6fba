//! `ConfigError`: one configuration problem, with where it is, the key, and a hint.
//!
//! This file owns the error type, its `Display` form and the byte-offset to line/column
//! conversion. It must never be handed a secret: callers quote values only for keys that cannot
//! hold a password, and nothing here reads files or the environment.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// What kind of problem a [`ConfigError`] is, for callers that react differently to each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The config file does not exist.
    NotFound,
    /// The config file exists but cannot be read (permissions, not UTF-8, a directory...).
    Unreadable,
    /// The text is not valid TOML.
    Syntax,
    /// A key that redops does not know.
    UnknownKey,
    /// A value of the wrong TOML type (a number where a string belongs...).
    WrongType,
    /// A required key is absent.
    MissingKey,
    /// A value of the right type that is not acceptable (bad address, duration out of range...).
    InvalidValue,
    /// A name or address used twice where it must be unique.
    Duplicate,
    /// Two settings that exclude each other.
    Conflict,
    /// A password source (environment variable or file) that gives no password.
    Password,
    /// A file the config names (CA bundle) that is missing or unusable.
    File,
    /// The config names nothing to watch.
    NoGroups,
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// Line number, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl Location {
    /// The line and column of byte `offset` in `text` (offsets past the end point just after it).
    #[must_use]
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Self {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A configuration problem.
///
/// Displayed as:
///
/// ```text
/// error: invalid address 'x:99999' at groups[0].nodes[1].addr: port '99999' is not a number from 1 to 65535
///   --> /etc/redops/config.toml:12:8
///   hint: write it as host:port, e.g. "10.0.0.11:6379"
/// ```
///
/// The first line is `error: {message}`, then ` at {key}` when a key is known, then
/// `: {detail}` when there is one. The `-->` line carries the file and/or line:column when known.
/// Values are quoted in the message, never for keys that may hold a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Boxed: the error travels in every `Result` of the loader and should stay small.
    inner: Box<Inner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    file: Option<PathBuf>,
    location: Option<Location>,
    key: Option<String>,
    message: String,
    detail: Option<String>,
    hint: String,
    /// Byte range in the text, turned into `location` by [`ConfigError::locate`].
    span: Option<Range<usize>>,
}

impl ConfigError {
    /// What kind of problem this is.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The config file, when the text came from one.
    #[must_use]
    pub fn file(&self) -> Option<&Path> {
        self.inner.file.as_deref()
    }

    /// Where in the file, when the problem is at one spot.
    #[must_use]
    pub fn location(&self) -> Option<Location> {
        self.inner.location
    }

    /// Dotted key path with indices, e.g. `groups[0].nodes[1].addr`.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        self.inner.key.as_deref()
    }

    /// What is wrong, with the bad value quoted: `invalid address 'x:99999'`.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// Why, when the message alone does not say.
    #[must_use]
    pub fn detail(&self) -> Option<&str> {
        self.inner.detail.as_deref()
    }

    /// What to do about it (never empty for errors the loader produces).
    #[must_use]
    pub fn hint(&self) -> &str {
        &self.inner.hint
    }

    pub(super) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                file: None,
                location: None,
                key: None,
                message: message.into(),
                detail: None,
                hint: String::new(),
                span: None,
            }),
        }
    }

    pub(super) fn with_key(mut self, key: impl Into<String>) -> Self {
        self.inner.key = Some(key.into());
        self
    }

    pub(super) fn with_span(mut self, span: Range<usize>) -> Self {
        self.inner.span = Some(span);
        self
    }

    pub(super) fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.inner.detail = Some(detail.into());
        self
    }

    pub(super) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.inner.hint = hint.into();
        self
    }

    pub(super) fn with_file(mut self, file: Option<&Path>) -> Self {
        self.inner.file = file.map(Path::to_path_buf);
        self
    }

    /// Resolves the byte span against the text it came from, and records the file.
    pub(super) fn locate(mut self, text: &str, file: Option<&Path>) -> Self {
        if let Some(span) = self.inner.span.take() {
            self.inner.location = Some(Location::of_offset(text, span.start));
        }
        if self.inner.file.is_none() {
            self.inner.file = file.map(Path::to_path_buf);
        }
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.inner;
        write!(f, "error: {}", e.message)?;
        if let Some(key) = &e.key {
            write!(f, " at {key}")?;
        }
        if let Some(detail) = &e.detail {
            write!(f, ": {detail}")?;
        }
        match (&e.file, e.location) {
            (Some(file), Some(at)) => write!(f, "\n  --> {}:{at}", file.display())?,
            (Some(file), None) => write!(f, "\n  --> {}", file.display())?,
            (None, Some(at)) => write!(f, "\n  --> line {}, column {}", at.line, at.column)?,
            (None, None) => {}
        }
        if !e.hint.is_empty() {
            write!(f, "\n  hint: {}", e.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Quotes a value for a message the way the style asks: `'value'`.
pub(super) fn quoted(value: &str) -> String {
    format!("'{value}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_to_line_and_column() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(
            Location::of_offset(text, 0),
            Location { line: 1, column: 1 }
        );
        assert_eq!(
            Location::of_offset(text, 6),
            Location { line: 2, column: 1 }
        );
        // 'é' is two bytes but one column.
        assert_eq!(
            Location::of_offset(text, 9),
            Location { line: 2, column: 3 }
        );
        // End of text: just after the last character.
        assert_eq!(
            Location::of_offset(text, text.len()),
            Location { line: 3, column: 1 }
        );
        assert_eq!(Location::of_offset("", 5), Location { line: 1, column: 1 });
    }

    #[test]
    fn display_has_every_part() {
        let e = ConfigError::new(ErrorKind::InvalidValue, "invalid address 'x:99999'")
            .with_key("groups[0].nodes[1].addr")
            .with_detail("port '99999' is not a number from 1 to 65535")
            .with_hint("write it as host:port, e.g. \"10.0.0.11:6379\"")
            .with_span(13..14)
            .locate(
                "[[groups]]\n\n x",
                Some(Path::new("/etc/redops/config.toml")),
            );
        assert_eq!(
            e.to_string(),
            "error: invalid address 'x:99999' at groups[0].nodes[1].addr: port '99999' is not \
             a number from 1 to 65535\n  --> /etc/redops/config.toml:3:2\n  hint: write it as \
             host:port, e.g. \"10.0.0.11:6379\""
        );
    }

    #[test]
    fn display_without_file_or_key() {
        let e = ConfigError::new(ErrorKind::Syntax, "invalid TOML")
            .with_hint("h")
            .with_span(0..1)
            .locate("x", None);
        assert_eq!(
            e.to_string(),
            "error: invalid TOML\n  --> line 1, column 1\n  hint: h"
        );
    }
}
