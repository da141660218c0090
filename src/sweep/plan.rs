//! `sweep plan`: the work each run of an experiment needs.

use crate::config::{Experiment, RunSpec};
use crate::data::Dataset;
use crate::shard::{self, DataSize};

/// One row of `sweep plan`: a run and the work it needs.
#[derive(Debug, Clone)]
pub struct PlannedRun<'a> {
    /// The run.
    pub spec: &'a RunSpec,
    /// Training images it uses.
    pub train_samples: usize,
    /// Floating-point operations of training and evaluation.
    pub flops: u64,
}

/// The work each run of `exp` needs, given the dataset.
pub fn plan<'a>(exp: &'a Experiment, data: &Dataset) -> Vec<PlannedRun<'a>> {
    let size = DataSize::of(data);
    exp.runs
        .iter()
        .map(|spec| {
            let work = shard::Work::of(&spec.params, size);
            PlannedRun {
                spec,
                train_samples: work.train_samples,
                flops: work.flops(),
            }
        })
        .collect()
}
