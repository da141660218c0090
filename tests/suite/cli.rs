//! The `sweep` binary end to end on real MNIST: result files and their
//! columns, determinism across worker counts, resuming, divergence, `plan`,
//! and every kind of bad input refused with exit code 2 before anything is
//! written.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::SystemTime;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::util::{
    EPOCH_CLOCK, QUICKLY, RUN_CLOCK, Sandbox, Table, gunzip, refused_in, repo, run_ids, sweep,
};

/// An experiment file on a small slice of MNIST (500 images, 32 × 2 hidden
/// units, 2 epochs) with the given `[grid]` lines.
fn small_experiment(name: &str, grid: &str) -> String {
    format!(
        "name = \"{name}\"\n\
         [data]\ndataset = \"mnist\"\ntrain_subset = 500\n\
         [model]\nhidden_size = 32\n\
         [train]\nepochs = 2\n\
         [grid]\n{grid}\n"
    )
}

/// The 2 × 2 grid used by several tests.
const LAMBDA_BY_SEED: &str = "lambda = [0, 0.01]\nseed = { count = 2 }";

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn modified(path: &Path) -> SystemTime {
    fs::metadata(path).unwrap().modified().unwrap()
}

// ---------------------------------------------------------------- end to end

#[test]
fn a_small_sweep_writes_every_result_file_with_the_expected_columns() {
    let sb = Sandbox::new();
    let file = sb.write("small.toml", &small_experiment("small", LAMBDA_BY_SEED));
    let output = sb.run(&file, &[]);
    let root = sb.out().join("small");

    let said = stdout(&output);
    assert!(
        said.contains("small: 4 runs (4 trained now, 0 reused)"),
        "{said}"
    );
    assert!(
        said.contains(&format!("results: {}", root.display())),
        "{said}"
    );
    // One line with the answer before the files: the best configuration
    // and the smallest gap at the best accuracy.
    let answer = said
        .lines()
        .find(|l| l.starts_with("best test accuracy: lambda="))
        .unwrap_or_else(|| panic!("no answer line in {said}"));
    assert!(
        answer.contains("; smallest gap at the best accuracy: lambda=")
            && answer.contains("over 2 configurations"),
        "{answer}"
    );

    // `sweep status` finds the folder from the experiment file too.
    let status = sb.sweep(
        &[
            "status",
            file.to_str().unwrap(),
            "--out",
            sb.out().to_str().unwrap(),
        ],
        &[],
    );
    assert!(status.status.success(), "{}", stderr(&status));
    let status = stdout(&status);
    assert!(
        status.contains(&format!("results: {}", root.display()))
            && status
                .lines()
                .any(|l| l.starts_with("all") && l.contains(" 4 ")),
        "{status}"
    );

    for name in ["runs.csv", "epochs.csv", "manifest.json"] {
        assert!(root.join(name).is_file(), "missing {name}");
    }

    let runs = Table::read(&root.join("runs.csv"));
    for column in [
        "run_id",
        "status",
        "dataset",
        "lambda",
        "seed",
        "train_subset",
        "hidden_size",
        "epochs_done",
        "final_train_acc",
        "final_test_acc",
        "final_gap_acc",
        "final_penalty",
        "best_test_acc",
        "seconds",
        "finished_at_utc",
    ] {
        runs.index(column);
    }
    assert_eq!(runs.rows.len(), 4);
    let ids = run_ids(&file);
    assert_eq!(runs.column("run_id"), ids, "rows in grid order");
    assert_eq!(runs.column("lambda"), ["0", "0", "0.01", "0.01"]);
    assert_eq!(runs.column("seed"), ["0", "1", "0", "1"]);
    assert_eq!(runs.column("status"), ["finished"; 4]);
    assert_eq!(runs.column("dataset"), ["mnist"; 4]);
    assert_eq!(runs.column("train_samples"), ["500"; 4]);
    assert_eq!(runs.column("epochs_done"), ["2"; 4]);
    assert_eq!(runs.column("diverged_epoch"), [""; 4]);

    let train = runs.floats("final_train_acc");
    let test = runs.floats("final_test_acc");
    let gap = runs.floats("final_gap_acc");
    let best = runs.floats("best_test_acc");
    for i in 0..4 {
        assert!((0.0..=1.0).contains(&train[i]) && (0.0..=1.0).contains(&test[i]));
        assert!((gap[i] - (train[i] - test[i])).abs() < 1e-12, "row {i}");
        assert!(best[i] >= test[i], "row {i}");
    }
    // Weight decay adds a penalty only where lambda > 0.
    let penalty = runs.floats("final_penalty");
    assert_eq!(&penalty[..2], [0.0, 0.0]);
    assert!(penalty[2] > 0.0 && penalty[3] > 0.0, "{penalty:?}");

    let epochs = Table::read(&root.join("epochs.csv"));
    assert_eq!(epochs.rows.len(), 4 * 2);
    let pairs: Vec<(&str, &str)> = epochs
        .column("run_id")
        .into_iter()
        .zip(epochs.column("epoch"))
        .collect();
    for id in &ids {
        assert!(pairs.contains(&(id.as_str(), "1")) && pairs.contains(&(id.as_str(), "2")));
    }

    for (i, id) in ids.iter().enumerate() {
        let dir = root.join("runs").join(id);
        for name in ["params.json", "epochs.csv", "done.json"] {
            assert!(dir.join(name).is_file(), "missing runs/{id}/{name}");
        }
        let per_run = Table::read(&dir.join("epochs.csv"));
        assert_eq!(per_run.column("epoch"), ["1", "2"]);
        assert_eq!(
            per_run.column("test_acc")[1],
            runs.column("final_test_acc")[i]
        );
        let best_of_run = per_run.floats("test_acc").into_iter().fold(0.0, f64::max);
        assert_eq!(best_of_run, best[i], "best_test_acc of {id}");

        let done: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("done.json")).unwrap()).unwrap();
        assert_eq!(done["status"], "finished");
        assert_eq!(done["train_samples"], 500);
        let params: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("params.json")).unwrap()).unwrap();
        assert_eq!(params["id"], id.as_str());
        assert_eq!(params["params"]["train_subset"], 500);
        assert_eq!(params["params"]["hidden_size"], 32);
    }

    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["name"], "small");
    assert_eq!(manifest["runs_total"], 4);
    assert_eq!(manifest["runs_done"], 4);
    assert_eq!(manifest["dataset"], "mnist");
    assert_eq!(manifest["dataset_files"].as_array().unwrap().len(), 4);
    assert_eq!(manifest["swept"], serde_json::json!(["lambda", "seed"]));
    assert_ne!(manifest["finished_at"], "");
}

#[test]
fn results_are_identical_with_one_or_two_jobs() {
    let sb = Sandbox::new();
    let file = sb.write("det.toml", &small_experiment("det", LAMBDA_BY_SEED));
    let one = sb.path().join("one");
    let two = sb.path().join("two");
    for (out, jobs) in [(&one, "1"), (&two, "2")] {
        let output = sweep()
            .args(["run", "--quiet", "--jobs", jobs, "--out"])
            .arg(out)
            .arg(&file)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let (one, two) = (one.join("det"), two.join("det"));

    let runs_one = Table::read(&one.join("runs.csv"));
    assert_eq!(runs_one.rows.len(), 4);
    assert_eq!(
        runs_one.text_without(&RUN_CLOCK),
        Table::read(&two.join("runs.csv")).text_without(&RUN_CLOCK)
    );
    assert_eq!(
        Table::read(&one.join("epochs.csv")).text_without(&EPOCH_CLOCK),
        Table::read(&two.join("epochs.csv")).text_without(&EPOCH_CLOCK)
    );
    for id in runs_one.column("run_id") {
        let a = Table::read(&one.join("runs").join(id).join("epochs.csv"));
        let b = Table::read(&two.join("runs").join(id).join("epochs.csv"));
        assert_eq!(a.rows.len(), 2);
        assert_eq!(
            a.text_without(&EPOCH_CLOCK),
            b.text_without(&EPOCH_CLOCK),
            "run {id}"
        );
    }
}

#[test]
fn mnist_is_found_through_the_repository_the_binary_was_built_from() {
    let sb = Sandbox::new();
    sb.write("found.toml", &small_experiment("found", "seed = [0]"));
    let output = assert_cmd::Command::cargo_bin("sweep")
        .unwrap()
        .env_remove("SWEEP_DATA_DIR")
        .current_dir(sb.path())
        .args(["run", "--quiet", "found.toml", "--out", "results"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(sb.out().join("found/manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["dataset_dir"],
        repo().join("data").join("mnist").display().to_string()
    );
}

#[test]
fn sweep_data_dir_is_searched_first() {
    let sb = Sandbox::new();
    let data = sb.path().join("elsewhere");
    fs::create_dir(&data).unwrap();
    sb.copy_mnist("elsewhere/mnist");
    let file = sb.write("env.toml", &small_experiment("env", "seed = [0]"));
    let output = assert_cmd::Command::cargo_bin("sweep")
        .unwrap()
        .env("SWEEP_DATA_DIR", &data)
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(sb.out())
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(sb.out().join("env/manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["dataset_dir"],
        data.join("mnist").display().to_string()
    );
}

// ------------------------------------------------------------------ resuming

#[test]
fn resume_trains_only_the_runs_added_to_the_grid() {
    let sb = Sandbox::new();
    let file = sb.write("grow.toml", &small_experiment("grow", "lambda = [0, 0.01]"));
    sb.run(&file, &[]);
    let root = sb.out().join("grow");
    let first_ids = run_ids(&file);
    let before: Vec<(SystemTime, Vec<u8>, Vec<u8>)> = first_ids
        .iter()
        .map(|id| {
            let dir = root.join("runs").join(id);
            (
                modified(&dir.join("done.json")),
                fs::read(dir.join("done.json")).unwrap(),
                fs::read(dir.join("epochs.csv")).unwrap(),
            )
        })
        .collect();

    sb.write(
        "grow.toml",
        &small_experiment("grow", "lambda = [0, 0.01, 0.1, 1]"),
    );
    let output = sb.run(&file, &[]);
    let said = stdout(&output);
    assert!(
        said.contains("grow: 4 runs (2 trained now, 2 reused)"),
        "{said}"
    );

    let all_ids = run_ids(&file);
    assert_eq!(
        &all_ids[..2],
        first_ids.as_slice(),
        "ids depend on values only"
    );
    for (id, (mtime, done, epochs)) in first_ids.iter().zip(&before) {
        let dir = root.join("runs").join(id);
        assert_eq!(modified(&dir.join("done.json")), *mtime, "{id} rewritten");
        assert_eq!(&fs::read(dir.join("done.json")).unwrap(), done);
        assert_eq!(&fs::read(dir.join("epochs.csv")).unwrap(), epochs);
    }
    let runs = Table::read(&root.join("runs.csv"));
    assert_eq!(runs.column("run_id"), all_ids);
    assert_eq!(runs.column("status"), ["finished"; 4]);
    assert_eq!(Table::read(&root.join("epochs.csv")).rows.len(), 4 * 2);
}

#[test]
fn a_run_without_its_done_file_is_trained_again_and_only_that_one() {
    let sb = Sandbox::new();
    let file = sb.write("crash.toml", &small_experiment("crash", LAMBDA_BY_SEED));
    sb.run(&file, &[]);
    let root = sb.out().join("crash");
    let ids = run_ids(&file);
    let before = Table::read(&root.join("runs.csv")).text_without(&RUN_CLOCK);
    let mtimes: Vec<SystemTime> = ids
        .iter()
        .map(|id| modified(&root.join("runs").join(id).join("done.json")))
        .collect();

    // A crash between writing epochs.csv and done.json leaves this state.
    let crashed = root.join("runs").join(&ids[2]).join("done.json");
    fs::remove_file(&crashed).unwrap();

    let said = stdout(&sb.run(&file, &[]));
    assert!(
        said.contains("crash: 4 runs (1 trained now, 3 reused)"),
        "{said}"
    );
    assert!(crashed.is_file(), "done.json written again");
    for (i, id) in ids.iter().enumerate() {
        let now = modified(&root.join("runs").join(id).join("done.json"));
        assert_eq!(now != mtimes[i], i == 2, "run {id}");
    }
    // The retrained run gives the very same numbers.
    let runs = Table::read(&root.join("runs.csv"));
    assert_eq!(runs.rows.len(), 4);
    assert_eq!(runs.text_without(&RUN_CLOCK), before);
}

#[test]
fn fresh_retrains_every_run_and_keeps_other_files() {
    let sb = Sandbox::new();
    let file = sb.write(
        "again.toml",
        &small_experiment("again", "lambda = [0, 0.01]"),
    );
    sb.run(&file, &[]);
    let root = sb.out().join("again");
    fs::write(root.join("notes.txt"), "mine").unwrap();
    let ids = run_ids(&file);
    let mtimes: Vec<SystemTime> = ids
        .iter()
        .map(|id| modified(&root.join("runs").join(id).join("done.json")))
        .collect();

    let said = stdout(&sb.run(&file, &["--fresh"]));
    assert!(
        said.contains("again: 2 runs (2 trained now, 0 reused)"),
        "{said}"
    );
    for (id, before) in ids.iter().zip(&mtimes) {
        let now = modified(&root.join("runs").join(id).join("done.json"));
        assert_ne!(now, *before, "run {id} was not retrained");
    }
    assert_eq!(fs::read_to_string(root.join("notes.txt")).unwrap(), "mine");
    assert_eq!(Table::read(&root.join("runs.csv")).rows.len(), 2);
}

#[test]
fn shrinking_the_grid_keeps_old_runs_but_lists_only_the_grid() {
    let sb = Sandbox::new();
    let file = sb.write(
        "shrink.toml",
        &small_experiment("shrink", "lambda = [0, 0.01]"),
    );
    sb.run(&file, &[]);
    let old = run_ids(&file);
    sb.write(
        "shrink.toml",
        &small_experiment("shrink", "lambda = [0.01]"),
    );

    let output = sweep()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(sb.out())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stdout(&output);
    assert!(
        said.contains("shrink: 1 runs (0 trained now, 1 reused)"),
        "{said}"
    );
    let note = stderr(&output);
    assert!(
        note.contains("1 finished run(s)") && note.contains("not part of this grid"),
        "{note}"
    );
    let root = sb.out().join("shrink");
    assert!(root.join("runs").join(&old[0]).join("done.json").is_file());
    let runs = Table::read(&root.join("runs.csv"));
    assert_eq!(runs.column("run_id"), [old[1].as_str()]);
}

#[test]
fn results_from_other_dataset_files_are_not_mixed_in() {
    let sb = Sandbox::new();
    let data = sb.copy_mnist("digits");
    let text = small_experiment("mixed", "seed = [0]")
        .replace("dataset = \"mnist\"", "data_dir = \"digits\"");
    let file = sb.write("mixed.toml", &text);
    sb.run(&file, &[]);
    let runs_csv = sb.out().join("mixed/runs.csv");
    let before = fs::read(&runs_csv).unwrap();

    // Same labels, stored uncompressed: other files, other checksums.
    let gz = data.join("t10k-labels-idx1-ubyte.gz");
    fs::write(data.join("t10k-labels-idx1-ubyte"), gunzip(&gz)).unwrap();
    fs::remove_file(&gz).unwrap();

    let output = sweep()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(sb.out())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let msg = stderr(&output);
    assert!(msg.contains("made from other dataset files"), "{msg}");
    assert!(msg.contains("--fresh"), "{msg}");
    assert_eq!(fs::read(&runs_csv).unwrap(), before);

    let said = stdout(&sb.run(&file, &["--fresh"]));
    assert!(said.contains("(1 trained now, 0 reused)"), "{said}");
}

// ---------------------------------------------------------------- divergence

#[test]
fn a_huge_learning_rate_diverges_while_the_other_run_finishes() {
    let sb = Sandbox::new();
    let file = sb.write(
        "boom.toml",
        &small_experiment("boom", "learning_rate = [0.1, 1e6]"),
    );
    let output = sb.run(&file, &[]);
    let said = stdout(&output);
    assert!(
        said.contains("boom: 2 runs (2 trained now, 0 reused, 1 diverged)"),
        "{said}"
    );

    let root = sb.out().join("boom");
    let runs = Table::read(&root.join("runs.csv"));
    assert_eq!(runs.column("learning_rate"), ["0.1", "1000000"]);
    assert_eq!(runs.column("status"), ["finished", "diverged"]);
    assert_eq!(runs.column("diverged_epoch"), ["", "1"]);
    assert_eq!(runs.column("epochs_done"), ["2", "0"]);
    assert_eq!(runs.column("final_test_acc")[1], "");
    assert!(runs.column("final_test_acc")[0].parse::<f64>().unwrap() > 0.1);

    let ids = run_ids(&file);
    let done: serde_json::Value = serde_json::from_slice(
        &fs::read(root.join("runs").join(&ids[1]).join("done.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(done["status"], "diverged");
    assert_eq!(done["diverged_epoch"], 1);
    // Only the finished run has learning-curve rows.
    let epochs = Table::read(&root.join("epochs.csv"));
    assert_eq!(epochs.column("run_id"), [ids[0].as_str(), ids[0].as_str()]);

    // A diverged run counts as done: running again reuses it.
    let said = stdout(&sb.run(&file, &[]));
    assert!(
        said.contains("(0 trained now, 2 reused, 1 diverged)"),
        "{said}"
    );
}

#[test]
fn a_run_that_diverged_at_once_reports_the_time_it_trained() {
    let sb = Sandbox::new();
    let file = sb.write(
        "zero.toml",
        &small_experiment("zero", "learning_rate = [1e6]"),
    );
    sb.run(&file, &[]);
    let runs = Table::read(&sb.out().join("zero/runs.csv"));
    assert_eq!(runs.column("status"), ["diverged"]);
    for column in ["seconds", "train_seconds", "eval_seconds"] {
        let cell = runs.column(column)[0];
        assert!(!cell.starts_with('-'), "{column} = {cell:?}");
    }
    // It trained (part of) an epoch before the loss blew up: that time counts.
    let trained: f64 = runs.column("train_seconds")[0].parse().unwrap();
    assert!(trained > 0.0, "train_seconds = {trained}");
}

// ---------------------------------------------------------------------- plan

#[test]
fn plan_prints_one_line_per_run_and_the_total_work_and_writes_nothing() {
    let sb = Sandbox::new();
    let file = sb.write("plan.toml", &small_experiment("plan", LAMBDA_BY_SEED));
    let output = sweep()
        .current_dir(sb.path())
        .args(["plan", "plan.toml"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stdout(&output);
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines[0], "plan: 4 runs on mnist", "{said}");

    let header: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        header,
        ["run_id", "lambda", "seed", "train_images", "GFLOP"]
    );
    let ids = run_ids(&file);
    let mut row_gflop = 0.0;
    for id in &ids {
        let rows: Vec<&&str> = lines.iter().filter(|l| l.contains(id.as_str())).collect();
        assert_eq!(rows.len(), 1, "run {id} in\n{said}");
        let cells: Vec<&str> = rows[0].split_whitespace().collect();
        assert_eq!(cells[3], "500", "{said}");
        row_gflop += cells[4].parse::<f64>().unwrap();
    }
    let rows: Vec<Vec<&str>> = lines[2..6]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let lambda_seed: Vec<(&str, &str)> = rows.iter().map(|r| (r[1], r[2])).collect();
    assert_eq!(
        lambda_seed,
        [("0", "0"), ("0", "1"), ("0.01", "0"), ("0.01", "1")]
    );

    let total = lines
        .iter()
        .find_map(|l| l.strip_prefix("total work: "))
        .unwrap_or_else(|| panic!("no total line in\n{said}"));
    let (gflop, rest) = total.split_once(" GFLOP").unwrap();
    assert_eq!(rest, " over 4 runs");
    let gflop: f64 = gflop.parse().unwrap();
    assert!(gflop > 0.0);
    assert!(
        (gflop - row_gflop).abs() <= 0.05 * 5.0,
        "{gflop} vs {row_gflop}"
    );
    assert!(
        said.contains("epochs=2") && said.contains("hidden_size=32"),
        "{said}"
    );

    let left: Vec<_> = fs::read_dir(sb.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["plan.toml"], "plan wrote files");
}

// ----------------------------------------------------------- help and version

#[test]
fn help_lists_the_subcommands_and_flags() {
    let output = sweep().arg("--help").output().unwrap();
    assert!(output.status.success());
    let said = stdout(&output);
    assert!(said.contains("Usage: sweep"), "{said}");
    assert!(said.contains("run") && said.contains("plan"), "{said}");

    let output = sweep().args(["run", "--help"]).output().unwrap();
    assert!(output.status.success());
    let said = stdout(&output);
    for flag in ["--jobs", "--out", "--fresh", "--quiet"] {
        assert!(said.contains(flag), "{flag} missing from\n{said}");
    }
}

#[test]
fn version_prints_the_package_version() {
    let output = sweep().arg("--version").output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        stdout(&output),
        format!("sweep {}\n", env!("CARGO_PKG_VERSION"))
    );
}

// ----------------------------------------------------------------- bad input

/// Writes an experiment file `bad.toml` and expects it to be refused.
fn refused_text(text: &str) -> (String, String) {
    let sb = Sandbox::new();
    let file = sb.write("bad.toml", text);
    let msg = refused_in(
        &sb,
        &["run", file.to_str().unwrap(), "--out", "results"],
        QUICKLY,
    );
    (msg, file.display().to_string())
}

#[test]
fn an_unknown_key_is_refused_with_a_suggestion_and_its_line() {
    let (msg, file) = refused_text("[train]\nepochs = 1\nlamda = 0.1\n");
    assert!(msg.contains("unknown key `lamda`"), "{msg}");
    assert!(msg.contains("did you mean `lambda`"), "{msg}");
    assert!(msg.contains(&format!("{file}, line 3")), "{msg}");
}

#[test]
fn a_wrong_type_is_refused_with_its_line() {
    let (msg, file) = refused_text("name = \"t\"\n\n[train]\nepochs = \"ten\"\n");
    assert!(msg.contains("`epochs` must be a whole number"), "{msg}");
    assert!(msg.contains("string \"ten\""), "{msg}");
    assert!(msg.contains(&format!("{file}, line 4")), "{msg}");
}

#[test]
fn a_negative_lambda_is_refused() {
    let (msg, file) = refused_text("[grid]\nlambda = [0, -0.1]\n");
    assert!(msg.contains("`lambda` must be ≥ 0, got -0.1"), "{msg}");
    assert!(msg.contains(&format!("{file}, line 2")), "{msg}");
}

#[test]
fn a_zero_learning_rate_is_refused() {
    let (msg, file) = refused_text("[train]\nlearning_rate = 0\n");
    assert!(msg.contains("`learning_rate` must be > 0, got 0"), "{msg}");
    assert!(msg.contains(&format!("{file}, line 2")), "{msg}");
}

#[test]
fn a_value_listed_twice_in_the_grid_is_refused() {
    let (msg, file) = refused_text("epochs = 1\n[grid]\nlambda = [0.1, 0.01, 0.1]\n");
    assert!(
        msg.contains("`grid.lambda` lists the value 0.1 twice"),
        "{msg}"
    );
    assert!(msg.contains(&format!("{file}, line 3")), "{msg}");
}

#[test]
fn an_empty_grid_list_is_refused() {
    let (msg, file) = refused_text("[grid]\nseed = []\n");
    assert!(msg.contains("`grid.seed` is empty"), "{msg}");
    assert!(msg.contains(&format!("{file}, line 2")), "{msg}");
}

#[test]
fn malformed_toml_is_refused_naming_the_file() {
    let (msg, file) = refused_text("[train\nepochs = 1\n");
    assert!(msg.contains(&format!("{file} is not valid TOML")), "{msg}");
    assert!(msg.contains("line 1"), "{msg}");
}

#[test]
fn a_missing_experiment_file_is_refused() {
    let sb = Sandbox::new();
    let file = sb.path().join("nowhere.toml");
    let msg = refused_in(
        &sb,
        &["run", file.to_str().unwrap(), "--out", "results"],
        QUICKLY,
    );
    assert!(
        msg.contains(&format!("cannot read experiment file {}", file.display())),
        "{msg}"
    );
}

#[test]
fn zero_jobs_is_refused_by_the_command_line() {
    let sb = Sandbox::new();
    let file = sb.write("ok.toml", &small_experiment("ok", "seed = [0]"));
    let output = sweep()
        .arg("run")
        .arg(&file)
        .args(["--jobs", "0", "--out"])
        .arg(sb.out())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let msg = stderr(&output);
    assert!(msg.contains("--jobs") && msg.contains("'0'"), "{msg}");
    assert!(!sb.out().exists());
}

#[test]
fn bad_report_intervals_are_refused_by_the_command_line() {
    let sb = Sandbox::new();
    let file = sb.write("ok.toml", &small_experiment("ok", "seed = [0]"));
    for bad in ["-1", "soon", "86401", "1.5"] {
        let output = sweep()
            .arg("run")
            .arg(&file)
            .args(["--report-every", bad, "--out"])
            .arg(sb.out())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let msg = stderr(&output);
        assert!(
            msg.contains("--report-every") && msg.contains(&format!("'{bad}'")),
            "{msg}"
        );
        assert!(!sb.out().exists());
    }
}

#[test]
fn a_subset_larger_than_the_training_split_is_refused() {
    let text = small_experiment("big", "seed = [0]").replace("500", "60001");
    let (msg, file) = refused_text(&text);
    assert!(
        msg.contains(
            "`train_subset` = 60001 but the training split of mnist has only 60000 images"
        ),
        "{msg}"
    );
    assert!(msg.contains(&file), "{msg}");
}

#[test]
fn a_batch_larger_than_the_subset_is_refused() {
    let text = small_experiment("batch", "batch_size = [50, 100]").replace("500", "80");
    let (msg, file) = refused_text(&text);
    assert!(
        msg.contains("`batch_size` = 100 is larger than the 80 training images used"),
        "{msg}"
    );
    assert!(msg.contains(&file), "{msg}");
}

#[test]
fn an_empty_data_dir_is_refused_saying_where_it_looked() {
    let sb = Sandbox::new();
    fs::create_dir(sb.path().join("empty")).unwrap();
    let text = small_experiment("nodata", "seed = [0]")
        .replace("dataset = \"mnist\"", "data_dir = \"empty\"");
    let file = sb.write("nodata.toml", &text);
    let msg = refused_in(
        &sb,
        &["run", file.to_str().unwrap(), "--out", "results"],
        QUICKLY,
    );
    assert!(msg.contains("dataset not found"), "{msg}");
    assert!(
        msg.contains(&sb.path().join("empty").display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("data_dir"), "{msg}");
}

/// An experiment reading `data_dir = "digits"`, a copy of MNIST in which
/// `damage` changes the training labels file.
fn refused_with_damaged_labels(damage: impl FnOnce(&Path)) -> (String, PathBuf) {
    let sb = Sandbox::new();
    let data = sb.copy_mnist("digits");
    let labels = data.join("train-labels-idx1-ubyte.gz");
    damage(&labels);
    let text = small_experiment("damaged", "seed = [0]")
        .replace("dataset = \"mnist\"", "data_dir = \"digits\"");
    let file = sb.write("damaged.toml", &text);
    let msg = refused_in(
        &sb,
        &["run", file.to_str().unwrap(), "--out", "results"],
        QUICKLY,
    );
    (msg, labels)
}

#[test]
fn a_truncated_gzip_data_file_is_refused_naming_it() {
    let (msg, labels) = refused_with_damaged_labels(|path| {
        let bytes = fs::read(path).unwrap();
        fs::write(path, &bytes[..300]).unwrap();
    });
    assert!(msg.contains(&labels.display().to_string()), "{msg}");
    assert!(msg.contains("not a valid gzip file"), "{msg}");
}

#[test]
fn a_data_file_with_a_bad_magic_number_is_refused_naming_it() {
    let (msg, labels) = refused_with_damaged_labels(|path| {
        let mut bytes = gunzip(path);
        bytes[..4].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&bytes).unwrap();
        fs::write(path, enc.finish().unwrap()).unwrap();
    });
    assert!(msg.contains(&labels.display().to_string()), "{msg}");
    assert!(msg.contains("bad magic number 0xdeadbeef"), "{msg}");
}

#[test]
fn a_results_folder_that_is_a_file_is_refused() {
    let sb = Sandbox::new();
    let file = sb.write("taken.toml", &small_experiment("taken", "seed = [0]"));
    fs::create_dir(sb.out()).unwrap();
    fs::write(sb.out().join("taken"), "not a folder").unwrap();
    let output = sweep()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(sb.out())
        .output()
        .unwrap();
    let msg = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{msg}");
    assert!(msg.contains("is a file, not a folder"), "{msg}");
    assert!(
        msg.contains(&sb.out().join("taken").display().to_string()),
        "{msg}"
    );
    assert_eq!(
        fs::read_to_string(sb.out().join("taken")).unwrap(),
        "not a folder"
    );
    assert_eq!(fs::read_dir(sb.out()).unwrap().count(), 1);
}

#[test]
fn an_out_path_that_is_a_file_is_bad_input() {
    let sb = Sandbox::new();
    let file = sb.write("onfile.toml", &small_experiment("onfile", "seed = [0]"));
    let out = sb.write("results.txt", "not a folder");
    let output = sweep()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let msg = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{msg}");
    assert!(msg.contains(&out.display().to_string()), "{msg}");
    assert_eq!(fs::read_to_string(&out).unwrap(), "not a folder");
}

#[test]
fn the_settings_page_documents_every_setting_with_its_default() {
    let page = fs::read_to_string(repo().join("docs/settings.md")).unwrap();
    let table = page
        .split("# Every setting")
        .nth(1)
        .expect("docs/settings.md has a section called Every setting");
    let defaults = sweep::config::RunParams::default();
    for &key in sweep::config::Key::ALL {
        let row = table
            .lines()
            .find(|l| {
                l.starts_with(&format!("| `{}`", key.name()))
                    || l.contains(&format!(", `{}` |", key.name()))
            })
            .unwrap_or_else(|| {
                panic!(
                    "docs/settings.md's settings table has no row for `{}`",
                    key.name()
                )
            });
        let cells: Vec<&str> = row.split(" | ").collect();
        assert_eq!(cells[1], key.section(), "{row}");
        let shown = defaults.text(key);
        if !shown.is_empty() && !row.starts_with("| `beta1`") {
            let default = cells[2].trim_matches('`');
            assert!(
                default == shown
                    || matches!((default.parse::<f64>(), shown.parse::<f64>()), (Ok(a), Ok(b)) if a == b),
                "docs/settings.md gives `{}` the default {default}, sweep has {shown}",
                key.name()
            );
        }
    }
}

#[test]
fn optimizers_schedules_and_early_stopping_give_the_same_bits_with_one_or_two_jobs_and_resume() {
    let sb = Sandbox::new();
    // min_delta = 1 counts no change in validation loss as an improvement,
    // so every run stops after its third evaluation (best, then 2 without).
    let file = sb.write(
        "opt.toml",
        "name = \"opt\"\n\
         [data]\ntrain_subset = 500\nvalidation = 200\n\
         [model]\nhidden = [40, 20]\n\
         [train]\nepochs = 5\nlearning_rate = 0.01\nlambda = 0.001\n\
         lr_schedule = \"cosine\"\nwarmup_epochs = 1\n\
         early_stopping = { metric = \"val_loss\", patience = 2, min_delta = 1 }\n\
         [grid]\noptimizer = [\"momentum\", \"nesterov\", \"adam\", \"adamw\"]\n\
         weight_decay = [\"l2\", \"decoupled\"]\n",
    );
    let run = |out: &Path, jobs: &str| {
        let output = sweep()
            .args(["run", "--jobs", jobs, "--out"])
            .arg(out)
            .arg(&file)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output) + &stderr(&output)
    };
    let (one, two) = (sb.path().join("one"), sb.path().join("two"));
    run(&one, "1");
    run(&two, "2");
    let (one, two) = (one.join("opt"), two.join("opt"));
    let runs = Table::read(&one.join("runs.csv"));
    // adamw × {l2, decoupled} is one network: 7 runs, not 8.
    assert_eq!(runs.rows.len(), 7);
    assert_eq!(
        runs.text_without(&RUN_CLOCK),
        Table::read(&two.join("runs.csv")).text_without(&RUN_CLOCK)
    );
    assert_eq!(
        Table::read(&one.join("epochs.csv")).text_without(&EPOCH_CLOCK),
        Table::read(&two.join("epochs.csv")).text_without(&EPOCH_CLOCK)
    );
    assert!(runs.column("stopped_epoch").iter().all(|&e| e == "3"));
    assert!(runs.column("epochs_done").iter().all(|&e| e == "3"));
    assert!(
        runs.column("best_chosen_on")
            .iter()
            .all(|&e| e == "val_loss")
    );
    assert!(runs.column("parameters").iter().all(|&p| p == "32430"));
    assert!(
        runs.floats("final_val_acc")
            .iter()
            .all(|a| (0.0..=1.0).contains(a))
    );
    let epochs = Table::read(&one.join("epochs.csv"));
    let first: Vec<&str> = epochs.column("lr").into_iter().take(3).collect();
    // Warm-up to 0.01, then cosine over the remaining 4 epochs.
    assert_eq!(first, ["0.01", "0.01", "0.00853553390593274"]);
    let said = run(one.parent().unwrap(), "2");
    assert!(said.contains("0 trained now, 7 reused"), "{said}");
}

#[test]
fn log_spaced_evaluation_records_those_epochs_with_the_weight_norm_in_the_same_bits_with_any_jobs()
{
    let sb = Sandbox::new();
    // 16 epochs, { log = 5 }: epochs 16^(i/4) = 1, 2, 4, 8, 16.
    let file = sb.write(
        "grok.toml",
        "name = \"grok\"\n[data]\ntrain_subset = 200\n\
         [model]\nhidden = [16]\ninit = \"uniform\"\n\
         [train]\nepochs = 16\nbatch_size = 50\nloss = \"mse\"\noptimizer = \"adamw\"\n\
         learning_rate = 0.001\nlambda = 0.01\neval_every = { log = 5 }\n\
         [grid]\ninit_scale = [1, 8]\n",
    );
    sb.run(&file, &["--jobs", "2"]);
    let root = sb.out().join("grok");
    let epochs = Table::read(&root.join("epochs.csv"));
    let evaluated: Vec<&str> = epochs.column("epoch");
    assert_eq!(
        evaluated,
        ["1", "2", "4", "8", "16", "1", "2", "4", "8", "16"]
    );
    let norms = epochs.floats("weight_norm");
    let scales = epochs.column("init_scale");
    // α = 8 multiplies every parameter: its norm after one epoch is near 8×.
    let (one, eight) = (norms[0], norms[5]);
    assert_eq!((scales[0], scales[5]), ("1", "8"));
    assert!(eight / one > 6.0 && eight / one < 9.0, "{one} {eight}");
    // The same bits with one job, from scratch.
    let before = epochs.text_without(&EPOCH_CLOCK);
    sb.run(&file, &["--jobs", "1", "--fresh"]);
    let again = Table::read(&root.join("epochs.csv")).text_without(&EPOCH_CLOCK);
    assert_eq!(again, before);
    // The learning curves go on a log epoch axis, with the norm beside them.
    assert!(root.join("plots/weight_norm.svg").is_file());
}

#[test]
fn a_run_stops_at_the_first_evaluation_that_reaches_stop_at_train_loss() {
    let sb = Sandbox::new();
    let file = sb.write(
        "fit.toml",
        "name = \"fit\"\n[data]\ntrain_subset = 300\n\
         [model]\nhidden = [32]\n\
         [train]\nepochs = 200\nbatch_size = 50\nlearning_rate = 0.1\nstop_at_train_loss = 0.05\n",
    );
    sb.run(&file, &[]);
    let root = sb.out().join("fit");
    let epochs = Table::read(&root.join("epochs.csv"));
    let losses = epochs.floats("train_loss");
    let (last, before) = (losses[losses.len() - 1], &losses[..losses.len() - 1]);
    assert!(
        last <= 0.05 && before.iter().all(|&l| l > 0.05),
        "{losses:?}"
    );
    let runs = Table::read(&root.join("runs.csv"));
    let stopped = runs.column("stopped_epoch")[0];
    assert_eq!(stopped, losses.len().to_string());
    assert!(losses.len() < 200);
    // The report says where: in the table's note and on the curves.
    let html = fs::read_to_string(root.join("report.html")).unwrap();
    assert!(
        html.contains(&format!("1 stopped early (epoch {stopped})")),
        "{html}"
    );
    let curves = fs::read_to_string(root.join("plots/learning_curves.svg")).unwrap();
    assert!(curves.contains("1 stopped early, dashed"));
}
