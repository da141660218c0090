//! The multi-layer perceptron: dense layers with ReLU between them, the
//! forward pass, the backward pass with weight decay, and the SGD update.
//! Buffers live in [`Activations`] and [`Gradients`], allocated once per run.

use rand::Rng;

use super::gemm::{Op, gemm};
use super::init::{Init, fill_normal};
use super::loss::{BatchScore, softmax_cross_entropy};

/// One fully connected layer, `y = x · W + b`, with `W` stored row-major as
/// `inputs × outputs` (the notebook's layout).
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    /// Width of the input.
    pub inputs: usize,
    /// Width of the output.
    pub outputs: usize,
    /// `inputs × outputs` weights, row-major.
    pub weights: Vec<f32>,
    /// One bias per output.
    pub bias: Vec<f32>,
}

/// A ReLU network whose last layer produces class logits.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    layers: Vec<Dense>,
}

impl Mlp {
    /// Builds a network with layer widths `sizes` (input first, classes last),
    /// weights drawn by `init` from `rng`, biases zero.
    pub fn new(sizes: &[usize], init: Init, rng: &mut impl Rng) -> Mlp {
        assert!(sizes.len() >= 2, "an MLP needs an input and an output size");
        let layers = sizes
            .windows(2)
            .map(|pair| {
                let (inputs, outputs) = (pair[0], pair[1]);
                let mut weights = vec![0.0; inputs * outputs];
                fill_normal(&mut weights, init.std_dev(inputs, outputs), rng);
                Dense {
                    inputs,
                    outputs,
                    weights,
                    bias: vec![0.0; outputs],
                }
            })
            .collect();
        Mlp { layers }
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

    /// The weight-decay penalty `½ λ Σ ‖W‖²` over weight matrices (not biases).
    pub fn penalty(&self, lambda: f64) -> f64 {
        let squares: f64 = self
            .layers
            .iter()
            .flat_map(|l| &l.weights)
            .map(|&w| f64::from(w) * f64::from(w))
            .sum();
        0.5 * lambda * squares
    }

    /// Computes logits for the first `rows` inputs in `acts.input_mut()`;
    /// hidden layers apply bias and ReLU in one pass over the GEMM output.
    pub fn forward(&self, acts: &mut Activations, rows: usize) {
        assert!(
            rows <= acts.batch,
            "forward: {rows} rows > batch {}",
            acts.batch
        );
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            let (before, after) = acts.values.split_at_mut(l + 1);
            let input = &before[l][..rows * layer.inputs];
            let output = &mut after[0][..rows * layer.outputs];
            gemm(
                rows,
                layer.inputs,
                layer.outputs,
                1.0,
                input,
                Op::Plain,
                &layer.weights,
                Op::Plain,
                0.0,
                output,
            );
            let relu = l != last;
            for row in output.chunks_exact_mut(layer.outputs) {
                for (z, &b) in row.iter_mut().zip(&layer.bias) {
                    let v = *z + b;
                    // `v < 0` is false for NaN, so a diverged value stays
                    // visible instead of being clamped to zero.
                    *z = if relu && v < 0.0 { 0.0 } else { v };
                }
            }
        }
    }

    /// Scores the logits left by [`Mlp::forward`] against `labels`, without
    /// gradients. The logits are left intact.
    pub fn score(&self, acts: &mut Activations, labels: &[u8]) -> BatchScore {
        let classes = self.classes();
        let logits = &mut acts.values[self.layers.len()][..labels.len() * classes];
        softmax_cross_entropy(logits, labels, classes, None)
    }

    /// Back-propagates the loss `mean cross-entropy + ½ λ Σ‖W‖²` of the
    /// batch left by [`Mlp::forward`] (one label per row) into `grads`,
    /// including the weight-decay term `λ W`. Returns the batch's score.
    /// The logits in `acts` are overwritten by their gradient.
    pub fn backward(
        &self,
        acts: &mut Activations,
        labels: &[u8],
        lambda: f32,
        grads: &mut Gradients,
    ) -> BatchScore {
        let rows = labels.len();
        let depth = self.layers.len();
        let classes = self.classes();
        let score = {
            let logits = &mut acts.values[depth][..rows * classes];
            softmax_cross_entropy(logits, labels, classes, Some(1.0 / rows as f32))
        };
        for l in (0..depth).rev() {
            let layer = &self.layers[l];
            // δ of this layer's output: the logits' gradient for the last
            // layer, else what the layer above propagated.
            let (lower_deltas, upper_deltas) = grads.deltas.split_at_mut(l);
            let delta: &[f32] = if l == depth - 1 {
                &acts.values[depth][..rows * layer.outputs]
            } else {
                &upper_deltas[0][..rows * layer.outputs]
            };
            let input = &acts.values[l][..rows * layer.inputs];

            // dW = inputᵀ · δ + λ W
            let weight_grad = &mut grads.weights[l];
            gemm(
                layer.inputs,
                rows,
                layer.outputs,
                1.0,
                input,
                Op::Transposed,
                delta,
                Op::Plain,
                0.0,
                weight_grad,
            );
            if lambda != 0.0 {
                for (g, &w) in weight_grad.iter_mut().zip(&layer.weights) {
                    *g += lambda * w;
                }
            }
            // db = column sums of δ
            let bias_grad = &mut grads.bias[l];
            bias_grad.fill(0.0);
            for row in delta.chunks_exact(layer.outputs) {
                for (g, &d) in bias_grad.iter_mut().zip(row) {
                    *g += d;
                }
            }
            // δ below = (δ · Wᵀ) ⊙ ReLU'(input); not needed below the first layer.
            if l > 0 {
                let below = &mut lower_deltas[l - 1][..rows * layer.inputs];
                gemm(
                    rows,
                    layer.outputs,
                    layer.inputs,
                    1.0,
                    delta,
                    Op::Plain,
                    &layer.weights,
                    Op::Transposed,
                    0.0,
                    below,
                );
                // Written as a select (not a conditional store) so that it
                // vectorises; the same values either way.
                for (d, &h) in below.iter_mut().zip(input) {
                    *d = if h <= 0.0 { 0.0 } else { *d };
                }
            }
        }
        score
    }

    /// One SGD step: `θ ← θ − lr · ∇θ` for every weight and bias, where a
    /// weight's gradient is `grads` plus `lambda · W`. Training passes the
    /// data gradient (from `backward` with λ = 0) and the decay here: the
    /// same arithmetic, in the same order, as adding λW in `backward`, but
    /// one pass over the weights instead of two.
    pub fn sgd_step(&mut self, grads: &Gradients, learning_rate: f32, lambda: f32) {
        for (l, layer) in self.layers.iter_mut().enumerate() {
            if lambda != 0.0 {
                for (w, &g) in layer.weights.iter_mut().zip(&grads.weights[l]) {
                    let g = g + lambda * *w;
                    *w -= learning_rate * g;
                }
            } else {
                for (w, &g) in layer.weights.iter_mut().zip(&grads.weights[l]) {
                    *w -= learning_rate * g;
                }
            }
            for (b, &g) in layer.bias.iter_mut().zip(&grads.bias[l]) {
                *b -= learning_rate * g;
            }
        }
    }
}

/// Per-layer values of a batch (input, hidden outputs, logits), sized for at
/// most `batch` rows, so a run allocates them once.
#[derive(Debug, Clone)]
pub struct Activations {
    batch: usize,
    values: Vec<Vec<f32>>,
}

impl Activations {
    /// Buffers for `batch` rows of a network with layer widths `sizes`.
    pub fn new(sizes: &[usize], batch: usize) -> Activations {
        Activations {
            batch,
            values: sizes.iter().map(|&s| vec![0.0; s * batch]).collect(),
        }
    }

    /// Most rows the buffers hold.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The input buffer (`batch × inputs`), to be filled before `forward`.
    pub fn input_mut(&mut self) -> &mut [f32] {
        &mut self.values[0]
    }
}

/// Gradient buffers of every weight and bias, plus the back-propagated
/// deltas of the hidden layers, allocated once per run.
#[derive(Debug, Clone)]
pub struct Gradients {
    /// ∂L/∂W per layer, same layout as [`Dense::weights`].
    pub weights: Vec<Vec<f32>>,
    /// ∂L/∂b per layer.
    pub bias: Vec<Vec<f32>>,
    deltas: Vec<Vec<f32>>,
}

impl Gradients {
    /// Buffers for `model` and batches of at most `batch` rows.
    pub fn new(model: &Mlp, batch: usize) -> Gradients {
        let layers = model.layers();
        Gradients {
            weights: layers.iter().map(|l| vec![0.0; l.weights.len()]).collect(),
            bias: layers.iter().map(|l| vec![0.0; l.outputs]).collect(),
            deltas: layers
                .iter()
                .map(|l| vec![0.0; l.outputs * batch])
                .collect(),
        }
    }
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

/// Floating-point operations of one forward pass per sample.
pub fn eval_flops_per_sample(sizes: &[usize]) -> u64 {
    sizes.windows(2).map(|p| 2 * (p[0] * p[1]) as u64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn flop_counts_match_the_known_figures_for_the_notebook_network() {
        let sizes = [784, 200, 200, 10];
        assert_eq!(train_flops_per_sample(&sizes), 879_200);
        assert_eq!(eval_flops_per_sample(&sizes), 397_600);
    }

    #[test]
    fn penalty_ignores_biases() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut model = Mlp::new(&[2, 2], Init::He, &mut rng);
        model.layers_mut()[0].weights = vec![1.0, 2.0, 3.0, 4.0];
        model.layers_mut()[0].bias = vec![100.0, 100.0];
        assert_eq!(model.penalty(0.1), 0.5 * 0.1 * 30.0);
    }
}
