//! Bad input beyond the experiment file's contents — options, the file
//! itself, dataset files, Slurm options — is refused with exit code 2, a
//! message naming the option or file and what is allowed, and nothing
//! written; inputs that would exhaust threads or memory are bounded.

use std::fs;
use std::io::Write;
use std::process::{Command, Output};
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::util::{QUICKLY, Sandbox, binary, idx, mnist_file, refused_in, sweep, text};

/// Two tiny runs.
const TWO_RUNS: &str = "name = \"two\"\n[data]\ntrain_subset = 200\n[model]\nhidden_size = 8\n\
     [train]\nepochs = 1\nbatch_size = 50\n[grid]\nseed = { count = 2 }\n";

#[test]
fn jobs_and_shards_out_of_range_or_negative_are_refused_naming_the_option() {
    let sb = Sandbox::new();
    sb.write("two.toml", TWO_RUNS);
    let msg = refused_in(&sb, &["run", "two.toml", "--jobs", "65535"], QUICKLY);
    assert!(msg.contains("--jobs") && msg.contains("1..=1024"), "{msg}");
    let msg = refused_in(&sb, &["run", "two.toml", "--jobs", "-1"], QUICKLY);
    assert!(msg.contains("'-1' for '--jobs"), "{msg}");
    assert!(!msg.contains("unexpected argument"), "{msg}");
    let msg = refused_in(&sb, &["run", "two.toml", "--shard", "-1/3"], QUICKLY);
    assert!(msg.contains("'-1/3' for '--shard <K/N>'"), "{msg}");
    assert!(msg.contains("K and N must be whole numbers"), "{msg}");
    let msg = refused_in(&sb, &["slurm", "two.toml", "--tasks", "-2"], QUICKLY);
    assert!(msg.contains("'-2' for '--tasks"), "{msg}");
}

#[test]
fn more_jobs_than_runs_or_cores_trains_them_all_and_says_so() {
    let sb = Sandbox::new();
    let file = sb.write("two.toml", TWO_RUNS);
    let out = sweep()
        .args(["run", "--jobs", "1024", "--out"])
        .arg(sb.out())
        .arg(&file)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(2 trained now, 0 reused)"));
    let cores = std::thread::available_parallelism().unwrap().get();
    assert!(
        text(&out.stderr).contains(&format!(
            "--jobs 1024 is more than the {cores} core(s) of this machine"
        )),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_experiment_file_that_is_empty_a_device_a_pipe_or_a_folder_is_refused_at_once() {
    let sb = Sandbox::new();
    let msg = refused_in(&sb, &["run", "/dev/null"], QUICKLY);
    assert!(msg.contains("/dev/null is empty"), "{msg}");
    let msg = refused_in(&sb, &["run", "/dev/zero"], QUICKLY);
    assert!(msg.contains("/dev/zero: it is too large"), "{msg}");
    let fifo = sb.path().join("exp.toml");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let msg = refused_in(&sb, &["run", "exp.toml"], QUICKLY);
    assert!(msg.contains("it is a pipe, not a regular file"), "{msg}");
    fs::create_dir(sb.path().join("dir.toml")).unwrap();
    let msg = refused_in(&sb, &["plan", "dir.toml"], QUICKLY);
    assert!(msg.contains("it is a folder, not a regular file"), "{msg}");
}

/// A copy of the committed MNIST in `<sandbox>/data/`, and an experiment
/// `d.toml` that reads it.
fn own_dataset(sb: &Sandbox) -> std::path::PathBuf {
    let dir = sb.copy_mnist("data");
    sb.write(
        "d.toml",
        "data_dir = \"data\"\ntrain_subset = 200\nhidden_size = 8\nepochs = 1\nbatch_size = 50\n",
    );
    dir
}

#[test]
fn a_gzip_holding_gigabytes_behind_a_small_header_is_refused_without_decompressing_it() {
    let sb = Sandbox::new();
    let dir = own_dataset(&sb);
    // The header announces 200 images; 4 GiB of zeros follow, as gzip
    // members of 1 MiB each (a 4 MB file).
    let images = mnist_file("train-images-idx3-ubyte.gz");
    let head = idx(0x803, &[200, 28, 28], &images[16..16 + 200 * 784]);
    let member = |bytes: &[u8]| {
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    };
    let zeros = member(&vec![0u8; 1 << 20]);
    let mut file = fs::File::create(dir.join("train-images-idx3-ubyte.gz")).unwrap();
    file.write_all(&member(&head)).unwrap();
    for _ in 0..4096 {
        file.write_all(&zeros).unwrap();
    }
    drop(file);
    // Under a 2 GiB address-space limit: decompressing it whole would fail.
    let out: Output = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -v 2000000 && exec {} plan d.toml",
            binary().display()
        ))
        .current_dir(sb.path())
        .output()
        .unwrap();
    let msg = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(
        msg.contains("train-images-idx3-ubyte.gz: the decompressed data go on past the 156800 bytes the header announces (200×28×28)"),
        "{msg}"
    );
}

#[test]
fn a_folder_or_a_symlink_loop_in_place_of_a_data_file_is_named() {
    let sb = Sandbox::new();
    let dir = own_dataset(&sb);
    let images = dir.join("train-images-idx3-ubyte.gz");
    fs::remove_file(&images).unwrap();
    fs::create_dir(&images).unwrap();
    let msg = refused_in(&sb, &["run", "d.toml"], QUICKLY);
    assert!(
        msg.contains("train-images-idx3-ubyte.gz is a folder, not an IDX file"),
        "{msg}"
    );
    fs::remove_dir(&images).unwrap();
    std::os::unix::fs::symlink("train-images-idx3-ubyte.gz", &images).unwrap();
    let msg = refused_in(&sb, &["run", "d.toml"], QUICKLY);
    assert!(
        msg.contains("train-images-idx3-ubyte.gz is a symbolic link that cannot be followed"),
        "{msg}"
    );
}

#[test]
fn sweep_slurm_checks_every_option_before_creating_anything() {
    let sb = Sandbox::new();
    sb.write("two.toml", TWO_RUNS);
    for bad in [
        vec!["--partition", "short\nlong"],
        vec!["--extra-sbatch=--qos=low\nrm -rf x"],
        vec!["--time", "1 hour"],
    ] {
        let mut args = vec!["slurm", "two.toml"];
        args.extend(bad);
        refused_in(&sb, &args, QUICKLY);
    }
}

#[test]
fn sweep_slurm_takes_extra_options_as_the_readme_writes_them_and_hints_keep_out() {
    let sb = Sandbox::new();
    sb.write("two.toml", TWO_RUNS);
    let out = sweep()
        .current_dir(sb.path())
        .args([
            "slurm",
            "two.toml",
            "--out",
            "elsewhere",
            "--tasks",
            "2",
            "--extra-sbatch",
            "--account=proj --qos=short",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let script = fs::read_to_string(sb.path().join("elsewhere/two/slurm/sweep.sbatch")).unwrap();
    assert!(
        script.contains("\n#SBATCH --account=proj --qos=short\n"),
        "{script}"
    );
    let said = text(&out.stdout);
    assert!(
        said.contains("(or run `sweep slurm two.toml --out elsewhere --tasks 2 --cpus-per-task 2 --extra-sbatch='--account=proj --qos=short' --submit`)"),
        "{said}"
    );
}
