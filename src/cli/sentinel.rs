//! `redops sentinel reset GROUP`: an action like the others (`actions::act`): the plan with
//! its checks (`ops::sentinel_reset`), a y/N confirmation (or `--yes`), then one line (or
//! JSON line) per engine event as each sentinel is reset and has found the replicas and its
//! peers again, all in the audit log. Exit 0 done, 1 stopped half-way (the outcome says which
//! sentinels were reset), 2 usage, 3 refused (read-only, the guard, not confirmed).

use clap::{Args, Subcommand};

use super::actions::{self, ActionArgs, ActionFlags};
use super::{output, Global, TargetArgs, EXIT_USAGE};
use crate::config::Config;
use crate::ops::Request;

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
    /// would remain knowing the master. Planned, confirmed and audited like every action.
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

/// The reset as an action's arguments: its three flags are the actions' flags (no override:
/// a refused reset has nothing an operator's reason could make safe).
struct Reset {
    group: String,
    flags: ActionFlags,
}

impl ActionArgs for Reset {
    fn request(&self) -> Request {
        Request::new(crate::ops::ActionKind::SentinelReset, None)
    }

    fn flags(&self) -> &ActionFlags {
        &self.flags
    }

    fn complete(&self, req: &mut Request, config: &Config) -> Result<(), u8> {
        if let Some(gi) = config.groups.iter().position(|g| g.name == self.group) {
            *req = Request::sentinel_reset(gi);
            return Ok(());
        }
        let names: Vec<&str> = config.groups.iter().map(|g| g.name.as_str()).collect();
        output::error(
            &format!("no group '{}' in the config", self.group),
            Some(&format!("groups: {}", names.join(", "))),
        );
        Err(EXIT_USAGE)
    }
}

/// Runs `redops sentinel ...`.
pub async fn run(targets: &TargetArgs, global: &Global, args: SentinelArgs) -> u8 {
    let SentinelCommand::Reset(args) = args.command;
    let reset = Reset {
        group: args.group,
        flags: ActionFlags {
            yes: args.yes,
            dry_run: args.dry_run,
            json: args.json,
            ..ActionFlags::default()
        },
    };
    actions::act(targets, global, &reset).await
}
