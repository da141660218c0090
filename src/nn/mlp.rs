//! The multi-layer perceptron: dense layers with ReLU between them, the
//! forward pass and the backward pass of the data loss (the gradient of the
//! loss alone: weight decay joins it in the optimizer's update,
//! [`super::optim`]). Every array is an ndarray `Array2`/`Array1` in
//! standard (row-major) layout; [`Activations`] and [`Gradients`] are
//! allocated once per run, and a partial batch is a view of their leading
//! rows.

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, s};
use rand::Rng;

use super::dropout::Dropout;
use super::gemm::Kernel;
use super::init::Init;
use super::loss::{BatchScore, LossSettings};

/// Why `.expect` on a slice of the network's arrays cannot fail: they are
/// all created here, in standard layout, and views of their leading rows
/// stay contiguous.
const ROW_MAJOR: &str = "the network's arrays are row-major and contiguous";

/// One fully connected layer, `y = x · W + b`, with `W` stored row-major as
/// `inputs × outputs` (the notebook's layout).
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    /// Width of the input.
    pub inputs: usize,
    /// Width of the output.
    pub outputs: usize,
    /// `inputs × outputs` weights, in standard (row-major) layout.
    pub weights: Array2<f32>,
    /// One bias per output.
    pub bias: Array1<f32>,
}

/// A ReLU network whose last layer produces class logits, the loss it is
/// scored and trained with, and the GEMM kernel it multiplies with.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    layers: Vec<Dense>,
    loss: LossSettings,
    kernel: Kernel,
}

impl Mlp {
    /// Every tensor's values, in the optimizer's order (each layer's
    /// weights in standard layout, then its biases), to save a run.
    pub fn tensors(&self) -> Vec<Vec<f32>> {
        self.layers
            .iter()
            .flat_map(|l| [l.weights.iter().copied().collect(), l.bias.to_vec()])
            .collect()
    }

    /// Sets every tensor from values saved by [`Mlp::tensors`]; false (and
    /// nothing changed) when their shapes are not this network's.
    pub fn set_tensors(&mut self, tensors: &[Vec<f32>]) -> bool {
        let fits = tensors.len() == 2 * self.layers.len()
            && self.layers.iter().enumerate().all(|(i, l)| {
                tensors[2 * i].len() == l.weights.len() && tensors[2 * i + 1].len() == l.bias.len()
            });
        if fits {
            for (i, l) in self.layers.iter_mut().enumerate() {
                for (w, v) in l.weights.iter_mut().zip(&tensors[2 * i]) {
                    *w = *v;
                }
                for (b, v) in l.bias.iter_mut().zip(&tensors[2 * i + 1]) {
                    *b = *v;
                }
            }
        }
        fits
    }

    /// Builds a network with layer widths `sizes` (input first, classes last),
    /// weights (and for [`Init::Uniform`] biases) drawn by `init` from `rng`.
    pub fn new(sizes: &[usize], init: Init, rng: &mut impl Rng) -> Mlp {
        assert!(sizes.len() >= 2, "an MLP needs an input and an output size");
        let layers = sizes
            .windows(2)
            .map(|pair| {
                let (inputs, outputs) = (pair[0], pair[1]);
                // Drawn in row-major order, the order the stream always had.
                let mut weights = Array2::zeros((inputs, outputs));
                let mut bias = Array1::zeros(outputs);
                init.fill(
                    weights.as_slice_mut().expect(ROW_MAJOR),
                    bias.as_slice_mut().expect(ROW_MAJOR),
                    inputs,
                    rng,
                );
                Dense {
                    inputs,
                    outputs,
                    weights,
                    bias,
                }
            })
            .collect();
        Mlp {
            layers,
            loss: super::loss::Loss::CrossEntropy.into(),
            kernel: Kernel::default(),
        }
    }

    /// The same network scored and trained with `loss` (cross-entropy
    /// unless set).
    pub fn with_loss(mut self, loss: impl Into<LossSettings>) -> Mlp {
        self.loss = loss.into();
        self
    }

    /// The same network multiplying with `kernel` (matrixmultiply unless
    /// set). The kernel changes the last bits of results, never the model.
    pub fn with_kernel(mut self, kernel: Kernel) -> Mlp {
        self.kernel = kernel;
        self
    }

    /// The layers, input side first.
    pub fn layers(&self) -> &[Dense] {
        &self.layers
    }

    /// The layers, mutably (gradient checks nudge single weights).
    pub fn layers_mut(&mut self) -> &mut [Dense] {
        &mut self.layers
    }

    /// Widths of every layer boundary: input, hidden…, classes.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![self.layers[0].inputs];
        sizes.extend(self.layers.iter().map(|l| l.outputs));
        sizes
    }

    /// Number of output classes.
    pub fn classes(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }

    /// Number of trainable parameters: every weight and every bias.
    pub fn parameter_count(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.weights.len() + l.bias.len())
            .sum()
    }

    /// Srivastava et al.'s max-norm constraint: every unit's incoming
    /// weight vector (a column of `W`) longer than `limit` is scaled back
    /// to length `limit`.
    pub fn clamp_incoming_norms(&mut self, limit: f32) {
        for layer in &mut self.layers {
            for mut column in layer.weights.columns_mut() {
                let norm = column.iter().map(|&w| w * w).sum::<f32>().sqrt();
                if norm > limit {
                    let factor = limit / norm;
                    column.iter_mut().for_each(|w| *w *= factor);
                }
            }
        }
    }

    /// The L2 norm of every parameter, weights and biases: √(Σw² + Σb²).
    pub fn parameter_norm(&self) -> f64 {
        sum_of_squares(
            self.layers
                .iter()
                .flat_map(|l| l.weights.iter().chain(&l.bias)),
        )
        .sqrt()
    }

    /// Multiplies every weight and bias by `factor` (`init_scale`: Liu et
    /// al.'s α, which makes the MNIST network grok).
    pub fn scale_parameters(&mut self, factor: f32) {
        for layer in &mut self.layers {
            layer.weights.mapv_inplace(|w| w * factor);
            layer.bias.mapv_inplace(|b| b * factor);
        }
    }

    /// The weight-decay penalty `½ λ Σ ‖W‖²` over weight matrices (not biases).
    pub fn penalty(&self, lambda: f64) -> f64 {
        0.5 * lambda * sum_of_squares(self.layers.iter().flat_map(|l| &l.weights))
    }

    /// Computes logits for the first `rows` inputs in `acts.input_mut()`;
    /// hidden layers apply bias and ReLU in one pass over the GEMM output.
    pub fn forward(&self, acts: &mut Activations, rows: usize) {
        self.forward_with(acts, rows, None);
    }

    /// [`Mlp::forward`] in training mode: the inputs and each hidden layer's
    /// output are multiplied by `dropout`'s current masks, if any.
    pub fn forward_with(&self, acts: &mut Activations, rows: usize, dropout: Option<&Dropout>) {
        assert!(
            rows <= acts.batch,
            "forward: {rows} rows > batch {}",
            acts.batch
        );
        if let Some(mask) = dropout.and_then(|d| d.mask(0, rows)) {
            let input = flat_mut(acts.values[0].slice_mut(s![..rows, ..]));
            for (x, &m) in input.iter_mut().zip(flat(mask)) {
                *x *= m;
            }
        }
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            let (before, after) = acts.values.split_at_mut(l + 1);
            let input = before[l].slice(s![..rows, ..]);
            let mut output = after[0].slice_mut(s![..rows, ..]);
            self.kernel
                .gemm(1.0, input, layer.weights.view(), 0.0, output.view_mut());
            let relu = l != last;
            let bias = layer.bias.as_slice().expect(ROW_MAJOR);
            let output = flat_mut(output);
            for row in output.chunks_exact_mut(layer.outputs) {
                for (z, &b) in row.iter_mut().zip(bias) {
                    let v = *z + b;
                    // `v < 0` is false for NaN, so a diverged value stays
                    // visible instead of being clamped to zero.
                    *z = if relu && v < 0.0 { 0.0 } else { v };
                }
            }
            if let Some(mask) = dropout.and_then(|d| d.mask(l + 1, rows)).filter(|_| relu) {
                for (z, &m) in output.iter_mut().zip(flat(mask)) {
                    *z *= m;
                }
            }
        }
    }

    /// The class each of the first `out.len()` rows of the batch left by
    /// [`Mlp::forward`] is predicted as (the largest output; the accuracy
    /// counts the same).
    pub fn predictions(&self, acts: &Activations, out: &mut [u8]) {
        let outputs = acts.values[self.layers.len()].slice(s![..out.len(), ..]);
        for (row, class) in outputs.rows().into_iter().zip(out.iter_mut()) {
            let row = row.as_slice().expect(ROW_MAJOR);
            *class = super::loss::arg_max(row) as u8;
        }
    }

    /// The output margin of each of the first `labels.len()` rows left by
    /// [`Mlp::forward`]: its label's output minus the largest other.
    pub fn margins(&self, acts: &Activations, labels: &[u8]) -> Vec<f32> {
        let outputs = acts.values[self.layers.len()].slice(s![..labels.len(), ..]);
        outputs
            .rows()
            .into_iter()
            .zip(labels)
            .map(|(row, &label)| {
                super::measures::margin(row.as_slice().expect(ROW_MAJOR), label.into())
            })
            .collect()
    }

    /// Scores the logits left by [`Mlp::forward`] against `labels`, without
    /// gradients. The logits are left intact.
    pub fn score(&self, acts: &mut Activations, labels: &[u8]) -> BatchScore {
        let logits = acts.values[self.layers.len()].slice_mut(s![..labels.len(), ..]);
        self.loss.score(logits, labels, None)
    }

    /// Back-propagates the data loss (the mean of its loss over rows) of the batch left
    /// by [`Mlp::forward`] (one label per row) into `grads`, and returns the
    /// batch's score. Weight decay is not part of it: its gradient `λ W` is
    /// added by whoever updates the weights ([`super::optim::Optimizer`]). The logits
    /// in `acts` are overwritten by their gradient.
    pub fn backward(
        &self,
        acts: &mut Activations,
        labels: &[u8],
        grads: &mut Gradients,
    ) -> BatchScore {
        self.backward_with(acts, labels, grads, None)
    }

    /// [`Mlp::backward`] after [`Mlp::forward_with`]: the gradient reaching
    /// a hidden unit passes through its dropout mask.
    pub fn backward_with(
        &self,
        acts: &mut Activations,
        labels: &[u8],
        grads: &mut Gradients,
        dropout: Option<&Dropout>,
    ) -> BatchScore {
        let rows = labels.len();
        assert!(
            rows <= acts.batch,
            "backward: {rows} labels > batch {}",
            acts.batch
        );
        let depth = self.layers.len();
        let score = self.loss.score(
            acts.values[depth].slice_mut(s![..rows, ..]),
            labels,
            Some(1.0 / rows as f32),
        );
        for l in (0..depth).rev() {
            let layer = &self.layers[l];
            // δ of this layer's output: the logits' gradient for the last
            // layer, else what the layer above propagated.
            let (lower_deltas, upper_deltas) = grads.deltas.split_at_mut(l);
            let delta = if l == depth - 1 {
                acts.values[depth].slice(s![..rows, ..])
            } else {
                upper_deltas[0].slice(s![..rows, ..])
            };
            let input = acts.values[l].slice(s![..rows, ..]);

            // dW = inputᵀ · δ
            self.kernel
                .gemm(1.0, input.t(), delta, 0.0, grads.weights[l].view_mut());
            // db = column sums of δ, row after row
            let bias_grad = grads.bias[l].as_slice_mut().expect(ROW_MAJOR);
            bias_grad.fill(0.0);
            for row in flat(delta).chunks_exact(layer.outputs) {
                for (g, &d) in bias_grad.iter_mut().zip(row) {
                    *g += d;
                }
            }
            // δ below = (δ · Wᵀ) ⊙ ReLU'(input); not needed below the first layer.
            if l > 0 {
                let mut below = lower_deltas[l - 1].slice_mut(s![..rows, ..]);
                self.kernel
                    .gemm(1.0, delta, layer.weights.t(), 0.0, below.view_mut());
                // Written as a select (not a conditional store) so that it
                // vectorises; the same values either way.
                let below = flat_mut(below);
                for (d, &h) in below.iter_mut().zip(flat(input)) {
                    *d = if h <= 0.0 { 0.0 } else { *d };
                }
                if let Some(mask) = dropout.and_then(|d| d.mask(l, rows)) {
                    for (d, &m) in below.iter_mut().zip(flat(mask)) {
                        *d *= m;
                    }
                }
            }
        }
        score
    }
}

/// The elements of a view of leading rows of one of the network's arrays,
/// as one slice (row after row).
fn flat(view: ArrayView2<'_, f32>) -> &[f32] {
    view.to_slice().expect(ROW_MAJOR)
}

/// The elements of a mutable view of leading rows of one of the network's
/// arrays, as one slice (row after row).
fn flat_mut(view: ArrayViewMut2<'_, f32>) -> &mut [f32] {
    view.into_slice().expect(ROW_MAJOR)
}

/// Per-layer values of a batch (input, hidden outputs, logits), one
/// `batch × width` array per layer boundary, sized for at most `batch` rows
/// so a run allocates them once.
#[derive(Debug, Clone)]
pub struct Activations {
    batch: usize,
    values: Vec<Array2<f32>>,
}

impl Activations {
    /// Arrays for `batch` rows of a network with layer widths `sizes`.
    pub fn new(sizes: &[usize], batch: usize) -> Activations {
        Activations {
            batch,
            values: sizes.iter().map(|&s| Array2::zeros((batch, s))).collect(),
        }
    }

    /// Most rows the arrays hold.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The input rows (`batch × inputs`, row after row), to be filled before
    /// `forward`.
    pub fn input_mut(&mut self) -> &mut [f32] {
        self.values[0].as_slice_mut().expect(ROW_MAJOR)
    }
}

/// Gradient arrays of every weight and bias, plus the back-propagated
/// deltas of the hidden layers, allocated once per run.
#[derive(Debug, Clone)]
pub struct Gradients {
    /// ∂L/∂W per layer, `inputs × outputs` like [`Dense::weights`].
    pub weights: Vec<Array2<f32>>,
    /// ∂L/∂b per layer.
    pub bias: Vec<Array1<f32>>,
    /// ∂L/∂(layer output) per layer, `batch × outputs` (the last layer's is
    /// unused: its δ is the logits' gradient, kept in the activations).
    deltas: Vec<Array2<f32>>,
}

impl Gradients {
    /// Arrays for `model` and batches of at most `batch` rows.
    pub fn new(model: &Mlp, batch: usize) -> Gradients {
        let layers = model.layers();
        Gradients {
            weights: layers
                .iter()
                .map(|l| Array2::zeros(l.weights.raw_dim()))
                .collect(),
            bias: layers.iter().map(|l| Array1::zeros(l.outputs)).collect(),
            deltas: layers
                .iter()
                .map(|l| Array2::zeros((batch, l.outputs)))
                .collect(),
        }
    }
}

/// Number of trainable parameters (weights and biases) of a network with
/// layer widths `sizes`, without building it.
pub fn parameter_count(sizes: &[usize]) -> usize {
    sizes.windows(2).map(|p| p[0] * p[1] + p[1]).sum()
}

/// Floating-point operations of one training step per sample (forward,
/// weight gradients, input gradients above the first layer), counting a
/// multiply-add as two.
pub fn train_flops_per_sample(sizes: &[usize]) -> u64 {
    let products: Vec<u64> = sizes.windows(2).map(|p| (p[0] * p[1]) as u64).collect();
    let all: u64 = products.iter().sum();
    let above_first: u64 = products.iter().skip(1).sum();
    2 * all + 2 * all + 2 * above_first
}

/// Σx² in double precision, in the order given.
fn sum_of_squares<'a>(values: impl Iterator<Item = &'a f32>) -> f64 {
    values.map(|&x| f64::from(x) * f64::from(x)).sum()
}

/// Floating-point operations of one forward pass per sample.
pub fn eval_flops_per_sample(sizes: &[usize]) -> u64 {
    sizes.windows(2).map(|p| 2 * (p[0] * p[1]) as u64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    use ndarray::{arr1, arr2};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn scaling_multiplies_every_parameter_and_the_norm_counts_them_all() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut model = Mlp::new(&[3, 4, 2], Init::Uniform, &mut rng);
        let by_hand = model
            .layers()
            .iter()
            .flat_map(|l| l.weights.iter().chain(&l.bias))
            .map(|&w| f64::from(w).powi(2))
            .sum::<f64>()
            .sqrt();
        assert_eq!(model.parameter_norm(), by_hand);
        model.scale_parameters(8.0);
        assert!((model.parameter_norm() - 8.0 * by_hand).abs() < 1e-5 * by_hand);
    }

    #[test]
    fn flop_counts_match_the_known_figures_for_the_notebook_network() {
        let sizes = [784, 200, 200, 10];
        assert_eq!(train_flops_per_sample(&sizes), 879_200);
        assert_eq!(eval_flops_per_sample(&sizes), 397_600);
    }

    #[test]
    fn the_notebook_network_has_199_210_parameters() {
        let sizes = [784, 200, 200, 10];
        assert_eq!(parameter_count(&sizes), 199_210);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            Mlp::new(&sizes, Init::He, &mut rng).parameter_count(),
            199_210
        );
    }

    #[test]
    fn max_norm_scales_only_the_long_incoming_vectors() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut model = Mlp::new(&[2, 2], Init::He, &mut rng);
        // Unit 0's incoming weights (column 0) have length 5, unit 1's 0.5.
        model.layers_mut()[0].weights = ndarray::array![[3.0, 0.3], [4.0, 0.4]];
        model.clamp_incoming_norms(1.0);
        let w = &model.layers()[0].weights;
        assert!((w[[0, 0]] - 0.6).abs() < 1e-6 && (w[[1, 0]] - 0.8).abs() < 1e-6);
        assert_eq!((w[[0, 1]], w[[1, 1]]), (0.3, 0.4));
    }

    #[test]
    fn penalty_ignores_biases() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut model = Mlp::new(&[2, 2], Init::He, &mut rng);
        model.layers_mut()[0].weights = arr2(&[[1.0, 2.0], [3.0, 4.0]]);
        model.layers_mut()[0].bias = arr1(&[100.0, 100.0]);
        assert_eq!(model.penalty(0.1), 0.5 * 0.1 * 30.0);
    }

    #[test]
    fn forward_of_leading_rows_matches_the_full_batch_and_keeps_nan_visible() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut model = Mlp::new(&[3, 4, 2], Init::He, &mut rng);
        let inputs = [0.5, -1.0, 2.0, 1.0, 0.0, -0.5, 0.25, 0.75, -2.0];
        let run = |model: &Mlp, rows: usize| {
            let mut acts = Activations::new(&[3, 4, 2], 3);
            acts.input_mut().copy_from_slice(&inputs);
            model.forward(&mut acts, rows);
            acts.values[2].slice(s![..rows, ..]).to_owned()
        };
        let full = run(&model, 3);
        assert_eq!(run(&model, 2), full.slice(s![..2, ..]));
        // A NaN weight reaches every logit through ReLU instead of being
        // clamped to zero.
        model.layers_mut()[0].weights[[0, 0]] = f32::NAN;
        assert!(run(&model, 3).iter().all(|z| z.is_nan()));
    }
}
