//! What a restore puts back (`redops restore NODE --from ID|FILE`): the backup named by a
//! catalog id or a path, resolved and checked (CRC-64) before any plan is made, with the key
//! counts its manifest expects; and the offline mode (`--to-dir DIR`): the file copied where
//! the operator can carry it, checked again, with the node's own settings (`dir`,
//! `dbfilename`, `appendonly`) read when it answers, for the manual steps a front-end prints.
//!
//! The restore itself is an action (`ops::restore` plans it, the engine runs it through the
//! scratch server of `restore_test`). Core: no printing, no front-end words about flags.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Addr, Node};
use crate::node::rdb::{self, DbCount, Manifest, RdbCheck};
use crate::node::{NodeClient, Timeouts};

use super::catalog::{self, Filter};

/// The backup a restore loads, as resolved before the plan: the file, what its manifest
/// says it holds, and the file's own check (a bad file is a failed pre-check, recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreSource {
    pub rdb: PathBuf,
    /// The catalog id, when the backup is in the catalog.
    pub id: Option<String>,
    pub bytes: u64,
    /// The node and group it was taken from, and when (from its manifest).
    pub taken_from: Option<String>,
    pub taken_at: Option<String>,
    /// Keys per database before and after the download (equal when nothing was written):
    /// the scratch server must load a count between the two. `None` for an RDB redops did not
    /// make: its own counts, as loaded, are what the node must then hold.
    pub expected: Option<Expected>,
    /// The server version that wrote it (manifest, else the file's AUX field).
    pub source_version: Option<String>,
    /// The node ran `appendonly yes` when it was taken (from its manifest).
    pub aof: bool,
    /// The file's check: `Err` says what is wrong with it (CRC mismatch, truncated ...).
    pub check: Result<FileCheck, String>,
}

/// What the file's check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileCheck {
    /// `ok`, `disabled (unverified)`, `absent (rdb < 5, unverified)`.
    pub crc: String,
    pub rdb_version: u32,
}

/// Keys per database the manifest allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expected {
    pub before: Vec<DbCount>,
    pub after: Vec<DbCount>,
}

impl Expected {
    /// The total the manifest recorded before the download.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.before.iter().map(|d| d.keys).sum()
    }

    /// Databases whose `loaded` count is not what the manifest allows (empty: it matches):
    /// between the counts before and after the download, less the keys that had a TTL (a
    /// server does not load a key that expired since the backup was taken).
    #[must_use]
    pub fn problems(&self, loaded: &[DbCount]) -> Vec<String> {
        let find = |l: &[DbCount], db: u32| l.iter().find(|d| d.db == db).cloned();
        let dbs: std::collections::BTreeSet<u32> = self
            .before
            .iter()
            .chain(&self.after)
            .chain(loaded)
            .map(|d| d.db)
            .collect();
        let mut out = Vec::new();
        for db in dbs {
            let (b, a) = (find(&self.before, db), find(&self.after, db));
            let keys = |d: &Option<DbCount>| d.as_ref().map_or(0, |d| d.keys);
            let expires = |d: &Option<DbCount>| d.as_ref().map_or(0, |d| d.expires);
            let hi = keys(&b).max(keys(&a));
            let lo = keys(&b)
                .min(keys(&a))
                .saturating_sub(expires(&b).max(expires(&a)));
            let got = find(loaded, db).map_or(0, |d| d.keys);
            if got < lo || got > hi {
                let want = if lo == hi {
                    format!("{lo} keys")
                } else {
                    format!("{lo} to {hi} keys")
                };
                out.push(format!(
                    "db{db}: the manifest allows {want}, the scratch server loaded {got}"
                ));
            }
        }
        out
    }
}

impl RestoreSource {
    /// The backup as named in a plan: its id, else its path.
    #[must_use]
    pub fn label(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| self.rdb.display().to_string())
    }
}

/// Why `--from` names no backup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("'{target}' matches {} backups: {}", ids.len(), ids.join(", "))]
    Ambiguous { target: String, ids: Vec<String> },
    #[error("'{0}' is not a regular file: a backup must be one")]
    NotAFile(String),
    #[error("no backup '{target}' in '{}' and no such file", dir.display())]
    NotFound { target: String, dir: PathBuf },
}

impl ResolveError {
    /// What to do about it.
    #[must_use]
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Ambiguous { .. } => "give more of the id",
            Self::NotAFile(_) | Self::NotFound { .. } => {
                "give the RDB's path, or an id from the backup list"
            }
        }
    }
}

/// The RDB (and its manifest, when it has one) that `target` names: an id of the catalog in
/// `backups_dir`, or a file.
///
/// # Errors
/// An ambiguous id, or neither a backup nor a regular file.
pub fn find(backups_dir: &Path, target: &str) -> Result<(PathBuf, Option<Manifest>), ResolveError> {
    let cat = catalog::load(backups_dir, &Filter::default());
    let entry = cat.find(target).map_err(|ids| ResolveError::Ambiguous {
        target: target.to_string(),
        ids,
    })?;
    let path = Path::new(target);
    match entry {
        Some(e) => Ok((e.rdb.clone(), Some(e.manifest.clone()))),
        None if path.is_file() => {
            // An RDB of the catalog given by path, or one redops did not make.
            let m = rdb::read_manifest(&rdb::manifest_path(path)).ok();
            Ok((path.to_path_buf(), m))
        }
        None if path.exists() => Err(ResolveError::NotAFile(target.to_string())),
        None => Err(ResolveError::NotFound {
            target: target.to_string(),
            dir: backups_dir.to_path_buf(),
        }),
    }
}

/// Resolves `target` ([`find`]) and checks the file (header, CRC-64).
///
/// # Errors
/// As [`find`]; a bad file is not an error but [`RestoreSource::check`].
pub fn resolve(backups_dir: &Path, target: &str) -> Result<RestoreSource, ResolveError> {
    let (path, manifest) = find(backups_dir, target)?;
    Ok(source(&path, manifest.as_ref()))
}

/// The restore source of a file and its manifest, with the file checked.
#[must_use]
pub fn source(path: &Path, manifest: Option<&Manifest>) -> RestoreSource {
    let check = rdb::verify(path);
    let id = manifest.map(|_| catalog::id_for(&rdb::manifest_path(path)));
    let info = manifest.and_then(|m| m.info.as_ref());
    let aux_version = check
        .as_ref()
        .ok()
        .and_then(|c| c.aux.server_version.clone());
    let mut problem = None;
    if let (Some(m), Ok(RdbCheck { crc, .. })) = (manifest, &check) {
        if let (Some(want), rdb::CrcStatus::Verified(got)) = (&m.crc64, crc) {
            if *want != format!("{got:016x}") {
                problem = Some(format!(
                    "'{}': its CRC-64 is {got:016x}, its manifest recorded {want}: the file changed \
                     since it was downloaded",
                    path.display()
                ));
            }
        }
    }
    RestoreSource {
        rdb: path.to_path_buf(),
        id,
        bytes: std::fs::metadata(path).map_or(0, |m| m.len()),
        taken_from: manifest.map(|m| format!("{}/{}", m.group, m.node)),
        taken_at: manifest.map(|m| m.taken_at.clone()),
        expected: info.map(|i| Expected {
            before: i.keys.clone(),
            after: manifest
                .and_then(|m| m.keys_after.clone())
                .unwrap_or_else(|| i.keys.clone()),
        }),
        source_version: info.and_then(|i| i.server_version.clone()).or(aux_version),
        aof: info.is_some_and(|i| i.aof_enabled),
        check: match (check, problem) {
            (_, Some(p)) => Err(p),
            (Ok(c), None) => Ok(FileCheck {
                crc: c.crc.as_str().to_string(),
                rdb_version: c.version,
            }),
            (Err(e), None) => Err(e.to_string()),
        },
    }
}

/// Where a scratch server listens by default: a free loopback port (the node is local).
#[must_use]
pub fn default_listen() -> Addr {
    Addr {
        host: "127.0.0.1".into(),
        port: crate::sandbox::free_port(),
    }
}

/// A node's settings that decide where an RDB must go and whether the server reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeSettings {
    /// `CONFIG GET dir`: where the server reads and writes its files.
    pub dir: String,
    /// `CONFIG GET dbfilename`.
    pub dbfilename: String,
    /// `CONFIG GET appendonly`: an AOF-enabled server loads its AOF at start, not the RDB.
    pub appendonly: bool,
    /// The server's version (INFO), to compare with the backup's.
    pub version: Option<String>,
    /// Keys per database now (what the manual restore replaces).
    pub keys: Vec<DbCount>,
}

/// Reads `dir`, `dbfilename` and `appendonly` from the node (`CONFIG GET`), and its version and
/// keys (`INFO`).
///
/// # Errors
/// The node does not answer, or refuses `CONFIG GET` (the words say which).
pub async fn read_settings(node: &Node, timeouts: Timeouts) -> Result<NodeSettings, String> {
    let mut c = NodeClient::new(node, timeouts, "redops-restore").map_err(|e| e.to_string())?;
    let mut get = async |name: &str| -> Result<String, String> {
        let pair: Vec<String> = c
            .query(redis::cmd("CONFIG").arg("GET").arg(name))
            .await
            .map_err(|e| format!("CONFIG GET {name}: {e}"))?;
        pair.into_iter()
            .nth(1)
            .ok_or_else(|| format!("CONFIG GET {name}: no such setting"))
    };
    let dir = get("dir").await?;
    let dbfilename = get("dbfilename").await?;
    let appendonly = get("appendonly").await?.eq_ignore_ascii_case("yes");
    let (info, _) = c.info().await.map_err(|e| format!("INFO: {e}"))?;
    Ok(NodeSettings {
        dir,
        dbfilename,
        appendonly,
        version: info.server.version.clone(),
        keys: DbCount::of(&info),
    })
}

/// What the offline mode wrote, for the manual steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offline {
    /// The copy, named as the node loads it (its `dbfilename` when read, else `dump.rdb`).
    pub file: PathBuf,
    pub bytes: u64,
    /// The copy's CRC-64 status, checked after it was written.
    pub crc: String,
    /// The node's settings, when it answered (else why not).
    pub settings: Result<NodeSettings, String>,
}

/// Copies the source's RDB into `dir` (made if missing) under the node's `dbfilename` (when
/// `settings` has it) and checks the copy.
///
/// # Errors
/// The source is bad ([`RestoreSource::check`]), or the copy cannot be written or does not
/// check out.
pub fn write_offline(
    src: &RestoreSource,
    dir: &Path,
    settings: Result<NodeSettings, String>,
) -> Result<Offline, String> {
    if let Err(e) = &src.check {
        return Err(e.clone());
    }
    let name = settings
        .as_ref()
        .ok()
        .map(|s| s.dbfilename.clone())
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .unwrap_or_else(|| "dump.rdb".to_string());
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot make '{}': {e}", dir.display()))?;
    let file = dir.join(name);
    if file.exists() {
        return Err(format!(
            "'{}' exists: the offline mode never writes over a file",
            file.display()
        ));
    }
    std::fs::copy(&src.rdb, &file).map_err(|e| {
        format!(
            "cannot copy '{}' to '{}': {e}",
            src.rdb.display(),
            file.display()
        )
    })?;
    let check = rdb::verify(&file).map_err(|e| format!("the copy does not check out: {e}"))?;
    Ok(Offline {
        file,
        bytes: check.bytes,
        crc: check.crc.as_str().to_string(),
        settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_a_ttl_may_have_expired_since_the_backup() {
        let db = |db, keys, expires| DbCount { db, keys, expires };
        let e = Expected {
            before: vec![db(0, 100, 10), db(1, 5, 0)],
            after: vec![db(0, 100, 10), db(1, 5, 0)],
        };
        assert!(e.problems(&[db(0, 95, 5), db(1, 5, 0)]).is_empty());
        assert!(e.problems(&[db(0, 90, 0), db(1, 5, 0)]).is_empty());
        assert_eq!(
            e.problems(&[db(0, 89, 0), db(1, 4, 0)]),
            [
                "db0: the manifest allows 90 to 100 keys, the scratch server loaded 89",
                "db1: the manifest allows 5 keys, the scratch server loaded 4"
            ]
        );
        assert_eq!(
            e.problems(&[db(0, 100, 10), db(1, 5, 0), db(2, 1, 0)])
                .len(),
            1
        );
    }

    #[test]
    fn an_unknown_target_and_a_directory_are_told_apart() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path().display().to_string();
        assert!(matches!(
            find(dir.path(), &d),
            Err(ResolveError::NotAFile(_))
        ));
        assert!(matches!(
            find(dir.path(), "no-such-file.rdb"),
            Err(ResolveError::NotFound { .. })
        ));
    }

    #[test]
    fn a_file_that_is_no_rdb_is_a_failed_check_not_an_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("x.rdb");
        std::fs::write(&p, b"not an rdb").unwrap_or_else(|e| panic!("{e}"));
        let s = resolve(dir.path(), &p.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.check.is_err(), "{s:?}");
        assert!(s.expected.is_none());
        let out = write_offline(&s, &dir.path().join("out"), Err("n/a".into()));
        assert!(out.is_err());
        assert!(!dir.path().join("out").join("dump.rdb").exists());
    }
}
