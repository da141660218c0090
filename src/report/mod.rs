//! The report of a sweep, rebuilt from the files in its results folder
//! alone: `summary.csv` (statistics over seeds per configuration), plots as
//! SVG and PNG under `plots/`, and a self-contained `report.html`.

pub mod anova;
pub mod compare;
pub mod difference;
pub mod html;
pub mod importance;
pub mod interpolation;
pub mod mcnemar;
pub mod metric;
pub mod plots;
pub mod predictors;
pub mod rungs;
pub mod stats;
pub mod summary;
pub mod tradeoff;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::bad_input;
use crate::config::{Key, RunSpec};
use crate::files::{limits, read_bounded};
use crate::results::{FORMAT, FinishedRun, GridFile, Manifest, Record, ResultsDir, write_atomic};

/// Everything a report is built from, as read from a results folder.
#[derive(Debug, Clone)]
pub struct SweepResults {
    /// The results folder.
    pub root: PathBuf,
    /// What produced the results.
    pub manifest: Manifest,
    /// Every run of the grid.
    pub grid: GridFile,
    /// The settings the grid varies.
    pub swept: Vec<Key>,
    /// Runs of the grid with a complete record, by id.
    pub runs: HashMap<String, FinishedRun>,
    /// Runs of the grid whose record is damaged or incomplete (left out,
    /// like missing runs): `id (settings): why`.
    pub damaged: Vec<String>,
}

impl SweepResults {
    /// Reads the results folder `root` written by `sweep run` (of this
    /// version or an older one), checking every run's record.
    pub fn load(root: &Path) -> Result<SweepResults> {
        if !root.is_dir() {
            return Err(bad_input!(
                "{} is not a folder; give the results folder of a sweep, e.g. results/lambda",
                root.display()
            ));
        }
        let read = |name: &str, limit: u64| -> Result<Vec<u8>> {
            read_bounded(&root.join(name), limit).map_err(|e| {
                bad_input!(
                    "{} is not the results folder of a sweep: cannot read {name} ({e}); \
                     `sweep run FILE` writes it",
                    root.display()
                )
            })
        };
        let manifest: Manifest = serde_json::from_slice(&read("manifest.json", limits::SMALL)?)
            .map_err(|e| bad_input!("{} is damaged: {e}", root.join("manifest.json").display()))?;
        let grid: GridFile = serde_json::from_slice::<GridFile>(&read("grid.json", limits::GRID)?)
            .map_err(|e| bad_input!("{} is damaged: {e}", root.join("grid.json").display()))?
            .with_current_ids();
        let swept: Vec<Key> = grid
            .swept
            .iter()
            .filter_map(|name| Key::from_name(name))
            .collect();
        let dir = ResultsDir::new(root.to_path_buf(), &grid.dataset);
        let mut runs = HashMap::new();
        let mut damaged = Vec::new();
        for spec in &grid.runs {
            match dir.load_run(spec) {
                Record::Complete(mut run) => {
                    // Checked; the report has no use for them.
                    run.done.sha256.clear();
                    runs.insert(spec.id.clone(), *run);
                }
                Record::Damaged(why) => damaged.push(format!(
                    "{} ({}): {why}",
                    spec.id,
                    summary::label(&swept, &spec.params)
                )),
                Record::Missing => {}
            }
        }
        Ok(SweepResults {
            root: root.to_path_buf(),
            manifest,
            grid,
            swept,
            runs,
            damaged,
        })
    }

    /// Runs of the grid without a complete record, in grid order.
    pub fn missing(&self) -> Vec<&RunSpec> {
        self.grid
            .runs
            .iter()
            .filter(|s| !self.runs.contains_key(&s.id))
            .collect()
    }

    /// `lambda=0.01 seed=2`: the swept settings of run `spec`.
    pub fn run_label(&self, spec: &RunSpec) -> String {
        summary::label(&self.swept, &spec.params)
    }
}

/// What writing a report produced.
#[derive(Debug, Clone)]
pub struct ReportOutcome {
    /// The report page.
    pub html: PathBuf,
    /// Configurations summarised.
    pub configs: usize,
    /// Runs in the grid.
    pub runs_total: usize,
    /// Runs with a complete record.
    pub runs_done: usize,
    /// Runs without one: `id (settings)`.
    pub missing: Vec<String>,
    /// Runs whose record is damaged or incomplete: `id (settings): why`.
    pub damaged: Vec<String>,
    /// Plot files written (SVG and PNG).
    pub plots: Vec<PathBuf>,
    /// Something the user should know about the folder.
    pub note: Option<String>,
    /// Where the networks cross the interpolation threshold, when the
    /// sweep varies their size around it.
    pub crossings: Vec<interpolation::Crossing>,
    /// The sweep's answer in one line: the best configuration by the
    /// selection rule, the smallest gap at the best accuracy, and the range
    /// of the gaps.
    pub headline: Option<String>,
}

/// Rebuilds the results folder `root`'s report from the files in it:
/// `summary.csv`, `plots/` and `report.html`, and — for a folder of the
/// current format — `runs.csv` and `epochs.csv` in grid order. A folder of
/// sweep 0.1 is only read (`sweep run` upgrades it).
pub fn write(root: &Path) -> Result<ReportOutcome> {
    if !root.is_dir() {
        return Err(bad_input!(
            "{} is not a folder; give the results folder of a sweep, e.g. results/lambda",
            root.display()
        ));
    }
    // Loaded under the aggregate lock, so the tables rebuilt below hold
    // exactly the records on disk (see results::aggregate).
    // A folder without a manifest is no results folder: loading it says
    // why, and no lock file is left behind in it.
    let dir = ResultsDir::new(root.to_path_buf(), "");
    let lock = match dir.manifest_path().is_file() {
        true => dir.lock_aggregates().ok(),
        false => None,
    };
    let results = SweepResults::load(root)?;
    let mut outcome_note = None;
    match &lock {
        Some(lock) if results.manifest.format >= FORMAT => {
            let dir = ResultsDir::new(root.to_path_buf(), &results.grid.dataset);
            dir.aggregates().rebuild(
                lock,
                results
                    .grid
                    .runs
                    .iter()
                    .filter_map(|s| results.runs.get(&s.id)),
            )?;
        }
        _ if results.manifest.format < FORMAT => {
            outcome_note = Some(format!(
                "this folder was written by sweep {} (results format {}); its runs.csv and \
                 epochs.csv are left as they are until `sweep run {}` upgrades it",
                results.manifest.version, results.manifest.format, results.manifest.experiment_file
            ));
        }
        _ => {}
    }
    let mut outcome = write_results(&results)?;
    outcome.note = outcome_note;
    Ok(outcome)
}

/// Writes `summary.csv`, `plots/` and `report.html` of `results` into its
/// folder.
pub fn write_results(results: &SweepResults) -> Result<ReportOutcome> {
    write_report(results, None)
}

/// A report written while its sweep still trains.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    /// When the sweep started.
    pub started_at: String,
    /// When this report was made.
    pub refreshed_at: String,
    /// Seconds after which the page reloads itself.
    pub reload_seconds: u64,
}

/// Rebuilds `summary.csv`, `plots/` and `report.html` of the results folder
/// `root` while its sweep trains, from the records on disk, the page saying
/// that the sweep is running. It takes no lock: `runs.csv` and
/// `epochs.csv` stay the workers' to append to.
pub fn write_live(root: &Path, live: &Live) -> Result<ReportOutcome> {
    let results = SweepResults::load(root)?;
    write_report(&results, Some(live))
}

/// Writes the report of `results`; `live` while the sweep trains.
fn write_report(results: &SweepResults, live: Option<&Live>) -> Result<ReportOutcome> {
    let root = results.root.as_path();
    let configs = summary::configs(&results.grid.runs, &results.swept, &results.runs);
    write_atomic(
        &root.join("summary.csv"),
        &summary::summary_csv(&configs, &results.swept)?,
    )?;

    let mut figures = plots::figures(
        &results.manifest.name,
        &results.swept,
        &configs,
        results.grid.search.as_ref(),
    )?;
    // The gap heatmap (when two settings vary) before the other plots, and
    // the trade-off before it: they answer the sweep's question.
    if let Some(i) = figures
        .iter()
        .position(|f| f.stem.starts_with("heatmap_gap_"))
    {
        let heatmap = figures.remove(i);
        figures.insert(0, heatmap);
    }
    let rungs = rungs::read(root);
    let contenders = tradeoff::contenders(&configs, rungs.is_some());
    let choice = tradeoff::answer(&contenders, &results.grid.dataset);
    if let Some(choice) = &choice
        && let Some(figure) = plots::tradeoff_figure(&results.manifest.name, &contenders, choice)?
    {
        figures.insert(0, figure);
    }
    // Parallel coordinates after the answers, over every configuration
    // (the contenders themselves, but in a successive-halving search).
    let answer_among_all = match rungs {
        None => choice.clone(),
        Some(_) => tradeoff::answer(&configs, &results.grid.dataset),
    };
    if let Some(figure) = plots::parallel_figure(
        &results.manifest.name,
        &results.swept,
        &configs,
        results.grid.search.as_ref(),
        answer_among_all.as_ref(),
    )? {
        let after_answers = figures
            .iter()
            .take_while(|f| f.stem == "gap_vs_accuracy" || f.stem.starts_with("heatmap_gap_"))
            .count();
        figures.insert(after_answers, figure);
    }
    let headline = choice.map(|c| tradeoff::headline(&contenders, &c));
    let rankings = predictors::rank(&configs, &results.swept);
    let measured = configs
        .iter()
        .flat_map(|c| &c.finished)
        .filter(|r| r.done.measures.is_some())
        .count();
    let ranked = measured >= predictors::MIN_RUNS;
    let predictor_figures = match ranked {
        true => {
            let csv = predictors::measures_csv(&rankings, &results.swept)?;
            write_atomic(&root.join("measures.csv"), &csv)?;
            plots::predictor_figures(&results.manifest.name, &rankings, &configs, &results.swept)?
        }
        false => {
            // An earlier report's table would no longer match these runs.
            let stale = root.join("measures.csv");
            if stale.is_file() {
                fs::remove_file(&stale)
                    .with_context(|| format!("cannot remove {}", stale.display()))?;
            }
            Vec::new()
        }
    };
    let plot_dir = root.join("plots");
    fs::create_dir_all(&plot_dir)
        .with_context(|| format!("cannot create {}", plot_dir.display()))?;
    let mut written = Vec::new();
    for figure in figures.iter().chain(&predictor_figures) {
        for (ext, bytes) in [("svg", figure.svg.as_bytes()), ("png", &figure.png[..])] {
            let path = plot_dir.join(format!("{}.{ext}", figure.stem));
            write_atomic(&path, bytes)?;
            written.push(path);
        }
    }
    remove_stale_plots(&plot_dir, &written)?;

    let crossings = interpolation::crossings(&results.swept, &configs);
    // The experiment's `[compare] baseline`, once its configuration has runs.
    let m = &results.manifest;
    let comparison = match &m.baseline[..] {
        [] => None,
        wanted => compare::stratified(&configs, wanted, &m.within, &results.grid.dataset).ok(),
    };
    if let Some(against) = &comparison {
        write_atomic(
            &root.join("compare.csv"),
            &compare::compare_csv(&against.rows)?,
        )?;
        write_mcnemar(root, &configs, &against.pairs)?;
    }
    // Which settings matter: an analysis of variance of a plain grid, the
    // permutation importances of a sampled search; neither for halving,
    // whose configurations end at different epochs.
    let halving = rungs.is_some();
    let sampled = results.grid.search.is_some();
    let variance = (!sampled && !halving)
        .then(|| anova::of_metric(&configs, &results.swept, summary::Metric::GapAcc));
    if variance.is_some() {
        write_atomic(
            &root.join("anova.csv"),
            &anova::anova_csv(&configs, &results.swept)?,
        )?;
    }
    let importances =
        (sampled && !halving).then(|| importance::of_metrics(&configs, &results.swept));
    if let Some(found) = &importances {
        write_atomic(
            &root.join("importance.csv"),
            &importance::importance_csv(found)?,
        )?;
    }
    let html = root.join("report.html");
    let extras = html::Extras {
        crossings: &crossings,
        rungs: rungs.as_deref(),
        comparison: comparison.as_ref(),
        predictors: ranked.then_some((&rankings[..], &predictor_figures[..])),
        variance: variance.as_ref(),
        // The gap's, the first.
        importances: importances
            .as_ref()
            .and_then(|found| found.first())
            .map(|(_, gap)| gap),
        live,
    };
    if live.is_some() {
        // Plots and tables replaced, the page not yet.
        crate::faults::crash_point("live-report");
    }
    write_atomic(
        &html,
        html::report_html(results, &configs, &figures, &extras).as_bytes(),
    )?;
    let missing = results
        .missing()
        .into_iter()
        .map(|s| format!("{} ({})", s.id, results.run_label(s)))
        .collect();
    Ok(ReportOutcome {
        html,
        configs: configs.len(),
        runs_total: results.grid.runs.len(),
        runs_done: results.runs.len(),
        missing,
        damaged: results.damaged.clone(),
        plots: written,
        note: None,
        crossings,
        headline,
    })
}

/// `mcnemar.csv`: McNemar's test between each run and its baseline's run
/// of the same seed (`pairs`: configuration, baseline), when runs saved their test predictions
/// (`save_predictions = true`); nothing is written when none did.
pub fn write_mcnemar(
    root: &Path,
    configs: &[summary::Config],
    pairs: &[(usize, usize)],
) -> Result<usize> {
    let pairs: Vec<(&summary::Config, &summary::Config)> = pairs
        .iter()
        .map(|&(i, base)| (&configs[i], &configs[base]))
        .collect();
    let rows = mcnemar::tests(&pairs, (root, root));
    if !rows.is_empty() {
        write_atomic(&root.join("mcnemar.csv"), &mcnemar::mcnemar_csv(&rows)?)?;
    }
    Ok(rows.len())
}

/// Removes plots of an earlier report that this one no longer draws (a
/// setting that stopped varying), so `plots/` matches `report.html`.
fn remove_stale_plots(dir: &Path, keep: &[PathBuf]) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let ours = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("svg" | "png")
        );
        if ours && !keep.contains(&path) {
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}
