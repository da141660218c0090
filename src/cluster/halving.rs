//! `sweep slurm` for a successive-halving search: one array job per rung,
//! each submitted with `--dependency=afterok` on the one before (so the
//! search runs unattended, and a failed rung stops the chain), then a
//! single job that runs `sweep run FILE` to make and record every decision
//! and write the report. `--retry` resubmits the chain from the first rung
//! with work left, with the first submission's options.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::{create_log_dir, queued_shards, sbatch};
use crate::bad_input;
use crate::config::Experiment;
use crate::config::search::Halving;
use crate::files::{limits, read_bounded};
use crate::results::{GridFile, ResultsDir, write_atomic};
use crate::shell::shell_word;
use crate::slurm::{DECIDE_SCRIPT, GivenOptions, SlurmOptions, SubmitOptions, rung_script_name};
use crate::sweep;

/// `slurm/halving.json`: the options of the first submission and every job
/// submitted since.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HalvingJobs {
    /// The options of the first submission (`--retry` keeps them).
    pub options: SubmitOptions,
    /// Job ids submitted (rung arrays and decide jobs), oldest first.
    pub jobs: Vec<u64>,
}

/// The file of submitted jobs in `<results>/slurm/`.
const JOBS_FILE: &str = "halving.json";

/// What `sweep slurm` did for a halving search.
#[derive(Debug, Clone)]
pub struct HalvingOutcome {
    /// Folder holding the scripts.
    pub script_dir: PathBuf,
    /// Per rung (Hyperband: per round, every bracket's rung of it): its
    /// epochs, runs and array tasks.
    pub rungs: Vec<(String, usize, usize)>,
    /// The first rung submitted (`None`: every rung is done, only the
    /// decide job is submitted).
    pub from_rung: Option<usize>,
    /// The commands that submit the jobs (printed without `--submit`).
    pub commands: String,
    /// Job ids submitted: the rung arrays from `from_rung` on, then the
    /// decide job.
    pub submitted: Vec<u64>,
    /// The options the scripts were written with, as flags.
    pub options: String,
    /// For `--retry`: each option given now that replaced the first
    /// submission's.
    pub changed: Vec<String>,
}

/// Writes the scripts of a halving search and, with `submit` (or `retry`),
/// submits the chain; with `retry`, from the first rung with work left.
pub fn prepare(
    exp: &Experiment,
    halving: &Halving,
    base: SlurmOptions,
    given: &GivenOptions,
    submit: bool,
    retry: bool,
) -> Result<HalvingOutcome> {
    let results = ResultsDir::new(base.results_dir(), &exp.dataset_label);
    let jobs_path = base.script_dir().join(JOBS_FILE);
    let saved: Option<HalvingJobs> = read_bounded(&jobs_path, limits::SMALL)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let (options, changed) = match (&saved, retry) {
        (None, true) => {
            return Err(bad_input!(
                "--retry needs an earlier `sweep slurm {}` ({} is missing); submit the search first",
                exp.path.display(),
                jobs_path.display()
            ));
        }
        (Some(saved), true) => saved.options.overridden_by(given),
        _ => (SubmitOptions::default().overridden_by(given).0, Vec::new()),
    };
    let opts = SlurmOptions {
        submit: options,
        ..base
    };
    let epochs = sweep::round_epochs(halving);
    let runs = sweep::runs_per_round(exp, halving);
    let tasks: Vec<usize> = runs
        .iter()
        .map(|&n| opts.submit.tasks.min(n).max(1))
        .collect();
    // Every script's text first: it validates every option.
    let scripts: Vec<String> = tasks
        .iter()
        .enumerate()
        .map(|(r, &t)| opts.rung_script(r + 1, t))
        .collect::<Result<_>>()?;
    let decide = opts.decide_script()?;
    let from_rung = match retry {
        true => rung_to_retry_from(exp, &results, saved.as_ref())?,
        false => Some(1),
    };

    create_log_dir(&opts)?;
    let dir = opts.script_dir();
    for (r, script) in scripts.iter().enumerate() {
        write_atomic(&dir.join(rung_script_name(r + 1)), script.as_bytes())?;
    }
    write_atomic(&dir.join(DECIDE_SCRIPT), decide.as_bytes())?;
    let mut file = HalvingJobs {
        options: opts.submit.clone(),
        jobs: saved.map(|s| s.jobs).unwrap_or_default(),
    };
    write_atomic(&jobs_path, &serde_json::to_vec_pretty(&file)?)?;
    if results.read_grid().is_none() {
        results.write_grid(&GridFile::of(exp))?;
    }

    // The chain: each rung after the one before, the decide job last.
    let first = from_rung.unwrap_or(epochs.len() + 1);
    let mut steps: Vec<PathBuf> = (first..=epochs.len())
        .map(|r| dir.join(rung_script_name(r)))
        .collect();
    steps.push(dir.join(DECIDE_SCRIPT));
    let commands = chain_commands(&steps);
    let submitted = match submit || retry {
        true => submit_chain(&steps, &mut file, &jobs_path)?,
        false => Vec::new(),
    };
    Ok(HalvingOutcome {
        script_dir: dir,
        rungs: epochs
            .iter()
            .zip(&runs)
            .zip(&tasks)
            .map(|((e, &n), &t)| {
                let epochs: Vec<String> = e.iter().map(|e| e.to_string()).collect();
                (epochs.join(", "), n, t)
            })
            .collect(),
        from_rung,
        commands,
        submitted,
        options: opts.submit.flags(),
        changed,
    })
}

/// On `--retry`: the first rung with unfinished runs (`None`: only the
/// decisions are left), once no job of the search is queued or running.
fn rung_to_retry_from(
    exp: &Experiment,
    results: &ResultsDir,
    saved: Option<&HalvingJobs>,
) -> Result<Option<usize>> {
    let alive = queued_shards(&saved.map(|s| s.jobs.clone()).unwrap_or_default())?;
    if !alive.is_empty() {
        return Err(bad_input!(
            "jobs of this search are still queued or running (see squeue); --retry resubmits \
             only once they have ended: wait, or scancel them first"
        ));
    }
    Ok(sweep::first_unfinished_rung(exp, results))
}

/// The shell commands that submit `steps` as a chain, each after the one
/// before, for a user to run.
fn chain_commands(steps: &[PathBuf]) -> String {
    let mut commands = String::new();
    for (i, script) in steps.iter().enumerate() {
        let dependency = if i == 0 {
            String::new()
        } else {
            format!(
                "--dependency=afterok:\"${{job{}%%;*}}\" --kill-on-invalid-dep=yes ",
                i - 1
            )
        };
        commands += &format!(
            "job{i}=$(sbatch --parsable {dependency}{})\n",
            shell_word(&script.to_string_lossy())
        );
    }
    commands
}

/// Submits `steps` as a chain, recording each job in `file` as it is
/// submitted; their ids.
fn submit_chain(steps: &[PathBuf], file: &mut HalvingJobs, jobs_path: &Path) -> Result<Vec<u64>> {
    let mut submitted: Vec<u64> = Vec::new();
    for script in steps {
        let mut cmd = Command::new("sbatch");
        cmd.arg("--parsable");
        if let Some(previous) = submitted.last() {
            cmd.arg(format!("--dependency=afterok:{previous}"))
                .arg("--kill-on-invalid-dep=yes");
        }
        let id = sbatch(cmd.arg(script))?;
        submitted.push(id);
        file.jobs.push(id);
        write_atomic(jobs_path, &serde_json::to_vec_pretty(file)?)?;
    }
    Ok(submitted)
}
