//! Touching files safely: atomic and plain writes with the messages a user
//! can act on (full disk, read-only folder), and reads that accept only
//! regular files of bounded size — a symlink to `/dev/zero`, a FIFO or a
//! giant file in a results folder can neither exhaust memory nor hang.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::Result;

use crate::bad_input;

/// Writes `bytes` to `path` atomically: a temporary file in the same folder,
/// flushed to disk, then renamed over `path`. Readers see the old file or
/// the new one, never a part of it, also after a crash or a power cut.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Prepared::new(path, bytes)?.commit()
}

/// A file written and flushed to disk under a temporary name, waiting to be
/// renamed into place by [`Prepared::commit`] (for a write whose moment of
/// appearing matters, e.g. under a lock, while the slow flush is not under
/// it). Dropped without commit, the temporary file is removed.
#[derive(Debug)]
pub struct Prepared {
    tmp: std::path::PathBuf,
    path: std::path::PathBuf,
    committed: bool,
}

impl Prepared {
    /// Writes and flushes `bytes` for `path`.
    pub fn new(path: &Path, bytes: &[u8]) -> Result<Prepared> {
        let tmp = temporary_path(path);
        let write = || -> io::Result<()> {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            write_error(path, e)
        })?;
        Ok(Prepared {
            tmp,
            path: path.to_path_buf(),
            committed: false,
        })
    }

    /// Renames the file into place: readers now see it, whole.
    pub fn commit(mut self) -> Result<()> {
        fs::rename(&self.tmp, &self.path).map_err(|e| write_error(&self.path, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` in place, without flushing to disk. For files
/// that a later, atomic write vouches for (a run's `done.json` holds their
/// checksums): a torn or lost one is detected, never trusted.
pub fn write_plain(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(|e| write_error(path, e))
}

/// A temporary name beside `path`, unique per writer, also across the
/// machines of a cluster writing into one shared folder (the process id
/// alone could repeat there). [`is_temporary`] recognises it.
pub fn temporary_path(path: &Path) -> std::path::PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let nonce = {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    dir.join(format!(
        ".{}.tmp-{}-{nonce:016x}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ))
}

/// True for the name of a file [`temporary_path`] made.
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

/// The error of a failed write, as an input error where the user can fix
/// the cause (space, permissions).
pub fn write_error(path: &Path, e: io::Error) -> anyhow::Error {
    match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => bad_input!(
            "cannot write {}: no space left on the device; free some space and run the \
             same command again (finished runs are kept)",
            path.display()
        ),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => bad_input!(
            "cannot write {}: {e}; choose a writable folder with --out",
            path.display()
        ),
        _ => anyhow::anyhow!(e).context(format!("cannot write {}", path.display())),
    }
}

/// Why [`read_bounded`] refused or failed to read a file.
#[derive(Debug)]
pub enum ReadError {
    /// Nothing is there.
    Missing,
    /// Something is there, but not a regular file: what it is.
    NotAFile(&'static str),
    /// A regular file larger than the bound: its size.
    TooLarge(u64),
    /// The operating system's error.
    Io(io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Missing => f.write_str("it does not exist"),
            ReadError::NotAFile(what) => write!(f, "it is {what}, not a regular file"),
            ReadError::TooLarge(size) => write!(f, "it is too large ({size} bytes)"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// What a path that is not a regular file is, in words.
fn kind_of(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_fifo() {
        "a pipe"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Reads the whole of `path` if it is a regular file (symbolic links to one
/// are followed) of at most `limit` bytes. Never opens a device or a pipe,
/// and never reads more than `limit + 1` bytes, whatever the file claims.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_limited(path, limit, false)
}

/// As [`read_bounded`], but a character device is read too, up to the
/// bound (`/dev/null` reads as empty, `/dev/zero` as too large): for input
/// a user names, never for result files. Pipes are still refused (one with
/// no writer would block forever).
pub fn read_user_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_limited(path, limit, true)
}

fn read_limited(path: &Path, limit: u64, devices: bool) -> Result<Vec<u8>, ReadError> {
    use std::os::unix::fs::FileTypeExt;
    let readable = |m: &fs::Metadata| m.is_file() || (devices && m.file_type().is_char_device());
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // A dangling symbolic link is something, but nothing to read.
            return Err(match fs::symlink_metadata(path) {
                Ok(_) => ReadError::Io(e),
                Err(_) => ReadError::Missing,
            });
        }
        Err(e) => return Err(ReadError::Io(e)),
    };
    if !readable(&meta) {
        return Err(ReadError::NotAFile(kind_of(&meta)));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge(meta.len()));
    }
    let file = fs::File::open(path).map_err(ReadError::Io)?;
    // The path may have been replaced between the two looks.
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !readable(&meta) {
        return Err(ReadError::NotAFile(kind_of(&meta)));
    }
    let mut bytes = Vec::with_capacity(meta.len().min(limit) as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Bounds on the files sweep reads back (generous: each is far above what
/// sweep itself writes for the largest experiment it accepts).
pub mod limits {
    /// `done.json`, `params.json`, `error.txt`, `manifest.json`.
    pub const SMALL: u64 = 1 << 20;
    /// `grid.json` and `slurm/shards.json` of a 100 000-run grid.
    pub const GRID: u64 = 256 << 20;
    /// An experiment file.
    pub const EXPERIMENT: u64 = 16 << 20;
    /// Bytes allowed per row of a run's `epochs.csv`, beyond a fixed allowance.
    pub const EPOCH_ROW: u64 = 1024;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_bound_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a");
        fs::write(&file, b"hello").unwrap();
        assert_eq!(read_bounded(&file, 5).unwrap(), b"hello");
        assert!(matches!(
            read_bounded(&file, 4),
            Err(ReadError::TooLarge(5))
        ));
        assert!(matches!(
            read_bounded(dir.path(), 100),
            Err(ReadError::NotAFile("a folder"))
        ));
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), 100),
            Err(ReadError::NotAFile("a device"))
        ));
        assert!(matches!(
            read_bounded(&dir.path().join("none"), 100),
            Err(ReadError::Missing)
        ));
        let link = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(matches!(
            read_bounded(&link, 1 << 40),
            Err(ReadError::NotAFile("a device"))
        ));
        let loop_link = dir.path().join("loop");
        std::os::unix::fs::symlink(&loop_link, &loop_link).unwrap();
        assert!(matches!(
            read_bounded(&loop_link, 100),
            Err(ReadError::Io(_))
        ));
    }

    #[test]
    fn atomic_writes_leave_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.json");
        write_atomic(&file, b"{}").unwrap();
        write_atomic(&file, b"{\"a\":1}").unwrap();
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["x.json"]);
        assert!(is_temporary(
            &temporary_path(&file).file_name().unwrap().to_string_lossy()
        ));
    }
}
