//! Successive halving, synchronous and deterministic: a rung trains every
//! run of the configurations left to its epochs (continuing paused runs
//! from their checkpoints), ranks the configurations by the mean over seeds
//! of the validation metric at that epoch (ties by grid order), keeps the
//! best 1/η, and records the runs of the others as stopped there.
//!
//! Every decision is a pure function of what the records and checkpoints on
//! disk hold, so a resumed or re-run search makes the same decisions, and
//! writes them to `rungs.csv`.

use anyhow::Result;

use super::{Job, Tally, train_pending};
use crate::config::search::Halving;
use crate::config::{Experiment, Key, RunParams, RunSpec, StopMetric};
use crate::progress::Progress;
use crate::report::stats::Stat;
use crate::results::tables::num;
use crate::results::{FinishedRun, RUNGS_FILE, Record, ResultsDir, csv_text, write_atomic};
use crate::shard::{self, DataSize};
use crate::train::{Checkpoint, EpochMetrics, Status};

/// One configuration: its index in grid order and its runs (one per seed).
struct Configuration<'a> {
    index: usize,
    label: String,
    runs: Vec<&'a RunSpec>,
}

/// The runs of `exp` grouped into configurations, in grid order.
fn configurations(exp: &Experiment) -> Vec<Configuration<'_>> {
    let mut out: Vec<(RunParams, Configuration)> = Vec::new();
    for spec in &exp.runs {
        let key = RunParams {
            seed: 0,
            ..spec.params.clone()
        };
        match out.iter_mut().find(|(p, _)| *p == key) {
            Some((_, c)) => c.runs.push(spec),
            None => {
                let index = out.len();
                let label = exp
                    .swept
                    .iter()
                    .filter(|&&k| k != Key::Seed)
                    .map(|&k| format!("{}={}", k.name(), spec.params.text(k)))
                    .collect::<Vec<_>>()
                    .join(" ");
                out.push((
                    key,
                    Configuration {
                        index,
                        label,
                        runs: vec![spec],
                    },
                ));
            }
        }
    }
    out.into_iter().map(|(_, c)| c).collect()
}

/// What a run has measured so far, from its record or its checkpoint.
enum Measured {
    /// Nothing yet.
    Nothing,
    /// Paused after `epoch` epochs.
    Paused(usize, Vec<EpochMetrics>),
    /// Ended (all epochs, diverged, failed, or stopped at a rung).
    Ended(Box<FinishedRun>),
}

fn measured(results: &ResultsDir, spec: &RunSpec) -> Measured {
    if let Record::Complete(run) = results.load_run(spec) {
        return Measured::Ended(run);
    }
    match results.load_checkpoint(&spec.id) {
        Some(Ok(c)) => Measured::Paused(c.epoch, c.outcome.epochs),
        _ => Measured::Nothing,
    }
}

/// The checkpoint run `spec` continues from, if it has a usable one; a
/// damaged one is reported and the run starts over.
pub(super) fn usable_checkpoint(
    results: &ResultsDir,
    spec: &RunSpec,
    progress: &Progress,
) -> Option<Checkpoint> {
    match results.load_checkpoint(&spec.id)? {
        Ok(c) => Some(c),
        Err(why) => {
            progress.note(&format!(
                "the checkpoint of run {} cannot be used ({why}); it trains again from the start",
                spec.id
            ));
            None
        }
    }
}

/// A configuration's score at a rung: the metric per seed (higher is
/// better after turning the loss around; a run that diverged or failed
/// scores worst).
fn scores(
    results: &ResultsDir,
    config: &Configuration,
    epoch: usize,
    metric: StopMetric,
) -> Vec<f64> {
    config
        .runs
        .iter()
        .map(|spec| {
            let epochs = match measured(results, spec) {
                Measured::Ended(run) if run.done.status != Status::Finished => return f64::NAN,
                Measured::Ended(run) => run.epochs,
                Measured::Paused(_, epochs) => epochs,
                Measured::Nothing => return f64::NAN,
            };
            epochs
                .iter()
                .find(|e| e.epoch == epoch)
                .and_then(|e| match metric {
                    StopMetric::ValAcc => e.val_acc,
                    StopMetric::ValLoss => e.val_loss,
                })
                .unwrap_or(f64::NAN)
        })
        .collect()
}

/// One row of `rungs.csv`.
struct Decision {
    rung: usize,
    epochs: usize,
    index: usize,
    label: String,
    seeds: usize,
    stat: Stat,
    rank: usize,
    promoted: bool,
}

/// The columns of `rungs.csv`.
const COLUMNS: [&str; 11] = [
    "rung",
    "epochs",
    "configuration",
    "settings",
    "seeds",
    "metric",
    "mean",
    "ci95_low",
    "ci95_high",
    "rank",
    "promoted",
];

/// Runs the rungs of `halving` and writes `rungs.csv`.
pub(super) fn run_rungs(job: &Job, halving: &Halving, progress: &Progress) -> Result<Tally> {
    let Job {
        exp, opts, results, ..
    } = *job;
    let configs = configurations(exp);
    let rungs = halving.rungs();
    let mut alive: Vec<&Configuration> = configs.iter().collect();
    let mut tally = Tally::default();
    let mut decisions: Vec<Decision> = Vec::new();
    progress.note(&format!(
        "successive halving: {} configurations × {} seed(s); {}",
        configs.len(),
        configs.first().map_or(0, |c| c.runs.len()),
        halving.describe()
    ));
    for (rung, &epochs) in rungs.iter().enumerate() {
        let last = rung + 1 == rungs.len();
        // Train every run of the configurations left that has not reached
        // this rung's epochs (nor ended).
        let pending = pending_runs(results, &alive, epochs, opts.retry_failed);
        let runs_in_rung: usize = alive.iter().map(|c| c.runs.len()).sum();
        let rung_progress = Progress::new(runs_in_rung, runs_in_rung - pending.len(), opts.quiet);
        let done = train_pending(job, &pending, &rung_progress, Some(epochs))?;
        rung_progress.finish_all();
        tally.trained += done.trained;
        tally.diverged += done.diverged;
        tally.failed.extend(done.failed);
        if opts.stop.requested() {
            return Ok(tally);
        }

        let ranked = rank(results, &alive, epochs, halving.metric);
        let keep = if last {
            0
        } else {
            halving.promoted(ranked.len())
        };
        for (rank, (config, stat)) in ranked.iter().enumerate() {
            decisions.push(Decision {
                rung: rung + 1,
                epochs,
                index: config.index + 1,
                label: config.label.clone(),
                seeds: config.runs.len(),
                stat: *stat,
                rank: rank + 1,
                promoted: rank < keep,
            });
        }
        if !last {
            for (config, _) in &ranked[keep..] {
                tally.trained += stop_runs(results, config, epochs)?;
            }
            progress.note(&format!(
                "rung {}: {} configuration(s) at {epochs} epochs; the best {keep} on mean {} go on \
                 ({})",
                rung + 1,
                ranked.len(),
                halving.metric,
                ranked[..keep]
                    .iter()
                    .map(|(c, _)| c.label.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        alive = promoted(&ranked, keep);
        write_rungs(results, &decisions, halving.metric)?;
    }
    let trained: usize = exp
        .runs
        .iter()
        .filter_map(|spec| match measured(results, spec) {
            Measured::Ended(run) => Some(
                run.done
                    .stopped_epoch
                    .or(run.done.diverged_epoch)
                    .unwrap_or(run.spec.params.epochs),
            ),
            _ => None,
        })
        .sum();
    let full = exp.runs.len() * halving.max_epochs;
    progress.note(&format!(
        "successive halving trained {trained} run-epochs, {:.1} % of the {full} that the full \
         grid at {} epochs takes (decisions in {RUNGS_FILE})",
        100.0 * trained as f64 / full.max(1) as f64,
        halving.max_epochs
    ));
    Ok(tally)
}

/// The runs of `alive` that have not reached `epochs` (nor ended; with
/// `retry_failed`, runs that failed count as not there).
fn pending_runs<'a>(
    results: &ResultsDir,
    alive: &[&Configuration<'a>],
    epochs: usize,
    retry_failed: bool,
) -> Vec<&'a RunSpec> {
    alive
        .iter()
        .flat_map(|c| c.runs.iter().copied())
        .filter(|spec| needs_training(results, spec, epochs, retry_failed))
        .collect()
}

/// Whether run `spec` must train to reach `epochs`. A failed run (with
/// `retry_failed`) must, unless its last checkpoint is already there: it
/// failed in a later rung.
fn needs_training(results: &ResultsDir, spec: &RunSpec, epochs: usize, retry_failed: bool) -> bool {
    match measured(results, spec) {
        Measured::Nothing => true,
        Measured::Paused(done, _) => done < epochs,
        Measured::Ended(run) if retry_failed && run.done.status == Status::Failed => {
            !matches!(results.load_checkpoint(&spec.id), Some(Ok(c)) if c.epoch >= epochs)
        }
        Measured::Ended(_) => false,
    }
}

/// The configurations of `alive` ranked at `epochs`, best first, with the
/// statistics of their metric over seeds: on the mean, higher accuracy or
/// lower loss first; a configuration with a seed that diverged or failed
/// last; ties in grid order.
fn rank<'a, 'c>(
    results: &ResultsDir,
    alive: &[&'c Configuration<'a>],
    epochs: usize,
    metric: StopMetric,
) -> Vec<(&'c Configuration<'a>, Stat)> {
    let mut ranked: Vec<(&Configuration, Stat)> = alive
        .iter()
        .map(|c| {
            let mut values = scores(results, c, epochs, metric);
            if values.iter().any(|v| v.is_nan()) {
                values.clear();
            }
            (*c, Stat::of(&values))
        })
        .collect();
    let better = |s: &Stat| match (s.mean, metric) {
        (None, _) => f64::NEG_INFINITY,
        (Some(m), StopMetric::ValAcc) => m,
        (Some(m), StopMetric::ValLoss) => -m,
    };
    ranked.sort_by(|a, b| {
        better(&b.1)
            .total_cmp(&better(&a.1))
            .then(a.0.index.cmp(&b.0.index))
    });
    ranked
}

/// The `keep` best of `ranked`, back in grid order.
fn promoted<'a, 'c>(
    ranked: &[(&'c Configuration<'a>, Stat)],
    keep: usize,
) -> Vec<&'c Configuration<'a>> {
    let mut kept: Vec<&Configuration> = ranked[..keep].iter().map(|(c, _)| *c).collect();
    kept.sort_by_key(|c| c.index);
    kept
}

/// A rung whose work is not done: its index (0-based) and the runs that
/// have not reached its epochs (or failed).
struct Unfinished<'a> {
    rung: usize,
    epochs: usize,
    runs: Vec<&'a RunSpec>,
}

/// The configurations that rung `rung` (0-based) trains, from the decisions
/// of the rungs before it, recomputed from the records and checkpoints on
/// disk; the first of those rungs whose work is not done otherwise, since
/// deciding then would be wrong.
fn replay<'a, 'c>(
    results: &ResultsDir,
    configs: &'c [Configuration<'a>],
    halving: &Halving,
    rung: usize,
) -> Result<Vec<&'c Configuration<'a>>, Unfinished<'a>> {
    let mut alive: Vec<&Configuration> = configs.iter().collect();
    for (r, &epochs) in halving.rungs().iter().enumerate().take(rung) {
        let runs = pending_runs(results, &alive, epochs, true);
        if !runs.is_empty() {
            return Err(Unfinished {
                rung: r,
                epochs,
                runs,
            });
        }
        let ranked = rank(results, &alive, epochs, halving.metric);
        alive = promoted(&ranked, halving.promoted(ranked.len()));
    }
    Ok(alive)
}

/// The first rung (1-based) with work left (a run short of its epochs, or
/// failed), or `None` when every rung is done: what a `--retry` of a
/// halving search on Slurm resubmits from.
pub fn first_unfinished_rung(exp: &Experiment, results: &ResultsDir) -> Option<usize> {
    let halving = exp.search.halving.as_ref()?;
    let configs = configurations(exp);
    replay(results, &configs, halving, halving.rungs().len())
        .err()
        .map(|u| u.rung + 1)
}

/// `sweep run --rung R [--shard K/N]`: trains this shard's part of rung R
/// (the configurations the earlier rungs' decisions leave, recomputed from
/// disk) up to the rung's epochs, and decides nothing: the job after the
/// last rung, a plain `sweep run`, makes and records every decision.
pub(super) fn run_rung_task(job: &Job, halving: &Halving, rung: usize) -> Result<(usize, Tally)> {
    let Job {
        exp,
        opts,
        data,
        results,
        ..
    } = *job;
    let configs = configurations(exp);
    let epochs = halving.rungs()[rung - 1];
    let alive = replay(results, &configs, halving, rung - 1).map_err(|u| {
        crate::bad_input!(
            "rung {} of this halving search has not finished: {} run(s) have not reached \
             epoch {} (e.g. {}); train that rung first (`sweep slurm --retry` resubmits from \
             the first unfinished rung)",
            u.rung + 1,
            u.runs.len(),
            u.epochs,
            u.runs[0].id
        )
    })?;
    let runs: Vec<RunSpec> = alive
        .iter()
        .flat_map(|c| c.runs.iter().map(|s| (*s).clone()))
        .collect();
    let mine: Vec<&RunSpec> = match &opts.shard {
        Some(shard) => shard.select(&runs, &shard::costs(&runs, DataSize::of(data))),
        None => runs.iter().collect(),
    };
    let pending: Vec<&RunSpec> = mine
        .iter()
        .copied()
        .filter(|spec| needs_training(results, spec, epochs, opts.retry_failed))
        .collect();
    let progress = Progress::new(mine.len(), mine.len() - pending.len(), opts.quiet);
    progress.note(&format!(
        "successive halving, rung {rung} ({epochs} epochs): {} of the rung's {} runs here, {} \
         to train",
        mine.len(),
        runs.len(),
        pending.len()
    ));
    let tally = train_pending(job, &pending, &progress, Some(epochs))?;
    progress.finish_all();
    Ok((mine.len(), tally))
}

/// Records the runs of a configuration dropped at a rung as stopped after
/// `epochs` (from their checkpoints), removes the checkpoints, and says how
/// many runs it recorded.
fn stop_runs(results: &ResultsDir, config: &Configuration, epochs: usize) -> Result<usize> {
    let mut recorded = 0;
    for spec in &config.runs {
        // A run with a record ended already (or failed: that stays so).
        if let Record::Complete(_) = results.load_run(spec) {
            continue;
        }
        if let Some(Ok(checkpoint)) = results.load_checkpoint(&spec.id) {
            let mut outcome = checkpoint.outcome;
            outcome.stopped_epoch = Some(epochs);
            results.save_run(&FinishedRun::new(spec, outcome))?;
            results.remove_checkpoint(&spec.id);
            recorded += 1;
        }
    }
    Ok(recorded)
}

/// Writes every decision so far to `rungs.csv`.
fn write_rungs(results: &ResultsDir, decisions: &[Decision], metric: StopMetric) -> Result<()> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COLUMNS)?;
    for d in decisions {
        let (low, high) = d
            .stat
            .ci95
            .map_or((String::new(), String::new()), |(l, h)| (num(l), num(h)));
        writer.write_record([
            d.rung.to_string(),
            d.epochs.to_string(),
            d.index.to_string(),
            csv_text(&d.label),
            d.seeds.to_string(),
            metric.to_string(),
            d.stat.mean.map_or(String::new(), num),
            low,
            high,
            d.rank.to_string(),
            if d.promoted { "yes" } else { "no" }.to_string(),
        ])?;
    }
    write_atomic(&results.root().join(RUNGS_FILE), &writer.into_inner()?)
}
