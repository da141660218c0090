//! One run's record in `runs/<id>/`: `params.json`, `epochs.csv`,
//! `error.txt` (failed runs) and `done.json`, written last. A record is
//! trusted only if it proves it is complete: `done.json` holds the number of
//! epoch rows and the SHA-256 of every other file, and `epochs.csv` lists
//! exactly the epochs the run's settings evaluate. Anything else — a file
//! cut short, edited, replaced by a folder or a device — is reported and the
//! run is trained again, never silently used.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ResultsDir;
use crate::config::{RunParams, RunSpec, StopMetric};
use crate::data::hex;
use crate::files::{Prepared, ReadError, limits, read_bounded, write_atomic, write_plain};
use crate::train::{self, EpochMetrics, ForgettingSummary, Measures, RunOutcome, Status};

/// File name of the per-run completion marker.
pub const DONE_FILE: &str = "done.json";
/// File name of a run's settings.
pub const PARAMS_FILE: &str = "params.json";
/// File name of a run's evaluated epochs.
pub const EPOCHS_FILE: &str = "epochs.csv";
/// File name of a failed run's error message.
pub const ERROR_FILE: &str = "error.txt";

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

/// What a run's `done.json` holds; its presence means the run ended, and
/// its checksums say which files are its record.
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
    /// When it finished (RFC 3339, UTC).
    pub finished_at: String,
    /// What went wrong, for a failed run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The epoch after which early stopping ended the run, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_epoch: Option<usize>,
    /// Weights and biases of the network. Absent in records written before
    /// sweep 0.3; filled in when read for the built-in datasets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<usize>,
    /// Data rows of `epochs.csv`. Absent in records of sweep 0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_rows: Option<usize>,
    /// SHA-256 of each other file of the record, by file name. Empty in
    /// records of sweep 0.1 (see [`FinishedRun::is_legacy`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sha256: BTreeMap<String, String>,
    /// The GEMM kernel and instruction set the run trained with, e.g.
    /// `gemm/avx512`. Absent in records written before sweep 0.4, whose
    /// runs trained with matrixmultiply ([`RunDone::kernel_label`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// What the run's forgetting counts come to (absent in records written
    /// before sweep 0.5, for failed runs and for runs paused at a halving
    /// rung).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forgetting: Option<ForgettingSummary>,
    /// The generalization measures of the network it ended with (absent
    /// in records written before sweep 0.6, with `measures = "none"`, and
    /// for runs that diverged or failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measures: Option<Measures>,
}

impl RunDone {
    /// The kernel the run trained with: its recorded label, or
    /// `matrixmultiply` (instruction set not recorded) for records of
    /// sweep 0.3 and earlier, which had no other kernel.
    pub fn kernel_label(&self) -> &str {
        self.kernel.as_deref().unwrap_or(LEGACY_KERNEL)
    }
}

/// What a record written before kernels were recorded trained with.
pub const LEGACY_KERNEL: &str = "matrixmultiply";

/// A finished run as read back from (or about to be written to) its folder.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedRun {
    /// Id and parameters.
    pub spec: RunSpec,
    /// Completion record.
    pub done: RunDone,
    /// Evaluated epochs.
    pub epochs: Vec<EpochMetrics>,
}

fn now_utc() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl FinishedRun {
    /// Builds the record of a run that just ended.
    pub fn new(spec: &RunSpec, outcome: RunOutcome) -> FinishedRun {
        FinishedRun {
            spec: spec.clone(),
            done: RunDone {
                status: outcome.status,
                diverged_epoch: outcome.diverged_epoch,
                stopped_epoch: outcome.stopped_epoch,
                parameters: Some(outcome.parameters),
                train_samples: outcome.train_samples,
                train_seconds: outcome.train_seconds,
                eval_seconds: outcome.eval_seconds,
                finished_at: now_utc(),
                error: None,
                epoch_rows: None,
                sha256: BTreeMap::new(),
                kernel: (!outcome.kernel.is_empty()).then_some(outcome.kernel),
                forgetting: outcome.forgetting,
                measures: outcome.measures,
            },
            epochs: outcome.epochs,
        }
    }

    /// The record of a run that stopped with an error while training with
    /// the kernel labelled `kernel`.
    pub fn failed(spec: &RunSpec, error: String, seconds: f64, kernel: String) -> FinishedRun {
        FinishedRun {
            spec: spec.clone(),
            done: RunDone {
                status: Status::Failed,
                diverged_epoch: None,
                stopped_epoch: None,
                parameters: None,
                train_samples: 0,
                train_seconds: seconds,
                eval_seconds: 0.0,
                finished_at: now_utc(),
                error: Some(error),
                epoch_rows: None,
                sha256: BTreeMap::new(),
                kernel: Some(kernel),
                forgetting: None,
                measures: None,
            },
            epochs: Vec::new(),
        }
    }

    /// The last evaluated epoch, if any.
    pub fn final_epoch(&self) -> Option<&EpochMetrics> {
        self.epochs.last()
    }

    /// The best evaluated epoch (the earliest of equals), if any. With a
    /// validation split it is chosen on validation — by the metric early
    /// stopping watches, else by validation accuracy — and never on the
    /// test set; without one, by test accuracy (as sweep always did, which
    /// makes `best_test_acc` an optimistic figure).
    pub fn best_epoch(&self) -> Option<&EpochMetrics> {
        let key: fn(&EpochMetrics) -> f64 = match self.selected_on() {
            Selection::ValLoss => |e| -e.val_loss.unwrap_or(f64::INFINITY),
            Selection::ValAcc => |e| e.val_acc.unwrap_or(f64::NEG_INFINITY),
            Selection::TestAcc => |e| e.test_acc,
        };
        self.epochs
            .iter()
            .fold(None::<&EpochMetrics>, |best, e| match best {
                Some(b) if key(b) >= key(e) => Some(b),
                _ => Some(e),
            })
    }

    /// What [`FinishedRun::best_epoch`] chooses on.
    pub fn selected_on(&self) -> Selection {
        let params = &self.spec.params;
        match params.early_stopping {
            _ if params.validation == 0 => Selection::TestAcc,
            Some(e) if e.metric == StopMetric::ValLoss => Selection::ValLoss,
            _ => Selection::ValAcc,
        }
    }

    /// Weights and biases of the network, when known.
    pub fn parameters(&self) -> Option<usize> {
        self.done.parameters
    }

    /// True for a record written by sweep 0.1: no checksums, so it was only
    /// checked for its shape. `sweep run` upgrades such records.
    pub fn is_legacy(&self) -> bool {
        self.done.sha256.is_empty()
    }
}

/// The metric a run's best epoch is chosen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Lowest validation loss.
    ValLoss,
    /// Highest validation accuracy.
    ValAcc,
    /// Highest test accuracy (no validation split).
    TestAcc,
}

impl Selection {
    /// The word written in `runs.csv`'s `best_chosen_on` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Selection::ValLoss => "val_loss",
            Selection::ValAcc => "val_acc",
            Selection::TestAcc => "test_acc",
        }
    }
}

/// What is on disk for one run.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// No `done.json`: the run has not ended (or never started).
    Missing,
    /// A complete record whose every check passed.
    Complete(Box<FinishedRun>),
    /// A `done.json` whose record is not complete or not this run's: why.
    Damaged(String),
}

impl Record {
    /// The run, if its record is complete.
    pub fn complete(self) -> Option<FinishedRun> {
        match self {
            Record::Complete(run) => Some(*run),
            _ => None,
        }
    }
}

/// The files of a record, as bytes, with `done.json` last.
struct RecordFiles {
    params: Vec<u8>,
    epochs: Vec<u8>,
    error: Option<Vec<u8>>,
    done: Vec<u8>,
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The per-run `epochs.csv` of `epochs`.
fn epochs_file(epochs: &[EpochMetrics]) -> Result<Vec<u8>> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    for e in epochs {
        csv.serialize(e)?;
    }
    if epochs.is_empty() {
        csv.write_record(crate::train::EPOCH_COLUMNS.iter().map(|(name, _)| *name))?;
    }
    Ok(csv.into_inner()?)
}

/// The `params.json` of `run`.
fn params_file(run: &FinishedRun, dataset: &str) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec_pretty(&RunParamsFile {
        id: run.spec.id.clone(),
        dataset: dataset.to_string(),
        params: run.spec.params.clone(),
    })?)
}

/// The `done.json` of `run` whose other files are `files` (name, bytes):
/// their checksums and the number of epoch rows.
fn sealed_done(run: &FinishedRun, files: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    let mut done = run.done.clone();
    done.epoch_rows = Some(run.epochs.len());
    done.sha256 = files
        .iter()
        .map(|(name, bytes)| (name.to_string(), sha256(bytes)))
        .collect();
    Ok(serde_json::to_vec_pretty(&done)?)
}

fn record_files(run: &FinishedRun, dataset: &str) -> Result<RecordFiles> {
    let params = params_file(run, dataset)?;
    let epochs = epochs_file(&run.epochs)?;
    let error = run
        .done
        .error
        .as_ref()
        .map(|e| format!("{e}\n").into_bytes());
    let mut files = vec![(PARAMS_FILE, &params[..]), (EPOCHS_FILE, &epochs[..])];
    if let Some(error) = &error {
        files.push((ERROR_FILE, error));
    }
    let done = sealed_done(run, &files)?;
    Ok(RecordFiles {
        params,
        epochs,
        error,
        done,
    })
}

impl ResultsDir {
    /// The folder of run `id`.
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.root().join("runs").join(id)
    }

    /// The folder holding `spec`'s record: `runs/<id>/`, or the folder
    /// sweep 0.1 named by its old id if only that one exists.
    pub fn record_dir(&self, spec: &RunSpec) -> PathBuf {
        let dir = self.run_dir(&spec.id);
        if dir.exists() {
            return dir;
        }
        match crate::config::legacy_run_id(self.dataset(), &spec.params) {
            Some(old) if self.run_dir(&old).is_dir() => self.run_dir(&old),
            _ => dir,
        }
    }

    /// Renames `spec`'s folder from the name sweep 0.1 gave it to its
    /// current id, if only the old one exists; says whether it did.
    pub fn adopt_legacy_folder(&self, spec: &RunSpec) -> Result<bool> {
        let from = self.record_dir(spec);
        let to = self.run_dir(&spec.id);
        if from == to {
            return Ok(false);
        }
        fs::rename(&from, &to)
            .with_context(|| format!("cannot rename {} to {}", from.display(), to.display()))?;
        Ok(true)
    }

    /// True if `spec` has a `done.json` (complete or not).
    pub fn has_done_file(&self, spec: &RunSpec) -> bool {
        self.record_dir(spec).join(DONE_FILE).exists()
    }

    /// Writes the files of a run's record except `done.json`, after removing
    /// what an earlier attempt left (a failed or damaged record stops
    /// counting before any of its files change). Then
    /// [`ResultsDir::save_run`] commits `done.json`, which makes it count.
    fn write_record_body(&self, run: &FinishedRun, files: &RecordFiles) -> Result<PathBuf> {
        let dir = self.run_dir(&run.spec.id);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                for stale in [DONE_FILE, ERROR_FILE] {
                    match fs::remove_file(dir.join(stale)) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(anyhow::anyhow!(e)
                                .context(format!("cannot remove {}", dir.join(stale).display())));
                        }
                        _ => {}
                    }
                }
            }
            Err(e) => {
                return Err(crate::files::write_error(&dir, e));
            }
        }
        write_plain(&dir.join(PARAMS_FILE), &files.params)?;
        write_plain(&dir.join(EPOCHS_FILE), &files.epochs)?;
        if let Some(error) = &files.error {
            write_plain(&dir.join(ERROR_FILE), error)?;
        }
        Ok(dir)
    }

    /// Saves a finished run: its files, then — under the aggregate lock, so
    /// that the aggregate tables always hold each recorded run once —
    /// `done.json`, and its rows appended to `runs.csv` and `epochs.csv`.
    pub fn save_run(&self, run: &FinishedRun) -> Result<()> {
        let files = record_files(run, self.dataset())?;
        let dir = self.write_record_body(run, &files)?;
        // Flushed before the lock, so workers do not wait on each other's
        // disk flushes; renamed into place under it.
        let done = Prepared::new(&dir.join(DONE_FILE), &files.done)?;
        let lock = self.lock_aggregates()?;
        done.commit()?;
        crate::faults::crash_point("run-saved");
        self.aggregates().append(&lock, run)
    }

    /// Rewrites a record of sweep 0.1 (found complete by its shape) in the
    /// current format, in its folder under the current id: `params.json`
    /// with the new id, then `done.json` with checksums. Each file is
    /// replaced atomically, so a crash leaves the old record or the new one.
    pub fn upgrade_record(&self, run: &FinishedRun) -> Result<()> {
        self.adopt_legacy_folder(&run.spec)?;
        let dir = self.run_dir(&run.spec.id);
        let params = params_file(run, self.dataset())?;
        // epochs.csv and error.txt stay as they are: their checksums are of
        // the bytes on disk (checked for their shape when the run loaded).
        let kept: Vec<(&str, Vec<u8>)> = [EPOCHS_FILE, ERROR_FILE]
            .into_iter()
            .filter_map(|name| Some((name, read_bounded(&dir.join(name), limits::GRID).ok()?)))
            .collect();
        let mut files = vec![(PARAMS_FILE, &params[..])];
        files.extend(kept.iter().map(|(name, bytes)| (*name, &bytes[..])));
        let done = sealed_done(run, &files)?;
        write_atomic(&dir.join(PARAMS_FILE), &params)?;
        write_atomic(&dir.join(DONE_FILE), &done)
    }

    /// Reads and checks the record of run `spec`.
    pub fn load_run(&self, spec: &RunSpec) -> Record {
        let dir = self.record_dir(spec);
        let done = match read_bounded(&dir.join(DONE_FILE), limits::SMALL) {
            Err(ReadError::Missing) => return Record::Missing,
            Err(e) => return Record::Damaged(format!("{DONE_FILE} cannot be read: {e}")),
            Ok(bytes) => bytes,
        };
        match check_record(spec, self.dataset(), &dir, &done) {
            Ok(run) => Record::Complete(Box::new(run)),
            Err(why) => Record::Damaged(why),
        }
    }
}

/// Reads one file of a record, checking its checksum when `done` has one.
fn read_checked(dir: &Path, name: &str, limit: u64, done: &RunDone) -> Result<Vec<u8>, String> {
    let bytes = read_bounded(&dir.join(name), limit).map_err(|e| format!("{name}: {e}"))?;
    match done.sha256.get(name) {
        Some(want) if *want != sha256(&bytes) => Err(format!(
            "{name} does not match the checksum in {DONE_FILE} (it was changed or damaged)"
        )),
        _ => Ok(bytes),
    }
}

/// Every check a record must pass, or why it failed.
fn check_record(
    spec: &RunSpec,
    dataset: &str,
    dir: &Path,
    done_bytes: &[u8],
) -> Result<FinishedRun, String> {
    let mut done: RunDone =
        serde_json::from_slice(done_bytes).map_err(|e| format!("{DONE_FILE} is damaged ({e})"))?;
    if done.parameters.is_none() && crate::data::KNOWN_DATASETS.contains(&dataset) {
        // Records written before the count was stored: every built-in
        // dataset has 28 × 28 images in 10 classes.
        let sizes = spec.params.layer_sizes(28 * 28, crate::data::NUM_CLASSES);
        done.parameters = Some(crate::nn::parameter_count(&sizes));
    }
    if !done.sha256.is_empty() {
        for name in [PARAMS_FILE, EPOCHS_FILE] {
            if !done.sha256.contains_key(name) {
                return Err(format!("{DONE_FILE} has no checksum for {name}"));
            }
        }
    }
    let params: RunParamsFile =
        serde_json::from_slice(&read_checked(dir, PARAMS_FILE, limits::SMALL, &done)?)
            .map_err(|e| format!("{PARAMS_FILE} is damaged ({e})"))?;
    if params.params != spec.params || params.dataset != dataset {
        return Err(format!(
            "{PARAMS_FILE} holds other settings than this run's (another dataset or a changed value)"
        ));
    }
    let expected: Vec<usize> = match done.status {
        Status::Failed => Vec::new(),
        Status::Diverged if done.diverged_epoch.is_none() => {
            return Err(format!(
                "{DONE_FILE} says the run diverged but not in which epoch"
            ));
        }
        _ => {
            train::evaluated_epochs(&spec.params, done.diverged_epoch, done.stopped_epoch).collect()
        }
    };
    let limit = 64 * 1024 + limits::EPOCH_ROW * expected.len() as u64;
    let csv = read_checked(dir, EPOCHS_FILE, limit, &done)?;
    let epochs = csv::Reader::from_reader(csv.as_slice())
        .deserialize()
        .collect::<Result<Vec<EpochMetrics>, _>>()
        .map_err(|e| format!("{EPOCHS_FILE} is damaged ({e})"))?;
    if let Some(rows) = done.epoch_rows
        && rows != epochs.len()
    {
        return Err(format!(
            "{EPOCHS_FILE} has {} rows but {DONE_FILE} says {rows}",
            epochs.len()
        ));
    }
    let listed = epochs.iter().map(|e| e.epoch);
    if !listed.eq(expected.iter().copied()) {
        return Err(format!(
            "{EPOCHS_FILE} has {} rows (last epoch {}) but a {} run of these settings has {} \
             (last epoch {})",
            epochs.len(),
            epochs.last().map_or("none".into(), |e| e.epoch.to_string()),
            done.status.as_str(),
            expected.len(),
            expected.last().map_or("none".into(), |e| e.to_string())
        ));
    }
    if done.status == Status::Failed && done.sha256.contains_key(ERROR_FILE) {
        read_checked(dir, ERROR_FILE, limits::SMALL, &done)?;
    }
    Ok(FinishedRun {
        spec: spec.clone(),
        done,
        epochs,
    })
}
