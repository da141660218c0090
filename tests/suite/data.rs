//! Reading IDX files: the committed MNIST loads with the right shapes and
//! checksums, the raw naming style loads too, and every kind of damaged or
//! mismatched file is refused with a message that names it.

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};
use sweep::data::Dataset;
use sweep::error::is_bad_input;
use tempfile::TempDir;

use crate::util::{gzip, mnist_dir, mnist_file};

const FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// A temporary folder holding copies of the four committed files, except
/// the one named `except` (the test puts its own version there).
fn copy_mnist_except(except: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    for name in FILES.iter().filter(|n| **n != except) {
        fs::copy(mnist_dir().join(name), dir.path().join(name)).unwrap();
    }
    dir
}

/// Loads `dir`, expecting a bad-input error; returns its full message.
fn load_error(dir: &Path) -> String {
    let err = Dataset::load_dir(dir).expect_err("loading should fail");
    let msg = format!("{err:#}");
    assert!(is_bad_input(&err), "not flagged as bad input: {msg}");
    msg
}

#[test]
fn committed_mnist_loads_with_the_standard_shapes() {
    let data = Dataset::load_dir(&mnist_dir()).unwrap();
    assert_eq!((data.rows, data.cols), (28, 28));
    assert_eq!(data.pixels(), 784);
    assert_eq!(data.train.len(), 60_000);
    assert_eq!(data.test.len(), 10_000);
    assert_eq!(data.train.images.len(), 60_000 * 784);
    assert_eq!(data.test.images.len(), 10_000 * 784);
    assert!(data.train.labels.iter().all(|&l| l < 10));
    assert!(data.test.labels.iter().all(|&l| l < 10));
    // Every digit occurs in both splits.
    for digit in 0..10u8 {
        assert!(data.train.labels.contains(&digit), "no {digit} in train");
        assert!(data.test.labels.contains(&digit), "no {digit} in test");
    }
    // The well-known first training label of MNIST is a 5.
    assert_eq!(data.train.labels[0], 5);
    assert_eq!(data.dir, mnist_dir());
}

#[test]
fn loaded_files_carry_the_sha256_of_the_bytes_on_disk() {
    let data = Dataset::load_dir(&mnist_dir()).unwrap();
    let names: Vec<&str> = data.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, FILES);
    for file in &data.files {
        let bytes = fs::read(mnist_dir().join(&file.name)).unwrap();
        let expected: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(file.sha256.len(), 64);
        assert_eq!(file.sha256, expected, "checksum of {}", file.name);
    }
}

#[test]
fn raw_files_with_dotted_names_load_the_same_data() {
    let dir = TempDir::new().unwrap();
    for name in FILES {
        let dotted = name.trim_end_matches(".gz").replacen("-idx", ".idx", 1);
        fs::write(dir.path().join(&dotted), mnist_file(name)).unwrap();
    }
    assert!(dir.path().join("train-images.idx3-ubyte").is_file());

    let raw = Dataset::load_dir(dir.path()).unwrap();
    let gz = Dataset::load_dir(&mnist_dir()).unwrap();
    assert_eq!((raw.rows, raw.cols), (28, 28));
    assert_eq!(raw.train.images, gz.train.images);
    assert_eq!(raw.train.labels, gz.train.labels);
    assert_eq!(raw.test.images, gz.test.images);
    assert_eq!(raw.test.labels, gz.test.labels);
    let names: Vec<&str> = raw.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "train-images.idx3-ubyte",
            "train-labels.idx1-ubyte",
            "t10k-images.idx3-ubyte",
            "t10k-labels.idx1-ubyte"
        ]
    );
    // Checksums are of the files as stored, so they differ from the gzip ones.
    assert_ne!(raw.files[0].sha256, gz.files[0].sha256);
}

#[test]
fn an_empty_folder_names_the_missing_file_and_the_folder() {
    let dir = TempDir::new().unwrap();
    let msg = load_error(dir.path());
    assert!(msg.contains("no train-images file"), "{msg}");
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(msg.contains("train-images-idx3-ubyte.gz"), "{msg}");
}

#[test]
fn a_missing_test_labels_file_is_named() {
    let dir = copy_mnist_except("t10k-labels-idx1-ubyte.gz");
    let msg = load_error(dir.path());
    assert!(msg.contains("no t10k-labels file"), "{msg}");
    assert!(msg.contains("t10k-labels-idx1-ubyte.gz"), "{msg}");
}

#[test]
fn bad_magic_number_is_refused_naming_the_file() {
    let dir = copy_mnist_except("train-labels-idx1-ubyte.gz");
    let mut labels = mnist_file("train-labels-idx1-ubyte.gz");
    labels[..4].copy_from_slice(&0x0000_0803u32.to_be_bytes());
    let path = dir.path().join("train-labels-idx1-ubyte.gz");
    fs::write(&path, gzip(&labels)).unwrap();

    let msg = load_error(dir.path());
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(
        msg.contains("bad magic number 0x00000803, expected 0x00000801"),
        "{msg}"
    );
}

#[test]
fn an_image_file_in_place_of_labels_is_refused() {
    let dir = copy_mnist_except("t10k-labels-idx1-ubyte.gz");
    let path = dir.path().join("t10k-labels-idx1-ubyte.gz");
    fs::copy(mnist_dir().join("t10k-images-idx3-ubyte.gz"), &path).unwrap();

    let msg = load_error(dir.path());
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("bad magic number"), "{msg}");
}

#[test]
fn a_truncated_raw_file_is_refused_with_its_sizes() {
    let dir = copy_mnist_except("train-labels-idx1-ubyte.gz");
    let labels = mnist_file("train-labels-idx1-ubyte.gz");
    let path = dir.path().join("train-labels-idx1-ubyte");
    fs::write(&path, &labels[..300]).unwrap();

    let msg = load_error(dir.path());
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("truncated"), "{msg}");
    // 8 header bytes, then 292 of the 60 000 announced labels.
    assert!(msg.contains("only 292 bytes follow"), "{msg}");
}

#[test]
fn a_truncated_gzip_file_is_refused_naming_the_file() {
    let dir = copy_mnist_except("train-labels-idx1-ubyte.gz");
    let gz = fs::read(mnist_dir().join("train-labels-idx1-ubyte.gz")).unwrap();
    let path = dir.path().join("train-labels-idx1-ubyte.gz");
    fs::write(&path, &gz[..300]).unwrap();

    let msg = load_error(dir.path());
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("not a valid gzip file"), "{msg}");
}

#[test]
fn a_corrupt_gzip_body_is_refused_naming_the_file() {
    let dir = copy_mnist_except("t10k-labels-idx1-ubyte.gz");
    let mut gz = fs::read(mnist_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    // Keep the gzip magic bytes, wreck the header and deflate stream after them.
    for b in &mut gz[3..200] {
        *b = 0xff;
    }
    let path = dir.path().join("t10k-labels-idx1-ubyte.gz");
    fs::write(&path, &gz).unwrap();

    let msg = load_error(dir.path());
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("not a valid gzip file"), "{msg}");
}

#[test]
fn test_images_paired_with_training_labels_are_refused() {
    let dir = copy_mnist_except("train-images-idx3-ubyte.gz");
    fs::copy(
        mnist_dir().join("t10k-images-idx3-ubyte.gz"),
        dir.path().join("train-images-idx3-ubyte.gz"),
    )
    .unwrap();

    let msg = load_error(dir.path());
    assert!(
        msg.contains("train-images holds 10000 images but train-labels holds 60000 labels"),
        "{msg}"
    );
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
}

#[test]
fn a_label_outside_the_ten_classes_is_refused_with_its_index() {
    let dir = copy_mnist_except("t10k-labels-idx1-ubyte.gz");
    let mut labels = mnist_file("t10k-labels-idx1-ubyte.gz");
    labels[8 + 1234] = 10;
    fs::write(dir.path().join("t10k-labels-idx1-ubyte.gz"), gzip(&labels)).unwrap();

    let msg = load_error(dir.path());
    assert!(
        msg.contains("t10k-labels has label 10 at index 1234"),
        "{msg}"
    );
}

#[test]
fn test_images_of_another_shape_are_refused() {
    let dir = copy_mnist_except("t10k-images-idx3-ubyte.gz");
    let mut images = mnist_file("t10k-images-idx3-ubyte.gz");
    // Same number of pixels per image (784), announced as 14 × 56.
    images[8..12].copy_from_slice(&14u32.to_be_bytes());
    images[12..16].copy_from_slice(&56u32.to_be_bytes());
    fs::write(dir.path().join("t10k-images-idx3-ubyte"), &images).unwrap();

    let msg = load_error(dir.path());
    assert!(
        msg.contains("test images are 14×56 but training images are 28×28"),
        "{msg}"
    );
}

#[test]
fn trailing_bytes_after_the_announced_data_are_refused() {
    let dir = copy_mnist_except("t10k-labels-idx1-ubyte.gz");
    let mut labels = mnist_file("t10k-labels-idx1-ubyte.gz");
    labels.extend_from_slice(&[0, 1, 2]);
    let path = dir.path().join("t10k-labels-idx1-ubyte");
    fs::write(&path, &labels).unwrap();

    let msg = load_error(dir.path());
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("3 unexpected bytes"), "{msg}");
}
