//! `[compare]`: the baseline configuration every other is compared with,
//! checked against the grid it must pick exactly one configuration of.

use anyhow::Result;

use super::grid::Axis;
use super::locate;
use super::parser::{At, Parser};
use super::{Key, RunParams, RunSpec};

/// What `[compare]` says: the baseline's settings (key, canonical text,
/// where) and the `within` settings (key, where).
type CompareTable<'k> = (Vec<(Key, String, At<'k>)>, Vec<(Key, At<'k>)>);

impl<'k> Parser<'_> {
    /// The `[compare]` table: `baseline = { setting = value, … }`, each
    /// setting checked as in [grid], and `within = ["setting", …]`.
    pub(super) fn compare_table(&self, value: &'k toml::Value) -> Result<CompareTable<'k>> {
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
        let mut within = Vec::new();
        for (key, inner) in table {
            let at = vec!["compare", key.as_str()];
            if key == "within" {
                within = self.within_list(inner, at)?;
                continue;
            }
            if key != "baseline" {
                return Err(self.error_on_key(
                    &at,
                    format!(
                        "unknown key `{key}` in [compare]; it takes `baseline = {{ lambda = 0 }}` \
                         and `within = [\"learning_rate\"]`"
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
        if out.is_empty() && !within.is_empty() {
            return Err(self.error_on_key(
                &["compare", "within"],
                "`within` needs a `baseline` beside it: `baseline = { lambda = 0 }`".into(),
            ));
        }
        Ok((out, within))
    }

    /// `within = ["learning_rate", …]`: settings by name.
    fn within_list(&self, value: &'k toml::Value, at: At<'k>) -> Result<Vec<(Key, At<'k>)>> {
        let list = value.as_array().ok_or_else(|| {
            self.error(
                &at,
                format!(
                    "`within` lists settings by name, `within = [\"learning_rate\"]`; got {} {value}",
                    value.type_str()
                ),
            )
        })?;
        list.iter()
            .map(|item| {
                let name = item.as_str().ok_or_else(|| {
                    self.error(
                        &at,
                        format!(
                            "`within` lists setting names as text, got {} {item}",
                            item.type_str()
                        ),
                    )
                })?;
                Ok((self.setting_anywhere(name, &at)?, at.clone()))
            })
            .collect()
    }

    /// A setting of any table, or an error naming the nearest one.
    fn setting_anywhere(&self, name: &str, at: &[&str]) -> Result<Key> {
        Key::from_name(name).ok_or_else(|| {
            let hint = locate::suggest_setting(name, Key::ALL.iter().map(|k| k.name()));
            self.error_on_key(at, format!("unknown setting `{name}`{hint}"))
        })
    }

    /// Checks that the baseline's settings are swept and pick out exactly
    /// one configuration (runs equal but for `seed`), and returns them as
    /// `setting=value` pairs.
    pub(super) fn check_baseline(
        &self,
        runs: &[RunSpec],
        axes: &[Axis],
        baseline: &[(Key, String, At)],
        within: &[(Key, At)],
    ) -> Result<(Vec<String>, Vec<String>)> {
        let Some((_, _, first_at)) = baseline.first() else {
            return Ok((Vec::new(), Vec::new()));
        };
        let swept = |key: &Key| axes.iter().any(|a| a.key == *key) && *key != Key::Seed;
        for (key, _, at) in baseline {
            if !swept(key) {
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
        for (key, at) in within {
            if !swept(key) || baseline.iter().any(|(b, _, _)| b == key) {
                return Err(self.error(
                    at,
                    format!(
                        "`within` names `{}`, which is not swept in [grid], is the seed or is \
                         fixed by the baseline; it takes the other swept settings, each \
                         configuration compared with the baseline at its own value of them",
                        key.name()
                    ),
                ));
            }
        }
        // The baseline's configurations, one per value of the `within`
        // settings: each must be alone.
        let mut configurations: Vec<(Vec<String>, RunParams)> = Vec::new();
        for run in runs {
            if baseline
                .iter()
                .all(|(k, v, _)| run.params.raw_text(*k) == *v)
            {
                let p = RunParams {
                    seed: 0,
                    ..run.params.clone()
                };
                let stratum = within
                    .iter()
                    .map(|(k, _)| run.params.raw_text(*k))
                    .collect();
                if !configurations.iter().any(|(_, q)| *q == p) {
                    configurations.push((stratum, p));
                }
            }
        }
        let parent = &first_at[..2];
        let crowded = configurations
            .iter()
            .map(|(stratum, _)| {
                (
                    stratum,
                    configurations.iter().filter(|(s, _)| s == stratum).count(),
                )
            })
            .find(|(_, n)| *n > 1);
        match (configurations.len(), crowded) {
            (0, _) => Err(self.error(
                parent,
                "`baseline` matches no configuration of the grid; give values the grid sweeps \
                 (`sweep plan` lists them)"
                    .into(),
            )),
            (_, None) => Ok((
                baseline
                    .iter()
                    .map(|(k, v, _)| format!("{}={v}", k.name()))
                    .collect(),
                within.iter().map(|(k, _)| k.name().to_string()).collect(),
            )),
            (_, Some((stratum, n))) => {
                let more: Vec<&str> = axes
                    .iter()
                    .map(|a| a.key)
                    .filter(|k| {
                        *k != Key::Seed
                            && !baseline.iter().any(|(b, _, _)| b == k)
                            && !within.iter().any(|(w, _)| w == k)
                    })
                    .map(Key::name)
                    .collect();
                let at_values = match within.is_empty() {
                    true => String::new(),
                    false => format!(
                        " at {}",
                        within
                            .iter()
                            .zip(stratum)
                            .map(|((k, _), v)| format!("{}={v}", k.name()))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                };
                Err(self.error(
                    parent,
                    format!(
                        "`baseline` matches {n} configurations of the grid{at_values}; add \
                         settings until one is left, or compare each configuration with the \
                         baseline at its own value of them with `within = [\"{}\"]` (the grid \
                         also sweeps {})",
                        more.first().copied().unwrap_or("setting"),
                        more.join(", ")
                    ),
                ))
            }
        }
    }
}
