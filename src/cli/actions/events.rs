//! Printing a run as it happens: one line per engine event (or one JSON line each with
//! `--json`), then the outcome with its state, next step and warnings.

use crate::cli::output;
use crate::ops::{self, summary, RunEvent, RunOutcome};

fn stamp() -> String {
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

/// The text line of an event stamped `t`; `None` for `RunFinished` (the outcome says it).
fn event_line(e: &RunEvent, t: &str) -> Option<String> {
    let line = match e {
        RunEvent::RunStarted { run_id, .. } => format!("{t} run {run_id} started"),
        RunEvent::PrecheckFailed { reason } => format!("{t} refused: {reason}"),
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
        RunEvent::SnapshotProgress { node, detail } => format!("{t} snapshot: {node}: {detail}"),
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
        RunEvent::DownloadProgress { node, bytes, total } => match total {
            Some(total) => format!(
                "{t} download: {node}: {} of {}",
                summary::bytes(*bytes),
                summary::bytes(*total)
            ),
            None => format!("{t} download: {node}: {}", summary::bytes(*bytes)),
        },
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
            format!("{t} download: {node} -> {path} ({bytes} bytes, {crc})")
        }
        RunEvent::DownloadFailed { node, error } => {
            format!("{t} download: {node} FAILED: {error}")
        }
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
        RunEvent::RunFinished { .. } => return None,
    };
    Some(line)
}

/// Prints how the run ended: its JSON (`--json`), or the outcome, state, next step, warnings.
pub(super) fn print_outcome(o: &RunOutcome, json: bool) {
    if json {
        output::json(&serde_json::json!({"event": "Outcome", "outcome": o}).to_string());
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
            },
            RunEvent::DownloadProgress {
                node: node(),
                bytes: 2048,
                total: None,
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
                "T download: m1: 3.0 MB of 12.0 MB",
                "T download: m1: 2.0 KB",
                "T download: m1 -> /backups/g/m1/x.rdb (12582912 bytes, no CRC64 in the file \
                 (rdbchecksum no))",
                "T download: m1 FAILED: the transfer was cut",
            ]
        );
    }
}
