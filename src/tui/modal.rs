//! The modal stack: popups and prompts that take the keys while they are open.
//!
//! The top of `App::modals` gets every key; what it decides comes back as a [`Outcome`] that
//! `App::update` acts on, so focus routing is plain code. A destructive intent is data: the
//! action engine will push a [`Modal::Plan`] holding its request; proceeding replaces it with a
//! [`Modal::Confirm`] that needs the exact word typed, and only that returns
//! [`Outcome::Confirmed`]. No I/O here.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keymap::ActionKey;

/// One open popup or prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum Modal {
    Help { scroll: u16 },
    Prompt(Prompt),
    Plan(PlanDialog),
    Confirm(ConfirmDialog),
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
    /// The plan was accepted: ask for the typed confirmation next.
    PlanAccepted(PlanDialog),
    /// The operator typed the confirmation word.
    Confirmed(Pending),
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

/// What a dialog is about; the action engine will carry its own request here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub action: ActionKey,
    pub group: String,
    pub node: Option<String>,
}

/// A plan shown before anything runs: its steps and pre-check results, Enter to go on.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanDialog {
    pub title: String,
    pub lines: Vec<String>,
    /// False when a pre-check failed: Enter is refused.
    pub can_proceed: bool,
    /// The word the confirmation will ask for (e.g. the target node's name).
    pub confirm_word: String,
    pub pending: Pending,
    pub scroll: u16,
}

/// Typed confirmation: the exact word, then Enter.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmDialog {
    pub title: String,
    pub expected: String,
    pub input: LineInput,
    pub pending: Pending,
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
                _ => Outcome::Keep,
            },
            Self::Prompt(p) => p.key(key),
            Self::Plan(plan) => match key.code {
                KeyCode::Esc | KeyCode::Char('q' | 'n') => Outcome::Close,
                KeyCode::Enter | KeyCode::Char('y') if plan.can_proceed => {
                    Outcome::PlanAccepted(plan.clone())
                }
                KeyCode::Down | KeyCode::Char('j') => {
                    plan.scroll = plan.scroll.saturating_add(1);
                    Outcome::Keep
                }
                KeyCode::Up | KeyCode::Char('k') => {
                    plan.scroll = plan.scroll.saturating_sub(1);
                    Outcome::Keep
                }
                _ => Outcome::Keep,
            },
            Self::Confirm(c) => match key.code {
                KeyCode::Esc => Outcome::Close,
                KeyCode::Enter if c.input.text == c.expected => {
                    Outcome::Confirmed(c.pending.clone())
                }
                KeyCode::Enter => Outcome::Keep,
                _ => {
                    c.input.edit(key);
                    Outcome::Keep
                }
            },
        }
    }
}

impl PlanDialog {
    /// The typed confirmation that follows this plan.
    #[must_use]
    pub fn confirmation(&self) -> ConfirmDialog {
        ConfirmDialog {
            title: self.title.clone(),
            expected: self.confirm_word.clone(),
            input: LineInput::default(),
            pending: self.pending.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn typed(m: &mut Modal, s: &str) {
        for c in s.chars() {
            m.key(&key(KeyCode::Char(c)));
        }
    }

    fn plan(ok: bool) -> PlanDialog {
        PlanDialog {
            title: "switchover to r1".into(),
            lines: vec!["1. pause writes".into()],
            can_proceed: ok,
            confirm_word: "r1".into(),
            pending: Pending {
                action: ActionKey::Switchover,
                group: "g".into(),
                node: Some("r1".into()),
            },
            scroll: 0,
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
    fn plan_then_typed_confirmation() {
        let mut m = Modal::Plan(plan(true));
        let Outcome::PlanAccepted(p) = m.key(&key(KeyCode::Enter)) else {
            panic!("enter accepts a plan whose checks passed");
        };
        let mut c = Modal::Confirm(p.confirmation());
        typed(&mut c, "r2");
        assert_eq!(c.key(&key(KeyCode::Enter)), Outcome::Keep, "wrong word");
        c.key(&key(KeyCode::Backspace));
        typed(&mut c, "1");
        assert!(matches!(c.key(&key(KeyCode::Enter)), Outcome::Confirmed(_)));
    }

    #[test]
    fn failed_plan_cannot_proceed() {
        let mut m = Modal::Plan(plan(false));
        assert_eq!(m.key(&key(KeyCode::Enter)), Outcome::Keep);
        assert_eq!(m.key(&key(KeyCode::Esc)), Outcome::Close);
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
