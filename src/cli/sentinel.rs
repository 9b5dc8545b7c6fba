//! `redops sentinel reset GROUP`: the plan (`ops::sentinel_reset`), a y/N confirmation (or
//! `--yes`), then one line (or JSON line) per sentinel as it is reset and has found the
//! replicas and its peers again. Exit 0 done, 1 stopped half-way (the line says where), 2
//! usage, 3 refused (read-only, the guard, not confirmed).

use clap::{Args, Subcommand};

use super::{output, status, Global, TargetArgs, EXIT_OK, EXIT_PROBLEM, EXIT_REFUSED};
use crate::node::Timeouts;
use crate::ops::sentinel_reset::{self, ResetEvent};
use crate::ops::Confirm;

/// `redops sentinel ...`.
#[derive(Debug, Clone, Args)]
pub struct SentinelArgs {
    #[command(subcommand)]
    pub command: SentinelCommand,
}

/// What to do through a group's sentinels.
#[derive(Debug, Clone, Subcommand)]
pub enum SentinelCommand {
    /// SENTINEL RESET on each sentinel of the group, one at a time, each waiting until it has
    /// found the replicas and the other sentinels again; refused when fewer than a quorum
    /// would remain knowing the master.
    Reset(ResetArgs),
}

/// `redops sentinel reset GROUP`.
#[derive(Debug, Clone, Args)]
pub struct ResetArgs {
    /// The group whose sentinels are reset (its own id: `--group` is the targets' option).
    #[arg(id = "reset_group", value_name = "GROUP")]
    pub group: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// JSON lines: the plan, then one object per event.
    #[arg(long)]
    pub json: bool,
}

/// Runs `redops sentinel ...`.
pub async fn run(targets: &TargetArgs, global: &Global, args: SentinelArgs) -> u8 {
    let SentinelCommand::Reset(args) = args.command;
    let config = match targets.resolve_or_report().await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let topology = status::snapshot(&config).await;
    let plan = match sentinel_reset::plan(&config, &topology, &args.group) {
        Ok(p) => p,
        Err(e) => {
            output::error(&e.message, e.hint.as_deref());
            return super::next_step::exit_code(e.kind);
        }
    };
    if args.json {
        output::json(&serde_json::json!({"event": "plan", "plan": plan}).to_string());
    } else {
        for l in plan.to_string().lines() {
            output::line(l);
        }
    }
    if args.dry_run {
        output::line("dry run: nothing was changed");
        return EXIT_OK;
    }
    let read_only = global.read_only
        || config.console.read_only
        || config
            .groups
            .iter()
            .any(|g| g.name == args.group && g.read_only);
    if read_only {
        output::error(
            "read-only: redops resets no sentinel here",
            Some(
                "the group or the console is read-only (the command line, [console] or the group)",
            ),
        );
        return EXIT_REFUSED;
    }
    if let Err(code) = super::actions::confirm(&Confirm::Yes, args.yes) {
        return code;
    }
    let json = args.json;
    let done = sentinel_reset::run(
        &plan,
        Timeouts::from(&config.console),
        &config.console.audit_log,
        |e| show(&e, json),
    )
    .await;
    match done {
        Ok(true) => EXIT_OK,
        Ok(false) => EXIT_PROBLEM,
        Err(e) => {
            output::error(&e.message, e.hint.as_deref());
            super::next_step::exit_code(e.kind)
        }
    }
}

fn show(e: &ResetEvent, json: bool) {
    if json {
        output::json(&serde_json::to_string(e).unwrap_or_default());
        return;
    }
    output::line(&match e {
        ResetEvent::ResetSent { step, sentinel } => {
            format!("step {}: SENTINEL RESET sent to {sentinel}", step + 1)
        }
        ResetEvent::Rediscovered {
            step,
            sentinel,
            replicas,
            peers,
            ms,
        } => format!(
            "step {} ok ({ms} ms): {sentinel} knows {replicas} replica(s) and {peers} other \
             sentinel(s) again",
            step + 1
        ),
        ResetEvent::Stopped { step, why } => format!("step {} stopped: {why}", step + 1),
        ResetEvent::Finished { done: true } => "done: every sentinel was reset".to_string(),
        ResetEvent::Finished { done: false } => {
            "failed: the reset stopped (see the step above); the sentinels reset so far keep \
             finding the group by themselves"
                .to_string()
        }
    });
}
