//! The one sanitizer for text that came from outside (server replies, files, discovered
//! addresses) on its way to a terminal or a JSON line.
//!
//! A server controls `redis_version`, `master_host`, a replica's announced IP and its error
//! texts. Printed raw, an `ESC ] 0 ; … BEL` retitles the operator's terminal and a
//! `\r ESC [2K ESC [1A` rewrites lines already shown (a red status turned into "healthy"). Here
//! every control character (C0, DEL, C1) and every bidirectional override is made *visible*
//! (`\x1b`, `\r`, `\u{9b}`, `\u{202e}`) instead of being interpreted. This module decides
//! nothing else: it does not shorten, and it never touches ordinary printable text.

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for the characters a terminal would act on, or that reorder what is shown:
/// C0 controls (tab and newline included: a table cell never holds them), DEL, C1 controls
/// (U+009B is a one-character CSI on some terminals) and the Unicode bidi controls.
#[must_use]
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

fn push_visible(out: &mut String, c: char) {
    match c {
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c if u32::from(c) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

/// `s` with every unsafe character (see [`is_unsafe`]) written out as an escape. Borrowed
/// when there is nothing to change (the common case).
#[must_use]
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_unsafe(c) {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// As [`visible`], but line breaks are kept: for redops's own multi-line messages (an error,
/// its location and its hint) that may embed server text. A server field cannot use this to
/// forge a line: INFO values and error replies reach here one line each (the parser splits on
/// line ends; driver errors keep only their first line), and `\r` is still made visible, so no
/// line already on screen can be overwritten.
#[must_use]
pub fn visible_lines(s: &str) -> Cow<'_, str> {
    if !s.contains('\n') {
        return visible(s);
    }
    let parts: Vec<Cow<'_, str>> = s.split('\n').map(visible).collect();
    Cow::Owned(parts.join("\n"))
}

/// The length of a colour sequence `ESC [ <digits and ;> m` at the start of `s`, if any.
fn sgr_len(s: &str) -> Option<usize> {
    let rest = s.strip_prefix("\x1b[")?;
    let params = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b';')
        .count();
    (rest.as_bytes().get(params) == Some(&b'm')).then_some(2 + params + 1)
}

/// A whole line for the terminal. With `keep_colour`, colour sequences (`ESC [ … m`, which
/// only change colour and weight, never move the cursor) are kept so redops's own paint
/// survives; every other unsafe character is made visible. The callers that paint pass each
/// server-originated field through [`visible`] first, so a server cannot even colour text.
#[must_use]
pub fn terminal_line(s: &str, keep_colour: bool) -> Cow<'_, str> {
    if !keep_colour {
        return visible(s);
    }
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if let Some(n) = sgr_len(rest) {
            out.push_str(rest.get(..n).unwrap_or_default());
            rest = rest.get(n..).unwrap_or_default();
            continue;
        }
        if is_unsafe(c) {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
    }
    Cow::Owned(out)
}

/// A serialized JSON document made safe for a terminal without changing what it decodes to.
/// `serde_json` already writes C0 controls as `\u00XX`; it leaves DEL, C1 controls and the
/// bidi controls raw, and those can only occur inside JSON strings, where `\uXXXX` is the
/// same character.
#[must_use]
pub fn json_text(json: &str) -> Cow<'_, str> {
    let unsafe_in_json = |c: char| c != '\n' && c != '\r' && c != '\t' && is_unsafe(c);
    if !json.chars().any(unsafe_in_json) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if unsafe_in_json(c) {
            // Every such character is BMP, so one `\uXXXX` escape spells it.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::{json_text, terminal_line, visible};

    #[test]
    fn the_reported_injections_are_made_visible() {
        let title = "x\u{1b}]0;OWNED\u{7}\u{1b}[2J";
        assert_eq!(visible(title), "x\\x1b]0;OWNED\\x07\\x1b[2J");
        let rewrite = "\r\u{1b}[2K\u{1b}[1Ahealthy";
        assert_eq!(visible(rewrite), "\\r\\x1b[2K\\x1b[1Ahealthy");
        assert_eq!(
            visible("a\u{9b}2J\u{202e}b\u{7f}"),
            "a\\u{9b}2J\\u{202e}b\\x7f"
        );
    }

    #[test]
    fn printable_text_is_borrowed_untouched() {
        for s in ["7.0.15", "10.0.0.1", "café ✓ 东京", "", "a\\x1b"] {
            assert!(matches!(visible(s), std::borrow::Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn a_terminal_line_keeps_colour_only() {
        let painted = "\u{1b}[32mup\u{1b}[0m \u{1b}[31;1mx\u{1b}[0m";
        assert_eq!(terminal_line(painted, true), painted);
        assert_eq!(
            terminal_line("\u{1b}[32mok\u{1b}[2J\u{1b}]0;t\u{7}\r", true),
            "\u{1b}[32mok\\x1b[2J\\x1b]0;t\\x07\\r"
        );
        assert_eq!(terminal_line("\u{1b}[32mup", false), "\\x1b[32mup");
        assert_eq!(terminal_line("\u{1b}[", true), "\\x1b[");
    }

    #[test]
    fn own_line_breaks_survive_but_nothing_else() {
        assert_eq!(
            super::visible_lines("error: a\n  hint: b\r\u{1b}[1A"),
            "error: a\n  hint: b\\r\\x1b[1A"
        );
    }

    #[test]
    fn json_keeps_its_meaning() {
        let v = serde_json::json!({"v": "a\u{1b}[2J\u{9b}\u{202e}\u{7f}\r\n"});
        let s = v.to_string();
        let safe = json_text(&s);
        assert!(!safe.chars().any(super::is_unsafe), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, v);
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        let back: serde_json::Value = serde_json::from_str(&json_text(&pretty)).unwrap();
        assert_eq!(back, v);
    }
}
