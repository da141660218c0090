//! One training run as a pure function of its parameters and the shared
//! dataset: seeded data split and initialisation, minibatch updates by the
//! configured optimizer and learning-rate schedule, periodic evaluation on
//! training, validation and test images, early stopping. It prints nothing
//! and writes no file; the caller does.
//!
//! [`train_until`] reads as the run's phases; [`run`] holds a run in
//! progress (`Run::new`, `resume`, `train_epoch`, `evaluate`,
//! `checkpoint`), [`evaluate`] the scoring of a network on some images,
//! [`watch`] early stopping, [`checkpoint`] a paused run on disk.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::RunParams;
use crate::data::Dataset;
use crate::nn::Kernel;

mod checkpoint;
mod corruption;
mod evaluate;
mod forgetting;
mod inputs;
mod measures;
mod run;
mod watch;

pub use checkpoint::Checkpoint;
pub use corruption::{PixelCorruption, TrainingLabels, corruption_seed, training_labels};
pub use evaluate::{Evaluation, Images, evaluate, evaluate_against, margins, predict};
pub use forgetting::{ForgettingSummary, roc_auc};
pub use inputs::{InputMap, pixel_table};
pub use measures::Measures;
use run::Run;

/// Rows per forward pass when evaluating (large chunks keep the GEMMs efficient).
pub const EVAL_CHUNK: usize = 1000;

/// Metrics of one evaluated epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epochs completed (1-based).
    pub epoch: usize,
    /// Mean data loss (cross-entropy, or squared error with `loss = "mse"`)
    /// on the training samples used, against the labels trained on.
    pub train_loss: f64,
    /// Accuracy on the training samples used, in [0, 1].
    pub train_acc: f64,
    /// Mean data loss on the full test split.
    pub test_loss: f64,
    /// Accuracy on the full test split, in [0, 1].
    pub test_acc: f64,
    /// `train_acc − test_acc`: the overfitting gap.
    pub gap_acc: f64,
    /// `test_loss − train_loss`.
    pub gap_loss: f64,
    /// The weight-decay penalty ½λΣ‖W‖² at this point (not in the losses above).
    pub penalty: f64,
    /// Wall-clock seconds spent training in this epoch (the epoch alone,
    /// also when `eval_every` > 1).
    pub train_seconds: f64,
    /// Wall-clock seconds spent evaluating after this epoch (and taking
    /// the measures, when `measures_every` asks for them here).
    pub eval_seconds: f64,
    /// The learning rate this epoch trained at (absent in records written
    /// before schedules existed, whose rate was `learning_rate` throughout).
    #[serde(default)]
    pub lr: Option<f64>,
    /// Mean loss on the validation images, if the run holds some out.
    #[serde(default)]
    pub val_loss: Option<f64>,
    /// Accuracy on the validation images, if the run holds some out.
    #[serde(default)]
    pub val_acc: Option<f64>,
    /// With label noise: accuracy on the training images against their
    /// true labels (`train_acc` is against the labels trained on).
    #[serde(default)]
    pub train_acc_clean: Option<f64>,
    /// With label noise: the fraction of corrupted training images the
    /// network predicts as their corrupted label (memorised noise).
    #[serde(default)]
    pub noisy_fit: Option<f64>,
    /// The L2 norm of every parameter, weights and biases (absent in
    /// records written before sweep 0.5).
    #[serde(default)]
    pub weight_norm: Option<f64>,
    /// ∏ ‖W‖_F, when the measures are taken at this evaluation
    /// (`measures_every`); the measures' other columns likewise.
    #[serde(default)]
    pub frobenius_product: Option<f64>,
    /// ∏ ‖W‖₂.
    #[serde(default)]
    pub spectral_product: Option<f64>,
    /// Σ ‖W − W₀‖_F.
    #[serde(default)]
    pub init_distance: Option<f64>,
    /// The path-norm.
    #[serde(default)]
    pub path_norm: Option<f64>,
    /// The 10th percentile of the training images' output margins.
    #[serde(default)]
    pub margin: Option<f64>,
    /// The flatness σ (`measures = "all"`).
    #[serde(default)]
    pub flatness_sigma: Option<f64>,
    /// The magnitude-aware flatness σ' (`measures = "all"`).
    #[serde(default)]
    pub magnitude_sigma: Option<f64>,
}

impl EpochMetrics {
    /// Records `measures` as taken after this epoch (their time counts
    /// as evaluating).
    pub fn set_measures(&mut self, measures: &Measures) {
        self.eval_seconds += measures.seconds;
        self.frobenius_product = Some(measures.frobenius_product());
        self.spectral_product = Some(measures.spectral_product());
        self.init_distance = Some(measures.init_distance);
        self.path_norm = Some(measures.path_norm);
        self.margin = measures.margin;
        self.flatness_sigma = measures.flatness_sigma;
        self.magnitude_sigma = measures.magnitude_sigma;
    }
}

/// How one column of `epochs.csv` reads its value off an epoch (`None`:
/// an empty cell).
pub type EpochValue = fn(&EpochMetrics) -> Option<f64>;

/// The columns of `epochs.csv` (the run's own and the aggregate one), in
/// the order of [`EpochMetrics`]'s fields, which a run's own file is
/// serialised from: a test checks that the two agree. A new metric is a
/// field at the end of the struct and a row at the end here.
pub const EPOCH_COLUMNS: [(&str, EpochValue); 23] = [
    ("epoch", |e| Some(e.epoch as f64)),
    ("train_loss", |e| Some(e.train_loss)),
    ("train_acc", |e| Some(e.train_acc)),
    ("test_loss", |e| Some(e.test_loss)),
    ("test_acc", |e| Some(e.test_acc)),
    ("gap_acc", |e| Some(e.gap_acc)),
    ("gap_loss", |e| Some(e.gap_loss)),
    ("penalty", |e| Some(e.penalty)),
    ("train_seconds", |e| Some(e.train_seconds)),
    ("eval_seconds", |e| Some(e.eval_seconds)),
    ("lr", |e| e.lr),
    ("val_loss", |e| e.val_loss),
    ("val_acc", |e| e.val_acc),
    ("train_acc_clean", |e| e.train_acc_clean),
    ("noisy_fit", |e| e.noisy_fit),
    ("weight_norm", |e| e.weight_norm),
    ("frobenius_product", |e| e.frobenius_product),
    ("spectral_product", |e| e.spectral_product),
    ("init_distance", |e| e.init_distance),
    ("path_norm", |e| e.path_norm),
    ("margin", |e| e.margin),
    ("flatness_sigma", |e| e.flatness_sigma),
    ("magnitude_sigma", |e| e.magnitude_sigma),
];

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// All epochs trained.
    Finished,
    /// The loss became NaN or infinite; training stopped.
    Diverged,
    /// The run stopped with an error (a panic); the message is kept.
    Failed,
}

impl Status {
    /// The word used in CSV files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Finished => "finished",
            Status::Diverged => "diverged",
            Status::Failed => "failed",
        }
    }
}

/// A run stopped before its end because the sweep was asked to stop; it
/// is not recorded and trains again on resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// How it ended.
    pub status: Status,
    /// The epoch in which the loss stopped being finite, if it did.
    pub diverged_epoch: Option<usize>,
    /// The epoch after which early stopping ended the run, if it did.
    pub stopped_epoch: Option<usize>,
    /// Number of training images used.
    pub train_samples: usize,
    /// Weights and biases of the network.
    pub parameters: usize,
    /// One entry per evaluated epoch.
    pub epochs: Vec<EpochMetrics>,
    /// Wall-clock seconds spent training, over every epoch run (evaluated or not).
    pub train_seconds: f64,
    /// Wall-clock seconds spent evaluating and taking the measures.
    pub eval_seconds: f64,
    /// The class predicted for each test image after the last epoch (low
    /// bits; the top bit set when it is right), when asked for
    /// (`save_predictions`) and the run did not diverge.
    pub test_predictions: Option<Vec<u8>>,
    /// The GEMM kernel and instruction set it trained with
    /// ([`Kernel::label`]); both, joined by `+`, when it was paused on one
    /// machine and continued on another whose instruction set differs.
    pub kernel: String,
    /// What its forgetting counts come to (`None` for a run continued from
    /// a checkpoint, whose counts before the pause are not kept).
    pub forgetting: Option<ForgettingSummary>,
    /// The forgetting events of each training image, when asked for
    /// (`save_forgetting`): `u32::MAX` for an image never learned.
    pub forgetting_counts: Option<Vec<u32>>,
    /// The generalization measures of the network it ended with (`None`
    /// with `measures = "none"`, and for a run that diverged or paused).
    pub measures: Option<Measures>,
}

/// The images of the training split a run trains on and validates on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSplit {
    /// Indices of the training images, sorted (memory is read in order).
    pub train: Vec<u32>,
    /// Indices of the validation images, sorted; empty without validation.
    pub validation: Vec<u32>,
}

/// Chooses a run's images with `data_seed`: without validation, all
/// training images or a subset of `train_subset` (the choice sweep always
/// made, so earlier runs keep their images); with `validation = V`, V
/// images held out and the training images (all others, or `train_subset`
/// of them) drawn from the rest, disjoint.
pub fn data_split(params: &RunParams, train_len: usize) -> DataSplit {
    let mut all: Vec<u32> = (0..train_len as u32).collect();
    let held_out = params.validation.min(train_len.saturating_sub(1));
    let sorted = |slice: &[u32]| {
        let mut v = slice.to_vec();
        v.sort_unstable();
        v
    };
    if held_out == 0 {
        let train = match params.train_subset {
            Some(n) if n < train_len => {
                let mut rng = ChaCha8Rng::seed_from_u64(params.data_seed);
                sorted(all.partial_shuffle(&mut rng, n).0)
            }
            _ => all,
        };
        return DataSplit {
            train,
            validation: Vec::new(),
        };
    }
    let n = params
        .train_subset
        .unwrap_or(train_len)
        .min(train_len - held_out);
    let mut rng = ChaCha8Rng::seed_from_u64(params.data_seed);
    let (chosen, _) = all.partial_shuffle(&mut rng, held_out + n);
    DataSplit {
        validation: sorted(&chosen[..held_out]),
        train: sorted(&chosen[held_out..]),
    }
}

/// Whether `epoch` (1-based) is evaluated: every `eval_every` epochs and
/// after the last. A run's record must hold exactly these epochs (those
/// before the divergence, for a run that diverged; up to the stop, for one
/// stopped early).
pub fn is_evaluated(params: &RunParams, epoch: usize) -> bool {
    params.evaluates(epoch)
}

/// The epochs a run's `epochs.csv` must list, in order: every evaluated
/// epoch, or for a run that diverged in epoch `d`, those before `d`, or for
/// one stopped early after epoch `s`, those up to `s`.
pub fn evaluated_epochs(
    params: &RunParams,
    diverged_epoch: Option<usize>,
    stopped_epoch: Option<usize>,
) -> impl Iterator<Item = usize> + '_ {
    let last = match (diverged_epoch, stopped_epoch) {
        (Some(d), _) => d.saturating_sub(1),
        (None, Some(s)) => s,
        (None, None) => params.epochs,
    }
    .min(params.epochs);
    (1..=last).filter(move |&e| is_evaluated(params, e))
}

/// Trains one network as `params` says, multiplying with `kernel`, and
/// evaluates it every `eval_every` epochs (and after the last). `on_epoch`
/// sees each evaluated epoch as it completes, for progress display; `stop`
/// is asked before every step and ends the run with [`Interrupted`] when it
/// says so. The result depends only on `params`, `data` and `kernel` (and,
/// for the `gemm` kernel, the instruction set it runs): the same seed gives
/// the same bits in any thread.
pub fn train(
    params: &RunParams,
    data: &Dataset,
    kernel: Kernel,
    on_epoch: &mut dyn FnMut(&EpochMetrics),
    stop: &dyn Fn() -> bool,
) -> Result<RunOutcome, Interrupted> {
    let options = TrainOptions::new(kernel);
    train_until(params, data, &options, on_epoch, stop).map(|span| span.outcome)
}

/// How a run is carried out, beyond its settings: nothing here changes its
/// id.
#[derive(Clone, Copy)]
pub struct TrainOptions<'a> {
    /// The GEMM kernel every product goes through (the results folder's).
    pub kernel: Kernel,
    /// A checkpoint to continue from, when it fits the run (otherwise the
    /// run starts from the beginning).
    pub from: Option<&'a Checkpoint>,
    /// Pause after this epoch (a halving rung) instead of training to the
    /// last.
    pub until: Option<usize>,
    /// Keep the class predicted for each test image when the run ends.
    pub keep_predictions: bool,
    /// Keep the forgetting events of each training image when the run ends.
    pub keep_forgetting: bool,
    /// Asked at each evaluation: whether some thread of the pool has no run
    /// of its own, so that spreading the evaluation's chunks over the pool
    /// helps (`None`: always spread). The bits are the same either way.
    pub idle_threads: Option<&'a dyn Fn() -> bool>,
}

impl TrainOptions<'_> {
    /// From the start to the last epoch with `kernel`, keeping no
    /// predictions.
    pub fn new(kernel: Kernel) -> TrainOptions<'static> {
        TrainOptions {
            kernel,
            from: None,
            until: None,
            keep_predictions: false,
            keep_forgetting: false,
            idle_threads: None,
        }
    }
}

/// What [`train_until`] ends with: the run's outcome so far, and the
/// checkpoint to continue it from when it paused before its last epoch.
#[derive(Debug, Clone)]
pub struct Span {
    /// Everything measured up to the pause or the end.
    pub outcome: RunOutcome,
    /// The state after `until` epochs, when the run paused there (not when
    /// it ended: all epochs done, diverged, or stopped early).
    pub paused: Option<Box<Checkpoint>>,
}

/// [`train`] as `options` say: continuing from their checkpoint (when it
/// fits the run; otherwise from the start) and pausing after their `until`
/// epoch; with `keep_predictions`, the outcome of a run that ends holds the
/// class it predicts for each test image. A run paused and continued any
/// number of times ends with the same bits as one trained straight
/// through: the learning-rate schedule always spans `params.epochs`.
pub fn train_until(
    params: &RunParams,
    data: &Dataset,
    options: &TrainOptions,
    on_epoch: &mut dyn FnMut(&EpochMetrics),
    stop: &dyn Fn() -> bool,
) -> Result<Span, Interrupted> {
    let kernel = options.kernel;
    let mut run = options
        .from
        .and_then(|checkpoint| Run::resume(params, data, kernel, checkpoint))
        .unwrap_or_else(|| Run::new(params, data, kernel));
    run.keep_forgetting(options.keep_forgetting);
    let last = params.epochs;
    let until = options
        .until
        .unwrap_or(last)
        .min(last)
        .max(run.epochs_done());
    while run.epochs_done() < until {
        let trained = run.train_epoch(stop)?;
        let epoch = trained.epoch;
        if trained.diverged {
            return Ok(Span::ended(run.diverged(epoch)));
        }
        if !is_evaluated(params, epoch) {
            continue;
        }
        let spread = options.idle_threads.is_none_or(|idle| idle());
        let Some(mut metrics) = run.evaluate(&trained, spread) else {
            return Ok(Span::ended(run.diverged(epoch)));
        };
        let stop_now = run.should_stop_early(&metrics);
        let ends = stop_now || epoch == last;
        if run.measures_due(ends)
            && let Some(measures) = run.measure(spread)
        {
            metrics.set_measures(&measures);
        }
        if ends {
            run.measure_at_end(spread);
            if options.keep_predictions {
                run.keep_test_predictions(spread);
            }
        }
        on_epoch(&metrics);
        run.record(metrics);
        if stop_now && epoch < last {
            return Ok(Span::ended(run.stopped_early(epoch)));
        }
    }
    if until == last {
        return Ok(Span::ended(run.finished()));
    }
    let (outcome, checkpoint) = run.checkpoint();
    Ok(Span {
        outcome,
        paused: Some(Box::new(checkpoint)),
    })
}

impl Span {
    fn ended(outcome: RunOutcome) -> Span {
        Span {
            outcome,
            paused: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_depend_on_the_data_seed_only() {
        let mut p = RunParams {
            train_subset: Some(10),
            ..RunParams::default()
        };
        let a = data_split(&p, 1000).train;
        p.seed = 99;
        assert_eq!(data_split(&p, 1000).train, a);
        p.data_seed = 1;
        assert_ne!(data_split(&p, 1000).train, a);
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn validation_images_are_held_out_of_training() {
        let p = RunParams {
            train_subset: Some(100),
            validation: 50,
            ..RunParams::default()
        };
        let split = data_split(&p, 1000);
        assert_eq!((split.train.len(), split.validation.len()), (100, 50));
        assert!(split.validation.iter().all(|i| !split.train.contains(i)));
        let all = RunParams {
            validation: 50,
            ..RunParams::default()
        };
        let split = data_split(&all, 1000);
        assert_eq!((split.train.len(), split.validation.len()), (950, 50));
    }

    #[test]
    fn epoch_columns_follow_the_fields_a_record_is_written_from() {
        let mut csv = csv::Writer::from_writer(Vec::new());
        let e = EpochMetrics {
            epoch: 7,
            train_loss: 0.25,
            train_acc: 0.5,
            test_loss: 0.75,
            test_acc: 0.125,
            gap_acc: 0.375,
            gap_loss: 0.5,
            penalty: 2.0,
            train_seconds: 3.0,
            eval_seconds: 4.0,
            lr: Some(0.1),
            val_loss: Some(1.5),
            val_acc: Some(0.0625),
            train_acc_clean: Some(0.875),
            noisy_fit: Some(0.03125),
            weight_norm: Some(12.5),
            frobenius_product: Some(3.0),
            spectral_product: Some(2.0),
            init_distance: Some(1.25),
            path_norm: Some(40.0),
            margin: Some(-0.5),
            flatness_sigma: Some(0.25),
            magnitude_sigma: Some(0.75),
        };
        csv.serialize(&e).unwrap();
        let text = String::from_utf8(csv.into_inner().unwrap()).unwrap();
        let mut lines = text.lines();
        let names: Vec<&str> = EPOCH_COLUMNS.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines.next().unwrap(), names.join(","));
        let values: Vec<f64> = lines
            .next()
            .unwrap()
            .split(',')
            .map(|v| v.parse().unwrap())
            .collect();
        let read: Vec<f64> = EPOCH_COLUMNS.iter().map(|(_, v)| v(&e).unwrap()).collect();
        assert_eq!(values, read);
    }

    #[test]
    fn the_record_of_a_stopped_run_ends_at_the_stop() {
        let p = RunParams {
            epochs: 10,
            eval_every: crate::config::EvalEvery::Epochs(2),
            ..RunParams::default()
        };
        let listed: Vec<usize> = evaluated_epochs(&p, None, Some(6)).collect();
        assert_eq!(listed, [2, 4, 6]);
    }
}
