//! `redops history`: past runs from the audit log, one line per run (when, age, what, outcome,
//! how long, writes paused, who, group, run id), as patronictl's `history`; `history RUN_ID`
//! shows one run's steps. `--json`: one object per run (a run with its `steps` for `RUN_ID`).
//!
//! The reading is `audit::runs` (streamed, bounded, skips bad lines); the words of a row and
//! of a step are the console's (`tui::view::history`), so both say the same. Skipped lines are
//! reported on stderr with their numbers.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clap::Args;
use serde_json::{json, Value};

use super::{output, TargetArgs, EXIT_OK, EXIT_USAGE};
use crate::audit::runs::{self, snake_event, Entry, Query, ReadError, Run, RunLog};
use crate::audit::Outcome;
use crate::config;
use crate::tui::fmt;
use crate::tui::view::history::{row, step, summary, HEADERS};

/// `redops history` options (`--group` is the global one).
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Show this run's steps (its id, or the start of it).
    #[arg(value_name = "RUN_ID")]
    pub run_id: Option<String>,

    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,

    /// Only runs started within this long (e.g. 30m, 1h, 7d).
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,

    /// Only the newest N runs.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,

    /// The audit log to read (default: `console.audit_log` of the config).
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
}

/// Prints the history; returns the exit code (0, or 2 for bad usage or an unreadable log).
#[must_use]
pub fn run(targets: &TargetArgs, args: &HistoryArgs) -> u8 {
    let Some(path) = audit_log(targets, args) else {
        return EXIT_USAGE;
    };
    let now = SystemTime::now();
    let since = match args.since.as_deref().map(parse_since).transpose() {
        Ok(s) => s.map(|d| now.checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH)),
        Err(e) => {
            output::error(
                &format!("invalid --since: {e}"),
                Some("for example --since 30m, --since 1h or --since 7d"),
            );
            return EXIT_USAGE;
        }
    };
    let query = Query {
        group: targets.group.clone(),
        since,
        limit: args.run_id.is_none().then_some(args.limit),
        run_id: args.run_id.clone(),
    };
    let log = match runs::read(&path, &query) {
        Ok(log) => log,
        Err(ReadError::Missing { .. }) if args.run_id.is_none() => {
            output::note(&format!(
                "no audit log at '{}' yet: no action has run with this config",
                path.display()
            ));
            return EXIT_OK;
        }
        Err(e) => {
            output::error(&e.to_string(), Some(e.hint()));
            return EXIT_USAGE;
        }
    };
    report_skipped(&path, &log);
    if let Some(id) = &args.run_id {
        return one_run(&path, id, &log, args.json, now);
    }
    list(&path, &log, args.json, now);
    EXIT_OK
}

/// `--audit-log`, else the config's (the file given or found), else the default location.
fn audit_log(targets: &TargetArgs, args: &HistoryArgs) -> Option<PathBuf> {
    if let Some(p) = &args.audit_log {
        return Some(p.clone());
    }
    let path = targets
        .config
        .clone()
        .unwrap_or_else(config::default_config_path);
    if targets.config.is_none() && !path.exists() {
        return Some(config::Console::default().audit_log);
    }
    match config::load_file(&path) {
        Ok(c) => Some(c.console.audit_log),
        Err(e) => {
            output::note(&e.to_string());
            None
        }
    }
}

pub(super) fn parse_since(s: &str) -> Result<Duration, String> {
    crate::backup::prune::parse_age(s)
}

fn report_skipped(path: &Path, log: &RunLog) {
    if log.skipped_total == 0 {
        return;
    }
    let listed: Vec<String> = log
        .skipped
        .iter()
        .map(|s| format!("line {}: {}", s.line, s.why))
        .collect();
    let more = log.skipped_total - log.skipped.len() as u64;
    let more = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    output::note(&format!(
        "note: {} of '{}' skipped ({}{more})",
        crate::words::count(log.skipped_total, "line"),
        path.display(),
        listed.join("; ")
    ));
}

fn list(path: &Path, log: &RunLog, json: bool, now: SystemTime) {
    if json {
        for r in &log.runs {
            output::json(&run_json(r).to_string());
        }
        return;
    }
    if log.runs.is_empty() {
        output::note(&format!("no runs in '{}'", path.display()));
        return;
    }
    let rows: Vec<[String; 10]> = log.runs.iter().map(|r| row(r, now)).collect();
    let mut widths = HEADERS.map(str::len);
    for cells in &rows {
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    // The outcome in colour on a terminal (green done, red failed, yellow the rest).
    let paint = output::Paint::new(output::color_enabled());
    let line = |cells: Vec<&str>, outcome: Option<&Run>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(k, (c, w))| {
                let cell = format!("{c:<w$}");
                match outcome.filter(|_| k == 4) {
                    Some(r) => match r.outcome {
                        Some(Outcome::Done) => paint.green(&cell),
                        Some(Outcome::Failed) => paint.red(&cell),
                        _ => paint.yellow(&cell),
                    },
                    None => cell,
                }
            })
            .collect();
        output::painted(padded.join("  ").trim_end());
    };
    line(HEADERS.to_vec(), None);
    for (cells, run) in rows.iter().zip(&log.runs) {
        line(cells.iter().map(String::as_str).collect(), Some(run));
    }
}

fn one_run(path: &Path, id: &str, log: &RunLog, json: bool, now: SystemTime) -> u8 {
    let run = match &log.runs[..] {
        [run] => run,
        [] => {
            output::error(
                &format!("no run '{id}' in '{}'", path.display()),
                Some("`redops history` lists the runs with their ids"),
            );
            return EXIT_USAGE;
        }
        many => {
            let ids: Vec<&str> = many.iter().map(|r| r.run_id.as_str()).collect();
            output::error(
                &format!("'{id}' matches {} runs: {}", many.len(), ids.join(", ")),
                Some("give more of the run id"),
            );
            return EXIT_USAGE;
        }
    };
    if json {
        let mut v = run_json(run);
        v["steps"] = run.entries.iter().map(entry_json).collect();
        output::json(&v.to_string());
        return EXIT_OK;
    }
    output::line(&summary(run, now));
    output::line(&format!(
        "run {}  nodes: {}",
        run.run_id,
        run.nodes.join("  ")
    ));
    for e in &run.entries {
        let (since, what, said) = step(run, e);
        output::line(format!("{since:>9}  {what:<20} {said}").trim_end());
    }
    if run.entries_dropped > 0 {
        output::line(&format!("… and {} more records", run.entries_dropped));
    }
    EXIT_OK
}

/// A run as JSON: `snake_case` names, RFC 3339 times in milliseconds.
fn run_json(r: &Run) -> Value {
    let nodes: Vec<Value> = r
        .nodes
        .iter()
        .map(|n| match n.split_once('=') {
            Some((name, addr)) => json!({ "name": name, "addr": addr }),
            None => json!({ "name": n }),
        })
        .collect();
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    json!({
        "run_id": r.run_id,
        "started_at": fmt::timestamp(r.started),
        "finished_at": r.finished.map(fmt::timestamp),
        "user": r.user,
        "host": r.host,
        "ssh_client": r.ssh_client,
        "group": r.group,
        "action": r.action,
        "nodes": nodes,
        "outcome": r.outcome_word(),
        "detail": r.detail,
        "duration_ms": r.duration().map(ms),
        "pause_ms": r.pause_ms,
    })
}

fn entry_json(e: &Entry) -> Value {
    json!({
        "at": fmt::timestamp(e.at),
        "event": snake_event(&e.event),
        "index": e.step,
        "title": e.title,
        "node": e.node,
        "detail": e.detail,
        "commands": e.commands,
        "outcome": e.outcome.map(crate::audit::Outcome::as_str),
    })
}
