//! The walk over the experiment file's TOML: each key read, checked on its
//! own and put in the [`Draft`] with where it stands. Rules that span
//! several keys come after (`rules.rs`).

use anyhow::Result;

use super::grid;
use super::locate;
use super::parser::{At, Draft, Parser, name_flaw};
use super::search::Distribution;
use super::shorthand::RANDOM_LABELS;
use super::{Key, Kind, MAX_NAME_CHARS};
use crate::data::KNOWN_DATASETS;
use crate::nn::KernelRequest;

/// The sections settings are grouped in.
const SECTIONS: &[&str] = &["data", "model", "train"];
/// The section of the settings a search gives each run, never the file.
const SET_BY_SEARCH: &str = "search";
/// Keys of the data section that are not per-run settings.
const DATA_KEYS: &[&str] = &["dataset", "data_dir"];
/// Top-level keys other than sections and settings.
const TEXT_KEYS: &[&str] = &["name", "description"];
/// Top-level `save_predictions = true`: keep each run's test predictions
/// (not a setting: it changes no number, and no run id).
const SAVE_PREDICTIONS: &str = "save_predictions";
/// Top-level `save_forgetting = true`: keep each run's forgetting events
/// per training image (not a setting either).
const SAVE_FORGETTING: &str = "save_forgetting";
/// Top-level `kernel = "auto" | "gemm" | "matrixmultiply"`: the GEMM
/// kernel a new results folder trains with (not a setting: it changes no
/// run id, only the last bits of the numbers).
const KERNEL: &str = "kernel";

impl<'k> Parser<'_> {
    /// Walks the file's keys in order into a draft.
    pub(super) fn collect(&self, table: &'k toml::Table) -> Result<Draft<'k>> {
        let mut draft = Draft::default();
        for (key, value) in table {
            let at = vec![key.as_str()];
            match key.as_str() {
                k if TEXT_KEYS.contains(&k) => self.text_key(key, value, &at, &mut draft)?,
                k if SECTIONS.contains(&k) => self.section(key, value, &mut draft)?,
                "compare" => (draft.baseline, draft.within) = self.compare_table(value)?,
                "search" => draft.search = Some(value),
                SAVE_PREDICTIONS => draft.save_predictions = self.flag(key, value, &at)?,
                SAVE_FORGETTING => draft.save_forgetting = self.flag(key, value, &at)?,
                KERNEL => draft.kernel = Some(self.kernel(value, &at)?),
                "grid" => self.grid(value, &mut draft)?,
                k if DATA_KEYS.contains(&k) => self.data_key(key, value, at, &mut draft)?,
                RANDOM_LABELS => self.once(&mut draft.random_labels, value, at)?,
                _ => match Key::from_name(key) {
                    Some(setting) if setting.section() == SET_BY_SEARCH => {
                        return Err(self.set_by_search(setting, &at));
                    }
                    Some(setting) => self.scalar(setting, value, at, &mut draft)?,
                    None => return Err(self.unknown_top_level_key(key, &at)),
                },
            }
        }
        Ok(draft)
    }

    /// The refusal of a setting that the search gives each run (the
    /// Hyperband bracket), found in the file.
    fn set_by_search(&self, key: Key, at: &[&str]) -> anyhow::Error {
        self.error_on_key(
            at,
            format!(
                "`{}` is not set in the experiment file: [search] `brackets = \"hyperband\"` \
                 gives each run its bracket",
                key.name()
            ),
        )
    }

    /// `name` or `description`.
    fn text_key(&self, key: &str, value: &toml::Value, at: &At, draft: &mut Draft) -> Result<()> {
        let s = value.as_str().ok_or_else(|| {
            self.error(
                at,
                format!("`{key}` must be a string, got {} {value}", value.type_str()),
            )
        })?;
        if key == "name" {
            draft.name = Some(self.check_name(s)?);
        } else {
            draft.description = s.to_string();
        }
        Ok(())
    }

    /// `[data]`, `[model]` or `[train]`: settings, and the data keys.
    fn section(&self, key: &'k str, value: &'k toml::Value, draft: &mut Draft<'k>) -> Result<()> {
        let section = value.as_table().ok_or_else(|| {
            self.error(
                &[key],
                format!(
                    "`{key}` must be a table ([{key}]), got {}",
                    value.type_str()
                ),
            )
        })?;
        for (inner, inner_value) in section {
            let at = vec![key, inner.as_str()];
            if key == "data" && DATA_KEYS.contains(&inner.as_str()) {
                self.data_key(inner, inner_value, at, draft)?;
            } else if inner == RANDOM_LABELS {
                if key != "data" {
                    return Err(self.error_on_key(
                        &at,
                        format!(
                            "`{RANDOM_LABELS}` belongs in [data] (or at the top level), not in [{key}]"
                        ),
                    ));
                }
                self.once(&mut draft.random_labels, inner_value, at)?;
            } else {
                let setting = self.setting(key, inner, &at)?;
                self.scalar(setting, inner_value, at, draft)?;
            }
        }
        Ok(())
    }

    /// `[grid]`: lists and ranges to sweep, distributions to draw from.
    fn grid(&self, value: &'k toml::Value, draft: &mut Draft<'k>) -> Result<()> {
        let grid = value.as_table().ok_or_else(|| {
            self.error(
                &["grid"],
                format!("`grid` must be a table ([grid]), got {}", value.type_str()),
            )
        })?;
        for (inner, inner_value) in grid {
            let at = vec!["grid", inner.as_str()];
            if inner == RANDOM_LABELS {
                self.once(&mut draft.random_labels, inner_value, at)?;
                continue;
            }
            let key = self.sweepable(inner, &at)?;
            draft.grid_order.push(key);
            let table = inner_value.as_table();
            match table.and_then(|t| Distribution::parse(key, t)) {
                Some(parsed) => {
                    let d = parsed.map_err(|e| self.axis_error(&at, e))?;
                    draft.drawn.push((key, d, at));
                }
                None => {
                    let form = ["log", "linear"]
                        .into_iter()
                        .find(|f| table.is_some_and(|t| t.contains_key(*f)));
                    if let Some(form) = form {
                        draft.ranged.push((at.clone(), form));
                    }
                    let axis =
                        grid::parse_axis(key, inner_value).map_err(|e| self.axis_error(&at, e))?;
                    draft.axes.push((axis, at));
                }
            }
        }
        Ok(())
    }

    /// A top-level `true` or `false`.
    fn flag(&self, key: &str, value: &toml::Value, at: &At) -> Result<bool> {
        value.as_bool().ok_or_else(|| {
            self.error(
                at,
                format!(
                    "`{key}` must be true or false, got {} {value}",
                    value.type_str()
                ),
            )
        })
    }

    /// The top-level `kernel`.
    fn kernel(&self, value: &toml::Value, at: &At) -> Result<KernelRequest> {
        value
            .as_str()
            .ok_or_else(|| format!("must be a string, got {} {value}", value.type_str()))
            .and_then(KernelRequest::parse)
            .map_err(|why| {
                self.error(
                    at,
                    format!(
                        "`{KERNEL}`: {why}; e.g. kernel = \"matrixmultiply\" for the \
                         same bits on every x86-64 with AVX2 and FMA"
                    ),
                )
            })
    }

    /// A top-level key that is nothing sweep knows, with the nearest that is.
    fn unknown_top_level_key(&self, key: &str, at: &At) -> anyhow::Error {
        let valid = TEXT_KEYS
            .iter()
            .chain(SECTIONS)
            .chain(
                [
                    "grid",
                    "search",
                    "compare",
                    SAVE_PREDICTIONS,
                    SAVE_FORGETTING,
                    KERNEL,
                ]
                .iter(),
            )
            .chain(DATA_KEYS)
            .chain([RANDOM_LABELS].iter())
            .copied()
            .chain(Key::ALL.iter().map(|k| k.name()));
        let hint = locate::suggest_setting(key, valid);
        self.error_on_key(
            at,
            format!(
                "unknown key `{key}`{hint}; the top level takes name, description, the \
                 tables [data], [model], [train], [grid], [search] and [compare], save_predictions, save_forgetting, kernel, or any setting"
            ),
        )
    }

    /// The setting `key` found in `[section]`, or an error saying where it belongs.
    fn setting(&self, section: &str, key: &str, at: &[&str]) -> Result<Key> {
        match Key::from_name(key) {
            Some(k) if k.section() == SET_BY_SEARCH => Err(self.set_by_search(k, at)),
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
            None if [KERNEL, SAVE_PREDICTIONS, SAVE_FORGETTING].contains(&key) => Err(self
                .error_on_key(
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
                let hint = locate::suggest_setting(key, valid.iter().copied());
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

    /// A setting given one value (at the top level or in its section).
    fn scalar(
        &self,
        key: Key,
        value: &toml::Value,
        at: At<'k>,
        draft: &mut Draft<'k>,
    ) -> Result<()> {
        if let Some((_, first)) = draft.scalars.iter().find(|(k, _)| *k == key) {
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
            Kind::Widths => value.is_table(),
            Kind::EarlyStopping | Kind::EvalEvery => value.is_array(),
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
        draft.base.set(key, checked);
        draft.scalars.push((key, at));
        Ok(())
    }

    /// The setting a `[grid]` entry named `name` sweeps, or an error naming
    /// what can be swept.
    fn sweepable(&self, name: &str, at: &[&str]) -> Result<Key> {
        match Key::from_name(name) {
            Some(k) if k.section() == SET_BY_SEARCH => Err(self.set_by_search(k, at)),
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
                let hint = locate::suggest_setting(name, sweepable.clone());
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

    /// `dataset` or `data_dir`.
    fn data_key(
        &self,
        key: &str,
        value: &toml::Value,
        at: At<'k>,
        draft: &mut Draft<'k>,
    ) -> Result<()> {
        let (dataset, data_dir) = (&mut draft.dataset, &mut draft.data_dir);
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

    /// The `name` the file sets, if it can name a results folder.
    pub(super) fn check_name(&self, name: &str) -> Result<String> {
        let chars = name.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(self.error(
                &["name"],
                format!(
                    "`name` is {chars} characters long; a sweep's name is its results folder's \
                     name and may have at most {MAX_NAME_CHARS}"
                ),
            ));
        }
        match name_flaw(name) {
            None => Ok(name.to_string()),
            Some(_) if name.starts_with('.') => Err(self.error(
                &["name"],
                format!(
                    "`name` {name:?} starts with '.', which would hide its results folder; \
                     start it with a letter, a digit, '-' or '_' ('.' may come later)"
                ),
            )),
            Some(_) => Err(self.error(
                &["name"],
                format!(
                    "`name` {name:?} must be a folder name of letters, digits, '-', '_' or '.'"
                ),
            )),
        }
    }
}
