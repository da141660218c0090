//! Stored results are trusted only when they prove they are complete, and
//! every results folder an older version wrote is still read: a run record
//! cut short or edited is found and trained again (and the user told why),
//! a folder written by sweep 0.1 is reported on as it is and upgraded by
//! `sweep run` without training anything, and the committed example's ids
//! and numbers are the ones this version computes.

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{RUN_CLOCK, Sandbox, Table, copy_tree, metrics, repo, sweep, text};

/// 2 runs, 6 epochs each evaluated: `epochs.csv` of a run has 6 rows.
const SIX_EPOCHS: &str = "name = \"rec\"\n[data]\ntrain_subset = 300\n[model]\nhidden_size = 16\n\
     [train]\nepochs = 6\nbatch_size = 50\n[grid]\nseed = { count = 2 }\n";

fn run_dirs(results: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(results.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs
}

/// Keeps the first `lines` lines of `path`.
fn keep_lines(path: &Path, lines: usize) {
    let text = fs::read_to_string(path).unwrap();
    let kept: String = text.lines().take(lines).map(|l| format!("{l}\n")).collect();
    fs::write(path, kept).unwrap();
}

/// Runs the sweep again and returns its stderr, checking that exactly one
/// run was trained and that the results equal the undisturbed ones.
fn rerun_trains_one(sb: &Sandbox, file: &Path, before: &(String, String)) -> String {
    let out = sweep()
        .args(["run", "--out"])
        .arg(sb.out())
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("(1 trained now, 1 reused)"), "{stdout}");
    let results = sb.out().join("rec");
    assert_eq!(metrics(&results.join("runs.csv")), before.0);
    assert_eq!(metrics(&results.join("epochs.csv")), before.1);
    text(&out.stderr)
}

fn undisturbed(sb: &Sandbox, file: &Path) -> (String, String) {
    sb.run(file, &[]);
    let results = sb.out().join("rec");
    (
        metrics(&results.join("runs.csv")),
        metrics(&results.join("epochs.csv")),
    )
}

#[test]
fn a_run_whose_epochs_file_lost_its_last_lines_is_trained_again_and_the_user_told() {
    let sb = Sandbox::new();
    let file = sb.write("rec.toml", SIX_EPOCHS);
    let before = undisturbed(&sb, &file);
    let damaged = &run_dirs(&sb.out().join("rec"))[0];
    // Header + 6 rows; keep header + 4 (the case: 16 of 21 lines).
    keep_lines(&damaged.join("epochs.csv"), 5);
    let id = damaged.file_name().unwrap().to_string_lossy().into_owned();
    let report = sweep()
        .arg("report")
        .arg(sb.out().join("rec"))
        .output()
        .unwrap();
    let said = text(&report.stdout);
    assert!(said.contains("1 of 2 runs finished"), "{said}");
    assert!(
        said.contains(&id) && said.contains("damaged or incomplete"),
        "{said}"
    );
    let stderr = rerun_trains_one(&sb, &file, &before);
    assert!(
        stderr.contains(&id) && stderr.contains("epochs.csv"),
        "the message names the run and the file: {stderr}"
    );
}

#[test]
fn a_record_without_checksums_is_still_checked_for_its_shape() {
    // A record as sweep 0.1 wrote it (no checksums, no row count) that lost
    // lines is caught by the epochs its settings must have evaluated.
    let sb = Sandbox::new();
    let file = sb.write("rec.toml", SIX_EPOCHS);
    let before = undisturbed(&sb, &file);
    let damaged = &run_dirs(&sb.out().join("rec"))[1];
    let done_path = damaged.join("done.json");
    let mut done: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&done_path).unwrap()).unwrap();
    let done_map = done.as_object_mut().unwrap();
    done_map.remove("sha256");
    done_map.remove("epoch_rows");
    fs::write(&done_path, serde_json::to_vec_pretty(&done).unwrap()).unwrap();
    keep_lines(&damaged.join("epochs.csv"), 4);
    let stderr = rerun_trains_one(&sb, &file, &before);
    assert!(
        stderr.contains("epochs.csv has 3 rows (last epoch 3)"),
        "{stderr}"
    );
}

#[test]
fn an_edited_result_file_fails_its_checksum_and_is_trained_again() {
    let sb = Sandbox::new();
    let file = sb.write("rec.toml", SIX_EPOCHS);
    let before = undisturbed(&sb, &file);
    let damaged = &run_dirs(&sb.out().join("rec"))[0];
    let path = damaged.join("epochs.csv");
    // The same number of lines, one value changed.
    let edited = fs::read_to_string(&path).unwrap().replacen(",0.", ",1.", 1);
    fs::write(&path, edited).unwrap();
    let stderr = rerun_trains_one(&sb, &file, &before);
    assert!(
        stderr.contains("epochs.csv does not match the checksum in done.json"),
        "{stderr}"
    );
}

#[test]
fn a_result_file_that_is_a_device_or_a_folder_is_refused_without_reading_it() {
    let sb = Sandbox::new();
    let file = sb.write("rec.toml", SIX_EPOCHS);
    sb.run(&file, &[]);
    let results = sb.out().join("rec");
    let dirs = run_dirs(&results);
    let epochs = dirs[0].join("epochs.csv");
    fs::remove_file(&epochs).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &epochs).unwrap();
    let params = dirs[1].join("params.json");
    fs::remove_file(&params).unwrap();
    fs::create_dir(&params).unwrap();
    let started = std::time::Instant::now();
    let out = sweep().arg("report").arg(&results).output().unwrap();
    assert!(started.elapsed().as_secs() < 10);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("0 of 2 runs finished"), "{said}");
    assert!(
        said.contains("it is a device, not a regular file"),
        "{said}"
    );
    assert!(
        said.contains("it is a folder, not a regular file"),
        "{said}"
    );
}

/// The fixture: a results folder written by sweep 0.1.0 (8 runs: finished,
/// diverged and one failed; `slurm/shards.json` of a 3-task split), copied
/// with its experiment file into a sandbox as `results/legacy`.
fn legacy_sandbox() -> (Sandbox, PathBuf) {
    let sb = Sandbox::new();
    let fixture = repo().join("tests/fixtures/legacy-0.1");
    fs::copy(fixture.join("legacy.toml"), sb.path().join("legacy.toml")).unwrap();
    copy_tree(&fixture.join("legacy"), &sb.out().join("legacy"));
    let results = sb.out().join("legacy");
    (sb, results)
}

/// A cell with numbers compared at the 15 significant digits the aggregate
/// tables keep (sweep 0.1 wrote 17).
fn fifteen_digits(cell: &str) -> String {
    match cell.parse::<f64>() {
        Ok(x) => format!("{x:.14e}"),
        Err(_) => cell.to_string(),
    }
}

/// `runs.csv` metrics keyed by settings (ids and column names changed).
fn legacy_metrics(path: &Path) -> Vec<String> {
    let table = Table::read(path);
    // The columns sweep 0.1 wrote; later versions add their own.
    let fixture = Table::read(&repo().join("tests/fixtures/legacy-0.1/legacy/runs.csv"));
    let keep: Vec<usize> = fixture
        .header
        .iter()
        .filter(|name| {
            !RUN_CLOCK.contains(&name.as_str())
                && !["run_id", "finished_at", "error"].contains(&name.as_str())
        })
        .filter_map(|name| table.header.iter().position(|h| h == name))
        .collect();
    let mut rows: Vec<String> = table
        .rows
        .iter()
        .map(|r| {
            keep.iter()
                .map(|&i| fifteen_digits(&r[i]))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_folder_written_by_sweep_0_1_is_reported_as_it_is_then_upgraded_without_training() {
    let (sb, results) = legacy_sandbox();
    let before = legacy_metrics(&results.join("runs.csv"));
    let in_sandbox = |args: &[&str]| sweep().current_dir(sb.path()).args(args).output().unwrap();

    // Read as it is: every run found, statuses per shard of its old split.
    let out = in_sandbox(&["report", "results/legacy"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("8 of 8 runs finished, 4 configurations"),
        "{said}"
    );
    assert!(said.contains("written by sweep 0.1.0"), "{said}");
    // The same statistics from the same records: every column sweep 0.1
    // wrote holds the same cells (later versions add columns).
    let summary = Table::read(&results.join("summary.csv"));
    let fixture_summary = Table::read(&repo().join("tests/fixtures/legacy-0.1/legacy/summary.csv"));
    assert_eq!(summary.rows.len(), fixture_summary.rows.len());
    for column in &fixture_summary.header {
        assert_eq!(
            summary.column(column),
            fixture_summary.column(column),
            "summary.csv column {column}"
        );
    }
    let status = text(&in_sandbox(&["status", "results/legacy"]).stdout);
    for line in [
        "shard 0        3         2         1       0        0",
        "shard 1        3         2         0       1        0",
        "shard 2        2         1         1       0        0",
    ] {
        assert!(status.contains(line), "{line:?} in\n{status}");
    }

    // `sweep run` trains nothing, says it migrated, renames every folder.
    let out = in_sandbox(&["run", "legacy.toml"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one run failed in 0.1 and stays failed"
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stdout.contains("(0 trained now, 8 reused, 2 diverged, 1 FAILED)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("migrated 8 run record(s) written by sweep 0.1"),
        "{stderr}"
    );
    let names: Vec<String> = run_dirs(&results)
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let planned: Vec<String> = sweep::config::Experiment::load(&sb.path().join("legacy.toml"))
        .unwrap()
        .runs
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut sorted = planned.clone();
    sorted.sort();
    assert_eq!(names, sorted, "every folder now carries its current id");
    assert_eq!(
        Table::read(&results.join("runs.csv")).column("run_id"),
        planned
    );
    assert_eq!(legacy_metrics(&results.join("runs.csv")), before);
    for dir in run_dirs(&results) {
        let done = fs::read_to_string(dir.join("done.json")).unwrap();
        assert!(done.contains("\"sha256\""), "{done}");
    }
    // Each run's own epochs.csv is kept byte for byte.
    let epochs_files = |root: &Path| {
        let mut files: Vec<Vec<u8>> = run_dirs(root)
            .iter()
            .map(|d| fs::read(d.join("epochs.csv")).unwrap())
            .collect();
        files.sort();
        files
    };
    assert_eq!(
        epochs_files(&results),
        epochs_files(&repo().join("tests/fixtures/legacy-0.1/legacy"))
    );

    // Once upgraded, nothing is migrated or trained again.
    let out = in_sandbox(&["run", "legacy.toml"]);
    assert!(text(&out.stdout).contains("(0 trained now, 8 reused"));
    assert!(!text(&out.stderr).contains("migrated"));
    assert_eq!(legacy_metrics(&results.join("runs.csv")), before);
}

#[test]
fn the_committed_example_has_the_ids_sweep_plan_gives_and_its_numbers_are_reproduced() {
    let example = repo().join("docs/example-lambda");
    let committed = Table::read(&example.join("runs.csv"));
    let plan = sweep()
        .current_dir(repo())
        .args(["plan", "experiments/lambda.toml"])
        .output()
        .unwrap();
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    let planned: Vec<String> = text(&plan.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.len() == 13 && w.starts_with('r'))
        .map(String::from)
        .collect();
    assert_eq!(committed.column("run_id"), planned);

    // Two of its runs trained again from the same settings (a smaller grid
    // of the same values has the same ids) give the committed numbers.
    let sb = Sandbox::new();
    let lambda = fs::read_to_string(repo().join("experiments/lambda.toml")).unwrap();
    let grid_at = lambda.find("[grid]").unwrap();
    let file = sb.write(
        "lambda.toml",
        &format!(
            "{}[grid]\nlambda = [0, 0.1]\nseed = [2]\n",
            &lambda[..grid_at]
        ),
    );
    sb.run(&file, &["--jobs", "2"]);
    let trained = Table::read(&sb.out().join("lambda/runs.csv"));
    // Every column the committed table has (a later version may add
    // columns; their absence there is no change of a number).
    let row_text = |t: &Table, id: &str| {
        let row = t
            .rows
            .iter()
            .find(|r| r[0] == id)
            .unwrap_or_else(|| panic!("no run {id}"));
        committed
            .header
            .iter()
            .filter(|h| !RUN_CLOCK.contains(&h.as_str()))
            .map(|h| {
                let i = t.index(h);
                format!("{h}={}", row[i])
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    for id in trained.column("run_id") {
        assert_eq!(row_text(&trained, id), row_text(&committed, id));
    }
}
