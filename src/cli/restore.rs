//! `redops restore NODE --from ID|FILE`: the action (`actions::act`, the core's session and
//! engine), or with `--to-dir DIR` the offline mode: the RDB written (checked) into DIR and
//! the exact manual steps printed, with the node's `dir`, `dbfilename` and `appendonly` read
//! from it when it answers. The offline mode changes nothing on any server.

use std::fmt::Write as _;

use super::actions::{self, RestoreArgs};
use super::{output, Global, TargetArgs, EXIT_OK, EXIT_PROBLEM, EXIT_USAGE};
use crate::backup::restore::{self as core, NodeSettings, Offline, RestoreSource};
use crate::config::{Addr, Config};
use crate::node::Timeouts;
use crate::topology::Topology;

/// Runs `redops restore`; returns the exit code.
pub async fn run(targets: &TargetArgs, global: &Global, args: &RestoreArgs) -> u8 {
    match &args.to_dir {
        None => actions::act(targets, global, args).await,
        Some(dir) => offline(targets, args, dir).await,
    }
}

async fn offline(targets: &TargetArgs, args: &RestoreArgs, dir: &std::path::Path) -> u8 {
    let config = match targets.resolve_or_report().await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let node = match crate::ops::find_node(&config, &Topology::default(), &args.node) {
        Ok(n) => n.cfg.clone(),
        Err(e) => {
            output::error(&e.message, e.hint.as_deref());
            return EXIT_USAGE;
        }
    };
    let src = match args.source(&config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Err(e) = &src.check {
        output::error(
            &format!("the backup cannot be restored: {e}"),
            Some("take another backup, or pick an older one from `redops backup list`"),
        );
        return EXIT_USAGE;
    }
    let settings = core::read_settings(&node, Timeouts::from(&config.console)).await;
    let written = match core::write_offline(&src, dir, settings) {
        Ok(w) => w,
        Err(e) => {
            output::error(&e, Some("choose an empty directory you can write to"));
            return EXIT_PROBLEM;
        }
    };
    if args.flags.json {
        let v = serde_json::json!({
            "event": "restore_offline",
            "node": node.name,
            "addr": node.addr.to_string(),
            "source": src,
            "written": written,
            "steps": steps(&config, &node.name, &node.addr, &src, &written),
        });
        output::json(&v.to_string());
    } else {
        for l in steps_text(&config, &node.name, &node.addr, &src, &written).lines() {
            output::line(l);
        }
    }
    EXIT_OK
}

fn keyspace(keys: &[crate::node::rdb::DbCount]) -> String {
    if keys.is_empty() {
        return "no keys".to_string();
    }
    keys.iter()
        .map(|d| format!("db{}:keys={}", d.db, d.keys))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The manual steps, one string each, in order.
fn steps(
    config: &Config,
    name: &str,
    addr: &Addr,
    src: &RestoreSource,
    w: &Offline,
) -> Vec<String> {
    let cli = format!("redis-cli -h {} -p {}", addr.host, addr.port);
    let file = w.file.display().to_string();
    let fname = w
        .file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (target_dir, aof) = match &w.settings {
        Ok(NodeSettings {
            dir, appendonly, ..
        }) => (dir.clone(), Some(*appendonly)),
        Err(_) => ("<its dir: CONFIG GET dir>".to_string(), None),
    };
    let mut out = vec![format!(
        "keep what {name} holds now: `redops snapshot {name} --download {}` (or copy {target_dir}/{fname} aside)",
        config.console.backups_dir.display()
    )];
    match aof {
        Some(true) => out.push(format!(
            "{name} runs appendonly yes: at start it loads its AOF and ignores the RDB; set `appendonly no` in its \
             config file for the load"
        )),
        Some(false) => {}
        None => out.push(format!(
            "if {name} runs appendonly yes (`{cli} CONFIG GET appendonly`), it loads its AOF and ignores the RDB: \
             set `appendonly no` in its config file for the load"
        )),
    }
    out.push(format!(
        "stop the server: `{cli} SHUTDOWN NOSAVE` (NOSAVE: a saving shutdown writes its current data over \
         {fname}), or stop its service"
    ));
    out.push(format!(
        "replace the file: `cp {file} {target_dir}/{fname}` (on {name}'s machine: copy it there first, e.g. \
         with scp), readable by the server's user (e.g. `chown redis:redis {target_dir}/{fname}`)"
    ));
    out.push(
        "start the server the way it is started (its service, or its command line)".to_string(),
    );
    let want = src.expected.as_ref().map_or_else(
        || "the counts the file loads".to_string(),
        |e| keyspace(&e.before),
    );
    out.push(format!(
        "verify: `{cli} INFO keyspace` shows {want}; `redops backup verify {file}` shows what the file holds"
    ));
    if aof != Some(false) {
        out.push(format!(
            "if the AOF was on: `{cli} CONFIG SET appendonly yes` (the server rewrites its AOF from the loaded data, \
             as BGREWRITEAOF does: wait for aof_rewrite_in_progress:0 and aof_last_bgrewrite_status:ok in INFO \
             persistence), then set `appendonly yes` back in its config file"
        ));
    }
    out
}

fn steps_text(
    config: &Config,
    name: &str,
    addr: &Addr,
    src: &RestoreSource,
    w: &Offline,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "wrote {} ({} bytes, CRC-64 {}) from backup {}",
        w.file.display(),
        w.bytes,
        w.crc,
        src.label()
    );
    if let Some(e) = &src.expected {
        let _ = writeln!(s, "it holds, by its manifest: {}", keyspace(&e.before));
    }
    match &w.settings {
        Ok(n) => {
            let _ = writeln!(
                s,
                "{name} ({addr}): dir {}, dbfilename {}, appendonly {}, {}{}",
                n.dir,
                n.dbfilename,
                if n.appendonly { "yes" } else { "no" },
                keyspace(&n.keys),
                n.version
                    .as_deref()
                    .map_or_else(String::new, |v| format!(", version {v}"))
            );
        }
        Err(e) => {
            let _ = writeln!(
                s,
                "{name} ({addr}) could not be read ({e}): the steps name its settings for you to look up"
            );
        }
    }
    let _ = writeln!(s, "manual steps on {name}'s machine:");
    for (i, step) in steps(config, name, addr, src, w).iter().enumerate() {
        let _ = writeln!(s, "  {}. {step}", i + 1);
    }
    s
}
