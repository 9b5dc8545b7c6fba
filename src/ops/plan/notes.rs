//! A plan's notes: what the operator should know, each with a [`NoteKind`] so that a front-end
//! shows some of them its own way (the console draws the candidates table and the wipe
//! guard's findings as sections) without reading their words. Data only.

use std::fmt;

use serde::Serialize;

/// What a plan note is about, so a front-end can show some of them its own way (the
/// console draws the candidates and the wipe guard's findings as sections of their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// Anything the operator should know.
    General,
    /// The promotion's candidates table (its heading and one row per replica).
    Candidates,
    /// What the wipe guard found at risk before a repoint or rejoin (what each node holds,
    /// whether the node's data is downloaded first, what a rejoin discards).
    AtRisk,
}

/// One note of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub kind: NoteKind,
    pub text: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A plan's notes, in order. `push` adds a general note; `push_as` one of another kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Notes(Vec<Note>);

impl Notes {
    /// Adds a general note.
    pub fn push(&mut self, text: impl Into<String>) {
        self.push_as(NoteKind::General, text);
    }

    /// Adds a note of `kind`.
    pub fn push_as(&mut self, kind: NoteKind, text: impl Into<String>) {
        self.0.push(Note {
            kind,
            text: text.into(),
        });
    }

    /// Adds general notes.
    pub fn extend(&mut self, texts: impl IntoIterator<Item = String>) {
        for t in texts {
            self.push(t);
        }
    }

    /// Every note, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Note> {
        self.0.iter()
    }

    /// The notes of one kind.
    pub fn of(&self, kind: NoteKind) -> impl Iterator<Item = &Note> {
        self.0.iter().filter(move |n| n.kind == kind)
    }

    /// True when there is none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl<'a> IntoIterator for &'a Notes {
    type Item = &'a Note;
    type IntoIter = std::slice::Iter<'a, Note>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
