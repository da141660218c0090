//! The trade-off between accuracy and gap. The smallest train − test gap
//! alone is a misleading answer: an underfit network (low training *and*
//! test accuracy) closes the gap trivially. So the report's gap answer is
//! taken by the one-standard-error rule (Breiman et al., 1984; Hastie,
//! Tibshirani & Friedman, *Elements of Statistical Learning*, §7.10): among
//! the configurations whose accuracy is within one standard error of the
//! best, the one with the smallest gap; and it says what the smallest gap
//! overall costs in accuracy.

use super::compare::test_images;
use super::difference::binomial_se;
use super::summary::{Config, Metric, selection_metric};

/// The gap answer of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct GapChoice {
    /// The configuration with the best accuracy (its mean over seeds).
    pub best: usize,
    /// The accuracy it is chosen on (validation when held out, else test).
    pub metric: Metric,
    /// One standard error of the best configuration's accuracy: its seeds'
    /// standard deviation over √n, or with one seed the binomial standard
    /// error of one accuracy on `images` images.
    pub standard_error: Option<f64>,
    /// The configurations within one standard error of the best (the best
    /// included), in the order of `configs`.
    pub within: Vec<usize>,
    /// Of those, the one with the smallest mean gap.
    pub chosen: usize,
    /// The configuration with the smallest mean gap of all.
    pub smallest_overall: usize,
}

impl GapChoice {
    /// What choosing the smallest gap overall costs: the best accuracy minus
    /// its accuracy (means over seeds), when it is another configuration
    /// than the one chosen.
    pub fn cost_of_smallest(&self, configs: &[Config]) -> Option<f64> {
        if self.smallest_overall == self.chosen {
            return None;
        }
        let mean = |i: usize| configs[i].metric(self.metric).mean;
        Some(mean(self.best)? - mean(self.smallest_overall)?)
    }
}

/// The configurations that compete for the report's answers: every one,
/// or in a successive-halving search those trained to the last rung (the
/// others stopped earlier, at fewer epochs).
pub fn contenders<'a>(configs: &[Config<'a>], halving: bool) -> Vec<Config<'a>> {
    configs
        .iter()
        .filter(|c| {
            !halving
                || (!c.finished.is_empty()
                    && c.finished.iter().all(|r| r.done.stopped_epoch.is_none()))
        })
        .cloned()
        .collect()
}

/// The gap answer of a sweep on `dataset`: on validation accuracy when the
/// runs hold images out, else on test accuracy ([`gap_choice`]).
pub fn answer(configs: &[Config], dataset: &str) -> Option<GapChoice> {
    let metric = selection_metric(configs);
    // The images one accuracy is measured on, for the standard error of a
    // configuration with a single seed.
    let images = match metric {
        Metric::ValAcc => configs.first().map(|c| c.params.validation),
        _ => test_images(dataset),
    };
    gap_choice(configs, metric, images)
}

/// The gap answer among `configs` on `metric`, the accuracy the best is
/// chosen on, measured on `images` images (for the standard error of a
/// single seed; `None` when unknown). `None` when no configuration has
/// both an accuracy and a gap.
pub fn gap_choice(configs: &[Config], metric: Metric, images: Option<usize>) -> Option<GapChoice> {
    let scored: Vec<(usize, f64, f64)> = configs
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, c.metric(metric).mean?, c.metric(Metric::GapAcc).mean?)))
        .collect();
    let best = scored.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    let stat = configs[best.0].metric(metric);
    let standard_error = match (stat.sd, images) {
        (Some(sd), _) => Some(sd / (stat.n as f64).sqrt()),
        (None, Some(n)) => Some(binomial_se(best.1, n)),
        (None, None) => None,
    };
    let floor = best.1 - standard_error.unwrap_or(0.0);
    let within: Vec<usize> = scored
        .iter()
        .filter(|s| s.1 >= floor)
        .map(|s| s.0)
        .collect();
    let smallest = |among: &mut dyn Iterator<Item = &(usize, f64, f64)>| {
        among.min_by(|a, b| a.2.total_cmp(&b.2)).map(|s| s.0)
    };
    let chosen = smallest(&mut scored.iter().filter(|s| within.contains(&s.0)))?;
    let smallest_overall = smallest(&mut scored.iter())?;
    Some(GapChoice {
        best: best.0,
        metric,
        standard_error,
        within,
        chosen,
        smallest_overall,
    })
}

/// The sweep's answer in one line, for the end of `sweep run`: `best
/// test accuracy: lambda=0.001 (92.31 %); smallest gap at the best
/// accuracy: lambda=0.01 (3.21 points); gaps 1.10 to 9.80 points over 4
/// configurations`.
pub fn headline(configs: &[Config], choice: &GapChoice) -> String {
    let accuracy = match choice.metric {
        Metric::ValAcc => "validation accuracy",
        _ => "test accuracy",
    };
    let mean = |i: usize, metric: Metric| configs[i].metric(metric).mean.unwrap_or(f64::NAN);
    let gaps: Vec<f64> = configs
        .iter()
        .filter_map(|c| c.metric(Metric::GapAcc).mean)
        .collect();
    let (lo, hi) = gaps
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &g| {
            (lo.min(g), hi.max(g))
        });
    format!(
        "best {accuracy}: {} ({:.2} %); smallest gap at the best accuracy: {} ({:.2} points); \
         gaps {:.2} to {:.2} points over {} configuration{}",
        configs[choice.best].label,
        100.0 * mean(choice.best, choice.metric),
        configs[choice.chosen].label,
        100.0 * mean(choice.chosen, Metric::GapAcc),
        100.0 * lo,
        100.0 * hi,
        gaps.len(),
        if gaps.len() == 1 { "" } else { "s" },
    )
}

/// Which of `points` (accuracy, gap) are on the Pareto front: no other
/// point has an accuracy at least as high and a gap at least as small,
/// with one of the two strictly better.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(acc, gap)| {
            !points
                .iter()
                .any(|&(a, g)| a >= acc && g <= gap && (a > acc || g < gap))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Key;
    use crate::report::summary::configs;
    use crate::report::summary::tests::{run, spec};
    use crate::train::Status;

    #[test]
    fn the_gap_answer_is_the_smallest_gap_within_one_standard_error_of_the_best() {
        // (λ, [(train, test) per seed]): λ = 0 is the most accurate (0.93,
        // standard error 0.01), λ = 0.01 is within 0.01 of it with a smaller
        // gap, and λ = 0.1 has the smallest gap of all, underfit at 0.70.
        let plan: [(f64, [(f64, f64); 2]); 3] = [
            (0.0, [(1.0, 0.92), (1.0, 0.94)]),
            (0.01, [(0.97, 0.925), (0.97, 0.925)]),
            (0.1, [(0.71, 0.70), (0.71, 0.70)]),
        ];
        let mut grid = Vec::new();
        let mut runs = std::collections::HashMap::new();
        for (lambda, seeds) in plan {
            for (seed, (train, test)) in seeds.into_iter().enumerate() {
                let s = spec(lambda, seed as u64);
                runs.insert(s.id.clone(), run(&s, Status::Finished, train, test));
                grid.push(s);
            }
        }
        let configs = configs(&grid, &[Key::Lambda, Key::Seed], &runs);
        let choice = gap_choice(&configs, Metric::TestAcc, Some(10_000)).unwrap();
        assert_eq!(
            (choice.best, choice.chosen, choice.smallest_overall),
            (0, 1, 2)
        );
        assert_eq!(choice.within, [0, 1]);
        assert!((choice.standard_error.unwrap() - 0.01).abs() < 1e-12);
        assert!((choice.cost_of_smallest(&configs).unwrap() - 0.23).abs() < 1e-12);
    }

    #[test]
    fn the_front_keeps_the_points_nothing_beats_on_both() {
        let points = [
            (0.9, 0.05),
            (0.95, 0.08),
            (0.7, 0.01),
            (0.85, 0.06),
            (0.95, 0.09),
        ];
        assert_eq!(pareto_front(&points), [true, true, true, false, false]);
        assert_eq!(pareto_front(&[]), Vec::<bool>::new());
        // Equal points are both on it.
        assert_eq!(pareto_front(&[(0.5, 0.1), (0.5, 0.1)]), [true, true]);
    }
}
