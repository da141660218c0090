//! Reading folders written by sweep 0.1 (format 1): run folders named by
//! the old ids (12 hex digits over every setting) and records without
//! checksums. Runs of the grid are found under their old names and
//! upgraded one by one ([`super::ResultsDir::upgrade_record`]); this file
//! renames the rest — runs no longer in the grid — so that they are found
//! again if the grid comes back to them.

use std::fs;

use super::ResultsDir;
use super::record::{PARAMS_FILE, RunParamsFile};
use crate::files::{limits, read_bounded};

/// True for a folder name sweep 0.1 gave a run: 12 lower-case hex digits.
pub fn is_legacy_id(name: &str) -> bool {
    name.len() == 12
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl ResultsDir {
    /// Renames every run folder still named by an old id to its current id,
    /// read from its `params.json` (left alone if that cannot be read or
    /// the new name is taken). Returns how many were renamed. Call only
    /// while holding the folder alone.
    pub fn rename_legacy_folders(&self) -> usize {
        let runs = self.root().join("runs");
        let Ok(entries) = fs::read_dir(&runs) else {
            return 0;
        };
        let mut renamed = 0;
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_legacy_id(&name) {
                continue;
            }
            let Ok(bytes) = read_bounded(&entry.path().join(PARAMS_FILE), limits::SMALL) else {
                continue;
            };
            let Ok(file) = serde_json::from_slice::<RunParamsFile>(&bytes) else {
                continue;
            };
            let target = runs.join(crate::config::run_id(&file.dataset, &file.params));
            if !target.exists() && fs::rename(entry.path(), &target).is_ok() {
                renamed += 1;
            }
        }
        renamed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_ids_are_twelve_hex_digits_and_new_ones_are_not() {
        assert!(is_legacy_id("0c5176373659"));
        assert!(is_legacy_id("530659712204"));
        assert!(!is_legacy_id("r0c5176373659"));
        assert!(!is_legacy_id("0C5176373659"));
        assert!(!is_legacy_id("0c517637365"));
    }
}
