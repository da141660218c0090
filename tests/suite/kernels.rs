//! The GEMM kernel of a results folder: recorded in manifest.json and in
//! runs.csv for every run, kept when the folder is resumed (a switch is
//! refused unless asked for), matrixmultiply for folders of sweep 0.3, the
//! same bits with any number of jobs and after a kill for each kernel, and
//! `sweep bench` saying what it measured.

use std::fs;
use std::path::{Path, PathBuf};

use sweep::nn::Kernel;

use crate::util::{EPOCH_CLOCK, RUN_CLOCK, Sandbox, Table, copy_tree, repo, sweep, text};

/// Four small runs (λ × seed) on 1 000 real MNIST images.
const SMALL: &str = "name = \"k\"\n[data]\ntrain_subset = 1000\n[model]\nhidden_size = 32\n\
                     [train]\nepochs = 2\n[grid]\nlambda = [0, 0.01]\nseed = { count = 2 }\n";

/// The kernels this CPU can run.
fn kernels() -> Vec<Kernel> {
    Kernel::ALL.into_iter().filter(|k| k.available()).collect()
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

/// The folder's kernel label and how it was chosen, from its manifest.
fn kernel_of(dir: &Path) -> (String, String) {
    let m = manifest(dir);
    let text = |key: &str| m[key].as_str().unwrap_or_default().to_string();
    (text("kernel"), text("kernel_choice"))
}

/// `sweep run FILE --out <sandbox>/results --quiet`, to add to.
fn sweep_run(sb: &Sandbox, file: &Path) -> assert_cmd::Command {
    let mut cmd = sweep();
    cmd.arg("run")
        .arg(file)
        .arg("--out")
        .arg(sb.out())
        .arg("--quiet");
    cmd
}

/// `sweep run` in the sandbox with `args` after the file, unchecked.
fn run(sb: &Sandbox, file: &Path, args: &[&str]) -> std::process::Output {
    sweep_run(sb, file).args(args).output().unwrap()
}

/// The cells of `runs.csv` but the wall-clock ones, and of every run's own
/// epochs.csv.
fn numbers(dir: &Path) -> String {
    let mut all = Table::read(&dir.join("runs.csv")).text_without(&RUN_CLOCK);
    let mut runs: Vec<PathBuf> = fs::read_dir(dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    runs.sort();
    for run in runs {
        let epochs = Table::read(&run.join("epochs.csv"));
        all += &epochs.text_without(&EPOCH_CLOCK);
    }
    all
}

#[test]
fn a_new_folder_records_the_kernel_asked_for_and_every_run_its_label() {
    for kernel in kernels() {
        let sb = Sandbox::new();
        let file = sb.write("k.toml", SMALL);
        let out = run(&sb, &file, &["--kernel", kernel.name()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let dir = sb.out().join("k");
        let (label, choice) = kernel_of(&dir);
        assert_eq!(label, kernel.label());
        assert_eq!(choice, format!("asked for with --kernel {kernel}"));
        let runs = Table::read(&dir.join("runs.csv"));
        assert_eq!(runs.column("kernel"), vec![kernel.label().as_str(); 4]);
        let done = fs::read_to_string(
            dir.join("runs")
                .join(runs.column("run_id")[0])
                .join("done.json"),
        )
        .unwrap();
        assert!(
            done.contains(&format!("\"kernel\": \"{}\"", kernel.label())),
            "{done}"
        );
        let status = text(&sweep().arg("status").arg(&dir).output().unwrap().stdout);
        assert!(
            status.contains(&format!("kernel: {}", kernel.label())),
            "{status}"
        );
        assert!(!status.contains("note:"), "{status}");
    }
}

#[test]
fn auto_measures_both_kernels_and_records_what_it_chose_and_why() {
    let sb = Sandbox::new();
    let file = sb.write("k.toml", SMALL);
    let out = sweep_run(&sb, &file)
        .env_remove("SWEEP_KERNEL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (label, choice) = kernel_of(&sb.out().join("k"));
    assert!(
        choice.starts_with(&format!("auto chose {label}: ")) && choice.contains("GFLOP/s"),
        "{choice}"
    );
    assert!(choice.contains("784-32-32-10 step (batch 100)"), "{choice}");
}

#[test]
fn the_experiment_file_and_the_environment_name_the_kernel_of_a_new_folder() {
    let sb = Sandbox::new();
    let with_key = sb.write("k.toml", &format!("kernel = \"matrixmultiply\"\n{SMALL}"));
    let out = sweep_run(&sb, &with_key)
        .env("SWEEP_KERNEL", "gemm")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (label, choice) = kernel_of(&sb.out().join("k"));
    assert_eq!(label, Kernel::MatrixMultiply.label());
    assert!(
        choice.contains("kernel = \"matrixmultiply\" in"),
        "{choice}"
    );

    let other = sb.write("j.toml", &SMALL.replace("\"k\"", "\"j\""));
    let bad = sweep_run(&sb, &other)
        .env("SWEEP_KERNEL", "mkl")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    let said = text(&bad.stderr);
    assert!(
        said.contains("SWEEP_KERNEL=\"mkl\"") && said.contains("\"gemm\""),
        "{said}"
    );
    assert!(!sb.out().join("j").exists(), "nothing written");
}

#[test]
fn a_folder_keeps_its_kernel_and_refuses_another_unless_switched() {
    let sb = Sandbox::new();
    let file = sb.write("k.toml", SMALL);
    let dir = sb.out().join("k");
    assert!(
        run(&sb, &file, &["--kernel", "matrixmultiply"])
            .status
            .success()
    );
    let before = numbers(&dir);

    // Asked for another kernel: refused, saying how to go on; nothing changes.
    let more = sb.write("k.toml", &SMALL.replace("count = 2", "count = 3"));
    let out = run(&sb, &more, &["--kernel", "gemm"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    for part in [
        "--kernel gemm: ",
        "was started with the matrixmultiply kernel",
        "--kernel gemm --fresh",
        "--kernel gemm --switch-kernel",
    ] {
        assert!(said.contains(part), "{part:?} in {said}");
    }
    assert_eq!(numbers(&dir), before, "a refused run changes nothing");
    // The same from the experiment file, whose line the advice names.
    let in_file = sb.write(
        "k-gemm.toml",
        &format!(
            "kernel = \"gemm\"\n{}",
            SMALL.replace("count = 2", "count = 3")
        ),
    );
    let out = run(&sb, &in_file, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(said.contains("kernel = \"gemm\" in"), "{said}");
    assert!(
        said.contains("set kernel = \"matrixmultiply\" in"),
        "{said}"
    );

    // Without --kernel (auto, or SWEEP_KERNEL): the folder's kernel.
    let out = sweep_run(&sb, &more)
        .env("SWEEP_KERNEL", "gemm")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let runs = Table::read(&dir.join("runs.csv"));
    assert_eq!(runs.rows.len(), 6);
    assert!(
        runs.column("kernel")
            .iter()
            .all(|k| k.starts_with("matrixmultiply/"))
    );

    // Switched on purpose: the new runs train with gemm, and the folder says so.
    if !Kernel::Gemm.available() {
        return;
    }
    let most = sb.write("k.toml", &SMALL.replace("count = 2", "count = 4"));
    let out = run(&sb, &most, &["--kernel", "gemm", "--switch-kernel"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let runs = Table::read(&dir.join("runs.csv"));
    let gemm = runs
        .column("kernel")
        .iter()
        .filter(|k| k.starts_with("gemm/"))
        .count();
    assert_eq!(gemm, 2, "{:?}", runs.column("kernel"));
    let (label, choice) = kernel_of(&dir);
    assert_eq!(label, Kernel::Gemm.label());
    assert!(
        choice.starts_with("switched from matrixmultiply/"),
        "{choice}"
    );
    let status = text(&sweep().arg("status").arg(&dir).output().unwrap().stdout);
    assert!(
        status.contains("note: the runs of this folder trained with different GEMM kernels"),
        "{status}"
    );
    let report = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.contains("different GEMM kernels"));
}

#[test]
fn a_folder_of_sweep_0_3_is_finished_with_matrixmultiply_and_its_numbers() {
    let sb = Sandbox::new();
    let fixture = repo().join("tests/fixtures/legacy-0.3");
    fs::copy(fixture.join("partial.toml"), sb.path().join("partial.toml")).unwrap();
    copy_tree(&fixture.join("partial"), &sb.out().join("partial"));
    let dir = sb.out().join("partial");
    let file = sb.path().join("partial.toml");

    // Another kernel asked for is refused: the folder has one already.
    let out = run(&sb, &file, &["--kernel", "gemm"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("was started with the matrixmultiply kernel"));

    // With auto (no SWEEP_KERNEL either), it continues with matrixmultiply.
    let out = sweep_run(&sb, &file)
        .env_remove("SWEEP_KERNEL")
        .args(["--jobs", "2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("(2 trained now, 2 reused)"),
        "{}",
        text(&out.stdout)
    );
    let (label, choice) = kernel_of(&dir);
    assert_eq!(label, "matrixmultiply");
    assert!(choice.contains("sweep 0.3 or earlier"), "{choice}");
    let runs = Table::read(&dir.join("runs.csv"));
    let complete = Table::read(&fixture.join("complete-runs.csv"));
    // Every column 0.3 wrote holds what 0.3 wrote for the whole sweep.
    for column in complete
        .header
        .iter()
        .filter(|h| !RUN_CLOCK.contains(&h.as_str()))
    {
        assert_eq!(
            runs.column(column),
            complete.column(column),
            "runs.csv column {column}"
        );
    }
    let labels = runs.column("kernel");
    assert_eq!(
        labels.iter().filter(|k| **k == "matrixmultiply").count(),
        2,
        "{labels:?}"
    );
    assert_eq!(
        labels
            .iter()
            .filter(|k| **k == Kernel::MatrixMultiply.label())
            .count(),
        2,
        "{labels:?}"
    );
    let status = text(&sweep().arg("status").arg(&dir).output().unwrap().stdout);
    assert!(
        !status.contains("note:"),
        "old and new matrixmultiply runs agree: {status}"
    );
}

#[test]
fn each_kernel_gives_the_same_bits_with_one_or_two_jobs_and_after_a_kill() {
    for kernel in kernels() {
        let sb = Sandbox::new();
        let file = sb.write("k.toml", SMALL);
        let mut folders = Vec::new();
        for (out, jobs) in [("one", "1"), ("two", "2")] {
            let output = sweep()
                .args([
                    "run",
                    "--quiet",
                    "--kernel",
                    kernel.name(),
                    "--jobs",
                    jobs,
                    "--out",
                ])
                .arg(sb.path().join(out))
                .arg(&file)
                .output()
                .unwrap();
            assert!(output.status.success(), "{}", text(&output.stderr));
            folders.push(sb.path().join(out).join("k"));
        }
        // Killed right after its second run was saved, then resumed.
        let killed = sweep()
            .env("SWEEP_TEST_CRASH", "run-saved:2")
            .args([
                "run",
                "--quiet",
                "--kernel",
                kernel.name(),
                "--jobs",
                "2",
                "--out",
            ])
            .arg(sb.path().join("killed"))
            .arg(&file)
            .output()
            .unwrap();
        assert!(!killed.status.success(), "the crash did not happen");
        let resumed = sweep()
            .args(["run", "--quiet", "--jobs", "2", "--out"])
            .arg(sb.path().join("killed"))
            .arg(&file)
            .output()
            .unwrap();
        assert!(resumed.status.success(), "{}", text(&resumed.stderr));
        folders.push(sb.path().join("killed").join("k"));
        let first = numbers(&folders[0]);
        assert!(first.contains(&kernel.label()));
        for other in &folders[1..] {
            assert_eq!(numbers(other), first, "{kernel}: {}", other.display());
        }
    }
}

#[test]
fn bench_states_the_true_peak_both_kernels_auto_and_threads_against_processes() {
    let out = sweep()
        .current_dir(repo())
        .args(["bench", "--quick", "--jobs", "2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    for part in [
        "FMA peak, 1 core:",
        "the percentages below are of it",
        "the GEMMs of one training step (784-200-200-10, batch 100)",
        "auto chose ",
        "2 runs at once",
        "as threads of one sweep:",
        "as 2 processes:",
        "threads against processes:",
    ] {
        assert!(said.contains(part), "{part:?} in\n{said}");
    }
    for kernel in kernels() {
        assert!(said.contains(&kernel.label()), "{kernel} in\n{said}");
    }
}
