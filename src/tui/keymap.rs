//! Key bindings of the main view, as one table: the same table maps keys to intents and
//! feeds the help overlay and the footer, so help can never drift from what the keys do.
//!
//! Modals (prompt, help, dialogs) handle their own few keys in `modal.rs`; their bindings are
//! listed here too ([`MODAL_BINDINGS`]) so the help overlay shows them.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::ops::ActionKind;
use crate::sandbox::Fault;

/// What the operator asked for, independent of the key pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    NextGroup,
    Help,
    Filter,
    Command,
    Freeze,
    /// Open the selected node's detail full screen (k9s's describe), or close it.
    Describe,
    /// Copy the selected node's address to the clipboard (OSC 52).
    Copy,
    /// The backups pane of the shown group (`:backups`).
    Backups,
    Back,
    Quit,
    /// Acknowledge the shown group's data-loss alarms (they stay until then).
    Acknowledge,
    /// A guarded action (run by the engine after a plan dialog and a confirmation).
    Action(ActionKind),
    /// A fault for the selected node of the demo's sandbox (`redops demo` only).
    Practice(Fault),
    /// Reveal the drill's next hint (`redops drill NAME` only).
    DrillHint,
}

/// Where a binding applies, for grouping in the help overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Move,
    View,
    Actions,
    /// The demo's practice keys, shown in `redops demo` only.
    Practice,
    /// The drill panel's keys, shown in `redops drill NAME` only.
    Drill,
}

impl Section {
    /// Heading in the help overlay.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Move => "Move",
            Self::View => "View",
            Self::Actions => "Actions (a plan is shown first; nothing runs before you confirm)",
            Self::Practice => "Practice (redops demo: faults for the selected node)",
            Self::Drill => "Drill (redops drill NAME)",
        }
    }
}

/// One binding: the keys, how help writes them, the intent, and what it does.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [(KeyCode, KeyModifiers)],
    pub label: &'static str,
    pub intent: Intent,
    pub what: &'static str,
    pub section: Section,
    /// Shown in the footer when there is room.
    pub footer: Option<&'static str>,
}

const N: KeyModifiers = KeyModifiers::NONE;
const C: KeyModifiers = KeyModifiers::CONTROL;

const fn ch(c: char) -> (KeyCode, KeyModifiers) {
    (KeyCode::Char(c), N)
}

/// Every binding of the main view.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[(KeyCode::Up, N), ch('k')],
        label: "↑ k",
        intent: Intent::Up,
        what: "previous node (or scroll the focused pane)",
        section: Section::Move,
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::Down, N), ch('j')],
        label: "↓ j",
        intent: Intent::Down,
        what: "next node (or scroll the focused pane)",
        section: Section::Move,
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::PageUp, N), (KeyCode::Char('u'), C)],
        label: "PgUp ^u",
        intent: Intent::PageUp,
        what: "page up",
        section: Section::Move,
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::PageDown, N), (KeyCode::Char('d'), C)],
        label: "PgDn ^d",
        intent: Intent::PageDown,
        what: "page down",
        section: Section::Move,
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::Home, N)],
        label: "Home",
        intent: Intent::Top,
        what: "first node",
        section: Section::Move,
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::End, N)],
        label: "End",
        intent: Intent::Bottom,
        what: "last node",
        section: Section::Move,
        footer: None,
    },
    Binding {
        keys: &[(KeyCode::Tab, N)],
        label: "Tab",
        intent: Intent::NextPane,
        what: "next pane (tree, detail, events)",
        section: Section::Move,
        footer: Some("pane"),
    },
    Binding {
        keys: &[
            (KeyCode::BackTab, KeyModifiers::SHIFT),
            (KeyCode::BackTab, N),
        ],
        label: "S-Tab",
        intent: Intent::PrevPane,
        what: "previous pane",
        section: Section::Move,
        footer: None,
    },
    Binding {
        keys: &[ch('g')],
        label: "g",
        intent: Intent::NextGroup,
        what: "next group",
        section: Section::Move,
        footer: Some("group"),
    },
    Binding {
        keys: &[(KeyCode::Enter, N)],
        label: "Enter",
        intent: Intent::Describe,
        what: "the selected node's detail, full screen (Enter or Esc: back)",
        section: Section::View,
        footer: None,
    },
    Binding {
        keys: &[ch('y')],
        label: "y",
        intent: Intent::Copy,
        what: "copy the selected node's address (OSC 52: works over SSH)",
        section: Section::View,
        footer: None,
    },
    Binding {
        keys: &[ch('B')],
        label: "B",
        intent: Intent::Backups,
        what: "the group's backups: manifest (Enter), restore test (v)",
        section: Section::View,
        footer: None,
    },
    Binding {
        keys: &[ch('/')],
        label: "/",
        intent: Intent::Filter,
        what: "filter nodes by name, address, role or state",
        section: Section::View,
        footer: Some("filter"),
    },
    Binding {
        keys: &[ch(':')],
        label: ":",
        intent: Intent::Command,
        what: "command line (Tab completes)",
        section: Section::View,
        footer: Some("cmd"),
    },
    Binding {
        keys: &[ch('f'), ch(' ')],
        label: "f Space",
        intent: Intent::Freeze,
        what: "freeze / resume the view (polling goes on)",
        section: Section::View,
        footer: Some("freeze"),
    },
    Binding {
        keys: &[ch('a')],
        label: "a",
        intent: Intent::Acknowledge,
        what: "acknowledge data-loss alarms; in a drill: I see the fault",
        section: Section::View,
        footer: None,
    },
    Binding {
        keys: &[ch('?')],
        label: "?",
        intent: Intent::Help,
        what: "this help",
        section: Section::View,
        footer: Some("help"),
    },
    Binding {
        keys: &[(KeyCode::Esc, N)],
        label: "Esc",
        intent: Intent::Back,
        what: "close, clear the filter, or leave the frozen view",
        section: Section::View,
        footer: None,
    },
    Binding {
        keys: &[ch('q'), (KeyCode::Char('c'), C)],
        label: "q ^c",
        intent: Intent::Quit,
        what: "quit",
        section: Section::View,
        footer: Some("quit"),
    },
    action(
        &[ch('s')],
        "s",
        ActionKind::Snapshot,
        "snapshot the selected node (BGSAVE, verified)",
    ),
    action(
        &[ch('S')],
        "S",
        ActionKind::Switchover,
        "planned switchover to the selected replica",
    ),
    action(
        &[ch('b')],
        "b",
        ActionKind::Failback,
        "fail back to the preferred primary",
    ),
    action(
        &[ch('p')],
        "p",
        ActionKind::Promote,
        "promote the selected replica, else the best (primary down)",
    ),
    action(
        &[ch('r')],
        "r",
        ActionKind::Repoint,
        "repoint the selected node (the source from a list)",
    ),
    action(
        &[ch('J')],
        "J",
        ActionKind::Rejoin,
        "rejoin the selected or flagged stale primary",
    ),
    action(
        &[ch('L')],
        "L",
        ActionKind::Restore,
        "restore the selected primary from a backup (from a list)",
    ),
    practice(&[ch('K')], "K", Fault::Kill, "kill it (SIGKILL; K twice)"),
    practice(
        &[ch('R')],
        "R",
        Fault::Restart,
        "restart it from its redis.conf",
    ),
    practice(
        &[ch('F')],
        "F",
        Fault::Freeze,
        "freeze it (SIGSTOP); F again thaws",
    ),
    Binding {
        keys: &[ch('h')],
        label: "h",
        intent: Intent::DrillHint,
        what: "reveal the current step's next hint",
        section: Section::Drill,
        footer: None,
    },
];

const fn practice(
    keys: &'static [(KeyCode, KeyModifiers)],
    label: &'static str,
    f: Fault,
    what: &'static str,
) -> Binding {
    Binding {
        keys,
        label,
        intent: Intent::Practice(f),
        what,
        section: Section::Practice,
        footer: None,
    }
}

const fn action(
    keys: &'static [(KeyCode, KeyModifiers)],
    label: &'static str,
    a: ActionKind,
    what: &'static str,
) -> Binding {
    Binding {
        keys,
        label,
        intent: Intent::Action(a),
        what,
        section: Section::Actions,
        footer: Some(short(a)),
    }
}

/// A short word for an action in the footer.
#[must_use]
pub const fn short(a: ActionKind) -> &'static str {
    match a {
        ActionKind::Snapshot => "snap",
        ActionKind::Switchover => "switch",
        ActionKind::Failback => "failback",
        ActionKind::Promote => "promote",
        ActionKind::Repoint => "repoint",
        ActionKind::Rejoin => "rejoin",
        ActionKind::Restore => "restore",
        ActionKind::SentinelReset => "reset",
    }
}

/// Keys inside the modals, for the help overlay.
pub const MODAL_BINDINGS: &[(&str, &str)] = &[
    (
        "/ filter",
        "type to filter · Enter keep · Esc clear · Backspace/←/→ edit",
    ),
    (
        ": command",
        "Tab/S-Tab complete · Enter run · Esc cancel · ↑/↓ history",
    ),
    (
        "commands",
        ":group NAME  :theme NAME  :export FILE  :filter TEXT",
    ),
    ("", ":history (Enter: a run's steps)  :freeze  :help  :quit"),
    (
        "",
        ":snapshot-all [MS]  a cluster's every primary at one cut",
    ),
    (
        "",
        "                    (MS: a write pause on each while they fork)",
    ),
    (
        "",
        ":prune keep N|older-than AGE  delete old backups (asks y/N)",
    ),
    (
        "",
        ":sentinel-reset  SENTINEL RESET on each sentinel in turn",
    ),
    (
        "plan",
        "Cancel focused · ←/→ choose · Enter · Esc cancels · ↑/↓ scroll",
    ),
    (
        "",
        "o override (with a reason, recorded) · t strategy · d download",
    ),
    ("", "x skip the snapshot gate (with a reason, recorded)"),
    (
        "confirm",
        "type the target node's name, Enter runs · Esc cancels",
    ),
    (
        "runbook",
        "in the detail pane while an action runs; Esc closes it after",
    ),
];

/// The intent bound to a key in the main view.
#[must_use]
pub fn lookup(key: &KeyEvent) -> Option<Intent> {
    let mods = normalize(key);
    BINDINGS
        .iter()
        .find(|b| b.keys.iter().any(|(c, m)| *c == key.code && *m == mods))
        .map(|b| b.intent)
}

/// How the status line names a key no binding has (`x`, `Ctrl-x`, `F5`), or `None` for
/// what is not worth a word: a release, a modifier alone, lock and media keys.
#[must_use]
pub fn unbound_name(key: &KeyEvent) -> Option<String> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let base = match key.code {
        KeyCode::Modifier(_)
        | KeyCode::Media(_)
        | KeyCode::Null
        | KeyCode::CapsLock
        | KeyCode::ScrollLock
        | KeyCode::NumLock
        | KeyCode::KeypadBegin => return None,
        KeyCode::Char(' ') => "Space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::F(n) => format!("F{n}"),
        other => other.to_string(),
    };
    let mut name = String::new();
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        name.push_str("Ctrl-");
    }
    if key.modifiers.contains(KeyModifiers::ALT) {
        name.push_str("Alt-");
    }
    name.push_str(&base);
    Some(name)
}

/// Shift is part of the character for letters (`S` vs `s`), so it is dropped from them.
fn normalize(key: &KeyEvent) -> KeyModifiers {
    let mut m = key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
    if matches!(key.code, KeyCode::Char(_)) {
        m.remove(KeyModifiers::SHIFT);
    }
    if key.code == KeyCode::BackTab {
        m = KeyModifiers::NONE;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(c: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(c, m)
    }

    #[test]
    fn letters_and_shift() {
        assert_eq!(lookup(&k(KeyCode::Char('j'), N)), Some(Intent::Down));
        assert_eq!(
            lookup(&k(KeyCode::Char('S'), KeyModifiers::SHIFT)),
            Some(Intent::Action(ActionKind::Switchover))
        );
        assert_eq!(
            lookup(&k(KeyCode::Char('s'), N)),
            Some(Intent::Action(ActionKind::Snapshot))
        );
        assert_eq!(lookup(&k(KeyCode::Char('c'), C)), Some(Intent::Quit));
        assert_eq!(
            lookup(&k(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Intent::PrevPane)
        );
        assert_eq!(lookup(&k(KeyCode::Char('x'), N)), None);
    }

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = Vec::new();
        for b in BINDINGS {
            for key in b.keys {
                assert!(!seen.contains(key), "{key:?} bound twice");
                seen.push(*key);
            }
        }
    }
}
