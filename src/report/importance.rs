//! Which settings matter in a random or Sobol search, where the
//! configurations form no factorial grid and
//! an analysis of variance does not exist: a random forest (`smartcore`)
//! is fitted to each metric's mean per configuration, and each setting's
//! importance is Breiman's permutation importance on the trees' out-of-bag
//! predictions — how much of the metric's variance the forest fails to
//! explain once that setting's values are shuffled between configurations.
//!
//! Permutation rather than the trees' impurity decrease: impurity favours
//! settings with many distinct values (every drawn real number is one) and
//! gives a setting that does nothing a share; a shuffled setting that does
//! nothing loses the forest nothing (tested below).

use anyhow::Result;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::config::Key;
use crate::report::metric::Metric;
use crate::report::summary::{Config, selection_metric};
use crate::results::tables::num;

/// Trees in each forest.
const TREES: usize = 300;
/// Shuffles of each setting, averaged.
const SHUFFLES: usize = 10;
/// Fewest configurations a forest is fitted to.
pub const MIN_CONFIGURATIONS: usize = 8;
/// Most configurations a forest is fitted to: the first ones, in the
/// search's order (sampled points are a fair sample of the space in any
/// prefix), so that a report of a search of thousands of points takes
/// seconds (predicting out of bag dominates: trees × rows × shuffles).
pub const MAX_CONFIGURATIONS: usize = 400;
/// Below this out-of-bag R², the forest explains too little of the metric
/// for its importances to say much, and the table says so.
const WEAK_FIT: f64 = 0.3;

/// One setting's importance for one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Importance {
    /// The setting.
    pub key: Key,
    /// The mean, over shuffles, of the rise in out-of-bag squared error
    /// when the setting is shuffled, over twice the metric's variance:
    /// about its share of the variance, interactions included.
    pub share: f64,
    /// Its standard deviation over the shuffles.
    pub sd: f64,
}

/// The importances of every sampled setting for one metric, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Importances {
    /// The metric explained.
    pub metric: Metric,
    /// Configurations the forest was fitted to (those with a value of the
    /// metric, at most [`MAX_CONFIGURATIONS`]).
    pub configurations: usize,
    /// Configurations with a value of the metric.
    pub available: usize,
    /// The forest's out-of-bag R²: the share of the metric's variance
    /// between configurations that it predicts for configurations it did
    /// not see.
    pub oob_r2: f64,
    /// Per setting, most important first.
    pub settings: Vec<Importance>,
}

/// The settings whose importance is asked: the swept ones but the seed and
/// the Hyperband bracket.
fn settings(swept: &[Key]) -> Vec<Key> {
    swept
        .iter()
        .copied()
        .filter(|k| !matches!(k, Key::Seed | Key::Bracket))
        .collect()
}

/// A setting's value as a number a tree can split on: its size, or for a
/// category its place among the values the configurations take.
fn feature(configs: &[&Config], key: Key) -> Vec<f64> {
    if let Some(numbers) = configs
        .iter()
        .map(|c| c.params.number(key))
        .collect::<Option<Vec<f64>>>()
    {
        return numbers;
    }
    let column: Vec<String> = configs.iter().map(|c| c.params.text(key)).collect();
    let mut values = column.clone();
    values.sort();
    values.dedup();
    column
        .iter()
        .map(|t| values.binary_search(t).unwrap_or(0) as f64)
        .collect()
}

/// The importances of the settings of `swept` for `metric` over the mean of
/// each configuration; `Err` says why there are none.
pub fn of_metric(configs: &[Config], swept: &[Key], metric: Metric) -> Result<Importances, String> {
    let keys = settings(swept);
    if keys.is_empty() {
        return Err("no setting but the seed is sampled".into());
    }
    let mut scored: Vec<(&Config, f64)> = configs
        .iter()
        .filter_map(|c| Some((c, c.metric(metric).mean.filter(|m| m.is_finite())?)))
        .collect();
    let available = scored.len();
    scored.truncate(MAX_CONFIGURATIONS);
    if scored.len() < MIN_CONFIGURATIONS {
        return Err(format!(
            "{} configurations have a value; a forest needs at least {MIN_CONFIGURATIONS}",
            scored.len()
        ));
    }
    let rows: Vec<&Config> = scored.iter().map(|(c, _)| *c).collect();
    let y: Vec<f64> = scored.iter().map(|(_, v)| *v).collect();
    let columns: Vec<Vec<f64>> = keys.iter().map(|&k| feature(&rows, k)).collect();
    let (found, oob_r2) = permutation_importance(&columns, &y)?;
    let mut settings: Vec<Importance> = keys
        .iter()
        .zip(found)
        .map(|(&key, (share, sd))| Importance { key, share, sd })
        .collect();
    settings.sort_by(|a, b| b.share.total_cmp(&a.share));
    Ok(Importances {
        metric,
        configurations: y.len(),
        available,
        oob_r2,
        settings,
    })
}

/// A random forest fitted to `y` from `columns` (one per setting), and
/// per column the mean and standard deviation over [`SHUFFLES`] shuffles
/// of the rise in its out-of-bag squared error when that column is
/// shuffled, over twice the variance of `y`; and the forest's out-of-bag
/// R². Over twice the variance: for a forest that predicts `y` exactly
/// from independent settings, the rise is E[(f(x) − f(x'))²], and half of
/// it over the variance is Jansen's estimator of the setting's total-effect
/// Sobol index — its share of the variance, interactions included (0 for
/// a setting that does nothing, 1 for one that does everything).
pub fn permutation_importance(
    columns: &[Vec<f64>],
    y: &[f64],
) -> Result<(Vec<(f64, f64)>, f64), String> {
    let variance = variance(y);
    if variance <= 0.0 {
        return Err("every configuration has the same value".into());
    }
    let matrix = |columns: &[Vec<f64>]| {
        let table: Vec<Vec<f64>> = (0..y.len())
            .map(|i| columns.iter().map(|c| c[i]).collect())
            .collect();
        DenseMatrix::from_2d_vec(&table).map_err(|e| e.to_string())
    };
    let x = matrix(columns)?;
    let parameters = RandomForestRegressorParameters::default()
        .with_n_trees(TREES)
        .with_m(columns.len())
        .with_keep_samples(true)
        .with_seed(0);
    let forest =
        RandomForestRegressor::fit(&x, &y.to_vec(), parameters).map_err(|e| e.to_string())?;
    let oob_error = |x: &DenseMatrix<f64>| -> Result<f64, String> {
        let predicted: Vec<f64> = forest.predict_oob(x).map_err(|e| e.to_string())?;
        Ok(mean_squared_error(y, &predicted))
    };
    let base = oob_error(&x)?;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut found = Vec::with_capacity(columns.len());
    for j in 0..columns.len() {
        let mut rises = Vec::with_capacity(SHUFFLES);
        for _ in 0..SHUFFLES {
            let mut shuffled = columns.to_vec();
            shuffled[j].shuffle(&mut rng);
            rises.push((oob_error(&matrix(&shuffled)?)? - base) / (2.0 * variance));
        }
        let mean = rises.iter().sum::<f64>() / SHUFFLES as f64;
        let sd =
            (rises.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (SHUFFLES - 1) as f64).sqrt();
        found.push((mean, sd));
    }
    Ok((found, 1.0 - base / variance))
}

/// The mean squared difference of `a` and `b`.
fn mean_squared_error(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / a.len() as f64
}

/// The population variance of `y`.
fn variance(y: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / y.len() as f64
}

/// What a weak forest's row says.
pub fn note(importances: &Importances) -> &'static str {
    if importances.oob_r2 < WEAK_FIT {
        "the forest predicts little of this metric for configurations it did not see (out-of-bag \
         R² below 0.3): the importances say little"
    } else {
        ""
    }
}

/// The metrics whose importances are computed: the gap, and the accuracy
/// configurations are chosen on (validation when held out, else test).
pub fn metrics(configs: &[Config]) -> [Metric; 2] {
    [Metric::GapAcc, selection_metric(configs)]
}

/// The importances for each of [`metrics`], the gap first; or why there
/// are none.
pub fn of_metrics(configs: &[Config], swept: &[Key]) -> Vec<(Metric, Result<Importances, String>)> {
    metrics(configs)
        .into_iter()
        .map(|metric| (metric, of_metric(configs, swept, metric)))
        .collect()
}

/// `importance.csv` of `found` ([`of_metrics`]): for each metric, every
/// sampled setting's permutation importance, most important first, or one
/// row saying why there is none.
pub fn importance_csv(found: &[(Metric, Result<Importances, String>)]) -> Result<Vec<u8>> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record([
        "metric",
        "setting",
        "importance",
        "importance_sd",
        "oob_r2",
        "configurations",
        "note",
    ])?;
    for (metric, result) in found {
        match result {
            Ok(found) => {
                for s in &found.settings {
                    csv.write_record([
                        metric.name().to_string(),
                        s.key.name().to_string(),
                        num(s.share),
                        num(s.sd),
                        num(found.oob_r2),
                        found.configurations.to_string(),
                        note(found).to_string(),
                    ])?;
                }
            }
            Err(why) => csv.write_record([metric.name(), "", "", "", "", "", why])?,
        }
    }
    Ok(csv.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns of a committed runs.csv, one row per configuration (the
    /// mean over its seeds of `target`).
    fn recorded(example: &str, columns: &[&str], target: &str) -> (Vec<Vec<f64>>, Vec<f64>) {
        let path = format!("{}/docs/{example}/runs.csv", env!("CARGO_MANIFEST_DIR"));
        let mut reader = csv::Reader::from_path(path).unwrap();
        let header = reader.headers().unwrap().clone();
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let mut by_point: Vec<(Vec<String>, Vec<f64>)> = Vec::new();
        for record in reader.records() {
            let r = record.unwrap();
            let key: Vec<String> = columns.iter().map(|c| r[col(c)].to_string()).collect();
            let v: f64 = r[col(target)].parse().unwrap();
            match by_point.iter_mut().find(|(k, _)| *k == key) {
                Some((_, vs)) => vs.push(v),
                None => by_point.push((key, vec![v])),
            }
        }
        let x = (0..columns.len())
            .map(|j| {
                by_point
                    .iter()
                    .map(|(k, _)| k[j].parse().unwrap())
                    .collect()
            })
            .collect();
        let y = by_point
            .iter()
            .map(|(_, vs)| vs.iter().sum::<f64>() / vs.len() as f64)
            .collect();
        (x, y)
    }

    #[test]
    fn a_shuffled_copy_of_a_setting_is_worth_nothing_where_impurity_gives_it_a_share() {
        // The committed random search: 32 points of λ × learning rate, the
        // gap mostly λ's doing. A third column holds λ's values in another
        // order: a setting's distribution, without its effect.
        let (mut x, y) = recorded(
            "example-random",
            &["lambda", "learning_rate"],
            "final_gap_acc",
        );
        assert_eq!(y.len(), 32);
        let mut decoy = x[0].clone();
        decoy.shuffle(&mut ChaCha8Rng::seed_from_u64(7));
        x.push(decoy);
        let (found, r2) = permutation_importance(&x, &y).unwrap();
        assert!(r2 > 0.9, "the forest predicts the gap: R² {r2}");
        let (lambda, lr, decoy) = (found[0].0, found[1].0, found[2].0);
        assert!((0.9..1.2).contains(&lambda) && lr < 0.02, "{found:?}");
        assert!(decoy.abs() < 0.002, "the decoy: {found:?}");
        assert_eq!(
            permutation_importance(&x, &y).unwrap().0,
            found,
            "deterministic"
        );
        // The same forest's impurity decrease gives the decoy as much as
        // the learning rate: why importance.csv uses permutations.
        let table: Vec<Vec<f64>> = (0..y.len())
            .map(|i| x.iter().map(|c| c[i]).collect())
            .collect();
        let forest = RandomForestRegressor::fit(
            &DenseMatrix::from_2d_vec(&table).unwrap(),
            &y,
            RandomForestRegressorParameters::default()
                .with_n_trees(TREES)
                .with_m(3)
                .with_seed(0),
        )
        .unwrap();
        let impurity = forest.compute_feature_importances().unwrap();
        assert!(
            impurity[2] > 0.005 && impurity[2] > 0.5 * impurity[1],
            "{impurity:?}"
        );
    }

    #[test]
    fn on_a_grid_the_importances_follow_the_analysis_of_variance() {
        // The committed lr grid (4 × 4, 2 seeds): anova.csv's shares of the
        // variance between configurations are λ 59.6 %, learning rate
        // 35.3 % and their interaction 5.1 %, so total effects of 64.7 %
        // and 40.4 %.
        let (x, y) = recorded("example-lr", &["lambda", "learning_rate"], "final_gap_acc");
        assert_eq!(y.len(), 16);
        let (found, r2) = permutation_importance(&x, &y).unwrap();
        let (lambda, lr) = (found[0].0, found[1].0);
        assert!((0.6..0.85).contains(&r2), "R² {r2}");
        assert!(lambda > lr, "{found:?}");
        assert!(
            (lambda - 0.647).abs() < 0.25 && (lr - 0.404).abs() < 0.25,
            "{found:?}"
        );
    }
}
