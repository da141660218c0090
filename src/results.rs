//! The results folder: per-run folders with a completion marker written
//! last, the aggregate `runs.csv` and `epochs.csv`, and `manifest.json`.
//! Every file is written atomically (temporary file, then rename), so a
//! crash never leaves a half-written file that looks complete.
//!
//! ```text
//! results/<name>/
//!   manifest.json          tool version, config hash, dataset checksums, times
//!   grid.json              every run of the grid (id and settings), finished or not
//!   runs.csv               one row per run of the grid that has finished
//!   epochs.csv             one row per run and evaluated epoch
//!   runs/<run-id>/params.json, epochs.csv, done.json (written last)
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::bad_input;
use crate::config::{Key, RunParams, RunSpec};
use crate::data::DataFile;
use crate::train::{EpochMetrics, RunOutcome, Status};

/// File name of the per-run completion marker.
pub const DONE_FILE: &str = "done.json";

/// Writes `bytes` to `path` atomically: a temporary file in the same folder,
/// flushed to disk, then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // Unique per writer, also across the machines of a cluster writing into
    // one shared folder (the process id alone could repeat there).
    let nonce = {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{nonce:016x}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if path.file_name() == Some("runs.csv".as_ref()) {
            crate::faults::crash_point("aggregate");
        }
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        match e.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => bad_input!(
                "cannot write {}: no space left on the device; free some space and run the \
                 same command again (finished runs are kept)",
                path.display()
            ),
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                bad_input!(
                    "cannot write {}: {e}; choose a writable folder with --out",
                    path.display()
                )
            }
            _ => anyhow::anyhow!(e).context(format!("cannot write {}", path.display())),
        }
    })
}

/// A text cell that a spreadsheet would run as a formula (it starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, which
/// spreadsheets show as text. Numbers never pass through here.
pub fn csv_text(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// What a run's `params.json` holds: enough to know exactly what it trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunParamsFile {
    /// The run's id.
    pub id: String,
    /// The dataset, as named in the experiment.
    pub dataset: String,
    /// Every setting.
    pub params: RunParams,
}

/// What a run's `done.json` holds; its presence means the run is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDone {
    /// How the run ended.
    pub status: Status,
    /// The epoch in which the loss became NaN or infinite, if it did.
    pub diverged_epoch: Option<usize>,
    /// Training images used.
    pub train_samples: usize,
    /// Wall-clock seconds spent training (all epochs run).
    pub train_seconds: f64,
    /// Wall-clock seconds spent evaluating.
    pub eval_seconds: f64,
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// What went wrong, for a failed run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn now_utc() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What `grid.json` holds: the whole grid, so that `sweep report` knows
/// which runs are missing without the experiment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridFile {
    /// The dataset, as named in the experiment.
    pub dataset: String,
    /// Settings the grid varies, in canonical order.
    pub swept: Vec<String>,
    /// Every run in grid order.
    pub runs: Vec<RunSpec>,
}

/// A finished run as read back from (or just written to) its folder.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedRun {
    /// Id and parameters.
    pub spec: RunSpec,
    /// Completion record.
    pub done: RunDone,
    /// Evaluated epochs.
    pub epochs: Vec<EpochMetrics>,
}

impl FinishedRun {
    /// Builds the record of a run that just ended.
    pub fn new(spec: &RunSpec, outcome: RunOutcome) -> FinishedRun {
        FinishedRun {
            spec: spec.clone(),
            done: RunDone {
                status: outcome.status,
                diverged_epoch: outcome.diverged_epoch,
                train_samples: outcome.train_samples,
                train_seconds: outcome.train_seconds,
                eval_seconds: outcome.eval_seconds,
                finished_at: now_utc(),
                error: None,
            },
            epochs: outcome.epochs,
        }
    }

    /// The record of a run that stopped with an error.
    pub fn failed(spec: &RunSpec, error: String, seconds: f64) -> FinishedRun {
        FinishedRun {
            spec: spec.clone(),
            done: RunDone {
                status: Status::Failed,
                diverged_epoch: None,
                train_samples: 0,
                train_seconds: seconds,
                eval_seconds: 0.0,
                finished_at: now_utc(),
                error: Some(error),
            },
            epochs: Vec::new(),
        }
    }

    /// The last evaluated epoch, if any.
    pub fn final_epoch(&self) -> Option<&EpochMetrics> {
        self.epochs.last()
    }

    /// The evaluated epoch with the highest test accuracy (the earliest of
    /// equals), if any.
    pub fn best_epoch(&self) -> Option<&EpochMetrics> {
        self.epochs
            .iter()
            .fold(None::<&EpochMetrics>, |best, e| match best {
                Some(b) if b.test_acc >= e.test_acc => Some(b),
                _ => Some(e),
            })
    }
}

/// Use of a results folder (see [`ResultsDir::lock`]), released when
/// dropped or when the process ends in any way.
#[derive(Debug)]
pub struct FolderLock {
    _files: Vec<fs::File>,
}

fn lock_error(path: &Path, e: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!(e).context(format!("cannot lock {}", path.display()))
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

    /// The folder of run `id`.
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.root.join("runs").join(id)
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

    /// Removes what an earlier sweep wrote here (for `--fresh`); other files
    /// the user put in the folder are left alone.
    pub fn clear(&self) -> Result<()> {
        let runs = self.root.join("runs");
        if runs.exists() {
            fs::remove_dir_all(&runs)
                .with_context(|| format!("cannot remove {}", runs.display()))?;
        }
        let plots = self.root.join("plots");
        if plots.exists() {
            fs::remove_dir_all(&plots)
                .with_context(|| format!("cannot remove {}", plots.display()))?;
        }
        for file in [
            "runs.csv",
            "epochs.csv",
            "summary.csv",
            "report.html",
            "manifest.json",
            "grid.json",
        ] {
            let path = self.root.join(file);
            if path.exists() {
                fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
        Ok(())
    }

    /// Takes the folder for this process, or says who holds it. A whole
    /// sweep holds `.lock` alone; shard K of N shares `.lock` with the other
    /// shards and holds `.lock.shard-K-of-N` alone, so shards run side by
    /// side but not twice, and never beside an unsharded run. The locks are
    /// the operating system's (`flock`): they end with the process however
    /// it ends, so a crashed sweep never leaves one stuck.
    pub fn lock(&self, shard: Option<(usize, usize)>) -> Result<FolderLock> {
        fs::create_dir_all(&self.root).map_err(|e| {
            bad_input!(
                "cannot create results folder {}: {e}; choose a writable folder with --out",
                self.root.display()
            )
        })?;
        let main = self.open_lock_file(".lock")?;
        let busy = |path: &Path, what: &str| {
            let holder = fs::read_to_string(path).unwrap_or_default();
            let holder = holder.trim();
            bad_input!(
                "{} is in use by {what} ({}); wait for it to end or stop it (Ctrl-C), then run \
                 this again",
                self.root.display(),
                if holder.is_empty() {
                    "starting"
                } else {
                    holder
                }
            )
        };
        let main_path = self.root.join(".lock");
        let Some((k, n)) = shard else {
            match main.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(busy(&main_path, "another `sweep run`"));
                }
                Err(fs::TryLockError::Error(e)) => return Err(lock_error(&main_path, e)),
            }
            write_holder(&main, &main_path)?;
            return Ok(FolderLock { _files: vec![main] });
        };
        match main.try_lock_shared() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(busy(&main_path, "a `sweep run` without --shard"));
            }
            Err(fs::TryLockError::Error(e)) => return Err(lock_error(&main_path, e)),
        }
        let name = format!(".lock.shard-{k}-of-{n}");
        let own = self.open_lock_file(&name)?;
        let own_path = self.root.join(&name);
        match own.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(busy(
                    &own_path,
                    &format!("another `sweep run --shard {k}/{n}`"),
                ));
            }
            Err(fs::TryLockError::Error(e)) => return Err(lock_error(&own_path, e)),
        }
        write_holder(&own, &own_path)?;
        Ok(FolderLock {
            _files: vec![main, own],
        })
    }

    /// True while some process holds shard K of N's lock.
    pub fn shard_running(&self, k: usize, n: usize) -> bool {
        let Ok(file) = fs::File::open(self.root.join(format!(".lock.shard-{k}-of-{n}"))) else {
            return false;
        };
        matches!(file.try_lock(), Err(fs::TryLockError::WouldBlock))
    }

    /// True while an unsharded `sweep run` holds the folder.
    pub fn whole_run_running(&self) -> bool {
        let Ok(file) = fs::File::open(self.root.join(".lock")) else {
            return false;
        };
        matches!(file.try_lock_shared(), Err(fs::TryLockError::WouldBlock))
    }

    /// Waits for, then holds, the right to rewrite the folder's aggregate
    /// files (`runs.csv`, `epochs.csv`, the report) — shards share them.
    pub fn lock_aggregates(&self) -> Result<FolderLock> {
        let path = self.root.join(".lock.aggregates");
        let file = self.open_lock_file(".lock.aggregates")?;
        file.lock().map_err(|e| lock_error(&path, e))?;
        Ok(FolderLock { _files: vec![file] })
    }

    fn open_lock_file(&self, name: &str) -> Result<fs::File> {
        let path = self.root.join(name);
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

    /// Every run of `specs` with a complete record on disk, in that order.
    pub fn load_runs(&self, specs: &[RunSpec]) -> Vec<FinishedRun> {
        specs.iter().filter_map(|s| self.load_run(s)).collect()
    }

    /// Removes temporary files left by a process that died mid-write (they
    /// were never renamed into place, so nothing ever read them).
    pub fn remove_stale_temporaries(&self) {
        let is_temp = |p: &Path| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') && n.contains(".tmp-"))
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

    /// Saves a finished run: parameters, epochs, then the completion marker.
    pub fn save_run(&self, run: &FinishedRun) -> Result<()> {
        let dir = self.run_dir(&run.spec.id);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // A record from an earlier attempt (a failed run being retried)
        // stops counting before any of its files change.
        for stale in [DONE_FILE, "error.txt"] {
            let path = dir.join(stale);
            if path.exists() {
                fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
        let params = RunParamsFile {
            id: run.spec.id.clone(),
            dataset: self.dataset.clone(),
            params: run.spec.params.clone(),
        };
        write_atomic(
            &dir.join("params.json"),
            &serde_json::to_vec_pretty(&params)?,
        )?;
        let mut csv = csv::Writer::from_writer(Vec::new());
        for e in &run.epochs {
            csv.serialize(e)?;
        }
        if run.epochs.is_empty() {
            csv.write_record(EPOCH_COLUMNS)?;
        }
        write_atomic(&dir.join("epochs.csv"), &csv.into_inner()?)?;
        if let Some(error) = &run.done.error {
            write_atomic(&dir.join("error.txt"), format!("{error}\n").as_bytes())?;
        }
        write_atomic(&dir.join(DONE_FILE), &serde_json::to_vec_pretty(&run.done)?)?;
        crate::faults::crash_point("run-saved");
        Ok(())
    }

    /// Reads run `spec` back if it finished earlier with exactly these
    /// parameters; `None` if it is missing or incomplete (it will be rerun).
    pub fn load_run(&self, spec: &RunSpec) -> Option<FinishedRun> {
        let dir = self.run_dir(&spec.id);
        let done: RunDone = serde_json::from_slice(&fs::read(dir.join(DONE_FILE)).ok()?).ok()?;
        let params: RunParamsFile =
            serde_json::from_slice(&fs::read(dir.join("params.json")).ok()?).ok()?;
        if params.params != spec.params || params.dataset != self.dataset {
            return None;
        }
        let mut reader = csv::Reader::from_path(dir.join("epochs.csv")).ok()?;
        let epochs = reader
            .deserialize()
            .collect::<Result<Vec<EpochMetrics>, _>>()
            .ok()?;
        Some(FinishedRun {
            spec: spec.clone(),
            done,
            epochs,
        })
    }

    /// Ids of finished runs in `runs/` that are not among `specs`.
    pub fn orphans(&self, specs: &[RunSpec]) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.root.join("runs")) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(DONE_FILE).is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|id| !specs.iter().any(|s| &s.id == id))
            .collect();
        ids.sort();
        ids
    }

    /// Rewrites `runs.csv` and `epochs.csv` from `runs` (in the order given).
    pub fn write_aggregates<'a>(
        &self,
        runs: impl IntoIterator<Item = &'a FinishedRun> + Clone,
    ) -> Result<()> {
        write_atomic(
            &self.root.join("runs.csv"),
            &runs_csv(&self.dataset, runs.clone())?,
        )?;
        write_atomic(
            &self.root.join("epochs.csv"),
            &epochs_csv(&self.dataset, runs)?,
        )
    }

    /// Path of the manifest.
    pub fn manifest_path(&self) -> PathBuf {
        self.root.join("manifest.json")
    }

    /// Reads the manifest of an earlier sweep here, if any.
    pub fn read_manifest(&self) -> Option<Manifest> {
        serde_json::from_slice(&fs::read(self.manifest_path()).ok()?).ok()
    }

    /// Path of the grid file.
    pub fn grid_path(&self) -> PathBuf {
        self.root.join("grid.json")
    }

    /// Reads the grid file of an earlier sweep here, if any.
    pub fn read_grid(&self) -> Option<GridFile> {
        serde_json::from_slice(&fs::read(self.grid_path()).ok()?).ok()
    }

    /// Writes the grid file.
    pub fn write_grid(&self, grid: &GridFile) -> Result<()> {
        write_atomic(&self.grid_path(), &serde_json::to_vec_pretty(grid)?)
    }

    /// Writes the manifest.
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        write_atomic(&self.manifest_path(), &serde_json::to_vec_pretty(manifest)?)
    }
}

/// Columns of a per-run `epochs.csv`, as [`EpochMetrics`] serialises them.
pub const EPOCH_COLUMNS: [&str; 10] = [
    "epoch",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "gap_acc",
    "gap_loss",
    "penalty",
    "train_seconds",
    "eval_seconds",
];

/// Metric columns of `runs.csv` after the parameters.
pub const RUN_COLUMNS: [&str; 19] = [
    "train_samples",
    "epochs_done",
    "diverged_epoch",
    "final_train_loss",
    "final_train_acc",
    "final_test_loss",
    "final_test_acc",
    "final_gap_acc",
    "final_gap_loss",
    "final_penalty",
    "best_epoch",
    "best_test_acc",
    "best_train_acc",
    "best_gap_acc",
    "seconds",
    "train_seconds",
    "eval_seconds",
    "finished_at",
    "error",
];

fn param_header() -> Vec<&'static str> {
    let mut header = vec!["run_id", "status", "dataset"];
    header.extend(Key::ALL.iter().map(|k| k.name()));
    header
}

fn param_cells(dataset: &str, run: &FinishedRun) -> Vec<String> {
    let mut cells = vec![
        run.spec.id.clone(),
        run.done.status.as_str().to_string(),
        csv_text(dataset),
    ];
    cells.extend(Key::ALL.iter().map(|&k| csv_text(&run.spec.params.text(k))));
    cells
}

/// A number as its shortest exact text (so files compare byte for byte);
/// −0 is written as 0.
fn num(x: f64) -> String {
    if x == 0.0 { "0".into() } else { x.to_string() }
}

/// `runs.csv`: one row per run with its parameters and final and best metrics.
pub fn runs_csv<'a>(
    dataset: &str,
    runs: impl IntoIterator<Item = &'a FinishedRun>,
) -> Result<Vec<u8>> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header = param_header();
    header.extend(RUN_COLUMNS);
    csv.write_record(&header)?;
    for run in runs {
        let mut row = param_cells(dataset, run);
        let (last, best) = (run.final_epoch(), run.best_epoch());
        let (train_seconds, eval_seconds) = (run.done.train_seconds, run.done.eval_seconds);
        let opt = |e: Option<&EpochMetrics>, f: fn(&EpochMetrics) -> f64| {
            e.map_or(String::new(), |e| num(f(e)))
        };
        row.push(run.done.train_samples.to_string());
        row.push(last.map_or(0, |e| e.epoch).to_string());
        row.push(
            run.done
                .diverged_epoch
                .map_or(String::new(), |e| e.to_string()),
        );
        row.push(opt(last, |e| e.train_loss));
        row.push(opt(last, |e| e.train_acc));
        row.push(opt(last, |e| e.test_loss));
        row.push(opt(last, |e| e.test_acc));
        row.push(opt(last, |e| e.gap_acc));
        row.push(opt(last, |e| e.gap_loss));
        row.push(opt(last, |e| e.penalty));
        row.push(best.map_or(String::new(), |e| e.epoch.to_string()));
        row.push(opt(best, |e| e.test_acc));
        row.push(opt(best, |e| e.train_acc));
        row.push(opt(best, |e| e.gap_acc));
        row.push(num(train_seconds + eval_seconds));
        row.push(num(train_seconds));
        row.push(num(eval_seconds));
        row.push(run.done.finished_at.clone());
        row.push(csv_text(run.done.error.as_deref().unwrap_or("")));
        csv.write_record(&row)?;
    }
    Ok(csv.into_inner()?)
}

/// `epochs.csv`: one row per run and evaluated epoch, parameters repeated
/// on every row (tidy data, ready for a pivot table).
pub fn epochs_csv<'a>(
    dataset: &str,
    runs: impl IntoIterator<Item = &'a FinishedRun>,
) -> Result<Vec<u8>> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header = param_header();
    header.push("train_samples");
    header.extend(EPOCH_COLUMNS);
    csv.write_record(&header)?;
    for run in runs {
        let params = param_cells(dataset, run);
        for e in &run.epochs {
            let mut row = params.clone();
            row.push(run.done.train_samples.to_string());
            row.push(e.epoch.to_string());
            for x in [
                e.train_loss,
                e.train_acc,
                e.test_loss,
                e.test_acc,
                e.gap_acc,
                e.gap_loss,
                e.penalty,
                e.train_seconds,
                e.eval_seconds,
            ] {
                row.push(num(x));
            }
            csv.write_record(&row)?;
        }
    }
    Ok(csv.into_inner()?)
}

/// `manifest.json`: what produced the results, for reproducing them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always "sweep".
    pub tool: String,
    /// sweep's version.
    pub version: String,
    /// Name of the sweep.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The experiment file, as given on the command line.
    pub experiment_file: String,
    /// SHA-256 of the experiment file.
    pub config_sha256: String,
    /// Dataset as named in the experiment.
    pub dataset: String,
    /// Folder the dataset was read from.
    pub dataset_dir: String,
    /// Dataset files with checksums.
    pub dataset_files: Vec<DataFile>,
    /// Settings the grid varies.
    pub swept: Vec<String>,
    /// Runs in the grid.
    pub runs_total: usize,
    /// Runs finished (including diverged).
    pub runs_done: usize,
    /// Worker threads.
    pub jobs: usize,
    /// The processor.
    pub cpu: String,
    /// Start of this invocation (RFC 3339).
    pub started_at: String,
    /// End of this invocation, empty while it runs.
    pub finished_at: String,
}

/// The processor's model name, from /proc/cpuinfo where there is one.
pub fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}
