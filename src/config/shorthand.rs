//! Shorthands the file may use, rewritten as the settings they stand for
//! (`random_labels`), and the settings a shorthand may not stand beside
//! (`hidden` with `hidden_layers`/`hidden_size`).

use anyhow::Result;

use super::grid;
use super::parser::{At, Draft, Parser};
use super::{Key, Value};

/// `random_labels = true`: shorthand for `label_noise = 1` with
/// `label_noise_mode = "uniform"` (Zhang et al.'s random labels), in [data]
/// or swept in [grid] as `[false, true]`.
pub(super) const RANDOM_LABELS: &str = "random_labels";

impl<'k> Parser<'_> {
    /// Keeps the first `random_labels` found, refusing a second.
    pub(super) fn once(
        &self,
        slot: &mut Option<(&'k toml::Value, At<'k>)>,
        value: &'k toml::Value,
        at: At<'k>,
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
    pub(super) fn expand_random_labels(&self, draft: &mut Draft<'k>) -> Result<()> {
        let Some((value, at)) = draft.random_labels.take() else {
            return Ok(());
        };
        let given = draft.set_or_listed();
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
            draft
                .base
                .set(Key::LabelNoiseMode, Value::Text("uniform".into()));
            draft.scalars.push((Key::LabelNoiseMode, at.clone()));
        }
        if at[0] == "grid" {
            let noise: Vec<toml::Value> = flags
                .iter()
                .map(|&f| toml::Value::Float(if f { 1.0 } else { 0.0 }))
                .collect();
            let axis = grid::parse_axis(Key::LabelNoise, &toml::Value::Array(noise))
                .map_err(|e| self.error(&at, e.message))?;
            draft.axes.push((axis, at));
        } else {
            draft.base.set(
                Key::LabelNoise,
                Value::Float(if flags[0] { 1.0 } else { 0.0 }),
            );
            draft.scalars.push((Key::LabelNoise, at));
        }
        Ok(())
    }

    /// Refuses `hidden` beside the `hidden_layers`/`hidden_size` shorthand.
    pub(super) fn check_shorthand(&self, draft: &Draft) -> Result<()> {
        let given = draft.given();
        let (mut hidden, mut shorthand) = (None, None);
        for (key, at) in &given {
            match *key {
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
}
