//! The fused multiply-add peak of one core, for every vector width the CPU
//! has: independent chains of FMAs with nothing else in the loop. The
//! widest is the true peak that `sweep bench` states percentages against:
//! on an AVX-512 CPU an AVX2 figure would flatter every kernel by up to 2×.

use std::hint::black_box;
use std::time::Duration;

use super::seconds_per_call;

/// One FMA peak of one core.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    /// The instructions measured: `AVX-512` or `AVX2+FMA`.
    pub isa: &'static str,
    /// GFLOP/s (a fused multiply-add counts as two).
    pub gflops: f64,
}

/// Iterations of the chains per timed call.
const ITERS: usize = 100_000;
/// Independent chains: enough to keep two FMA units busy through their
/// four-cycle latency.
const CHAINS: usize = 12;

/// The FMA peaks of one core for each vector width this CPU has, widest
/// first (the first is the true peak); empty without AVX2 and FMA.
pub fn fma_peaks(budget: Duration) -> Vec<Peak> {
    let mut peaks = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        let rate = |lanes: usize, s: f64| (ITERS * CHAINS * lanes * 2) as f64 / s / 1e9;
        if is_x86_feature_detected!("avx512f") {
            let s = seconds_per_call(budget, || {
                // SAFETY: `chains_512` needs AVX-512F, which the CPU was
                // just checked to have.
                black_box(unsafe { chains_512(black_box(ITERS)) });
            });
            peaks.push(Peak {
                isa: "AVX-512",
                gflops: rate(16, s),
            });
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            let s = seconds_per_call(budget, || {
                // SAFETY: `chains_256` needs AVX2 and FMA, which the CPU was
                // just checked to have.
                black_box(unsafe { chains_256(black_box(ITERS)) });
            });
            peaks.push(Peak {
                isa: "AVX2+FMA",
                gflops: rate(8, s),
            });
        }
    }
    let _ = budget;
    peaks
}

/// [`CHAINS`] chains of 16-lane FMAs (`vfmadd…ps zmm`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn chains_512(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    let x = _mm512_set1_ps(black_box(0.999_999_9));
    let y = _mm512_set1_ps(black_box(1e-7));
    let mut acc = [_mm512_set1_ps(1.0); CHAINS];
    for _ in 0..iters {
        for chain in acc.iter_mut() {
            *chain = _mm512_fmadd_ps(*chain, x, y);
        }
    }
    let sum = acc
        .iter()
        .fold(_mm512_setzero_ps(), |s, &c| _mm512_add_ps(s, c));
    _mm512_reduce_add_ps(sum)
}

/// [`CHAINS`] chains of 8-lane FMAs (`vfmadd…ps ymm`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn chains_256(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    let x = _mm256_set1_ps(black_box(0.999_999_9));
    let y = _mm256_set1_ps(black_box(1e-7));
    let mut acc = [_mm256_set1_ps(1.0); CHAINS];
    for _ in 0..iters {
        for chain in acc.iter_mut() {
            *chain = _mm256_fmadd_ps(*chain, x, y);
        }
    }
    let sum = acc
        .iter()
        .fold(_mm256_setzero_ps(), |s, &c| _mm256_add_ps(s, c));
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` holds 8 floats, the 32 bytes an unaligned store writes.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_are_widest_first_positive_and_finite() {
        let peaks = fma_peaks(Duration::from_millis(20));
        assert!(peaks.iter().all(|p| p.gflops.is_finite() && p.gflops > 0.0));
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f") {
            assert_eq!(peaks[0].isa, "AVX-512");
        }
    }
}
