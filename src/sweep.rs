//! Running a sweep: load the dataset once, skip runs finished earlier, train
//! the rest on a rayon pool (one run per worker), save each run the moment
//! it ends and keep the aggregate CSVs current.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::bad_input;
use crate::config::{Experiment, Key, RunSpec};
use crate::data::Dataset;
use crate::progress::Progress;
use crate::report::{self, ReportOutcome};
use crate::results::{
    DONE_FILE, FinishedRun, FolderLock, GridFile, Manifest, ResultsDir, cpu_model,
};
use crate::shard::{self, DataSize, Shard};
use crate::train::{self, Interrupted, Status};
use crate::{faults, interrupt};

/// How `sweep run` was asked to behave.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads (runs trained at once).
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
}

/// What a finished `sweep run` reports.
#[derive(Debug, Clone)]
pub struct SweepSummary {
    /// The results folder.
    pub dir: PathBuf,
    /// Runs in the grid.
    pub total: usize,
    /// Runs found finished from an earlier invocation.
    pub reused: usize,
    /// Runs trained now.
    pub trained: usize,
    /// Runs whose loss became NaN or infinite.
    pub diverged: usize,
    /// Runs that stopped with an error: `id (settings): message`.
    pub failed: Vec<String>,
    /// Runs of the grid still without a record (the sweep was stopped).
    pub missing: usize,
    /// The sweep stopped early (a signal, or `--fail-fast`).
    pub stopped: bool,
    /// Wall-clock seconds of this invocation.
    pub seconds: f64,
    /// The report written at the end.
    pub report: ReportOutcome,
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
        let n = p.train_subset.unwrap_or(available);
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
        .map(|&k| format!("{}={}", short_name(k), spec.params.text(k)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn short_name(key: Key) -> &'static str {
    match key {
        Key::LearningRate => "lr",
        Key::HiddenSize => "width",
        Key::HiddenLayers => "depth",
        Key::TrainSubset => "subset",
        Key::BatchSize => "batch",
        other => other.name(),
    }
}

/// Runs every unfinished run of `exp` and writes the results folder.
pub fn run(exp: &Experiment, opts: &RunOptions) -> Result<SweepSummary> {
    let started = Instant::now();
    let started_at = now();
    let data = load_data(exp)?;
    check_memory(exp, &data, opts)?;
    let results = ResultsDir::new(results_dir(exp, &opts.out), &exp.dataset_label);
    let _lock = prepare_dir(exp, &data, &results, opts)?;
    // The runs this invocation is responsible for: the grid, or one shard.
    let mine: Vec<RunSpec> = match &opts.shard {
        Some(shard) => shard
            .select(&exp.runs, &shard::costs(&exp.runs, DataSize::of(&data)))
            .into_iter()
            .cloned()
            .collect(),
        None => exp.runs.clone(),
    };
    let sharded = opts.shard.is_some();
    // Rewrites runs.csv and epochs.csv. A shard rebuilds them from every
    // run on disk, under the folder's aggregate lock, since other shards
    // write into the same folder.
    let write_aggregates = |finished: &HashMap<String, FinishedRun>| -> Result<()> {
        if sharded {
            let _guard = results.lock_aggregates()?;
            results.write_aggregates(&results.load_runs(&exp.runs))
        } else {
            results.write_aggregates(exp.runs.iter().filter_map(|s| finished.get(&s.id)))
        }
    };

    // Runs recorded by an earlier invocation are reused as they are; failed
    // ones only when not asked to retry them.
    let mut finished: HashMap<String, FinishedRun> = HashMap::new();
    for spec in &mine {
        if let Some(run) = results.load_run(spec)
            && !(opts.retry_failed && run.done.status == Status::Failed)
        {
            finished.insert(spec.id.clone(), run);
        }
    }
    let reused = finished.len();
    let pending: Vec<&RunSpec> = mine
        .iter()
        .filter(|s| !finished.contains_key(&s.id))
        .collect();

    let mut manifest = Manifest {
        tool: "sweep".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        name: exp.name.clone(),
        description: exp.description.clone(),
        experiment_file: exp.path.display().to_string(),
        config_sha256: exp.config_sha256.clone(),
        dataset: exp.dataset_label.clone(),
        dataset_dir: data.dir.display().to_string(),
        dataset_files: data.files.clone(),
        swept: exp.swept.iter().map(|k| k.name().to_string()).collect(),
        runs_total: exp.runs.len(),
        runs_done: reused,
        jobs: opts.jobs,
        cpu: cpu_model(),
        started_at,
        finished_at: String::new(),
    };
    results.write_manifest(&manifest)?;
    results.write_grid(&GridFile {
        dataset: exp.dataset_label.clone(),
        swept: manifest.swept.clone(),
        runs: exp.runs.clone(),
    })?;

    let progress = Progress::new(mine.len(), reused, opts.quiet);
    if let Some(shard) = &opts.shard {
        progress.note(&format!(
            "shard {shard}: {} of the grid's {} runs",
            mine.len(),
            exp.runs.len()
        ));
    }
    if reused > 0 {
        progress.note(&format!(
            "resuming: {reused} of {} runs already finished in {}",
            mine.len(),
            results.root().display()
        ));
    }
    let kept_failed = finished
        .values()
        .filter(|r| r.done.status == Status::Failed)
        .count();
    if kept_failed > 0 {
        progress.note(&format!(
            "note: {kept_failed} run(s) failed earlier and are kept as failed; \
             add --retry-failed to train them again"
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
    write_aggregates(&finished)?;

    let finished = Mutex::new(finished);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .thread_name(|i| format!("sweep-worker-{i}"))
        .build()
        .context("cannot start worker threads")?;
    // Each worker takes the next pending run in grid order, so runs start in
    // the order `sweep plan` lists them whatever the number of workers.
    let next = AtomicUsize::new(0);
    let stop = || interrupt::stop_requested();
    pool.install(|| {
        (0..opts.jobs)
            .into_par_iter()
            .try_for_each(|_| -> Result<()> {
                while !stop() {
                    let Some(spec) = pending.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let line = progress.start(run_label(exp, spec), spec.params.epochs);
                    let run_started = Instant::now();
                    let attempt = catch_unwind(AssertUnwindSafe(|| {
                        faults::maybe_fail(&spec.id);
                        train::train(
                            &spec.params,
                            &data,
                            &mut |m| progress.epoch(&line, m),
                            &stop,
                        )
                    }));
                    let seconds = run_started.elapsed().as_secs_f64();
                    let run = match attempt {
                        Ok(Ok(outcome)) => FinishedRun::new(spec, outcome),
                        // Stopped: nothing is recorded; it trains again on resume.
                        Ok(Err(Interrupted)) => {
                            progress.abandon(line);
                            break;
                        }
                        Err(payload) => FinishedRun::failed(spec, panic_message(&payload), seconds),
                    };
                    results.save_run(&run)?;
                    if run.done.status == Status::Failed && opts.fail_fast {
                        interrupt::request_stop();
                    }
                    let (status, last) = (run.done.status, run.epochs.last().cloned());
                    {
                        let mut finished = finished.lock().unwrap_or_else(|e| e.into_inner());
                        finished.insert(spec.id.clone(), run);
                        write_aggregates(&finished)?;
                    }
                    progress.finish(line, status, last.as_ref(), seconds);
                }
                Ok(())
            })
    })?;
    progress.finish_all();

    let finished = finished.into_inner().unwrap_or_else(|e| e.into_inner());
    let report = {
        let _guard = if sharded {
            Some(results.lock_aggregates()?)
        } else {
            None
        };
        manifest.runs_done = if sharded {
            results.load_runs(&exp.runs).len()
        } else {
            finished.len()
        };
        manifest.finished_at = now();
        results.write_manifest(&manifest)?;
        report::write(results.root())?
    };
    let label = |spec: &RunSpec| run_label(exp, spec);
    Ok(SweepSummary {
        dir: results.root().to_path_buf(),
        total: mine.len(),
        reused,
        trained: finished.len() - reused,
        diverged: finished
            .values()
            .filter(|r| r.done.status == Status::Diverged)
            .count(),
        failed: mine
            .iter()
            .filter_map(|s| finished.get(&s.id))
            .filter(|r| r.done.status == Status::Failed)
            .map(|r| {
                format!(
                    "{} ({}): {}",
                    r.spec.id,
                    label(&r.spec),
                    r.done.error.as_deref().unwrap_or("unknown error")
                )
            })
            .collect(),
        missing: mine.len() - finished.len(),
        stopped: interrupt::stop_requested(),
        seconds: started.elapsed().as_secs_f64(),
        report,
    })
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

/// Takes the results folder for this process (refusing if another sweep
/// writes it), then empties it with `fresh`, or checks that the results
/// already in it can be resumed: same dataset files, same fixed settings.
fn prepare_dir(
    exp: &Experiment,
    data: &Dataset,
    results: &ResultsDir,
    opts: &RunOptions,
) -> Result<FolderLock> {
    let fresh = opts.fresh;
    if fresh && let Some(shard) = &opts.shard {
        return Err(bad_input!(
            "--fresh cannot be combined with --shard {shard}: it would delete the other shards' \
             results. Start over once without --shard (`sweep run {} --fresh` stops at once \
             with Ctrl-C), or remove {}",
            exp.path.display(),
            results.root().display()
        ));
    }
    let root = results.root();
    if let Some(file) = root.ancestors().find(|p| p.exists() && !p.is_dir()) {
        return Err(bad_input!(
            "cannot put results in {}: {} is a file, not a folder; remove it or choose another --out",
            root.display(),
            file.display()
        ));
    }
    let lock = results.lock(opts.shard.map(|s| (s.index, s.count)))?;
    if opts.shard.is_none() {
        // Only a sweep that holds the folder alone may: a shard would
        // delete the files other shards are writing right now.
        results.remove_stale_temporaries();
    }
    if fresh {
        results.clear()?;
    } else {
        if let Some(old) = results.read_manifest()
            && old.dataset_files != data.files
        {
            return Err(bad_input!(
                "{} holds results of `{}` made from other dataset files (checksums differ); \
                 mixing them would be wrong. Run with --fresh to start over, or choose another --out",
                root.display(),
                exp.name
            ));
        }
        if let Some(old) = results.read_grid() {
            check_unchanged_meaning(exp, &old, results)?;
        }
    }
    results.create()?;
    Ok(lock)
}

/// Refuses to resume when the experiment changed a setting that every
/// finished run shares (epochs, subset, dataset, …): the old runs would be
/// silently orphaned and the folder would mix two different experiments.
/// Adding or removing values of swept settings is fine.
fn check_unchanged_meaning(exp: &Experiment, old: &GridFile, results: &ResultsDir) -> Result<()> {
    let finished = old
        .runs
        .iter()
        .filter(|s| results.run_dir(&s.id).join(DONE_FILE).is_file())
        .count();
    if finished == 0 {
        return Ok(());
    }
    let advice = format!(
        "the {finished} finished run(s) in {} were trained with the old value. Run with --fresh \
         to discard them, or give the changed experiment another `name` (or --out)",
        results.root().display()
    );
    if old.dataset != exp.dataset_label {
        return Err(bad_input!(
            "{}: the dataset changed from `{}` to `{}` since the last run; {advice}",
            exp.path.display(),
            old.dataset,
            exp.dataset_label
        ));
    }
    for key in Key::ALL {
        let values = |runs: &[RunSpec]| {
            let mut v: Vec<String> = runs.iter().map(|s| s.params.text(key)).collect();
            v.sort();
            v.dedup();
            v
        };
        let (before, now) = (values(&old.runs), values(&exp.runs));
        if before.len() == 1 && now.len() == 1 && before != now {
            let show = |v: &str| {
                if v.is_empty() {
                    "all".to_string()
                } else {
                    v.to_string()
                }
            };
            return Err(bad_input!(
                "{}: `{}` changed from {} to {} since the last run; {advice}",
                exp.path.display(),
                key.name(),
                show(&before[0]),
                show(&now[0])
            ));
        }
    }
    Ok(())
}

/// Bytes a sweep needs at most: the dataset once, plus each worker's
/// network, gradients and activation buffers for the largest run.
pub fn memory_estimate(exp: &Experiment, data: &Dataset, jobs: usize) -> u64 {
    let dataset = (data.train.images.len() + data.test.images.len()) as u64;
    let per_run = exp
        .runs
        .iter()
        .map(|spec| {
            let p = &spec.params;
            let sizes = p.layer_sizes(data.pixels(), crate::data::NUM_CLASSES);
            let weights: u64 = sizes
                .windows(2)
                .map(|w| (w[0] as u64 + 1) * w[1] as u64)
                .sum();
            let units: u64 = sizes.iter().map(|&s| s as u64).sum();
            let batch = p.batch_size as u64;
            // weights + gradients, activations and deltas of a batch, the
            // evaluation chunk, index lists; 4 bytes each.
            4 * (2 * weights + 2 * batch * units + train::EVAL_CHUNK as u64 * units)
                + 8 * data.train.len() as u64
        })
        .max()
        .unwrap_or(0);
    dataset + jobs.min(exp.runs.len()).max(1) as u64 * per_run
}

/// Memory the system can give without swapping, from /proc/meminfo.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses a sweep that would need more memory than the machine has
/// available, unless `--yes`.
fn check_memory(exp: &Experiment, data: &Dataset, opts: &RunOptions) -> Result<()> {
    let need = memory_estimate(exp, data, opts.jobs);
    match available_memory() {
        Some(have) if need > have && !opts.yes => Err(bad_input!(
            "{}: the sweep needs about {:.1} GiB of memory ({} worker(s) × the largest run, \
             plus the dataset) but only {:.1} GiB is available; lower `hidden_size` or \
             `batch_size`, use fewer --jobs, or add --yes to try anyway",
            exp.path.display(),
            need as f64 / (1u64 << 30) as f64,
            opts.jobs.min(exp.runs.len()),
            have as f64 / (1u64 << 30) as f64
        )),
        _ => Ok(()),
    }
}

fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// One row of `sweep plan`: a run and the work it needs.
#[derive(Debug, Clone)]
pub struct PlannedRun<'a> {
    /// The run.
    pub spec: &'a RunSpec,
    /// Training images it uses.
    pub train_samples: usize,
    /// Floating-point operations of training and evaluation.
    pub flops: u64,
}

/// The work each run of `exp` needs, given the dataset.
pub fn plan<'a>(exp: &'a Experiment, data: &Dataset) -> Vec<PlannedRun<'a>> {
    let size = DataSize::of(data);
    exp.runs
        .iter()
        .map(|spec| {
            let work = shard::Work::of(&spec.params, size);
            PlannedRun {
                spec,
                train_samples: work.train_samples,
                flops: work.flops(),
            }
        })
        .collect()
}

/// The results folder `sweep run` would use for `exp`.
pub fn results_dir(exp: &Experiment, out: &Path) -> PathBuf {
    out.join(&exp.name)
}
