//! A cluster backup: one manifest tying together the per-node backups of every primary taken
//! at one cut (`snapshot --all`): shard -> primary (node id, address) -> slot ranges -> file,
//! keys per shard read from each file, the spread of the cut and whether writes were paused.
//! It lies in `<backups_dir>/<group>/@cluster/<timestamp>.cluster.json` (no node directory
//! can have that name: node names are made safe as path components without `@`).
//!
//! Manifests are untrusted when read back: bounded, a bad one is reported and skipped.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::node::rdb::{read_bounded, rfc3339, MAX_MANIFEST_BYTES};

/// The directory of a group's cluster manifests, under the group's backups directory.
pub const CLUSTER_DIR: &str = "@cluster";
/// The suffix of a cluster manifest.
pub const SUFFIX: &str = ".cluster.json";
/// Bumped when a field changes meaning.
pub const CLUSTER_MANIFEST_VERSION: u32 = 1;
/// How much of an RDB is read for its first database's size (AUX fields come first).
const HEAD_BYTES: u64 = 64 * 1024;

/// The cluster manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterManifest {
    pub manifest_version: u32,
    pub group: String,
    /// When the last transfer ended, RFC 3339 UTC.
    pub taken_at: String,
    pub taken_at_unix_ms: u64,
    /// `CLIENT PAUSE <ms> WRITE` on every primary while the transfers began (`None`: no pause).
    pub pause_bound_ms: Option<u64>,
    /// From the first `CLIENT PAUSE` sent to the last `CLIENT UNPAUSE` answered.
    pub paused_ms: Option<u64>,
    /// From the first transfer begun to the last (each begins once its primary has forked):
    /// how far apart the shards' moments are, at most.
    pub spread_ms: u64,
    pub shards: Vec<ClusterShard>,
    /// Keys in every shard's file together.
    pub total_keys: Option<u64>,
    /// The last restore test of the whole cluster (`backup verify`): absent until one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_test: Option<ClusterRestoreTest>,
}

/// One shard of a cluster backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterShard {
    /// The primary's name in the config, and its address.
    pub node: String,
    pub addr: String,
    /// Its cluster node id.
    pub node_id: String,
    /// Inclusive slot ranges.
    pub slots: Vec<(u16, u16)>,
    pub slot_count: u32,
    /// The RDB and its per-node manifest.
    pub file: PathBuf,
    pub manifest: PathBuf,
    pub bytes: u64,
    pub crc_ok: bool,
    /// Keys in the file (its `RESIZEDB` record), when it says.
    pub keys: Option<u64>,
    /// When its transfer began, after the first shard's (ms).
    pub began_after_ms: u64,
}

/// What the restore test of a cluster backup found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterRestoreTest {
    pub at: String,
    pub at_unix_ms: u64,
    pub passed: bool,
    /// Keys per shard once loaded, in shard order.
    pub keys: Vec<u64>,
    /// Keys read back through the cluster (each from its slot's node).
    pub sampled: u64,
    #[serde(default)]
    pub problems: Vec<String>,
}

/// A cluster backup found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEntry {
    /// 8 hex digits, like a node backup's id (`catalog::id_for` of the manifest's path).
    pub id: String,
    pub path: PathBuf,
    pub manifest: ClusterManifest,
}

impl ClusterManifest {
    /// Slots covered by the shards together (each counted once).
    #[must_use]
    pub fn slots_covered(&self) -> u32 {
        let mut seen = vec![false; usize::from(crate::cluster::SLOTS)];
        for s in &self.shards {
            for &(a, b) in &s.slots {
                for slot in a..=b.min(crate::cluster::SLOTS - 1) {
                    seen[usize::from(slot)] = true;
                }
            }
        }
        u32::try_from(seen.iter().filter(|s| **s).count()).unwrap_or(u32::MAX)
    }
}

/// The milliseconds since the epoch of `at`.
#[must_use]
pub fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Keys in an RDB's first database (a cluster node has only db 0), from its `RESIZEDB` record.
#[must_use]
pub fn keys_in_rdb(path: &Path) -> Option<u64> {
    db0_size(path).map(|(keys, _)| keys)
}

/// Keys and keys with a TTL in an RDB's database 0, from its `RESIZEDB` record.
#[must_use]
pub fn db0_size(path: &Path) -> Option<(u64, u64)> {
    use std::io::Read as _;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(HEAD_BYTES)
        .read_to_end(&mut head)
        .ok()?;
    let (db, keys, expires) = crate::node::rdb::first_db_size(head.get(9..)?)?;
    (db == 0).then_some((keys, expires))
}

/// Writes a new cluster manifest for `group` under `backups_dir`; its path.
///
/// # Errors
/// The directory or the file cannot be written, as a message.
pub fn write_new(backups_dir: &Path, manifest: &ClusterManifest) -> Result<PathBuf, String> {
    let dir =
        crate::node::rdb::backup_dir(backups_dir, &manifest.group, "x").with_file_name(CLUSTER_DIR);
    crate::config::create_private_dir(&dir)
        .map_err(|e| format!("cannot create '{}': {e}", dir.display()))?;
    let stamp = manifest.taken_at.replace([':', '-'], "");
    for n in 0..100 {
        let name = if n == 0 {
            format!("{stamp}{SUFFIX}")
        } else {
            format!("{stamp}-{n}{SUFFIX}")
        };
        let path = dir.join(name);
        if !path.exists() {
            write(&path, manifest)?;
            return Ok(path);
        }
    }
    Err(format!(
        "too many cluster manifests named {stamp} in '{}'",
        dir.display()
    ))
}

/// Writes `manifest` at `path` through a temp file and a rename.
///
/// # Errors
/// The file cannot be written, as a message.
pub fn write(path: &Path, manifest: &ClusterManifest) -> Result<(), String> {
    let text = serde_json::to_string_pretty(manifest).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write '{}': {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write '{}': {e}", path.display()))
}

/// Reads a cluster manifest back.
///
/// # Errors
/// Unreadable, too large, or not a cluster manifest, as a message.
pub fn read(path: &Path) -> Result<ClusterManifest, String> {
    let text = read_bounded(path, MAX_MANIFEST_BYTES)?;
    serde_json::from_str(&text).map_err(|e| format!("not a redops cluster manifest: {e}"))
}

/// Every cluster backup under `backups_dir` (of `group` when given), newest first, and the
/// files that could not be read with why.
#[must_use]
pub fn load(
    backups_dir: &Path,
    group: Option<&str>,
) -> (Vec<ClusterEntry>, Vec<(PathBuf, String)>) {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    let Ok(groups) = std::fs::read_dir(backups_dir) else {
        return (entries, problems);
    };
    for g in groups.flatten().take(10_000) {
        let dir = g.path().join(CLUSTER_DIR);
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        for f in files.flatten().take(100_000) {
            let path = f.path();
            if !path.to_string_lossy().ends_with(SUFFIX) {
                continue;
            }
            match read(&path) {
                Ok(m) if group.is_none_or(|want| want == m.group) => entries.push(ClusterEntry {
                    id: super::catalog::id_for(&path),
                    path,
                    manifest: m,
                }),
                Ok(_) => {}
                Err(e) => problems.push((path, e)),
            }
        }
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.manifest.taken_at_unix_ms));
    (entries, problems)
}

/// The cluster backup `id` (or manifest path) names, if any.
#[must_use]
pub fn find(backups_dir: &Path, id_or_path: &str) -> Option<ClusterEntry> {
    let (entries, _) = load(backups_dir, None);
    entries
        .into_iter()
        .find(|e| e.id == id_or_path || e.path == Path::new(id_or_path))
}

/// Now, as the manifest writes it.
#[must_use]
pub fn now_stamp() -> (String, u64) {
    let now = SystemTime::now();
    (rfc3339(now), unix_ms(now))
}

#[cfg(test)]
mod tests {
    use crate::node::rdb::first_db_size;

    #[test]
    fn the_first_database_size_is_read_after_the_aux_fields() {
        // AUX "abc" = "x", SELECTDB 0, RESIZEDB 5 2.
        let body = [
            0xFA, 3, b'a', b'b', b'c', 1, b'x', 0xFE, 0, 0xFB, 5, 2, 0xFF,
        ];
        assert_eq!(first_db_size(&body), Some((0, 5, 2)));
        // A 14-bit length: 0x41 0x00 = 256 keys.
        let body = [0xFE, 0, 0xFB, 0x41, 0x00, 0, 0xFF];
        assert_eq!(first_db_size(&body), Some((0, 256, 0)));
        // An empty dataset.
        assert_eq!(first_db_size(&[0xFF]), Some((0, 0, 0)));
        // Functions before the first database, a file cut short, no RESIZEDB: unknown.
        assert_eq!(first_db_size(&[0xF5, 1, 2]), None);
        assert_eq!(first_db_size(&[0xFE, 0, 0xFB]), None);
        assert_eq!(first_db_size(&[0xFE, 0, 0x00]), None);
        assert_eq!(first_db_size(&[]), None);
    }
}
