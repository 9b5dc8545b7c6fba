//! The words of a run: one text line per engine event (or its JSON line with `--json`), then
//! the outcome with its state, next step and warnings. How progress events are thinned or
//! drawn as bars is `progress.rs`'s choice.

use crate::cli::output;
use crate::ops::{self, summary, RunEvent, RunOutcome};

/// The time of day to the millisecond, for the text lines.
pub(super) fn stamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

/// Prints one event: its JSON (`--json`), or its text line stamped with the time.
pub(super) fn print_event(e: &RunEvent, json: bool) {
    if json {
        if let Ok(s) = serde_json::to_string(e) {
            output::json(&s);
        }
        return;
    }
    if let Some(line) = event_line(e, &stamp()) {
        output::line(&line);
    }
}

/// A restore's scratch server and sync, in a line.
fn scratch_line(e: &RunEvent, t: &str) -> Option<String> {
    Some(match e {
        RunEvent::ScratchStarted {
            addr,
            pid,
            server,
            keys,
            load_ms,
            ..
        } => format!(
            "{t} scratch server: {server} on {addr}, pid {pid}, loaded {keys} keys in {load_ms} ms"
        ),
        RunEvent::SyncProgress {
            node,
            detail,
            elapsed_ms,
        } => format!("{t} sync: {node}: {detail} ({elapsed_ms} ms)"),
        RunEvent::ScratchStopped { pid, gone: true } => {
            format!("{t} scratch server: pid {pid} stopped")
        }
        RunEvent::ScratchStopped { pid, gone: false } => {
            format!("{t} scratch server: pid {pid} killed but still listed")
        }
        _ => return None,
    })
}

/// The text line of an event stamped `t`; `None` for `RunFinished` (the outcome says it).
pub(super) fn event_line(e: &RunEvent, t: &str) -> Option<String> {
    let line = match e {
        RunEvent::RunStarted { run_id, .. } => format!("{t} run {run_id} started"),
        RunEvent::PrecheckFailed { reason, .. } => format!("{t} refused: {reason}"),
        RunEvent::PrecheckPassed { overridden, .. } if overridden.is_empty() => {
            format!("{t} pre-checks passed")
        }
        RunEvent::PrecheckPassed { overridden, .. } => {
            format!(
                "{t} pre-checks passed with overrides: {}",
                overridden.join("; ")
            )
        }
        RunEvent::SnapshotStarted { node } => format!("{t} snapshot: BGSAVE on {node}"),
        RunEvent::SnapshotProgress { node, progress } => {
            format!("{t} snapshot: {node}: {}", progress.line())
        }
        RunEvent::SnapshotNoted { node, note } => format!("{t} snapshot: {node}: {note}"),
        RunEvent::SnapshotVerified {
            node, last_save, ..
        } => {
            format!(
                "{t} snapshot: {node} verified (saved at {} by its clock, status ok)",
                crate::timefmt::unix_clock(*last_save)
            )
        }
        RunEvent::SnapshotSkipped { reason, .. } => format!("{t} snapshot: skipped ({reason})"),
        RunEvent::SnapshotFailed { node, error } => {
            format!("{t} snapshot: {node} FAILED: {error}")
        }
        RunEvent::DownloadStarted { node, path } => {
            format!("{t} download: {node}: RDB into {path}")
        }
        RunEvent::DownloadProgress { node, .. } => {
            let line = e.transfer().map(|p| p.line()).unwrap_or_default();
            format!("{t} download: {node}: {line}")
        }
        RunEvent::DownloadVerified {
            node,
            path,
            bytes,
            crc_ok,
            ..
        } => {
            let crc = if *crc_ok {
                "CRC64 verified"
            } else {
                "no CRC64 in the file (rdbchecksum no)"
            };
            format!(
                "{t} download: {node} -> {path} ({}, {crc})",
                summary::bytes(*bytes)
            )
        }
        RunEvent::DownloadFailed { node, error } => {
            format!("{t} download: {node} FAILED: {error}")
        }
        RunEvent::StepStarted {
            index,
            title,
            commands,
            ..
        } if commands.is_empty() => format!("{t} step {}: {title}", index + 1),
        RunEvent::StepStarted {
            index,
            title,
            commands,
            ..
        } => {
            format!("{t} step {}: {title}: {}", index + 1, commands.join("; "))
        }
        RunEvent::StepVerified {
            index,
            detail,
            elapsed_ms,
            ..
        } => {
            format!("{t} step {} ok ({elapsed_ms} ms): {detail}", index + 1)
        }
        RunEvent::StepFailed {
            index,
            error,
            critical,
            ..
        } => format!(
            "{t} step {} {}: {error}",
            index + 1,
            if *critical {
                "FAILED"
            } else {
                "failed (not critical, going on)"
            }
        ),
        RunEvent::RolledBack { what, .. } => format!("{t} rollback: {what}"),
        RunEvent::ScratchStarted { .. }
        | RunEvent::SyncProgress { .. }
        | RunEvent::ScratchStopped { .. } => scratch_line(e, t)?,
        RunEvent::RunFinished { .. } => return None,
    };
    Some(line)
}

/// Prints how the run ended: its JSON (`--json`), or the outcome, state, next step, warnings.
pub(super) fn print_outcome(o: &RunOutcome, json: bool) {
    if json {
        output::json(&serde_json::json!({"event": "outcome", "outcome": o}).to_string());
        return;
    }
    let word = match o.status {
        ops::RunStatus::Done => "done",
        ops::RunStatus::Refused => "refused",
        ops::RunStatus::Failed => "FAILED",
    };
    match o.pause_ms {
        Some(p) => output::line(&format!("{word}: {} (writes paused {p} ms)", o.detail)),
        None => output::line(&format!("{word}: {}", o.detail)),
    }
    for s in &o.state {
        output::line(&format!("  state: {s}"));
    }
    for h in crate::cli::next_step::refusal_hints(o) {
        output::line(&format!("  hint: {h}"));
    }
    if let Some(n) = &o.next_step {
        output::line(&format!("  next: {}", crate::cli::next_step::render(n)));
    }
    for w in &o.warnings {
        output::line(&format!("  warning: {w}"));
    }
    output::line(&format!("  run {} took {} ms", o.run_id, o.elapsed_ms));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_is_one_line_per_event() {
        let node = || "m1".to_string();
        let lines: Vec<String> = [
            RunEvent::DownloadStarted {
                node: node(),
                path: "/backups".into(),
            },
            RunEvent::DownloadProgress {
                node: node(),
                bytes: 3 << 20,
                total: Some(12 << 20),
                elapsed_ms: 1000,
                expected: None,
            },
            RunEvent::DownloadProgress {
                node: node(),
                bytes: 2048,
                total: None,
                elapsed_ms: 0,
                expected: None,
            },
            RunEvent::DownloadVerified {
                node: node(),
                path: "/backups/g/m1/x.rdb".into(),
                bytes: 12 << 20,
                crc_ok: false,
                detail: String::new(),
            },
            RunEvent::DownloadFailed {
                node: node(),
                error: "the transfer was cut".into(),
            },
        ]
        .iter()
        .filter_map(|e| event_line(e, "T"))
        .collect();
        assert_eq!(
            lines,
            [
                "T download: m1: RDB into /backups",
                "T download: m1: 3.0 MB of 12.0 MB (25%) · 3.0 MB/s · 3.0s left",
                "T download: m1: 2.0 KB · length unknown (diskless)",
                "T download: m1 -> /backups/g/m1/x.rdb (12.0 MB, no CRC64 in the file \
                 (rdbchecksum no))",
                "T download: m1 FAILED: the transfer was cut",
            ]
        );
    }
}
