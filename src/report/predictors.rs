//! Which generalization measure predicts the gap: every measure a run
//! records, ranked by how well it orders the runs' generalization gap
//! (Jiang et al., ICLR 2020, section 4): Kendall's τ over all runs, and
//! the granulated coefficient Ψ — for each swept setting, τ within the
//! groups of runs that differ only in that setting, averaged over the
//! groups, then over the settings. Written to `measures.csv` and to the
//! report's section "What predicts the gap".

use std::collections::BTreeMap;

use anyhow::Result;

use super::metric::Metric;
use super::summary::Config;
use crate::config::Key;
use crate::results::FinishedRun;
use crate::results::tables::num;

/// A measure as it is ranked: its name, the metric it is read from and
/// how the value is turned into the quantity Jiang et al. rank (the
/// flatness σ as 1/σ², so that larger means "predicts a larger gap" for
/// every measure, as in their tables).
#[derive(Debug)]
pub struct Ranked {
    /// The name in `measures.csv`.
    pub name: &'static str,
    /// What it is, for the report.
    pub words: &'static str,
    /// The metric of a run it comes from.
    pub metric: Metric,
    /// From the metric's value to the quantity ranked.
    pub transform: fn(f64) -> Option<f64>,
}

impl Ranked {
    /// A run's (measure, gap) as ranked, when it has both and both are
    /// finite.
    pub fn point(&self, gap: Metric, run: &FinishedRun) -> Option<(f64, f64)> {
        let m = self.metric.of(run).and_then(self.transform)?;
        let g = gap.of(run)?;
        (m.is_finite() && g.is_finite()).then_some((m, g))
    }
}

/// `x` itself.
fn same(x: f64) -> Option<f64> {
    Some(x)
}

/// `1 / x²`, for a nonzero `x`.
fn inverse_square(x: f64) -> Option<f64> {
    (x != 0.0).then(|| 1.0 / (x * x))
}

/// Every measure ranked, in `measures.csv`'s order before sorting.
pub const MEASURES: [Ranked; 12] = [
    Ranked {
        name: "parameters",
        words: "weights and biases",
        metric: Metric::Parameters,
        transform: same,
    },
    Ranked {
        name: "steps",
        words: "optimizer steps taken",
        metric: Metric::Steps,
        transform: same,
    },
    Ranked {
        name: "weight_norm",
        words: "‖θ‖₂, every weight and bias",
        metric: Metric::WeightNorm,
        transform: same,
    },
    Ranked {
        name: "frobenius_product",
        words: "∏ ‖W‖_F",
        metric: Metric::FrobeniusProduct,
        transform: same,
    },
    Ranked {
        name: "spectral_product",
        words: "∏ ‖W‖₂",
        metric: Metric::SpectralProduct,
        transform: same,
    },
    Ranked {
        name: "init_distance",
        words: "Σ ‖W − W₀‖_F",
        metric: Metric::InitDistance,
        transform: same,
    },
    Ranked {
        name: "path_norm",
        words: "path-norm",
        metric: Metric::PathNorm,
        transform: same,
    },
    Ranked {
        name: "inverse_margin",
        words: "1 / margin²",
        metric: Metric::Margin,
        transform: inverse_square,
    },
    Ranked {
        name: "spectral_over_margin",
        words: "∏ ‖W‖₂ / margin²",
        metric: Metric::SpectralOverMargin,
        transform: same,
    },
    Ranked {
        name: "frobenius_over_margin",
        words: "∏ ‖W‖_F / margin²",
        metric: Metric::FrobeniusOverMargin,
        transform: same,
    },
    Ranked {
        name: "pacbayes_flatness",
        words: "1 / σ² (flatness)",
        metric: Metric::FlatnessSigma,
        transform: inverse_square,
    },
    Ranked {
        name: "pacbayes_mag_flatness",
        words: "1 / σ'² (magnitude-aware flatness)",
        metric: Metric::MagnitudeSigma,
        transform: inverse_square,
    },
];

/// The two generalization gaps measures are ranked against.
pub const GAPS: [(Metric, &str); 2] = [
    (Metric::GapAcc, "test error − train error"),
    (Metric::GapLoss, "test loss − train loss"),
];

/// Fewest runs with measures for `measures.csv` and the report's section
/// to be written.
pub const MIN_RUNS: usize = 3;

/// Fewer pairs than this behind a coefficient: the note says it means
/// little.
pub const FEW_PAIRS: u64 = 10;

/// Kendall's rank correlation of two samples, from the counts of their
/// pairs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kendall {
    /// Samples.
    pub n: usize,
    /// Pairs: n (n − 1) / 2.
    pub pairs: u64,
    /// Concordant minus discordant pairs (pairs tied in either sample
    /// count neither).
    pub score: i64,
    /// Pairs tied in the first sample.
    pub ties_x: u64,
    /// Pairs tied in the second sample.
    pub ties_y: u64,
}

impl Kendall {
    /// τ_b, corrected for ties (SciPy's `kendalltau` default); `None` when
    /// either sample is constant.
    pub fn tau_b(&self) -> Option<f64> {
        let (x, y) = (self.pairs - self.ties_x, self.pairs - self.ties_y);
        (x > 0 && y > 0).then(|| self.score as f64 / ((x as f64) * (y as f64)).sqrt())
    }

    /// Jiang et al.'s τ (their Eq. 3): the mean over all pairs of
    /// sign(Δx)·sign(Δy), a tied pair counting 0 (τ_a); `None` without
    /// pairs.
    pub fn tau_a(&self) -> Option<f64> {
        (self.pairs > 0).then(|| self.score as f64 / self.pairs as f64)
    }

    /// The standard error of τ between independent samples without ties,
    /// √(2 (2n + 5) / (9 n (n − 1))).
    pub fn null_error(&self) -> f64 {
        let n = self.n as f64;
        (2.0 * (2.0 * n + 5.0) / (9.0 * n * (n - 1.0))).sqrt()
    }
}

/// Counts the pairs of `(x, y)` in O(n log n) (Knight, 1966): sorted by x
/// then y, the discordant pairs are the inversions of y, counted by a
/// merge sort. Values must be finite.
pub fn kendall(x: &[f64], y: &[f64]) -> Kendall {
    assert_eq!(x.len(), y.len(), "kendall: samples of different sizes");
    let n = x.len();
    let pairs = (n as u64) * (n as u64).saturating_sub(1) / 2;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]).then(y[a].total_cmp(&y[b])));
    let ties_x = tied_pairs(order.iter().map(|&i| x[i]));
    let ties_xy = tied_pairs_by(&order, |a, b| x[a] == x[b] && y[a] == y[b]);
    let mut ys: Vec<f64> = order.iter().map(|&i| y[i]).collect();
    let discordant = inversions(&mut ys);
    // `ys` is now sorted: its runs of equal values are y's ties.
    let ties_y = tied_pairs(ys.iter().copied());
    let score =
        pairs as i64 - ties_x as i64 - ties_y as i64 + ties_xy as i64 - 2 * discordant as i64;
    Kendall {
        n,
        pairs,
        score,
        ties_x,
        ties_y,
    }
}

/// Pairs within runs of equal values of a sorted sequence.
fn tied_pairs(sorted: impl Iterator<Item = f64>) -> u64 {
    let values: Vec<f64> = sorted.collect();
    let order: Vec<usize> = (0..values.len()).collect();
    tied_pairs_by(&order, |a, b| values[a] == values[b])
}

/// Pairs within runs of consecutive items of `order` that `same` joins.
fn tied_pairs_by(order: &[usize], same: impl Fn(usize, usize) -> bool) -> u64 {
    let (mut total, mut run) = (0u64, 1u64);
    for w in order.windows(2) {
        if same(w[0], w[1]) {
            run += 1;
        } else {
            total += run * (run - 1) / 2;
            run = 1;
        }
    }
    total + run * (run - 1) / 2
}

/// Sorts `v` and returns how many pairs i < j had v[i] > v[j].
fn inversions(v: &mut [f64]) -> u64 {
    let n = v.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let mut count = inversions(&mut v[..mid]) + inversions(&mut v[mid..]);
    let mut merged = Vec::with_capacity(n);
    let (mut i, mut j) = (0, mid);
    while i < mid && j < n {
        if v[j] < v[i] {
            // v[j] is smaller than every v[i..mid].
            count += (mid - i) as u64;
            merged.push(v[j]);
            j += 1;
        } else {
            merged.push(v[i]);
            i += 1;
        }
    }
    merged.extend_from_slice(&v[i..mid]);
    merged.extend_from_slice(&v[j..]);
    v.copy_from_slice(&merged);
    count
}

/// Ψ's part for one setting: τ_a averaged over the groups of runs that
/// differ only in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WithinSetting {
    /// The setting.
    pub key: Key,
    /// The mean of τ over the groups (`None`: no group of two runs).
    pub tau: Option<f64>,
    /// Groups of two runs or more.
    pub groups: usize,
    /// Pairs within them.
    pub pairs: u64,
}

/// One measure against one gap.
#[derive(Debug, Clone)]
pub struct Ranking {
    /// The measure.
    pub measure: &'static Ranked,
    /// The gap.
    pub gap: Metric,
    /// Runs with both values.
    pub runs: usize,
    /// Kendall's τ_b over all of them, with its counts.
    pub overall: Kendall,
    /// Ψ's part for each swept setting.
    pub settings: Vec<WithinSetting>,
}

impl Ranking {
    /// The granulated coefficient Ψ: the mean over the settings that have
    /// a group of each setting's mean τ.
    pub fn psi(&self) -> Option<f64> {
        let parts: Vec<f64> = self.settings.iter().filter_map(|s| s.tau).collect();
        (!parts.is_empty()).then(|| parts.iter().sum::<f64>() / parts.len() as f64)
    }

    /// Pairs behind Ψ.
    pub fn psi_pairs(&self) -> u64 {
        self.settings.iter().map(|s| s.pairs).sum()
    }

    /// What a reader should know before trusting the numbers.
    pub fn note(&self) -> String {
        let mut notes = Vec::new();
        match self.overall.tau_b() {
            None if self.runs >= 2 => {
                notes.push("the measure or the gap is the same in every run".to_string())
            }
            None => notes.push(format!("{} run with this measure", self.runs)),
            Some(t) if t.abs() < 2.0 * self.overall.null_error() => notes.push(format!(
                "τ is within 2 standard errors (±{:.2}) of 0",
                2.0 * self.overall.null_error()
            )),
            Some(_) => {}
        }
        if self.settings.is_empty() {
            notes.push("no swept setting to hold the others fixed for Ψ".into());
        } else if self.psi().is_none() {
            notes.push("no two runs differ in one swept setting alone, so Ψ is undefined (a grid gives it)".into());
        } else if self.psi_pairs() < FEW_PAIRS {
            notes.push(format!("Ψ rests on {} pairs", self.psi_pairs()));
        }
        notes.join("; ")
    }
}

/// The settings Ψ holds fixed and varies: the swept ones but the seeds
/// (a seed is a replicate, not a hyperparameter).
pub fn hyperparameters(swept: &[Key]) -> Vec<Key> {
    swept
        .iter()
        .copied()
        .filter(|k| !k.name().ends_with("seed"))
        .collect()
}

/// Ranks every measure against both gaps over the finished runs of
/// `configs` (in grid order), sorted by gap, then by |Ψ| (|τ| when Ψ is
/// undefined), largest first.
pub fn rank(configs: &[Config], swept: &[Key]) -> Vec<Ranking> {
    let runs: Vec<&FinishedRun> = configs
        .iter()
        .flat_map(|c| c.finished.iter().copied())
        .collect();
    let groups: Vec<(Key, Vec<usize>)> = hyperparameters(swept)
        .into_iter()
        .map(|key| (key, groups_without(key, &runs)))
        .collect();
    let mut out = Vec::new();
    for (gap, _) in GAPS {
        let mut rows: Vec<Ranking> = MEASURES
            .iter()
            .map(|measure| rank_one(measure, gap, &runs, &groups))
            .filter(|r| r.runs > 0)
            .collect();
        let strength = |r: &Ranking| r.psi().or(r.overall.tau_b()).map_or(-1.0, f64::abs);
        rows.sort_by(|a, b| strength(b).total_cmp(&strength(a)));
        out.extend(rows);
    }
    out
}

/// The group of each run among the groups of runs whose settings are the
/// same but for `key`: a number per run.
fn groups_without(key: Key, runs: &[&FinishedRun]) -> Vec<usize> {
    let mut numbers: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    runs.iter()
        .map(|run| {
            let fixed: Vec<String> = Key::ALL
                .iter()
                .filter(|&&k| k != key)
                .map(|&k| run.spec.params.raw_text(k))
                .collect();
            let next = numbers.len();
            *numbers.entry(fixed).or_insert(next)
        })
        .collect()
}

/// One measure against one gap; `groups` holds, for each swept setting,
/// the group of each of `runs` ([`groups_without`]).
fn rank_one(
    measure: &'static Ranked,
    gap: Metric,
    runs: &[&FinishedRun],
    groups: &[(Key, Vec<usize>)],
) -> Ranking {
    // (run's position, measure, gap) for the runs that have both.
    let points: Vec<(usize, f64, f64)> = runs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| measure.point(gap, r).map(|(m, g)| (i, m, g)))
        .collect();
    let (x, y): (Vec<f64>, Vec<f64>) = points.iter().map(|p| (p.1, p.2)).unzip();
    let settings = groups
        .iter()
        .map(|(key, group_of)| {
            let mut by_group: BTreeMap<usize, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
            for &(i, m, g) in &points {
                let group = by_group.entry(group_of[i]).or_default();
                group.0.push(m);
                group.1.push(g);
            }
            within_groups(*key, by_group.into_values())
        })
        .collect();
    Ranking {
        measure,
        gap,
        runs: points.len(),
        overall: kendall(&x, &y),
        settings,
    }
}

/// Ψ's part for `key` from the groups of runs that differ only in it:
/// each group's (measure, gap) values; groups of fewer than two runs are
/// left out.
pub fn within_groups(
    key: Key,
    groups: impl IntoIterator<Item = (Vec<f64>, Vec<f64>)>,
) -> WithinSetting {
    let taus: Vec<(f64, u64)> = groups
        .into_iter()
        .filter(|g| g.0.len() >= 2)
        .filter_map(|(m, g)| {
            let k = kendall(&m, &g);
            Some((k.tau_a()?, k.pairs))
        })
        .collect();
    WithinSetting {
        key,
        tau: (!taus.is_empty()).then(|| taus.iter().map(|t| t.0).sum::<f64>() / taus.len() as f64),
        groups: taus.len(),
        pairs: taus.iter().map(|t| t.1).sum(),
    }
}

/// `measures.csv`: one row per gap and measure, ranked as [`rank`] sorts
/// them, with Ψ's part for each setting and the pairs behind it.
pub fn measures_csv(rankings: &[Ranking], swept: &[Key]) -> Result<Vec<u8>> {
    let settings = hyperparameters(swept);
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "gap",
        "measure",
        "psi",
        "tau",
        "runs",
        "pairs",
        "psi_pairs",
        "note",
    ]
    .map(String::from)
    .to_vec();
    for key in &settings {
        header.push(format!("psi_{}", key.name()));
        header.push(format!("groups_{}", key.name()));
        header.push(format!("pairs_{}", key.name()));
    }
    csv.write_record(&header)?;
    let cell = |x: Option<f64>| x.map_or(String::new(), num);
    for r in rankings {
        let mut row = vec![
            r.gap.name().to_string(),
            r.measure.name.to_string(),
            cell(r.psi()),
            cell(r.overall.tau_b()),
            r.runs.to_string(),
            r.overall.pairs.to_string(),
            r.psi_pairs().to_string(),
            r.note(),
        ];
        for s in &r.settings {
            row.push(cell(s.tau));
            row.push(s.groups.to_string());
            row.push(s.pairs.to_string());
        }
        csv.write_record(&row)?;
    }
    Ok(csv.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// O(n²) counts, the definition itself.
    fn brute(x: &[f64], y: &[f64]) -> (i64, u64, u64) {
        let (mut score, mut tx, mut ty) = (0i64, 0u64, 0u64);
        for i in 0..x.len() {
            for j in i + 1..x.len() {
                let (dx, dy) = (x[i] - x[j], y[i] - y[j]);
                score += (dx.signum() * dy.signum()) as i64 * i64::from(dx != 0.0 && dy != 0.0);
                tx += u64::from(dx == 0.0);
                ty += u64::from(dy == 0.0);
            }
        }
        (score, tx, ty)
    }

    #[test]
    fn the_fast_count_agrees_with_every_pair_counted() {
        let mut state = 12345u64;
        let mut next = |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % m) as f64
        };
        for n in [0, 1, 2, 3, 7, 40, 101] {
            for levels in [3, 1000] {
                let x: Vec<f64> = (0..n).map(|_| next(levels)).collect();
                let y: Vec<f64> = (0..n).map(|_| next(levels)).collect();
                let k = kendall(&x, &y);
                assert_eq!((k.score, k.ties_x, k.ties_y), brute(&x, &y), "n = {n}");
            }
        }
    }

    /// Fixed inputs, with and without ties, and
    /// `scipy.stats.kendalltau(x, y).statistic` (SciPy 1.17.1, τ_b) on them,
    /// computed independently.
    #[test]
    fn tau_agrees_with_scipy() {
        let cases: [(&[f64], &[f64], f64); 3] = [
            (
                &[58.83, 53.73, 61.2, 47.9, 70.1, 52.0, 66.6, 49.5],
                &[0.12, 0.08, 0.15, 0.05, 0.2, 0.09, 0.11, 0.07],
                0.785_714_285_714_285_7,
            ),
            // Ties in both: τ_b's correction.
            (
                &[1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 4.0, 5.0],
                &[0.3, 0.1, 0.3, 0.2, 0.5, 0.5, 0.4, 0.6],
                0.680_544_653_671_620_4,
            ),
            (
                &[3.0, 1.0, 2.0, 5.0, 4.0],
                &[-1.0, 2.0, 0.5, -3.0, 1.0],
                -0.6,
            ),
        ];
        for (x, y, scipy) in cases {
            let tau = kendall(x, y).tau_b().unwrap();
            assert!((tau - scipy).abs() < 1e-12, "{tau} vs {scipy}");
        }
        assert_eq!(kendall(&[1.0, 1.0], &[0.0, 2.0]).tau_b(), None);
        assert_eq!(kendall(&[1.0, 1.0], &[0.0, 2.0]).tau_a(), Some(0.0));
    }

    /// The settings `experiments/measures.toml` sweeps, but the seed.
    const SWEPT: [&str; 5] = [
        "hidden_size",
        "lambda",
        "learning_rate",
        "batch_size",
        "label_noise",
    ];

    /// A measure as read from `runs.csv`, and SciPy's τ_b and each swept
    /// setting's part of Ψ for it against the accuracy gap (in [`SWEPT`]'s
    /// order), from `python3 bench/measures_check.py
    /// docs/example-measures/runs.csv hidden_size lambda learning_rate
    /// batch_size label_noise`.
    type Recorded = (&'static str, fn(f64) -> Option<f64>, f64, [f64; 5]);
    const SCIPY: [Recorded; 3] = [
        (
            "margin",
            inverse_square,
            -0.078_366_847_585_833_36,
            [
                0.479_166_666_666_666_7,
                -0.645_833_333_333_333_4,
                0.625,
                0.479_166_666_666_666_7,
                -0.5,
            ],
        ),
        (
            "spectral_over_margin",
            same,
            0.732_082_455_738_807_3,
            [
                0.791_666_666_666_666_6,
                0.395_833_333_333_333_3,
                0.541_666_666_666_666_6,
                0.3125,
                1.0,
            ],
        ),
        (
            "magnitude_sigma",
            inverse_square,
            0.674_824_893_131_485_1,
            [
                0.9375,
                0.541_666_666_666_666_6,
                0.666_666_666_666_666_6,
                0.5625,
                1.0,
            ],
        ),
    ];

    /// The committed example's runs (`docs/example-measures/runs.csv`, as
    /// `sweep run experiments/measures.toml` recorded them), ranked here
    /// from the file, and what `bench/measures_check.py` computed from the
    /// same file with SciPy: τ_b over all runs and each setting's part of
    /// Ψ, for the accuracy gap.
    #[test]
    fn tau_and_psi_agree_with_scipy_on_recorded_runs() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/example-measures/runs.csv"
        );
        let mut reader = csv::Reader::from_path(path).unwrap();
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let swept = SWEPT.map(|name| Key::from_name(name).unwrap());
        for (column, transform, tau, parts) in SCIPY {
            let points: Vec<(&Vec<String>, f64, f64)> = rows
                .iter()
                .filter(|r| r[col("status")] == "finished")
                .filter_map(|r| {
                    let m = transform(r[col(column)].parse().ok()?)?;
                    Some((r, m, r[col("final_gap_acc")].parse().ok()?))
                })
                .collect();
            let (x, y): (Vec<f64>, Vec<f64>) = points.iter().map(|p| (p.1, p.2)).unzip();
            let found = kendall(&x, &y).tau_b().unwrap();
            assert!((found - tau).abs() < 1e-12, "{column}: τ {found} vs {tau}");
            for (&key, expected) in swept.iter().zip(parts) {
                let mut groups: BTreeMap<Vec<&str>, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
                for (row, m, g) in &points {
                    // The other swept settings and the seed held fixed.
                    let fixed = SWEPT
                        .iter()
                        .chain(&["seed"])
                        .filter(|&&name| name != key.name())
                        .map(|&name| row[col(name)].as_str())
                        .collect();
                    let group = groups.entry(fixed).or_default();
                    group.0.push(*m);
                    group.1.push(*g);
                }
                let part = within_groups(key, groups.into_values()).tau.unwrap();
                assert!(
                    (part - expected).abs() < 1e-12,
                    "{column}, {key:?}: {part} vs {expected}"
                );
            }
        }
    }

    /// Ψ's part for a setting is the mean of τ over its groups: here the
    /// mean of `scipy.stats.kendalltau` over the four groups (no ties, so
    /// τ_a = τ_b), computed independently.
    #[test]
    fn a_setting_s_part_of_psi_is_the_mean_tau_over_its_groups() {
        let groups = vec![
            (vec![1.0, 2.0, 3.0], vec![0.1, 0.3, 0.2]),
            (vec![5.0, 4.0, 6.0], vec![0.5, 0.4, 0.6]),
            (vec![2.5, 1.5, 0.5, 3.5], vec![0.9, 0.7, 0.8, 0.2]),
            (vec![7.0, 8.0, 9.0], vec![0.1, 0.3, 0.2]),
            // A single run: no pair, left out.
            (vec![1.0], vec![1.0]),
        ];
        let part = within_groups(Key::Lambda, groups);
        assert_eq!((part.groups, part.pairs), (4, 15));
        // mean(0.333…, 1.0, −0.333…, 0.333…) from SciPy.
        let scipy = 0.333_333_333_333_333_37;
        assert!(
            (part.tau.unwrap() - scipy).abs() < 1e-12,
            "{:?} vs {scipy}",
            part.tau
        );
    }
}
