//! One training run as a pure function of its parameters and the shared
//! dataset: seeded initialisation, minibatch SGD with weight decay, periodic
//! evaluation. It prints nothing and writes no file; the caller does.

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{RunParams, Sampling};
use crate::data::{Dataset, NUM_CLASSES, Split};
use crate::nn::{Activations, Gradients, Mlp};

/// Rows per forward pass when evaluating (large chunks keep the GEMMs efficient).
pub const EVAL_CHUNK: usize = 1000;

/// Metrics of one evaluated epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epochs completed (1-based).
    pub epoch: usize,
    /// Mean cross-entropy on the training samples used (data loss only).
    pub train_loss: f64,
    /// Accuracy on the training samples used, in [0, 1].
    pub train_acc: f64,
    /// Mean cross-entropy on the full test split.
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
    /// Number of training images used.
    pub train_samples: usize,
    /// One entry per evaluated epoch.
    pub epochs: Vec<EpochMetrics>,
    /// Wall-clock seconds spent training, over every epoch run (evaluated or not).
    pub train_seconds: f64,
    /// Wall-clock seconds spent evaluating.
    pub eval_seconds: f64,
}

/// Indices of the training images a run uses: all of them, or a subset of
/// `train_subset` chosen by `data_seed` (sorted, so memory is read in order).
pub fn training_indices(params: &RunParams, train_len: usize) -> Vec<u32> {
    let mut all: Vec<u32> = (0..train_len as u32).collect();
    match params.train_subset {
        Some(n) if n < train_len => {
            let mut rng = ChaCha8Rng::seed_from_u64(params.data_seed);
            let (chosen, _) = all.partial_shuffle(&mut rng, n);
            let mut subset = chosen.to_vec();
            subset.sort_unstable();
            subset
        }
        _ => all,
    }
}

/// Whether `epoch` (1-based) is evaluated: every `eval_every` epochs and
/// after the last. A run's record must hold exactly these epochs (those
/// before the divergence, for a run that diverged).
pub fn is_evaluated(params: &RunParams, epoch: usize) -> bool {
    epoch.is_multiple_of(params.eval_every) || epoch == params.epochs
}

/// The epochs a run's `epochs.csv` must list, in order: every evaluated
/// epoch, or for a run that diverged in epoch `d`, those before `d`.
pub fn evaluated_epochs(
    params: &RunParams,
    diverged_epoch: Option<usize>,
) -> impl Iterator<Item = usize> + '_ {
    let last = diverged_epoch.map_or(params.epochs, |d| d.saturating_sub(1).min(params.epochs));
    (1..=last).filter(move |&e| is_evaluated(params, e))
}

/// Pixel byte → [0, 1] value, exactly `b / 255` as PyTorch's `ToTensor` gives.
pub fn pixel_table() -> [f32; 256] {
    std::array::from_fn(|b| b as f32 / 255.0)
}

/// Copies the images `indices` of `split` into `inputs` (scaled to [0, 1])
/// and their labels into `labels`.
fn gather(
    split: &Split,
    pixels: usize,
    indices: &[u32],
    table: &[f32; 256],
    inputs: &mut [f32],
    labels: &mut [u8],
) {
    for ((&i, row), label) in indices
        .iter()
        .zip(inputs.chunks_exact_mut(pixels))
        .zip(labels)
    {
        let i = i as usize;
        let bytes = &split.images[i * pixels..(i + 1) * pixels];
        for (x, &b) in row.iter_mut().zip(bytes) {
            *x = table[b as usize];
        }
        *label = split.labels[i];
    }
}

/// Mean loss and accuracy of `model` over the images `indices` of `split`.
///
/// Chunks of [`EVAL_CHUNK`] images are scored as rayon tasks: when the
/// sweep has idle workers (fewer runs left than `--jobs`) they take some,
/// otherwise the calling worker does them all. Each chunk's sums are
/// computed alone and added in chunk order, so the result has the same
/// bits however many threads took part.
pub fn evaluate(
    model: &Mlp,
    split: &Split,
    pixels: usize,
    indices: &[u32],
    table: &[f32; 256],
) -> (f64, f64) {
    let sizes = model.sizes();
    let chunk = EVAL_CHUNK.min(indices.len().max(1));
    let scores: Vec<(f64, usize)> = indices
        .par_chunks(chunk)
        .map_init(
            || (Activations::new(&sizes, chunk), vec![0u8; chunk]),
            |(acts, labels), part| {
                let rows = part.len();
                gather(
                    split,
                    pixels,
                    part,
                    table,
                    acts.input_mut(),
                    &mut labels[..rows],
                );
                model.forward(acts, rows);
                let score = model.score(acts, &labels[..rows]);
                (score.loss_sum, score.correct)
            },
        )
        .collect();
    let (mut loss_sum, mut correct) = (0.0, 0);
    for (l, c) in scores {
        loss_sum += l;
        correct += c;
    }
    let n = indices.len() as f64;
    (loss_sum / n, correct as f64 / n)
}

/// Trains one network as `params` says and evaluates it every `eval_every`
/// epochs (and after the last). `on_epoch` sees each evaluated epoch as it
/// completes, for progress display; `stop` is asked before every step and
/// ends the run with [`Interrupted`] when it says so. The result depends
/// only on `params` and `data`: the same seed gives the same bits in any
/// thread.
pub fn train(
    params: &RunParams,
    data: &Dataset,
    on_epoch: &mut dyn FnMut(&EpochMetrics),
    stop: &dyn Fn() -> bool,
) -> Result<RunOutcome, Interrupted> {
    let pixels = data.pixels();
    let sizes = params.layer_sizes(pixels, NUM_CLASSES);
    let train_idx = training_indices(params, data.train.len());
    let test_idx: Vec<u32> = (0..data.test.len() as u32).collect();
    let n = train_idx.len();
    let batch = params.batch_size.min(n);
    let steps = (n / batch).max(1);

    let mut init_rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut batch_rng = ChaCha8Rng::seed_from_u64(params.seed);
    batch_rng.set_stream(1);
    let mut model = Mlp::new(&sizes, params.init_scheme(), &mut init_rng);

    // Every buffer of the run, allocated once before the first step.
    let table = pixel_table();
    let mut acts = Activations::new(&sizes, batch);
    let mut grads = Gradients::new(&model, batch);
    let mut labels = vec![0u8; batch];
    let mut order = train_idx.clone();
    let mut drawn = vec![0u32; batch];

    let lr = params.learning_rate as f32;
    let lambda = params.lambda as f32;
    let mut outcome = RunOutcome {
        status: Status::Finished,
        diverged_epoch: None,
        train_samples: n,
        epochs: Vec::new(),
        train_seconds: 0.0,
        eval_seconds: 0.0,
    };
    for epoch in 1..=params.epochs {
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
                &table,
                acts.input_mut(),
                &mut labels[..batch],
            );
            model.forward(&mut acts, batch);
            // The decay λW joins the gradient inside the update (one pass).
            let score = model.backward(&mut acts, &labels[..batch], 0.0, &mut grads);
            if !score.loss_sum.is_finite() {
                diverged = true;
                break;
            }
            model.sgd_step(&grads, lr, lambda);
        }
        let train_seconds = started.elapsed().as_secs_f64();
        outcome.train_seconds += train_seconds;
        if diverged {
            return Ok(outcome.diverged(epoch));
        }
        if !is_evaluated(params, epoch) {
            continue;
        }
        let started = Instant::now();
        let (train_loss, train_acc) = evaluate(&model, &data.train, pixels, &train_idx, &table);
        let (test_loss, test_acc) = evaluate(&model, &data.test, pixels, &test_idx, &table);
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
        };
        outcome.eval_seconds += metrics.eval_seconds;
        if !(train_loss.is_finite() && test_loss.is_finite() && metrics.penalty.is_finite()) {
            return Ok(outcome.diverged(epoch));
        }
        on_epoch(&metrics);
        outcome.epochs.push(metrics);
    }
    Ok(outcome)
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
        let a = training_indices(&p, 1000);
        p.seed = 99;
        assert_eq!(training_indices(&p, 1000), a);
        p.data_seed = 1;
        assert_ne!(training_indices(&p, 1000), a);
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn pixel_bytes_scale_to_the_unit_interval() {
        let t = pixel_table();
        assert_eq!((t[0], t[255]), (0.0, 1.0));
        assert_eq!(t[51], 51.0 / 255.0);
    }
}
