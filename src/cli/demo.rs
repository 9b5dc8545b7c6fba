//! `redops demo`: a local sandbox (a primary, two replicas, one replica chained below the
//! first) of real `redis-server` processes, a gentle background writer so offsets and lag
//! move, and the console on top. Every server is stopped and the sandbox's temp dir removed on
//! exit: explicitly after the console returns, and by `Drop` on any other path (error, panic
//! unwinding). The audit log and backups the runbook shows are kept, in
//! `<data dir>/redops-demo-<UTC time>/`, and that path is printed on exit (the directory is
//! removed again when no action wrote anything there).
//!
//! While the console runs, the sandbox takes faults from the console's demo keys and from
//! `redops sandbox kill|restart|freeze|thaw NODE` in another terminal (its control socket),
//! and reaps servers that exit.

pub mod writer;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::console::{exit_code, theme_for};
use super::{output, Global, EXIT_PROBLEM};
use crate::node::Timeouts;
use crate::sandbox::{ClusterShape, ControlServer, Sandbox, Spec};

/// `redops demo` options.
#[derive(Debug, Clone, Default, Args)]
pub struct DemoArgs {
    /// redis-server or valkey-server binary (default: found on PATH).
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<std::path::PathBuf>,
    /// Also start this many sentinels monitoring the primary (quorum 2).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub sentinels: usize,
}

/// Runs the demo; returns the exit code.
///
/// `cluster` is the global `--cluster [PxR]`: a Redis Cluster instead (3x1 when no shape is
/// given), with a writer on every shard.
pub async fn run(args: DemoArgs, g: &Global, cluster: Option<&str>) -> u8 {
    let shape = match cluster {
        None => None,
        Some("") => Some(ClusterShape {
            primaries: 3,
            replicas: 1,
            node_timeout: ClusterShape::DEFAULT_NODE_TIMEOUT,
        }),
        Some(s) => match s.parse::<ClusterShape>() {
            Ok(shape) => Some(shape),
            Err(e) => {
                output::error(&format!("invalid --cluster: {e}"), None);
                return super::EXIT_USAGE;
            }
        },
    };
    let spec = Spec {
        replicas: 2,
        chain: true,
        sentinels: args.sentinels,
        server_bin: args.server_bin.clone(),
        group: "demo".to_string(),
        ..Spec::default()
    };
    let started = if let Some(shape) = shape {
        output::note(&format!(
            "redops demo: starting a local Redis Cluster ({} shards, {} replica(s) each)...",
            shape.primaries, shape.replicas
        ));
        Box::pin(Sandbox::start_cluster(shape, &spec)).await
    } else {
        output::note("redops demo: starting a local sandbox (primary, 2 replicas, 1 chained)...");
        Box::pin(Sandbox::start(&spec)).await
    };
    let mut sandbox = match started {
        Ok(s) => s,
        Err(e) => {
            output::error(&e.message(), e.hint());
            return EXIT_PROBLEM;
        }
    };
    let keep = keep_dir(&crate::config::data_dir(), std::time::SystemTime::now());
    let mut config = sandbox.config();
    config.console.audit_log = keep.join("audit.jsonl");
    config.console.backups_dir = keep.join("backups");
    output::note(&format!(
        "redops demo: its audit log and backups go to {} (kept after exit)",
        keep.display()
    ));
    let theme = match theme_for(&config, g) {
        Ok(t) => t,
        Err(code) => {
            sandbox.stop();
            return code;
        }
    };
    let mut writers = spawn_writers(&sandbox, &config);
    let opts = crate::tui::Options {
        read_only: g.read_only || config.console.read_only,
        label: None,
        sandbox_dir: Some(sandbox.dir().to_path_buf()),
        // The data-loss watch's memory is of this sandbox's ports: it goes with the sandbox.
        loss_file: Some(crate::history::loss_file::path_for(
            &sandbox.dir().join("audit.jsonl"),
        )),
    };
    // Without a control socket the demo still runs: only the faults from outside are missing.
    let control = ControlServer::bind(&sandbox).ok();
    let _ = sandbox.write_state();
    // On the heap: the console's future is large, and the demo's holds it across awaits.
    let mut console = Box::pin(crate::tui::runtime::run(config, theme, opts));
    let end = loop {
        tokio::select! {
            end = &mut console => break end,
            () = take_faults(&mut sandbox, control.as_ref()) => {}
        }
    };
    drop(control);
    for w in &mut writers {
        w.stop();
    }
    sandbox.stop();
    let code = exit_code(end);
    // Not `output::note`: after a hang-up stderr is gone and printing must not panic.
    let _ = writeln!(std::io::stderr(), "{}", exit_line(&keep));
    code
}

/// One writer on the primary; in a cluster, one per shard, each writing keys of its own
/// shard's slots (a hash tag), so that no write is answered `MOVED`.
fn spawn_writers(sandbox: &Sandbox, config: &crate::config::Config) -> Vec<writer::Writer> {
    let timeouts = Timeouts::from(&config.console);
    let nodes: Vec<crate::config::Node> =
        config.groups.iter().flat_map(|g| g.nodes.clone()).collect();
    let Some(shape) = sandbox.cluster_shape() else {
        return vec![writer::Writer::spawn(nodes, timeouts)];
    };
    (0..shape.primaries)
        .filter_map(|i| {
            let primary = sandbox.nodes().get(i)?;
            let shard: Vec<crate::config::Node> = sandbox
                .nodes()
                .iter()
                .filter(|n| n.name == primary.name || n.replica_of.as_ref() == Some(&primary.name))
                .map(crate::sandbox::ServerProcess::node)
                .collect();
            let (start, end) = shape.slots_of(i);
            let tag = crate::cluster::tag_in(start, end)?;
            Some(writer::Writer::spawn_keys(
                shard,
                timeouts,
                format!("demo{tag}"),
            ))
        })
        .collect()
}

/// One fault request served, or servers found exited and reaped (every half second at most).
async fn take_faults(sandbox: &mut Sandbox, control: Option<&ControlServer>) {
    let wait = tokio::time::sleep(Duration::from_millis(500));
    match control {
        Some(c) => {
            tokio::select! {
                // Only the wait for a connection races the timer, never the request itself.
                stream = c.accept() => {
                    let _ = c.handle(stream, sandbox).await;
                }
                () = wait => {}
            }
        }
        None => wait.await,
    }
    if !sandbox.reap_exited().is_empty() {
        let _ = sandbox.write_state();
    }
}

/// `<data dir>/redops-demo-YYYYMMDD-HHMMSS` (UTC), for this run's audit log and backups.
fn keep_dir(data_dir: &Path, now: std::time::SystemTime) -> PathBuf {
    let stamp = time::OffsetDateTime::from(now)
        .format(time::macros::format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .unwrap_or_else(|_| "now".to_string());
    data_dir.join(format!("redops-demo-{stamp}"))
}

/// What the demo says on exit: where its audit log and backups are, or that no action wrote
/// any (then the directory, made for this run, is removed with what little it holds).
fn exit_line(keep: &Path) -> String {
    let kept = keep.join("audit.jsonl").exists() || keep.join("backups").exists();
    if kept {
        format!(
            "redops demo: sandbox stopped, temporary files removed; its audit log and backups are kept in {}",
            keep.display()
        )
    } else {
        let _ = std::fs::remove_dir_all(keep);
        "redops demo: sandbox stopped, temporary files removed; no action ran, so there is no audit log or backup to keep".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_dir_is_named_by_the_utc_time() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_796_394_959);
        assert_eq!(
            keep_dir(Path::new("/d"), t),
            PathBuf::from("/d/redops-demo-20261204-143559")
        );
    }

    #[test]
    fn exit_line_names_a_kept_dir_and_removes_an_empty_one() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let keep = tmp.path().join("redops-demo-x");
        std::fs::create_dir(&keep).expect("mkdir");
        std::fs::write(keep.join("rejoin-pending.json"), "[]").expect("write");
        assert!(exit_line(&keep).contains("no action ran"));
        assert!(
            !keep.exists(),
            "a dir without audit log or backups is removed"
        );
        std::fs::create_dir(&keep).expect("mkdir");
        std::fs::write(keep.join("audit.jsonl"), "{}\n").expect("write");
        let line = exit_line(&keep);
        assert!(
            line.ends_with(&format!("kept in {}", keep.display())),
            "{line}"
        );
        assert!(keep.join("audit.jsonl").exists());
    }
}
