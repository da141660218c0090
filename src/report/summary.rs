//! Configurations (every setting but the seed) and their statistics over
//! seeds, and `summary.csv`: one row per configuration.

use std::collections::HashMap;

use anyhow::Result;

use crate::config::{Key, RunParams, RunSpec};
pub use crate::report::metric::Metric;
use crate::report::stats::{Stat, ci_note};
use crate::results::{FinishedRun, csv_text};
use crate::train::Status;

/// One configuration of the grid: all runs that differ only in `seed`.
#[derive(Debug, Clone)]
pub struct Config<'a> {
    /// The settings (with the seed of its first run, which means nothing).
    pub params: RunParams,
    /// `key=value` of the swept settings other than the seed.
    pub label: String,
    /// Runs of it in the grid.
    pub planned: usize,
    /// Runs that finished every epoch, in grid order.
    pub finished: Vec<&'a FinishedRun>,
    /// Runs whose loss became NaN or infinite.
    pub diverged: Vec<&'a FinishedRun>,
    /// Runs that stopped with an error.
    pub failed: Vec<&'a FinishedRun>,
    /// Runs of the grid with no complete result yet.
    pub missing: Vec<&'a RunSpec>,
}

impl Config<'_> {
    /// The statistics of `metric` over finished seeds.
    pub fn metric(&self, metric: Metric) -> Stat {
        Stat::of(&self.values(metric))
    }

    /// Its runs that ended (finished, diverged or failed).
    pub fn runs(&self) -> impl Iterator<Item = &FinishedRun> + '_ {
        self.finished
            .iter()
            .chain(&self.diverged)
            .chain(&self.failed)
            .copied()
    }

    /// The network's parameter count, from its first run that ended.
    pub fn parameters(&self) -> Option<usize> {
        self.runs().find_map(FinishedRun::parameters)
    }

    /// The number of training images its runs trained on, from its first
    /// run that ended.
    pub fn train_samples(&self) -> Option<usize> {
        self.runs().map(|r| r.done.train_samples).find(|&n| n > 0)
    }

    /// Whether its runs hold out a validation split (then "best" is chosen
    /// on it, never on the test set).
    pub fn has_validation(&self) -> bool {
        self.params.validation > 0
    }

    /// The per-seed values of `metric`.
    pub fn values(&self, metric: Metric) -> Vec<f64> {
        self.finished.iter().filter_map(|r| metric.of(r)).collect()
    }
}

/// The metric the best configuration is chosen on: mean validation
/// accuracy when the runs hold out validation images, else mean test
/// accuracy (as sweep always did).
pub fn selection_metric<'a, 'b: 'a>(configs: impl IntoIterator<Item = &'a Config<'b>>) -> Metric {
    if configs.into_iter().any(Config::has_validation) {
        Metric::ValAcc
    } else {
        Metric::TestAcc
    }
}

/// The swept settings that define configurations: every swept key but `seed`.
pub fn config_keys(swept: &[Key]) -> Vec<Key> {
    swept.iter().copied().filter(|&k| k != Key::Seed).collect()
}

/// Groups the grid's runs into configurations, in grid order of their first
/// run. `runs` holds the finished runs by id.
pub fn configs<'a>(
    grid: &'a [RunSpec],
    swept: &[Key],
    runs: &'a HashMap<String, FinishedRun>,
) -> Vec<Config<'a>> {
    let keys = config_keys(swept);
    let mut order: Vec<Config<'a>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for spec in grid {
        let mut unseeded = spec.params.clone();
        unseeded.seed = 0;
        let at = *index.entry(unseeded.canonical()).or_insert_with(|| {
            order.push(Config {
                params: spec.params.clone(),
                label: label(&keys, &spec.params),
                planned: 0,
                finished: Vec::new(),
                diverged: Vec::new(),
                failed: Vec::new(),
                missing: Vec::new(),
            });
            order.len() - 1
        });
        let config = &mut order[at];
        config.planned += 1;
        match runs.get(&spec.id) {
            Some(run) => match run.done.status {
                Status::Finished => config.finished.push(run),
                Status::Diverged => config.diverged.push(run),
                Status::Failed => config.failed.push(run),
            },
            None => config.missing.push(spec),
        }
    }
    order
}

/// `lambda=0.01 learning_rate=0.1`, or `all runs` when only seeds vary.
pub fn label(keys: &[Key], params: &RunParams) -> String {
    if keys.is_empty() {
        return "all runs".into();
    }
    keys.iter()
        .filter(|k| k.applies_to(params))
        .map(|&k| format!("{}={}", k.name(), params.text(k)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `summary.csv`: per configuration, the swept settings, how many seeds
/// finished, diverged, failed or are missing, then mean, standard deviation and
/// 95 % interval of each metric, then the settings the grid holds fixed.
pub fn summary_csv(configs: &[Config], swept: &[Key]) -> Result<Vec<u8>> {
    let keys = config_keys(swept);
    let fixed: Vec<Key> = Key::ALL
        .iter()
        .copied()
        .filter(|k| !swept.contains(k) && *k != Key::Seed)
        .collect();
    let mut header: Vec<String> = keys.iter().map(|k| k.name().to_string()).collect();
    header.extend(
        [
            "seeds_planned",
            "seeds_finished",
            "seeds_diverged",
            "seeds_failed",
            "seeds_missing",
            "seeds",
            "ci95_note",
        ]
        .map(String::from),
    );
    for name in Metric::ALL.iter().map(|m| m.name()) {
        for part in ["mean", "sd", "ci95_low", "ci95_high"] {
            header.push(format!("{name}_{part}"));
        }
    }
    header.extend(fixed.iter().map(|k| k.name().to_string()));
    header.push("parameters".into());

    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(&header)?;
    for config in configs {
        let mut row: Vec<String> = keys
            .iter()
            .map(|&k| csv_text(&config.params.text(k)))
            .collect();
        let n = config.finished.len();
        row.push(config.planned.to_string());
        row.push(n.to_string());
        row.push(config.diverged.len().to_string());
        row.push(config.failed.len().to_string());
        row.push(config.missing.len().to_string());
        let seeds: Vec<u64> = config.finished.iter().map(|r| r.spec.params.seed).collect();
        row.push(seeds_text(&seeds));
        row.push(ci_note(n).to_string());
        for &metric in Metric::ALL {
            let s = config.metric(metric);
            let cell = |x: Option<f64>| x.map_or(String::new(), num);
            row.push(cell(s.mean));
            row.push(cell(s.sd));
            row.push(cell(s.ci95.map(|c| c.0)));
            row.push(cell(s.ci95.map(|c| c.1)));
        }
        row.extend(fixed.iter().map(|&k| csv_text(&config.params.text(k))));
        row.push(config.parameters().map_or(String::new(), |p| p.to_string()));
        csv.write_record(&row)?;
    }
    Ok(csv.into_inner()?)
}

/// The seeds of a configuration for its `seeds` cell: `0 1 2`, with runs of
/// four or more consecutive seeds written `a..b` (`0..19999` rather than
/// 20 000 numbers: a spreadsheet cell holds at most 32 767 characters).
pub fn seeds_text(seeds: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < seeds.len() {
        let mut j = i;
        while j + 1 < seeds.len() && seeds[j + 1] == seeds[j] + 1 {
            j += 1;
        }
        if j - i >= 3 {
            parts.push(format!("{}..{}", seeds[i], seeds[j]));
        } else {
            parts.extend(seeds[i..=j].iter().map(u64::to_string));
        }
        i = j + 1;
    }
    csv_text(&parts.join(" "))
}

/// A statistic rounded to 6 significant digits: more would be noise, and
/// short cells read better in a spreadsheet.
pub fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x == 0.0 { "0".into() } else { x.to_string() };
    }
    let digits = 6 - 1 - x.abs().log10().floor() as i32;
    let rounded: f64 = format!("{:.*}", digits.max(0) as usize, x)
        .parse()
        .unwrap_or(x);
    rounded.to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::results::RunDone;
    use crate::train::EpochMetrics;

    /// A run of λ = `lambda` with seed `seed` (for other modules' tests).
    pub(crate) fn spec(lambda: f64, seed: u64) -> RunSpec {
        let params = RunParams {
            lambda,
            seed,
            ..RunParams::default()
        };
        RunSpec {
            id: format!("l{lambda}-s{seed}"),
            params,
        }
    }

    /// Its record with two epochs, the last at these accuracies.
    pub(crate) fn run(
        spec: &RunSpec,
        status: Status,
        train_acc: f64,
        test_acc: f64,
    ) -> FinishedRun {
        let epoch = |epoch, test_acc: f64| EpochMetrics {
            epoch,
            train_loss: 0.1,
            train_acc,
            test_loss: 0.3,
            test_acc,
            gap_acc: train_acc - test_acc,
            gap_loss: 0.2,
            penalty: 0.0,
            train_seconds: 1.0,
            eval_seconds: 1.0,
            lr: Some(0.1),
            val_loss: None,
            val_acc: None,
            train_acc_clean: None,
            noisy_fit: None,
            weight_norm: None,
            ..Default::default()
        };
        FinishedRun {
            spec: spec.clone(),
            done: RunDone {
                status,
                diverged_epoch: None,
                stopped_epoch: None,
                parameters: None,
                train_samples: 100,
                train_seconds: 1.0,
                eval_seconds: 1.0,
                finished_at: String::new(),
                error: None,
                epoch_rows: None,
                sha256: Default::default(),
                kernel: None,
                forgetting: None,
                measures: None,
            },
            // The best epoch is the first one, 0.01 above the final one.
            epochs: vec![epoch(1, test_acc + 0.01), epoch(2, test_acc)],
        }
    }

    /// λ ∈ {0, 0.1} × seeds {0, 1, 2}: for λ = 0 two seeds finished and one
    /// diverged; for λ = 0.1 one finished and two are missing.
    fn sweep() -> (Vec<RunSpec>, HashMap<String, FinishedRun>) {
        let grid: Vec<RunSpec> = [0.0, 0.1]
            .into_iter()
            .flat_map(|l| (0..3).map(move |s| spec(l, s)))
            .collect();
        let runs = [
            run(&grid[0], Status::Finished, 1.00, 0.90),
            run(&grid[1], Status::Finished, 0.98, 0.92),
            run(&grid[2], Status::Diverged, f64::NAN, f64::NAN),
            run(&grid[3], Status::Finished, 0.95, 0.93),
        ];
        let runs = runs.into_iter().map(|r| (r.spec.id.clone(), r)).collect();
        (grid, runs)
    }

    #[test]
    fn seeds_are_grouped_and_diverged_and_missing_runs_counted_apart() {
        let (grid, runs) = sweep();
        let configs = configs(&grid, &[Key::Lambda, Key::Seed], &runs);
        assert_eq!(configs.len(), 2);
        let (a, b) = (&configs[0], &configs[1]);
        assert_eq!(a.label, "lambda=0");
        assert_eq!(
            (
                a.planned,
                a.finished.len(),
                a.diverged.len(),
                a.missing.len()
            ),
            (3, 2, 1, 0)
        );
        assert_eq!(
            (
                b.planned,
                b.finished.len(),
                b.diverged.len(),
                b.missing.len()
            ),
            (3, 1, 0, 2)
        );
        // The diverged run's NaN never reaches a mean.
        assert!((a.metric(Metric::TestAcc).mean.unwrap() - 0.91).abs() < 1e-12);
    }

    #[test]
    fn the_gap_spread_comes_from_per_seed_gaps() {
        // Gaps 0.10 and 0.06: mean 0.08, sd 0.028284. Combining the train
        // (sd 0.014142) and test (sd 0.014142) spreads would give 0.02.
        let (grid, runs) = sweep();
        let configs = configs(&grid, &[Key::Lambda, Key::Seed], &runs);
        let gap = configs[0].metric(Metric::GapAcc);
        assert!((gap.mean.unwrap() - 0.08).abs() < 1e-12);
        assert!((gap.sd.unwrap() - 0.028_284_27).abs() < 1e-8);
        let (lo, hi) = gap.ci95.unwrap();
        // 12.706 · 0.028284 / √2 = 0.254124
        assert!((hi - 0.08 - 0.254_124).abs() < 1e-5 && (0.08 - lo - 0.254_124).abs() < 1e-5);
        let best = configs[0].metric(Metric::BestTestEpoch);
        assert_eq!(best.mean, Some(1.0));
    }

    #[test]
    fn the_csv_has_a_row_per_configuration_and_leaves_undefined_cells_empty() {
        let (grid, runs) = sweep();
        let configs = configs(&grid, &[Key::Lambda, Key::Seed], &runs);
        let bytes = summary_csv(&configs, &[Key::Lambda, Key::Seed]).unwrap();
        let mut reader = csv::Reader::from_reader(&bytes[..]);
        let header = reader.headers().unwrap().clone();
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][col("lambda")], "0");
        assert_eq!(&rows[0][col("seeds_finished")], "2");
        assert_eq!(&rows[0][col("seeds_diverged")], "1");
        assert_eq!(&rows[0][col("seeds")], "0 1");
        assert_eq!(&rows[0][col("test_acc_mean")], "0.91");
        assert_eq!(&rows[0][col("gap_acc_sd")], "0.0282843");
        assert_eq!(&rows[1][col("seeds_missing")], "2");
        assert_eq!(&rows[1][col("test_acc_mean")], "0.93");
        assert_eq!(&rows[1][col("test_acc_sd")], "");
        assert_eq!(&rows[1][col("test_acc_ci95_low")], "");
        assert_eq!(&rows[1][col("ci95_note")], "1 seed: no spread or interval");
        // Settings the grid holds fixed follow the statistics.
        assert_eq!(&rows[1][col("hidden_size")], "200");
        assert!(!header.iter().any(|h| h == "seed"));
    }

    #[test]
    fn long_runs_of_seeds_are_written_as_ranges() {
        assert_eq!(seeds_text(&[0, 1, 2]), "0 1 2");
        assert_eq!(
            seeds_text(&[0, 1, 2, 3, 7, 9, 10, 11, 12, 13]),
            "0..3 7 9..13"
        );
        let many: Vec<u64> = (0..20_000).collect();
        assert_eq!(seeds_text(&many), "0..19999");
        assert_eq!(seeds_text(&[]), "");
    }

    #[test]
    fn numbers_keep_six_significant_digits() {
        assert_eq!(num(0.976_543_21), "0.976543");
        assert_eq!(num(0.011_699_999_9), "0.0117");
        assert_eq!(num(12.345_678), "12.3457");
        assert_eq!(num(-0.000_123_456_78), "-0.000123457");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(100.0), "100");
    }
}
