//! `kernel = "auto"`: which kernel multiplies a network's training step
//! faster on this CPU, measured rather than guessed. Having AVX-512 is not
//! enough to decide: on CPUs that execute it as two 256-bit halves (AMD
//! Zen 4) a 512-bit kernel can lose on the narrow products of the output
//! layer, and on AVX2-only CPUs either kernel may win by a little.
//!
//! The rule: time the GEMMs of one training step of the network (the
//! shapes [`super::shapes::step_shapes`] lists, with their transposes)
//! with each kernel this CPU can run, interleaved so that both see the
//! same machine, and keep each kernel's best round. `gemm` is chosen when
//! its step is at least [`GEMM_MARGIN`] faster than matrixmultiply's;
//! otherwise matrixmultiply, the reference kernel, whose bits are the same
//! on every x86-64 with AVX2 and FMA. It takes about a tenth of a second,
//! once per results folder: the choice is recorded in `manifest.json` and
//! every later invocation follows it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use super::gemm::Kernel;
use super::shapes::step_shapes;

/// How much faster `gemm`'s step must be for `auto` to choose it over the
/// reference kernel: 5 %, above the round-to-round noise of a busy machine.
pub const GEMM_MARGIN: f64 = 1.05;

/// Rounds of the measurement; each kernel keeps its fastest.
const ROUNDS: usize = 7;

/// Least time one timed batch of steps takes, so that the clock's
/// resolution does not matter.
const BATCH_TIME: Duration = Duration::from_millis(4);

/// What the `auto` measurement found.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// GFLOP/s of each kernel this CPU can run on the step's GEMMs taken
    /// together, the reference first.
    pub rates: Vec<(Kernel, f64)>,
    /// The kernel chosen by the rule above.
    pub chosen: Kernel,
}

impl Calibration {
    /// One line saying what was measured and chosen, e.g. `auto chose gemm:
    /// 141.2 GFLOP/s against matrixmultiply's 93.5 on the 784-200-200-10
    /// step (batch 100)`.
    pub fn describe(&self, sizes: &[usize], batch: usize) -> String {
        let arch: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
        let rate = |k: Kernel| self.rates.iter().find(|(r, _)| *r == k).map(|(_, g)| *g);
        let others: Vec<String> = self
            .rates
            .iter()
            .filter(|(k, _)| *k != self.chosen)
            .map(|(k, g)| format!("{k}'s {g:.1}"))
            .collect();
        let against = if others.is_empty() {
            "the only kernel this CPU can run".to_string()
        } else {
            format!("against {}", others.join(" and "))
        };
        format!(
            "auto chose {}: {:.1} GFLOP/s {against} on the {} step (batch {batch})",
            self.chosen.label(),
            rate(self.chosen).unwrap_or(f64::NAN),
            arch.join("-")
        )
    }
}

/// Times the training step of a network with layer widths `sizes` on
/// minibatches of `batch` with every kernel this CPU can run and chooses
/// one (see the module's rule).
pub fn calibrate(sizes: &[usize], batch: usize) -> Calibration {
    let kernels: Vec<Kernel> = Kernel::ALL.into_iter().filter(|k| k.available()).collect();
    let shapes = step_shapes(sizes, batch.max(1));
    let mut operands: Vec<_> = shapes.iter().map(|s| s.operands()).collect();
    let flops: u64 = shapes.iter().map(|s| s.flops()).sum();
    let mut step = |kernel: Kernel| {
        for (shape, (a, b, c)) in shapes.iter().zip(operands.iter_mut()) {
            shape.run(kernel, black_box(a), black_box(b), c);
            black_box(&*c);
        }
    };
    // Warm up (pages, caches, the kernels' own set-up), then find how many
    // steps make a batch long enough to time.
    let mut reps = 1;
    for &kernel in &kernels {
        step(kernel);
        loop {
            let started = Instant::now();
            for _ in 0..reps {
                step(kernel);
            }
            if started.elapsed() >= BATCH_TIME || reps >= 1 << 16 {
                break;
            }
            reps *= 2;
        }
    }
    let mut best = vec![f64::INFINITY; kernels.len()];
    for round in 0..ROUNDS {
        // Alternate which kernel goes first.
        for i in 0..kernels.len() {
            let k = if round % 2 == 0 {
                i
            } else {
                kernels.len() - 1 - i
            };
            let started = Instant::now();
            for _ in 0..reps {
                step(kernels[k]);
            }
            best[k] = best[k].min(started.elapsed().as_secs_f64() / reps as f64);
        }
    }
    let rates: Vec<(Kernel, f64)> = kernels
        .iter()
        .zip(&best)
        .map(|(&k, &s)| (k, flops as f64 / s.max(1e-12) / 1e9))
        .collect();
    Calibration {
        chosen: choose(&rates),
        rates,
    }
}

/// The rule applied to measured rates.
fn choose(rates: &[(Kernel, f64)]) -> Kernel {
    let rate = |k: Kernel| rates.iter().find(|(r, _)| *r == k).map(|(_, g)| *g);
    match (rate(Kernel::MatrixMultiply), rate(Kernel::Gemm)) {
        (Some(reference), Some(gemm)) if gemm >= GEMM_MARGIN * reference => Kernel::Gemm,
        (None, Some(_)) => Kernel::Gemm,
        _ => Kernel::MatrixMultiply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_must_win_by_the_margin() {
        let mm = Kernel::MatrixMultiply;
        let g = Kernel::Gemm;
        assert_eq!(choose(&[(mm, 100.0), (g, 106.0)]), g);
        assert_eq!(choose(&[(mm, 100.0), (g, 104.0)]), mm);
        assert_eq!(choose(&[(mm, 100.0), (g, 60.0)]), mm);
        assert_eq!(choose(&[(mm, 100.0)]), mm);
    }

    #[test]
    fn calibration_measures_every_available_kernel_and_says_what_it_chose() {
        let c = calibrate(&[64, 32, 10], 16);
        let available = Kernel::ALL.into_iter().filter(|k| k.available()).count();
        assert_eq!(c.rates.len(), available);
        assert!(c.rates.iter().all(|(_, r)| r.is_finite() && *r > 0.0));
        let line = c.describe(&[64, 32, 10], 16);
        assert!(
            line.starts_with(&format!("auto chose {}", c.chosen.label())),
            "{line}"
        );
        assert!(line.contains("64-32-10 step (batch 16)"), "{line}");
    }
}
