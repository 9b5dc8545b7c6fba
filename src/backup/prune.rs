//! Retention, shared by `redops backup prune` and the console's `:prune`: which backups a rule
//! lets go (never a node backup that is a shard of a cluster backup: deleting it would leave
//! that cluster backup unrestorable), and deleting them with one audit record per group.
//! Synchronous file work; no front-end here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::catalog::{self, Catalog, Entry, Retention};
use super::cluster;

/// A rule as the operator wrote it: `keep N` (the newest N of each node) or `older-than 30d`.
///
/// # Errors
/// What does not read, as a message with an example.
pub fn parse_rule(text: &str) -> Result<(Retention, String), String> {
    let text = text.trim();
    let (word, arg) = text
        .split_once(char::is_whitespace)
        .map_or((text, ""), |(w, a)| (w, a.trim()));
    match word {
        "keep" => arg
            .parse::<usize>()
            .map(|n| (Retention::Keep(n), format!("--keep {n}")))
            .map_err(|_| {
                format!("'keep {arg}': the number of backups to keep per node, e.g. keep 3")
            }),
        "older-than" => parse_age(arg)
            .map(|d| (Retention::NewerThan(d), format!("--older-than {arg}")))
            .map_err(|e| format!("'older-than {arg}': {e}; e.g. older-than 30d")),
        _ => Err(format!(
            "'{text}': give keep N or older-than AGE (e.g. keep 3, older-than 30d)"
        )),
    }
}

/// `30d`, or a duration as the config writes them (`12h`, `90m`).
///
/// # Errors
/// What does not read, as a message.
pub fn parse_age(s: &str) -> Result<Duration, String> {
    if let Some(days) = s.trim().strip_suffix('d') {
        let n: u64 = days
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not a number of days"))?;
        return n
            .checked_mul(86_400)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("'{s}' is out of range"));
    }
    crate::config::parse_duration(s)
}

/// The backups `retention` lets go, and how many it would have taken that a cluster backup
/// holds as shards (kept).
#[must_use]
pub fn prunable<'a>(
    dir: &Path,
    cat: &'a Catalog,
    retention: Retention,
    now: SystemTime,
) -> (Vec<&'a Entry>, usize) {
    let mut gone = cat.prunable(retention, now);
    let (entries, _) = cluster::load(dir, None);
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let shards: BTreeSet<PathBuf> = entries
        .iter()
        .flat_map(|e| e.manifest.shards.iter().map(|s| abs(&s.file)))
        .collect();
    let before = gone.len();
    gone.retain(|e| !shards.contains(&abs(&e.rdb)));
    let kept = before - gone.len();
    (gone, kept)
}

/// Deletes `gone`, compacts the catalog file and writes the audit records (one per group)
/// into `audit_log`. Returns the ids that could not be deleted, with why, and any error of the
/// catalog or the audit log as notes.
#[must_use]
pub fn delete(
    dir: &Path,
    gone: &[&Entry],
    rule: &str,
    started: SystemTime,
    audit_log: &Path,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut failed = Vec::new();
    let mut notes = Vec::new();
    for e in gone {
        if let Err(msg) = catalog::delete(e) {
            failed.push((e.id.clone(), msg));
        }
    }
    if let Err(e) = catalog::compact(dir) {
        notes.push(format!("the catalog file was not compacted: {e}"));
    }
    for check in catalog::prune_audit(gone, &failed, rule, started) {
        if let Err(e) = crate::audit::checks::write(audit_log, &check) {
            notes.push(format!(
                "the audit record was not written to '{}': {e}",
                audit_log.display()
            ));
        }
    }
    (failed, notes)
}

#[cfg(test)]
mod tests {
    use super::{parse_age, parse_rule, Retention};
    use std::time::Duration;

    #[test]
    fn rules_read_as_the_cli_writes_them() {
        assert_eq!(
            parse_rule("keep 3"),
            Ok((Retention::Keep(3), "--keep 3".to_string()))
        );
        assert_eq!(
            parse_rule(" older-than 30d "),
            Ok((
                Retention::NewerThan(Duration::from_secs(30 * 86_400)),
                "--older-than 30d".to_string()
            ))
        );
        assert_eq!(parse_age("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_rule("keep").unwrap_err().contains("keep 3"));
        assert!(parse_rule("older-than soon").unwrap_err().contains("30d"));
        assert!(parse_rule("all").unwrap_err().contains("keep N"));
    }
}
