//! The event log: a bounded, timestamped list of what changed, fed by
//! [`crate::topology::changes`], and its text export for an incident timeline (`:export`).
//!
//! Pure data; writing the export to a file is an `Effect` carried out by the runtime.

use std::collections::VecDeque;
use std::time::SystemTime;

use crate::topology::{Change, Severity};

use super::fmt;

/// Entries kept; older ones are dropped (the export says how many).
pub const LOG_CAP: usize = 10_000;

/// One line of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub at: SystemTime,
    pub severity: Severity,
    pub group: String,
    pub node: Option<String>,
    /// `ChangeKind` word, or `console` for the console's own notes.
    pub kind: &'static str,
    pub message: String,
}

/// The log, oldest first.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    entries: VecDeque<LogEntry>,
    dropped: u64,
    /// Entries ever pushed (for "N new since frozen").
    pub total: u64,
}

impl EventLog {
    /// Appends the changes of one cycle.
    pub fn extend(&mut self, changes: Vec<Change>) {
        for c in changes {
            self.push(LogEntry {
                at: c.at,
                severity: c.severity,
                group: c.group,
                node: c.node,
                kind: c.kind.as_str(),
                message: c.message,
            });
        }
    }

    /// Appends one entry, dropping the oldest past [`LOG_CAP`].
    pub fn push(&mut self, e: LogEntry) {
        if self.entries.len() == LOG_CAP {
            self.entries.pop_front();
            self.dropped += 1;
        }
        self.entries.push_back(e);
        self.total += 1;
    }

    /// Entries, oldest first.
    #[must_use]
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LogEntry> + ExactSizeIterator {
        self.entries.iter()
    }

    /// Number of entries held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The incident timeline as text: one line per entry, UTC timestamps, oldest first.
    #[must_use]
    pub fn export_text(&self) -> String {
        let mut out = String::from("# redops event log (UTC)\n");
        if self.dropped > 0 {
            out.push_str(&format!(
                "# {} older entries were dropped (the console keeps {LOG_CAP})\n",
                self.dropped
            ));
        }
        for e in &self.entries {
            out.push_str(&format!(
                "{}  {:<8}  {}  {}  {}\n",
                fmt::timestamp(e.at),
                e.severity.as_str(),
                e.group,
                e.kind,
                e.message
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::ChangeKind;
    use std::time::Duration;

    #[test]
    fn export_is_a_timeline() {
        let mut log = EventLog::default();
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 + 3_600);
        log.extend(vec![Change {
            at,
            group: "cache".into(),
            node: Some("m1".into()),
            kind: ChangeKind::NodeDown,
            severity: Severity::Critical,
            message: "m1 is down: connection refused".into(),
        }]);
        assert_eq!(
            log.export_text(),
            "# redops event log (UTC)\n1970-01-02T01:00:00.000Z  critical  cache  node_down  \
             m1 is down: connection refused\n"
        );
    }

    #[test]
    fn bounded() {
        let mut log = EventLog::default();
        for i in 0..(LOG_CAP + 5) {
            log.push(LogEntry {
                at: SystemTime::UNIX_EPOCH,
                severity: Severity::Info,
                group: "g".into(),
                node: None,
                kind: "console",
                message: i.to_string(),
            });
        }
        assert_eq!(log.len(), LOG_CAP);
        assert!(log.export_text().contains("# 5 older entries were dropped"));
        assert_eq!(log.total, (LOG_CAP + 5) as u64);
    }
}
