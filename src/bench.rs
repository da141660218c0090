//! Measurements behind `sweep bench` and the criterion benchmarks: the
//! machine's FMA peak, matrixmultiply's rate on a big square product and on
//! each GEMM shape of a training step, and seconds per training epoch and
//! per evaluation of a real run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ndarray::Array2;

use crate::config::RunParams;
use crate::data::Dataset;
use crate::nn::gemm::gemm;
use crate::train;

/// One matrix product of a training step: `C (m × n) = op(A) · op(B)`,
/// where `op` reads a stored matrix as it is or through a `.t()` view.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// What it computes, e.g. `forward 1: X·W`.
    pub name: String,
    /// Rows of the result.
    pub m: usize,
    /// Inner dimension.
    pub k: usize,
    /// Columns of the result.
    pub n: usize,
    /// Whether A is stored `k × m` and read transposed.
    pub transpose_a: bool,
    /// Whether B is stored `n × k` and read transposed.
    pub transpose_b: bool,
}

impl Shape {
    /// Floating-point operations of one product.
    pub fn flops(&self) -> u64 {
        2 * (self.m * self.k * self.n) as u64
    }

    /// Arrays for A and B as stored (filled with 0.5 and 0.25) and for C.
    pub fn operands(&self) -> (Array2<f32>, Array2<f32>, Array2<f32>) {
        let stored = |rows, cols, transposed| {
            if transposed {
                (cols, rows)
            } else {
                (rows, cols)
            }
        };
        (
            Array2::from_elem(stored(self.m, self.k, self.transpose_a), 0.5),
            Array2::from_elem(stored(self.k, self.n, self.transpose_b), 0.25),
            Array2::zeros((self.m, self.n)),
        )
    }

    /// Computes `c = op(a) · op(b)` in this shape, on arrays as
    /// [`Shape::operands`] makes them.
    pub fn run(&self, a: &Array2<f32>, b: &Array2<f32>, c: &mut Array2<f32>) {
        let a = if self.transpose_a { a.t() } else { a.view() };
        let b = if self.transpose_b { b.t() } else { b.view() };
        gemm(1.0, a, b, 0.0, c.view_mut());
    }
}

/// The GEMM shapes of one training step of a network with layer `sizes` on
/// minibatches of `batch`, as `Mlp::forward` and `Mlp::backward` call them.
pub fn step_shapes(sizes: &[usize], batch: usize) -> Vec<Shape> {
    let mut shapes = Vec::new();
    for (l, w) in sizes.windows(2).enumerate() {
        let (inputs, outputs) = (w[0], w[1]);
        shapes.push(Shape {
            name: format!("forward {}: H·W", l + 1),
            m: batch,
            k: inputs,
            n: outputs,
            transpose_a: false,
            transpose_b: false,
        });
    }
    for (l, w) in sizes.windows(2).enumerate().rev() {
        let (inputs, outputs) = (w[0], w[1]);
        shapes.push(Shape {
            name: format!("backward {}: Hᵀ·δ", l + 1),
            m: inputs,
            k: batch,
            n: outputs,
            transpose_a: true,
            transpose_b: false,
        });
        if l > 0 {
            shapes.push(Shape {
                name: format!("backward {}: δ·Wᵀ", l + 1),
                m: batch,
                k: outputs,
                n: inputs,
                transpose_a: false,
                transpose_b: true,
            });
        }
    }
    shapes
}

/// Median seconds per call of `f`, timed in batches for at least `budget`.
pub fn seconds_per_call(budget: Duration, mut f: impl FnMut()) -> f64 {
    f(); // warm caches and page in buffers
    let once = {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64().max(1e-7)
    };
    let per_batch = ((budget.as_secs_f64() / 7.0 / once) as usize).max(1);
    let mut samples: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            t.elapsed().as_secs_f64() / per_batch as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// GFLOP/s of matrixmultiply on `shape`, single-threaded.
pub fn gemm_rate(shape: &Shape, budget: Duration) -> f64 {
    let (a, b, mut c) = shape.operands();
    let s = seconds_per_call(budget, || {
        shape.run(black_box(&a), black_box(&b), &mut c);
        black_box(&c);
    });
    shape.flops() as f64 / s / 1e9
}

/// GFLOP/s of matrixmultiply on an `n × n × n` product: its best case.
pub fn square_rate(n: usize, budget: Duration) -> f64 {
    let shape = Shape {
        name: format!("{n}³"),
        m: n,
        k: n,
        n,
        transpose_a: false,
        transpose_b: false,
    };
    gemm_rate(&shape, budget)
}

/// The FMA peak of one core in GFLOP/s: independent 8-wide fused
/// multiply-adds with nothing else in the loop. `None` where the CPU has no
/// AVX2 and FMA (the measurement would not mean the same thing).
pub fn fma_peak(budget: Duration) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            const ITERS: usize = 100_000;
            let s = seconds_per_call(budget, || {
                // SAFETY: `fma_chains` only needs AVX2 and FMA, which the CPU
                // was just checked to have.
                black_box(unsafe { fma_chains(black_box(ITERS)) });
            });
            // 12 chains × 8 lanes × 2 FLOP per iteration.
            return Some((ITERS * 12 * 8 * 2) as f64 / s / 1e9);
        }
    }
    let _ = budget;
    None
}

/// Twelve independent chains of 8-lane fused multiply-adds, enough to keep
/// both FMA units busy through their latency.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_chains(iters: usize) -> f32 {
    let mut acc = [[1.0f32; 8]; 12];
    let x = black_box([0.999_999_9f32; 8]);
    let y = black_box([1e-7f32; 8]);
    for _ in 0..iters {
        for chain in acc.iter_mut() {
            for lane in 0..8 {
                chain[lane] = chain[lane].mul_add(x[lane], y[lane]);
            }
        }
    }
    acc.iter().flatten().sum()
}

/// Timing of one run's epochs.
#[derive(Debug, Clone)]
pub struct EpochTiming {
    /// Median seconds of one training epoch.
    pub train_seconds: f64,
    /// Median seconds of one evaluation (training subset + test split).
    pub eval_seconds: f64,
    /// FLOP of one training epoch.
    pub train_flops: u64,
    /// FLOP of one evaluation.
    pub eval_flops: u64,
}

/// Trains `params` (with its `epochs`) on `threads` threads (evaluation
/// chunks spread over them; training is one thread) and returns the median
/// training and evaluation seconds per epoch, evaluating after every epoch.
pub fn epoch_timing(params: &RunParams, data: &Dataset, threads: usize) -> EpochTiming {
    let mut params = params.clone();
    params.eval_every = 1;
    let run = || train::train(&params, data, &mut |_| {}, &|| false);
    let outcome = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool.install(run),
        Err(_) => run(),
    }
    .unwrap_or_else(|_| unreachable!("nothing asks this run to stop"));
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    // The work of one epoch and one evaluation.
    let one_epoch = RunParams {
        epochs: 1,
        ..params.clone()
    };
    let work = crate::shard::Work::of(&one_epoch, crate::shard::DataSize::of(data));
    EpochTiming {
        train_seconds: median(outcome.epochs.iter().map(|e| e.train_seconds).collect()),
        eval_seconds: median(outcome.epochs.iter().map(|e| e.eval_seconds).collect()),
        train_flops: work.train_flops,
        eval_flops: work.eval_flops,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::mlp::train_flops_per_sample;

    #[test]
    fn the_step_of_the_notebook_network_has_eight_products() {
        let shapes = step_shapes(&[784, 200, 200, 10], 100);
        assert_eq!(shapes.len(), 8);
        let flops: u64 = shapes.iter().map(Shape::flops).sum();
        // The model's own count, per sample, times the batch.
        assert_eq!(flops, 100 * train_flops_per_sample(&[784, 200, 200, 10]));
        assert_eq!(shapes[3].name, "backward 3: Hᵀ·δ");
        assert_eq!((shapes[3].m, shapes[3].k, shapes[3].n), (200, 100, 10));
    }

    #[test]
    fn every_shape_of_a_step_multiplies_its_own_operands() {
        for shape in step_shapes(&[7, 5, 3], 4) {
            let (a, b, mut c) = shape.operands();
            shape.run(&a, &b, &mut c);
            // 0.5 · 0.25 summed over the inner dimension.
            let want = 0.125 * shape.k as f32;
            assert!(c.iter().all(|&x| x == want), "{}", shape.name);
        }
    }

    #[test]
    fn rates_are_positive_and_finite() {
        let r = square_rate(64, Duration::from_millis(20));
        assert!(r.is_finite() && r > 0.0);
        if let Some(p) = fma_peak(Duration::from_millis(20)) {
            assert!(p.is_finite() && p > 0.0);
        }
    }
}
