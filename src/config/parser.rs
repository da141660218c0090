//! The experiment file's parser, as phases: read the TOML, walk it into a
//! [`Draft`] (`collect.rs`), expand the shorthands (`shorthand.rs`), check
//! the rules that span tables (`rules.rs`, `compare.rs`), then build the
//! runs. Every error names the file, line and key.

use std::path::{Path, PathBuf};

use anyhow::Result;
use sha2::{Digest, Sha256};

use super::grid::{self, Axis};
use super::locate::{self, Part};
use super::search::{self, Dimension, Distribution, Search, SearchRecord};
use super::{Experiment, Key, MAX_NAME_CHARS, RunParams, Value};
use crate::bad_input;
use crate::data::{DataSource, hex};
use crate::nn::KernelRequest;

/// Checks one experiment file's text; its path is for messages and for the
/// name of an experiment that does not set one.
pub(super) struct Parser<'a> {
    pub(super) text: &'a str,
    pub(super) path: &'a Path,
}

/// Where a key stands in the file: its table path, `["grid", "lambda"]`.
pub(super) type At<'k> = Vec<&'k str>;

/// What the walk over the file found, before the rules that span tables
/// are checked: every key with where it stands.
#[derive(Default)]
pub(super) struct Draft<'k> {
    pub(super) name: Option<String>,
    pub(super) description: String,
    pub(super) dataset: Option<(String, At<'k>)>,
    pub(super) data_dir: Option<String>,
    /// The defaults with every setting given as one value applied.
    pub(super) base: RunParams,
    /// Settings given one value.
    pub(super) scalars: Vec<(Key, At<'k>)>,
    /// Settings swept in `[grid]` over listed values or a range.
    pub(super) axes: Vec<(Axis, At<'k>)>,
    /// Settings drawn from a distribution in `[grid]`.
    pub(super) drawn: Vec<(Key, Distribution, At<'k>)>,
    /// The settings of `[grid]` in the order the file lists them.
    pub(super) grid_order: Vec<Key>,
    /// `[grid]` entries written as ranges (`log`, `linear`), and which.
    pub(super) ranged: Vec<(At<'k>, &'static str)>,
    pub(super) random_labels: Option<(&'k toml::Value, At<'k>)>,
    /// `[compare] baseline`: each setting, its canonical text and where.
    pub(super) baseline: Vec<(Key, String, At<'k>)>,
    /// `[compare] within`: the settings each configuration keeps its own
    /// value of when compared with the baseline, and where.
    pub(super) within: Vec<(Key, At<'k>)>,
    pub(super) search: Option<&'k toml::Value>,
    pub(super) save_predictions: bool,
    pub(super) save_forgetting: bool,
    pub(super) kernel: Option<KernelRequest>,
}

impl<'k> Draft<'k> {
    /// Every setting the file gives: set, swept or drawn.
    pub(super) fn given(&self) -> Vec<(Key, At<'k>)> {
        self.scalars
            .iter()
            .cloned()
            .chain(self.axes.iter().map(|(a, at)| (a.key, at.clone())))
            .chain(self.drawn.iter().map(|(k, _, at)| (*k, at.clone())))
            .collect()
    }

    /// The settings given one value or swept over listed values (not
    /// those drawn from a distribution), with where they stand.
    pub(super) fn set_or_listed(&self) -> impl Iterator<Item = (Key, &At<'k>)> {
        self.scalars
            .iter()
            .map(|(k, at)| (*k, at))
            .chain(self.axes.iter().map(|(a, at)| (a.key, at)))
    }

    /// The settings the grid varies (swept or drawn), in the order the
    /// file's `[grid]` lists them (reports and tables show them so); those
    /// a shorthand expanded to after them, in canonical order.
    fn swept(&self) -> Vec<Key> {
        let mut swept: Vec<Key> = self
            .axes
            .iter()
            .map(|(a, _)| a.key)
            .chain(self.drawn.iter().map(|(k, _, _)| *k))
            .collect();
        let place = |k: &Key| self.grid_order.iter().position(|g| g == k);
        swept.sort_by_key(|k| (place(k).unwrap_or(usize::MAX), *k));
        swept.dedup();
        swept
    }

    /// The swept axes in canonical order (the order of the settings table).
    fn sorted_axes(&self) -> Vec<Axis> {
        let mut axes: Vec<Axis> = self.axes.iter().map(|(a, _)| a.clone()).collect();
        axes.sort_by_key(|a| a.key);
        axes
    }
}

impl Parser<'_> {
    /// The experiment the file describes, or the first error found in it.
    pub(super) fn parse(&self) -> Result<Experiment> {
        let table = self.read_toml()?;
        let mut draft = self.collect(&table)?;
        self.expand_random_labels(&mut draft)?;
        self.check_set_or_swept(&draft)?;
        self.check_shorthand(&draft)?;
        let search = self.search(&draft)?;
        self.apply_halving(&search, &mut draft)?;
        let given = draft.given();
        let axes = draft.sorted_axes();
        self.check_size(&axes, &search)?;
        let (data, dataset_label) = self.data_source(&draft)?;
        let (points, sampled) = expand(&search, &draft, &axes);
        let grid_points = points.len();
        let runs = self.distinct_runs(points, &dataset_label, &given)?;
        let (baseline, within) =
            self.check_baseline(&runs, &axes, &draft.baseline, &draft.within)?;
        if let Some(halving) = &search.halving {
            self.check_halving(halving, &runs)?;
        }
        let name = match draft.name.take() {
            Some(name) => name,
            None => self.name_from_file()?,
        };
        Ok(Experiment {
            name,
            description: std::mem::take(&mut draft.description),
            path: self.path.to_path_buf(),
            data,
            dataset_label,
            swept: swept_keys(&draft, &search),
            merged_points: grid_points - runs.len(),
            runs,
            config_sha256: hex(&Sha256::digest(self.text.as_bytes())),
            baseline,
            within,
            search,
            sampled,
            save_predictions: draft.save_predictions,
            save_forgetting: draft.save_forgetting,
            kernel: draft.kernel,
        })
    }

    /// The file as a TOML table; an empty file is refused.
    fn read_toml(&self) -> Result<toml::Table> {
        let table: toml::Table = toml::from_str(self.text).map_err(|e| self.toml_error(&e))?;
        if table.is_empty() {
            return Err(bad_input!(
                "the experiment file {} is empty (no settings, no [grid]); it would train the \
                 default network once on all of MNIST. Start from experiments/quick.toml, or \
                 write at least one setting",
                self.shown()
            ));
        }
        Ok(table)
    }

    /// Where the data comes from, and how result files name it.
    fn data_source(&self, draft: &Draft) -> Result<(DataSource, String)> {
        Ok(match (&draft.dataset, &draft.data_dir) {
            (Some(_), Some(_)) => {
                return Err(self.error(
                    &["data", "data_dir"],
                    "set either `dataset` or `data_dir`, not both".into(),
                ));
            }
            (_, Some(dir)) => (DataSource::Dir(PathBuf::from(dir)), dir.clone()),
            (Some((name, _)), None) => (DataSource::Named(name.clone()), name.clone()),
            (None, None) => (DataSource::Named("mnist".into()), "mnist".into()),
        })
    }

    /// The name of an experiment that does not set `name`: its file's stem.
    fn name_from_file(&self) -> Result<String> {
        let stem = self.path.file_stem().unwrap_or_default().to_string_lossy();
        match name_flaw(&stem) {
            None => Ok(stem.into_owned()),
            Some(flaw) => Err(bad_input!(
                "the experiment sets no `name`, so it is named after its file: {stem:?}, which \
                 {flaw}; add `name = \"{}\"` at the top of {} (before any [table]), or rename \
                 the file",
                name_like(&stem),
                self.shown()
            )),
        }
    }

    /// An input error about the value of the key `at` (located in the file
    /// if found there).
    pub(super) fn error(&self, at: &[&str], msg: String) -> anyhow::Error {
        self.error_on(at, Part::Value, msg)
    }

    /// An input error about the key `at` itself (e.g. an unknown name).
    pub(super) fn error_on_key(&self, at: &[&str], msg: String) -> anyhow::Error {
        self.error_on(at, Part::Key, msg)
    }

    pub(super) fn error_on(&self, at: &[&str], part: Part, msg: String) -> anyhow::Error {
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
    pub(super) fn shown(&self) -> String {
        crate::error::shown(self.path)
    }

    /// The TOML library's error, made to name the key when it is about a
    /// number too large for 64 bits (the library names only the type).
    pub(super) fn toml_error(&self, e: &toml::de::Error) -> anyhow::Error {
        let span = e.span();
        if let Some(span) = &span
            && e.message().starts_with("invalid type: integer")
        {
            let number = self.text.get(span.clone()).unwrap_or("").trim();
            let (line, col) = locate::line_col(self.text, span.start);
            let key = locate::key_before(self.text, span.start);
            let rule = match key.as_deref().and_then(Key::from_name).map(Key::kind) {
                Some(super::Kind::Int { min, max }) => {
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

    /// An error in the table at `at` (a `[grid]` entry or `[search]`),
    /// located at the key inside it the error is about.
    pub(super) fn axis_error(&self, at: &[&str], e: grid::AxisError) -> anyhow::Error {
        let mut path = at.to_vec();
        if let Some(sub) = &e.sub_key {
            path.push(sub);
        }
        self.error_on(&path, e.part, e.message)
    }
}

/// The settings that vary between runs, in the file's order: the grid's,
/// and for Hyperband the bracket last.
fn swept_keys(draft: &Draft, search: &Search) -> Vec<Key> {
    let mut swept = draft.swept();
    if search.is_hyperband() {
        swept.push(Key::Bracket);
    }
    swept
}

/// The grid's points: every combination of the axes, or for a sampled
/// search the points drawn; and what was drawn, for `grid.json`.
fn expand(search: &Search, draft: &Draft, axes: &[Axis]) -> (Vec<RunParams>, Option<SearchRecord>) {
    if !search.is_sampled() {
        return (grid::expand(&draft.base, axes), None);
    }
    let mut dims: Vec<Dimension> = axes
        .iter()
        .filter(|a| a.key != Key::Seed)
        .map(|a| Dimension::Chosen(a.clone()))
        .chain(draft.drawn.iter().map(|(k, d, _)| Dimension::Drawn(*k, *d)))
        .collect();
    dims.sort_by_key(Dimension::key);
    let seeds = axes
        .iter()
        .find(|a| a.key == Key::Seed)
        .map_or_else(|| vec![Value::Int(draft.base.seed)], |a| a.values.clone());
    let points = search::sample(search, &draft.base, &dims, &seeds);
    (points, Some(SearchRecord::new(search, &dims)))
}

/// Why `name` cannot name a results folder, or `None` when it can.
pub(super) fn name_flaw(name: &str) -> Option<String> {
    let chars = name.chars().count();
    let bad = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)));
    if chars > MAX_NAME_CHARS {
        Some(format!(
            "is {chars} characters long (at most {MAX_NAME_CHARS})"
        ))
    } else if name.is_empty() {
        Some("is empty".into())
    } else if name.starts_with('.') {
        Some("starts with '.', which would hide its results folder".into())
    } else {
        bad.map(|c| format!("holds {c:?}; a name is letters, digits, '-', '_' or '.' (not first)"))
    }
}

/// `name` made into one that can name a results folder.
fn name_like(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() || "-_.".contains(c) {
            true => c,
            false => '-',
        })
        .take(MAX_NAME_CHARS)
        .collect();
    match cleaned.trim_start_matches('.') {
        "" => "my-sweep".into(),
        rest => rest.to_string(),
    }
}
