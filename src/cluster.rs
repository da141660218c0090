//! Running a sweep as a Slurm array job, and watching it: `sweep slurm`
//! (write the scripts and the shard assignment, print or submit the sbatch
//! commands, resubmit only unfinished shards) and `sweep status` (finished,
//! running, failed and missing runs, per shard).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::bad_input;
use crate::config::Experiment;
use crate::results::{GridFile, ResultsDir, write_atomic};
use crate::shard::{self, DataSize};
use crate::slurm::{self, ARRAY_SCRIPT, REPORT_SCRIPT, SlurmOptions};
use crate::sweep;
use crate::train::Status;

/// `slurm/shards.json`: which shard each run belongs to, as `sweep slurm`
/// computed it (so `sweep status` and `--retry` need no dataset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardFile {
    /// Number of shards (array tasks).
    pub tasks: usize,
    /// The run ids of each shard, in grid order.
    pub shards: Vec<Vec<String>>,
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
}

/// Writes the scripts and shard assignment for `exp` and, with `submit`,
/// submits them; with `retry`, submits only shards with unfinished or
/// failed runs.
pub fn prepare(
    exp: &Experiment,
    mut opts: SlurmOptions,
    submit: bool,
    retry: bool,
) -> Result<SlurmOutcome> {
    let data = sweep::load_data(exp)?;
    let results = ResultsDir::new(opts.results_dir(), &exp.dataset_label);
    let shard_path = opts.script_dir().join("shards.json");
    let saved: Option<ShardFile> = fs::read(&shard_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if retry {
        let Some(saved) = &saved else {
            return Err(bad_input!(
                "--retry needs an earlier `sweep slurm {}` ({} is missing); submit the sweep first",
                exp.path.display(),
                shard_path.display()
            ));
        };
        // A retry keeps the shards the first submission made.
        opts.tasks = saved.tasks;
    }
    opts.tasks = opts.tasks.min(exp.runs.len()).max(1);
    let costs = shard::costs(&exp.runs, DataSize::of(&data));
    let shard_of = shard::assign(&exp.runs, &costs, opts.tasks);
    let mut shards = vec![Vec::new(); opts.tasks];
    for (spec, &k) in exp.runs.iter().zip(&shard_of) {
        shards[k].push(spec.id.clone());
    }
    let file = ShardFile {
        tasks: opts.tasks,
        shards,
    };
    if let Some(saved) = &saved
        && retry
        && saved != &file
    {
        return Err(bad_input!(
            "the grid of {} changed since it was submitted, so its shards changed; \
             submit it again without --retry (finished runs are kept)",
            exp.path.display()
        ));
    }

    // Slurm does not create the log folder: a task whose log cannot be
    // opened fails before it starts.
    fs::create_dir_all(opts.log_dir()).map_err(|e| {
        bad_input!(
            "cannot create {}: {e}; choose a writable folder with --out",
            opts.log_dir().display()
        )
    })?;
    let dir = opts.script_dir();
    write_atomic(&dir.join(ARRAY_SCRIPT), opts.array_script()?.as_bytes())?;
    write_atomic(&dir.join(REPORT_SCRIPT), opts.report_script()?.as_bytes())?;
    write_atomic(&shard_path, &serde_json::to_vec_pretty(&file)?)?;
    // The grid, so that `sweep status` works before any task has started.
    if results.read_grid().is_none() {
        results.write_grid(&GridFile {
            dataset: exp.dataset_label.clone(),
            swept: exp.swept.iter().map(|k| k.name().to_string()).collect(),
            runs: exp.runs.clone(),
        })?;
    }

    let to_submit: Vec<usize> = if retry {
        let status = status(&opts.results_dir())?;
        status
            .shards
            .iter()
            .filter(|s| s.missing + s.failed > 0 && !s.running)
            .map(|s| s.index)
            .collect()
    } else {
        (0..opts.tasks).collect()
    };
    let runs_per_shard = file.shards.iter().map(Vec::len).collect();
    let mut outcome = SlurmOutcome {
        script_dir: dir.clone(),
        tasks: opts.tasks,
        runs_per_shard,
        commands: opts.submit_commands()?,
        submitted: None,
        shards_submitted: to_submit.clone(),
    };
    if retry {
        outcome.commands = format!(
            "array=$(sbatch --parsable --array={} {})\n\
             sbatch --dependency=afterany:\"${{array%%;*}}\" {}\n",
            slurm::array_spec(&to_submit, opts.max_parallel),
            dir.join(ARRAY_SCRIPT).display(),
            dir.join(REPORT_SCRIPT).display()
        );
    }
    if (submit || retry) && !to_submit.is_empty() {
        let mut array = Command::new("sbatch");
        array.arg("--parsable");
        if retry {
            array.arg(format!(
                "--array={}",
                slurm::array_spec(&to_submit, opts.max_parallel)
            ));
        }
        let array_id = sbatch(array.arg(dir.join(ARRAY_SCRIPT)))?;
        let report_id = sbatch(
            Command::new("sbatch")
                .arg("--parsable")
                .arg(format!("--dependency=afterany:{array_id}"))
                .arg(dir.join(REPORT_SCRIPT)),
        )?;
        outcome.submitted = Some((array_id, report_id));
    }
    Ok(outcome)
}

/// Runs an sbatch command and returns the job id it printed.
fn sbatch(cmd: &mut Command) -> Result<u64> {
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
}

/// Reads the state of the results folder `root`.
pub fn status(root: &Path) -> Result<SweepStatus> {
    let grid: GridFile = fs::read(root.join("grid.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            bad_input!(
                "{} is not the results folder of a sweep (no readable grid.json); \
                 give e.g. results/lambda",
                root.display()
            )
        })?;
    let results = ResultsDir::new(root.to_path_buf(), &grid.dataset);
    let state: HashMap<&str, Status> = grid
        .runs
        .iter()
        .filter_map(|s| results.load_run(s).map(|r| (s.id.as_str(), r.done.status)))
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
    };
    let whole_running = results.whole_run_running();
    let total = count(
        0,
        &mut grid.runs.iter().map(|s| s.id.as_str()),
        whole_running,
    );
    let shard_file: Option<ShardFile> = fs::read(root.join("slurm").join("shards.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
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
    })
}
