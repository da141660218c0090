//! Random search's draws: the quantile of point i for a setting is read
//! from SHA-256 of the search seed, i and the setting's name, so any point
//! can be regenerated alone, in any order, on any machine.

use sha2::{Digest, Sha256};

/// A uniform number in [0, 1) for point `point` of setting `name` in the
/// random search seeded with `seed`.
pub fn unit(seed: u64, point: usize, name: &str) -> f64 {
    let digest = Sha256::digest(format!(
        "sweep random search;seed={seed};point={point};setting={name}"
    ));
    let mut word = [0u8; 8];
    word.copy_from_slice(&digest[..8]);
    // The top 53 bits: every double in [0, 1) with spacing 2⁻⁵³.
    (u64::from_le_bytes(word) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_uniform_and_independent_of_each_other() {
        let n = 20_000;
        let draws: Vec<f64> = (0..n).map(|i| unit(1, i, "lambda")).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        // Ten equal bins each hold n/10 ± 4 standard deviations.
        let mut bins = [0usize; 10];
        for u in &draws {
            bins[(u * 10.0) as usize] += 1;
        }
        let sd = (n as f64 * 0.1 * 0.9).sqrt();
        for b in bins {
            assert!((b as f64 - n as f64 / 10.0).abs() < 4.0 * sd, "{bins:?}");
        }
        assert_ne!(unit(1, 0, "lambda"), unit(1, 0, "learning_rate"));
        assert_ne!(unit(1, 0, "lambda"), unit(2, 0, "lambda"));
        assert_eq!(unit(1, 5, "lambda"), draws[5]);
    }
}
