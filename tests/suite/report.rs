//! The report on small real sweeps: `summary.csv`, plots that are valid SVG
//! and PNG and hold the expected series, `report.html`, `sweep report` on a
//! half-finished sweep, and refusals.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use tempfile::TempDir;

use crate::util::{Table, sweep, text};

/// The series colour of the first line (Okabe–Ito blue), as plotters writes it.
const FIRST_SERIES: &str = "#0072B2";

/// Runs a sweep of 500 MNIST images, 32 × 2 hidden units, 2 epochs, with
/// the given `[grid]`, and returns the temporary folder and results folder.
fn run_sweep(name: &str, grid: &str) -> (TempDir, PathBuf) {
    run_sweep_with(name, "hidden_size = 32", grid)
}

/// [`run_sweep`] with `model` as the [model] table.
fn run_sweep_with(name: &str, model: &str, grid: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join(format!("{name}.toml"));
    fs::write(
        &file,
        format!(
            "name = \"{name}\"\ndescription = \"A test sweep of {name}.\"\n\
             [data]\ndataset = \"mnist\"\ntrain_subset = 500\n\
             [model]\n{model}\n[train]\nepochs = 2\n[grid]\n{grid}\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("results");
    let output = sweep()
        .args(["run", "--quiet", "--jobs", "2", "--out"])
        .arg(&out)
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    (dir, out.join(name))
}

fn report(dir: &Path) -> Output {
    sweep().arg("report").arg(dir).output().unwrap()
}

/// Parses an SVG file as XML (it must be well formed) and returns its text.
fn svg(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not valid XML: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    text
}

/// Decodes a PNG file and returns its width and height.
fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(fs::File::open(path).unwrap());
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    // Not blank: some pixels are neither white nor one colour.
    let distinct: std::collections::HashSet<&[u8]> = buf[..info.buffer_size()]
        .chunks(3)
        .take(2_000_000)
        .collect();
    assert!(distinct.len() > 10, "{} looks blank", path.display());
    (info.width, info.height)
}

/// Elements of `svg` with the given tag whose attributes include all `attrs`.
fn count(svg: &str, tag: &str, attrs: &[(&str, &str)]) -> usize {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name(tag))
        .filter(|n| attrs.iter().all(|(k, v)| n.attribute(*k) == Some(*v)))
        .count()
}

fn plot_files(dir: &Path) -> Vec<String> {
    every_plot(dir)
        .into_iter()
        .filter(|name| !name.starts_with("measure_"))
        .collect()
}

/// The plots of the best-ranked generalization measures against the gap
/// (which measures depends on the numbers), SVG only.
fn measure_plots(dir: &Path) -> Vec<String> {
    every_plot(dir)
        .into_iter()
        .filter(|name| name.starts_with("measure_") && name.ends_with(".svg"))
        .collect()
}

fn every_plot(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_lambda_sweep_gets_a_summary_plots_with_one_error_bar_per_lambda_and_a_report() {
    let (_tmp, dir) = run_sweep(
        "gap",
        "lambda = [0, 0.001, 0.01, 0.1]\nseed = { count = 3 }",
    );

    // The three measures ranked first against the accuracy gap are drawn.
    let ranked = Table::read(&dir.join("measures.csv"));
    let mut best: Vec<String> = ranked
        .rows
        .iter()
        .filter(|r| ranked.get(r, "gap") == "gap_acc")
        .take(3)
        .map(|r| format!("measure_{}_vs_gap.svg", ranked.get(r, "measure")))
        .collect();
    best.sort();
    assert_eq!(measure_plots(&dir), best);
    let report = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.contains("<h2>What predicts the gap</h2>"));

    let summary = Table::read(&dir.join("summary.csv"));
    assert_eq!(summary.rows.len(), 4);
    for row in &summary.rows {
        assert_eq!(summary.get(row, "seeds_finished"), "3");
        assert_eq!(summary.get(row, "seeds_missing"), "0");
        let mean: f64 = summary.get(row, "gap_acc_mean").parse().unwrap();
        let lo: f64 = summary.get(row, "gap_acc_ci95_low").parse().unwrap();
        let hi: f64 = summary.get(row, "gap_acc_ci95_high").parse().unwrap();
        assert!(lo <= mean && mean <= hi);
    }

    assert_eq!(
        plot_files(&dir),
        [
            "accuracy_vs_lambda.png",
            "accuracy_vs_lambda.svg",
            "gap_vs_accuracy.png",
            "gap_vs_accuracy.svg",
            "gap_vs_lambda.png",
            "gap_vs_lambda.svg",
            "learning_curves.png",
            "learning_curves.svg",
            "loss_vs_lambda.png",
            "loss_vs_lambda.svg"
        ]
    );
    let gap = svg(&dir.join("plots/gap_vs_lambda.svg"));
    // An error bar is three lines (whisker and two caps) in the series colour.
    assert_eq!(
        count(&gap, "line", &[("stroke", FIRST_SERIES)]),
        3 * 4,
        "one error bar per λ"
    );
    // Every seed is a faint dot.
    assert_eq!(
        count(
            &gap,
            "circle",
            &[("fill", FIRST_SERIES), ("opacity", "0.3")]
        ),
        12
    );
    // λ = 0 has its own tick on the log axis.
    assert!(gap.contains(">\n0\n</text>") || gap.contains(">0\n</text>"));
    assert!(gap.contains("weight decay λ (log scale)"));
    assert!(gap.contains("font-family=\"DejaVu Sans, sans-serif\""));
    assert_eq!(png_size(&dir.join("plots/gap_vs_lambda.png")), (1200, 800));
    png_size(&dir.join("plots/accuracy_vs_lambda.png"));
    png_size(&dir.join("plots/learning_curves.png"));

    let curves = svg(&dir.join("plots/learning_curves.svg"));
    // Two bands (train and test) per panel, one panel per λ.
    assert_eq!(count(&curves, "polygon", &[("opacity", "0.2")]), 2 * 4);
    for panel in [
        "lambda = 0",
        "lambda = 0.001",
        "lambda = 0.01",
        "lambda = 0.1",
    ] {
        assert!(curves.contains(panel), "no panel {panel}");
    }

    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    // The trade-off, four plots of the sweep and three of the measures
    // ranked first.
    assert_eq!(html.matches("<svg").count(), 1 + 4 + 3);
    assert!(html.contains("A test sweep of gap."));
    // The best card names what a test cannot tell apart from the best,
    // over the three other values of λ; the gap card says how it chose.
    assert_eq!(
        html.matches("Holm-adjusted over 3 comparisons, α = 0.05")
            .count(),
        1,
        "{html}"
    );
    assert!(html.contains("Smallest gap at the best accuracy"));
    assert!(html.contains("the one-standard-error rule"));
    assert!(html.contains("12 of 12 runs finished"));
    assert!(html.contains("None: every run of the grid finished."));
    assert!(!html.contains("<script"));
    // Nothing is fetched from the network (the SVG namespace is only a name).
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
}

#[test]
fn two_swept_settings_get_a_line_per_value_and_heatmaps() {
    let (_tmp, dir) = run_sweep(
        "pair",
        "lambda = [0, 0.01]\nlearning_rate = [0.05, 0.1]\nseed = { count = 2 }",
    );
    let plots = plot_files(&dir);
    for stem in [
        "gap_vs_lambda",
        "accuracy_vs_lambda",
        "gap_vs_learning_rate",
        "accuracy_vs_learning_rate",
        "learning_curves",
        "heatmap_gap_lambda_learning_rate",
        "heatmap_test_acc_lambda_learning_rate",
    ] {
        for ext in ["svg", "png"] {
            assert!(plots.contains(&format!("{stem}.{ext}")), "no {stem}.{ext}");
        }
    }
    // The grid's analysis of variance: each setting, their pair and the
    // seeds, for each metric; the shares of a metric add up to 1.
    let variance = Table::read(&dir.join("anova.csv"));
    let gap_rows: Vec<&Vec<String>> = variance
        .rows
        .iter()
        .filter(|r| variance.get(r, "metric") == "gap_acc")
        .collect();
    let effects: Vec<&str> = gap_rows.iter().map(|r| variance.get(r, "effect")).collect();
    for effect in [
        "lambda",
        "learning_rate",
        "lambda × learning_rate",
        "seeds (residual)",
    ] {
        assert!(effects.contains(&effect), "{effects:?}");
    }
    let shares: f64 = gap_rows
        .iter()
        .map(|r| variance.get(r, "share").parse::<f64>().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9, "{shares}");
    // The report shows the trade-off first, then the gap heatmap.
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    let at = |id: &str| html.find(&format!("<figure id=\"{id}\"")).unwrap();
    assert!(at("gap_vs_accuracy") < at("heatmap_gap_lambda_learning_rate"));
    assert!(at("heatmap_gap_lambda_learning_rate") < at("parallel_coordinates"));
    assert!(at("parallel_coordinates") < at("gap_vs_lambda"));
    assert!(html.contains("<h2>What moves the gap</h2>"));
    // Parallel coordinates: a line per configuration (4) and the two
    // answers drawn again on top, outlined (twice each), over 3 axes.
    let parallel = svg(&dir.join("plots/parallel_coordinates.svg"));
    assert!(parallel.contains("weight decay λ") && parallel.contains("gap (points)"));
    let lines = parallel.matches("<polyline").count();
    assert!(lines >= 4 + 3, "{lines} polylines");
    let gap = svg(&dir.join("plots/gap_vs_lambda.svg"));
    assert!(gap.contains("learning_rate = 0.05") && gap.contains("learning_rate = 0.1"));
    // Two seeds: no error bars (a t-interval of two spans the axis), the
    // seeds as faint dots instead.
    assert_eq!(count(&gap, "line", &[("stroke", FIRST_SERIES)]), 0);
    assert_eq!(
        count(
            &gap,
            "circle",
            &[("fill", FIRST_SERIES), ("opacity", "0.3")]
        ),
        2 * 2
    );

    // Each heatmap cell carries its value: the mean gap in points.
    let summary = Table::read(&dir.join("summary.csv"));
    assert_eq!(summary.rows.len(), 4);
    let heat = svg(&dir.join("plots/heatmap_gap_lambda_learning_rate.svg"));
    let doc = roxmltree::Document::parse(&heat).unwrap();
    let written: Vec<f64> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text()?.trim().parse().ok())
        .collect();
    for row in &summary.rows {
        // The CSV keeps 6 significant digits, the cell 2 decimals.
        let gap = 100.0 * summary.get(row, "gap_acc_mean").parse::<f64>().unwrap();
        assert!(
            written.iter().any(|w| (w - gap).abs() <= 0.0051),
            "heatmap lacks {gap:.2}: {written:?}"
        );
    }
    png_size(&dir.join("plots/heatmap_gap_lambda_learning_rate.png"));
}

#[test]
fn report_on_a_half_finished_sweep_lists_the_missing_runs() {
    let (_tmp, dir) = run_sweep("half", "lambda = [0, 0.01]\nseed = { count = 3 }");
    let runs = Table::read(&dir.join("runs.csv"));
    let ids: Vec<String> = runs
        .rows
        .iter()
        .map(|r| runs.get(r, "run_id").to_string())
        .collect();
    // One run lost its completion marker (it was interrupted), another
    // never started.
    fs::remove_file(dir.join("runs").join(&ids[1]).join("done.json")).unwrap();
    fs::remove_dir_all(dir.join("runs").join(&ids[4])).unwrap();

    let output = report(&dir);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("4 of 6 runs finished"), "{stdout}");
    assert!(stdout.contains("missing 2 run(s)"), "{stdout}");
    assert!(
        stdout.contains(&format!("{} (lambda=0 seed=1)", ids[1])),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{} (lambda=0.01 seed=1)", ids[4])),
        "{stdout}"
    );

    let summary = Table::read(&dir.join("summary.csv"));
    for row in &summary.rows {
        assert_eq!(summary.get(row, "seeds_finished"), "2");
        assert_eq!(summary.get(row, "seeds_missing"), "1");
        assert_eq!(summary.get(row, "seeds"), "0 2");
    }
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("2 missing (the sweep is not complete)"));
    assert!(html.contains(&ids[1]) && html.contains(&ids[4]));
    let gap = svg(&dir.join("plots/gap_vs_lambda.svg"));
    assert_eq!(
        count(
            &gap,
            "circle",
            &[("fill", FIRST_SERIES), ("opacity", "0.3")]
        ),
        4
    );
}

#[test]
fn a_sweep_of_seeds_alone_gets_learning_curves_and_no_axis_plots() {
    let (_tmp, dir) = run_sweep("seeds", "seed = { count = 2 }");
    assert_eq!(
        plot_files(&dir),
        ["learning_curves.png", "learning_curves.svg"]
    );
    assert_eq!(Table::read(&dir.join("summary.csv")).rows.len(), 1);
}

#[test]
fn a_single_seed_has_no_interval_and_the_csv_says_so() {
    let (_tmp, dir) = run_sweep("single", "lambda = [0, 0.01]");
    let summary = Table::read(&dir.join("summary.csv"));
    for row in &summary.rows {
        assert_eq!(summary.get(row, "seeds_finished"), "1");
        assert_eq!(summary.get(row, "test_acc_sd"), "");
        assert_eq!(summary.get(row, "test_acc_ci95_low"), "");
        assert_eq!(
            summary.get(row, "ci95_note"),
            "1 seed: no spread or interval"
        );
    }
    let gap = svg(&dir.join("plots/gap_vs_lambda.svg"));
    assert_eq!(count(&gap, "line", &[("stroke", FIRST_SERIES)]), 0);
}

#[test]
fn a_folder_that_is_not_a_sweep_is_refused_with_exit_code_2() {
    let tmp = TempDir::new().unwrap();
    let output = report(tmp.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("is not the results folder of a sweep: cannot read manifest.json"),
        "{stderr}"
    );
    // Refused, it is left as it was: no lock file behind.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    let output = report(&tmp.path().join("nope"));
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("is not a folder"));
}

#[test]
fn a_size_sweep_around_n_times_k_marks_and_locates_the_interpolation_threshold() {
    // 500 images × 10 classes = 5 000; two hidden layers of 2, 4, 8 units
    // have 1 606, 3 210 and 6 442 parameters.
    let (_tmp, dir) = run_sweep_with("size", "hidden_layers = 2", "hidden_size = [2, 4, 8]");
    let loss = svg(&dir.join("plots/loss_vs_parameters.svg"));
    assert!(
        loss.contains("n·K = 5 000 (interpolation threshold)"),
        "{loss}"
    );
    let gap = svg(&dir.join("plots/gap_vs_parameters.svg"));
    assert!(gap.contains("n·K = 5 000"));
    // A width axis has no threshold: n·K is a parameter count.
    assert!(!svg(&dir.join("plots/gap_vs_hidden_size.svg")).contains("n·K"));
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<h2>Interpolation threshold</h2>"));
    assert!(
        html.contains("<td>hidden_size=8</td><td>6442</td><td>1.29</td>"),
        "{html}"
    );
    let out = report(&dir);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.contains("all runs (n·K = 5000):"), "{stdout}");
    assert!(
        stdout.contains("largest network          hidden_size=8 (P = 6442, 1.29·n·K)"),
        "{stdout}"
    );
}

#[test]
fn compare_pairs_seeds_and_writes_what_the_runs_say() {
    let (_tmp, dir) = run_sweep("cmp", "lambda = [0, 0.1]\nseed = { count = 3 }");
    let out = sweep()
        .args(["compare", "--baseline", "lambda=0"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Holm-adjusted over 2 comparisons"));
    let compare = Table::read(&dir.join("compare.csv"));
    assert_eq!(compare.header, sweep::report::compare::COLUMNS);
    assert_eq!(compare.rows.len(), 2);
    // The per-seed differences, read back from runs.csv.
    let runs = Table::read(&dir.join("runs.csv"));
    let acc = |lambda: &str| -> Vec<f64> {
        runs.rows
            .iter()
            .filter(|r| runs.get(r, "lambda") == lambda)
            .map(|r| runs.get(r, "final_test_acc").parse().unwrap())
            .collect()
    };
    let diffs: Vec<f64> = acc("0.1")
        .iter()
        .zip(acc("0"))
        .map(|(a, b)| a - b)
        .collect();
    let expected = diffs.iter().sum::<f64>() / 3.0;
    let row = compare
        .rows
        .iter()
        .find(|r| compare.get(r, "metric") == "test_acc")
        .unwrap();
    assert_eq!(compare.get(row, "configuration"), "lambda=0.1");
    assert_eq!(
        compare.get(row, "test"),
        "paired",
        "same seeds, same network: paired"
    );
    let got: f64 = compare.get(row, "difference").parse().unwrap();
    assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    let wins = diffs.iter().filter(|d| **d > 0.0).count() as f64
        + 0.5 * diffs.iter().filter(|d| **d == 0.0).count() as f64;
    let p_greater: f64 = compare.get(row, "prob_greater").parse().unwrap();
    assert!((p_greater - wins / 3.0).abs() < 1e-5);
    assert!(!compare.get(row, "binomial_se").is_empty());

    // A baseline no configuration has: exit 2, the option named, nothing written.
    std::fs::remove_file(dir.join("compare.csv")).unwrap();
    let out = sweep()
        .args(["compare", "--baseline", "lambda=0.5"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--baseline lambda=0.5: no configuration"));
    assert!(!dir.join("compare.csv").exists());
}

#[test]
fn a_baseline_in_the_experiment_file_puts_the_comparison_in_the_report() {
    let (_tmp, dir) = run_sweep(
        "cmpfile",
        "lambda = [0, 0.1]\nseed = { count = 2 }\n[compare]\nbaseline = { lambda = 0 }",
    );
    let compare = Table::read(&dir.join("compare.csv"));
    assert_eq!(compare.rows.len(), 2);
    assert_eq!(compare.get(&compare.rows[0], "baseline"), "lambda=0");
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<h2>Against the baseline lambda=0</h2>"));
    let manifest = fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"baseline\": [\n    \"lambda=0\"\n  ]"),
        "{manifest}"
    );
    // `sweep compare` takes the experiment's baseline when none is given.
    let out = sweep().arg("compare").arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("against lambda=0 (2 seed(s))"));
}

#[test]
fn compare_without_any_baseline_says_how_to_name_one() {
    let (_tmp, dir) = run_sweep("nobase", "lambda = [0, 0.1]");
    let out = sweep().arg("compare").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("needs --baseline SETTING=VALUE"));
    assert!(!dir.join("compare.csv").exists());
}

#[test]
fn two_folders_are_compared_configuration_by_configuration() {
    let (_a, one) = run_sweep("one", "lambda = [0, 0.1]\nseed = { count = 2 }");
    let (_b, two) = run_sweep("two", "lambda = [0, 0.01]\nseed = { count = 2 }");
    let out = sweep().arg("compare").arg(&one).arg(&two).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("1 configuration(s) with the same settings in both"),
        "{stdout}"
    );
    assert!(
        stdout.contains("have no match") && stdout.contains("lambda=0.1"),
        "{stdout}"
    );
    let compare = Table::read(&one.join("compare_with_two.csv"));
    assert_eq!(compare.rows.len(), 2);
    for row in &compare.rows {
        assert_eq!(compare.get(row, "configuration"), "lambda=0");
        assert_eq!(compare.get(row, "baseline"), "two: lambda=0");
        assert_eq!(compare.get(row, "test"), "paired");
        // The same settings and seeds: the same bits, no difference to test.
        assert_eq!(compare.get(row, "difference"), "0");
        assert_eq!(compare.get(row, "p_value"), "");
    }
    let out = sweep()
        .args(["compare", "--baseline", "lambda=0"])
        .arg(&one)
        .arg(&two)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--baseline compares configurations within one"));
}

#[test]
fn a_sobol_search_gets_scatter_plots_and_doubling_its_samples_keeps_the_runs_done() {
    let grid = "lambda = { log_uniform = [1e-4, 1e-1] }\n\
                learning_rate = { log_uniform = [0.01, 0.5] }\n\
                seed = { count = 2 }\n\
                [search]\nmethod = \"sobol\"\nsamples = 4\nseed = 3";
    let (tmp, dir) = run_sweep("sobol", grid);
    // No factorial structure: no analysis of variance; 4 configurations are
    // too few for a forest.
    assert!(!dir.join("anova.csv").exists());
    let importance = fs::read_to_string(dir.join("importance.csv")).unwrap();
    assert!(
        importance.contains("a forest needs at least 8"),
        "{importance}"
    );
    let mut plots = plot_files(&dir);
    plots.retain(|p| p.ends_with(".svg"));
    assert_eq!(
        plots,
        [
            "gap_vs_accuracy.svg",
            "gap_vs_lambda.svg",
            "gap_vs_learning_rate.svg",
            "learning_curves.svg",
            "parallel_coordinates.svg",
            "test_acc_vs_lambda.svg",
            "test_acc_vs_learning_rate.svg",
        ]
    );
    // One large dot per sampled configuration on the gap plot, coloured by
    // bins of the learning rate (legend entries name their ranges).
    let gap = svg(&dir.join("plots/gap_vs_lambda.svg"));
    assert!(gap.contains("learning_rate 0.01"), "no colour legend");
    assert!(gap.contains("log scale"));
    let summary = Table::read(&dir.join("summary.csv"));
    assert_eq!(summary.rows.len(), 4);
    for row in &summary.rows {
        assert_eq!(summary.get(row, "seeds_finished"), "2");
        let lambda: f64 = summary.get(row, "lambda").parse().unwrap();
        assert!((1e-4..=1e-1).contains(&lambda), "{lambda}");
    }
    let grid_json = fs::read_to_string(dir.join("grid.json")).unwrap();
    assert!(grid_json.contains("\"method\": \"sobol\""), "{grid_json}");
    assert!(grid_json.contains("log_uniform"));

    // Twice the samples: the first 8 runs are found finished, 8 are new.
    let file = tmp.path().join("sobol.toml");
    let doubled = fs::read_to_string(&file)
        .unwrap()
        .replace("samples = 4", "samples = 8");
    fs::write(&file, doubled).unwrap();
    let output = sweep()
        .args(["run", "--jobs", "2", "--out"])
        .arg(tmp.path().join("results"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let said = text(&output.stderr) + &text(&output.stdout);
    assert!(said.contains("16 runs (8 trained now, 8 reused)"), "{said}");
    assert_eq!(Table::read(&dir.join("summary.csv")).rows.len(), 8);
    // With 8 configurations, the forest's permutation importances: a row
    // per sampled setting for the gap and for test accuracy.
    let importance = Table::read(&dir.join("importance.csv"));
    let rows: Vec<(&str, &str)> = importance
        .rows
        .iter()
        .map(|r| (importance.get(r, "metric"), importance.get(r, "setting")))
        .collect();
    assert_eq!(rows.len(), 4, "{rows:?}");
    for metric in ["gap_acc", "test_acc"] {
        for setting in ["lambda", "learning_rate"] {
            assert!(rows.contains(&(metric, setting)), "{rows:?}");
        }
    }
    for row in &importance.rows {
        assert_eq!(importance.get(row, "configurations"), "8");
        let share: f64 = importance.get(row, "importance").parse().unwrap();
        assert!(share.is_finite(), "{share}");
    }
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("Breiman's permutation importance"));
}

#[test]
fn saved_predictions_give_mcnemar_tables_that_agree_with_the_test_accuracies() {
    let grid = "lambda = [0, 0.1]\nseed = { count = 2 }\n[compare]\nbaseline = { lambda = 0 }";
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("p.toml");
    fs::write(
        &file,
        format!(
            "name = \"p\"\nsave_predictions = true\n[data]\ndataset = \"mnist\"\n\
             train_subset = 500\n[model]\nhidden_size = 32\n[train]\nepochs = 2\n[grid]\n{grid}\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("results");
    let output = sweep()
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let results = out.join("p");
    let mcnemar = Table::read(&results.join("mcnemar.csv"));
    assert_eq!(mcnemar.rows.len(), 2, "one row per seed");
    let runs = Table::read(&results.join("runs.csv"));
    let correct = |id: &str| -> usize {
        let row = runs
            .rows
            .iter()
            .find(|r| runs.get(r, "run_id") == id)
            .unwrap();
        let acc: f64 = runs.get(row, "final_test_acc").parse().unwrap();
        (acc * 10_000.0).round() as usize
    };
    for row in &mcnemar.rows {
        let count = |name: &str| -> usize { mcnemar.get(row, name).parse().unwrap() };
        let total = [
            "both_right",
            "only_configuration_right",
            "only_baseline_right",
            "both_wrong",
        ]
        .map(count)
        .iter()
        .sum::<usize>();
        assert_eq!(total, 10_000);
        assert_eq!(
            count("both_right") + count("only_configuration_right"),
            correct(mcnemar.get(row, "run_id"))
        );
        assert_eq!(
            count("both_right") + count("only_baseline_right"),
            correct(mcnemar.get(row, "baseline_run_id"))
        );
        let p: f64 = mcnemar.get(row, "p_value").parse().unwrap();
        assert!((0.0..=1.0).contains(&p));
    }
    // Without save_predictions there is no table.
    let (_tmp, plain) = run_sweep(
        "plain",
        "lambda = [0, 0.1]\n[compare]\nbaseline = { lambda = 0 }",
    );
    assert!(plain.join("compare.csv").is_file());
    assert!(!plain.join("mcnemar.csv").exists());
}

#[test]
fn a_stratified_baseline_compares_each_configuration_at_its_own_learning_rate() {
    let grid = "lambda = [0, 0.01]\nlearning_rate = [0.05, 0.1]\nseed = { count = 2 }\n\
                [compare]\nbaseline = { lambda = 0 }\nwithin = [\"learning_rate\"]";
    let (_tmp, dir) = run_sweep("strata", grid);
    // The report compares as the experiment says.
    let compare = Table::read(&dir.join("compare.csv"));
    assert_eq!(
        compare.rows.len(),
        2 * 2,
        "λ = 0.01 at each rate, two metrics"
    );
    for row in &compare.rows {
        let config = compare.get(row, "configuration");
        let rate = config
            .split(' ')
            .find(|p| p.starts_with("learning_rate="))
            .unwrap();
        assert!(config.contains("lambda=0.01"), "{config}");
        let baseline = compare.get(row, "baseline");
        assert!(
            baseline.contains(rate) && baseline.contains("lambda=0"),
            "{config} against {baseline}"
        );
        // Holm over all four rows; the simultaneous interval is the wider.
        let (lo, hi): (f64, f64) = (
            compare.get(row, "ci95_low").parse().unwrap(),
            compare.get(row, "ci95_high").parse().unwrap(),
        );
        let (slo, shi): (f64, f64) = (
            compare.get(row, "ci_simultaneous_low").parse().unwrap(),
            compare.get(row, "ci_simultaneous_high").parse().unwrap(),
        );
        assert!(slo < lo && shi > hi, "{slo} {lo} {hi} {shi}");
    }
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("within each learning_rate") && html.contains("its baseline"));

    // The same from the command line; without --within the baseline is
    // ambiguous and the refusal lists only the two configurations it matched.
    let out = sweep()
        .args([
            "compare",
            "--baseline",
            "lambda=0",
            "--within",
            "learning_rate",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Holm-adjusted over 4 comparisons"));
    let out = sweep()
        .args(["compare", "--baseline", "lambda=0"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("2 configurations have it")
            && err.contains("--within")
            && !err.contains("lambda=0.01"),
        "{err}"
    );
}
