//! Running a sweep as a Slurm array job, and watching it: `sweep slurm`
//! (write the scripts and the shard assignment, print or submit the sbatch
//! commands, resubmit only unfinished shards) and `sweep status` (finished,
//! running, failed and missing runs, per shard).

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::bad_input;
use crate::config::Experiment;
use crate::files::{limits, read_bounded};
use crate::results::{GridFile, ResultsDir, write_atomic};
use crate::shard::{self, DataSize};
use crate::slurm::{self, ARRAY_SCRIPT, GivenOptions, REPORT_SCRIPT, SlurmOptions, SubmitOptions};
use crate::sweep;
use crate::train::Status;

pub mod halving;

/// `slurm/shards.json`: which shard each run belongs to, as `sweep slurm`
/// computed it (so `sweep status` and `--retry` need no dataset), the
/// options it was submitted with and the array jobs submitted since.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardFile {
    /// Number of shards (array tasks).
    pub tasks: usize,
    /// The run ids of each shard, in grid order.
    pub shards: Vec<Vec<String>>,
    /// The options of the first submission; absent in files of sweep 0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<SubmitOptions>,
    /// Job ids of the array jobs submitted for this sweep, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub array_jobs: Vec<u64>,
}

/// What `sweep slurm` did.
#[derive(Debug, Clone)]
pub struct SlurmOutcome {
    /// Folder holding the scripts.
    pub script_dir: PathBuf,
    /// Shards in the array.
    pub tasks: usize,
    /// Runs per shard.
    pub runs_per_shard: Vec<usize>,
    /// The commands that submit the jobs (printed without `--submit`).
    pub commands: String,
    /// Job ids of the array and report jobs, when submitted.
    pub submitted: Option<(u64, u64)>,
    /// Shards submitted (all, or those left by `--retry`).
    pub shards_submitted: Vec<usize>,
    /// Shards left alone by `--retry` because a task of theirs is queued or
    /// running.
    pub shards_alive: Vec<usize>,
    /// The options the scripts were written with, as flags.
    pub options: String,
    /// For `--retry`: each option given now that replaced the first
    /// submission's, `--flag: old → new`.
    pub changed: Vec<String>,
    /// For `--retry` of a sweep whose first options were not recorded.
    pub note: Option<String>,
}

/// Reads `slurm/shards.json` of the results folder `root`, if any.
pub fn read_shard_file(root: &Path) -> Option<ShardFile> {
    let bytes = read_bounded(&root.join("slurm").join("shards.json"), limits::GRID).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes the scripts and shard assignment for `exp` and, with `submit`,
/// submits them; with `retry`, submits only shards with unfinished or
/// failed runs and no task queued or running, with the options of the first
/// submission (those in `given` replace them). Everything is checked before
/// anything is created.
pub fn prepare(
    exp: &Experiment,
    base: SlurmOptions,
    given: &GivenOptions,
    submit: bool,
    retry: bool,
) -> Result<SlurmOutcome> {
    let data = sweep::load_data(exp)?;
    let results = ResultsDir::new(base.results_dir(), &exp.dataset_label);
    let shard_path = base.script_dir().join("shards.json");
    let saved = read_shard_file(results.root());
    let (submit_options, changed, note) =
        submission_options(exp, &saved, given, retry, &shard_path)?;
    let mut opts = SlurmOptions {
        submit: submit_options,
        ..base
    };
    opts.submit.tasks = opts.submit.tasks.min(exp.runs.len()).max(1);
    let shards = split_into_shards(exp, &data, opts.submit.tasks);
    if let Some(saved) = &saved
        && retry
        && saved.shards != shards
    {
        return Err(bad_input!(
            "the grid of {} changed since it was submitted (or it was submitted by another \
             version of sweep), so its shards changed; submit it again without --retry \
             (finished runs are kept)",
            exp.path.display()
        ));
    }
    // Every check before anything is created: the scripts' text validates
    // every option.
    let array_script = opts.array_script()?;
    let report_script = opts.report_script()?;
    let mut file = ShardFile {
        tasks: opts.submit.tasks,
        shards,
        options: Some(opts.submit.clone()),
        array_jobs: saved.map(|s| s.array_jobs).unwrap_or_default(),
    };
    let (to_submit, alive) = match retry {
        true => shards_to_retry(&opts, &file)?,
        false => ((0..opts.submit.tasks).collect(), Vec::new()),
    };

    create_log_dir(&opts)?;
    let dir = opts.script_dir();
    write_atomic(&dir.join(ARRAY_SCRIPT), array_script.as_bytes())?;
    write_atomic(&dir.join(REPORT_SCRIPT), report_script.as_bytes())?;
    write_atomic(&shard_path, &serde_json::to_vec_pretty(&file)?)?;
    // The grid, so that `sweep status` works before any task has started.
    if results.read_grid().is_none() {
        results.write_grid(&GridFile::of(exp))?;
    }

    let mut outcome = SlurmOutcome {
        script_dir: dir.clone(),
        tasks: opts.submit.tasks,
        runs_per_shard: file.shards.iter().map(Vec::len).collect(),
        commands: opts.submit_commands()?,
        submitted: None,
        shards_submitted: to_submit.clone(),
        shards_alive: alive,
        options: opts.submit.flags(),
        changed,
        note,
    };
    if retry {
        outcome.commands = format!(
            "array=$(sbatch --parsable --array={} {})\n\
             sbatch --dependency=afterany:\"${{array%%;*}}\" {}\n",
            slurm::array_spec(&to_submit, opts.submit.max_parallel),
            dir.join(ARRAY_SCRIPT).display(),
            dir.join(REPORT_SCRIPT).display()
        );
    }
    if (submit || retry) && !to_submit.is_empty() {
        outcome.submitted = Some(submit_jobs(
            &opts,
            &to_submit,
            retry,
            &mut file,
            &shard_path,
        )?);
    }
    Ok(outcome)
}

/// The options to submit with: the defaults, or on `--retry` the first
/// submission's, with those given now replacing them; which changed, and a
/// note when the first ones were not recorded.
fn submission_options(
    exp: &Experiment,
    saved: &Option<ShardFile>,
    given: &GivenOptions,
    retry: bool,
    shard_path: &Path,
) -> Result<(SubmitOptions, Vec<String>, Option<String>)> {
    if !retry {
        let (options, _) = SubmitOptions::default().overridden_by(given);
        return Ok((options, Vec::new(), None));
    }
    let Some(saved) = saved else {
        return Err(bad_input!(
            "--retry needs an earlier `sweep slurm {}` ({} is missing); submit the sweep first",
            exp.path.display(),
            shard_path.display()
        ));
    };
    if let Some(t) = given.tasks
        && t != saved.tasks
    {
        return Err(bad_input!(
            "--tasks {t} cannot change on --retry: the sweep was split into {} shards; leave \
             --tasks out, or submit again without --retry (finished runs are kept)",
            saved.tasks
        ));
    }
    let mut note = None;
    let first = saved.options.clone().unwrap_or_else(|| {
        note = Some(
            "the first submission's options were not recorded (it was made by sweep 0.1); \
             using the defaults and the options given now"
                .to_string(),
        );
        SubmitOptions {
            tasks: saved.tasks,
            ..SubmitOptions::default()
        }
    });
    let (options, changed) = first.overridden_by(given);
    Ok((options, changed, note))
}

/// The run ids of each of `tasks` shards, balanced by estimated work.
fn split_into_shards(
    exp: &Experiment,
    data: &crate::data::Dataset,
    tasks: usize,
) -> Vec<Vec<String>> {
    let costs = shard::costs(&exp.runs, DataSize::of(data));
    let shard_of = shard::assign(&exp.runs, &costs, tasks);
    let mut shards = vec![Vec::new(); tasks];
    for (spec, &k) in exp.runs.iter().zip(&shard_of) {
        shards[k].push(spec.id.clone());
    }
    shards
}

/// On `--retry`: the shards with unfinished or failed runs to submit again,
/// and those left alone because a task of theirs is queued or running.
fn shards_to_retry(opts: &SlurmOptions, file: &ShardFile) -> Result<(Vec<usize>, Vec<usize>)> {
    let queued = queued_shards(&file.array_jobs)?;
    let status = status(&opts.results_dir())?;
    let unfinished: Vec<&ShardStatus> = status
        .shards
        .iter()
        .filter(|s| s.missing + s.failed > 0)
        .collect();
    let alive: Vec<usize> = unfinished
        .iter()
        .filter(|s| s.running || queued.contains(&s.index))
        .map(|s| s.index)
        .collect();
    let to_submit: Vec<usize> = unfinished
        .iter()
        .map(|s| s.index)
        .filter(|k| !alive.contains(k))
        .collect();
    Ok((to_submit, alive))
}

/// Submits the array job (only the shards `to_submit` on `--retry`),
/// records it in the shard file, then the report job after it; their ids.
fn submit_jobs(
    opts: &SlurmOptions,
    to_submit: &[usize],
    retry: bool,
    file: &mut ShardFile,
    shard_path: &Path,
) -> Result<(u64, u64)> {
    let dir = opts.script_dir();
    let mut array = Command::new("sbatch");
    array.arg("--parsable");
    if retry {
        array.arg(format!(
            "--array={}",
            slurm::array_spec(to_submit, opts.submit.max_parallel)
        ));
    }
    let array_id = sbatch(array.arg(dir.join(ARRAY_SCRIPT)))?;
    file.array_jobs.push(array_id);
    write_atomic(shard_path, &serde_json::to_vec_pretty(file)?)?;
    let report_id = sbatch(
        Command::new("sbatch")
            .arg("--parsable")
            .arg(format!("--dependency=afterany:{array_id}"))
            .arg(dir.join(REPORT_SCRIPT)),
    )?;
    Ok((array_id, report_id))
}

/// Creates the jobs' log folder. Slurm does not: a task whose log cannot
/// be opened fails before it starts.
pub(crate) fn create_log_dir(opts: &SlurmOptions) -> Result<()> {
    fs::create_dir_all(opts.log_dir()).map_err(|e| {
        bad_input!(
            "cannot create {}: {e}; choose a writable folder with --out",
            opts.log_dir().display()
        )
    })
}

/// The shards (array task ids) of `jobs` that Slurm still has queued or
/// running.
pub(crate) fn queued_shards(jobs: &[u64]) -> Result<BTreeSet<usize>> {
    if jobs.is_empty() {
        return Ok(BTreeSet::new());
    }
    let out = Command::new("squeue")
        .args(slurm::queue_command(jobs))
        .output()
        .map_err(|e| {
            bad_input!(
                "cannot run squeue to see which tasks are still queued or running ({e}); \
                 --retry needs the Slurm commands (run it on a login node)"
            )
        })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // Jobs that ended long ago are forgotten: none of them is alive.
        if stderr.contains("Invalid job id") {
            return Ok(BTreeSet::new());
        }
        return Err(anyhow::anyhow!(
            "squeue failed, so it is unknown which tasks are still queued: {}",
            stderr.trim()
        ));
    }
    Ok(slurm::alive_tasks(
        &String::from_utf8_lossy(&out.stdout),
        jobs,
    ))
}

/// Runs an sbatch command and returns the job id it printed.
pub(crate) fn sbatch(cmd: &mut Command) -> Result<u64> {
    let out = cmd.output().map_err(|e| {
        bad_input!("cannot run sbatch ({e}); is this a Slurm login node with sbatch on the PATH?")
    })?;
    if !out.status.success() {
        return Err(anyhow::anyhow!(
            "sbatch failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    slurm::parse_job_id(&String::from_utf8_lossy(&out.stdout))
}

/// The state of one shard's runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardStatus {
    /// Shard index K of N.
    pub index: usize,
    /// Runs in it.
    pub runs: usize,
    /// Finished every epoch.
    pub finished: usize,
    /// Loss became NaN or infinite.
    pub diverged: usize,
    /// Stopped with an error.
    pub failed: usize,
    /// No record yet.
    pub missing: usize,
    /// A `sweep run --shard K/N` holds the shard now.
    pub running: bool,
}

/// The state of a results folder.
#[derive(Debug, Clone)]
pub struct SweepStatus {
    /// All runs of the grid, as one pseudo-shard (index 0).
    pub total: ShardStatus,
    /// Per shard, when `sweep slurm` recorded an assignment.
    pub shards: Vec<ShardStatus>,
    /// An unsharded `sweep run` holds the folder now.
    pub whole_running: bool,
    /// Failed runs: `id: message`.
    pub failures: Vec<String>,
    /// Runs without a record that a halving search paused at a rung (they
    /// count as missing until they end).
    pub paused: usize,
    /// The kernel the folder trains with (manifest.json), if recorded.
    pub kernel: Option<String>,
    /// Runs with a record per kernel label ([`crate::results::kernel_counts`]).
    pub kernels: Vec<(String, usize)>,
}

/// Reads the state of the results folder `root`.
pub fn status(root: &Path) -> Result<SweepStatus> {
    let grid: GridFile = crate::results::read_grid(root).ok_or_else(|| {
        bad_input!(
            "{} is not the results folder of a sweep (no readable grid.json); \
                 give e.g. results/lambda",
            root.display()
        )
    })?;
    let results = ResultsDir::new(root.to_path_buf(), &grid.dataset);
    let records: Vec<(&str, crate::results::RunDone)> = grid
        .runs
        .iter()
        .filter_map(|s| {
            results
                .load_run(s)
                .complete()
                .map(|r| (s.id.as_str(), r.done))
        })
        .collect();
    let kernels = crate::results::kernel_counts(records.iter().map(|(_, done)| done));
    let state: HashMap<&str, Status> = records
        .iter()
        .map(|(id, done)| (*id, done.status))
        .collect();
    let failures = grid
        .runs
        .iter()
        .filter(|s| state.get(s.id.as_str()) == Some(&Status::Failed))
        .map(|s| {
            let msg =
                fs::read_to_string(results.run_dir(&s.id).join("error.txt")).unwrap_or_default();
            format!("{}: {}", s.id, msg.trim())
        })
        .collect();
    let count = |index: usize, ids: &mut dyn Iterator<Item = &str>, running: bool| {
        ShardStatus::count(index, ids, running, &state)
    };
    let paused = grid
        .runs
        .iter()
        .filter(|s| !state.contains_key(s.id.as_str()) && results.has_checkpoint(&s.id))
        .count();
    let whole_running = results.whole_run_running();
    let total = count(
        0,
        &mut grid.runs.iter().map(|s| s.id.as_str()),
        whole_running,
    );
    let shard_file = read_shard_file(root).map(|f| with_current_ids(f, &grid));
    let shards = shard_file.map_or(Vec::new(), |f| {
        f.shards
            .iter()
            .enumerate()
            .map(|(k, ids)| {
                count(
                    k,
                    &mut ids.iter().map(String::as_str),
                    results.shard_running(k, f.tasks),
                )
            })
            .collect()
    });
    Ok(SweepStatus {
        total,
        shards,
        whole_running,
        failures,
        paused,
        kernel: results.read_manifest().map(|m| m.kernel_shown()),
        kernels,
    })
}

impl ShardStatus {
    /// The status of shard `index` holding the runs `ids`, from the
    /// status of each run that has a record.
    fn count(
        index: usize,
        ids: &mut dyn Iterator<Item = &str>,
        running: bool,
        state: &HashMap<&str, Status>,
    ) -> ShardStatus {
        let mut s = ShardStatus {
            index,
            runs: 0,
            finished: 0,
            diverged: 0,
            failed: 0,
            missing: 0,
            running,
        };
        for id in ids {
            s.runs += 1;
            match state.get(id) {
                Some(Status::Finished) => s.finished += 1,
                Some(Status::Diverged) => s.diverged += 1,
                Some(Status::Failed) => s.failed += 1,
                None => s.missing += 1,
            }
        }
        s
    }
}

/// A shard file with every run under its current id (a file of sweep 0.1
/// names runs by their old ids).
fn with_current_ids(mut file: ShardFile, grid: &GridFile) -> ShardFile {
    let current: HashMap<String, String> = grid
        .runs
        .iter()
        .filter_map(|s| {
            crate::config::legacy_run_id(&grid.dataset, &s.params).map(|old| (old, s.id.clone()))
        })
        .collect();
    for id in file.shards.iter_mut().flatten() {
        if let Some(new) = current.get(id) {
            id.clone_from(new);
        }
    }
    file
}
