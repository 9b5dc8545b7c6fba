//! CLI front-end of the guarded actions: resolve the targets, poll once, prepare the request
//! with the core's session, print the plan with its pre-checks, ask for confirmation on the
//! terminal, run it and print one line per event (or JSON lines), then the outcome. Exit
//! codes: 0 done, 1 failed (state explained), 2 usage/config, 3 refused by pre-checks or
//! guards.
//!
//! Every guard and the whole lifecycle are the core's (`ops::session`); these files only turn
//! arguments into a request, gather the operator's answers and print. The parts:
//! - `args`: the clap arguments and flags, and the [`Request`] each subcommand makes;
//! - `context`: [`ActionContext`], the targets, one poll, interrupted runs;
//! - `run`: the plan print, refusal, confirmation, the run and what it did after;
//! - `events`: one line (or JSON line) per engine event, and the outcome.

mod args;
mod context;
mod events;
mod run;

pub use args::{
    ActionFlags, DownloadBudget, FailbackArgs, PromoteArgs, RejoinArgs, RepointArgs, SnapshotArgs,
    StrategyArg, SwitchoverArgs,
};
pub use context::ActionContext;

use super::{output, Global, TargetArgs, EXIT_OK, EXIT_REFUSED, EXIT_USAGE};
use crate::ops::session::{self, Context, MarkClearing, Preparation};
use crate::ops::{self, ActionKind, ErrorKind, OpsError, Request};

/// `redops snapshot NODE [--download DIR]`.
pub async fn snapshot(targets: &TargetArgs, global: &Global, args: SnapshotArgs) -> u8 {
    act(
        targets,
        global,
        &args.flags,
        Some(&args.budget),
        args.request(),
    )
    .await
}

/// `redops switchover --to NODE [--strategy manual|native]`.
pub async fn switchover(targets: &TargetArgs, global: &Global, args: SwitchoverArgs) -> u8 {
    act(
        targets,
        global,
        &args.flags,
        Some(&args.budget),
        args.request(),
    )
    .await
}

/// `redops failback [--strategy manual|native]`.
pub async fn failback(targets: &TargetArgs, global: &Global, args: FailbackArgs) -> u8 {
    act(
        targets,
        global,
        &args.flags,
        Some(&args.budget),
        args.request(),
    )
    .await
}

/// `redops promote [REPLICA]`: the candidates table, the loss statement, the run; the old
/// primary is then marked for rejoin.
pub async fn promote(targets: &TargetArgs, global: &Global, args: PromoteArgs) -> u8 {
    act(targets, global, &args.flags, None, args.request()).await
}

/// `redops repoint NODE --to SOURCE`, behind the wipe guard.
pub async fn repoint(targets: &TargetArgs, global: &Global, args: RepointArgs) -> u8 {
    act(
        targets,
        global,
        &args.flags,
        Some(&args.budget),
        args.request(),
    )
    .await
}

/// `redops rejoin OLD_PRIMARY`: a repoint to the current primary; clears its rejoin mark.
/// With `--clear-mark`, or when what is seen has settled the mark, only the mark is cleared.
pub async fn rejoin(targets: &TargetArgs, global: &Global, args: RejoinArgs) -> u8 {
    act(
        targets,
        global,
        &args.flags,
        Some(&args.budget),
        args.request(),
    )
    .await
}

/// Every action: the context, the core's `prepare`, then the plan's run or the mark's
/// clearing.
async fn act(
    targets: &TargetArgs,
    global: &Global,
    flags: &ActionFlags,
    budget: Option<&DownloadBudget>,
    mut req: Request,
) -> u8 {
    let ctx = match ActionContext::load(targets, global, flags, budget).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    req.download_timeout = ctx.download_timeout;
    let marks = if req.action == ActionKind::Rejoin {
        let file = ops::promote::marks_path(&ctx.config.console.audit_log);
        ops::promote::load_marks(&file).unwrap_or_else(|e| {
            output::note(&format!("warning: {e}"));
            Vec::new()
        })
    } else {
        Vec::new()
    };
    let session = Context {
        config: &ctx.config,
        topology: &ctx.topology,
        marks: &marks,
        read_only: ctx.read_only,
        now: std::time::SystemTime::now(),
    };
    match session::prepare(&session, &req) {
        Ok(Preparation::Run(p)) => run::run(&ctx, &p, flags).await,
        Ok(Preparation::ClearMark(m)) => clear_mark(&ctx, &m, flags),
        Err(e) => fail(&e),
    }
}

/// Only a rejoin mark to drop: nothing is sent to any server; an audit record says why.
fn clear_mark(ctx: &ActionContext, m: &MarkClearing, flags: &ActionFlags) -> u8 {
    if flags.dry_run {
        output::line(&format!(
            "dry run: {}'s rejoin mark would be cleared: {}",
            m.node, m.why
        ));
        return EXIT_OK;
    }
    match session::clear_marks(&ctx.config.console.audit_log, std::slice::from_ref(m)) {
        Ok(()) => {
            output::line(&format!("{}'s rejoin mark was cleared: {}", m.node, m.why));
            EXIT_OK
        }
        Err(e) => fail(&e),
    }
}

/// Prints an error of the action layer and returns its exit code: nothing to do is not a
/// failure (0), a refusal is 3, anything else 2.
fn fail(e: &OpsError) -> u8 {
    match e.kind {
        ErrorKind::NothingToDo => {
            output::line(&e.message);
            EXIT_OK
        }
        ErrorKind::Refused => {
            output::error(&e.message, e.hint.as_deref());
            EXIT_REFUSED
        }
        ErrorKind::Usage | ErrorKind::Io => {
            output::error(&e.message, e.hint.as_deref());
            EXIT_USAGE
        }
    }
}
