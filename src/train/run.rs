//! One run in progress: the network, its optimizer, every buffer a step
//! needs, the random streams and what the run has measured so far, with the
//! phases [`train_until`](super::train_until) calls in turn — start or
//! resume, train an epoch, evaluate, record, pause.

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::corruption::{PixelCorruption, TrainingLabels, training_labels};
use super::evaluate::{Images, evaluate_against, predict};
use super::forgetting::Forgetting;
use super::inputs::{InputMap, gather};
use super::measures::{Measures, measure, measured_images};
use super::watch::Watch;
use super::{Checkpoint, DataSplit, EpochMetrics, RunOutcome, Status, data_split};
use crate::config::{MeasureSet, RunParams, Sampling};
use crate::data::{Dataset, NUM_CLASSES};
use crate::nn::dropout::Dropout;
use crate::nn::optim::Optimizer;
use crate::nn::schedule::LrSchedule;
use crate::nn::{Activations, Gradients, Kernel, Mlp};

/// A run between two phases. It owns everything that changes as it trains;
/// the settings and the dataset are borrowed.
pub(super) struct Run<'a> {
    params: &'a RunParams,
    data: &'a Dataset,
    pixels: usize,
    split: DataSplit,
    test_idx: Vec<u32>,
    /// Images per step, and steps per epoch.
    batch: usize,
    steps: usize,
    model: Mlp,
    optimizer: Optimizer,
    schedule: LrSchedule,
    /// Pixel bytes → inputs for training images (with the run's
    /// corruption), and for validation and test images (without).
    map: InputMap,
    clean_map: InputMap,
    trained_on: TrainingLabels,
    buffers: StepBuffers,
    /// The training order as the last shuffle left it.
    order: Vec<u32>,
    batch_rng: ChaCha8Rng,
    watch: Option<Watch>,
    /// Forgetting events per training image, counted over the whole run
    /// (`None` for a run continued from a checkpoint: its counts before the
    /// pause are not kept).
    forgetting: Option<Forgetting>,
    /// Whether the counts per image go into the outcome when it ends.
    keep_forgetting: bool,
    /// The network as initialised (for the distance from initialisation),
    /// unless the run takes no measures.
    start: Option<Mlp>,
    /// The training images the measures are taken on.
    measured: Vec<u32>,
    /// The measures last taken, and after which epoch.
    last_measures: Option<(usize, Measures)>,
    outcome: RunOutcome,
    epochs_done: usize,
}

/// Every array one step writes, allocated once before the first.
struct StepBuffers {
    acts: Activations,
    dropout: Option<Dropout>,
    grads: Gradients,
    labels: Vec<u8>,
    /// The indices drawn for a step when sampling with replacement.
    drawn: Vec<u32>,
    /// The class predicted for each image of the step (for forgetting).
    classes: Vec<u8>,
}

/// One epoch trained: which, at what rate, in how long, and whether the
/// loss stayed finite.
pub(super) struct Trained {
    pub(super) epoch: usize,
    pub(super) rate: f64,
    pub(super) seconds: f64,
    pub(super) diverged: bool,
}

impl<'a> Run<'a> {
    /// The run before its first step: the data split, the network
    /// initialised from `seed`, buffers allocated.
    pub(super) fn new(params: &'a RunParams, data: &'a Dataset, kernel: Kernel) -> Run<'a> {
        let pixels = data.pixels();
        let sizes = params.layer_sizes(pixels, NUM_CLASSES);
        let split = data_split(params, data.train.len());
        let n = split.train.len();
        let batch = params.batch_size.min(n);

        let mut init_rng = ChaCha8Rng::seed_from_u64(params.seed);
        let mut batch_rng = ChaCha8Rng::seed_from_u64(params.seed);
        batch_rng.set_stream(1);
        let mut model = Mlp::new(&sizes, params.init, &mut init_rng)
            .with_loss(params.loss_settings())
            .with_kernel(kernel);
        if params.init_scale != 1.0 {
            model.scale_parameters(params.init_scale as f32);
        }

        let corruption = PixelCorruption::new(params, &data.train, pixels, &split.train);
        let map = InputMap::new(params.inputs, corruption, &data.train, pixels, &split.train);
        let buffers = StepBuffers {
            acts: Activations::new(&sizes, batch),
            dropout: Dropout::new(
                &sizes,
                batch,
                params.input_dropout as f32,
                params.dropout as f32,
                params.seed,
            ),
            grads: Gradients::new(&model, batch),
            labels: vec![0u8; batch],
            drawn: vec![0u32; batch],
            classes: vec![0u8; batch],
        };
        let outcome = RunOutcome {
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
            forgetting: None,
            forgetting_counts: None,
            measures: None,
        };
        let measuring = params.measures != MeasureSet::None;
        let measured = match measuring {
            true => measured_images(params, &split.train),
            false => Vec::new(),
        };
        Run {
            params,
            data,
            pixels,
            test_idx: (0..data.test.len() as u32).collect(),
            batch,
            steps: (n / batch).max(1),
            optimizer: Optimizer::for_model(params.optimizer_settings(), &model),
            schedule: params.lr_schedule(),
            clean_map: map.clean(),
            map,
            trained_on: training_labels(params, &data.train.labels, &split.train),
            buffers,
            order: split.train.clone(),
            split,
            batch_rng,
            watch: params.early_stopping.map(Watch::new),
            forgetting: Some(Forgetting::new(n)),
            keep_forgetting: false,
            start: measuring.then(|| model.clone()),
            measured,
            last_measures: None,
            outcome,
            epochs_done: 0,
            model,
        }
    }

    /// The run continued from `checkpoint`, or `None` when the checkpoint
    /// does not fit it (another network, optimizer or data split).
    pub(super) fn resume(
        params: &'a RunParams,
        data: &'a Dataset,
        kernel: Kernel,
        checkpoint: &Checkpoint,
    ) -> Option<Run<'a>> {
        let mut run = Run::new(params, data, kernel);
        let ck = checkpoint;
        let fits = ck.order.len() == run.order.len()
            && ck.dropout_stream.is_some() == run.buffers.dropout.is_some()
            && ck.watch.is_some() == run.watch.is_some()
            && ck.epoch < params.epochs
            && run.optimizer.restore(&ck.moments, ck.steps)
            && run.model.set_tensors(&ck.tensors);
        if !fits {
            return None;
        }
        run.order.copy_from_slice(&ck.order);
        run.batch_rng.set_word_pos(ck.batch_stream);
        if let (Some(d), Some(position)) = (run.buffers.dropout.as_mut(), ck.dropout_stream) {
            d.set_position(position);
        }
        if let (Some(w), Some((best, without))) = (run.watch.as_mut(), ck.watch) {
            w.best = best;
            w.without_improvement = without;
        }
        let here = std::mem::take(&mut run.outcome.kernel);
        run.outcome = ck.outcome.clone();
        run.outcome.kernel = continued_kernel(&run.outcome.kernel, here);
        run.epochs_done = ck.epoch;
        run.forgetting = None;
        Some(run)
    }

    /// Epochs trained so far.
    pub(super) fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// Trains the next epoch at the rate the schedule gives it. `stop` is
    /// asked before every step; a run stopped is [`super::Interrupted`].
    pub(super) fn train_epoch(
        &mut self,
        stop: &dyn Fn() -> bool,
    ) -> Result<Trained, super::Interrupted> {
        let epoch = self.epochs_done + 1;
        let rate = self.schedule.rate(epoch);
        let lr = rate as f32;
        let started = Instant::now();
        let (batch, n) = (self.batch, self.split.train.len());
        if self.params.sampling == Sampling::Shuffle {
            self.order.shuffle(&mut self.batch_rng);
        }
        let b = &mut self.buffers;
        let mut diverged = false;
        for step in 0..self.steps {
            if stop() {
                return Err(super::Interrupted);
            }
            let indices: &[u32] = match self.params.sampling {
                Sampling::Shuffle => &self.order[step * batch..(step + 1) * batch],
                Sampling::Replacement => {
                    for slot in b.drawn.iter_mut() {
                        *slot = self.split.train[self.batch_rng.random_range(0..n)];
                    }
                    &b.drawn
                }
            };
            gather(
                &self.data.train,
                self.pixels,
                indices,
                &self.map,
                &self.trained_on.labels,
                b.acts.input_mut(),
                &mut b.labels[..batch],
            );
            if let Some(d) = b.dropout.as_mut() {
                d.draw(batch);
            }
            let model = &mut self.model;
            model.forward_with(&mut b.acts, batch, b.dropout.as_ref());
            if let Some(forgetting) = self.forgetting.as_mut() {
                model.predictions(&b.acts, &mut b.classes[..batch]);
                let right = b.classes.iter().zip(&b.labels).map(|(c, l)| c == l);
                for (image, right) in indices.iter().zip(right) {
                    if let Ok(slot) = self.split.train.binary_search(image) {
                        forgetting.present(slot, right);
                    }
                }
            }
            // backward gives the data gradient; the decay λW joins it in the update.
            let score = model.backward_with(
                &mut b.acts,
                &b.labels[..batch],
                &mut b.grads,
                b.dropout.as_ref(),
            );
            if !score.loss_sum.is_finite() {
                diverged = true;
                break;
            }
            self.optimizer.step(model, &b.grads, lr);
            if let Some(limit) = self.params.max_norm {
                model.clamp_incoming_norms(limit as f32);
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        self.outcome.train_seconds += seconds;
        self.epochs_done = epoch;
        Ok(Trained {
            epoch,
            rate,
            seconds,
            diverged,
        })
    }

    /// Scores the network after the epoch `trained` on the training,
    /// validation and test images; `None` when a loss or the penalty is no
    /// longer finite (the run diverged). `spread` lets idle threads take
    /// chunks of the evaluation.
    pub(super) fn evaluate(&mut self, trained: &Trained, spread: bool) -> Option<EpochMetrics> {
        let started = Instant::now();
        let (data, model, labels) = (self.data, &self.model, &self.trained_on.labels);
        let noisy = !self.trained_on.corrupted.is_empty();
        let train = evaluate_against(
            model,
            self.images(&data.train, &self.split.train, &self.map),
            labels,
            noisy.then_some(&data.train.labels[..]),
            spread,
        );
        let noisy_fit = noisy.then(|| {
            let corrupted = self.images(&data.train, &self.trained_on.corrupted, &self.map);
            evaluate_against(model, corrupted, labels, None, spread).accuracy
        });
        let validation = (!self.split.validation.is_empty()).then(|| {
            let images = self.images(&data.train, &self.split.validation, &self.clean_map);
            evaluate_against(model, images, &data.train.labels, None, spread)
        });
        let test_images = self.images(&data.test, &self.test_idx, &self.clean_map);
        let test = evaluate_against(model, test_images, &data.test.labels, None, spread);
        let metrics = EpochMetrics {
            epoch: trained.epoch,
            train_loss: train.loss,
            train_acc: train.accuracy,
            test_loss: test.loss,
            test_acc: test.accuracy,
            gap_acc: train.accuracy - test.accuracy,
            gap_loss: test.loss - train.loss,
            penalty: model.penalty(self.params.lambda),
            train_seconds: trained.seconds,
            eval_seconds: started.elapsed().as_secs_f64(),
            lr: Some(trained.rate),
            val_loss: validation.map(|e| e.loss),
            val_acc: validation.map(|e| e.accuracy),
            train_acc_clean: train.accuracy_other,
            noisy_fit,
            weight_norm: Some(model.parameter_norm()),
            ..EpochMetrics::default()
        };
        self.outcome.eval_seconds += metrics.eval_seconds;
        let finite = [
            Some(metrics.train_loss),
            Some(metrics.test_loss),
            Some(metrics.penalty),
            metrics.val_loss,
        ]
        .iter()
        .flatten()
        .all(|x| x.is_finite());
        finite.then_some(metrics)
    }

    /// Whether the run stops after `metrics`: early stopping says so, or
    /// the training loss reached `stop_at_train_loss`.
    pub(super) fn should_stop_early(&mut self, metrics: &EpochMetrics) -> bool {
        let watched = self.watch.as_mut().is_some_and(|w| w.should_stop(metrics));
        let fitted = self
            .params
            .stop_at_train_loss
            .is_some_and(|x| metrics.train_loss <= x);
        watched || fitted
    }

    /// Whether the measures are due with the evaluation about to be
    /// recorded: at every `measures_every`-th evaluation, and at the last
    /// (`ends`) when they are taken along the way at all.
    pub(super) fn measures_due(&self, ends: bool) -> bool {
        let k = self.params.measures_every;
        k.is_some_and(|k| ends || (self.outcome.epochs.len() + 1).is_multiple_of(k))
    }

    /// Takes the measures of the network as it is now (`None` when the run
    /// takes none), and keeps them as the last taken.
    pub(super) fn measure(&mut self, spread: bool) -> Option<Measures> {
        let start = self.start.as_ref()?;
        let images = self.images(&self.data.train, &self.measured, &self.map);
        let steps = (self.epochs_done * self.steps) as u64;
        let labels = &self.trained_on.labels;
        let taken = measure(
            self.params,
            &self.model,
            start,
            images,
            labels,
            steps,
            spread,
        )?;
        self.last_measures = Some((self.epochs_done, taken.clone()));
        Some(taken)
    }

    /// Puts the measures of the network it ends with into the outcome
    /// (those taken at its last evaluation, when they were).
    pub(super) fn measure_at_end(&mut self, spread: bool) {
        self.outcome.measures = match self.last_measures.take() {
            Some((epoch, taken)) if epoch == self.epochs_done => Some(taken),
            _ => self.measure(spread),
        };
    }

    /// Keeps the class the network predicts for each test image: the class,
    /// and the top bit when it is the image's label.
    pub(super) fn keep_test_predictions(&mut self, spread: bool) {
        let test = &self.data.test;
        let classes = predict(
            &self.model,
            self.images(test, &self.test_idx, &self.clean_map),
            spread,
        );
        let marked = classes
            .iter()
            .zip(&test.labels)
            .map(|(&c, &label)| c | (u8::from(c == label) << 7))
            .collect();
        self.outcome.test_predictions = Some(marked);
    }

    /// Adds an evaluated epoch to what the run has measured.
    pub(super) fn record(&mut self, metrics: EpochMetrics) {
        self.outcome.epochs.push(metrics);
    }

    /// The outcome of a run that ended after its last epoch.
    pub(super) fn finished(self) -> RunOutcome {
        self.ended()
    }

    /// The outcome of a run whose loss stopped being finite in `epoch`.
    pub(super) fn diverged(mut self, epoch: usize) -> RunOutcome {
        self.outcome.status = Status::Diverged;
        self.outcome.diverged_epoch = Some(epoch);
        self.ended()
    }

    /// The outcome of a run early stopping ended after `epoch`.
    pub(super) fn stopped_early(mut self, epoch: usize) -> RunOutcome {
        self.outcome.stopped_epoch = Some(epoch);
        self.ended()
    }

    /// The outcome of a run that ended, with what its forgetting counts
    /// come to.
    fn ended(mut self) -> RunOutcome {
        if let Some(forgetting) = &self.forgetting {
            let corrupted = &self.trained_on.corrupted;
            let flags: Vec<bool> = match corrupted.is_empty() {
                true => Vec::new(),
                false => self
                    .split
                    .train
                    .iter()
                    .map(|i| corrupted.binary_search(i).is_ok())
                    .collect(),
            };
            self.outcome.forgetting = Some(forgetting.summary(&flags));
            if self.keep_forgetting {
                self.outcome.forgetting_counts = Some(forgetting.counts());
            }
        }
        self.outcome
    }

    /// Keep the counts per image in the outcome when the run ends.
    pub(super) fn keep_forgetting(&mut self, keep: bool) {
        self.keep_forgetting = keep;
    }

    /// The outcome so far and the state to continue from.
    pub(super) fn checkpoint(self) -> (RunOutcome, Checkpoint) {
        let (moments, steps) = self.optimizer.state();
        let checkpoint = Checkpoint {
            run_id: String::new(),
            epoch: self.epochs_done,
            tensors: self.model.tensors(),
            moments,
            steps,
            batch_stream: self.batch_rng.get_word_pos(),
            dropout_stream: self.buffers.dropout.as_ref().map(Dropout::position),
            order: self.order,
            watch: self.watch.map(|w| (w.best, w.without_improvement)),
            outcome: self.outcome.clone(),
        };
        (self.outcome, checkpoint)
    }

    /// Some images of `split` as one evaluation reads them.
    fn images<'s>(
        &self,
        split: &'s crate::data::Split,
        indices: &'s [u32],
        map: &'s InputMap,
    ) -> Images<'s> {
        Images {
            split,
            pixels: self.pixels,
            indices,
            map,
        }
    }
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
