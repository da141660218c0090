//! The `[grid]` table: lists of values and range helpers (`log`, `linear`,
//! `count`) for each swept setting, and their expansion into a cartesian
//! product in a stable order.

use super::MAX_WHOLE;
use super::locate::Part;
use super::params::{Key, Kind, RunParams, Value};

/// Why a `[grid]` entry was refused, and what in it to point at.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisError {
    /// The sentence to show.
    pub message: String,
    /// The key inside a range table the message is about, if any.
    pub sub_key: Option<String>,
    /// Whether to point at that key or at its value.
    pub part: Part,
}

impl AxisError {
    fn whole(message: String) -> AxisError {
        AxisError {
            message,
            sub_key: None,
            part: Part::Value,
        }
    }

    /// An error about `sub_key` inside the entry (its key or its value).
    pub fn at(sub_key: &str, part: Part, message: String) -> AxisError {
        AxisError {
            message,
            sub_key: Some(sub_key.to_string()),
            part,
        }
    }
}

/// Keys a grid range table (`{ log = … }`) may hold.
pub const RANGE_KEYS: &[&str] = &["values", "log", "linear", "num", "zero", "count", "start"];

/// One swept setting and the values it takes, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The setting.
    pub key: Key,
    /// Its values, distinct, in file order.
    pub values: Vec<Value>,
}

/// Turns one `[grid]` entry into its list of values. Accepted forms:
/// `[a, b, c]`, `{ values = [...] }`, `{ log = [lo, hi], num = n }` (with
/// `zero = true` to add 0 in front), `{ linear = [lo, hi], num = n }`,
/// `{ count = n }` (0, 1, …, n−1; `start` shifts it).
pub fn parse_axis(key: Key, raw: &toml::Value) -> Result<Axis, AxisError> {
    let name = key.name();
    let values = match raw {
        toml::Value::Array(items) => parse_list(key, items).map_err(AxisError::whole)?,
        toml::Value::Table(table) => parse_range(key, table)?,
        other => {
            return Err(AxisError::whole(format!(
                "`grid.{name}` must be a list of values like [a, b] or a range like \
                     {{ log = [1e-4, 1e-1], num = 4 }}, got {} {other}",
                other.type_str()
            )));
        }
    };
    if values.is_empty() {
        return Err(AxisError::whole(format!(
            "`grid.{name}` is empty; give at least one value"
        )));
    }
    // Canonical texts are distinct exactly when values are (shortest
    // round-trip for floats), and a set keeps a 100 000-value axis linear.
    let mut seen = std::collections::HashSet::with_capacity(values.len());
    for v in &values {
        if !seen.insert(v.to_string()) {
            return Err(AxisError::whole(format!(
                "`grid.{name}` lists the value {v} twice; each value must appear once"
            )));
        }
    }
    Ok(Axis { key, values })
}

fn parse_list(key: Key, items: &[toml::Value]) -> Result<Vec<Value>, String> {
    items
        .iter()
        .map(|item| {
            key.parse(item)
                .map_err(|e| format!("in `grid.{}`: {e}", key.name()))
        })
        .collect()
}

fn parse_range(key: Key, table: &toml::Table) -> Result<Vec<Value>, AxisError> {
    let name = key.name();
    let at = |sub: &str, msg: String| AxisError::at(sub, Part::Value, msg);
    if let Some(unknown) = table.keys().find(|k| !RANGE_KEYS.contains(&k.as_str())) {
        let hint = super::locate::suggest(unknown, RANGE_KEYS.iter().copied());
        return Err(at(
            unknown,
            format!(
                "unknown key `{unknown}` in `grid.{name}`{hint}; a range is one of {{ values = [...] }}, {{ log = [lo, hi], num = n }}, {{ linear = [lo, hi], num = n }}, {{ count = n }}"
            ),
        ));
    }
    let forms: Vec<&str> = ["values", "log", "linear", "count"]
        .into_iter()
        .filter(|f| table.contains_key(*f))
        .collect();
    let form = match forms.as_slice() {
        [one] => *one,
        [] => {
            return Err(AxisError::whole(format!(
                "`grid.{name}` needs one of `values`, `log`, `linear` or `count`"
            )));
        }
        many => {
            return Err(AxisError::whole(format!(
                "`grid.{name}` mixes `{}`; use only one of them",
                many.join("` and `")
            )));
        }
    };
    let allowed: &[&str] = match form {
        "values" => &["values"],
        "log" => &["log", "num", "zero"],
        "linear" => &["linear", "num"],
        _ => &["count", "start"],
    };
    if let Some(extra) = table.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(AxisError::at(
            extra,
            Part::Key,
            format!(
                "`{extra}` does not go with `{form}` in `grid.{name}`; `{form}` takes {}",
                allowed.join(", ")
            ),
        ));
    }
    match form {
        "values" => match &table["values"] {
            toml::Value::Array(items) => parse_list(key, items).map_err(|e| at("values", e)),
            other => Err(at(
                "values",
                format!("`grid.{name}.values` must be a list, got {other}"),
            )),
        },
        "count" => counted_range(key, table),
        _ => spaced_range(key, table, form),
    }
}

/// `{ count = n, start = s }`: the whole numbers s, s + 1, …, s + n − 1.
fn counted_range(key: Key, table: &toml::Table) -> Result<Vec<Value>, AxisError> {
    let name = key.name();
    let at = |sub: &str, msg: String| AxisError::at(sub, Part::Value, msg);
    if !matches!(key.kind(), Kind::Int { .. }) {
        return Err(at(
            "count",
            format!("`count` makes whole numbers; `{name}` is not one (use a list)"),
        ));
    }
    let count = number_of_values(table, "count", name).map_err(|e| at("count", e))?;
    let start = match table.get("start") {
        Some(_) => whole(table, "start", name, 0).map_err(|e| at("start", e))?,
        None => 0,
    };
    if start.checked_add(count).is_none_or(|end| end > MAX_WHOLE) {
        return Err(at(
            "start",
            format!("`grid.{name}`: start + count must stay ≤ {MAX_WHOLE}, got {start} + {count}"),
        ));
    }
    (start..start + count)
        .map(|n| {
            key.parse(&toml::Value::Integer(n as i64))
                .map_err(|e| at("start", e))
        })
        .collect()
}

/// `{ log = [lo, hi], num = n, zero = … }` or `{ linear = [lo, hi], num = n }`:
/// n values evenly spaced on that scale (and 0 first with `zero = true`).
fn spaced_range(key: Key, table: &toml::Table, form: &str) -> Result<Vec<Value>, AxisError> {
    let name = key.name();
    let at = |sub: &str, msg: String| AxisError::at(sub, Part::Value, msg);
    let num = number_of_values(table, "num", name).map_err(|e| at("num", e))? as usize;
    let (lo, hi) = bounds(table, form, name).map_err(|e| at(form, e))?;
    let log = form == "log";
    if log && (lo <= 0.0 || hi <= 0.0) {
        return Err(at(
            form,
            format!(
                "`grid.{name}.log` bounds must be > 0 (got [{lo}, {hi}]); add `zero = true` to include 0"
            ),
        ));
    }
    if num == 1 && lo != hi {
        return Err(at(
            "num",
            format!("`grid.{name}.num` = 1 but the bounds differ; use num ≥ 2"),
        ));
    }
    let mut numbers = spaced(lo, hi, num, log);
    if table.get("zero").and_then(toml::Value::as_bool) == Some(true) {
        numbers.insert(0, 0.0);
    } else if let Some(z) = table.get("zero").filter(|z| !z.is_bool()) {
        return Err(at(
            "zero",
            format!("`grid.{name}.zero` must be true or false, got {z}"),
        ));
    }
    numbers
        .into_iter()
        .map(|x| {
            let item = match key.kind() {
                Kind::Int { .. } => toml::Value::Integer(x.round() as i64),
                _ => toml::Value::Float(x),
            };
            key.parse(&item)
                .map_err(|e| at(form, format!("in `grid.{name}`: {e}")))
        })
        .collect()
}

/// `num` values from `lo` to `hi` inclusive, evenly spaced (on a log scale if
/// `log`), rounded to 10 significant digits so `1e-4` is not `1.0000000000000002e-4`.
pub fn spaced(lo: f64, hi: f64, num: usize, log: bool) -> Vec<f64> {
    let (a, b) = if log {
        (lo.log10(), hi.log10())
    } else {
        (lo, hi)
    };
    (0..num)
        .map(|i| {
            let t = if num == 1 {
                0.0
            } else {
                i as f64 / (num - 1) as f64
            };
            let x = a + (b - a) * t;
            let x = if log { 10f64.powf(x) } else { x };
            format!("{x:.9e}").parse().unwrap_or(x)
        })
        .collect()
}

fn whole(table: &toml::Table, field: &str, name: &str, min: i64) -> Result<u64, String> {
    match table.get(field) {
        Some(toml::Value::Integer(n)) if *n >= min => Ok(*n as u64),
        Some(other) => Err(format!(
            "`grid.{name}.{field}` must be a whole number ≥ {min}, got {other}"
        )),
        None => Err(format!("`grid.{name}` needs `{field}`")),
    }
}

/// `count` or `num` of a range: a whole number ≥ 1 and no more than a grid
/// may have runs, checked before any list of that length is built.
fn number_of_values(table: &toml::Table, field: &str, name: &str) -> Result<u64, String> {
    let n = whole(table, field, name, 1)?;
    if n > super::MAX_RUNS as u64 {
        return Err(format!(
            "`grid.{name}.{field}` = {n} is more than the {} runs a grid may have",
            super::MAX_RUNS
        ));
    }
    Ok(n)
}

fn bounds(table: &toml::Table, form: &str, name: &str) -> Result<(f64, f64), String> {
    let bad = || format!("`grid.{name}.{form}` must be two finite numbers [low, high]");
    let items = table[form].as_array().ok_or_else(bad)?;
    let nums: Vec<f64> = items
        .iter()
        .map(|v| v.as_float().or_else(|| v.as_integer().map(|n| n as f64)))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    match nums.as_slice() {
        [lo, hi] if lo.is_finite() && hi.is_finite() && lo <= hi => Ok((*lo, *hi)),
        [lo, hi] if lo > hi => Err(format!(
            "`grid.{name}.{form}` goes from {lo} down to {hi}; give [low, high]"
        )),
        _ => Err(bad()),
    }
}

/// Every combination of the axes' values applied on top of `base`, the first
/// axis varying slowest and the last fastest.
pub fn expand(base: &RunParams, axes: &[Axis]) -> Vec<RunParams> {
    let mut runs = vec![base.clone()];
    for axis in axes {
        runs = runs
            .into_iter()
            .flat_map(|run| {
                axis.values.iter().map(move |v| {
                    let mut next = run.clone();
                    next.set(axis.key, v.clone());
                    next
                })
            })
            .collect();
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(key: Key, text: &str) -> Result<Axis, String> {
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {text}"))
            .unwrap()
            .remove("v")
            .unwrap();
        parse_axis(key, &value).map_err(|e| e.message)
    }

    #[test]
    fn log_ranges_are_clean_decades() {
        let a = axis(Key::Lambda, "{ log = [1e-4, 1e-1], num = 4, zero = true }").unwrap();
        let texts: Vec<String> = a.values.iter().map(|v| v.to_string()).collect();
        assert_eq!(texts, ["0", "0.0001", "0.001", "0.01", "0.1"]);
    }

    #[test]
    fn count_makes_seeds() {
        let a = axis(Key::Seed, "{ count = 3 }").unwrap();
        assert_eq!(a.values, vec![Value::Int(0), Value::Int(1), Value::Int(2)]);
        let a = axis(Key::Seed, "{ count = 2, start = 10 }").unwrap();
        assert_eq!(a.values, vec![Value::Int(10), Value::Int(11)]);
    }

    #[test]
    fn integer_settings_accept_log_ranges_rounded() {
        let a = axis(Key::HiddenSize, "{ log = [32, 512], num = 5 }").unwrap();
        let texts: Vec<String> = a.values.iter().map(|v| v.to_string()).collect();
        assert_eq!(texts, ["32", "64", "128", "256", "512"]);
    }

    #[test]
    fn duplicates_and_empty_lists_are_refused() {
        assert!(
            axis(Key::Lambda, "[0.1, 0.1]")
                .unwrap_err()
                .contains("twice")
        );
        assert!(axis(Key::Lambda, "[]").unwrap_err().contains("is empty"));
        assert!(
            axis(Key::Seed, "{ count = 0 }")
                .unwrap_err()
                .contains("≥ 1")
        );
    }

    #[test]
    fn unknown_range_keys_get_a_suggestion() {
        let err = axis(Key::Lambda, "{ log = [1e-3, 1e-1], nun = 3 }").unwrap_err();
        assert!(
            err.contains("unknown key `nun`") && err.contains("did you mean `num`"),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_values_in_lists_are_refused() {
        let err = axis(Key::Lambda, "[0.1, -1]").unwrap_err();
        assert_eq!(err, "in `grid.lambda`: `lambda` must be ≥ 0, got -1");
    }

    #[test]
    fn expansion_is_the_cartesian_product_with_the_last_axis_fastest() {
        let axes = vec![
            axis(Key::Lambda, "[0, 0.1]").unwrap(),
            axis(Key::Seed, "{ count = 3 }").unwrap(),
        ];
        let runs = expand(&RunParams::default(), &axes);
        assert_eq!(runs.len(), 6);
        assert_eq!((runs[0].lambda, runs[0].seed), (0.0, 0));
        assert_eq!((runs[1].lambda, runs[1].seed), (0.0, 1));
        assert_eq!((runs[3].lambda, runs[3].seed), (0.1, 0));
    }
}
