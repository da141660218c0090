//! Sobol search's draws: an Owen-scrambled Sobol sequence (Burley's
//! hash-based scrambling, Joe & Kuo's direction numbers) from the
//! `sobol_burley` crate, seeded by the search seed.

use sha2::{Digest, Sha256};

/// Coordinate `dim` of point `point` of the Sobol sequence scrambled with
/// `seed`, in [0, 1). The caller keeps `point` below 2¹⁶ and `dim` below
/// 256 (a setting's place among all settings).
pub fn unit(seed: u64, point: usize, dim: usize) -> f64 {
    let digest = Sha256::digest(format!("sweep sobol search;seed={seed}"));
    let scramble = u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]);
    f64::from(sobol_burley::sample(point as u32, dim as u32, scramble))
}

#[cfg(test)]
mod tests {
    use crate::config::Key;

    #[test]
    fn every_setting_has_a_sobol_dimension() {
        // sobol_burley has 256 dimensions; each setting takes the one of its place.
        assert!(Key::ALL.len() <= 256);
        assert!(Key::ALL.iter().all(|&k| (k as usize) < 256));
    }
}
