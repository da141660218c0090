//! How much memory a sweep needs, and refusing one the machine cannot hold.

use anyhow::Result;

use super::RunOptions;
use crate::bad_input;
use crate::config::Experiment;
use crate::data::Dataset;
use crate::train;

/// Bytes a sweep needs at most: the dataset once, plus each worker's
/// network, gradients, optimizer state (Adam's two moments, a momentum
/// buffer) and activation buffers for the largest run.
pub fn memory_estimate(exp: &Experiment, data: &Dataset, jobs: usize) -> u64 {
    let dataset = (data.train.images.len() + data.test.images.len()) as u64;
    let per_run = exp
        .runs
        .iter()
        .map(|spec| {
            let p = &spec.params;
            let sizes = p.layer_sizes(data.pixels(), crate::data::NUM_CLASSES);
            let weights: u64 = sizes
                .windows(2)
                .map(|w| (w[0] as u64 + 1) * w[1] as u64)
                .sum();
            let units: u64 = sizes.iter().map(|&s| s as u64).sum();
            let batch = p.batch_size as u64;
            let optimizer_state = p.optimizer.state_arrays() as u64;
            // weights, gradients and optimizer state, activations and
            // deltas of a batch, the evaluation chunk, index lists; 4 bytes
            // each.
            4 * ((2 + optimizer_state) * weights
                + 2 * batch * units
                + train::EVAL_CHUNK as u64 * units)
                + 8 * data.train.len() as u64
        })
        .max()
        .unwrap_or(0);
    dataset + jobs.min(exp.runs.len()).max(1) as u64 * per_run
}

/// Memory the system can give without swapping, from /proc/meminfo.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses a sweep that would need more memory than the machine has
/// available, unless `--yes`.
pub(super) fn check(exp: &Experiment, data: &Dataset, opts: &RunOptions) -> Result<()> {
    let need = memory_estimate(exp, data, opts.jobs);
    match available_memory() {
        Some(have) if need > have && !opts.yes => Err(bad_input!(
            "{}: the sweep needs about {:.1} GiB of memory ({} worker(s) × the largest run, \
             plus the dataset) but only {:.1} GiB is available; lower `hidden_size` or \
             `batch_size`, use fewer --jobs, or add --yes to try anyway",
            exp.path.display(),
            need as f64 / (1u64 << 30) as f64,
            opts.jobs.min(exp.runs.len()),
            have as f64 / (1u64 << 30) as f64
        )),
        _ => Ok(()),
    }
}
