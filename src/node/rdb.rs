//! Downloading a node's RDB snapshot over the replication protocol, as `redis-cli --rdb` does:
//! raw TCP (or TLS), AUTH, `REPLCONF capa eof`, `REPLCONF rdb-only 1`, raw `SYNC`, then the
//! payload framed as `$<len>` (disk-based) or `$EOF:<40-byte mark>` (diskless), streamed to a
//! temp file in the destination directory, fsynced and renamed. The socket is closed as soon as
//! the payload is in (before 7.0 the server would go on streaming commands).
//!
//! Every read has a timeout and the whole download a budget. The RDB is never held in memory.
//! Checking the file is `rdb/verify.rs`; the manifest written beside it is `rdb/manifest.rs`.
//! This module does not decide *when* a download is needed: the action engine does.

mod error;
mod manifest;
mod verify;

pub use error::RdbError;
pub use manifest::{
    backup, backup_dir, backup_with_progress, latest_backup, manifest_path, read_bounded,
    read_manifest, rfc3339, write_json, Backup, DbCount, InfoBefore, Manifest, RestoreTest,
    MANIFEST_VERSION, MAX_MANIFEST_BYTES,
};
pub use verify::{first_db_size, parse_aux, verify, CrcStatus, RdbAux, RdbCheck, RdbFormat, CRC64};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::config::Node;
use crate::node::Timeouts;

/// The server sends a bare `\n` about once a second while it prepares the RDB; a transfer read
/// waits at least this long before calling the node stalled.
pub const TRANSFER_STALL_FLOOR: Duration = Duration::from_secs(5);
/// The longest header or reply line accepted before the payload.
const MAX_LINE: u64 = 64 * 1024;
/// Read size while streaming the payload.
const CHUNK: usize = 256 * 1024;
/// Length of the diskless end-of-transfer mark.
const EOF_MARK_LEN: usize = 40;
/// The default budget of one download: `console.download_timeout` when the config leaves it out.
pub const DEFAULT_BUDGET: Duration = crate::config::DEFAULT_DOWNLOAD_TIMEOUT;
/// Name put in CLIENT LIST for the download connection.
pub const CLIENT_NAME: &str = "redops-rdb";
/// Free space left on the backups disk at all times: a download that would eat into it is
/// refused before it starts, or stopped as soon as it does.
pub const DISK_RESERVE: u64 = 64 * 1024 * 1024;
/// How often (in bytes written) free space is checked again during a transfer.
const SPACE_CHECK_EVERY: u64 = 16 * 1024 * 1024;

/// The largest payload a download accepts, and where that figure comes from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeBound {
    pub bytes: u64,
    pub from: String,
}

impl SizeBound {
    /// A sanity bound from the node's `used_memory`: an RDB is a compact encoding of the
    /// dataset, so twice the memory plus 64 MB is never a real snapshot's size.
    #[must_use]
    pub fn from_used_memory(used_memory: u64) -> Self {
        Self {
            bytes: used_memory
                .saturating_mul(2)
                .saturating_add(64 * 1024 * 1024),
            from: format!("twice the node's used_memory ({used_memory} bytes) plus 64 MB"),
        }
    }
}

/// Bytes free for an unprivileged writer in the filesystem holding `dir`.
#[allow(clippy::useless_conversion)] // The field types are narrower than u64 on some targets.
fn free_space(dir: &Path) -> Option<u64> {
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    Some(u64::from(st.blocks_available()).saturating_mul(u64::from(st.fragment_size())))
}

/// How the server framed the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// `$<len>\r\n` then exactly len bytes (disk-based sync).
    Length,
    /// `$EOF:<mark>\r\n`, bytes, then the mark again (diskless sync).
    EofMark,
}

/// A finished download: the file is complete, fsynced and renamed. Not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub path: PathBuf,
    /// Payload bytes written.
    pub bytes: u64,
    pub framing: Framing,
    pub elapsed: Duration,
    /// What the optional handshake steps answered when they were refused (older servers).
    pub notes: Vec<String>,
}

/// Told how a transfer goes: payload bytes written so far, and the length the node announced
/// (`None` for a diskless transfer, known only at its end). Called once when the payload
/// begins (0 bytes), then after every write: the caller decides how often to pass it on.
pub type Progress<'a> = &'a mut (dyn FnMut(u64, Option<u64>) + Send + Sync);

/// Anything the download can read from and write to: plain TCP or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Downloads `node`'s RDB into a new file `<UTC timestamp>.rdb` in `dest_dir` (created if
/// missing). The file appears only once complete and fsynced; a failed download leaves nothing.
///
/// `timeouts.connect` bounds the TCP/TLS connect, `timeouts.read` each handshake reply, and each
/// read of the transfer waits at most `max(timeouts.read, TRANSFER_STALL_FLOOR)`. The whole
/// download, connect included, ends within `budget`.
///
/// # Errors
/// See [`RdbError`]: unreachable, frozen, refused (NOPERM naming `+replconf +sync`,
/// NOMASTERLINK, MASTERDOWN), cut transfer, budget exceeded, file I/O.
pub async fn download(
    node: &Node,
    timeouts: Timeouts,
    dest_dir: &Path,
    budget: Duration,
) -> Result<Downloaded, RdbError> {
    download_within(node, timeouts, dest_dir, budget, None).await
}

/// As [`download`], bounded in size as well as time: the payload may not pass `bound` (when
/// given) nor leave less than [`DISK_RESERVE`] free on the destination disk. An announced
/// length over either is refused before a byte is written; a stream that passes either is
/// cut. Either way no file is left behind.
///
/// # Errors
/// As [`download`], and [`RdbError::TooLarge`].
pub async fn download_within(
    node: &Node,
    timeouts: Timeouts,
    dest_dir: &Path,
    budget: Duration,
    bound: Option<SizeBound>,
) -> Result<Downloaded, RdbError> {
    download_with_progress(node, timeouts, dest_dir, budget, bound, &mut |_, _| {}).await
}

/// As [`download_within`], telling `progress` how the transfer goes.
///
/// # Errors
/// As [`download_within`].
pub async fn download_with_progress(
    node: &Node,
    timeouts: Timeouts,
    dest_dir: &Path,
    budget: Duration,
    bound: Option<SizeBound>,
    progress: Progress<'_>,
) -> Result<Downloaded, RdbError> {
    let started = Instant::now();
    let mut s = Session {
        node,
        deadline: started + budget,
        budget,
        bytes: 0,
        bound,
        dest_dir: dest_dir.to_path_buf(),
        next_space_check: 0,
        progress,
    };
    let file_err = |path: &Path, e: std::io::Error| RdbError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    crate::config::create_private_dir(dest_dir).map_err(|e| file_err(dest_dir, e))?;

    let stream = s.connect(timeouts).await?;
    let mut conn = BufReader::with_capacity(CHUNK, stream);
    let notes = s.handshake(&mut conn, timeouts.read).await?;

    conn.get_mut()
        .write_all(b"SYNC\r\n")
        .await
        .map_err(|e| s.cut(&e))?;
    let stall = timeouts.read.max(TRANSFER_STALL_FLOOR);
    let framing = s.payload_header(&mut conn, stall).await?;
    let announced = match framing {
        Header::Length(len) => Some(len),
        Header::Eof(_) => None,
    };
    if let Some(len) = announced {
        // A length bomb ($99999999999999) is refused before the file exists.
        s.check_size(len, true)?;
    }
    s.check_size(0, false)?;
    (s.progress)(0, announced);

    let (std_file, temp_path) = tempfile::Builder::new()
        .prefix(".partial-")
        .suffix(".rdb")
        .tempfile_in(dest_dir)
        .map_err(|e| file_err(dest_dir, e))?
        .into_parts();
    let mut file = tokio::fs::File::from_std(std_file);
    let framing_kind = match framing {
        Header::Length(len) => {
            s.copy_exact(&mut conn, &mut file, len, stall, &temp_path)
                .await?;
            Framing::Length
        }
        Header::Eof(mark) => {
            s.copy_until_mark(&mut conn, &mut file, &mark, stall, &temp_path)
                .await?;
            Framing::EofMark
        }
    };
    // The payload is in: hang up before the server streams anything else.
    drop(conn);
    file.flush().await.map_err(|e| file_err(&temp_path, e))?;
    file.sync_all().await.map_err(|e| file_err(&temp_path, e))?;
    drop(file);

    let path = persist(temp_path, dest_dir)?;
    Ok(Downloaded {
        path,
        bytes: s.bytes,
        framing: framing_kind,
        elapsed: started.elapsed(),
        notes,
    })
}

/// Renames the finished temp file to `<timestamp>.rdb` (never over an existing file) and
/// fsyncs the directory so the rename survives a crash.
fn persist(temp: tempfile::TempPath, dir: &Path) -> Result<PathBuf, RdbError> {
    let stamp = manifest::file_stamp(std::time::SystemTime::now());
    let mut temp = temp;
    for n in 0..100 {
        let name = if n == 0 {
            format!("{stamp}.rdb")
        } else {
            format!("{stamp}-{n}.rdb")
        };
        let path = dir.join(name);
        match temp.persist_noclobber(&path) {
            Ok(()) => {
                if let Ok(d) = std::fs::File::open(dir) {
                    // Best effort: not every filesystem supports syncing a directory.
                    let _ = d.sync_all();
                }
                return Ok(path);
            }
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => temp = e.path,
            Err(e) => {
                return Err(RdbError::File {
                    path,
                    message: e.error.to_string(),
                })
            }
        }
    }
    Err(RdbError::File {
        path: dir.to_path_buf(),
        message: format!("100 files named '{stamp}*.rdb' already exist"),
    })
}

/// The payload announcement.
enum Header {
    Length(u64),
    Eof(Vec<u8>),
}

/// State of one download: who, the deadline, bytes so far, the size bounds.
struct Session<'a, 'p> {
    node: &'a Node,
    deadline: Instant,
    budget: Duration,
    bytes: u64,
    bound: Option<SizeBound>,
    dest_dir: PathBuf,
    /// Bytes written at which free space is checked again.
    next_space_check: u64,
    progress: Progress<'p>,
}

impl Session<'_, '_> {
    /// Refuses `total` payload bytes (announced, or written so far) over the bound or over
    /// the free space minus the reserve. Free space is read again only every
    /// [`SPACE_CHECK_EVERY`] bytes; `announced` forces a check.
    fn check_size(&mut self, total: u64, announced: bool) -> Result<(), RdbError> {
        let node = self.name();
        let too_large = |limit: u64, why: String| RdbError::TooLarge {
            node: node.clone(),
            size: total,
            announced,
            limit,
            why,
        };
        if let Some(b) = &self.bound {
            if total > b.bytes {
                return Err(too_large(b.bytes, b.from.clone()));
            }
        }
        if !announced && total < self.next_space_check {
            return Ok(());
        }
        self.next_space_check = total.saturating_add(SPACE_CHECK_EVERY);
        let dir = &self.dest_dir;
        if let Some(free) = free_space(dir) {
            // Written bytes already left the free space: only what is still to come counts.
            let to_come = if announced { total } else { 0 };
            if free < DISK_RESERVE || to_come > free - DISK_RESERVE {
                return Err(too_large(
                    free.saturating_sub(DISK_RESERVE),
                    format!(
                        "{} holds {free} bytes free and keeps {DISK_RESERVE} in reserve",
                        dir.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn name(&self) -> String {
        self.node.name.clone()
    }

    fn addr(&self) -> String {
        self.node.addr.to_string()
    }

    /// The read timeout to use now: `per_read`, cut short by the budget. `None` once spent.
    fn window(&self, per_read: Duration) -> Option<(Duration, bool)> {
        let left = self.deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() {
            return None;
        }
        Some(if left < per_read {
            (left, true)
        } else {
            (per_read, false)
        })
    }

    fn over_budget(&self) -> RdbError {
        RdbError::Budget {
            node: self.name(),
            budget: self.budget,
            bytes: self.bytes,
        }
    }

    fn unresponsive(&self, during: &str, after: Duration) -> RdbError {
        RdbError::Unresponsive {
            node: self.name(),
            addr: self.addr(),
            during: during.to_string(),
            after,
        }
    }

    fn cut(&self, e: &std::io::Error) -> RdbError {
        RdbError::Connect {
            node: self.name(),
            addr: self.addr(),
            message: e.to_string(),
        }
    }

    /// Runs `fut` with the per-read timeout, capped by the budget.
    async fn timed<T>(
        &self,
        per_read: Duration,
        during: &str,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T, RdbError> {
        let (limit, budget_bound) = self.window(per_read).ok_or_else(|| self.over_budget())?;
        match tokio::time::timeout(limit, fut).await {
            Ok(v) => Ok(v),
            Err(_) if budget_bound => Err(self.over_budget()),
            Err(_) => Err(self.unresponsive(during, limit)),
        }
    }

    async fn connect(&self, timeouts: Timeouts) -> Result<Box<dyn Stream>, RdbError> {
        let host = self.node.addr.host.as_str();
        let port = self.node.addr.port;
        let tcp = self
            .timed(
                timeouts.connect,
                "to connect",
                TcpStream::connect((host, port)),
            )
            .await?
            .map_err(|e| self.cut(&e))?;
        // Small replies must not wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let Some(tls) = &self.node.tls else {
            return Ok(Box::new(tcp));
        };
        let tls_err = |message: String| RdbError::Tls {
            node: self.name(),
            message,
        };
        // The same TLS setup as every other connection to the node (CA, client certificate).
        let connector = super::stream::tls_connector(tls).map_err(tls_err)?;
        let stream = self
            .timed(
                timeouts.connect.max(timeouts.read),
                "to the TLS handshake",
                connector.connect(host, tcp),
            )
            .await?
            .map_err(|e| tls_err(e.to_string()))?;
        Ok(Box::new(stream))
    }

    /// AUTH (fatal when refused), then the optional steps (refusals are noted, not fatal).
    async fn handshake(
        &self,
        conn: &mut BufReader<Box<dyn Stream>>,
        read: Duration,
    ) -> Result<Vec<String>, RdbError> {
        if let Some(pw) = &self.node.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &self.node.username {
                args.push(user.as_bytes());
            }
            args.push(pw.expose().as_bytes());
            let reply = self.command(conn, &args, read, "to AUTH").await?;
            if reply.starts_with('-') {
                return Err(RdbError::Auth {
                    node: self.name(),
                    message: reply.trim_start_matches('-').to_string(),
                });
            }
        }
        let mut notes = Vec::new();
        let optional: [&[&[u8]]; 3] = [
            &[b"CLIENT", b"SETNAME", CLIENT_NAME.as_bytes()],
            &[b"REPLCONF", b"capa", b"eof"],
            &[b"REPLCONF", b"rdb-only", b"1"],
        ];
        for args in optional {
            let label = String::from_utf8_lossy(&args.join(&b' ')).into_owned();
            let reply = self
                .command(conn, args, read, &format!("to '{label}'"))
                .await?;
            if let Some(err) = reply.strip_prefix('-') {
                if err.starts_with("NOAUTH") {
                    return Err(RdbError::Auth {
                        node: self.name(),
                        message: format!("{err} (no password configured for this node)"),
                    });
                }
                notes.push(format!("{label}: {err}"));
            }
        }
        Ok(notes)
    }

    /// Sends one RESP command and reads a one-line reply.
    async fn command(
        &self,
        conn: &mut BufReader<Box<dyn Stream>>,
        args: &[&[u8]],
        read: Duration,
        during: &str,
    ) -> Result<String, RdbError> {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        self.timed(read, during, conn.get_mut().write_all(&req))
            .await?
            .map_err(|e| self.cut(&e))?;
        let line = self.line(conn, read, during).await?;
        if line.is_empty() {
            return Err(RdbError::TransferCut {
                node: self.name(),
                got: 0,
                expected: None,
            });
        }
        Ok(String::from_utf8_lossy(&line).trim_end().to_string())
    }

    /// One line (up to `\n`, at most [`MAX_LINE`] bytes). Empty at end of stream.
    async fn line(
        &self,
        conn: &mut BufReader<Box<dyn Stream>>,
        read: Duration,
        during: &str,
    ) -> Result<Vec<u8>, RdbError> {
        let mut buf = Vec::new();
        self.timed(
            read,
            during,
            (&mut *conn).take(MAX_LINE).read_until(b'\n', &mut buf),
        )
        .await?
        .map_err(|e| self.cut(&e))?;
        Ok(buf)
    }

    /// Skips keep-alive newlines and reads `$<len>` or `$EOF:<mark>`.
    async fn payload_header(
        &self,
        conn: &mut BufReader<Box<dyn Stream>>,
        stall: Duration,
    ) -> Result<Header, RdbError> {
        let during = "while the node prepared the RDB";
        loop {
            let raw = self.line(conn, stall, during).await?;
            if raw.is_empty() {
                return Err(RdbError::TransferCut {
                    node: self.name(),
                    got: 0,
                    expected: None,
                });
            }
            if raw == b"\n" {
                continue;
            }
            let line = String::from_utf8_lossy(&raw).trim_end().to_string();
            if let Some(err) = line.strip_prefix('-') {
                return Err(self.sync_refused(err));
            }
            if let Some(mark) = line.strip_prefix("$EOF:") {
                if mark.len() != EOF_MARK_LEN {
                    return Err(self.protocol(during, &line));
                }
                return Ok(Header::Eof(mark.as_bytes().to_vec()));
            }
            if let Some(len) = line.strip_prefix('$').and_then(|n| n.parse::<u64>().ok()) {
                return Ok(Header::Length(len));
            }
            if line.starts_with("+FULLRESYNC") {
                continue;
            }
            return Err(self.protocol(during, &line));
        }
    }

    fn protocol(&self, during: &str, reply: &str) -> RdbError {
        RdbError::Protocol {
            node: self.name(),
            during: during.to_string(),
            reply: reply.chars().take(200).collect(),
        }
    }

    /// Classifies the `-...` line answered to SYNC.
    fn sync_refused(&self, err: &str) -> RdbError {
        let node = self.name();
        let code = err.split_whitespace().next().unwrap_or_default();
        match code {
            "NOPERM" => RdbError::NoPerm {
                node,
                user: self
                    .node
                    .username
                    .clone()
                    .unwrap_or_else(|| "default".into()),
                command: err.split('\'').nth(1).unwrap_or("sync").to_string(),
            },
            "NOMASTERLINK" => RdbError::NoMasterLink { node },
            "MASTERDOWN" => RdbError::MasterDown { node },
            "NOAUTH" | "WRONGPASS" => RdbError::Auth {
                node,
                message: err.to_string(),
            },
            _ => RdbError::Refused {
                node,
                message: err.to_string(),
            },
        }
    }

    async fn write(
        &self,
        file: &mut tokio::fs::File,
        data: &[u8],
        path: &Path,
    ) -> Result<(), RdbError> {
        file.write_all(data).await.map_err(|e| RdbError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    async fn read_chunk(
        &self,
        conn: &mut BufReader<Box<dyn Stream>>,
        buf: &mut [u8],
        stall: Duration,
        expected: Option<u64>,
    ) -> Result<usize, RdbError> {
        let n = self
            .timed(stall, "during the transfer", conn.read(buf))
            .await?
            .map_err(|e| self.cut(&e))?;
        if n == 0 {
            return Err(RdbError::TransferCut {
                node: self.name(),
                got: self.bytes,
                expected,
            });
        }
        Ok(n)
    }

    /// Disk-based framing: exactly `len` bytes.
    async fn copy_exact(
        &mut self,
        conn: &mut BufReader<Box<dyn Stream>>,
        file: &mut tokio::fs::File,
        len: u64,
        stall: Duration,
        path: &Path,
    ) -> Result<(), RdbError> {
        let mut buf = vec![0u8; CHUNK];
        while self.bytes < len {
            let want = usize::try_from((len - self.bytes).min(CHUNK as u64)).unwrap_or(CHUNK);
            let slot = buf.get_mut(..want).unwrap_or_default();
            let n = self.read_chunk(conn, slot, stall, Some(len)).await?;
            self.write(file, slot.get(..n).unwrap_or_default(), path)
                .await?;
            self.bytes += n as u64;
            (self.progress)(self.bytes, Some(len));
            self.check_size(self.bytes, false)?;
        }
        Ok(())
    }

    /// Diskless framing: everything up to the 40-byte mark, which is not written. The last
    /// 40 bytes seen are held back until more data proves they are not the mark.
    async fn copy_until_mark(
        &mut self,
        conn: &mut BufReader<Box<dyn Stream>>,
        file: &mut tokio::fs::File,
        mark: &[u8],
        stall: Duration,
        path: &Path,
    ) -> Result<(), RdbError> {
        let mut buf = vec![0u8; CHUNK];
        let mut pending: Vec<u8> = Vec::with_capacity(CHUNK + EOF_MARK_LEN);
        let mut received: u64 = 0;
        loop {
            let n = match self.read_chunk(conn, &mut buf, stall, None).await {
                Err(RdbError::TransferCut { node, .. }) => {
                    return Err(RdbError::TransferCut {
                        node,
                        got: received,
                        expected: None,
                    })
                }
                other => other?,
            };
            received += n as u64;
            pending.extend_from_slice(buf.get(..n).unwrap_or_default());
            // Like the server's own replica code: the mark is checked at the end of each read;
            // with rdb-only (or before REPLCONF ACK) nothing follows it.
            if pending.len() >= EOF_MARK_LEN && pending.ends_with(mark) {
                let body = pending.len() - EOF_MARK_LEN;
                self.write(file, pending.get(..body).unwrap_or_default(), path)
                    .await?;
                self.bytes += body as u64;
                (self.progress)(self.bytes, None);
                return Ok(());
            }
            if pending.len() > EOF_MARK_LEN {
                let flush = pending.len() - EOF_MARK_LEN;
                self.write(file, pending.get(..flush).unwrap_or_default(), path)
                    .await?;
                self.bytes += flush as u64;
                (self.progress)(self.bytes, None);
                pending.drain(..flush);
                // No length was announced: the bound and the disk are checked as it streams.
                self.check_size(self.bytes, false)?;
            }
        }
    }
}
