//! `[compare]`: the baseline configuration every other is compared with,
//! checked against the grid it must pick exactly one configuration of.

use anyhow::Result;

use super::grid::Axis;
use super::locate;
use super::parser::{At, Parser};
use super::{Key, RunParams, RunSpec};

impl<'k> Parser<'_> {
    /// The `[compare]` table: `baseline = { setting = value, … }`, each
    /// setting checked as in [grid].
    pub(super) fn compare_table(
        &self,
        value: &'k toml::Value,
    ) -> Result<Vec<(Key, String, At<'k>)>> {
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
    ) -> Result<Vec<String>> {
        let Some((_, _, first_at)) = baseline.first() else {
            return Ok(Vec::new());
        };
        for (key, _, at) in baseline {
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
                .iter()
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
}
