//! Weight initialisation schemes and the Gaussian sampler they draw from.

use std::fmt;
use std::str::FromStr;

use rand::{Rng, RngExt};

/// How a layer's weights are drawn before training (biases start at zero).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// He/Kaiming normal: N(0, 2 / fan_in), suited to ReLU (PyTorch's `kaiming_normal_`).
    He,
    /// Glorot/Xavier normal: N(0, 2 / (fan_in + fan_out)) (PyTorch's `xavier_normal_`).
    Xavier,
    /// N(0, σ²) with a fixed σ, e.g. the original notebook's `0.01 * randn`.
    Normal(f64),
    /// PyTorch's default `nn.Linear` initialisation: weights and biases
    /// uniform in ±1/√fan_in (`kaiming_uniform_(a = √5)` for the weights).
    Uniform,
}

impl Init {
    /// Standard deviation of the weights of a `fan_in × fan_out` layer.
    pub fn std_dev(self, fan_in: usize, fan_out: usize) -> f64 {
        match self {
            Init::He => (2.0 / fan_in as f64).sqrt(),
            Init::Xavier => (2.0 / (fan_in + fan_out) as f64).sqrt(),
            Init::Normal(sigma) => sigma,
            Init::Uniform => (1.0 / (3.0 * fan_in as f64)).sqrt(),
        }
    }

    /// Draws a `fan_in × fan_out` layer's weights (row-major) and biases
    /// from `rng`: Gaussian weights and zero biases, or for
    /// [`Init::Uniform`] both uniform, the weights first.
    pub fn fill(self, weights: &mut [f32], bias: &mut [f32], fan_in: usize, rng: &mut impl Rng) {
        let fan_out = bias.len();
        match self {
            Init::Uniform => {
                let bound = 1.0 / (fan_in as f64).sqrt();
                fill_uniform(weights, bound, rng);
                fill_uniform(bias, bound, rng);
            }
            _ => {
                fill_normal(weights, self.std_dev(fan_in, fan_out), rng);
                bias.fill(0.0);
            }
        }
    }
}

/// Fills `out` with draws uniform in [−bound, bound).
pub fn fill_uniform(out: &mut [f32], bound: f64, rng: &mut impl Rng) {
    for x in out {
        *x = ((2.0 * rng.random::<f64>() - 1.0) * bound) as f32;
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Init::He => f.write_str("he"),
            Init::Xavier => f.write_str("xavier"),
            Init::Normal(sigma) => write!(f, "normal:{sigma}"),
            Init::Uniform => f.write_str("uniform"),
        }
    }
}

impl FromStr for Init {
    type Err = String;

    fn from_str(text: &str) -> Result<Init, String> {
        match text {
            "he" => Ok(Init::He),
            "xavier" => Ok(Init::Xavier),
            "uniform" => Ok(Init::Uniform),
            _ => {
                let sigma = text
                    .strip_prefix("normal:")
                    .ok_or_else(|| {
                        format!("unknown init {text:?}; use \"he\", \"xavier\", \"uniform\" or \"normal:SIGMA\" (e.g. \"normal:0.01\")")
                    })?
                    .parse::<f64>()
                    .map_err(|_| format!("init {text:?}: SIGMA after \"normal:\" must be a number, e.g. \"normal:0.01\""))?;
                if !(sigma.is_finite() && sigma > 0.0) {
                    return Err(format!(
                        "init {text:?}: SIGMA must be a positive finite number"
                    ));
                }
                Ok(Init::Normal(sigma))
            }
        }
    }
}

/// Written as its text, `"he"` or `"normal:0.01"`, as `params.json` keeps it.
impl serde::Serialize for Init {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Init {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Init, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Fills `out` with draws from N(0, std_dev²) by the Box–Muller transform,
/// so the stream depends only on the RNG (not on a library's sampler).
pub fn fill_normal(out: &mut [f32], std_dev: f64, rng: &mut impl Rng) {
    for pair in out.chunks_mut(2) {
        // u1 in (0, 1] keeps ln(u1) finite.
        let u1 = 1.0 - rng.random::<f64>();
        let u2 = rng.random::<f64>();
        let radius = (-2.0 * u1.ln()).sqrt() * std_dev;
        let angle = std::f64::consts::TAU * u2;
        pair[0] = (radius * angle.cos()) as f32;
        if let Some(second) = pair.get_mut(1) {
            *second = (radius * angle.sin()) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn uniform_draws_weights_and_biases_within_one_over_root_fan_in() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (mut w, mut b) = (vec![0.0f32; 400 * 3], vec![0.0f32; 3]);
        Init::Uniform.fill(&mut w, &mut b, 400, &mut rng);
        let bound = 1.0 / 20.0;
        assert!(w.iter().chain(&b).all(|x| x.abs() <= bound));
        assert!(b.iter().all(|&x| x != 0.0));
        // Uniform on ±b has variance b²/3: the sample's is close.
        let var = w.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / w.len() as f64;
        assert!(
            (var * 3.0 / f64::from(bound).powi(2) - 1.0).abs() < 0.1,
            "{var}"
        );
        assert_eq!("uniform".parse::<Init>(), Ok(Init::Uniform));
        assert_eq!(Init::Uniform.to_string(), "uniform");
    }

    #[test]
    fn gaussian_schemes_leave_biases_at_zero() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (mut w, mut b) = (vec![0.0f32; 20], vec![1.0f32; 4]);
        Init::He.fill(&mut w, &mut b, 5, &mut rng);
        assert_eq!(b, [0.0; 4]);
    }

    #[test]
    fn parses_and_prints_every_scheme() {
        for text in ["he", "xavier", "normal:0.01"] {
            assert_eq!(text.parse::<Init>().unwrap().to_string(), text);
        }
        assert!("normal:-1".parse::<Init>().is_err());
        assert!(
            "glorot"
                .parse::<Init>()
                .unwrap_err()
                .contains("unknown init")
        );
    }

    #[test]
    fn normal_draws_have_the_requested_spread() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut v = vec![0.0f32; 100_001];
        fill_normal(&mut v, 0.5, &mut rng);
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.01, "std {}", var.sqrt());
    }
}
