//! The command line (clap derive): `sweep run`, `plan`, `report`,
//! `compare`, `bench`, `slurm` and `status` with their flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::nn::KernelRequest;

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
    /// Compare every configuration of a results folder with a baseline
    /// configuration, or with the same configuration in a second results
    /// folder: differences in gap and test accuracy with 95 % intervals,
    /// Holm-adjusted p-values, Hedges' g and P(A > B), written to a CSV file.
    Compare(CompareArgs),
    /// Measure this machine: FMA peak, GEMM rates, seconds per training
    /// epoch and evaluation, parallel speed-up, and runs per hour for an
    /// experiment.
    Bench(BenchArgs),
    /// Run the sweep as a Slurm array job: write the sbatch scripts under
    /// results/<name>/slurm/ and print the commands (or submit with
    /// --submit, or resubmit unfinished shards with --retry).
    Slurm(SlurmArgs),
    /// Show finished, running, failed and missing runs of a results folder,
    /// per shard when it was submitted with `sweep slurm`.
    Status(StatusArgs),
}

/// Most runs trained at once (`--jobs`): each is a thread, and more than
/// this would only make them wait for each other.
pub const MAX_JOBS: i64 = 1024;

/// Flags of `sweep run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The experiment file (TOML), e.g. experiments/lambda.toml.
    pub file: PathBuf,
    /// Runs trained at once (default: one per core; never more than there
    /// are runs to train).
    #[arg(short, long, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u16).range(1..=MAX_JOBS))]
    pub jobs: Option<u16>,
    /// Folder in which the sweep's results folder <name>/ is made.
    #[arg(short, long, default_value = crate::results::DEFAULT_OUT)]
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
    /// Train only shard K of N (0 ≤ K < N): a fixed, cost-balanced part of
    /// the grid; shards 0/N … N-1/N together cover every run once and may
    /// run at the same time into the same folder. In a Slurm array job:
    /// --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT.
    #[arg(long, value_name = "K/N", allow_hyphen_values = true)]
    pub shard: Option<crate::shard::Shard>,
    /// For a successive-halving search: train only rung R (1 = the first)
    /// of the configurations the earlier rungs promoted, up to its epochs,
    /// and decide nothing (what the Slurm jobs of `sweep slurm` run; a
    /// plain `sweep run` afterwards makes every decision). With --shard,
    /// only that shard of the rung's runs.
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u16).range(1..))]
    pub rung: Option<u16>,
    /// The GEMM kernel of a new results folder: auto (the faster on this
    /// CPU, measured on the network's training step), gemm (AVX-512 where
    /// the CPU has it) or matrixmultiply (the same bits on every x86-64
    /// with AVX2 and FMA). Default: the experiment file's `kernel`, else
    /// auto. A folder keeps the kernel it was started with.
    #[arg(long, value_name = "KERNEL", value_parser = parse_kernel)]
    pub kernel: Option<KernelRequest>,
    /// Train the remaining runs of a results folder with the kernel asked
    /// for (--kernel, or `kernel` in the experiment file) even though the
    /// folder was started with another (each run's kernel stays in
    /// runs.csv).
    #[arg(long)]
    pub switch_kernel: bool,
    /// Refresh report.html, summary.csv and the plots while runs train, at
    /// most every SECONDS (and never taking more than about 5 % of the
    /// sweep's time); 0: only when the sweep ends.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(0..=86_400))]
    pub report_every: u32,
}

/// Reads `--kernel`: auto, gemm or matrixmultiply.
fn parse_kernel(text: &str) -> Result<KernelRequest, String> {
    KernelRequest::parse(text)
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
    #[arg(short, long, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u16).range(1..=MAX_JOBS))]
    pub jobs: Option<u16>,
    /// A few seconds instead of about a minute: shorter timings, 5 000
    /// training images, one epoch (numbers are rougher).
    #[arg(long)]
    pub quick: bool,
    /// The kernel of the run timings (default auto: the one `sweep run`
    /// would choose here); both kernels' GEMM rates are printed anyway.
    #[arg(long, value_name = "KERNEL", value_parser = parse_kernel)]
    pub kernel: Option<KernelRequest>,
    /// Internal: train run INDEX of the "N processes" measurement and print
    /// its seconds, as one of those processes.
    #[arg(long, hide = true, value_name = "INDEX")]
    pub as_worker: Option<usize>,
}

/// Flags of `sweep slurm`.
#[derive(Debug, Args)]
pub struct SlurmArgs {
    /// The experiment file (TOML).
    pub file: PathBuf,
    /// Folder in which the sweep's results folder <name>/ is made (a
    /// filesystem every node of the cluster shares).
    #[arg(short, long, default_value = crate::results::DEFAULT_OUT)]
    pub out: PathBuf,
    /// Array tasks (shards); at most the number of runs [default: 4].
    #[arg(long, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub tasks: Option<u32>,
    /// CPUs per task; each task trains this many runs at once [default: 2].
    #[arg(long, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub cpus_per_task: Option<u32>,
    /// Memory per task, as sbatch takes it (e.g. 2G).
    #[arg(long)]
    pub mem: Option<String>,
    /// Time limit per task, as sbatch takes it (e.g. 2:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// Partition to submit to (default: the cluster's).
    #[arg(long)]
    pub partition: Option<String>,
    /// At most this many tasks running at once.
    #[arg(long, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallel: Option<u32>,
    /// More sbatch options for both scripts, e.g. --extra-sbatch
    /// "--account=proj --qos=short" (may be given more than once).
    #[arg(long, value_name = "OPTIONS", allow_hyphen_values = true)]
    pub extra_sbatch: Vec<String>,
    /// Submit the array and the report job (then exit; nothing stays running).
    #[arg(long)]
    pub submit: bool,
    /// Submit again only the shards that have unfinished or failed runs and
    /// no task queued or running, with the first submission's options
    /// (those given now replace them).
    #[arg(long, conflicts_with = "submit")]
    pub retry: bool,
    /// The GEMM kernel of the results folder (see `sweep run --kernel`),
    /// passed to every task; the first task to start settles `auto` on its
    /// node, and the others follow what it recorded.
    #[arg(long, value_name = "KERNEL", value_parser = parse_kernel)]
    pub kernel: Option<KernelRequest>,
}

/// Flags of `sweep status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The sweep's results folder, e.g. results/lambda, or its experiment
    /// file, e.g. experiments/lambda.toml (its folder under --out).
    pub dir: PathBuf,
    /// With an experiment file: the folder `sweep run --out` wrote under.
    #[arg(short, long, default_value = crate::results::DEFAULT_OUT)]
    pub out: PathBuf,
}

/// Flags of `sweep report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The sweep's results folder, e.g. results/lambda.
    pub dir: PathBuf,
}

/// Options of `sweep compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The sweep's results folder, e.g. results/lambda.
    pub dir: PathBuf,
    /// A second results folder: each configuration of DIR is compared with
    /// the configuration of OTHER that has the same settings (e.g. the same
    /// grid on MNIST and on Fashion-MNIST); the table goes to
    /// DIR/compare_with_<other's name>.csv.
    pub other: Option<PathBuf>,
    /// The configuration to compare with, as SETTING=VALUE; repeat it until
    /// one configuration matches (e.g. --baseline lambda=0). Default: the
    /// experiment's `[compare] baseline`.
    #[arg(long, value_name = "SETTING=VALUE")]
    pub baseline: Vec<String>,
    /// Compare each configuration with the baseline at its own value of
    /// this setting (repeatable), e.g. --baseline lambda=0 --within
    /// learning_rate: is λ better than λ = 0 at each learning rate? Holm
    /// over every row. Default: the experiment's `[compare] within`.
    #[arg(long, value_name = "SETTING")]
    pub within: Vec<String>,
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
