//! Past runs read back from the audit log, for `redops history` and the console's `:history`:
//! one [`Run`] per run id (who, when, what, outcome, duration, writes paused) and, for the runs
//! asked for by id, every record of the run as an [`Entry`].
//!
//! The log is untrusted input (another version, another user, a disk that filled up): it is
//! streamed, never read whole; a line longer than [`MAX_LINE`] is skipped without being held;
//! a torn last line, garbage, or a line that is not a record is skipped and reported with its
//! line number ([`Skipped`]); only a regular file is read (a FIFO would block, a device never
//! ends). At most [`MAX_RUNS`] runs are held while reading (the oldest go first), so a log of
//! any size reads in bounded memory.
//!
//! Event names are compared without case or underscores, so a log written with `RunStarted`
//! and one written with `run_started` read alike.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, BufRead, BufReader};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{Outcome, Record, RUN_FINISHED, RUN_STARTED};

/// A line longer than this is no record of ours: it is skipped, not buffered (the same bound
/// as [`super::Tail`]).
pub const MAX_LINE: usize = super::tail::MAX_LINE;
/// The most runs held while reading; older ones are dropped first.
pub const MAX_RUNS: usize = 10_000;
/// The most records kept for one run's steps.
pub const MAX_ENTRIES: usize = 10_000;
/// The most skipped lines listed one by one (the rest are only counted).
pub const MAX_SKIPPED_LISTED: usize = 20;

/// What to read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// Only runs of this group.
    pub group: Option<String>,
    /// Only runs started at or after this time.
    pub since: Option<SystemTime>,
    /// Only the newest `limit` runs (after the other filters).
    pub limit: Option<usize>,
    /// Only runs whose id starts with this, with all their records ([`Run::entries`]).
    pub run_id: Option<String>,
}

/// One record of a run, as the steps view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub at: SystemTime,
    /// The engine event's name as written (`StepStarted`, ...).
    pub event: String,
    pub step: Option<usize>,
    pub title: Option<String>,
    pub node: Option<String>,
    pub detail: Option<String>,
    /// Commands sent since the previous record, each as `node: COMMAND`.
    pub commands: Vec<String>,
    pub outcome: Option<Outcome>,
}

/// One past run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub run_id: String,
    pub user: String,
    pub host: String,
    pub ssh_client: Option<String>,
    pub group: String,
    pub action: String,
    /// `name=host:port` of each node of the plan.
    pub nodes: Vec<String>,
    /// The first record's time (the `RunStarted` one unless the log begins mid-run).
    pub started: SystemTime,
    /// The `RunFinished` record's time.
    pub finished: Option<SystemTime>,
    /// `None`: no `RunFinished` record (running now, or killed and not yet looked at).
    pub outcome: Option<Outcome>,
    /// What the `RunFinished` record says (what was done, or why it stopped).
    pub detail: Option<String>,
    /// How long writes were paused (written by redops versions that record it).
    pub pause_ms: Option<u64>,
    /// Every record of the run, when it was asked for by id; empty otherwise.
    pub entries: Vec<Entry>,
    /// Records left out of `entries` past [`MAX_ENTRIES`].
    pub entries_dropped: usize,
}

impl Run {
    /// From the start to the `RunFinished` record.
    #[must_use]
    pub fn duration(&self) -> Option<Duration> {
        self.finished?.duration_since(self.started).ok()
    }

    /// The names of the nodes (`n1 n2`), without their addresses.
    #[must_use]
    pub fn node_names(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .map(|n| n.split_once('=').map_or(n.as_str(), |(name, _)| name))
            .collect()
    }

    /// The outcome as a word: `done`, `refused`, `failed`, ..., or `unfinished`.
    #[must_use]
    pub fn outcome_word(&self) -> &'static str {
        self.outcome.map_or("unfinished", Outcome::as_str)
    }
}

/// Why a line was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The last line has no newline and is not a record: a writer killed mid-line.
    Torn,
    /// Not JSON, or JSON that is not an audit record.
    NotARecord,
    /// Longer than [`MAX_LINE`].
    TooLong,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Torn => "torn last line (a writer stopped mid-record)",
            Self::NotARecord => "not an audit record",
            Self::TooLong => "longer than 256 KB",
        })
    }
}

/// A line that was not read as a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based.
    pub line: u64,
    pub why: SkipReason,
}

/// What [`read`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunLog {
    /// Oldest first.
    pub runs: Vec<Run>,
    /// The first skipped lines ([`MAX_SKIPPED_LISTED`] at most).
    pub skipped: Vec<Skipped>,
    /// How many lines were skipped in all.
    pub skipped_total: u64,
    /// Lines read.
    pub lines: u64,
}

/// The log could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no audit log at '{}'", path.display())]
    Missing { path: PathBuf },
    #[error("the audit log '{}' is {what}, not a regular file", path.display())]
    NotRegular { path: PathBuf, what: &'static str },
    #[error("cannot read the audit log '{}': {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl ReadError {
    /// What to do about it.
    #[must_use]
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Missing { .. } => {
                "no action has run with this config yet, or console.audit_log names another file"
            }
            Self::NotRegular { .. } => "set console.audit_log to a regular file",
            Self::Io { .. } => "check the file's permissions",
        }
    }
}

/// Reads the runs `query` asks for from the log at `path`.
///
/// # Errors
/// The file is missing, is not a regular file, or cannot be read.
pub fn read(path: &Path, query: &Query) -> Result<RunLog, ReadError> {
    let io_err = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            ReadError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            io_err(e)
        }
    })?;
    check_regular(path, &meta)?;
    // Non-blocking: a FIFO swapped in after the check cannot hang the open.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io_err)?;
    check_regular(path, &file.metadata().map_err(io_err)?)?;
    read_from(BufReader::new(file), query).map_err(io_err)
}

fn check_regular(path: &Path, meta: &std::fs::Metadata) -> Result<(), ReadError> {
    use std::os::unix::fs::FileTypeExt;
    if meta.is_file() {
        return Ok(());
    }
    let kind = meta.file_type();
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a device"
    };
    Err(ReadError::NotRegular {
        path: path.to_path_buf(),
        what,
    })
}

/// The runs held while reading, in the order their first record came.
#[derive(Default)]
struct Held {
    by_order: BTreeMap<u64, Run>,
    order_of: HashMap<String, u64>,
    next: u64,
}

impl Held {
    fn run_for(&mut self, rec: &Record) -> &mut Run {
        let order = if let Some(&o) = self.order_of.get(&rec.run_id) {
            o
        } else {
            if self.by_order.len() >= MAX_RUNS {
                if let Some((_, old)) = self.by_order.pop_first() {
                    self.order_of.remove(&old.run_id);
                }
            }
            let o = self.next;
            self.next += 1;
            self.order_of.insert(rec.run_id.clone(), o);
            o
        };
        self.by_order.entry(order).or_insert_with(|| new_run(rec))
    }
}

/// The longest name (user, host, group, action, run id, node) kept; longer is cut with `…`.
const MAX_NAME: usize = 200;
/// The longest text (detail, title, command) kept.
const MAX_TEXT: usize = 4096;

/// Text from the log made safe for a terminal (control characters shown, not obeyed: see
/// `sanitize`) and cut to `max` characters.
fn clean(s: &str, max: usize) -> String {
    let safe = crate::sanitize::visible(s);
    if safe.chars().count() <= max {
        return safe.into_owned();
    }
    let mut cut: String = safe.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn names(v: &[String]) -> Vec<String> {
    v.iter().map(|n| clean(n, MAX_NAME)).collect()
}

fn new_run(rec: &Record) -> Run {
    Run {
        run_id: clean(&rec.run_id, MAX_NAME),
        user: clean(&rec.user, MAX_NAME),
        host: clean(&rec.host, MAX_NAME),
        ssh_client: rec.ssh_client.as_deref().map(|c| clean(c, MAX_NAME)),
        group: clean(&rec.group, MAX_NAME),
        action: clean(&rec.action, MAX_NAME),
        nodes: names(&rec.nodes),
        started: time_of(rec.ts),
        finished: None,
        outcome: None,
        detail: None,
        pause_ms: None,
        entries: Vec::new(),
        entries_dropped: 0,
    }
}

/// The same reading on any buffered input (tests give it bytes).
///
/// # Errors
/// Reading failed.
pub fn read_from<R: BufRead>(mut input: R, query: &Query) -> io::Result<RunLog> {
    let mut held = Held::default();
    let mut log = RunLog::default();
    let mut buf = Vec::new();
    while let Some(line) = next_line(&mut input, &mut buf)? {
        log.lines += 1;
        let skip = |log: &mut RunLog, why| {
            log.skipped_total += 1;
            if log.skipped.len() < MAX_SKIPPED_LISTED {
                log.skipped.push(Skipped {
                    line: log.lines,
                    why,
                });
            }
        };
        if line.too_long {
            skip(&mut log, SkipReason::TooLong);
            continue;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(rec) = serde_json::from_slice::<Record>(&buf) else {
            let why = if line.ended {
                SkipReason::NotARecord
            } else {
                SkipReason::Torn
            };
            skip(&mut log, why);
            continue;
        };
        if rec.run_id.is_empty() || !wanted(&rec, query) {
            continue;
        }
        let keep_entries = query.run_id.is_some();
        take_record(held.run_for(&rec), rec, keep_entries);
    }
    let since = query.since.unwrap_or(SystemTime::UNIX_EPOCH);
    let mut runs: Vec<Run> = held
        .by_order
        .into_values()
        .filter(|r| r.started >= since)
        .collect();
    if let Some(n) = query.limit {
        let extra = runs.len().saturating_sub(n);
        runs.drain(..extra);
    }
    log.runs = runs;
    Ok(log)
}

fn wanted(rec: &Record, query: &Query) -> bool {
    query.group.as_ref().is_none_or(|g| &rec.group == g)
        && query
            .run_id
            .as_ref()
            .is_none_or(|id| rec.run_id.starts_with(id.as_str()))
}

fn take_record(run: &mut Run, rec: Record, keep_entries: bool) {
    let at = time_of(rec.ts);
    if same_event(&rec.event, RUN_STARTED) {
        run.started = at;
        if !rec.nodes.is_empty() {
            run.nodes = names(&rec.nodes);
        }
    }
    if same_event(&rec.event, RUN_FINISHED) {
        run.finished = Some(at);
        run.outcome = Some(rec.outcome.unwrap_or(Outcome::Unknown));
        run.detail = rec.detail.as_deref().map(|d| clean(d, MAX_TEXT));
        run.pause_ms = rec.pause_ms.or(run.pause_ms);
    }
    if !keep_entries {
        return;
    }
    if run.entries.len() >= MAX_ENTRIES {
        run.entries_dropped += 1;
        return;
    }
    let text = |t: Option<String>| t.map(|t| clean(&t, MAX_TEXT));
    run.entries.push(Entry {
        at,
        event: clean(&rec.event, MAX_NAME),
        step: rec.step,
        title: text(rec.title),
        node: rec.node.map(|n| clean(&n, MAX_NAME)),
        detail: text(rec.detail),
        commands: rec.commands.iter().map(|c| clean(c, MAX_TEXT)).collect(),
        outcome: rec.outcome,
    });
}

/// `RunStarted`, `run_started` and `runstarted` are the same event.
#[must_use]
pub fn same_event(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect::<String>()
    };
    norm(a) == norm(b)
}

/// An event name in `snake_case` (`StepStarted` -> `step_started`), for JSON and, with the
/// underscores as spaces, for people.
#[must_use]
pub fn snake_event(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Seconds since the epoch as a time; nonsense (negative, NaN, far future) is the epoch.
fn time_of(ts: f64) -> SystemTime {
    Duration::try_from_secs_f64(ts)
        .ok()
        .and_then(|d| SystemTime::UNIX_EPOCH.checked_add(d))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// One line read: too long (its bytes dropped), or in the buffer; and whether it ended with a
/// newline (the last line of a torn log does not).
struct Line {
    too_long: bool,
    ended: bool,
}

/// Reads the next line into `buf` without ever holding more than [`MAX_LINE`] bytes of it.
fn next_line<R: BufRead>(input: &mut R, buf: &mut Vec<u8>) -> io::Result<Option<Line>> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(any.then_some(Line {
                too_long,
                ended: false,
            }));
        }
        any = true;
        let newline = chunk.iter().position(|&b| b == b'\n');
        let take = newline.unwrap_or(chunk.len());
        if !too_long {
            if buf.len() + take > MAX_LINE {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        input.consume(take + usize::from(newline.is_some()));
        if newline.is_some() {
            return Ok(Some(Line {
                too_long,
                ended: true,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(run: &str, ts: f64, event: &str) -> Record {
        Record {
            run_id: run.into(),
            ts,
            user: "op".into(),
            host: "box".into(),
            group: "cache".into(),
            action: "switchover".into(),
            nodes: vec!["n1=127.0.0.1:6379".into(), "n2=127.0.0.1:6380".into()],
            event: event.into(),
            ..Record::default()
        }
    }

    fn line(r: &Record) -> String {
        format!("{}\n", serde_json::to_string(r).unwrap())
    }

    /// Two runs (one finished with a pause, one refused in another group), garbage between
    /// them, an over-long line, and a torn last line.
    fn sample() -> String {
        let mut s = String::new();
        s += &line(&rec("a1", 1000.0, "RunStarted"));
        let mut step = rec("a1", 1000.5, "StepStarted");
        step.step = Some(0);
        step.title = Some("pause writes on n1".into());
        step.commands = vec!["n1: CLIENT PAUSE 5000 WRITE".into()];
        s += &line(&step);
        s += "{not json\n";
        let mut other = rec("b2", 1001.0, "RunStarted");
        other.group = "other".into();
        s += &line(&other);
        s += &format!("{}\n", "x".repeat(MAX_LINE + 1));
        let mut done = rec("a1", 1002.25, "RunFinished");
        done.outcome = Some(Outcome::Done);
        done.pause_ms = Some(180);
        done.detail = Some("n2 is the primary".into());
        s += &line(&done);
        let mut refused = rec("b2", 1003.0, "run_finished");
        refused.group = "other".into();
        refused.outcome = Some(Outcome::Refused);
        s += &line(&refused);
        s += r#"{"run_id":"c3","seq":0,"event":"RunSta"#;
        s
    }

    #[test]
    fn reads_two_runs_and_reports_what_it_skipped_by_line() {
        let log = read_from(sample().as_bytes(), &Query::default()).unwrap();
        assert_eq!(log.runs.len(), 2);
        let a = &log.runs[0];
        assert_eq!(a.run_id, "a1");
        assert_eq!(a.outcome, Some(Outcome::Done));
        assert_eq!(a.duration(), Some(Duration::from_millis(2250)));
        assert_eq!(a.pause_ms, Some(180));
        assert_eq!(a.node_names(), ["n1", "n2"]);
        assert!(a.entries.is_empty(), "steps only for a run asked by id");
        assert_eq!(log.runs[1].outcome_word(), "refused");
        assert_eq!(
            log.skipped,
            [
                Skipped {
                    line: 3,
                    why: SkipReason::NotARecord
                },
                Skipped {
                    line: 5,
                    why: SkipReason::TooLong
                },
                Skipped {
                    line: 8,
                    why: SkipReason::Torn
                },
            ]
        );
        assert_eq!(log.lines, 8);
    }

    #[test]
    fn filters_by_group_time_limit_and_id() {
        let by = |q: Query| -> Vec<String> {
            read_from(sample().as_bytes(), &q)
                .unwrap()
                .runs
                .into_iter()
                .map(|r| r.run_id)
                .collect()
        };
        let group = |g: &str| Query {
            group: Some(g.into()),
            ..Query::default()
        };
        assert_eq!(by(group("cache")), ["a1"]);
        assert_eq!(by(group("other")), ["b2"]);
        let since = Query {
            since: Some(time_of(1000.9)),
            ..Query::default()
        };
        assert_eq!(by(since), ["b2"]);
        let newest = Query {
            limit: Some(1),
            ..Query::default()
        };
        assert_eq!(by(newest), ["b2"]);
        let one = read_from(
            sample().as_bytes(),
            &Query {
                run_id: Some("a".into()),
                ..Query::default()
            },
        )
        .unwrap();
        assert_eq!(one.runs.len(), 1);
        let events: Vec<&str> = one.runs[0]
            .entries
            .iter()
            .map(|e| e.event.as_str())
            .collect();
        assert_eq!(events, ["RunStarted", "StepStarted", "RunFinished"]);
        assert_eq!(
            one.runs[0].entries[1].commands,
            ["n1: CLIENT PAUSE 5000 WRITE"]
        );
    }

    #[test]
    fn a_run_without_its_end_is_unfinished_and_nonsense_times_do_not_panic() {
        let mut r = rec("z", f64::NAN, "RunStarted");
        r.ts = -5.0;
        let text = line(&r) + &line(&rec("z", f64::MAX, "StepStarted"));
        let log = read_from(text.as_bytes(), &Query::default()).unwrap();
        assert_eq!(log.runs[0].outcome_word(), "unfinished");
        assert_eq!(log.runs[0].duration(), None);
    }

    #[test]
    fn event_names_compare_and_convert_across_styles() {
        assert!(same_event("RunFinished", "run_finished"));
        assert!(!same_event("RunStarted", "RunFinished"));
        assert_eq!(snake_event("StepStarted"), "step_started");
        assert_eq!(snake_event("step_started"), "step_started");
    }

    #[test]
    fn text_from_the_log_is_shown_not_obeyed_and_names_are_bounded() {
        let mut r = rec("e", 1.0, "RunStarted");
        r.user = "op\x1b]0;owned\x07".into();
        r.host = "h".repeat(MAX_NAME * 2);
        let mut end = rec("e", 2.0, "RunFinished");
        end.detail = Some("ok\r\x1b[2Kall healthy".into());
        let log = read_from((line(&r) + &line(&end)).as_bytes(), &Query::default()).unwrap();
        let run = &log.runs[0];
        assert_eq!(run.user, "op\\x1b]0;owned\\x07");
        assert_eq!(run.host.chars().count(), MAX_NAME);
        assert!(run.host.ends_with('…'));
        assert_eq!(run.detail.as_deref(), Some("ok\\r\\x1b[2Kall healthy"));
    }

    #[test]
    fn holds_at_most_max_runs() {
        let mut text = String::new();
        for i in 0..=MAX_RUNS {
            text += &line(&rec(&format!("r{i}"), 1.0, "RunStarted"));
        }
        let log = read_from(text.as_bytes(), &Query::default()).unwrap();
        assert_eq!(log.runs.len(), MAX_RUNS);
        assert_eq!(log.runs[0].run_id, "r1", "the oldest went first");
    }

    #[test]
    fn the_file_must_exist_and_be_regular() {
        let dir = tempfile::tempdir().unwrap();
        let e = read(&dir.path().join("none"), &Query::default()).unwrap_err();
        assert!(matches!(e, ReadError::Missing { .. }), "{e}");
        let e = read(dir.path(), &Query::default()).unwrap_err();
        assert!(
            e.to_string().contains("a directory, not a regular file"),
            "{e}"
        );
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let e = read(&fifo, &Query::default()).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, sample()).unwrap();
        assert_eq!(read(&path, &Query::default()).unwrap().runs.len(), 2);
    }
}
