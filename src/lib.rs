//! sweep: train many small MLPs on real image data across a grid of
//! regularisation and optimisation settings, and record how the gap between
//! training and test accuracy moves.
//!
//! Data flows one way: experiment file → checked run specs → dataset loaded
//! once → parallel runs → records on disk → report (read back from disk).
//!
//! Where to look:
//! - [`config`]: experiment files, their checks, the grid and run ids;
//!   `config::params` declares every setting in one table.
//! - [`data`]: IDX datasets (MNIST, Fashion-MNIST), bounded and checked.
//! - [`nn`] and [`train`]: the network (on ndarray, one GEMM seam), its
//!   optimizers and schedules, and one run, a pure function.
//! - [`sweep`]: the phases of `sweep run`; [`cluster`] and [`slurm`]: Slurm.
//! - [`results`]: the results folder — run records and their checks, the
//!   aggregate tables, locks, folders of older versions.
//! - [`report`]: statistics over seeds, plots, `report.html`.
//! - [`files`]: atomic writes and bounded reads, for every module.
//! - [`cli`], [`commands`]: the command line and what each subcommand prints.

pub mod bench;
mod choice;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod data;
pub mod error;
pub mod faults;
pub mod files;
pub mod interrupt;
pub mod nn;
pub mod progress;
pub mod report;
pub mod results;
pub mod shard;
pub mod shell;
pub mod slurm;
pub mod sweep;
pub mod train;
