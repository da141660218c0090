//! The GEMM kernel of a results folder: chosen once, when the folder is
//! created (the one asked for, or the faster on this CPU for `auto`),
//! recorded in `manifest.json`, and followed by every later invocation —
//! a resume, a shard, a Slurm task — so that one folder never mixes
//! kernels unless its user asks (`--switch-kernel`). Folders of sweep 0.3
//! and earlier record none: their runs trained with matrixmultiply, and
//! so do the rest.

use anyhow::Result;

use super::RunOptions;
use crate::bad_input;
use crate::config::Experiment;
use crate::data::{Dataset, NUM_CLASSES};
use crate::nn::calibrate::calibrate;
use crate::nn::gemm::KERNEL_ENV;
use crate::nn::{Kernel, KernelRequest};
use crate::results::{LEGACY_KERNEL, Manifest, ResultsDir, cpu_model};

/// The kernel an invocation trains with, and what the manifest says of it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Settled {
    /// The kernel.
    pub kernel: Kernel,
    /// The manifest's `kernel`: the label where the folder was created.
    pub label: String,
    /// The manifest's `kernel_choice`: how it was chosen.
    pub choice: String,
}

/// The kernel asked for, where, and whether the request binds an existing
/// folder: `--kernel`, else the experiment file's `kernel` (both binding:
/// a folder started with another kernel is refused), else
/// [`KERNEL_ENV`] (a default for new folders only), else `auto`.
fn request(exp: &Experiment, opts: &RunOptions) -> Result<Request> {
    if let Some(asked) = opts.kernel {
        return Ok(Request {
            asked,
            source: format!("--kernel {asked}"),
            binding: true,
        });
    }
    if let Some(asked) = exp.kernel {
        return Ok(Request {
            asked,
            source: format!("kernel = \"{asked}\" in {}", exp.path.display()),
            binding: true,
        });
    }
    match KernelRequest::from_env().map_err(|why| bad_input!("{why}"))? {
        Some(asked) => Ok(Request {
            asked,
            source: format!("{KERNEL_ENV}={asked}"),
            binding: false,
        }),
        None => Ok(Request {
            asked: KernelRequest::Auto,
            source: "the default, auto".to_string(),
            binding: false,
        }),
    }
}

/// Refuses, before anything is written, a request that cannot be read
/// (a bad [`KERNEL_ENV`]) or that insists on a kernel this CPU cannot run
/// (a default from the environment only matters for a new folder, and is
/// checked there).
pub(super) fn check_asked(exp: &Experiment, opts: &RunOptions) -> Result<()> {
    let Request {
        asked,
        source,
        binding,
    } = request(exp, opts)?;
    match asked {
        KernelRequest::Use(kernel) if binding => usable(kernel, &source),
        _ => Ok(()),
    }
}

/// A kernel request and where it came from.
#[derive(Debug, Clone, PartialEq)]
struct Request {
    /// What was asked.
    pub asked: KernelRequest,
    /// Where, for messages: `--kernel gemm`, `kernel = "gemm" in x.toml`, …
    pub source: String,
    /// Whether a folder started with another kernel refuses it (`--kernel`
    /// and the experiment file) or simply keeps its own (the environment
    /// and the default).
    pub binding: bool,
}

/// Settles the kernel of `results` for this invocation, under the folder's
/// aggregate lock so that shards starting together choose once: the
/// recorded one (refusing another unless `--switch-kernel`), or for a new
/// folder the one asked for or measured, written to the manifest at once
/// (`fresh_manifest` makes it when there is none). The flag says whether
/// the manifest learnt it just now (a new folder, a switch, a folder of an
/// older version), which `sweep run` tells the user.
pub(super) fn settle(
    exp: &Experiment,
    opts: &RunOptions,
    data: &Dataset,
    results: &ResultsDir,
    fresh_manifest: impl FnOnce() -> Manifest,
) -> Result<(Settled, bool)> {
    let _lock = results.lock_aggregates()?;
    let manifest = results.read_manifest();
    let asked = request(exp, opts)?;
    let settled = match recorded(manifest.as_ref(), results)? {
        Some(kept) => match switch(exp, opts, results, &kept, &asked)? {
            Some(other) => {
                usable(other, &asked.source)?;
                Settled {
                    kernel: other,
                    label: other.label(),
                    choice: format!(
                        "switched from {} by --switch-kernel on {}; runs trained before keep \
                         theirs (runs.csv, column kernel)",
                        kept.label,
                        super::now()
                    ),
                }
            }
            None if !kept.kernel.available() => {
                return Err(bad_input!(
                    "{} trains with the {} kernel ({}), which cannot run on this CPU ({}); \
                     continue with the other one: `{}`",
                    results.root().display(),
                    kept.kernel,
                    kept.label,
                    cpu_model(),
                    opts.command(&exp.path, "--kernel matrixmultiply --switch-kernel")
                ));
            }
            None => kept,
        },
        None => match asked.asked {
            KernelRequest::Use(kernel) => {
                usable(kernel, &asked.source)?;
                Settled {
                    kernel,
                    label: kernel.label(),
                    choice: format!("asked for with {}", asked.source),
                }
            }
            KernelRequest::Auto => {
                let (sizes, batch) = costliest_network(exp, data);
                let found = calibrate(&sizes, batch);
                Settled {
                    kernel: found.chosen,
                    label: found.chosen.label(),
                    choice: found.describe(&sizes, batch),
                }
            }
        },
    };
    let mut written = manifest.unwrap_or_else(fresh_manifest);
    let news = written.kernel.as_deref() != Some(settled.label.as_str())
        || written.kernel_choice != settled.choice;
    if news {
        written.kernel = Some(settled.label.clone());
        written.kernel_choice = settled.choice.clone();
        results.write_manifest(&written)?;
    }
    Ok((settled, news))
}

/// The kernel `results` keeps, from its `manifest` (`None`: a new folder).
fn recorded(manifest: Option<&Manifest>, results: &ResultsDir) -> Result<Option<Settled>> {
    Ok(match manifest {
        Some(m) => match &m.kernel {
            Some(label) => Some(recorded_kernel(label, &m.kernel_choice, results)?),
            None => Some(legacy()),
        },
        // A manifest lost from a folder that has runs: those runs were
        // trained by some version; the reference kernel is the safe guess.
        None if results.has_records() => Some(legacy()),
        None => None,
    })
}

/// Refuses, before anything is submitted or trained, a binding request for
/// another kernel than the one `results` keeps (what `sweep run` would
/// refuse in every task); `--switch-kernel` lets it through.
pub fn check_request(exp: &Experiment, opts: &RunOptions, results: &ResultsDir) -> Result<()> {
    if let Some(kept) = recorded(results.read_manifest().as_ref(), results)? {
        switch(exp, opts, results, &kept, &request(exp, opts)?)?;
    }
    Ok(())
}

/// The kernel `asked` switches a folder that keeps `kept` to: `None` when
/// it names none or the same, or only a default (the environment, `auto`);
/// another, with `--switch-kernel`; else the refusal.
fn switch(
    exp: &Experiment,
    opts: &RunOptions,
    results: &ResultsDir,
    kept: &Settled,
    asked: &Request,
) -> Result<Option<Kernel>> {
    match asked.asked {
        KernelRequest::Use(other) if other != kept.kernel && asked.binding => {
            if opts.switch_kernel {
                Ok(Some(other))
            } else {
                Err(refuse_switch(
                    exp,
                    opts,
                    results,
                    kept,
                    other,
                    &asked.source,
                ))
            }
        }
        _ => Ok(None),
    }
}

/// The kernel a manifest's `kernel` label names.
fn recorded_kernel(label: &str, choice: &str, results: &ResultsDir) -> Result<Settled> {
    let name = label.split('/').next().unwrap_or(label);
    let kernel = Kernel::from_name(name).ok_or_else(|| {
        bad_input!(
            "{}/manifest.json records the kernel {label:?}, which this version of sweep does not \
             have (it has {}); use the version that made the folder, or start over with --fresh",
            results.root().display(),
            Kernel::ALL.map(Kernel::name).join(" and ")
        )
    })?;
    Ok(Settled {
        kernel,
        label: label.to_string(),
        choice: choice.to_string(),
    })
}

/// The kernel of a folder from before kernels were recorded.
fn legacy() -> Settled {
    Settled {
        kernel: Kernel::MatrixMultiply,
        label: LEGACY_KERNEL.to_string(),
        choice: "the folder was started by sweep 0.3 or earlier, which trained with \
                 matrixmultiply (its instruction set was not recorded)"
            .to_string(),
    }
}

/// Refuses a kernel this CPU cannot run.
fn usable(kernel: Kernel, from: &str) -> Result<()> {
    if kernel.available() {
        return Ok(());
    }
    Err(bad_input!(
        "{from}: the {kernel} kernel cannot run on this CPU ({}): it has AVX-512F or FMA without \
         the rest of that instruction set level, which the gemm crate assumes; use \
         matrixmultiply (or auto)",
        cpu_model()
    ))
}

/// The refusal to train a folder's remaining runs with another kernel.
fn refuse_switch(
    exp: &Experiment,
    opts: &RunOptions,
    results: &ResultsDir,
    kept: &Settled,
    other: Kernel,
    from: &str,
) -> anyhow::Error {
    let without = RunOptions {
        kernel: None,
        ..opts.clone()
    };
    // Asked for on the command line: leave the flag out, or keep it and
    // add another. Asked for in the file: the file must change, or the
    // flags are added to it.
    let (keep, flag) = match opts.kernel {
        Some(_) => (
            format!("`{}`", without.command(&exp.path, "")),
            format!("--kernel {other} "),
        ),
        None => (
            format!(
                "set kernel = \"{}\" in {} (or remove the line)",
                kept.kernel,
                exp.path.display()
            ),
            String::new(),
        ),
    };
    bad_input!(
        "{from}: {} was started with the {} kernel ({}, manifest.json), and one results folder \
         keeps one kernel so that its runs differ only in their settings. Continue with {}: \
         {keep}; or start over with {other}: `{}`; or train the remaining runs with {other} \
         anyway (each run's kernel is in runs.csv): `{}`",
        results.root().display(),
        kept.kernel,
        kept.label,
        kept.kernel,
        without.command(&exp.path, &format!("{flag}--fresh")),
        without.command(&exp.path, &format!("{flag}--switch-kernel"))
    )
}

/// The layer widths and batch of the run that costs the most training
/// work: the network whose step `auto` measures.
fn costliest_network(exp: &Experiment, data: &Dataset) -> (Vec<usize>, usize) {
    let pixels = data.pixels();
    exp.runs
        .iter()
        .map(|spec| {
            let p = &spec.params;
            let sizes = p.layer_sizes(pixels, NUM_CLASSES);
            let work = crate::nn::mlp::train_flops_per_sample(&sizes) as f64
                * p.epochs as f64
                * p.train_subset.unwrap_or(data.train.len()) as f64;
            (work, sizes, p.batch_size)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, sizes, batch)| (sizes, batch))
        .unwrap_or_else(|| (vec![pixels, 200, 200, NUM_CLASSES], 100))
}
