//! The modal stack: popups and prompts that take the keys while they are open.
//!
//! The top of `App::modals` gets every key; what it decides comes back as a [`Outcome`] that
//! `App::update` acts on, so focus routing is plain code. A destructive intent is data: an
//! action key pushes a [`Modal::Plan`] holding the prepared plan (Cancel focused); proceeding
//! returns [`Outcome::PlanAccepted`], and a role change then needs the target's name typed in
//! a [`Modal::Confirm`], which alone returns [`Outcome::Confirmed`]. The action dialogs live in
//! `modal/dialogs.rs`. No I/O here.

mod dialogs;

pub use dialogs::{
    Armed, Button, ConfirmDialog, NoticeDialog, PickItem, Picker, PlanDialog, ReasonFor,
};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::ops::Request;

/// One open popup or prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum Modal {
    Help { scroll: u16 },
    Prompt(Prompt),
    Plan(PlanDialog),
    Confirm(ConfirmDialog),
    Pick(Picker),
    Notice(NoticeDialog),
}

/// What the top modal decided about a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Stay open (the modal may have changed).
    Keep,
    /// Close it.
    Close,
    /// The filter text changed (live filtering).
    FilterChanged(String),
    /// Close the filter prompt; `None` clears the filter.
    FilterDone(Option<String>),
    /// Run this command line.
    Run(String),
    /// Complete the command line (Tab; `back` for Shift-Tab).
    Complete { back: bool },
    /// Step through the command history.
    History { older: bool },
    /// Build the plan again for this request (another strategy, download on or off).
    Replan(Request),
    /// The plan was accepted (Proceed chosen): a plain confirm for a snapshot; a role change
    /// asks for the typed confirmation next.
    PlanAccepted(Box<Armed>),
    /// The operator typed the confirmation word.
    Confirmed { armed: Box<Armed>, typed: String },
    /// A choice from a picker: plan this request.
    Picked(Request),
    /// The action a notice offers: plan this request.
    Offer(Request),
}

/// A single-line text input with a cursor (in characters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineInput {
    pub text: String,
    pub cursor: usize,
}

impl LineInput {
    /// An input holding `text`, cursor at the end.
    #[must_use]
    pub fn with(text: &str) -> Self {
        Self {
            text: text.to_string(),
            cursor: text.chars().count(),
        }
    }

    /// Applies an editing key; true when the key was an edit.
    pub fn edit(&mut self, key: &KeyEvent) -> bool {
        let byte = |s: &str, i: usize| s.char_indices().nth(i).map_or(s.len(), |(b, _)| b);
        match key.code {
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.text.clear();
                self.cursor = 0;
            }
            KeyCode::Char('w') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                let head: String = self.text.chars().take(self.cursor).collect();
                let trimmed = head.trim_end();
                let keep = trimmed.rfind(' ').map_or(0, |i| i + 1);
                let tail: String = self.text.chars().skip(self.cursor).collect();
                self.text = format!("{}{tail}", &trimmed[..keep]);
                self.cursor = trimmed[..keep].chars().count();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                let at = byte(&self.text, self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = byte(&self.text, self.cursor);
                self.text.remove(at);
            }
            KeyCode::Delete if self.cursor < self.text.chars().count() => {
                let at = byte(&self.text, self.cursor);
                self.text.remove(at);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.text.chars().count()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.text.chars().count(),
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return false,
        }
        true
    }
}

/// Which prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Command,
    Filter,
}

/// The `:` command line or the `/` filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: LineInput,
    /// Candidates shown while completing, and which one is in the input.
    pub candidates: Vec<String>,
    pub chosen: Option<usize>,
    /// Position in the command history while stepping with ↑/↓.
    pub history_pos: Option<usize>,
}

impl Prompt {
    /// A new prompt, pre-filled.
    #[must_use]
    pub fn new(kind: PromptKind, text: &str) -> Self {
        Self {
            kind,
            input: LineInput::with(text),
            candidates: Vec::new(),
            chosen: None,
            history_pos: None,
        }
    }

    fn key(&mut self, key: &KeyEvent) -> Outcome {
        match (self.kind, key.code) {
            (PromptKind::Filter, KeyCode::Esc) => Outcome::FilterDone(None),
            (PromptKind::Filter, KeyCode::Enter) => {
                Outcome::FilterDone(Some(self.input.text.trim().to_string()))
            }
            (PromptKind::Command, KeyCode::Esc) => Outcome::Close,
            (PromptKind::Command, KeyCode::Enter) => Outcome::Run(self.input.text.clone()),
            (PromptKind::Command, KeyCode::Tab) => Outcome::Complete { back: false },
            (PromptKind::Command, KeyCode::BackTab) => Outcome::Complete { back: true },
            (PromptKind::Command, KeyCode::Up) => Outcome::History { older: true },
            (PromptKind::Command, KeyCode::Down) => Outcome::History { older: false },
            _ => {
                if !self.input.edit(key) {
                    return Outcome::Keep;
                }
                self.candidates.clear();
                self.chosen = None;
                match self.kind {
                    PromptKind::Filter => Outcome::FilterChanged(self.input.text.clone()),
                    PromptKind::Command => Outcome::Keep,
                }
            }
        }
    }
}

impl Modal {
    /// Routes a key to this modal.
    pub fn key(&mut self, key: &KeyEvent) -> Outcome {
        match self {
            Self::Help { scroll } => match key.code {
                KeyCode::Esc | KeyCode::Char('?' | 'q') | KeyCode::Enter => Outcome::Close,
                KeyCode::Down | KeyCode::Char('j') => {
                    *scroll = scroll.saturating_add(1);
                    Outcome::Keep
                }
                KeyCode::Up | KeyCode::Char('k') => {
                    *scroll = scroll.saturating_sub(1);
                    Outcome::Keep
                }
                // The help lists PgDn/PgUp: they page it too (the view clamps the end).
                KeyCode::PageDown | KeyCode::Char(' ') => {
                    *scroll = scroll.saturating_add(10);
                    Outcome::Keep
                }
                KeyCode::PageUp => {
                    *scroll = scroll.saturating_sub(10);
                    Outcome::Keep
                }
                KeyCode::Home => {
                    *scroll = 0;
                    Outcome::Keep
                }
                _ => Outcome::Keep,
            },
            Self::Prompt(p) => p.key(key),
            Self::Plan(d) => d.key(key),
            Self::Confirm(c) => c.key(key),
            Self::Pick(p) => p.key(key),
            Self::Notice(n) => n.key(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn the_help_pages_with_the_keys_it_lists() {
        let mut m = Modal::Help { scroll: 0 };
        for (k, want) in [
            (KeyCode::PageDown, 10),
            (KeyCode::Down, 11),
            (KeyCode::PageUp, 1),
            (KeyCode::PageUp, 0),
            (KeyCode::Char(' '), 10),
            (KeyCode::Home, 0),
        ] {
            assert_eq!(m.key(&key(k)), Outcome::Keep);
            assert!(
                matches!(m, Modal::Help { scroll } if scroll == want),
                "{k:?}"
            );
        }
    }

    #[test]
    fn line_editing() {
        let mut i = LineInput::with("grup");
        i.edit(&key(KeyCode::Left));
        i.edit(&key(KeyCode::Left));
        i.edit(&key(KeyCode::Char('o')));
        assert_eq!(i.text, "group");
        i.edit(&KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!((i.text.as_str(), i.cursor), ("up", 0));
    }

    #[test]
    fn filter_prompt_is_live() {
        let mut m = Modal::Prompt(Prompt::new(PromptKind::Filter, ""));
        assert_eq!(
            m.key(&key(KeyCode::Char('r'))),
            Outcome::FilterChanged("r".into())
        );
        assert_eq!(m.key(&key(KeyCode::Esc)), Outcome::FilterDone(None));
    }
}
