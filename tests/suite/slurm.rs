//! `sweep slurm` on a real Slurm: the single-node cluster `ci/local-slurm.sh`
//! brings up on localhost (`.ci/run` starts it, sets `SLURM_CONF` and runs
//! these ignored tests with `cargo test -- --ignored`).
//!
//! A sweep submitted as a 3-task array gives every run exactly once, with
//! the same numbers as `sweep run` on one machine; a task whose run fails
//! ends FAILED in Slurm and `--retry` resubmits only its shard; `scancel`
//! half-way, then `--retry`, completes the sweep.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::util::{Sandbox, Table, metrics, text};

/// 6 runs of about half a second on 2 000 real MNIST images.
const EXPERIMENT: &str = "name = \"s\"\n[data]\ndataset = \"mnist\"\ntrain_subset = 2000\n\
     [model]\nhidden_size = 64\n[train]\nepochs = 4\n\
     [grid]\nlambda = [0, 0.01, 0.1]\nseed = { count = 2 }\n";

/// Fails the test unless a Slurm cluster answers.
fn slurm_available() -> bool {
    let found = Command::new("sinfo")
        .arg("-h")
        .output()
        .is_ok_and(|o| o.status.success());
    crate::util::require(
        found,
        "a Slurm cluster (ci/local-slurm.sh up, then eval \"$(ci/local-slurm.sh env)\")",
    );
    found
}

/// A sandbox holding [`EXPERIMENT`] as `s.toml`.
fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.write("s.toml", EXPERIMENT);
    sb
}

/// The results folder of the experiment `s` with `--out OUT`.
fn results(sb: &Sandbox, out: &str) -> PathBuf {
    sb.path().join(out).join("s")
}

/// The job ids `sweep slurm --submit` printed: (array, report).
fn job_ids(stdout: &str) -> (String, String) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("submitted array job "))
        .unwrap_or_else(|| panic!("no job ids in: {stdout}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let report = words
        .iter()
        .position(|w| *w == "report")
        .map(|i| words[i + 2].to_string())
        .unwrap();
    (words[3].to_string(), report)
}

/// Polls `squeue` until the job has left the queue.
fn wait_for(job: &str) {
    let start = Instant::now();
    loop {
        let out = Command::new("squeue")
            .args(["-h", "-j", job, "-o", "%i %T"])
            .output()
            .unwrap();
        let listed = text(&out.stdout);
        if listed
            .lines()
            .all(|l| l.contains("COMPLETED") || l.contains("FAILED") || l.contains("CANCELLED"))
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "job {job} still queued: {listed}"
        );
        sleep(Duration::from_millis(200));
    }
}

/// End state of each task of an array job: `1_0 COMPLETED`, …
fn task_states(array: &str) -> Vec<String> {
    let out = Command::new("squeue")
        .args(["-h", "-t", "all", "-j", array, "-o", "%i %T"])
        .output()
        .unwrap();
    let mut lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    lines.sort();
    lines
}

fn assert_same_as_single_machine(sb: &Sandbox, out: &str, what: &str) {
    let (one, sharded) = (results(sb, "single"), results(sb, out));
    for file in ["runs.csv", "epochs.csv"] {
        assert_eq!(
            metrics(&one.join(file)),
            metrics(&sharded.join(file)),
            "{what}: {file} differs from the single-machine sweep"
        );
    }
    let runs = Table::read(&sharded.join("runs.csv"));
    let ids = runs.column("run_id");
    assert_eq!(ids.len(), 6, "{what}: one row per run");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 6, "{what}");
    assert!(sharded.join("report.html").is_file(), "{what}: no report");
}

fn shard_of_first_run(sb: &Sandbox, out: &str, shard: usize) -> String {
    let file: serde_json::Value =
        serde_json::from_slice(&fs::read(results(sb, out).join("slurm/shards.json")).unwrap())
            .unwrap();
    file["shards"][shard][0].as_str().unwrap().to_string()
}

#[test]
#[ignore = "needs a Slurm cluster (ci/local-slurm.sh up); cargo test -- --ignored runs it"]
fn a_sweep_run_as_a_slurm_array_matches_one_machine_and_retries_only_what_failed() {
    if !slurm_available() {
        return;
    }
    let sb = sandbox();
    let single = sb.sweep(&["run", "s.toml", "--out", "single", "--quiet"], &[]);
    assert!(single.status.success(), "{}", text(&single.stderr));

    // 1. The whole sweep as a 3-task array, then the report job.
    let started = Instant::now();
    let out = sb.sweep(
        &[
            "slurm",
            "s.toml",
            "--out",
            "array",
            "--tasks",
            "3",
            "--cpus-per-task",
            "1",
            "--submit",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("6 runs in 3 shards of 2, 2, 2 runs"),
        "{stdout}"
    );
    let (array, report) = job_ids(&stdout);
    wait_for(&array);
    wait_for(&report);
    eprintln!(
        "3-task array + report: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(task_states(&array).iter().all(|l| l.ends_with("COMPLETED")));
    assert_same_as_single_machine(&sb, "array", "array");
    let status = sb.sweep(&["status", "array/s"], &[]);
    let status = text(&status.stdout);
    assert!(status.contains("all            6         6"), "{status}");

    // 2. A task whose run fails ends FAILED; --retry resubmits only it.
    let prepared = sb.sweep(
        &["slurm", "s.toml", "--out", "failing", "--tasks", "3"],
        &[],
    );
    assert!(prepared.status.success());
    assert!(text(&prepared.stdout).contains("submit with:"));
    let victim = shard_of_first_run(&sb, "failing", 1);
    let out = sb.sweep(
        &[
            "slurm",
            "s.toml",
            "--out",
            "failing",
            "--tasks",
            "3",
            "--cpus-per-task",
            "1",
            "--submit",
        ],
        // sbatch passes the submitting environment to the tasks.
        &[("SWEEP_TEST_FAIL", &victim)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (array, report) = job_ids(&text(&out.stdout));
    wait_for(&array);
    wait_for(&report);
    let states = task_states(&array);
    assert_eq!(
        states,
        [
            format!("{array}_0 COMPLETED"),
            format!("{array}_1 FAILED"),
            format!("{array}_2 COMPLETED")
        ],
        "Slurm must see the failed shard"
    );
    let status = text(&sb.sweep(&["status", "failing/s"], &[]).stdout);
    assert!(
        status.contains(&format!("failed: {victim}: panic: failure injected")),
        "{status}"
    );
    let retry = sb.sweep(&["slurm", "s.toml", "--out", "failing", "--retry"], &[]);
    assert!(retry.status.success(), "{}", text(&retry.stderr));
    let stdout = text(&retry.stdout);
    assert!(stdout.contains("(shards 1 of 3)"), "{stdout}");
    let (array, report) = job_ids(&stdout);
    wait_for(&array);
    wait_for(&report);
    assert_eq!(task_states(&array), [format!("{array}_1 COMPLETED")]);
    assert_same_as_single_machine(&sb, "failing", "after --retry");
    let nothing = sb.sweep(&["slurm", "s.toml", "--out", "failing", "--retry"], &[]);
    assert!(text(&nothing.stdout).contains("nothing to retry"));

    // 3. scancel half-way, then --retry completes the sweep.
    let out = sb.sweep(
        &[
            "slurm",
            "s.toml",
            "--out",
            "cancelled",
            "--tasks",
            "3",
            "--cpus-per-task",
            "1",
            "--submit",
        ],
        &[],
    );
    let (array, report) = job_ids(&text(&out.stdout));
    let runs = results(&sb, "cancelled").join("runs");
    let start = Instant::now();
    while fs::read_dir(&runs).map_or(0, |d| {
        d.filter(|e| e.as_ref().unwrap().path().join("done.json").exists())
            .count()
    }) == 0
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no run finished"
        );
        sleep(Duration::from_millis(20));
    }
    Command::new("scancel").arg(&array).status().unwrap();
    wait_for(&array);
    wait_for(&report);
    let status = text(&sb.sweep(&["status", "cancelled/s"], &[]).stdout);
    assert!(
        !status.contains("all            6         6"),
        "cancelled too late: {status}"
    );
    let retry = sb.sweep(&["slurm", "s.toml", "--out", "cancelled", "--retry"], &[]);
    assert!(retry.status.success(), "{}", text(&retry.stderr));
    let (array, report) = job_ids(&text(&retry.stdout));
    wait_for(&array);
    wait_for(&report);
    assert_same_as_single_machine(&sb, "cancelled", "after scancel and --retry");
}

#[test]
#[ignore = "needs a Slurm cluster (ci/local-slurm.sh up); cargo test -- --ignored runs it"]
fn a_retry_keeps_the_first_options_and_leaves_queued_or_running_shards_alone() {
    if !slurm_available() {
        return;
    }
    let sb = sandbox();
    // Three shards of about two seconds each, at most one task at a time:
    // while the first runs, the others wait in the queue.
    sb.write(
        "slow.toml",
        &EXPERIMENT
            .replace("name = \"s\"", "name = \"slow\"")
            .replace("epochs = 4", "epochs = 12"),
    );
    let out = sb.sweep(
        &[
            "slurm",
            "slow.toml",
            "--out",
            "opts",
            "--tasks",
            "3",
            "--cpus-per-task",
            "1",
            "--time",
            "0:10:00",
            "--max-parallel",
            "1",
            "--extra-sbatch",
            "--comment=first",
            "--submit",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (array, report) = job_ids(&text(&out.stdout));
    let script = || fs::read_to_string(sb.path().join("opts/slow/slurm/sweep.sbatch")).unwrap();
    let first = script();

    // Nothing has failed and every shard is queued or running: nothing is
    // submitted, and the scripts keep every option of the first submission.
    let retry = sb.sweep(&["slurm", "slow.toml", "--out", "opts", "--retry"], &[]);
    assert!(retry.status.success(), "{}", text(&retry.stderr));
    let said = text(&retry.stdout);
    assert!(
        said.contains("kept the first submission's options"),
        "{said}"
    );
    assert!(
        said.contains("left alone: shard(s) 0, 1, 2 still queued or running"),
        "{said}"
    );
    assert!(said.contains("nothing to retry"), "{said}");
    assert_eq!(script(), first);
    for line in [
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --time=0:10:00",
        "#SBATCH --array=0-2%1",
        "#SBATCH --comment=first",
    ] {
        assert!(first.lines().any(|l| l == line), "{line} in\n{first}");
    }

    // An option given on the retry replaces the first one, and is named.
    let retry = sb.sweep(
        &[
            "slurm",
            "slow.toml",
            "--out",
            "opts",
            "--retry",
            "--time",
            "0:20:00",
        ],
        &[],
    );
    assert!(retry.status.success(), "{}", text(&retry.stderr));
    let said = text(&retry.stdout);
    assert!(
        said.contains("changed from the first submission: --time: 0:10:00 → 0:20:00"),
        "{said}"
    );
    assert!(said.contains("nothing to retry"), "{said}");
    let changed = script();
    assert!(changed.contains("#SBATCH --time=0:20:00\n"), "{changed}");
    assert!(changed.contains("#SBATCH --cpus-per-task=1\n"), "{changed}");
    assert!(changed.contains("#SBATCH --comment=first\n"), "{changed}");

    wait_for(&array);
    wait_for(&report);
    assert!(
        task_states(&array).iter().all(|l| l.ends_with("COMPLETED")),
        "{:?}",
        task_states(&array)
    );
    let status = text(&sb.sweep(&["status", "opts/slow"], &[]).stdout);
    assert!(status.contains("all            6         6"), "{status}");
}

/// Successive halving on 8 configurations × 2 seeds: 2, 4, then 8 epochs.
const HALVING: &str = "name = \"s\"\n[data]\ndataset = \"mnist\"\ntrain_subset = 500\n\
     validation = 500\n[model]\nhidden_layers = 1\n[grid]\n\
     learning_rate = [0.01, 0.03, 0.1, 0.3]\nhidden_size = [16, 64]\nseed = { count = 2 }\n\
     [search]\nmethod = \"halving\"\neta = 2\nmin_epochs = 2\nmax_epochs = 8\n";

/// The search in `out/chain` (on Slurm) made the decisions and numbers of
/// the one in `out/single` (`sweep run` on this machine).
fn assert_decided_as_on_one_machine(sb: &Sandbox) {
    let (single, chain) = (results(sb, "single"), results(sb, "chain"));
    assert_eq!(
        fs::read_to_string(chain.join("rungs.csv")).unwrap(),
        fs::read_to_string(single.join("rungs.csv")).unwrap()
    );
    for file in ["runs.csv", "epochs.csv"] {
        assert_eq!(
            metrics(&single.join(file)),
            metrics(&chain.join(file)),
            "{file}"
        );
    }
}

/// The job ids `sweep slurm --submit` printed for a halving search.
fn chain_ids(stdout: &str) -> Vec<String> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("submitted jobs "))
        .unwrap_or_else(|| panic!("no job ids in: {stdout}"));
    line["submitted jobs ".len()..]
        .split(" (")
        .next()
        .unwrap()
        .split(", ")
        .map(str::to_string)
        .collect()
}

/// A halving search submitted as a chain of rung arrays makes the decisions
/// and numbers of `sweep run` on one machine; when a run fails, the rung's
/// array fails, the jobs after it are cancelled, and `--retry` resubmits the
/// chain from the first rung with work left.
#[test]
#[ignore = "needs a Slurm cluster (ci/local-slurm.sh up); cargo test -- --ignored runs it"]
fn a_halving_search_on_slurm_chains_its_rungs_and_retries_from_the_rung_that_failed() {
    if !slurm_available() {
        return;
    }
    let sb = sandbox();
    sb.write("s.toml", HALVING);
    let out = sb.sweep(&["run", "s.toml", "--out", "single", "--quiet"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let victim =
        Table::read(&results(&sb, "single").join("runs.csv")).column("run_id")[0].to_string();

    let out = sb.sweep(
        &[
            "slurm", "s.toml", "--out", "chain", "--tasks", "2", "--submit",
        ],
        &[("SWEEP_TEST_FAIL", &victim)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let jobs = chain_ids(&text(&out.stdout));
    assert_eq!(jobs.len(), 4, "three rungs and the decide job");
    for job in &jobs {
        wait_for(job);
    }
    let chain = results(&sb, "chain");
    assert!(
        !chain.join("rungs.csv").exists(),
        "the decide job must not run after a failed rung"
    );

    let out = sb.sweep(&["slurm", "s.toml", "--out", "chain", "--retry"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("resubmitting from rung 1"), "{said}");
    let jobs = chain_ids(&said);
    assert_eq!(jobs.len(), 4, "{said}");
    for job in &jobs {
        wait_for(job);
    }
    assert_decided_as_on_one_machine(&sb);
}

/// Hyperband over drawn learning rates: rungs at 1, 2 and 4 epochs give
/// brackets s = 2, 1 and 0 of 4, 3 and 3 Sobol points, 2 seeds each.
const HYPERBAND: &str = "name = \"s\"\n[data]\ndataset = \"mnist\"\ntrain_subset = 300\n\
     validation = 300\n[model]\nhidden_layers = 1\nhidden_size = 16\n[grid]\n\
     learning_rate = { log_uniform = [0.01, 0.5] }\nseed = { count = 2 }\n[search]\n\
     method = \"halving\"\nsampler = \"sobol\"\nbrackets = \"hyperband\"\neta = 2\n\
     min_epochs = 1\nmax_epochs = 4\n";

/// A Hyperband search submitted as a chain of rounds (each an array over
/// every bracket's rung of that round) makes the decisions and numbers of
/// `sweep run` on one machine.
#[test]
#[ignore = "needs a Slurm cluster (ci/local-slurm.sh up); cargo test -- --ignored runs it"]
fn a_hyperband_search_on_slurm_chains_its_rounds_and_decides_as_on_one_machine() {
    if !slurm_available() {
        return;
    }
    let sb = sandbox();
    sb.write("s.toml", HYPERBAND);
    let out = sb.sweep(&["run", "s.toml", "--out", "single", "--quiet"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = sb.sweep(
        &[
            "slurm", "s.toml", "--out", "chain", "--tasks", "3", "--submit",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    // Round 1: all 20 runs (to 1, 2 and 4 epochs); round 2: 4 + 2; round 3: 2.
    assert!(said.contains("rung 1: 20 runs to 1, 2, 4 epochs"), "{said}");
    assert!(said.contains("rung 2: 6 runs to 2, 4 epochs"), "{said}");
    assert!(said.contains("rung 3: 2 runs to 4 epochs"), "{said}");
    let jobs = chain_ids(&said);
    assert_eq!(jobs.len(), 4, "three rounds and the decide job");
    for job in &jobs {
        wait_for(job);
    }
    assert_decided_as_on_one_machine(&sb);
}
