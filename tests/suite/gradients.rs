//! Gradient checks: the analytic gradients of the MLP (every layer's weights
//! and biases) against central finite differences of the total loss, on real
//! MNIST images, with every GEMM kernel this CPU can run. `backward` gives
//! the data gradient only; the checks compose it with the decay λW, as the
//! update does.

use ndarray::{Array, Dimension, Zip};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sweep::nn::dropout::Dropout;
use sweep::nn::loss::Loss;
use sweep::nn::optim::{Optimizer, OptimizerSettings};
use sweep::nn::{Activations, Gradients, Init, Kernel, Mlp};

const BATCH: usize = 16;

/// The kernels this CPU can run: every check runs with each.
fn kernels() -> impl Iterator<Item = Kernel> {
    Kernel::ALL.into_iter().filter(|k| k.available())
}

/// A small batch of real MNIST images scaled to [0, 1], with labels.
fn mnist_batch() -> (Vec<f32>, Vec<u8>, usize) {
    let data = crate::util::mnist();
    let pixels = data.pixels();
    let inputs = data.train.images[..BATCH * pixels]
        .iter()
        .map(|&b| b as f32 / 255.0)
        .collect();
    (inputs, data.train.labels[..BATCH].to_vec(), pixels)
}

/// The model's mean loss over the batch plus ½λΣ‖W‖², in f64.
fn total_loss(model: &Mlp, inputs: &[f32], labels: &[u8], lambda: f64) -> f64 {
    let mut acts = Activations::new(&model.sizes(), labels.len());
    acts.input_mut().copy_from_slice(inputs);
    model.forward(&mut acts, labels.len());
    model.score(&mut acts, labels).loss_sum / labels.len() as f64 + model.penalty(lambda)
}

/// The data gradient of the batch, from `backward`.
fn analytic(model: &Mlp, inputs: &[f32], labels: &[u8]) -> Gradients {
    let mut acts = Activations::new(&model.sizes(), labels.len());
    let mut grads = Gradients::new(model, labels.len());
    acts.input_mut().copy_from_slice(inputs);
    model.forward(&mut acts, labels.len());
    model.backward(&mut acts, labels, &mut grads);
    grads
}

/// The gradient of the total loss: the data gradient plus `λ W` on every
/// weight (biases are not decayed), computed as `g + λ · w`.
fn with_decay(model: &Mlp, mut grads: Gradients, lambda: f32) -> Gradients {
    for (g, layer) in grads.weights.iter_mut().zip(model.layers()) {
        Zip::from(g)
            .and(&layer.weights)
            .for_each(|g, &w| *g += lambda * w);
    }
    grads
}

/// Which parameter of a layer to nudge.
#[derive(Clone, Copy, Debug)]
enum Param {
    /// The weight from input `.0` to output `.1`.
    Weight(usize, usize),
    Bias(usize),
}

fn numeric(
    model: &Mlp,
    layer: usize,
    param: Param,
    inputs: &[f32],
    labels: &[u8],
    lambda: f64,
) -> f64 {
    let eps = 1e-2f32;
    let nudged = |delta: f32| {
        let mut m = model.clone();
        let l = &mut m.layers_mut()[layer];
        match param {
            Param::Weight(i, j) => l.weights[[i, j]] += delta,
            Param::Bias(j) => l.bias[j] += delta,
        }
        total_loss(&m, inputs, labels, lambda)
    };
    (nudged(eps) - nudged(-eps)) / (2.0 * f64::from(eps))
}

/// Checks a spread of weights and biases of every layer, with each kernel.
fn check_all_layers(lambda: f32, loss: Loss) {
    for kernel in kernels() {
        check_all_layers_with(lambda, loss, kernel);
    }
}

fn check_all_layers_with(lambda: f32, loss: Loss, kernel: Kernel) {
    let (inputs, labels, pixels) = mnist_batch();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // Wide initial weights make the gradients (and λW) large against f32 noise.
    let model = Mlp::new(&[pixels, 24, 16, 10], Init::Normal(0.3), &mut rng)
        .with_loss(loss)
        .with_kernel(kernel);
    let grads = with_decay(&model, analytic(&model, &inputs, &labels), lambda);
    let mut checked = 0;
    for (l, layer) in model.layers().iter().enumerate() {
        let weights = (0..layer.weights.len())
            .step_by(layer.weights.len() / 23 + 1)
            .map(|i| Param::Weight(i / layer.outputs, i % layer.outputs));
        let params = weights.chain((0..layer.outputs).step_by(3).map(Param::Bias));
        for param in params {
            let want = numeric(&model, l, param, &inputs, &labels, f64::from(lambda));
            let got = f64::from(match param {
                Param::Weight(i, j) => grads.weights[l][[i, j]],
                Param::Bias(j) => grads.bias[l][j],
            });
            let tolerance = 2e-3 + 2e-2 * want.abs();
            assert!(
                (got - want).abs() <= tolerance,
                "layer {l} {param:?}: analytic {got:.6} vs numeric {want:.6} (λ = {lambda}, {loss}, {kernel})"
            );
            checked += 1;
        }
    }
    assert!(checked > 60, "only {checked} parameters checked");
}

#[test]
fn gradients_of_every_layer_match_finite_differences_without_weight_decay() {
    check_all_layers(0.0, Loss::CrossEntropy);
}

#[test]
fn gradients_of_the_squared_loss_match_finite_differences() {
    check_all_layers(0.0, Loss::Mse);
    check_all_layers(0.5, Loss::Mse);
}

#[test]
fn gradients_of_every_layer_match_finite_differences_with_weight_decay() {
    check_all_layers(0.5, Loss::CrossEntropy);
}

#[test]
fn the_update_decays_weights_by_exactly_lambda_w_and_leaves_biases_alone() {
    let (_, _, pixels) = mnist_batch();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut start = Mlp::new(&[pixels, 20, 10], Init::He, &mut rng);
    for layer in start.layers_mut() {
        layer.bias.fill(0.5); // non-zero, so a decay would show
    }
    // A zero data gradient: the step is the decay alone.
    let zero = Gradients::new(&start, BATCH);
    let (lr, lambda) = (0.1f32, 0.25f32);
    let mut model = start.clone();
    sgd_step(&mut model, &zero, lr, lambda);
    for (before, after) in start.layers().iter().zip(model.layers()) {
        for (w0, w1) in before.weights.iter().zip(&after.weights) {
            assert_eq!(*w1, w0 - lr * (0.0 + lambda * w0), "weight {w0}");
        }
        assert_eq!(before.bias, after.bias, "biases must not be decayed");
    }
}

#[test]
fn an_sgd_step_lowers_the_loss_on_its_batch() {
    let (inputs, labels, pixels) = mnist_batch();
    for kernel in kernels() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut model = Mlp::new(&[pixels, 32, 10], Init::He, &mut rng).with_kernel(kernel);
        let before = total_loss(&model, &inputs, &labels, 0.01);
        let grads = analytic(&model, &inputs, &labels);
        sgd_step(&mut model, &grads, 0.05, 0.01);
        let after = total_loss(&model, &inputs, &labels, 0.01);
        assert!(
            after < before,
            "{kernel}: loss went from {before} to {after}"
        );
    }
}

#[test]
fn the_kernels_give_the_same_gradients_up_to_rounding() {
    let (inputs, labels, pixels) = mnist_batch();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let model = Mlp::new(&[pixels, 32, 16, 10], Init::He, &mut rng);
    let reference = analytic(&model, &inputs, &labels);
    for kernel in kernels() {
        let other = analytic(&model.clone().with_kernel(kernel), &inputs, &labels);
        for (a, b) in reference.weights.iter().zip(&other.weights) {
            let scale = a.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() <= 1e-5 * scale, "{kernel}: {x} vs {y}");
            }
        }
    }
}

#[test]
fn decay_in_the_update_gives_the_same_bits_as_decay_in_the_gradient() {
    for kernel in kernels() {
        decay_in_the_update_with(kernel);
    }
}

fn decay_in_the_update_with(kernel: Kernel) {
    let (inputs, labels, pixels) = mnist_batch();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let start = Mlp::new(&[pixels, 32, 16, 10], Init::He, &mut rng).with_kernel(kernel);
    let lambda = 0.01f32;
    let data = analytic(&start, &inputs, &labels);
    let mut in_gradient = start.clone();
    sgd_step(
        &mut in_gradient,
        &with_decay(&start, data.clone(), lambda),
        0.1,
        0.0,
    );
    let mut in_update = start.clone();
    sgd_step(&mut in_update, &data, 0.1, lambda);
    for (a, b) in in_gradient.layers().iter().zip(in_update.layers()) {
        assert_eq!(bits(&a.weights), bits(&b.weights));
        assert_eq!(bits(&a.bias), bits(&b.bias));
    }
}

/// One step of plain SGD with L2 decay `lambda` (sweep's default update),
/// from a fresh optimizer (plain SGD keeps no state).
fn sgd_step(model: &mut Mlp, grads: &Gradients, lr: f32, lambda: f32) {
    Optimizer::for_model(OptimizerSettings::sgd(lambda), model).step(model, grads, lr);
}

/// The bit patterns of an array's elements, in logical order.
fn bits<D: Dimension>(values: &Array<f32, D>) -> Vec<u32> {
    values.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn gradients_through_fixed_dropout_masks_match_finite_differences() {
    for kernel in kernels() {
        dropout_gradients_with(kernel);
    }
}

fn dropout_gradients_with(kernel: Kernel) {
    let (inputs, labels, pixels) = mnist_batch();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let sizes = [pixels, 24, 16, 10];
    let model = Mlp::new(&sizes, Init::Normal(0.3), &mut rng).with_kernel(kernel);
    let mut dropout = Dropout::new(&sizes, labels.len(), 0.2, 0.5, 4).unwrap();
    dropout.draw(labels.len());
    let loss = |m: &Mlp| {
        let mut acts = Activations::new(&m.sizes(), labels.len());
        acts.input_mut().copy_from_slice(&inputs);
        m.forward_with(&mut acts, labels.len(), Some(&dropout));
        m.score(&mut acts, &labels).loss_sum / labels.len() as f64
    };
    let mut acts = Activations::new(&sizes, labels.len());
    let mut grads = Gradients::new(&model, labels.len());
    acts.input_mut().copy_from_slice(&inputs);
    model.forward_with(&mut acts, labels.len(), Some(&dropout));
    model.backward_with(&mut acts, &labels, &mut grads, Some(&dropout));
    let eps = 1e-2f32;
    let mut checked = 0;
    for l in 0..3 {
        let layer = &model.layers()[l];
        for i in (0..layer.weights.len()).step_by(layer.weights.len() / 17 + 1) {
            let (r, c) = (i / layer.outputs, i % layer.outputs);
            let nudged = |delta: f32| {
                let mut m = model.clone();
                m.layers_mut()[l].weights[[r, c]] += delta;
                loss(&m)
            };
            let want = (nudged(eps) - nudged(-eps)) / (2.0 * f64::from(eps));
            let got = f64::from(grads.weights[l][[r, c]]);
            assert!(
                (got - want).abs() <= 2e-3 + 2e-2 * want.abs(),
                "{kernel}: layer {l} weight ({r}, {c}): analytic {got:.6} vs numeric {want:.6}"
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} weights checked");
}
