//! CLI front-end of the guarded actions: resolve the targets, poll once, prepare the request
//! with the core's session, print the plan with its pre-checks, ask for confirmation on the
//! terminal, run it and print one line per event (or JSON lines), then the outcome. Exit
//! codes: 0 done, 1 failed (state explained), 2 usage/config, 3 refused by pre-checks or
//! guards.
//!
//! Every guard and the whole lifecycle are the core's (`ops::session`); these files only turn
//! arguments into a request, gather the operator's answers and print. The parts:
//! - `args`: the clap arguments and flags, and the core request each subcommand makes
//!   ([`ActionArgs`]);
//! - `context`: [`ActionContext`], the targets, one poll, interrupted runs;
//! - `run`: the plan print, refusal, confirmation, the run and what it did after;
//! - `events`: one line (or JSON line) per engine event, and the outcome.

mod args;
mod context;
mod events;
mod progress;
mod run;
mod strategy;

pub(crate) use run::confirm;

pub use args::{
    ActionArgs, ActionFlags, DownloadBudget, FailbackArgs, PromoteArgs, RejoinArgs, RepointArgs,
    RestoreArgs, SnapshotArgs, StrategyArg, SwitchoverArgs,
};
pub use context::ActionContext;

use super::{output, Global, TargetArgs, EXIT_OK};
use crate::ops::session::{self, Context, MarkClearing, Preparation};
use crate::ops::{self, ErrorKind, OpsError};

/// Any action: the context, the core's `prepare`, then the plan's run (or only the mark's
/// clearing, for a rejoin whose mark is to go). Returns the exit code.
pub async fn act<A: ActionArgs>(targets: &TargetArgs, global: &Global, args: &A) -> u8 {
    let flags = args.flags();
    let ctx = match ActionContext::load(targets, global, flags, args.budget()).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut req = args.request();
    req.download_timeout = ctx.download_timeout;
    if let Err(code) = args.complete(&mut req, &ctx.config) {
        return code;
    }
    let marks = if req.uses_marks() {
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
        // Sentinel already promoted: the statement is the answer, and it is recorded (not
        // on a dry run).
        Err(e) if e.kind == ErrorKind::NothingToDo && req.action == ops::ActionKind::Promote => {
            let recorded = if flags.dry_run {
                Ok(())
            } else {
                ops::promote::sentinel::record(&ctx.config, &ctx.topology, &req, &e.message)
            };
            if let Err(w) = recorded {
                output::note(&format!("warning: {}", w.message));
            }
            fail(&e, ctx.json)
        }
        Err(e) => fail(&e, ctx.json),
    }
}

/// Only a rejoin mark to drop: nothing is sent to any server; an audit record says why.
fn clear_mark(ctx: &ActionContext, m: &MarkClearing, flags: &ActionFlags) -> u8 {
    if flags.dry_run {
        if ctx.json {
            output::json(
                &serde_json::json!({"event": "dry_run", "changed": false, "would_refuse": false,
                    "would_clear_mark": m.node, "why": m.why})
                .to_string(),
            );
        } else {
            output::line(&format!(
                "dry run: {}'s rejoin mark would be cleared: {}",
                m.node, m.why
            ));
        }
        return EXIT_OK;
    }
    match session::clear_marks(&ctx.config.console.audit_log, std::slice::from_ref(m)) {
        Ok(()) if ctx.json => {
            output::json(
                &serde_json::json!({"event": "rejoin_mark_cleared", "node": m.node, "why": m.why})
                    .to_string(),
            );
            EXIT_OK
        }
        Ok(()) => {
            output::line(&format!("{}'s rejoin mark was cleared: {}", m.node, m.why));
            EXIT_OK
        }
        Err(e) => fail(&e, ctx.json),
    }
}

/// Prints an error of the action layer and returns its exit code (`next_step::exit_code`):
/// nothing to do is not a failure (0), a refusal is 3, a usage problem 2. Errors go to
/// stderr; "nothing to do" is the answer, on stdout (a JSON object with `--json`).
fn fail(e: &OpsError, json: bool) -> u8 {
    if e.kind == ErrorKind::NothingToDo && json {
        output::json(
            &serde_json::json!({"event": "nothing_to_do", "detail": e.message}).to_string(),
        );
    } else if e.kind == ErrorKind::NothingToDo {
        output::line(&e.message);
    } else {
        output::error(&e.message, e.hint.as_deref());
        if e.overridable {
            output::note(&format!("  hint: {}", super::next_step::OVERRIDE));
        }
    }
    super::next_step::exit_code(e.kind)
}
