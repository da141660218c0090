//! The command line: `sweep run`, `sweep plan`, `sweep report` and their
//! flags (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Train many small neural networks across a grid of weight decay, learning
/// rate, width and seed, and measure the gap between training and test
/// accuracy.
#[derive(Debug, Parser)]
#[command(name = "sweep", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train every run of an experiment's grid (resuming where it stopped)
    /// and write CSV results under results/<name>/.
    Run(RunArgs),
    /// Print the runs an experiment expands to and the work they need,
    /// without training.
    Plan(PlanArgs),
    /// Rebuild summary.csv, the plots and report.html of a results folder
    /// from the files in it (also for a sweep that is only partly done).
    Report(ReportArgs),
    /// Measure this machine: FMA peak, GEMM rates, seconds per training
    /// epoch and evaluation, parallel speed-up, and runs per hour for an
    /// experiment.
    Bench(BenchArgs),
}

/// Flags of `sweep run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The experiment file (TOML), e.g. experiments/lambda.toml.
    pub file: PathBuf,
    /// Runs trained at once (default: one per core).
    #[arg(short, long, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Folder in which the sweep's results folder <name>/ is made.
    #[arg(short, long, default_value = "results")]
    pub out: PathBuf,
    /// Discard this sweep's earlier results instead of resuming.
    #[arg(long)]
    pub fresh: bool,
    /// Show no progress; print only the final summary.
    #[arg(short, long)]
    pub quiet: bool,
    /// Train again the runs that failed in an earlier invocation (missing
    /// runs are trained in any case).
    #[arg(long)]
    pub retry_failed: bool,
    /// Stop the whole sweep at the first run that fails.
    #[arg(long)]
    pub fail_fast: bool,
    /// Start even if the memory estimate exceeds the memory available.
    #[arg(long)]
    pub yes: bool,
}

/// Flags of `sweep plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The experiment file (TOML).
    pub file: PathBuf,
}

/// Flags of `sweep bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Experiment whose first run's network is timed and whose runs per
    /// hour are estimated (default: the notebook's 784-200-200-10 on all of
    /// MNIST).
    pub file: Option<PathBuf>,
    /// Workers for the parallel measurement (default: one per core).
    #[arg(short, long, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// A few seconds instead of about a minute: shorter timings, 5 000
    /// training images, one epoch (numbers are rougher).
    #[arg(long)]
    pub quick: bool,
}

/// Flags of `sweep report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The sweep's results folder, e.g. results/lambda.
    pub dir: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
