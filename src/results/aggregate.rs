//! The aggregate tables `runs.csv` and `epochs.csv`, kept current at a cost
//! that does not grow with the number of runs: each finished run appends
//! its rows (rather than every run rewriting both files, which made a
//! 4 000-run sweep write 3.5 GB), and a rebuild — at the start and end of a
//! sweep, in grid order — rewrites them from the run records.
//!
//! Invariant, whenever the aggregate lock is free: every row belongs to a
//! run whose record is on disk, no run has two rows, and no row is cut
//! short. Records are committed and their rows appended under the same lock
//! ([`super::ResultsDir::save_run`]), so a rebuild, by any process at any
//! time, never races an append. A process killed between its record and
//! its append leaves a run without rows until the next rebuild; one killed
//! in the middle of an append leaves a partial last line, which the next
//! append cuts off before writing.

use std::fs;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::lock::FolderLock;
use super::record::FinishedRun;
use super::tables::{epochs_header, header_line, runs_header, write_epoch_rows, write_run_row};
use crate::files::{temporary_path, write_error};

/// The two aggregate tables of one results folder.
#[derive(Debug, Clone)]
pub struct Aggregates {
    root: PathBuf,
    dataset: String,
}

/// Which table.
#[derive(Debug, Clone, Copy)]
enum Table {
    Runs,
    Epochs,
}

impl Table {
    fn file(self) -> &'static str {
        match self {
            Table::Runs => "runs.csv",
            Table::Epochs => "epochs.csv",
        }
    }

    fn header(self) -> Vec<&'static str> {
        match self {
            Table::Runs => runs_header(),
            Table::Epochs => epochs_header(),
        }
    }

    fn rows<W: Write>(
        self,
        csv: &mut csv::Writer<W>,
        dataset: &str,
        run: &FinishedRun,
    ) -> Result<()> {
        match self {
            Table::Runs => write_run_row(csv, dataset, run),
            Table::Epochs => write_epoch_rows(csv, dataset, run),
        }
    }
}

impl Aggregates {
    /// The tables of the results folder `root` of a sweep on `dataset`.
    pub fn new(root: &Path, dataset: &str) -> Aggregates {
        Aggregates {
            root: root.to_path_buf(),
            dataset: dataset.to_string(),
        }
    }

    /// True if both tables exist and have the columns this version writes.
    pub fn current(&self) -> bool {
        [Table::Runs, Table::Epochs].into_iter().all(|table| {
            let Ok(header) = header_line(&table.header()) else {
                return false;
            };
            let Ok(file) = fs::File::open(self.root.join(table.file())) else {
                return false;
            };
            let mut start = Vec::with_capacity(header.len());
            file.take(header.len() as u64)
                .read_to_end(&mut start)
                .is_ok_and(|_| start == header)
        })
    }

    /// Appends `run`'s rows to both tables. `_lock` is the aggregate lock,
    /// held by the caller.
    pub fn append(&self, _lock: &FolderLock, run: &FinishedRun) -> Result<()> {
        for table in [Table::Runs, Table::Epochs] {
            let mut csv = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::new());
            table.rows(&mut csv, &self.dataset, run)?;
            let rows = csv.into_inner()?;
            self.append_rows(table, &rows)?;
        }
        Ok(())
    }

    fn append_rows(&self, table: Table, rows: &[u8]) -> Result<()> {
        let path = self.root.join(table.file());
        let header = header_line(&table.header())?;
        let fail = |e: std::io::Error| write_error(&path, e);
        let mut file = match fs::OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Removed since the sweep started: start it again.
                let mut bytes = header;
                bytes.extend_from_slice(rows);
                return crate::files::write_atomic(&path, &bytes);
            }
            Err(e) => return Err(fail(e)),
        };
        let len = file.metadata().map_err(fail)?.len();
        let mut start = vec![0u8; header.len().min(len as usize)];
        file.read_exact(&mut start).map_err(fail)?;
        if start != header {
            // Not a table this version writes (or a damaged one): a rebuild
            // at the end of the sweep rewrites it; appending would mix
            // columns.
            return Ok(());
        }
        let end = complete_length(&mut file, len, header.len() as u64).map_err(fail)?;
        if end < len {
            file.set_len(end).map_err(fail)?;
        }
        file.seek(SeekFrom::Start(end)).map_err(fail)?;
        // Split in two around the crash point, so the tests can kill the
        // process in the middle of an append.
        let half = rows.len() / 2;
        file.write_all(&rows[..half]).map_err(fail)?;
        if table.file() == "runs.csv" {
            crate::faults::crash_point("aggregate");
        }
        file.write_all(&rows[half..]).map_err(fail)
    }

    /// Rewrites both tables from `runs` (in the order given), each through
    /// a temporary file renamed into place. Rows are streamed in one pass:
    /// memory does not grow with the number of runs. `_lock` is the
    /// aggregate lock.
    pub fn rebuild<R>(&self, _lock: &FolderLock, runs: impl Iterator<Item = R>) -> Result<()>
    where
        R: std::borrow::Borrow<FinishedRun>,
    {
        let tables = [Table::Runs, Table::Epochs];
        let paths = tables.map(|t| self.root.join(t.file()));
        let tmps = paths.clone().map(|p| temporary_path(&p));
        let write = || -> Result<()> {
            let mut writers = Vec::new();
            for ((table, path), tmp) in tables.iter().zip(&paths).zip(&tmps) {
                let file = fs::File::create(tmp).map_err(|e| write_error(path, e))?;
                let mut csv = csv::Writer::from_writer(BufWriter::with_capacity(1 << 16, file));
                csv.write_record(table.header())?;
                writers.push(csv);
            }
            for run in runs {
                for (table, csv) in tables.iter().zip(&mut writers) {
                    table.rows(csv, &self.dataset, run.borrow())?;
                }
            }
            for (csv, path) in writers.into_iter().zip(&paths) {
                let file = csv
                    .into_inner()
                    .map_err(|e| write_error(path, e.into_error()))?
                    .into_inner()
                    .map_err(|e| write_error(path, e.into_error()))?;
                file.sync_all().map_err(|e| write_error(path, e))?;
            }
            for (i, (tmp, path)) in tmps.iter().zip(&paths).enumerate() {
                if i == 0 {
                    crate::faults::crash_point("aggregate");
                }
                fs::rename(tmp, path).map_err(|e| write_error(path, e))?;
            }
            Ok(())
        };
        write().inspect_err(|_| {
            for tmp in &tmps {
                let _ = fs::remove_file(tmp);
            }
        })
    }
}

/// The length of `file` without a partial last line: its length if it ends
/// with a newline (or holds no more than the header), else just after its
/// last newline — never shorter than the header.
fn complete_length(file: &mut fs::File, len: u64, header: u64) -> std::io::Result<u64> {
    if len <= header {
        return Ok(len);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(len);
    }
    // Scan back for the newline that ends the last complete row.
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > header {
        let start = end.saturating_sub(buf.len() as u64).max(header);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(pos) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + pos as u64 + 1);
        }
        end = start;
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_last_line_is_found_and_complete_files_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let check = |content: &str, header: u64| {
            fs::write(&path, content).unwrap();
            let mut file = fs::File::open(&path).unwrap();
            complete_length(&mut file, content.len() as u64, header).unwrap()
        };
        assert_eq!(check("a,b\n1,2\n", 4), 8);
        assert_eq!(check("a,b\n1,2\n3,", 4), 8);
        assert_eq!(check("a,b\n3,", 4), 4);
        assert_eq!(check("a,b\n", 4), 4);
        let long = format!("a,b\n1,2\n{}", "x".repeat(200_000));
        assert_eq!(check(&long, 4), 8);
    }
}
