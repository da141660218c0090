//! Generalization measures of a trained network (Jiang et al., "Fantastic
//! Generalization Measures and Where to Find Them", ICLR 2020), with the
//! details their paper leaves open taken from Dziugaite et al.'s code
//! (NeurIPS 2020, `robust-generalization-measures`): norms of the weight
//! matrices, the distance from initialisation, the path-norm, the output
//! margin, and the sharpness-based PAC-Bayes σ found by bisection.
//!
//! Everything here is a function of the network and, for the margin and
//! the flatness, of a closure that scores it on the caller's images; the
//! arithmetic is in f64.

use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::Mlp;
use super::init::fill_normal;

/// The Lanczos iteration stops when the estimate of σ² changes by less
/// than this, relatively.
pub const SPECTRAL_TOLERANCE: f64 = 1e-12;
/// The Lanczos iteration stops after this many steps whatever the change.
pub const SPECTRAL_MAX_STEPS: usize = 300;

/// The Frobenius norm ‖W‖_F of each weight matrix (biases are not part of
/// it, as in Jiang et al.), input side first.
pub fn frobenius_norms(model: &Mlp) -> Vec<f64> {
    model
        .layers()
        .iter()
        .map(|l| {
            l.weights
                .iter()
                .map(|&w| f64::from(w).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

/// The spectral norm ‖W‖₂ (largest singular value) of each weight matrix,
/// input side first, by [`spectral_norm`].
pub fn spectral_norms(model: &Mlp) -> Vec<f64> {
    model
        .layers()
        .iter()
        .map(|l| spectral_norm(l.weights.view()))
        .collect()
}

/// The largest singular value of `w`: the square root of the largest
/// eigenvalue of `WᵀW`, found by the Lanczos iteration in f64 (with full
/// reorthogonalisation, from a fixed pseudo-random start), which needs far
/// fewer products with `W` than power iteration. It stops when the largest
/// eigenvalue of the tridiagonal matrix built so far (a Ritz value, which
/// never exceeds the true σ² and approaches it from below) changes by less
/// than [`SPECTRAL_TOLERANCE`] relatively, when the Krylov space is
/// exhausted, or after [`SPECTRAL_MAX_STEPS`] steps.
pub fn spectral_norm(w: ArrayView2<f32>) -> f64 {
    let (rows, cols) = w.dim();
    if rows == 0 || cols == 0 {
        return 0.0;
    }
    let w: Vec<f64> = w.iter().map(|&x| f64::from(x)).collect();
    let mut start = vec![0f32; cols];
    fill_normal(&mut start, 1.0, &mut ChaCha8Rng::seed_from_u64(0x05EC_74A1));
    let mut q: Vec<f64> = start.iter().map(|&x| f64::from(x)).collect();
    normalise(&mut q);
    let mut basis: Vec<Vec<f64>> = Vec::new();
    let (mut alphas, mut betas) = (Vec::new(), Vec::new());
    let mut image = vec![0f64; rows];
    let mut estimate = 0f64;
    for _ in 0..SPECTRAL_MAX_STEPS.min(cols) {
        // z = Wᵀ (W q), one product with W and one with Wᵀ.
        for (out, row) in image.iter_mut().zip(w.chunks_exact(cols)) {
            *out = dot(row, &q);
        }
        let mut z = vec![0f64; cols];
        for (row, &u) in w.chunks_exact(cols).zip(&image) {
            for (zc, &a) in z.iter_mut().zip(row) {
                *zc += a * u;
            }
        }
        let alpha = dot(&q, &z);
        basis.push(q);
        alphas.push(alpha);
        // Full reorthogonalisation (twice is enough) against the basis.
        for _ in 0..2 {
            for b in &basis {
                let c = dot(b, &z);
                z.iter_mut().zip(b).for_each(|(zc, &bc)| *zc -= c * bc);
            }
        }
        let theta = largest_tridiagonal_eigenvalue(&alphas, &betas);
        let converged = (theta - estimate).abs() <= SPECTRAL_TOLERANCE * theta;
        estimate = theta;
        let beta = normalise(&mut z);
        if converged || beta <= 1e-13 * theta.max(f64::MIN_POSITIVE) {
            break;
        }
        betas.push(beta);
        q = z;
    }
    estimate.max(0.0).sqrt()
}

/// `Σ aᵢ bᵢ`.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The largest eigenvalue of the symmetric tridiagonal matrix with
/// diagonal `alphas` and off-diagonal `betas` (one fewer), by bisection on
/// Sturm counts between Gershgorin's bounds, to the last bits.
fn largest_tridiagonal_eigenvalue(alphas: &[f64], betas: &[f64]) -> f64 {
    let n = alphas.len();
    let off = |i: usize| if i < betas.len() { betas[i].abs() } else { 0.0 };
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, &a) in alphas.iter().enumerate() {
        let radius = off(i) + if i > 0 { off(i - 1) } else { 0.0 };
        lo = lo.min(a - radius);
        hi = hi.max(a + radius);
    }
    // How many eigenvalues are below x.
    let below = |x: f64| {
        let mut count = 0;
        let mut d = 1.0;
        for i in 0..n {
            let previous = if i > 0 {
                betas[i - 1] * betas[i - 1] / d
            } else {
                0.0
            };
            d = alphas[i] - x - previous;
            if d == 0.0 {
                d = -f64::EPSILON * (x.abs() + 1.0);
            }
            count += usize::from(d < 0.0);
        }
        count
    };
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if below(mid) == n {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// Scales `v` to length 1 and returns the length it had (0: left as is).
fn normalise(v: &mut [f64]) -> f64 {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    norm
}

/// The distance from initialisation: `Σ_l ‖W_l − W0_l‖_F` over the weight
/// matrices (biases left out, as in the norms). `start` is the network as
/// it was initialised, rebuilt from the run's seed.
pub fn init_distance(model: &Mlp, start: &Mlp) -> f64 {
    model
        .layers()
        .iter()
        .zip(start.layers())
        .map(|(now, then)| {
            now.weights
                .iter()
                .zip(&then.weights)
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .sum()
}

/// The path-norm of Jiang et al. (their Eq. 44, as Dziugaite et al.'s code
/// computes it): the sum of the outputs of the network whose every
/// parameter, weights *and biases*, is squared, fed an input of all ones.
/// Every value it computes is ≥ 0, so the ReLUs pass everything and it
/// equals the sum over all paths from an input or a bias to an output of
/// the product of the squared parameters along the path.
pub fn path_norm(model: &Mlp) -> f64 {
    let mut values = vec![1f64; model.layers()[0].inputs];
    for layer in model.layers() {
        let mut next: Vec<f64> = layer.bias.iter().map(|&b| f64::from(b).powi(2)).collect();
        for (row, &x) in layer.weights.rows().into_iter().zip(&values) {
            for (out, &w) in next.iter_mut().zip(row) {
                *out += x * f64::from(w).powi(2);
            }
        }
        values = next;
    }
    values.iter().sum()
}

/// The output margin of one row of outputs: the output of class `label`
/// minus the largest other output (negative when the row is misclassified).
pub fn margin(outputs: &[f32], label: usize) -> f32 {
    let other = outputs
        .iter()
        .enumerate()
        .filter(|&(k, _)| k != label)
        .map(|(_, &z)| z)
        .fold(f32::NEG_INFINITY, f32::max);
    outputs[label] - other
}

/// The margin Jiang et al. normalise by: the ⌊m/10⌋-th smallest of the `m`
/// margins (1-based, at least the first), their 10th percentile as
/// Dziugaite et al.'s code takes it (`kthvalue(m // 10)`). `None` without
/// margins. The order of `margins` is changed.
pub fn tenth_percentile(margins: &mut [f32]) -> Option<f64> {
    if margins.is_empty() {
        return None;
    }
    let k = (margins.len() / 10).max(1) - 1;
    let (_, kth, _) = margins.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    Some(f64::from(*kth))
}

/// How the weights are perturbed in a flatness search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Perturbation {
    /// Every parameter plus N(0, σ²): the sharpness-based PAC-Bayes σ.
    Gaussian,
    /// Every parameter `w` plus N(0, σ²w² + ε²), ε = [`MAGNITUDE_EPSILON`]:
    /// the magnitude-aware σ'.
    MagnitudeAware,
}

/// The ε of the magnitude-aware perturbation (Jiang et al.; Dziugaite et
/// al.'s code uses the same 10⁻³).
pub const MAGNITUDE_EPSILON: f64 = 1e-3;

/// How a flatness search looks for σ; [`FlatnessSearch::JIANG`] holds the
/// values of Jiang et al. and Dziugaite et al.'s code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlatnessSearch {
    /// The accuracy drop σ is sought for.
    pub drop: f64,
    /// A drop within this of `drop` ends the search.
    pub tolerance: f64,
    /// Bisection steps at most, from the interval [0, `upper`].
    pub depth: usize,
    /// The upper end of the interval searched.
    pub upper: f64,
    /// Noise draws whose accuracies are averaged at each σ tried.
    pub draws: usize,
}

impl FlatnessSearch {
    /// A drop of 0.1 ± 0.01 in accuracy, 15 bisection steps in [0, 2], 10
    /// draws at each σ.
    pub const JIANG: FlatnessSearch = FlatnessSearch {
        drop: 0.1,
        tolerance: 0.01,
        depth: 15,
        upper: 2.0,
        draws: 10,
    };
}

/// The largest σ of `perturbation` whose noise lowers `accuracy` (the mean
/// over `search.draws` seeded draws) by `search.drop`: bisection on
/// [0, `search.upper`] that stops when the drop is within
/// `search.tolerance` of the target or after `search.depth` steps, and
/// returns the σ tried last. `accuracy` scores a network on the images
/// measured (the unperturbed network's accuracy is `base`). The noise
/// comes from one stream seeded by `seed`, so the result depends only on
/// the network, the images and the seed.
pub fn flatness_sigma(
    model: &Mlp,
    base: f64,
    perturbation: Perturbation,
    search: FlatnessSearch,
    seed: u64,
    accuracy: &mut dyn FnMut(&Mlp) -> f64,
) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut lower, mut upper) = (0.0, search.upper);
    let mut sigma = upper;
    let mut noisy = model.clone();
    let mut noise: Vec<f32> = Vec::new();
    for _ in 0..search.depth {
        sigma = (lower + upper) / 2.0;
        let mut total = 0.0;
        for _ in 0..search.draws {
            perturb(model, &mut noisy, &mut noise, sigma, perturbation, &mut rng);
            total += accuracy(&noisy);
        }
        let drop = (base - total / search.draws as f64).abs();
        if (drop - search.drop).abs() < search.tolerance {
            break;
        } else if drop > search.drop {
            upper = sigma;
        } else {
            lower = sigma;
        }
    }
    sigma
}

/// Sets `noisy` to `model` with every weight and bias perturbed once.
fn perturb(
    model: &Mlp,
    noisy: &mut Mlp,
    noise: &mut Vec<f32>,
    sigma: f64,
    perturbation: Perturbation,
    rng: &mut ChaCha8Rng,
) {
    for (from, to) in model.layers().iter().zip(noisy.layers_mut()) {
        let clean = from.weights.iter().chain(&from.bias);
        let out = to.weights.iter_mut().chain(to.bias.iter_mut());
        let count = from.weights.len() + from.bias.len();
        noise.resize(count, 0.0);
        fill_normal(noise, 1.0, rng);
        for ((o, &w), &z) in out.zip(clean).zip(noise.iter()) {
            let std_dev = match perturbation {
                Perturbation::Gaussian => sigma,
                Perturbation::MagnitudeAware => {
                    (sigma * sigma * f64::from(w).powi(2) + MAGNITUDE_EPSILON.powi(2)).sqrt()
                }
            };
            *o = (f64::from(w) + std_dev * f64::from(z)) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Init;
    use ndarray::Array2;

    /// A 3-4-2-3 network whose parameters are small distinct numbers.
    fn tiny() -> Mlp {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut model = Mlp::new(&[3, 4, 2, 3], Init::Uniform, &mut rng);
        for (l, layer) in model.layers_mut().iter_mut().enumerate() {
            for (i, w) in layer.weights.iter_mut().enumerate() {
                *w = ((i * 7 + l * 3) % 11) as f32 / 10.0 - 0.5;
            }
            for (i, b) in layer.bias.iter_mut().enumerate() {
                *b = ((i * 5 + l) % 7) as f32 / 10.0 - 0.3;
            }
        }
        model
    }

    #[test]
    fn the_path_norm_is_the_sum_over_every_path_of_its_squared_parameters() {
        let model = tiny();
        let layers = model.layers();
        // Every path starts at an input or at a bias of some layer and runs
        // through one unit of each layer above it to an output.
        let mut brute = 0.0;
        let sq = |x: f32| f64::from(x).powi(2);
        for out in 0..3 {
            for h2 in 0..2 {
                let top = sq(layers[2].weights[[h2, out]]);
                brute += sq(layers[1].bias[h2]) * top;
                for h1 in 0..4 {
                    let middle = sq(layers[1].weights[[h1, h2]]) * top;
                    brute += sq(layers[0].bias[h1]) * middle;
                    for input in 0..3 {
                        brute += sq(layers[0].weights[[input, h1]]) * middle;
                    }
                }
            }
            brute += sq(layers[2].bias[out]);
        }
        let fast = path_norm(&model);
        assert!((fast - brute).abs() < 1e-12 * brute, "{fast} vs {brute}");
    }

    /// Matrices whose entries follow a formula, and their largest singular
    /// values as NumPy computed them independently:
    /// `np.linalg.svd(m, compute_uv=False)[0]` for
    /// `m[i, j] = sin(1 + 7 i + 3 j) * (1 + j) / (2 + i)`, float32 entries.
    #[test]
    fn spectral_norms_agree_with_an_svd() {
        let cases: [((usize, usize), f64); 3] = [
            ((5, 3), 1.979_766_497_765_745_4),
            ((3, 7), 4.865_843_474_965_478),
            ((40, 12), 10.648_468_990_351_32),
        ];
        for ((rows, cols), expected) in cases {
            let m = Array2::from_shape_fn((rows, cols), |(i, j)| {
                ((1 + 7 * i + 3 * j) as f64).sin() as f32 * (1 + j) as f32 / (2 + i) as f32
            });
            let found = spectral_norm(m.view());
            assert!(
                (found - expected).abs() < 1e-10 * expected,
                "{rows}×{cols}: {found} vs {expected}"
            );
        }
        // Pseudo-random entries, whose largest singular values lie close
        // together (σ₂/σ₁ = 0.94 and 0.89): `h = (1103515245 i + 12345 j +
        // 2654435761 i j) mod 2³²`, `m[i, j] = h / 2³² − 0.5` in float32.
        let noisy: [((usize, usize), f64); 2] = [
            ((300, 200), 9.820_130_258_335_311),
            ((64, 784), 15.714_050_562_141_075),
        ];
        for ((rows, cols), expected) in noisy {
            let m = Array2::from_shape_fn((rows, cols), |(i, j)| {
                let (i, j) = (i as u64, j as u64);
                let h = (i * 1_103_515_245 + j * 12_345 + i * j * 2_654_435_761) % (1 << 32);
                (h as f64 / 4_294_967_296.0 - 0.5) as f32
            });
            let found = spectral_norm(m.view());
            assert!(
                (found - expected).abs() < 1e-10 * expected,
                "{rows}×{cols}: {found} vs {expected}"
            );
        }
        assert_eq!(spectral_norm(Array2::<f32>::zeros((4, 2)).view()), 0.0);
    }

    #[test]
    fn norms_and_distance_leave_the_biases_out() {
        let model = tiny();
        let fro = frobenius_norms(&model);
        let by_hand: f64 = model.layers()[1]
            .weights
            .iter()
            .map(|&w| f64::from(w) * f64::from(w))
            .sum();
        assert!((fro[1] - by_hand.sqrt()).abs() < 1e-12);
        let mut moved = model.clone();
        moved.layers_mut()[0].weights[[1, 2]] += 0.25;
        moved.layers_mut()[2].weights[[0, 0]] -= 0.5;
        moved.layers_mut()[1].bias[0] += 9.0;
        let d = init_distance(&moved, &model);
        assert!((d - 0.75).abs() < 1e-6, "{d}");
        // Each spectral norm is at most the Frobenius norm.
        for (s, f) in spectral_norms(&model).iter().zip(&fro) {
            assert!(*s <= f + 1e-9 && *s > 0.0);
        }
    }

    #[test]
    fn margins_are_the_true_output_minus_the_largest_other() {
        assert_eq!(margin(&[0.5, 2.0, -1.0], 1), 1.5);
        assert_eq!(margin(&[0.5, 2.0, -1.0], 2), -3.0);
        assert_eq!(margin(&[3.0, 3.0], 0), 0.0);
        // 25 margins: the 2nd smallest (⌊25/10⌋ = 2).
        let mut m: Vec<f32> = (0..25).rev().map(|i| i as f32 - 3.0).collect();
        assert_eq!(tenth_percentile(&mut m), Some(-2.0));
        // Fewer than 10: the smallest.
        assert_eq!(tenth_percentile(&mut [4.0, 1.0, 2.0]), Some(1.0));
        assert_eq!(tenth_percentile(&mut []), None);
    }

    #[test]
    fn the_flatness_search_finds_the_sigma_of_a_known_drop() {
        // A score that falls linearly with the noise's spread: accuracy
        // 1 − mean |Δw| / 2 drops by 0.1 where the mean |noise| is 0.2,
        // i.e. at σ = 0.2 √(π/2) ≈ 0.2507 for Gaussian noise.
        let model = tiny();
        let clean = model.tensors();
        let mut score = |noisy: &Mlp| {
            let (mut sum, mut n) = (0.0, 0.0);
            for (a, b) in noisy.tensors().iter().zip(&clean) {
                for (x, y) in a.iter().zip(b) {
                    sum += f64::from((x - y).abs());
                    n += 1.0;
                }
            }
            1.0 - sum / n / 2.0
        };
        let search = FlatnessSearch {
            draws: 200,
            ..FlatnessSearch::JIANG
        };
        let sigma = flatness_sigma(&model, 1.0, Perturbation::Gaussian, search, 7, &mut score);
        let expected = 0.2 * (std::f64::consts::PI / 2.0).sqrt();
        // The search stops within ±0.01 of the drop: ±5 % of σ here.
        assert!((sigma - expected).abs() < 0.06 * expected, "{sigma}");
        let again = flatness_sigma(&model, 1.0, Perturbation::Gaussian, search, 7, &mut score);
        assert_eq!(sigma, again);
        // Magnitude-aware noise scales with |w|: the σ' that moves the
        // weights as much is larger, since the mean |w| here is below 1.
        let mag = flatness_sigma(
            &model,
            1.0,
            Perturbation::MagnitudeAware,
            search,
            7,
            &mut score,
        );
        assert!(mag > sigma, "{mag} vs {sigma}");
    }
}
