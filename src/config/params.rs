//! The settings a run has, their names, sections, types and allowed ranges,
//! and [`RunParams`]: one fully resolved, checked point of the grid.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::nn::Init;

/// How minibatches are drawn within an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    /// A new random permutation each epoch, ⌊n / batch⌋ full batches.
    Shuffle,
    /// ⌊n / batch⌋ batches of indices drawn with replacement (the notebook's
    /// `np.random.choice`).
    Replacement,
}

impl fmt::Display for Sampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sampling::Shuffle => "shuffle",
            Sampling::Replacement => "replacement",
        })
    }
}

/// A setting a run can have, in the order grids are expanded (the last
/// varies fastest) and columns are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// Training images used (a seeded subset), absent = all.
    TrainSubset,
    /// Seed choosing the training subset.
    DataSeed,
    /// Number of hidden layers.
    HiddenLayers,
    /// Units per hidden layer.
    HiddenSize,
    /// Weight initialisation scheme.
    Init,
    /// Passes over the training data.
    Epochs,
    /// Minibatch size.
    BatchSize,
    /// SGD step size.
    LearningRate,
    /// Weight-decay strength λ.
    Lambda,
    /// Minibatch sampling scheme.
    Sampling,
    /// Evaluate every this many epochs (and after the last).
    EvalEvery,
    /// Seed of initialisation and batch order.
    Seed,
}

/// The kind of value a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number within bounds.
    Int {
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value (a network or grid beyond it cannot be
        /// trained on any machine, and sizes must not overflow).
        max: u64,
    },
    /// A finite real number, `≥ 0` or `> 0`.
    Float {
        /// Whether 0 itself is allowed.
        zero_ok: bool,
    },
    /// An initialisation scheme (`he`, `xavier`, `normal:σ`).
    Init,
    /// A sampling scheme (`shuffle`, `replacement`).
    Sampling,
}

impl Key {
    /// Every key in canonical order.
    pub const ALL: [Key; 12] = [
        Key::TrainSubset,
        Key::DataSeed,
        Key::HiddenLayers,
        Key::HiddenSize,
        Key::Init,
        Key::Epochs,
        Key::BatchSize,
        Key::LearningRate,
        Key::Lambda,
        Key::Sampling,
        Key::EvalEvery,
        Key::Seed,
    ];

    /// The name used in experiment files and CSV headers.
    pub fn name(self) -> &'static str {
        match self {
            Key::TrainSubset => "train_subset",
            Key::DataSeed => "data_seed",
            Key::HiddenLayers => "hidden_layers",
            Key::HiddenSize => "hidden_size",
            Key::Init => "init",
            Key::Epochs => "epochs",
            Key::BatchSize => "batch_size",
            Key::LearningRate => "learning_rate",
            Key::Lambda => "lambda",
            Key::Sampling => "sampling",
            Key::EvalEvery => "eval_every",
            Key::Seed => "seed",
        }
    }

    /// The key called `name`, if any.
    pub fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The table the setting belongs in (it may also stand at top level).
    pub fn section(self) -> &'static str {
        match self {
            Key::TrainSubset | Key::DataSeed => "data",
            Key::HiddenLayers | Key::HiddenSize | Key::Init => "model",
            _ => "train",
        }
    }

    /// Whether the setting may be listed in `[grid]`.
    pub fn sweepable(self) -> bool {
        self != Key::EvalEvery
    }

    /// The kind of value it takes.
    pub fn kind(self) -> Kind {
        match self {
            Key::DataSeed | Key::Seed => Kind::Int {
                min: 0,
                max: super::grid::MAX_WHOLE,
            },
            Key::HiddenLayers => Kind::Int { min: 0, max: 64 },
            Key::HiddenSize => Kind::Int {
                min: 1,
                max: 100_000,
            },
            Key::TrainSubset | Key::BatchSize => Kind::Int {
                min: 1,
                max: 100_000_000,
            },
            Key::Epochs | Key::EvalEvery => Kind::Int {
                min: 1,
                max: 1_000_000,
            },
            Key::LearningRate => Kind::Float { zero_ok: false },
            Key::Lambda => Kind::Float { zero_ok: true },
            Key::Init => Kind::Init,
            Key::Sampling => Kind::Sampling,
        }
    }

    /// Parses and range-checks one TOML value for this key. The error is a
    /// sentence without location; the caller adds file and line.
    pub fn parse(self, value: &toml::Value) -> Result<Value, String> {
        let name = self.name();
        match self.kind() {
            Kind::Int { min, max } => {
                let n = match value {
                    toml::Value::Integer(n) => *n,
                    toml::Value::Float(f)
                        if f.fract() == 0.0 && f.is_finite() && f.abs() <= max as f64 =>
                    {
                        *f as i64
                    }
                    toml::Value::Float(f) if f.fract() == 0.0 && f.is_finite() => {
                        return Err(format!("`{name}` must be ≤ {max}, got {f:e}"));
                    }
                    other => {
                        return Err(format!(
                            "`{name}` must be a whole number, got {} {other}",
                            other.type_str()
                        ));
                    }
                };
                if n < min as i64 {
                    return Err(format!("`{name}` must be ≥ {min}, got {n}"));
                }
                if n as u64 > max {
                    return Err(format!("`{name}` must be ≤ {max}, got {n}"));
                }
                Ok(Value::Int(n as u64))
            }
            Kind::Float { zero_ok } => {
                let x = match value {
                    toml::Value::Float(f) => *f,
                    toml::Value::Integer(n) => *n as f64,
                    other => {
                        return Err(format!(
                            "`{name}` must be a number, got {} {other}",
                            other.type_str()
                        ));
                    }
                };
                if !x.is_finite() {
                    return Err(format!("`{name}` must be finite, got {x}"));
                }
                match zero_ok {
                    true if x < 0.0 => Err(format!("`{name}` must be ≥ 0, got {x}")),
                    false if x <= 0.0 => Err(format!("`{name}` must be > 0, got {x}")),
                    // −0 and 0 are the same setting (and the same run id).
                    _ => Ok(Value::Float(if x == 0.0 { 0.0 } else { x })),
                }
            }
            Kind::Init => match value {
                toml::Value::String(s) => s
                    .parse::<Init>()
                    .map(Value::Init)
                    .map_err(|e| format!("`{name}`: {e}")),
                other => Err(format!(
                    "`{name}` must be a string such as \"he\", got {} {other}",
                    other.type_str()
                )),
            },
            Kind::Sampling => match value.as_str() {
                Some("shuffle") => Ok(Value::Sampling(Sampling::Shuffle)),
                Some("replacement") => Ok(Value::Sampling(Sampling::Replacement)),
                _ => Err(format!(
                    "`{name}` must be \"shuffle\" or \"replacement\", got {value}"
                )),
            },
        }
    }
}

/// A checked value of one setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A whole number.
    Int(u64),
    /// A real number.
    Float(f64),
    /// An initialisation scheme.
    Init(Init),
    /// A sampling scheme.
    Sampling(Sampling),
}

impl fmt::Display for Value {
    /// The canonical text of a value: shortest round-trip for floats, so
    /// `0.001` prints as `0.001` in tables, CSVs and run ids.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Init(i) => write!(f, "{i}"),
            Value::Sampling(s) => write!(f, "{s}"),
        }
    }
}

/// Every setting of one run, resolved and checked. A setting missing from a
/// stored `params.json` (written before it existed) takes its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunParams {
    /// Training images used; `None` means the whole training split.
    pub train_subset: Option<usize>,
    /// Seed choosing the training subset.
    pub data_seed: u64,
    /// Number of hidden layers.
    pub hidden_layers: usize,
    /// Units per hidden layer.
    pub hidden_size: usize,
    /// Weight initialisation, as text (`he`, `xavier`, `normal:0.01`).
    pub init: String,
    /// Passes over the training data.
    pub epochs: usize,
    /// Minibatch size.
    pub batch_size: usize,
    /// SGD step size.
    pub learning_rate: f64,
    /// Weight-decay strength λ.
    pub lambda: f64,
    /// Minibatch sampling scheme.
    pub sampling: Sampling,
    /// Evaluate every this many epochs (and after the last).
    pub eval_every: usize,
    /// Seed of initialisation and batch order.
    pub seed: u64,
}

impl Default for RunParams {
    /// The defaults of every setting an experiment file leaves out.
    fn default() -> RunParams {
        RunParams {
            train_subset: None,
            data_seed: 0,
            hidden_layers: 2,
            hidden_size: 200,
            init: "he".into(),
            epochs: 10,
            batch_size: 100,
            learning_rate: 0.1,
            lambda: 0.0,
            sampling: Sampling::Shuffle,
            eval_every: 1,
            seed: 0,
        }
    }
}

impl RunParams {
    /// Sets `key` to a value checked by [`Key::parse`].
    pub fn set(&mut self, key: Key, value: Value) {
        let int = |v: Value| match v {
            Value::Int(n) => n,
            other => unreachable!("{key:?} given {other:?}"),
        };
        match (key, value) {
            (Key::Init, Value::Init(i)) => self.init = i.to_string(),
            (Key::Sampling, Value::Sampling(s)) => self.sampling = s,
            (Key::LearningRate, Value::Float(x)) => self.learning_rate = x,
            (Key::Lambda, Value::Float(x)) => self.lambda = x,
            (Key::TrainSubset, v) => self.train_subset = Some(int(v) as usize),
            (Key::DataSeed, v) => self.data_seed = int(v),
            (Key::HiddenLayers, v) => self.hidden_layers = int(v) as usize,
            (Key::HiddenSize, v) => self.hidden_size = int(v) as usize,
            (Key::Epochs, v) => self.epochs = int(v) as usize,
            (Key::BatchSize, v) => self.batch_size = int(v) as usize,
            (Key::EvalEvery, v) => self.eval_every = int(v) as usize,
            (Key::Seed, v) => self.seed = int(v),
            (key, value) => unreachable!("{key:?} given {value:?}"),
        }
    }

    /// The text of `key`'s value, as shown in tables and CSV cells
    /// (`train_subset` is empty when the whole split is used).
    pub fn text(&self, key: Key) -> String {
        match key {
            Key::TrainSubset => self.train_subset.map_or(String::new(), |n| n.to_string()),
            Key::DataSeed => self.data_seed.to_string(),
            Key::HiddenLayers => self.hidden_layers.to_string(),
            Key::HiddenSize => self.hidden_size.to_string(),
            Key::Init => self.init.clone(),
            Key::Epochs => self.epochs.to_string(),
            Key::BatchSize => self.batch_size.to_string(),
            Key::LearningRate => Value::Float(self.learning_rate).to_string(),
            Key::Lambda => Value::Float(self.lambda).to_string(),
            Key::Sampling => self.sampling.to_string(),
            Key::EvalEvery => self.eval_every.to_string(),
            Key::Seed => self.seed.to_string(),
        }
    }

    /// The value of a numeric setting as a number, for plotting; `None` for
    /// `init` and `sampling`, and for `train_subset` when all images are used.
    pub fn number(&self, key: Key) -> Option<f64> {
        match key {
            Key::TrainSubset => self.train_subset.map(|n| n as f64),
            Key::DataSeed => Some(self.data_seed as f64),
            Key::HiddenLayers => Some(self.hidden_layers as f64),
            Key::HiddenSize => Some(self.hidden_size as f64),
            Key::Epochs => Some(self.epochs as f64),
            Key::BatchSize => Some(self.batch_size as f64),
            Key::LearningRate => Some(self.learning_rate),
            Key::Lambda => Some(self.lambda),
            Key::EvalEvery => Some(self.eval_every as f64),
            Key::Seed => Some(self.seed as f64),
            Key::Init | Key::Sampling => None,
        }
    }

    /// The initialisation scheme (the text was checked when it was set).
    pub fn init_scheme(&self) -> Init {
        self.init.parse().unwrap_or(Init::He)
    }

    /// Layer widths for inputs of `pixels` features and `classes` outputs.
    pub fn layer_sizes(&self, pixels: usize, classes: usize) -> Vec<usize> {
        let mut sizes = vec![pixels];
        sizes.extend(std::iter::repeat_n(self.hidden_size, self.hidden_layers));
        sizes.push(classes);
        sizes
    }

    /// `key=value` pairs of the settings that differ from their defaults, in
    /// canonical order: the input of a run's id.
    pub fn canonical_changes(&self) -> String {
        let defaults = RunParams::default();
        Key::ALL
            .iter()
            .filter(|&&k| self.text(k) != defaults.text(k))
            .map(|&k| format!("{}={}", k.name(), self.text(k)))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// `key=value` pairs of every setting: what identifies a configuration,
    /// and the input of sweep 0.1's run ids.
    pub fn canonical(&self) -> String {
        Key::ALL
            .iter()
            .map(|&k| format!("{}={}", k.name(), self.text(k)))
            .collect::<Vec<_>>()
            .join(";")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_accepted_where_floats_are_expected() {
        assert_eq!(
            Key::Lambda.parse(&toml::Value::Integer(0)).unwrap(),
            Value::Float(0.0)
        );
    }

    #[test]
    fn range_errors_name_the_key_and_the_rule() {
        let err = Key::Lambda.parse(&toml::Value::Float(-1.0)).unwrap_err();
        assert_eq!(err, "`lambda` must be ≥ 0, got -1");
        let err = Key::LearningRate
            .parse(&toml::Value::Float(0.0))
            .unwrap_err();
        assert_eq!(err, "`learning_rate` must be > 0, got 0");
        let err = Key::LearningRate
            .parse(&toml::Value::Float(f64::INFINITY))
            .unwrap_err();
        assert_eq!(err, "`learning_rate` must be finite, got inf");
        let err = Key::HiddenSize.parse(&toml::Value::Integer(0)).unwrap_err();
        assert_eq!(err, "`hidden_size` must be ≥ 1, got 0");
    }

    #[test]
    fn type_errors_say_what_was_found() {
        let err = Key::Epochs
            .parse(&toml::Value::String("ten".into()))
            .unwrap_err();
        assert_eq!(err, "`epochs` must be a whole number, got string \"ten\"");
    }

    #[test]
    fn floats_print_in_shortest_form() {
        let p = RunParams {
            lambda: 0.001,
            ..RunParams::default()
        };
        assert_eq!(p.text(Key::Lambda), "0.001");
        assert!(p.canonical().contains("lambda=0.001;"));
    }
}
