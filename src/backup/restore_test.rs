//! The restore test (`backup verify`): a backup counts once it restored. The RDB's CRC is
//! checked, then the file is loaded into a scratch local server started through the sandbox
//! (killed by PID when this is done, on error and when the future is dropped), its keys counted
//! per database and compared with the manifest, and a sample of keys read back (`TYPE` and
//! `DUMP`). The result can be written back into the manifest.
//!
//! The scratch server reads the file through a symlink in its own temp dir, with persistence
//! off: it never writes over the backup.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::config::Console;
use crate::node::rdb::{self, DbCount, Manifest, RdbCheck, RdbError, RestoreTest};
use crate::node::{NodeClient, Timeouts};
use crate::sandbox::{self, Sandbox, SandboxError, Spec};

/// How many keys the test reads back by default.
pub const DEFAULT_SAMPLE: usize = 100;
/// SCAN calls made per database while sampling, at most.
const MAX_SCAN_CALLS: usize = 1_000;
const CLIENT_NAME: &str = "redops-restore-test";

/// Which server loads the file, and why that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerChoice {
    pub bin: PathBuf,
    /// `"Redis 7.0.15"`, when `--version` could be read.
    pub version: Option<String>,
    /// The source's server version, from the manifest or the file's AUX fields.
    pub source_version: Option<String>,
    /// The binary's major version is the source's.
    pub same_major: bool,
}

/// What the restore test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub file: PathBuf,
    pub check: RdbCheck,
    pub server: ServerChoice,
    /// Keys per database once loaded.
    pub loaded: Vec<DbCount>,
    pub total_keys: u64,
    /// Keys read back, and their types.
    pub sampled: usize,
    pub types: BTreeMap<String, u64>,
    /// Sampled keys that could not be read back (lossy text).
    pub unreadable: Vec<String>,
    /// Differences from the manifest; empty when it passed.
    pub problems: Vec<String>,
    /// Time to start the scratch server and load the file.
    pub load_time: Duration,
    pub elapsed: Duration,
}

impl Report {
    /// No difference from the manifest and every sampled key readable.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// The record written back into the manifest.
    #[must_use]
    pub fn record(&self, at: SystemTime) -> RestoreTest {
        RestoreTest {
            at: rdb::rfc3339(at),
            at_unix_ms: unix_ms(at),
            keys: self.total_keys,
            server_version: self
                .server
                .version
                .clone()
                .unwrap_or_else(|| self.server.bin.display().to_string()),
            passed: self.passed(),
            problems: self.problems.clone(),
        }
    }
}

/// Why the restore test could not pass.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The file itself is bad (CRC, truncated, not an RDB) or unreadable.
    #[error(transparent)]
    File(#[from] RdbError),
    /// No server binary to load it with.
    #[error("{0}")]
    NoServer(SandboxError),
    /// The scratch server did not load it (the server's own words are in `detail`).
    #[error("the scratch server did not load '{file}': {detail}")]
    Load { file: PathBuf, detail: String },
    /// Talking to the scratch server failed.
    #[error("the scratch server stopped answering: {0}")]
    Server(String),
}

impl VerifyError {
    /// A hint for the operator, where one helps.
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::File(e) => e.hint(),
            Self::NoServer(e) => e.hint().map(str::to_string),
            Self::Load { .. } | Self::Server(_) => None,
        }
    }
}

/// A scratch server loaded with an RDB: killed by PID when dropped (and by the sandbox's
/// watchdog if this process dies), its temp dir removed.
#[derive(Debug)]
pub struct Scratch {
    // Declared first: the server is killed before its dir (the file's symlink) is removed.
    sandbox: Sandbox,
    dir: tempfile::TempDir,
    /// How to reach it (no password: it is reached on loopback, or where `listen` said).
    pub node: crate::config::Node,
    pub pid: u32,
    pub server: ServerChoice,
    /// The file's check (header, CRC-64), made before the server was started.
    pub check: RdbCheck,
    /// Keys per database once loaded.
    pub loaded: Vec<DbCount>,
    /// Time to check the file, start the server and load it.
    pub load_time: Duration,
}

impl Scratch {
    /// The server's process is still running.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.sandbox
            .nodes()
            .first()
            .is_some_and(sandbox::ServerProcess::is_running)
    }

    /// Kills the server by PID and removes its temp dirs.
    pub fn stop(mut self) {
        self.sandbox.stop();
        drop(self.dir);
    }
}

/// Checks `rdb` (CRC first), then starts a scratch server loaded with it, on a free loopback
/// port or on `listen`, requiring `password` when given (in its owner-only config file, never
/// on its command line), with persistence off (it reads the file through a symlink and never
/// writes over it). The server is the same major version as the source's where one is found
/// ([`choose_server`]); `source_version` is the manifest's, else the file's AUX field.
///
/// # Errors
/// A bad file, no server, or a load the server refused.
pub async fn start_scratch(
    rdb: &Path,
    source_version: Option<String>,
    server_bin: Option<&Path>,
    listen: Option<&crate::config::Addr>,
    password: Option<&crate::config::Secret>,
) -> Result<Scratch, VerifyError> {
    let started = Instant::now();
    let check = rdb::verify(rdb)?;
    let source_version = source_version.or_else(|| check.aux.server_version.clone());
    // A `VALKEY` header (Valkey 9+) or a `valkey-ver` AUX field: a Valkey server reads it.
    let valkey = check.format == rdb::RdbFormat::Valkey
        || check.aux.fields.iter().any(|(k, _)| k == "valkey-ver");
    let server =
        choose_server(server_bin, source_version, valkey).map_err(VerifyError::NoServer)?;
    let scratch = tempfile::Builder::new()
        .prefix("redops-restore-test-")
        .tempdir()
        .map_err(|e| RdbError::File {
            path: std::env::temp_dir(),
            message: e.to_string(),
        })?;
    let target = std::path::absolute(rdb).map_err(|e| RdbError::File {
        path: rdb.to_path_buf(),
        message: e.to_string(),
    })?;
    std::os::unix::fs::symlink(&target, scratch.path().join("dump.rdb")).map_err(|e| {
        RdbError::File {
            path: scratch.path().to_path_buf(),
            message: e.to_string(),
        }
    })?;
    let spec = Spec {
        replicas: 0,
        server_bin: Some(server.bin.clone()),
        primary_args: vec![
            "--dir".into(),
            scratch.path().to_string_lossy().into_owned(),
            "--dbfilename".into(),
            "dump.rdb".into(),
            "--appendonly".into(),
            "no".into(),
            "--save".into(),
            String::new(),
        ],
        names: vec!["scratch".into()],
        group: "restore-test".into(),
        listen: listen.cloned(),
        password: password.map(|p| p.expose().to_string()),
        ..Spec::default()
    };
    let sb = Sandbox::start(&spec).await.map_err(|e| VerifyError::Load {
        file: rdb.to_path_buf(),
        detail: format!(
            "{} (the source was {}): {}",
            server.version.as_deref().unwrap_or("the server"),
            server
                .source_version
                .as_deref()
                .unwrap_or("of an unknown version"),
            e.message()
        ),
    })?;
    let (node, pid) = sb
        .nodes()
        .first()
        .map(|p| (p.node(), p.pid))
        .ok_or_else(|| VerifyError::Server("no scratch node".into()))?;
    let timeouts = Timeouts::from(&Console::default());
    let mut client = NodeClient::new(&node, timeouts, CLIENT_NAME)
        .map_err(|e| VerifyError::Server(e.to_string()))?;
    let (info, _) = client
        .info()
        .await
        .map_err(|e| VerifyError::Server(e.to_string()))?;
    Ok(Scratch {
        sandbox: sb,
        dir: scratch,
        node,
        pid,
        server,
        check,
        loaded: DbCount::of(&info),
        load_time: started.elapsed(),
    })
}

/// Runs the restore test of `rdb` (with its `manifest`, when it has one).
///
/// # Errors
/// A bad file, no server, or a load the server refused; differences from the manifest are
/// not errors but [`Report::problems`].
pub async fn restore_test(
    rdb: &Path,
    manifest: Option<&Manifest>,
    server_bin: Option<&Path>,
    sample: usize,
) -> Result<Report, VerifyError> {
    let started = Instant::now();
    let source_version =
        manifest.and_then(|m| m.info.as_ref().and_then(|i| i.server_version.clone()));
    let scratch = start_scratch(rdb, source_version, server_bin, None, None).await?;
    let timeouts = Timeouts::from(&Console::default());
    let mut client = NodeClient::new(&scratch.node, timeouts, CLIENT_NAME)
        .map_err(|e| VerifyError::Server(e.to_string()))?;
    let total_keys = scratch.loaded.iter().map(|d| d.keys).sum();
    let mut report = Report {
        file: rdb.to_path_buf(),
        check: scratch.check.clone(),
        server: scratch.server.clone(),
        loaded: scratch.loaded.clone(),
        total_keys,
        sampled: 0,
        types: BTreeMap::new(),
        unreadable: Vec::new(),
        problems: Vec::new(),
        load_time: scratch.load_time,
        elapsed: Duration::ZERO,
    };
    sample_keys(&mut client, &mut report, sample).await?;
    if let Some(m) = manifest {
        report.problems.extend(compare(m, &report));
    }
    if !report.unreadable.is_empty() {
        report.problems.push(format!(
            "{} of {} sampled keys could not be read back",
            report.unreadable.len(),
            report.sampled
        ));
    }
    drop(client);
    scratch.stop();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Keys per database against the manifest's, and the CRC against the one recorded.
fn compare(m: &Manifest, r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(want), rdb::CrcStatus::Verified(got)) = (&m.crc64, r.check.crc) {
        let got = format!("{got:016x}");
        if *want != got {
            out.push(format!(
                "the file's CRC-64 is {got}, the manifest recorded {want}: the file changed since it was downloaded"
            ));
        }
    }
    let Some(info) = &m.info else {
        return out;
    };
    let after = m.keys_after.as_deref().unwrap_or(&info.keys);
    out.extend(count_problems(&info.keys, after, &r.loaded));
    out
}

/// Databases whose loaded key count is not what the manifest allows. The file is the
/// keyspace of a moment between the INFO before the download and the one after: equal to both
/// when nothing was written, between them under writes, less the keys with a TTL (a server
/// does not load a key that expired since). One rule with `restore` ([`Expected::problems`]).
fn count_problems(before: &[DbCount], after: &[DbCount], loaded: &[DbCount]) -> Vec<String> {
    super::restore::Expected {
        before: before.to_vec(),
        after: after.to_vec(),
    }
    .problems(loaded)
}

/// Reads back up to `sample` keys, shared out over the databases by size.
async fn sample_keys(
    client: &mut NodeClient,
    report: &mut Report,
    sample: usize,
) -> Result<(), VerifyError> {
    let total = report.total_keys.max(1);
    let server = |e: crate::observe::NodeError| VerifyError::Server(e.to_string());
    for db in report.loaded.clone() {
        let share =
            usize::try_from((u128::from(db.keys) * sample as u128).div_ceil(u128::from(total)))
                .unwrap_or(sample)
                .min(sample.saturating_sub(report.sampled));
        if share == 0 {
            continue;
        }
        client
            .query::<()>(redis::cmd("SELECT").arg(db.db))
            .await
            .map_err(server)?;
        let mut cursor: u64 = 0;
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for _ in 0..MAX_SCAN_CALLS {
            let (next, batch): (u64, Vec<Vec<u8>>) = client
                .query(redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(100))
                .await
                .map_err(server)?;
            keys.extend(batch);
            cursor = next;
            if cursor == 0 || keys.len() >= share {
                break;
            }
        }
        keys.truncate(share);
        for key in keys {
            let kind: String = client
                .query(redis::cmd("TYPE").arg(&key))
                .await
                .map_err(server)?;
            let dump: Option<Vec<u8>> = client
                .query(redis::cmd("DUMP").arg(&key))
                .await
                .map_err(server)?;
            report.sampled += 1;
            if kind == "none" || dump.is_none() {
                report
                    .unreadable
                    .push(format!("db{}: {}", db.db, String::from_utf8_lossy(&key)));
            } else {
                *report.types.entry(kind).or_default() += 1;
            }
        }
    }
    Ok(())
}

/// The server that loads the file: the first of `--server-bin`, `$REDOPS_SERVER_BIN`,
/// `redis-server` and `valkey-server` on `PATH` whose major version is the source's (and a
/// Valkey one for a file Valkey wrote, when `valkey`); else the first Valkey one for such a
/// file; else the first that exists.
///
/// # Errors
/// No server binary at all.
pub fn choose_server(
    explicit: Option<&Path>,
    source_version: Option<String>,
    valkey: bool,
) -> Result<ServerChoice, SandboxError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = explicit {
        candidates.push(sandbox::find_server_binary(Some(p))?);
    }
    if let Some(env) = std::env::var_os(sandbox::SERVER_BIN_ENV).filter(|v| !v.is_empty()) {
        candidates.push(PathBuf::from(env));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["redis-server", "valkey-server"] {
        if let Some(p) = std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
        {
            candidates.push(p);
        }
    }
    let first = match candidates.first() {
        Some(p) => p.clone(),
        None => sandbox::find_server_binary(None)?,
    };
    let major = |v: &str| v.split('.').next().map(str::to_string);
    let want = source_version.as_deref().and_then(major);
    let versioned: Vec<(PathBuf, Option<(String, String)>)> = candidates
        .into_iter()
        .map(|p| {
            let v = sandbox::server_version(&p);
            (p, v)
        })
        .collect();
    let is_valkey = |v: &Option<(String, String)>| {
        v.as_ref()
            .is_some_and(|(product, _)| product.eq_ignore_ascii_case("valkey"))
    };
    let product_ok = |v: &Option<(String, String)>| !valkey || is_valkey(v);
    let matching = want.as_ref().and_then(|w| {
        versioned.iter().find(|(_, v)| {
            product_ok(v) && v.as_ref().and_then(|(_, v)| major(v)).as_ref() == Some(w)
        })
    });
    let (bin, version, same_major) = if let Some((p, v)) = matching {
        (p.clone(), v.clone(), true)
    } else if let Some((p, v)) = versioned.iter().find(|(_, v)| valkey && is_valkey(v)) {
        (p.clone(), v.clone(), false)
    } else {
        let v = versioned
            .iter()
            .find(|(p, _)| *p == first)
            .and_then(|(_, v)| v.clone());
        (first, v, false)
    };
    Ok(ServerChoice {
        bin,
        version: version.map(|(p, v)| format!("{p} {v}")),
        source_version,
        same_major,
    })
}

/// Writes the restore test's result into the backup's manifest.
///
/// # Errors
/// The manifest cannot be written.
pub fn write_back(
    manifest_path: &Path,
    manifest: &Manifest,
    report: &Report,
) -> Result<Manifest, RdbError> {
    record(manifest_path, manifest, report.record(SystemTime::now()))
}

/// Writes a restore test that could not run to its end (a corrupt file, a refused load) into
/// the backup's manifest, so that the catalog shows it failed.
///
/// # Errors
/// The manifest cannot be written.
pub fn write_failure(
    manifest_path: &Path,
    manifest: &Manifest,
    error: &VerifyError,
) -> Result<Manifest, RdbError> {
    let at = SystemTime::now();
    let test = RestoreTest {
        at: rdb::rfc3339(at),
        at_unix_ms: unix_ms(at),
        keys: 0,
        server_version: String::new(),
        passed: false,
        problems: vec![error.to_string()],
    };
    record(manifest_path, manifest, test)
}

fn record(
    manifest_path: &Path,
    manifest: &Manifest,
    test: RestoreTest,
) -> Result<Manifest, RdbError> {
    let mut m = manifest.clone();
    m.restore_test = Some(test);
    rdb::write_json(manifest_path, &m)?;
    Ok(m)
}

/// The audit record of a restore test of `rdb` begun at `started` (with its `manifest`, when it has one): the
/// backup's group and node, passed or failed, and what was found.
#[must_use]
pub fn audit(
    rdb: &Path,
    manifest: Option<&Manifest>,
    result: Result<&Report, &VerifyError>,
    started: SystemTime,
) -> crate::audit::checks::Check {
    use crate::audit::Outcome;
    let file = rdb.file_name().map_or_else(
        || rdb.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let (outcome, detail) = match result {
        Ok(r) if r.passed() => (
            Outcome::Done,
            format!(
                "{file}: restore-tested, {} keys loaded by {}",
                crate::topology::data_loss::thousands(r.total_keys),
                r.server.version.as_deref().unwrap_or("a local server")
            ),
        ),
        Ok(r) => (
            Outcome::Failed,
            format!("{file}: restore test FAILED: {}", r.problems.join("; ")),
        ),
        Err(e) => (Outcome::Failed, format!("{file}: restore test FAILED: {e}")),
    };
    crate::audit::checks::Check {
        action: crate::audit::checks::BACKUP_VERIFY,
        group: manifest.map_or_else(|| "-".to_string(), |m| m.group.clone()),
        nodes: manifest.map(|m| vec![m.node.clone()]).unwrap_or_default(),
        outcome,
        detail: if manifest.is_some() {
            detail
        } else {
            format!("{detail} (no manifest: not made by redops)")
        },
        reason: None,
        pause_ms: None,
        started,
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dbs(list: &[(u32, u64)]) -> Vec<DbCount> {
        list.iter()
            .map(|&(db, keys)| DbCount {
                db,
                keys,
                expires: 0,
            })
            .collect()
    }

    #[test]
    fn counts_must_match_or_lie_between_before_and_after() {
        let before = dbs(&[(0, 100), (1, 5)]);
        assert!(count_problems(&before, &before, &before).is_empty());
        let after = dbs(&[(0, 120), (1, 5)]);
        assert!(count_problems(&before, &after, &dbs(&[(0, 110), (1, 5)])).is_empty());
        let p = count_problems(&before, &after, &dbs(&[(0, 121), (1, 5)]));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("db0: the manifest allows 100 to 120 keys"),
            "{p:?}"
        );
        // A database the manifest does not know, and one that did not load.
        let p = count_problems(&before, &before, &dbs(&[(0, 100), (3, 1)]));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("db1: the manifest allows 5 keys, the scratch server loaded 0"));
        assert!(p[1].contains("db3: the manifest allows 0 keys"));
        // Keys with a TTL may have expired since the backup: fewer loaded is no failure.
        let with_ttl = vec![DbCount {
            db: 0,
            keys: 100,
            expires: 30,
        }];
        assert!(count_problems(&with_ttl, &with_ttl, &dbs(&[(0, 70)])).is_empty());
        assert_eq!(
            count_problems(&with_ttl, &with_ttl, &dbs(&[(0, 69)])).len(),
            1
        );
    }
}
