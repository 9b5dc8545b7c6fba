//! The lines `redops watch` prints besides topology changes: runs started and finished by any
//! redops console (read from the audit log), rejoin marks appearing and clearing, and the
//! heartbeat of a quiet watch. Each as a text line or a JSON object with an `event` key.
//!
//! Pure: builds strings from records, marks and topologies; `watch.rs` prints them.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::super::output::Paint;
use super::super::status::rfc3339;
use crate::audit::{Outcome, Record, RUN_FINISHED, RUN_STARTED};
use crate::config::format_duration;
use crate::ops::promote::RejoinMark;
use crate::topology::{GroupTopology, Severity, Topology};

/// One line of text or JSON.
fn pick(
    json: bool,
    text: impl FnOnce() -> String,
    obj: impl FnOnce() -> serde_json::Value,
) -> String {
    if json {
        obj().to_string()
    } else {
        text()
    }
}

/// Text with line breaks folded, so one event stays one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The line for an audit record that opens or closes a run; `None` for the records between.
#[must_use]
pub fn run_line(rec: &Record, json: bool, p: Paint) -> Option<String> {
    let started = rec.event == RUN_STARTED;
    if !started && rec.event != RUN_FINISHED {
        return None;
    }
    let who = format!("{}@{} pid {}", rec.user, rec.host, rec.pid);
    let detail = rec.detail.as_deref().map(one_line).unwrap_or_default();
    let outcome = rec.outcome.map_or("-", Outcome::as_str);
    Some(pick(
        json,
        || {
            let (sev, kind, what) = if started {
                (
                    p.dim("info"),
                    "run_started",
                    format!("{} by {who}", rec.action),
                )
            } else {
                let sev = match rec.outcome {
                    Some(Outcome::Done | Outcome::Cleared | Outcome::Noted) => p.dim("info"),
                    Some(Outcome::Refused) => p.yellow("WARN"),
                    _ => p.red("CRIT"),
                };
                (
                    sev,
                    "run_finished",
                    format!("{} {outcome} ({who})", rec.action),
                )
            };
            let mut line = format!(
                "{} {sev} {} - {kind}: {what}, run {}",
                rec.at, rec.group, rec.run_id
            );
            if !detail.is_empty() {
                line.push_str(&format!(": {detail}"));
            }
            line
        },
        || {
            let mut v = json!({
                "event": if started { "run_started" } else { "run_finished" },
                "at": crate::audit::rfc3339_ms_of(&rec.at),
                "group": rec.group,
                "action": rec.action,
                "run_id": rec.run_id,
                "user": rec.user,
                "host": rec.host,
                "pid": rec.pid,
                "nodes": rec.nodes,
                "detail": rec.detail,
            });
            if !started {
                v["outcome"] = json!(rec.outcome);
            }
            v
        },
    ))
}

/// Lines for the marks in `now` that are not in `before` (`rejoin_marked`) and those gone
/// from it (`rejoin_mark_cleared`). At start `before` is empty: every current mark is shown.
#[must_use]
pub fn mark_lines(
    before: &[RejoinMark],
    now: &[RejoinMark],
    at: SystemTime,
    json: bool,
    p: Paint,
) -> Vec<String> {
    let same = |a: &RejoinMark, b: &RejoinMark| a.group == b.group && a.node == b.node;
    let at = rfc3339(at);
    let added = now.iter().filter(|m| !before.iter().any(|b| same(b, m)));
    let gone = before.iter().filter(|m| !now.iter().any(|n| same(n, m)));
    let mut out = Vec::new();
    for m in added {
        out.push(pick(
            json,
            || {
                format!(
                    "{at} {} {} {} rejoin_marked: {} ({}) was replaced by {} in run {} and waits \
                     for a rejoin (marked {})",
                    p.yellow("WARN"),
                    m.group,
                    m.node,
                    m.node,
                    m.addr,
                    m.promoted,
                    m.run_id,
                    m.marked_at
                )
            },
            || mark_json("rejoin_marked", &at, m),
        ));
    }
    for m in gone {
        out.push(pick(
            json,
            || {
                format!(
                    "{at} {} {} {} rejoin_mark_cleared: {} no longer waits for a rejoin",
                    p.dim("info"),
                    m.group,
                    m.node,
                    m.node
                )
            },
            || mark_json("rejoin_mark_cleared", &at, m),
        ));
    }
    out
}

fn mark_json(event: &str, at: &str, m: &RejoinMark) -> serde_json::Value {
    json!({
        "event": event,
        "at": at,
        "group": m.group,
        "node": m.node,
        "addr": m.addr,
        "promoted": m.promoted,
        "run_id": m.run_id,
        "marked_at": crate::audit::rfc3339_ms_of(&m.marked_at),
    })
}

/// Health of one group in a heartbeat.
struct GroupHealth<'a> {
    name: &'a str,
    nodes: usize,
    up: usize,
    warnings: usize,
    critical: usize,
}

impl<'a> GroupHealth<'a> {
    fn of(g: &'a GroupTopology) -> Self {
        let count = |s: Severity| g.anomalies.iter().filter(|a| a.severity == s).count();
        Self {
            name: &g.name,
            nodes: g.nodes.len(),
            up: g.nodes.iter().filter(|n| n.state.is_reachable()).count(),
            warnings: count(Severity::Warning),
            critical: count(Severity::Critical),
        }
    }

    fn healthy(&self) -> bool {
        self.warnings == 0 && self.critical == 0
    }

    fn text(&self) -> String {
        let state = match (self.critical, self.warnings) {
            (0, 0) => "healthy".to_string(),
            (0, w) => crate::words::count(w, "warning"),
            (c, 0) => format!("{c} critical"),
            (c, w) => format!("{c} critical, {}", crate::words::count(w, "warning")),
        };
        format!(
            "{} {state} ({}/{} nodes up)",
            self.name, self.up, self.nodes
        )
    }
}

/// The heartbeat: nothing changed for `quiet`; the health of every group.
#[must_use]
pub fn heartbeat_line(
    topo: &Topology,
    quiet: Duration,
    at: SystemTime,
    json: bool,
    p: Paint,
) -> String {
    let groups: Vec<GroupHealth<'_>> = topo.groups.iter().map(GroupHealth::of).collect();
    let healthy = groups.iter().all(GroupHealth::healthy);
    pick(
        json,
        || {
            let sev = if healthy {
                p.dim("info")
            } else {
                p.yellow("WARN")
            };
            let summary: Vec<String> = groups.iter().map(GroupHealth::text).collect();
            format!(
                "{} {sev} - - heartbeat: no change for {}; {}",
                rfc3339(at),
                format_duration(quiet),
                summary.join("; ")
            )
        },
        || {
            json!({
                "event": "heartbeat",
                "at": rfc3339(at),
                "quiet_for": format_duration(quiet),
                "healthy": healthy,
                "groups": groups.iter().map(|g| json!({
                    "group": g.name,
                    "healthy": g.healthy(),
                    "nodes": g.nodes,
                    "up": g.up,
                    "warnings": g.warnings,
                    "critical": g.critical,
                })).collect::<Vec<_>>(),
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(event: &str, outcome: Option<Outcome>) -> Record {
        Record {
            run_id: "r1".into(),
            at: "2026-01-01T00:00:00Z".into(),
            user: "alice".into(),
            host: "bastion".into(),
            pid: 42,
            group: "g".into(),
            action: "snapshot".into(),
            event: event.into(),
            outcome,
            detail: Some("snapshot of n1\nverified".into()),
            ..Record::default()
        }
    }

    #[test]
    fn runs_start_and_finish_other_records_are_silent() {
        let p = Paint::new(false);
        let s = run_line(&rec(RUN_STARTED, None), false, p).unwrap();
        assert_eq!(
            s,
            "2026-01-01T00:00:00Z info g - run_started: snapshot by alice@bastion pid 42, run r1: \
             snapshot of n1 verified"
        );
        let f = run_line(&rec(RUN_FINISHED, Some(Outcome::Failed)), false, p).unwrap();
        assert!(f.contains("CRIT g - run_finished: snapshot failed"), "{f}");
        let j: serde_json::Value = serde_json::from_str(
            &run_line(&rec(RUN_FINISHED, Some(Outcome::Done)), true, p).unwrap(),
        )
        .unwrap();
        assert_eq!(j["event"], "run_finished");
        assert_eq!(j["outcome"], "done");
        assert!(run_line(&rec("StepStarted", None), false, p).is_none());
    }

    #[test]
    fn marks_are_shown_when_they_appear_and_clear() {
        let m = RejoinMark {
            group: "g".into(),
            node: "n1".into(),
            addr: "127.0.0.1:7000".into(),
            promoted: "n2".into(),
            last_replid: None,
            last_offset: None,
            fork_replid: None,
            fork_offset: None,
            marked_at: "2026-01-01T00:00:00Z".into(),
            run_id: "r1".into(),
        };
        let p = Paint::new(false);
        let at = SystemTime::UNIX_EPOCH;
        let added = mark_lines(&[], std::slice::from_ref(&m), at, false, p);
        assert_eq!(added.len(), 1);
        assert!(added[0].contains("rejoin_marked: n1 (127.0.0.1:7000) was replaced by n2"));
        assert!(mark_lines(
            std::slice::from_ref(&m),
            std::slice::from_ref(&m),
            at,
            false,
            p
        )
        .is_empty());
        let gone = mark_lines(std::slice::from_ref(&m), &[], at, true, p);
        let j: serde_json::Value = serde_json::from_str(&gone[0]).unwrap();
        assert_eq!(j["event"], "rejoin_mark_cleared");
        assert_eq!(j["node"], "n1");
    }
}
