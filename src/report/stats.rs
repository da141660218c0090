//! Statistics over seeds: mean, sample standard deviation and a 95 %
//! confidence interval for the mean from Student's t with n − 1 degrees of
//! freedom.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Mean, spread and 95 % confidence interval of one metric over seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// Number of values (seeds) it is computed from.
    pub n: usize,
    /// Their mean; `None` when there are none.
    pub mean: Option<f64>,
    /// Sample standard deviation (n − 1 in the denominator); `None` for n < 2.
    pub sd: Option<f64>,
    /// 95 % confidence interval for the mean; `None` for n < 2.
    pub ci95: Option<(f64, f64)>,
}

impl Stat {
    /// The statistics of `values` (the per-seed results of one configuration).
    pub fn of(values: &[f64]) -> Stat {
        let n = values.len();
        if n == 0 {
            return Stat {
                n,
                mean: None,
                sd: None,
                ci95: None,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        if n < 2 {
            return Stat {
                n,
                mean: Some(mean),
                sd: None,
                ci95: None,
            };
        }
        let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let sd = var.sqrt();
        let half = t_975(n - 1) * sd / (n as f64).sqrt();
        Stat {
            n,
            mean: Some(mean),
            sd: Some(sd),
            ci95: Some((mean - half, mean + half)),
        }
    }

    /// Half the width of the confidence interval, if there is one.
    pub fn ci_half_width(&self) -> Option<f64> {
        self.ci95.map(|(lo, hi)| (hi - lo) / 2.0)
    }
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom: the
/// factor of a two-sided 95 % interval (12.71 for df = 1, 4.30 for df = 2,
/// 1.96 as df grows).
pub fn t_975(df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::NAN)
}

/// What a spreadsheet reader should know about an interval from `n` seeds.
pub fn ci_note(n: usize) -> &'static str {
    match n {
        0 => "no finished seeds",
        1 => "1 seed: no spread or interval",
        2 => "2 seeds: interval very wide (t = 12.71)",
        3 => "3 seeds: interval wide (t = 4.30)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_the_printed_table() {
        // Values from any table of Student's t, two-sided 95 %.
        for (df, t) in [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (29, 2.045)] {
            assert!(close(t_975(df), t, 5e-4), "df {df}: {}", t_975(df));
        }
        assert!(close(t_975(100_000), 1.960, 1e-3));
    }

    #[test]
    fn three_values_by_hand() {
        // mean 2, deviations −1 0 1, variance 2/2 = 1, sd 1,
        // half width 4.3027 · 1 / √3 = 2.4841.
        let s = Stat::of(&[1.0, 2.0, 3.0]);
        assert_eq!(s.n, 3);
        assert_eq!(s.mean, Some(2.0));
        assert_eq!(s.sd, Some(1.0));
        let (lo, hi) = s.ci95.unwrap();
        assert!(close(lo, 2.0 - 2.48414, 1e-4) && close(hi, 2.0 + 2.48414, 1e-4));
    }

    #[test]
    fn two_values_give_a_wide_interval() {
        // mean 0.95, sd |0.96 − 0.94| / √2 = 0.014142, half width
        // 12.706 · 0.014142 / √2 = 0.12706.
        let s = Stat::of(&[0.94, 0.96]);
        assert!(close(s.mean.unwrap(), 0.95, 1e-12));
        assert!(close(s.sd.unwrap(), 0.0141421, 1e-6));
        assert!(close(s.ci_half_width().unwrap(), 0.127062, 1e-5));
    }

    #[test]
    fn one_value_has_a_mean_but_no_spread() {
        let s = Stat::of(&[0.97]);
        assert_eq!((s.n, s.mean, s.sd, s.ci95), (1, Some(0.97), None, None));
        assert_eq!(ci_note(1), "1 seed: no spread or interval");
    }

    #[test]
    fn no_values_have_no_mean() {
        let s = Stat::of(&[]);
        assert_eq!((s.n, s.mean, s.sd, s.ci95), (0, None, None, None));
    }

    #[test]
    fn identical_values_have_a_zero_width_interval() {
        let s = Stat::of(&[0.5; 4]);
        assert_eq!(s.sd, Some(0.0));
        assert_eq!(s.ci95, Some((0.5, 0.5)));
    }
}
