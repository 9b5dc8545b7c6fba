//! Running a plan from the command line: print the plan (text or a JSON line), decide whether
//! it is refused, ask for confirmation on the terminal (or take `--yes`), open the audit log,
//! run the engine, and print one line per event (or JSON lines) and then the outcome.
//! Every guard is the engine's: this only gathers the operator's answers and prints.

// The confirmation prompt goes to stderr without a newline, so it cannot use `output`.
#![allow(clippy::print_stderr)]

use std::io::{BufRead, IsTerminal, Write};

use super::events::{print_event, print_outcome};
use super::{ActionContext, ActionFlags};
use crate::audit::AuditLog;
use crate::cli::{output, EXIT_OK, EXIT_REFUSED, EXIT_USAGE};
use crate::ops::redis_ops::action_client_name;
use crate::ops::{self, Approval, Confirm, Plan, RealOps, RunOutcome};

/// Prints the plan, asks for confirmation, runs it, prints the outcome; returns the exit code.
pub async fn execute(ctx: &ActionContext, plan: &Plan, flags: &ActionFlags) -> u8 {
    match run_plan(ctx, plan, flags).await {
        Ok(outcome) => outcome.exit_code(),
        Err(code) => code,
    }
}

/// As [`execute`], returning the run's outcome when the engine ran (`Err(exit code)` for a
/// dry run, a missing confirmation or a usage problem).
///
/// # Errors
/// The exit code when no run took place.
pub async fn run_plan(
    ctx: &ActionContext,
    plan: &Plan,
    flags: &ActionFlags,
) -> Result<RunOutcome, u8> {
    if ctx.json {
        output::json(&serde_json::json!({"event": "Plan", "plan": plan}).to_string());
    } else {
        for l in plan.to_string().lines() {
            output::line(l);
        }
    }
    let forced = flags.force && flags.reason.is_some();
    let blocked = ctx.read_only
        || plan.read_only.is_some()
        || (plan.changes_roles() && plan.ha_manager.is_some())
        || plan.has_hard_failure()
        || (!plan.checks_pass() && !forced);
    if flags.dry_run {
        output::line(if blocked {
            "dry run: nothing was changed; this plan would be refused"
        } else {
            "dry run: nothing was changed"
        });
        return Err(if blocked { EXIT_REFUSED } else { EXIT_OK });
    }
    let confirmation = if blocked {
        None // The engine refuses and records why; asking would be pointless.
    } else {
        match confirm(&plan.confirm, flags.yes) {
            Ok(c) => Some(c),
            Err(code) => return Err(code),
        }
    };
    let approval = Approval {
        read_only: ctx.read_only,
        confirmation,
        force_reason: if flags.force {
            flags.reason.clone()
        } else {
            None
        },
        skip_snapshot_reason: if flags.skip_snapshot {
            flags.reason.clone()
        } else {
            None
        },
    };
    let path = &ctx.config.console.audit_log;
    let mut log = match AuditLog::open(path) {
        Ok(l) => l,
        Err(e) => {
            output::error(
                &format!("cannot open the audit log '{}': {e}", path.display()),
                Some("set console.audit_log to a writable file; no action runs without an audit trail"),
            );
            return Err(EXIT_USAGE);
        }
    };
    let who = log.who().clone();
    let name = action_client_name(&who.user, &who.host, who.pid);
    let ops = match RealOps::new(&ctx.config, plan.group_index, &name) {
        Ok(o) => o,
        Err(e) => {
            output::error(&format!("cannot prepare the connections: {e}"), None);
            return Err(EXIT_USAGE);
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let json = ctx.json;
    let printer = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            print_event(&e, json);
        }
    });
    let outcome = ops::run(plan, &approval, &ops, &mut log, &tx).await;
    drop(tx);
    let _ = printer.await;
    print_outcome(&outcome, json);
    Ok(outcome)
}

/// Asks on the terminal. `--yes` answers for the operator.
fn confirm(what: &Confirm, yes: bool) -> Result<String, u8> {
    let expected = match what {
        Confirm::Yes => "yes".to_string(),
        Confirm::TypeName(n) => n.clone(),
    };
    if yes {
        return Ok(expected);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        output::error(
            "refusing to act without confirmation: standard input is not a terminal",
            Some(
                "run it in a terminal to confirm, or pass --yes (after --dry-run to see the plan)",
            ),
        );
        return Err(EXIT_USAGE);
    }
    match what {
        Confirm::Yes => output::prompt("proceed? type 'yes': "),
        Confirm::TypeName(n) => output::prompt(&format!(
            "this changes roles. type the target's name ({n}) to proceed: "
        )),
    }
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if stdin.lock().read_line(&mut line).is_err() || line.trim() != expected {
        output::error("not confirmed: nothing was done", None);
        return Err(EXIT_USAGE);
    }
    Ok(expected)
}
