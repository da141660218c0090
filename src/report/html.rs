//! `report.html`: one self-contained page (inline CSS and SVG, no scripts,
//! no network) with the question, the grid, the headline table, the plots,
//! the best configurations, the runs that went wrong and the manifest.

use std::collections::HashSet;
use std::fmt::Write;
use std::path::Path;

use crate::config::Key;
use crate::report::SweepResults;
use crate::report::anova;
use crate::report::compare;
use crate::report::importance;
use crate::report::interpolation::Crossing;
use crate::report::plots::Figure;
use crate::report::predictors::{self, Ranking};
use crate::report::rungs::Rung;
use crate::report::stats::Stat;
use crate::report::summary::{Config, Metric, config_keys, selection_metric};
use crate::report::tradeoff;

const STYLE: &str = r#"
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #1d1d1f;
       max-width: 1180px; margin: 2rem auto; padding: 0 1.5rem; line-height: 1.45; }
h1 { font-size: 1.9rem; margin-bottom: .2rem; }
h2 { font-size: 1.35rem; margin-top: 2.4rem; border-bottom: 1px solid #ddd; padding-bottom: .3rem; }
.lead { font-size: 1.1rem; color: #444; }
.status { color: #555; }
.warn { color: #a33; }
.running { background: #fff4d6; border: 1px solid #e0b84c; padding: 0.5em 0.8em; }
tr.significant td { font-weight: bold; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #e5e5e5; text-align: right; }
th { background: #f5f5f7; }
td.text, th.text { text-align: left; }
tr.best td { background: #eef6ee; font-weight: bold; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: .8rem 1.1rem; flex: 1 1 300px; }
.card .big { font-size: 1.4rem; font-weight: bold; }
.card .ties { margin-top: .4rem; font-size: .9rem; color: #444; }
figure { margin: 1.6rem 0; }
figure svg { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .95rem; }
code { background: #f5f5f7; padding: 0 .25rem; border-radius: 3px; }
"#;

/// Escapes text for HTML.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `91.23 ± 0.31 %` (mean ± half the 95 % interval), or the mean alone.
fn pct(stat: &Stat) -> String {
    match (stat.mean, stat.ci_half_width()) {
        (Some(m), Some(h)) => format!("{:.2} ± {:.2}", 100.0 * m, 100.0 * h),
        (Some(m), None) => format!("{:.2}", 100.0 * m),
        _ => "–".into(),
    }
}

/// Sections of the report that only some sweeps have.
#[derive(Debug, Clone, Copy)]
pub struct Extras<'a> {
    /// Where the networks cross the interpolation threshold.
    pub crossings: &'a [Crossing],
    /// The experiment's baseline and every comparison with it.
    pub comparison: Option<&'a compare::Against>,
    /// The rungs of a successive-halving search.
    pub rungs: Option<&'a [Rung]>,
    /// Every measure ranked against the gaps, and the plots of the best.
    pub predictors: Option<(&'a [Ranking], &'a [Figure])>,
    /// The analysis of variance of the gap (a plain grid), or why there
    /// is none.
    pub variance: Option<&'a Result<Vec<anova::Effect>, String>>,
    /// The permutation importances of the settings for the gap (a sampled
    /// search), or why there are none.
    pub importances: Option<&'a Result<importance::Importances, String>>,
    /// While the sweep trains: when it started and this page was made.
    pub live: Option<&'a crate::report::Live>,
}

/// The page.
pub fn report_html(
    results: &SweepResults,
    configs: &[Config],
    figures: &[Figure],
    extras: &Extras,
) -> String {
    let m = &results.manifest;
    let keys = config_keys(&results.swept);
    let mut h = String::new();
    let reload = extras.live.map_or(String::new(), |live| {
        format!(
            "<meta http-equiv=\"refresh\" content=\"{}\">\n",
            live.reload_seconds
        )
    });
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         {reload}<title>sweep report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&m.name)
    );
    let _ = writeln!(h, "<h1>{}</h1>", esc(&m.name));
    if let Some(live) = extras.live {
        let _ = writeln!(
            h,
            "<p class=\"running\">running: {} of {} runs, started {}, last refreshed {}. \
             This page reloads itself every {} s until the sweep ends; its numbers are those \
             of the runs ended so far.</p>",
            results.runs.len(),
            results.grid.runs.len(),
            esc(&live.started_at),
            esc(&live.refreshed_at),
            live.reload_seconds
        );
    }
    if !m.description.is_empty() {
        let _ = writeln!(h, "<p class=\"lead\">{}</p>", esc(m.description.trim()));
    }
    status_lines(&mut h, results, configs);

    best_cards(
        &mut h,
        &tradeoff::contenders(configs, extras.rungs.is_some()),
        &results.grid.dataset,
    );
    if let Some(rungs) = extras.rungs {
        rungs_section(&mut h, rungs);
    }
    grid_section(&mut h, results);
    headline_table(&mut h, configs, &keys);
    if let Some(variance) = extras.variance {
        variance_section(&mut h, variance);
    }
    if let Some(importances) = extras.importances {
        importance_section(&mut h, importances);
    }
    if let Some(against) = extras.comparison {
        comparison_section(&mut h, against);
    }
    interpolation_section(&mut h, extras.crossings);

    plots_section(&mut h, figures);
    if let Some((rankings, figures)) = extras.predictors {
        predictors_section(&mut h, rankings, figures);
    }

    problems(&mut h, results, configs);
    manifest_section(&mut h, results);
    let _ = writeln!(
        h,
        "<p class=\"status\">Data files: <a href=\"summary.csv\">summary.csv</a> (one row per \
         configuration), <a href=\"runs.csv\">runs.csv</a> (one row per run), \
         <a href=\"epochs.csv\">epochs.csv</a> (one row per run and epoch). \
         Rebuild this page with <code>sweep report {}</code>.</p>\n</body>\n</html>",
        esc(&results.root.display().to_string())
    );
    h
}

/// How many runs finished, diverged, failed or are missing, the dataset and
/// the experiment file, and a note when runs used several kernels.
fn status_lines(h: &mut String, results: &SweepResults, configs: &[Config]) {
    let m = &results.manifest;
    let missing = results.missing();
    let diverged: Vec<_> = configs.iter().flat_map(|c| &c.diverged).collect();
    let failed: usize = configs.iter().map(|c| c.failed.len()).sum();
    let _ = writeln!(
        h,
        "<p class=\"status\">{} of {} runs finished{}{}{} · dataset <code>{}</code> · \
         experiment <code>{}</code></p>",
        results.runs.len() - diverged.len() - failed,
        results.grid.runs.len(),
        if diverged.is_empty() {
            String::new()
        } else {
            format!(", <span class=\"warn\">{} diverged</span>", diverged.len())
        },
        if failed == 0 {
            String::new()
        } else {
            format!(", <span class=\"warn\">{failed} failed</span>")
        },
        if missing.is_empty() {
            String::new()
        } else {
            format!(
                ", <span class=\"warn\">{} missing (the sweep is not complete)</span>",
                missing.len()
            )
        },
        esc(&m.dataset),
        esc(&m.experiment_file),
    );
    let kernels = crate::results::kernel_counts(results.runs.values().map(|r| &r.done));
    if let Some(note) = crate::results::kernel_note(&kernels) {
        let _ = writeln!(
            h,
            "<p class=\"status\"><span class=\"warn\">Note:</span> {}</p>",
            esc(&note)
        );
    }
}

/// Every figure inline, with links to its files.
fn plots_section(h: &mut String, figures: &[Figure]) {
    let _ = writeln!(h, "<h2>Plots</h2>");
    if figures.is_empty() {
        let _ = writeln!(h, "<p>No plots: no run has finished yet.</p>");
    }
    for f in figures {
        figure(h, f);
    }
}

/// "What predicts the gap": every measure ranked by |Ψ| against the
/// accuracy gap, with τ against both gaps, and the plots of the best.
fn predictors_section(h: &mut String, rankings: &[Ranking], figures: &[Figure]) {
    let _ = writeln!(
        h,
        "<h2>What predicts the gap</h2>\n<p>Each generalization measure of the final \
         networks (Jiang et al., ICLR 2020), ranked by how well it orders the runs' gap: \
         Kendall's τ<sub>b</sub> over all runs, and the granulated Ψ — for each swept \
         setting, τ within the groups of runs that differ only in it, averaged over the \
         groups and then over the settings. Positive: a larger value goes with a larger \
         gap. Ranked by |Ψ| against the accuracy gap (test error − train error); \
         <a href=\"measures.csv\">measures.csv</a> has each setting's part and the pairs \
         behind every number.</p>\n<table>\n<tr><th class=\"text\">measure</th>\
         <th class=\"text\">what</th><th>Ψ (accuracy gap)</th><th>τ (accuracy gap)</th>\
         <th>τ (loss gap)</th><th>runs</th><th>pairs behind Ψ</th>\
         <th class=\"text\">note</th></tr>"
    );
    let signed = |x: Option<f64>| x.map_or("—".to_string(), |v| format!("{v:+.2}"));
    for r in rankings.iter().filter(|r| r.gap == predictors::GAPS[0].0) {
        let loss = rankings
            .iter()
            .find(|o| o.gap == predictors::GAPS[1].0 && o.measure.name == r.measure.name);
        let _ = writeln!(
            h,
            "<tr><td class=\"text\"><code>{}</code></td><td class=\"text\">{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"text\">{}</td></tr>",
            r.measure.name,
            esc(r.measure.words),
            signed(r.psi()),
            signed(r.overall.tau_b()),
            signed(loss.and_then(|l| l.overall.tau_b())),
            r.runs,
            r.psi_pairs(),
            esc(&r.note()),
        );
    }
    let _ = writeln!(h, "</table>");
    for f in figures {
        figure(h, f);
    }
}

/// "What moves the gap": the analysis of variance of the gap, effects by
/// their share of the variance, interactions that matter flagged.
/// What moves the gap in a sampled search: each setting's permutation
/// importance.
fn importance_section(h: &mut String, found: &Result<importance::Importances, String>) {
    let _ = writeln!(h, "<h2>What moves the gap</h2>");
    let found = match found {
        Ok(found) => found,
        Err(why) => {
            let _ = writeln!(h, "<p>No importances: {}.</p>", esc(why));
            return;
        }
    };
    let _ = writeln!(
        h,
        "<p>A sampled search has no factorial grid, so no analysis of variance: instead a \
         random forest of 300 trees learns the gap (mean over seeds) from the settings of {} \
         configurations and predicts {:.0} % of its variance for configurations it did not \
         see (out-of-bag R²). A setting's importance is how much worse the forest predicts \
         once that setting is shuffled between configurations (Breiman's permutation \
         importance, mean ± SD over 10 shuffles), as half the rise in squared error over the \
         gap's variance: about the share of the variance the setting accounts for, its \
         interactions included (Jansen's total-effect estimator), and 0 for a setting that \
         does nothing (and past 100 % only by the estimate's noise); settings that interact \
         each count the interaction. \
         <a href=\"importance.csv\">importance.csv</a> has the same for the accuracy \
         configurations are chosen on.{}</p>\n<table>\n<tr><th class=\"text\">setting</th>\
         <th>importance</th><th>± SD</th></tr>",
        match found.available > found.configurations {
            true => format!("the first {} of {}", found.configurations, found.available),
            false => found.configurations.to_string(),
        },
        100.0 * found.oob_r2,
        match importance::note(found) {
            "" => String::new(),
            note => format!(" <span class=\"warn\">Note: {}.</span>", esc(note)),
        }
    );
    for s in &found.settings {
        let _ = writeln!(
            h,
            "<tr><td class=\"text\">{}</td><td>{:.1} %</td><td>{:.1} %</td></tr>",
            esc(s.key.spec().label),
            100.0 * s.share,
            100.0 * s.sd
        );
    }
    let _ = writeln!(h, "</table>");
}

fn variance_section(h: &mut String, variance: &Result<Vec<anova::Effect>, String>) {
    let _ = writeln!(h, "<h2>What moves the gap</h2>");
    let effects = match variance {
        Ok(effects) => effects,
        Err(why) => {
            let _ = writeln!(h, "<p>No analysis of variance: {}.</p>", esc(why));
            return;
        }
    };
    let tested = effects.iter().any(|e| e.f.is_some());
    let _ = writeln!(
        h,
        "<p>The grid as a factorial experiment with the seeds as replicates: the share of the \
         variance of the gap (over every finished run) that each swept setting and each pair \
         of them explains, {}. <a href=\"anova.csv\">anova.csv</a> has the same for test \
         accuracy, test loss and validation accuracy.</p>\n<table>\n<tr>\
         <th class=\"text\">effect</th><th>df</th><th>share of the variance</th><th>F</th>\
         <th>p</th><th class=\"text\">note</th></tr>",
        if tested {
            "with an F-test against the variance between seeds"
        } else {
            "without F-tests: with one seed per configuration there is no variance between \
             seeds to test against"
        }
    );
    for e in anova::ranked(effects) {
        let matters = e.interaction && e.p.is_some_and(|p| p < 0.05) && e.share >= 0.01;
        let _ = writeln!(
            h,
            "<tr{}><td class=\"text\">{}</td><td>{}</td><td>{:.1} %</td><td>{}</td><td>{}</td>\
             <td class=\"text\">{}</td></tr>",
            if matters {
                " class=\"significant\""
            } else {
                ""
            },
            esc(&e.name),
            e.df,
            100.0 * e.share,
            e.f.map_or("—".into(), |f| format!("{f:.1}")),
            e.p.map_or("—".into(), |p| if p < 0.001 {
                "< 0.001".into()
            } else {
                format!("{p:.3}")
            }),
            if matters {
                "an interaction that matters: the settings' effects do not add up"
            } else {
                ""
            },
        );
    }
    let _ = writeln!(h, "</table>");
}

/// One plot, inline, with its caption and links to its files.
fn figure(h: &mut String, f: &Figure) {
    let svg = f.svg.trim_start_matches(|c| c != '<');
    let _ = writeln!(
        h,
        "<figure id=\"{stem}\">\n{svg}\n<figcaption>{caption} \
         Files: <a href=\"plots/{stem}.png\">PNG</a>, \
         <a href=\"plots/{stem}.svg\">SVG</a>.</figcaption>\n</figure>",
        stem = esc(&f.stem),
        caption = esc(&f.caption),
    );
}

/// The decisions of a successive-halving search, rung by rung (and for
/// Hyperband, bracket by bracket).
fn rungs_section(h: &mut String, rungs: &[Rung]) {
    let hyperband = rungs.iter().any(|r| r.bracket.is_some());
    let (title, brackets) = match hyperband {
        true => (
            "Hyperband",
            " Hyperband runs several halvings side by side, its brackets: bracket s draws its \
             own configurations and starts s rungs before the last, so bracket 0 trains a few \
             configurations to the end and the widest bracket many for a few epochs; the best \
             of every bracket's last rung compete for the cards above.",
        ),
        false => ("Successive halving", ""),
    };
    let _ = writeln!(
        h,
        "<h2>{title}</h2>\n<p>Each rung trains the configurations left to its \
         epochs, ranks them on the mean over seeds of the validation metric, and promotes the \
         best; runs dropped at a rung are recorded as stopped there (<code>stopped_epoch</code>), \
         so their rows in the tables below are at fewer epochs. Only configurations trained to \
         the last rung compete for the cards above.{brackets} Every decision: \
         <a href=\"rungs.csv\">rungs.csv</a>.</p>\n<table>\n<tr>{}<th>rung</th><th>epochs</th>\
         <th>configurations</th><th>promoted</th><th class=\"text\">best (mean {})</th></tr>",
        if hyperband { "<th>bracket s</th>" } else { "" },
        rungs.first().map_or("", |r| r.metric.as_str())
    );
    for r in rungs {
        let best = r.ranked.first().map_or(String::new(), |(label, mean)| {
            format!(
                "{} ({})",
                esc(label),
                mean.map_or("—".to_string(), |m| match r.metric.as_str() {
                    "val_acc" => format!("{:.2} %", 100.0 * m),
                    _ => format!("{m:.4}"),
                })
            )
        });
        let bracket = match (hyperband, r.bracket) {
            (true, Some(s)) => format!("<td>{s}</td>"),
            (true, None) => "<td></td>".to_string(),
            (false, _) => String::new(),
        };
        let _ = writeln!(
            h,
            "<tr>{bracket}<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{best}</td></tr>",
            r.rung,
            r.epochs,
            r.ranked.len(),
            r.promoted
        );
    }
    let _ = writeln!(h, "</table>");
}

/// Every configuration against the experiment's baseline, as `compare.csv`
/// has it.
fn comparison_section(h: &mut String, against: &compare::Against) {
    let rows = &against.rows;
    let stratified = against.stratified();
    let _ = writeln!(
        h,
        "<h2>Against the baseline {}</h2>\n<p>Each configuration minus {}, in \
         points; paired over seeds where the runs of a seed share their initialisation and \
         batches, Welch otherwise. Two intervals: the <em>unadjusted</em> 95 % interval of \
         each row alone, and the <em>simultaneous</em> one, which covers every row at once \
         (Bonferroni over the rows): read it beside the p-value, which is Holm-adjusted over \
         every row — a simultaneous interval that excludes 0 is always a Holm rejection. The \
         intervals cover training randomness over seeds, not the choice of test images: \
         <code>compare.csv</code> adds each test accuracy's binomial standard error (about {} \
         points here). Rebuild with <code>sweep compare</code>.</p>\n<table>\n\
         <tr><th class=\"text\">configuration</th>{}<th class=\"text\">metric</th>\
         <th class=\"text\">test</th><th>difference</th><th>95 % CI, unadjusted</th>\
         <th>95 % CI, simultaneous</th><th>p (Holm-adjusted)</th>\
         <th>Hedges' g</th><th>P(A &gt; B)</th></tr>",
        esc(&against.title),
        if stratified {
            "the baseline at its own value of the other settings (a baseline per row)"
        } else {
            "the baseline"
        },
        rows.iter()
            .find_map(|r| r.binomial_se.map(|b| format!("{:.2}", 100.0 * b.1)))
            .unwrap_or_else(|| "—".into()),
        if stratified {
            "<th class=\"text\">its baseline</th>"
        } else {
            ""
        },
    );
    let opt = |x: Option<f64>, f: &dyn Fn(f64) -> String| x.map_or("—".to_string(), f);
    let interval = |ci: Option<(f64, f64)>| {
        ci.map_or("—".to_string(), |(lo, hi)| {
            format!("[{:+.2}, {:+.2}]", 100.0 * lo, 100.0 * hi)
        })
    };
    for r in rows {
        let d = &r.difference;
        let significant = r.p_holm.is_some_and(|p| p < 0.05);
        let _ = writeln!(
            h,
            "<tr{}><td class=\"text\">{}</td>{}<td class=\"text\">{}</td>\
             <td class=\"text\">{}</td><td>{:+.2}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            if significant {
                " class=\"significant\""
            } else {
                ""
            },
            esc(&r.config),
            match stratified {
                true => format!("<td class=\"text\">{}</td>", esc(&r.against)),
                false => String::new(),
            },
            r.metric,
            d.test.as_str(),
            100.0 * d.mean,
            interval(d.ci95),
            interval(r.ci_simultaneous),
            opt(r.p_holm, &|p| format!("{p:.3}")),
            opt(d.hedges_g, &|g| format!("{g:+.2}")),
            opt(d.prob_greater, &|p| format!("{p:.2}")),
        );
    }
    let _ = writeln!(h, "</table>");
}

/// Where the networks cross the interpolation threshold n·K, per series.
fn interpolation_section(h: &mut String, crossings: &[Crossing]) {
    if crossings.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<h2>Interpolation threshold</h2>\n<p>Belkin et al. (PNAS 2019): a network can fit n \
         training images of K classes exactly once it has about n·K parameters; near there \
         test loss peaks, and it falls again for larger networks (double descent). Means \
         over seeds; the interpolation threshold is the smallest network whose training \
         error on the labels it trained on is at most {:.1} %; a peak is the local maximum \
         over network size that stands highest above the lowest points on both sides (at \
         least 5 % of its height).</p>\n<table>\n<tr><th>series\
         </th><th></th><th>network</th><th>P</th><th>P / n·K</th><th>test loss</th>\
         <th>test error</th><th>train error</th></tr>",
        100.0 * (1.0 - super::interpolation::FITS)
    );
    for c in crossings {
        let rows = [
            ("interpolation threshold", c.interpolating.as_ref()),
            ("test-loss peak", c.loss_peak.as_ref().map(|p| &p.0)),
            ("test-error peak", c.error_peak.as_ref().map(|p| &p.0)),
            ("largest network", Some(&c.largest)),
        ];
        for (i, (what, network)) in rows.iter().enumerate() {
            let series = if i == 0 {
                format!("{} (n·K = {})", esc(&c.series), c.threshold)
            } else {
                String::new()
            };
            let _ = match network {
                Some(n) => writeln!(
                    h,
                    "<tr><td>{series}</td><td>{what}</td><td>{}</td><td>{}</td><td>{:.2}</td>\
                     <td>{:.4}</td><td>{:.2} %</td><td>{:.2} %</td></tr>",
                    esc(&n.label),
                    n.parameters,
                    n.ratio,
                    n.test_loss,
                    100.0 * n.test_error,
                    100.0 * n.train_error
                ),
                None => writeln!(
                    h,
                    "<tr><td>{series}</td><td>{what}</td><td colspan=\"6\">none{}</td></tr>",
                    if i == 0 {
                        ": no network fits its training labels"
                    } else {
                        ": no local maximum stands 5 % above the lowest points on both sides"
                    }
                ),
            };
        }
    }
    let _ = writeln!(h, "</table>");
}

/// The best configuration by test accuracy and by smallest gap.
fn best_cards(h: &mut String, configs: &[Config], dataset: &str) {
    let best_metric = selection_metric(configs);
    let validated = best_metric == Metric::ValAcc;
    let (best_title, accuracy) = match validated {
        true => ("Best validation accuracy", "validation accuracy"),
        false => ("Best test accuracy", "test accuracy"),
    };
    let Some(choice) = tradeoff::answer(configs, dataset) else {
        return;
    };
    if validated {
        let _ = writeln!(
            h,
            "<p>The best configuration, and each run's best epoch, are chosen on the \
             validation images held out of training (<code>validation</code>), never on the \
             test set: the test accuracy shown beside them is an unbiased estimate.</p>"
        );
    }
    let (best, chosen) = (&configs[choice.best], &configs[choice.chosen]);
    let rule = gap_rule_sentence(configs, &choice, accuracy);
    let _ = writeln!(h, "<div class=\"cards\">");
    for (title, c, note) in [
        (best_title, best, ties_sentence(configs, best, best_metric)),
        ("Smallest gap at the best accuracy", chosen, rule),
    ] {
        let _ = writeln!(
            h,
            "<div class=\"card\"><div>{title}</div><div class=\"big\">{}</div>\
             <div>test accuracy {} %, gap {} points, training accuracy {} % \
             (mean ± 95 % CI over {} seed{})</div><div class=\"ties\">{}</div></div>",
            esc(&c.label),
            pct(&c.metric(Metric::TestAcc)),
            pct(&c.metric(Metric::GapAcc)),
            pct(&c.metric(Metric::TrainAcc)),
            c.finished.len(),
            if c.finished.len() == 1 { "" } else { "s" },
            note,
        );
    }
    let _ = writeln!(h, "</div>");
}

/// How the gap card's configuration was chosen, and what the smallest gap
/// of all would cost.
fn gap_rule_sentence(configs: &[Config], choice: &tradeoff::GapChoice, accuracy: &str) -> String {
    let within = choice.within.len();
    let mut out = match choice.standard_error {
        Some(se) => format!(
            "The smallest gap among the {within} configuration{} whose {accuracy} is within one \
             standard error ({:.2} points) of the best: the one-standard-error rule.",
            if within == 1 { "" } else { "s" },
            100.0 * se
        ),
        None => format!("The best {accuracy} (no standard error to widen the choice)."),
    };
    if let Some(cost) = choice.cost_of_smallest(configs) {
        let smallest = &configs[choice.smallest_overall];
        out.push_str(&format!(
            " The smallest gap of all, {} ({} points), costs {:.1} points of {accuracy}: a \
             network that fits less also overfits less.",
            esc(&smallest.label),
            pct(&smallest.metric(Metric::GapAcc)),
            100.0 * cost
        ));
    }
    out
}

/// Which configurations a t-test cannot tell apart from the card's
/// configuration `c` in `metric` (Holm-adjusted over the sweep, α = 0.05).
fn ties_sentence(configs: &[Config], c: &Config, metric: Metric) -> String {
    let Some(index) = configs.iter().position(|x| std::ptr::eq(x, c)) else {
        return String::new();
    };
    let found = compare::indistinguishable(configs, index, metric);
    let names = |list: &[usize]| {
        let mut shown: Vec<String> = list
            .iter()
            .take(10)
            .map(|&i| esc(&configs[i].label))
            .collect();
        if list.len() > 10 {
            shown.push(format!("and {} more", list.len() - 10));
        }
        shown.join(", ")
    };
    let mut out = if found.tests == 0 {
        String::new()
    } else if found.tied.is_empty() {
        format!(
            "Every other configuration tested differs from it in {metric} (t-tests, \
             Holm-adjusted over {} comparisons, α = 0.05).",
            found.tests
        )
    } else {
        format!(
            "Not distinguishable from it in {metric} (t-tests, Holm-adjusted over {} \
             comparisons, α = 0.05): {}.",
            found.tests,
            names(&found.tied)
        )
    };
    if !found.untested.is_empty() {
        out.push_str(&format!(
            " Not testable (one seed or no spread): {}.",
            names(&found.untested)
        ));
    }
    out.trim_start().to_string()
}

/// The swept settings with their values, and the fixed ones.
fn grid_section(h: &mut String, results: &SweepResults) {
    let _ = writeln!(h, "<h2>The grid</h2>\n<table>");
    let _ = writeln!(
        h,
        "<tr><th class=\"text\">setting</th><th class=\"text\">values</th></tr>"
    );
    let first = results.grid.runs.first().map(|s| &s.params);
    let row = |key: Key, shown: String| {
        format!(
            "<tr><td class=\"text\"><code>{}</code></td><td class=\"text\">{shown}</td></tr>\n",
            key.name()
        )
    };
    let mut fixed = Vec::new();
    for &key in Key::ALL {
        if !results.grid.runs.iter().any(|s| key.applies_to(&s.params)) {
            continue;
        }
        if results.swept.contains(&key) {
            let mut seen: Vec<String> = Vec::new();
            for v in results.grid.runs.iter().map(|s| s.params.text(key)) {
                if !seen.contains(&v) {
                    seen.push(v);
                }
            }
            h.push_str(&row(
                key,
                format!("<b>{}</b> (swept)", esc(&seen.join(", "))),
            ));
        } else {
            let v = first.map(|p| p.text(key)).unwrap_or_default();
            let text = if v.is_empty() {
                key.absent_text().unwrap_or("")
            } else {
                &v
            };
            fixed.push(row(key, esc(text)));
        }
    }
    // The settings every run shares: there to look up, folded away.
    let _ = writeln!(
        h,
        "</table>\n<details><summary>The {} settings every run shares</summary>\n<table>\n\
         <tr><th class=\"text\">setting</th><th class=\"text\">value</th></tr>\n{}</table>\n\
         </details>",
        fixed.len(),
        fixed.concat()
    );
    let _ = writeln!(
        h,
        "<p>{} runs: {} configurations × seeds.</p>",
        results.grid.runs.len(),
        results
            .grid
            .runs
            .iter()
            .map(|s| {
                let mut p = s.params.clone();
                p.seed = 0;
                p.canonical()
            })
            .collect::<std::collections::HashSet<_>>()
            .len()
    );
}

/// Per configuration: test accuracy and gap, mean ± CI.
fn headline_table(h: &mut String, configs: &[Config], keys: &[Key]) {
    // The note on the number of seeds, once when every row shares it.
    let seed_notes: HashSet<&str> = configs
        .iter()
        .map(|c| crate::report::stats::ci_note(c.finished.len()))
        .collect();
    let shared_note = match seed_notes.len() {
        1 => seed_notes.into_iter().next().filter(|n| !n.is_empty()),
        _ => None,
    };
    let _ = writeln!(
        h,
        "<h2>Results per configuration</h2>\n<p>Final epoch, mean ± half-width of the 95 % \
         confidence interval over seeds (Student's t, n − 1 degrees of freedom; the gap's \
         interval comes from the per-seed gaps). All values in percent.{}</p>\n<table>",
        shared_note.map_or(String::new(), |n| format!(" Every row: {}.", esc(n)))
    );
    let mut head: String = keys
        .iter()
        .map(|k| format!("<th>{}</th>", k.name()))
        .collect();
    if keys.is_empty() {
        head.push_str("<th class=\"text\">configuration</th>");
    }
    let chosen_on = selection_metric(configs);
    let validated = chosen_on == Metric::ValAcc;
    let (val_head, best_head) = if validated {
        (
            "<th>validation accuracy</th>",
            "test accuracy at the best validation epoch",
        )
    } else {
        ("", "best test accuracy")
    };
    let _ = writeln!(
        h,
        "<tr>{head}<th>seeds</th>{val_head}<th>test accuracy</th><th>gap (train − test)</th>\
         <th>training accuracy</th><th>{best_head}</th><th>note</th></tr>"
    );
    let best = configs
        .iter()
        .filter_map(|c| Some((c.label.as_str(), c.metric(chosen_on).mean?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|b| b.0);
    for c in configs {
        let mut row: String = keys
            .iter()
            .map(|&k| format!("<td>{}</td>", esc(&c.params.text(k))))
            .collect();
        if keys.is_empty() {
            row.push_str("<td class=\"text\">all runs</td>");
        }
        let mut note = Vec::new();
        if !c.diverged.is_empty() {
            note.push(format!("{} diverged", c.diverged.len()));
        }
        if !c.failed.is_empty() {
            note.push(format!("{} failed", c.failed.len()));
        }
        if !c.missing.is_empty() {
            note.push(format!("{} missing", c.missing.len()));
        }
        let stopped: Vec<usize> = c
            .finished
            .iter()
            .filter_map(|r| r.done.stopped_epoch)
            .collect();
        if !stopped.is_empty() {
            let (lo, hi) = (stopped.iter().min(), stopped.iter().max());
            let at = match (lo, hi) {
                (Some(lo), Some(hi)) if lo != hi => format!("epochs {lo}–{hi}"),
                (Some(lo), _) => format!("epoch {lo}"),
                _ => String::new(),
            };
            note.push(format!("{} stopped early ({at})", stopped.len()));
        }
        let n = c.finished.len();
        if shared_note.is_none() {
            let seeds = crate::report::stats::ci_note(n);
            if !seeds.is_empty() {
                note.push(seeds.to_string());
            }
        }
        let note = note.join(", ");
        let _ = writeln!(
            h,
            "<tr{}>{row}<td>{n}/{}</td>{}<td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"text\">{}</td></tr>",
            if Some(c.label.as_str()) == best {
                " class=\"best\""
            } else {
                ""
            },
            c.planned,
            if validated {
                format!("<td>{}</td>", pct(&c.metric(Metric::ValAcc)))
            } else {
                String::new()
            },
            pct(&c.metric(Metric::TestAcc)),
            pct(&c.metric(Metric::GapAcc)),
            pct(&c.metric(Metric::TrainAcc)),
            pct(&c.metric(Metric::BestTestAcc)),
            esc(&note),
        );
    }
    let _ = writeln!(h, "</table>");
}

/// Rows shown per kind of problem; the rest are counted.
const MAX_PROBLEM_ROWS: usize = 100;

/// The `sweep run` command that resumes this folder's sweep, `extra`
/// flags added.
fn resume_command(results: &SweepResults, extra: &str) -> String {
    let out = match results.root.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut cmd =
        crate::shell::command_line("run", Path::new(&results.manifest.experiment_file), out);
    if !extra.is_empty() {
        cmd += " ";
        cmd += extra;
    }
    cmd
}

/// Diverged, failed, damaged and missing runs.
fn problems(h: &mut String, results: &SweepResults, configs: &[Config]) {
    let diverged: Vec<_> = configs.iter().flat_map(|c| &c.diverged).collect();
    let failed: Vec<_> = configs.iter().flat_map(|c| &c.failed).collect();
    let missing = results.missing();
    let _ = writeln!(h, "<h2>Runs that diverged, failed or are missing</h2>");
    if diverged.is_empty() && failed.is_empty() && missing.is_empty() {
        let _ = writeln!(h, "<p>None: every run of the grid finished.</p>");
        return;
    }
    let _ = writeln!(
        h,
        "<table>\n<tr><th class=\"text\">run</th><th class=\"text\">settings</th>\
         <th class=\"text\">what happened</th></tr>"
    );
    let row = |h: &mut String, id: &str, label: &str, what: String| {
        let _ = writeln!(
            h,
            "<tr><td class=\"text\"><code>{}</code></td><td class=\"text\">{}</td>\
             <td class=\"text warn\">{what}</td></tr>",
            esc(id),
            esc(label),
        );
    };
    let more = |h: &mut String, n: usize, what: &str| {
        if n > MAX_PROBLEM_ROWS {
            let _ = writeln!(
                h,
                "<tr><td class=\"text\" colspan=\"3\">… and {} more {what} \
                 (<code>sweep status</code> lists them all)</td></tr>",
                n - MAX_PROBLEM_ROWS
            );
        }
    };
    for run in diverged.iter().take(MAX_PROBLEM_ROWS) {
        row(
            h,
            &run.spec.id,
            &results.run_label(&run.spec),
            format!(
                "diverged (loss NaN or infinite) in epoch {}",
                run.done
                    .diverged_epoch
                    .map_or("?".to_string(), |e| e.to_string())
            ),
        );
    }
    more(h, diverged.len(), "diverged runs");
    let retry = esc(&resume_command(results, "--retry-failed"));
    for run in failed.iter().take(MAX_PROBLEM_ROWS) {
        row(
            h,
            &run.spec.id,
            &results.run_label(&run.spec),
            format!(
                "failed: {} (<code>{retry}</code> trains it again)",
                esc(run.done.error.as_deref().unwrap_or("unknown error")),
            ),
        );
    }
    more(h, failed.len(), "failed runs");
    let resume = esc(&resume_command(results, ""));
    let damaged: HashSet<&str> = results
        .damaged
        .iter()
        .filter_map(|d| d.split(' ').next())
        .collect();
    for spec in missing.iter().take(MAX_PROBLEM_ROWS) {
        let what = if damaged.contains(spec.id.as_str()) {
            "its record is damaged or incomplete (see <code>sweep report</code>); \
             <code>{resume}</code> trains it again"
        } else {
            "not finished yet: run <code>{resume}</code> to resume"
        };
        row(
            h,
            &spec.id,
            &results.run_label(spec),
            what.replace("{resume}", &resume),
        );
    }
    more(h, missing.len(), "runs without a record");
    let _ = writeln!(h, "</table>");
}

/// Versions, checksums and timings.
/// When the sweep last finished: the manifest's time when it finished
/// after it last started, else (while `sweep run` writes the report, or a
/// sweep stopped early) the time its last run finished.
fn last_finished(results: &SweepResults) -> String {
    let m = &results.manifest;
    if !m.finished_at.is_empty() && m.finished_at >= m.started_at {
        return m.finished_at.clone();
    }
    results
        .runs
        .values()
        .map(|r| r.done.finished_at.as_str())
        .max()
        .map_or(String::new(), |t| format!("{t} (its last run)"))
}

fn manifest_section(h: &mut String, results: &SweepResults) {
    let m = &results.manifest;
    let train: f64 = results.runs.values().map(|r| r.done.train_seconds).sum();
    let eval: f64 = results.runs.values().map(|r| r.done.eval_seconds).sum();
    let rows = [
        ("tool", format!("{} {}", m.tool, m.version)),
        ("experiment file", m.experiment_file.clone()),
        ("experiment SHA-256", m.config_sha256.clone()),
        ("dataset", format!("{} ({})", m.dataset, m.dataset_dir)),
        ("CPU", m.cpu.clone()),
        (
            "GEMM kernel",
            match m.kernel_choice.as_str() {
                "" => m.kernel_shown(),
                choice => format!("{} ({choice})", m.kernel_shown()),
            },
        ),
        ("worker threads", m.jobs.to_string()),
        ("last started", m.started_at.clone()),
        ("last finished", last_finished(results)),
        (
            "compute time",
            format!(
                "{train:.1} s training + {eval:.1} s evaluation, summed over {} runs",
                results.runs.len()
            ),
        ),
    ];
    let _ = writeln!(h, "<h2>Manifest</h2>\n<table>");
    for (k, v) in rows {
        let _ = writeln!(
            h,
            "<tr><th class=\"text\">{k}</th><td class=\"text\">{}</td></tr>",
            esc(&v)
        );
    }
    for f in &m.dataset_files {
        let _ = writeln!(
            h,
            "<tr><th class=\"text\">{}</th><td class=\"text\"><code>sha256 {}</code></td></tr>",
            esc(&f.name),
            esc(&f.sha256)
        );
    }
    let _ = writeln!(h, "</table>");
}
