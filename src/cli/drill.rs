//! `redops drill list`, `redops drill NAME|FILE` (the console with a drill panel) and
//! `redops drill run NAME|FILE --headless`: the drills from the command line. All the work is
//! in [`crate::drill`]; this file parses, prints (text or JSON lines, each with its
//! `"event"`), opens the console on the drill's sandbox, and stops the drill on Ctrl-C or
//! SIGTERM (dropping the run stops its sandbox).

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use clap::{Args, Subcommand};
use tokio::signal::unix::{signal, SignalKind};

mod console;

use super::{output, Global, TargetArgs, EXIT_OK, EXIT_PROBLEM, EXIT_USAGE};
use crate::drill::{self, DrillError, DrillEvent, RunnerEvent};

/// `redops drill ...`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DrillArgs {
    #[command(subcommand)]
    pub command: Option<DrillCommand>,
    /// A built-in drill's id, or the path of a drill file: opens the console on its sandbox,
    /// with the drill panel.
    #[arg(value_name = "NAME|FILE")]
    pub drill: Option<String>,
    /// Overrides the drill's time limit (e.g. 120s, 5m).
    #[arg(long, value_name = "DURATION")]
    pub time_limit: Option<String>,
    /// The redis-server or valkey-server binary to run.
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<PathBuf>,
}

/// What to do with drills.
#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// List the built-in drills.
    List {
        /// One JSON object per drill.
        #[arg(long)]
        json: bool,
    },
    /// Run a drill on a fresh sandbox: in the console, or with --headless while you act
    /// with `redops -c CONFIG ...`. Exit 0 passed, 1 failed or timed out, 2 usage.
    Run(RunArgs),
}

/// `redops drill run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A built-in drill's id, or the path of a drill file.
    #[arg(value_name = "NAME|FILE")]
    pub drill: String,
    /// No console: print the drill's events and its report.
    #[arg(long)]
    pub headless: bool,
    /// Events as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Overrides the drill's time limit (e.g. 120s, 5m).
    #[arg(long, value_name = "DURATION")]
    pub time_limit: Option<String>,
    /// The redis-server or valkey-server binary to run.
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<PathBuf>,
}

/// Runs `redops drill ...`; returns the exit code.
pub async fn run(targets: &TargetArgs, global: &Global, args: DrillArgs) -> u8 {
    match (args.command, args.drill) {
        (Some(DrillCommand::List { json }), _) => list(json),
        (Some(DrillCommand::Run(r)), _) => run_one(targets, global, r).await,
        (None, Some(drill)) => {
            let r = RunArgs {
                drill,
                headless: false,
                json: false,
                time_limit: args.time_limit,
                server_bin: args.server_bin,
            };
            run_one(targets, global, r).await
        }
        (None, None) => {
            output::error(
                "which drill?",
                Some("`redops drill list` shows them; `redops drill master-crash` plays one"),
            );
            EXIT_USAGE
        }
    }
}

fn fail(e: &DrillError) -> u8 {
    let message = match &e.at {
        Some(at) => format!("{}\n  --> {at}", e.message),
        None => e.message.clone(),
    };
    output::error(&message, Some(&e.hint));
    EXIT_USAGE
}

fn list(json: bool) -> u8 {
    let drills = match drill::builtins() {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    for d in &drills {
        if json {
            let v = serde_json::json!({
                "id": d.id,
                "title": d.title,
                "incident": d.incident,
                "steps": d.steps.len(),
                "time_limit": crate::config::format_duration(d.time_limit),
                "disabled": d.disabled,
            });
            output::json(&v.to_string());
        } else {
            let off = d
                .disabled
                .as_ref()
                .map(|why| format!(" (disabled: {why})"))
                .unwrap_or_default();
            output::line(&format!("{:<24} {}{off}", d.id, d.title));
        }
    }
    EXIT_OK
}

async fn run_one(targets: &TargetArgs, global: &Global, args: RunArgs) -> u8 {
    let time_limit = match args
        .time_limit
        .as_deref()
        .map(crate::config::parse_duration)
    {
        None => None,
        Some(Ok(d)) if !d.is_zero() => Some(d),
        Some(Ok(_)) => {
            output::error(
                "a zero --time-limit ends the drill at once",
                Some("for example --time-limit 120s"),
            );
            return EXIT_USAGE;
        }
        Some(Err(e)) => {
            output::error(
                &format!("invalid --time-limit: {e}"),
                Some("for example --time-limit 120s"),
            );
            return EXIT_USAGE;
        }
    };
    let spec = match drill::find(&args.drill) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if let Some(why) = &spec.disabled {
        output::error(&format!("drill '{}' is disabled: {why}", spec.id), None);
        return EXIT_USAGE;
    }
    let opts = drill::Options {
        time_limit,
        reports_dir: drill::report::reports_dir(&audit_log(targets)),
        server_bin: args.server_bin,
        hint_asks: Arc::default(),
    };
    if !args.headless {
        if args.json {
            output::error(
                "--json is for --headless",
                Some("add --headless, or drop --json"),
            );
            return EXIT_USAGE;
        }
        // Before the sandbox starts: from a pipe or cron the console cannot run.
        if let Err(code) = super::console_terminal() {
            return code;
        }
        return console::play(spec, &opts, global).await;
    }
    listen_for_hints(&opts.hint_asks);
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        output::error("cannot listen for signals", None);
        return EXIT_PROBLEM;
    };
    let json = args.json;
    let played = tokio::select! {
        r = drill::run(spec, &opts, |e| print_event(&e, json)) => r,
        _ = int.recv() => {
            output::note("interrupted: the drill's servers are stopped, no report written");
            return EXIT_PROBLEM;
        }
        _ = term.recv() => return EXIT_PROBLEM,
    };
    match played {
        Ok(report) if report.passed => EXIT_OK,
        Ok(_) => EXIT_PROBLEM,
        Err(e) => fail(&e),
    }
}

/// A line `hint` (or `h`) on standard input asks for the current step's next hint. The
/// reading thread blocks on stdin and ends with the process.
fn listen_for_hints(asks: &Arc<AtomicUsize>) {
    let asks = Arc::clone(asks);
    let _ = std::thread::Builder::new()
        .name("drill-hints".to_string())
        .spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if matches!(line.trim(), "h" | "hint") {
                    asks.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
}

/// The audit log of the config given with `-c`, else the default one in redops's data
/// directory: drill reports go beside it.
fn audit_log(targets: &TargetArgs) -> PathBuf {
    targets
        .config
        .as_deref()
        .and_then(|p| crate::config::load_file(p).ok())
        .map_or_else(
            || crate::config::Console::default().audit_log,
            |c| c.console.audit_log,
        )
}

fn print_event(e: &RunnerEvent, json: bool) {
    if json {
        if let Ok(s) = serde_json::to_string(e) {
            output::json(&s);
        }
        return;
    }
    match e {
        RunnerEvent::DrillStarted {
            drill,
            title,
            incident,
            config,
            nodes,
            time_limit,
            ..
        } => {
            output::line(&format!("drill {drill}: {title}"));
            output::line(&format!("  {incident}"));
            output::line(&format!(
                "  sandbox: {} ({}), time limit {}",
                config.display(),
                nodes.join(", "),
                crate::config::format_duration(*time_limit)
            ));
            output::line(&format!("  act with: redops -c {} ...", config.display()));
            output::line("  type 'hint' and Enter for a hint");
        }
        RunnerEvent::Step(DrillEvent::StepStarted {
            step,
            goal,
            hints,
            time_limit,
            ..
        }) => {
            let limit = time_limit
                .map(|d| format!(", limit {}", crate::config::format_duration(d)))
                .unwrap_or_default();
            output::line(&format!(
                "step {}: {goal} ({} available{limit})",
                step + 1,
                crate::words::count(*hints, "hint")
            ));
        }
        RunnerEvent::FaultInjected { what, .. } => output::line(&format!("  fault: {what}")),
        RunnerEvent::Step(DrillEvent::Hint { text, asked, .. }) => {
            let by_itself = if *asked { "" } else { " (shown by itself)" };
            output::line(&format!("  hint{by_itself}: {text}"));
        }
        RunnerEvent::Step(DrillEvent::StepDone { step, elapsed_ms }) => output::line(&format!(
            "step {} done in {}",
            step + 1,
            drill::report::secs(*elapsed_ms)
        )),
        RunnerEvent::Waiting { missing, .. } => {
            output::line(&format!("  waiting for: {}", missing.join("; ")));
        }
        RunnerEvent::Step(DrillEvent::FaultDue { .. } | DrillEvent::Over { .. }) => {}
        RunnerEvent::DrillFinished { report } => {
            for l in report.to_text().lines() {
                output::line(l);
            }
            if let Some(p) = &report.path {
                output::line(&format!("report: {}", p.display()));
            }
        }
    }
}
