//! Where a sweep over network size crosses the interpolation threshold
//! (Belkin, Hsu, Ma & Mandal, PNAS 2019): for each combination of the other
//! swept settings, the smallest network that fits its training labels, the
//! networks with the highest test loss and test error, and the largest
//! network, each located relative to n·K (training images × classes).

use crate::config::Key;
use crate::data::NUM_CLASSES;
use crate::report::summary::{Config, Metric, config_keys, label};

/// Training accuracy (on the labels trained on) from which a network counts
/// as interpolating: at most 0.5 % training error.
pub const FITS: f64 = 0.995;

/// How far, as a fraction of its height, a local maximum must stand above
/// the lowest point on each side (before the curve rises above it again)
/// to count as a peak: about twice the wiggles that seed noise makes in a
/// test loss averaged over 2 seeds.
pub const PROMINENCE: f64 = 0.05;

/// One network size of a [`Crossing`], with the numbers shown for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// Its swept architecture settings, `hidden_size=63`.
    pub label: String,
    /// Its parameter count P.
    pub parameters: usize,
    /// P / (n·K).
    pub ratio: f64,
    /// Mean final test loss over seeds.
    pub test_loss: f64,
    /// Mean final test error (1 − accuracy) over seeds.
    pub test_error: f64,
    /// Mean final training error on the labels trained on.
    pub train_error: f64,
}

/// The double-descent landmarks of one series of network sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct Crossing {
    /// The other swept settings, `label_noise=0.2`, or "all runs".
    pub series: String,
    /// n·K.
    pub threshold: usize,
    /// The smallest network whose mean training error is at most 0.5 %,
    /// if one is.
    pub interpolating: Option<Network>,
    /// The most prominent peak of the mean test loss over network size,
    /// with its prominence, if one stands out by [`PROMINENCE`].
    pub loss_peak: Option<(Network, f64)>,
    /// The same for the mean test error.
    pub error_peak: Option<(Network, f64)>,
    /// The largest network.
    pub largest: Network,
}

/// n·K — training images times classes — when every configuration trained
/// on the same number of images: the parameter count at which a network
/// can first fit its training set exactly (Belkin et al., PNAS 2019).
pub fn interpolation_threshold(configs: &[Config]) -> Option<f64> {
    let mut sizes = configs.iter().filter_map(Config::train_samples);
    let n = sizes.next()?;
    sizes.all(|m| m == n).then_some((n * NUM_CLASSES) as f64)
}

/// The crossings of a sweep whose architecture varies around n·K (every
/// configuration trained on the same n images, n·K between the smallest
/// and the largest parameter count); empty otherwise.
pub fn crossings(swept: &[Key], configs: &[Config]) -> Vec<Crossing> {
    let architecture = [Key::Hidden, Key::HiddenLayers, Key::HiddenSize];
    let keys = config_keys(swept);
    let (size_keys, others): (Vec<Key>, Vec<Key>) =
        keys.iter().partition(|k| architecture.contains(k));
    let Some(threshold) = interpolation_threshold(configs) else {
        return Vec::new();
    };
    if size_keys.is_empty() {
        return Vec::new();
    }
    let threshold = threshold as usize;
    let mut groups: Vec<(String, Vec<Network>)> = Vec::new();
    for config in configs {
        let (Some(parameters), Some(loss), Some(acc), Some(train)) = (
            config.parameters(),
            config.metric(Metric::TestLoss).mean,
            config.metric(Metric::TestAcc).mean,
            config.metric(Metric::TrainAcc).mean,
        ) else {
            continue;
        };
        let network = Network {
            label: label(&size_keys, &config.params),
            parameters,
            ratio: parameters as f64 / threshold as f64,
            test_loss: loss,
            test_error: 1.0 - acc,
            train_error: 1.0 - train,
        };
        let series = if others.is_empty() {
            "all runs".to_string()
        } else {
            label(&others, &config.params)
        };
        match groups.iter_mut().find(|(s, _)| *s == series) {
            Some((_, networks)) => networks.push(network),
            None => groups.push((series, vec![network])),
        }
    }
    groups
        .into_iter()
        .filter_map(|(series, mut networks)| {
            networks.sort_by_key(|n| n.parameters);
            let (first, last) = (networks.first()?, networks.last()?);
            if networks.len() < 3 || !(first.parameters..=last.parameters).contains(&threshold) {
                return None;
            }
            let peak_of = |f: fn(&Network) -> f64| {
                let values: Vec<f64> = networks.iter().map(f).collect();
                peak(&values).map(|(i, p)| (networks[i].clone(), p))
            };
            Some(Crossing {
                series,
                threshold,
                interpolating: networks
                    .iter()
                    .find(|n| n.train_error <= 1.0 - FITS)
                    .cloned(),
                loss_peak: peak_of(|n| n.test_loss),
                error_peak: peak_of(|n| n.test_error),
                largest: last.clone(),
            })
        })
        .collect()
}

/// The interior local maximum of `values` with the largest prominence —
/// the smaller of its rises above the lowest value on each side before the
/// curve climbs above it again (or ends) — as its index and prominence
/// relative to its height; `None` when no local maximum reaches
/// [`PROMINENCE`].
pub fn peak(values: &[f64]) -> Option<(usize, f64)> {
    let rise = |i: usize, side: &mut dyn Iterator<Item = &f64>| {
        let mut lowest = values[i];
        for &v in side {
            if v > values[i] {
                break;
            }
            lowest = lowest.min(v);
        }
        values[i] - lowest
    };
    (1..values.len().saturating_sub(1))
        .filter(|&i| values[i] > values[i - 1] && values[i] > values[i + 1] && values[i] > 0.0)
        .map(|i| {
            let left = rise(i, &mut values[..i].iter().rev());
            let right = rise(i, &mut values[i + 1..].iter());
            (i, left.min(right) / values[i])
        })
        .filter(|&(_, p)| p >= PROMINENCE)
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

impl Crossing {
    /// One line per landmark, for the terminal and the README.
    pub fn lines(&self) -> Vec<String> {
        let show = |n: &Network| {
            format!(
                "{} (P = {}, {:.2}·n·K): test loss {:.4}, test error {:.2} %, train error {:.2} %",
                n.label,
                n.parameters,
                n.ratio,
                n.test_loss,
                100.0 * n.test_error,
                100.0 * n.train_error
            )
        };
        let mut out = vec![format!("{} (n·K = {}):", self.series, self.threshold)];
        out.push(match &self.interpolating {
            Some(n) => format!("  interpolation threshold  {}", show(n)),
            None => "  interpolation threshold  none: no network fits 99.5 % of its labels".into(),
        });
        for (what, peak) in [
            ("test-loss peak ", &self.loss_peak),
            ("test-error peak", &self.error_peak),
        ] {
            out.push(match peak {
                Some((n, p)) => format!(
                    "  {what}          {} (prominence {:.1} %)",
                    show(n),
                    100.0 * p
                ),
                None => format!(
                    "  {what}          none: no local maximum stands {:.0} % above both sides",
                    100.0 * PROMINENCE
                ),
            });
        }
        out.push(format!(
            "  largest network          {}{}",
            show(&self.largest),
            match &self.loss_peak {
                Some((peak, _)) => format!(
                    " ({:+.1} % test loss against the peak)",
                    100.0 * (self.largest.test_loss / peak.test_loss - 1.0)
                ),
                None => String::new(),
            }
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::{RunParams, RunSpec};
    use crate::report::summary::configs;
    use crate::results::{FinishedRun, RunDone};
    use crate::train::{EpochMetrics, Status};

    /// A finished one-hidden-layer run of width `h` on 4 000 images.
    fn run(h: usize, seed: u64, train_acc: f64, test_loss: f64, test_acc: f64) -> FinishedRun {
        let params = RunParams {
            hidden_layers: 1,
            hidden_size: h,
            seed,
            ..RunParams::default()
        };
        FinishedRun {
            spec: RunSpec {
                id: format!("h{h}-s{seed}"),
                params,
            },
            done: RunDone {
                status: Status::Finished,
                diverged_epoch: None,
                stopped_epoch: None,
                parameters: Some(795 * h + 10),
                train_samples: 4000,
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
            epochs: vec![EpochMetrics {
                epoch: 1,
                train_loss: 0.1,
                train_acc,
                test_loss,
                test_acc,
                gap_acc: train_acc - test_acc,
                gap_loss: test_loss - 0.1,
                penalty: 0.0,
                train_seconds: 1.0,
                eval_seconds: 1.0,
                lr: None,
                val_loss: None,
                val_acc: None,
                train_acc_clean: None,
                noisy_fit: None,
                weight_norm: None,
                ..Default::default()
            }],
        }
    }

    #[test]
    fn landmarks_are_found_on_the_means_over_seeds() {
        // Width 50 (P = 39 760) is the first to fit 99.5 % on average and has
        // the highest test loss; width 10 the highest test error.
        let runs = [
            run(10, 0, 0.90, 0.50, 0.70),
            run(10, 1, 0.92, 0.52, 0.72),
            run(50, 0, 0.995, 1.20, 0.80),
            run(50, 1, 1.0, 1.00, 0.82),
            run(100, 0, 1.0, 0.80, 0.85),
            run(100, 1, 1.0, 0.82, 0.85),
        ];
        let grid: Vec<RunSpec> = runs.iter().map(|r| r.spec.clone()).collect();
        let by_id: HashMap<String, FinishedRun> =
            runs.into_iter().map(|r| (r.spec.id.clone(), r)).collect();
        let swept = [Key::HiddenSize, Key::Seed];
        let configs = configs(&grid, &swept, &by_id);
        let found = crossings(&swept, &configs);
        assert_eq!(found.len(), 1);
        let c = &found[0];
        assert_eq!((c.series.as_str(), c.threshold), ("all runs", 40_000));
        let at = c.interpolating.as_ref().unwrap();
        assert_eq!(
            (at.label.as_str(), at.parameters),
            ("hidden_size=50", 39_760)
        );
        assert!((at.ratio - 0.994).abs() < 1e-12 && (at.test_loss - 1.1).abs() < 1e-12);
        let (loss_peak, prominence) = c.loss_peak.clone().unwrap();
        assert_eq!(loss_peak, *at);
        // 1.1 over 0.51 on the left and 0.81 on the right: (1.1 − 0.81) / 1.1.
        assert!((prominence - 0.29 / 1.1).abs() < 1e-12, "{prominence}");
        // Test error falls with size: no peak.
        assert_eq!(c.error_peak, None);
        assert_eq!(c.largest.parameters, 79_510);
        assert!(
            c.lines()[4].contains("-26.4 % test loss against the peak"),
            "{:?}",
            c.lines()
        );
        assert!(
            c.lines()[3].contains("none: no local maximum"),
            "{:?}",
            c.lines()
        );
        // Nothing to say when n·K lies outside the sizes swept, or size is not swept.
        assert!(crossings(&[Key::Seed], &configs).is_empty());
    }

    #[test]
    fn a_peak_must_stand_out_on_both_sides() {
        // The noisy arm's shape: a bump at 2 (0.959) and the main peak at 6.
        let loss = [0.82, 0.71, 0.959, 0.934, 0.867, 1.044, 1.12, 1.03, 0.88];
        let (i, p) = peak(&loss).unwrap();
        assert_eq!(i, 6);
        assert!((p - (1.12 - 0.88) / 1.12).abs() < 1e-12);
        // Wiggles of 2 % are not a peak; nor is a maximum at either end.
        assert_eq!(peak(&[0.30, 0.29, 0.296, 0.29, 0.28]), None);
        assert_eq!(peak(&[0.9, 0.5, 0.4]), None);
        assert_eq!(peak(&[]), None);
    }
}
