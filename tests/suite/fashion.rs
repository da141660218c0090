//! `dataset = "fashion-mnist"` finds Debian's `dataset-fashion-mnist` package
//! and trains on it. Ignored unless asked for (`cargo test -- --ignored`,
//! as `.ci/run` does after installing the package); missing, they fail.

use std::path::Path;

use assert_cmd::Command;
use sweep::data::{Dataset, FASHION_MNIST_SYSTEM_DIR};

use crate::util::Table;

/// Fails the test unless Debian's package is installed.
fn installed() -> bool {
    let present = Path::new(FASHION_MNIST_SYSTEM_DIR)
        .join("train-images-idx3-ubyte.gz")
        .is_file();
    crate::util::require(
        present,
        "Fashion-MNIST: apt-get install dataset-fashion-mnist",
    );
    present
}

#[test]
#[ignore = "needs Fashion-MNIST (apt-get install dataset-fashion-mnist); cargo test -- --ignored runs it"]
fn fashion_mnist_loads_from_the_debian_package() {
    if !installed() {
        return;
    }
    let data = Dataset::load_dir(Path::new(FASHION_MNIST_SYSTEM_DIR)).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    assert_eq!((data.rows, data.cols), (28, 28));
    // It is not MNIST: the files differ.
    let mnist = crate::util::mnist().clone();
    assert_ne!(data.files, mnist.files);
}

#[test]
#[ignore = "needs Fashion-MNIST (apt-get install dataset-fashion-mnist); cargo test -- --ignored runs it"]
fn a_sweep_on_fashion_mnist_learns() {
    if !installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("fashion.toml");
    std::fs::write(
        &exp,
        "[data]\ndataset = \"fashion-mnist\"\ntrain_subset = 2000\n\
         [model]\nhidden_size = 64\n[train]\nepochs = 3\n",
    )
    .unwrap();
    Command::cargo_bin("sweep")
        .unwrap()
        .args(["run", "--quiet", "--out"])
        .arg(dir.path().join("results"))
        .arg(&exp)
        .assert()
        .success();
    let runs = Table::read(&dir.path().join("results/fashion/runs.csv"));
    let row = &runs.rows[0];
    assert_eq!(runs.get(row, "dataset"), "fashion-mnist");
    let test_acc: f64 = runs.get(row, "final_test_acc").parse().unwrap();
    // Ten classes: chance is 10 %; a small MLP on 2 000 images gets ~75 %.
    assert!(test_acc > 0.6, "test accuracy {test_acc}");
}
