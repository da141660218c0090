//! McNemar's exact test between two single runs scored on the same test
//! images, from the predictions runs keep with `save_predictions = true`:
//! of the images exactly one of the two runs gets right, is either run
//! right more often than chance would make it? Two-sided exact binomial
//! p-value, as statsmodels' `mcnemar(table, exact=True)`.

use std::path::Path;

use anyhow::Result;
use statrs::distribution::{Binomial, DiscreteCDF};

use crate::report::difference::holm;
use crate::report::summary::Config;
use crate::results::ResultsDir;
use crate::results::tables::num;

/// One pair of runs (the same seed of a configuration and of the baseline).
#[derive(Debug, Clone, PartialEq)]
pub struct McNemar {
    /// The configuration, `lambda=0.01`.
    pub configuration: String,
    /// The baseline configuration.
    pub baseline: String,
    /// The seed both runs share.
    pub seed: u64,
    /// The configuration's run.
    pub run: String,
    /// The baseline's run.
    pub baseline_run: String,
    /// Test images both runs get right.
    pub both_right: usize,
    /// Images only the configuration's run gets right.
    pub only_configuration: usize,
    /// Images only the baseline's run gets right.
    pub only_baseline: usize,
    /// Images both get wrong.
    pub both_wrong: usize,
    /// Exact two-sided p-value.
    pub p_value: f64,
    /// Holm-adjusted over every row of the table.
    pub p_holm: f64,
}

/// The exact two-sided McNemar p-value for `b` and `c` discordant images:
/// 2 · P(X ≤ min(b, c)) for X ~ Binomial(b + c, ½), at most 1.
pub fn exact_p(b: usize, c: usize) -> f64 {
    let n = (b + c) as u64;
    if n == 0 {
        return 1.0;
    }
    match Binomial::new(0.5, n) {
        Ok(d) => (2.0 * d.cdf(b.min(c) as u64)).min(1.0),
        Err(_) => f64::NAN,
    }
}

/// The bit a predictions byte sets when the prediction is right.
const RIGHT: u8 = 0x80;

/// The table of one pair of runs' predictions (class in the low bits, the
/// top bit set when right): both right, only first, only second, both wrong.
fn table(first: &[u8], second: &[u8]) -> Option<[usize; 4]> {
    if first.len() != second.len() || first.is_empty() {
        return None;
    }
    let mut t = [0usize; 4];
    for (a, b) in first.iter().zip(second) {
        let (a, b) = (a & RIGHT != 0, b & RIGHT != 0);
        t[usize::from(!a) * 2 + usize::from(!b)] += 1;
    }
    Some(t)
}

/// McNemar's test for every seed the runs of each configuration of `pairs`
/// (configuration, baseline) share, where both runs saved predictions in
/// the results folders `roots` (configuration's, baseline's); Holm-adjusted
/// over all rows.
pub fn tests(pairs: &[(&Config, &Config)], roots: (&Path, &Path)) -> Vec<McNemar> {
    let (first, second) = (
        ResultsDir::new(roots.0.to_path_buf(), ""),
        ResultsDir::new(roots.1.to_path_buf(), ""),
    );
    let mut rows = Vec::new();
    for (config, baseline) in pairs {
        for run in &config.finished {
            let seed = run.spec.params.seed;
            let Some(base_run) = baseline
                .finished
                .iter()
                .find(|r| r.spec.params.seed == seed)
            else {
                continue;
            };
            let (Some(a), Some(b)) = (
                first.load_predictions(&run.spec.id),
                second.load_predictions(&base_run.spec.id),
            ) else {
                continue;
            };
            let Some([both_right, only_configuration, only_baseline, both_wrong]) = table(&a, &b)
            else {
                continue;
            };
            rows.push(McNemar {
                configuration: config.label.clone(),
                baseline: baseline.label.clone(),
                seed,
                run: run.spec.id.clone(),
                baseline_run: base_run.spec.id.clone(),
                both_right,
                only_configuration,
                only_baseline,
                both_wrong,
                p_value: exact_p(only_configuration, only_baseline),
                p_holm: f64::NAN,
            });
        }
    }
    let adjusted = holm(&rows.iter().map(|r| r.p_value).collect::<Vec<_>>());
    for (row, p) in rows.iter_mut().zip(adjusted) {
        row.p_holm = p;
    }
    rows
}

/// The columns of `mcnemar.csv`.
pub const COLUMNS: [&str; 11] = [
    "configuration",
    "baseline",
    "seed",
    "run_id",
    "baseline_run_id",
    "both_right",
    "only_configuration_right",
    "only_baseline_right",
    "both_wrong",
    "p_value",
    "p_holm",
];

/// `mcnemar.csv`: one row per pair of runs.
pub fn mcnemar_csv(rows: &[McNemar]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    for r in rows {
        w.write_record([
            crate::results::csv_text(&r.configuration),
            crate::results::csv_text(&r.baseline),
            r.seed.to_string(),
            r.run.clone(),
            r.baseline_run.clone(),
            r.both_right.to_string(),
            r.only_configuration.to_string(),
            r.only_baseline.to_string(),
            r.both_wrong.to_string(),
            num(r.p_value),
            num(r.p_holm),
        ])?;
    }
    Ok(w.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// statsmodels 0.15.0 `mcnemar([[100, b], [c, 100]], exact=True).pvalue`.
    #[test]
    fn exact_p_values_match_statsmodels() {
        let cases = [
            (3, 10, 0.092_285_156_25),
            (25, 40, 0.081_681_533_941_540_03),
            (0, 6, 0.031_25),
            (7, 7, 1.0),
            (0, 0, 1.0),
            (180, 222, 0.040_732_084_501_213_7),
        ];
        for (b, c, expected) in cases {
            let p = exact_p(b, c);
            assert!(
                (p - expected).abs() < 1e-9 * expected.max(1e-3),
                "{b} {c}: {p} vs {expected}"
            );
        }
    }

    #[test]
    fn tables_count_agreements_from_the_right_bit() {
        let a = [0x80 | 3, 2, 0x80 | 1, 5];
        let b = [0x80 | 3, 0x80 | 2, 4, 6];
        assert_eq!(table(&a, &b), Some([1, 1, 1, 1]));
        assert_eq!(table(&a, &b[..3]), None);
    }
}
