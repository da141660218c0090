//! No result lost to crashes, interruptions, bad runs or a second writer:
//! `sweep run` is killed (SIGKILL, and aborts injected at the exact moments
//! between writes), interrupted (SIGINT, SIGTERM), run twice at once, and
//! given failing runs — and resuming always ends with one record per run and
//! the same numbers as a sweep that was never disturbed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::util::{
    Table, binary, metrics, mnist_dir, repo, run_ids, sweep_in, text, write_mnist_subset,
};

/// λ × seed, 6 runs of about half a second each on 2 000 real MNIST images.
const GRID: &str = "lambda = [0, 0.01, 0.1]\nseed = { count = 2 }";

fn experiment(grid: &str, epochs: usize) -> String {
    format!(
        "name = \"r\"\n[data]\ndataset = \"mnist\"\ntrain_subset = 2000\n\
         [model]\nhidden_size = 64\n[train]\nepochs = {epochs}\n[grid]\n{grid}\n"
    )
}

/// A folder with the experiment file `r.toml`; results in `<dir>/out/r`.
struct Sweep {
    dir: TempDir,
}

impl Sweep {
    fn new(text: &str) -> Sweep {
        let dir = TempDir::new().unwrap();
        fs::write(dir.path().join("r.toml"), text).unwrap();
        Sweep { dir }
    }

    fn results(&self) -> PathBuf {
        self.dir.path().join("out").join("r")
    }

    fn command(&self, extra: &[&str]) -> Command {
        let mut cmd = sweep_in(self.dir.path());
        cmd.args(["run", "r.toml", "--out", "out"]).args(extra);
        if !extra.contains(&"--jobs") {
            cmd.args(["--jobs", "2"]);
        }
        cmd
    }

    fn run(&self, extra: &[&str]) -> Output {
        self.command(extra).output().unwrap()
    }

    fn spawn(&self, extra: &[&str], env: &[(&str, &str)]) -> Child {
        let mut cmd = self.command(extra);
        cmd.envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().unwrap()
    }

    /// Runs whose `done.json` exists.
    fn done(&self) -> usize {
        fs::read_dir(self.results().join("runs"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().join("done.json").is_file())
                    .count()
            })
            .unwrap_or(0)
    }
}

/// `runs.csv` and `epochs.csv` of an undisturbed sweep of [`GRID`], 4 epochs.
fn reference() -> &'static (String, String) {
    static REFERENCE: OnceLock<(String, String)> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let sweep = Sweep::new(&experiment(GRID, 4));
        let out = sweep.run(&["--quiet"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        (
            metrics(&sweep.results().join("runs.csv")),
            metrics(&sweep.results().join("epochs.csv")),
        )
    })
}

/// Resumes the sweep and checks it ends exactly like the reference: one
/// record per run, same numbers, and the report written.
fn resume_and_compare(sweep: &Sweep, what: &str) {
    let out = sweep.run(&["--quiet"]);
    assert!(
        out.status.success(),
        "{what}: resume failed: {}",
        text(&out.stderr)
    );
    let (runs, epochs) = reference();
    assert_eq!(
        &metrics(&sweep.results().join("runs.csv")),
        runs,
        "{what}: runs.csv differs"
    );
    assert_eq!(
        &metrics(&sweep.results().join("epochs.csv")),
        epochs,
        "{what}: epochs.csv differs"
    );
    assert_eq!(sweep.done(), 6, "{what}");
    assert!(sweep.results().join("report.html").is_file(), "{what}");
}

fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args(["-s", name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sigkill_at_any_moment_then_resume_gives_the_undisturbed_numbers() {
    // Real SIGKILLs: right after the first run is saved, and at fixed times
    // into the sweep (start-up, mid-run).
    for (what, delay) in [
        ("after the first run", None),
        ("during start-up", Some(20)),
        ("mid-run", Some(400)),
        ("later mid-run", Some(1200)),
    ] {
        let sweep = Sweep::new(&experiment(GRID, 4));
        let mut child = sweep.spawn(&["--quiet"], &[]);
        match delay {
            None => wait_until("a finished run", Duration::from_secs(60), || {
                sweep.done() >= 1
            }),
            Some(ms) => sleep(Duration::from_millis(ms)),
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        resume_and_compare(&sweep, what);
    }
    // Aborts injected between writes: a run's done.json written but the
    // aggregates not; runs.csv's new text in its temporary file, not renamed.
    for point in ["run-saved:1", "run-saved:3", "aggregate:2", "aggregate:4"] {
        let sweep = Sweep::new(&experiment(GRID, 4));
        let out = sweep
            .command(&["--quiet"])
            .env("SWEEP_TEST_CRASH", point)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: the crash did not happen");
        resume_and_compare(&sweep, point);
        let leftovers: Vec<_> = fs::read_dir(sweep.results())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{point}: temporary files left");
    }
}

#[test]
fn a_first_signal_stops_cleanly_with_exit_code_130_and_resume_finishes() {
    for name in ["INT", "TERM"] {
        let sweep = Sweep::new(&experiment(GRID, 4));
        let child = sweep.spawn(&[], &[]);
        wait_until("a finished run", Duration::from_secs(60), || {
            sweep.done() >= 1
        });
        signal(&child, name);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "SIG{name}");
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(stderr.contains("stopping: no new runs start"), "{stderr}");
        // The hint names the --out it was given, so following it resumes
        // this folder rather than starting one in results/.
        assert!(
            stdout.contains("run `sweep run r.toml --out out` again to resume"),
            "{stdout}"
        );
        // What finished is in the aggregates and the report.
        let done = sweep.done();
        assert!((1..6).contains(&done), "SIG{name}: {done} runs done");
        let rows = fs::read_to_string(sweep.results().join("runs.csv"))
            .unwrap()
            .lines()
            .count();
        assert_eq!(rows, done + 1);
        assert!(sweep.results().join("report.html").is_file());
        resume_and_compare(&sweep, &format!("SIG{name}"));
    }
}

#[test]
fn a_second_signal_quits_at_once() {
    let sweep = Sweep::new(&experiment(GRID, 40));
    let child = sweep.spawn(&[], &[]);
    wait_until("the lock", Duration::from_secs(30), || {
        fs::read_to_string(sweep.results().join(".lock")).is_ok_and(|s| !s.is_empty())
    });
    sleep(Duration::from_millis(200));
    signal(&child, "INT");
    sleep(Duration::from_millis(50));
    signal(&child, "INT");
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(text(&out.stderr).contains("quitting at once"));
}

#[test]
fn a_second_sweep_on_the_same_folder_is_refused_while_the_first_runs() {
    let sweep = Sweep::new(&experiment(GRID, 40));
    let mut first = sweep.spawn(&["--quiet"], &[]);
    wait_until("the lock", Duration::from_secs(30), || {
        fs::read_to_string(sweep.results().join(".lock")).is_ok_and(|s| !s.is_empty())
    });
    let second = sweep.run(&["--quiet"]);
    assert_eq!(second.status.code(), Some(2));
    let stderr = text(&second.stderr);
    assert!(
        stderr.contains("is in use by another `sweep run` (pid"),
        "{stderr}"
    );
    assert!(stderr.contains(&first.id().to_string()), "{stderr}");
    // A killed holder leaves no stuck lock.
    first.kill().unwrap();
    first.wait().unwrap();
    let mut third = sweep.spawn(&["--quiet"], &[]);
    wait_until("the lock", Duration::from_secs(30), || {
        fs::read_to_string(sweep.results().join(".lock"))
            .is_ok_and(|s| s.contains(&format!("pid {} ", third.id())))
    });
    third.kill().unwrap();
    third.wait().unwrap();
}

#[test]
fn a_failing_run_is_recorded_the_others_finish_and_retry_failed_redoes_it() {
    let sweep = Sweep::new(&experiment(GRID, 4));
    let ids = run_ids(&sweep.dir.path().join("r.toml"));
    assert_eq!(ids.len(), 6);
    let out = sweep
        .command(&["--quiet"])
        .env("SWEEP_TEST_FAIL", &ids[2])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 FAILED"), "{stdout}");
    assert!(stdout.contains("1 run(s) FAILED"), "{stdout}");
    assert!(stdout.contains(&ids[2]), "{stdout}");
    // The hint keeps --out: following it retries this folder's run.
    assert!(
        stdout.contains("`sweep run r.toml --out out --retry-failed` trains them again"),
        "{stdout}"
    );
    let error =
        fs::read_to_string(sweep.results().join("runs").join(&ids[2]).join("error.txt")).unwrap();
    assert!(error.contains("failure injected by SWEEP_TEST_FAIL"));
    assert_eq!(sweep.done(), 6);
    let runs = fs::read_to_string(sweep.results().join("runs.csv")).unwrap();
    assert_eq!(runs.matches(",failed,").count(), 1);
    assert_eq!(runs.matches(",finished,").count(), 5);
    let summary = fs::read_to_string(sweep.results().join("summary.csv")).unwrap();
    // λ = 0.01 (the failed run's configuration): 2 planned, 1 finished,
    // 0 diverged, 1 failed, 0 missing.
    assert!(
        summary
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("0.01,2,1,0,1,0,"),
        "{summary}"
    );

    // A plain re-run keeps the failure (and says how to retry).
    let out = sweep.run(&["--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("0 trained now, 6 reused"));

    // --retry-failed trains only it, and the sweep ends as if it never failed.
    let out = sweep.run(&["--quiet", "--retry-failed"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 trained now, 5 reused"));
    assert!(
        !sweep
            .results()
            .join("runs")
            .join(&ids[2])
            .join("error.txt")
            .exists()
    );
    resume_and_compare(&sweep, "after --retry-failed");
}

#[test]
fn fail_fast_stops_the_sweep_at_the_first_failure() {
    let sweep = Sweep::new(&experiment(GRID, 4));
    let ids = run_ids(&sweep.dir.path().join("r.toml"));
    let out = sweep
        .command(&["--quiet", "--fail-fast", "--jobs", "1"])
        .env("SWEEP_TEST_FAIL", &ids[1])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(sweep.done(), 2, "the run before and the failed one");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("stopped with 4 of 6 runs not done"),
        "{stdout}"
    );
}

#[test]
fn changing_a_setting_every_finished_run_shares_is_refused_unless_fresh() {
    let sweep = Sweep::new(&experiment("lambda = [0, 0.01]", 2));
    assert!(sweep.run(&["--quiet"]).status.success());
    // More values of a swept setting: fine, the old runs are reused.
    fs::write(
        sweep.dir.path().join("r.toml"),
        experiment("lambda = [0, 0.01, 0.1]", 2),
    )
    .unwrap();
    let out = sweep.run(&["--quiet"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("1 trained now, 2 reused"));
    // Another number of epochs changes what every run means.
    fs::write(
        sweep.dir.path().join("r.toml"),
        experiment("lambda = [0, 0.01, 0.1]", 3),
    )
    .unwrap();
    let out = sweep.run(&["--quiet"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "r.toml: `epochs` changed from 2 to 3 since the last run; the 3 finished run(s)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("Run with --fresh"), "{stderr}");
    let out = sweep.run(&["--quiet", "--fresh"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("3 trained now, 0 reused"));
}

#[test]
fn a_sweep_needing_more_memory_than_the_machine_has_is_refused_with_the_estimate() {
    let sweep = Sweep::new(
        "name = \"r\"\n[data]\ndataset = \"mnist\"\ntrain_subset = 1000\n\
         [model]\nhidden_size = 100000\nhidden_layers = 4\n[grid]\nlambda = [0, 0.1]\n",
    );
    let out = sweep.run(&["--quiet"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("the sweep needs about"), "{stderr}");
    assert!(stderr.contains("GiB of memory"), "{stderr}");
    assert!(stderr.contains("add --yes to try anyway"), "{stderr}");
    assert!(!sweep.results().exists(), "nothing written");
}

#[test]
fn an_output_folder_that_cannot_be_created_is_a_clear_input_error() {
    let sweep = Sweep::new(&experiment("lambda = [0, 0.01]", 1));
    let out = Command::new(binary())
        .env("SWEEP_DATA_DIR", repo().join("data"))
        .current_dir(sweep.dir.path())
        .args(["run", "r.toml", "--quiet", "--out", "/proc/sweep-results"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot create results folder /proc/sweep-results/r"),
        "{stderr}"
    );
    assert!(
        stderr.contains("choose a writable folder with --out"),
        "{stderr}"
    );
}

#[test]
#[ignore = "needs root to mount a tmpfs; cargo test -- --ignored runs it"]
fn a_full_disk_is_reported_as_such_and_the_sweep_resumes_once_there_is_room() {
    let sweep = Sweep::new(&experiment(GRID, 2));
    let mount = sweep.dir.path().join("out");
    fs::create_dir_all(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=24k", "tmpfs"])
        .arg(&mount)
        .status()
        .is_ok_and(|s| s.success());
    crate::util::require(mounted, "root, to mount a small tmpfs");
    let out = sweep.run(&["--quiet"]);
    let unmount = || {
        Command::new("umount").arg(&mount).status().unwrap();
    };
    let stderr = text(&out.stderr);
    unmount();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no space left on the device"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn text_a_spreadsheet_would_run_as_a_formula_is_neutralised_in_every_csv() {
    let dir = TempDir::new().unwrap();
    // A dataset folder whose name is a formula: it becomes the `dataset` cell.
    let data = dir.path().join("=HYPERLINK(\"x\")");
    fs::create_dir_all(&data).unwrap();
    let mnist = mnist_dir();
    for entry in fs::read_dir(&mnist).unwrap() {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(entry.path(), data.join(entry.file_name())).unwrap();
    }
    fs::write(
        dir.path().join("r.toml"),
        "name = \"r\"\ndescription = \"=1+1\"\n[data]\ndata_dir = \"=HYPERLINK(\\\"x\\\")\"\n\
         train_subset = 500\n[model]\nhidden_size = 16\n[train]\nepochs = 1\n\
         [grid]\nlambda = [0, 0.01]\n",
    )
    .unwrap();
    let out = Command::new(binary())
        .current_dir(dir.path())
        .args(["run", "r.toml", "--quiet", "--out", "out"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    for file in ["runs.csv", "epochs.csv"] {
        let table = Table::read(&dir.path().join("out/r").join(file));
        for cell in table.column("dataset") {
            assert_eq!(cell, "'=HYPERLINK(\"x\")", "{file}");
        }
    }
    // Negative numbers stay numbers.
    let runs = fs::read_to_string(dir.path().join("out/r/runs.csv")).unwrap();
    assert!(!runs.contains("'-"));
}

#[test]
fn shards_of_another_split_or_a_whole_sweep_are_refused_while_shards_run_naming_them() {
    let sweep = Sweep::new(&experiment(GRID, 40));
    let mut a = sweep.spawn(&["--quiet", "--shard", "0/2", "--jobs", "1"], &[]);
    let mut b = sweep.spawn(&["--quiet", "--shard", "1/2", "--jobs", "1"], &[]);
    for (child, k) in [(&a, 0), (&b, 1)] {
        let lock = sweep.results().join(format!(".lock.shard-{k}-of-2"));
        wait_until("a shard's lock", Duration::from_secs(30), || {
            fs::read_to_string(&lock).is_ok_and(|s| s.contains(&format!("pid {} ", child.id())))
        });
    }
    // A split into 3 would train runs the split into 2 is training.
    let other = sweep.run(&["--quiet", "--shard", "0/3"]);
    assert_eq!(other.status.code(), Some(2));
    let stderr = text(&other.stderr);
    assert!(stderr.contains("shards of another split"), "{stderr}");
    for (child, k) in [(&a, 0), (&b, 1)] {
        assert!(
            stderr.contains(&format!("`sweep run --shard {k}/2` (pid {} ", child.id())),
            "{stderr}"
        );
    }
    // A whole sweep names the shards too (it used to say "starting").
    let whole = sweep.run(&["--quiet"]);
    assert_eq!(whole.status.code(), Some(2));
    let stderr = text(&whole.stderr);
    assert!(
        stderr.contains(&format!("`sweep run --shard 0/2` (pid {} ", a.id())),
        "{stderr}"
    );
    assert!(!stderr.contains("starting"), "{stderr}");
    for child in [&mut a, &mut b] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

/// 300 tiny runs (8 hidden units, 1 epoch) on the first 100 training and
/// 100 test images of MNIST: a sweep of many small records and many
/// appends to the aggregate tables, about a millisecond per run.
fn tiny_sweep() -> Sweep {
    let sweep = Sweep::new(
        "name = \"r\"\ndata_dir = \"tiny\"\n[model]\nhidden_layers = 1\nhidden_size = 8\n\
         [train]\nepochs = 1\nbatch_size = 50\n[grid]\nseed = { count = 300 }\n",
    );
    write_mnist_subset(&sweep.dir.path().join("tiny"), 100, 100);
    sweep
}

/// The first cell of every line of a CSV file (header included): the run
/// ids of `runs.csv`, in the file's order.
fn first_column(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect()
}

/// Checks the aggregate tables as a crashed sweep left them: every complete
/// row is a run with a record, no run has two rows; only the last line may
/// be cut short (a kill in the middle of an append).
fn check_interrupted_tables(sweep: &Sweep, what: &str) {
    for table in ["runs.csv", "epochs.csv"] {
        let text = fs::read_to_string(sweep.results().join(table)).unwrap();
        let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
        if lines.last().is_some_and(|l| !l.ends_with('\n')) {
            lines.pop();
        }
        let mut ids = std::collections::HashSet::new();
        for line in &lines[1..] {
            let id = line.split(',').next().unwrap();
            assert!(
                sweep
                    .results()
                    .join("runs")
                    .join(id)
                    .join("done.json")
                    .is_file(),
                "{what}: {table} lists {id}, which has no record"
            );
            if table == "runs.csv" {
                assert!(ids.insert(id.to_string()), "{what}: {id} twice in {table}");
            }
        }
    }
}

#[test]
fn killing_a_large_sweep_of_tiny_runs_during_its_aggregate_writes_loses_nothing() {
    let reference = {
        let sweep = tiny_sweep();
        let out = sweep.run(&["--quiet"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        (
            metrics(&sweep.results().join("runs.csv")),
            metrics(&sweep.results().join("epochs.csv")),
            first_column(&sweep.results().join("runs.csv")),
        )
    };
    // `aggregate`: the first hit is the rebuild at the start, then one per
    // run in the middle of its append, then the rebuild at the end (302).
    for point in [
        "aggregate:120",
        "aggregate:251",
        "aggregate:302",
        "run-saved:200",
    ] {
        let sweep = tiny_sweep();
        let out = sweep
            .command(&["--quiet"])
            .env("SWEEP_TEST_CRASH", point)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: the crash did not happen");
        check_interrupted_tables(&sweep, point);
        let out = sweep.run(&["--quiet"]);
        assert!(out.status.success(), "{point}: {}", text(&out.stderr));
        let results = sweep.results();
        assert_eq!(metrics(&results.join("runs.csv")), reference.0, "{point}");
        assert_eq!(metrics(&results.join("epochs.csv")), reference.1, "{point}");
        let order = first_column(&results.join("runs.csv"));
        assert_eq!(order, reference.2, "{point}: rows in grid order");
    }
    // Real SIGKILLs at moments spread over the sweep.
    for ms in [150, 400] {
        let sweep = tiny_sweep();
        let mut child = sweep.spawn(&["--quiet"], &[]);
        sleep(Duration::from_millis(ms));
        child.kill().unwrap();
        child.wait().unwrap();
        if sweep.results().join("runs.csv").is_file() {
            check_interrupted_tables(&sweep, &format!("SIGKILL at {ms} ms"));
        }
        let out = sweep.run(&["--quiet"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(metrics(&sweep.results().join("runs.csv")), reference.0);
        assert_eq!(metrics(&sweep.results().join("epochs.csv")), reference.1);
    }
}

#[test]
fn shards_running_at_once_give_every_run_one_row_and_the_last_to_end_orders_the_tables() {
    let whole = tiny_sweep();
    let out = whole.run(&["--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = |sweep: &Sweep| first_column(&sweep.results().join("runs.csv"));
    for round in 0..2 {
        let sweep = tiny_sweep();
        let children: Vec<Child> = (0..3)
            .map(|k| {
                sweep.spawn(
                    &["--quiet", "--shard", &format!("{k}/3"), "--jobs", "1"],
                    &[],
                )
            })
            .collect();
        let mut reports = 0;
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", text(&out.stderr));
            reports += usize::from(text(&out.stdout).contains("report.html"));
        }
        assert!(reports >= 1, "round {round}: no shard wrote the report");
        assert_eq!(
            rows(&sweep),
            rows(&whole),
            "round {round}: one row per run, grid order"
        );
        for table in ["runs.csv", "epochs.csv"] {
            assert_eq!(
                metrics(&sweep.results().join(table)),
                metrics(&whole.results().join(table)),
                "round {round}: {table}"
            );
        }
    }
}

/// The search in `other` made the decisions (`rungs.csv`) and numbers
/// (`runs.csv`, `epochs.csv`) of the one in `reference`.
fn assert_same_search(other: &Sweep, reference: &Sweep, what: &str) {
    assert_eq!(
        fs::read_to_string(other.results().join("rungs.csv")).unwrap(),
        fs::read_to_string(reference.results().join("rungs.csv")).unwrap(),
        "{what}"
    );
    for table in ["runs.csv", "epochs.csv"] {
        assert_eq!(
            metrics(&other.results().join(table)),
            metrics(&reference.results().join(table)),
            "{what}: {table}"
        );
    }
}

/// Successive halving on 8 configurations × 2 seeds: 2, 4, then 8 epochs.
const HALVING: &str = "name = \"r\"\n[data]\ndataset = \"mnist\"\ntrain_subset = 500\n\
     validation = 500\n[model]\nhidden_layers = 1\n[grid]\n\
     learning_rate = [0.01, 0.03, 0.1, 0.3]\nhidden_size = [16, 64]\nseed = { count = 2 }\n\
     [search]\nmethod = \"halving\"\neta = 2\nmin_epochs = 2\nmax_epochs = 8\n";

/// A halving search killed in its second rung, right after a paused run was
/// saved, and resumed makes the decisions and ends with the numbers of an
/// undisturbed one; the runs promoted to the end are bit-identical to the
/// same runs trained straight through by a plain grid.
#[test]
fn a_halving_search_killed_mid_rung_resumes_to_the_same_decisions_and_numbers() {
    let undisturbed = Sweep::new(HALVING);
    let out = undisturbed.run(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(
        said.contains("trained 64 run-epochs, 50.0 % of the 128"),
        "{said}"
    );
    let rungs = fs::read_to_string(undisturbed.results().join("rungs.csv")).unwrap();
    assert_eq!(rungs.lines().count(), 1 + 8 + 4 + 2, "{rungs}");
    assert_eq!(rungs.matches(",yes").count(), 4 + 2, "{rungs}");
    assert!(
        !undisturbed
            .results()
            .join("checkpoints")
            .read_dir()
            .unwrap()
            .any(|_| true)
    );
    let report = fs::read_to_string(undisturbed.results().join("report.html")).unwrap();
    assert!(report.contains("<h2>Successive halving</h2>"));

    // A later rung cannot start before the earlier ones are done.
    let early = Sweep::new(HALVING);
    let out = early.run(&["--rung", "2", "--shard", "0/2"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("rung 1 of this halving search has not finished"),
        "{}",
        text(&out.stderr)
    );
    let out = early.run(&["--rung", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status = sweep_in(early.dir.path())
        .args(["status", "out/r"])
        .output()
        .unwrap();
    assert!(
        text(&status.stdout).contains("16 of the missing run(s) are paused"),
        "{}",
        text(&status.stdout)
    );

    // 16 checkpoints in rung 1, then the 20th is in rung 2.
    let killed = Sweep::new(HALVING);
    let out = killed
        .command(&["--quiet"])
        .env("SWEEP_TEST_CRASH", "checkpoint-saved:20")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the crash did not happen");
    let out = killed.run(&["--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_same_search(&killed, &undisturbed, "killed and resumed");

    // The two configurations that reached 8 epochs, trained as a grid.
    let grid = HALVING
        .replace(
            "learning_rate = [0.01, 0.03, 0.1, 0.3]\nhidden_size = [16, 64]",
            "learning_rate = [0.1, 0.3]\nhidden_size = [64]",
        )
        .replace(
            "[search]\nmethod = \"halving\"\neta = 2\nmin_epochs = 2\nmax_epochs = 8\n",
            "[train]\nepochs = 8\n",
        );
    let straight = Sweep::new(&grid);
    let out = straight.run(&["--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let straight_rows = metrics(&straight.results().join("epochs.csv"));
    let halving_rows = metrics(&undisturbed.results().join("epochs.csv"));
    let mut found = 0;
    for row in straight_rows.lines().skip(1) {
        assert!(
            halving_rows.lines().any(|r| r == row),
            "not in the halving search: {row}"
        );
        found += 1;
    }
    assert_eq!(found, 4 * 8);
}

/// Hyperband over drawn learning rates and two widths: rungs at 1, 2 and 4
/// epochs make brackets s = 2, 1 and 0 of 4, 3 and 3 Sobol points, each
/// trained with 2 seeds.
const HYPERBAND: &str = "name = \"r\"\n[data]\ndataset = \"mnist\"\ntrain_subset = 500\n\
     validation = 500\n[model]\nhidden_layers = 1\n[grid]\n\
     learning_rate = { log_uniform = [0.01, 0.5] }\nhidden_size = [16, 64]\n\
     seed = { count = 2 }\n[search]\nmethod = \"halving\"\nsampler = \"sobol\"\n\
     brackets = \"hyperband\"\neta = 2\nmin_epochs = 1\nmax_epochs = 4\n";

/// A Hyperband search makes the same decisions and numbers with one worker
/// or several, and when killed in its second round and resumed; a later
/// round cannot be trained before the ones before it.
#[test]
fn a_hyperband_search_is_deterministic_and_resumes_to_the_same_decisions_and_numbers() {
    let undisturbed = Sweep::new(HYPERBAND);
    let out = undisturbed.run(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    // Configuration-epochs: s = 2: 4 + 2 + 2, s = 1: 6 + 2, s = 0: 12.
    assert!(
        said.contains("trained 56 run-epochs, 70.0 % of the 80"),
        "{said}"
    );
    let rungs = fs::read_to_string(undisturbed.results().join("rungs.csv")).unwrap();
    let brackets: Vec<&str> = rungs
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert_eq!(
        brackets,
        [
            "2", "2", "2", "2", "2", "2", "2", "1", "1", "1", "1", "0", "0", "0"
        ],
        "{rungs}"
    );
    assert_eq!(rungs.matches(",yes,").count(), 2 + 1 + 1, "{rungs}");
    let report = fs::read_to_string(undisturbed.results().join("report.html")).unwrap();
    assert!(report.contains("<h2>Hyperband</h2>"));
    let runs = fs::read_to_string(undisturbed.results().join("runs.csv")).unwrap();
    assert!(runs.lines().next().unwrap().contains(",bracket,"));

    let one_worker = Sweep::new(HYPERBAND);
    let out = one_worker.run(&["--quiet", "--jobs", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_same_search(&one_worker, &undisturbed, "--jobs 1");

    let early = Sweep::new(HYPERBAND);
    let out = early.run(&["--rung", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("rung 1 of this halving search has not finished"),
        "{}",
        text(&out.stderr)
    );

    // Round 1 pauses 14 runs (brackets 2 and 1) and ends bracket 0's six;
    // the 16th checkpoint is in round 2.
    let killed = Sweep::new(HYPERBAND);
    let out = killed
        .command(&["--quiet"])
        .env("SWEEP_TEST_CRASH", "checkpoint-saved:16")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the crash did not happen");
    let out = killed.run(&["--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_same_search(&killed, &undisturbed, "killed and resumed");
}

/// Eight runs of about half a second each on one worker: long enough for
/// several refreshes of the live report at `--report-every 1`.
const LIVE: &str = "name = \"r\"\n[data]\ndataset = \"mnist\"\ntrain_subset = 1000\n\
     [model]\nhidden_layers = 1\nhidden_size = 64\n[train]\nepochs = 50\n\
     [grid]\nseed = { count = 8 }\n";

/// "running: K of N runs" in a live report, or `None` in a final one.
fn running_count(report: &str) -> Option<usize> {
    let at = report.find("running: ")? + "running: ".len();
    report[at..].split(' ').next()?.parse().ok()
}

/// A report.html is whole: a page that ends, with its reload exactly when
/// it says the sweep is running.
fn check_whole_report(path: &Path, when: &str) {
    let Ok(page) = fs::read_to_string(path) else {
        return;
    };
    assert!(page.ends_with("</html>\n"), "{when}: a cut report.html");
    assert_eq!(
        page.contains("http-equiv=\"refresh\""),
        running_count(&page).is_some(),
        "{when}"
    );
}

/// While a sweep trains, its report says so, reloads itself, and is
/// refreshed as runs end; the report at the end is final.
#[test]
fn the_live_report_is_refreshed_while_runs_train_and_final_at_the_end() {
    let sweep = Sweep::new(LIVE);
    let child = sweep.spawn(&["--quiet", "--jobs", "1", "--report-every", "1"], &[]);
    let report = sweep.results().join("report.html");
    let mut seen: Vec<usize> = Vec::new();
    let started = std::time::Instant::now();
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        if let Some(k) = fs::read_to_string(&report)
            .ok()
            .as_deref()
            .and_then(running_count)
            && seen.last() != Some(&k)
        {
            seen.push(k);
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the sweep hangs"
        );
        sleep(Duration::from_millis(50));
    }
    assert!(child.wait().unwrap().success());
    assert!(
        seen.len() >= 2 && seen.windows(2).all(|w| w[0] < w[1]) && seen[seen.len() - 1] < 8,
        "the run count of the live report should grow: {seen:?}"
    );
    let page = fs::read_to_string(&report).unwrap();
    assert_eq!(running_count(&page), None, "the final report is not live");
    assert!(!page.contains("http-equiv"));
    assert!(page.contains("8 of 8 runs finished"));

    // `--report-every 0`: no report before the end.
    let quiet = Sweep::new(LIVE);
    let mut child = quiet.spawn(&["--quiet", "--jobs", "1", "--report-every", "0"], &[]);
    while child.try_wait().unwrap().is_none() {
        assert!(
            !quiet.results().join("report.html").exists() || quiet.done() == 8,
            "a report before the end with --report-every 0"
        );
        sleep(Duration::from_millis(50));
    }
}

/// A kill in the middle of a refresh (plots and tables replaced, the page
/// not yet) or at any other moment leaves a whole report, and the sweep
/// resumed ends with the final one.
#[test]
fn a_kill_during_a_live_refresh_leaves_the_previous_whole_report() {
    let sweep = Sweep::new(LIVE);
    let out = sweep
        .command(&["--quiet", "--jobs", "1", "--report-every", "1"])
        .env("SWEEP_TEST_CRASH", "live-report:2")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the crash did not happen");
    let report = sweep.results().join("report.html");
    check_whole_report(&report, "killed in the second refresh");
    let page = fs::read_to_string(&report).unwrap();
    let first = running_count(&page).expect("the first live report stays");
    assert!(first < sweep.done(), "{first} runs in the first refresh");
    let summary = fs::read_to_string(sweep.results().join("summary.csv")).unwrap();
    assert!(
        summary.ends_with('\n') && summary.lines().count() == 2,
        "{summary}"
    );

    for ms in [700, 1300, 2100] {
        let killed = Sweep::new(LIVE);
        let mut child = killed.spawn(&["--quiet", "--jobs", "1", "--report-every", "1"], &[]);
        sleep(Duration::from_millis(ms));
        child.kill().unwrap();
        child.wait().unwrap();
        check_whole_report(
            &killed.results().join("report.html"),
            &format!("SIGKILL at {ms} ms"),
        );
    }

    let out = sweep.run(&["--quiet", "--report-every", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = fs::read_to_string(&report).unwrap();
    assert_eq!(running_count(&page), None);
    assert!(page.contains("8 of 8 runs finished"));
}

/// Successive halving over 8 Sobol points of a drawn learning rate and two
/// widths (no brackets): 1, 2 then 4 epochs.
const SAMPLED_HALVING: &str = "name = \"r\"\n[data]\ndataset = \"mnist\"\ntrain_subset = 500\n\
     validation = 500\n[model]\nhidden_layers = 1\n[grid]\n\
     learning_rate = { log_uniform = [0.01, 0.5] }\nhidden_size = [16, 64]\n\
     seed = { count = 2 }\n[search]\nmethod = \"halving\"\nsampler = \"sobol\"\nsamples = 8\n\
     eta = 2\nmin_epochs = 1\nmax_epochs = 4\n";

/// Halving over sampled points decides the same with one worker or two,
/// and after a kill in its second rung.
#[test]
fn halving_over_sampled_points_is_deterministic_and_resumes_to_the_same_decisions() {
    let two = Sweep::new(SAMPLED_HALVING);
    let out = two.run(&["--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rungs = fs::read_to_string(two.results().join("rungs.csv")).unwrap();
    // 8 configurations at 1 epoch, 4 at 2, 2 at 4 (sobol points on a list
    // of widths may coincide; these 8 do not).
    assert_eq!(rungs.lines().count(), 1 + 8 + 4 + 2, "{rungs}");
    assert!(
        rungs.lines().skip(1).all(|l| l.ends_with(",")),
        "no bracket: {rungs}"
    );
    let one = Sweep::new(SAMPLED_HALVING);
    let killed = Sweep::new(SAMPLED_HALVING);
    let out = one.run(&["--quiet", "--jobs", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Rung 1 pauses all 16 runs; the 18th checkpoint is in rung 2.
    let out = killed
        .command(&["--quiet"])
        .env("SWEEP_TEST_CRASH", "checkpoint-saved:18")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the crash did not happen");
    let out = killed.run(&["--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_same_search(&one, &two, "--jobs 1");
    assert_same_search(&killed, &two, "killed and resumed");
}
