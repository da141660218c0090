//! Running a sweep, in named phases: take the results folder, select this
//! invocation's runs, scan the records on disk (reuse the complete ones,
//! rebuild the aggregate tables from them), announce, train the pending runs
//! on a worker pool (each run saved the moment it ends), then finish
//! (aggregates in grid order, manifest, report).

mod halving;
mod kernel;
mod live;
mod memory;
mod plan;
mod prepare;

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rayon::prelude::*;

pub use halving::{BracketShape, first_unfinished_rung, round_epochs, runs_per_round, shapes};
pub use kernel::check_request as check_kernel_request;
pub use memory::memory_estimate;
pub use plan::{PlannedRun, plan};

use crate::bad_input;
use crate::config::{Experiment, RunSpec};
use crate::data::Dataset;
use crate::faults;
use crate::interrupt::StopToken;
use crate::nn::{Kernel, KernelRequest};
use crate::progress::Progress;
use crate::report::{self, ReportOutcome, SweepResults};
use crate::results::{
    FORMAT, FinishedRun, FolderLock, GridFile, Manifest, Record, ResultsDir, cpu_model,
};
use crate::shard::{self, DataSize, Shard};
use crate::shell::command_line;
use crate::train::{self, Interrupted, Status};

/// How `sweep run` was asked to behave.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Runs trained at once, at most (`--jobs`).
    pub jobs: usize,
    /// Folder under which `<name>/` is created.
    pub out: PathBuf,
    /// Discard earlier results of this sweep first.
    pub fresh: bool,
    /// No progress display.
    pub quiet: bool,
    /// Train the runs that failed earlier again (as well as missing ones).
    pub retry_failed: bool,
    /// Stop the sweep at the first failed run.
    pub fail_fast: bool,
    /// Go ahead even when the memory estimate exceeds what the machine has.
    pub yes: bool,
    /// Train only this shard's runs (`--shard K/N`).
    pub shard: Option<Shard>,
    /// For a halving search, train only this rung (1-based) and decide
    /// nothing (`--rung R`).
    pub rung: Option<usize>,
    /// The GEMM kernel asked for with `--kernel` (`None`: the experiment
    /// file's `kernel`, by default `auto`). A results folder keeps the
    /// kernel it was started with.
    pub kernel: Option<KernelRequest>,
    /// Train the remaining runs of a folder with the kernel asked for even
    /// though the folder was started with another (`--switch-kernel`).
    pub switch_kernel: bool,
    /// Set to stop the sweep (Ctrl-C, `--fail-fast`): no new runs start,
    /// runs in flight stop at their next step.
    pub stop: StopToken,
    /// How often the report is refreshed while runs train, at most
    /// (`--report-every`); `None`: only when the sweep ends.
    pub report_every: Option<Duration>,
}

/// What every run of one invocation shares: the experiment, the options,
/// the dataset, the results folder, and the kernel settled for it.
pub(crate) struct Job<'a> {
    exp: &'a Experiment,
    opts: &'a RunOptions,
    data: &'a Dataset,
    results: &'a ResultsDir,
    kernel: Kernel,
}

impl RunOptions {
    /// The `sweep run` command for `file` with these options' `--out` and
    /// `--shard`, plus `extra` flags: what to tell a user to type.
    pub fn command(&self, file: &Path, extra: &str) -> String {
        let mut cmd = command_line("run", file, &self.out);
        if let Some(shard) = &self.shard {
            cmd += &format!(" --shard {shard}");
        }
        if !extra.is_empty() {
            cmd += " ";
            cmd += extra;
        }
        cmd
    }
}

/// What a finished `sweep run` reports.
#[derive(Debug, Clone)]
pub struct SweepSummary {
    /// The results folder.
    pub dir: PathBuf,
    /// Runs this invocation was responsible for (the grid, or its shard).
    pub total: usize,
    /// Runs found finished from an earlier invocation.
    pub reused: usize,
    /// Runs trained now.
    pub trained: usize,
    /// Runs whose loss became NaN or infinite.
    pub diverged: usize,
    /// Runs that stopped with an error: `id (settings): message`.
    pub failed: Vec<String>,
    /// Runs without a record (the sweep was stopped).
    pub missing: usize,
    /// The sweep stopped early (a signal, or `--fail-fast`).
    pub stopped: bool,
    /// Wall-clock seconds of this invocation.
    pub seconds: f64,
    /// The report written at the end; `None` when other shards still run
    /// (the last one to end writes it).
    pub report: Option<ReportOutcome>,
}

/// Loads the experiment's dataset and checks the runs against its size.
pub fn load_data(exp: &Experiment) -> Result<Dataset> {
    let data = Dataset::load(&exp.data, &exp.dir())?;
    check_against_data(exp, &data)?;
    Ok(data)
}

/// Checks what can only be checked once the dataset's size is known.
fn check_against_data(exp: &Experiment, data: &Dataset) -> Result<()> {
    let available = data.train.len();
    for spec in &exp.runs {
        let p = &spec.params;
        if let Some(n) = p.train_subset.filter(|&n| n > available) {
            return Err(bad_input!(
                "`train_subset` = {n} but the training split of {} has only {available} images ({})",
                exp.dataset_label,
                exp.path.display()
            ));
        }
        let held_out = p.validation;
        if held_out >= available {
            return Err(bad_input!(
                "`validation` = {held_out} holds out every image of the training split of {} \
                 ({available}), leaving none to train on; lower it ({})",
                exp.dataset_label,
                exp.path.display()
            ));
        }
        if let Some(n) = p.train_subset.filter(|&n| n + held_out > available) {
            return Err(bad_input!(
                "`train_subset` = {n} and `validation` = {held_out} need {} images, but the \
                 training split of {} has {available} (the validation images are held out of \
                 it, disjoint from the training images); lower one of them ({})",
                n + held_out,
                exp.dataset_label,
                exp.path.display()
            ));
        }
        let n = p.train_subset.unwrap_or(available - held_out);
        if p.batch_size > n {
            return Err(bad_input!(
                "`batch_size` = {} is larger than the {n} training images used; lower it or raise `train_subset` ({})",
                p.batch_size,
                exp.path.display()
            ));
        }
    }
    Ok(())
}

/// Short label of a run for progress lines: the swept settings' values.
pub fn run_label(exp: &Experiment, spec: &RunSpec) -> String {
    if exp.swept.is_empty() {
        return format!("run {}", spec.id);
    }
    exp.swept
        .iter()
        .filter(|k| k.applies_to(&spec.params))
        .map(|&k| format!("{}={}", k.spec().tag, spec.params.text(k)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The results folder `sweep run` would use for `exp`.
pub fn results_dir(exp: &Experiment, out: &Path) -> PathBuf {
    out.join(&exp.name)
}

/// What the scan of the records found for this invocation's runs.
#[derive(Debug, Default)]
struct Found {
    /// Runs with a complete record that is reused: id → how it ended.
    reused: HashMap<String, Status>,
    /// Reused failed runs: `id (settings): message`.
    failed: Vec<String>,
    /// Runs whose record was damaged or incomplete: `id (settings): why`.
    damaged: Vec<String>,
    /// Records of sweep 0.1 rewritten in the current format.
    upgraded: usize,
    /// Run folders renamed from sweep 0.1's ids to the current ones.
    renamed: usize,
}

/// Runs every unfinished run of `exp` and writes the results folder.
pub fn run(exp: &Experiment, opts: &RunOptions) -> Result<SweepSummary> {
    let started = Instant::now();
    let started_at = now();
    kernel::check_asked(exp, opts)?;
    let data = load_data(exp)?;
    memory::check(exp, &data, opts)?;

    // Take the folder; select this invocation's runs; see what is on disk.
    let results = ResultsDir::new(results_dir(exp, &opts.out), &exp.dataset_label);
    let mut lock = prepare::take_folder(exp, &data, &results, opts)?;
    let (settled, kernel_news) = kernel::settle(exp, opts, &data, &results, || {
        new_manifest(exp, &data, opts, started_at.clone(), 0)
    })?;
    let job = Job {
        exp,
        opts,
        data: &data,
        results: &results,
        kernel: settled.kernel,
    };
    if let (Some(halving), Some(rung)) = (&exp.search.halving, opts.rung) {
        if results.read_grid().is_none() {
            results.write_grid(&GridFile::of(exp))?;
        }
        let (mine, tally) = halving::run_rung_task(&job, halving, rung, &started_at)?;
        lock.release_shard();
        return Ok(SweepSummary {
            dir: results.root().to_path_buf(),
            total: mine,
            reused: mine.saturating_sub(tally.trained + tally.paused),
            trained: tally.trained + tally.paused,
            diverged: tally.diverged,
            failed: tally.failed,
            missing: 0,
            stopped: opts.stop.requested(),
            seconds: started.elapsed().as_secs_f64(),
            report: None,
        });
    }
    let mine = select_runs(exp, &data, opts);
    let renamed = if opts.shard.is_none() {
        results.rename_legacy_folders()
    } else {
        0
    };
    let mut found = scan_records(exp, opts, &results, &mine)?;
    found.renamed += renamed;
    let kernel_note = match settled.choice.contains(&settled.label) {
        true => format!("GEMM kernel: {}", settled.choice),
        false => format!("GEMM kernel {}: {}", settled.label, settled.choice),
    };
    let mut manifest = Manifest {
        kernel: Some(settled.label),
        kernel_choice: settled.choice,
        ..new_manifest(exp, &data, opts, started_at, found.reused.len())
    };
    results.write_manifest(&manifest)?;
    results.write_grid(&GridFile::of(exp))?;

    // Train what is left.
    let progress = Progress::new(mine.len(), found.reused.len(), opts.quiet);
    if kernel_news {
        progress.note(&kernel_note);
    }
    announce(&job, &progress, &found, mine.len());
    let tally = live::while_training(
        &results,
        opts.report_every,
        &manifest.started_at,
        &progress,
        || match &exp.search.halving {
            Some(h) => halving::run_rungs(&job, h, &progress),
            None => {
                let pending: Vec<&RunSpec> = mine
                    .iter()
                    .copied()
                    .filter(|s| !found.reused.contains_key(&s.id))
                    .collect();
                train_pending(&job, &pending, &progress, None)
            }
        },
    )?;
    progress.finish_all();

    let report = finish(exp, &results, &mut lock, &mut manifest)?;
    Ok(summarise(
        &results,
        mine.len(),
        found,
        tally,
        started.elapsed().as_secs_f64(),
        report,
        opts.stop.requested(),
    ))
}

/// The manifest of this invocation, as written when it starts.
fn new_manifest(
    exp: &Experiment,
    data: &Dataset,
    opts: &RunOptions,
    started_at: String,
    runs_done: usize,
) -> Manifest {
    Manifest {
        tool: "sweep".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        format: FORMAT,
        name: exp.name.clone(),
        description: exp.description.clone(),
        experiment_file: exp.path.display().to_string(),
        config_sha256: exp.config_sha256.clone(),
        dataset: exp.dataset_label.clone(),
        dataset_dir: data.dir.display().to_string(),
        dataset_files: data.files.clone(),
        swept: exp.swept.iter().map(|k| k.name().to_string()).collect(),
        runs_total: exp.runs.len(),
        runs_done,
        jobs: opts.jobs,
        cpu: cpu_model(),
        started_at,
        finished_at: String::new(),
        baseline: exp.baseline.clone(),
        within: exp.within.clone(),
        kernel: None,
        kernel_choice: String::new(),
    }
}

/// What `sweep run` tells the user at the end.
fn summarise(
    results: &ResultsDir,
    total: usize,
    found: Found,
    tally: Tally,
    seconds: f64,
    report: Option<ReportOutcome>,
    stopped: bool,
) -> SweepSummary {
    let reused_diverged = found
        .reused
        .values()
        .filter(|&&s| s == Status::Diverged)
        .count();
    let mut failed = found.failed;
    failed.extend(tally.failed);
    SweepSummary {
        dir: results.root().to_path_buf(),
        total,
        reused: found.reused.len(),
        trained: tally.trained,
        diverged: reused_diverged + tally.diverged,
        failed,
        missing: total - found.reused.len() - tally.trained,
        stopped,
        seconds,
        report,
    }
}

/// The runs this invocation is responsible for: the grid, or one shard.
fn select_runs<'a>(exp: &'a Experiment, data: &Dataset, opts: &RunOptions) -> Vec<&'a RunSpec> {
    match &opts.shard {
        Some(shard) => shard.select(&exp.runs, &shard::costs(&exp.runs, DataSize::of(data))),
        None => exp.runs.iter().collect(),
    }
}

/// One pass over the grid's records on disk, under the aggregate lock:
/// classifies this invocation's runs (reused, failed, damaged; records of
/// sweep 0.1 upgraded on the way) and rebuilds `runs.csv` and `epochs.csv`
/// from every complete record, in grid order. A shard whose tables are
/// already of this version's columns reads only its own runs: the others'
/// rows are in the tables, and the last shard to end rebuilds them.
fn scan_records(
    exp: &Experiment,
    opts: &RunOptions,
    results: &ResultsDir,
    mine: &[&RunSpec],
) -> Result<Found> {
    let mine_ids: HashSet<&str> = mine.iter().map(|s| s.id.as_str()).collect();
    let mut found = Found::default();
    let mut problem: Option<anyhow::Error> = None;
    let lock = results.lock_aggregates()?;
    let rebuild = opts.shard.is_none() || !results.aggregates().current();
    let records = exp.runs.iter().filter_map(|spec| {
        if !mine_ids.contains(spec.id.as_str()) {
            return if rebuild {
                results.load_run(spec).complete()
            } else {
                None
            };
        }
        let label = || format!("{} ({})", spec.id, run_label(exp, spec));
        match results.adopt_legacy_folder(spec) {
            Ok(renamed) => found.renamed += usize::from(renamed),
            Err(e) => {
                problem.get_or_insert(e);
            }
        }
        match results.load_run(spec) {
            Record::Missing => None,
            Record::Damaged(why) => {
                found.damaged.push(format!("{}: {why}", label()));
                None
            }
            Record::Complete(run) => {
                if run.is_legacy() {
                    match results.upgrade_record(&run) {
                        Ok(()) => found.upgraded += 1,
                        Err(e) => {
                            problem.get_or_insert(e);
                        }
                    }
                }
                if run.done.status == Status::Failed {
                    if opts.retry_failed {
                        // Trained again: its new rows replace these.
                        return None;
                    }
                    found.failed.push(format!(
                        "{}: {}",
                        label(),
                        run.done.error.as_deref().unwrap_or("unknown error")
                    ));
                }
                found.reused.insert(spec.id.clone(), run.done.status);
                Some(*run)
            }
        }
    });
    if rebuild {
        results.aggregates().rebuild(&lock, records)?;
    } else {
        records.for_each(drop);
    }
    match problem {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

/// Tells the user what was found before training starts.
fn announce(job: &Job, progress: &Progress, found: &Found, mine: usize) {
    let Job {
        exp, opts, results, ..
    } = *job;
    if let Some(shard) = &opts.shard {
        progress.note(&format!(
            "shard {shard}: {mine} of the grid's {} runs",
            exp.runs.len()
        ));
    }
    if let Some(note) = exp.search.note() {
        progress.note(&note);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if opts.jobs > cores {
        progress.note(&format!(
            "note: --jobs {} is more than the {cores} core(s) of this machine; the runs share \
             them (their numbers are the same, only slower)",
            opts.jobs
        ));
    }
    if found.upgraded + found.renamed > 0 {
        progress.note(&format!(
            "migrated {} run record(s) written by sweep 0.1 to the current format: they now \
             carry checksums, and {} run folder(s) were renamed to their new ids (`r` + 12 hex \
             digits); sweep 0.1 cannot read this folder any more",
            found.upgraded, found.renamed
        ));
    }
    let reused = found.reused.len();
    if reused > 0 {
        progress.note(&format!(
            "resuming: {reused} of {mine} runs already finished in {}",
            results.root().display()
        ));
    }
    if !found.damaged.is_empty() {
        progress.note(&format!(
            "{} run record(s) are damaged or incomplete and are trained again:",
            found.damaged.len()
        ));
        for line in found.damaged.iter().take(10) {
            progress.note(&format!("  {line}"));
        }
        if found.damaged.len() > 10 {
            progress.note(&format!("  … and {} more", found.damaged.len() - 10));
        }
    }
    if !found.failed.is_empty() {
        progress.note(&format!(
            "note: {} run(s) failed earlier and are kept as failed; add --retry-failed to train \
             them again",
            found.failed.len()
        ));
    }
    let orphans = results.orphans(&exp.runs);
    if !orphans.is_empty() {
        progress.note(&format!(
            "note: {} finished run(s) in {} are not part of this grid (its settings changed); \
             they are kept but left out of runs.csv — use --fresh to remove them",
            orphans.len(),
            results.root().join("runs").display()
        ));
    }
}

/// What the workers did.
#[derive(Debug, Default)]
struct Tally {
    trained: usize,
    /// Runs trained to a halving rung and paused there.
    paused: usize,
    diverged: usize,
    failed: Vec<String>,
}

/// Trains `pending` on `--jobs` workers (never more than there are runs),
/// each taking the next run in grid order, so runs start in the order
/// `sweep plan` lists them whatever the number of workers. Each run is
/// saved (record and aggregate rows) the moment it ends. With `until`
/// (a halving rung: one epoch per pending run), runs continue from their
/// checkpoint and pause after their epoch, saving a new checkpoint, unless
/// they end first.
fn train_pending(
    job: &Job,
    pending: &[&RunSpec],
    progress: &Progress,
    until: Option<&[usize]>,
) -> Result<Tally> {
    let workers = job.opts.jobs.min(pending.len()).max(1);
    // Threads beyond the training workers (up to the cores) take chunks of
    // the runs' evaluations when fewer runs are left than cores.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = job.opts.jobs.min(workers.max(cores));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("sweep-worker-{i}"))
        .build()
        .context("cannot start worker threads")?;
    let shared = Workers {
        job,
        progress,
        until,
        threads,
        tally: Mutex::new(Tally::default()),
        next: AtomicUsize::new(0),
        training: AtomicUsize::new(0),
    };
    pool.install(|| {
        (0..workers)
            .into_par_iter()
            .try_for_each(|_| shared.work(pending))
    })?;
    Ok(shared.tally.into_inner().unwrap_or_else(|e| e.into_inner()))
}

/// What the workers of [`train_pending`] share: the job, where the next
/// run is taken from, how many train now, and the tally.
struct Workers<'a> {
    job: &'a Job<'a>,
    progress: &'a Progress,
    /// Per pending run, the epoch it pauses after (a halving rung).
    until: Option<&'a [usize]>,
    /// Threads of the pool.
    threads: usize,
    tally: Mutex<Tally>,
    /// Index of the next pending run to take.
    next: AtomicUsize,
    /// Runs in training now: while there are as many as threads, each run
    /// evaluates on its own thread; once fewer, idle threads take chunks.
    training: AtomicUsize,
}

/// Whether a worker goes on to the next run.
enum Next {
    Continue,
    Stop,
}

impl Workers<'_> {
    /// One worker: takes the next pending run until none is left or the
    /// sweep is asked to stop.
    fn work(&self, pending: &[&RunSpec]) -> Result<()> {
        while !self.job.opts.stop.requested() {
            let next = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(spec) = pending.get(next) else {
                break;
            };
            let until = self.until.map(|epochs| epochs[next]);
            if let Next::Stop = self.train_one(spec, until)? {
                break;
            }
        }
        Ok(())
    }

    /// Trains `spec` (from its checkpoint at a halving rung) and saves what
    /// it gave: a paused run's checkpoint, or an ended run's record.
    fn train_one(&self, spec: &RunSpec, until: Option<usize>) -> Result<Next> {
        let Job {
            exp,
            data,
            results,
            kernel,
            ..
        } = *self.job;
        let line = self
            .progress
            .start(run_label(exp, spec), spec.params.epochs);
        let run_started = Instant::now();
        let from = until.and_then(|_| halving::usable_checkpoint(results, spec, self.progress));
        let idle_threads = || self.training.load(Ordering::Relaxed) < self.threads;
        let stop = || self.job.opts.stop.requested();
        self.training.fetch_add(1, Ordering::Relaxed);
        let attempt = catch_unwind(AssertUnwindSafe(|| {
            faults::maybe_fail(&spec.id);
            let options = train::TrainOptions {
                kernel,
                from: from.as_ref(),
                until,
                keep_predictions: exp.save_predictions,
                keep_forgetting: exp.save_forgetting,
                idle_threads: Some(&idle_threads),
            };
            let on_epoch = &mut |m: &train::EpochMetrics| self.progress.epoch(&line, m);
            train::train_until(&spec.params, data, &options, on_epoch, &stop)
        }));
        self.training.fetch_sub(1, Ordering::Relaxed);
        let seconds = run_started.elapsed().as_secs_f64();
        let run = match attempt {
            Ok(Ok(train::Span {
                outcome,
                paused: Some(mut checkpoint),
            })) => {
                checkpoint.run_id = spec.id.clone();
                results.save_checkpoint(&checkpoint)?;
                // A retried run that had failed: its record goes.
                results.remove_failed_record(spec)?;
                self.tally().paused += 1;
                let last = outcome.epochs.last();
                self.progress.finish(line, Status::Finished, last, seconds);
                return Ok(Next::Continue);
            }
            Ok(Ok(span)) => {
                if let Some(classes) = &span.outcome.test_predictions {
                    results.save_predictions(&spec.id, classes)?;
                }
                if let Some(counts) = &span.outcome.forgetting_counts {
                    results.save_forgetting(&spec.id, counts)?;
                }
                FinishedRun::new(spec, span.outcome)
            }
            // Stopped: nothing is recorded; it trains again on resume.
            Ok(Err(Interrupted)) => {
                self.progress.abandon(line);
                return Ok(Next::Stop);
            }
            Err(payload) => {
                FinishedRun::failed(spec, panic_message(&payload), seconds, kernel.label())
            }
        };
        self.save_ended(spec, &run)?;
        self.progress
            .finish(line, run.done.status, run.epochs.last(), seconds);
        Ok(Next::Continue)
    }

    /// Saves a run that ended (finished, diverged or failed) and counts it;
    /// a failure stops the sweep under `--fail-fast`.
    fn save_ended(&self, spec: &RunSpec, run: &FinishedRun) -> Result<()> {
        let Job {
            exp, opts, results, ..
        } = *self.job;
        results.save_run(run)?;
        if run.done.status != Status::Failed {
            // A failed run keeps its last checkpoint for a retry.
            results.remove_checkpoint(&spec.id);
        }
        if run.done.status == Status::Failed && opts.fail_fast {
            opts.stop.request();
        }
        let mut tally = self.tally();
        tally.trained += 1;
        match run.done.status {
            Status::Finished => {}
            Status::Diverged => tally.diverged += 1,
            Status::Failed => tally.failed.push(format!(
                "{} ({}): {}",
                spec.id,
                run_label(exp, spec),
                run.done.error.as_deref().unwrap_or("unknown error")
            )),
        }
        Ok(())
    }

    /// The tally, also after a worker panicked holding it.
    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The last phase, under the aggregate lock: rewrites `runs.csv` and
/// `epochs.csv` in grid order, the manifest and the report — unless this is
/// a shard and others still run (the last to end does it).
fn finish(
    exp: &Experiment,
    results: &ResultsDir,
    lock: &mut FolderLock,
    manifest: &mut Manifest,
) -> Result<Option<ReportOutcome>> {
    let aggregate_lock = results.lock_aggregates()?;
    lock.release_shard();
    if !results.running_shards().is_empty() {
        return Ok(None);
    }
    let loaded = SweepResults::load(results.root())?;
    results.aggregates().rebuild(
        &aggregate_lock,
        exp.runs.iter().filter_map(|s| loaded.runs.get(&s.id)),
    )?;
    manifest.runs_done = loaded.runs.len();
    manifest.finished_at = now();
    results.write_manifest(manifest)?;
    Ok(Some(report::write_results(&loaded)?))
}

/// The text of a panic, as the run's error message.
fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the run panicked".to_string());
    format!("panic: {text}")
}

fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}
