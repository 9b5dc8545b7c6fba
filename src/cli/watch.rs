//! `redops watch`: poll continuously and print one line per change (role flips, links,
//! nodes down/up, anomalies raised/cleared), timestamped, as text or JSON lines, until
//! Ctrl-C / SIGTERM. Each cycle also goes through the data-loss watch (a primary that restarted
//! with less data), whose memory it keeps beside the audit log for configured targets.

use std::time::{Duration, SystemTime};

use clap::Args;
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};

use super::output::{self, Paint};
use super::status::rfc3339;
use super::{TargetArgs, EXIT_OK, EXIT_PROBLEM};
use crate::history::{loss_file, History};
use crate::observe::FleetState;
use crate::topology::{self, Change, LossWatch, Severity};

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
        c.group,
        c.node.as_deref().unwrap_or("-"),
        c.kind.as_str(),
        c.message
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

/// The data-loss watch, seeded from its memory file when there is one (a problem reading it is
/// reported and the watch starts empty).
pub fn load_memory(path: Option<&std::path::Path>) -> LossWatch {
    let Some(path) = path else {
        return LossWatch::new();
    };
    match loss_file::load(path) {
        Ok(state) => LossWatch::from_state(state),
        Err(e) => {
            output::note(&e);
            LossWatch::new()
        }
    }
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
    let memory = targets.loss_memory(&config);
    let mut loss = load_memory(memory.as_deref());
    let mut saved_at: Option<std::time::Instant> = None;
    let mut save_warned = false;
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
                loss.observe(&next, now);
                loss_file::resolve_snapshots(&mut loss, &next, &config.console.backups_dir);
                loss.annotate(&mut next);
                if let Some(path) = &memory {
                    let due = saved_at.is_none_or(|t| t.elapsed() >= loss_file::SAVE_EVERY);
                    if loss.take_changed() || due {
                        saved_at = Some(std::time::Instant::now());
                        match loss_file::save(path, &loss.state()) {
                            Err(e) if !save_warned => {
                                save_warned = true;
                                output::note(&format!("the data-loss memory is not kept: {e}"));
                            }
                            _ => {}
                        }
                    }
                }
                for c in topology::changes(&prev, &next, now) {
                    output::line(&if args.json { json_line(&c) } else { text_line(&c, paint) });
                }
                prev = next;
            }
        }
    }
    pollers.stop();
    EXIT_OK
}
