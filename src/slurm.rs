//! The text of the two batch scripts `sweep slurm` writes — an array job
//! whose task K runs `sweep run FILE --shard K/N`, and a report job that
//! runs `sweep report` once the array has ended — plus reading the job id
//! `sbatch --parsable` prints. Text only: nothing here writes files or
//! runs commands (the caller does), and only [`current_binary`] looks at the
//! system.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::bad_input;
use crate::shell::shell_word;

/// File name of the array job's script, in `<results>/slurm/`.
pub const ARRAY_SCRIPT: &str = "sweep.sbatch";
/// File name of the report job's script, in `<results>/slurm/`.
pub const REPORT_SCRIPT: &str = "report.sbatch";
/// File name of the last job of a halving search, in `<results>/slurm/`.
pub const DECIDE_SCRIPT: &str = "decide.sbatch";

/// File name of rung `rung`'s array script, in `<results>/slurm/`.
pub fn rung_script_name(rung: usize) -> String {
    format!("rung-{rung}.sbatch")
}

/// Everything the two scripts are made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmOptions {
    /// The `sweep` binary the jobs call: an absolute path (see
    /// [`current_binary`]) that the compute nodes can reach.
    pub binary: PathBuf,
    /// Folder the jobs run in (`#SBATCH --chdir`): the working directory of
    /// `sweep slurm`, absolute, so that the relative paths below mean the same
    /// in the jobs whatever folder `sbatch` is called from.
    pub workdir: PathBuf,
    /// The experiment file, as the user gave it.
    pub experiment: PathBuf,
    /// The `--out` folder, as the user gave it (results go to `<out>/<name>`).
    pub out: PathBuf,
    /// The sweep's name (its results folder's name).
    pub name: String,
    /// The options the user chose.
    pub submit: SubmitOptions,
    /// `--kernel`, passed on to every `sweep run` of the jobs.
    pub kernel: Option<crate::nn::KernelRequest>,
}

/// The options of a submission a user chooses (`--tasks`, `--time`, …), as
/// `slurm/shards.json` keeps them so that `--retry` submits with the same
/// ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitOptions {
    /// Array tasks = shards, N ≥ 1.
    pub tasks: usize,
    /// CPUs per task; each task trains this many runs at once.
    pub cpus_per_task: usize,
    /// Memory per task (`--mem`, e.g. `4G`), if set.
    pub mem: Option<String>,
    /// Time limit per task (`--time`, e.g. `2:00:00`), if set.
    pub time: Option<String>,
    /// Partition, if set (else the cluster's default).
    pub partition: Option<String>,
    /// At most this many tasks running at once (`--array=…%P`), if set.
    pub max_parallel: Option<usize>,
    /// Further options written as `#SBATCH <line>` into both scripts, e.g.
    /// `--account=proj --qos=short` (sbatch reads several options on one
    /// line); an entry holding several lines gives several `#SBATCH` lines.
    pub extra: Vec<String>,
}

impl Default for SubmitOptions {
    /// What `sweep slurm` uses when an option is not given.
    fn default() -> SubmitOptions {
        SubmitOptions {
            tasks: 4,
            cpus_per_task: 2,
            mem: None,
            time: None,
            partition: None,
            max_parallel: None,
            extra: Vec::new(),
        }
    }
}

/// Options given on one `sweep slurm` command line (`None`: not given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GivenOptions {
    /// `--tasks`.
    pub tasks: Option<usize>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<usize>,
    /// `--mem`.
    pub mem: Option<String>,
    /// `--time`.
    pub time: Option<String>,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--max-parallel`.
    pub max_parallel: Option<usize>,
    /// `--extra-sbatch` (empty: not given).
    pub extra: Vec<String>,
}

impl SubmitOptions {
    /// These options with those `given` replacing theirs, and a line
    /// `--flag: old → new` for each one that changed.
    pub fn overridden_by(&self, given: &GivenOptions) -> (SubmitOptions, Vec<String>) {
        let mut next = self.clone();
        let mut changes = Vec::new();
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        let show_n = |v: &Option<usize>| v.map_or("(none)".into(), |n| n.to_string());
        if let Some(t) = given.tasks
            && t != self.tasks
        {
            changes.push(format!("--tasks: {} → {t}", self.tasks));
            next.tasks = t;
        }
        if let Some(c) = given.cpus_per_task
            && c != self.cpus_per_task
        {
            changes.push(format!("--cpus-per-task: {} → {c}", self.cpus_per_task));
            next.cpus_per_task = c;
        }
        for (flag, old, new, slot) in [
            ("--mem", &self.mem, &given.mem, &mut next.mem),
            ("--time", &self.time, &given.time, &mut next.time),
            (
                "--partition",
                &self.partition,
                &given.partition,
                &mut next.partition,
            ),
        ] {
            if new.is_some() && new != old {
                changes.push(format!("{flag}: {} → {}", show(old), show(new)));
                *slot = new.clone();
            }
        }
        if given.max_parallel.is_some() && given.max_parallel != self.max_parallel {
            changes.push(format!(
                "--max-parallel: {} → {}",
                show_n(&self.max_parallel),
                show_n(&given.max_parallel)
            ));
            next.max_parallel = given.max_parallel;
        }
        if !given.extra.is_empty() && given.extra != self.extra {
            changes.push(format!(
                "--extra-sbatch: {:?} → {:?}",
                self.extra.join(" "),
                given.extra.join(" ")
            ));
            next.extra = given.extra.clone();
        }
        (next, changes)
    }

    /// The flags that give these options, as a user would type them.
    pub fn flags(&self) -> String {
        let mut flags = format!(
            "--tasks {} --cpus-per-task {}",
            self.tasks, self.cpus_per_task
        );
        for (flag, value) in [
            ("--mem", &self.mem),
            ("--time", &self.time),
            ("--partition", &self.partition),
        ] {
            if let Some(v) = value {
                let _ = write!(flags, " {flag} {}", shell_word(v));
            }
        }
        if let Some(p) = self.max_parallel {
            let _ = write!(flags, " --max-parallel {p}");
        }
        for e in &self.extra {
            let _ = write!(flags, " --extra-sbatch={}", shell_word(e));
        }
        flags
    }
}

impl SlurmOptions {
    /// The sweep's results folder, `<out>/<name>`.
    pub fn results_dir(&self) -> PathBuf {
        self.out.join(&self.name)
    }

    /// ` --kernel K` when `sweep slurm` was given one, else nothing (the
    /// tasks then follow the experiment file, or the folder's kernel).
    fn kernel_flag(&self) -> String {
        self.kernel
            .map_or(String::new(), |k| format!(" --kernel {k}"))
    }

    /// The folder the scripts are written to, `<out>/<name>/slurm`.
    pub fn script_dir(&self) -> PathBuf {
        self.results_dir().join("slurm")
    }

    /// The folder the jobs' logs go to, `<out>/<name>/slurm/logs`. Slurm does
    /// not create it: it must exist before the jobs start, or they end
    /// FAILED (`Reason=JobLaunchFailure`, exit code 0:53) without a log.
    pub fn log_dir(&self) -> PathBuf {
        self.script_dir().join("logs")
    }

    /// The array job's script (`sweep.sbatch`): task K of N runs
    /// `sweep run FILE --shard K/N --jobs C` and exits with its exit code.
    ///
    /// N is written into the script rather than read from
    /// `$SLURM_ARRAY_TASK_COUNT`, because a retry submits the same script
    /// with `--array=` listing only some shards, and then the count Slurm
    /// reports is the number of tasks retried, not N.
    pub fn array_script(&self) -> Result<String> {
        let mut s = self.array_header(&format!("sweep-{}", self.name), self.submit.tasks)?;
        let _ = writeln!(
            s,
            "\n# Shard $SLURM_ARRAY_TASK_ID of {n}. `exec` makes sweep's exit code the task's:\n\
             # a task with failed runs ends FAILED. N = {n} is written here, not read from\n\
             # $SLURM_ARRAY_TASK_COUNT: `sbatch --array=K,L {ARRAY_SCRIPT}` reruns only\n\
             # shards K and L of {n}, and then Slurm's count is 2.",
            n = self.submit.tasks
        );
        let _ = writeln!(
            s,
            "exec {} run {} --out {} --shard \"$SLURM_ARRAY_TASK_ID/{}\" --jobs \"${{SLURM_CPUS_PER_TASK:-{}}}\"{} --retry-failed --quiet",
            shell_quote(&self.binary)?,
            shell_quote(&self.experiment)?,
            shell_quote(&self.out)?,
            self.submit.tasks,
            self.submit.cpus_per_task,
            self.kernel_flag(),
        );
        Ok(s)
    }

    /// The head of an array job's script named `job`: logs per task, the
    /// array of `tasks` tasks, CPUs, memory and the common options.
    fn array_header(&self, job: &str, tasks: usize) -> Result<String> {
        self.check()?;
        let logs = self.log_dir();
        let mut s = self.header(job)?;
        directive(&mut s, "output", &logs, Some("%A_%a.out"))?;
        directive(&mut s, "error", &logs, Some("%A_%a.err"))?;
        let _ = writeln!(
            s,
            "#SBATCH --array={}",
            array_spec(&(0..tasks).collect::<Vec<_>>(), self.submit.max_parallel)
        );
        let _ = writeln!(s, "#SBATCH --cpus-per-task={}", self.submit.cpus_per_task);
        if let Some(mem) = &self.submit.mem {
            let _ = writeln!(s, "#SBATCH --mem={}", word("--mem", mem)?);
        }
        self.common(&mut s)?;
        Ok(s)
    }

    /// The array script of rung `rung` of a successive-halving search
    /// (`rung-R.sbatch`): task K of `tasks` runs `sweep run FILE --rung R
    /// --shard K/tasks`, training its part of the configurations the
    /// earlier rungs promoted (recomputed from the results folder) and
    /// deciding nothing.
    pub fn rung_script(&self, rung: usize, tasks: usize) -> Result<String> {
        let mut s = self.array_header(&format!("sweep-{}-rung{rung}", self.name), tasks)?;
        let _ = writeln!(
            s,
            "\n# Rung {rung} of a successive-halving search, shard $SLURM_ARRAY_TASK_ID of \
             {tasks}.\n# Submitted with --dependency=afterok on the previous rung's array.",
        );
        let _ = writeln!(
            s,
            "exec {} run {} --out {} --rung {rung} --shard \"$SLURM_ARRAY_TASK_ID/{tasks}\" --jobs \"${{SLURM_CPUS_PER_TASK:-{}}}\"{} --retry-failed --quiet",
            shell_quote(&self.binary)?,
            shell_quote(&self.experiment)?,
            shell_quote(&self.out)?,
            self.submit.cpus_per_task,
            self.kernel_flag(),
        );
        Ok(s)
    }

    /// The last job of a successive-halving search (`decide.sbatch`): a
    /// plain `sweep run FILE` after the last rung, which finds every run
    /// trained, makes and records every decision (`rungs.csv`, runs dropped
    /// at a rung) and writes the tables and the report; whatever a failed
    /// task left undone, it trains itself.
    pub fn decide_script(&self) -> Result<String> {
        self.check()?;
        let logs = self.log_dir();
        let mut s = self.header(&format!("sweep-{}-decide", self.name))?;
        directive(&mut s, "output", &logs, Some("decide_%j.out"))?;
        directive(&mut s, "error", &logs, Some("decide_%j.err"))?;
        let _ = writeln!(s, "#SBATCH --cpus-per-task={}", self.submit.cpus_per_task);
        if let Some(mem) = &self.submit.mem {
            let _ = writeln!(s, "#SBATCH --mem={}", word("--mem", mem)?);
        }
        self.common(&mut s)?;
        let _ = writeln!(
            s,
            "\nexec {} run {} --out {} --jobs \"${{SLURM_CPUS_PER_TASK:-{}}}\"{} --quiet",
            shell_quote(&self.binary)?,
            shell_quote(&self.experiment)?,
            shell_quote(&self.out)?,
            self.submit.cpus_per_task,
            self.kernel_flag(),
        );
        Ok(s)
    }

    /// The report job's script (`report.sbatch`): one CPU, no array, runs
    /// `sweep report <results>`. Submit it with
    /// `--dependency=afterany:<array job id>` so it runs once every task has
    /// ended, whether they succeeded or not.
    pub fn report_script(&self) -> Result<String> {
        self.check()?;
        let logs = self.log_dir();
        let mut s = self.header(&format!("sweep-{}-report", self.name))?;
        directive(&mut s, "output", &logs, Some("report_%j.out"))?;
        directive(&mut s, "error", &logs, Some("report_%j.err"))?;
        s.push_str("#SBATCH --cpus-per-task=1\n");
        self.common(&mut s)?;
        let _ = writeln!(
            s,
            "\nexec {} report {}",
            shell_quote(&self.binary)?,
            shell_quote(&self.results_dir())?
        );
        Ok(s)
    }

    /// The shell commands that submit both scripts, the report after the
    /// array (what `sweep slurm` prints without `--submit`).
    pub fn submit_commands(&self) -> Result<String> {
        let dir = self.script_dir();
        Ok(format!(
            "array=$(sbatch --parsable {})\n\
             sbatch --dependency=afterany:\"${{array%%;*}}\" {}\n",
            shell_quote(&dir.join(ARRAY_SCRIPT))?,
            shell_quote(&dir.join(REPORT_SCRIPT))?
        ))
    }

    fn check(&self) -> Result<()> {
        if self.submit.tasks == 0 {
            return Err(bad_input!("--tasks must be at least 1"));
        }
        if self.submit.cpus_per_task == 0 {
            return Err(bad_input!("--cpus-per-task must be at least 1"));
        }
        if self.submit.max_parallel == Some(0) {
            return Err(bad_input!("--max-parallel must be at least 1"));
        }
        if !self.binary.is_absolute() || !self.workdir.is_absolute() {
            return Err(bad_input!(
                "the sweep binary ({}) and the working folder ({}) must be absolute paths",
                self.binary.display(),
                self.workdir.display()
            ));
        }
        Ok(())
    }

    /// Shebang, job name, working folder and the note saying where the
    /// script came from.
    fn header(&self, job_name: &str) -> Result<String> {
        let mut s = String::from("#!/bin/bash\n");
        let _ = writeln!(
            s,
            "# Written by `sweep slurm {}`; submit with the commands it prints.",
            // A newline in the path must not end the comment.
            self.experiment.display().to_string().escape_debug()
        );
        let _ = writeln!(s, "#SBATCH --job-name={job_name}");
        directive(&mut s, "chdir", &self.workdir, None)?;
        Ok(s)
    }

    /// The options both scripts share, then the shell's strict mode. Every
    /// `#SBATCH` line must come before the first command: sbatch stops
    /// reading them there.
    fn common(&self, s: &mut String) -> Result<()> {
        if let Some(time) = &self.submit.time {
            let _ = writeln!(s, "#SBATCH --time={}", word("--time", time)?);
        }
        if let Some(partition) = &self.submit.partition {
            let _ = writeln!(s, "#SBATCH --partition={}", word("--partition", partition)?);
        }
        for line in self.submit.extra.iter().flat_map(|e| e.lines()) {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if !line.starts_with('-') || line.chars().any(|c| c.is_control()) {
                return Err(bad_input!(
                    "--extra-sbatch takes sbatch options such as \"--account=proj --qos=short\"; got {line:?}"
                ));
            }
            let _ = writeln!(s, "#SBATCH {line}");
        }
        s.push_str("set -euo pipefail\n");
        Ok(())
    }
}

/// The `--array` value for the shards `indices` (sorted or not), runs of
/// consecutive shards as ranges: `[0, 1, 2, 5]` → `0-2,5`; with at most
/// `max_parallel` tasks at once, `%P` is added.
pub fn array_spec(indices: &[usize], max_parallel: Option<usize>) -> String {
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        while i + 1 < sorted.len() && sorted[i + 1] == sorted[i] + 1 {
            i += 1;
        }
        parts.push(if sorted[i] == start {
            start.to_string()
        } else {
            format!("{start}-{}", sorted[i])
        });
        i += 1;
    }
    let mut spec = parts.join(",");
    if let Some(p) = max_parallel {
        let _ = write!(spec, "%{p}");
    }
    spec
}

/// The job id in what `sbatch --parsable` printed: `12345` or, on a
/// multi-cluster site, `12345;cluster`.
pub fn parse_job_id(output: &str) -> Result<u64> {
    let text = output.trim();
    let id = text.split(';').next().unwrap_or_default().trim();
    id.parse::<u64>().map_err(|_| {
        anyhow::anyhow!("sbatch --parsable printed {text:?}, not a job id like \"12345\"")
    })
}

/// States in which a job has ended for good (`squeue` may still list it
/// for a while); in every other state it is queued or running.
const ENDED_STATES: &[&str] = &[
    "BOOT_FAIL",
    "CANCELLED",
    "COMPLETED",
    "DEADLINE",
    "FAILED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "REVOKED",
    "TIMEOUT",
];

/// The `squeue` command whose output [`alive_tasks`] reads: every task of
/// the array jobs `jobs`, one per line.
pub fn queue_command(jobs: &[u64]) -> Vec<String> {
    vec![
        "--noheader".into(),
        "--array".into(),
        format!(
            "--jobs={}",
            jobs.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
        "--format=%F|%K|%T".into(),
    ]
}

/// The array task ids (= shard indices) of `jobs` that are queued or running,
/// from the output of [`queue_command`]: lines `JOB|TASK|STATE`, where TASK
/// may be a range `4-7` or `4-7%2` for tasks not yet split off.
pub fn alive_tasks(output: &str, jobs: &[u64]) -> BTreeSet<usize> {
    let mut alive = BTreeSet::new();
    for line in output.lines() {
        let mut fields = line.trim().split('|');
        let (Some(job), Some(tasks), Some(state)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Ok(job) = job.trim().parse::<u64>() else {
            continue;
        };
        if !jobs.contains(&job) || ENDED_STATES.contains(&state.trim()) {
            continue;
        }
        let tasks = tasks.split('%').next().unwrap_or_default();
        for part in tasks.split(',') {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            if let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                alive.extend(a..=b.min(a + 1_000_000));
            }
        }
    }
    alive
}

/// The absolute path of the running `sweep` binary, for the scripts to call.
pub fn current_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find the path of the sweep binary: {e}"))?;
    Ok(exe.canonicalize().unwrap_or(exe))
}

/// One `#SBATCH --NAME=DIR[/PATTERN]` line. sbatch reads these lines
/// itself, without a shell, so a path cannot be quoted: refuse folders with
/// characters that would break it (`%` would be taken as a file-name
/// pattern). `pattern` is ours, e.g. `%A_%a.out`.
fn directive(s: &mut String, name: &str, dir: &Path, pattern: Option<&str>) -> Result<()> {
    let text = utf8(dir)?;
    if text.is_empty() || has_bad_chars(text) {
        return Err(bad_input!(
            "cannot use the folder {text:?} in an #SBATCH --{name} line: it is empty or holds a \
             space, quote, backslash or %; choose a folder without them"
        ));
    }
    match pattern {
        Some(file) => {
            let _ = writeln!(s, "#SBATCH --{name}={}", dir.join(file).display());
        }
        None => {
            let _ = writeln!(s, "#SBATCH --{name}={text}");
        }
    }
    Ok(())
}

fn has_bad_chars(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_whitespace() || c.is_control() || "\"'%\\".contains(c))
}

/// A user-given value of an `#SBATCH` option: one word.
fn word<'a>(flag: &str, value: &'a str) -> Result<&'a str> {
    let value = value.trim();
    if value.is_empty() || has_bad_chars(value) {
        return Err(bad_input!(
            "{flag} takes one word without spaces or quotes, e.g. {}; got {value:?}",
            match flag {
                "--mem" => "4G",
                "--time" => "2:00:00",
                _ => "gpu",
            }
        ));
    }
    Ok(value)
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        bad_input!(
            "the path {} is not valid UTF-8; batch scripts need plain text paths",
            path.display()
        )
    })
}

/// `path` as one shell word: as it is when it holds only safe characters,
/// else in single quotes.
fn shell_quote(path: &Path) -> Result<String> {
    Ok(shell_word(utf8(path)?))
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    fn options() -> SlurmOptions {
        SlurmOptions {
            binary: PathBuf::from("/opt/sweep/bin/sweep"),
            workdir: PathBuf::from("/home/ada/project"),
            experiment: PathBuf::from("experiments/lambda.toml"),
            out: PathBuf::from("results"),
            name: "lambda".into(),
            submit: SubmitOptions::default(),
            kernel: None,
        }
    }

    /// The options of [`options`] with `submit` instead of the defaults.
    fn submitting(submit: SubmitOptions) -> SlurmOptions {
        SlurmOptions {
            submit,
            ..options()
        }
    }

    /// Runs `script` with bash in the environment `env`: (exit code, stdout).
    fn run_bash(script: &str, env: &[(&str, &str)]) -> (i32, String) {
        let out = Command::new("bash")
            .arg("-c")
            .arg(script)
            .env_remove("SLURM_CPUS_PER_TASK")
            .envs(env.iter().copied())
            .output()
            .expect("bash runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    #[test]
    fn the_array_script_runs_shard_k_of_n_with_the_task_cpus() {
        assert_eq!(
            options().array_script().unwrap(),
            "#!/bin/bash\n\
             # Written by `sweep slurm experiments/lambda.toml`; submit with the commands it prints.\n\
             #SBATCH --job-name=sweep-lambda\n\
             #SBATCH --chdir=/home/ada/project\n\
             #SBATCH --output=results/lambda/slurm/logs/%A_%a.out\n\
             #SBATCH --error=results/lambda/slurm/logs/%A_%a.err\n\
             #SBATCH --array=0-3\n\
             #SBATCH --cpus-per-task=2\n\
             set -euo pipefail\n\
             \n\
             # Shard $SLURM_ARRAY_TASK_ID of 4. `exec` makes sweep's exit code the task's:\n\
             # a task with failed runs ends FAILED. N = 4 is written here, not read from\n\
             # $SLURM_ARRAY_TASK_COUNT: `sbatch --array=K,L sweep.sbatch` reruns only\n\
             # shards K and L of 4, and then Slurm's count is 2.\n\
             exec /opt/sweep/bin/sweep run experiments/lambda.toml --out results \
             --shard \"$SLURM_ARRAY_TASK_ID/4\" --jobs \"${SLURM_CPUS_PER_TASK:-2}\" --retry-failed --quiet\n"
        );
    }

    #[test]
    fn a_kernel_given_to_sweep_slurm_reaches_every_sweep_run_of_the_jobs() {
        let plain = options();
        let gemm = SlurmOptions {
            kernel: Some(crate::nn::KernelRequest::Use(crate::nn::Kernel::Gemm)),
            ..options()
        };
        for script in [
            gemm.array_script().unwrap(),
            gemm.rung_script(2, 3).unwrap(),
            gemm.decide_script().unwrap(),
        ] {
            let run = script.lines().find(|l| l.starts_with("exec ")).unwrap();
            assert!(run.contains(" --kernel gemm "), "{run}");
        }
        assert!(!plain.array_script().unwrap().contains("--kernel"));
    }

    #[test]
    fn optional_settings_appear_only_when_given() {
        let plain = options().array_script().unwrap();
        for absent in ["--mem", "--time", "--partition", "%"] {
            assert!(
                !plain.lines().any(|l| l.starts_with("#SBATCH")
                    && l.contains(absent)
                    && !l.contains("%A_%a")),
                "{absent} in\n{plain}"
            );
        }
        let full = submitting(SubmitOptions {
            mem: Some("4G".into()),
            time: Some("2:00:00".into()),
            partition: Some("short".into()),
            max_parallel: Some(2),
            extra: vec![
                "--account=ml --comment=x".into(),
                " ".into(),
                "--qos=low\n\n  --nice=5\n".into(),
            ],
            ..SubmitOptions::default()
        })
        .array_script()
        .unwrap();
        for line in [
            "#SBATCH --array=0-3%2",
            "#SBATCH --mem=4G",
            "#SBATCH --time=2:00:00",
            "#SBATCH --partition=short",
            "#SBATCH --account=ml --comment=x",
            "#SBATCH --qos=low",
            "#SBATCH --nice=5",
        ] {
            assert!(full.lines().any(|l| l == line), "no {line:?} in\n{full}");
        }
        assert!(!full.contains("#SBATCH \n"), "{full}");
    }

    #[test]
    fn every_sbatch_line_comes_before_the_first_command() {
        for script in [
            options().array_script().unwrap(),
            options().report_script().unwrap(),
        ] {
            let lines: Vec<&str> = script.lines().collect();
            let first_command = lines
                .iter()
                .position(|l| !l.is_empty() && !l.starts_with('#'))
                .unwrap();
            let last_directive = lines
                .iter()
                .rposition(|l| l.starts_with("#SBATCH"))
                .unwrap();
            assert!(last_directive < first_command, "{script}");
            assert_eq!(lines[first_command], "set -euo pipefail");
            assert!(lines.last().unwrap().starts_with("exec "), "{script}");
        }
    }

    #[test]
    fn the_report_script_is_one_task_that_runs_sweep_report() {
        let script = submitting(SubmitOptions {
            mem: Some("64G".into()),
            partition: Some("short".into()),
            ..SubmitOptions::default()
        })
        .report_script()
        .unwrap();
        assert!(script.contains("#SBATCH --job-name=sweep-lambda-report\n"));
        assert!(script.contains("#SBATCH --output=results/lambda/slurm/logs/report_%j.out\n"));
        assert!(script.contains("#SBATCH --cpus-per-task=1\n"));
        assert!(script.contains("#SBATCH --partition=short\n"));
        assert!(
            !script.contains("--array") && !script.contains("--mem"),
            "{script}"
        );
        assert!(script.ends_with("\nexec /opt/sweep/bin/sweep report results/lambda\n"));
    }

    #[test]
    fn the_task_runs_its_own_shard_and_exits_with_sweeps_code() {
        let echo = SlurmOptions {
            binary: PathBuf::from("/bin/echo"),
            experiment: PathBuf::from("my experiments/it's.toml"),
            ..options()
        };
        let script = echo.array_script().unwrap();
        let (code, out) = run_bash(
            &script,
            &[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_CPUS_PER_TASK", "8")],
        );
        assert_eq!(code, 0);
        assert_eq!(
            out,
            "run my experiments/it's.toml --out results --shard 3/4 --jobs 8 --retry-failed --quiet\n"
        );
        let (_, out) = run_bash(&script, &[("SLURM_ARRAY_TASK_ID", "0")]);
        assert!(
            out.ends_with("--shard 0/4 --jobs 2 --retry-failed --quiet\n"),
            "{out}"
        );

        let failing = SlurmOptions {
            binary: PathBuf::from("/bin/false"),
            ..options()
        };
        let (code, _) = run_bash(
            &failing.array_script().unwrap(),
            &[("SLURM_ARRAY_TASK_ID", "1")],
        );
        assert_eq!(code, 1);
        // Outside an array job the task refuses to start (set -u).
        let (code, out) = run_bash(&echo.array_script().unwrap(), &[]);
        assert_ne!(code, 0);
        assert_eq!(out, "");
    }

    #[test]
    fn unusable_values_are_refused_with_the_flag_named() {
        let err = |o: SlurmOptions| o.array_script().unwrap_err().to_string();
        let e = err(SlurmOptions {
            workdir: PathBuf::from("/home/ada/my project"),
            ..options()
        });
        assert!(e.contains("\"/home/ada/my project\""), "{e}");
        let e = err(SlurmOptions {
            out: PathBuf::from("100%"),
            ..options()
        });
        assert!(e.contains("#SBATCH --output"), "{e}");
        let e = err(submitting(SubmitOptions {
            mem: Some("4 G".into()),
            ..SubmitOptions::default()
        }));
        assert!(e.starts_with("--mem takes one word"), "{e}");
        let e = err(submitting(SubmitOptions {
            extra: vec!["account=ml".into()],
            ..SubmitOptions::default()
        }));
        assert!(e.starts_with("--extra-sbatch takes sbatch options"), "{e}");
        let e = err(submitting(SubmitOptions {
            extra: vec!["--qos=low\nrm -rf x".into()],
            ..SubmitOptions::default()
        }));
        assert!(e.ends_with("got \"rm -rf x\""), "{e}");
        // A newline in a path stays inside the comment and the quotes.
        let script = SlurmOptions {
            binary: PathBuf::from("/bin/echo"),
            experiment: PathBuf::from("x\necho y.toml"),
            ..options()
        }
        .array_script()
        .unwrap();
        assert!(script.contains("`sweep slurm x\\necho y.toml`"), "{script}");
        let (_, out) = run_bash(&script, &[("SLURM_ARRAY_TASK_ID", "0")]);
        assert!(out.starts_with("run x\necho y.toml --out"), "{out}");
        assert_eq!(
            err(submitting(SubmitOptions {
                tasks: 0,
                ..SubmitOptions::default()
            })),
            "--tasks must be at least 1"
        );
        assert_eq!(
            err(submitting(SubmitOptions {
                max_parallel: Some(0),
                ..SubmitOptions::default()
            })),
            "--max-parallel must be at least 1"
        );
        let e = err(SlurmOptions {
            binary: PathBuf::from("target/release/sweep"),
            ..options()
        });
        assert!(e.contains("must be absolute"), "{e}");
    }

    #[test]
    fn submit_commands_chain_the_report_after_the_array() {
        assert_eq!(
            options().submit_commands().unwrap(),
            "array=$(sbatch --parsable results/lambda/slurm/sweep.sbatch)\n\
             sbatch --dependency=afterany:\"${array%%;*}\" results/lambda/slurm/report.sbatch\n"
        );
    }

    #[test]
    fn array_specs_join_consecutive_shards() {
        assert_eq!(array_spec(&[0, 1, 2, 3], None), "0-3");
        assert_eq!(array_spec(&[0], None), "0");
        assert_eq!(array_spec(&[5, 0, 2, 1, 7, 6, 1], Some(3)), "0-2,5-7%3");
        assert_eq!(array_spec(&[1, 3], None), "1,3");
    }

    #[test]
    fn job_ids_are_read_from_parsable_output() {
        assert_eq!(parse_job_id("12345\n").unwrap(), 12345);
        assert_eq!(parse_job_id("678;cluster-a\n").unwrap(), 678);
        let err = parse_job_id("Submitted batch job 5\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "sbatch --parsable printed \"Submitted batch job 5\", not a job id like \"12345\""
        );
        assert!(parse_job_id("").is_err());
    }

    #[test]
    fn queued_and_running_tasks_are_read_from_squeue() {
        let out = "7|2|PENDING\n7|0|RUNNING\n7|1|COMPLETING\n7|3|CANCELLED\n\
                   9|4-6%2|PENDING\n8|5|RUNNING\ngarbage\n";
        let alive: Vec<usize> = alive_tasks(out, &[7, 9]).into_iter().collect();
        assert_eq!(alive, [0, 1, 2, 4, 5, 6]);
        assert_eq!(
            queue_command(&[7, 9]),
            ["--noheader", "--array", "--jobs=7,9", "--format=%F|%K|%T"]
        );
    }

    #[test]
    fn a_retry_keeps_the_first_options_and_names_those_it_changes() {
        let first = SubmitOptions {
            tasks: 3,
            cpus_per_task: 4,
            time: Some("1:00:00".into()),
            partition: Some("short".into()),
            max_parallel: Some(2),
            extra: vec!["--account=proj --qos=short".into()],
            ..SubmitOptions::default()
        };
        let (same, changes) = first.overridden_by(&GivenOptions::default());
        assert_eq!((same, changes.len()), (first.clone(), 0));
        let (next, changes) = first.overridden_by(&GivenOptions {
            time: Some("2:00:00".into()),
            cpus_per_task: Some(4),
            ..GivenOptions::default()
        });
        assert_eq!(next.time.as_deref(), Some("2:00:00"));
        assert_eq!(next.partition.as_deref(), Some("short"));
        assert_eq!(changes, ["--time: 1:00:00 → 2:00:00"]);
        assert_eq!(
            first.flags(),
            "--tasks 3 --cpus-per-task 4 --time 1:00:00 --partition short --max-parallel 2 \
             --extra-sbatch='--account=proj --qos=short'"
        );
    }

    #[test]
    fn the_current_binary_is_an_absolute_path() {
        assert!(current_binary().unwrap().is_absolute());
    }
}
