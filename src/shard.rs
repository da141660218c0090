//! Splitting one sweep into N shards (`sweep run FILE --shard K/N`, one per
//! task of a Slurm job array): every run goes to exactly one shard, shards
//! get about the same estimated work, and which shard a run lands in depends
//! only on the runs' ids and costs — never on their order in the grid or in
//! the experiment file.

use std::fmt;
use std::str::FromStr;

use crate::config::{RunParams, RunSpec};
use crate::data::{Dataset, NUM_CLASSES};
use crate::nn::mlp::{eval_flops_per_sample, train_flops_per_sample};

/// Shard K (counted from 0) of N, as `--shard K/N` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    /// Which shard, `0 ≤ index < count` (a Slurm array's
    /// `$SLURM_ARRAY_TASK_ID` when the array is `0-(N-1)`).
    pub index: usize,
    /// How many shards the sweep is split into.
    pub count: usize,
}

/// Why a `--shard` value was refused; the message says what to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseShardError(String);

impl fmt::Display for ParseShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseShardError {}

impl FromStr for Shard {
    type Err = ParseShardError;

    /// Parses `K/N`, e.g. `0/4` … `3/4`.
    fn from_str(text: &str) -> Result<Shard, ParseShardError> {
        let usage = "--shard must be K/N with 0 ≤ K < N, e.g. 0/4";
        let err = |msg: String| Err(ParseShardError(msg));
        let Some((k, n)) = text.trim().split_once('/') else {
            return err(format!("{usage}; got {text:?}"));
        };
        let (k, n) = (k.trim(), n.trim());
        if k.is_empty() || n.is_empty() {
            // `--shard $SLURM_ARRAY_TASK_ID/4` outside an array job.
            return err(format!(
                "{usage}; got {text:?} (is $SLURM_ARRAY_TASK_ID or $SLURM_ARRAY_TASK_COUNT \
                 empty? they are set only inside a Slurm array job)"
            ));
        }
        let (Ok(index), Ok(count)) = (k.parse::<usize>(), n.parse::<usize>()) else {
            return err(format!(
                "{usage}; got {text:?} (K and N must be whole numbers)"
            ));
        };
        if count == 0 {
            return err(format!(
                "{usage}; got {index}/{count} (N must be at least 1)"
            ));
        }
        if index >= count {
            return err(format!(
                "{usage}; got {index}/{count} (shards count from 0: the last of {count} is {}/{count})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The runs of this shard, in the order `runs` has them (`costs[i]` is
    /// the cost of `runs[i]`, see [`costs`]).
    pub fn select<'a>(&self, runs: &'a [RunSpec], costs: &[f64]) -> Vec<&'a RunSpec> {
        let shard_of = assign(runs, costs, self.count);
        runs.iter()
            .zip(shard_of)
            .filter(|&(_, s)| s == self.index)
            .map(|(run, _)| run)
            .collect()
    }
}

/// The sizes of a dataset that the work of a run depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSize {
    /// Images in the training split.
    pub train_images: usize,
    /// Images in the test split.
    pub test_images: usize,
    /// Input features (pixels) per image.
    pub pixels: usize,
}

impl DataSize {
    /// MNIST and Fashion-MNIST: 60 000 + 10 000 images of 28 × 28.
    pub const MNIST: DataSize = DataSize {
        train_images: 60_000,
        test_images: 10_000,
        pixels: 784,
    };

    /// The sizes of a loaded dataset.
    pub fn of(data: &Dataset) -> DataSize {
        DataSize {
            train_images: data.train.len(),
            test_images: data.test.len(),
            pixels: data.pixels(),
        }
    }
}

/// The work a run needs: training images, and floating-point operations
/// of training and of every evaluation (every `eval_every` epochs and after
/// the last, on the training images it uses and the test split). The one
/// place this is computed: `sweep plan`, the shard costs and `sweep bench`
/// all read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    /// Training images used.
    pub train_samples: usize,
    /// FLOP of all training steps.
    pub train_flops: u64,
    /// FLOP of all evaluations.
    pub eval_flops: u64,
}

impl Work {
    /// The work of a run with `params` on data of size `data`. Saturating:
    /// absurd sizes give a huge number, not an overflow.
    pub fn of(params: &RunParams, data: DataSize) -> Work {
        let p = params;
        let usable = data.train_images.saturating_sub(p.validation);
        let n = p.train_subset.unwrap_or(usable).min(usable);
        let sizes = p.layer_sizes(data.pixels, NUM_CLASSES);
        let batch = p.batch_size.min(n).max(1);
        let steps = (n / batch).max(1) as u64;
        let evals = p.eval_every.count(p.epochs) as u64;
        Work {
            train_samples: n,
            train_flops: (p.epochs as u64)
                .saturating_mul(steps)
                .saturating_mul(batch as u64)
                .saturating_mul(train_flops_per_sample(&sizes)),
            eval_flops: evals
                .saturating_mul((n + p.validation + data.test_images) as u64)
                .saturating_mul(eval_flops_per_sample(&sizes)),
        }
    }

    /// Training and evaluation together.
    pub fn flops(&self) -> u64 {
        self.train_flops.saturating_add(self.eval_flops)
    }
}

/// Floating-point operations a run needs, training and evaluation: the
/// figure `sweep plan` prints.
pub fn run_flops(params: &RunParams, data: DataSize) -> u64 {
    Work::of(params, data).flops()
}

/// Estimated cost of a run, its [`run_flops`] as a float: what shards are
/// balanced on. Width, depth, epochs, subset size and evaluation frequency
/// all enter; λ, learning rate and seeds do not.
pub fn run_cost(params: &RunParams, data: DataSize) -> f64 {
    run_flops(params, data) as f64
}

/// [`run_cost`] of every run, in the same order.
pub fn costs(runs: &[RunSpec], data: DataSize) -> Vec<f64> {
    runs.iter().map(|r| run_cost(&r.params, data)).collect()
}

/// The shard (`0..count`) of each run: `result[i]` is the shard of
/// `runs[i]`, whose cost is `costs[i]`.
///
/// Longest processing time first: runs sorted by cost (largest first, then
/// by id) each go to the shard with the least work so far (the lowest index
/// among equals). So the assignment depends only on the runs' ids and costs,
/// not on the order of `runs`, and the busiest and idlest shard differ by at
/// most the cost of one run. With more shards than runs some shards get
/// none. Run ids are unique within an experiment, which this relies on.
///
/// # Panics
/// If `count` is 0 or `costs` and `runs` differ in length.
pub fn assign(runs: &[RunSpec], costs: &[f64], count: usize) -> Vec<usize> {
    assert!(count > 0, "cannot split runs into 0 shards");
    assert_eq!(runs.len(), costs.len(), "one cost per run");
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by(|&a, &b| {
        costs[b]
            .total_cmp(&costs[a])
            .then_with(|| runs[a].id.cmp(&runs[b].id))
    });
    let mut load = vec![0.0f64; count];
    let mut shard_of = vec![0; runs.len()];
    for i in order {
        // The first minimum: ties go to the lowest index.
        let lightest = (0..count)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]))
            .unwrap_or(0);
        load[lightest] += costs[i];
        shard_of[i] = lightest;
    }
    shard_of
}

/// The summed cost of each shard's runs under the assignment `shard_of`
/// (from [`assign`]), e.g. to show how even a split is.
pub fn loads(shard_of: &[usize], costs: &[f64], count: usize) -> Vec<f64> {
    let mut load = vec![0.0; count];
    for (&s, &c) in shard_of.iter().zip(costs) {
        load[s] += c;
    }
    load
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::config::Experiment;
    use crate::data::Split;

    /// Width × λ × epochs × subset × seed: 4 × 3 × 2 × 2 × 2 = 96 runs of
    /// very different costs.
    const GRID: &str = r#"
name = "shards"
[model]
hidden_layers = 2
[train]
eval_every = 5
[grid]
hidden_size = [25, 50, 100, 400]
lambda = [0, 0.01, 0.1]
epochs = [10, 40]
train_subset = [1000, 5000]
seed = { count = 2 }
"#;

    /// The same grid, keys in another order and spelt differently.
    const GRID_REORDERED: &str = r#"
name = "shards"
eval_every = 5
[grid]
seed = [0, 1]
train_subset = [5000, 1000]
epochs = [40, 10]
lambda = [0.1, 0, 0.01]
hidden_size = [400, 100, 50, 25]
[model]
hidden_layers = 2
"#;

    fn experiment(text: &str) -> Experiment {
        Experiment::parse(text, Path::new("exp/shards.toml")).unwrap()
    }

    fn grid() -> (Vec<RunSpec>, Vec<f64>) {
        let runs = experiment(GRID).runs;
        let costs = costs(&runs, DataSize::MNIST);
        (runs, costs)
    }

    /// Run id → shard.
    fn by_id(runs: &[RunSpec], shard_of: &[usize]) -> HashMap<String, usize> {
        runs.iter()
            .map(|r| r.id.clone())
            .zip(shard_of.iter().copied())
            .collect()
    }

    fn shard(text: &str) -> Result<Shard, String> {
        text.parse::<Shard>().map_err(|e| e.to_string())
    }

    #[test]
    fn k_of_n_parses_and_prints_back() {
        assert_eq!(shard("0/1"), Ok(Shard { index: 0, count: 1 }));
        assert_eq!(shard("3/4"), Ok(Shard { index: 3, count: 4 }));
        assert_eq!(shard(" 2 / 7 ").unwrap().to_string(), "2/7");
    }

    #[test]
    fn bad_shards_say_what_to_write() {
        assert_eq!(
            shard("4/4").unwrap_err(),
            "--shard must be K/N with 0 ≤ K < N, e.g. 0/4; got 4/4 \
             (shards count from 0: the last of 4 is 3/4)"
        );
        assert_eq!(
            shard("0/0").unwrap_err(),
            "--shard must be K/N with 0 ≤ K < N, e.g. 0/4; got 0/0 (N must be at least 1)"
        );
        assert_eq!(
            shard("3").unwrap_err(),
            "--shard must be K/N with 0 ≤ K < N, e.g. 0/4; got \"3\""
        );
        let err = shard("-1/4").unwrap_err();
        assert!(err.ends_with("(K and N must be whole numbers)"), "{err}");
        let err = shard("1/4/2").unwrap_err();
        assert!(err.ends_with("(K and N must be whole numbers)"), "{err}");
        let err = shard("/4").unwrap_err();
        assert!(err.contains("$SLURM_ARRAY_TASK_ID"), "{err}");
    }

    #[test]
    fn every_run_lands_in_exactly_one_shard() {
        let (runs, costs) = grid();
        assert_eq!(runs.len(), 96);
        for count in 1..=7 {
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for index in 0..count {
                for run in (Shard { index, count }).select(&runs, &costs) {
                    *seen.entry(&run.id).or_default() += 1;
                }
            }
            assert_eq!(seen.len(), runs.len(), "{count} shards miss runs");
            assert!(seen.values().all(|&n| n == 1), "{count} shards overlap");
            assert!(assign(&runs, &costs, count).iter().all(|&s| s < count));
        }
    }

    #[test]
    fn assignment_does_not_depend_on_the_order_of_the_runs() {
        let (runs, costs) = grid();
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        for count in 1..=7 {
            let expected = by_id(&runs, &assign(&runs, &costs, count));
            for _ in 0..5 {
                let mut pairs: Vec<(RunSpec, f64)> =
                    runs.iter().cloned().zip(costs.iter().copied()).collect();
                pairs.shuffle(&mut rng);
                let (shuffled, shuffled_costs): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
                let got = assign(&shuffled, &shuffled_costs, count);
                assert_eq!(by_id(&shuffled, &got), expected, "{count} shards");
            }
        }
    }

    #[test]
    fn reordering_the_experiment_file_keeps_every_run_in_its_shard() {
        let (runs, costs) = grid();
        let other = experiment(GRID_REORDERED).runs;
        let other_costs = super::costs(&other, DataSize::MNIST);
        for count in 1..=7 {
            assert_eq!(
                by_id(&runs, &assign(&runs, &costs, count)),
                by_id(&other, &assign(&other, &other_costs, count)),
                "{count} shards"
            );
        }
    }

    #[test]
    fn shards_differ_by_at_most_the_largest_run() {
        let (runs, costs) = grid();
        let largest = costs.iter().copied().fold(0.0, f64::max);
        let total: f64 = costs.iter().sum();
        for count in 1..=7 {
            let load = loads(&assign(&runs, &costs, count), &costs, count);
            let max = load.iter().copied().fold(f64::MIN, f64::max);
            let min = load.iter().copied().fold(f64::MAX, f64::min);
            assert!(max - min <= largest, "{count} shards: {load:?}");
            assert!((load.iter().sum::<f64>() - total).abs() <= total * 1e-12);
        }
    }

    #[test]
    fn the_largest_runs_are_spread_first_and_ties_go_to_the_lowest_shard() {
        let runs = |ids: &[&str]| -> Vec<RunSpec> {
            ids.iter()
                .map(|id| RunSpec {
                    id: id.to_string(),
                    params: RunParams::default(),
                })
                .collect()
        };
        // Sorted: b 5, d 4, a 3, c 3 (a before c by id), e 2 → shard 0, 1,
        // 1 (4 < 5), 0 (5 < 7), 1 (7 < 8).
        let costs = [3.0, 5.0, 3.0, 4.0, 2.0];
        let shard_of = assign(&runs(&["a", "b", "c", "d", "e"]), &costs, 2);
        assert_eq!(shard_of, vec![1, 0, 0, 1, 1]);
        assert_eq!(loads(&shard_of, &costs, 2), vec![8.0, 9.0]);
        // Equal costs: the lower id goes first, into the lower shard of equals.
        let costs = [1.0, 2.0, 2.0, 1.0];
        assert_eq!(
            assign(&runs(&["d", "b", "a", "c"]), &costs, 2),
            vec![1, 1, 0, 0]
        );
    }

    #[test]
    fn more_shards_than_runs_leaves_some_empty() {
        let runs = experiment("[grid]\nseed = { count = 3 }\n").runs;
        let costs = costs(&runs, DataSize::MNIST);
        let shard_of = assign(&runs, &costs, 7);
        let mut used = shard_of.clone();
        used.sort();
        assert_eq!(used, vec![0, 1, 2]);
        assert!(
            Shard { index: 6, count: 7 }
                .select(&runs, &costs)
                .is_empty()
        );
        assert!(assign(&[], &[], 3).is_empty());
    }

    #[test]
    fn cost_grows_with_width_epochs_and_subset_but_not_lambda() {
        let base = RunParams {
            train_subset: Some(1000),
            ..RunParams::default()
        };
        let cost = |p: RunParams| run_cost(&p, DataSize::MNIST);
        let c = cost(base.clone());
        assert!(
            cost(RunParams {
                hidden_size: 400,
                ..base.clone()
            }) > c
        );
        assert!(
            cost(RunParams {
                epochs: 20,
                ..base.clone()
            }) > c
        );
        assert!(
            cost(RunParams {
                train_subset: Some(2000),
                ..base.clone()
            }) > c
        );
        assert_eq!(
            cost(RunParams {
                lambda: 0.1,
                seed: 9,
                ..base.clone()
            }),
            c
        );
    }

    #[test]
    fn cost_is_the_work_sweep_plan_reports() {
        let exp = experiment(GRID);
        let split = |n: usize| Split {
            images: Vec::new(),
            labels: vec![0; n],
        };
        let data = Dataset {
            dir: PathBuf::from("mnist"),
            rows: 28,
            cols: 28,
            train: split(60_000),
            test: split(10_000),
            files: Vec::new(),
        };
        assert_eq!(DataSize::of(&data), DataSize::MNIST);
        for planned in crate::sweep::plan(&exp, &data) {
            assert_eq!(
                run_flops(&planned.spec.params, DataSize::MNIST),
                planned.flops
            );
        }
    }
}
