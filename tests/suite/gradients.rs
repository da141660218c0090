//! Gradient checks: the analytic gradients of the MLP (every layer's weights
//! and biases, including weight decay's λW) against central finite
//! differences of the total loss, on real MNIST images.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sweep::nn::{Activations, Gradients, Init, Mlp};

const BATCH: usize = 16;

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

/// Mean cross-entropy of the batch plus ½λΣ‖W‖², in f64.
fn total_loss(model: &Mlp, inputs: &[f32], labels: &[u8], lambda: f64) -> f64 {
    let mut acts = Activations::new(&model.sizes(), labels.len());
    acts.input_mut().copy_from_slice(inputs);
    model.forward(&mut acts, labels.len());
    model.score(&mut acts, labels).loss_sum / labels.len() as f64 + model.penalty(lambda)
}

fn analytic(model: &Mlp, inputs: &[f32], labels: &[u8], lambda: f32) -> Gradients {
    let mut acts = Activations::new(&model.sizes(), labels.len());
    let mut grads = Gradients::new(model, labels.len());
    acts.input_mut().copy_from_slice(inputs);
    model.forward(&mut acts, labels.len());
    model.backward(&mut acts, labels, lambda, &mut grads);
    grads
}

/// Which parameter of a layer to nudge.
#[derive(Clone, Copy, Debug)]
enum Param {
    Weight(usize),
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
            Param::Weight(i) => l.weights[i] += delta,
            Param::Bias(i) => l.bias[i] += delta,
        }
        total_loss(&m, inputs, labels, lambda)
    };
    (nudged(eps) - nudged(-eps)) / (2.0 * f64::from(eps))
}

/// Checks a spread of weights and biases of every layer.
fn check_all_layers(lambda: f32) {
    let (inputs, labels, pixels) = mnist_batch();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // Wide initial weights make the gradients (and λW) large against f32 noise.
    let model = Mlp::new(&[pixels, 24, 16, 10], Init::Normal(0.3), &mut rng);
    let grads = analytic(&model, &inputs, &labels, lambda);
    let mut checked = 0;
    for (l, layer) in model.layers().iter().enumerate() {
        let weights = (0..layer.weights.len()).step_by(layer.weights.len() / 23 + 1);
        let params = weights
            .map(Param::Weight)
            .chain((0..layer.outputs).step_by(3).map(Param::Bias));
        for param in params {
            let want = numeric(&model, l, param, &inputs, &labels, f64::from(lambda));
            let got = f64::from(match param {
                Param::Weight(i) => grads.weights[l][i],
                Param::Bias(i) => grads.bias[l][i],
            });
            let tolerance = 2e-3 + 2e-2 * want.abs();
            assert!(
                (got - want).abs() <= tolerance,
                "layer {l} {param:?}: analytic {got:.6} vs numeric {want:.6} (λ = {lambda})"
            );
            checked += 1;
        }
    }
    assert!(checked > 60, "only {checked} parameters checked");
}

#[test]
fn gradients_of_every_layer_match_finite_differences_without_weight_decay() {
    check_all_layers(0.0);
}

#[test]
fn gradients_of_every_layer_match_finite_differences_with_weight_decay() {
    check_all_layers(0.5);
}

#[test]
fn weight_decay_adds_exactly_lambda_w_to_weight_gradients_and_nothing_to_biases() {
    let (inputs, labels, pixels) = mnist_batch();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let model = Mlp::new(&[pixels, 20, 10], Init::He, &mut rng);
    let lambda = 0.25f32;
    let plain = analytic(&model, &inputs, &labels, 0.0);
    let decayed = analytic(&model, &inputs, &labels, lambda);
    for (l, layer) in model.layers().iter().enumerate() {
        for ((g0, g1), w) in plain.weights[l]
            .iter()
            .zip(&decayed.weights[l])
            .zip(&layer.weights)
        {
            assert!(
                (g1 - g0 - lambda * w).abs() <= 1e-6 * (1.0 + w.abs()),
                "layer {l}: {g1} − {g0} ≠ λ·{w}"
            );
        }
        assert_eq!(plain.bias[l], decayed.bias[l], "biases must not be decayed");
    }
}

#[test]
fn an_sgd_step_lowers_the_loss_on_its_batch() {
    let (inputs, labels, pixels) = mnist_batch();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut model = Mlp::new(&[pixels, 32, 10], Init::He, &mut rng);
    let before = total_loss(&model, &inputs, &labels, 0.01);
    let grads = analytic(&model, &inputs, &labels, 0.01);
    model.sgd_step(&grads, 0.05, 0.0);
    let after = total_loss(&model, &inputs, &labels, 0.01);
    assert!(after < before, "loss went from {before} to {after}");
}

#[test]
fn decay_in_the_update_gives_the_same_bits_as_decay_in_the_gradient() {
    let (inputs, labels, pixels) = mnist_batch();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let start = Mlp::new(&[pixels, 32, 16, 10], Init::He, &mut rng);
    let lambda = 0.01f32;
    let mut in_gradient = start.clone();
    in_gradient.sgd_step(&analytic(&start, &inputs, &labels, lambda), 0.1, 0.0);
    let mut in_update = start.clone();
    in_update.sgd_step(&analytic(&start, &inputs, &labels, 0.0), 0.1, lambda);
    for (a, b) in in_gradient.layers().iter().zip(in_update.layers()) {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.weights), bits(&b.weights));
        assert_eq!(bits(&a.bias), bits(&b.bias));
    }
}
