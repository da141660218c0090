//! Reading image datasets in IDX format (MNIST and its look-alikes), plain or
//! gzip-compressed, with every header and size checked, into one read-only
//! [`Dataset`] that all runs of a sweep share.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Result;
use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use crate::bad_input;
use crate::error::shown;

/// Number of classes every supported dataset has (digits, clothing types).
pub const NUM_CLASSES: usize = 10;

/// Environment variable naming a folder that holds dataset folders
/// (`mnist/`, `fashion-mnist/`), checked before the built-in locations.
pub const DATA_DIR_ENV: &str = "SWEEP_DATA_DIR";

/// Where Debian's `dataset-fashion-mnist` package installs its files.
pub const FASHION_MNIST_SYSTEM_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Which dataset an experiment asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// A dataset known by name (`mnist`, `fashion-mnist`), found in the usual places.
    Named(String),
    /// Any folder of IDX files, given by the user.
    Dir(PathBuf),
}

/// Dataset names `dataset = "…"` accepts.
pub const KNOWN_DATASETS: &[&str] = &["mnist", "fashion-mnist"];

/// Test images of each of the [`KNOWN_DATASETS`].
pub const KNOWN_TEST_IMAGES: usize = 10_000;

/// One split (training or test) of a dataset: raw pixel bytes and labels.
#[derive(Debug, Clone)]
pub struct Split {
    /// Row-major pixels, `len × pixels` bytes, 0 = background.
    pub images: Vec<u8>,
    /// One class index (< [`NUM_CLASSES`]) per image.
    pub labels: Vec<u8>,
}

impl Split {
    /// Number of images in the split.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// A file the dataset was read from, with its checksum for the manifest.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct DataFile {
    /// File name inside the dataset folder.
    pub name: String,
    /// SHA-256 of the file as stored on disk (compressed if it is gzip).
    pub sha256: String,
}

/// A whole dataset, loaded once per sweep and shared read-only by every run.
/// Pixels stay as bytes (a quarter of the memory of `f32`) and are scaled to
/// [0, 1] when a batch is gathered.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The folder the files were read from.
    pub dir: PathBuf,
    /// Height of an image in pixels.
    pub rows: usize,
    /// Width of an image in pixels.
    pub cols: usize,
    /// The training split.
    pub train: Split,
    /// The test split.
    pub test: Split,
    /// The four files read, with checksums.
    pub files: Vec<DataFile>,
}

impl Dataset {
    /// Number of input features (pixels) per image.
    pub fn pixels(&self) -> usize {
        self.rows * self.cols
    }

    /// Finds the dataset's folder (see [`locate`]) and loads it.
    pub fn load(source: &DataSource, config_dir: &Path) -> Result<Dataset> {
        let dir = locate(source, config_dir)?;
        Dataset::load_dir(&dir)
    }

    /// Loads the four IDX files from `dir`.
    pub fn load_dir(dir: &Path) -> Result<Dataset> {
        let mut files = Vec::new();
        let mut read = |stem: &str, kind: IdxKind| -> Result<Idx> {
            let path = find_idx_file(dir, stem, kind)?.ok_or_else(|| {
                bad_input!(
                    "no {stem} file in {}: expected {}",
                    shown(dir),
                    candidate_names(stem, kind).join(" or ")
                )
            })?;
            let (idx, sha256) = read_idx(&path, kind)?;
            files.push(DataFile {
                name: file_name(&path),
                sha256,
            });
            Ok(idx)
        };
        let train_images = read("train-images", IdxKind::Images)?;
        let train_labels = read("train-labels", IdxKind::Labels)?;
        let test_images = read("t10k-images", IdxKind::Images)?;
        let test_labels = read("t10k-labels", IdxKind::Labels)?;

        let (rows, cols) = (train_images.dims[1], train_images.dims[2]);
        if test_images.dims[1..] != train_images.dims[1..] {
            return Err(bad_input!(
                "dataset in {}: test images are {}×{} but training images are {rows}×{cols}",
                shown(dir),
                test_images.dims[1],
                test_images.dims[2]
            ));
        }
        let train = split(train_images, train_labels, "train", dir)?;
        let test = split(test_images, test_labels, "t10k", dir)?;
        Ok(Dataset {
            dir: dir.to_path_buf(),
            rows,
            cols,
            train,
            test,
            files,
        })
    }
}

/// Pairs images with labels, checking counts and label range.
fn split(images: Idx, labels: Idx, stem: &str, dir: &Path) -> Result<Split> {
    if images.dims[0] != labels.dims[0] {
        return Err(bad_input!(
            "dataset in {}: {stem}-images holds {} images but {stem}-labels holds {} labels; \
             the files do not belong together",
            shown(dir),
            images.dims[0],
            labels.dims[0]
        ));
    }
    if images.dims[0] == 0 {
        return Err(bad_input!(
            "dataset in {}: {stem}-images holds no image",
            shown(dir)
        ));
    }
    if let Some(pos) = labels.data.iter().position(|&l| l as usize >= NUM_CLASSES) {
        return Err(bad_input!(
            "dataset in {}: {stem}-labels has label {} at index {pos}; labels must be 0–{}",
            shown(dir),
            labels.data[pos],
            NUM_CLASSES - 1
        ));
    }
    Ok(Split {
        images: images.data,
        labels: labels.data,
    })
}

/// Returns the folder holding `source`'s files, or an error that lists every
/// place looked in and how to get the data.
pub fn locate(source: &DataSource, config_dir: &Path) -> Result<PathBuf> {
    let candidates = candidate_dirs(source, config_dir);
    // A folder with anything in the place of the training images is the
    // one meant (if that thing is not a file, loading it says so).
    let occupied = |dir: &Path| {
        candidate_names("train-images", IdxKind::Images)
            .iter()
            .any(|name| std::fs::symlink_metadata(dir.join(name)).is_ok())
    };
    if let Some(found) = candidates.iter().find(|dir| occupied(dir)) {
        return Ok(found.clone());
    }
    let looked = candidates
        .iter()
        .map(|d| {
            let state = if !d.exists() {
                " (no such folder)"
            } else if !d.is_dir() {
                " (not a folder)"
            } else {
                ""
            };
            format!("  {}{state}", shown(d))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let hint = match source {
        DataSource::Named(name) if name == "mnist" => format!(
            "MNIST ships with sweep's repository in data/mnist/; run sweep from the \
             repository, or set {DATA_DIR_ENV} to a folder that holds mnist/"
        ),
        DataSource::Named(name) if name == "fashion-mnist" => format!(
            "install it with `apt-get install dataset-fashion-mnist` (it goes to \
             {FASHION_MNIST_SYSTEM_DIR}), or set {DATA_DIR_ENV} to a folder that holds fashion-mnist/"
        ),
        _ => "check `data_dir` in the experiment file (relative paths start at the \
              experiment file's folder); the folder must hold train-images-idx3-ubyte, \
              train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte \
              (each optionally .gz)"
            .to_string(),
    };
    Err(bad_input!(
        "dataset not found: no train-images file in any of\n{looked}\n{hint}"
    ))
}

/// The folders searched for a dataset, in order.
fn candidate_dirs(source: &DataSource, config_dir: &Path) -> Vec<PathBuf> {
    let name = match source {
        DataSource::Dir(dir) => return vec![config_dir.join(dir)],
        DataSource::Named(name) => name.as_str(),
    };
    let mut dirs = Vec::new();
    if let Some(root) = std::env::var_os(DATA_DIR_ENV) {
        dirs.push(PathBuf::from(root).join(name));
    }
    if name == "fashion-mnist" {
        dirs.push(PathBuf::from(FASHION_MNIST_SYSTEM_DIR));
    }
    // `data/<name>` beside the experiment file or any folder above it (an
    // experiment in `experiments/` finds the repository's `data/`), then the
    // same from the working directory, then the repository sweep was built from.
    let cwd = std::env::current_dir().unwrap_or_default();
    for start in [config_dir.to_path_buf(), cwd] {
        for ancestor in start.ancestors() {
            let dir = ancestor.join("data").join(name);
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name);
    if !dirs.contains(&built) {
        dirs.push(built);
    }
    dirs
}

/// What an IDX file must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxKind {
    /// Unsigned bytes, one dimension (magic 0x00000801).
    Labels,
    /// Unsigned bytes, three dimensions (magic 0x00000803).
    Images,
}

impl IdxKind {
    fn magic(self) -> u32 {
        match self {
            IdxKind::Labels => 0x0000_0801,
            IdxKind::Images => 0x0000_0803,
        }
    }

    fn ndims(self) -> usize {
        (self.magic() & 0xff) as usize
    }
}

/// A parsed IDX file: its dimensions and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx {
    /// Sizes of each dimension, outermost first.
    pub dims: Vec<usize>,
    /// The payload, `dims.product()` bytes.
    pub data: Vec<u8>,
}

/// The file names accepted for `stem` (e.g. `train-images`), most usual first.
fn candidate_names(stem: &str, kind: IdxKind) -> Vec<String> {
    let idx = format!("idx{}-ubyte", kind.ndims());
    vec![
        format!("{stem}-{idx}.gz"),
        format!("{stem}-{idx}"),
        format!("{stem}.{idx}.gz"),
        format!("{stem}.{idx}"),
    ]
}

/// The file holding `stem` in `dir`, if any. Something in the place of an
/// accepted name that is not a readable regular file — a folder, a device,
/// a symbolic link that leads nowhere or in a loop — is an error naming it,
/// not a missing file.
fn find_idx_file(dir: &Path, stem: &str, kind: IdxKind) -> Result<Option<PathBuf>> {
    for name in candidate_names(stem, kind) {
        let path = dir.join(name);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => return Ok(Some(path)),
            Ok(meta) => {
                return Err(bad_input!(
                    "{} is {}, not an IDX file; put the {stem} file there (or remove it)",
                    shown(&path),
                    if meta.is_dir() {
                        "a folder"
                    } else {
                        "not a regular file"
                    }
                ));
            }
            Err(e) if std::fs::symlink_metadata(&path).is_ok() => {
                return Err(bad_input!(
                    "{} is a symbolic link that cannot be followed ({e}); point it at the \
                     {stem} file",
                    shown(&path)
                ));
            }
            Err(_) => {}
        }
    }
    Ok(None)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Largest IDX payload read: far beyond any dataset of small images, and a
/// bound on memory whatever a header claims.
const MAX_PAYLOAD: u64 = 8 << 30;
/// Largest gzip-compressed dataset file read.
const MAX_GZIP_FILE: u64 = 1 << 30;

/// Reads, decompresses (if gzip) and parses one IDX file; also returns the
/// SHA-256 of the bytes on disk. Never reads more than the header announces
/// plus one byte: a gzip holding gigabytes behind a small header, or a raw
/// file longer than its header says, is refused at once.
pub fn read_idx(path: &Path, kind: IdxKind) -> Result<(Idx, String)> {
    let bad = |msg: String| bad_input!("{}: {msg}", shown(path));
    let header_len = 4 + 4 * kind.ndims();
    let head = read_prefix(path, header_len)?;
    if !head.starts_with(&[0x1f, 0x8b]) {
        // Raw: the file's size must be what the header announces.
        if let Some((payload, dims)) = announced_payload(&head, kind).map_err(bad)? {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            let want = header_len as u64 + payload;
            if size > want {
                return Err(bad(format!(
                    "{} unexpected bytes after the {payload} bytes the header announces ({dims})",
                    size - want
                )));
            }
        }
        let raw = crate::files::read_bounded(path, MAX_PAYLOAD + header_len as u64)
            .map_err(|e| bad_input!("cannot read dataset file {}: {e}", shown(path)))?;
        let sha256 = hex(&Sha256::digest(&raw));
        return Ok((parse_idx(&raw, kind).map_err(bad)?, sha256));
    }
    let raw = crate::files::read_bounded(path, MAX_GZIP_FILE)
        .map_err(|e| bad_input!("cannot read dataset file {}: {e}", shown(path)))?;
    let sha256 = hex(&Sha256::digest(&raw));
    let gzip_error = |e: std::io::Error| {
        bad_input!(
            "{}: not a valid gzip file ({e}); the download may be incomplete — fetch the file again",
            shown(path)
        )
    };
    let mut decoder = MultiGzDecoder::new(raw.as_slice());
    let mut bytes = Vec::with_capacity(header_len);
    (&mut decoder)
        .take(header_len as u64)
        .read_to_end(&mut bytes)
        .map_err(gzip_error)?;
    let Some((payload, dims)) = announced_payload(&bytes, kind).map_err(bad)? else {
        // A short or foreign header: parse_idx says what is wrong with it.
        return Err(bad(parse_idx(&bytes, kind).err().unwrap_or_default()));
    };
    if payload > MAX_PAYLOAD {
        return Err(bad(format!(
            "the header announces {payload} bytes of data, more than the {} GiB sweep reads \
             from one file",
            MAX_PAYLOAD >> 30
        )));
    }
    let rest = (header_len as u64 + payload + 1).saturating_sub(bytes.len() as u64);
    (&mut decoder)
        .take(rest)
        .read_to_end(&mut bytes)
        .map_err(gzip_error)?;
    if bytes.len() as u64 > header_len as u64 + payload {
        return Err(bad(format!(
            "the decompressed data go on past the {payload} bytes the header announces \
             ({dims}); the file does not match its header (reading stopped there)"
        )));
    }
    Ok((parse_idx(&bytes, kind).map_err(bad)?, sha256))
}

/// The first `n` bytes of the regular file `path` (fewer if it is shorter).
fn read_prefix(path: &Path, n: usize) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path)
        .map_err(|e| bad_input!("cannot read dataset file {}: {e}", shown(path)))?;
    if !meta.is_file() {
        return Err(bad_input!(
            "cannot read dataset file {}: it is not a regular file",
            shown(path)
        ));
    }
    let mut head = Vec::with_capacity(n);
    std::fs::File::open(path)
        .and_then(|f| f.take(n as u64).read_to_end(&mut head))
        .map_err(|e| bad_input!("cannot read dataset file {}: {e}", shown(path)))?;
    Ok(head)
}

/// Bytes of data an IDX header announces and its dimensions text
/// (`200×28×28`), once the whole header is there and its magic number is
/// right (`None` otherwise: [`parse_idx`] words that error); an error for
/// sizes that overflow.
fn announced_payload(
    header: &[u8],
    kind: IdxKind,
) -> std::result::Result<Option<(u64, String)>, String> {
    if header.len() < 4 + 4 * kind.ndims() {
        return Ok(None);
    }
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if magic != kind.magic() {
        return Ok(None);
    }
    let dims: Vec<usize> = header[4..4 + 4 * kind.ndims()]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    dims.iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .map(|n| Some((n, dims_text(&dims))))
        .ok_or_else(|| format!("header dimensions {dims:?} overflow"))
}

/// Parses IDX bytes, checking the magic number and that the payload has
/// exactly the size the header announces. Errors are plain sentences.
pub fn parse_idx(bytes: &[u8], kind: IdxKind) -> std::result::Result<Idx, String> {
    let header_len = 4 + 4 * kind.ndims();
    if bytes.len() < 4 {
        return Err(format!(
            "file too short for an IDX header ({} bytes); it is empty or truncated",
            bytes.len()
        ));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if magic != kind.magic() {
        let what = match kind {
            IdxKind::Labels => "labels",
            IdxKind::Images => "images",
        };
        return Err(format!(
            "bad magic number 0x{magic:08x}, expected 0x{:08x} for IDX {what}; \
             this is not an IDX {what} file (or the wrong file is in its place)",
            kind.magic()
        ));
    }
    if bytes.len() < header_len {
        return Err(format!(
            "truncated IDX header: {} bytes, need {header_len}",
            bytes.len()
        ));
    }
    let dims: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    if kind == IdxKind::Images && (dims[1] == 0 || dims[2] == 0) {
        return Err(format!(
            "images of size {}×{} make no sense",
            dims[1], dims[2]
        ));
    }
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("header dimensions {dims:?} overflow"))?;
    let payload = &bytes[header_len..];
    if payload.len() < expected {
        return Err(format!(
            "truncated: header announces {} ({expected} bytes of data) but only {} bytes follow",
            dims_text(&dims),
            payload.len()
        ));
    }
    if payload.len() > expected {
        return Err(format!(
            "{} unexpected bytes after the {expected} bytes the header announces ({})",
            payload.len() - expected,
            dims_text(&dims)
        ));
    }
    Ok(Idx {
        dims,
        data: payload.to_vec(),
    })
}

fn dims_text(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx_bytes(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut out = magic.to_be_bytes().to_vec();
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn parses_a_well_formed_image_file() {
        let bytes = idx_bytes(0x803, &[2, 2, 3], &[1; 12]);
        let idx = parse_idx(&bytes, IdxKind::Images).unwrap();
        assert_eq!(idx.dims, vec![2, 2, 3]);
        assert_eq!(idx.data.len(), 12);
    }

    #[test]
    fn bad_magic_is_named() {
        let bytes = idx_bytes(0x803, &[2], &[1, 2]);
        let err = parse_idx(&bytes, IdxKind::Labels).unwrap_err();
        assert!(
            err.contains("bad magic number 0x00000803, expected 0x00000801"),
            "{err}"
        );
    }

    #[test]
    fn truncated_payload_is_reported_with_sizes() {
        let bytes = idx_bytes(0x801, &[5], &[1, 2, 3]);
        let err = parse_idx(&bytes, IdxKind::Labels).unwrap_err();
        assert!(
            err.contains("truncated") && err.contains("only 3 bytes follow"),
            "{err}"
        );
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let bytes = idx_bytes(0x801, &[2], &[1, 2, 3]);
        let err = parse_idx(&bytes, IdxKind::Labels).unwrap_err();
        assert!(err.contains("1 unexpected bytes"), "{err}");
    }

    #[test]
    fn short_header_is_reported() {
        let err = parse_idx(&[0, 0, 8, 3, 0, 0], IdxKind::Images).unwrap_err();
        assert!(err.contains("truncated IDX header"), "{err}");
    }

    #[test]
    fn accepts_both_naming_styles() {
        let names = candidate_names("train-images", IdxKind::Images);
        assert!(names.contains(&"train-images-idx3-ubyte.gz".to_string()));
        assert!(names.contains(&"train-images.idx3-ubyte".to_string()));
    }
}
