//! The INFO text parser. (Placeholder: being written.)

use super::Info;

/// Parses an INFO reply. Total: never panics, whatever the input.
#[must_use]
pub fn parse(_text: &str) -> Info {
    Info::default()
}
