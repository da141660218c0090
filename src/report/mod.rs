//! The report of a sweep, rebuilt from the files in its results folder
//! alone: `summary.csv` (statistics over seeds per configuration), plots as
//! SVG and PNG under `plots/`, and a self-contained `report.html`.

pub mod html;
pub mod plots;
pub mod stats;
pub mod summary;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::bad_input;
use crate::config::{Key, RunSpec};
use crate::results::{FinishedRun, GridFile, Manifest, ResultsDir, write_atomic};

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
}

impl SweepResults {
    /// Reads the results folder `root` written by `sweep run`.
    pub fn load(root: &Path) -> Result<SweepResults> {
        if !root.is_dir() {
            return Err(bad_input!(
                "{} is not a folder; give the results folder of a sweep, e.g. results/lambda",
                root.display()
            ));
        }
        let read = |name: &str| -> Result<Vec<u8>> {
            let path = root.join(name);
            fs::read(&path).map_err(|e| {
                bad_input!(
                    "{} is not the results folder of a sweep: cannot read {name} ({e}); \
                     `sweep run FILE` writes it",
                    root.display()
                )
            })
        };
        let manifest: Manifest = serde_json::from_slice(&read("manifest.json")?)
            .map_err(|e| bad_input!("{} is damaged: {e}", root.join("manifest.json").display()))?;
        let grid: GridFile = serde_json::from_slice(&read("grid.json")?)
            .map_err(|e| bad_input!("{} is damaged: {e}", root.join("grid.json").display()))?;
        let swept = grid
            .swept
            .iter()
            .filter_map(|name| Key::from_name(name))
            .collect();
        let dir = ResultsDir::new(root.to_path_buf(), &grid.dataset);
        let runs = grid
            .runs
            .iter()
            .filter_map(|spec| dir.load_run(spec).map(|run| (spec.id.clone(), run)))
            .collect();
        Ok(SweepResults {
            root: root.to_path_buf(),
            manifest,
            grid,
            swept,
            runs,
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
    /// Plot files written (SVG and PNG).
    pub plots: Vec<PathBuf>,
}

/// Writes `summary.csv`, `plots/` and `report.html` into the results
/// folder `root` from the files in it.
pub fn write(root: &Path) -> Result<ReportOutcome> {
    let results = SweepResults::load(root)?;
    let configs = summary::configs(&results.grid.runs, &results.swept, &results.runs);
    write_atomic(
        &root.join("summary.csv"),
        &summary::summary_csv(&configs, &results.swept)?,
    )?;

    let figures = plots::figures(&results.manifest.name, &results.swept, &configs)?;
    let plot_dir = root.join("plots");
    fs::create_dir_all(&plot_dir)
        .with_context(|| format!("cannot create {}", plot_dir.display()))?;
    let mut written = Vec::new();
    for figure in &figures {
        for (ext, bytes) in [("svg", figure.svg.as_bytes()), ("png", &figure.png[..])] {
            let path = plot_dir.join(format!("{}.{ext}", figure.stem));
            write_atomic(&path, bytes)?;
            written.push(path);
        }
    }
    remove_stale_plots(&plot_dir, &written)?;

    let html = root.join("report.html");
    write_atomic(
        &html,
        html::report_html(&results, &configs, &figures).as_bytes(),
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
        plots: written,
    })
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
