//! Experiment files: TOML → strict validation → grid expansion → the list of
//! [`RunSpec`]s, each with a stable id derived from its parameter values.
//!
//! ```toml
//! name = "lambda"                    # results go to results/lambda/
//! [data]   dataset = "mnist", train_subset = 1000
//! [model]  hidden_size = 200
//! [train]  epochs = 30, learning_rate = 0.1
//! [grid]   lambda = { log = [1e-4, 1e-1], num = 4, zero = true }
//!          seed = { count = 3 }
//! ```
//!
//! Where things are:
//! - [`params`]: the settings table (`settings!`), one row per setting,
//!   and [`RunParams`], one run's values;
//! - [`grid`]: `[grid]` entries (lists, ranges) and their expansion;
//!   [`search`]: `[search]` (random, Sobol, halving) and its sampling;
//! - `parser.rs`: the phases of reading a file; `collect.rs` walks the TOML
//!   into a draft, `shorthand.rs` rewrites shorthands, `rules.rs` and
//!   `compare.rs` check what spans tables;
//! - [`locate`]: line and column of a key, and "did you mean" hints.

mod collect;
mod compare;
pub mod grid;
pub mod locate;
pub mod params;
mod parser;
mod rules;
pub mod search;
mod shorthand;

use std::path::{Path, PathBuf};

use anyhow::Result;
use sha2::{Digest, Sha256};

use crate::bad_input;
use crate::data::{DataSource, hex};
use crate::files::{ReadError, limits, read_user_file};
use crate::nn::KernelRequest;
pub use grid::Axis;
pub use params::{
    EarlyStopping, EvalEvery, InputCorruption, InputScaling, Key, Kind, MeasureSet, NoiseMode,
    PlotAxis, RunParams, Sampling, StopMetric, Value,
};
use parser::Parser;
pub use search::{Search, SearchRecord};

/// Most runs one experiment may expand to.
pub const MAX_RUNS: usize = 100_000;

/// The largest whole number a setting may take: every one up to it is
/// exactly a float, so TOML's `3.0` and `3` always mean the same run.
pub const MAX_WHOLE: u64 = 1 << 53;

/// Longest `name` (it names a folder and Slurm jobs; file systems allow
/// 255 bytes in a name).
pub const MAX_NAME_CHARS: usize = 100;

/// One run of the grid: its parameters and an id derived from them alone.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunSpec {
    /// Stable id: a hash of the dataset and every parameter value, so editing
    /// the grid never renames a finished run.
    pub id: String,
    /// The run's resolved settings.
    pub params: RunParams,
}

/// A parsed and checked experiment file.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// Name of the sweep (the results folder's name).
    pub name: String,
    /// Free text saying what the sweep asks.
    pub description: String,
    /// The experiment file.
    pub path: PathBuf,
    /// Where the data comes from.
    pub data: DataSource,
    /// How the dataset is named in result files (`mnist`, or the `data_dir`).
    pub dataset_label: String,
    /// The settings the grid varies, in canonical order.
    pub swept: Vec<Key>,
    /// Every run, in grid order.
    pub runs: Vec<RunSpec>,
    /// Grid points that differed only in settings their run does not use
    /// (momentum crossed with plain SGD), each trained once.
    pub merged_points: usize,
    /// SHA-256 of the file's text.
    pub config_sha256: String,
    /// The configuration `[compare] baseline` names, as `setting=value`
    /// pairs in canonical form; empty when there is none.
    pub baseline: Vec<String>,
    /// `[compare] within`: the settings each configuration is compared
    /// with the baseline at its own value of; empty for one baseline.
    pub within: Vec<String>,
    /// How the configurations were chosen (`[search]`).
    pub search: Search,
    /// For a sampled search, what was drawn and how (kept in `grid.json`).
    pub sampled: Option<SearchRecord>,
    /// Whether each run's test predictions are kept (`save_predictions`),
    /// for McNemar's test between single runs.
    pub save_predictions: bool,
    /// Whether each run's forgetting events per training image are kept
    /// (`save_forgetting`).
    pub save_forgetting: bool,
    /// The GEMM kernel asked for (`kernel`), if the file names one.
    pub kernel: Option<KernelRequest>,
}

impl Experiment {
    /// Reads and checks the experiment file at `path`: at most 16 MiB of
    /// UTF-8 text from a regular file (or a character device such as
    /// `/dev/null`, read up to that bound; never a pipe or a folder).
    pub fn load(path: &Path) -> Result<Experiment> {
        let shown = crate::error::shown(path);
        let bytes = read_user_file(path, limits::EXPERIMENT).map_err(|e| match e {
            ReadError::TooLarge(_) => bad_input!(
                "cannot read experiment file {shown}: {e}; an experiment file holds at most {} MiB",
                limits::EXPERIMENT >> 20
            ),
            e => bad_input!("cannot read experiment file {shown}: {e}"),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let (line, col) = locate::line_col(
                &String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]),
                usize::MAX,
            );
            bad_input!(
                "cannot read experiment file {shown}: it is not UTF-8 text (an invalid byte at \
                 line {line}, column {col}); save it as UTF-8"
            )
        })?;
        Experiment::parse(&text, path)
    }

    /// Checks `text`, the contents of the experiment file `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Experiment> {
        Parser { text, path }.parse()
    }

    /// The number of configurations: distinct runs but for the seed.
    pub fn configuration_count(&self) -> usize {
        let mut seen = std::collections::HashSet::new();
        for run in &self.runs {
            let p = RunParams {
                seed: 0,
                ..run.params.clone()
            };
            seen.insert(run_id(&self.dataset_label, &p));
        }
        seen.len()
    }

    /// The folder the experiment file is in (relative data paths start here).
    pub fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// A run's id: `r` and the first 12 hex digits of SHA-256 over the dataset
/// and the settings that differ from their defaults.
///
/// - The leading letter keeps spreadsheets from reading an id as a number
///   (`530659712204`), in scientific notation (`9390e0004803`) or as a date.
/// - Leaving defaults out keeps every id when a setting is added whose
///   default reproduces earlier behaviour; the defaults of existing
///   settings must therefore never change.
pub fn run_id(dataset_label: &str, params: &RunParams) -> String {
    let digest = Sha256::digest(
        format!("dataset={dataset_label};{}", params.canonical_changes()).as_bytes(),
    );
    format!("r{}", hex(&digest[..6]))
}

/// The id sweep 0.1 gave the same run (12 hex digits over its 12
/// settings), under which its folder may still be found; `None` for a run
/// using a setting 0.1 did not have.
pub fn legacy_run_id(dataset_label: &str, params: &RunParams) -> Option<String> {
    let canonical = params.sweep_0_1_canonical()?;
    let digest = Sha256::digest(format!("dataset={dataset_label};{canonical}").as_bytes());
    Some(hex(&digest[..6]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Experiment, String> {
        Experiment::parse(text, Path::new("exp/x.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_give_one_run_named_after_the_file() {
        let exp = parse("epochs = 10\n").unwrap();
        assert_eq!(exp.name, "x");
        assert_eq!(exp.runs.len(), 1);
        assert_eq!(exp.runs[0].params, RunParams::default());
    }

    #[test]
    fn an_empty_file_is_refused() {
        for text in ["", "# only a comment\n\n"] {
            let err = parse(text).unwrap_err();
            assert!(
                err.starts_with("the experiment file exp/x.toml is empty"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_number_beyond_64_bits_is_refused_naming_its_key_and_range() {
        let err = parse("[train]\nepochs = 99999999999999999999\n").unwrap_err();
        assert_eq!(
            err,
            "`epochs` = 99999999999999999999 is too large: numbers must fit in 64 bits; it must \
             be a whole number from 1 to 1000000 (exp/x.toml, line 2, column 10)"
        );
        let err = parse("[grid]\nseed = { count = 99999999999999999999 }\n").unwrap_err();
        assert!(
            err.starts_with("`count` = 99999999999999999999 is too large"),
            "{err}"
        );
    }

    #[test]
    fn an_overlong_name_is_refused_before_any_folder_is_made() {
        let err = parse(&format!("name = \"{}\"\n", "a".repeat(10_000))).unwrap_err();
        assert!(err.starts_with("`name` is 10000 characters long"), "{err}");
    }

    #[test]
    fn control_characters_in_data_dir_are_refused_and_shown_escaped() {
        let err = parse("data_dir = \"da\\u0000ta\"\n").unwrap_err();
        assert!(
            err.contains("\"da\\0ta\" holds the control character '\\0'"),
            "{err}"
        );
        assert!(!err.contains('\0'));
    }

    #[test]
    fn ids_start_with_a_letter_and_ignore_settings_at_their_defaults() {
        let a = parse("epochs = 10\n").unwrap();
        let b = parse("epochs = 10\nlambda = 0\nhidden_size = 200\n").unwrap();
        assert_eq!(a.runs[0].id, b.runs[0].id);
        assert!(a.runs[0].id.starts_with('r') && a.runs[0].id.len() == 13);
        // The id of every default setting on MNIST, as sweep 0.2 defines it.
        assert_eq!(
            run_id("mnist", &RunParams::default()),
            "r".to_string() + &hex(&Sha256::digest(b"dataset=mnist;")[..6])
        );
        // sweep 0.1's id of the same run, under which its folder is found.
        assert_eq!(
            legacy_run_id("mnist", &RunParams::default()).unwrap().len(),
            12
        );
    }

    #[test]
    fn settings_may_stand_at_top_level_or_in_their_section() {
        let a = parse("epochs = 3\n[train]\nlambda = 0.5").unwrap();
        assert_eq!(a.runs[0].params.epochs, 3);
        assert_eq!(a.runs[0].params.lambda, 0.5);
    }

    #[test]
    fn hidden_is_swept_as_a_list_of_lists_and_equal_widths_are_the_shorthand() {
        let exp = parse("[grid]\nhidden = [[100], [200, 200], [500, 300]]\n").unwrap();
        assert_eq!(exp.runs.len(), 3);
        let default = parse("epochs = 10\n").unwrap();
        assert_eq!(exp.runs[1].id, default.runs[0].id);
        assert_eq!(exp.runs[2].params.hidden_widths(), [500, 300]);
        assert_eq!(exp.runs[0].params.hidden_widths(), [100]);
    }

    #[test]
    fn grid_points_that_differ_only_in_unused_settings_train_once() {
        let exp =
            parse("[grid]\noptimizer = [\"sgd\", \"momentum\"]\nmomentum = [0.5, 0.9]\n").unwrap();
        assert_eq!(exp.runs.len(), 3);
        assert_eq!(exp.merged_points, 1);
    }

    #[test]
    fn unknown_keys_are_named_with_a_suggestion_and_a_line() {
        let err = parse("[train]\nepochs = 3\nlamda = 0.1\n").unwrap_err();
        assert_eq!(
            err,
            "unknown key `lamda` in [train] (did you mean `lambda`?); [train] takes epochs, batch_size, loss, \
             optimizer, learning_rate, lr_schedule, lr_step_epochs, lr_step_factor, \
             warmup_epochs, momentum, beta1, beta2, eps, lambda, weight_decay, dropout, \
             input_dropout, max_norm, sampling, \
             early_stopping, eval_every, seed, stop_at_train_loss, measures, measures_every, \
             measures_subset (exp/x.toml, line 3, column 1)"
        );
        let err = parse("[grid]\nlearnig_rate = [0.1]\n").unwrap_err();
        assert!(
            err.contains("did you mean `learning_rate`") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn misplaced_settings_say_where_they_belong() {
        let err = parse("[model]\nlambda = 0.1\n").unwrap_err();
        assert!(err.starts_with("`lambda` belongs in [train]"), "{err}");
    }

    #[test]
    fn wrong_types_and_ranges_are_located() {
        let err = parse("[train]\n\nlearning_rate = \"fast\"\n").unwrap_err();
        assert_eq!(
            err,
            "`learning_rate` must be a number, got string \"fast\" (exp/x.toml, line 3, column 17)"
        );
        let err = parse("[grid]\nlambda = [0, -0.1]\n").unwrap_err();
        assert!(
            err.contains("`lambda` must be ≥ 0, got -0.1") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn setting_and_sweeping_the_same_key_is_refused() {
        let err = parse("lambda = 0.1\n[grid]\nlambda = [0, 1]\n").unwrap_err();
        assert!(err.contains("both set (as `lambda`) and swept"), "{err}");
    }

    #[test]
    fn malformed_toml_reports_the_position() {
        let err = parse("[train\nepochs = 1").unwrap_err();
        assert!(
            err.starts_with("exp/x.toml is not valid TOML") && err.contains("line 1"),
            "{err}"
        );
    }

    #[test]
    fn grid_order_is_canonical_whatever_the_file_order_and_settings_are_shown_in_it() {
        let a = parse("[grid]\nseed = [0, 1]\nlambda = [0, 0.1]\n").unwrap();
        let b = parse("[grid]\nlambda = [0, 0.1]\nseed = [0, 1]\n").unwrap();
        let ids = |e: &Experiment| e.runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(a.swept, vec![Key::Seed, Key::Lambda]);
        assert_eq!(b.swept, vec![Key::Lambda, Key::Seed]);
        let c = parse("[grid]\nlambda = [0, 0.1]\nlearning_rate = [0.1, 0.3]\n").unwrap();
        assert_eq!(c.swept, vec![Key::Lambda, Key::LearningRate]);
    }

    #[test]
    fn run_ids_depend_on_values_not_grid_position() {
        let small = parse("[grid]\nlambda = [0.1]\n").unwrap();
        let big = parse("[grid]\nlambda = [0, 0.01, 0.1]\n").unwrap();
        assert_eq!(small.runs[0].id, big.runs[2].id);
        assert_ne!(big.runs[0].id, big.runs[1].id);
    }

    #[test]
    fn huge_grids_are_refused() {
        let err =
            parse("[grid]\nseed = { count = 1000 }\nlambda = { linear = [0, 1], num = 101 }\n")
                .unwrap_err();
        assert!(err.contains("more than 100000 runs"), "{err}");
    }

    #[test]
    fn unknown_datasets_are_refused_with_the_known_ones() {
        let err = parse("[data]\ndataset = \"mnsit\"\n").unwrap_err();
        assert!(err.contains("did you mean `mnist`"), "{err}");
    }

    #[test]
    fn minus_zero_is_the_same_setting_and_run_as_zero() {
        let a = parse("lambda = -0.0\n").unwrap();
        let b = parse("lambda = 0\n").unwrap();
        assert_eq!(a.runs[0].id, b.runs[0].id);
        assert_eq!(a.runs[0].params.lambda.to_bits(), 0.0f64.to_bits());
    }

    /// The settings of each configuration (seed 0) of `exp`, without
    /// `epochs` and the bracket, as text.
    fn points(exp: &Experiment, bracket: Option<usize>) -> Vec<String> {
        exp.runs
            .iter()
            .filter(|r| r.params.seed == 0 && r.params.bracket == bracket)
            .map(|r| {
                let p = &r.params;
                format!("{} {}", p.learning_rate, p.hidden_size)
            })
            .collect()
    }

    const SPACE: &str = "[data]\nvalidation = 100\n[grid]\n\
        learning_rate = { log_uniform = [0.01, 0.5] }\nhidden_size = [16, 64]\n\
        seed = { count = 2 }\n";

    #[test]
    fn sampled_halving_draws_the_points_of_the_same_sampled_search() {
        for sampler in ["random", "sobol"] {
            let halving = parse(&format!(
                "{SPACE}[search]\nmethod = \"halving\"\nsampler = \"{sampler}\"\nsamples = 8\n\
                 seed = 5\nmin_epochs = 1\nmax_epochs = 4\n"
            ))
            .unwrap();
            let search = parse(&format!(
                "epochs = 4\n{SPACE}[search]\nmethod = \"{sampler}\"\nsamples = 8\nseed = 5\n"
            ))
            .unwrap();
            assert_eq!(points(&halving, None), points(&search, None), "{sampler}");
            let ids = |e: &Experiment| e.runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
            assert_eq!(ids(&halving), ids(&search), "{sampler}: the same runs");
            assert_eq!(
                halving.swept,
                [Key::LearningRate, Key::HiddenSize, Key::Seed]
            );
        }
    }

    #[test]
    fn each_hyperband_bracket_draws_its_own_points_whatever_the_others() {
        let hyperband = |max: usize| {
            parse(&format!(
                "{SPACE}[search]\nmethod = \"halving\"\nsampler = \"sobol\"\n\
                 brackets = \"hyperband\"\neta = 2\nmin_epochs = 1\nmax_epochs = {max}\n"
            ))
            .unwrap()
        };
        // Rungs 1, 2, 4: brackets s = 2, 1, 0 of 4, 3 and 3 points; with
        // rungs 1, 2, 4, 8: s = 3, 2, 1, 0 of 8, 6, 4 and 4.
        let (small, large) = (hyperband(4), hyperband(8));
        assert!(small.swept.contains(&Key::Bracket));
        for (s, few, many) in [(2, 4, 6), (1, 3, 4), (0, 3, 4)] {
            let a = points(&small, Some(s));
            let b = points(&large, Some(s));
            assert_eq!(a.len(), few, "bracket {s}: {a:?}");
            assert_eq!(b.len(), many, "bracket {s}");
            assert_eq!(a[..], b[..few], "bracket {s} keeps its first points");
        }
        assert_ne!(points(&small, Some(2)), points(&small, Some(1))[..]);
        // Brackets are settings of the runs: the same point in two
        // brackets is two runs.
        let ids: std::collections::HashSet<&str> =
            small.runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), small.runs.len());
        assert_eq!(small.runs.len(), (4 + 3 + 3) * 2);
    }

    #[test]
    fn sizes_beyond_any_machine_are_refused_before_anything_is_built() {
        for (text, want) in [
            (
                "[grid]\nseed = { count = 1000000000000 }\n",
                "more than the 100000 runs",
            ),
            ("hidden_layers = 65\n", "`hidden_layers` must be ≤ 64"),
            ("hidden_size = 100001\n", "`hidden_size` must be ≤ 100000"),
            ("epochs = 1e300\n", "`epochs` must be ≤ 1000000, got 1e300"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
