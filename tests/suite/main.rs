//! sweep's integration tests: one test crate (the library and its
//! dependencies are linked once), one module per area, helpers in [`util`].
//!
//! Most tests run the real binary on small slices of the real MNIST in
//! `data/mnist/`; those that need Debian's Fashion-MNIST, Chromium, a local
//! Slurm or LibreOffice say they were skipped when it is missing, unless
//! `.ci/run` requires it (`SWEEP_REQUIRE_*`).

mod browser;
mod cli;
mod corpus;
mod data;
mod fashion;
mod gradients;
mod inputs;
mod kernels;
mod learning;
mod properties;
mod records;
mod reliability;
mod report;
mod slurm;
mod spreadsheets;
mod util;
