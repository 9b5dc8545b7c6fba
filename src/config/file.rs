//! Reading a small file the operator named (config, password, CA, theme) without trusting it:
//! only a regular file, never more than [`MAX_FILE_BYTES`]. `password_file = "/dev/zero"`
//! used to read until allocation failed (2.1 GB) and a FIFO hung the start for good.
//!
//! The type is checked twice: before opening (a FIFO blocks in `open` itself until a writer
//! comes) and on the opened handle (the path may have been swapped in between); the open is
//! non-blocking so a swapped-in FIFO cannot hang it either.

use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest config, password, CA or theme file accepted: real ones are a few KB.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

fn not_regular(kind: std::fs::FileType) -> io::Error {
    use std::os::unix::fs::FileTypeExt;
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what}, not a regular file"),
    )
}

/// The whole file, when it is a regular file of at most [`MAX_FILE_BYTES`].
///
/// # Errors
/// The I/O error, or `InvalidInput` for a FIFO, device, socket or directory, or `FileTooLarge`
/// for a file over the limit.
pub fn read_small_file(path: &Path) -> io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    let too_big = || {
        io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than {} MB", MAX_FILE_BYTES / (1024 * 1024)),
        )
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let mut out = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may grow after the check (a log, an attacker): read one byte past the limit.
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut out)?;
    if out.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    Ok(out)
}

/// As [`read_small_file`], as UTF-8 text.
///
/// # Errors
/// As [`read_small_file`], or `InvalidData` for text that is not UTF-8.
pub fn read_small_text(path: &Path) -> io::Result<String> {
    String::from_utf8(read_small_file(path)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Creates `dir` and any missing parents readable by the owner only (0700): they hold the
/// audit log (hosts, SSH clients, `CLIENT LIST` replies), RDB snapshots and marks. Existing
/// directories are left as they are.
///
/// # Errors
/// The I/O error.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(test)]
mod tests {
    use super::{create_private_dir, read_small_file, read_small_text, MAX_FILE_BYTES};
    use std::path::Path;

    #[test]
    fn devices_fifos_and_directories_are_refused_at_once() {
        let e = read_small_file(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(e.to_string(), "a device, not a regular file");
        let dir = tempfile::tempdir().unwrap();
        let e = read_small_file(dir.path()).unwrap_err();
        assert_eq!(e.to_string(), "a directory, not a regular file");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        // No writer: a plain open would block here forever.
        let e = read_small_file(&fifo).unwrap_err();
        assert_eq!(e.to_string(), "a FIFO, not a regular file");
    }

    #[test]
    fn a_file_over_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        let e = read_small_file(&big).unwrap_err();
        assert_eq!(e.to_string(), "larger than 4 MB");
        let ok = dir.path().join("ok");
        std::fs::write(&ok, "a = 1\n").unwrap();
        assert_eq!(read_small_text(&ok).unwrap(), "a = 1\n");
    }

    #[test]
    fn private_dirs_are_0700_at_every_new_level() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        create_private_dir(&deep).unwrap();
        for d in [dir.path().join("a"), deep] {
            let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", d.display());
        }
    }
}
