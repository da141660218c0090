//! What each subcommand does, from parsed arguments to printed output.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{PlanArgs, ReportArgs, RunArgs};
use crate::config::Experiment;
use crate::interrupt;
use crate::report::{self, ReportOutcome};
use crate::sweep::{self, RunOptions};

/// `sweep run`: trains the grid and says where the results went. The exit
/// code is 0 when every run has a record and none failed, 1 when a run
/// failed, 130 when a signal stopped the sweep.
pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let exp = Experiment::load(&args.file)?;
    let jobs = match args.jobs {
        Some(j) => usize::from(j),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let opts = RunOptions {
        jobs,
        out: args.out.clone(),
        fresh: args.fresh,
        quiet: args.quiet,
        retry_failed: args.retry_failed,
        fail_fast: args.fail_fast,
        yes: args.yes,
    };
    interrupt::install();
    let summary = sweep::run(&exp, &opts)?;
    let mut out = std::io::stdout().lock();
    let diverged = match summary.diverged {
        0 => String::new(),
        n => format!(", {n} diverged"),
    };
    let failed = match summary.failed.len() {
        0 => String::new(),
        n => format!(", {n} FAILED"),
    };
    writeln!(
        out,
        "{}: {} runs ({} trained now, {} reused{diverged}{failed}) in {:.1} s",
        exp.name, summary.total, summary.trained, summary.reused, summary.seconds
    )?;
    writeln!(out, "results: {}", summary.dir.display())?;
    writeln!(
        out,
        "  runs.csv     one row per run (final and best metrics)"
    )?;
    writeln!(
        out,
        "  epochs.csv   one row per run and epoch (learning curves)"
    )?;
    print_report(&mut out, &summary.report)?;
    if !summary.failed.is_empty() {
        writeln!(
            out,
            "{} run(s) FAILED (message in runs/<id>/error.txt; `sweep run {} --retry-failed` trains them again):",
            summary.failed.len(),
            args.file.display()
        )?;
        for failure in &summary.failed {
            writeln!(out, "  {failure}")?;
        }
    }
    if summary.stopped && summary.missing > 0 {
        writeln!(
            out,
            "stopped with {} of {} runs not done; run `sweep run {}` again to resume",
            summary.missing,
            summary.total,
            args.file.display()
        )?;
    }
    Ok(if summary.stopped && interrupt::interrupted_by_signal() {
        ExitCode::from(interrupt::EXIT_INTERRUPTED)
    } else if !summary.failed.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
    if !outcome.missing.is_empty() {
        writeln!(
            out,
            "missing {} run(s) (the report covers the finished ones):",
            outcome.missing.len()
        )?;
        for run in &outcome.missing {
            writeln!(out, "  {run}")?;
        }
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
    Ok(())
}

/// `key=value` of every setting the grid does not vary.
fn fixed_settings(exp: &Experiment) -> String {
    let first = &exp.runs[0].params;
    crate::config::Key::ALL
        .iter()
        .filter(|k| !exp.swept.contains(k))
        .map(|&k| {
            let v = first.text(k);
            format!(
                "{}={}",
                k.name(),
                if v.is_empty() { "all".into() } else { v }
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}
