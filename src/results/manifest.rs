//! `manifest.json` (what produced the results) and `grid.json` (every run of
//! the grid, so the folder can be reported on without the experiment file).

use serde::{Deserialize, Serialize};

use crate::config::{Experiment, RunSpec, SearchRecord};
use crate::data::DataFile;

/// Version of the results folder's format. 1: sweep 0.1 (ids of 12 hex
/// digits over every setting, records without checksums). 2: ids `r` + 12
/// hex digits over the settings that differ from their defaults, records
/// with checksums, spreadsheet-safe CSVs.
pub const FORMAT: u32 = 2;

/// `manifest.json`: what produced the results, for reproducing them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always "sweep".
    pub tool: String,
    /// sweep's version.
    pub version: String,
    /// The results folder's format ([`FORMAT`]); 1 when absent.
    #[serde(default = "format_one")]
    pub format: u32,
    /// Name of the sweep.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The experiment file, as given on the command line.
    pub experiment_file: String,
    /// SHA-256 of the experiment file.
    pub config_sha256: String,
    /// Dataset as named in the experiment.
    pub dataset: String,
    /// Folder the dataset was read from.
    pub dataset_dir: String,
    /// Dataset files with checksums.
    pub dataset_files: Vec<DataFile>,
    /// Settings the grid varies.
    pub swept: Vec<String>,
    /// Runs in the grid.
    pub runs_total: usize,
    /// Runs finished (including diverged).
    pub runs_done: usize,
    /// Worker threads.
    pub jobs: usize,
    /// The processor.
    pub cpu: String,
    /// Start of this invocation (RFC 3339).
    pub started_at: String,
    /// End of this invocation, empty while it runs.
    pub finished_at: String,
    /// The experiment's `[compare] baseline`, as `setting=value` pairs
    /// (absent before 0.3 and when the experiment names none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline: Vec<String>,
    /// The experiment's `[compare] within`: settings each configuration is
    /// compared with the baseline at its own value of (absent before 0.6).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub within: Vec<String>,
    /// The GEMM kernel the folder's runs train with, and the instruction
    /// set it dispatched to where the folder was created, e.g.
    /// `gemm/avx512` (see [`crate::nn::Kernel::label`]). Absent in folders
    /// of sweep 0.3 and earlier, which trained with matrixmultiply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// How the kernel was chosen: asked for, measured by `auto` (with the
    /// rates), kept from an older version, or switched by `--switch-kernel`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kernel_choice: String,
}

impl Manifest {
    /// The folder's kernel as `sweep status` and the report show it: its
    /// label, or matrixmultiply for a folder from before kernels were
    /// recorded.
    pub fn kernel_shown(&self) -> String {
        match &self.kernel {
            Some(label) => label.clone(),
            None => format!("{} (before kernels were recorded)", super::LEGACY_KERNEL),
        }
    }
}

fn format_one() -> u32 {
    1
}

/// What `grid.json` holds: the whole grid, so that `sweep report` knows
/// which runs are missing without the experiment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridFile {
    /// The dataset, as named in the experiment.
    pub dataset: String,
    /// Settings the grid varies, in canonical order.
    pub swept: Vec<String>,
    /// Every run in grid order.
    pub runs: Vec<RunSpec>,
    /// For a random or Sobol search, what was drawn and how (absent for a
    /// grid, and before 0.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchRecord>,
}

impl GridFile {
    /// The grid of the experiment `exp`.
    pub fn of(exp: &Experiment) -> GridFile {
        GridFile {
            dataset: exp.dataset_label.clone(),
            swept: exp.swept.iter().map(|k| k.name().to_string()).collect(),
            runs: exp.runs.clone(),
            search: exp.sampled.clone(),
        }
    }

    /// Gives every run the id the current version computes from its
    /// settings (a `grid.json` of sweep 0.1 holds the old ids). The ids
    /// stored are never trusted: they are derived data.
    pub fn with_current_ids(mut self) -> GridFile {
        for spec in &mut self.runs {
            spec.id = crate::config::run_id(&self.dataset, &spec.params);
        }
        self
    }
}

/// The processor's model name, from /proc/cpuinfo where there is one.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}
