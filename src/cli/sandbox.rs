//! `redops sandbox`: start a local sandbox of real servers, write its config, print how to use
//! it, and keep it up until Ctrl-C, SIGTERM, SIGHUP or a closed stdout (`| tee log` ended);
//! then stop every process, remove its directory and say so. Meanwhile it carries out the
//! faults other terminals ask for (`redops sandbox kill|restart|freeze|thaw NODE`, through its
//! control socket), and reaps and reports servers that exit on their own.
//!
//! All the work is in [`crate::sandbox`]; this file only prints and waits.

use std::path::PathBuf;

use std::time::Duration;

use clap::{Args, Subcommand};
use tokio::signal::unix::{signal, SignalKind};

use super::{output, EXIT_OK, EXIT_PROBLEM, EXIT_USAGE};
use crate::sandbox::{
    self as sb, ClusterShape, ControlError, ControlServer, Fault, FaultDone, Sandbox, SandboxError,
    ServerProcess, Spec,
};

/// How often the sandbox checks for servers that exited and for a closed stdout (besides
/// SIGCHLD).
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// `redops sandbox` options.
#[derive(Debug, Clone, Default, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SandboxArgs {
    /// A fault for a node of a running sandbox (without one, start a sandbox).
    #[command(subcommand)]
    pub control: Option<ControlCommand>,
    /// Number of replicas of the primary.
    #[arg(long, default_value_t = 2)]
    pub replicas: usize,
    /// Add a chained replica under the first replica.
    #[arg(long)]
    pub chain: bool,
    /// Start this many sentinels (s1, s2, …) monitoring the primary, quorum 2.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub sentinels: usize,
    /// redis-server or valkey-server binary (default: found on PATH).
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<PathBuf>,
    /// Also write the sandbox config to this file (it stays after the sandbox stops).
    #[arg(long, value_name = "PATH")]
    pub config_out: Option<PathBuf>,
}

/// Faults for a node of a running sandbox, carried out by the process that owns it.
#[derive(Debug, Clone, Subcommand)]
pub enum ControlCommand {
    /// SIGKILL a node (its data and redis.conf stay; the sandbox reaps it).
    Kill(ControlArgs),
    /// Start a node again from its redis.conf, on the same port, with its data.
    Restart(ControlArgs),
    /// SIGSTOP a node: its port accepts connections, nothing answers.
    Freeze(ControlArgs),
    /// SIGCONT a frozen node.
    Thaw(ControlArgs),
}

/// The node, and which sandbox.
#[derive(Debug, Clone, Args)]
pub struct ControlArgs {
    /// Node name (n1, n2, ..., or s1, s2, ... for sentinels), as `redops sandbox` printed it.
    pub node: String,
    /// The sandbox's directory (default: the one sandbox running in the temp dir).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Runs the sandbox until interrupted, or sends a fault to a running one. Exit 0 after a
/// clean stop, 2 without a server binary, 1 when the sandbox could not start.
///
/// `cluster` is the global `--cluster PxR`: a Redis Cluster of that shape, formed by redops
/// and written as a `cluster = true` group.
pub async fn run(args: SandboxArgs, cluster: Option<&str>) -> u8 {
    if let Some(control) = args.control {
        return run_control(control).await;
    }
    let shape = match cluster.map(str::parse::<ClusterShape>).transpose() {
        Ok(s) => s,
        Err(e) => {
            output::error(&format!("invalid --cluster: {e}"), None);
            return EXIT_USAGE;
        }
    };
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
        sentinels: args.sentinels,
        server_bin: args.server_bin.clone(),
        ..Spec::default()
    };
    // A signal during start-up drops the start future, which kills what it had started.
    let started = tokio::select! {
        r = start(shape, &spec) => r,
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
    let control = match ControlServer::bind(&sandbox).and_then(|c| {
        sandbox.write_state()?;
        Ok(c)
    }) {
        Ok(c) => c,
        Err(e) => {
            output::error(&e.message(), e.hint());
            return EXIT_PROBLEM;
        }
    };
    print_started(&sandbox, &config_path);
    let why = serve(&mut sandbox, &control, &mut signals).await;
    drop(control);
    output::line(&format!("{why}: stopping the sandbox"));
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

/// A cluster of `shape`, or a primary with its replicas.
async fn start(cluster: Option<ClusterShape>, spec: &Spec) -> Result<Sandbox, SandboxError> {
    match cluster {
        Some(shape) => Sandbox::start_cluster(shape, spec).await,
        None => Sandbox::start(spec).await,
    }
}

/// Carries out control requests and reaps exited servers until a signal or a closed stdout;
/// says which ended it.
async fn serve(sandbox: &mut Sandbox, control: &ControlServer, signals: &mut Signals) -> String {
    let mut child_exited = signal(SignalKind::child()).ok();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            name = signals.wait() => return format!("{name} received"),
            // The request itself is not raced: a signal waits for a restart to finish.
            stream = control.accept() => match control.handle(stream, sandbox).await {
                Ok(done) => output::line(&done_line(&done)),
                Err(e) => output::line(&format!("a fault asked for was not done: {e}")),
            },
            () = child(&mut child_exited) => {}
            _ = tick.tick() => {}
        }
        let gone = sandbox.reap_exited();
        for e in &gone {
            output::line(&format!(
                "{} (pid {}) exited; `redops sandbox restart {}` brings it back",
                e.node, e.pid, e.node
            ));
        }
        if !gone.is_empty() {
            let _ = sandbox.write_state();
        }
        if output::stdout_closed() || stdout_reader_gone() {
            return "stdout closed".to_string();
        }
    }
}

/// The next SIGCHLD, or never when it cannot be listened for (the tick still reaps).
async fn child(sig: &mut Option<tokio::signal::unix::Signal>) {
    match sig {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// True when stdout is a pipe or socket whose reader has gone (`| tee log` after Ctrl-C, `|
/// head`): nothing will read what the sandbox says, and nobody is left to stop it.
fn stdout_reader_gone() -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd as _;
    let stdout = std::io::stdout();
    let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::empty())];
    poll(&mut fds, PollTimeout::ZERO).is_ok_and(|_| {
        fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP))
    })
}

/// `redops sandbox kill|restart|freeze|thaw NODE`: asks the running sandbox to do it. Exit 0
/// done, 1 not done (a node not running, a restart that did not come up), 2 no such sandbox
/// or node.
async fn run_control(cmd: ControlCommand) -> u8 {
    let (fault, args) = match cmd {
        ControlCommand::Kill(a) => (Fault::Kill, a),
        ControlCommand::Restart(a) => (Fault::Restart, a),
        ControlCommand::Freeze(a) => (Fault::Freeze, a),
        ControlCommand::Thaw(a) => (Fault::Thaw, a),
    };
    let dir = match sb::find_running(args.dir.as_deref()) {
        Ok(d) => d,
        Err(e) => return report_control_error(&e),
    };
    match sb::send(&dir, fault, &args.node).await {
        Ok(done) => {
            output::line(&done_line(&done));
            EXIT_OK
        }
        Err(e) => report_control_error(&e),
    }
}

fn report_control_error(e: &ControlError) -> u8 {
    output::error(&e.to_string(), e.hint());
    if e.is_usage() {
        EXIT_USAGE
    } else {
        EXIT_PROBLEM
    }
}

/// What a fault did, with the command that undoes it.
fn done_line(d: &FaultDone) -> String {
    let (node, pid) = (&d.node, d.pid);
    match d.fault {
        Fault::Kill if !d.was_running => format!("{node} (pid {pid}) was not running"),
        Fault::Kill => format!(
            "{node} (pid {pid}) killed and reaped; its data and redis.conf stay: `redops sandbox restart {node}` brings it back"
        ),
        Fault::Restart => format!(
            "{node} restarted from {} on port {}, pid {pid}",
            d.conf.display(),
            d.port
        ),
        Fault::Freeze => format!(
            "{node} (pid {pid}) frozen (SIGSTOP): its port accepts connections, nothing answers; `redops sandbox thaw {node}`"
        ),
        Fault::Thaw => format!("{node} (pid {pid}) thawed (SIGCONT)"),
    }
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
    if let Some(shape) = sandbox.cluster_shape() {
        output::line(&format!(
            "a Redis Cluster: {} shard(s) of 1 primary and {} replica(s), cluster_state ok",
            shape.primaries, shape.replicas
        ));
    }
    let first = sandbox.nodes().first().map(|n| n.name.clone());
    for n in sandbox.nodes() {
        let chained =
            sandbox.cluster_shape().is_none() && n.replica_of.is_some() && n.replica_of != first;
        output::line(&format!(
            "  {:<4} {:<16} {:<26} pid {}",
            n.name,
            n.addr().to_string(),
            role(n, chained),
            n.pid
        ));
    }
    for s in sandbox.sentinels() {
        output::line(&format!(
            "  {:<4} {:<16} {:<26} pid {}",
            s.name,
            s.addr().to_string(),
            format!("sentinel of '{}'", sandbox.config().groups[0].name),
            s.pid
        ));
    }
    let path = config_path.display();
    output::line(&format!("config: {path}"));
    output::line("use it:");
    output::line(&format!("  redops --config {path}"));
    output::line(&format!("  redops status --config {path}"));
    output::line(
        "faults, from another terminal (this sandbox does them, and reaps what it kills):",
    );
    output::line(&format!(
        "  redops sandbox kill|restart|freeze|thaw NODE --dir {}",
        sandbox.dir().display()
    ));
    output::line(&format!(
        "state: {} (nodes, ports, PIDs, redis.conf paths)",
        sandbox.dir().join(sb::STATE_FILE).display()
    ));
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
