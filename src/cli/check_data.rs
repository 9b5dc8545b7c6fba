//! `redops check-data`: each replica compared with its primary at one proven point in time
//! (`crate::datacheck`); exit 0 when every group is consistent, 1 on a mismatch (naming the
//! databases and example keys) or when a pair could not be compared, 2 on usage.

use clap::Args;
use serde_json::{json, Value};

use super::{output, TargetArgs, EXIT_OK, EXIT_PROBLEM, EXIT_USAGE};
use crate::datacheck::{self, GroupReport, Method, Options, PairReport, Undecided, Verdict};
use crate::node::rdb::DbCount;
use crate::node::Timeouts;
use crate::timefmt;

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
}

/// Runs `redops check-data`.
pub async fn run(targets: &TargetArgs, args: CheckDataArgs) -> u8 {
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
    let opts = Options {
        allow_pause,
        key_budget: args.key_budget,
        ..Options::default()
    };
    let timeouts = Timeouts::from(&config.console);
    let mut all_ok = true;
    for group in &config.groups {
        let report = datacheck::check_group(group, timeouts, opts).await;
        all_ok &= report.consistent();
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

fn counts(list: &[DbCount]) -> String {
    if list.is_empty() {
        return "empty".to_string();
    }
    list.iter()
        .map(|d| format!("db{}={}", d.db, d.keys))
        .collect::<Vec<_>>()
        .join(" ")
}

fn method_text(p: &PairReport) -> String {
    let how = match &p.method {
        Some(Method::Digest) => "DEBUG DIGEST".to_string(),
        Some(Method::Scan { compared, total }) => {
            let pct = if *total == 0 {
                100.0
            } else {
                #[allow(clippy::cast_precision_loss)]
                let v = *compared as f64 * 100.0 / *total as f64;
                v.min(100.0)
            };
            format!("DEBUG refused: DUMP of {compared} of {total} keys ({pct:.1}% coverage)")
        }
        None => "-".to_string(),
    };
    let at = p
        .offset
        .map_or(String::new(), |o| format!(" at offset {o}"));
    let pause = p.paused.map_or(String::new(), |d| {
        format!(", writes paused up to {}", timefmt::span(d))
    });
    format!(
        "{how}{at}, {} in {}{pause}",
        crate::words::count(p.attempts, "attempt"),
        timefmt::span(p.elapsed)
    )
}

/// Why a replica was not compared, with what to do about it.
fn why_text(why: &Undecided, p: &PairReport) -> String {
    match why {
        Undecided::NoAnswer => "it does not answer INFO".to_string(),
        Undecided::OtherHistory => {
            "it is in no primary's replication history (another replid)".to_string()
        }
        Undecided::NoEqualOffsets if p.paused.is_some() => format!(
            "the write pause ran out before the replica was read at the primary's offset \
             ({}); give a longer --allow-pause",
            crate::words::count(p.attempts, "attempt")
        ),
        Undecided::NoEqualOffsets => format!(
            "the replica was never read at the primary's offset in {} (writes too fast to \
             catch both sides at one point); --allow-pause MS takes a brief write pause instead",
            crate::words::count(p.attempts, "attempt")
        ),
        Undecided::Failed(e) => e.clone(),
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
                counts(&p.replica_keys),
                method_text(p)
            )),
            Verdict::Mismatch { dbs, examples } => {
                output::line(&format!("  {}: MISMATCH ({})", p.replica, method_text(p)));
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
