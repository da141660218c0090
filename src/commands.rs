//! What each subcommand does, from parsed arguments to printed output.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{BenchArgs, CompareArgs, PlanArgs, ReportArgs, RunArgs, SlurmArgs, StatusArgs};
use crate::config::Experiment;
use crate::interrupt;
use crate::report::{self, ReportOutcome, compare, summary};
use crate::results::write_atomic;
use crate::sweep::{self, RunOptions};

/// `sweep run`: trains the grid and says where the results went. The exit
/// code is 0 when every run has a record and none failed, 1 when a run
/// failed, 130 when a signal stopped the sweep.
pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let exp = Experiment::load(&args.file)?;
    let opts = run_options(args);
    interrupt::install(opts.stop.clone());
    let summary = sweep::run(&exp, &opts)?;
    let mut out = std::io::stdout().lock();
    print_run_summary(&mut out, &exp, args, &opts, &summary)?;
    print_run_problems(&mut out, args, &opts, &summary)?;
    Ok(if summary.stopped && interrupt::interrupted_by_signal() {
        ExitCode::from(interrupt::EXIT_INTERRUPTED)
    } else if !summary.failed.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The sweep's options from `sweep run`'s flags, with a fresh stop token.
fn run_options(args: &RunArgs) -> RunOptions {
    RunOptions {
        jobs: match args.jobs {
            Some(j) => usize::from(j),
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        },
        out: args.out.clone(),
        fresh: args.fresh,
        quiet: args.quiet,
        retry_failed: args.retry_failed,
        fail_fast: args.fail_fast,
        yes: args.yes,
        shard: args.shard,
        rung: args.rung.map(usize::from),
        kernel: args.kernel,
        switch_kernel: args.switch_kernel,
        stop: interrupt::StopToken::new(),
        report_every: (args.report_every > 0)
            .then(|| std::time::Duration::from_secs(u64::from(args.report_every))),
    }
}

/// What `sweep run` did, and where the results are.
fn print_run_summary(
    out: &mut impl Write,
    exp: &Experiment,
    args: &RunArgs,
    opts: &RunOptions,
    summary: &sweep::SweepSummary,
) -> Result<()> {
    let diverged = match summary.diverged {
        0 => String::new(),
        n => format!(", {n} diverged"),
    };
    let failed = match summary.failed.len() {
        0 => String::new(),
        n => format!(", {n} FAILED"),
    };
    let shard = args
        .shard
        .map_or(String::new(), |s| format!(" (shard {s})"));
    if let Some(rung) = args.rung {
        writeln!(
            out,
            "{} rung {rung}{shard}: {} runs ({} trained now, {} already there{diverged}{failed}) \
             in {:.1} s\nresults: {}\n  paused runs in checkpoints/; `{}` after the last rung \
             makes the decisions and writes rungs.csv, the tables and the report",
            exp.name,
            summary.total,
            summary.trained,
            summary.reused,
            summary.seconds,
            summary.dir.display(),
            crate::shell::command_line("run", &args.file, &opts.out)
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{}{shard}: {} runs ({} trained now, {} reused{diverged}{failed}) in {:.1} s",
        exp.name, summary.total, summary.trained, summary.reused, summary.seconds
    )?;
    if let Some(headline) = summary.report.as_ref().and_then(|r| r.headline.as_ref()) {
        writeln!(out, "{headline}")?;
    }
    writeln!(out, "results: {}", summary.dir.display())?;
    writeln!(
        out,
        "  runs.csv     one row per run (final and best metrics)"
    )?;
    writeln!(
        out,
        "  epochs.csv   one row per run and epoch (learning curves)"
    )?;
    match &summary.report {
        Some(report) => print_report(out, report)?,
        None => writeln!(
            out,
            "  other shards still run in this folder: the last to end writes runs.csv, \
             epochs.csv and the report in grid order"
        )?,
    }
    Ok(())
}

/// Runs that failed, and a sweep stopped before its end: what to do next.
fn print_run_problems(
    out: &mut impl Write,
    args: &RunArgs,
    opts: &RunOptions,
    summary: &sweep::SweepSummary,
) -> Result<()> {
    if !summary.failed.is_empty() {
        writeln!(
            out,
            "{} run(s) FAILED (message in runs/<id>/error.txt; `{}` trains them again):",
            summary.failed.len(),
            opts.command(&args.file, "--retry-failed")
        )?;
        write_some(out, &summary.failed, 20, "(`sweep status` lists them all)")?;
    }
    if summary.stopped && summary.missing > 0 {
        writeln!(
            out,
            "stopped with {} of {} runs not done; run `{}` again to resume",
            summary.missing,
            summary.total,
            opts.command(&args.file, "")
        )?;
    }
    Ok(())
}

/// `sweep compare`: every configuration against the baseline, printed and
/// written to `compare.csv` in the results folder.
pub fn compare(args: &CompareArgs) -> Result<()> {
    let results = report::SweepResults::load(&args.dir)?;
    let configs = summary::configs(&results.grid.runs, &results.swept, &results.runs);
    let mut out = std::io::stdout().lock();
    if let Some(other_dir) = &args.other {
        if !args.baseline.is_empty() {
            return Err(crate::bad_input!(
                "--baseline compares configurations within one results folder; with two \
                 folders, configurations are matched on their settings instead"
            ));
        }
        let other = report::SweepResults::load(other_dir)?;
        let other_configs = summary::configs(&other.grid.runs, &other.swept, &other.runs);
        let (rows, unmatched) = compare::between(
            (&configs, &results.grid.dataset),
            (&other_configs, &other.grid.dataset),
            &other.manifest.name,
        );
        let path = args
            .dir
            .join(format!("compare_with_{}.csv", other.manifest.name));
        writeln!(
            out,
            "{} against {}: {} configuration(s) with the same settings in both; p-values \
             Holm-adjusted over {} comparisons",
            args.dir.display(),
            other_dir.display(),
            rows.len() / compare::COMPARED.len(),
            rows.iter().filter(|r| r.p_holm.is_some()).count()
        )?;
        print_comparisons(&mut out, &rows, true)?;
        if !unmatched.is_empty() {
            writeln!(
                out,
                "{} configuration(s) of {} have no match in {} and are left out:",
                unmatched.len(),
                args.dir.display(),
                other_dir.display()
            )?;
            write_some(&mut out, &unmatched, 10, "")?;
        }
        write_atomic(&path, &compare::compare_csv(&rows)?)?;
        writeln!(out, "  compare.csv  {}", path.display())?;
        return Ok(());
    }
    let wanted = if args.baseline.is_empty() {
        &results.manifest.baseline
    } else {
        &args.baseline
    };
    // --within applies to the baseline given with it; the experiment's
    // `within` goes with the experiment's baseline.
    let within = match args.baseline.is_empty() {
        true if args.within.is_empty() => &results.manifest.within,
        _ => &args.within,
    };
    let against = compare::stratified(&configs, wanted, within, &results.grid.dataset)?;
    let rows = &against.rows;
    let test_images = compare::test_images(&results.grid.dataset);
    let baseline = &configs[against.pairs.first().map_or(0, |p| p.1)];
    let path = args.dir.join("compare.csv");
    write_atomic(&path, &compare::compare_csv(rows)?)?;
    let tested = rows.iter().filter(|r| r.p_holm.is_some()).count();
    writeln!(
        out,
        "{}: {} configuration(s) against {} ({} seed(s)); p-values Holm-adjusted over {tested} \
         comparisons",
        args.dir.display(),
        against.pairs.len(),
        match against.stratified() {
            true => against.title.clone(),
            false => baseline.label.clone(),
        },
        baseline.finished.len()
    )?;
    print_comparisons(&mut out, rows, against.stratified())?;
    if !against.unmatched.is_empty() {
        writeln!(
            out,
            "{} configuration(s) have no baseline at their own values and are left out:",
            against.unmatched.len()
        )?;
        write_some(&mut out, &against.unmatched, 10, "")?;
    }
    if let Some(n) = test_images {
        writeln!(
            out,
            "The intervals cover the randomness of training (initialisation, batches) over \
             seeds, not the choice of the {n} test images: each test accuracy also carries a \
             binomial standard error of √(p(1 − p)/n), about {:.2} points at the baseline \
             (compare.csv: binomial_se).",
            100.0
                * crate::report::difference::binomial_se(
                    baseline
                        .metric(summary::Metric::TestAcc)
                        .mean
                        .unwrap_or(0.0),
                    n
                )
        )?;
    }
    writeln!(out, "  compare.csv  {}", path.display())?;
    let pairs = crate::report::write_mcnemar(&args.dir, &configs, &against.pairs)?;
    if pairs > 0 {
        writeln!(
            out,
            "  mcnemar.csv  {} (McNemar's exact test, {pairs} pairs of runs of the same seed)",
            args.dir.join("mcnemar.csv").display()
        )?;
    }
    Ok(())
}

/// The comparison table `sweep compare` prints.
fn print_comparisons(
    out: &mut impl Write,
    rows: &[compare::Comparison],
    each_own_baseline: bool,
) -> Result<()> {
    writeln!(
        out,
        "  {:<28} {:<9} {:<7} {:>24} {:>9} {:>7} {:>7}{}",
        "configuration",
        "metric",
        "test",
        "difference [simult. CI], pts",
        "p (Holm)",
        "g",
        "P(A>B)",
        if each_own_baseline { "  baseline" } else { "" }
    )?;
    let pts = |x: f64| format!("{:+.2}", 100.0 * x);
    let opt = |x: Option<f64>, f: &dyn Fn(f64) -> String| x.map_or("—".to_string(), f);
    for r in rows {
        let d = &r.difference;
        // The interval that agrees with the Holm-adjusted p beside it
        // (simultaneous over the rows; compare.csv has the unadjusted one).
        let ci = r.ci_simultaneous.map_or(String::new(), |(lo, hi)| {
            format!(" [{}, {}]", pts(lo), pts(hi))
        });
        writeln!(
            out,
            "  {:<28} {:<9} {:<7} {:>24} {:>9} {:>7} {:>7}{}",
            r.config,
            r.metric,
            d.test.as_str(),
            format!("{}{ci}", pts(d.mean)),
            opt(r.p_holm, &|p| format!("{p:.3}")),
            opt(d.hedges_g, &|g| format!("{g:+.2}")),
            opt(d.prob_greater, &|p| format!("{p:.2}")),
            if each_own_baseline {
                format!("  {}", r.against)
            } else {
                String::new()
            },
        )?;
    }
    Ok(())
}

/// `sweep report`: rebuilds the report of a results folder.
pub fn report(args: &ReportArgs) -> Result<()> {
    let outcome = report::write(&args.dir)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: {} of {} runs finished, {} configurations",
        args.dir.display(),
        outcome.runs_done,
        outcome.runs_total,
        outcome.configs
    )?;
    print_report(&mut out, &outcome)?;
    if let Some(note) = &outcome.note {
        writeln!(out, "note: {note}")?;
    }
    if !outcome.damaged.is_empty() {
        writeln!(
            out,
            "{} run record(s) are damaged or incomplete and were left out (`sweep run` trains \
             them again):",
            outcome.damaged.len()
        )?;
        write_some(&mut out, &outcome.damaged, 20, "")?;
    }
    if !outcome.missing.is_empty() {
        writeln!(
            out,
            "missing {} run(s) (the report covers the finished ones):",
            outcome.missing.len()
        )?;
        write_some(
            &mut out,
            &outcome.missing,
            50,
            "(`sweep status` counts them)",
        )?;
    }
    Ok(())
}

/// The first `most` of `lines`, indented, then how many more there are
/// (with `hint` after the count): a sweep of thousands of runs must not
/// flood the terminal.
fn write_some(out: &mut impl Write, lines: &[String], most: usize, hint: &str) -> Result<()> {
    for line in lines.iter().take(most) {
        writeln!(out, "  {line}")?;
    }
    if lines.len() > most {
        let hint = if hint.is_empty() {
            String::new()
        } else {
            format!(" {hint}")
        };
        writeln!(out, "  … and {} more{hint}", lines.len() - most)?;
    }
    Ok(())
}

/// The report files' lines of the output.
fn print_report(out: &mut impl Write, report: &ReportOutcome) -> Result<()> {
    writeln!(
        out,
        "  summary.csv  one row per configuration (mean, sd, 95 % CI over seeds)"
    )?;
    writeln!(
        out,
        "  plots/       {} plots (SVG and PNG)",
        report.plots.len() / 2
    )?;
    writeln!(out, "  report.html  {}", report.html.display())?;
    if !report.crossings.is_empty() {
        writeln!(
            out,
            "interpolation threshold and double descent (means over seeds):"
        )?;
        for line in report.crossings.iter().flat_map(|c| c.lines()) {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(())
}

/// `sweep plan`: prints the expanded grid and the work it needs.
pub fn plan(args: &PlanArgs) -> Result<()> {
    let exp = Experiment::load(&args.file)?;
    let data = sweep::load_data(&exp)?;
    let planned = sweep::plan(&exp, &data);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: {} runs on {}",
        exp.name,
        exp.runs.len(),
        exp.dataset_label
    )?;
    if !exp.description.is_empty() {
        writeln!(out, "{}", exp.description.trim())?;
    }
    let mut header = vec!["run_id".to_string()];
    header.extend(exp.swept.iter().map(|k| k.name().to_string()));
    header.push("train_images".into());
    header.push("GFLOP".into());
    let rows: Vec<Vec<String>> = planned
        .iter()
        .map(|p| {
            let mut row = vec![p.spec.id.clone()];
            row.extend(exp.swept.iter().map(|&k| p.spec.params.text(k)));
            row.push(p.train_samples.to_string());
            row.push(format!("{:.1}", p.flops as f64 / 1e9));
            row
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect();
        writeln!(out, "{}", cells.join("  "))?;
    }
    let total: u64 = planned.iter().map(|p| p.flops).sum();
    writeln!(
        out,
        "total work: {:.1} GFLOP over {} runs",
        total as f64 / 1e9,
        planned.len()
    )?;
    writeln!(out, "fixed settings: {}", fixed_settings(&exp))?;
    if let Some(sampled) = &exp.sampled {
        writeln!(
            out,
            "{} search: {} points (search seed {}) × {} seed(s)",
            sampled.method,
            sampled.samples,
            sampled.seed,
            (exp.runs.len() + exp.merged_points) / sampled.samples.max(1)
        )?;
    }
    if let Some(halving) = &exp.search.halving {
        let shapes = sweep::shapes(&exp, halving);
        let trained: usize = shapes.iter().map(|s| s.run_epochs).sum();
        let full = exp.runs.len() * halving.max_epochs;
        let per_rung = |shape: &sweep::BracketShape| {
            shape
                .configurations
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" → ")
        };
        let layout = match shapes.as_slice() {
            [one] if one.bracket.is_none() => format!("configurations per rung {}", per_rung(one)),
            _ => shapes
                .iter()
                .map(|s| {
                    format!(
                        "bracket s = {}: {} configurations from {} epochs",
                        s.bracket.unwrap_or(0),
                        per_rung(s),
                        s.rungs.first().copied().unwrap_or(0)
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        };
        writeln!(
            out,
            "successive halving: {}; {layout}; it trains {trained} run-epochs, {:.1} % of the \
             {full} of every run to {} epochs (which the total work above is for)",
            halving.describe(),
            100.0 * trained as f64 / full.max(1) as f64,
            halving.max_epochs
        )?;
    }
    if let Some(note) = exp.search.note() {
        writeln!(out, "{note}")?;
    }
    if exp.merged_points > 0 && exp.sampled.is_some() {
        writeln!(
            out,
            "note: {} drawn run(s) fell on a configuration drawn before (or differ from one \
             only in settings it does not use); each network is planned once",
            exp.merged_points
        )?;
    } else if exp.merged_points > 0 {
        writeln!(
            out,
            "note: {} grid point(s) differ from another only in settings their optimizer, \
             schedule or widths do not use (shown blank); each network is planned once",
            exp.merged_points
        )?;
    }
    Ok(())
}

/// `key=value` of every setting the grid does not vary.
fn fixed_settings(exp: &Experiment) -> String {
    let first = &exp.runs[0].params;
    crate::config::Key::ALL
        .iter()
        .filter(|k| !exp.swept.contains(k) && k.applies_to(first))
        .filter_map(|&k| {
            let v = first.text(k);
            let shown = if v.is_empty() { k.absent_text()? } else { &v };
            Some(format!("{}={shown}", k.name()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `sweep bench`: measures what this machine does with sweep's workloads.
pub fn bench(args: &BenchArgs) -> Result<()> {
    use crate::bench::{self, BenchOptions};
    use crate::config::RunParams;
    use crate::nn::KernelRequest;

    let jobs = match args.jobs {
        Some(j) => usize::from(j),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let (exp, data) = match &args.file {
        Some(file) => {
            let exp = Experiment::load(file)?;
            let data = sweep::load_data(&exp)?;
            (Some(exp), data)
        }
        None => {
            let source = crate::data::DataSource::Named("mnist".into());
            let data = crate::data::Dataset::load(&source, std::path::Path::new("."))?;
            (None, data)
        }
    };
    let mut params = exp
        .as_ref()
        .map_or_else(RunParams::default, |e| e.runs[0].params.clone());
    if exp.is_none() {
        params.epochs = 3;
    }
    if args.quick {
        params.epochs = 1;
        params.train_subset = Some(params.train_subset.unwrap_or(5000).min(5000));
    } else {
        params.epochs = params.epochs.clamp(1, 3);
    }
    let kernel = args.kernel.unwrap_or(KernelRequest::Auto);
    if let Some(index) = args.as_worker {
        let KernelRequest::Use(kernel) = kernel else {
            anyhow::bail!("--as-worker needs --kernel gemm or matrixmultiply");
        };
        return bench::serve_as_worker(&params, &data, kernel, index);
    }
    let mut worker_args: Vec<String> = vec!["bench".into()];
    worker_args.extend(args.file.iter().map(|f| f.to_string_lossy().into_owned()));
    if args.quick {
        worker_args.push("--quick".into());
    }
    let opts = BenchOptions {
        quick: args.quick,
        jobs,
        kernel,
        worker_args,
    };
    let mut out = std::io::stdout().lock();
    let rates = bench::report(&params, &data, &opts, &mut out)?;

    if let Some(exp) = &exp {
        let planned = sweep::plan(exp, &data);
        // Each run's time from its work at the rates just measured.
        let size = crate::shard::DataSize::of(&data);
        let run_seconds: f64 = planned
            .iter()
            .map(|p| {
                let work = crate::shard::Work::of(&p.spec.params, size);
                work.train_flops as f64 / (rates.train * 1e9)
                    + work.eval_flops as f64 / (rates.eval * 1e9)
            })
            .sum();
        let wall = run_seconds / rates.speedup.max(1.0).min(planned.len() as f64);
        writeln!(
            out,
            "{}: {} runs, about {:.0} s of compute → {:.0} s on {jobs} worker(s), {:.0} runs per hour",
            exp.name,
            planned.len(),
            run_seconds,
            wall,
            planned.len() as f64 * 3600.0 / wall
        )?;
    }
    Ok(())
}

/// `sweep slurm`: writes the array and report scripts, and prints or
/// submits them.
pub fn slurm(args: &SlurmArgs) -> Result<()> {
    use crate::cluster;
    use crate::slurm::{GivenOptions, SlurmOptions, SubmitOptions, current_binary};

    let exp = Experiment::load(&args.file)?;
    let base = SlurmOptions {
        binary: current_binary()?,
        workdir: std::env::current_dir()
            .map_err(|e| anyhow::anyhow!("cannot read the working folder: {e}"))?,
        experiment: args.file.clone(),
        out: args.out.clone(),
        name: exp.name.clone(),
        submit: SubmitOptions::default(),
        kernel: args.kernel,
    };
    // A kernel the folder would refuse is refused now, not in every task.
    let folder = crate::results::ResultsDir::new(base.results_dir(), &exp.dataset_label);
    sweep::check_kernel_request(&exp, &kernel_check_options(args), &folder)?;
    let given = GivenOptions {
        tasks: args.tasks.map(|t| t as usize),
        cpus_per_task: args.cpus_per_task.map(|c| c as usize),
        mem: args.mem.clone(),
        time: args.time.clone(),
        partition: args.partition.clone(),
        max_parallel: args.max_parallel.map(|p| p as usize),
        extra: args.extra_sbatch.clone(),
    };
    let results = base.results_dir();
    if let Some(halving) = &exp.search.halving {
        let outcome =
            cluster::halving::prepare(&exp, halving, base, &given, args.submit, args.retry)?;
        return print_halving_submission(&exp, args, &results, &outcome);
    }
    let outcome = cluster::prepare(&exp, base, &given, args.submit, args.retry)?;
    print_submission(&exp, args, &results, &outcome)
}

/// What `sweep slurm` says about the sweep it wrote (and submitted).
fn print_submission(
    exp: &Experiment,
    args: &SlurmArgs,
    results: &std::path::Path,
    outcome: &crate::cluster::SlurmOutcome,
) -> Result<()> {
    let again = crate::shell::command_line("slurm", &args.file, &args.out);
    let mut out = std::io::stdout().lock();
    let sizes: Vec<String> = outcome
        .runs_per_shard
        .iter()
        .map(|n| n.to_string())
        .collect();
    writeln!(
        out,
        "{}: {} runs in {} shards of {} runs (balanced by estimated work)",
        exp.name,
        exp.runs.len(),
        outcome.tasks,
        sizes.join(", ")
    )?;
    writeln!(
        out,
        "scripts: {}/{{sweep.sbatch, report.sbatch, shards.json}}, logs in {}/logs/",
        outcome.script_dir.display(),
        outcome.script_dir.display()
    )?;
    writeln!(out, "options: {}", outcome.options)?;
    if let Some(note) = &outcome.note {
        writeln!(out, "note: {note}")?;
    }
    if args.retry {
        if outcome.changed.is_empty() {
            writeln!(out, "kept the first submission's options")?;
        } else {
            writeln!(
                out,
                "changed from the first submission: {}",
                outcome.changed.join(", ")
            )?;
        }
    }
    if !outcome.shards_alive.is_empty() {
        writeln!(
            out,
            "left alone: shard(s) {} still queued or running",
            outcome
                .shards_alive
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    if args.retry && outcome.shards_submitted.is_empty() {
        writeln!(
            out,
            "nothing to retry: every shard has finished all its runs or is queued or running"
        )?;
        return Ok(());
    }
    match outcome.submitted {
        Some((array, report)) => {
            let which = if args.retry {
                format!(
                    "shards {} of {}",
                    outcome
                        .shards_submitted
                        .iter()
                        .map(|k| k.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    outcome.tasks
                )
            } else {
                format!("{} shards", outcome.tasks)
            };
            writeln!(
                out,
                "submitted array job {array} ({which}) and report job {report} (after it)"
            )?;
            writeln!(out, "watch it with: sweep status {}", results.display())?;
            writeln!(out, "if tasks fail or are cancelled: {again} --retry")?;
        }
        None => {
            writeln!(out, "submit with:")?;
            for line in outcome.commands.lines() {
                writeln!(out, "  {line}")?;
            }
            writeln!(out, "(or run `{again} {} --submit`)", outcome.options)?;
        }
    }
    Ok(())
}

/// The options `sweep slurm` checks its `--kernel` with, as the tasks'
/// `sweep run` will see it.
fn kernel_check_options(args: &SlurmArgs) -> RunOptions {
    RunOptions {
        jobs: 1,
        out: args.out.clone(),
        fresh: false,
        quiet: true,
        retry_failed: false,
        fail_fast: false,
        yes: false,
        shard: None,
        rung: None,
        kernel: args.kernel,
        switch_kernel: false,
        stop: crate::interrupt::StopToken::new(),
        report_every: None,
    }
}

/// What `sweep slurm` says about a halving search it wrote (and submitted).
fn print_halving_submission(
    exp: &Experiment,
    args: &SlurmArgs,
    results: &std::path::Path,
    outcome: &crate::cluster::halving::HalvingOutcome,
) -> Result<()> {
    let again = crate::shell::command_line("slurm", &args.file, &args.out);
    let mut out = std::io::stdout().lock();
    let search = match exp.search.is_hyperband() {
        true => "Hyperband (rung r: every bracket's r-th rung)",
        false => "successive halving",
    };
    writeln!(
        out,
        "{}: {search} in {} rungs, one array job each, each after the one before:",
        exp.name,
        outcome.rungs.len()
    )?;
    for (r, (epochs, runs, tasks)) in outcome.rungs.iter().enumerate() {
        writeln!(
            out,
            "  rung {}: {runs} runs to {epochs} epochs in {tasks} task(s)",
            r + 1
        )?;
    }
    writeln!(
        out,
        "  then decide.sbatch: `sweep run` makes the decisions and writes the report"
    )?;
    writeln!(
        out,
        "scripts: {}/{{rung-*.sbatch, decide.sbatch, halving.json}}, logs in {}/logs/",
        outcome.script_dir.display(),
        outcome.script_dir.display()
    )?;
    writeln!(out, "options: {}", outcome.options)?;
    if args.retry {
        match outcome.from_rung {
            Some(r) => writeln!(out, "resubmitting from rung {r}, the first with work left")?,
            None => writeln!(out, "every rung is done; resubmitting the decide job")?,
        }
        if !outcome.changed.is_empty() {
            writeln!(
                out,
                "changed from the first submission: {}",
                outcome.changed.join(", ")
            )?;
        }
    }
    if outcome.submitted.is_empty() {
        writeln!(out, "submit with:")?;
        for line in outcome.commands.lines() {
            writeln!(out, "  {line}")?;
        }
        writeln!(out, "(or run `{again} {} --submit`)", outcome.options)?;
    } else {
        let ids: Vec<String> = outcome.submitted.iter().map(|j| j.to_string()).collect();
        writeln!(out, "submitted jobs {} (in that order)", ids.join(", "))?;
        writeln!(out, "watch it with: sweep status {}", results.display())?;
        writeln!(out, "if a rung fails or is cancelled: {again} --retry")?;
    }
    Ok(())
}

/// `sweep status`: finished, running, failed and missing runs.
pub fn status(args: &StatusArgs) -> Result<()> {
    // An experiment file names its folder: the one `sweep run` writes.
    let dir = match args.dir.is_file() {
        true => {
            let exp = Experiment::load(&args.dir)?;
            crate::sweep::results_dir(&exp, &args.out)
        }
        false => args.dir.clone(),
    };
    let s = crate::cluster::status(&dir)?;
    let mut out = std::io::stdout().lock();
    if dir != args.dir {
        writeln!(out, "results: {}", dir.display())?;
    }
    let line = |name: String, s: &crate::cluster::ShardStatus| {
        format!(
            "{name:<10} {:>5} {:>9} {:>9} {:>7} {:>8}  {}",
            s.runs,
            s.finished,
            s.diverged,
            s.failed,
            s.missing,
            if s.running { "running" } else { "" }
        )
    };
    writeln!(
        out,
        "{:<10} {:>5} {:>9} {:>9} {:>7} {:>8}",
        "", "runs", "finished", "diverged", "failed", "missing"
    )?;
    for shard in &s.shards {
        writeln!(out, "{}", line(format!("shard {}", shard.index), shard))?;
    }
    writeln!(out, "{}", line("all".into(), &s.total))?;
    if s.paused > 0 {
        writeln!(
            out,
            "{} of the missing run(s) are paused at a successive-halving rung (checkpoints/)",
            s.paused
        )?;
    }
    for failure in &s.failures {
        writeln!(out, "failed: {failure}")?;
    }
    if let Some(kernel) = &s.kernel {
        writeln!(out, "kernel: {kernel}")?;
    }
    if let Some(note) = crate::results::kernel_note(&s.kernels) {
        writeln!(out, "note: {note}")?;
    }
    Ok(())
}
