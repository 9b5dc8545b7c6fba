//! Following an audit log another process appends to: the records written since a point,
//! read by polling the file's size, a bounded number of bytes per poll.
//!
//! It only reads. A line is handed out once it is complete (ends in a newline); a file that
//! shrank (rotated or truncated) is read again from its start; lines that are not records are
//! skipped, as `interrupted_runs` does.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::Record;

/// The most bytes one [`Tail::poll`] reads; the rest waits for the next poll.
pub const MAX_READ: u64 = 1 << 20;

/// A line longer than this is no record of ours: it is dropped, not buffered.
pub(super) const MAX_LINE: usize = 256 << 10;

/// The read position in an audit log.
#[derive(Debug)]
pub struct Tail {
    path: PathBuf,
    offset: u64,
    /// The start of a line whose newline has not been read yet.
    partial: Vec<u8>,
    /// Skipping the rest of an over-long line.
    skipping: bool,
}

impl Tail {
    /// Starts at the current end of the file (a missing file: at its start once created), so
    /// only records appended from now on are returned.
    #[must_use]
    pub fn from_end(path: &Path) -> Self {
        let offset = std::fs::metadata(path).map_or(0, |m| m.len());
        Self {
            path: path.to_path_buf(),
            offset,
            partial: Vec::new(),
            skipping: false,
        }
    }

    /// The records completed since the last poll, in file order.
    ///
    /// # Errors
    /// The file exists but cannot be read.
    pub fn poll(&mut self) -> io::Result<Vec<Record>> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // Truncated or replaced: what is there now is new.
            self.offset = 0;
            self.partial.clear();
            self.skipping = false;
        }
        if len == self.offset {
            return Ok(Vec::new());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        file.take((len - self.offset).min(MAX_READ))
            .read_to_end(&mut buf)?;
        self.offset += buf.len() as u64;
        let mut out = Vec::new();
        let mut rest = &buf[..];
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let (piece, after) = rest.split_at(nl);
            rest = &after[1..];
            if std::mem::take(&mut self.skipping) {
                self.partial.clear();
                continue;
            }
            self.partial.extend_from_slice(piece);
            let line = std::mem::take(&mut self.partial);
            if let Ok(rec) = serde_json::from_slice::<Record>(&line) {
                out.push(rec);
            }
        }
        if !self.skipping {
            self.partial.extend_from_slice(rest);
            if self.partial.len() > MAX_LINE {
                self.partial.clear();
                self.skipping = true;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(run: &str, event: &str) -> String {
        let rec = Record {
            run_id: run.into(),
            event: event.into(),
            ..Record::default()
        };
        format!("{}\n", serde_json::to_string(&rec).unwrap())
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn events(recs: &[Record]) -> Vec<String> {
        recs.iter()
            .map(|r| format!("{}:{}", r.run_id, r.event))
            .collect()
    }

    #[test]
    fn returns_only_records_appended_after_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        append(&path, &line("old", "RunStarted"));
        let mut t = Tail::from_end(&path);
        assert!(t.poll().unwrap().is_empty());
        append(&path, &line("a", "RunStarted"));
        append(&path, "not json\n");
        append(&path, &line("a", "RunFinished"));
        assert_eq!(
            events(&t.poll().unwrap()),
            ["a:RunStarted", "a:RunFinished"]
        );
        assert!(t.poll().unwrap().is_empty());
    }

    #[test]
    fn waits_for_the_end_of_a_line_and_follows_a_file_created_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut t = Tail::from_end(&path);
        assert!(t.poll().unwrap().is_empty());
        let full = line("b", "RunStarted");
        let (head, tail) = full.split_at(10);
        append(&path, head);
        assert!(t.poll().unwrap().is_empty());
        append(&path, tail);
        assert_eq!(events(&t.poll().unwrap()), ["b:RunStarted"]);
    }

    #[test]
    fn a_truncated_file_is_read_again_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        append(&path, &line("x", "RunStarted"));
        append(&path, &line("x", "RunFinished"));
        let mut t = Tail::from_end(&path);
        std::fs::write(&path, line("c", "RunStarted")).unwrap();
        assert_eq!(events(&t.poll().unwrap()), ["c:RunStarted"]);
    }

    #[test]
    fn reads_are_bounded_and_over_long_lines_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut t = Tail::from_end(&path);
        let junk = "x".repeat(usize::try_from(MAX_READ).unwrap() + 10);
        append(&path, &format!("{junk}\n"));
        append(&path, &line("d", "RunStarted"));
        // The first poll reads MAX_READ bytes of the long line and keeps none of it.
        assert!(t.poll().unwrap().is_empty());
        assert!(t.partial.is_empty());
        assert_eq!(events(&t.poll().unwrap()), ["d:RunStarted"]);
    }
}
