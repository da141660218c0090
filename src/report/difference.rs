//! Is the difference between two configurations real? The statistics a
//! comparison over seeds reports: the mean difference with its 95 %
//! interval and two-sided p-value — paired over seeds when the two runs of a
//! seed share their randomness, Welch's unequal-variance test otherwise —,
//! Hedges' g, the probability that one beats the other, Holm's adjustment
//! over a family of comparisons, and the binomial standard error of one
//! test accuracy.

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::report::stats::Stat;

/// Which t-test compared the two sets of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    /// Paired over seeds: the t-test of the per-seed differences
    /// (SciPy's `ttest_rel`).
    Paired,
    /// Welch's unequal-variance t-test (SciPy's `ttest_ind(equal_var=False)`).
    Welch,
}

impl Test {
    /// The word used in tables: `paired` or `welch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Test::Paired => "paired",
            Test::Welch => "welch",
        }
    }
}

/// The difference A − B of a metric between two configurations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Difference {
    /// The test used.
    pub test: Test,
    /// Mean of A minus mean of B (for a paired test, the mean per-seed
    /// difference, which is the same number).
    pub mean: f64,
    /// 95 % confidence interval of the difference; `None` when there are
    /// too few values or no spread to estimate it from.
    pub ci95: Option<(f64, f64)>,
    /// Degrees of freedom of the t distribution used.
    pub df: Option<f64>,
    /// Two-sided p-value of "no difference", unadjusted.
    pub p_value: Option<f64>,
    /// Hedges' g: the difference of means over the pooled standard
    /// deviation, times the small-sample correction 1 − 3 / (4(nA + nB) − 9).
    pub hedges_g: Option<f64>,
    /// P(A > B), ties counted half: over seeds for a paired test (the
    /// share of seeds where A's run beats B's), over all pairs of runs
    /// otherwise (the Mann–Whitney U over nA·nB).
    pub prob_greater: Option<f64>,
}

impl Difference {
    /// The interval of the difference with simultaneous 95 % coverage over
    /// `family` comparisons (Bonferroni: the t quantile at 1 − 0.025 /
    /// `family`, on the same standard error and degrees of freedom). An
    /// interval that excludes 0 is a Bonferroni rejection, which Holm's
    /// procedure also rejects; Holm may reject a few more.
    pub fn simultaneous(&self, family: usize) -> Option<(f64, f64)> {
        let (lo, hi) = self.ci95?;
        let df = self.df?;
        let dist = StudentsT::new(0.0, 1.0, df).ok()?;
        let se = (hi - lo) / 2.0 / dist.inverse_cdf(0.975);
        let half = dist.inverse_cdf(1.0 - 0.025 / family.max(1) as f64) * se;
        Some((self.mean - half, self.mean + half))
    }
}

/// Compares `a` and `b`, the values of one metric for two configurations:
/// paired when `paired` (then `a[i]` and `b[i]` come from the same seed and
/// must be as many), Welch otherwise.
pub fn difference(a: &[f64], b: &[f64], paired: bool) -> Difference {
    if paired && a.len() == b.len() {
        paired_test(a, b)
    } else {
        welch_test(a, b)
    }
}

/// The t-test of the per-seed differences `a[i] − b[i]`.
fn paired_test(a: &[f64], b: &[f64]) -> Difference {
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let stat = Stat::of(&diffs);
    let n = diffs.len();
    let (ci95, df, p_value) = match (stat.mean, stat.sd) {
        (Some(mean), Some(sd)) if spread(sd, a, b) => {
            let df = (n - 1) as f64;
            let se = sd / (n as f64).sqrt();
            let (p, half) = t_test(mean / se, df, se);
            (Some((mean - half, mean + half)), Some(df), Some(p))
        }
        _ => (None, None, None),
    };
    let wins = diffs
        .iter()
        .map(|&d| match d.partial_cmp(&0.0) {
            Some(std::cmp::Ordering::Greater) => 1.0,
            Some(std::cmp::Ordering::Equal) => 0.5,
            _ => 0.0,
        })
        .sum::<f64>();
    Difference {
        test: Test::Paired,
        mean: stat.mean.unwrap_or(f64::NAN),
        ci95,
        df,
        p_value,
        hedges_g: hedges_g(a, b),
        prob_greater: (n > 0).then(|| wins / n as f64),
    }
}

/// Welch's t-test of independent samples.
fn welch_test(a: &[f64], b: &[f64]) -> Difference {
    let (sa, sb) = (Stat::of(a), Stat::of(b));
    let mean = match (sa.mean, sb.mean) {
        (Some(x), Some(y)) => x - y,
        _ => f64::NAN,
    };
    let (ci95, df, p_value) = match (sa.sd, sb.sd) {
        (Some(da), Some(db)) if spread(da.max(db), a, b) => {
            let (va, vb) = (da * da / a.len() as f64, db * db / b.len() as f64);
            let se = (va + vb).sqrt();
            // Welch–Satterthwaite.
            let df = (va + vb).powi(2)
                / (va * va / (a.len() - 1) as f64 + vb * vb / (b.len() - 1) as f64);
            let (p, half) = t_test(mean / se, df, se);
            (Some((mean - half, mean + half)), Some(df), Some(p))
        }
        _ => (None, None, None),
    };
    let wins = a
        .iter()
        .flat_map(|x| b.iter().map(move |y| (x, y)))
        .map(|(x, y)| match x.partial_cmp(y) {
            Some(std::cmp::Ordering::Greater) => 1.0,
            Some(std::cmp::Ordering::Equal) => 0.5,
            _ => 0.0,
        })
        .sum::<f64>();
    let pairs = a.len() * b.len();
    Difference {
        test: Test::Welch,
        mean,
        ci95,
        df,
        p_value,
        hedges_g: hedges_g(a, b),
        prob_greater: (pairs > 0).then(|| wins / pairs as f64),
    }
}

/// Whether a standard deviation `sd` is more than rounding error for
/// values of the size of `a` and `b` (per-seed differences that agree to
/// 15 digits would otherwise give a t of 10¹⁵).
fn spread(sd: f64, a: &[f64], b: &[f64]) -> bool {
    let scale = a.iter().chain(b).fold(0.0f64, |m, x| m.max(x.abs()));
    sd > 1e-12 * scale
}

/// The two-sided p-value of statistic `t` with `df` degrees of freedom, and
/// the half-width of the 95 % interval for a standard error `se`.
fn t_test(t: f64, df: f64, se: f64) -> (f64, f64) {
    let dist = StudentsT::new(0.0, 1.0, df).expect("df > 0");
    let p = (2.0 * (1.0 - dist.cdf(t.abs()))).clamp(0.0, 1.0);
    (p, dist.inverse_cdf(0.975) * se)
}

/// Hedges' g of A against B, `None` with fewer than two values on a side or
/// no spread at all.
pub fn hedges_g(a: &[f64], b: &[f64]) -> Option<f64> {
    let (sa, sb) = (Stat::of(a), Stat::of(b));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let pooled =
        (((na - 1.0) * sa.sd?.powi(2) + (nb - 1.0) * sb.sd?.powi(2)) / (na + nb - 2.0)).sqrt();
    if !spread(pooled, a, b) {
        return None;
    }
    let correction = 1.0 - 3.0 / (4.0 * (na + nb) - 9.0);
    Some((sa.mean? - sb.mean?) / pooled * correction)
}

/// Holm's step-down adjustment of the p-values of one family of
/// comparisons, in their order: the i-th smallest is multiplied by
/// (m − i + 1), kept monotone, and capped at 1.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// The binomial standard error √(p(1 − p)/n) of an accuracy `p` measured on
/// `n` test images: the test set's own sampling noise, which an interval
/// over seeds (the same test images every time) does not include.
pub fn binomial_se(p: f64, n: usize) -> f64 {
    (p * (1.0 - p) / n as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SciPy: `m ± t.ppf(1 − 0.025 / 5, 2) · se` for the per-seed
    /// differences 0.01, 0.02, 0.035 (a family of 5 comparisons).
    #[test]
    fn simultaneous_intervals_widen_with_the_family() {
        let d = difference(&[0.11, 0.22, 0.335], &[0.1, 0.2, 0.3], true);
        let (lo, hi) = d.simultaneous(5).unwrap();
        assert!((lo + 0.050_435_647_572_149_27).abs() < 1e-9, "{lo}");
        assert!((hi - 0.093_768_980_905_482_61).abs() < 1e-9, "{hi}");
        let one = d.simultaneous(1).unwrap();
        let ci = d.ci95.unwrap();
        assert!((one.0 - ci.0).abs() < 1e-12 && (one.1 - ci.1).abs() < 1e-12);
    }

    // Reference values from SciPy 1.17.1 (`ttest_rel`, `ttest_ind(equal_var=
    // False)` and their `confidence_interval(0.95)`, `mannwhitneyu`), from
    // statsmodels' `multipletests(method="holm")`, and Hedges' g computed in
    // numpy, for these inputs.
    const A: [f64; 5] = [0.912, 0.905, 0.921, 0.899, 0.915];
    const B: [f64; 5] = [0.901, 0.899, 0.915, 0.902, 0.903];
    const C: [f64; 3] = [0.93, 0.94, 0.925];

    fn close(x: f64, y: f64) -> bool {
        (x - y).abs() <= 1e-9 * y.abs().max(1e-3)
    }

    #[test]
    fn paired_differences_match_scipy_ttest_rel() {
        let d = difference(&A, &B, true);
        assert_eq!(d.test, Test::Paired);
        assert!(close(d.mean, 0.0064), "{}", d.mean);
        assert_eq!(d.df, Some(4.0));
        assert!(close(d.p_value.unwrap(), 0.07366069112051733));
        let (lo, hi) = d.ci95.unwrap();
        assert!(close(lo, -0.0009771980318118165) && close(hi, 0.013777198031811828));
        // A beats B on seeds 0, 1, 2 and 4.
        assert_eq!(d.prob_greater, Some(0.8));
        assert!(close(d.hedges_g.unwrap(), 0.7663376772116053));
    }

    #[test]
    fn independent_samples_match_scipy_welch() {
        let d = difference(&A, &B, false);
        assert_eq!(d.test, Test::Welch);
        assert!(close(d.df.unwrap(), 7.35147961240002));
        assert!(close(d.p_value.unwrap(), 0.21971500148113982));
        let (lo, hi) = d.ci95.unwrap();
        assert!(close(lo, -0.004772596030786284) && close(hi, 0.01757259603078665));
        // Mann–Whitney U = 18 of 25 pairs.
        assert_eq!(d.prob_greater, Some(0.72));
        // Unequal sizes cannot be paired.
        let d = difference(&C, &B, true);
        assert_eq!(d.test, Test::Welch);
        assert!(close(d.df.unwrap(), 3.6733600264924835));
        assert!(close(d.p_value.unwrap(), 0.007792131738998787));
        let (lo, hi) = d.ci95.unwrap();
        assert!(close(lo, 0.012597023061297724) && close(hi, 0.042736310272035734));
        assert_eq!(d.prob_greater, Some(1.0));
        assert!(close(d.hedges_g.unwrap(), 3.5428780499936443));
    }

    #[test]
    fn holm_matches_statsmodels() {
        let cases: [(&[f64], &[f64]); 3] = [
            (&[0.01, 0.04, 0.03, 0.005], &[0.03, 0.06, 0.06, 0.02]),
            (&[0.2, 0.5, 0.9], &[0.6, 1.0, 1.0]),
            (
                &[
                    0.07366069112051733,
                    0.21971500148113982,
                    0.007792131738998787,
                ],
                &[
                    0.14732138224103467,
                    0.21971500148113982,
                    0.023376395216996363,
                ],
            ),
        ];
        for (p, expected) in cases {
            let adjusted = holm(p);
            assert_eq!(adjusted.len(), expected.len());
            assert!(
                adjusted.iter().zip(expected).all(|(&x, &y)| close(x, y)),
                "{adjusted:?}"
            );
        }
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn degenerate_inputs_give_no_interval_or_p_value() {
        // One seed each: a difference, nothing to test it with.
        let d = difference(&[0.9], &[0.8], true);
        assert!(close(d.mean, 0.1));
        assert_eq!((d.ci95, d.p_value, d.hedges_g), (None, None, None));
        // The same difference on every seed: no spread, no t.
        let d = difference(&[0.9, 0.8], &[0.8, 0.7], true);
        assert_eq!((d.ci95, d.p_value), (None, None));
        assert_eq!(d.prob_greater, Some(1.0));
        // Identical constant samples: no Welch test either.
        let d = difference(&[0.5, 0.5], &[0.5, 0.5], false);
        assert_eq!((d.p_value, d.prob_greater), (None, Some(0.5)));
    }

    #[test]
    fn binomial_error_of_a_test_accuracy() {
        // 98 % on 10 000 images: 0.14 percentage points.
        assert!(close(binomial_se(0.98, 10_000), 0.0014));
    }
}
