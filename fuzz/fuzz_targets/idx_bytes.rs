//! Fuzzes IDX reading: any bytes, read as labels and as images, plain or
//! gzip-compressed, give either data of exactly the announced size or a
//! bad-input error — never a panic.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sweep::data::{IdxKind, parse_idx, read_idx};
use sweep::error::is_bad_input;

/// A file of this process's own, rewritten with each gzip input (`read_idx`
/// takes a path; it is what unzips).
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| std::env::temp_dir().join(format!("sweep-fuzz-idx-{}", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    // Only gzip goes through a file: for anything else `read_idx` is
    // `parse_idx`, and writing a file per input would slow the fuzzer tenfold.
    let gzip = data.starts_with(&[0x1f, 0x8b]);
    if gzip {
        std::fs::write(scratch(), data).unwrap();
    }
    for kind in [IdxKind::Labels, IdxKind::Images] {
        if let Ok(idx) = parse_idx(data, kind) {
            assert_eq!(idx.data.len(), idx.dims.iter().product::<usize>());
        }
        if gzip {
            match read_idx(scratch(), kind) {
                Ok((idx, _)) => assert_eq!(idx.data.len(), idx.dims.iter().product::<usize>()),
                Err(err) => assert!(is_bad_input(&err), "{err:#}"),
            }
        }
    }
});
