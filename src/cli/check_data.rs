//! `redops check-data`: each replica compared with its primary at one proven point in time
//! (`crate::datacheck`); exit 0 when every group is consistent, 1 on a mismatch (naming the
//! databases and example keys) or when a pair could not be compared, 2 on usage.

use clap::Args;
use serde_json::{json, Value};

use super::{output, TargetArgs, EXIT_OK, EXIT_PROBLEM, EXIT_REFUSED, EXIT_USAGE};
use crate::audit::checks;
use crate::datacheck::{self, GroupReport, Method, Options, PairReport, Undecided, Verdict};
use crate::node::Timeouts;
use crate::ops::Confirm;

/// `redops check-data` options (`--group` is the global one).
#[derive(Debug, Clone, Args)]
pub struct CheckDataArgs {
    /// One JSON object per group instead of text.
    #[arg(long)]
    pub json: bool,
    /// Allow a brief `CLIENT PAUSE WRITE` of at most this long on the primary (e.g. 200ms)
    /// while both sides are read, instead of catching them at equal offsets under writes.
    #[arg(long, value_name = "MS")]
    pub allow_pause: Option<String>,
    /// Keys compared one by one when `DEBUG DIGEST` is refused, at most.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub key_budget: u64,
    /// Confirm the write pause of --allow-pause without asking (for scripts).
    #[arg(long)]
    pub yes: bool,
}

/// Runs `redops check-data`.
pub async fn run(targets: &TargetArgs, global: &super::Global, args: CheckDataArgs) -> u8 {
    let allow_pause = match args.allow_pause.as_deref().map(pause_ms) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            output::error(
                &format!("invalid --allow-pause: {e}"),
                Some("for example --allow-pause 200ms (at most 10s)"),
            );
            return EXIT_USAGE;
        }
    };
    let config = match targets.resolve_or_report().await {
        Ok(c) => c,
        Err(code) => return code,
    };
    // A write pause is an outage for the writers: asked for (y/N), and audited either way.
    if let Some(pause) = allow_pause {
        let read_only = global.read_only
            || config.console.read_only
            || config.groups.iter().any(|g| g.read_only);
        if read_only {
            output::error(
                "read-only: check-data does not pause writes here",
                Some("run it without --allow-pause (equal offsets are still proven under writes)"),
            );
            for group in &config.groups {
                audit(
                    &config.console.audit_log,
                    &datacheck::refused(&group.name, pause, "read-only: no write pause"),
                );
            }
            return EXIT_REFUSED;
        }
        if let Err(e) = crate::audit::AuditLog::open(&config.console.audit_log) {
            output::error(
                &format!(
                    "no write pause without an audit trail: cannot open '{}': {e}",
                    config.console.audit_log.display()
                ),
                Some("set console.audit_log to a writable file"),
            );
            return EXIT_PROBLEM;
        }
        output::note(&format!(
            "check-data pauses writes (CLIENT PAUSE WRITE) on the primary of {} for at most {} \
             per replica while both sides are read",
            crate::words::count(config.groups.len(), "group"),
            datacheck::millis(pause)
        ));
        if let Err(code) = super::actions::confirm(&Confirm::Yes, args.yes) {
            if code == EXIT_REFUSED {
                for group in &config.groups {
                    audit(
                        &config.console.audit_log,
                        &datacheck::refused(
                            &group.name,
                            pause,
                            "the write pause was not confirmed",
                        ),
                    );
                }
            }
            return code;
        }
    }
    let opts = Options {
        allow_pause,
        key_budget: args.key_budget,
        ..Options::default()
    };
    let timeouts = Timeouts::from(&config.console);
    let mut all_ok = true;
    for group in &config.groups {
        let started = std::time::SystemTime::now();
        let report = datacheck::check_group(group, timeouts, opts).await;
        all_ok &= report.consistent();
        audit(
            &config.console.audit_log,
            &report.audit(allow_pause, started),
        );
        if args.json {
            output::json(&group_json(&report).to_string());
        } else {
            print_group(&report);
        }
    }
    if all_ok {
        EXIT_OK
    } else {
        EXIT_PROBLEM
    }
}

/// Writes the check's audit record; a failure is said, not fatal (the check itself is done).
fn audit(audit_log: &std::path::Path, check: &checks::Check) {
    if let Err(e) = checks::write(audit_log, check) {
        output::error(
            &format!(
                "the audit record was not written to '{}': {e}",
                audit_log.display()
            ),
            Some("set console.audit_log to a writable file"),
        );
    }
}

/// `200` or `200ms` or `1s`; at most 10 s (a write pause is an outage for writers).
fn pause_ms(s: &str) -> Result<std::time::Duration, String> {
    let d = match s.trim().parse::<u64>() {
        Ok(ms) => std::time::Duration::from_millis(ms),
        Err(_) => crate::config::parse_duration(s)?,
    };
    if d.is_zero() || d > std::time::Duration::from_secs(10) {
        return Err(format!("'{s}' is not between 1ms and 10s"));
    }
    Ok(d)
}

/// Why a replica was not compared, with the flag that settles it when a pause would.
fn why_text(why: &Undecided, p: &PairReport) -> String {
    let said = datacheck::why(why, p);
    match why {
        Undecided::NoEqualOffsets if p.paused.is_some() => {
            format!("{said}; give a longer --allow-pause")
        }
        Undecided::NoEqualOffsets => {
            format!("{said}; --allow-pause MS takes a brief write pause instead")
        }
        _ => said,
    }
}

fn print_group(g: &GroupReport) {
    let primaries = if g.primaries.is_empty() {
        "?".to_string()
    } else {
        g.primaries.join(", ")
    };
    let word = if g.primaries.len() > 1 {
        "primaries"
    } else {
        "primary"
    };
    output::line(&format!("group {}: {word} {primaries}", g.group));
    if let Some(p) = &g.problem {
        output::line(&format!("  NOT CHECKED: {p}"));
    }
    for p in &g.pairs {
        match &p.verdict {
            Verdict::Consistent => output::line(&format!(
                "  {}: consistent ({}; {})",
                p.replica,
                datacheck::counts(&p.replica_keys),
                datacheck::method(p)
            )),
            Verdict::Mismatch { dbs, examples } => {
                output::line(&format!(
                    "  {}: MISMATCH ({})",
                    p.replica,
                    datacheck::method(p)
                ));
                for d in dbs {
                    output::line(&format!(
                        "    db{}: {} keys on {}, {} on {}",
                        d.db, d.primary_keys, p.primary, d.replica_keys, p.replica
                    ));
                }
                if dbs.is_empty() {
                    output::line("    same key counts, different data");
                }
                for k in examples {
                    output::line(&format!("    differs: {k}"));
                }
            }
            Verdict::Undecided(why) => {
                output::line(&format!(
                    "  {}: NOT COMPARED: {}",
                    p.replica,
                    why_text(why, p)
                ));
            }
        }
    }
    if g.pairs.is_empty() && g.problem.is_none() {
        output::line("  no replica to compare");
    }
}

fn group_json(g: &GroupReport) -> Value {
    let pairs: Vec<Value> = g
        .pairs
        .iter()
        .map(|p| {
            let (verdict, dbs, examples, why) = match &p.verdict {
                Verdict::Consistent => ("consistent", Vec::new(), Vec::new(), None),
                Verdict::Mismatch { dbs, examples } => (
                    "mismatch",
                    dbs.iter()
                        .map(|d| {
                            json!({"db": d.db, "primary_keys": d.primary_keys, "replica_keys": d.replica_keys})
                        })
                        .collect(),
                    examples.clone(),
                    None,
                ),
                Verdict::Undecided(w) => ("not_compared", Vec::new(), Vec::new(), Some(why_text(w, p))),
            };
            let method = match &p.method {
                Some(Method::Digest) => json!({"kind": "digest"}),
                Some(Method::Scan { compared, total }) => {
                    json!({"kind": "scan", "compared": compared, "total": total})
                }
                None => Value::Null,
            };
            json!({
                "primary": p.primary,
                "replica": p.replica,
                "verdict": verdict,
                "why": why,
                "dbs": dbs,
                "examples": examples,
                "method": method,
                "offset": p.offset,
                "attempts": p.attempts,
                "pause_ms": p.paused.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                "primary_keys": p.primary_keys,
                "replica_keys": p.replica_keys,
                "elapsed_ms": u64::try_from(p.elapsed.as_millis()).unwrap_or(u64::MAX),
            })
        })
        .collect();
    json!({
        "group": g.group,
        "primaries": g.primaries,
        "consistent": g.consistent(),
        "problem": g.problem,
        "replicas": pairs,
    })
}
