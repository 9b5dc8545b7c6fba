//! Printing a run as it happens: one line per engine event with a wall-clock stamp (or the
//! event as a JSON line), then the outcome. Output only: it decides nothing and runs nothing.

use crate::cli::output;
use crate::ops::{self, RunEvent, RunOutcome};

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

pub(super) fn print_event(e: &RunEvent, json: bool) {
    if json {
        if let Ok(s) = serde_json::to_string(e) {
            output::json(&s);
        }
        return;
    }
    let t = stamp();
    let line = match e {
        RunEvent::RunStarted { run_id, .. } => format!("{t} run {run_id} started"),
        RunEvent::PrecheckFailed { reason } => format!("{t} refused: {reason}"),
        RunEvent::PrecheckPassed { overridden } if overridden.is_empty() => {
            format!("{t} pre-checks passed")
        }
        RunEvent::PrecheckPassed { overridden } => {
            format!(
                "{t} pre-checks passed with overrides: {}",
                overridden.join("; ")
            )
        }
        RunEvent::SnapshotStarted { node } => format!("{t} snapshot: BGSAVE on {node}"),
        RunEvent::SnapshotProgress { node, detail } => format!("{t} snapshot: {node}: {detail}"),
        RunEvent::SnapshotVerified { node, last_save } => {
            format!("{t} snapshot: {node} verified (rdb_last_save_time {last_save}, status ok)")
        }
        RunEvent::SnapshotSkipped { reason } => format!("{t} snapshot: skipped ({reason})"),
        RunEvent::DownloadVerified { node, path, bytes } => {
            format!("{t} download: {node} -> {path} ({bytes} bytes, CRC64 verified)")
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
        RunEvent::RolledBack { what } => format!("{t} rollback: {what}"),
        RunEvent::RunFinished { .. } => return,
    };
    output::line(&line);
}

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
    output::line(&format!("{word}: {}", o.detail));
    for s in &o.state {
        output::line(&format!("  state: {s}"));
    }
    if let Some(n) = &o.next_step {
        output::line(&format!("  next: {n}"));
    }
    for w in &o.warnings {
        output::line(&format!("  warning: {w}"));
    }
    output::line(&format!("  run {} took {} ms", o.run_id, o.elapsed_ms));
}
