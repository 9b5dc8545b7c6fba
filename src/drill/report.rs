//! A drill's report: time per step, time to detect, hints used, guards tripped, acknowledged
//! writes lost, and the verdict; as JSON and as text, and written as both into the drills
//! directory beside the audit log (redops's data directory), never into the sandbox's
//! temporary one (which goes away with the sandbox).

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::engine::Ending;

/// The end of a drill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub drill: String,
    pub title: String,
    /// Every step done in time, no forbidden move, and no acknowledged write lost.
    pub passed: bool,
    pub ending: Ending,
    pub elapsed_ms: u64,
    pub steps: Vec<StepReport>,
    /// From a step's last fault to the trainee's first action (the first step that has both).
    pub time_to_detect_ms: Option<u64>,
    /// Hints shown, by the trainee's asking or by their delay.
    pub hints_used: usize,
    /// Of those, the ones the trainee asked for.
    pub hints_asked: usize,
    pub guards_tripped: Vec<GuardTrip>,
    /// What the last step's condition still missed when the drill ended (empty when it held).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waiting_for: Vec<String>,
    /// `None` when the final check could not be made (no single primary to read from).
    pub writes_acknowledged: Option<u64>,
    pub writes_lost: Option<u64>,
    /// Where the JSON form was written, once it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// How the hints came, after their count: ` (asked)`, ` (1 asked, 1 shown after a delay)`,
/// ` (shown after a delay)`; empty when none was shown.
#[must_use]
pub fn hints_detail(used: usize, asked: usize) -> String {
    let timed = used.saturating_sub(asked);
    match (asked, timed) {
        (_, _) if used == 0 => String::new(),
        (_, 0) => " (asked)".to_string(),
        (0, _) => " (shown after a delay)".to_string(),
        (a, t) => format!(" ({a} asked, {t} shown after a delay)"),
    }
}

/// One step's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    pub goal: String,
    pub done: bool,
    /// From its start to its end (or to the drill's end); `None` when never reached.
    pub elapsed_ms: Option<u64>,
    pub time_to_detect_ms: Option<u64>,
    pub hints_used: usize,
    pub hints_asked: usize,
}

/// A guard the trainee ran into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GuardTrip {
    /// The action was refused.
    Refusal {
        action: String,
        reason: String,
        step: usize,
    },
    /// The action ran over failed pre-checks, with this reason.
    Override {
        action: String,
        reason: String,
        step: usize,
    },
}

impl Report {
    /// The verdict in a few words.
    #[must_use]
    pub fn verdict(&self) -> String {
        let lost = match (self.writes_lost, self.writes_acknowledged) {
            (Some(0), _) => String::new(),
            (Some(l), Some(a)) => format!("; lost {l} of {a} acknowledged writes"),
            _ => "; the writes could not be checked".to_string(),
        };
        let how = match &self.ending {
            Ending::Completed => "every step done".to_string(),
            Ending::TimedOut { step, limit_ms } => {
                format!("step {} not done within {}", step + 1, secs(*limit_ms))
            }
            Ending::WrongMove { step, what, by } => match by {
                Some(by) => format!("wrong move in step {}: {what} ({by})", step + 1),
                None => format!("wrong move in step {}: {what}", step + 1),
            },
            Ending::Aborted { why } => format!("stopped: {why}"),
        };
        format!(
            "{}: {how}{lost}",
            if self.passed { "passed" } else { "failed" }
        )
    }

    /// The report as lines of text.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "drill {} ({}): {}",
            self.drill,
            self.title,
            self.verdict()
        );
        let _ = writeln!(t, "  took {}", secs(self.elapsed_ms));
        for (i, s) in self.steps.iter().enumerate() {
            let took = s.elapsed_ms.map_or_else(|| "not reached".to_string(), secs);
            let mark = if s.done { "done" } else { "not done" };
            let _ = write!(t, "  step {}: {} ({mark}, {took}", i + 1, s.goal);
            if let Some(d) = s.time_to_detect_ms {
                let _ = write!(t, ", first action {} after the faults", secs(d));
            }
            let _ = writeln!(
                t,
                ", {} used{})",
                crate::words::count(s.hints_used, "hint"),
                hints_detail(s.hints_used, s.hints_asked)
            );
        }
        if !self.waiting_for.is_empty() {
            let _ = writeln!(t, "  still missing: {}", self.waiting_for.join("; "));
        }
        match self.time_to_detect_ms {
            Some(d) => {
                let _ = writeln!(t, "  time to detect: {}", secs(d));
            }
            None => {
                let _ = writeln!(t, "  time to detect: no action after a fault");
            }
        }
        let _ = writeln!(
            t,
            "  hints used: {}{}",
            self.hints_used,
            hints_detail(self.hints_used, self.hints_asked)
        );
        let _ = writeln!(t, "  guards tripped: {}", self.guards_tripped.len());
        for g in &self.guards_tripped {
            let _ = match g {
                GuardTrip::Refusal { action, reason, .. } => {
                    writeln!(t, "    refused {action}: {reason}")
                }
                GuardTrip::Override { action, reason, .. } => {
                    writeln!(t, "    overridden {action}: {reason}")
                }
            };
        }
        if let (Some(l), Some(a)) = (self.writes_lost, self.writes_acknowledged) {
            let _ = writeln!(t, "  writes: lost {l} of {a} acknowledged");
        }
        t
    }

    /// Writes `<dir>/<drill>-<unix seconds>.json` and `.txt`; returns the JSON file's path
    /// (also kept in [`path`](Self::path)).
    ///
    /// # Errors
    /// The directory cannot be made or a file written.
    pub fn write_into(&mut self, dir: &Path, stamp: u64) -> io::Result<PathBuf> {
        crate::config::create_private_dir(dir)?;
        let base = dir.join(format!("{}-{stamp}", sanitize(&self.drill)));
        let json = base.with_extension("json");
        self.path = Some(json.clone());
        let text = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        std::fs::write(&json, text + "\n")?;
        std::fs::write(base.with_extension("txt"), self.to_text())?;
        Ok(json)
    }
}

/// Where drill reports go: `drills/` beside the audit log.
#[must_use]
pub fn reports_dir(audit_log: &Path) -> PathBuf {
    audit_log
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("drills")
}

/// A file name part from a drill id (ids from a file are not trusted).
fn sanitize(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() {
        "drill".to_string()
    } else {
        s
    }
}

/// Milliseconds as the report writes them: `12.3 s`.
#[allow(clippy::cast_precision_loss)] // milliseconds of a drill
#[must_use]
pub fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::{reports_dir, GuardTrip, Report, StepReport};
    use crate::drill::engine::Ending;
    use std::path::Path;

    fn report() -> Report {
        Report {
            drill: "../x y".into(),
            title: "t".into(),
            passed: false,
            ending: Ending::WrongMove {
                step: 0,
                what: "n3 became a primary".into(),
                by: Some("promote n3 in place of n1".into()),
            },
            elapsed_ms: 12_345,
            steps: vec![StepReport {
                goal: "g".into(),
                done: false,
                elapsed_ms: Some(12_345),
                time_to_detect_ms: Some(1_500),
                hints_used: 1,
                hints_asked: 0,
            }],
            time_to_detect_ms: Some(1_500),
            hints_used: 1,
            hints_asked: 0,
            guards_tripped: vec![GuardTrip::Override {
                action: "promote".into(),
                reason: "closest".into(),
                step: 0,
            }],
            waiting_for: vec!["the primary is n3, not n2".into()],
            writes_acknowledged: Some(12_345),
            writes_lost: Some(7),
            path: None,
        }
    }

    #[test]
    fn the_text_says_the_verdict_and_every_figure() {
        let t = report().to_text();
        assert!(t.starts_with("drill ../x y (t): failed: wrong move in step 1: n3 became a primary (promote n3 in place of n1); lost 7 of 12345 acknowledged writes\n"), "{t}");
        for part in [
            "took 12.3 s",
            "first action 1.5 s after the faults",
            "time to detect: 1.5 s",
            "overridden promote: closest",
            "still missing: the primary is n3, not n2",
            "writes: lost 7 of 12345 acknowledged",
        ] {
            assert!(t.contains(part), "{part} in {t}");
        }
    }

    #[test]
    fn reports_go_beside_the_audit_log_under_a_safe_name() {
        assert_eq!(
            reports_dir(Path::new("/var/lib/redops/audit.jsonl")),
            Path::new("/var/lib/redops/drills")
        );
        let dir = tempfile::tempdir().unwrap();
        let mut r = report();
        let path = r.write_into(&dir.path().join("drills"), 42).unwrap();
        assert_eq!(path, dir.path().join("drills").join("___x_y-42.json"));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(json["passed"], false);
        assert_eq!(json["writes_lost"], 7);
        assert_eq!(json["path"], path.display().to_string());
        assert!(path.with_extension("txt").is_file());
    }
}
