//! Sobol search's draws: an Owen-scrambled Sobol sequence (Burley's
//! hash-based scrambling, Joe & Kuo's direction numbers) from the
//! `sobol_burley` crate, seeded by the search seed.

use sha2::{Digest, Sha256};

/// The `dim`-th coordinate (of the settings sampled, in canonical order) of
/// point `point` of the Sobol sequence scrambled with `seed`, in [0, 1).
/// The caller keeps `point` below 2¹⁶ and `dim` below 256.
pub fn unit(seed: u64, point: usize, dim: usize) -> f64 {
    let digest = Sha256::digest(format!("sweep sobol search;seed={seed}"));
    let scramble = u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]);
    f64::from(sobol_burley::sample(point as u32, dim as u32, scramble))
}
