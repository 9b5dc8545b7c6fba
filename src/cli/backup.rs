//! `redops backup list|prune|verify`: the catalog of downloaded backups, retention (a dry run
//! unless `--yes`), and the restore test into a scratch server. The global `--group` and
//! `--node` filter by group and node *name* here. The reading, the ids and the test are
//! `crate::backup`; this file prints.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

mod cluster;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::{output, TargetArgs, EXIT_OK, EXIT_PROBLEM, EXIT_USAGE};
use crate::backup::{self, catalog, Catalog, Entry, Filter, Retention};
use crate::config;
use crate::node::rdb::Manifest;
use crate::timefmt;
use crate::topology::data_loss::thousands;
use crate::tui::fmt;
use crate::tui::view::backups::{keys_text, restore_text};

/// `redops backup` options.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: BackupCommand,

    /// The backups directory (default: `console.backups_dir` of the config).
    #[arg(long, global = true, value_name = "DIR")]
    pub backups_dir: Option<PathBuf>,
}

/// What to do with the backups.
#[derive(Debug, Clone, Subcommand)]
pub enum BackupCommand {
    /// Every downloaded backup, newest first: id, group, node, time, size, keys per db,
    /// replid/offset, CRC, last restore test. `--group`/`--node` filter by name.
    List {
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete old backups of the catalog (a dry run unless --yes); never any other file.
    Prune {
        /// Keep the newest N backups of each node.
        #[arg(
            long,
            value_name = "N",
            conflicts_with = "older_than",
            required_unless_present = "older_than"
        )]
        keep: Option<usize>,
        /// Delete backups taken longer ago than this (e.g. 30d, 12h).
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
        /// Delete for real (without it, only print what would go).
        #[arg(long)]
        yes: bool,
    },
    /// Restore test: the CRC, then a load into a scratch local server, keys per db against
    /// the manifest and a sample of keys read back; the result goes into the manifest.
    Verify {
        /// A backup id (from `backup list`, or its start), or an RDB file.
        #[arg(value_name = "ID|FILE")]
        target: String,
        /// The server binary to load it with (default: one of the source's major version
        /// from `$REDOPS_SERVER_BIN` or `PATH`, else the one on `PATH`).
        #[arg(long, value_name = "FILE")]
        server_bin: Option<PathBuf>,
        /// Keys to read back.
        #[arg(long, value_name = "N", default_value_t = backup::restore_test::DEFAULT_SAMPLE)]
        sample: usize,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `redops backup …`.
pub async fn run(targets: &TargetArgs, args: BackupArgs) -> u8 {
    let Some((dir, audit_log)) = dirs(targets, &args) else {
        return EXIT_USAGE;
    };
    let filter = Filter {
        group: targets.group.clone(),
        node: targets.nodes.first().cloned(),
    };
    match args.command {
        BackupCommand::List { json } => {
            let code = list(&dir, &filter, json);
            if filter.node.is_none() {
                cluster::list(&dir, filter.group.as_deref(), json);
            }
            code
        }
        BackupCommand::Prune {
            keep,
            older_than,
            yes,
        } => {
            let rule = match (keep, &older_than) {
                (Some(n), _) => format!("--keep {n}"),
                (None, Some(age)) => format!("--older-than {age}"),
                (None, None) => String::new(),
            };
            let retention = match (keep, older_than) {
                (Some(n), _) => Retention::Keep(n),
                (None, Some(age)) => match super::history::parse_since(&age) {
                    Ok(d) => Retention::NewerThan(d),
                    Err(e) => {
                        output::error(
                            &format!("invalid --older-than: {e}"),
                            Some("for example --older-than 30d"),
                        );
                        return EXIT_USAGE;
                    }
                },
                (None, None) => return EXIT_USAGE,
            };
            prune(
                &dir,
                &filter,
                retention,
                yes.then_some((audit_log.as_path(), rule.as_str())),
            )
        }
        BackupCommand::Verify {
            target,
            server_bin,
            sample,
            json,
        } => {
            let (code, check) = match crate::backup::cluster::find(&dir, &target) {
                Some(entry) => cluster::verify(&entry, server_bin.as_deref(), sample, json).await,
                None => verify(&dir, &target, server_bin.as_deref(), sample, json).await,
            };
            if let Some(check) = check {
                audit(&audit_log, &check);
            }
            code
        }
    }
}

/// The backups directory (`--backups-dir`, else the config's, the file given or found, else
/// the default location) and the audit log (the config's, else the default).
fn dirs(targets: &TargetArgs, args: &BackupArgs) -> Option<(PathBuf, PathBuf)> {
    let path = targets
        .config
        .clone()
        .unwrap_or_else(config::default_config_path);
    let console = if targets.config.is_none() && !path.exists() {
        config::Console::default()
    } else {
        match config::load_file(&path) {
            Ok(c) => c.console,
            Err(e) if args.backups_dir.is_none() => {
                output::error(&e.to_string(), None);
                return None;
            }
            // The directory is given: a broken config costs only its audit log's place.
            Err(_) => config::Console::default(),
        }
    };
    let backups = args.backups_dir.clone().unwrap_or(console.backups_dir);
    Some((backups, console.audit_log))
}

/// Writes a check's audit record; a failure is said, not fatal (the work itself is done).
fn audit(audit_log: &Path, check: &crate::audit::checks::Check) {
    if let Err(e) = crate::audit::checks::write(audit_log, check) {
        output::error(
            &format!(
                "the audit record was not written to '{}': {e}",
                audit_log.display()
            ),
            Some("set console.audit_log to a writable file"),
        );
    }
}

fn report_problems(cat: &Catalog) {
    for p in &cat.problems {
        output::note(&format!("skipped '{}': {}", p.path.display(), p.message));
    }
}

fn list(dir: &Path, filter: &Filter, as_json: bool) -> u8 {
    let cat = catalog::load(dir, filter);
    report_problems(&cat);
    if as_json {
        for e in &cat.entries {
            output::json(&entry_json(e).to_string());
        }
        return EXIT_OK;
    }
    if cat.entries.is_empty() {
        output::line(&format!("no backups in '{}'", dir.display()));
        return EXIT_OK;
    }
    let now = SystemTime::now();
    let rows: Vec<[String; 9]> = cat.entries.iter().map(|e| row(e, now)).collect();
    let headers = [
        "ID",
        "GROUP",
        "NODE",
        "TAKEN",
        "SIZE",
        "KEYS",
        "REPLID/OFFSET",
        "CRC",
        "RESTORE TEST",
    ];
    let mut widths = headers.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    output::line(&line(&headers.map(str::to_string)));
    for r in &rows {
        output::line(&line(r));
    }
    EXIT_OK
}

fn row(e: &Entry, now: SystemTime) -> [String; 9] {
    let m = &e.manifest;
    let taken = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(m.taken_at_unix_ms);
    [
        e.id.clone(),
        m.group.clone(),
        m.node.clone(),
        format!(
            "{} ({} ago)",
            timefmt::clock(taken),
            timefmt::age(now, taken)
        ),
        fmt::bytes(m.bytes),
        keys_text(m),
        match (&m.aux_repl_id, m.aux_repl_offset) {
            (Some(id), Some(o)) => format!("{}/{o}", id.get(..8).unwrap_or(id)),
            _ => "-".to_string(),
        },
        m.crc_status.clone(),
        restore_text(m),
    ]
}

fn entry_json(e: &Entry) -> Value {
    json!({
        "id": e.id,
        "rdb": e.rdb,
        "manifest_path": e.manifest_path,
        "recorded_elsewhere": e.external,
        "manifest": e.manifest,
    })
}

/// `delete`: the audit log and the rule as given, when deleting for real (a dry run only
/// prints).
fn prune(dir: &Path, filter: &Filter, retention: Retention, delete: Option<(&Path, &str)>) -> u8 {
    let yes = delete.is_some();
    let started = SystemTime::now();
    let cat = catalog::load(dir, filter);
    report_problems(&cat);
    let (gone, kept) = backup::prune::prunable(dir, &cat, retention, started);
    if kept > 0 {
        output::note(&format!(
            "kept {} that belong to a cluster backup (snapshot --all)",
            crate::words::count(kept, "backup")
        ));
    }
    if gone.is_empty() {
        output::line("nothing to prune");
        return EXIT_OK;
    }
    let now = SystemTime::now();
    let verb = if yes { "deleting" } else { "would delete" };
    for e in &gone {
        let r = row(e, now);
        output::line(&format!(
            "{verb} {} {}/{} {} {} {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            e.rdb.display()
        ));
    }
    let total: u64 = gone.iter().map(|e| e.manifest.bytes).sum();
    let mut failed = Vec::new();
    if let Some((audit_log, rule)) = delete {
        let (f, notes) = backup::prune::delete(dir, &gone, rule, started, audit_log);
        for (_, msg) in &f {
            output::error(msg, None);
        }
        for n in notes {
            output::error(&n, None);
        }
        failed = f;
        output::line(&format!(
            "deleted {} ({})",
            crate::words::count(gone.len() - failed.len(), "backup"),
            fmt::bytes(total)
        ));
    } else {
        output::line(&format!(
            "dry run: {} ({}) would go; add --yes to delete them",
            crate::words::count(gone.len(), "backup"),
            fmt::bytes(total)
        ));
    }
    if failed.is_empty() {
        EXIT_OK
    } else {
        EXIT_PROBLEM
    }
}

/// The RDB (and its manifest, when it has one) that `target` names: an id of the catalog, or
/// a file. `Err` is the exit code once the error is printed.
fn resolve(dir: &Path, target: &str) -> Result<(PathBuf, Option<Manifest>), u8> {
    backup::restore::find(dir, target).map_err(|e| {
        output::error(&e.to_string(), Some(e.hint()));
        EXIT_USAGE
    })
}

async fn verify(
    dir: &Path,
    target: &str,
    server_bin: Option<&Path>,
    sample: usize,
    as_json: bool,
) -> (u8, Option<crate::audit::checks::Check>) {
    let (rdb, manifest) = match resolve(dir, target) {
        Ok(found) => found,
        Err(code) => return (code, None),
    };
    // Listening before anything starts: `ctrl_c()` would only listen once first polled, and
    // a Ctrl-C before that would end the process with the scratch server left to the watchdog.
    let mut interrupt =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
            Ok(s) => s,
            Err(e) => {
                output::error(&format!("cannot listen for Ctrl-C: {e}"), None);
                return (EXIT_PROBLEM, None);
            }
        };
    let started = SystemTime::now();
    let test = backup::restore_test(&rdb, manifest.as_ref(), server_bin, sample);
    let report = tokio::select! {
        biased;
        _ = interrupt.recv() => {
            // The test's future is dropped here: the scratch server is killed with it.
            output::error("interrupted: the scratch server was stopped", None);
            return (EXIT_PROBLEM, None);
        }
        r = test => r,
    };
    let check = backup::restore_test::audit(&rdb, manifest.as_ref(), report.as_ref(), started);
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            if as_json {
                output::json(
                    &json!({"file": rdb, "passed": false, "error": e.to_string()}).to_string(),
                );
            }
            let hint = match &e {
                backup::VerifyError::Load { .. } => Some(
                    "a newer RDB version than this server reads, or a module's data type: \
                     give a server of the source's version with --server-bin or REDOPS_SERVER_BIN"
                        .to_string(),
                ),
                other => other.hint(),
            };
            output::error(&e.to_string(), hint.as_deref());
            if let Some(m) = &manifest {
                let path = crate::node::rdb::manifest_path(&rdb);
                if let Err(w) = backup::restore_test::write_failure(&path, m, &e) {
                    output::error(
                        &format!("the failure was not written into the manifest: {w}"),
                        None,
                    );
                }
            }
            return (EXIT_PROBLEM, Some(check));
        }
    };
    let manifest_path = crate::node::rdb::manifest_path(&rdb);
    let mut write_error = None;
    if let Some(m) = &manifest {
        if let Err(e) = backup::restore_test::write_back(&manifest_path, m, &report) {
            write_error = Some(e.to_string());
        }
    }
    if as_json {
        output::json(&report_json(&report, manifest.is_some()).to_string());
    } else {
        print_report(&report, manifest.is_some());
        let aof = manifest
            .as_ref()
            .and_then(|m| m.info.as_ref())
            .is_some_and(|i| i.aof_enabled);
        if aof {
            output::line(&format!(
                "note: {}",
                crate::ops::snapshot::aof_note(manifest.as_ref().map_or("?", |m| m.node.as_str()))
            ));
        }
    }
    if let Some(e) = write_error {
        output::error(
            &format!("the result was not written into the manifest: {e}"),
            None,
        );
    }
    let code = if report.passed() {
        EXIT_OK
    } else {
        EXIT_PROBLEM
    };
    (code, Some(check))
}

fn server_text(r: &backup::Report) -> String {
    let s = &r.server;
    let which = s.version.clone().unwrap_or_else(|| "a server".to_string());
    let why = match (&s.source_version, s.same_major) {
        (Some(v), true) => format!("same major version as the source ({v})"),
        (Some(v), false) => format!("no server of the source's major version ({v}) was found"),
        (None, _) => "the source's version is unknown".to_string(),
    };
    format!("{which} ({}): {why}", s.bin.display())
}

fn print_report(r: &backup::Report, has_manifest: bool) {
    output::line(&format!(
        "{}: RDB {} ({}), {}, CRC {}",
        r.file.display(),
        r.check.version,
        fmt::bytes(r.check.bytes),
        match r.check.format {
            crate::node::rdb::RdbFormat::Redis => "Redis format",
            crate::node::rdb::RdbFormat::Valkey => "Valkey format",
        },
        r.check.crc.as_str()
    ));
    output::line(&format!("loaded by {}", server_text(r)));
    output::line(&format!(
        "loaded in {}: {} keys ({})",
        timefmt::span(r.load_time),
        thousands(r.total_keys),
        if r.loaded.is_empty() {
            "empty".to_string()
        } else {
            r.loaded
                .iter()
                .map(|d| format!("db{}={}", d.db, d.keys))
                .collect::<Vec<_>>()
                .join(" ")
        }
    ));
    let types: Vec<String> = r.types.iter().map(|(t, n)| format!("{t} {n}")).collect();
    output::line(&format!(
        "read back {} sampled keys: {}",
        r.sampled,
        if types.is_empty() {
            "-".to_string()
        } else {
            types.join(", ")
        }
    ));
    for k in r.unreadable.iter().take(10) {
        output::line(&format!("  unreadable: {k}"));
    }
    if !has_manifest {
        output::line("no manifest: not made by redops; nothing compared, nothing recorded");
    }
    for p in &r.problems {
        output::line(&format!("MISMATCH {p}"));
    }
    output::line(&if r.passed() {
        format!(
            "restore test passed in {}{}",
            timefmt::span(r.elapsed),
            if has_manifest {
                "; recorded in the manifest"
            } else {
                ""
            }
        )
    } else {
        "restore test FAILED".to_string()
    });
}

fn report_json(r: &backup::Report, has_manifest: bool) -> Value {
    json!({
        "file": r.file,
        "rdb_version": r.check.version,
        "bytes": r.check.bytes,
        "crc": r.check.crc.as_str(),
        "server": {
            "bin": r.server.bin,
            "version": r.server.version,
            "source_version": r.server.source_version,
            "same_major": r.server.same_major,
        },
        "keys": r.loaded,
        "total_keys": r.total_keys,
        "sampled": r.sampled,
        "types": r.types,
        "unreadable": r.unreadable,
        "problems": r.problems,
        "has_manifest": has_manifest,
        "load_ms": u64::try_from(r.load_time.as_millis()).unwrap_or(u64::MAX),
        "elapsed_ms": u64::try_from(r.elapsed.as_millis()).unwrap_or(u64::MAX),
        "passed": r.passed(),
    })
}
