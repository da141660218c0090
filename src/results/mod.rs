//! The results folder of one sweep, and everything that reads or writes it.
//!
//! ```text
//! results/<name>/
//!   manifest.json          tool version, format, config hash, dataset checksums, times
//!   grid.json              every run of the grid (id and settings), finished or not
//!   runs.csv               one row per run with a record
//!   epochs.csv             one row per run and evaluated epoch
//!   runs/<run-id>/         params.json, epochs.csv, error.txt, done.json (written last)
//! ```
//!
//! Where to look: [`record`] (a run's files and the checks a record must
//! pass), [`aggregate`] (keeping `runs.csv`/`epochs.csv` current cheaply),
//! [`tables`] (their rows and spreadsheet-safe cells), [`lock`] (who may
//! write the folder), [`manifest`] (`manifest.json`, `grid.json`), [`migrate`] (folders of
//! sweep 0.1).

pub mod aggregate;
pub mod checkpoints;
pub mod columns;
pub mod kernels;
pub mod lock;
pub mod manifest;
pub mod migrate;
pub mod record;
pub mod tables;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use crate::files::{write_atomic, write_plain};
pub use aggregate::Aggregates;
pub use checkpoints::RUNGS_FILE;
pub use kernels::{kernel_counts, kernel_note};
pub use lock::{FolderLock, ShardHolder};
pub use manifest::{FORMAT, GridFile, Manifest, cpu_model};
pub use record::{DONE_FILE, FinishedRun, LEGACY_KERNEL, Record, RunDone, RunParamsFile};
pub use tables::csv_text;

use crate::bad_input;
use crate::config::RunSpec;
use crate::files::{self, limits, read_bounded};

/// The folder results folders are made in when `--out` is not given.
pub const DEFAULT_OUT: &str = "results";

/// The folder of one sweep's results.
#[derive(Debug, Clone)]
pub struct ResultsDir {
    root: PathBuf,
    dataset: String,
}

impl ResultsDir {
    /// The results folder at `root`, for runs on the dataset named `dataset`.
    pub fn new(root: PathBuf, dataset: &str) -> ResultsDir {
        ResultsDir {
            root,
            dataset: dataset.to_string(),
        }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The dataset label its runs were trained on.
    pub fn dataset(&self) -> &str {
        &self.dataset
    }

    /// The aggregate tables `runs.csv` and `epochs.csv`.
    pub fn aggregates(&self) -> Aggregates {
        Aggregates::new(&self.root, &self.dataset)
    }

    /// Creates the folder (and `runs/`) if needed.
    pub fn create(&self) -> Result<()> {
        fs::create_dir_all(self.root.join("runs")).map_err(|e| {
            bad_input!(
                "cannot create results folder {}: {e}; choose a writable folder with --out",
                self.root.display()
            )
        })
    }

    /// Whether `runs/` holds anything: records of some earlier invocation.
    pub fn has_records(&self) -> bool {
        fs::read_dir(self.root.join("runs")).is_ok_and(|mut entries| entries.next().is_some())
    }

    /// Removes what an earlier sweep wrote here (for `--fresh`); other files
    /// the user put in the folder are left alone.
    pub fn clear(&self) -> Result<()> {
        for dir in ["runs", "plots", checkpoints::CHECKPOINTS] {
            let path = self.root.join(dir);
            if path.exists() {
                fs::remove_dir_all(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
        for file in [
            "runs.csv",
            "epochs.csv",
            "summary.csv",
            "report.html",
            "manifest.json",
            "grid.json",
            checkpoints::RUNGS_FILE,
        ] {
            let path = self.root.join(file);
            if path.exists() {
                fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
        Ok(())
    }

    /// Removes temporary files left by a process that died mid-write (they
    /// were never renamed into place, so nothing ever read them).
    pub fn remove_stale_temporaries(&self) {
        let is_temp = |p: &Path| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(files::is_temporary)
        };
        let mut dirs = vec![self.root.clone(), self.root.join("plots")];
        if let Ok(runs) = fs::read_dir(self.root.join("runs")) {
            dirs.extend(runs.filter_map(|e| e.ok()).map(|e| e.path()));
        }
        for dir in dirs {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for path in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
                if is_temp(&path) {
                    let _ = fs::remove_file(&path);
                }
            }
        }
    }

    /// Ids of run folders in `runs/` with a `done.json` that are not among
    /// `specs` (the grid changed since they ran).
    pub fn orphans(&self, specs: &[RunSpec]) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.root.join("runs")) else {
            return Vec::new();
        };
        let mut known: HashSet<String> = specs.iter().map(|s| s.id.clone()).collect();
        known.extend(
            specs
                .iter()
                .filter_map(|s| crate::config::legacy_run_id(&self.dataset, &s.params)),
        );
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|id| !known.contains(id))
            .filter(|id| self.run_dir(id).join(DONE_FILE).is_file())
            .collect();
        ids.sort();
        ids
    }

    /// Path of the manifest.
    pub fn manifest_path(&self) -> PathBuf {
        self.root.join("manifest.json")
    }

    /// Reads the manifest of an earlier sweep here, if any.
    pub fn read_manifest(&self) -> Option<Manifest> {
        serde_json::from_slice(&read_bounded(&self.manifest_path(), limits::SMALL).ok()?).ok()
    }

    /// Writes the manifest.
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        write_atomic(&self.manifest_path(), &serde_json::to_vec_pretty(manifest)?)
    }

    /// Path of the grid file.
    pub fn grid_path(&self) -> PathBuf {
        self.root.join("grid.json")
    }

    /// Reads the grid file of an earlier sweep here, if any, with the
    /// current ids.
    pub fn read_grid(&self) -> Option<GridFile> {
        read_grid(&self.root)
    }

    /// Writes the grid file.
    pub fn write_grid(&self, grid: &GridFile) -> Result<()> {
        write_atomic(&self.grid_path(), &serde_json::to_vec_pretty(grid)?)
    }
}

/// Reads `<root>/grid.json`, with the current ids; `None` if it is missing,
/// not a regular file, too large or damaged.
pub fn read_grid(root: &Path) -> Option<GridFile> {
    let bytes = read_bounded(&root.join("grid.json"), limits::GRID).ok()?;
    serde_json::from_slice::<GridFile>(&bytes)
        .ok()
        .map(GridFile::with_current_ids)
}

/// Why `<root>/<name>` could not be read, for messages.
pub fn read_problem(root: &Path, name: &str, limit: u64) -> Option<String> {
    match read_bounded(&root.join(name), limit) {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    }
}
