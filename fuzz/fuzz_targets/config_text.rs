//! Fuzzes experiment-file checking: any text gives either an experiment
//! with at least one run or a bad-input error that names the file — never a
//! panic, never another kind of error.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sweep::config::Experiment;
use sweep::error::is_bad_input;

fuzz_target!(|data: &[u8]| {
    // `Experiment::load` refuses invalid UTF-8 before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Experiment::parse(text, Path::new("fuzz.toml")) {
        Ok(exp) => assert!(!exp.runs.is_empty()),
        Err(err) => {
            assert!(is_bad_input(&err), "{err:#}");
            assert!(format!("{err:#}").contains("fuzz.toml"), "{err:#}");
        }
    }
});
