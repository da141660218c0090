//! One training run as a pure function of its parameters and the shared
//! dataset: seeded data split and initialisation, minibatch updates by the
//! configured optimizer and learning-rate schedule, periodic evaluation on
//! training, validation and test images, early stopping. It prints nothing
//! and writes no file; the caller does.

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{EarlyStopping, RunParams, Sampling, StopMetric};
use crate::data::{Dataset, NUM_CLASSES, Split};
use crate::nn::dropout::Dropout;
use crate::nn::optim::Optimizer;
use crate::nn::{Activations, Gradients, Kernel, Mlp};

mod checkpoint;
mod corruption;
mod inputs;

pub use checkpoint::Checkpoint;
pub use corruption::{PixelCorruption, TrainingLabels, corruption_seed, training_labels};
use inputs::gather;
pub use inputs::{InputMap, pixel_table};

/// Rows per forward pass when evaluating (large chunks keep the GEMMs efficient).
pub const EVAL_CHUNK: usize = 1000;

/// Metrics of one evaluated epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Wall-clock seconds spent evaluating after this epoch.
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
}

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
    /// Wall-clock seconds spent evaluating.
    pub eval_seconds: f64,
    /// The class predicted for each test image after the last epoch (low
    /// bits; the top bit set when it is right), when asked for
    /// (`save_predictions`) and the run did not diverge.
    pub test_predictions: Option<Vec<u8>>,
    /// The GEMM kernel and instruction set it trained with
    /// ([`Kernel::label`]); both, joined by `+`, when it was paused on one
    /// machine and continued on another whose instruction set differs.
    pub kernel: String,
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

/// Some images of a split and the map that makes them inputs: what one
/// evaluation reads.
#[derive(Debug, Clone, Copy)]
pub struct Images<'a> {
    /// The split they come from.
    pub split: &'a Split,
    /// Pixels per image.
    pub pixels: usize,
    /// Their indices in the split.
    pub indices: &'a [u32],
    /// Pixel bytes → inputs.
    pub map: &'a InputMap,
}

/// Mean loss and accuracy of `model` over the images `indices` of `split`.
///
/// Chunks of [`EVAL_CHUNK`] images are scored as rayon tasks, so that idle
/// threads of the pool can take some. Each chunk's sums are computed alone
/// and added in chunk order, so the result has the same bits however many
/// threads took part.
pub fn evaluate(
    model: &Mlp,
    split: &Split,
    pixels: usize,
    indices: &[u32],
    map: &InputMap,
) -> (f64, f64) {
    let images = Images {
        split,
        pixels,
        indices,
        map,
    };
    let e = evaluate_against(model, images, &split.labels, None, true);
    (e.loss, e.accuracy)
}

/// The class `model` predicts for each of `images`, in their order.
pub fn predict(model: &Mlp, images: Images, spread: bool) -> Vec<u8> {
    over_chunks(
        model,
        images,
        &images.split.labels,
        spread,
        |acts, _, labels| {
            let mut classes = vec![0u8; labels.len()];
            model.predictions(acts, &mut classes);
            classes
        },
    )
    .concat()
}

/// Runs `model` forward over `images` in chunks of [`EVAL_CHUNK`] and
/// `per_chunk` on each chunk's outputs with its image indices and labels
/// (read from `source`); the results in order. With `spread`, the chunks
/// are tasks of the thread pool that idle threads may take; without, this
/// thread does them all (while every thread of a sweep trains a run of
/// its own, a chunk taken by another would only stall both runs).
fn over_chunks<T: Send>(
    model: &Mlp,
    images: Images,
    source: &[u8],
    spread: bool,
    per_chunk: impl Fn(&mut Activations, &[u32], &mut [u8]) -> T + Sync,
) -> Vec<T> {
    let sizes = model.sizes();
    let chunk = EVAL_CHUNK.min(images.indices.len().max(1));
    let one = |part: &[u32]| {
        with_scratch(&sizes, chunk, |acts, labels| {
            let rows = part.len();
            gather(
                images.split,
                images.pixels,
                part,
                images.map,
                source,
                acts.input_mut(),
                &mut labels[..rows],
            );
            model.forward(acts, rows);
            per_chunk(acts, part, &mut labels[..rows])
        })
    };
    if spread {
        images.indices.par_chunks(chunk).map(one).collect()
    } else {
        images.indices.chunks(chunk).map(one).collect()
    }
}

/// Mean loss and accuracy over some images, and the accuracy against a
/// second labelling of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Mean loss against the labels given.
    pub loss: f64,
    /// Accuracy against the labels given.
    pub accuracy: f64,
    /// Accuracy against the second labelling, if one was given.
    pub accuracy_other: Option<f64>,
}

/// [`evaluate`] of `images` against the labels `source` (one per image of
/// their split), and also counting correct predictions against `other`
/// when given: one forward pass, scored twice. `spread` as for
/// [`over_chunks`]; the bits are the same either way.
pub fn evaluate_against(
    model: &Mlp,
    images: Images,
    source: &[u8],
    other: Option<&[u8]>,
    spread: bool,
) -> Evaluation {
    let scores: Vec<(f64, usize, usize)> =
        over_chunks(model, images, source, spread, |acts, part, labels| {
            let score = model.score(acts, labels);
            let other_correct = other.map_or(0, |other| {
                for (label, &i) in labels.iter_mut().zip(part) {
                    *label = other[i as usize];
                }
                model.score(acts, labels).correct
            });
            (score.loss_sum, score.correct, other_correct)
        });
    let (mut loss_sum, mut correct, mut other_correct) = (0.0, 0, 0);
    for (l, c, o) in scores {
        loss_sum += l;
        correct += c;
        other_correct += o;
    }
    let n = images.indices.len() as f64;
    Evaluation {
        loss: loss_sum / n,
        accuracy: correct as f64 / n,
        accuracy_other: other.map(|_| other_correct as f64 / n),
    }
}

/// Arrays for one evaluation chunk: activations and labels.
struct Scratch {
    sizes: Vec<usize>,
    acts: Activations,
    labels: Vec<u8>,
}

thread_local! {
    /// This thread's evaluation arrays, kept between chunks, evaluations
    /// and runs: a sweep's workers evaluate every few seconds, and fresh
    /// megabytes each time cost page faults and cache misses — in every
    /// thread of the one process at once.
    static SCRATCH: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) };
}

/// Calls `f` with this thread's evaluation arrays for a network of widths
/// `sizes` and chunks of `chunk` rows (made when it has none of that
/// shape). What they held before never matters: every chunk overwrites the
/// rows it uses.
fn with_scratch<T>(
    sizes: &[usize],
    chunk: usize,
    f: impl FnOnce(&mut Activations, &mut [u8]) -> T,
) -> T {
    let kept = SCRATCH.with(|s| s.borrow_mut().take());
    let mut scratch = match kept {
        Some(s) if s.sizes == sizes && s.acts.batch() == chunk => s,
        _ => Scratch {
            sizes: sizes.to_vec(),
            acts: Activations::new(sizes, chunk),
            labels: vec![0u8; chunk],
        },
    };
    let result = f(&mut scratch.acts, &mut scratch.labels);
    SCRATCH.with(|s| *s.borrow_mut() = Some(scratch));
    result
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
    let TrainOptions {
        kernel,
        from,
        until,
        keep_predictions,
        ..
    } = *options;
    let until = until.unwrap_or(params.epochs);
    let until = until.min(params.epochs);
    let pixels = data.pixels();
    let sizes = params.layer_sizes(pixels, NUM_CLASSES);
    let DataSplit {
        train: train_idx,
        validation: val_idx,
    } = data_split(params, data.train.len());
    let test_idx: Vec<u32> = (0..data.test.len() as u32).collect();
    let n = train_idx.len();
    let batch = params.batch_size.min(n);
    let steps = (n / batch).max(1);

    let mut init_rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut batch_rng = ChaCha8Rng::seed_from_u64(params.seed);
    batch_rng.set_stream(1);
    let mut model = Mlp::new(&sizes, params.init_scheme(), &mut init_rng)
        .with_loss(params.loss)
        .with_kernel(kernel);

    // Every buffer of the run, allocated once before the first step.
    let corruption = PixelCorruption::new(params, &data.train, pixels, &train_idx);
    let map = InputMap::new(params.inputs, corruption, &data.train, pixels, &train_idx);
    let clean_map = map.clean();
    let trained_on = training_labels(params, &data.train.labels, &train_idx);
    let mut acts = Activations::new(&sizes, batch);
    let mut dropout = Dropout::new(
        &sizes,
        batch,
        params.input_dropout as f32,
        params.dropout as f32,
        params.seed,
    );
    let mut grads = Gradients::new(&model, batch);
    let mut labels = vec![0u8; batch];
    let mut order = train_idx.clone();
    let mut drawn = vec![0u32; batch];

    let schedule = params.lr_schedule();
    let mut optimizer = Optimizer::for_model(params.optimizer_settings(), &model);
    let mut watch = params.early_stopping.map(Watch::new);
    let mut outcome = RunOutcome {
        status: Status::Finished,
        diverged_epoch: None,
        stopped_epoch: None,
        train_samples: n,
        parameters: model.parameter_count(),
        epochs: Vec::new(),
        train_seconds: 0.0,
        eval_seconds: 0.0,
        test_predictions: None,
        kernel: kernel.label(),
    };
    let mut first_epoch = 1;
    if let Some(ck) = from {
        let fits = ck.order.len() == order.len()
            && ck.dropout_stream.is_some() == dropout.is_some()
            && ck.watch.is_some() == watch.is_some()
            && ck.epoch < params.epochs
            && optimizer.restore(&ck.moments, ck.steps)
            && model.set_tensors(&ck.tensors);
        if !fits {
            // Some part may already be restored: start over cleanly.
            let afresh = TrainOptions {
                from: None,
                ..*options
            };
            return train_until(params, data, &afresh, on_epoch, stop);
        }
        order.copy_from_slice(&ck.order);
        batch_rng.set_word_pos(ck.batch_stream);
        if let (Some(d), Some(position)) = (dropout.as_mut(), ck.dropout_stream) {
            d.set_position(position);
        }
        if let (Some(w), Some((best, without))) = (watch.as_mut(), ck.watch) {
            w.best = best;
            w.without_improvement = without;
        }
        let here = std::mem::take(&mut outcome.kernel);
        outcome = ck.outcome.clone();
        outcome.kernel = continued_kernel(&outcome.kernel, here);
        first_epoch = ck.epoch + 1;
    }
    let until = until.max(first_epoch - 1);
    for epoch in first_epoch..=until {
        let rate = schedule.rate(epoch);
        let lr = rate as f32;
        let started = Instant::now();
        if params.sampling == Sampling::Shuffle {
            order.shuffle(&mut batch_rng);
        }
        let mut diverged = false;
        for step in 0..steps {
            if stop() {
                return Err(Interrupted);
            }
            let indices: &[u32] = match params.sampling {
                Sampling::Shuffle => &order[step * batch..(step + 1) * batch],
                Sampling::Replacement => {
                    for slot in drawn.iter_mut() {
                        *slot = train_idx[batch_rng.random_range(0..n)];
                    }
                    &drawn
                }
            };
            gather(
                &data.train,
                pixels,
                indices,
                &map,
                &trained_on.labels,
                acts.input_mut(),
                &mut labels[..batch],
            );
            if let Some(d) = dropout.as_mut() {
                d.draw(batch);
            }
            model.forward_with(&mut acts, batch, dropout.as_ref());
            // backward gives the data gradient; the decay λW joins it in the update.
            let score =
                model.backward_with(&mut acts, &labels[..batch], &mut grads, dropout.as_ref());
            if !score.loss_sum.is_finite() {
                diverged = true;
                break;
            }
            optimizer.step(&mut model, &grads, lr);
            if let Some(limit) = params.max_norm {
                model.clamp_incoming_norms(limit as f32);
            }
        }
        let train_seconds = started.elapsed().as_secs_f64();
        outcome.train_seconds += train_seconds;
        if diverged {
            return Ok(Span::ended(outcome.diverged(epoch)));
        }
        if !is_evaluated(params, epoch) {
            continue;
        }
        let started = Instant::now();
        let spread = options.idle_threads.is_none_or(|idle| idle());
        let images = |split, indices, map| Images {
            split,
            pixels,
            indices,
            map,
        };
        let noisy = !trained_on.corrupted.is_empty();
        let train = evaluate_against(
            &model,
            images(&data.train, &train_idx, &map),
            &trained_on.labels,
            noisy.then_some(&data.train.labels[..]),
            spread,
        );
        let (train_loss, train_acc) = (train.loss, train.accuracy);
        let noisy_fit = noisy.then(|| {
            let corrupted = images(&data.train, &trained_on.corrupted, &map);
            evaluate_against(&model, corrupted, &trained_on.labels, None, spread).accuracy
        });
        let (val_loss, val_acc) = match val_idx.is_empty() {
            true => (None, None),
            false => {
                let validation = images(&data.train, &val_idx, &clean_map);
                let e = evaluate_against(&model, validation, &data.train.labels, None, spread);
                (Some(e.loss), Some(e.accuracy))
            }
        };
        let test_images = images(&data.test, &test_idx, &clean_map);
        let test = evaluate_against(&model, test_images, &data.test.labels, None, spread);
        let (test_loss, test_acc) = (test.loss, test.accuracy);
        let metrics = EpochMetrics {
            epoch,
            train_loss,
            train_acc,
            test_loss,
            test_acc,
            gap_acc: train_acc - test_acc,
            gap_loss: test_loss - train_loss,
            penalty: model.penalty(params.lambda),
            train_seconds,
            eval_seconds: started.elapsed().as_secs_f64(),
            lr: Some(rate),
            val_loss,
            val_acc,
            train_acc_clean: train.accuracy_other,
            noisy_fit,
        };
        outcome.eval_seconds += metrics.eval_seconds;
        let finite = [
            Some(train_loss),
            Some(test_loss),
            Some(metrics.penalty),
            val_loss,
        ]
        .iter()
        .flatten()
        .all(|x| x.is_finite());
        if !finite {
            return Ok(Span::ended(outcome.diverged(epoch)));
        }
        let stop_now = watch.as_mut().is_some_and(|w| w.should_stop(&metrics));
        if keep_predictions && (stop_now || epoch == params.epochs) {
            let classes = predict(&model, test_images, spread);
            // The class, and the top bit when it is the image's label.
            let marked = classes
                .iter()
                .zip(&data.test.labels)
                .map(|(&c, &label)| c | (u8::from(c == label) << 7))
                .collect();
            outcome.test_predictions = Some(marked);
        }
        on_epoch(&metrics);
        outcome.epochs.push(metrics);
        if stop_now && epoch < params.epochs {
            outcome.stopped_epoch = Some(epoch);
            return Ok(Span::ended(outcome));
        }
    }
    if until == params.epochs {
        return Ok(Span::ended(outcome));
    }
    let (moments, steps) = optimizer.state();
    let checkpoint = Checkpoint {
        run_id: String::new(),
        epoch: until,
        tensors: model.tensors(),
        moments,
        steps,
        batch_stream: batch_rng.get_word_pos(),
        dropout_stream: dropout.as_ref().map(Dropout::position),
        order,
        watch: watch.map(|w| (w.best, w.without_improvement)),
        outcome: outcome.clone(),
    };
    Ok(Span {
        outcome,
        paused: Some(Box::new(checkpoint)),
    })
}

/// The kernel label of a run trained so far with `before` (empty when its
/// checkpoint did not say) and continued with `here`.
fn continued_kernel(before: &str, here: String) -> String {
    if before.is_empty() || before.split('+').any(|k| k == here) {
        if before.is_empty() {
            here
        } else {
            before.to_string()
        }
    } else {
        format!("{before}+{here}")
    }
}

impl Span {
    fn ended(outcome: RunOutcome) -> Span {
        Span {
            outcome,
            paused: None,
        }
    }
}

/// Early stopping's bookkeeping: the best value of the watched metric so
/// far and how many evaluations in a row have not improved on it.
#[derive(Debug, Clone)]
struct Watch {
    rule: EarlyStopping,
    best: Option<f64>,
    without_improvement: usize,
}

impl Watch {
    fn new(rule: EarlyStopping) -> Watch {
        Watch {
            rule,
            best: None,
            without_improvement: 0,
        }
    }

    /// Records one evaluated epoch; true when the run should stop. An
    /// improvement is a validation loss below `best − min_delta` (or an
    /// accuracy above `best + min_delta`), as in Keras and Lightning.
    fn should_stop(&mut self, metrics: &EpochMetrics) -> bool {
        // Higher is better for both, after turning the loss around.
        let value = match self.rule.metric {
            StopMetric::ValLoss => metrics.val_loss.map(|l| -l),
            StopMetric::ValAcc => metrics.val_acc,
        };
        let Some(value) = value else {
            return false;
        };
        match self.best {
            Some(best) if value <= best + self.rule.min_delta => self.without_improvement += 1,
            _ => {
                self.best = Some(value);
                self.without_improvement = 0;
            }
        }
        self.without_improvement >= self.rule.patience
    }
}

impl RunOutcome {
    /// Marks the run as diverged in `epoch`.
    fn diverged(mut self, epoch: usize) -> RunOutcome {
        self.status = Status::Diverged;
        self.diverged_epoch = Some(epoch);
        self
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

    fn epoch(val_loss: f64) -> EpochMetrics {
        EpochMetrics {
            epoch: 1,
            train_loss: 0.0,
            train_acc: 0.0,
            test_loss: 0.0,
            test_acc: 0.0,
            gap_acc: 0.0,
            gap_loss: 0.0,
            penalty: 0.0,
            train_seconds: 0.0,
            eval_seconds: 0.0,
            lr: None,
            val_loss: Some(val_loss),
            val_acc: None,
            train_acc_clean: None,
            noisy_fit: None,
        }
    }

    #[test]
    fn early_stopping_waits_patience_evaluations_without_a_large_enough_improvement() {
        let mut watch = Watch::new(EarlyStopping {
            metric: StopMetric::ValLoss,
            patience: 2,
            min_delta: 0.01,
        });
        // 1.0 best; 0.995 is not 0.01 better (1 without); 0.98 is (reset);
        // then two without improvement stop the run.
        let stops: Vec<bool> = [1.0, 0.995, 0.98, 0.985, 0.979]
            .iter()
            .map(|&l| watch.should_stop(&epoch(l)))
            .collect();
        assert_eq!(stops, [false, false, false, false, true]);
    }

    #[test]
    fn the_record_of_a_stopped_run_ends_at_the_stop() {
        let p = RunParams {
            epochs: 10,
            eval_every: 2,
            ..RunParams::default()
        };
        let listed: Vec<usize> = evaluated_epochs(&p, None, Some(6)).collect();
        assert_eq!(listed, [2, 4, 6]);
    }
}
