//! The generalization measures of a run's network ([`crate::nn::measures`])
//! measured on its training images, as the run records them: at its end,
//! and at every `measures_every`-th evaluation when asked.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::evaluate::{Images, evaluate_against, margins};
use crate::config::{MeasureSet, RunParams};
use crate::nn::Mlp;
use crate::nn::measures::{
    FlatnessSearch, Perturbation, flatness_sigma, frobenius_norms, init_distance, path_norm,
    spectral_norms, tenth_percentile,
};

/// The measures of one network at one point of its training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    /// ‖W‖_F of each weight matrix, input side first.
    pub frobenius: Vec<f64>,
    /// ‖W‖₂ of each weight matrix, input side first.
    pub spectral: Vec<f64>,
    /// Σ ‖W − W₀‖_F over the weight matrices.
    pub init_distance: f64,
    /// The path-norm (every parameter squared, an all-ones input).
    pub path_norm: f64,
    /// The 10th percentile of the output margins on the images measured
    /// (negative when more than a tenth of them are misclassified).
    pub margin: Option<f64>,
    /// The σ of Gaussian weight noise that lowers training accuracy by 0.1
    /// (`measures = "all"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flatness_sigma: Option<f64>,
    /// The σ' of magnitude-aware noise that does (`measures = "all"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub magnitude_sigma: Option<f64>,
    /// Optimizer steps taken when measured.
    pub steps: u64,
    /// Training images measured on.
    pub images: usize,
    /// Wall-clock seconds taking them took.
    #[serde(default)]
    pub seconds: f64,
}

impl Measures {
    /// ∏ ‖W‖_F.
    pub fn frobenius_product(&self) -> f64 {
        self.frobenius.iter().product()
    }

    /// ∏ ‖W‖₂.
    pub fn spectral_product(&self) -> f64 {
        self.spectral.iter().product()
    }

    /// ∏ ‖W‖₂ / margin² (Jiang et al.'s spectral bound's core; Dziugaite
    /// et al.'s code squares the margin, so its sign does not matter).
    pub fn spectral_over_margin(&self) -> Option<f64> {
        self.over_margin(self.spectral_product())
    }

    /// ∏ ‖W‖_F / margin².
    pub fn frobenius_over_margin(&self) -> Option<f64> {
        self.over_margin(self.frobenius_product())
    }

    fn over_margin(&self, product: f64) -> Option<f64> {
        self.margin.filter(|&m| m != 0.0).map(|m| product / (m * m))
    }
}

/// Which training images a run's measures are taken on: all of them, or
/// `measures_subset` of them drawn with the data seed (the same images for
/// every run on the same split).
pub(super) fn measured_images(params: &RunParams, train: &[u32]) -> Vec<u32> {
    match params.measures_subset {
        Some(n) if n < train.len() => {
            let mut rng = ChaCha8Rng::seed_from_u64(params.data_seed);
            rng.set_stream(5);
            let mut all = train.to_vec();
            let mut chosen = all.partial_shuffle(&mut rng, n).0.to_vec();
            chosen.sort_unstable();
            chosen
        }
        _ => train.to_vec(),
    }
}

/// Measures `model` after `steps` optimizer steps: its norms against
/// `start` (the network as initialised), and the margin and (with
/// `measures = "all"`) the two flatness σ on `images` against the labels
/// `labels` it trains on. `None` with `measures = "none"`.
pub(super) fn measure(
    params: &RunParams,
    model: &Mlp,
    start: &Mlp,
    images: Images,
    labels: &[u8],
    steps: u64,
    spread: bool,
) -> Option<Measures> {
    if params.measures == MeasureSet::None {
        return None;
    }
    let started = std::time::Instant::now();
    let mut found = margins(model, images, labels, spread);
    let margin = tenth_percentile(&mut found);
    let (flatness, magnitude) = if params.measures == MeasureSet::All && !images.indices.is_empty()
    {
        let mut accuracy = |m: &Mlp| evaluate_against(m, images, labels, None, spread).accuracy;
        let base = accuracy(model);
        let search = FlatnessSearch::JIANG;
        let seed = flatness_seed(params.seed);
        let sigma = flatness_sigma(
            model,
            base,
            Perturbation::Gaussian,
            search,
            seed,
            &mut accuracy,
        );
        let aware = Perturbation::MagnitudeAware;
        let sigma_aware = flatness_sigma(model, base, aware, search, seed + 1, &mut accuracy);
        (Some(sigma), Some(sigma_aware))
    } else {
        (None, None)
    };
    Some(Measures {
        frobenius: frobenius_norms(model),
        spectral: spectral_norms(model),
        init_distance: init_distance(model, start),
        path_norm: path_norm(model),
        margin,
        flatness_sigma: flatness,
        magnitude_sigma: magnitude,
        steps,
        images: images.indices.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The seed of a run's flatness noise: its own stream, apart from every
/// other draw of the run.
fn flatness_seed(seed: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xF1A7_0E55
}
