//! The command line: argument parsing (clap) and dispatch to the front-ends.
//!
//! This module and its children are the only places that print. Exit codes are the contract
//! with scripts: 0 done/healthy, 1 anomaly or failed action, 2 usage or config error,
//! 3 action refused by its pre-checks.

pub mod actions;
pub mod backup;
pub mod check_config;
pub mod check_data;
pub mod console;
pub mod demo;
pub mod drill;
pub mod history;
pub mod next_step;
pub mod output;
pub mod restore;
pub mod sandbox;
pub mod sentinel;
pub mod shell;
pub mod status;
pub mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Exit code: everything is fine.
pub const EXIT_OK: u8 = 0;
/// Exit code: an anomaly was found, or an action failed.
pub const EXIT_PROBLEM: u8 = 1;
/// Exit code: bad usage or configuration.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: an action was refused, by its pre-checks or by the operator at the prompt.
pub const EXIT_REFUSED: u8 = 3;

/// The exit codes, as `--help` shows them (the README has the same table).
const EXIT_CODES: &str = "Exit codes:
  0  healthy (status), done (actions), valid (check-config), passed (backup verify,
     check-data)
  1  an anomaly of warning or critical severity (status), or an action failed; a failed
     restore test or a data mismatch
  2  usage or configuration error; the console started without a terminal
  3  an action was refused: by its pre-checks, or not confirmed at the prompt";

/// redops: see and operate Redis/Valkey replication from the terminal.
#[derive(Debug, Parser)]
#[command(name = "redops", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub targets: TargetArgs,

    /// Theme for the console (dark, light, high-contrast, solarized, or a file path).
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,

    /// Refuse every action (enforced by the engine).
    #[arg(long, global = true)]
    pub read_only: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Which nodes to work on: a config file, or nodes given on the command line.
#[derive(Debug, Clone, Default, Args)]
pub struct TargetArgs {
    /// Config file (default: `$XDG_CONFIG_HOME/redops/config.toml`).
    #[arg(
        long,
        short = 'c',
        global = true,
        value_name = "FILE",
        env = "REDOPS_CONFIG"
    )]
    pub config: Option<PathBuf>,

    /// A node to watch, host:port or redis[s]://host:port (repeatable); forms one ad-hoc
    /// group, no config needed.
    #[arg(long = "node", short = 'n', global = true, value_name = "ADDR")]
    pub nodes: Vec<String>,

    /// Discover a group from one seed node by walking its replication links.
    #[arg(long, global = true, value_name = "ADDR")]
    pub discover: Option<String>,

    /// A Redis Cluster. ADDR: watch one from any of its nodes, every node it knows as one
    /// group (the seed's credentials go to every node: a cluster's nodes share them). With
    /// `sandbox` or `demo`: start one of `PxR`, e.g. 3x1 (3 primaries, 1 replica each; the
    /// demo's default).
    #[arg(
        long,
        global = true,
        value_name = "ADDR|PxR",
        num_args = 0..=1,
        default_missing_value = "",
        conflicts_with = "discover"
    )]
    pub cluster: Option<String>,

    /// Only this group (by name) from the config.
    #[arg(long, short = 'g', global = true, value_name = "NAME")]
    pub group: Option<String>,

    /// ACL user for ad-hoc nodes.
    #[arg(long, global = true, value_name = "USER")]
    pub user: Option<String>,

    /// Environment variable holding the password for ad-hoc nodes.
    #[arg(long, global = true, value_name = "VAR")]
    pub password_env: Option<String>,

    /// Use TLS for ad-hoc nodes.
    #[arg(long, global = true)]
    pub tls: bool,

    /// CA file for TLS on ad-hoc nodes.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Client certificate (PEM) for TLS servers that require one, as redis-cli's --cert.
    #[arg(
        long = "cert",
        global = true,
        value_name = "FILE",
        requires = "key_file"
    )]
    pub cert_file: Option<PathBuf>,

    /// Private key (PEM, PKCS#8) of the --cert client certificate, as redis-cli's --key.
    #[arg(
        long = "key",
        global = true,
        value_name = "FILE",
        requires = "cert_file"
    )]
    pub key_file: Option<PathBuf>,

    /// Read timeout for ad-hoc targets (e.g. 500ms, 2s).
    #[arg(long, global = true, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// A sentinel to ask for the group (repeatable), host:port (port 26379 when none is
    /// given); with --master-name, forms one ad-hoc Sentinel group.
    #[arg(
        long = "sentinel",
        global = true,
        value_name = "ADDR",
        requires = "master_name"
    )]
    pub sentinel_addrs: Vec<String>,

    /// The master name the --sentinel sentinels monitor.
    #[arg(long, global = true, value_name = "NAME")]
    pub master_name: Option<String>,

    /// Send --user/--password-env to the nodes --discover (or --sentinel) finds too. Without
    /// it only the seed and --node addresses get them: discovered addresses come from server
    /// data.
    #[arg(long, global = true)]
    pub discover_auth: bool,
}

/// Subcommands. Without one, the console opens.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the console on a local sandbox (a primary, two replicas, a chained replica) with a
    /// gentle writer; the servers go on exit, the audit log and backups are kept (the path is
    /// printed).
    Demo(demo::DemoArgs),
    /// Print the topology once (tree, lag, anomalies). Exit 0 healthy, 1 anomaly, 2 usage.
    Status(status::StatusArgs),
    /// Stream one line per change (role flips, links, anomalies) with timestamps.
    Watch(watch::WatchArgs),
    /// Validate a config file and exit (0 valid, 2 invalid).
    CheckConfig(check_config::CheckConfigArgs),
    /// Start a local sandbox of real redis-server processes and keep it up until Ctrl-C; or
    /// kill, restart, freeze or thaw a node of a running one.
    Sandbox(sandbox::SandboxArgs),
    /// Take a verified snapshot (BGSAVE) of a node, optionally downloading the RDB.
    Snapshot(actions::SnapshotArgs),
    /// Planned switchover of the primary to a replica, with zero acknowledged writes lost.
    Switchover(actions::SwitchoverArgs),
    /// Switch back to the group's preferred primary once it is an in-sync replica.
    Failback(actions::FailbackArgs),
    /// Promote a replica when the primary is down.
    Promote(actions::PromoteArgs),
    /// Make a node replicate from another, behind the wipe guard.
    Repoint(actions::RepointArgs),
    /// Bring a restarted old primary back as a replica of the current primary.
    Rejoin(actions::RejoinArgs),
    /// Load a backup into a node: a scratch server on this machine seeded with the RDB, the
    /// node made its replica, verified and detached; or, with --to-dir, the file and the
    /// manual steps.
    Restore(actions::RestoreArgs),
    /// The downloaded backups: list, prune (dry run unless --yes), verify (restore test).
    Backup(backup::BackupArgs),
    /// Compare each replica's data with its primary's (key counts per db and a digest) at one
    /// proven point in time. Exit 0 consistent, 1 a mismatch or a pair not compared.
    CheckData(check_data::CheckDataArgs),
    /// Past runs from the audit log: who, when, what, outcome, duration, writes paused;
    /// `history RUN_ID` shows one run's steps.
    History(history::HistoryArgs),
    /// Guided drills on a local sandbox: `drill list`, `drill run NAME --headless`.
    Drill(drill::DrillArgs),
    /// Through a group's sentinels: `sentinel reset GROUP` (stale replica and sentinel lists).
    Sentinel(sentinel::SentinelArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(shell::CompletionsArgs),
    /// Print the man page, redops(1), in roff to stdout.
    Man,
}

/// Parses the arguments and runs the chosen front-end.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout with exit 0; usage errors to stderr with 2.
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let _ = color_eyre::install();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::error(&format!("cannot start the async runtime: {e}"), None);
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    let code = runtime.block_on(run(cli));
    // Pollers may be blocked on unresponsive nodes: do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(code)
}

async fn run(cli: Cli) -> u8 {
    let Cli {
        targets,
        theme,
        read_only,
        command,
    } = cli;
    let global = Global { theme, read_only };
    if matches!(command, None | Some(Command::Demo(_))) {
        if let Err(code) = console_terminal() {
            return code;
        }
    }
    match command {
        None => console::launch(&targets, &global).await,
        // Boxed: the console's state makes this future large.
        Some(Command::Demo(args)) => {
            Box::pin(demo::run(args, &global, targets.cluster.as_deref())).await
        }
        Some(Command::Status(args)) => status::run(&targets, args).await,
        Some(Command::Watch(args)) => watch::run(&targets, args).await,
        Some(Command::CheckConfig(args)) => check_config::run(&targets, &args),
        Some(Command::Sandbox(args)) => sandbox::run(args, targets.cluster.as_deref()).await,
        Some(Command::Snapshot(args)) => actions::act(&targets, &global, &args).await,
        Some(Command::Switchover(args)) => actions::act(&targets, &global, &args).await,
        Some(Command::Failback(args)) => actions::act(&targets, &global, &args).await,
        Some(Command::Promote(args)) => actions::act(&targets, &global, &args).await,
        Some(Command::Repoint(args)) => actions::act(&targets, &global, &args).await,
        Some(Command::Rejoin(args)) => actions::act(&targets, &global, &args).await,
        Some(Command::Restore(args)) => restore::run(&targets, &global, &args).await,
        Some(Command::History(args)) => history::run(&targets, &args),
        Some(Command::Drill(args)) => drill::run(&targets, &global, args).await,
        Some(Command::Backup(args)) => backup::run(&targets, args).await,
        Some(Command::CheckData(args)) => check_data::run(&targets, &global, args).await,
        Some(Command::Sentinel(args)) => sentinel::run(&targets, &global, args).await,
        Some(Command::Completions(args)) => shell::completions(&args),
        Some(Command::Man) => shell::man(),
    }
}

/// `Ok` when the console can run here; else says why, with the commands that work without a
/// terminal, and gives exit code 2 (before any target is resolved or server started).
fn console_terminal() -> Result<(), u8> {
    let Some(missing) = crate::tui::missing_terminal() else {
        return Ok(());
    };
    let what = match missing {
        crate::tui::NoTerminal::Output => "stdout is not a terminal (a pipe or a file)",
        crate::tui::NoTerminal::Input => "there is no terminal to read keys from",
    };
    output::error(
        &format!("the console needs a terminal, and {what}"),
        Some(
            "`redops status` prints the topology once and `redops watch` streams changes; \
             both work without a terminal. Over ssh, use `ssh -t`",
        ),
    );
    Err(EXIT_USAGE)
}

/// Options that apply to every front-end.
#[derive(Debug, Clone, Default)]
pub struct Global {
    pub theme: Option<String>,
    pub read_only: bool,
}

impl TargetArgs {
    /// The core's view of these flags.
    ///
    /// # Errors
    /// A bad `--timeout` value, as a message with a hint.
    pub fn to_request(&self) -> Result<crate::targets::Request, crate::targets::TargetError> {
        if self.discover_auth && self.discover.is_none() && self.sentinel_addrs.is_empty() {
            return Err(crate::targets::TargetError {
                message: "--discover-auth without --discover or --sentinel".into(),
                hint: Some(
                    "it sends the credentials to the nodes those find; drop it, or add \
                     --discover HOST:PORT or --sentinel ADDR --master-name NAME"
                        .into(),
                ),
            });
        }
        let timeout = match &self.timeout {
            None => None,
            Some(t) => Some(
                crate::config::parse_duration(t)
                    .and_then(|d| {
                        // As in the config: a zero timeout would fail every call.
                        if d.is_zero() {
                            Err(format!("zero timeout '{t}' would fail every call"))
                        } else {
                            Ok(d)
                        }
                    })
                    .map_err(|e| crate::targets::TargetError {
                        message: format!("invalid --timeout: {e}"),
                        hint: Some("for example --timeout 500ms".to_string()),
                    })?,
            ),
        };
        Ok(crate::targets::Request {
            config: self.config.clone(),
            nodes: self.nodes.clone(),
            discover: self.discover.clone(),
            group: self.group.clone(),
            username: self.user.clone(),
            password_env: self.password_env.clone(),
            tls: self.tls,
            ca_file: self.ca_file.clone(),
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
            timeout,
            discover_auth: self.discover_auth,
            sentinels: self.sentinel_addrs.clone(),
            master_name: self.master_name.clone(),
            cluster: self.cluster.clone(),
        })
    }

    /// Where the data-loss watch keeps its memory for these targets (beside the audit log), or
    /// `None` for ad-hoc targets (`--node`, `--discover`): see `history::loss_file`.
    #[must_use]
    pub fn loss_memory(&self, config: &crate::config::Config) -> Option<PathBuf> {
        let adhoc = !self.nodes.is_empty()
            || self.discover.is_some()
            || !self.sentinel_addrs.is_empty()
            || self.cluster.is_some();
        (!adhoc).then(|| crate::history::loss_file::path_for(&config.console.audit_log))
    }

    /// Resolves the targets, printing the error when they cannot be.
    ///
    /// # Errors
    ///
    /// The exit code to end with (2) once the error is printed.
    pub async fn resolve_or_report(&self) -> Result<crate::config::Config, u8> {
        let resolved = match self.to_request() {
            Ok(req) => crate::targets::resolve(&req).await,
            Err(e) => Err(e),
        };
        resolved.map_err(|e| {
            output::error(&e.message, e.hint.as_deref());
            EXIT_USAGE
        })
    }
}
