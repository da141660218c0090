//! Distributions a sampled setting is drawn from, written in `[grid]` as
//! `lambda = { log_uniform = [1e-4, 1e-1] }`. Bounds are values of the
//! setting, never exponents.

use serde::{Deserialize, Serialize};

use crate::choice::choice_enum;
use crate::config::grid::AxisError;
use crate::config::locate::Part;
use crate::config::params::{Key, Kind, Value};

choice_enum! {
    /// The law a sampled setting follows between its bounds.
    pub enum Law {
        /// Real numbers, uniform on [low, high).
        Uniform = "uniform",
        /// Real numbers whose logarithm is uniform: each decade of
        /// [low, high) is equally likely.
        LogUniform = "log_uniform",
        /// Whole numbers low, …, high, each equally likely.
        IntUniform = "int_uniform",
        /// Whole numbers low, …, high, with P(k) ∝ ln((k + 1) / k): the
        /// floor of a log-uniform draw on [low, high + 1).
        IntLogUniform = "int_log_uniform",
    }
}

impl Law {
    /// Whether it draws on a logarithmic scale (plots then use a log axis).
    pub fn is_log(self) -> bool {
        matches!(self, Law::LogUniform | Law::IntLogUniform)
    }

    /// Whether it draws whole numbers.
    pub fn is_whole(self) -> bool {
        matches!(self, Law::IntUniform | Law::IntLogUniform)
    }
}

/// One setting's distribution with its bounds, as checked against the
/// setting's own range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// The law.
    pub law: Law,
    /// Lowest value.
    pub low: f64,
    /// Highest value (whole-number laws include it; real ones reach it
    /// only by rounding).
    pub high: f64,
}

/// Significant digits a drawn real number is rounded to, so that files and
/// ids hold `0.00316228`, not `0.0031622776601683794`.
const DIGITS: usize = 6;

impl Distribution {
    /// The distribution in a `[grid]` entry, `None` when the table names
    /// none (it is then a list or a grid range).
    pub fn parse(key: Key, table: &toml::Table) -> Option<Result<Distribution, AxisError>> {
        let law = Law::WORDS.iter().find(|w| table.contains_key(**w))?;
        Some(parse_law(key, table, law))
    }

    /// The setting's value at quantile `u` ∈ [0, 1) of the distribution.
    pub fn value_at(&self, u: f64) -> Value {
        let (low, high) = (self.low, self.high);
        match self.law {
            Law::Uniform => Value::Float(round(low + u * (high - low)).clamp(low, high)),
            Law::LogUniform => {
                let x = (low.ln() + u * (high.ln() - low.ln())).exp();
                Value::Float(round(x).clamp(low, high))
            }
            Law::IntUniform => {
                Value::Int((low + (u * (high - low + 1.0)).floor()).min(high) as u64)
            }
            Law::IntLogUniform => {
                let x = (low.ln() + u * ((high + 1.0).ln() - low.ln())).exp();
                Value::Int(x.floor().clamp(low, high) as u64)
            }
        }
    }

    /// `log_uniform [0.0001, 0.1]`.
    pub fn describe(&self) -> String {
        format!("{} [{}, {}]", self.law, self.low, self.high)
    }
}

/// `x` rounded to [`DIGITS`] significant digits.
fn round(x: f64) -> f64 {
    format!("{x:.*e}", DIGITS - 1).parse().unwrap_or(x)
}

fn parse_law(key: Key, table: &toml::Table, law: &str) -> Result<Distribution, AxisError> {
    let name = key.name();
    let at = |msg: String| AxisError::at(law, Part::Value, msg);
    if let Some(extra) = table.keys().find(|k| k.as_str() != law) {
        return Err(AxisError::at(
            extra,
            Part::Key,
            format!(
                "`{extra}` does not go with `{law}` in `grid.{name}`; a distribution is \
                 written `{{ {law} = [low, high] }}` alone"
            ),
        ));
    }
    let law: Law = law.parse().map_err(|e: String| at(e))?;
    if key == Key::Seed {
        return Err(at(
            "`seed` is never sampled: every sampled point is trained with each seed listed \
             (`seed = { count = 2 }`)"
                .into(),
        ));
    }
    let whole = matches!(key.kind(), Kind::Int { .. });
    match key.kind() {
        Kind::Int { .. } | Kind::Float { .. } => {}
        _ => {
            return Err(at(format!(
                "`{name}` is not a number and cannot follow `{law}`; list its values to choose \
                 among them, `{name} = [a, b]`"
            )));
        }
    }
    if whole != law.is_whole() {
        let (kind, laws) = if whole {
            ("whole numbers", "`int_uniform` or `int_log_uniform`")
        } else {
            ("real numbers", "`uniform` or `log_uniform`")
        };
        return Err(at(format!(
            "`{name}` takes {kind}: draw it with {laws}, not `{law}`"
        )));
    }
    let bad = || {
        at(format!(
            "`grid.{name}.{law}` must be two {} [low, high] (values of `{name}`, not exponents)",
            if whole {
                "whole numbers"
            } else {
                "finite numbers"
            }
        ))
    };
    let items = table[law.word()].as_array().ok_or_else(bad)?;
    let bounds: Vec<f64> = items
        .iter()
        .map(|v| match v {
            toml::Value::Integer(n) => Some(*n as f64),
            toml::Value::Float(f) if !whole => Some(*f),
            _ => None,
        })
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    let [low, high] = bounds[..] else {
        return Err(bad());
    };
    if !low.is_finite() || !high.is_finite() {
        return Err(bad());
    }
    if law.is_log() && low <= 0.0 {
        let example = if high <= 0.0 && low < high && !whole {
            // [-4, -1] reads like the exponents of 10⁻⁴ … 10⁻¹.
            format!("[1e{low}, 1e{high}]")
        } else {
            "[1e-4, 1e-1]".to_string()
        };
        return Err(at(format!(
            "`grid.{name}.{law}` needs bounds > 0, since log 0 does not exist; got [{low}, \
             {high}]. Bounds are values, not exponents: `{{ {law} = {example} }}`"
        )));
    }
    if low >= high {
        return Err(at(format!(
            "`grid.{name}.{law}` = [{low}, {high}]: give [low, high] with low < high"
        )));
    }
    for bound in [low, high] {
        let item = if whole {
            toml::Value::Integer(bound as i64)
        } else {
            toml::Value::Float(bound)
        };
        key.parse(&item)
            .map_err(|e| at(format!("in `grid.{name}.{law}`: {e}")))?;
    }
    Ok(Distribution { law, low, high })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(key: Key, text: &str) -> Result<Distribution, String> {
        let table: toml::Table = toml::from_str(&format!("v = {text}")).unwrap();
        let inner = table["v"].as_table().unwrap();
        Distribution::parse(key, inner)
            .unwrap()
            .map_err(|e| e.message)
    }

    #[test]
    fn bounds_are_values_and_log_laws_refuse_zero() {
        let d = parse(Key::Lambda, "{ log_uniform = [1e-4, 1e-1] }").unwrap();
        assert_eq!((d.low, d.high), (1e-4, 1e-1));
        assert_eq!(d.value_at(0.0), Value::Float(1e-4));
        assert_eq!(d.value_at(0.5), Value::Float(0.00316228));
        let e = parse(Key::Lambda, "{ log_uniform = [0, 1e-1] }").unwrap_err();
        assert!(
            e.contains("bounds > 0") && e.contains("not exponents"),
            "{e}"
        );
        let e = parse(Key::LearningRate, "{ uniform = [0, 1] }").unwrap_err();
        assert!(e.contains("learning_rate"), "{e}");
    }

    #[test]
    fn laws_match_the_kind_of_setting() {
        let e = parse(Key::HiddenSize, "{ log_uniform = [10, 100] }").unwrap_err();
        assert!(e.contains("int_log_uniform"), "{e}");
        let e = parse(Key::Lambda, "{ int_uniform = [1, 3] }").unwrap_err();
        assert!(e.contains("log_uniform"), "{e}");
        let e = parse(Key::Optimizer, "{ uniform = [0, 1] }").unwrap_err();
        assert!(e.contains("list its values"), "{e}");
        let e = parse(Key::Seed, "{ int_uniform = [0, 9] }").unwrap_err();
        assert!(e.contains("never sampled"), "{e}");
    }

    #[test]
    fn whole_number_laws_reach_both_ends_and_follow_their_law() {
        let d = parse(Key::HiddenSize, "{ int_uniform = [3, 5] }").unwrap();
        let drawn: Vec<Value> = [0.0, 0.34, 0.67, 0.999999]
            .iter()
            .map(|&u| d.value_at(u))
            .collect();
        assert_eq!(
            drawn,
            [Value::Int(3), Value::Int(4), Value::Int(5), Value::Int(5)]
        );
        // int_log_uniform on [1, 3]: P(1) = ln 2 / ln 4 = 1/2, P(2) = ln 1.5 / ln 4.
        let d = parse(Key::HiddenSize, "{ int_log_uniform = [1, 3] }").unwrap();
        assert_eq!(d.value_at(0.4999), Value::Int(1));
        assert_eq!(d.value_at(0.5001), Value::Int(2));
        let edge = 1.0 - (4.0f64 / 3.0).ln() / 4.0f64.ln();
        assert_eq!(d.value_at(edge - 1e-9), Value::Int(2));
        assert_eq!(d.value_at(edge + 1e-9), Value::Int(3));
    }
}
