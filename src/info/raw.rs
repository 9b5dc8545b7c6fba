//! Every `field:value` of an INFO reply, unknown ones included, kept as the reply text itself.
//!
//! Polling 500 nodes a second must not cost two heap strings per line, so `RawInfo` owns the
//! one `String` the reply arrived in and answers questions by walking its lines with the same
//! splitter the typed parser uses (`parse::lines`), so both always agree on what a line is.
//! Lookups scan the text; they are for diagnostics and tests, not for the per-poll path.
//! It must not interpret values: that is `fields.rs` and `lists.rs`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::parse::{lines, Line};

/// The raw lines of one reply, by lowercase section name (`"replication"`, `"keyspace"`, …),
/// in reply order. Lines before any `# Section` header are under the empty name `""`; a
/// section named twice reads as one.
#[derive(Clone, Default)]
pub struct RawInfo {
    text: String,
}

impl RawInfo {
    pub(super) fn new(text: String) -> Self {
        Self { text }
    }

    /// The reply exactly as received.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every field line in reply order: `(section, name, value)`, name and value untrimmed.
    pub fn iter(&self) -> impl Iterator<Item = (Cow<'_, str>, &str, &str)> + '_ {
        let mut section: Cow<'_, str> = Cow::Borrowed("");
        lines(&self.text).filter_map(move |line| match line {
            Line::Header(h) => {
                section = section_name(h);
                None
            }
            Line::Field(name, value) => Some((section.clone(), name, value)),
        })
    }

    /// The field lines of one section (lowercase name), in reply order.
    pub fn section<'a>(&'a self, section: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        let mut inside = section.is_empty();
        lines(&self.text).filter_map(move |line| match line {
            Line::Header(h) => {
                inside = section_is(h, section);
                None
            }
            Line::Field(name, value) => inside.then_some((name, value)),
        })
    }

    /// True when the reply has that section: a header for it, or (for `""`) lines before the
    /// first header or under an empty header.
    #[must_use]
    pub fn contains_section(&self, section: &str) -> bool {
        let mut before_any_header = true;
        lines(&self.text).any(|line| match line {
            Line::Header(h) => {
                before_any_header = false;
                section_is(h, section)
            }
            Line::Field(..) => before_any_header && section.is_empty(),
        })
    }

    /// The first value of a field in a section, untrimmed.
    #[must_use]
    pub fn get(&self, section: &str, name: &str) -> Option<&str> {
        let mut inside = section.is_empty();
        for line in lines(&self.text) {
            match line {
                Line::Header(h) => inside = section_is(h, section),
                Line::Field(k, v) if inside && k == name => return Some(v),
                Line::Field(..) => {}
            }
        }
        None
    }

    /// The distinct section names, sorted.
    #[must_use]
    pub fn section_names(&self) -> Vec<String> {
        self.by_section().into_keys().map(Cow::into_owned).collect()
    }

    /// Number of field lines over all sections.
    #[must_use]
    pub fn len(&self) -> usize {
        lines(&self.text)
            .filter(|l| matches!(l, Line::Field(..)))
            .count()
    }

    /// True when the reply has no field line.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sections (empty ones included) with their lines; for comparison and `Debug`.
    fn by_section(&self) -> BTreeMap<Cow<'_, str>, Vec<(&str, &str)>> {
        let mut map: BTreeMap<Cow<'_, str>, Vec<(&str, &str)>> = BTreeMap::new();
        let mut section: Cow<'_, str> = Cow::Borrowed("");
        for line in lines(&self.text) {
            match line {
                Line::Header(h) => {
                    section = section_name(h);
                    map.entry(section.clone()).or_default();
                }
                Line::Field(name, value) => {
                    map.entry(section.clone()).or_default().push((name, value));
                }
            }
        }
        map
    }
}

/// Two replies are equal when they hold the same lines in the same sections, whatever the
/// line ends, blank lines or header spelling.
impl PartialEq for RawInfo {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text || self.by_section() == other.by_section()
    }
}

impl std::fmt::Debug for RawInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.by_section()).finish()
    }
}

/// `# RePlication ` names the section `replication`.
fn section_name(header: &str) -> Cow<'_, str> {
    let h = header.trim();
    if h.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(h.to_lowercase())
    } else {
        Cow::Borrowed(h)
    }
}

/// True when `header` names `section` (given in lowercase), without allocating for ASCII.
fn section_is(header: &str, section: &str) -> bool {
    let h = header.trim();
    if h.is_ascii() {
        h.len() == section.len()
            && h.bytes()
                .zip(section.bytes())
                .all(|(a, b)| a.to_ascii_lowercase() == b)
    } else {
        h.to_lowercase() == section
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> RawInfo {
        RawInfo::new(text.to_string())
    }

    #[test]
    fn sections_merge_and_keep_reply_order() {
        let r = raw("a:1\r\n# Server\r\nx:2\r\n\r\n# Other\r\ny:3\r\n# SERVER\r\nz:4\r\n");
        assert_eq!(r.section("").collect::<Vec<_>>(), vec![("a", "1")]);
        assert_eq!(
            r.section("server").collect::<Vec<_>>(),
            vec![("x", "2"), ("z", "4")]
        );
        assert_eq!(r.section_names(), vec!["", "other", "server"]);
        assert_eq!(r.len(), 4);
        assert_eq!(r.get("other", "y"), Some("3"));
        assert_eq!(r.get("Other", "y"), None, "names are asked in lowercase");
    }

    #[test]
    fn empty_sections_exist_and_empty_name_needs_lines_or_header() {
        let r = raw("# Cluster\r\n");
        assert!(r.contains_section("cluster"));
        assert!(!r.contains_section(""));
        assert!(raw("x:1\n").contains_section(""));
        assert!(raw("# A\n#\n").contains_section(""));
        assert!(r.is_empty());
    }

    #[test]
    fn equality_ignores_line_ends_and_header_spelling() {
        assert_eq!(raw("# A\r\nx:1\r\n"), raw("# a\nx:1\n\n"));
        assert_ne!(raw("# A\nx:1\n"), raw("# B\nx:1\n"));
        assert_ne!(raw("x: 1\n"), raw("x:1\n"), "values are kept untrimmed");
    }

    #[test]
    fn non_ascii_headers_are_lowercased_like_to_lowercase() {
        let r = raw("# ÉTAT\nx:1\n");
        assert!(r.contains_section("état"));
        assert_eq!(r.get("état", "x"), Some("1"));
        assert_eq!(r.section_names(), vec!["état"]);
    }
}
