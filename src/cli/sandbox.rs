//! `redops sandbox`: start a local sandbox of real servers, write its config, print how to use
//! it, and keep it up until Ctrl-C, SIGTERM or SIGHUP; then stop every process and say so.
//!
//! All the work is in [`crate::sandbox`]; this file only prints and waits for the signal.

use std::path::PathBuf;

use clap::Args;
use tokio::signal::unix::{signal, SignalKind};

use super::{output, EXIT_OK, EXIT_PROBLEM, EXIT_USAGE};
use crate::sandbox::{Sandbox, SandboxError, ServerProcess, Spec};

/// `redops sandbox` options.
#[derive(Debug, Clone, Default, Args)]
pub struct SandboxArgs {
    /// Number of replicas of the primary.
    #[arg(long, default_value_t = 2)]
    pub replicas: usize,
    /// Add a chained replica under the first replica.
    #[arg(long)]
    pub chain: bool,
    /// redis-server or valkey-server binary (default: found on PATH).
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<PathBuf>,
    /// Also write the sandbox config to this file (it stays after the sandbox stops).
    #[arg(long, value_name = "PATH")]
    pub config_out: Option<PathBuf>,
}

/// Runs the sandbox until interrupted. Exit 0 after a clean stop, 2 without a server binary,
/// 1 when the sandbox could not start.
pub async fn run(args: SandboxArgs) -> u8 {
    // Listen before starting anything, so a signal during start-up is not lost.
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            output::error(&format!("cannot listen for signals: {e}"), None);
            return EXIT_PROBLEM;
        }
    };
    let spec = Spec {
        replicas: args.replicas,
        chain: args.chain,
        server_bin: args.server_bin.clone(),
        ..Spec::default()
    };
    // A signal during start-up drops the start future, which kills what it had started.
    let started = tokio::select! {
        r = Sandbox::start(&spec) => r,
        name = signals.wait() => {
            output::line(&format!("{name} received during start-up: every server started so far was stopped"));
            return EXIT_OK;
        }
    };
    let mut sandbox = match started {
        Ok(sb) => sb,
        Err(e) => return report_start_error(&e),
    };
    let config_path = match write_configs(&sandbox, args.config_out.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            output::error(&e.message(), e.hint());
            return EXIT_PROBLEM;
        }
    };
    print_started(&sandbox, &config_path);
    let name = signals.wait().await;
    output::line(&format!("{name} received: stopping the sandbox"));
    let running: Vec<(String, u32, bool)> = sandbox
        .nodes()
        .iter()
        .map(|n| (n.name.clone(), n.pid, n.is_running()))
        .collect();
    sandbox.stop();
    for (node, pid, was_running) in running {
        if was_running {
            output::line(&format!("stopped {node} (pid {pid})"));
        } else {
            output::line(&format!("{node} (pid {pid}) had already exited"));
        }
    }
    let dir = sandbox.dir().display().to_string();
    drop(sandbox);
    output::line(&format!("removed {dir}"));
    EXIT_OK
}

fn report_start_error(e: &SandboxError) -> u8 {
    output::error(&e.message(), e.hint());
    match e {
        SandboxError::NoServer { .. } | SandboxError::InvalidSpec(_) => EXIT_USAGE,
        _ => EXIT_PROBLEM,
    }
}

/// Writes `<dir>/redops.toml` and, when asked, a copy; returns the path to tell the user.
fn write_configs(
    sandbox: &Sandbox,
    config_out: Option<&std::path::Path>,
) -> Result<PathBuf, SandboxError> {
    let inside = sandbox.write_config()?;
    let Some(out) = config_out else {
        return Ok(inside);
    };
    std::fs::write(out, sandbox.config_toml()).map_err(|e| SandboxError::Io {
        path: out.to_path_buf(),
        source: e,
    })?;
    Ok(out.to_path_buf())
}

fn role(n: &ServerProcess, chained: bool) -> String {
    match (&n.replica_of, chained) {
        (None, _) => "primary".to_string(),
        (Some(up), false) => format!("replica of {up}"),
        (Some(up), true) => format!("replica of {up} (chained)"),
    }
}

fn print_started(sandbox: &Sandbox, config_path: &std::path::Path) {
    let version = sandbox
        .server_version()
        .unwrap_or_else(|| sandbox.server_bin().display().to_string());
    output::line(&format!(
        "sandbox started in {} ({version})",
        sandbox.dir().display()
    ));
    let first = sandbox.nodes().first().map(|n| n.name.clone());
    for n in sandbox.nodes() {
        let chained = n.replica_of.is_some() && n.replica_of != first;
        output::line(&format!(
            "  {:<4} {:<16} {:<26} pid {}",
            n.name,
            n.addr().to_string(),
            role(n, chained),
            n.pid
        ));
    }
    let path = config_path.display();
    output::line(&format!("config: {path}"));
    output::line("use it:");
    output::line(&format!("  redops --config {path}"));
    output::line(&format!("  redops status --config {path}"));
    output::line("press Ctrl-C to stop every server");
}

/// Ctrl-C, SIGTERM and SIGHUP.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for the first of them and names it.
    async fn wait(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}
