//! The bad-input corpus: every experiment file in `tests/corpus/experiments/`
//! and every dataset case in `tests/corpus/datasets/` is refused by the real
//! binary with exit code 2, before anything is written, with exactly the
//! message stored beside it in `<case>.expected`.
//!
//! The snapshots are the messages a user sees; read a changed one before
//! accepting it. `UPDATE_SNAPSHOTS=1 cargo test --test suite corpus::` rewrites
//! them. The dataset fixtures are committed files; `cargo test --test suite
//! corpus:: -- --ignored` rebuilds them from the first few images of
//! `data/mnist/`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use tempfile::TempDir;

use crate::util::{gzip, idx, mnist_file, repo};

/// Stands for the corpus folder's absolute path in snapshots.
const CORPUS_PLACEHOLDER: &str = "<corpus>";
/// Stands for the per-case temporary folder in snapshots.
const TEMP_PLACEHOLDER: &str = "<tmp>";
/// Every case is refused while checking its input, in well under a second;
/// a case that runs this long has been accepted and is training.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

fn corpus() -> PathBuf {
    repo().join("tests/corpus")
}

/// The experiment files (`*.toml`) of one corpus folder, sorted by name.
fn cases(kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(corpus().join(kind))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn case_name(case: &Path) -> String {
    let kind = case
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy();
    let stem = case.file_stem().unwrap().to_string_lossy();
    format!("{kind}/{stem}")
}

/// `text` with every line indented, for readable failure reports.
fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("      | {line}\n"))
        .collect()
}

/// Runs `sweep run CASE --out <tmp>/results` and returns what went wrong
/// with it, if anything; with `update`, (re)writes its snapshot instead of
/// comparing.
fn check_case(case: &Path, update: bool) -> Vec<String> {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("results");
    let output = Command::cargo_bin("sweep")
        .unwrap()
        .env("SWEEP_DATA_DIR", repo().join("data"))
        .current_dir(tmp.path())
        .arg("run")
        .arg(case)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .timeout(CASE_TIMEOUT)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr)
        .replace(&corpus().display().to_string(), CORPUS_PLACEHOLDER)
        .replace(&tmp.path().display().to_string(), TEMP_PLACEHOLDER);

    let mut problems = Vec::new();
    match output.status.code() {
        Some(2) => {}
        Some(code) => problems.push(format!("exit code {code}, expected 2")),
        None => problems.push(format!(
            "killed ({}); a case that is accepted trains until the {CASE_TIMEOUT:?} timeout",
            output.status
        )),
    }
    if ["panicked", "stack backtrace", "memory allocation"]
        .iter()
        .any(|p| stderr.contains(p))
    {
        problems.push("stderr shows a panic or an abort".into());
    }
    if !stderr.starts_with("error: ") || stderr.matches("error:").count() != 1 {
        problems.push("stderr is not a single `error: ` message".into());
    }
    if !output.stdout.is_empty() {
        problems.push(format!(
            "stdout is not empty:\n{}",
            indent(&String::from_utf8_lossy(&output.stdout))
        ));
    }
    if out.exists() {
        problems.push(format!("the results folder {} was created", out.display()));
    }

    let snapshot = case.with_extension("expected");
    match fs::read_to_string(&snapshot) {
        Ok(expected) if expected == stderr => {}
        // A case refused for the wrong reason keeps its snapshot.
        _ if update && problems.is_empty() => fs::write(&snapshot, &stderr).unwrap(),
        Ok(expected) => problems.push(format!(
            "stderr differs from {}\n    expected:\n{}    actual:\n{}",
            snapshot.display(),
            indent(&expected),
            indent(&stderr)
        )),
        Err(_) => problems.push(format!(
            "no snapshot {} (UPDATE_SNAPSHOTS=1 writes it); actual:\n{}",
            snapshot.display(),
            indent(&stderr)
        )),
    }
    problems
}

#[test]
fn every_corpus_case_is_refused_with_exit_code_2_and_its_snapshot_message() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let all: Vec<PathBuf> = cases("experiments")
        .into_iter()
        .chain(cases("datasets"))
        .collect();
    let failures: Vec<String> = all
        .iter()
        .filter_map(|case| {
            let problems = check_case(case, update);
            (!problems.is_empty()).then(|| {
                let list: String = problems.iter().map(|p| format!("  - {p}\n")).collect();
                format!("{}:\n{list}", case_name(case))
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn the_corpus_has_at_least_40_experiment_and_10_dataset_cases_and_no_stray_snapshot() {
    let experiments = cases("experiments");
    let datasets = cases("datasets");
    assert!(
        experiments.len() >= 40,
        "{} experiment cases",
        experiments.len()
    );
    assert!(datasets.len() >= 10, "{} dataset cases", datasets.len());
    for kind in ["experiments", "datasets"] {
        let stems = |ext: &str| -> BTreeSet<String> {
            fs::read_dir(corpus().join(kind))
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .filter(|path| path.extension().is_some_and(|e| e == ext))
                .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        let (tomls, snapshots) = (stems("toml"), stems("expected"));
        // A case without a snapshot fails the test above.
        let orphans: Vec<&String> = snapshots.difference(&tomls).collect();
        assert!(
            orphans.is_empty(),
            "{kind}: snapshots of no case: {orphans:?}"
        );
    }
}

// ------------------------------------------------------- dataset fixtures

/// The four IDX files of a tiny, valid dataset, uncompressed: the first 5
/// training and first 3 test images of MNIST with their labels.
struct Tiny {
    train_images: Vec<u8>,
    train_labels: Vec<u8>,
    test_images: Vec<u8>,
    test_labels: Vec<u8>,
}

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
const IMAGES_MAGIC: u32 = 0x0803;
const LABELS_MAGIC: u32 = 0x0801;
const PIXELS: usize = 28 * 28;

impl Tiny {
    fn from_mnist() -> Tiny {
        let images = |stem: &str, n: usize| {
            let pixels = &mnist_file(&format!("{stem}.gz"))[16..16 + n * PIXELS];
            idx(IMAGES_MAGIC, &[n as u32, 28, 28], pixels)
        };
        let labels = |stem: &str, n: usize| {
            idx(
                LABELS_MAGIC,
                &[n as u32],
                &mnist_file(&format!("{stem}.gz"))[8..8 + n],
            )
        };
        Tiny {
            train_images: images(TRAIN_IMAGES, 5),
            train_labels: labels(TRAIN_LABELS, 5),
            test_images: images(TEST_IMAGES, 3),
            test_labels: labels(TEST_LABELS, 3),
        }
    }

    /// The four files, gzip-compressed, under their usual names.
    fn files(&self) -> Vec<(String, Vec<u8>)> {
        [
            (TRAIN_IMAGES, &self.train_images),
            (TRAIN_LABELS, &self.train_labels),
            (TEST_IMAGES, &self.test_images),
            (TEST_LABELS, &self.test_labels),
        ]
        .into_iter()
        .map(|(stem, bytes)| (format!("{stem}.gz"), gzip(bytes)))
        .collect()
    }

    /// The four files with the one named `stem` (gzip or not) replaced by
    /// `replacement`, a file name and its bytes; `None` leaves it out.
    fn with(&self, stem: &str, replacement: Option<(&str, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = self
            .files()
            .into_iter()
            .filter(|(name, _)| !name.starts_with(stem))
            .collect();
        if let Some((name, bytes)) = replacement {
            files.push((name.to_string(), bytes));
        }
        files
    }
}

/// Settings of a dataset case's experiment file: small enough that a case
/// that is wrongly accepted finishes training in a moment.
const QUICK: &str = "epochs = 1\nbatch_size = 1\nhidden_size = 8\n";

/// One dataset case: what is wrong, the settings, and the folder's files.
struct DatasetCase {
    name: &'static str,
    what: &'static str,
    settings: &'static str,
    files: Vec<(String, Vec<u8>)>,
}

fn dataset_cases(tiny: &Tiny) -> Vec<DatasetCase> {
    let case = |name, what, files| DatasetCase {
        name,
        what,
        settings: QUICK,
        files,
    };
    let gz = |stem: &str| format!("{stem}.gz");
    let mut label_ten = tiny.train_labels.clone();
    label_ten[8 + 3] = 10;
    let mut label_255 = tiny.test_labels.clone();
    label_255[8] = 255;
    let mut corrupt_gzip = gzip(&tiny.test_labels);
    let end = corrupt_gzip.len() - 8;
    corrupt_gzip[10..end].fill(0xff);
    let truncated_gzip = gzip(&tiny.train_labels);
    let mut extra = tiny.test_labels.clone();
    extra.extend_from_slice(&[0, 1, 2]);
    let mut test_shape = tiny.test_images.clone();
    test_shape[8..16].copy_from_slice(&idx(0, &[14, 56], &[])[4..]);
    vec![
        case(
            "01-no-idx-files",
            "a folder with no IDX file in it",
            vec![(
                "README.txt".into(),
                b"This folder deliberately holds no IDX files.\n".to_vec(),
            )],
        ),
        case(
            "02-misnamed-files",
            "the four files under names sweep does not look for",
            tiny.files()
                .into_iter()
                .map(|(name, bytes)| {
                    (
                        name.replace("-idx3-ubyte", "").replace("-idx1-ubyte", ""),
                        bytes,
                    )
                })
                .collect(),
        ),
        case(
            "03-missing-test-labels",
            "the test labels file is missing",
            tiny.with(TEST_LABELS, None),
        ),
        case(
            "04-empty-file",
            "the test images file is empty",
            tiny.with(TEST_IMAGES, Some((TEST_IMAGES, Vec::new()))),
        ),
        case(
            "05-html-instead-of-gzip",
            "a web page saved under the name of the gzip file",
            tiny.with(
                TRAIN_IMAGES,
                Some((
                    &gz(TRAIN_IMAGES),
                    b"<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n".to_vec(),
                )),
            ),
        ),
        case(
            "06-truncated-gzip",
            "the training labels' gzip file cut in half",
            tiny.with(
                TRAIN_LABELS,
                Some((
                    &gz(TRAIN_LABELS),
                    truncated_gzip[..truncated_gzip.len() / 2].to_vec(),
                )),
            ),
        ),
        case(
            "07-corrupt-gzip-body",
            "the test labels' gzip header intact, its deflate stream overwritten",
            tiny.with(TEST_LABELS, Some((&gz(TEST_LABELS), corrupt_gzip))),
        ),
        case(
            "08-truncated-header",
            "a raw training images file that ends inside its header",
            tiny.with(
                TRAIN_IMAGES,
                Some((TRAIN_IMAGES, tiny.train_images[..10].to_vec())),
            ),
        ),
        case(
            "09-fewer-bytes-than-header-says",
            "the header announces 5 images, 4½ follow",
            tiny.with(
                TRAIN_IMAGES,
                Some((
                    TRAIN_IMAGES,
                    tiny.train_images[..16 + 4 * PIXELS + PIXELS / 2].to_vec(),
                )),
            ),
        ),
        case(
            "10-trailing-bytes",
            "3 bytes after the labels the header announces",
            tiny.with(TEST_LABELS, Some((TEST_LABELS, extra))),
        ),
        case(
            "11-labels-in-place-of-images",
            "a labels file under the training images' name",
            tiny.with(
                TRAIN_IMAGES,
                Some((&gz(TRAIN_IMAGES), gzip(&tiny.train_labels))),
            ),
        ),
        case(
            "12-images-in-place-of-labels",
            "an images file under the test labels' name",
            tiny.with(
                TEST_LABELS,
                Some((&gz(TEST_LABELS), gzip(&tiny.test_images))),
            ),
        ),
        case(
            "13-label-ten",
            "a training label of 10 (labels are 0–9)",
            tiny.with(TRAIN_LABELS, Some((&gz(TRAIN_LABELS), gzip(&label_ten)))),
        ),
        case(
            "14-label-255",
            "a test label of 255",
            tiny.with(TEST_LABELS, Some((&gz(TEST_LABELS), gzip(&label_255)))),
        ),
        case(
            "15-image-label-count-mismatch",
            "5 training images but 4 training labels",
            tiny.with(
                TRAIN_LABELS,
                Some((
                    &gz(TRAIN_LABELS),
                    gzip(&idx(LABELS_MAGIC, &[4], &tiny.train_labels[8..12])),
                )),
            ),
        ),
        case(
            "16-train-test-shape-mismatch",
            "test images announced as 14×56, training images are 28×28",
            tiny.with(TEST_IMAGES, Some((&gz(TEST_IMAGES), gzip(&test_shape)))),
        ),
        case(
            "17-zero-width-images",
            "training images of 28×0 pixels",
            tiny.with(
                TRAIN_IMAGES,
                Some((
                    &gz(TRAIN_IMAGES),
                    gzip(&idx(IMAGES_MAGIC, &[5, 28, 0], &[])),
                )),
            ),
        ),
        case(
            "18-no-training-images",
            "a training split of 0 images and 0 labels",
            tiny.with(
                TRAIN_IMAGES,
                Some((
                    &gz(TRAIN_IMAGES),
                    gzip(&idx(IMAGES_MAGIC, &[0, 28, 28], &[])),
                )),
            )
            .into_iter()
            .filter(|(name, _)| !name.starts_with(TRAIN_LABELS))
            .chain([(gz(TRAIN_LABELS), gzip(&idx(LABELS_MAGIC, &[0], &[])))])
            .collect(),
        ),
        case(
            "19-header-dimensions-overflow",
            "a header announcing 4294967295³ bytes",
            tiny.with(
                TRAIN_IMAGES,
                Some((TRAIN_IMAGES, idx(IMAGES_MAGIC, &[u32::MAX; 3], &[]))),
            ),
        ),
        DatasetCase {
            name: "20-subset-larger-than-data",
            what: "a train_subset of 10 from 5 training images",
            settings: "train_subset = 10\nepochs = 1\nbatch_size = 1\nhidden_size = 8\n",
            files: tiny.files(),
        },
        DatasetCase {
            name: "21-default-batch-larger-than-data",
            what: "the default batch of 100 from 5 training images (no train_subset)",
            settings: "epochs = 1\nhidden_size = 8\n",
            files: tiny.files(),
        },
    ]
}

#[test]
#[ignore = "rewrites the committed dataset fixtures; run by hand after changing them"]
fn regenerate_dataset_fixtures() {
    let dir = corpus().join("datasets");
    fs::create_dir_all(&dir).unwrap();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            fs::remove_dir_all(&path).unwrap();
        } else if path.extension().is_some_and(|e| e == "toml") {
            fs::remove_file(&path).unwrap();
        }
    }
    for case in dataset_cases(&Tiny::from_mnist()) {
        let folder = dir.join(case.name);
        fs::create_dir(&folder).unwrap();
        for (name, bytes) in &case.files {
            fs::write(folder.join(name), bytes).unwrap();
        }
        let toml = format!(
            "# Refused: {}.\n\
             # {}/ is a committed fixture (`cargo test --test suite corpus:: -- --ignored` rebuilds it).\n\
             data_dir = \"{}\"\n{}",
            case.what, case.name, case.name, case.settings
        );
        fs::write(dir.join(format!("{}.toml", case.name)), toml).unwrap();
    }
}
