//! The catalog of backups: every manifest under the backups directory
//! (`<dir>/<group>/<node>/*.rdb.json`), plus the downloads sent elsewhere (`snapshot --download
//! DIR`), which are recorded in `<dir>/catalog.jsonl` when they are taken. Ids, filters and
//! the retention rule (`prune`) live here too.
//!
//! Manifests and the catalog file are untrusted: every read is bounded, a bad file is reported
//! as a [`Problem`] and skipped, never a panic. Nothing here deletes a file that is not an
//! entry of the catalog: [`delete`] removes exactly one entry's RDB and manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::node::rdb::{manifest_path, read_bounded, read_manifest, Manifest, CRC64};

/// The file, in the backups directory, that records downloads kept elsewhere.
pub const CATALOG_FILE: &str = "catalog.jsonl";
/// The catalog file is one short line per download: past this it is not read.
const MAX_CATALOG_BYTES: u64 = 16 * 1024 * 1024;
/// At most this many manifests are read in one listing.
const MAX_ENTRIES: usize = 100_000;
/// Directory entries looked at per directory level (a backups dir is not a mail spool).
const MAX_DIR_ENTRIES: usize = 100_000;

/// One line of `catalog.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The manifest of a download made outside the backups directory (absolute path).
    pub manifest: PathBuf,
    pub recorded_at_unix_ms: u64,
}

/// One backup: its manifest and where it lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Short and stable: 8 hex digits of the CRC-64 of the manifest's absolute path.
    pub id: String,
    pub rdb: PathBuf,
    pub manifest_path: PathBuf,
    pub manifest: Manifest,
    /// Recorded in the catalog file (downloaded outside the backups directory).
    pub external: bool,
}

/// A file that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub message: String,
}

/// What a listing found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Newest first.
    pub entries: Vec<Entry>,
    pub problems: Vec<Problem>,
}

/// Which backups to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub group: Option<String>,
    pub node: Option<String>,
}

/// What `prune` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// The newest `n` backups of each node.
    Keep(usize),
    /// Backups taken within this span.
    NewerThan(Duration),
}

/// The id of a manifest path.
#[must_use]
pub fn id_for(manifest: &Path) -> String {
    let abs = std::path::absolute(manifest).unwrap_or_else(|_| manifest.to_path_buf());
    let sum = CRC64.checksum(abs.as_os_str().as_encoded_bytes());
    format!("{sum:016x}").chars().take(8).collect()
}

/// Appends a download made into `dest` (outside `backups_dir`) to the catalog file, so that
/// `backup list` finds it. A download into the backups directory itself is found by walking
/// it and is not recorded.
///
/// # Errors
/// The catalog file cannot be written, as a message.
pub fn record(backups_dir: &Path, manifest: &Path) -> Result<(), String> {
    use std::io::Write as _;
    let abs = std::path::absolute(manifest).map_err(|e| e.to_string())?;
    let dir_abs = std::path::absolute(backups_dir).map_err(|e| e.to_string())?;
    if abs.starts_with(&dir_abs) {
        return Ok(());
    }
    std::fs::create_dir_all(backups_dir).map_err(|e| e.to_string())?;
    let line = serde_json::to_string(&Record {
        manifest: abs,
        recorded_at_unix_ms: unix_ms(SystemTime::now()),
    })
    .map_err(|e| e.to_string())?;
    let path = backups_dir.join(CATALOG_FILE);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot write '{}': {e}", path.display()))?;
    writeln!(f, "{line}").map_err(|e| format!("cannot write '{}': {e}", path.display()))
}

/// Every backup under `backups_dir` and in its catalog file, newest first, filtered.
#[must_use]
pub fn load(backups_dir: &Path, filter: &Filter) -> Catalog {
    let mut cat = Catalog::default();
    let mut seen = BTreeSet::new();
    for path in walk_manifests(backups_dir, &mut cat.problems) {
        add(&mut cat, &mut seen, &path, false);
    }
    for path in recorded(backups_dir, &mut cat.problems) {
        add(&mut cat, &mut seen, &path, true);
    }
    cat.entries.retain(|e| {
        filter.group.as_ref().is_none_or(|g| *g == e.manifest.group)
            && filter.node.as_ref().is_none_or(|n| *n == e.manifest.node)
    });
    cat.entries.sort_by(|a, b| {
        b.manifest
            .taken_at_unix_ms
            .cmp(&a.manifest.taken_at_unix_ms)
            .then_with(|| a.id.cmp(&b.id))
    });
    cat
}

fn add(cat: &mut Catalog, seen: &mut BTreeSet<String>, path: &Path, external: bool) {
    if cat.entries.len() >= MAX_ENTRIES {
        return;
    }
    let id = id_for(path);
    if !seen.insert(id.clone()) {
        return;
    }
    match read_manifest(path) {
        Ok(m) => {
            let Some(rdb) = rdb_beside(path, &m) else {
                cat.problems.push(Problem {
                    path: path.to_path_buf(),
                    message: format!("names a file '{}' that is not a plain name", m.file),
                });
                return;
            };
            cat.entries.push(Entry {
                id,
                rdb,
                manifest_path: path.to_path_buf(),
                manifest: m,
                external,
            });
        }
        Err(e) => cat.problems.push(Problem {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
    }
}

/// The RDB a manifest names, in the manifest's directory; `None` when the name is not one
/// plain file name (a manifest must not point anywhere else, since `prune` deletes it).
fn rdb_beside(manifest: &Path, m: &Manifest) -> Option<PathBuf> {
    let name = Path::new(&m.file);
    let plain = name.components().count() == 1
        && matches!(
            name.components().next(),
            Some(std::path::Component::Normal(_))
        );
    if !plain {
        return None;
    }
    let rdb = manifest.parent()?.join(name);
    // The manifest must be the RDB's own: `<rdb>.json`.
    (manifest_path(&rdb) == manifest).then_some(rdb)
}

/// `<dir>/<group>/<node>/*.rdb.json`, bounded at every level.
fn walk_manifests(dir: &Path, problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for group in subdirs(dir, problems) {
        for node in subdirs(&group, problems) {
            let Ok(entries) = std::fs::read_dir(&node) else {
                continue;
            };
            for e in entries.flatten().take(MAX_DIR_ENTRIES) {
                let p = e.path();
                if p.to_string_lossy().ends_with(".rdb.json") && p.is_file() {
                    out.push(p);
                }
            }
        }
    }
    out
}

fn subdirs(dir: &Path, problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .take(MAX_DIR_ENTRIES)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            problems.push(Problem {
                path: dir.to_path_buf(),
                message: e.to_string(),
            });
            Vec::new()
        }
    }
}

/// The manifests the catalog file records; bad lines are problems.
fn recorded(dir: &Path, problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    let path = dir.join(CATALOG_FILE);
    if !path.exists() {
        return Vec::new();
    }
    let text = match read_bounded(&path, MAX_CATALOG_BYTES) {
        Ok(t) => t,
        Err(message) => {
            problems.push(Problem { path, message });
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) if r.manifest.is_file() => out.push(r.manifest),
            // Moved or deleted by hand since: not a problem of the catalog.
            Ok(_) => {}
            Err(e) => problems.push(Problem {
                path: path.clone(),
                message: format!("line {}: not a catalog record: {e}", i + 1),
            }),
        }
    }
    out
}

impl Catalog {
    /// The entry whose id starts with `id` (at least 4 hex digits), or whose RDB or manifest
    /// is the file `path`. `Err` lists the candidates when a prefix is ambiguous.
    ///
    /// # Errors
    /// An ambiguous id prefix, as the ids it matches.
    pub fn find(&self, id_or_path: &str) -> Result<Option<&Entry>, Vec<String>> {
        let p = Path::new(id_or_path);
        if p.is_file() {
            let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
            let same = |q: &Path| std::path::absolute(q).is_ok_and(|a| a == abs);
            return Ok(self
                .entries
                .iter()
                .find(|e| same(&e.rdb) || same(&e.manifest_path)));
        }
        if id_or_path.len() < 4 || !id_or_path.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let want = id_or_path.to_ascii_lowercase();
        let hits: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.id.starts_with(&want))
            .collect();
        match hits.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            many => Err(many.iter().map(|e| e.id.clone()).collect()),
        }
    }

    /// The entries `retention` lets go, oldest last as listed (newest first).
    #[must_use]
    pub fn prunable(&self, retention: Retention, now: SystemTime) -> Vec<&Entry> {
        let mut per_node: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        let now_ms = unix_ms(now);
        self.entries
            .iter()
            .filter(|e| match retention {
                Retention::Keep(n) => {
                    let seen = per_node
                        .entry((&e.manifest.group, &e.manifest.node))
                        .or_default();
                    *seen += 1;
                    *seen > n
                }
                Retention::NewerThan(span) => {
                    let span_ms = u64::try_from(span.as_millis()).unwrap_or(u64::MAX);
                    now_ms.saturating_sub(e.manifest.taken_at_unix_ms) > span_ms
                }
            })
            .collect()
    }
}

/// Deletes one catalogued backup: its RDB (if still there) and its manifest. Recorded
/// entries drop out of the catalog file by themselves (their manifest is gone).
///
/// # Errors
/// The file that could not be removed, as a message.
pub fn delete(entry: &Entry) -> Result<(), String> {
    for path in [&entry.rdb, &entry.manifest_path] {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot delete '{}': {e}", path.display())),
        }
    }
    Ok(())
}

/// Rewrites the catalog file without the records whose manifest is gone (pruned, or moved by
/// hand), so that it does not grow without end. Unreadable lines are kept (they are reported
/// by every listing, never silently dropped). Nothing to do without a catalog file.
///
/// # Errors
/// The file cannot be read or rewritten, as a message.
pub fn compact(backups_dir: &Path) -> Result<(), String> {
    let path = backups_dir.join(CATALOG_FILE);
    if !path.exists() {
        return Ok(());
    }
    let text = read_bounded(&path, MAX_CATALOG_BYTES)?;
    let mut kept = String::new();
    for line in text.lines().filter(|line| {
        !line.trim().is_empty()
            && serde_json::from_str::<Record>(line).map_or(true, |r| r.manifest.is_file())
    }) {
        kept.push_str(line);
        kept.push('\n');
    }
    let mut tmp = tempfile::NamedTempFile::new_in(backups_dir).map_err(|e| e.to_string())?;
    std::io::Write::write_all(&mut tmp, kept.as_bytes()).map_err(|e| e.to_string())?;
    tmp.persist(&path).map_err(|e| e.error.to_string())?;
    Ok(())
}

/// The audit records of a prune that deleted `gone` under `rule` (as the operator gave it,
/// e.g. `--keep 3`), begun at `started`: one per group, so that each group's history has it.
/// `failed` holds the id and the message of each backup that could not be deleted.
#[must_use]
pub fn prune_audit(
    gone: &[&Entry],
    failed: &[(String, String)],
    rule: &str,
    started: SystemTime,
) -> Vec<crate::audit::checks::Check> {
    let mut per_group: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for e in gone {
        per_group.entry(&e.manifest.group).or_default().push(e);
    }
    per_group
        .into_iter()
        .map(|(group, entries)| {
            let nodes: BTreeSet<&str> = entries.iter().map(|e| e.manifest.node.as_str()).collect();
            let failures: Vec<&str> = failed
                .iter()
                .filter(|(id, _)| entries.iter().any(|e| e.id == *id))
                .map(|(_, msg)| msg.as_str())
                .collect();
            let deleted: Vec<&str> = entries
                .iter()
                .map(|e| e.id.as_str())
                .filter(|id| !failed.iter().any(|(f, _)| f == id))
                .collect();
            let mut detail = format!(
                "deleted {}: {}",
                crate::words::count(deleted.len(), "backup"),
                deleted.join(" ")
            );
            for f in &failures {
                detail.push_str(&format!("; {f}"));
            }
            crate::audit::checks::Check {
                action: crate::audit::checks::BACKUP_PRUNE,
                group: group.to_string(),
                nodes: nodes.into_iter().map(str::to_string).collect(),
                outcome: if failures.is_empty() {
                    crate::audit::Outcome::Done
                } else {
                    crate::audit::Outcome::Failed
                },
                detail,
                reason: Some(format!("retention {rule}")),
                pause_ms: None,
                started,
            }
        })
        .collect()
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(group: &str, node: &str, file: &str, at: u64) -> Manifest {
        serde_json::from_value(serde_json::json!({
            "manifest_version": 1, "group": group, "node": node, "addr": "127.0.0.1:1",
            "taken_at": "x", "taken_at_unix_ms": at, "file": file, "bytes": 3,
            "framing": "length", "duration_ms": 1, "rdb_format": "redis", "rdb_version": 9,
            "crc_status": "verified", "crc64": null, "aux_repl_id": null,
            "aux_repl_offset": null, "aux_server_version": null, "aux_ctime": null,
            "info": null, "info_error": null, "notes": []
        }))
        .expect("manifest json")
    }

    fn put(dir: &Path, group: &str, node: &str, stamp: &str, at: u64) -> PathBuf {
        let d = dir.join(group).join(node);
        std::fs::create_dir_all(&d).expect("dir");
        let file = format!("{stamp}.rdb");
        std::fs::write(d.join(&file), b"rdb").expect("rdb");
        let m = manifest(group, node, &file, at);
        let mp = manifest_path(&d.join(&file));
        std::fs::write(&mp, serde_json::to_string(&m).expect("json")).expect("manifest");
        mp
    }

    #[test]
    fn lists_newest_first_and_reports_bad_manifests() {
        let t = tempfile::tempdir().expect("tmp");
        put(t.path(), "g", "n1", "a", 1_000);
        put(t.path(), "g", "n1", "b", 2_000);
        put(t.path(), "g", "n2", "c", 1_500);
        std::fs::write(t.path().join("g/n2/bad.rdb.json"), b"{not json").expect("bad");
        let cat = load(t.path(), &Filter::default());
        let at: Vec<u64> = cat
            .entries
            .iter()
            .map(|e| e.manifest.taken_at_unix_ms)
            .collect();
        assert_eq!(at, [2_000, 1_500, 1_000]);
        assert_eq!(cat.problems.len(), 1, "{:?}", cat.problems);
        let only = load(
            t.path(),
            &Filter {
                node: Some("n2".into()),
                ..Filter::default()
            },
        );
        assert_eq!(only.entries.len(), 1);
    }

    #[test]
    fn a_manifest_cannot_point_outside_its_directory() {
        let t = tempfile::tempdir().expect("tmp");
        let d = t.path().join("g/n1");
        std::fs::create_dir_all(&d).expect("dir");
        let m = manifest("g", "n1", "../../../etc/passwd", 1);
        std::fs::write(
            d.join("x.rdb.json"),
            serde_json::to_string(&m).expect("json"),
        )
        .expect("write");
        let cat = load(t.path(), &Filter::default());
        assert!(cat.entries.is_empty());
        assert_eq!(cat.problems.len(), 1);
    }

    #[test]
    fn keep_n_is_per_node_and_age_is_from_taken_at() {
        let t = tempfile::tempdir().expect("tmp");
        for (i, s) in ["a", "b", "c"].iter().enumerate() {
            put(t.path(), "g", "n1", s, 1_000 * (i as u64 + 1));
        }
        put(t.path(), "g", "n2", "z", 500);
        let cat = load(t.path(), &Filter::default());
        let gone: Vec<&str> = cat
            .prunable(Retention::Keep(1), SystemTime::now())
            .iter()
            .map(|e| e.manifest.file.as_str())
            .collect();
        assert_eq!(gone, ["b.rdb", "a.rdb"]);
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(3_500);
        let old = cat.prunable(Retention::NewerThan(Duration::from_secs(2)), now);
        assert_eq!(old.len(), 2, "a (1000) and z (500)");
    }

    #[test]
    fn a_prune_is_audited_once_per_group_with_what_failed() {
        let t = tempfile::tempdir().expect("tmp");
        put(t.path(), "g", "n1", "a", 1_000);
        put(t.path(), "g", "n2", "b", 2_000);
        put(t.path(), "h", "m1", "c", 3_000);
        let cat = load(t.path(), &Filter::default());
        let gone: Vec<&Entry> = cat.entries.iter().collect();
        let g_b = cat
            .entries
            .iter()
            .find(|e| e.manifest.node == "n2")
            .expect("b");
        let failed = vec![(g_b.id.clone(), "cannot delete 'b.rdb'".to_string())];
        let checks = prune_audit(&gone, &failed, "--keep 0", SystemTime::now());
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0].group, "g");
        assert_eq!(checks[0].nodes, ["n1", "n2"]);
        assert_eq!(checks[0].outcome, crate::audit::Outcome::Failed);
        assert!(
            checks[0].detail.starts_with("deleted 1 backup: "),
            "{}",
            checks[0].detail
        );
        assert!(checks[0].detail.ends_with("; cannot delete 'b.rdb'"));
        assert_eq!(checks[1].group, "h");
        assert_eq!(checks[1].outcome, crate::audit::Outcome::Done);
    }

    #[test]
    fn recorded_downloads_are_listed_and_ids_found_by_prefix() {
        let t = tempfile::tempdir().expect("tmp");
        let other = tempfile::tempdir().expect("tmp");
        let mp = put(other.path(), "g", "n1", "a", 1_000);
        record(t.path(), &mp).expect("record");
        std::fs::write(t.path().join(CATALOG_FILE).with_extension("x"), b"").expect("x");
        let cat = load(t.path(), &Filter::default());
        assert_eq!(cat.entries.len(), 1);
        assert!(cat.entries[0].external);
        // Compacting keeps a live record and drops a gone one.
        let gone = put(other.path(), "g", "n1", "b", 2_000);
        record(t.path(), &gone).expect("record");
        std::fs::remove_file(&gone).expect("rm");
        compact(t.path()).expect("compact");
        let text = std::fs::read_to_string(t.path().join(CATALOG_FILE)).expect("read");
        assert_eq!(text.lines().count(), 1, "{text}");
        let id = cat.entries[0].id.clone();
        assert_eq!(cat.find(&id[..5]).expect("one").map(|e| &e.id), Some(&id));
        let rdb = cat.entries[0].rdb.to_string_lossy().into_owned();
        assert!(cat.find(&rdb).expect("one").is_some());
    }
}
