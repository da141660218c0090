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

pub mod grid;
pub mod locate;
pub mod params;
pub mod search;

use std::path::{Path, PathBuf};

use anyhow::Result;
use sha2::{Digest, Sha256};

use crate::bad_input;
use crate::data::{DataSource, KNOWN_DATASETS, hex};
use crate::files::{ReadError, limits, read_user_file};
use crate::nn::KernelRequest;
pub use grid::Axis;
use locate::Part;
pub use params::{
    EarlyStopping, InputCorruption, InputScaling, Key, Kind, NoiseMode, PlotAxis, RunParams,
    Sampling, StopMetric, Value,
};
use search::{Dimension, Distribution, Halving};
pub use search::{Search, SearchRecord};

/// Most runs one experiment may expand to.
pub const MAX_RUNS: usize = 100_000;

/// Longest `name` (it names a folder and Slurm jobs; file systems allow
/// 255 bytes in a name).
pub const MAX_NAME_CHARS: usize = 100;

/// The sections settings are grouped in.
const SECTIONS: &[&str] = &["data", "model", "train"];
/// Keys of the data section that are not per-run settings.
const DATA_KEYS: &[&str] = &["dataset", "data_dir"];
/// `random_labels = true`: shorthand for `label_noise = 1` with
/// `label_noise_mode = "uniform"` (Zhang et al.'s random labels), in [data]
/// or swept in [grid] as `[false, true]`.
const RANDOM_LABELS: &str = "random_labels";
/// Top-level keys other than sections and settings.
const TEXT_KEYS: &[&str] = &["name", "description"];
/// Top-level `save_predictions = true`: keep each run's test predictions
/// (not a setting: it changes no number, and no run id).
const SAVE_PREDICTIONS: &str = "save_predictions";
/// Top-level `kernel = "auto" | "gemm" | "matrixmultiply"`: the GEMM
/// kernel a new results folder trains with (not a setting: it changes no
/// run id, only the last bits of the numbers).
const KERNEL: &str = "kernel";

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
    /// How the configurations were chosen (`[search]`).
    pub search: Search,
    /// For a sampled search, what was drawn and how (kept in `grid.json`).
    pub sampled: Option<SearchRecord>,
    /// Whether each run's test predictions are kept (`save_predictions`),
    /// for McNemar's test between single runs.
    pub save_predictions: bool,
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

struct Parser<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Parser<'_> {
    /// An input error about the value of the key `at` (located in the file
    /// if found there).
    fn error(&self, at: &[&str], msg: String) -> anyhow::Error {
        self.error_on(at, Part::Value, msg)
    }

    /// An input error about the key `at` itself (e.g. an unknown name).
    fn error_on_key(&self, at: &[&str], msg: String) -> anyhow::Error {
        self.error_on(at, Part::Key, msg)
    }

    fn error_on(&self, at: &[&str], part: Part, msg: String) -> anyhow::Error {
        // A key that is missing (`num` of a range) has no position: point at
        // the nearest enclosing key that is there.
        let found = (1..=at.len()).rev().find_map(|n| {
            let part = if n == at.len() { part } else { Part::Key };
            locate::position(self.text, &at[..n], part)
        });
        match found {
            Some((line, col)) => {
                bad_input!("{msg} ({}, line {line}, column {col})", self.shown())
            }
            None => bad_input!("{msg} ({})", self.shown()),
        }
    }

    /// The file's path as messages show it.
    fn shown(&self) -> String {
        crate::error::shown(self.path)
    }

    /// The TOML library's error, made to name the key when it is about a
    /// number too large for 64 bits (the library names only the type).
    fn toml_error(&self, e: &toml::de::Error) -> anyhow::Error {
        let span = e.span();
        if let Some(span) = &span
            && e.message().starts_with("invalid type: integer")
        {
            let number = self.text.get(span.clone()).unwrap_or("").trim();
            let (line, col) = locate::line_col(self.text, span.start);
            let key = locate::key_before(self.text, span.start);
            let rule = match key.as_deref().and_then(Key::from_name).map(Key::kind) {
                Some(params::Kind::Int { min, max }) => {
                    format!("; it must be a whole number from {min} to {max}")
                }
                _ => String::new(),
            };
            let what = key.map_or("a value".to_string(), |k| format!("`{k}`"));
            return bad_input!(
                "{what} = {number} is too large: numbers must fit in 64 bits{rule} ({}, line \
                 {line}, column {col})",
                self.shown()
            );
        }
        bad_input!("{} is not valid TOML: {e}", self.shown())
    }

    fn parse(&self) -> Result<Experiment> {
        let table: toml::Table = toml::from_str(self.text).map_err(|e| self.toml_error(&e))?;
        if table.is_empty() {
            return Err(bad_input!(
                "the experiment file {} is empty (no settings, no [grid]); it would train the \
                 default network once on all of MNIST. Start from experiments/quick.toml, or \
                 write at least one setting",
                self.shown()
            ));
        }

        let mut name = None;
        let mut description = String::new();
        let mut dataset: Option<(String, Vec<&str>)> = None;
        let mut data_dir: Option<String> = None;
        let mut base = RunParams::default();
        let mut scalars: Vec<(Key, Vec<&str>)> = Vec::new();
        let mut axes: Vec<(Axis, Vec<&str>)> = Vec::new();
        let mut random_labels: Option<(&toml::Value, Vec<&str>)> = None;
        let mut baseline: Vec<(Key, String, Vec<&str>)> = Vec::new();
        let mut search_table: Option<&toml::Value> = None;
        let mut save_predictions = false;
        let mut kernel = None;
        // Grid entries that are grid ranges (`log`, `linear`), and
        // distributions: each allowed under one kind of search only.
        let mut ranged: Vec<(Vec<&str>, &str)> = Vec::new();
        let mut drawn: Vec<(Key, Distribution, Vec<&str>)> = Vec::new();

        for (key, value) in &table {
            let at = vec![key.as_str()];
            if TEXT_KEYS.contains(&key.as_str()) {
                let s = value.as_str().ok_or_else(|| {
                    self.error(
                        &at,
                        format!("`{key}` must be a string, got {} {value}", value.type_str()),
                    )
                })?;
                if key == "name" {
                    name = Some(self.check_name(s)?);
                } else {
                    description = s.to_string();
                }
            } else if SECTIONS.contains(&key.as_str()) {
                let section = value.as_table().ok_or_else(|| {
                    self.error(
                        &at,
                        format!(
                            "`{key}` must be a table ([{key}]), got {}",
                            value.type_str()
                        ),
                    )
                })?;
                for (inner, inner_value) in section {
                    let at = vec![key.as_str(), inner.as_str()];
                    if key == "data" && DATA_KEYS.contains(&inner.as_str()) {
                        self.data_key(inner, inner_value, at, &mut dataset, &mut data_dir)?;
                    } else if inner == RANDOM_LABELS {
                        if key != "data" {
                            return Err(self.error_on_key(
                                &at,
                                format!("`{RANDOM_LABELS}` belongs in [data] (or at the top level), not in [{key}]"),
                            ));
                        }
                        self.once(&mut random_labels, inner_value, at)?;
                    } else {
                        let setting = self.setting(key, inner, &at)?;
                        self.scalar(setting, inner_value, at, &mut base, &mut scalars)?;
                    }
                }
            } else if key == "compare" {
                baseline = self.compare_table(value)?;
            } else if key == "search" {
                search_table = Some(value);
            } else if key == SAVE_PREDICTIONS {
                save_predictions = value.as_bool().ok_or_else(|| {
                    self.error(
                        &at,
                        format!(
                            "`{SAVE_PREDICTIONS}` must be true or false, got {} {value}",
                            value.type_str()
                        ),
                    )
                })?;
            } else if key == KERNEL {
                let asked = value
                    .as_str()
                    .ok_or_else(|| format!("must be a string, got {} {value}", value.type_str()))
                    .and_then(KernelRequest::parse)
                    .map_err(|why| {
                        self.error(
                            &at,
                            format!(
                                "`{KERNEL}`: {why}; e.g. kernel = \"matrixmultiply\" for the \
                                 same bits on every x86-64 with AVX2 and FMA"
                            ),
                        )
                    })?;
                kernel = Some(asked);
            } else if key == "grid" {
                let grid = value.as_table().ok_or_else(|| {
                    self.error(
                        &at,
                        format!("`grid` must be a table ([grid]), got {}", value.type_str()),
                    )
                })?;
                for (inner, inner_value) in grid {
                    let at = vec!["grid", inner.as_str()];
                    if inner == RANDOM_LABELS {
                        self.once(&mut random_labels, inner_value, at)?;
                        continue;
                    }
                    let key = self.sweepable(inner, &at)?;
                    let table = inner_value.as_table();
                    match table.and_then(|t| Distribution::parse(key, t)) {
                        Some(parsed) => {
                            let d = parsed.map_err(|e| self.axis_error(&at, e))?;
                            drawn.push((key, d, at));
                        }
                        None => {
                            let form = ["log", "linear"]
                                .into_iter()
                                .find(|f| table.is_some_and(|t| t.contains_key(*f)));
                            if let Some(form) = form {
                                ranged.push((at.clone(), form));
                            }
                            let axis = grid::parse_axis(key, inner_value)
                                .map_err(|e| self.axis_error(&at, e))?;
                            axes.push((axis, at));
                        }
                    }
                }
            } else if DATA_KEYS.contains(&key.as_str()) {
                self.data_key(key, value, at, &mut dataset, &mut data_dir)?;
            } else if key == RANDOM_LABELS {
                self.once(&mut random_labels, value, at)?;
            } else if let Some(setting) = Key::from_name(key) {
                self.scalar(setting, value, at, &mut base, &mut scalars)?;
            } else {
                let valid = TEXT_KEYS
                    .iter()
                    .chain(SECTIONS)
                    .chain(["grid", "search", "compare", SAVE_PREDICTIONS, KERNEL].iter())
                    .chain(DATA_KEYS)
                    .chain([RANDOM_LABELS].iter())
                    .copied()
                    .chain(Key::ALL.iter().map(|k| k.name()));
                let hint = locate::suggest(key, valid);
                return Err(self.error_on_key(
                    &at,
                    format!(
                        "unknown key `{key}`{hint}; the top level takes name, description, the \
                         tables [data], [model], [train], [grid], [search] and [compare], save_predictions, kernel, or any setting"
                    ),
                ));
            }
        }

        if let Some((value, at)) = random_labels {
            self.expand_random_labels(value, at, &mut base, &mut scalars, &mut axes)?;
        }
        let swept_at = axes
            .iter()
            .map(|(a, at)| (a.key, at))
            .chain(drawn.iter().map(|(k, _, at)| (*k, at)));
        for (key, at) in swept_at {
            if let Some((_, set_at)) = scalars.iter().find(|(k, _)| *k == key) {
                return Err(self.error(
                    at,
                    format!(
                        "`{}` is both set (as `{}`) and swept in [grid]; remove one of them",
                        key.name(),
                        set_at.join(".")
                    ),
                ));
            }
        }
        self.check_shorthand(&scalars, &axes, &drawn)?;
        let chosen = axes.iter().filter(|(a, _)| a.key != Key::Seed).count();
        let search = self.search(search_table, &ranged, &drawn, chosen)?;
        if let Some(halving) = &search.halving {
            let given = scalars
                .iter()
                .map(|(k, at)| (*k, at))
                .chain(axes.iter().map(|(a, at)| (a.key, at)));
            for (key, at) in given {
                if key == Key::Epochs {
                    return Err(self.error_on_key(
                        at,
                        "`epochs` is set by successive halving: every run is trained up to \
                         [search] `max_epochs`, and stopped earlier at a rung when it is not \
                         promoted; remove `epochs`"
                            .into(),
                    ));
                }
            }
            base.epochs = halving.max_epochs;
        }
        let given: Vec<(Key, Vec<&str>)> = scalars
            .iter()
            .cloned()
            .chain(axes.iter().map(|(a, at)| (a.key, at.clone())))
            .chain(drawn.iter().map(|(k, _, at)| (*k, at.clone())))
            .collect();
        let mut axes: Vec<Axis> = axes.into_iter().map(|(a, _)| a).collect();
        axes.sort_by_key(|a| a.key);
        let total = if search.is_sampled() {
            let seeds = axes.iter().find(|a| a.key == Key::Seed);
            search
                .samples
                .checked_mul(seeds.map_or(1, |a| a.values.len()))
        } else {
            axes.iter()
                .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()))
        };
        match total {
            Some(n) if n <= MAX_RUNS => {}
            _ => {
                let mut sizes: Vec<String> = axes
                    .iter()
                    .filter(|a| !search.is_sampled() || a.key == Key::Seed)
                    .map(|a| format!("{} {}", a.values.len(), a.key.name()))
                    .collect();
                if search.is_sampled() {
                    sizes.insert(0, format!("{} samples", search.samples));
                }
                return Err(self.error(
                    &["grid"],
                    format!("the grid expands to more than {MAX_RUNS} runs ({}); split it into smaller experiments", sizes.join(" × ")),
                ));
            }
        }

        let (data, dataset_label) = match (dataset, data_dir) {
            (Some(_), Some(_)) => {
                return Err(self.error(
                    &["data", "data_dir"],
                    "set either `dataset` or `data_dir`, not both".into(),
                ));
            }
            (_, Some(dir)) => (DataSource::Dir(PathBuf::from(&dir)), dir),
            (Some((name, _)), None) => (DataSource::Named(name.clone()), name),
            (None, None) => (DataSource::Named("mnist".into()), "mnist".into()),
        };
        let (points, sampled) = if search.is_sampled() {
            let mut dims: Vec<Dimension> = axes
                .iter()
                .filter(|a| a.key != Key::Seed)
                .map(|a| Dimension::Chosen(a.clone()))
                .chain(drawn.iter().map(|(k, d, _)| Dimension::Drawn(*k, *d)))
                .collect();
            dims.sort_by_key(Dimension::key);
            let seeds = axes
                .iter()
                .find(|a| a.key == Key::Seed)
                .map_or_else(|| vec![Value::Int(base.seed)], |a| a.values.clone());
            let points = search::sample(&search, &base, &dims, &seeds);
            (points, Some(SearchRecord::new(&search, &dims)))
        } else {
            (grid::expand(&base, &axes), None)
        };
        let grid_points = points.len();
        let runs = self.distinct_runs(points, &dataset_label, &given)?;
        let baseline = self.check_baseline(&runs, &axes, baseline)?;
        if let Some(halving) = &search.halving {
            self.check_halving(halving, &runs)?;
        }
        let name = match name {
            Some(n) => n,
            None => {
                self.check_name(&self.path.file_stem().unwrap_or_default().to_string_lossy())?
            }
        };
        Ok(Experiment {
            name,
            description,
            path: self.path.to_path_buf(),
            data,
            dataset_label,
            swept: {
                let mut swept: Vec<Key> = axes
                    .iter()
                    .map(|a| a.key)
                    .chain(drawn.iter().map(|(k, _, _)| *k))
                    .collect();
                swept.sort();
                swept
            },
            merged_points: grid_points - runs.len(),
            runs,
            config_sha256: hex(&Sha256::digest(self.text.as_bytes())),
            baseline,
            search,
            sampled,
            save_predictions,
            kernel,
        })
    }

    /// The `[compare]` table: `baseline = { setting = value, … }`, each
    /// setting checked as in [grid].
    fn compare_table<'k>(
        &self,
        value: &'k toml::Value,
    ) -> Result<Vec<(Key, String, Vec<&'k str>)>> {
        let at = vec!["compare"];
        let table = value.as_table().ok_or_else(|| {
            self.error(
                &at,
                format!(
                    "`compare` must be a table ([compare]), got {}",
                    value.type_str()
                ),
            )
        })?;
        let mut out = Vec::new();
        for (key, inner) in table {
            let at = vec!["compare", key.as_str()];
            if key != "baseline" {
                return Err(self.error_on_key(
                    &at,
                    format!(
                        "unknown key `{key}` in [compare]; it takes `baseline = {{ lambda = 0 }}`"
                    ),
                ));
            }
            let settings = inner.as_table().ok_or_else(|| {
                self.error(
                    &at,
                    format!(
                        "`baseline` names the configuration to compare with, as an inline table \
                         of settings: `baseline = {{ lambda = 0 }}`; got {} {inner}",
                        inner.type_str()
                    ),
                )
            })?;
            if settings.is_empty() {
                return Err(self.error(&at, "`baseline` is empty: name at least one swept setting, `baseline = { lambda = 0 }`".into()));
            }
            for (name, v) in settings {
                let at = vec!["compare", "baseline", name.as_str()];
                let key = self.setting_anywhere(name, &at)?;
                let checked = key.parse(v).map_err(|e| self.error(&at, e))?;
                out.push((key, key.canonical_text(checked), at));
            }
        }
        Ok(out)
    }

    /// A setting of any table, or an error naming the nearest one.
    fn setting_anywhere(&self, name: &str, at: &[&str]) -> Result<Key> {
        Key::from_name(name).ok_or_else(|| {
            let hint = locate::suggest(name, Key::ALL.iter().map(|k| k.name()));
            self.error_on_key(at, format!("unknown setting `{name}`{hint}"))
        })
    }

    /// Checks that the baseline's settings are swept and pick out exactly
    /// one configuration (runs equal but for `seed`), and returns them as
    /// `setting=value` pairs.
    fn check_baseline(
        &self,
        runs: &[RunSpec],
        axes: &[Axis],
        baseline: Vec<(Key, String, Vec<&str>)>,
    ) -> Result<Vec<String>> {
        let Some((_, _, first_at)) = baseline.first() else {
            return Ok(Vec::new());
        };
        for (key, _, at) in &baseline {
            if !axes.iter().any(|a| a.key == *key) || *key == Key::Seed {
                return Err(self.error(
                    at,
                    format!(
                        "`{}` is not swept in [grid] (or is the seed); the baseline picks one \
                         configuration by the settings the grid varies",
                        key.name()
                    ),
                ));
            }
        }
        let mut configurations: Vec<RunParams> = Vec::new();
        for run in runs {
            if baseline
                .iter()
                .all(|(k, v, _)| run.params.raw_text(*k) == *v)
            {
                let p = RunParams {
                    seed: 0,
                    ..run.params.clone()
                };
                if !configurations.contains(&p) {
                    configurations.push(p);
                }
            }
        }
        let parent = &first_at[..2];
        match configurations.len() {
            1 => Ok(baseline
                .into_iter()
                .map(|(k, v, _)| format!("{}={v}", k.name()))
                .collect()),
            0 => Err(self.error(
                parent,
                "`baseline` matches no configuration of the grid; give values the grid sweeps \
                 (`sweep plan` lists them)"
                    .into(),
            )),
            n => {
                let more: Vec<&str> = axes
                    .iter()
                    .map(|a| a.key)
                    .filter(|k| *k != Key::Seed && !baseline.iter().any(|(b, _, _)| b == k))
                    .map(Key::name)
                    .collect();
                Err(self.error(
                    parent,
                    format!(
                        "`baseline` matches {n} configurations of the grid; add settings until \
                         one is left (the grid also sweeps {})",
                        more.join(", ")
                    ),
                ))
            }
        }
    }

    /// Checks that every run can be ranked at every rung: it holds out
    /// validation images, is evaluated at each rung's epoch, and is not
    /// stopped by early stopping (which would cut rungs short).
    fn check_halving(&self, halving: &Halving, runs: &[RunSpec]) -> Result<()> {
        let at = ["search", "method"];
        for run in runs {
            let p = &run.params;
            if p.validation == 0 {
                return Err(self.error(
                    &at,
                    format!(
                        "successive halving ranks configurations on the {} of held-out images, \
                         and some runs hold out none: set `validation = N` in [data] (it never \
                         ranks on the test set)",
                        halving.metric
                    ),
                ));
            }
            if p.early_stopping.is_some() {
                return Err(self.error(
                    &at,
                    "successive halving decides when runs stop; remove `early_stopping`".into(),
                ));
            }
            let rungs = halving.rungs();
            if let Some(rung) = rungs.iter().find(|&&e| !p.evaluates(e)) {
                return Err(self.error(
                    &at,
                    format!(
                        "a rung ends after epoch {rung}, which `eval_every = {}` does not \
                         evaluate; use an `eval_every` that divides every rung's epochs ({})",
                        p.eval_every,
                        rungs
                            .iter()
                            .map(|e| e.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Keeps the first `random_labels` found, refusing a second.
    fn once<'k>(
        &self,
        slot: &mut Option<(&'k toml::Value, Vec<&'k str>)>,
        value: &'k toml::Value,
        at: Vec<&'k str>,
    ) -> Result<()> {
        if let Some((_, first)) = slot {
            return Err(self.error(
                &at,
                format!(
                    "`{RANDOM_LABELS}` is given twice (also as `{}`); keep one",
                    first.join(".")
                ),
            ));
        }
        *slot = Some((value, at));
        Ok(())
    }

    /// Rewrites `random_labels` as the settings it stands for: `true` is
    /// `label_noise = 1` with `label_noise_mode = "uniform"`, `false` is
    /// `label_noise = 0`; in [grid], a list of both sweeps `label_noise`
    /// over 0 and 1. Refused beside either setting it stands for.
    fn expand_random_labels<'k>(
        &self,
        value: &'k toml::Value,
        at: Vec<&'k str>,
        base: &mut RunParams,
        scalars: &mut Vec<(Key, Vec<&'k str>)>,
        axes: &mut Vec<(Axis, Vec<&'k str>)>,
    ) -> Result<()> {
        let given = scalars
            .iter()
            .map(|(k, at)| (*k, at))
            .chain(axes.iter().map(|(a, at)| (a.key, at)));
        for (key, other) in given {
            if matches!(key, Key::LabelNoise | Key::LabelNoiseMode) {
                return Err(self.error_on_key(
                    &at,
                    format!(
                        "`{RANDOM_LABELS} = true` is shorthand for `label_noise = 1` with \
                         `label_noise_mode = \"uniform\"`, and `{}` is given too; use one of them",
                        other.join(".")
                    ),
                ));
            }
        }
        let flags: Vec<bool> = if at[0] == "grid" {
            let items = value.as_array().filter(|items| !items.is_empty());
            let flags: Option<Vec<bool>> =
                items.and_then(|items| items.iter().map(toml::Value::as_bool).collect());
            match flags {
                Some(f) if f.len() == 1 || (f.len() == 2 && f[0] != f[1]) => f,
                _ => {
                    return Err(self.error(
                        &at,
                        format!(
                            "`{RANDOM_LABELS}` in [grid] takes a list of distinct booleans, \
                             `[false, true]`; got {value}"
                        ),
                    ));
                }
            }
        } else {
            match value.as_bool() {
                Some(flag) => vec![flag],
                None => {
                    return Err(self.error(
                        &at,
                        format!(
                            "`{RANDOM_LABELS}` must be true or false, got {} {value}",
                            value.type_str()
                        ),
                    ));
                }
            }
        };
        if flags.contains(&true) {
            base.set(Key::LabelNoiseMode, Value::Text("uniform".into()));
            scalars.push((Key::LabelNoiseMode, at.clone()));
        }
        if at[0] == "grid" {
            let noise: Vec<toml::Value> = flags
                .iter()
                .map(|&f| toml::Value::Float(if f { 1.0 } else { 0.0 }))
                .collect();
            let axis = grid::parse_axis(Key::LabelNoise, &toml::Value::Array(noise))
                .map_err(|e| self.error(&at, e.message))?;
            axes.push((axis, at));
        } else {
            base.set(
                Key::LabelNoise,
                Value::Float(if flags[0] { 1.0 } else { 0.0 }),
            );
            scalars.push((Key::LabelNoise, at));
        }
        Ok(())
    }

    /// Refuses `hidden` beside the `hidden_layers`/`hidden_size` shorthand.
    fn check_shorthand(
        &self,
        scalars: &[(Key, Vec<&str>)],
        axes: &[(Axis, Vec<&str>)],
        drawn: &[(Key, Distribution, Vec<&str>)],
    ) -> Result<()> {
        let given = scalars
            .iter()
            .map(|(k, at)| (*k, at))
            .chain(axes.iter().map(|(a, at)| (a.key, at)))
            .chain(drawn.iter().map(|(k, _, at)| (*k, at)));
        let (mut hidden, mut shorthand) = (None, None);
        for (key, at) in given {
            match key {
                Key::Hidden => hidden = Some(at),
                Key::HiddenLayers | Key::HiddenSize => shorthand = shorthand.or(Some(at)),
                _ => {}
            }
        }
        match (hidden, shorthand) {
            (Some(at), Some(other)) => Err(self.error_on_key(
                at,
                format!(
                    "`hidden` gives the width of every hidden layer, and `{}` is given too; \
                     use one of them (`hidden = [500, 300]`, or `hidden_layers` with \
                     `hidden_size` for equal widths)",
                    other.join(".")
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The grid's points as runs: each put in canonical form, checked for
    /// contradictions, and kept once when several train the same network.
    /// A setting given in the file that no run uses is refused.
    fn distinct_runs(
        &self,
        points: Vec<RunParams>,
        dataset_label: &str,
        given: &[(Key, Vec<&str>)],
    ) -> Result<Vec<RunSpec>> {
        let mut used = vec![false; Key::ALL.len()];
        let mut by_id: std::collections::HashMap<String, usize> =
            std::collections::HashMap::with_capacity(points.len());
        let mut runs: Vec<RunSpec> = Vec::with_capacity(points.len());
        for mut params in points {
            for &k in Key::ALL {
                used[k as usize] |= k.applies_to(&params);
            }
            params.normalize();
            if let Some((key, message)) = params.contradiction() {
                let at = given
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or(vec![key.name()], |(_, at)| at.clone());
                return Err(self.error(&at, message));
            }
            let id = run_id(dataset_label, &params);
            match by_id.get(&id) {
                Some(&i) if runs[i].params == params => continue,
                // 48 bits of SHA-256: about one chance in 10⁵ for the largest grid.
                Some(_) => {
                    return Err(anyhow::anyhow!(
                        "two runs of the grid have the same id {id}; please report this (and \
                         the experiment file) as a bug"
                    ));
                }
                None => {
                    by_id.insert(id.clone(), runs.len());
                    runs.push(RunSpec { id, params });
                }
            }
        }
        if let Some((key, at)) = given.iter().find(|(k, _)| !used[*k as usize]) {
            let condition = key.spec().applies.map_or("", |a| a.condition);
            return Err(self.error_on_key(
                at,
                format!(
                    "`{}` has no effect on any run of this sweep: it applies only when \
                     {condition}; remove it or change that setting",
                    key.name()
                ),
            ));
        }
        Ok(runs)
    }

    /// The setting `key` found in `[section]`, or an error saying where it belongs.
    fn setting(&self, section: &str, key: &str, at: &[&str]) -> Result<Key> {
        match Key::from_name(key) {
            Some(k) if k.section() == section => Ok(k),
            Some(k) => Err(self.error_on_key(
                at,
                format!(
                    "`{key}` belongs in [{}] (or at the top level), not in [{section}]",
                    k.section()
                ),
            )),
            None if DATA_KEYS.contains(&key) && section != "data" => Err(self.error_on_key(
                at,
                format!("`{key}` belongs in [data] (or at the top level), not in [{section}]"),
            )),
            None if [KERNEL, SAVE_PREDICTIONS].contains(&key) => Err(self.error_on_key(
                at,
                format!(
                    "`{key}` belongs at the top level, before any [table]: it is not a setting \
                     of the runs (it changes no run id), not in [{section}]"
                ),
            )),
            None => {
                let mut valid: Vec<&str> = Key::ALL
                    .iter()
                    .filter(|k| k.section() == section)
                    .map(|k| k.name())
                    .collect();
                if section == "data" {
                    valid.push(RANDOM_LABELS);
                    valid.extend(DATA_KEYS);
                }
                let hint = locate::suggest(key, valid.iter().copied());
                Err(self.error_on_key(
                    at,
                    format!(
                        "unknown key `{key}` in [{section}]{hint}; [{section}] takes {}",
                        valid.join(", ")
                    ),
                ))
            }
        }
    }

    fn scalar<'k>(
        &self,
        key: Key,
        value: &toml::Value,
        at: Vec<&'k str>,
        base: &mut RunParams,
        scalars: &mut Vec<(Key, Vec<&'k str>)>,
    ) -> Result<()> {
        if let Some((_, first)) = scalars.iter().find(|(k, _)| *k == key) {
            return Err(self.error(
                &at,
                format!(
                    "`{}` is set twice (also as `{}`); keep one",
                    key.name(),
                    first.join(".")
                ),
            ));
        }
        let structured = match key.kind() {
            params::Kind::Widths => value.is_table(),
            params::Kind::EarlyStopping => value.is_array(),
            _ => value.is_array() || value.is_table(),
        };
        if structured {
            let hint = if key.sweepable() {
                format!(
                    "; to sweep it, put it under [grid]: `{} = [...]`",
                    key.name()
                )
            } else {
                String::new()
            };
            return Err(self.error(
                &at,
                format!("`{}` takes a single value here{hint}", key.name()),
            ));
        }
        let checked = key.parse(value).map_err(|e| self.error(&at, e))?;
        base.set(key, checked);
        scalars.push((key, at));
        Ok(())
    }

    /// The setting a `[grid]` entry named `name` sweeps, or an error naming
    /// what can be swept.
    fn sweepable(&self, name: &str, at: &[&str]) -> Result<Key> {
        match Key::from_name(name) {
            Some(k) if k.sweepable() => Ok(k),
            Some(k) => Err(self.error_on_key(
                at,
                format!(
                    "`{}` cannot be swept; set it in [{}]",
                    k.name(),
                    k.section()
                ),
            )),
            None if DATA_KEYS.contains(&name) => Err(self.error_on_key(at, format!("`{name}` cannot be swept: one sweep uses one dataset; write one experiment file per dataset"))),
            None => {
                let sweepable = Key::ALL
                    .iter()
                    .filter(|k| k.sweepable())
                    .map(|k| k.name())
                    .chain([RANDOM_LABELS]);
                let hint = locate::suggest(name, sweepable.clone());
                Err(self.error_on_key(
                    at,
                    format!(
                        "unknown key `{name}` in [grid]{hint}; sweepable settings are {}",
                        sweepable.collect::<Vec<_>>().join(", ")
                    ),
                ))
            }
        }
    }

    /// An error in the table at `at` (a `[grid]` entry or `[search]`),
    /// located at the key inside it the error is about.
    fn axis_error(&self, at: &[&str], e: grid::AxisError) -> anyhow::Error {
        let mut path = at.to_vec();
        if let Some(sub) = &e.sub_key {
            path.push(sub);
        }
        self.error_on(&path, e.part, e.message)
    }

    /// The `[search]` table, checked against the kinds of `[grid]` entries:
    /// a grid takes lists and ranges; random and Sobol take lists and
    /// distributions.
    fn search(
        &self,
        table: Option<&toml::Value>,
        ranged: &[(Vec<&str>, &str)],
        drawn: &[(Key, Distribution, Vec<&str>)],
        chosen: usize,
    ) -> Result<Search> {
        let at = ["search"];
        let search = match table {
            None => Search::default(),
            Some(value) => {
                let table = value.as_table().ok_or_else(|| {
                    self.error(
                        &at,
                        format!(
                            "`search` must be a table ([search]), got {}",
                            value.type_str()
                        ),
                    )
                })?;
                Search::parse(table, MAX_RUNS).map_err(|e| self.axis_error(&at, e))?
            }
        };
        if !search.is_sampled() {
            if let Some((key, d, at)) = drawn.first() {
                return Err(self.error(
                    at,
                    format!(
                        "`{} = {{ {} = … }}` is a distribution, and `method = \"{}\"` does not draw: use [search] `method = \"random\"` or \"sobol\" with `samples = N`, or list the values to train, `{} = [a, b, c]`",
                        key.name(),
                        d.law,
                        search.method,
                        key.name()
                    ),
                ));
            }
            return Ok(search);
        }
        if drawn.is_empty() && chosen == 0 {
            return Err(self.error(
                &["search", "method"],
                format!(
                    "`method = \"{}\"` has nothing to draw: give [grid] a distribution, \
                     `lambda = {{ log_uniform = [1e-4, 1e-1] }}`, or a list to choose from",
                    search.method
                ),
            ));
        }
        if let Some((at, form)) = ranged.first() {
            let law = if *form == "log" {
                "log_uniform"
            } else {
                "uniform"
            };
            return Err(self.error(
                at,
                format!(
                    "`{}` is a grid range (`{form}`), which `method = \"{}\"` does not take: \
                     give a distribution to draw from, `{{ {law} = [low, high] }}` (bounds are \
                     values, not exponents), or a list to choose from",
                    at.join("."),
                    search.method
                ),
            ));
        }
        Ok(search)
    }

    fn data_key<'k>(
        &self,
        key: &str,
        value: &toml::Value,
        at: Vec<&'k str>,
        dataset: &mut Option<(String, Vec<&'k str>)>,
        data_dir: &mut Option<String>,
    ) -> Result<()> {
        let text = value.as_str().ok_or_else(|| {
            self.error(
                &at,
                format!("`{key}` must be a string, got {} {value}", value.type_str()),
            )
        })?;
        if key == "data_dir" {
            if data_dir.is_some() {
                return Err(self.error(&at, "`data_dir` is set twice; keep one".into()));
            }
            if text.is_empty() {
                return Err(self.error(
                    &at,
                    "`data_dir` is empty; give the folder holding the IDX files".into(),
                ));
            }
            if let Some(c) = text.chars().find(|c| c.is_control()) {
                return Err(self.error(
                    &at,
                    format!(
                        "`data_dir` {:?} holds the control character {c:?}; give a plain folder path",
                        text
                    ),
                ));
            }
            *data_dir = Some(text.to_string());
        } else {
            if dataset.is_some() {
                return Err(self.error(&at, "`dataset` is set twice; keep one".into()));
            }
            if !KNOWN_DATASETS.contains(&text) {
                let hint = locate::suggest(text, KNOWN_DATASETS.iter().copied());
                return Err(self.error(
                    &at,
                    format!("unknown dataset \"{text}\"{hint}; known datasets are {}, or set `data_dir` to a folder of IDX files", KNOWN_DATASETS.join(", ")),
                ));
            }
            *dataset = Some((text.to_string(), at));
        }
        Ok(())
    }

    fn check_name(&self, name: &str) -> Result<String> {
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(self.error(
                &["name"],
                format!(
                    "`name` is {} characters long; a sweep's name is its results folder's name \
                     and may have at most {MAX_NAME_CHARS}",
                    name.chars().count()
                ),
            ));
        }
        let ok = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if ok {
            Ok(name.to_string())
        } else {
            Err(self.error(
                &["name"],
                format!(
                    "`name` {name:?} must be a folder name of letters, digits, '-', '_' or '.'"
                ),
            ))
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
             early_stopping, eval_every, seed (exp/x.toml, line 3, column 1)"
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
    fn grid_order_is_canonical_whatever_the_file_order() {
        let a = parse("[grid]\nseed = [0, 1]\nlambda = [0, 0.1]\n").unwrap();
        let b = parse("[grid]\nlambda = [0, 0.1]\nseed = [0, 1]\n").unwrap();
        let ids = |e: &Experiment| e.runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(a.swept, vec![Key::Lambda, Key::Seed]);
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
