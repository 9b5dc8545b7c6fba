//! `redops watch`: poll continuously and print one line per change (role flips, links,
//! nodes down/up, anomalies raised/cleared), timestamped, as text or JSON lines, until
//! Ctrl-C / SIGTERM.

use std::time::{Duration, SystemTime};

use clap::Args;
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};

use super::output::{self, Paint};
use super::status::rfc3339;
use super::{TargetArgs, EXIT_OK, EXIT_PROBLEM};
use crate::history::History;
use crate::observe::FleetState;
use crate::sanitize::visible;
use crate::topology::{self, Change, Severity};

/// `redops watch` options.
#[derive(Debug, Clone, Default, Args)]
pub struct WatchArgs {
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
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
        "watching {nodes} node(s) in {} group(s) every {}; Ctrl-C to stop",
        config.groups.len(),
        crate::config::format_duration(config.console.poll_interval)
    ));
    let (mut pollers, mut rx) = crate::poller::spawn(&config);
    let mut fleet = FleetState::new(&config);
    let mut history = History::new(config.console.history_len);
    let mut prev = topology::build(&config, &fleet, &history, SystemTime::now());
    let mut confirm = topology::Confirm::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut dirty = false;
    // Hold changes back until every node has answered once, so start-up is not noise.
    let mut settled = false;
    loop {
        tokio::select! {
            _ = int.recv() => break,
            _ = term.recv() => break,
            _ = hup.recv() => break,
            obs = rx.recv() => {
                let Some(obs) = obs else { break };
                history.record(&obs);
                fleet.apply(obs);
                dirty = true;
            }
            _ = tick.tick() => {
                if !dirty {
                    continue;
                }
                if !settled {
                    settled = fleet.groups.iter().flatten().all(|s| s.polls > 0);
                    if !settled {
                        continue;
                    }
                }
                dirty = false;
                let now = SystemTime::now();
                let mut next = topology::build(&config, &fleet, &history, now);
                history.record_lag(&next);
                confirm.apply(&mut next, now);
                for c in topology::changes(&prev, &next, now) {
                    if args.json {
                        output::json(&json_line(&c));
                    } else {
                        output::painted(&text_line(&c, paint));
                    }
                }
                if output::stdout_closed() {
                    // `redops watch | head -3`: the reader is gone, so is the point.
                    break;
                }
                prev = next;
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
        assert!(printed.starts_with("1970-01-01T00:00:00Z \u{1b}[31;1mCRIT\u{1b}[0m "));
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
