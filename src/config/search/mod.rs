//! `[search]`: how an experiment's configurations are chosen. `grid` (the
//! default) trains the cartesian product of `[grid]`; `random` and `sobol`
//! draw `samples` points from the distributions and lists of `[grid]`, and
//! train each point with every seed.
//!
//! Point i is a pure function of the search seed, i and the settings
//! sampled, so resuming, sharding and retrying regenerate the same points,
//! and raising `samples` from N to 2N keeps the first N (their ids too).

pub mod distribution;
pub mod halving;
pub mod random;
pub mod sobol;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::choice::choice_enum;
use crate::config::grid::{Axis, AxisError};
use crate::config::locate::Part;
use crate::config::params::{Key, RunParams, Value};
pub use distribution::{Distribution, Law};
pub use halving::{Brackets, Halving};

choice_enum! {
    /// How configurations are chosen.
    pub enum Method {
        /// Every combination of the `[grid]` lists.
        Grid = "grid",
        /// Independent uniform draws per point and setting (Bergstra &
        /// Bengio, 2012).
        Random = "random",
        /// An Owen-scrambled Sobol sequence: points that fill the space more
        /// evenly than independent draws, best for N a power of two.
        Sobol = "sobol",
        /// Successive halving over the grid's configurations: short runs
        /// for all, longer ones for the best on validation.
        Halving = "halving",
    }
}

/// Keys the `[search]` table takes (and those of [`halving::HALVING_KEYS`]).
const SEARCH_KEYS: &[&str] = &["method", "samples", "seed"];

/// Most points a Sobol search may draw (the sequence's length).
pub const MAX_SOBOL_SAMPLES: usize = 1 << 16;

/// The `[search]` table, checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Search {
    /// How configurations are chosen.
    pub method: Method,
    /// Points drawn (0 for a grid).
    pub samples: usize,
    /// The seed of the draws (not of training).
    pub seed: u64,
    /// Successive halving's settings, for `method = "halving"`.
    pub halving: Option<Halving>,
}

impl Default for Search {
    fn default() -> Search {
        Search {
            method: Method::Grid,
            samples: 0,
            seed: 0,
            halving: None,
        }
    }
}

impl Search {
    /// Checks the `[search]` table; `max_samples` bounds `samples`.
    pub fn parse(table: &toml::Table, max_samples: usize) -> Result<Search, AxisError> {
        let known = || SEARCH_KEYS.iter().chain(halving::HALVING_KEYS).copied();
        if let Some(unknown) = table.keys().find(|k| !known().any(|n| n == k.as_str())) {
            let hint = crate::config::locate::suggest(unknown, known());
            return Err(AxisError::at(
                unknown,
                Part::Key,
                format!(
                    "unknown key `{unknown}` in [search]{hint}; [search] takes method, samples \
                     and seed (random, sobol), or eta, min_epochs, max_epochs, metric, sampler \
                     and brackets (halving)"
                ),
            ));
        }
        let method = parse_method(table)?;
        let max = match method {
            Method::Sobol => max_samples.min(MAX_SOBOL_SAMPLES),
            _ => max_samples,
        };
        let samples = whole_number(table, "samples", 1, max as u64)?;
        let seed = whole_number(table, "seed", 0, i64::MAX as u64)?.unwrap_or(0);
        if method == Method::Halving {
            return halving_search(table, samples, seed, max_samples);
        }
        if let Some(key) = halving::HALVING_KEYS
            .iter()
            .find(|k| table.contains_key(**k))
        {
            return Err(AxisError::at(
                key,
                Part::Key,
                format!("`{key}` is a setting of `method = \"halving\"`, not of \"{method}\""),
            ));
        }
        let samples = match (method, samples) {
            (Method::Grid | Method::Halving, Some(_)) => {
                return Err(AxisError::at(
                    "samples",
                    Part::Key,
                    "`samples` is the number of points `method = \"random\"` or \"sobol\" draws; \
                     a grid trains every combination of its lists"
                        .into(),
                ));
            }
            (Method::Grid | Method::Halving, None) => 0,
            (_, Some(n)) => n as usize,
            (_, None) => {
                return Err(AxisError::at(
                    "method",
                    Part::Value,
                    format!(
                        "`method = \"{method}\"` needs `samples`, the number of points to draw \
                         (each trained with every seed)"
                    ),
                ));
            }
        };
        if method == Method::Grid && table.contains_key("seed") {
            return Err(AxisError::at(
                "seed",
                Part::Key,
                "[search] `seed` seeds the draws of `method = \"random\"` or \"sobol\"; a grid \
                 draws nothing (the training seed is `seed` in [train] or [grid])"
                    .into(),
            ));
        }
        Ok(Search {
            method,
            samples,
            seed,
            halving: None,
        })
    }

    /// How points are drawn (`Method::Random` or `Method::Sobol`), or
    /// `None` when the grid's combinations are enumerated.
    pub fn sampler(&self) -> Option<Method> {
        match self.method {
            Method::Random | Method::Sobol => Some(self.method),
            Method::Halving => self.halving.and_then(|h| h.sampler),
            Method::Grid => None,
        }
    }

    /// Whether points are drawn rather than enumerated.
    pub fn is_sampled(&self) -> bool {
        self.sampler().is_some()
    }

    /// Whether the search runs Hyperband's brackets.
    pub fn is_hyperband(&self) -> bool {
        self.halving
            .is_some_and(|h| h.brackets == halving::Brackets::Hyperband)
    }

    /// The sets of points the search draws, each with its own seed: one
    /// set of `samples`, or one per Hyperband bracket (so a bracket's
    /// points depend on nothing but the search seed and the bracket).
    pub fn draws(&self) -> Vec<Draw> {
        match self.halving {
            Some(h) if self.is_hyperband() => h
                .brackets()
                .iter()
                .map(|b| Draw {
                    bracket: b.number,
                    seed: b.number.map_or(self.seed, |s| bracket_seed(self.seed, s)),
                    points: b.points.unwrap_or(0),
                })
                .collect(),
            _ => vec![Draw {
                bracket: None,
                seed: self.seed,
                points: self.samples,
            }],
        }
    }

    /// A note to show with the plan, if any: Sobol points are balanced only
    /// in sets of a power of two.
    pub fn note(&self) -> Option<String> {
        if self.sampler() == Some(Method::Sobol)
            && !self.is_hyperband()
            && !self.samples.is_power_of_two()
        {
            let (below, above) = (
                self.samples.next_power_of_two() / 2,
                self.samples.next_power_of_two(),
            );
            return Some(format!(
                "note: a Sobol sequence is evenly balanced only over a power of two points; \
                 samples = {} is not one (use {below} or {above})",
                self.samples
            ));
        }
        None
    }
}

/// `method`: grid when absent.
fn parse_method(table: &toml::Table) -> Result<Method, AxisError> {
    match table.get("method") {
        None => Ok(Method::Grid),
        Some(v) => v.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| {
            AxisError::at(
                "method",
                Part::Value,
                format!(
                    "`method` must be one of \"{}\", got {v}",
                    Method::WORDS.join("\", \"")
                ),
            )
        }),
    }
}

/// `method = "halving"`: its own keys; `samples` and `seed` only with a
/// sampler, and `samples` not with Hyperband (which sizes its brackets).
fn halving_search(
    table: &toml::Table,
    samples: Option<u64>,
    seed: u64,
    max_samples: usize,
) -> Result<Search, AxisError> {
    let halving = Halving::parse(table)?;
    let Some(sampler) = halving.sampler else {
        if let Some(key) = ["samples", "seed"]
            .into_iter()
            .find(|k| table.contains_key(*k))
        {
            return Err(AxisError::at(
                key,
                Part::Key,
                format!(
                    "`{key}` belongs to sampled searches; `method = \"halving\"` trains every \
                     configuration of the [grid] lists unless it draws them with `sampler = \
                     \"random\"` or \"sobol\""
                ),
            ));
        }
        return Ok(Search {
            method: Method::Halving,
            samples: 0,
            seed: 0,
            halving: Some(halving),
        });
    };
    let samples = match (halving.hyperband_points(), samples) {
        (Some(_), Some(_)) => {
            return Err(AxisError::at(
                "samples",
                Part::Key,
                "Hyperband sets how many points each bracket draws (⌈(s_max + 1) η^s / (s + 1)⌉ \
                 for bracket s); remove `samples`"
                    .into(),
            ));
        }
        (Some(points), None) => points,
        (None, Some(n)) => n as usize,
        (None, None) => {
            return Err(AxisError::at(
                "sampler",
                Part::Value,
                format!(
                    "`sampler = \"{sampler}\"` needs `samples`, the number of configurations \
                     halving starts from (each trained with every seed)"
                ),
            ));
        }
    };
    let largest = halving
        .brackets()
        .iter()
        .map(|b| b.points.unwrap_or(samples))
        .max()
        .unwrap_or(samples);
    let most = match sampler {
        Method::Sobol => max_samples.min(MAX_SOBOL_SAMPLES),
        _ => max_samples,
    };
    if samples > max_samples || largest > most {
        return Err(AxisError::at(
            "max_epochs",
            Part::Value,
            format!(
                "Hyperband with η = {} over rungs at {} epochs draws {samples} points (the \
                 widest bracket {largest}), more than the {most} a search may draw: raise \
                 `min_epochs` or lower `max_epochs` or `eta`",
                halving.eta,
                halving
                    .rungs()
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(Search {
        method: Method::Halving,
        samples,
        seed,
        halving: Some(halving),
    })
}

/// The whole number `field` of a `[search]` table, from `min` to `max`, if
/// it is there.
fn whole_number(
    table: &toml::Table,
    field: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, AxisError> {
    match table.get(field) {
        None => Ok(None),
        Some(toml::Value::Integer(n))
            if u64::try_from(*n).is_ok_and(|n| (min..=max).contains(&n)) =>
        {
            Ok(Some(*n as u64))
        }
        Some(other) => Err(AxisError::at(
            field,
            Part::Value,
            format!("`{field}` must be a whole number from {min} to {max}, got {other}"),
        )),
    }
}

/// One sampled setting: drawn from a distribution, or chosen from a list.
#[derive(Debug, Clone, PartialEq)]
pub enum Dimension {
    /// A numeric setting drawn from a distribution.
    Drawn(Key, Distribution),
    /// A setting chosen uniformly from the values listed.
    Chosen(Axis),
}

impl Dimension {
    /// The setting.
    pub fn key(&self) -> Key {
        match self {
            Dimension::Drawn(key, _) => *key,
            Dimension::Chosen(axis) => axis.key,
        }
    }

    /// The value at quantile `u` ∈ [0, 1).
    pub fn value_at(&self, u: f64) -> Value {
        match self {
            Dimension::Drawn(_, d) => d.value_at(u),
            Dimension::Chosen(axis) => {
                let n = axis.values.len();
                axis.values[((u * n as f64) as usize).min(n - 1)].clone()
            }
        }
    }
}

/// One set of points drawn with one seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw {
    /// The Hyperband bracket its points belong to, if any.
    pub bracket: Option<usize>,
    /// The seed of its draws.
    pub seed: u64,
    /// How many points it draws.
    pub points: usize,
}

/// The seed Hyperband's bracket `s` draws with: a hash of the search seed
/// and `s` alone.
fn bracket_seed(seed: u64, s: usize) -> u64 {
    let digest = Sha256::digest(format!("sweep hyperband;seed={seed};bracket={s}"));
    let mut word = [0u8; 8];
    word.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(word) >> 1
}

/// The quantile of point `point` for the setting `key`: a function of the
/// draw's seed, the point and the setting alone (a Sobol search gives each
/// setting the dimension of its place among all settings, so sampling
/// another setting too leaves its points where they were).
fn quantile(sampler: Method, seed: u64, point: usize, key: Key) -> f64 {
    match sampler {
        Method::Sobol => sobol::unit(seed, point, key as usize),
        _ => random::unit(seed, point, key.name()),
    }
}

/// The runs of a sampled search: the points of each of its draws, drawn
/// on top of `base`, each crossed with every seed in `seeds`, point by
/// point. `dims` must be in canonical key order.
pub fn sample(
    search: &Search,
    base: &RunParams,
    dims: &[Dimension],
    seeds: &[Value],
) -> Vec<RunParams> {
    let sampler = search.sampler().unwrap_or(Method::Random);
    let mut runs = Vec::with_capacity(search.samples * seeds.len());
    for draw in search.draws() {
        for point in 0..draw.points {
            let mut params = base.clone();
            params.bracket = draw.bracket;
            for d in dims {
                params.set(
                    d.key(),
                    d.value_at(quantile(sampler, draw.seed, point, d.key())),
                );
            }
            for seed in seeds {
                let mut run = params.clone();
                run.set(Key::Seed, seed.clone());
                runs.push(run);
            }
        }
    }
    runs
}

/// What a results folder keeps of a sampled search (in `grid.json`), so
/// reports know which settings were drawn and on what scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRecord {
    /// How points were chosen.
    pub method: Method,
    /// Points drawn.
    pub samples: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// Settings drawn from distributions, by name.
    pub drawn: Vec<(String, Distribution)>,
    /// Settings chosen from lists, by name.
    pub chosen: Vec<String>,
}

impl SearchRecord {
    /// The record of `search` over `dims`.
    pub fn new(search: &Search, dims: &[Dimension]) -> SearchRecord {
        SearchRecord {
            method: search.method,
            samples: search.samples,
            seed: search.seed,
            drawn: dims
                .iter()
                .filter_map(|d| match d {
                    Dimension::Drawn(k, dist) => Some((k.name().to_string(), *dist)),
                    Dimension::Chosen(_) => None,
                })
                .collect(),
            chosen: dims
                .iter()
                .filter_map(|d| match d {
                    Dimension::Chosen(a) => Some(a.key.name().to_string()),
                    Dimension::Drawn(..) => None,
                })
                .collect(),
        }
    }

    /// The distribution `key` was drawn from, if it was.
    pub fn distribution(&self, key: Key) -> Option<Distribution> {
        self.drawn
            .iter()
            .find(|(name, _)| name == key.name())
            .map(|(_, d)| *d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(method: Method, samples: usize) -> Search {
        Search {
            method,
            samples,
            seed: 7,
            halving: None,
        }
    }

    fn dims() -> Vec<Dimension> {
        let lambda = Distribution {
            law: Law::LogUniform,
            low: 1e-4,
            high: 1e-1,
        };
        let lr = Distribution {
            law: Law::LogUniform,
            low: 0.01,
            high: 1.0,
        };
        vec![
            Dimension::Drawn(Key::LearningRate, lr),
            Dimension::Drawn(Key::Lambda, lambda),
        ]
    }

    #[test]
    fn more_samples_keep_the_first_points() {
        let seeds = [Value::Int(0), Value::Int(1)];
        for method in [Method::Random, Method::Sobol] {
            let few = sample(&search(method, 8), &RunParams::default(), &dims(), &seeds);
            let many = sample(&search(method, 16), &RunParams::default(), &dims(), &seeds);
            assert_eq!(few.len(), 16);
            assert_eq!(few[..], many[..16], "{method}");
            assert_eq!(few[0].seed, 0);
            assert_eq!(few[1].seed, 1);
            assert_eq!(few[0].lambda, few[1].lambda);
        }
    }

    #[test]
    fn sobol_points_fill_each_interval_of_a_power_of_two_once() {
        let runs = sample(
            &search(Method::Sobol, 16),
            &RunParams::default(),
            &dims(),
            &[Value::Int(0)],
        );
        // Every dimension is stratified: one point in each of 16 equal
        // slices of log λ and of log lr.
        let strata = |xs: Vec<f64>, low: f64, high: f64| -> Vec<usize> {
            let mut s: Vec<usize> = xs
                .iter()
                .map(|x| ((x / low).ln() / (high / low).ln() * 16.0) as usize)
                .collect();
            s.sort_unstable();
            s
        };
        let all: Vec<usize> = (0..16).collect();
        assert_eq!(
            strata(runs.iter().map(|p| p.lambda).collect(), 1e-4, 1e-1),
            all
        );
        assert_eq!(
            strata(runs.iter().map(|p| p.learning_rate).collect(), 0.01, 1.0),
            all
        );
    }

    #[test]
    fn random_points_depend_on_the_setting_name_not_its_position() {
        let seeds = [Value::Int(0)];
        let both = sample(
            &search(Method::Random, 4),
            &RunParams::default(),
            &dims(),
            &seeds,
        );
        let lambda_only = sample(
            &search(Method::Random, 4),
            &RunParams::default(),
            &dims()[1..],
            &seeds,
        );
        for (a, b) in both.iter().zip(&lambda_only) {
            assert_eq!(a.lambda, b.lambda);
        }
        let other_seed = sample(
            &Search {
                seed: 8,
                ..search(Method::Random, 4)
            },
            &RunParams::default(),
            &dims(),
            &seeds,
        );
        assert_ne!(both[0].lambda, other_seed[0].lambda);
    }

    #[test]
    fn the_search_table_is_checked() {
        let parse = |text: &str| {
            let t: toml::Table = toml::from_str(text).unwrap();
            Search::parse(&t, 100_000).map_err(|e| e.message)
        };
        assert_eq!(
            parse("method = \"sobol\"\nsamples = 32\nseed = 3").unwrap(),
            Search {
                method: Method::Sobol,
                samples: 32,
                seed: 3,
                halving: None,
            }
        );
        assert!(
            parse("method = \"random\"")
                .unwrap_err()
                .contains("needs `samples`")
        );
        assert!(parse("samples = 4").unwrap_err().contains("a grid trains"));
        assert!(
            parse("method = \"hyperband\"")
                .unwrap_err()
                .contains("\"grid\", \"random\"")
        );
        assert!(
            parse("method = \"sobol\"\nsamples = 70000")
                .unwrap_err()
                .contains("from 1 to 65536")
        );
        assert!(
            parse("method = \"random\"\nsamples = 8\nseeds = 1")
                .unwrap_err()
                .contains("did you mean `seed`")
        );
        let note = Search {
            method: Method::Sobol,
            samples: 24,
            seed: 0,
            halving: None,
        }
        .note()
        .unwrap();
        assert!(note.contains("use 16 or 32"), "{note}");
    }
}
