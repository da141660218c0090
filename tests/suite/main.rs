//! sweep's integration tests: one test crate (the library and its
//! dependencies are linked once), one module per area, helpers in [`util`].
//!
//! Most tests run the real binary on small slices of the real MNIST in
//! `data/mnist/`; those that need Debian's Fashion-MNIST, Chromium, a local
//! Slurm, LibreOffice or root are marked ignored with what they need, so
//! `cargo test` counts them as ignored; `cargo test -- --ignored` runs them
//! (as `.ci/run` does) and they fail when it is missing.

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
