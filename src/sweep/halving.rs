//! Successive halving, synchronous and deterministic: a rung trains every
//! run of the configurations left to its epochs (continuing paused runs
//! from their checkpoints), ranks the configurations by the mean over seeds
//! of the validation metric at that epoch (ties by grid order), keeps the
//! best 1/η, and records the runs of the others as stopped there.
//!
//! Hyperband runs several such halvings, its brackets, side by side:
//! round r trains the r-th rung of every bracket that has one (each run to
//! its own bracket's epochs), then each bracket decides alone. A search of
//! one bracket has rounds that are its rungs.
//!
//! Every decision is a pure function of what the records and checkpoints on
//! disk hold, so a resumed or re-run search makes the same decisions, and
//! writes them to `rungs.csv`.

use std::collections::HashMap;

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

/// One configuration: its index in grid order, its Hyperband bracket and
/// its runs (one per seed).
struct Configuration<'a> {
    index: usize,
    label: String,
    bracket: Option<usize>,
    runs: Vec<&'a RunSpec>,
}

/// One halving of the search as it stands: the epochs of its rungs and the
/// configurations still in it.
struct Bracket<'c, 'a> {
    number: Option<usize>,
    rungs: Vec<usize>,
    alive: Vec<&'c Configuration<'a>>,
}

impl Bracket<'_, '_> {
    /// The epochs of the bracket's rung in round `round` (0-based), if it
    /// has one.
    fn rung(&self, round: usize) -> Option<usize> {
        self.rungs.get(round).copied()
    }
}

/// The brackets of `halving`, each with its configurations of `configs`.
fn brackets<'c, 'a>(halving: &Halving, configs: &'c [Configuration<'a>]) -> Vec<Bracket<'c, 'a>> {
    halving
        .brackets()
        .iter()
        .map(|b| Bracket {
            number: b.number,
            rungs: halving.bracket_rungs(b.number),
            alive: configs.iter().filter(|c| c.bracket == b.number).collect(),
        })
        .collect()
}

/// What a bracket of a halving search trains, for plans and Slurm arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct BracketShape {
    /// Hyperband's s, or `None` for a search of one bracket.
    pub bracket: Option<usize>,
    /// The epochs of its rungs.
    pub rungs: Vec<usize>,
    /// Configurations per rung (the first: every one drawn for it).
    pub configurations: Vec<usize>,
    /// Seeds per configuration.
    pub seeds: usize,
    /// Run-epochs the bracket trains, whichever configurations it promotes.
    pub run_epochs: usize,
}

/// The brackets of `exp`'s halving search, as its runs make them.
pub fn shapes(exp: &Experiment, halving: &Halving) -> Vec<BracketShape> {
    let configs = configurations(exp);
    brackets(halving, &configs)
        .iter()
        .map(|b| {
            let seeds = b.alive.first().map_or(0, |c| c.runs.len());
            BracketShape {
                bracket: b.number,
                rungs: b.rungs.clone(),
                configurations: halving.configurations_per_rung(b.number, b.alive.len()),
                seeds,
                run_epochs: halving.run_epochs(b.number, b.alive.len(), seeds),
            }
        })
        .collect()
}

/// Runs each round of `exp`'s halving search trains (every bracket's rung
/// of that round): the Slurm array of that round.
pub fn runs_per_round(exp: &Experiment, halving: &Halving) -> Vec<usize> {
    let shapes = shapes(exp, halving);
    let rounds = shapes.iter().map(|s| s.rungs.len()).max().unwrap_or(0);
    (0..rounds)
        .map(|r| {
            shapes
                .iter()
                .filter_map(|s| s.configurations.get(r).map(|n| n * s.seeds))
                .sum()
        })
        .collect()
}

/// The epochs each round of `halving` trains to, bracket by bracket.
pub fn round_epochs(halving: &Halving) -> Vec<Vec<usize>> {
    let per_bracket: Vec<Vec<usize>> = halving
        .brackets()
        .iter()
        .map(|b| halving.bracket_rungs(b.number))
        .collect();
    (0..rounds(halving))
        .map(|r| {
            per_bracket
                .iter()
                .filter_map(|e| e.get(r).copied())
                .collect()
        })
        .collect()
}

/// How many rounds `halving` has: the rungs of its widest bracket.
pub fn rounds(halving: &Halving) -> usize {
    halving.rungs().len()
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
                        bracket: spec.params.bracket,
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
    bracket: Option<usize>,
    rung: usize,
    epochs: usize,
    index: usize,
    label: String,
    seeds: usize,
    stat: Stat,
    rank: usize,
    promoted: bool,
}

/// The columns of `rungs.csv` (`bracket`, last, is empty but in Hyperband).
const COLUMNS: [&str; 12] = [
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
    "bracket",
];

/// Runs the rounds of `halving` (the rungs of every bracket) and writes
/// `rungs.csv`.
pub(super) fn run_rungs(job: &Job, halving: &Halving, progress: &Progress) -> Result<Tally> {
    let Job {
        exp, opts, results, ..
    } = *job;
    let configs = configurations(exp);
    let mut brackets = brackets(halving, &configs);
    let mut tally = Tally::default();
    let mut decisions: Vec<Decision> = Vec::new();
    let sizes = match brackets.as_slice() {
        [one] if one.number.is_none() => String::new(),
        _ => format!(
            " ({})",
            brackets
                .iter()
                .map(|b| format!(
                    "bracket s = {}: {} from {} epochs",
                    b.number.unwrap_or(0),
                    b.alive.len(),
                    b.rungs[0]
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    progress.note(&format!(
        "successive halving: {} configurations{sizes} × {} seed(s); {}",
        configs.len(),
        configs.first().map_or(0, |c| c.runs.len()),
        halving.describe()
    ));
    for round in 0..rounds(halving) {
        // Train every run of the configurations left that has not reached
        // its bracket's epochs this round (nor ended).
        let (pending, until) = round_work(results, &brackets, round, opts.retry_failed);
        let runs_in_round: usize = brackets
            .iter()
            .filter(|b| b.rung(round).is_some())
            .flat_map(|b| &b.alive)
            .map(|c| c.runs.len())
            .sum();
        let round_progress =
            Progress::new(runs_in_round, runs_in_round - pending.len(), opts.quiet);
        let done = train_pending(job, &pending, &round_progress, Some(&until))?;
        round_progress.finish_all();
        tally.trained += done.trained;
        tally.diverged += done.diverged;
        tally.failed.extend(done.failed);
        if opts.stop.requested() {
            return Ok(tally);
        }
        for bracket in &mut brackets {
            tally.trained += decide(results, halving, bracket, round, &mut decisions, progress)?;
        }
        write_rungs(results, &decisions, halving.metric)?;
    }
    note_spent(exp, halving, results, &brackets, progress);
    Ok(tally)
}

/// The runs round `round` trains, each with the epochs it trains to.
fn round_work<'a>(
    results: &ResultsDir,
    brackets: &[Bracket<'_, 'a>],
    round: usize,
    retry_failed: bool,
) -> (Vec<&'a RunSpec>, Vec<usize>) {
    brackets
        .iter()
        .filter_map(|b| Some((b, b.rung(round)?)))
        .flat_map(|(b, epochs)| {
            pending_runs(results, &b.alive, epochs, retry_failed)
                .into_iter()
                .map(move |spec| (spec, epochs))
        })
        .unzip()
}

/// Ranks the configurations of `bracket` at its rung of round `round` (if
/// it has one), records the decisions, stops the runs of those dropped,
/// and keeps the promoted; says how many runs it recorded as stopped.
fn decide(
    results: &ResultsDir,
    halving: &Halving,
    bracket: &mut Bracket,
    round: usize,
    decisions: &mut Vec<Decision>,
    progress: &Progress,
) -> Result<usize> {
    let Some(epochs) = bracket.rung(round) else {
        return Ok(0);
    };
    let last = round + 1 == bracket.rungs.len();
    let ranked = rank(results, &bracket.alive, epochs, halving.metric);
    let keep = if last {
        0
    } else {
        halving.promoted(ranked.len())
    };
    for (rank, (config, stat)) in ranked.iter().enumerate() {
        decisions.push(Decision {
            bracket: bracket.number,
            rung: round + 1,
            epochs,
            index: config.index + 1,
            label: config.label.clone(),
            seeds: config.runs.len(),
            stat: *stat,
            rank: rank + 1,
            promoted: rank < keep,
        });
    }
    let mut stopped = 0;
    let name = bracket
        .number
        .map_or(String::new(), |s| format!("bracket s = {s}, "));
    if last {
        if let Some((best, stat)) = ranked.first() {
            progress.note(&format!(
                "{name}last rung ({epochs} epochs): best {} on mean {} {}",
                best.label,
                halving.metric,
                stat.mean.map_or("—".to_string(), num)
            ));
        }
    } else {
        for (config, _) in &ranked[keep..] {
            stopped += stop_runs(results, config, epochs)?;
        }
        progress.note(&format!(
            "{name}rung {}: {} configuration(s) at {epochs} epochs; the best {keep} on mean {} \
             go on ({})",
            round + 1,
            ranked.len(),
            halving.metric,
            ranked[..keep]
                .iter()
                .map(|(c, _)| c.label.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    bracket.alive = promoted(&ranked, keep);
    Ok(stopped)
}

/// Says what the search trained against training every run to the end.
fn note_spent(
    exp: &Experiment,
    halving: &Halving,
    results: &ResultsDir,
    brackets: &[Bracket],
    progress: &Progress,
) {
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
    let per_bracket = match brackets.first().and_then(|b| b.number) {
        Some(_) => ", bracket by bracket",
        None => "",
    };
    progress.note(&format!(
        "successive halving trained {trained} run-epochs, {:.1} % of the {full} that training \
         every run to {} epochs takes (decisions in {RUNGS_FILE}{per_bracket})",
        100.0 * trained as f64 / full.max(1) as f64,
        halving.max_epochs
    ));
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

/// A round whose work is not done: its index (0-based), the epochs of a
/// bracket's rung in it, and the runs that have not reached their rung's
/// epochs (or failed).
struct Unfinished<'a> {
    rung: usize,
    epochs: usize,
    runs: Vec<&'a RunSpec>,
}

/// The brackets as round `round` (0-based) finds them, from the decisions
/// of the rounds before it, recomputed from the records and checkpoints on
/// disk; the first of those rounds whose work is not done otherwise, since
/// deciding then would be wrong.
fn replay<'c, 'a>(
    results: &ResultsDir,
    configs: &'c [Configuration<'a>],
    halving: &Halving,
    round: usize,
) -> Result<Vec<Bracket<'c, 'a>>, Unfinished<'a>> {
    let mut brackets = brackets(halving, configs);
    for r in 0..round {
        let (runs, epochs) = round_work(results, &brackets, r, true);
        if let Some(&epochs) = epochs.first() {
            return Err(Unfinished {
                rung: r,
                epochs,
                runs,
            });
        }
        for bracket in &mut brackets {
            if let Some(epochs) = bracket.rung(r) {
                let ranked = rank(results, &bracket.alive, epochs, halving.metric);
                let keep = halving.promoted(ranked.len());
                bracket.alive = promoted(&ranked, keep);
            }
        }
    }
    Ok(brackets)
}

/// The first rung (1-based) with work left (a run short of its epochs, or
/// failed), or `None` when every rung is done: what a `--retry` of a
/// halving search on Slurm resubmits from.
pub fn first_unfinished_rung(exp: &Experiment, results: &ResultsDir) -> Option<usize> {
    let halving = exp.search.halving.as_ref()?;
    let configs = configurations(exp);
    replay(results, &configs, halving, rounds(halving))
        .err()
        .map(|u| u.rung + 1)
}

/// `sweep run --rung R [--shard K/N]`: trains this shard's part of round
/// R (every bracket's R-th rung, with the configurations the earlier
/// rounds' decisions leave, recomputed from disk), each run up to its
/// rung's epochs, and decides nothing: the job after the last round, a
/// plain `sweep run`, makes and records every decision.
pub(super) fn run_rung_task(
    job: &Job,
    halving: &Halving,
    rung: usize,
    started_at: &str,
) -> Result<(usize, Tally)> {
    let Job {
        exp,
        opts,
        data,
        results,
        ..
    } = *job;
    let configs = configurations(exp);
    let round = rung - 1;
    let brackets = replay(results, &configs, halving, round).map_err(|u| {
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
    let mut runs: Vec<RunSpec> = Vec::new();
    let mut epochs_of: HashMap<String, usize> = HashMap::new();
    for bracket in &brackets {
        let Some(epochs) = bracket.rung(round) else {
            continue;
        };
        for spec in bracket.alive.iter().flat_map(|c| &c.runs) {
            epochs_of.insert(spec.id.clone(), epochs);
            runs.push((*spec).clone());
        }
    }
    let mine: Vec<&RunSpec> = match &opts.shard {
        Some(shard) => shard.select(&runs, &shard::costs(&runs, DataSize::of(data))),
        None => runs.iter().collect(),
    };
    let (pending, until): (Vec<&RunSpec>, Vec<usize>) = mine
        .iter()
        .map(|&spec| (spec, epochs_of[&spec.id]))
        .filter(|&(spec, epochs)| needs_training(results, spec, epochs, opts.retry_failed))
        .unzip();
    let progress = Progress::new(mine.len(), mine.len() - pending.len(), opts.quiet);
    let epochs: Vec<String> = brackets
        .iter()
        .filter_map(|b| b.rung(round))
        .map(|e| e.to_string())
        .collect();
    progress.note(&format!(
        "successive halving, rung {rung} ({} epochs): {} of the rung's {} runs here, {} \
         to train",
        epochs.join(", "),
        mine.len(),
        runs.len(),
        pending.len()
    ));
    let tally =
        super::live::while_training(results, opts.report_every, started_at, &progress, || {
            train_pending(job, &pending, &progress, Some(&until))
        })?;
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

/// Every decision so far to `rungs.csv`, bracket by bracket (the widest
/// first), rung by rung, best first.
fn write_rungs(results: &ResultsDir, decisions: &[Decision], metric: StopMetric) -> Result<()> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COLUMNS)?;
    let mut ordered: Vec<&Decision> = decisions.iter().collect();
    ordered.sort_by_key(|d| (std::cmp::Reverse(d.bracket), d.rung, d.rank));
    for d in ordered {
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
            d.bracket.map_or(String::new(), |b| b.to_string()),
        ])?;
    }
    write_atomic(&results.root().join(RUNGS_FILE), &writer.into_inner()?)
}
