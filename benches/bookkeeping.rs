//! Criterion benchmarks of a run's bookkeeping: its record (`params.json`,
//! `epochs.csv`, `done.json` with one `fsync`) and its rows appended to
//! `runs.csv` and `epochs.csv` under the aggregate lock — everything
//! `sweep run` does for a run besides training it. Measured as CPU time of
//! the saving thread (user + system, from `/proc/thread-self/schedstat`)
//! and as wall time, in a results folder holding no runs and one holding
//! 2 000: the cost must not grow with the folder.
//!
//!     cargo bench --bench bookkeeping

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sweep::config::{RunParams, RunSpec, run_id};
use sweep::results::{FinishedRun, ResultsDir};
use sweep::train::{EpochMetrics, RunOutcome, Status};
use tempfile::TempDir;

/// CPU time this thread has run, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The record of run `seed` of a 1-epoch sweep, as a run leaves it.
fn record(seed: u64) -> FinishedRun {
    let params = RunParams {
        train_subset: Some(200),
        hidden_layers: 1,
        hidden_size: 16,
        epochs: 1,
        batch_size: 50,
        seed,
        ..RunParams::default()
    };
    let spec = RunSpec {
        id: run_id("mnist", &params),
        params,
    };
    FinishedRun::new(
        &spec,
        RunOutcome {
            status: Status::Finished,
            diverged_epoch: None,
            stopped_epoch: None,
            train_samples: 200,
            parameters: 12_730,
            epochs: vec![EpochMetrics {
                epoch: 1,
                train_loss: 1.234_567_890_123,
                train_acc: 0.615,
                test_loss: 1.456_789_012_345,
                test_acc: 0.5432,
                gap_acc: 0.0718,
                gap_loss: 0.222_221_122_222,
                penalty: 0.0,
                train_seconds: 0.001_234,
                eval_seconds: 0.012_345,
                lr: Some(0.1),
                val_loss: None,
                val_acc: None,
                train_acc_clean: None,
                noisy_fit: None,
                weight_norm: None,
                ..EpochMetrics::default()
            }],
            train_seconds: 0.001_234,
            eval_seconds: 0.012_345,
            test_predictions: None,
            kernel: "matrixmultiply/fma".into(),
            forgetting: None,
            forgetting_counts: None,
            measures: None,
        },
    )
}

/// A results folder with `runs` records already saved.
fn folder(runs: u64) -> (TempDir, ResultsDir) {
    let tmp = TempDir::new().expect("a temporary folder");
    let dir = ResultsDir::new(tmp.path().join("tiny"), "mnist");
    dir.create().expect("the results folder");
    let lock = dir.lock_aggregates().expect("the aggregate lock");
    dir.aggregates()
        .rebuild(&lock, std::iter::empty::<FinishedRun>())
        .expect("empty tables");
    drop(lock);
    for seed in 0..runs {
        dir.save_run(&record(1_000_000 + seed))
            .expect("a saved run");
    }
    (tmp, dir)
}

fn save_run(c: &mut Criterion) {
    let mut group = c.benchmark_group("bookkeeping per run");
    // Both folders stay until the end: removing thousands of files makes
    // ext4 slower to create files for a minute or more (it skips recently
    // freed inodes), which would be charged to the next measurement.
    let folders: Vec<_> = [0, 2000].map(|n| (n, folder(n))).into();
    for (existing, (_tmp, dir)) in &folders {
        let mut seed = 0;
        group.bench_function(format!("CPU, {existing} runs in the folder"), |b| {
            b.iter_custom(|iters| {
                let start = thread_cpu_ns();
                for _ in 0..iters {
                    dir.save_run(&record(seed)).expect("a saved run");
                    seed += 1;
                }
                Duration::from_nanos(thread_cpu_ns() - start)
            })
        });
        group.bench_function(format!("wall, {existing} runs in the folder"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    dir.save_run(&record(seed)).expect("a saved run");
                    seed += 1;
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, save_run);
criterion_main!(benches);
