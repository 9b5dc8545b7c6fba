//! The audit log: JSON Lines, one [`Record`] per transition of an action (each event the
//! engine sends its front-end, progress notes at a bounded rate), written and flushed as it
//! happens, so a console killed mid-run leaves a trail that ends where it died.
//!
//! It also reads the log back: [`interrupted_runs`] finds runs that started and never
//! finished (no `RunFinished` record). What to do about one is `ops::recovery`'s business.
//! [`Tail`] follows the records another process appends (`redops watch`); [`runs`] reads the
//! log back as past runs (`redops history`, the console's `:history`). [`checks`] writes the
//! one closed record of a check that changes no role (restore test, prune, `check-data`).
//! Secrets never reach this file: records carry command texts (which hold none) and summaries.

pub mod checks;
pub mod runs;
mod tail;

pub use tail::Tail;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The event name of the record that closes a run.
pub const RUN_FINISHED: &str = "RunFinished";
/// The event name of the record that opens a run.
pub const RUN_STARTED: &str = "RunStarted";
/// The action name of the record written when the operator acknowledges what the console
/// shows (data-loss alarms; in a drill, the anomaly they spotted): not a run, one record.
pub const ACKNOWLEDGE: &str = "acknowledge";
/// The event name of the record written as a step begins.
pub const STEP_STARTED: &str = "StepStarted";

/// How a run ended, as its `RunFinished` record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step verified.
    Done,
    /// A guard or pre-check refused it; nothing was changed.
    Refused,
    /// It started changing things and stopped.
    Failed,
    /// It never finished, and was looked at later ([`acknowledge`]).
    Interrupted,
    /// Not a run: a rejoin mark cleared by hand.
    Cleared,
    /// Not a run: alarms or anomalies the operator said they have seen ([`ACKNOWLEDGE`]).
    Noted,
    /// A word this version does not know (a log shared with a newer redops): the record is
    /// still read, so its run still counts as finished.
    #[serde(other)]
    Unknown,
}

impl Outcome {
    /// The word written in the log.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Refused => "refused",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
            Self::Cleared => "cleared",
            Self::Noted => "noted",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is acting, from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Who {
    /// OS user ($USER, $LOGNAME, else `id -un`).
    pub user: String,
    /// `$SSH_CLIENT` / `$SSH_CONNECTION` (client address and ports), when logged in over SSH.
    pub ssh_client: Option<String>,
    /// This machine's host name.
    pub host: String,
    pub pid: u32,
}

impl Who {
    /// The current process's user, SSH client and host.
    #[must_use]
    pub fn current() -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let user = env("USER")
            .or_else(|| env("LOGNAME"))
            .or_else(|| {
                std::process::Command::new("id")
                    .arg("-un")
                    .output()
                    .ok()
                    .and_then(|o| String::from_utf8(o.stdout).ok())
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| "unknown".to_string());
        let ssh_client = env("SSH_CLIENT").or_else(|| env("SSH_CONNECTION"));
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .or_else(|| env("HOSTNAME"))
            .unwrap_or_else(|| "unknown".to_string());
        Self {
            user,
            ssh_client,
            host,
            pid: std::process::id(),
        }
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub run_id: String,
    /// Order of the record within its run.
    pub seq: u32,
    /// RFC 3339, UTC.
    pub at: String,
    /// Seconds since the Unix epoch (for sorting and durations).
    pub ts: f64,
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_client: Option<String>,
    pub host: String,
    pub pid: u32,
    pub group: String,
    pub action: String,
    /// Names and addresses of the nodes the run touches (`name=host:port`).
    pub nodes: Vec<String>,
    /// `RunStarted`, `PrecheckPassed`, `StepStarted`, ..., `RunFinished`: the name of the
    /// engine's event the record was written from (`ops::RunEvent::name`).
    pub event: String,
    /// The node a snapshot, download or step is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Commands sent, each as `node: COMMAND` (no secrets: commands carry none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    /// Replies, in the order of `commands`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replies: Vec<String>,
    /// State summary (pre-state on `RunStarted`, post-state on `RunFinished`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Override or skip reasons given by the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What to do about a refusal, as the operator was told (on `PrecheckFailed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// How long writes were paused, from `CLIENT PAUSE` sent to `CLIENT UNPAUSE`
    /// acknowledged (on `RunFinished`, when the run paused them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_ms: Option<u64>,
}

enum Sink {
    File { file: File, path: PathBuf },
    Memory(Vec<String>),
}

/// An open audit log. Every [`write`](AuditLog::write) is one flushed line.
pub struct AuditLog {
    sink: Sink,
    who: Who,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let where_ = match &self.sink {
            Sink::File { path, .. } => path.display().to_string(),
            Sink::Memory(v) => format!("memory ({} lines)", v.len()),
        };
        f.debug_struct("AuditLog")
            .field("sink", &where_)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens (creating it and its directory) the log at `path` for appending.
    ///
    /// # Errors
    /// The directory or file cannot be created or opened.
    pub fn open(path: &Path) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::config::create_private_dir(dir)?;
        }
        // It holds hosts, SSH clients and CLIENT LIST replies: the owner's only (a new file;
        // an existing one keeps the mode its owner gave it).
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .mode(0o600)
            .open(path)?;
        end_torn_line(&mut file)?;
        Ok(Self {
            sink: Sink::File {
                file,
                path: path.to_path_buf(),
            },
            who: Who::current(),
        })
    }

    /// A log kept in memory (tests, dry runs).
    #[must_use]
    pub fn memory() -> Self {
        Self {
            sink: Sink::Memory(Vec::new()),
            who: Who::current(),
        }
    }

    /// Who the records are attributed to.
    #[must_use]
    pub fn who(&self) -> &Who {
        &self.who
    }

    /// The file, when the log is one.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        match &self.sink {
            Sink::File { path, .. } => Some(path),
            Sink::Memory(_) => None,
        }
    }

    /// Lines written so far (memory logs only; empty for files).
    #[must_use]
    pub fn lines(&self) -> &[String] {
        match &self.sink {
            Sink::Memory(v) => v,
            Sink::File { .. } => &[],
        }
    }

    /// Records written so far (memory logs only).
    #[must_use]
    pub fn records(&self) -> Vec<Record> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Fills in who/when and appends the record as one flushed line.
    ///
    /// # Errors
    /// Writing or flushing failed.
    pub fn write(&mut self, rec: Record) -> io::Result<()> {
        self.write_at(rec, SystemTime::now())
    }

    /// [`write`](AuditLog::write) with the record's time given: the start of a check,
    /// written once the check is done ([`checks`]).
    ///
    /// # Errors
    /// Writing or flushing failed.
    pub fn write_at(&mut self, mut rec: Record, at: SystemTime) -> io::Result<()> {
        rec.at = rfc3339_ms(at);
        rec.ts = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        rec.user.clone_from(&self.who.user);
        rec.ssh_client.clone_from(&self.who.ssh_client);
        rec.host.clone_from(&self.who.host);
        rec.pid = self.who.pid;
        let mut line = serde_json::to_string(&rec).map_err(io::Error::other)?;
        match &mut self.sink {
            Sink::File { file, .. } => {
                // One write of the whole line: a process killed mid-record leaves either the
                // line or (at worst) a torn line, never a record glued to the next one.
                line.push('\n');
                file.write_all(line.as_bytes())?;
                file.flush()
            }
            Sink::Memory(v) => {
                v.push(line);
                Ok(())
            }
        }
    }
}

/// A log whose last line has no newline was cut by a killed writer: the torn line is ended
/// so that the next record starts on a line of its own (the torn one is skipped when read).
fn end_torn_line(file: &mut File) -> io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
}

/// Now as (RFC 3339 UTC in milliseconds, seconds since the epoch).
#[must_use]
pub fn now_stamp() -> (String, f64) {
    let now = SystemTime::now();
    let ts = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    (rfc3339_ms(now), ts)
}

/// `2026-12-05T07:42:05.123Z`: RFC 3339, UTC, always three fractional digits. Every time in
/// redops' JSON (the CLI's lines, the audit log) is written so.
#[must_use]
pub fn rfc3339_ms(t: SystemTime) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from(t)
        .to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

/// An RFC 3339 time read from a record, written again in milliseconds (records written
/// before carry nanoseconds); text that is not such a time is kept as it is.
#[must_use]
pub fn rfc3339_ms_of(text: &str) -> String {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_or_else(|_| text.to_string(), |t| rfc3339_ms(t.into()))
}

/// A run that started and has no `RunFinished` record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InterruptedRun {
    pub run_id: String,
    pub started_at: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub group: String,
    pub action: String,
    pub nodes: Vec<String>,
    /// The last record written for it.
    pub last: Record,
    /// Titles of the steps that were started, in order.
    pub steps_started: Vec<String>,
}

impl InterruptedRun {
    /// One line: who, when, what, and where it stopped.
    #[must_use]
    pub fn describe(&self) -> String {
        let last = match (&self.last.title, self.last.step) {
            (Some(t), Some(s)) => format!("{} of step {} ({t})", self.last.event, s + 1),
            _ => self.last.event.clone(),
        };
        format!(
            "{} on group '{}' by {}@{} (pid {}) started {} did not finish; last record: {last}",
            self.action, self.group, self.user, self.host, self.pid, self.started_at
        )
    }
}

/// Runs in the log at `path` that have no `RunFinished` record, oldest first. A missing file
/// has none; unreadable lines are skipped.
///
/// # Errors
/// The file exists but cannot be read.
pub fn interrupted_runs(path: &Path) -> io::Result<Vec<InterruptedRun>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut runs: BTreeMap<String, (usize, Vec<Record>)> = BTreeMap::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line?;
        let Ok(rec) = serde_json::from_str::<Record>(&line) else {
            continue;
        };
        runs.entry(rec.run_id.clone())
            .or_insert_with(|| (n, Vec::new()))
            .1
            .push(rec);
    }
    let mut out: Vec<(usize, InterruptedRun)> = runs
        .into_values()
        .filter(|(_, recs)| !recs.iter().any(|r| r.event == RUN_FINISHED))
        .filter_map(|(first_line, recs)| {
            let first = recs.first()?.clone();
            let last = recs.last()?.clone();
            let steps_started = recs
                .iter()
                .filter(|r| r.event == STEP_STARTED)
                .filter_map(|r| r.title.clone())
                .collect();
            Some((
                first_line,
                InterruptedRun {
                    run_id: first.run_id,
                    started_at: first.at,
                    user: first.user,
                    host: first.host,
                    pid: first.pid,
                    group: first.group,
                    action: first.action,
                    nodes: first.nodes,
                    last,
                    steps_started,
                },
            ))
        })
        .collect();
    out.sort_by_key(|(n, _)| *n);
    Ok(out.into_iter().map(|(_, r)| r).collect())
}

/// Closes an interrupted run with a `RunFinished` record saying it was looked at and why it
/// is considered settled, so it is not reported again.
///
/// # Errors
/// Writing the record failed.
pub fn acknowledge(log: &mut AuditLog, run: &InterruptedRun, note: &str) -> io::Result<()> {
    log.write(Record {
        run_id: run.run_id.clone(),
        seq: run.last.seq.saturating_add(1),
        group: run.group.clone(),
        action: run.action.clone(),
        nodes: run.nodes.clone(),
        event: RUN_FINISHED.to_string(),
        outcome: Some(Outcome::Interrupted),
        detail: Some(note.to_string()),
        ..Record::default()
    })
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn times_are_written_in_milliseconds_and_old_ones_read_again() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(1_700_000_000_123_456_789);
        assert_eq!(rfc3339_ms(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            rfc3339_ms_of("2023-11-14T22:13:20.123456789Z"),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            rfc3339_ms_of("2023-11-14T23:13:20+01:00"),
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(rfc3339_ms_of("yesterday"), "yesterday");
        assert_eq!(now_stamp().0.len(), "2023-11-14T22:13:20.123Z".len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(run: &str, seq: u32, event: &str) -> Record {
        Record {
            run_id: run.into(),
            seq,
            group: "g".into(),
            action: "switchover".into(),
            event: event.into(),
            ..Record::default()
        }
    }

    #[test]
    fn finds_runs_without_finish_and_acknowledges_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/audit.jsonl");
        let mut log = AuditLog::open(&path).unwrap();
        log.write(rec("a", 0, RUN_STARTED)).unwrap();
        log.write(rec("a", 1, RUN_FINISHED)).unwrap();
        log.write(rec("b", 0, RUN_STARTED)).unwrap();
        let mut started = rec("b", 1, STEP_STARTED);
        started.title = Some("pause writes".into());
        started.step = Some(0);
        log.write(started).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{not json\n")
            .unwrap();
        let runs = interrupted_runs(&path).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].run_id, "b");
        assert_eq!(runs[0].steps_started, vec!["pause writes".to_string()]);
        assert!(runs[0].describe().contains("step 1 (pause writes)"));
        acknowledge(&mut log, &runs[0], "group consistent").unwrap();
        assert!(interrupted_runs(&path).unwrap().is_empty());
        assert!(interrupted_runs(&dir.path().join("none"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn outcomes_are_words_and_an_unknown_one_still_finishes_its_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut log = AuditLog::open(&path).unwrap();
        log.write(rec("a", 0, RUN_STARTED)).unwrap();
        let mut done = rec("a", 1, RUN_FINISHED);
        done.outcome = Some(Outcome::Done);
        log.write(done).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""outcome":"done""#), "{text}");
        // A newer redops may write a word this one does not know.
        let mut later = serde_json::to_value(rec("b", 1, RUN_FINISHED)).unwrap();
        later["outcome"] = "handed_over".into();
        let line = format!(
            "{}\n{later}\n",
            serde_json::to_string(&rec("b", 0, RUN_STARTED)).unwrap()
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(line.as_bytes())
            .unwrap();
        assert!(interrupted_runs(&path).unwrap().is_empty());
        let back: Record = serde_json::from_value(later).unwrap();
        assert_eq!(back.outcome, Some(Outcome::Unknown));
    }

    #[test]
    fn a_torn_last_line_does_not_swallow_the_next_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut log = AuditLog::open(&path).unwrap();
        log.write(rec("b", 0, RUN_STARTED)).unwrap();
        // A writer killed in the middle of its next record.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(br#"{"run_id":"b","seq":1,"event":"StepSta"#)
            .unwrap();
        let runs = interrupted_runs(&path).unwrap();
        assert_eq!(runs.len(), 1);
        let mut log = AuditLog::open(&path).unwrap();
        acknowledge(&mut log, &runs[0], "group consistent").unwrap();
        assert!(
            interrupted_runs(&path).unwrap().is_empty(),
            "{}",
            std::fs::read_to_string(&path).unwrap()
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.ends_with('\n'));
    }
}
