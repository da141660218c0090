//! The harness every test module shares: where things are, the binary, a
//! temporary workspace holding experiment files, a refused command's
//! checks, an experiment's run ids, CSV tables and their wall-clock
//! columns, and the real MNIST files (raw, gzip, IDX) that fixtures are
//! made from.

#![allow(dead_code)] // Not every module uses every helper.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sweep::config::Experiment;
use sweep::data::Dataset;
use tempfile::TempDir;

/// The repository (the crate's folder).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The committed MNIST files.
pub fn mnist_dir() -> PathBuf {
    repo().join("data/mnist")
}

/// The `sweep` binary Cargo built for these tests.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sweep"))
}

/// The kernel of every results folder the tests make, unless a test asks
/// for another: the reference kernel gives the same bits on every x86-64
/// with AVX2 and FMA, so numbers compared across folders (or with the
/// committed examples) never depend on which kernel `auto` would measure
/// faster on the machine the tests run on.
pub const TEST_KERNEL: &str = "matrixmultiply";

/// The `sweep` binary (assert_cmd), told where the repository's data is
/// and which kernel new results folders use ([`TEST_KERNEL`]).
pub fn sweep() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("sweep").unwrap();
    cmd.env("SWEEP_DATA_DIR", repo().join("data"))
        .env("SWEEP_KERNEL", TEST_KERNEL);
    cmd
}

/// The `sweep` binary (std), told where the repository's data is and which
/// kernel new results folders use, run in `dir`.
pub fn sweep_in(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(binary());
    cmd.env("SWEEP_DATA_DIR", repo().join("data"))
        .env("SWEEP_KERNEL", TEST_KERNEL)
        .current_dir(dir);
    cmd
}

/// Bytes as text, for messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The decompressed contents of the gzip file `path`.
pub fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The decompressed bytes of one committed MNIST file, e.g.
/// `train-labels-idx1-ubyte.gz`.
pub fn mnist_file(name: &str) -> Vec<u8> {
    gunzip(&mnist_dir().join(name))
}

/// An IDX file: magic number, dimensions (big-endian) and payload.
pub fn idx(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// Writes the first `train` training and `test` test images of the committed
/// MNIST (with their labels) into `dir` as the four gzip IDX files: real
/// data, small enough that a run takes a millisecond.
pub fn write_mnist_subset(dir: &Path, train: usize, test: usize) {
    fs::create_dir_all(dir).unwrap();
    for (stem, n) in [("train", train), ("t10k", test)] {
        let images = mnist_file(&format!("{stem}-images-idx3-ubyte.gz"));
        let labels = mnist_file(&format!("{stem}-labels-idx1-ubyte.gz"));
        let images = idx(0x803, &[n as u32, 28, 28], &images[16..16 + n * 784]);
        let labels = idx(0x801, &[n as u32], &labels[8..8 + n]);
        fs::write(
            dir.join(format!("{stem}-images-idx3-ubyte.gz")),
            gzip(&images),
        )
        .unwrap();
        fs::write(
            dir.join(format!("{stem}-labels-idx1-ubyte.gz")),
            gzip(&labels),
        )
        .unwrap();
    }
}

/// The committed MNIST, loaded once per test process.
pub fn mnist() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| Dataset::load_dir(&mnist_dir()).unwrap())
}

/// A temporary folder holding experiment files; results go to `results/`.
pub struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    /// An empty sandbox.
    pub fn new() -> Sandbox {
        Sandbox {
            dir: TempDir::new().unwrap(),
        }
    }

    /// Its folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to the file `name` in the sandbox and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        fs::write(&path, text).unwrap();
        path
    }

    /// The `--out` folder.
    pub fn out(&self) -> PathBuf {
        self.path().join("results")
    }

    /// `sweep run FILE --out results --quiet` plus `extra` flags; asserts success.
    pub fn run(&self, file: &Path, extra: &[&str]) -> Output {
        let output = sweep()
            .arg("run")
            .arg(file)
            .arg("--out")
            .arg(self.out())
            .arg("--quiet")
            .args(extra)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "sweep run failed ({:?}):\n{}",
            output.status,
            text(&output.stderr)
        );
        output
    }

    /// `sweep ARGS` run in the sandbox's folder (as [`sweep_in`]) with `env`
    /// added to its environment; unchecked.
    pub fn sweep(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        sweep_in(self.path())
            .envs(env.iter().copied())
            .args(args)
            .output()
            .unwrap()
    }

    /// Copies the committed MNIST files into `<sandbox>/<name>/`.
    pub fn copy_mnist(&self, name: &str) -> PathBuf {
        let dir = self.path().join(name);
        fs::create_dir(&dir).unwrap();
        for entry in fs::read_dir(mnist_dir()).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        dir
    }
}

/// Long enough for any refusal: bad input is refused before anything is
/// trained.
pub const QUICKLY: Duration = Duration::from_secs(30);

/// Runs `sweep ARGS` in the sandbox's folder (as [`sweep_in`]), killing it
/// after `limit`; asserts that it was refused: exit code 2, nothing on
/// stdout, a single error on stderr, and no `results/` folder (the default
/// `--out`, and [`Sandbox::out`]) created. Returns the message.
pub fn refused_in(sb: &Sandbox, args: &[&str], limit: Duration) -> String {
    let mut child = sweep_in(sb.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("sweep {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let msg = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "sweep {args:?}: {msg}");
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
    assert!(msg.starts_with("error: "), "{msg}");
    assert_eq!(msg.matches("error:").count(), 1, "{msg}");
    assert!(!sb.out().exists(), "results/ was created");
    msg
}

/// The run ids of the experiment file `file`, in grid order (the order of
/// `sweep plan` and of `runs.csv`).
pub fn run_ids(file: &Path) -> Vec<String> {
    Experiment::load(file)
        .unwrap()
        .runs
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// Copies the folder `from`, with everything in it, to `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A CSV file read with the `csv` crate.
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Cells, row by row.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads `path`.
    pub fn read(path: &Path) -> Table {
        let mut reader = csv::Reader::from_path(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let header = reader.headers().unwrap().iter().map(String::from).collect();
        let rows = reader
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        Table { header, rows }
    }

    /// The position of column `name`.
    pub fn index(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    /// The cells of column `name`.
    pub fn column(&self, name: &str) -> Vec<&str> {
        let i = self.index(name);
        self.rows.iter().map(|r| r[i].as_str()).collect()
    }

    /// The cell of column `name` in `row`, one of [`Table::rows`].
    pub fn get<'a>(&self, row: &'a [String], name: &str) -> &'a str {
        &row[self.index(name)]
    }

    /// The cells of column `name` as numbers.
    pub fn floats(&self, name: &str) -> Vec<f64> {
        self.column(name)
            .iter()
            .map(|c| c.parse().unwrap_or_else(|_| panic!("{name}: {c:?}")))
            .collect()
    }

    /// Header and rows as text, without the columns `drop` (each of which
    /// must exist, so the comparison cannot silently drop nothing).
    pub fn text_without(&self, drop: &[&str]) -> String {
        let skip: Vec<usize> = drop.iter().map(|d| self.index(d)).collect();
        std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|row| {
                row.iter()
                    .enumerate()
                    .filter(|(i, _)| !skip.contains(i))
                    .map(|(_, c)| c.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Wall-clock columns of `runs.csv`.
pub const RUN_CLOCK: [&str; 5] = [
    "seconds",
    "train_seconds",
    "eval_seconds",
    "finished_at_utc",
    "measure_seconds",
];
/// Wall-clock columns of the `epochs.csv` files.
pub const EPOCH_CLOCK: [&str; 2] = ["train_seconds", "eval_seconds"];

/// A CSV file without the wall-clock columns ([`RUN_CLOCK`], which holds
/// [`EPOCH_CLOCK`]), rows sorted by run id: what must be identical between
/// any two sweeps of the same grid.
pub fn metrics(path: &Path) -> String {
    let table = Table::read(path);
    let keep: Vec<usize> = (0..table.header.len())
        .filter(|&i| !RUN_CLOCK.contains(&table.header[i].as_str()))
        .collect();
    let line = |row: &[String]| {
        keep.iter()
            .map(|&i| row[i].as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut rows: Vec<String> = table.rows.iter().map(|r| line(r)).collect();
    rows.sort();
    format!("{}\n{}", line(&table.header), rows.join("\n"))
}

/// Checks, in a test marked `#[ignore = "needs …"]`, that the component it
/// needs is there: such tests run with `cargo test -- --ignored` (as
/// `.ci/run` does) and fail, saying how to install it, when it is missing.
pub fn require(present: bool, how: &str) {
    assert!(present, "this test needs {how}");
}
