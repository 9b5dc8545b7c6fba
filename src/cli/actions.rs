//! CLI front-end of the guarded actions: resolve the targets, poll once, build the plan, print
//! it with its pre-checks, ask for confirmation on the terminal, run the engine and print one
//! line per event (or JSON lines), then the outcome. Exit codes: 0 done, 1 failed (state
//! explained), 2 usage/config, 3 refused by pre-checks or guards.
//!
//! Every guard is the engine's; these files only gather the operator's answers. This file holds
//! one entry point per subcommand, which builds its plan with the engine's planner; the parts:
//! - `args`: the clap arguments and flags;
//! - `context`: [`ActionContext`], the targets, one poll, the budgets, interrupted runs;
//! - `run`: [`execute`] / [`run_plan`], the plan print, confirmation, progress, outcome.
//!
//! `promote`, `repoint` and `rejoin` plug their plan builders into [`ActionContext`] and
//! [`execute`].

mod args;
mod context;
mod events;
mod run;

pub use args::{
    ActionFlags, DownloadBudget, FailbackArgs, PromoteArgs, RejoinArgs, RepointArgs, SnapshotArgs,
    StrategyArg, SwitchoverArgs,
};
pub use context::ActionContext;
pub use run::{execute, run_plan};

use super::{output, Global, TargetArgs, EXIT_OK, EXIT_USAGE};
use crate::ops;

fn usage(message: &str) -> u8 {
    let (msg, hint) = match message.split_once("\n  hint: ") {
        Some((m, h)) => (m, Some(h)),
        None => (message, None),
    };
    output::error(msg, hint);
    EXIT_USAGE
}

/// `redops snapshot NODE [--download DIR]`.
pub async fn snapshot(targets: &TargetArgs, global: &Global, args: SnapshotArgs) -> u8 {
    let ctx =
        match ActionContext::load_downloading(targets, global, &args.flags, &args.budget).await {
            Ok(c) => c,
            Err(code) => return code,
        };
    let node = match ops::find_node(&ctx.config, &ctx.topology, &args.node) {
        Ok(n) => n,
        Err(e) => return usage(&e),
    };
    let mut plan = ops::snapshot::plan_snapshot(&node, args.download.clone(), ctx.budgets);
    if let Some(g) = ctx.config.groups.get(node.group_index) {
        let gt = ops::group_topology(&ctx.topology, node.group_index);
        ops::checks::group_guard(&mut plan, g, &gt);
    }
    execute(&ctx, &plan, &args.flags).await
}

/// `redops switchover --to NODE [--strategy manual|native]`.
pub async fn switchover(targets: &TargetArgs, global: &Global, args: SwitchoverArgs) -> u8 {
    let ctx =
        match ActionContext::load_downloading(targets, global, &args.flags, &args.budget).await {
            Ok(c) => c,
            Err(code) => return code,
        };
    let req = ops::switchover::SwitchoverRequest {
        to: args.to.clone(),
        strategy: args.strategy.into(),
        budgets: ctx.budgets,
        download_dir: args.download.clone(),
    };
    match ops::switchover::plan_switchover(&ctx.config, &ctx.topology, &req) {
        Ok(plan) => execute(&ctx, &plan, &args.flags).await,
        Err(e) => usage(&e),
    }
}

/// `redops failback [--strategy manual|native]`.
pub async fn failback(targets: &TargetArgs, global: &Global, args: FailbackArgs) -> u8 {
    let ctx =
        match ActionContext::load_downloading(targets, global, &args.flags, &args.budget).await {
            Ok(c) => c,
            Err(code) => return code,
        };
    match ops::switchover::plan_failback(
        &ctx.config,
        &ctx.topology,
        args.strategy.into(),
        ctx.budgets,
        args.download.clone(),
    ) {
        Ok(plan) => execute(&ctx, &plan, &args.flags).await,
        Err(e) => usage(&e),
    }
}

/// `redops promote [REPLICA]`: the candidates table, the loss statement, the run; the old
/// primary is then marked for rejoin.
pub async fn promote(targets: &TargetArgs, global: &Global, args: PromoteArgs) -> u8 {
    let ctx = match ActionContext::load(targets, global, &args.flags).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let req = ops::promote::PromoteRequest {
        node: args.node.clone(),
        budgets: ctx.budgets,
        max_extra_link_down: ops::promote::DEFAULT_MAX_EXTRA_LINK_DOWN,
        now: std::time::SystemTime::now(),
    };
    let pp = match ops::promote::plan_promote(&ctx.config, &ctx.topology, &req) {
        Ok(p) => p,
        Err(e) => return usage(&e),
    };
    let outcome = match run_plan(&ctx, &pp.plan, &args.flags).await {
        Ok(o) => o,
        Err(code) => return code,
    };
    let marks = ops::promote::marks_path(&ctx.config.console.audit_log);
    match pp.mark_old_primary(&outcome, &marks) {
        Ok(Some(m)) if !ctx.json => output::line(&format!(
            "  {} is marked for rejoin ({}): when it is back, run `redops rejoin {}`",
            m.node,
            marks.display(),
            m.node
        )),
        Ok(_) => {}
        Err(e) => output::note(&format!(
            "warning: the old primary could not be marked: {e}"
        )),
    }
    outcome.exit_code()
}

/// `redops repoint NODE --to SOURCE`, behind the wipe guard.
pub async fn repoint(targets: &TargetArgs, global: &Global, args: RepointArgs) -> u8 {
    let ctx =
        match ActionContext::load_downloading(targets, global, &args.flags, &args.budget).await {
            Ok(c) => c,
            Err(code) => return code,
        };
    let req = ops::repoint::RepointRequest {
        node: args.node.clone(),
        to: args.to.clone(),
        budgets: ctx.budgets,
        backups_dir: ctx.config.console.backups_dir.clone(),
        sync_deadline: ops::repoint::DEFAULT_SYNC_DEADLINE,
    };
    match ops::repoint::plan_repoint(&ctx.config, &ctx.topology, &req) {
        Ok(rp) => execute(&ctx, &rp.plan, &args.flags).await,
        Err(e) => usage(&e),
    }
}

/// `redops rejoin OLD_PRIMARY`: a repoint to the current primary; clears its rejoin mark.
pub async fn rejoin(targets: &TargetArgs, global: &Global, args: RejoinArgs) -> u8 {
    let ctx =
        match ActionContext::load_downloading(targets, global, &args.flags, &args.budget).await {
            Ok(c) => c,
            Err(code) => return code,
        };
    let marks_file = ops::promote::marks_path(&ctx.config.console.audit_log);
    let marks = ops::promote::load_marks(&marks_file).unwrap_or_else(|e| {
        output::note(&format!("warning: {e}"));
        Vec::new()
    });
    if let Some(code) = settle_mark(&ctx, &args, &marks) {
        return code;
    }
    let rp = match ops::repoint::plan_rejoin(
        &ctx.config,
        &ctx.topology,
        &args.node,
        &marks,
        ctx.budgets,
        ctx.config.console.backups_dir.clone(),
        ops::repoint::DEFAULT_SYNC_DEADLINE,
    ) {
        Ok(rp) => rp,
        Err(e) => return usage(&e),
    };
    let outcome = match run_plan(&ctx, &rp.plan, &args.flags).await {
        Ok(o) => o,
        Err(code) => return code,
    };
    if outcome.status == ops::RunStatus::Done {
        let node = rp
            .plan
            .nodes
            .first()
            .map(|n| n.name.clone())
            .unwrap_or_default();
        if let Err(e) = ops::promote::marks::clear(&marks_file, &rp.plan.group, &node) {
            output::note(&format!(
                "warning: the rejoin mark could not be cleared: {e}"
            ));
        }
    }
    outcome.exit_code()
}

/// `rejoin --clear-mark`, or a mark that what is seen has settled (the node already follows
/// the primary with its link up): the mark is cleared with an audit record and nothing else
/// runs. `None` when a rejoin is to be planned.
fn settle_mark(
    ctx: &ActionContext,
    args: &RejoinArgs,
    marks: &[ops::promote::RejoinMark],
) -> Option<u8> {
    let node = match ops::find_node(&ctx.config, &ctx.topology, &args.node) {
        Ok(n) => n,
        Err(e) => return Some(usage(&e)),
    };
    let (group, name) = (node.group_name.to_string(), node.cfg.name.clone());
    let mark = marks.iter().find(|m| m.group == group && m.node == name);
    let why = if args.clear_mark {
        if mark.is_none() {
            output::line(&format!("{name} has no rejoin mark: nothing to clear"));
            return Some(EXIT_OK);
        }
        "cleared by the operator (rejoin --clear-mark)".to_string()
    } else {
        let gt = ops::group_topology(&ctx.topology, node.group_index);
        ops::promote::marks::settled(mark?, &gt)?
    };
    if args.flags.dry_run {
        output::line(&format!(
            "dry run: {name}'s rejoin mark would be cleared: {why}"
        ));
        return Some(EXIT_OK);
    }
    let path = &ctx.config.console.audit_log;
    let mut log = match crate::audit::AuditLog::open(path) {
        Ok(l) => l,
        Err(e) => {
            output::error(
                &format!("cannot open the audit log '{}': {e}", path.display()),
                Some("set console.audit_log to a writable file"),
            );
            return Some(EXIT_USAGE);
        }
    };
    let file = ops::promote::marks_path(path);
    match ops::promote::marks::clear_audited(&file, &mut log, &group, &name, &why) {
        Ok(_) => {
            output::line(&format!("{name}'s rejoin mark was cleared: {why}"));
            Some(EXIT_OK)
        }
        Err(e) => {
            output::error(&e, None);
            Some(EXIT_USAGE)
        }
    }
}
