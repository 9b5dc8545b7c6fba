//! `redops demo`: a local sandbox (a primary, two replicas, one replica chained below the
//! first) of real `redis-server` processes, a gentle background writer so offsets and lag
//! move, and the console on top. Everything is stopped on exit: explicitly after the console
//! returns, and by `Drop` on any other path (error, panic unwinding).

pub mod writer;

use std::io::Write as _;

use clap::Args;

use super::console::{exit_code, theme_for};
use super::{output, Global, EXIT_PROBLEM};
use crate::node::Timeouts;
use crate::sandbox::{Sandbox, Spec};

/// `redops demo` options.
#[derive(Debug, Clone, Default, Args)]
pub struct DemoArgs {
    /// redis-server or valkey-server binary (default: found on PATH).
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<std::path::PathBuf>,
}

/// Runs the demo; returns the exit code.
pub async fn run(args: DemoArgs, g: &Global) -> u8 {
    output::note("redops demo: starting a local sandbox (primary, 2 replicas, 1 chained)...");
    let spec = Spec {
        replicas: 2,
        chain: true,
        server_bin: args.server_bin.clone(),
        group: "demo".to_string(),
        ..Spec::default()
    };
    let mut sandbox = match Sandbox::start(&spec).await {
        Ok(s) => s,
        Err(e) => {
            output::error(&e.message(), e.hint());
            return EXIT_PROBLEM;
        }
    };
    let config = sandbox.config();
    let theme = match theme_for(&config, g) {
        Ok(t) => t,
        Err(code) => {
            sandbox.stop();
            return code;
        }
    };
    let nodes = config.groups.iter().flat_map(|g| g.nodes.clone()).collect();
    let mut writer = writer::Writer::spawn(nodes, Timeouts::from(&config.console));
    let opts = crate::tui::Options {
        read_only: g.read_only || config.console.read_only,
        label: None,
        loss_file: Some(crate::history::loss_file::path_for(
            &config.console.audit_log,
        )),
    };
    let end = crate::tui::runtime::run(config, theme, opts).await;
    writer.stop();
    sandbox.stop();
    let code = exit_code(end);
    // Not `output::note`: after a hang-up stderr is gone and printing must not panic.
    let _ = writeln!(
        std::io::stderr(),
        "redops demo: sandbox stopped, temporary files removed"
    );
    code
}
