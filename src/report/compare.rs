//! `sweep compare`: every configuration of a sweep against a baseline
//! configuration, in the gap and in test accuracy — the difference with its
//! 95 % interval, paired over seeds when the runs of a seed share their
//! randomness (else Welch), the p-value Holm-adjusted over all comparisons
//! of the sweep, Hedges' g and P(A > B) — written to `compare.csv`.

use anyhow::Result;

use crate::bad_input;
use crate::config::{Key, RunParams};
use crate::report::difference::{Difference, binomial_se, difference, holm};
use crate::report::stats::Stat;
use crate::report::summary::{Config, Metric};
use crate::results::csv_text;

/// The metrics compared.
pub const COMPARED: [Metric; 2] = [Metric::GapAcc, Metric::TestAcc];

/// The columns of `compare.csv`, in order.
pub const COLUMNS: [&str; 20] = [
    "configuration",
    "baseline",
    "metric",
    "test",
    "seeds",
    "seeds_baseline",
    "mean",
    "mean_baseline",
    "difference",
    "ci95_low",
    "ci95_high",
    "p_value",
    "p_holm",
    "significant_holm_05",
    "hedges_g",
    "prob_greater",
    "binomial_se",
    "binomial_se_baseline",
    "ci_simultaneous_low",
    "ci_simultaneous_high",
];

/// One configuration against the baseline in one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The configuration's label, `lambda=0.01`.
    pub config: String,
    /// What it is compared with: the baseline's label, or another sweep's
    /// name and configuration.
    pub against: String,
    /// The metric, one of [`COMPARED`].
    pub metric: Metric,
    /// Its values over seeds.
    pub stat: Stat,
    /// The baseline's values over seeds.
    pub baseline: Stat,
    /// The configuration minus the baseline.
    pub difference: Difference,
    /// The p-value after Holm's adjustment over every comparison listed.
    pub p_holm: Option<f64>,
    /// For test accuracy on a test set of known size: the binomial
    /// standard error of the configuration's and the baseline's mean.
    pub binomial_se: Option<(f64, f64)>,
    /// The interval with simultaneous 95 % coverage over every comparison
    /// Holm's adjustment is over ([`Difference::simultaneous`]).
    pub ci_simultaneous: Option<(f64, f64)>,
}

/// Settings that decide a run's random streams besides its seed: two
/// configurations equal in all of them draw the same initial weights and
/// the same batches for the same seed (dropout masks too), so their runs
/// can be paired by seed.
const SHARED_RANDOMNESS: [Key; 10] = [
    Key::TrainSubset,
    Key::Validation,
    Key::DataSeed,
    Key::Hidden,
    Key::HiddenLayers,
    Key::HiddenSize,
    Key::Init,
    Key::BatchSize,
    Key::Sampling,
    Key::Epochs,
];

/// Whether the runs of `a` and `b` pair by seed: the same seeds finished
/// and the same settings behind the initialisation and batch streams.
pub fn paired(a: &Config, b: &Config) -> bool {
    let seeds = |c: &Config| {
        c.finished
            .iter()
            .map(|r| r.spec.params.seed)
            .collect::<Vec<_>>()
    };
    !a.finished.is_empty()
        && seeds(a) == seeds(b)
        && SHARED_RANDOMNESS
            .iter()
            .all(|&k| a.params.raw_text(k) == b.params.raw_text(k))
}

/// The settings `baseline` names (`key=value` pairs, from `--baseline` or
/// the manifest), each parsed and checked as in an experiment file.
pub fn parse_baseline(baseline: &[String]) -> Result<Vec<(Key, String)>> {
    let mut wanted: Vec<(Key, String)> = Vec::new();
    for item in baseline {
        let Some((name, value)) = item.split_once('=') else {
            return Err(bad_input!(
                "--baseline {item:?}: write SETTING=VALUE, e.g. --baseline lambda=0"
            ));
        };
        let (name, value) = (name.trim(), value.trim());
        let key = Key::from_name(name)
            .ok_or_else(|| bad_input!("--baseline {item:?}: `{name}` is not a setting of sweep"))?;
        let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|t| t.get("v").cloned())
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        let checked = key
            .parse(&parsed)
            .map_err(|e| bad_input!("--baseline {item:?}: {e}"))?;
        wanted.push((key, key.canonical_text(checked)));
    }
    if wanted.is_empty() {
        return Err(bad_input!(
            "sweep compare needs --baseline SETTING=VALUE (e.g. --baseline lambda=0), or a \
             `[compare] baseline = {{ lambda = 0 }}` in the experiment file: the configuration \
             every other one is compared with"
        ));
    }
    Ok(wanted)
}

/// Finds the configuration `baseline` describes (`key=value` pairs, from
/// `--baseline`): exactly one must match.
pub fn find_baseline(configs: &[Config], baseline: &[String]) -> Result<usize> {
    let wanted = parse_baseline(baseline)?;
    let matches: Vec<usize> = configs
        .iter()
        .enumerate()
        .filter(|(_, c)| wanted.iter().all(|(k, v)| c.params.raw_text(*k) == *v))
        .map(|(i, _)| i)
        .collect();
    match matches[..] {
        [one] => Ok(one),
        [] => {
            let mut shown: Vec<String> = configs.iter().take(12).map(|c| c.label.clone()).collect();
            if configs.len() > 12 {
                shown.push(format!("… {} more in summary.csv", configs.len() - 12));
            }
            Err(bad_input!(
                "--baseline {}: no configuration of this sweep has it; its configurations are: {}",
                baseline.join(" "),
                shown.join("; ")
            ))
        }
        _ => Err(bad_input!(
            "--baseline {}: {} configurations have it: {}; add settings until one is left, or \
             compare each configuration with the baseline at its own value of the others \
             (--within SETTING)",
            baseline.join(" "),
            matches.len(),
            matches
                .iter()
                .map(|&i| configs[i].label.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

/// A comparison with a baseline: which configuration is compared with
/// which (indices into the configurations), and the rows of `compare.csv`.
#[derive(Debug, Clone)]
pub struct Against {
    /// `baseline=…`, and `within …` when stratified, for titles.
    pub title: String,
    /// (configuration, its baseline), in the order of the configurations.
    pub pairs: Vec<(usize, usize)>,
    /// Configurations with no baseline at their own values of the `within`
    /// settings (left out).
    pub unmatched: Vec<String>,
    /// Every comparison, Holm-adjusted over all rows.
    pub rows: Vec<Comparison>,
}

impl Against {
    /// Whether the configurations have baselines of their own (`within`).
    pub fn stratified(&self) -> bool {
        self.pairs.iter().any(|p| p.1 != self.pairs[0].1)
    }
}

/// Each configuration against the configuration that has the `baseline`
/// settings and the configuration's own values of the `within` settings
/// (the one baseline when `within` is empty), in each metric of
/// [`COMPARED`], Holm over every row.
pub fn stratified(
    configs: &[Config],
    baseline: &[String],
    within: &[String],
    dataset: &str,
) -> Result<Against> {
    let wanted = parse_baseline(baseline)?;
    let mut strata: Vec<Key> = Vec::new();
    for name in within {
        let key = Key::from_name(name.trim()).ok_or_else(|| {
            bad_input!("--within {name:?}: not a setting of sweep (e.g. --within learning_rate)")
        })?;
        if wanted.iter().any(|(k, _)| *k == key) || key == Key::Seed {
            return Err(bad_input!(
                "--within {name}: the baseline already fixes it (or it is the seed); --within \
                 names the settings each configuration keeps its own value of"
            ));
        }
        strata.push(key);
    }
    let is_baseline = |c: &Config| wanted.iter().all(|(k, v)| c.params.raw_text(*k) == *v);
    let mut pairs = Vec::new();
    let mut unmatched = Vec::new();
    for (i, c) in configs.iter().enumerate() {
        if is_baseline(c) && !strata.is_empty() {
            continue;
        }
        let own: Vec<usize> = configs
            .iter()
            .enumerate()
            .filter(|(_, b)| is_baseline(b))
            .filter(|(_, b)| {
                strata
                    .iter()
                    .all(|&k| b.params.raw_text(k) == c.params.raw_text(k))
            })
            .map(|(j, _)| j)
            .collect();
        match own[..] {
            [j] if j != i => pairs.push((i, j)),
            [_] => {}
            [] => unmatched.push(c.label.clone()),
            _ => {
                return Err(bad_input!(
                    "--baseline {}{}: {} configurations have it{}: {}; add settings to \
                     --baseline or --within until one is left",
                    baseline.join(" "),
                    strata
                        .iter()
                        .map(|k| format!(" --within {}", k.name()))
                        .collect::<String>(),
                    own.len(),
                    if strata.is_empty() {
                        String::new()
                    } else {
                        format!(" beside {}", c.label)
                    },
                    own.iter()
                        .map(|&j| configs[j].label.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
        }
    }
    if pairs.is_empty() {
        // No configuration has its baseline: say which exist.
        find_baseline(configs, baseline)?;
    }
    let refs: Vec<(&Config, &Config)> = pairs
        .iter()
        .map(|&(i, j)| (&configs[i], &configs[j]))
        .collect();
    let rows = compare_pairs(
        &refs,
        |b| b.label.clone(),
        (test_images(dataset), test_images(dataset)),
    );
    let mut title = baseline.join(" ");
    if !strata.is_empty() {
        let names: Vec<&str> = strata.iter().map(|k| k.name()).collect();
        title.push_str(&format!(", within each {}", names.join(" and ")));
    }
    Ok(Against {
        title,
        pairs,
        unmatched,
        rows,
    })
}

/// Each configuration of one sweep against the configuration of another
/// with the same settings (every setting but the seed), in each metric of
/// [`COMPARED`], Holm-adjusted over all; `other` names the second sweep in
/// the `baseline` column. Also returns the labels of configurations of the
/// first sweep that the second does not have.
pub fn between(
    first: (&[Config], &str),
    second: (&[Config], &str),
    other: &str,
) -> (Vec<Comparison>, Vec<String>) {
    let key = |c: &Config| RunParams {
        seed: 0,
        ..c.params.clone()
    };
    let mut pairs = Vec::new();
    let mut unmatched = Vec::new();
    for a in first.0 {
        match second.0.iter().find(|b| key(b) == key(a)) {
            Some(b) => pairs.push((a, b)),
            None => unmatched.push(a.label.clone()),
        }
    }
    let rows = compare_pairs(
        &pairs,
        |b| format!("{other}: {}", b.label),
        (test_images(first.1), test_images(second.1)),
    );
    (rows, unmatched)
}

/// Each `(a, b)` in each metric, with Holm over all rows; `against` labels
/// the b side, `test_images` are the test-set sizes of each side if known.
fn compare_pairs(
    pairs: &[(&Config, &Config)],
    against: impl Fn(&Config) -> String,
    test_images: (Option<usize>, Option<usize>),
) -> Vec<Comparison> {
    let mut out: Vec<Comparison> = Vec::new();
    for &(config, baseline) in pairs {
        if config.finished.is_empty() || baseline.finished.is_empty() {
            continue;
        }
        let pair = paired(config, baseline);
        for metric in COMPARED {
            let (a, b) = (config.values(metric), baseline.values(metric));
            let (stat, base_stat) = (Stat::of(&a), Stat::of(&b));
            // Each seed is scored on the same test images: the error of one
            // run's accuracy.
            let binomial = match (metric, test_images, stat.mean, base_stat.mean) {
                (Metric::TestAcc, (Some(n), Some(m)), Some(x), Some(y)) => {
                    Some((binomial_se(x, n), binomial_se(y, m)))
                }
                _ => None,
            };
            out.push(Comparison {
                config: config.label.clone(),
                against: against(baseline),
                metric,
                stat,
                baseline: base_stat,
                difference: difference(&a, &b, pair),
                p_holm: None,
                binomial_se: binomial,
                ci_simultaneous: None,
            });
        }
    }
    let tested: Vec<(usize, f64)> = out
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.difference.p_value.map(|p| (i, p)))
        .collect();
    let adjusted = holm(&tested.iter().map(|t| t.1).collect::<Vec<_>>());
    let family = tested.len();
    for ((i, _), p) in tested.into_iter().zip(adjusted) {
        out[i].p_holm = Some(p);
        out[i].ci_simultaneous = out[i].difference.simultaneous(family);
    }
    out
}

/// The configurations a test cannot tell apart from `best` in `metric`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Indistinguishable {
    /// Configurations whose difference from `best` has a Holm-adjusted
    /// p-value of at least 0.05.
    pub tied: Vec<usize>,
    /// Configurations no test could be run for (one seed, or no spread).
    pub untested: Vec<usize>,
    /// How many comparisons the adjustment was over.
    pub tests: usize,
}

/// Compares every configuration with finished runs against `best` in
/// `metric` (paired where the seeds pair, Holm over these comparisons) and
/// returns those not significantly different at α = 0.05.
pub fn indistinguishable(configs: &[Config], best: usize, metric: Metric) -> Indistinguishable {
    let b = configs[best].values(metric);
    let mut tested: Vec<(usize, f64)> = Vec::new();
    let mut out = Indistinguishable::default();
    for (i, config) in configs.iter().enumerate() {
        let a = config.values(metric);
        if i == best || a.is_empty() || b.is_empty() {
            continue;
        }
        match difference(&a, &b, paired(config, &configs[best])).p_value {
            Some(p) => tested.push((i, p)),
            None => out.untested.push(i),
        }
    }
    let adjusted = holm(&tested.iter().map(|t| t.1).collect::<Vec<_>>());
    out.tests = tested.len();
    out.tied = tested
        .iter()
        .zip(adjusted)
        .filter(|(_, p)| *p >= 0.05)
        .map(|((i, _), _)| *i)
        .collect();
    out
}

/// The size of `dataset`'s test set when it is one of the built-in
/// datasets (a `data_dir` dataset's is not recorded).
pub fn test_images(dataset: &str) -> Option<usize> {
    crate::data::KNOWN_DATASETS
        .contains(&dataset)
        .then_some(crate::data::KNOWN_TEST_IMAGES)
}

/// `compare.csv`: one row per configuration and metric, columns [`COLUMNS`].
pub fn compare_csv(comparisons: &[Comparison]) -> Result<Vec<u8>> {
    let num = |x: Option<f64>| x.map_or(String::new(), crate::report::summary::num);
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(COLUMNS)?;
    for c in comparisons {
        let d = &c.difference;
        csv.write_record([
            csv_text(&c.config),
            csv_text(&c.against),
            c.metric.name().to_string(),
            d.test.as_str().to_string(),
            c.stat.n.to_string(),
            c.baseline.n.to_string(),
            num(c.stat.mean),
            num(c.baseline.mean),
            num(Some(d.mean).filter(|m| m.is_finite())),
            num(d.ci95.map(|ci| ci.0)),
            num(d.ci95.map(|ci| ci.1)),
            num(d.p_value),
            num(c.p_holm),
            // Words a spreadsheet keeps as text (it would turn true/false
            // into its own booleans).
            c.p_holm.map_or(String::new(), |p| {
                if p < 0.05 { "yes" } else { "no" }.to_string()
            }),
            num(d.hedges_g),
            num(d.prob_greater),
            num(c.binomial_se.map(|b| b.0)),
            num(c.binomial_se.map(|b| b.1)),
            num(c.ci_simultaneous.map(|ci| ci.0)),
            num(c.ci_simultaneous.map(|ci| ci.1)),
        ])?;
    }
    Ok(csv.into_inner()?)
}
