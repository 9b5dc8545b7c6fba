//! [`ActionContext`]: what every action starts from. It checks that `--force` and
//! `--skip-snapshot` come with a reason and that `--download-timeout` is a duration, resolves
//! the targets, polls once, and reports (and closes, once settled) runs the audit log shows
//! unfinished. It builds no plan and changes nothing on a server.

use std::time::Duration;

use super::args::{ActionFlags, DownloadBudget};
use crate::audit::{self, AuditLog};
use crate::cli::{output, status, Global, TargetArgs, EXIT_USAGE};
use crate::config::Config;
use crate::ops;
use crate::topology::Topology;

/// What every action starts from: the resolved config, one poll's topology, the flags that
/// are not the request's.
#[derive(Debug)]
pub struct ActionContext {
    pub config: Config,
    pub topology: Topology,
    pub read_only: bool,
    pub json: bool,
    /// `--download-timeout`, over `console.download_timeout`.
    pub download_timeout: Option<Duration>,
}

impl ActionContext {
    /// Checks the flags (and `--download-timeout`, when the action has it) before anything
    /// is polled, resolves the targets, polls once, and reports interrupted runs.
    ///
    /// # Errors
    /// The exit code to return (the problem has been printed).
    pub async fn load(
        targets: &TargetArgs,
        global: &Global,
        flags: &ActionFlags,
        budget: Option<&DownloadBudget>,
    ) -> Result<Self, u8> {
        let download_timeout = match budget {
            Some(b) => b.parse()?,
            None => None,
        };
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
        let topology = status::snapshot(&config).await;
        let ctx = Self {
            read_only: global.read_only || config.console.read_only,
            json: flags.json,
            config,
            topology,
            download_timeout,
        };
        ctx.report_interrupted();
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
                let mut v =
                    serde_json::json!({"event": "interrupted_run", "run": run, "advice": advice});
                // Records written before carry nanoseconds: JSON times are milliseconds.
                v["run"]["started_at"] = crate::audit::rfc3339_ms_of(&run.started_at).into();
                output::json(&v.to_string());
            } else {
                output::note(&format!(
                    "warning: an earlier run did not finish: {}",
                    run.describe()
                ));
                for l in &advice.state {
                    output::note(&format!("  now: {l}"));
                }
                for l in &advice.restore {
                    output::note(&format!("  put back: {l}"));
                }
                output::note(&format!(
                    "  next: {}",
                    crate::cli::next_step::render(&advice.next_step)
                ));
            }
            if advice.settled {
                if let Ok(mut log) = AuditLog::open(path) {
                    let _ = audit::acknowledge(&mut log, &run, &advice.next_step.to_string());
                }
            }
        }
    }
}
