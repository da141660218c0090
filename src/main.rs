//! The `sweep` binary: parse the command line, dispatch, report errors.

use std::process::ExitCode;

use clap::Parser;
use sweep::cli::{Cli, Command};
use sweep::{commands, error};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(args) => commands::run(args),
        Command::Plan(args) => commands::plan(args).map(|()| ExitCode::SUCCESS),
        Command::Report(args) => commands::report(args).map(|()| ExitCode::SUCCESS),
        Command::Compare(args) => commands::compare(args).map(|()| ExitCode::SUCCESS),
        Command::Bench(args) => commands::bench(args).map(|()| ExitCode::SUCCESS),
        Command::Slurm(args) => commands::slurm(args).map(|()| ExitCode::SUCCESS),
        Command::Status(args) => commands::status(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(if error::is_bad_input(&err) { 2 } else { 1 })
        }
    }
}

/// A closed pipe (`sweep plan x.toml | head`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
