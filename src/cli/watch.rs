//! `redops watch`: poll continuously and print one line per change (role flips, links,
//! nodes down/up, anomalies raised/cleared), timestamped, as text or JSON lines, until
//! Ctrl-C / SIGTERM. Observations go through the core's [`Monitor`] (confirmation, lag
//! hysteresis, the data-loss watch, the warm-up): nothing is printed until every node has been
//! polled once, then what is already wrong, then each change. The data-loss memory is kept
//! beside the audit log for configured targets.
//!
//! Besides changes it reports runs started and finished by any redops console (the records
//! appended to the audit log since it started), rejoin marks (at start and when they change),
//! and, with `--heartbeat`, a health line after each quiet interval (`watch/events.rs`).
//! Its start line goes to stderr, so stdout stays JSON-only with `--json`.

mod events;

use std::time::{Duration, Instant, SystemTime};

use clap::Args;
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};

use super::output::{self, Paint};
use super::status::{find_backup, load_memory, rfc3339};
use super::{TargetArgs, EXIT_OK, EXIT_PROBLEM};
use crate::audit::Tail;
use crate::history::loss_file;
use crate::monitor::Monitor;
use crate::ops::promote::{load_marks, marks_path, RejoinMark};
use crate::sanitize::visible;
use crate::topology::{Change, Severity};

/// `redops watch` options.
#[derive(Debug, Clone, Default, Args)]
pub struct WatchArgs {
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,

    /// After this long without a line (e.g. 30s), print one saying the groups' health.
    #[arg(long, value_name = "DURATION", value_parser = parse_heartbeat)]
    pub heartbeat: Option<Duration>,
}

/// `--heartbeat`: a duration of at least one second.
fn parse_heartbeat(s: &str) -> Result<Duration, String> {
    let d = crate::config::parse_duration(s)?;
    if d < Duration::from_secs(1) {
        return Err(format!("'{s}' is too short; give 1s or more, e.g. 30s"));
    }
    Ok(d)
}

/// How often the audit log and the rejoin marks file are looked at.
const FILES_EVERY: Duration = Duration::from_secs(1);

/// "3 nodes", "1 group".
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// One change as a text line.
#[must_use]
pub fn text_line(c: &Change, p: Paint) -> String {
    let sev = match c.severity {
        Severity::Critical => p.red("CRIT"),
        Severity::Warning => p.yellow("WARN"),
        Severity::Info => p.dim("info"),
    };
    format!(
        "{} {sev} {} {} {}: {}",
        rfc3339(c.at),
        visible(&c.group),
        visible(c.node.as_deref().unwrap_or("-")),
        c.kind.as_str(),
        visible(&c.message)
    )
}

/// One change as a JSON line.
#[must_use]
pub fn json_line(c: &Change) -> String {
    json!({
        "at": rfc3339(c.at),
        "group": c.group,
        "node": c.node,
        "kind": c.kind.as_str(),
        "severity": c.severity.as_str(),
        "message": c.message,
    })
    .to_string()
}

/// Streams changes until interrupted.
#[allow(clippy::too_many_lines)] // the loop reads top to bottom: each event source and what it prints.
pub async fn run(targets: &TargetArgs, args: WatchArgs) -> u8 {
    let config = match targets.resolve_or_report().await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        output::error("cannot install signal handlers", None);
        return EXIT_PROBLEM;
    };
    let paint = Paint::new(output::color_enabled());
    let nodes: usize = config.groups.iter().map(|g| g.nodes.len()).sum();
    output::note(&format!(
        "watching {} in {} (poll every {}); Ctrl-C stops",
        count(nodes, "node"),
        count(config.groups.len(), "group"),
        crate::config::format_duration(config.console.poll_interval)
    ));
    let mut audit = Tail::from_end(&config.console.audit_log);
    let marks_file = marks_path(&config.console.audit_log);
    let mut marks: Vec<RejoinMark> = Vec::new();
    let (mut audit_warned, mut marks_warned) = (false, false);
    let mut files_at: Option<Instant> = None;
    // When the last line went to stdout (or the watch started): the heartbeat's quiet time.
    let mut last_line = Instant::now();
    // Text lines carry redops's own colours (server text in them is already made visible);
    // JSON lines are escaped without changing what they decode to.
    let json = args.json;
    let emit = |line: &str, last_line: &mut Instant| {
        if json {
            output::json(line);
        } else {
            output::painted(line);
        }
        *last_line = Instant::now();
    };
    let (mut pollers, mut rx) = crate::poller::spawn(&config);
    let (_sentinel_pollers, mut sentinel_rx) = crate::sentinel::SentinelPollers::spawn(&config);
    let mut monitor = Monitor::new(&config, SystemTime::now());
    let memory = targets.loss_memory(&config);
    if let Some(path) = &memory {
        monitor.remember(load_memory(path));
    }
    let mut lookup = find_backup(&config);
    let mut save_warned = false;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut dirty = false;
    loop {
        tokio::select! {
            _ = int.recv() => break,
            _ = term.recv() => break,
            _ = hup.recv() => break,
            obs = rx.recv() => {
                let Some(obs) = obs else { break };
                monitor.observe(obs);
                dirty = true;
            }
            Some(feed) = sentinel_rx.recv() => {
                if let Some(c) = monitor.sentinel_feed(feed) {
                    let l = if args.json { json_line(&c) } else { text_line(&c, paint) };
                    emit(&l, &mut last_line);
                }
                dirty = true;
            }
            _ = tick.tick() => {
                if files_at.is_none_or(|t| t.elapsed() >= FILES_EVERY) {
                    files_at = Some(Instant::now());
                    match audit.poll() {
                        Ok(recs) => {
                            for rec in &recs {
                                if let Some(l) = events::run_line(rec, args.json, paint) {
                                    emit(&l, &mut last_line);
                                }
                            }
                        }
                        Err(e) if !audit_warned => {
                            audit_warned = true;
                            output::note(&format!(
                                "runs by other consoles are not shown: cannot read the audit log '{}': {e}",
                                config.console.audit_log.display()
                            ));
                        }
                        Err(_) => {}
                    }
                    match load_marks(&marks_file) {
                        Ok(now) => {
                            let at = SystemTime::now();
                            for l in events::mark_lines(&marks, &now, at, args.json, paint) {
                                emit(&l, &mut last_line);
                            }
                            marks = now;
                        }
                        Err(e) if !marks_warned => {
                            marks_warned = true;
                            output::note(&format!("rejoin marks are not shown: {e}"));
                        }
                        Err(_) => {}
                    }
                }
                if let Some(every) = args.heartbeat {
                    // Only once the whole picture was shown: a partial one is no health.
                    if monitor.published_warm() && last_line.elapsed() >= every {
                        let quiet = last_line.elapsed();
                        let l = events::heartbeat_line(monitor.topology(), quiet, SystemTime::now(), args.json, paint);
                        emit(&l, &mut last_line);
                    }
                }
                if !dirty {
                    continue;
                }
                dirty = false;
                let up = monitor.cycle(SystemTime::now(), &mut lookup);
                if let (Some(path), Some(state)) = (&memory, up.save) {
                    match loss_file::save(path, &state) {
                        Err(e) if !save_warned => {
                            save_warned = true;
                            output::note(&format!("the data-loss memory is not kept: {e}"));
                        }
                        _ => {}
                    }
                }
                // At start, what is already wrong; then each change.
                for c in up.at_start.iter().chain(&up.changes) {
                    let l = if args.json { json_line(c) } else { text_line(c, paint) };
                    emit(&l, &mut last_line);
                }
                if output::stdout_closed() {
                    // `redops watch | head -3`: the reader is gone, so is the point.
                    break;
                }
            }
        }
    }
    pollers.stop();
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::{json_line, text_line};
    use crate::cli::output::Paint;
    use crate::sanitize::terminal_line;
    use crate::topology::{Change, ChangeKind, Severity};

    /// A change whose node and message came from a server: with colour on, only redops's own
    /// colour survives the printer; the server's escapes are visible text. JSON keeps them.
    #[test]
    fn a_hostile_change_prints_visible() {
        let c = Change {
            at: std::time::SystemTime::UNIX_EPOCH,
            group: "g".into(),
            node: Some("10.0.0.1\u{1b}]0;OWNED\u{7}:6379".into()),
            kind: ChangeKind::RoleChanged,
            severity: Severity::Critical,
            message: "was \u{1b}[31mprimary\r\u{1b}[2K".into(),
        };
        let printed = terminal_line(&text_line(&c, Paint::new(true)), true).into_owned();
        assert!(printed.starts_with("1970-01-01T00:00:00.000Z \u{1b}[31;1mCRIT\u{1b}[0m "));
        assert!(
            printed.ends_with(
                "10.0.0.1\\x1b]0;OWNED\\x07:6379 role_changed: was \\x1b[31mprimary\\r\\x1b[2K"
            ),
            "{printed}"
        );
        let v: serde_json::Value = serde_json::from_str(&json_line(&c)).unwrap();
        assert_eq!(v["message"], c.message);
    }
}
