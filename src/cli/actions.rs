//! CLI front-end of the guarded actions: resolve the targets, poll once, build the plan, print
//! it with its pre-checks, ask for confirmation on the terminal, run the engine and print one
//! line per event (or JSON lines), then the outcome. Exit codes: 0 done, 1 failed (state
//! explained), 2 usage/config, 3 refused by pre-checks or guards.
//!
//! Every guard is the engine's; this file only gathers the operator's answers. `promote`,
//! `repoint` and `rejoin` plug their plan builders into [`ActionContext`] and [`execute`].

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{output, Global, TargetArgs, EXIT_OK, EXIT_REFUSED, EXIT_USAGE};
use crate::audit::{self, AuditLog};
use crate::config::Config;
use crate::ops::redis_ops::action_client_name;
use crate::ops::{self, Approval, Budgets, Confirm, Plan, RealOps, RunEvent, RunOutcome, Strategy};
use crate::topology::Topology;

/// Flags shared by every action.
#[derive(Debug, Clone, Default, Args)]
pub struct ActionFlags {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Print the plan and pre-checks; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Override failed pre-checks where that is safe to offer (needs --reason).
    #[arg(long)]
    pub force: bool,
    /// Why: required with --force and --skip-snapshot; recorded in the audit log.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Skip the snapshot gate (needs --reason).
    #[arg(long)]
    pub skip_snapshot: bool,
    /// Progress as JSON lines.
    #[arg(long)]
    pub json: bool,
}

/// `--download-timeout`, on the actions that may download an RDB.
#[derive(Debug, Clone, Default, Args)]
pub struct DownloadBudget {
    /// The longest the RDB download may take, e.g. 90s or 10m (overrides
    /// console.download_timeout for this action).
    #[arg(long, value_name = "DURATION")]
    pub download_timeout: Option<String>,
}

impl DownloadBudget {
    /// The value given, if any.
    ///
    /// # Errors
    /// Exit code 2 for a value that is not a positive duration (the problem is printed).
    pub fn parse(&self) -> Result<Option<Duration>, u8> {
        let Some(v) = &self.download_timeout else {
            return Ok(None);
        };
        let hint = Some("give a positive duration, for example --download-timeout 10m");
        match crate::config::parse_duration(v) {
            Ok(d) if !d.is_zero() => Ok(Some(d)),
            Ok(_) => {
                output::error(
                    &format!("invalid --download-timeout '{v}': it must be more than zero"),
                    hint,
                );
                Err(EXIT_USAGE)
            }
            Err(e) => {
                output::error(&format!("invalid --download-timeout: {e}"), hint);
                Err(EXIT_USAGE)
            }
        }
    }
}

/// `redops snapshot NODE`.
#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    /// Node name or address.
    pub node: String,
    /// Also download the RDB over the replication protocol into this directory.
    #[arg(long, value_name = "DIR")]
    pub download: Option<PathBuf>,
    #[command(flatten)]
    pub budget: DownloadBudget,
    #[command(flatten)]
    pub flags: ActionFlags,
}

/// Switchover strategy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// Pause writes, wait for proven catch-up, promote, demote, repoint, unpause.
    #[default]
    Manual,
    /// The server's FAILOVER TO command (6.2+), then repoint the siblings.
    Native,
}

/// `redops switchover --to REPLICA`.
#[derive(Debug, Clone, Args)]
pub struct SwitchoverArgs {
    /// The replica to promote (name or address).
    #[arg(long, value_name = "NODE")]
    pub to: String,
    #[arg(long, value_enum, default_value_t)]
    pub strategy: StrategyArg,
    /// Also download the old primary's RDB into this directory before it is demoted.
    #[arg(long, value_name = "DIR")]
    pub download: Option<PathBuf>,
    #[command(flatten)]
    pub budget: DownloadBudget,
    #[command(flatten)]
    pub flags: ActionFlags,
}

/// `redops failback`.
#[derive(Debug, Clone, Args)]
pub struct FailbackArgs {
    #[arg(long, value_enum, default_value_t)]
    pub strategy: StrategyArg,
    /// Also download the current primary's RDB into this directory before it is demoted.
    #[arg(long, value_name = "DIR")]
    pub download: Option<PathBuf>,
    #[command(flatten)]
    pub budget: DownloadBudget,
    #[command(flatten)]
    pub flags: ActionFlags,
}

/// `redops promote [REPLICA]`.
#[derive(Debug, Clone, Args)]
pub struct PromoteArgs {
    /// The replica to promote; the best candidate when omitted.
    pub node: Option<String>,
    #[command(flatten)]
    pub flags: ActionFlags,
}

/// `redops repoint NODE --to SOURCE`.
#[derive(Debug, Clone, Args)]
pub struct RepointArgs {
    /// The node that will replicate (its data is replaced unless a partial resync is possible).
    pub node: String,
    /// The node to replicate from.
    #[arg(long, value_name = "SOURCE")]
    pub to: String,
    #[command(flatten)]
    pub budget: DownloadBudget,
    #[command(flatten)]
    pub flags: ActionFlags,
}

/// `redops rejoin OLD_PRIMARY`.
#[derive(Debug, Clone, Args)]
pub struct RejoinArgs {
    /// The restarted old primary to bring back as a replica.
    pub node: String,
    #[command(flatten)]
    pub budget: DownloadBudget,
    #[command(flatten)]
    pub flags: ActionFlags,
}

impl From<StrategyArg> for Strategy {
    fn from(s: StrategyArg) -> Self {
        match s {
            StrategyArg::Manual => Self::Manual,
            StrategyArg::Native => Self::Native,
        }
    }
}

/// What every action starts from: the resolved config, one poll's topology, the budgets.
#[derive(Debug)]
pub struct ActionContext {
    pub config: Config,
    pub topology: Topology,
    pub budgets: Budgets,
    pub read_only: bool,
    pub json: bool,
}

impl ActionContext {
    /// Resolves the targets, checks the flags, polls once, and reports interrupted runs.
    ///
    /// # Errors
    /// The exit code to return (the problem has been printed).
    pub async fn load(
        targets: &TargetArgs,
        global: &Global,
        flags: &ActionFlags,
    ) -> Result<Self, u8> {
        let needs_reason = |on: bool, what: &str| -> Result<(), u8> {
            if on && flags.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                output::error(
                    &format!("{what} needs a reason"),
                    Some("add --reason \"why\" (it is recorded in the audit log)"),
                );
                return Err(EXIT_USAGE);
            }
            Ok(())
        };
        needs_reason(flags.force, "--force")?;
        needs_reason(flags.skip_snapshot, "--skip-snapshot")?;
        let config = targets.resolve_or_report().await?;
        let topology = super::status::snapshot(&config).await;
        let budgets = Budgets::for_console(&config.console);
        let ctx = Self {
            read_only: global.read_only || config.console.read_only,
            json: flags.json,
            config,
            topology,
            budgets,
        };
        ctx.report_interrupted();
        Ok(ctx)
    }

    /// As [`load`](Self::load), with `--download-timeout` (checked before anything is polled)
    /// taking the place of `console.download_timeout`.
    ///
    /// # Errors
    /// The exit code to return (the problem has been printed).
    pub async fn load_downloading(
        targets: &TargetArgs,
        global: &Global,
        flags: &ActionFlags,
        budget: &DownloadBudget,
    ) -> Result<Self, u8> {
        let over = budget.parse()?;
        let mut ctx = Self::load(targets, global, flags).await?;
        if let Some(d) = over {
            ctx.budgets.download = d;
        }
        Ok(ctx)
    }

    /// Warns about runs in the audit log that never finished, with the safe next step; closes
    /// those whose group is now consistent.
    pub fn report_interrupted(&self) {
        let path = &self.config.console.audit_log;
        let found = match ops::recovery::check_interrupted(path, &self.topology) {
            Ok(f) => f,
            Err(e) => {
                output::note(&format!(
                    "warning: cannot read the audit log '{}': {e}",
                    path.display()
                ));
                return;
            }
        };
        for (run, advice) in found {
            if self.json {
                let v =
                    serde_json::json!({"event": "InterruptedRun", "run": run, "advice": advice});
                output::line(&v.to_string());
            } else {
                output::note(&format!(
                    "warning: an earlier run did not finish: {}",
                    run.describe()
                ));
                for l in &advice.state {
                    output::note(&format!("  now: {l}"));
                }
                output::note(&format!("  next: {}", advice.next_step));
            }
            if advice.settled {
                if let Ok(mut log) = AuditLog::open(path) {
                    let _ = audit::acknowledge(&mut log, &run, &advice.next_step);
                }
            }
        }
    }
}

fn usage(message: &str) -> u8 {
    let (msg, hint) = match message.split_once("\n  hint: ") {
        Some((m, h)) => (m, Some(h)),
        None => (message, None),
    };
    output::error(msg, hint);
    EXIT_USAGE
}

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
        output::line(&serde_json::json!({"event": "Plan", "plan": plan}).to_string());
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
        Confirm::Yes => eprint!("proceed? type 'yes': "),
        Confirm::TypeName(n) => {
            eprint!("this changes roles. type the target's name ({n}) to proceed: ")
        }
    }
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if stdin.lock().read_line(&mut line).is_err() || line.trim() != expected {
        output::error("not confirmed: nothing was done", None);
        return Err(EXIT_USAGE);
    }
    Ok(expected)
}

fn stamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

fn print_event(e: &RunEvent, json: bool) {
    if json {
        if let Ok(s) = serde_json::to_string(e) {
            output::line(&s);
        }
        return;
    }
    let t = stamp();
    let line = match e {
        RunEvent::RunStarted { run_id, .. } => format!("{t} run {run_id} started"),
        RunEvent::PrecheckFailed { reason } => format!("{t} refused: {reason}"),
        RunEvent::PrecheckPassed { overridden } if overridden.is_empty() => {
            format!("{t} pre-checks passed")
        }
        RunEvent::PrecheckPassed { overridden } => {
            format!(
                "{t} pre-checks passed with overrides: {}",
                overridden.join("; ")
            )
        }
        RunEvent::SnapshotStarted { node } => format!("{t} snapshot: BGSAVE on {node}"),
        RunEvent::SnapshotProgress { node, detail } => format!("{t} snapshot: {node}: {detail}"),
        RunEvent::SnapshotVerified { node, last_save } => {
            format!("{t} snapshot: {node} verified (rdb_last_save_time {last_save}, status ok)")
        }
        RunEvent::SnapshotSkipped { reason } => format!("{t} snapshot: skipped ({reason})"),
        RunEvent::DownloadVerified { node, path, bytes } => {
            format!("{t} download: {node} -> {path} ({bytes} bytes, CRC64 verified)")
        }
        RunEvent::StepStarted {
            index,
            title,
            commands,
            ..
        } => {
            format!("{t} step {}: {title}: {}", index + 1, commands.join("; "))
        }
        RunEvent::StepVerified {
            index,
            detail,
            elapsed_ms,
            ..
        } => {
            format!("{t} step {} ok ({elapsed_ms} ms): {detail}", index + 1)
        }
        RunEvent::StepFailed {
            index,
            error,
            critical,
            ..
        } => format!(
            "{t} step {} {}: {error}",
            index + 1,
            if *critical {
                "FAILED"
            } else {
                "failed (not critical, going on)"
            }
        ),
        RunEvent::RolledBack { what } => format!("{t} rollback: {what}"),
        RunEvent::RunFinished { .. } => return,
    };
    output::line(&line);
}

fn print_outcome(o: &RunOutcome, json: bool) {
    if json {
        output::line(&serde_json::json!({"event": "Outcome", "outcome": o}).to_string());
        return;
    }
    let word = match o.status {
        ops::RunStatus::Done => "done",
        ops::RunStatus::Refused => "refused",
        ops::RunStatus::Failed => "FAILED",
    };
    output::line(&format!("{word}: {}", o.detail));
    for s in &o.state {
        output::line(&format!("  state: {s}"));
    }
    if let Some(n) = &o.next_step {
        output::line(&format!("  next: {n}"));
    }
    for w in &o.warnings {
        output::line(&format!("  warning: {w}"));
    }
    output::line(&format!("  run {} took {} ms", o.run_id, o.elapsed_ms));
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
