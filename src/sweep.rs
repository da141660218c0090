//! Running a sweep: load the dataset once, skip runs finished earlier, train
//! the rest on a rayon pool (one run per worker), save each run the moment
//! it ends and keep the aggregate CSVs current.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::bad_input;
use crate::config::{Experiment, Key, RunSpec};
use crate::data::Dataset;
use crate::nn::mlp::{eval_flops_per_sample, train_flops_per_sample};
use crate::progress::Progress;
use crate::report::{self, ReportOutcome};
use crate::results::{FinishedRun, GridFile, Manifest, ResultsDir, cpu_model};
use crate::train::{self, Status};

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
    let results = ResultsDir::new(results_dir(exp, &opts.out), &exp.dataset_label);
    prepare_dir(exp, &data, &results, opts.fresh)?;

    // Runs finished by an earlier invocation are reused as they are.
    let mut finished: HashMap<String, FinishedRun> = HashMap::new();
    for spec in &exp.runs {
        if let Some(run) = results.load_run(spec) {
            finished.insert(spec.id.clone(), run);
        }
    }
    let reused = finished.len();
    let pending: Vec<&RunSpec> = exp
        .runs
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

    let progress = Progress::new(exp.runs.len(), reused, opts.quiet);
    if reused > 0 {
        progress.note(&format!(
            "resuming: {reused} of {} runs already finished in {}",
            exp.runs.len(),
            results.root().display()
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
    results.write_aggregates(exp.runs.iter().filter_map(|s| finished.get(&s.id)))?;

    let finished = Mutex::new(finished);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .thread_name(|i| format!("sweep-worker-{i}"))
        .build()
        .context("cannot start worker threads")?;
    // Each worker takes the next pending run in grid order, so runs start in
    // the order `sweep plan` lists them whatever the number of workers.
    let next = AtomicUsize::new(0);
    pool.install(|| {
        (0..opts.jobs)
            .into_par_iter()
            .try_for_each(|_| -> Result<()> {
                while let Some(spec) = pending.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let line = progress.start(run_label(exp, spec), spec.params.epochs);
                    let run_started = Instant::now();
                    let outcome =
                        train::train(&spec.params, &data, &mut |m| progress.epoch(&line, m));
                    let run = FinishedRun::new(spec, outcome);
                    results.save_run(&run)?;
                    let (status, last) = (run.done.status, run.epochs.last().cloned());
                    {
                        let mut finished = finished.lock().unwrap_or_else(|e| e.into_inner());
                        finished.insert(spec.id.clone(), run);
                        results.write_aggregates(
                            exp.runs.iter().filter_map(|s| finished.get(&s.id)),
                        )?;
                    }
                    progress.finish(
                        line,
                        status,
                        last.as_ref(),
                        run_started.elapsed().as_secs_f64(),
                    );
                }
                Ok(())
            })
    })?;
    progress.finish_all();

    let finished = finished.into_inner().unwrap_or_else(|e| e.into_inner());
    manifest.runs_done = finished.len();
    manifest.finished_at = now();
    results.write_manifest(&manifest)?;
    let report = report::write(results.root())?;
    Ok(SweepSummary {
        dir: results.root().to_path_buf(),
        total: exp.runs.len(),
        reused,
        trained: pending.len(),
        diverged: finished
            .values()
            .filter(|r| r.done.status == Status::Diverged)
            .count(),
        seconds: started.elapsed().as_secs_f64(),
        report,
    })
}

/// Creates (or, with `fresh`, empties) the results folder after checking
/// that earlier results in it came from the same dataset files.
fn prepare_dir(exp: &Experiment, data: &Dataset, results: &ResultsDir, fresh: bool) -> Result<()> {
    let root = results.root();
    if let Some(file) = root.ancestors().find(|p| p.exists() && !p.is_dir()) {
        return Err(bad_input!(
            "cannot put results in {}: {} is a file, not a folder; remove it or choose another --out",
            root.display(),
            file.display()
        ));
    }
    if fresh {
        results.clear()?;
    } else if let Some(old) = results.read_manifest()
        && old.dataset_files != data.files
    {
        return Err(bad_input!(
            "{} holds results of `{}` made from other dataset files (checksums differ); \
             mixing them would be wrong. Run with --fresh to start over, or choose another --out",
            root.display(),
            exp.name
        ));
    }
    results.create()
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
    exp.runs
        .iter()
        .map(|spec| {
            let p = &spec.params;
            let n = p
                .train_subset
                .unwrap_or(data.train.len())
                .min(data.train.len());
            let sizes = p.layer_sizes(data.pixels(), crate::data::NUM_CLASSES);
            let batch = p.batch_size.min(n);
            let steps = (n / batch).max(1) as u64;
            let evals =
                (p.epochs / p.eval_every + usize::from(p.epochs % p.eval_every != 0)) as u64;
            let train = p.epochs as u64 * steps * batch as u64 * train_flops_per_sample(&sizes);
            let eval = evals * (n + data.test.len()) as u64 * eval_flops_per_sample(&sizes);
            PlannedRun {
                spec,
                train_samples: n,
                flops: train + eval,
            }
        })
        .collect()
}

/// The results folder `sweep run` would use for `exp`.
pub fn results_dir(exp: &Experiment, out: &Path) -> PathBuf {
    out.join(&exp.name)
}
