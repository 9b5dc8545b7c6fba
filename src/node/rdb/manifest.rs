//! A backup = a downloaded, verified RDB plus a small JSON manifest beside it
//! (`<backups_dir>/<group>/<node>/<timestamp>.rdb` and `<timestamp>.rdb.json`): which node,
//! when, which replication history and offset (from the file's AUX fields and from `INFO`
//! taken just before), keys per database, size, RDB version, checksum status.
//!
//! This file owns the layout and the manifest format. It never holds a password: the manifest
//! is built from names, addresses and INFO numbers only.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::{verify, Downloaded, Framing, RdbCheck, RdbError, RdbFormat};
use crate::config::Node;
use crate::info::{Info, InfoRole};
use crate::node::{NodeClient, Timeouts};

/// A manifest is a few kilobytes; anything past this is not one (and is not read whole).
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// Reads a text file of at most `max` bytes; a larger one is refused without being read.
///
/// # Errors
/// The I/O error, a file over `max`, or bytes that are not UTF-8, as a message.
pub fn read_bounded(path: &Path, max: u64) -> Result<String, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > max {
        return Err(format!("larger than {max} bytes: not read"));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())
}

/// Bumped when a field changes meaning.
pub const MANIFEST_VERSION: u32 = 1;

/// The JSON written beside each RDB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub manifest_version: u32,
    pub group: String,
    pub node: String,
    pub addr: String,
    /// When the download finished, RFC 3339 UTC.
    pub taken_at: String,
    pub taken_at_unix_ms: u64,
    /// File name of the RDB (in the same directory).
    pub file: String,
    pub bytes: u64,
    pub framing: Framing,
    pub duration_ms: u64,
    pub rdb_format: RdbFormat,
    pub rdb_version: u32,
    /// `verified`, `disabled` (the server runs with `rdbchecksum no`) or `absent` (RDB < 5).
    pub crc_status: String,
    /// The CRC-64 as 16 hex digits, when verified.
    pub crc64: Option<String>,
    /// From the RDB's AUX fields: the history and offset the snapshot belongs to.
    pub aux_repl_id: Option<String>,
    pub aux_repl_offset: Option<i64>,
    pub aux_server_version: Option<String>,
    pub aux_ctime: Option<i64>,
    /// From `INFO` taken just before the download (absent when INFO failed: see `info_error`).
    pub info: Option<InfoBefore>,
    pub info_error: Option<String>,
    /// Optional handshake steps the server refused (older servers).
    pub notes: Vec<String>,
    /// Keys per database from `INFO` right after the download (absent when it failed, and in
    /// manifests written before this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys_after: Option<Vec<DbCount>>,
    /// The last restore test (`backup verify`): absent until one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_test: Option<RestoreTest>,
}

/// What the last restore test found: the file loaded into a scratch server, its keys counted
/// per database and a sample read back with their types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreTest {
    /// When it ran, RFC 3339 UTC.
    pub at: String,
    pub at_unix_ms: u64,
    /// Keys the scratch server held once loaded, every database together.
    pub keys: u64,
    /// `"Redis 7.0.15"`: the scratch server that loaded it.
    pub server_version: String,
    pub passed: bool,
    /// Why it did not pass (empty when it passed).
    #[serde(default)]
    pub problems: Vec<String>,
}

/// What `INFO` said just before the download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoBefore {
    /// `primary` or `replica`.
    pub role: Option<String>,
    pub server_version: Option<String>,
    pub run_id: Option<String>,
    pub replid: Option<String>,
    pub replid2: Option<String>,
    /// `master_repl_offset`.
    pub offset: Option<u64>,
    /// `slave_repl_offset` on a replica.
    pub replica_offset: Option<u64>,
    pub keys: Vec<DbCount>,
    pub total_keys: u64,
    pub used_memory: Option<u64>,
    /// `aof_enabled:1`: on restart the server reloads its AOF, not an RDB put in its `dir`.
    #[serde(default)]
    pub aof_enabled: bool,
}

/// Keys in one database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbCount {
    pub db: u32,
    pub keys: u64,
    pub expires: u64,
}

impl DbCount {
    /// Keys per database from an INFO reply's keyspace section.
    #[must_use]
    pub fn of(info: &Info) -> Vec<Self> {
        info.keyspace
            .iter()
            .map(|d| Self {
                db: d.db,
                keys: d.keys,
                expires: d.expires,
            })
            .collect()
    }
}

impl InfoBefore {
    /// The manifest's view of an INFO reply.
    #[must_use]
    pub fn from_info(info: &Info) -> Self {
        let r = &info.replication;
        Self {
            role: r.role.map(|role| {
                match role {
                    InfoRole::Primary => "primary",
                    InfoRole::Replica => "replica",
                }
                .to_string()
            }),
            server_version: info.server.version.clone(),
            run_id: info.server.run_id.clone(),
            replid: r.replid.clone(),
            replid2: r.replid2.clone(),
            offset: r.offset,
            replica_offset: r.replica_offset,
            keys: DbCount::of(info),
            total_keys: info.total_keys(),
            used_memory: info.memory.used_memory,
            aof_enabled: info.persistence.aof_enabled,
        }
    }
}

/// A finished backup: the verified RDB and its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub rdb: PathBuf,
    pub manifest_path: PathBuf,
    pub manifest: Manifest,
    pub check: RdbCheck,
}

impl Backup {
    /// One line for logs: `path (N bytes, RDB v, crc ok, replid abcd1234 offset O, K keys)`.
    #[must_use]
    pub fn summary(&self) -> String {
        let m = &self.manifest;
        let mut s = format!(
            "{} ({} bytes, RDB {}, crc {}",
            self.rdb.display(),
            m.bytes,
            m.rdb_version,
            m.crc_status
        );
        if let (Some(id), Some(o)) = (&m.aux_repl_id, m.aux_repl_offset) {
            s.push_str(&format!(
                ", replid {} offset {o}",
                id.get(..8).unwrap_or(id)
            ));
        }
        if let Some(i) = &m.info {
            s.push_str(&format!(", {} keys before", i.total_keys));
        }
        s.push(')');
        s
    }
}

/// `<backups_dir>/<group>/<node>`, with names made safe as path components.
#[must_use]
pub fn backup_dir(backups_dir: &Path, group: &str, node: &str) -> PathBuf {
    backups_dir
        .join(safe_component(group))
        .join(safe_component(node))
}

/// The manifest path for an RDB path: the same name with `.json` appended.
#[must_use]
pub fn manifest_path(rdb: &Path) -> PathBuf {
    let mut s = rdb.as_os_str().to_os_string();
    s.push(".json");
    PathBuf::from(s)
}

/// Reads a manifest back.
///
/// # Errors
/// [`RdbError::File`] when it cannot be read or parsed.
pub fn read_manifest(path: &Path) -> Result<Manifest, RdbError> {
    let text = read_bounded(path, MAX_MANIFEST_BYTES).map_err(|message| RdbError::File {
        path: path.to_path_buf(),
        message,
    })?;
    serde_json::from_str(&text).map_err(|e| RdbError::File {
        path: path.to_path_buf(),
        message: format!("not a redops manifest: {e}"),
    })
}

/// The newest backup of any of `nodes` (of group `group`) taken before `before_unix_ms`, with
/// at least one key, and its RDB's path: what to restore a group from after a loss. Unreadable
/// directories and manifests are skipped; `None` when there is none.
#[must_use]
pub fn latest_backup(
    backups_dir: &Path,
    group: &str,
    nodes: &[String],
    before_unix_ms: u64,
) -> Option<(PathBuf, Manifest)> {
    let mut best: Option<(PathBuf, Manifest)> = None;
    for node in nodes {
        let dir = backup_dir(backups_dir, group, node);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if !path.to_string_lossy().ends_with(".rdb.json") {
                continue;
            }
            let Ok(m) = read_manifest(&path) else {
                continue;
            };
            let has_keys = m.info.as_ref().is_none_or(|i| i.total_keys > 0);
            if m.taken_at_unix_ms >= before_unix_ms || !has_keys {
                continue;
            }
            if best
                .as_ref()
                .is_none_or(|(_, b)| m.taken_at_unix_ms > b.taken_at_unix_ms)
            {
                best = Some((dir.join(&m.file), m));
            }
        }
    }
    best
}

fn safe_component(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.chars().all(|c| c == '.') {
        "_".to_string()
    } else {
        s
    }
}

/// `20250102T030405.678Z`: sortable, no characters a shell or a filesystem dislikes.
pub(super) fn file_stamp(at: SystemTime) -> String {
    let t = time::OffsetDateTime::from(at);
    let fmt = time::macros::format_description!(
        "[year][month][day]T[hour][minute][second].[subsecond digits:3]Z"
    );
    t.format(&fmt)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// `2023-11-14T22:13:20.123Z`.
#[must_use]
pub fn rfc3339(at: SystemTime) -> String {
    let t = time::OffsetDateTime::from(at);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Takes a backup of `node`: `INFO` (keys, replid, offset), download into
/// [`backup_dir`], verify, write the manifest. The whole of it ends within `budget`.
///
/// A file that fails verification is renamed `*.rdb.corrupt` (kept for inspection, never
/// mistaken for a backup) and the error returned. A failed `INFO` is recorded in the manifest,
/// not fatal: a backup-only ACL user may lack `+info`.
///
/// # Errors
/// Any [`RdbError`] from the download or the check; [`RdbError::File`] for the manifest.
pub async fn backup(
    node: &Node,
    group: &str,
    timeouts: Timeouts,
    backups_dir: &Path,
    budget: Duration,
) -> Result<Backup, RdbError> {
    backup_with_progress(node, group, timeouts, backups_dir, budget, &mut |_, _| {}).await
}

/// As [`backup`], telling `progress` how the transfer goes.
///
/// # Errors
/// As [`backup`].
pub async fn backup_with_progress(
    node: &Node,
    group: &str,
    timeouts: Timeouts,
    backups_dir: &Path,
    budget: Duration,
    progress: super::Progress<'_>,
) -> Result<Backup, RdbError> {
    let started = Instant::now();
    // The INFO before counts against the budget too ("the whole of it ends within budget").
    let mut bound = None;
    let (info, info_error) = match tokio::time::timeout(budget, info_before(node, timeouts)).await {
        Ok(Ok(info)) => {
            bound = info
                .memory
                .used_memory
                .map(super::SizeBound::from_used_memory);
            (Some(InfoBefore::from_info(&info)), None)
        }
        Ok(Err(e)) => (None, Some(e)),
        Err(_) => (
            None,
            Some(format!("no answer within the {budget:?} budget")),
        ),
    };
    let dir = backup_dir(backups_dir, group, &node.name);
    let left = budget.saturating_sub(started.elapsed());
    let got = super::download_with_progress(node, timeouts, &dir, left, bound, progress)
        .await
        .map_err(|e| match e {
            // The operator gave one budget for the whole backup: name that one.
            RdbError::Budget { node, bytes, .. } => RdbError::Budget {
                node,
                budget,
                bytes,
            },
            other => other,
        })?;
    let check = match verify(&got.path) {
        Ok(c) => c,
        Err(e) => {
            let mut bad = got.path.as_os_str().to_os_string();
            bad.push(".corrupt");
            let _ = std::fs::rename(&got.path, &bad);
            return Err(e);
        }
    };
    let mut manifest = build_manifest(group, node, &got, &check, info, info_error);
    // Keys per db again: the file holds the keyspace of a moment between the two readings,
    // so a restore test under writes compares with both (an INFO that fails is no matter).
    let left = budget.saturating_sub(started.elapsed());
    if let Ok(Ok(after)) = tokio::time::timeout(left, info_before(node, timeouts)).await {
        manifest.keys_after = Some(DbCount::of(&after));
    }
    let manifest_path = manifest_path(&got.path);
    write_json(&manifest_path, &manifest)?;
    Ok(Backup {
        rdb: got.path,
        manifest_path,
        manifest,
        check,
    })
}

async fn info_before(node: &Node, timeouts: Timeouts) -> Result<Info, String> {
    let mut client =
        NodeClient::new(node, timeouts, super::CLIENT_NAME).map_err(|e| e.to_string())?;
    let (info, _) = client.info().await.map_err(|e| e.to_string())?;
    Ok(info)
}

fn build_manifest(
    group: &str,
    node: &Node,
    got: &Downloaded,
    check: &RdbCheck,
    info: Option<InfoBefore>,
    info_error: Option<String>,
) -> Manifest {
    let now = SystemTime::now();
    let (crc_status, crc64) = match check.crc {
        super::CrcStatus::Verified(c) => ("verified", Some(format!("{c:016x}"))),
        super::CrcStatus::Disabled => ("disabled", None),
        super::CrcStatus::Absent => ("absent", None),
    };
    Manifest {
        manifest_version: MANIFEST_VERSION,
        group: group.to_string(),
        node: node.name.clone(),
        addr: node.addr.to_string(),
        taken_at: rfc3339(now),
        taken_at_unix_ms: now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        file: got
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes: got.bytes,
        framing: got.framing,
        duration_ms: u64::try_from(got.elapsed.as_millis()).unwrap_or(u64::MAX),
        rdb_format: check.format,
        rdb_version: check.version,
        crc_status: crc_status.to_string(),
        crc64,
        aux_repl_id: check.aux.repl_id.clone(),
        aux_repl_offset: check.aux.repl_offset,
        aux_server_version: check.aux.server_version.clone(),
        aux_ctime: check.aux.ctime,
        info,
        info_error,
        notes: got.notes.clone(),
        keys_after: None,
        restore_test: None,
    }
}

/// Writes JSON through a temp file and a rename, so a reader never sees half a manifest.
///
/// # Errors
/// [`RdbError::File`] when it cannot be written.
pub fn write_json(path: &Path, manifest: &Manifest) -> Result<(), RdbError> {
    let err = |e: String| RdbError::File {
        path: path.to_path_buf(),
        message: e,
    };
    let text = serde_json::to_string_pretty(manifest).map_err(|e| err(e.to_string()))?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| err(e.to_string()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(|e| err(e.to_string()))?;
    tmp.as_file().sync_all().map_err(|e| err(e.to_string()))?;
    tmp.persist(path).map_err(|e| err(e.error.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components_are_made_safe() {
        let d = backup_dir(Path::new("/b"), "../etc", "n1:6379/x");
        assert_eq!(d, PathBuf::from("/b/.._etc/n1_6379_x"));
        assert_eq!(
            backup_dir(Path::new("/b"), "..", "").to_string_lossy(),
            "/b/_/_"
        );
    }

    #[test]
    fn stamp_sorts_and_is_plain() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(file_stamp(t), "20231114T221320.123Z");
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn manifest_path_appends_json() {
        assert_eq!(
            manifest_path(Path::new("/b/g/n/20231114T221320.123Z.rdb")),
            PathBuf::from("/b/g/n/20231114T221320.123Z.rdb.json")
        );
    }
}
