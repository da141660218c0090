//! Taking a results folder for a sweep: the lock, `--fresh`, and the checks
//! that the results already in it may be resumed.

use anyhow::Result;

use super::RunOptions;
use crate::bad_input;
use crate::config::{Experiment, Key, RunSpec};
use crate::data::Dataset;
use crate::results::{FolderLock, GridFile, ResultsDir};

/// Takes the results folder for this process (refusing if another sweep
/// writes it), then empties it with `fresh`, or checks that the results
/// already in it can be resumed: same dataset files, same fixed settings.
pub(super) fn take_folder(
    exp: &Experiment,
    data: &Dataset,
    results: &ResultsDir,
    opts: &RunOptions,
) -> Result<FolderLock> {
    let fresh = opts.fresh;
    if let Some(rung) = opts.rung {
        let Some(halving) = &exp.search.halving else {
            return Err(bad_input!(
                "--rung {rung} is for successive-halving searches; {} is not one (its [search] \
                 method is \"{}\")",
                exp.path.display(),
                exp.search.method
            ));
        };
        let rungs = halving.rungs().len();
        if rung > rungs {
            return Err(bad_input!(
                "--rung {rung}: the halving search of {} has {rungs} rungs (1 to {rungs})",
                exp.path.display()
            ));
        }
        if fresh {
            return Err(bad_input!(
                "--fresh cannot be combined with --rung {rung}: it would delete the earlier \
                 rungs' runs"
            ));
        }
    }
    if exp.search.halving.is_some()
        && opts.rung.is_none()
        && let Some(shard) = &opts.shard
    {
        return Err(bad_input!(
            "--shard {shard} cannot split a successive-halving search ({}) as a whole: each \
             rung waits for all its runs before it decides. Split one rung with --rung R \
             --shard {shard} (as `sweep slurm` does), or run it whole: `{}`",
            exp.path.display(),
            RunOptions {
                shard: None,
                ..opts.clone()
            }
            .command(&exp.path, "")
        ));
    }
    if fresh && let Some(shard) = &opts.shard {
        return Err(bad_input!(
            "--fresh cannot be combined with --shard {shard}: it would delete the other shards' \
             results. Start over once without --shard (`{}` stops at once with Ctrl-C), or \
             remove {}",
            RunOptions {
                shard: None,
                ..opts.clone()
            }
            .command(&exp.path, "--fresh"),
            results.root().display()
        ));
    }
    let root = results.root();
    if let Some(file) = root.ancestors().find(|p| p.exists() && !p.is_dir()) {
        return Err(bad_input!(
            "cannot put results in {}: {} is a file, not a folder; remove it or choose another --out",
            root.display(),
            file.display()
        ));
    }
    let lock = results.lock(opts.shard.map(|s| (s.index, s.count)))?;
    if opts.shard.is_none() {
        // Only a sweep that holds the folder alone may: a shard would
        // delete the files other shards are writing right now.
        results.remove_stale_temporaries();
    }
    if fresh {
        results.clear()?;
    } else {
        if let Some(old) = results.read_manifest()
            && old.dataset_files != data.files
        {
            return Err(bad_input!(
                "{} holds results of `{}` made from other dataset files (checksums differ); \
                 mixing them would be wrong. Run with --fresh to start over, or choose another --out",
                root.display(),
                exp.name
            ));
        }
        if let Some(old) = results.read_grid() {
            check_unchanged_meaning(exp, &old, results)?;
        }
    }
    results.create()?;
    Ok(lock)
}

/// Refuses to resume when the experiment changed a setting that every
/// finished run shares (epochs, subset, dataset, …): the old runs would be
/// silently orphaned and the folder would mix two different experiments.
/// Adding or removing values of swept settings is fine.
fn check_unchanged_meaning(exp: &Experiment, old: &GridFile, results: &ResultsDir) -> Result<()> {
    let finished = old.runs.iter().filter(|s| results.has_done_file(s)).count();
    if finished == 0 {
        return Ok(());
    }
    let advice = format!(
        "the {finished} finished run(s) in {} were trained with the old value. Run with --fresh \
         to discard them, or give the changed experiment another `name` (or --out)",
        results.root().display()
    );
    if old.dataset != exp.dataset_label {
        return Err(bad_input!(
            "{}: the dataset changed from `{}` to `{}` since the last run; {advice}",
            exp.path.display(),
            old.dataset,
            exp.dataset_label
        ));
    }
    for &key in Key::ALL {
        let values = |runs: &[RunSpec]| {
            let mut v: Vec<String> = runs.iter().map(|s| s.params.text(key)).collect();
            v.sort();
            v.dedup();
            v
        };
        let (before, now) = (values(&old.runs), values(&exp.runs));
        if before.len() == 1 && now.len() == 1 && before != now {
            let show = |v: &str| {
                if v.is_empty() {
                    "all".to_string()
                } else {
                    v.to_string()
                }
            };
            return Err(bad_input!(
                "{}: `{}` changed from {} to {} since the last run; {advice}",
                exp.path.display(),
                key.name(),
                show(&before[0]),
                show(&now[0])
            ));
        }
    }
    Ok(())
}
