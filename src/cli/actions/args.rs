//! The actions' command-line arguments: the flags every action shares (`--yes`, `--dry-run`,
//! `--force`, `--reason`, `--skip-snapshot`, `--json`), `--download-timeout`, and one clap
//! struct per subcommand with the core [`Request`] it makes. Parsing only: it resolves no
//! target and runs nothing.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::cli::{output, EXIT_USAGE};
use crate::config::{Addr, Config};
use crate::ops::{ActionKind, Download, Request, RestoreFrom, Strategy};

/// One action's arguments: the core request they make, the shared flags, and the download
/// budget when the action downloads. Each subcommand's clap struct implements it, so one
/// generic entry point (`actions::act`) serves them all.
pub trait ActionArgs {
    /// The request these arguments make.
    fn request(&self) -> Request;
    /// `--yes`, `--dry-run`, `--force`, `--reason`, `--skip-snapshot`, `--json`.
    fn flags(&self) -> &ActionFlags;
    /// `--download-timeout`, on the actions that have it.
    fn budget(&self) -> Option<&DownloadBudget> {
        None
    }
    /// What the request needs from the config and the disk before it is prepared (a
    /// restore's backup, resolved and checked).
    ///
    /// # Errors
    /// The exit code, once the problem is printed.
    fn complete(&self, req: &mut Request, config: &Config) -> Result<(), u8> {
        let _ = (req, config);
        Ok(())
    }
}

/// `--download DIR` as the request's download.
fn download(dir: Option<&PathBuf>) -> Download {
    dir.map_or(Download::Off, |d| Download::Into(d.clone()))
}

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
    /// `console.download_timeout` for this action).
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

/// `redops snapshot NODE`, or `redops snapshot --all` on a cluster group.
#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    /// Node name or address.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub node: Option<String>,
    /// Every primary of the cluster group (-g, or the only cluster group) at one cut: every
    /// RDB downloaded and checked, and one cluster manifest.
    #[arg(long)]
    pub all: bool,
    /// With --all: CLIENT PAUSE <MS> WRITE on every primary until every transfer has begun
    /// (lifted then, and on every failure), so that the shards are one point in time.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=30_000))]
    pub pause: Option<u64>,
    /// Also download the RDB over the replication protocol into this directory (--all
    /// always downloads, into the backups directory).
    #[arg(long, value_name = "DIR", conflicts_with = "all")]
    pub download: Option<PathBuf>,
    #[command(flatten)]
    pub budget: DownloadBudget,
    #[command(flatten)]
    pub flags: ActionFlags,
}

/// Switchover strategy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// Pause writes, wait for proven catch-up, demote the primary, promote the target, unpause,
    /// then repoint the siblings.
    #[default]
    Manual,
    /// The server's FAILOVER TO command (6.2+), then repoint the siblings.
    Native,
    /// Through Sentinel (the one way on a group Sentinel watches, and its default there).
    Sentinel,
}

/// `redops switchover --to REPLICA`.
#[derive(Debug, Clone, Args)]
pub struct SwitchoverArgs {
    /// The replica to promote (name or address).
    #[arg(long, value_name = "NODE")]
    pub to: String,
    /// manual by default; sentinel (the only one allowed) on a group Sentinel watches.
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
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
    /// manual by default; sentinel (the only one allowed) on a group Sentinel watches.
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
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
    /// Only drop the node's rejoin mark (it was repaired by hand, or retired); nothing is sent
    /// to any server. Recorded in the audit log.
    #[arg(long)]
    pub clear_mark: bool,
    #[command(flatten)]
    pub budget: DownloadBudget,
    #[command(flatten)]
    pub flags: ActionFlags,
}

impl ActionArgs for SnapshotArgs {
    fn request(&self) -> Request {
        if self.all {
            return Request {
                download: Download::Backups,
                all: Some(crate::ops::snapshot::cluster::AllPrimaries {
                    pause: self.pause.map(Duration::from_millis),
                }),
                ..Request::new(ActionKind::Snapshot, None)
            };
        }
        Request {
            download: download(self.download.as_ref()),
            ..Request::new(ActionKind::Snapshot, self.node.clone())
        }
    }

    fn flags(&self) -> &ActionFlags {
        &self.flags
    }

    fn budget(&self) -> Option<&DownloadBudget> {
        Some(&self.budget)
    }

    fn complete(&self, _req: &mut Request, _config: &Config) -> Result<(), u8> {
        if self.pause.is_some() && !self.all {
            output::error(
                "--pause pauses every primary of a cluster for its cut: it goes with --all",
                Some("snapshot --all --pause MS, or drop --pause"),
            );
            return Err(EXIT_USAGE);
        }
        Ok(())
    }
}

impl ActionArgs for SwitchoverArgs {
    fn request(&self) -> Request {
        Request {
            strategy: self.strategy.map_or(Strategy::Manual, Into::into),
            download: download(self.download.as_ref()),
            ..Request::new(ActionKind::Switchover, Some(self.to.clone()))
        }
    }

    fn complete(&self, _req: &mut Request, config: &Config) -> Result<(), u8> {
        super::strategy::check(self.strategy, Some(&self.to), config)
    }

    fn flags(&self) -> &ActionFlags {
        &self.flags
    }

    fn budget(&self) -> Option<&DownloadBudget> {
        Some(&self.budget)
    }
}

impl ActionArgs for FailbackArgs {
    fn request(&self) -> Request {
        Request {
            strategy: self.strategy.map_or(Strategy::Manual, Into::into),
            download: download(self.download.as_ref()),
            ..Request::new(ActionKind::Failback, None)
        }
    }

    fn complete(&self, _req: &mut Request, config: &Config) -> Result<(), u8> {
        super::strategy::check(self.strategy, None, config)
    }

    fn flags(&self) -> &ActionFlags {
        &self.flags
    }

    fn budget(&self) -> Option<&DownloadBudget> {
        Some(&self.budget)
    }
}

impl ActionArgs for PromoteArgs {
    fn request(&self) -> Request {
        Request::new(ActionKind::Promote, self.node.clone())
    }

    fn flags(&self) -> &ActionFlags {
        &self.flags
    }
}

impl ActionArgs for RepointArgs {
    fn request(&self) -> Request {
        Request::new(ActionKind::Repoint, Some(self.node.clone())).from_source(self.to.clone())
    }

    fn flags(&self) -> &ActionFlags {
        &self.flags
    }

    fn budget(&self) -> Option<&DownloadBudget> {
        Some(&self.budget)
    }
}

impl ActionArgs for RejoinArgs {
    fn request(&self) -> Request {
        Request {
            clear_mark: self.clear_mark,
            ..Request::new(ActionKind::Rejoin, Some(self.node.clone()))
        }
    }

    fn flags(&self) -> &ActionFlags {
        &self.flags
    }

    fn budget(&self) -> Option<&DownloadBudget> {
        Some(&self.budget)
    }
}

/// `redops restore NODE --from ID|FILE`.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The node to load the backup into (a primary: its replicas follow it).
    pub node: String,
    /// The backup: an id from `redops backup list`, or an RDB file.
    #[arg(long, value_name = "ID|FILE")]
    pub from: String,
    /// Where the scratch server listens: an address of this machine the node can reach
    /// (default: 127.0.0.1 and a free port, for a node on this machine).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Offline: write the RDB (checked) into DIR and print the manual steps; nothing is
    /// changed on the node (it is only asked CONFIG GET dir, dbfilename, appendonly).
    #[arg(long, value_name = "DIR")]
    pub to_dir: Option<PathBuf>,
    /// The server binary the scratch server runs (default: the backup's major version from
    /// `$REDOPS_SERVER_BIN`, redis-server or valkey-server on PATH).
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<PathBuf>,
    #[command(flatten)]
    pub budget: DownloadBudget,
    #[command(flatten)]
    pub flags: ActionFlags,
}

impl RestoreArgs {
    /// `--listen`, parsed; the default when absent.
    ///
    /// # Errors
    /// Exit code 2 for an address that is not `HOST:PORT` or listens everywhere.
    pub fn listen(&self) -> Result<Addr, u8> {
        let Some(l) = &self.listen else {
            return Ok(crate::backup::restore::default_listen());
        };
        let hint = Some("give an address of this machine the node can reach, e.g. 10.0.0.5:7777");
        match Addr::parse(l) {
            Ok(a) if a.host == "0.0.0.0" || a.host == "::" || a.port == 0 => {
                output::error(
                    &format!("invalid --listen '{l}': the node is told this address, so it must be one it can reach, with a port"),
                    hint,
                );
                Err(EXIT_USAGE)
            }
            Ok(a) => Ok(a),
            Err(e) => {
                output::error(&format!("invalid --listen '{l}': {e}"), hint);
                Err(EXIT_USAGE)
            }
        }
    }

    /// The backup `--from` names, resolved in the configured backups directory and checked.
    ///
    /// # Errors
    /// Exit code 2 when it names no backup (printed).
    pub fn source(&self, config: &Config) -> Result<crate::backup::RestoreSource, u8> {
        crate::backup::restore::resolve(&config.console.backups_dir, &self.from).map_err(|e| {
            output::error(&e.to_string(), Some(e.hint()));
            EXIT_USAGE
        })
    }
}

impl ActionArgs for RestoreArgs {
    fn request(&self) -> Request {
        Request::new(ActionKind::Restore, Some(self.node.clone()))
    }

    fn flags(&self) -> &ActionFlags {
        &self.flags
    }

    fn budget(&self) -> Option<&DownloadBudget> {
        Some(&self.budget)
    }

    fn complete(&self, req: &mut Request, config: &Config) -> Result<(), u8> {
        req.restore = Some(Box::new(RestoreFrom {
            source: self.source(config)?,
            listen: self.listen()?,
            server_bin: self.server_bin.clone(),
        }));
        Ok(())
    }
}

impl From<StrategyArg> for Strategy {
    fn from(s: StrategyArg) -> Self {
        match s {
            StrategyArg::Manual => Self::Manual,
            StrategyArg::Native => Self::Native,
            StrategyArg::Sentinel => Self::Sentinel,
        }
    }
}
