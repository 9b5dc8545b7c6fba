//! Checking an RDB file on disk: the header (`REDIS` + 4 digits or `VALKEY` + 3 digits), the
//! `0xFF` end-of-file opcode at `len - 9`, the little-endian CRC-64/Jones trailer computed over
//! every byte before it, and the AUX fields right after the header (`repl-id`, `repl-offset`,
//! `redis-ver`/`valkey-ver`, `ctime`).
//!
//! The file is streamed, never read whole. The AUX parser knows only the RDB length and string
//! encodings AUX fields use (plain, small integers, LZF) and stops at the first opcode that is
//! not AUX. It is total: garbage gives fewer fields, never a panic. It does not walk the
//! keyspace: `redis-check-rdb` is the deep check.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::RdbError;

/// The RDB header is `REDIS0010` or `VALKEY080`: always 9 bytes.
const HEADER_LEN: usize = 9;
/// How much of the file start is read to find the AUX fields.
const AUX_WINDOW: u64 = 64 * 1024;
/// An AUX string longer than this is taken as garbage.
const MAX_AUX_STRING: usize = 16 * 1024;
/// At most this many AUX fields are read (a real file has about ten).
const MAX_AUX_FIELDS: usize = 64;

const OPCODE_AUX: u8 = 0xFA;
const OPCODE_EOF: u8 = 0xFF;
const OPCODE_SELECTDB: u8 = 0xFE;
const OPCODE_RESIZEDB: u8 = 0xFB;

/// The CRC-64 variant Redis uses (Jones, reflected, check value `0xe9c6d914c4b8d9ca`).
pub const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// Which server family wrote the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RdbFormat {
    /// `REDIS` + 4 digits (Redis, and Valkey up to 8 and on the wire).
    Redis,
    /// `VALKEY` + 3 digits (files written by Valkey 9+).
    Valkey,
}

/// What the trailer says about the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "crc")]
pub enum CrcStatus {
    /// The stored CRC-64 matches the content.
    Verified(u64),
    /// The stored checksum is 0: the server runs with `rdbchecksum no`. Legal, but unverified.
    Disabled,
    /// RDB versions before 5 carry no checksum.
    Absent,
}

impl CrcStatus {
    /// True only when the checksum was present and matched.
    #[must_use]
    pub fn is_verified(self) -> bool {
        matches!(self, Self::Verified(_))
    }

    /// A short word for tables and logs: `ok`, `disabled`, `absent`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verified(_) => "ok",
            Self::Disabled => "disabled (unverified)",
            Self::Absent => "absent (rdb < 5, unverified)",
        }
    }
}

/// The AUX fields found after the header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdbAux {
    /// `repl-id`: the replication history the snapshot belongs to.
    pub repl_id: Option<String>,
    /// `repl-offset`: the offset in that history.
    pub repl_offset: Option<i64>,
    /// `valkey-ver` when present, else `redis-ver`.
    pub server_version: Option<String>,
    /// `ctime`: creation time, Unix seconds, by the server's clock.
    pub ctime: Option<i64>,
    /// Every AUX field read, in file order.
    pub fields: Vec<(String, String)>,
}

/// The result of a successful check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdbCheck {
    pub path: PathBuf,
    /// File size.
    pub bytes: u64,
    pub format: RdbFormat,
    /// RDB version from the header (10 for Redis 7.0, 80 for `VALKEY080`).
    pub version: u32,
    pub crc: CrcStatus,
    pub aux: RdbAux,
}

/// Checks the file at `path`: header, end-of-file opcode and CRC-64, and reads its AUX fields.
///
/// A stored checksum of 0 is legal (`rdbchecksum no`) and reported as [`CrcStatus::Disabled`].
///
/// # Errors
/// [`RdbError::BadMagic`] for a file that is not an RDB, [`RdbError::Truncated`] when the
/// end-of-file opcode is not where it must be, [`RdbError::ChecksumMismatch`] when the content
/// does not match the stored CRC, [`RdbError::File`] for I/O errors.
pub fn verify(path: &Path) -> Result<RdbCheck, RdbError> {
    let io_err = |e: std::io::Error| RdbError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut file = File::open(path).map_err(io_err)?;
    let bytes = file.metadata().map_err(io_err)?.len();

    let mut head = Vec::new();
    (&mut file)
        .take(AUX_WINDOW)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    let (format, version) = parse_header(&head).ok_or_else(|| RdbError::BadMagic {
        path: path.to_path_buf(),
        found: escape(&head[..head.len().min(HEADER_LEN)]),
    })?;
    let aux = parse_aux(head.get(HEADER_LEN..).unwrap_or_default());

    let truncated = |why: String| RdbError::Truncated {
        path: path.to_path_buf(),
        why,
    };
    if version < 5 {
        // No checksum: the last byte must still be the EOF opcode.
        file.seek(SeekFrom::Start(bytes.saturating_sub(1)))
            .map_err(io_err)?;
        let mut last = [0u8; 1];
        file.read_exact(&mut last).map_err(io_err)?;
        if bytes <= HEADER_LEN as u64 || last[0] != OPCODE_EOF {
            return Err(truncated(format!(
                "the last byte is {:#04x}, not the end-of-file opcode 0xff",
                last[0]
            )));
        }
        return Ok(RdbCheck {
            path: path.to_path_buf(),
            bytes,
            format,
            version,
            crc: CrcStatus::Absent,
            aux,
        });
    }
    // Header, at least the EOF opcode, 8 bytes of checksum.
    if bytes < HEADER_LEN as u64 + 9 {
        return Err(truncated(format!("only {bytes} bytes")));
    }
    let body_len = bytes - 8;
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut digest = CRC64.digest();
    let mut remaining = body_len;
    let mut buf = vec![0u8; 256 * 1024];
    let mut last_body_byte = 0u8;
    while remaining > 0 {
        let want = usize::try_from(remaining.min(buf.len() as u64)).unwrap_or(buf.len());
        let chunk = buf.get_mut(..want).unwrap_or_default();
        reader.read_exact(chunk).map_err(io_err)?;
        digest.update(chunk);
        last_body_byte = chunk.last().copied().unwrap_or(0);
        remaining -= want as u64;
    }
    let mut trailer = [0u8; 8];
    reader.read_exact(&mut trailer).map_err(io_err)?;
    if last_body_byte != OPCODE_EOF {
        return Err(truncated(format!(
            "the byte before the checksum is {last_body_byte:#04x}, not the end-of-file opcode 0xff"
        )));
    }
    let stored = u64::from_le_bytes(trailer);
    let computed = digest.finalize();
    let crc = if stored == 0 {
        CrcStatus::Disabled
    } else if stored == computed {
        CrcStatus::Verified(computed)
    } else {
        return Err(RdbError::ChecksumMismatch {
            path: path.to_path_buf(),
            stored,
            computed,
        });
    };
    Ok(RdbCheck {
        path: path.to_path_buf(),
        bytes,
        format,
        version,
        crc,
        aux,
    })
}

/// `REDIS0010` → (Redis, 10); `VALKEY080` → (Valkey, 80).
fn parse_header(head: &[u8]) -> Option<(RdbFormat, u32)> {
    let head = head.get(..HEADER_LEN)?;
    let (format, digits) = if let Some(d) = head.strip_prefix(b"REDIS") {
        (RdbFormat::Redis, d)
    } else if let Some(d) = head.strip_prefix(b"VALKEY") {
        (RdbFormat::Valkey, d)
    } else {
        return None;
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let version = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((format, version))
}

fn escape(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Reads AUX fields from the bytes right after the header until the first other opcode.
#[must_use]
pub fn parse_aux(body: &[u8]) -> RdbAux {
    let mut cur = Cursor { buf: body, pos: 0 };
    let mut aux = RdbAux::default();
    while aux.fields.len() < MAX_AUX_FIELDS && cur.peek() == Some(OPCODE_AUX) {
        cur.pos += 1;
        let (Some(key), Some(value)) = (cur.string(), cur.string()) else {
            break;
        };
        let key = String::from_utf8_lossy(&key).into_owned();
        let value = String::from_utf8_lossy(&value).into_owned();
        match key.as_str() {
            "repl-id" => aux.repl_id = Some(value.clone()),
            "repl-offset" => aux.repl_offset = value.parse().ok(),
            "ctime" => aux.ctime = value.parse().ok(),
            "valkey-ver" => aux.server_version = Some(value.clone()),
            "redis-ver" if aux.server_version.is_none() => {
                aux.server_version = Some(value.clone());
            }
            _ => {}
        }
        aux.fields.push((key, value));
    }
    aux
}

/// Keys and keys with a TTL in the first database of an RDB, from its `RESIZEDB` opcode
/// (written by 3.2+ right after `SELECTDB`): `(db, keys, expires)`. `body` is the file after
/// its 9-byte header; only AUX fields may come first (a file with functions or module data
/// before its first database gives `None`, as does one without `RESIZEDB`).
#[must_use]
pub fn first_db_size(body: &[u8]) -> Option<(u64, u64, u64)> {
    let mut cur = Cursor { buf: body, pos: 0 };
    let mut fields = 0;
    while cur.peek() == Some(OPCODE_AUX) && fields < MAX_AUX_FIELDS {
        cur.pos += 1;
        cur.string()?;
        cur.string()?;
        fields += 1;
    }
    match cur.byte()? {
        OPCODE_SELECTDB => {}
        // An empty dataset: no database at all.
        OPCODE_EOF => return Some((0, 0, 0)),
        _ => return None,
    }
    let Length::Plain(db) = cur.length()? else {
        return None;
    };
    if cur.byte()? != OPCODE_RESIZEDB {
        return None;
    }
    let (Length::Plain(keys), Length::Plain(expires)) = (cur.length()?, cur.length()?) else {
        return None;
    };
    Some((db, keys, expires))
}

/// A length as RDB encodes it, or the marker of a specially encoded string.
enum Length {
    Plain(u64),
    /// Top two bits `11`: the low six say how the string is encoded.
    Special(u8),
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn length(&mut self) -> Option<Length> {
        let b = self.byte()?;
        match b >> 6 {
            0 => Some(Length::Plain(u64::from(b & 0x3F))),
            1 => Some(Length::Plain(
                (u64::from(b & 0x3F) << 8) | u64::from(self.byte()?),
            )),
            2 => match b {
                0x80 => Some(Length::Plain(u64::from(u32::from_be_bytes(
                    self.take(4)?.try_into().ok()?,
                )))),
                0x81 => Some(Length::Plain(u64::from_be_bytes(
                    self.take(8)?.try_into().ok()?,
                ))),
                _ => None,
            },
            _ => Some(Length::Special(b & 0x3F)),
        }
    }

    fn plain_length(&mut self) -> Option<usize> {
        match self.length()? {
            Length::Plain(n) => usize::try_from(n).ok().filter(|n| *n <= MAX_AUX_STRING),
            Length::Special(_) => None,
        }
    }

    /// A string: raw bytes, an integer (8/16/32 bits, little-endian) or LZF-compressed.
    fn string(&mut self) -> Option<Vec<u8>> {
        match self.length()? {
            Length::Plain(n) => {
                let n = usize::try_from(n).ok().filter(|n| *n <= MAX_AUX_STRING)?;
                Some(self.take(n)?.to_vec())
            }
            Length::Special(0) => Some(i8::from_le_bytes([self.byte()?]).to_string().into_bytes()),
            Length::Special(1) => Some(
                i16::from_le_bytes(self.take(2)?.try_into().ok()?)
                    .to_string()
                    .into_bytes(),
            ),
            Length::Special(2) => Some(
                i32::from_le_bytes(self.take(4)?.try_into().ok()?)
                    .to_string()
                    .into_bytes(),
            ),
            Length::Special(3) => {
                let compressed_len = self.plain_length()?;
                let len = self.plain_length()?;
                let data = self.take(compressed_len)?;
                lzf_decompress(data, len)
            }
            Length::Special(_) => None,
        }
    }
}

/// LZF decompression (the format of `lzf_d.c`), into exactly `out_len` bytes, or `None`.
fn lzf_decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = usize::from(*input.get(ip)?);
        ip += 1;
        if ctrl < 32 {
            // A run of ctrl + 1 literal bytes.
            let run = ctrl + 1;
            let lit = input.get(ip..ip.checked_add(run)?)?;
            if out.len() + run > out_len {
                return None;
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            // A back reference: length (3 bits, extended by one byte when 7) and distance.
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(ip)?);
                ip += 1;
            }
            len += 2;
            let distance = ((ctrl & 0x1F) << 8) + usize::from(*input.get(ip)?) + 1;
            ip += 1;
            let start = out.len().checked_sub(distance)?;
            if out.len() + len > out_len {
                return None;
            }
            // Byte by byte: the reference may overlap what is being written.
            for i in 0..len {
                let b = *out.get(start + i)?;
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn crc64_check_value() {
        assert_eq!(CRC64.checksum(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    /// A minimal valid RDB 10 body with the AUX fields a 7.0 server writes.
    fn sample(checksum: bool) -> Vec<u8> {
        let mut d = b"REDIS0010".to_vec();
        let mut aux = |k: &[u8], v: &[u8]| {
            d.push(OPCODE_AUX);
            d.push(u8::try_from(k.len()).unwrap());
            d.extend_from_slice(k);
            d.extend_from_slice(v);
        };
        aux(b"redis-ver", b"\x067.0.15");
        aux(b"redis-bits", b"\xc0\x40"); // int8 64
        aux(b"ctime", b"\xc2\x2a\x5b\x02\x6b"); // int32
        aux(b"repl-id", b"\x28ccbcedb46159505c68cc9dc48e9d0c2381f12641");
        aux(b"repl-offset", b"\xc2\x77\xf2\x5c\x04"); // int32 73200247
        d.extend_from_slice(&[0xFE, 0x00, 0xFF]); // SELECTDB 0, EOF
        let crc = if checksum { CRC64.checksum(&d) } else { 0 };
        d.extend_from_slice(&crc.to_le_bytes());
        d
    }

    fn write_tmp(data: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(data).unwrap();
        f.flush().unwrap();
        f
    }

    #[test]
    fn good_file_verifies_and_reads_aux() {
        let f = write_tmp(&sample(true));
        let c = verify(f.path()).unwrap();
        assert_eq!(c.format, RdbFormat::Redis);
        assert_eq!(c.version, 10);
        assert!(c.crc.is_verified());
        assert_eq!(
            c.aux.repl_id.as_deref(),
            Some("ccbcedb46159505c68cc9dc48e9d0c2381f12641")
        );
        assert_eq!(c.aux.repl_offset, Some(73_200_247));
        assert_eq!(c.aux.server_version.as_deref(), Some("7.0.15"));
        assert_eq!(c.aux.ctime, Some(0x6b02_5b2a));
        assert!(c.aux.fields.contains(&("redis-bits".into(), "64".into())));
    }

    #[test]
    fn zero_checksum_is_disabled_not_verified() {
        let f = write_tmp(&sample(false));
        let c = verify(f.path()).unwrap();
        assert_eq!(c.crc, CrcStatus::Disabled);
        assert!(!c.crc.is_verified());
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let good = sample(true);
        for i in HEADER_LEN..good.len() - 9 {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            let f = write_tmp(&bad);
            assert!(
                matches!(verify(f.path()), Err(RdbError::ChecksumMismatch { .. })),
                "byte {i}"
            );
        }
    }

    #[test]
    fn every_truncation_is_detected() {
        let good = sample(true);
        for len in 0..good.len() {
            let f = write_tmp(&good[..len]);
            assert!(verify(f.path()).is_err(), "length {len}");
        }
    }

    #[test]
    fn bad_magic() {
        let f = write_tmp(b"HELLO WORLD, not an rdb at all");
        let e = verify(f.path()).unwrap_err();
        assert!(matches!(e, RdbError::BadMagic { .. }));
        assert!(e.to_string().contains("HELLO WOR"), "{e}");
    }

    #[test]
    fn valkey_header() {
        assert_eq!(parse_header(b"VALKEY080"), Some((RdbFormat::Valkey, 80)));
        assert_eq!(parse_header(b"REDIS0012"), Some((RdbFormat::Redis, 12)));
        assert_eq!(parse_header(b"REDIS00x2"), None);
        assert_eq!(parse_header(b"VALKEY0"), None);
    }

    #[test]
    fn valkey_ver_wins_over_redis_ver() {
        let body = [
            &[OPCODE_AUX, 9][..],
            b"redis-ver",
            &[5],
            b"7.2.4",
            &[OPCODE_AUX, 10],
            b"valkey-ver",
            &[5],
            b"9.1.2",
            &[0xFE, 0],
        ]
        .concat();
        let aux = parse_aux(&body);
        assert_eq!(aux.server_version.as_deref(), Some("9.1.2"));
        assert_eq!(aux.fields.len(), 2);
    }

    #[test]
    fn lzf_round_trip_of_known_encoding() {
        // "aaaaaaaaaa": literal 'a', then a back reference of 9 at distance 1.
        // ctrl = (len-2)=7 → extended: (7<<5)|0, ext byte 0 → len 9, distance byte 0.
        let compressed = [0x00, b'a', 0xE0, 0x00, 0x00];
        assert_eq!(
            lzf_decompress(&compressed, 10).as_deref(),
            Some(&b"aaaaaaaaaa"[..])
        );
        assert_eq!(lzf_decompress(&compressed, 9), None);
        assert_eq!(lzf_decompress(&[0xE0, 0x00, 0x00], 9), None);
        // An LZF-encoded AUX value.
        let body = [
            &[OPCODE_AUX, 1, b'k', 0xC3, 5, 10][..],
            &compressed,
            &[0xFF],
        ]
        .concat();
        assert_eq!(
            parse_aux(&body).fields,
            vec![("k".to_string(), "aaaaaaaaaa".to_string())]
        );
    }

    #[test]
    fn aux_parser_is_total() {
        // Deterministic pseudo-random garbage: no panic, bounded output.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..2000 {
            let len = round % 200;
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(if x % 3 == 0 {
                    OPCODE_AUX
                } else {
                    (x >> 8).to_le_bytes()[0]
                });
            }
            let aux = parse_aux(&buf);
            assert!(aux.fields.len() <= MAX_AUX_FIELDS);
            let _ = lzf_decompress(&buf, len * 3);
        }
    }
}
