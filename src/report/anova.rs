//! Which settings matter: an analysis of variance of the grid. A full grid
//! with seeds as replicates is a factorial experiment; when every
//! configuration has the same number of finished seeds (a balanced design)
//! the share of the variance that each swept setting and each pair of them
//! explains is exact, and each is tested by F against the seed-to-seed
//! (within-configuration) variance. Interactions of three settings or more
//! are pooled into one row, so that every row and the seeds' residual add
//! up to the total. Checked against statsmodels' `anova_lm`.

use std::collections::BTreeMap;

use anyhow::Result;
use statrs::distribution::{ContinuousCDF, FisherSnedecor};

use super::predictors::hyperparameters;
use super::summary::{Config, Metric, selection_metric};
use crate::config::Key;
use crate::results::tables::num;

/// One row of the table: an effect, its degrees of freedom and sum of
/// squares, its share of the total, and its F-test against the seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    /// `lambda`, `lambda × learning_rate`, `higher-order interactions` or
    /// `seeds (residual)`.
    pub name: String,
    /// Degrees of freedom.
    pub df: usize,
    /// Sum of squares.
    pub sum_sq: f64,
    /// Its share of the total sum of squares, in [0, 1].
    pub share: f64,
    /// F against the residual (`None` without replicates or for the
    /// residual itself).
    pub f: Option<f64>,
    /// The F-test's p-value.
    pub p: Option<f64>,
    /// Whether it is an interaction of two settings.
    pub interaction: bool,
}

/// The analysis of variance of `y`, each observation's level of each
/// factor given in `levels[i][factor]`, with main effects, every two-way
/// interaction, the higher-order interactions pooled, and the residual
/// (within-cell) row. Errors when the design is not a full, balanced
/// factorial: a cell of the factors' product is missing, or cells hold
/// different numbers of observations.
pub fn anova(names: &[&str], levels: &[Vec<String>], y: &[f64]) -> Result<Vec<Effect>, String> {
    let k = names.len();
    let n = y.len();
    if k == 0 || n == 0 || levels.len() != n {
        return Err("no observations or no settings".into());
    }
    // The distinct levels of each factor, and each observation's index.
    let mut values: Vec<Vec<&str>> = vec![Vec::new(); k];
    for row in levels {
        for (f, v) in row.iter().enumerate() {
            if !values[f].contains(&v.as_str()) {
                values[f].push(v);
            }
        }
    }
    let index = |row: &[String], f: usize| values[f].iter().position(|v| *v == row[f]).unwrap_or(0);
    let cells_expected: usize = values.iter().map(Vec::len).product();
    let mut cells: BTreeMap<Vec<usize>, Vec<f64>> = BTreeMap::new();
    for (row, &v) in levels.iter().zip(y) {
        cells
            .entry((0..k).map(|f| index(row, f)).collect())
            .or_default()
            .push(v);
    }
    if cells.len() != cells_expected {
        return Err(format!(
            "the grid is not complete: {} of the {cells_expected} combinations of the settings \
             have runs",
            cells.len()
        ));
    }
    let replicates = cells.values().next().map_or(0, Vec::len);
    if cells.values().any(|c| c.len() != replicates) {
        return Err("configurations have different numbers of finished seeds (unbalanced)".into());
    }
    let grand = y.iter().sum::<f64>() / n as f64;
    let total: f64 = y.iter().map(|v| (v - grand).powi(2)).sum();
    let residual: f64 = cells
        .values()
        .map(|c| {
            let m = c.iter().sum::<f64>() / c.len() as f64;
            c.iter().map(|v| (v - m).powi(2)).sum::<f64>()
        })
        .sum();
    let residual_df = cells.len() * (replicates - 1);
    // Marginal means over a set of factors: level tuple → mean.
    let marginal = |factors: &[usize]| -> BTreeMap<Vec<usize>, f64> {
        let mut sums: BTreeMap<Vec<usize>, (f64, usize)> = BTreeMap::new();
        for (row, &v) in levels.iter().zip(y) {
            let key: Vec<usize> = factors.iter().map(|&f| index(row, f)).collect();
            let e = sums.entry(key).or_default();
            e.0 += v;
            e.1 += 1;
        }
        sums.into_iter()
            .map(|(key, (s, c))| (key, s / c as f64))
            .collect()
    };
    let mains: Vec<BTreeMap<Vec<usize>, f64>> = (0..k).map(|f| marginal(&[f])).collect();
    let mut effects = Vec::new();
    for f in 0..k {
        let per_level = n as f64 / values[f].len() as f64;
        let ss: f64 = mains[f]
            .values()
            .map(|m| per_level * (m - grand).powi(2))
            .sum();
        effects.push((names[f].to_string(), values[f].len() - 1, ss, false));
    }
    for a in 0..k {
        for b in a + 1..k {
            let pair = marginal(&[a, b]);
            let per_cell = n as f64 / (values[a].len() * values[b].len()) as f64;
            let ss: f64 = pair
                .iter()
                .map(|(key, m)| {
                    let ma = mains[a][&vec![key[0]]];
                    let mb = mains[b][&vec![key[1]]];
                    per_cell * (m - ma - mb + grand).powi(2)
                })
                .sum();
            let df = (values[a].len() - 1) * (values[b].len() - 1);
            effects.push((format!("{} × {}", names[a], names[b]), df, ss, true));
        }
    }
    let explained: f64 = effects.iter().map(|e| e.2).sum();
    let explained_df: usize = effects.iter().map(|e| e.1).sum();
    let higher_df = (cells.len() - 1).saturating_sub(explained_df);
    if higher_df > 0 {
        let ss = (total - residual - explained).max(0.0);
        effects.push(("higher-order interactions".into(), higher_df, ss, true));
    }
    let error_ms = (residual_df > 0).then(|| residual / residual_df as f64);
    let mut out: Vec<Effect> = effects
        .into_iter()
        .map(|(name, df, sum_sq, interaction)| {
            let f = error_ms
                .filter(|&e| e > 0.0 && df > 0)
                .map(|e| sum_sq / df as f64 / e);
            let p = f.and_then(|f| {
                let dist = FisherSnedecor::new(df as f64, residual_df as f64).ok()?;
                Some(dist.sf(f).clamp(0.0, 1.0))
            });
            Effect {
                name,
                df,
                sum_sq,
                share: if total > 0.0 { sum_sq / total } else { 0.0 },
                f,
                p,
                interaction,
            }
        })
        .collect();
    out.push(Effect {
        name: "seeds (residual)".into(),
        df: residual_df,
        sum_sq: residual,
        share: if total > 0.0 { residual / total } else { 0.0 },
        f: None,
        p: None,
        interaction: false,
    });
    Ok(out)
}

/// The metrics the report analyses: the gap, test accuracy, test loss, and
/// the validation accuracy when runs hold images out.
pub fn metrics(configs: &[Config]) -> Vec<Metric> {
    let mut out = vec![Metric::GapAcc, Metric::TestAcc, Metric::TestLoss];
    if selection_metric(configs) == Metric::ValAcc {
        out.push(Metric::ValAcc);
    }
    out
}

/// The analysis of `metric` over the finished runs of `configs`, the
/// factors being the swept settings but the seeds; or why there is none.
pub fn of_metric(configs: &[Config], swept: &[Key], metric: Metric) -> Result<Vec<Effect>, String> {
    let keys = hyperparameters(swept);
    if keys.is_empty() {
        return Err("no setting but the seed is swept".into());
    }
    let names: Vec<&str> = keys.iter().map(|k| k.name()).collect();
    let mut levels = Vec::new();
    let mut y = Vec::new();
    for c in configs {
        for run in &c.finished {
            if let Some(v) = metric.of(run).filter(|v| v.is_finite()) {
                levels.push(keys.iter().map(|&k| c.params.text(k)).collect());
                y.push(v);
            }
        }
    }
    anova(&names, &levels, &y)
}

/// `anova.csv`: for each metric, its effects ranked by share (the
/// residual last), or one row saying why there is no analysis.
pub fn anova_csv(configs: &[Config], swept: &[Key]) -> Result<Vec<u8>> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record([
        "metric", "effect", "df", "sum_sq", "share", "F", "p_value", "note",
    ])?;
    let cell = |x: Option<f64>| x.map_or(String::new(), num);
    for metric in metrics(configs) {
        match of_metric(configs, swept, metric) {
            Ok(effects) => {
                let no_test = effects.last().is_some_and(|r| r.df == 0);
                for e in ranked(&effects) {
                    let note = match (no_test, e.name.as_str()) {
                        (true, "seeds (residual)") => {
                            "one seed per configuration: no seed-to-seed variance, so no F-tests"
                        }
                        _ => "",
                    };
                    csv.write_record([
                        metric.name().to_string(),
                        e.name.clone(),
                        e.df.to_string(),
                        num(e.sum_sq),
                        num(e.share),
                        cell(e.f),
                        cell(e.p),
                        note.to_string(),
                    ])?;
                }
            }
            Err(why) => csv.write_record([
                metric.name(),
                "",
                "",
                "",
                "",
                "",
                "",
                &format!("no analysis of variance: {why}"),
            ])?,
        }
    }
    Ok(csv.into_inner()?)
}

/// The effects by share, largest first, the residual last.
pub fn ranked(effects: &[Effect]) -> Vec<&Effect> {
    let (mut rows, residual): (Vec<&Effect>, Vec<&Effect>) =
        effects.iter().partition(|e| e.name != "seeds (residual)");
    rows.sort_by(|a, b| b.share.total_cmp(&a.share));
    rows.extend(residual);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The factor levels and a column of a committed runs.csv.
    fn recorded(file: &str, factors: &[&str], column: &str) -> (Vec<Vec<String>>, Vec<f64>) {
        let path = format!("{}/docs/{file}", env!("CARGO_MANIFEST_DIR"));
        let mut reader = csv::Reader::from_path(path).unwrap();
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let (mut levels, mut y) = (Vec::new(), Vec::new());
        for row in reader.records() {
            let row = row.unwrap();
            if &row[col("status")] != "finished" {
                continue;
            }
            levels.push(factors.iter().map(|f| row[col(f)].to_string()).collect());
            y.push(row[col(column)].parse().unwrap());
        }
        (levels, y)
    }

    /// `effect, df, sum_sq, share, F, p` as `python3 bench/anova_check.py`
    /// printed them with statsmodels 0.15.0 (`ols` + `anova_lm`).
    type Expected = (&'static str, usize, f64, f64, Option<(f64, f64)>);

    fn check(effects: &[Effect], expected: &[Expected]) {
        for &(name, df, ss, share, test) in expected {
            let e = effects
                .iter()
                .find(|e| e.name == name)
                .unwrap_or_else(|| panic!("no {name}"));
            assert_eq!(e.df, df, "{name}");
            assert!(
                (e.sum_sq - ss).abs() <= 1e-9 * ss.abs().max(1e-12),
                "{name}: {} vs {ss}",
                e.sum_sq
            );
            assert!((e.share - share).abs() < 1e-9, "{name}: share {}", e.share);
            if let Some((f, p)) = test {
                let (ef, ep) = (e.f.unwrap(), e.p.unwrap());
                assert!((ef - f).abs() <= 1e-8 * f, "{name}: F {ef} vs {f}");
                assert!(
                    (ep - p).abs() <= 1e-8 * p.max(1e-300) + 1e-15,
                    "{name}: p {ep} vs {p}"
                );
            }
        }
    }

    #[test]
    fn a_two_setting_grid_matches_statsmodels() {
        let factors = ["learning_rate", "lambda"];
        let (levels, y) = recorded("example-lr/runs.csv", &factors, "final_gap_acc");
        let effects = anova(&factors, &levels, &y).unwrap();
        check(
            &effects,
            &[
                (
                    "learning_rate",
                    3,
                    0.001_585_481_249_999_993_5,
                    0.305_632_067_554_062_47,
                    Some((12.138_468_605_552_431, 0.000_214_786_839_611_924_22)),
                ),
                (
                    "lambda",
                    3,
                    0.002_675_553_750_000_006_8,
                    0.515_764_550_646_392_4,
                    Some((20.484_080_273_319_72, 1.000_337_179_741_198_6e-5)),
                ),
                (
                    "learning_rate × lambda",
                    3 * 3,
                    0.000_229_893_750_000_001_07,
                    0.044_316_451_002_026_9,
                    Some((0.586_690_017_513_135_4, 0.789_666_756_522_317_1)),
                ),
                (
                    "seeds (residual)",
                    16,
                    0.000_696_620_000_000_002_6,
                    0.134_286_930_797_518_22,
                    None,
                ),
            ],
        );
    }

    #[test]
    fn a_five_setting_grid_with_interactions_matches_statsmodels() {
        let factors = [
            "label_noise",
            "hidden_size",
            "batch_size",
            "learning_rate",
            "lambda",
        ];
        let (levels, y) = recorded("example-measures/runs.csv", &factors, "final_gap_acc");
        let effects = anova(&factors, &levels, &y).unwrap();
        check(
            &effects,
            &[
                (
                    "label_noise",
                    1,
                    0.311_334_260_416_666_45,
                    0.903_063_824_772_753_4,
                    Some((23_457.092_515_853_58, 3.172_388_121_996_850_5e-66)),
                ),
                (
                    "label_noise × hidden_size",
                    2,
                    0.009_600_901_458_333_349,
                    0.027_848_611_266_313_054,
                    Some((361.683_987_882_213_4, 1.136_347_563_366_629_9e-29)),
                ),
                (
                    "batch_size × learning_rate",
                    1,
                    0.000_686_940_000_000_003_1,
                    0.001_992_555_085_197_392,
                    Some((51.756_639_668_487_736, 3.706_856_251_568_425_6e-9)),
                ),
                (
                    "hidden_size × lambda",
                    2,
                    2.137_708_333_333_483e-6,
                    6.200_689_449_227_669e-6,
                    Some((0.080_531_487_411_319_81, 0.922_750_239_011_915_1)),
                ),
                (
                    "higher-order interactions",
                    27,
                    0.000_666_068_124_999_998_2,
                    0.001_932_013_610_441_425_5,
                    None,
                ),
                (
                    "seeds (residual)",
                    48,
                    0.000_637_079_999_999_999_6,
                    0.001_847_929_941_010_202_2,
                    None,
                ),
            ],
        );
    }

    #[test]
    fn an_incomplete_or_unbalanced_grid_is_not_analysed_and_says_why() {
        let row = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
        let levels = vec![row("0", "x"), row("0", "y"), row("1", "x")];
        let err = anova(&["a", "b"], &levels, &[1.0, 2.0, 3.0]).unwrap_err();
        assert!(err.contains("3 of the 4 combinations"), "{err}");
        let levels = vec![row("0", "x"), row("0", "x"), row("1", "x")];
        let err = anova(&["a", "b"], &levels, &[1.0, 2.0, 3.0]).unwrap_err();
        assert!(err.contains("unbalanced"), "{err}");
        // One seed: sums of squares, no F-tests.
        let levels = vec![row("0", "x"), row("1", "x")];
        let effects = anova(&["a", "b"], &levels, &[1.0, 3.0]).unwrap();
        assert_eq!(effects[0].sum_sq, 2.0);
        assert!(effects.iter().all(|e| e.f.is_none()));
    }
}
