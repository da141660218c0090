//! Every setting a run has, declared once in [`settings!`]'s table — name,
//! table, type and bounds, default, whether it can be swept, labels, plot
//! hints, and when it applies — and [`RunParams`]: one fully resolved,
//! checked point of the grid. Parsing, CSV columns, plan output, run ids and
//! plot axes all read that table; adding a setting is one row plus its use.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::choice::choice_enum;
use crate::nn::Init;
use crate::nn::loss::{Loss, LossSettings};
use crate::nn::optim::{Decay, Method, OptimizerSettings};
use crate::nn::schedule::{LrSchedule, Schedule};

choice_enum! {
    /// How minibatches are drawn within an epoch.
    pub enum Sampling {
        /// A new random permutation each epoch, ⌊n / batch⌋ full batches.
        Shuffle = "shuffle",
        /// ⌊n / batch⌋ batches of indices drawn with replacement (the
        /// notebook's `np.random.choice`).
        Replacement = "replacement",
    }
}

choice_enum! {
    /// Which generalization measures a run records (Jiang et al., ICLR
    /// 2020; [`crate::nn::measures`]).
    pub enum MeasureSet {
        /// Norms, distance from initialisation, path-norm, margin and steps:
        /// one forward pass over the images measured.
        Norms = "norms",
        /// Those and the two flatness σ (each a bisection of up to 15 steps
        /// of 10 noisy passes over the images measured).
        All = "all",
        /// None.
        None = "none",
    }
}

choice_enum! {
    /// How pixel bytes become network inputs. The statistics are those of
    /// the run's training images, applied unchanged to validation and test
    /// images.
    pub enum InputScaling {
        /// `byte / 255`, in [0, 1] (PyTorch's `ToTensor`).
        Raw = "raw",
        /// `byte / 255` minus the per-pixel mean of the training images.
        Centered = "centered",
        /// Centred, then divided by the per-pixel standard deviation of the
        /// training images (pixels that never change keep a divisor of 1).
        Standardized = "standardized",
    }
}

choice_enum! {
    /// How a corrupted training label is replaced.
    pub enum NoiseMode {
        /// By a uniformly drawn *other* class (Nakkiran et al.'s label
        /// noise): every corrupted label is wrong.
        WrongClass = "wrong_class",
        /// By a uniformly drawn class, possibly the true one (Zhang et al.'s
        /// random labels): about 1 in 10 corrupted labels stays right.
        Uniform = "uniform",
    }
}

choice_enum! {
    /// How the pixels of the training images are corrupted (Zhang et al.,
    /// ICLR 2017). Validation and test images are never touched.
    pub enum InputCorruption {
        /// The images as they are.
        None = "none",
        /// One random permutation of the pixel positions, the same for
        /// every training image.
        ShuffledPixels = "shuffled_pixels",
        /// A different random permutation of the pixels for every training
        /// image.
        RandomPixels = "random_pixels",
        /// Every pixel drawn from a Gaussian with the mean and variance of
        /// all pixels of the training images.
        Gaussian = "gaussian",
    }
}

choice_enum! {
    /// The validation metric early stopping watches.
    pub enum StopMetric {
        /// Mean loss on the validation images; lower is better.
        ValLoss = "val_loss",
        /// Accuracy on the validation images; higher is better.
        ValAcc = "val_acc",
    }
}

/// When to stop a run early: after `patience` evaluations in a row without
/// an improvement of more than `min_delta` in `metric` over the best so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// The validation metric watched.
    pub metric: StopMetric,
    /// Evaluations without improvement before the run stops (≥ 1).
    pub patience: usize,
    /// The smallest change that counts as an improvement (≥ 0).
    pub min_delta: f64,
}

impl fmt::Display for EarlyStopping {
    /// The TOML inline table that sets it, e.g.
    /// `{ metric = "val_loss", patience = 5, min_delta = 0 }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{ metric = \"{}\", patience = {}, min_delta = {} }}",
            self.metric, self.patience, self.min_delta
        )
    }
}

/// Most evaluations `eval_every = { log = n }` may ask for.
pub const MAX_LOG_EVALUATIONS: u64 = 10_000;

/// When a run is evaluated (`eval_every`), always after its last epoch as
/// well: every k epochs, or at about n epochs spread evenly in log epoch
/// from the first to the last, so a 20 000-epoch run is seen early and
/// often at first and not 20 000 times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalEvery {
    /// Every k epochs: `eval_every = k`.
    Epochs(usize),
    /// Epochs `round(E^(i/(n−1)))` for i = 0 … n − 1 of a run of E epochs
    /// (duplicates fall together): `eval_every = { log = n }`.
    Log(usize),
}

impl EvalEvery {
    /// Whether epoch `epoch` (1-based) of a run of `epochs` is evaluated.
    pub fn evaluates(self, epoch: usize, epochs: usize) -> bool {
        if epoch == epochs {
            return true;
        }
        match self {
            EvalEvery::Epochs(k) => epoch.is_multiple_of(k),
            EvalEvery::Log(n) => (0..n).any(|i| log_spaced(i, n, epochs) == epoch),
        }
    }

    /// How many epochs of a run of `epochs` are evaluated.
    pub fn count(self, epochs: usize) -> usize {
        match self {
            EvalEvery::Epochs(k) => epochs.div_ceil(k),
            EvalEvery::Log(n) => {
                let mut at: Vec<usize> = (0..n).map(|i| log_spaced(i, n, epochs)).collect();
                at.push(epochs);
                at.sort_unstable();
                at.dedup();
                at.len()
            }
        }
    }
}

/// The i-th of n epochs evenly spaced in log epoch from 1 to `epochs`.
fn log_spaced(i: usize, n: usize, epochs: usize) -> usize {
    if n < 2 {
        return epochs;
    }
    let fraction = i as f64 / (n - 1) as f64;
    ((epochs as f64).ln() * fraction).exp().round() as usize
}

impl fmt::Display for EvalEvery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalEvery::Epochs(k) => write!(f, "{k}"),
            EvalEvery::Log(n) => write!(f, "{{ log = {n} }}"),
        }
    }
}

/// `params.json` keeps `eval_every` as a number (as every earlier version
/// wrote it) or as `{ "log": n }`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum EvalEveryRepr {
    Epochs(usize),
    Log { log: usize },
}

impl Serialize for EvalEvery {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            EvalEvery::Epochs(k) => EvalEveryRepr::Epochs(k),
            EvalEvery::Log(n) => EvalEveryRepr::Log { log: n },
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for EvalEvery {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<EvalEvery, D::Error> {
        Ok(match EvalEveryRepr::deserialize(deserializer)? {
            EvalEveryRepr::Epochs(k) => EvalEvery::Epochs(k),
            EvalEveryRepr::Log { log } => EvalEvery::Log(log),
        })
    }
}

impl SettingType for EvalEvery {
    fn from_value(value: Value) -> EvalEvery {
        match value {
            Value::EvalEvery(e) => e,
            Value::Int(k) => EvalEvery::Epochs(k as usize),
            other => unreachable!("`eval_every` given {other:?}"),
        }
    }
    fn text(&self) -> String {
        self.to_string()
    }
    fn number(&self) -> Option<f64> {
        match self {
            EvalEvery::Epochs(k) => Some(*k as f64),
            EvalEvery::Log(_) => None,
        }
    }
}

/// `eval_every = k` (1 … 1 000 000) or `eval_every = { log = n }`
/// (2 … [`MAX_LOG_EVALUATIONS`]).
fn parse_eval_every(name: &str, value: &toml::Value) -> Result<EvalEvery, String> {
    let Some(table) = value.as_table() else {
        return parse_int(name, value, 1, 1_000_000).map(|k| EvalEvery::Epochs(k as usize));
    };
    if let Some(unknown) = table.keys().find(|k| k.as_str() != "log") {
        return Err(format!(
            "unknown key `{unknown}` in `{name}`; it takes a number of epochs, `{name} = 5`, \
             or `{name} = {{ log = 60 }}` for about 60 evaluations spread evenly in log epoch"
        ));
    }
    let Some(n) = table.get("log") else {
        return Err(format!(
            "`{name}` is an empty table; write `{name} = {{ log = 60 }}` for about 60 \
             evaluations spread evenly in log epoch, or a number of epochs"
        ));
    };
    parse_int(&format!("{name}.log"), n, 2, MAX_LOG_EVALUATIONS).map(|n| EvalEvery::Log(n as usize))
}

/// The kind of value a setting takes, with its bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A whole number within bounds.
    Int {
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value (a network or grid beyond it cannot be
        /// trained on any machine, and sizes must not overflow).
        max: u64,
    },
    /// A finite real number within bounds.
    Float {
        /// Lower bound.
        min: f64,
        /// Whether the lower bound itself is excluded.
        min_open: bool,
        /// Upper bound (`f64::INFINITY` for none).
        max: f64,
        /// Whether the upper bound itself is excluded.
        max_open: bool,
    },
    /// An initialisation scheme (`he`, `xavier`, `normal:σ`).
    Init,
    /// One of a few words.
    Choice(&'static [&'static str]),
    /// A list of hidden-layer widths, `[500, 300]`.
    Widths,
    /// An early-stopping table `{ metric, patience, min_delta }`.
    EarlyStopping,
    /// When to evaluate: every k epochs, or `{ log = n }`.
    EvalEvery,
}

/// `≥ 0`, the bounds of most real-valued settings.
const NON_NEGATIVE: Kind = Kind::Float {
    min: 0.0,
    min_open: false,
    max: f64::INFINITY,
    max_open: false,
};
/// `> 0`.
const POSITIVE: Kind = Kind::Float {
    min: 0.0,
    min_open: true,
    max: f64::INFINITY,
    max_open: false,
};
/// `[0, 1)`: momentum, Adam's β, dropout rates.
const BELOW_ONE: Kind = Kind::Float {
    min: 0.0,
    min_open: false,
    max: 1.0,
    max_open: true,
};

/// How a setting can be drawn along a plot's x axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotAxis {
    /// Not as a number (a category, a seed, a list).
    Categorical,
    /// On a linear scale.
    Linear,
    /// On a log scale when its values span a factor of 4 or more.
    Log,
}

/// When a setting has an effect: always, or only for some values of the
/// others (momentum only for momentum optimizers). A setting that does not
/// apply to a run is left at its default, out of the run's id, and written
/// as an empty cell.
#[derive(Clone, Copy)]
pub struct Applies {
    /// Whether it applies to these settings.
    pub test: fn(&RunParams) -> bool,
    /// The condition in words, for messages: `optimizer = "adam" or "adamw"`.
    pub condition: &'static str,
}

/// Everything declared about one setting.
#[derive(Clone, Copy)]
pub struct Spec {
    /// The name in experiment files and CSV headers.
    pub name: &'static str,
    /// The table it belongs in (it may also stand at top level).
    pub section: &'static str,
    /// The values it takes.
    pub kind: Kind,
    /// Whether it may be listed in `[grid]`.
    pub sweepable: bool,
    /// Axis titles: "weight decay λ".
    pub label: &'static str,
    /// Legends and plot titles: "λ".
    pub short: &'static str,
    /// Progress lines: `lr=0.1` (no spaces).
    pub tag: &'static str,
    /// How plots may draw it.
    pub plot: PlotAxis,
    /// When it has an effect; `None` for always.
    pub applies: Option<Applies>,
}

/// A conversion between a [`RunParams`] field's type and checked [`Value`]s.
pub trait SettingType: Sized {
    /// The field's value for a value checked by [`Key::parse`].
    fn from_value(value: Value) -> Self;
    /// Its text in tables, CSV cells and run ids.
    fn text(&self) -> String;
    /// Its size as a number, for plotting; `None` when it has none.
    fn number(&self) -> Option<f64> {
        None
    }
}

impl SettingType for usize {
    fn from_value(value: Value) -> usize {
        value.int() as usize
    }
    fn text(&self) -> String {
        self.to_string()
    }
    fn number(&self) -> Option<f64> {
        Some(*self as f64)
    }
}

impl SettingType for u64 {
    fn from_value(value: Value) -> u64 {
        value.int()
    }
    fn text(&self) -> String {
        self.to_string()
    }
    fn number(&self) -> Option<f64> {
        Some(*self as f64)
    }
}

impl SettingType for f64 {
    fn from_value(value: Value) -> f64 {
        match value {
            Value::Float(x) => x,
            other => unreachable!("a real setting given {other:?}"),
        }
    }
    /// Shortest round-trip text, so `0.001` prints as `0.001` everywhere.
    fn text(&self) -> String {
        self.to_string()
    }
    fn number(&self) -> Option<f64> {
        Some(*self)
    }
}

/// An optional setting (`train_subset`, `corruption_seed`, `max_norm`,
/// `hidden`, `early_stopping`): absent is an empty cell.
impl<T: SettingType> SettingType for Option<T> {
    fn from_value(value: Value) -> Option<T> {
        Some(T::from_value(value))
    }
    fn text(&self) -> String {
        self.as_ref().map_or(String::new(), T::text)
    }
    fn number(&self) -> Option<f64> {
        self.as_ref().and_then(T::number)
    }
}

/// `init`, written as its canonical text (`normal:0.01`).
impl SettingType for Init {
    fn from_value(value: Value) -> Init {
        match &value {
            Value::Text(text) => text.parse().unwrap_or_else(|e| unreachable!("{e}")),
            other => unreachable!("`init` given {other:?}"),
        }
    }
    fn text(&self) -> String {
        self.to_string()
    }
}

/// `hidden`'s widths, written `[500, 300]`.
impl SettingType for Vec<usize> {
    fn from_value(value: Value) -> Vec<usize> {
        match value {
            Value::Widths(w) => w,
            other => unreachable!("`hidden` given {other:?}"),
        }
    }
    fn text(&self) -> String {
        widths_text(self)
    }
}

/// An early-stopping rule, written as its TOML table.
impl SettingType for EarlyStopping {
    fn from_value(value: Value) -> EarlyStopping {
        match value {
            Value::EarlyStopping(e) => e,
            other => unreachable!("`early_stopping` given {other:?}"),
        }
    }
    fn text(&self) -> String {
        self.to_string()
    }
}

/// Settings that take one of a few words.
macro_rules! word_settings {
    ($($ty:ty),+) => {$(
        impl SettingType for $ty {
            fn from_value(value: Value) -> $ty {
                match &value {
                    Value::Text(word) => word.parse().unwrap_or_else(|e| unreachable!("{e}")),
                    other => unreachable!("a word setting given {other:?}"),
                }
            }
            fn text(&self) -> String {
                self.word().to_string()
            }
        }
    )+};
}

word_settings!(
    Sampling,
    Method,
    Decay,
    Schedule,
    InputScaling,
    Loss,
    NoiseMode,
    InputCorruption,
    MeasureSet
);

/// `[500, 300]`: how widths are written in files and cells (text that no
/// spreadsheet reads as a number or a date).
fn widths_text(widths: &[usize]) -> String {
    let inner: Vec<String> = widths.iter().map(|w| w.to_string()).collect();
    format!("[{}]", inner.join(", "))
}

/// Declares every setting: the [`Key`] enum, its [`Spec`] table, the
/// [`RunParams`] struct with its defaults, and the generic accessors.
///
/// **Append rows, never insert or reorder.** A setting's position is part
/// of stored results: it is its dimension in every Sobol sequence (moving a
/// row moves every Sobol experiment's points), the order grids expand in
/// and the order of the settings' columns in `runs.csv`, `epochs.csv` and
/// `summary.csv`. A test pins the order. A new setting's default must
/// reproduce what sweep did before it existed: run ids leave defaults out.
macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])+
        $variant:ident $field:ident: $ty:ty = $default:expr,
        { $($spec:tt)* }
    )+) => {
        /// A setting a run can have, in the order grids are expanded (the
        /// last varies fastest) and columns are written.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Key {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl Key {
            /// Every key in canonical order.
            pub const ALL: &'static [Key] = &[$(Key::$variant),+];

            /// Everything declared about the setting.
            pub fn spec(self) -> &'static Spec {
                const SPECS: &[Spec] = &[$(Spec { name: stringify!($field), $($spec)* }),+];
                &SPECS[self as usize]
            }
        }

        /// Every setting of one run, resolved and checked. A setting missing
        /// from a stored `params.json` (written before it existed) takes its
        /// default.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct RunParams {
            $( $(#[doc = $doc])+ pub $field: $ty, )+
        }

        impl Default for RunParams {
            /// The defaults of every setting an experiment file leaves out.
            /// They must never change: a run's id leaves defaults out.
            fn default() -> RunParams {
                RunParams { $( $field: $default, )+ }
            }
        }

        impl RunParams {
            /// Sets `key` to a value checked by [`Key::parse`].
            pub fn set(&mut self, key: Key, value: Value) {
                match key { $( Key::$variant => self.$field = SettingType::from_value(value), )+ }
            }

            /// Resets `key` to its default.
            fn reset(&mut self, key: Key) {
                let defaults = RunParams::default();
                match key { $( Key::$variant => self.$field = defaults.$field, )+ }
            }

            /// The text of `key`'s value whether or not it applies.
            pub fn raw_text(&self, key: Key) -> String {
                match key { $( Key::$variant => SettingType::text(&self.$field), )+ }
            }

            /// The value of `key` as a number, whether or not it applies.
            fn raw_number(&self, key: Key) -> Option<f64> {
                match key { $( Key::$variant => SettingType::number(&self.$field), )+ }
            }
        }
    };
}

/// Applies only when some training labels or images are corrupted.
const CORRUPTED_ONLY: Option<Applies> = Some(Applies {
    test: |p| p.label_noise > 0.0 || p.input_corruption != InputCorruption::None,
    condition: "label_noise > 0 or input_corruption is not \"none\"",
});
/// Applies only when some training labels are corrupted.
const NOISY_ONLY: Option<Applies> = Some(Applies {
    test: |p| p.label_noise > 0.0,
    condition: "label_noise > 0",
});
/// Applies only to the momentum optimizers.
const MOMENTUM_ONLY: Option<Applies> = Some(Applies {
    test: |p| p.optimizer.uses_momentum(),
    condition: "optimizer = \"momentum\" or \"nesterov\"",
});
/// Applies only to Adam.
const ADAM_ONLY: Option<Applies> = Some(Applies {
    test: |p| p.optimizer.is_adam(),
    condition: "optimizer = \"adam\" or \"adamw\"",
});
/// Applies only to the step schedule.
const STEP_ONLY: Option<Applies> = Some(Applies {
    test: |p| p.lr_schedule == Schedule::Step,
    condition: "lr_schedule = \"step\"",
});
/// Applies only when the run records measures.
const MEASURED: Option<Applies> = Some(Applies {
    test: |p| p.measures != MeasureSet::None,
    condition: "measures is not \"none\"",
});
/// The equal-width shorthand applies when `hidden` is not given.
const SHORTHAND_ONLY: Option<Applies> = Some(Applies {
    test: |p| p.hidden.is_none(),
    condition: "`hidden` is not given",
});

settings! {
    /// Training images used (a seeded subset), absent = all.
    TrainSubset train_subset: Option<usize> = None, {
        section: "data", kind: Kind::Int { min: 1, max: 100_000_000 }, sweepable: true,
        label: "training images", short: "training images", tag: "subset", plot: PlotAxis::Log, applies: None,
    }
    /// Training images held out for validation (chosen by `data_seed`,
    /// disjoint from the training images), 0 = none.
    Validation validation: usize = 0, {
        section: "data", kind: Kind::Int { min: 0, max: 100_000_000 }, sweepable: true,
        label: "validation images", short: "validation images", tag: "validation", plot: PlotAxis::Linear,
        applies: None,
    }
    /// How pixels are scaled: raw, centered or standardized.
    Inputs inputs: InputScaling = InputScaling::Raw, {
        section: "data", kind: Kind::Choice(InputScaling::WORDS), sweepable: true,
        label: "input scaling", short: "inputs", tag: "inputs", plot: PlotAxis::Categorical,
        applies: None,
    }
    /// Fraction of the training images whose label is replaced (chosen by
    /// `corruption_seed`, else `data_seed`); validation and test labels are
    /// never touched.
    LabelNoise label_noise: f64 = 0.0, {
        section: "data", kind: Kind::Float { min: 0.0, min_open: false, max: 1.0, max_open: false },
        sweepable: true, label: "label noise (fraction of training labels replaced)",
        short: "label noise", tag: "noise", plot: PlotAxis::Linear, applies: None,
    }
    /// How a corrupted label is replaced: wrong_class or uniform.
    LabelNoiseMode label_noise_mode: NoiseMode = NoiseMode::WrongClass, {
        section: "data", kind: Kind::Choice(NoiseMode::WORDS), sweepable: true,
        label: "label noise mode", short: "noise mode", tag: "noise_mode",
        plot: PlotAxis::Categorical, applies: NOISY_ONLY,
    }
    /// How the pixels of the training images are corrupted: none,
    /// shuffled_pixels, random_pixels or gaussian.
    InputCorruption input_corruption: InputCorruption = InputCorruption::None, {
        section: "data", kind: Kind::Choice(InputCorruption::WORDS), sweepable: true,
        label: "input corruption", short: "input corruption", tag: "corruption",
        plot: PlotAxis::Categorical, applies: None,
    }
    /// Seed of the label and input corruption, when it should differ from
    /// `data_seed`.
    CorruptionSeed corruption_seed: Option<u64> = None, {
        section: "data", kind: Kind::Int { min: 0, max: super::MAX_WHOLE }, sweepable: true,
        label: "corruption seed", short: "corruption seed", tag: "corruption_seed",
        plot: PlotAxis::Categorical, applies: CORRUPTED_ONLY,
    }
    /// Seed choosing the training subset and the validation images.
    DataSeed data_seed: u64 = 0, {
        section: "data", kind: Kind::Int { min: 0, max: super::MAX_WHOLE }, sweepable: true,
        label: "data seed", short: "data seed", tag: "data_seed", plot: PlotAxis::Categorical, applies: None,
    }
    /// Width of every hidden layer, input side first (`[500, 300]`);
    /// absent = `hidden_layers` layers of `hidden_size`.
    Hidden hidden: Option<Vec<usize>> = None, {
        section: "model", kind: Kind::Widths, sweepable: true,
        label: "hidden widths", short: "widths", tag: "hidden", plot: PlotAxis::Categorical, applies: None,
    }
    /// Number of hidden layers (all of `hidden_size` units).
    HiddenLayers hidden_layers: usize = 2, {
        section: "model", kind: Kind::Int { min: 0, max: MAX_LAYERS as u64 }, sweepable: true,
        label: "hidden layers", short: "depth", tag: "depth", plot: PlotAxis::Linear, applies: SHORTHAND_ONLY,
    }
    /// Units per hidden layer.
    HiddenSize hidden_size: usize = 200, {
        section: "model", kind: Kind::Int { min: 1, max: MAX_WIDTH }, sweepable: true,
        label: "hidden units per layer", short: "width", tag: "width", plot: PlotAxis::Log,
        applies: SHORTHAND_ONLY,
    }
    /// Weight initialisation scheme (`he`, `xavier`, `normal:σ`).
    Init init: Init = Init::He, {
        section: "model", kind: Kind::Init, sweepable: true,
        label: "initialisation", short: "init", tag: "init", plot: PlotAxis::Categorical, applies: None,
    }
    /// Passes over the training data.
    Epochs epochs: usize = 10, {
        section: "train", kind: Kind::Int { min: 1, max: 1_000_000 }, sweepable: true,
        label: "epochs", short: "epochs", tag: "epochs", plot: PlotAxis::Linear, applies: None,
    }
    /// Minibatch size.
    BatchSize batch_size: usize = 100, {
        section: "train", kind: Kind::Int { min: 1, max: 100_000_000 }, sweepable: true,
        label: "batch size", short: "batch size", tag: "batch", plot: PlotAxis::Log, applies: None,
    }
    /// The loss trained on and reported: cross_entropy or mse.
    Loss loss: Loss = Loss::CrossEntropy, {
        section: "train", kind: Kind::Choice(Loss::WORDS), sweepable: true,
        label: "loss", short: "loss", tag: "loss", plot: PlotAxis::Categorical, applies: None,
    }
    /// The update rule: sgd, momentum, nesterov, adam or adamw.
    Optimizer optimizer: Method = Method::Sgd, {
        section: "train", kind: Kind::Choice(Method::WORDS), sweepable: true,
        label: "optimizer", short: "optimizer", tag: "optimizer", plot: PlotAxis::Categorical, applies: None,
    }
    /// Step size (after warm-up, before any decay of the schedule).
    LearningRate learning_rate: f64 = 0.1, {
        section: "train", kind: POSITIVE, sweepable: true,
        label: "learning rate", short: "learning rate", tag: "lr", plot: PlotAxis::Log, applies: None,
    }
    /// How the learning rate changes over epochs: constant, step or cosine.
    LrSchedule lr_schedule: Schedule = Schedule::Constant, {
        section: "train", kind: Kind::Choice(Schedule::WORDS), sweepable: true,
        label: "learning-rate schedule", short: "schedule", tag: "lr_schedule", plot: PlotAxis::Categorical,
        applies: None,
    }
    /// Epochs between two steps of the `step` schedule.
    LrStepEpochs lr_step_epochs: usize = 10, {
        section: "train", kind: Kind::Int { min: 1, max: 1_000_000 }, sweepable: true,
        label: "epochs per learning-rate step", short: "step epochs", tag: "lr_step_epochs", plot: PlotAxis::Linear,
        applies: STEP_ONLY,
    }
    /// Factor of each step of the `step` schedule.
    LrStepFactor lr_step_factor: f64 = 0.1, {
        section: "train", kind: Kind::Float { min: 0.0, min_open: true, max: 1.0, max_open: false },
        sweepable: true, label: "learning-rate step factor", short: "step factor", tag: "lr_step_factor",
        plot: PlotAxis::Log, applies: STEP_ONLY,
    }
    /// Epochs of linear learning-rate warm-up before the schedule.
    WarmupEpochs warmup_epochs: usize = 0, {
        section: "train", kind: Kind::Int { min: 0, max: 1_000_000 }, sweepable: true,
        label: "warm-up epochs", short: "warm-up", tag: "warmup_epochs", plot: PlotAxis::Linear, applies: None,
    }
    /// Momentum μ of `momentum` and `nesterov`.
    Momentum momentum: f64 = 0.9, {
        section: "train", kind: BELOW_ONE, sweepable: true,
        label: "momentum μ", short: "μ", tag: "momentum", plot: PlotAxis::Linear, applies: MOMENTUM_ONLY,
    }
    /// Adam's β₁.
    Beta1 beta1: f64 = 0.9, {
        section: "train", kind: BELOW_ONE, sweepable: true,
        label: "Adam β₁", short: "β₁", tag: "beta1", plot: PlotAxis::Linear, applies: ADAM_ONLY,
    }
    /// Adam's β₂.
    Beta2 beta2: f64 = 0.999, {
        section: "train", kind: BELOW_ONE, sweepable: true,
        label: "Adam β₂", short: "β₂", tag: "beta2", plot: PlotAxis::Linear, applies: ADAM_ONLY,
    }
    /// Adam's ε.
    Eps eps: f64 = 1e-8, {
        section: "train", kind: POSITIVE, sweepable: true,
        label: "Adam ε", short: "ε", tag: "eps", plot: PlotAxis::Log, applies: ADAM_ONLY,
    }
    /// Weight-decay strength λ (weight matrices only, never biases).
    Lambda lambda: f64 = 0.0, {
        section: "train", kind: NON_NEGATIVE, sweepable: true,
        label: "weight decay λ", short: "λ", tag: "lambda", plot: PlotAxis::Log, applies: None,
    }
    /// How λ acts: `l2` (λW joins the gradient) or `decoupled` (weights
    /// shrink by lr·λ·W outside the update); `adamw` is always decoupled.
    WeightDecay weight_decay: Decay = Decay::L2, {
        section: "train", kind: Kind::Choice(Decay::WORDS), sweepable: true,
        label: "weight decay", short: "decay", tag: "weight_decay", plot: PlotAxis::Categorical,
        applies: Some(Applies {
            test: |p| p.optimizer != Method::AdamW,
            condition: "optimizer is not \"adamw\" (which always decays decoupled)",
        }),
    }
    /// Probability of dropping each hidden unit during training.
    Dropout dropout: f64 = 0.0, {
        section: "train", kind: BELOW_ONE, sweepable: true,
        label: "dropout (hidden units)", short: "dropout", tag: "dropout", plot: PlotAxis::Linear,
        applies: None,
    }
    /// Probability of dropping each input pixel during training.
    InputDropout input_dropout: f64 = 0.0, {
        section: "train", kind: BELOW_ONE, sweepable: true,
        label: "input dropout", short: "input dropout", tag: "input_dropout",
        plot: PlotAxis::Linear, applies: None,
    }
    /// Largest length of a unit's incoming weight vector, absent = none.
    MaxNorm max_norm: Option<f64> = None, {
        section: "train", kind: POSITIVE, sweepable: true,
        label: "max-norm constraint", short: "max norm", tag: "max_norm", plot: PlotAxis::Log,
        applies: None,
    }
    /// Minibatch sampling scheme.
    Sampling sampling: Sampling = Sampling::Shuffle, {
        section: "train", kind: Kind::Choice(Sampling::WORDS), sweepable: true,
        label: "sampling", short: "sampling", tag: "sampling", plot: PlotAxis::Categorical, applies: None,
    }
    /// Stop when the validation metric has not improved for a while.
    EarlyStopping early_stopping: Option<EarlyStopping> = None, {
        section: "train", kind: Kind::EarlyStopping, sweepable: false,
        label: "early stopping", short: "early stopping", tag: "early_stopping", plot: PlotAxis::Categorical,
        applies: None,
    }
    /// Evaluate every this many epochs (and after the last), or at about
    /// n epochs spread evenly in log epoch (`{ log = n }`).
    EvalEvery eval_every: EvalEvery = EvalEvery::Epochs(1), {
        section: "train", kind: Kind::EvalEvery, sweepable: false,
        label: "evaluated every", short: "eval every", tag: "eval_every", plot: PlotAxis::Linear, applies: None,
    }
    /// Seed of initialisation and batch order.
    Seed seed: u64 = 0, {
        section: "train", kind: Kind::Int { min: 0, max: super::MAX_WHOLE },
        sweepable: true, label: "seed", short: "seed", tag: "seed", plot: PlotAxis::Categorical,
        applies: None,
    }
    /// Factor every initial weight and bias is multiplied by (Liu et al.'s
    /// α: with α = 8 the MNIST network groks).
    InitScale init_scale: f64 = 1.0, {
        section: "model", kind: Kind::Float { min: 0.0, min_open: true, max: 1000.0, max_open: false },
        sweepable: true, label: "initialisation scale α", short: "α", tag: "alpha",
        plot: PlotAxis::Log, applies: None,
    }
    /// Stop a run at the first evaluation whose training loss is at most
    /// this (Jiang et al. compare networks trained to the same fit);
    /// recorded like early stopping. Absent = train every epoch.
    StopAtTrainLoss stop_at_train_loss: Option<f64> = None, {
        section: "train", kind: POSITIVE, sweepable: true, label: "stop at training loss",
        short: "stop loss", tag: "stop_loss", plot: PlotAxis::Log, applies: None,
    }
    /// Which generalization measures a run records at its end: "norms"
    /// (every one but flatness), "all" (with the two flatness σ) or "none".
    Measures measures: MeasureSet = MeasureSet::Norms, {
        section: "train", kind: Kind::Choice(MeasureSet::WORDS), sweepable: true,
        label: "measures", short: "measures", tag: "measures", plot: PlotAxis::Categorical,
        applies: None,
    }
    /// Also record the measures at every this-many-th evaluation (in
    /// epochs.csv); absent = at the end only.
    MeasuresEvery measures_every: Option<usize> = None, {
        section: "train", kind: Kind::Int { min: 1, max: 1_000_000 }, sweepable: false,
        label: "measured every", short: "measures every", tag: "measures_every",
        plot: PlotAxis::Linear, applies: MEASURED,
    }
    /// Measure on this many training images (drawn with the data seed);
    /// absent = all of them.
    MeasuresSubset measures_subset: Option<usize> = None, {
        section: "train", kind: Kind::Int { min: 10, max: 100_000_000 }, sweepable: true,
        label: "images measured", short: "measured images", tag: "measured",
        plot: PlotAxis::Log, applies: MEASURED,
    }
    /// The Hyperband bracket a run belongs to: Li et al.'s s, the number of
    /// times its bracket halves. Set by `brackets = "hyperband"` in
    /// [search], never in the file; absent otherwise.
    Bracket bracket: Option<usize> = None, {
        section: "search", kind: Kind::Int { min: 0, max: 64 }, sweepable: false,
        label: "Hyperband bracket", short: "bracket", tag: "bracket",
        plot: PlotAxis::Categorical, applies: None,
    }
}

/// The settings sweep 0.1 had, whose full text made its run ids.
const SWEEP_0_1_KEYS: [Key; 12] = [
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

/// Keys an early-stopping table takes.
const EARLY_STOPPING_KEYS: &[&str] = &["metric", "patience", "min_delta"];

impl Key {
    /// The name used in experiment files and CSV headers.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The key called `name`, if any.
    pub fn from_name(name: &str) -> Option<Key> {
        Key::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// The table the setting belongs in (it may also stand at top level).
    pub fn section(self) -> &'static str {
        self.spec().section
    }

    /// Whether the setting may be listed in `[grid]`.
    pub fn sweepable(self) -> bool {
        self.spec().sweepable
    }

    /// The kind of value it takes.
    pub fn kind(self) -> Kind {
        self.spec().kind
    }

    /// The text a checked `value` of this key has in tables and ids
    /// (`0.001`, `"adam"` as `adam`), to match it against runs' settings.
    pub fn canonical_text(self, value: Value) -> String {
        let mut params = RunParams::default();
        params.set(self, value);
        params.raw_text(self)
    }

    /// Parses and range-checks one TOML value for this key. The error is a
    /// sentence without location; the caller adds file and line.
    pub fn parse(self, value: &toml::Value) -> Result<Value, String> {
        let name = self.name();
        match self.kind() {
            Kind::Int { min, max } => parse_int(name, value, min, max).map(Value::Int),
            Kind::Float {
                min,
                min_open,
                max,
                max_open,
            } => {
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
                if x < min || (min_open && x == min) {
                    let op = if min_open { ">" } else { "≥" };
                    return Err(format!("`{name}` must be {op} {min}, got {x}"));
                }
                if x > max || (max_open && x == max) {
                    let op = if max_open { "<" } else { "≤" };
                    return Err(format!("`{name}` must be {op} {max}, got {x}"));
                }
                // −0 and 0 are the same setting (and the same run id).
                Ok(Value::Float(if x == 0.0 { 0.0 } else { x }))
            }
            Kind::Init => match value {
                toml::Value::String(s) => s
                    .parse::<Init>()
                    .map(|i| Value::Text(i.to_string()))
                    .map_err(|e| format!("`{name}`: {e}")),
                other => Err(format!(
                    "`{name}` must be a string such as \"he\", got {} {other}",
                    other.type_str()
                )),
            },
            Kind::Choice(words) => match value.as_str() {
                Some(word) if words.contains(&word) => Ok(Value::Text(word.to_string())),
                _ => Err(format!("`{name}` must be {}, got {value}", one_of(words))),
            },
            Kind::Widths => parse_widths(name, value).map(Value::Widths),
            Kind::EarlyStopping => parse_early_stopping(name, value).map(Value::EarlyStopping),
            Kind::EvalEvery => parse_eval_every(name, value).map(Value::EvalEvery),
        }
    }

    /// What an empty value of an optional setting means, in words
    /// (`train_subset`: all images; `early_stopping`: off); `None` when an
    /// empty value is better not shown (`hidden` absent: the shorthand
    /// gives the widths; a setting that does not apply).
    pub fn absent_text(self) -> Option<&'static str> {
        match self {
            Key::TrainSubset => Some("all"),
            Key::EarlyStopping | Key::MaxNorm => Some("off"),
            _ => None,
        }
    }

    /// Whether the setting has an effect on a run with settings `params`.
    pub fn applies_to(self, params: &RunParams) -> bool {
        self.spec().applies.is_none_or(|a| (a.test)(params))
    }
}

/// `"a", "b" or "c"`.
fn one_of(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// A whole number in `min..=max` (a float with no fraction counts).
fn parse_int(name: &str, value: &toml::Value, min: u64, max: u64) -> Result<u64, String> {
    let n = match value {
        toml::Value::Integer(n) => *n,
        toml::Value::Float(f) if f.fract() == 0.0 && f.is_finite() && f.abs() <= max as f64 => {
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
    Ok(n as u64)
}

/// Most hidden layers a network may have.
const MAX_LAYERS: usize = 64;
/// Widest hidden layer.
const MAX_WIDTH: u64 = 100_000;

fn parse_widths(name: &str, value: &toml::Value) -> Result<Vec<usize>, String> {
    let hint = format!(
        "`{name}` must be a list of hidden-layer widths like [500, 300] (in [grid], a list of \
         such lists: {name} = [[100], [500, 300]])"
    );
    let items = value
        .as_array()
        .ok_or_else(|| format!("{hint}, got {} {value}", value.type_str()))?;
    if items.len() > MAX_LAYERS {
        return Err(format!(
            "`{name}` lists {} widths; a network may have at most {MAX_LAYERS} hidden layers",
            items.len()
        ));
    }
    items
        .iter()
        .map(|item| match item {
            toml::Value::Integer(_) => parse_int(name, item, 1, MAX_WIDTH)
                .map(|w| w as usize)
                .map_err(|_| {
                    format!("every width in `{name}` must be from 1 to {MAX_WIDTH}, got {item}")
                }),
            other => Err(format!("{hint}, got {} {other} in it", other.type_str())),
        })
        .collect()
}

fn parse_early_stopping(name: &str, value: &toml::Value) -> Result<EarlyStopping, String> {
    let table = value.as_table().ok_or_else(|| {
        format!(
            "`{name}` must be a table like {{ metric = \"val_loss\", patience = 5 }}, got {} \
             {value}",
            value.type_str()
        )
    })?;
    if let Some(unknown) = table
        .keys()
        .find(|k| !EARLY_STOPPING_KEYS.contains(&k.as_str()))
    {
        let hint = super::locate::suggest(unknown, EARLY_STOPPING_KEYS.iter().copied());
        return Err(format!(
            "unknown key `{unknown}` in `{name}`{hint}; it takes metric, patience and min_delta"
        ));
    }
    let metric = match table.get("metric") {
        None => StopMetric::ValLoss,
        Some(m) => m.as_str().and_then(|w| w.parse().ok()).ok_or_else(|| {
            format!(
                "`{name}.metric` must be {}, got {m}",
                one_of(StopMetric::WORDS)
            )
        })?,
    };
    let patience = match table.get("patience") {
        Some(p) => parse_int(&format!("{name}.patience"), p, 1, 1_000_000)? as usize,
        None => {
            return Err(format!(
                "`{name}` needs `patience`: how many evaluations without improvement before \
                 the run stops"
            ));
        }
    };
    let min_delta = match table.get("min_delta") {
        None => 0.0,
        Some(d) => match d.as_float().or_else(|| d.as_integer().map(|n| n as f64)) {
            Some(x) if x.is_finite() && x >= 0.0 => x + 0.0,
            _ => {
                return Err(format!(
                    "`{name}.min_delta` must be a finite number ≥ 0, got {d}"
                ));
            }
        },
    };
    Ok(EarlyStopping {
        metric,
        patience,
        min_delta,
    })
}

/// A checked value of one setting.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A whole number.
    Int(u64),
    /// A real number.
    Float(f64),
    /// A word or an initialisation scheme, in canonical form.
    Text(String),
    /// Hidden-layer widths.
    Widths(Vec<usize>),
    /// An early-stopping rule.
    EarlyStopping(EarlyStopping),
    /// When a run is evaluated.
    EvalEvery(EvalEvery),
}

impl Value {
    fn int(&self) -> u64 {
        match self {
            Value::Int(n) => *n,
            other => unreachable!("a whole-number setting given {other:?}"),
        }
    }
}

impl fmt::Display for Value {
    /// The canonical text of a value: shortest round-trip for floats, so
    /// `0.001` prints as `0.001` in tables, CSVs and run ids.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Text(s) => f.write_str(s),
            Value::Widths(w) => f.write_str(&widths_text(w)),
            Value::EarlyStopping(e) => write!(f, "{e}"),
            Value::EvalEvery(e) => write!(f, "{e}"),
        }
    }
}

impl RunParams {
    /// The text of `key`'s value, as shown in tables and CSV cells: empty
    /// when the setting does not apply to this run (momentum of plain SGD)
    /// or is absent (`train_subset` when the whole split is used).
    pub fn text(&self, key: Key) -> String {
        if key.applies_to(self) {
            self.raw_text(key)
        } else {
            String::new()
        }
    }

    /// The value of a numeric setting as a number, for plotting; `None`
    /// for words and lists, for `train_subset` when all images are used, and
    /// for settings that do not apply.
    pub fn number(&self, key: Key) -> Option<f64> {
        if key.applies_to(self) {
            self.raw_number(key)
        } else {
            None
        }
    }

    /// Puts the settings in canonical form, so that two grid points that
    /// train the same network get the same id: equal `hidden` widths become
    /// the `hidden_layers × hidden_size` shorthand, and settings that do not
    /// apply return to their defaults.
    pub fn normalize(&mut self) {
        if let Some(widths) = &self.hidden
            && widths.windows(2).all(|p| p[0] == p[1])
        {
            let defaults = RunParams::default();
            self.hidden_layers = widths.len();
            self.hidden_size = widths.first().copied().unwrap_or(defaults.hidden_size);
            self.hidden = None;
        }
        for &key in Key::ALL {
            if !key.applies_to(self) {
                self.reset(key);
            }
        }
    }

    /// A combination of settings that cannot run, as the key to point at
    /// and a sentence.
    pub fn contradiction(&self) -> Option<(Key, String)> {
        if self.early_stopping.is_some() && self.validation == 0 {
            return Some((
                Key::EarlyStopping,
                "`early_stopping` watches a validation metric, and this sweep has no \
                 validation split; set `validation = N` in [data] (N training images held out)"
                    .into(),
            ));
        }
        None
    }

    /// Widths of the hidden layers, input side first.
    pub fn hidden_widths(&self) -> Vec<usize> {
        match &self.hidden {
            Some(widths) => widths.clone(),
            None => vec![self.hidden_size; self.hidden_layers],
        }
    }

    /// Whether the run is evaluated after `epoch`: every `eval_every`
    /// epochs, and after the last.
    pub fn evaluates(&self, epoch: usize) -> bool {
        self.eval_every.evaluates(epoch, self.epochs)
    }

    /// Layer widths for inputs of `pixels` features and `classes` outputs.
    pub fn layer_sizes(&self, pixels: usize, classes: usize) -> Vec<usize> {
        let mut sizes = vec![pixels];
        sizes.extend(self.hidden_widths());
        sizes.push(classes);
        sizes
    }

    /// The loss as the network needs it.
    pub fn loss_settings(&self) -> LossSettings {
        LossSettings { loss: self.loss }
    }

    /// The optimizer these settings describe.
    pub fn optimizer_settings(&self) -> OptimizerSettings {
        OptimizerSettings {
            method: self.optimizer,
            momentum: self.momentum as f32,
            beta1: self.beta1 as f32,
            beta2: self.beta2 as f32,
            eps: self.eps as f32,
            lambda: self.lambda as f32,
            decay: self.weight_decay,
        }
    }

    /// The learning rate of every epoch.
    pub fn lr_schedule(&self) -> LrSchedule {
        LrSchedule {
            base: self.learning_rate,
            schedule: self.lr_schedule,
            step_epochs: self.lr_step_epochs,
            step_factor: self.lr_step_factor,
            warmup_epochs: self.warmup_epochs,
            epochs: self.epochs,
        }
    }

    /// `key=value` pairs of the settings that apply to this run and differ
    /// from their defaults, in canonical order: the input of a run's id.
    pub fn canonical_changes(&self) -> String {
        let defaults = RunParams::default();
        Key::ALL
            .iter()
            .filter(|&&k| k.applies_to(self) && self.raw_text(k) != defaults.raw_text(k))
            .map(|&k| format!("{}={}", k.name(), self.text(k)))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// `key=value` pairs of every setting: what identifies a configuration.
    pub fn canonical(&self) -> String {
        Key::ALL
            .iter()
            .map(|&k| format!("{}={}", k.name(), self.text(k)))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// The input of sweep 0.1's run id (its 12 settings, every one), or
    /// `None` when a setting 0.1 did not have differs from its default: no
    /// 0.1 folder can hold such a run.
    pub fn sweep_0_1_canonical(&self) -> Option<String> {
        let defaults = RunParams::default();
        let newer_all_default = Key::ALL
            .iter()
            .filter(|k| !SWEEP_0_1_KEYS.contains(k))
            .all(|&k| self.text(k) == defaults.text(k));
        newer_all_default.then(|| {
            SWEEP_0_1_KEYS
                .iter()
                .map(|&k| format!("{}={}", k.name(), self.text(k)))
                .collect::<Vec<_>>()
                .join(";")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_spaced_evaluation_spreads_evenly_in_log_epoch_and_ends_at_the_last() {
        let every = EvalEvery::Log(5);
        // 10 000^(i/4) for i = 0 … 4: 1, 10, 100, 1 000, 10 000.
        let at: Vec<usize> = (1..=10_000)
            .filter(|&e| every.evaluates(e, 10_000))
            .collect();
        assert_eq!(at, [1, 10, 100, 1000, 10_000]);
        assert_eq!(every.count(10_000), 5);
        // More points than epochs fall together; the last is always there.
        assert_eq!(EvalEvery::Log(60).count(3), 3);
        assert!(EvalEvery::Log(2).evaluates(7, 7));
        assert_eq!(EvalEvery::Epochs(3).count(10), 4);
    }

    #[test]
    fn eval_every_reads_as_stored_by_every_version_and_as_a_log_table() {
        let old: RunParams = serde_json::from_str(r#"{"eval_every": 5}"#).unwrap();
        assert_eq!(old.eval_every, EvalEvery::Epochs(5));
        assert_eq!(
            serde_json::to_value(old.eval_every).unwrap(),
            serde_json::json!(5)
        );
        let log = RunParams {
            eval_every: EvalEvery::Log(60),
            ..RunParams::default()
        };
        let text = serde_json::to_string(&log).unwrap();
        assert!(text.contains(r#""eval_every":{"log":60}"#), "{text}");
        let back: RunParams = serde_json::from_str(&text).unwrap();
        assert_eq!(back.eval_every, EvalEvery::Log(60));
        assert_eq!(log.text(Key::EvalEvery), "{ log = 60 }");
        let parsed: toml::Table = toml::from_str("e = { log = 60 }").unwrap();
        assert_eq!(
            Key::EvalEvery.parse(&parsed["e"]),
            Ok(Value::EvalEvery(EvalEvery::Log(60)))
        );
        let bad: toml::Table = toml::from_str("e = { log = 1 }").unwrap();
        assert!(
            Key::EvalEvery
                .parse(&bad["e"])
                .unwrap_err()
                .contains("`eval_every.log` must be ≥ 2")
        );
    }

    #[test]
    fn the_settings_keep_their_order_as_sobol_dimensions_and_columns_depend_on_it() {
        // Append new settings at the end of this list and of the table;
        // never insert, remove or reorder (see `settings!`).
        let pinned = [
            "train_subset",
            "validation",
            "inputs",
            "label_noise",
            "label_noise_mode",
            "input_corruption",
            "corruption_seed",
            "data_seed",
            "hidden",
            "hidden_layers",
            "hidden_size",
            "init",
            "epochs",
            "batch_size",
            "loss",
            "optimizer",
            "learning_rate",
            "lr_schedule",
            "lr_step_epochs",
            "lr_step_factor",
            "warmup_epochs",
            "momentum",
            "beta1",
            "beta2",
            "eps",
            "lambda",
            "weight_decay",
            "dropout",
            "input_dropout",
            "max_norm",
            "sampling",
            "early_stopping",
            "eval_every",
            "seed",
            "init_scale",
            "stop_at_train_loss",
            "measures",
            "measures_every",
            "measures_subset",
            "bracket",
        ];
        let names: Vec<&str> = Key::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names[..pinned.len()], pinned);
    }

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
        let err = Key::Momentum.parse(&toml::Value::Float(1.0)).unwrap_err();
        assert_eq!(err, "`momentum` must be < 1, got 1");
    }

    #[test]
    fn type_errors_say_what_was_found() {
        let err = Key::Epochs
            .parse(&toml::Value::String("ten".into()))
            .unwrap_err();
        assert_eq!(err, "`epochs` must be a whole number, got string \"ten\"");
        let err = Key::Optimizer
            .parse(&toml::Value::String("adagrad".into()))
            .unwrap_err();
        assert_eq!(
            err,
            "`optimizer` must be \"sgd\", \"momentum\", \"nesterov\", \"adam\" or \"adamw\", \
             got \"adagrad\""
        );
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

    #[test]
    fn the_spec_table_lines_up_with_the_keys() {
        for (i, &k) in Key::ALL.iter().enumerate() {
            assert_eq!(k as usize, i);
            assert_eq!(Key::from_name(k.name()), Some(k));
        }
        assert_eq!(Key::Lambda.spec().short, "λ");
    }

    #[test]
    fn settings_that_do_not_apply_are_blank_and_out_of_the_id() {
        let mut p = RunParams {
            momentum: 0.5,
            beta1: 0.8,
            ..RunParams::default()
        };
        assert_eq!(p.text(Key::Momentum), "");
        p.normalize();
        assert_eq!(p, RunParams::default());
        let mut adam = RunParams {
            optimizer: Method::Adam,
            beta1: 0.8,
            ..RunParams::default()
        };
        adam.normalize();
        assert_eq!(adam.canonical_changes(), "optimizer=adam;beta1=0.8");
    }

    #[test]
    fn equal_widths_are_the_shorthand() {
        let mut p = RunParams {
            hidden: Some(vec![200, 200]),
            ..RunParams::default()
        };
        p.normalize();
        assert_eq!(p, RunParams::default());
        let mut q = RunParams {
            hidden: Some(vec![500, 300]),
            hidden_size: 7,
            ..RunParams::default()
        };
        q.normalize();
        assert_eq!(q.hidden_widths(), [500, 300]);
        assert_eq!(q.canonical_changes(), "hidden=[500, 300]");
        assert_eq!(q.layer_sizes(784, 10), [784, 500, 300, 10]);
    }

    #[test]
    fn the_sweep_0_1_text_exists_only_for_settings_it_had() {
        let p = RunParams::default();
        assert_eq!(
            p.sweep_0_1_canonical().unwrap(),
            "train_subset=;data_seed=0;hidden_layers=2;hidden_size=200;init=he;epochs=10;\
             batch_size=100;learning_rate=0.1;lambda=0;sampling=shuffle;eval_every=1;seed=0"
        );
        let adam = RunParams {
            optimizer: Method::Adam,
            ..RunParams::default()
        };
        assert_eq!(adam.sweep_0_1_canonical(), None);
    }

    #[test]
    fn early_stopping_tables_are_checked() {
        let table: toml::Value = toml::from_str::<toml::Table>(
            "e = { metric = \"val_acc\", patience = 3, min_delta = 0.001 }",
        )
        .unwrap()["e"]
            .clone();
        let Value::EarlyStopping(e) = Key::EarlyStopping.parse(&table).unwrap() else {
            panic!()
        };
        assert_eq!(
            (e.metric, e.patience, e.min_delta),
            (StopMetric::ValAcc, 3, 0.001)
        );
        let bad: toml::Value =
            toml::from_str::<toml::Table>("e = { patiense = 3 }").unwrap()["e"].clone();
        let err = Key::EarlyStopping.parse(&bad).unwrap_err();
        assert!(err.contains("did you mean `patience`"), "{err}");
    }
}
