//! Who may write a results folder. A whole sweep holds `.lock` alone; shard
//! K of N shares `.lock` with the other shards and holds
//! `.lock.shard-K-of-N` alone, so shards run side by side but not twice,
//! never beside an unsharded run, and never beside shards of another N
//! (they would train the same runs twice at once). `.lock.aggregates`
//! guards the aggregate tables and the report. The locks are the operating
//! system's (`flock`): they end with the process however it ends, so a
//! crashed sweep never leaves one stuck. Each holder writes who it is into
//! its lock file, for the message the others get.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use super::ResultsDir;
use crate::bad_input;

/// Use of a results folder, released when dropped or when the process ends
/// in any way.
#[derive(Debug)]
pub struct FolderLock {
    _main: fs::File,
    shard: Option<fs::File>,
}

impl FolderLock {
    /// Gives up the shard's own lock (keeping the shared one): from now on
    /// this process no longer counts as a running shard.
    pub fn release_shard(&mut self) {
        self.shard = None;
    }
}

/// A running shard, as its lock file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardHolder {
    /// Its index K.
    pub index: usize,
    /// Its count N.
    pub count: usize,
    /// Who holds it: `pid 123 on host, since …`.
    pub holder: String,
}

fn lock_error(path: &Path, e: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!(e).context(format!("cannot lock {}", path.display()))
}

/// Whether a non-blocking attempt on the lock file `path` took the lock
/// (`false`: another process holds it).
fn took(attempt: Result<(), fs::TryLockError>, path: &Path) -> Result<bool> {
    match attempt {
        Ok(()) => Ok(true),
        Err(fs::TryLockError::WouldBlock) => Ok(false),
        Err(fs::TryLockError::Error(e)) => Err(lock_error(path, e)),
    }
}

/// Writes who holds a lock into its file, for the message others get.
fn write_holder(mut file: &fs::File, path: &Path) -> Result<()> {
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this machine".into());
    let note = format!(
        "pid {} on {host}, since {}",
        std::process::id(),
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S")
    );
    file.set_len(0)
        .and_then(|_| file.write_all(note.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The holder note in a lock file (bounded read: it is ours, but a folder
/// can hold anything).
fn holder_note(path: &Path) -> String {
    crate::files::read_bounded(path, 4096)
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "starting".into())
}

/// `.lock.shard-K-of-N` → (K, N).
fn parse_shard_lock(name: &str) -> Option<(usize, usize)> {
    let rest = name.strip_prefix(".lock.shard-")?;
    let (k, n) = rest.split_once("-of-")?;
    Some((k.parse().ok()?, n.parse().ok()?))
}

fn shard_lock_name(k: usize, n: usize) -> String {
    format!(".lock.shard-{k}-of-{n}")
}

/// `--shard 0/2 (pid …), --shard 1/2 (pid …)`.
fn describe(holders: &[ShardHolder]) -> String {
    holders
        .iter()
        .map(|h| format!("`sweep run --shard {}/{}` ({})", h.index, h.count, h.holder))
        .collect::<Vec<_>>()
        .join(", ")
}

impl ResultsDir {
    fn open_lock_file(&self, name: &str) -> Result<fs::File> {
        let path = self.root().join(name);
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                bad_input!(
                    "cannot create {}: {e}; choose a writable folder with --out",
                    path.display()
                )
            })
    }

    /// Takes the folder for this process (a whole sweep, or shard K of N),
    /// or says who holds it.
    pub fn lock(&self, shard: Option<(usize, usize)>) -> Result<FolderLock> {
        fs::create_dir_all(self.root()).map_err(|e| {
            bad_input!(
                "cannot create results folder {}: {e}; choose a writable folder with --out",
                self.root().display()
            )
        })?;
        // Processes starting at the same moment take turns here, so that
        // the checks below and the lock taken after them are one step.
        let start_path = self.root().join(".lock.start");
        let start = self.open_lock_file(".lock.start")?;
        start.lock().map_err(|e| lock_error(&start_path, e))?;
        let main_path = self.root().join(".lock");
        let main = self.open_lock_file(".lock")?;
        let busy = |what: String| {
            bad_input!(
                "{} is in use by {what}; wait for it to end or stop it (Ctrl-C), then run this again",
                self.root().display()
            )
        };
        let Some((k, n)) = shard else {
            if !took(main.try_lock(), &main_path)? {
                let shards = self.running_shards();
                return Err(busy(if shards.is_empty() {
                    format!("another `sweep run` ({})", holder_note(&main_path))
                } else {
                    describe(&shards)
                }));
            }
            write_holder(&main, &main_path)?;
            return Ok(FolderLock {
                _main: main,
                shard: None,
            });
        };
        if !took(main.try_lock_shared(), &main_path)? {
            return Err(busy(format!(
                "a `sweep run` without --shard ({})",
                holder_note(&main_path)
            )));
        }
        let other_split: Vec<ShardHolder> = self
            .running_shards()
            .into_iter()
            .filter(|h| h.count != n)
            .collect();
        if !other_split.is_empty() {
            return Err(bad_input!(
                "{} is in use by shards of another split: {}; a --shard {k}/{n} beside them would \
                 train runs they train. Wait for them to end, or use --shard K/{}",
                self.root().display(),
                describe(&other_split),
                other_split[0].count
            ));
        }
        let name = shard_lock_name(k, n);
        let own_path = self.root().join(&name);
        let own = self.open_lock_file(&name)?;
        if !took(own.try_lock(), &own_path)? {
            return Err(busy(format!(
                "another `sweep run --shard {k}/{n}` ({})",
                holder_note(&own_path)
            )));
        }
        write_holder(&own, &own_path)?;
        Ok(FolderLock {
            _main: main,
            shard: Some(own),
        })
    }

    /// Every shard that some process holds now.
    pub fn running_shards(&self) -> Vec<ShardHolder> {
        let Ok(entries) = fs::read_dir(self.root()) else {
            return Vec::new();
        };
        let mut holders: Vec<ShardHolder> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| parse_shard_lock(&e.file_name().to_string_lossy()))
            .filter(|&(k, n)| self.shard_running(k, n))
            .map(|(index, count)| ShardHolder {
                index,
                count,
                holder: holder_note(&self.root().join(shard_lock_name(index, count))),
            })
            .collect();
        holders.sort_by_key(|h| (h.count, h.index));
        holders
    }

    /// True while some process holds shard K of N's lock.
    pub fn shard_running(&self, k: usize, n: usize) -> bool {
        let Ok(file) = fs::File::open(self.root().join(shard_lock_name(k, n))) else {
            return false;
        };
        matches!(file.try_lock(), Err(fs::TryLockError::WouldBlock))
    }

    /// True while an unsharded `sweep run` holds the folder.
    pub fn whole_run_running(&self) -> bool {
        let Ok(file) = fs::File::open(self.root().join(".lock")) else {
            return false;
        };
        matches!(file.try_lock_shared(), Err(fs::TryLockError::WouldBlock))
    }

    /// Waits for, then holds, the right to change the folder's aggregate
    /// tables and report, and to commit run records (see
    /// [`super::aggregate`]).
    pub fn lock_aggregates(&self) -> Result<FolderLock> {
        let path = self.root().join(".lock.aggregates");
        let file = self.open_lock_file(".lock.aggregates")?;
        file.lock().map_err(|e| lock_error(&path, e))?;
        Ok(FolderLock {
            _main: file,
            shard: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_lock_names_are_read_back() {
        assert_eq!(parse_shard_lock(&shard_lock_name(3, 10)), Some((3, 10)));
        assert_eq!(parse_shard_lock(".lock.shard-x-of-2"), None);
        assert_eq!(parse_shard_lock(".lock"), None);
    }

    #[test]
    fn shards_of_another_split_are_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let results = ResultsDir::new(dir.path().join("r"), "mnist");
        let _a = results.lock(Some((0, 2))).unwrap();
        let _b = results.lock(Some((1, 2))).unwrap();
        let err = results.lock(Some((0, 3))).unwrap_err().to_string();
        assert!(err.contains("shards of another split"), "{err}");
        assert!(err.contains("--shard 0/2` (pid "), "{err}");
        assert!(err.contains("--shard 1/2` (pid "), "{err}");
        let err = results.lock(None).unwrap_err().to_string();
        assert!(
            err.contains("in use by `sweep run --shard 0/2` (pid "),
            "{err}"
        );
        assert!(!err.contains("starting"), "{err}");
        let err = results.lock(Some((1, 2))).unwrap_err().to_string();
        assert!(
            err.contains("another `sweep run --shard 1/2` (pid "),
            "{err}"
        );
    }
}
