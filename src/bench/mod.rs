//! Measurements behind `sweep bench` and the criterion benchmarks: the
//! machine's true FMA peak, each kernel's rate on a big square product and
//! on each GEMM shape of a training step, which kernel `auto` chooses,
//! seconds per training epoch and per evaluation of a real run, and N runs
//! at once as threads against N processes. [`report`] is the page that
//! `sweep bench` prints, in that order.

mod parallel;
mod peak;

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::config::RunParams;
use crate::data::{Dataset, NUM_CLASSES};
use crate::nn::calibrate::{Calibration, calibrate};
pub use crate::nn::shapes::{Shape, step_shapes};
use crate::nn::{Kernel, KernelRequest};
use crate::train;
pub use parallel::{Parallel, Timing, as_processes, as_threads, serve_as_worker};
pub use peak::{Peak, fma_peaks};

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

/// GFLOP/s of `kernel` on `shape`, single-threaded.
pub fn gemm_rate(kernel: Kernel, shape: &Shape, budget: Duration) -> f64 {
    let (a, b, mut c) = shape.operands();
    let s = seconds_per_call(budget, || {
        shape.run(kernel, black_box(&a), black_box(&b), &mut c);
        black_box(&c);
    });
    shape.flops() as f64 / s / 1e9
}

/// GFLOP/s of `kernel` on an `n × n × n` product: its best case.
pub fn square_rate(kernel: Kernel, n: usize, budget: Duration) -> f64 {
    let shape = Shape {
        name: format!("{n}³"),
        m: n,
        k: n,
        n,
        transpose_a: false,
        transpose_b: false,
    };
    gemm_rate(kernel, &shape, budget)
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

/// Trains `params` (with its `epochs`) with `kernel` on `threads` threads
/// (evaluation chunks spread over them; training is one thread) and
/// returns the median training and evaluation seconds per epoch,
/// evaluating after every epoch.
pub fn epoch_timing(
    params: &RunParams,
    data: &Dataset,
    threads: usize,
    kernel: Kernel,
) -> EpochTiming {
    let mut params = params.clone();
    params.eval_every = crate::config::EvalEvery::Epochs(1);
    let run = || train::train(&params, data, kernel, &mut |_| {}, &|| false);
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

/// How `sweep bench` was asked to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Seconds instead of a minute: shorter timings (the caller also
    /// shortens the run).
    pub quick: bool,
    /// Runs at once in the parallel measurement.
    pub jobs: usize,
    /// The kernel of the run timings.
    pub kernel: KernelRequest,
    /// The command line that starts this same measurement as one worker
    /// process, without `--kernel` and `--as-worker` (which are added).
    pub worker_args: Vec<String>,
}

/// What the rates of a run were, for estimates made from them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunRates {
    /// GFLOP/s of training.
    pub train: f64,
    /// GFLOP/s of evaluation.
    pub eval: f64,
    /// Throughput of `jobs` runs at once over one run's.
    pub speedup: f64,
}

/// Measures this machine on the network of `params` and prints the page of
/// `sweep bench`: the machine, its true FMA peak, each kernel's GEMM rates
/// and `auto`'s choice, one run's epoch and evaluation, and N runs at once
/// as threads and as processes.
pub fn report(
    params: &RunParams,
    data: &Dataset,
    opts: &BenchOptions,
    out: &mut impl Write,
) -> Result<RunRates> {
    let budget = Duration::from_millis(if opts.quick { 60 } else { 1500 });
    let sizes = params.layer_sizes(data.pixels(), NUM_CLASSES);
    print_machine(out)?;
    let peak = fma_peaks(budget);
    print_peaks(out, &peak)?;
    let peak = peak.first().map(|p| p.gflops);
    let (calibration, step_rates) = print_kernels(out, &sizes, params.batch_size, budget, peak)?;
    let kernel = match opts.kernel {
        KernelRequest::Auto => calibration.chosen,
        KernelRequest::Use(kernel) if kernel.available() => kernel,
        KernelRequest::Use(kernel) => {
            return Err(crate::bad_input!(
                "--kernel {kernel}: the {kernel} kernel cannot run on this CPU ({}); use \
                 matrixmultiply or auto",
                crate::results::cpu_model()
            ));
        }
    };
    let step_rate = step_rates
        .iter()
        .find(|(k, _)| *k == kernel)
        .map_or(f64::NAN, |(_, r)| *r);
    let (train, eval) = print_one_run(out, params, data, kernel, opts.jobs, step_rate, peak)?;
    let speedup = print_runs_at_once(out, params, data, kernel, opts)?;
    Ok(RunRates {
        train,
        eval,
        speedup,
    })
}

/// The machine, its cores and the instruction sets each kernel runs.
fn print_machine(out: &mut impl Write) -> Result<()> {
    writeln!(
        out,
        "machine: {} · {} core(s) · sweep {}",
        crate::results::cpu_model(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        env!("CARGO_PKG_VERSION")
    )?;
    let kernels: Vec<String> = Kernel::ALL.iter().map(|k| k.label()).collect();
    writeln!(out, "kernels here: {}", kernels.join(", "))?;
    Ok(())
}

/// The FMA peak of each vector width, the widest being the true one.
fn print_peaks(out: &mut impl Write, peaks: &[Peak]) -> Result<()> {
    match peaks {
        [] => writeln!(out, "FMA peak: not measured (no AVX2+FMA)")?,
        [true_peak, narrower @ ..] => {
            let others: Vec<String> = narrower
                .iter()
                .map(|p| format!("{}: {:.1}", p.isa, p.gflops))
                .collect();
            let others = match others.is_empty() {
                true => String::new(),
                false => format!(" ({})", others.join(", ")),
            };
            writeln!(
                out,
                "FMA peak, 1 core:  {:7.1} GFLOP/s with {}{others}: the percentages below are of it",
                true_peak.gflops, true_peak.isa
            )?;
        }
    }
    Ok(())
}

/// Each kernel's rate on a 512³ product and on each GEMM of a training
/// step, then which kernel `auto` chooses. Returns the choice and each
/// kernel's rate on the step's GEMMs together.
fn print_kernels(
    out: &mut impl Write,
    sizes: &[usize],
    batch: usize,
    budget: Duration,
    peak: Option<f64>,
) -> Result<(Calibration, Vec<(Kernel, f64)>)> {
    let kernels: Vec<Kernel> = Kernel::ALL.into_iter().filter(|k| k.available()).collect();
    let of_peak = |r: f64| peak.map_or(String::new(), |p| format!(" ({:3.0} %)", 100.0 * r / p));
    let arch: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
    write!(out, "{:<38}", "GFLOP/s, 1 core")?;
    for k in &kernels {
        write!(out, "{:>22}", k.label())?;
    }
    writeln!(out)?;
    write!(out, "{:<38}", "  512³ product")?;
    for &k in &kernels {
        let r = square_rate(k, 512, budget);
        write!(out, "{:>22}", format!("{r:.1}{}", of_peak(r)))?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "  the GEMMs of one training step ({}, batch {batch}):",
        arch.join("-")
    )?;
    let shapes = step_shapes(sizes, batch);
    let mut seconds = vec![0.0; kernels.len()];
    let flops: f64 = shapes.iter().map(|s| s.flops() as f64).sum();
    for shape in &shapes {
        write!(
            out,
            "{:<38}",
            format!(
                "    {:<20} {:>4}×{:>4}×{:>4}",
                shape.name, shape.m, shape.k, shape.n
            )
        )?;
        for (i, &k) in kernels.iter().enumerate() {
            let r = gemm_rate(k, shape, budget / 4);
            seconds[i] += shape.flops() as f64 / (r * 1e9);
            write!(out, "{:>22}", format!("{r:.1}{}", of_peak(r)))?;
        }
        writeln!(out)?;
    }
    write!(out, "{:<38}", "    all together")?;
    let step_rates: Vec<(Kernel, f64)> = kernels
        .iter()
        .zip(&seconds)
        .map(|(&k, &s)| (k, flops / s / 1e9))
        .collect();
    for (_, r) in &step_rates {
        write!(out, "{:>22}", format!("{r:.1}{}", of_peak(*r)))?;
    }
    writeln!(out)?;
    let calibration = calibrate(sizes, batch);
    writeln!(out, "{}", calibration.describe(sizes, batch))?;
    Ok((calibration, step_rates))
}

/// One run alone: seconds per training epoch and per evaluation, and its
/// evaluation spread over `jobs` threads. Returns the training and
/// evaluation rates.
fn print_one_run(
    out: &mut impl Write,
    params: &RunParams,
    data: &Dataset,
    kernel: Kernel,
    jobs: usize,
    step_rate: f64,
    peak: Option<f64>,
) -> Result<(f64, f64)> {
    writeln!(
        out,
        "one run with {}, 1 thread ({} training images, batch {}, {} epoch(s)):",
        kernel.label(),
        params.train_subset.unwrap_or(data.train.len()),
        params.batch_size,
        params.epochs
    )?;
    let t = epoch_timing(params, data, 1, kernel);
    let train_rate = t.train_flops as f64 / t.train_seconds / 1e9;
    let eval_rate = t.eval_flops as f64 / t.eval_seconds / 1e9;
    let of_peak = |r: f64| {
        peak.map_or(String::new(), |p| {
            format!(", {:.0} % of peak", 100.0 * r / p)
        })
    };
    writeln!(
        out,
        "  training epoch    {:7.3} s   {train_rate:6.1} GFLOP/s ({:.0} % of the step's GEMM rate{})",
        t.train_seconds,
        100.0 * train_rate / step_rate,
        of_peak(train_rate)
    )?;
    writeln!(
        out,
        "  evaluation        {:7.3} s   {eval_rate:6.1} GFLOP/s{}",
        t.eval_seconds,
        of_peak(eval_rate)
    )?;
    if jobs > 1 {
        // One run alone with idle workers: they take evaluation chunks.
        let spread = epoch_timing(params, data, jobs, kernel);
        writeln!(
            out,
            "  evaluation on {jobs} threads (one run, idle workers help): {:7.3} s ({:.2}× one thread)",
            spread.eval_seconds,
            t.eval_seconds / spread.eval_seconds
        )?;
    }
    Ok((train_rate, eval_rate))
}

/// `jobs` runs at once as threads of one process (as `sweep run --jobs`
/// trains them) and as separate processes, against one run alone; each
/// with its own seed. Returns the threads' speed-up.
fn print_runs_at_once(
    out: &mut impl Write,
    params: &RunParams,
    data: &Dataset,
    kernel: Kernel,
    opts: &BenchOptions,
) -> Result<f64> {
    let jobs = opts.jobs;
    let mut worker = opts.worker_args.clone();
    worker.extend([
        "--kernel".into(),
        kernel.name().into(),
        "--as-worker".into(),
    ]);
    let alone = as_threads(params, data, kernel, 1, 0);
    let threads = as_threads(params, data, kernel, jobs, 0);
    let processes = match as_processes(&worker, jobs) {
        Ok(timing) => Some(timing),
        Err(e) => {
            writeln!(
                out,
                "{jobs} runs at once as processes: not measured ({e:#})"
            )?;
            None
        }
    };
    let p = Parallel {
        runs: jobs,
        alone,
        threads,
        processes,
    };
    let per_run = |t: &Timing| {
        format!(
            "each {:.2} s training, {:.2} s evaluating",
            t.training, t.evaluating
        )
    };
    writeln!(
        out,
        "{jobs} runs at once ({}, {} epoch(s) each; one alone: {:.2} s, {}):",
        kernel.label(),
        params.epochs,
        alone.wall,
        per_run(&alone)
    )?;
    writeln!(
        out,
        "  as threads of one sweep: {:6.2} s, {:.2}× one run's throughput ({:.0} % parallel efficiency); {}",
        threads.wall,
        p.thread_speedup(),
        100.0 * p.thread_speedup() / jobs as f64,
        per_run(&threads)
    )?;
    if let (Some(t), Some(speedup), Some(kept)) =
        (processes, p.process_speedup(), p.threads_of_processes())
    {
        writeln!(
            out,
            "  as {jobs} processes:     {:6.2} s, {speedup:.2}× ({:.0} %); {}",
            t.wall,
            100.0 * speedup / jobs as f64,
            per_run(&t)
        )?;
        writeln!(
            out,
            "  threads against processes: {:.0} % of the processes' throughput",
            100.0 * kept
        )?;
    }
    Ok(p.thread_speedup())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_positive_and_finite() {
        for kernel in Kernel::ALL.into_iter().filter(|k| k.available()) {
            let r = square_rate(kernel, 64, Duration::from_millis(20));
            assert!(r.is_finite() && r > 0.0, "{kernel}");
        }
    }
}
