//! Rules that span several tables of the file: a setting both set and
//! swept, `[search]` against the kinds of `[grid]` entries, successive
//! halving against the runs, the size of the grid, and settings no run uses.

use anyhow::Result;

use super::grid::Axis;
use super::parser::{At, Draft, Parser};
use super::search::{Halving, Method, Search};
use super::{Key, MAX_RUNS, RunParams, RunSpec, run_id};

impl Parser<'_> {
    /// Refuses a setting that is both given one value and swept.
    pub(super) fn check_set_or_swept(&self, draft: &Draft) -> Result<()> {
        let swept_at = draft
            .axes
            .iter()
            .map(|(a, at)| (a.key, at))
            .chain(draft.drawn.iter().map(|(k, _, at)| (*k, at)));
        for (key, at) in swept_at {
            if let Some((_, set_at)) = draft.scalars.iter().find(|(k, _)| *k == key) {
                return Err(self.error(
                    at,
                    format!(
                        "`{}` is both set (as `{}`) and swept in [grid]; remove one of them",
                        key.name(),
                        set_at.join(".")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The `[search]` table, checked against the kinds of `[grid]` entries:
    /// a grid takes lists and ranges; random and Sobol take lists and
    /// distributions.
    pub(super) fn search(&self, draft: &Draft) -> Result<Search> {
        let (ranged, drawn) = (&draft.ranged, &draft.drawn);
        let chosen = draft
            .axes
            .iter()
            .filter(|(a, _)| a.key != Key::Seed)
            .count();
        let at = ["search"];
        let search = match draft.search {
            None => Search::default(),
            Some(value) => {
                let table = value.as_table().ok_or_else(|| {
                    self.error(
                        &at,
                        format!(
                            "`search` must be a table ([search]), got {}",
                            value.type_str()
                        ),
                    )
                })?;
                Search::parse(table, MAX_RUNS).map_err(|e| self.axis_error(&at, e))?
            }
        };
        if !search.is_sampled() {
            if let Some((key, d, at)) = drawn.first() {
                let how = match search.method {
                    Method::Halving => {
                        "add `sampler = \"sobol\"` (or \"random\") and `samples = N` to [search]"
                    }
                    _ => "use [search] `method = \"random\"` or \"sobol\" with `samples = N`",
                };
                return Err(self.error(
                    at,
                    format!(
                        "`{} = {{ {} = … }}` is a distribution, and `method = \"{}\"` does not draw: {how}, or list the values to train, `{} = [a, b, c]`",
                        key.name(),
                        d.law,
                        search.method,
                        key.name()
                    ),
                ));
            }
            return Ok(search);
        }
        if drawn.is_empty() && chosen == 0 {
            return Err(self.error(
                &["search", "method"],
                format!(
                    "`method = \"{}\"` has nothing to draw: give [grid] a distribution, \
                     `lambda = {{ log_uniform = [1e-4, 1e-1] }}`, or a list to choose from",
                    search.method
                ),
            ));
        }
        if let Some((at, form)) = ranged.first() {
            let law = if *form == "log" {
                "log_uniform"
            } else {
                "uniform"
            };
            return Err(self.error(
                at,
                format!(
                    "`{}` is a grid range (`{form}`), which `method = \"{}\"` does not take: \
                     give a distribution to draw from, `{{ {law} = [low, high] }}` (bounds are \
                     values, not exponents), or a list to choose from",
                    at.join("."),
                    search.method
                ),
            ));
        }
        Ok(search)
    }

    /// Under successive halving, every run is trained up to `max_epochs`:
    /// `epochs` may not be given.
    pub(super) fn apply_halving(&self, search: &Search, draft: &mut Draft) -> Result<()> {
        let Some(halving) = &search.halving else {
            return Ok(());
        };
        let given = draft.set_or_listed();
        for (key, at) in given {
            if key == Key::Epochs {
                return Err(self.error_on_key(
                    at,
                    "`epochs` is set by successive halving: every run is trained up to \
                     [search] `max_epochs`, and stopped earlier at a rung when it is not \
                     promoted; remove `epochs`"
                        .into(),
                ));
            }
        }
        draft.base.epochs = halving.max_epochs;
        Ok(())
    }

    /// Checks that every run can be ranked at every rung: it holds out
    /// validation images, is evaluated at each rung's epoch, and is not
    /// stopped by early stopping (which would cut rungs short).
    pub(super) fn check_halving(&self, halving: &Halving, runs: &[RunSpec]) -> Result<()> {
        let at = ["search", "method"];
        for run in runs {
            let p = &run.params;
            if p.validation == 0 {
                return Err(self.error(
                    &at,
                    format!(
                        "successive halving ranks configurations on the {} of held-out images, \
                         and some runs hold out none: set `validation = N` in [data] (it never \
                         ranks on the test set)",
                        halving.metric
                    ),
                ));
            }
            if p.early_stopping.is_some() || p.stop_at_train_loss.is_some() {
                let key = match p.early_stopping {
                    Some(_) => "early_stopping",
                    None => "stop_at_train_loss",
                };
                return Err(self.error(
                    &at,
                    format!("successive halving decides when runs stop; remove `{key}`"),
                ));
            }
            let rungs = halving.rungs();
            if let Some(rung) = rungs.iter().find(|&&e| !p.evaluates(e)) {
                return Err(self.error(
                    &at,
                    format!(
                        "a rung ends after epoch {rung}, which `eval_every = {}` does not \
                         evaluate; use an `eval_every` that divides every rung's epochs ({})",
                        p.eval_every,
                        rungs
                            .iter()
                            .map(|e| e.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Refuses a grid of more than [`MAX_RUNS`] runs, saying how it
    /// multiplies up.
    pub(super) fn check_size(&self, axes: &[Axis], search: &Search) -> Result<()> {
        let total = if search.is_sampled() {
            let seeds = axes.iter().find(|a| a.key == Key::Seed);
            search
                .samples
                .checked_mul(seeds.map_or(1, |a| a.values.len()))
        } else {
            axes.iter()
                .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()))
        };
        if total.is_some_and(|n| n <= MAX_RUNS) {
            return Ok(());
        }
        let mut sizes: Vec<String> = axes
            .iter()
            .filter(|a| !search.is_sampled() || a.key == Key::Seed)
            .map(|a| format!("{} {}", a.values.len(), a.key.name()))
            .collect();
        if search.is_sampled() {
            sizes.insert(0, format!("{} samples", search.samples));
        }
        Err(self.error(
            &["grid"],
            format!(
                "the grid expands to more than {MAX_RUNS} runs ({}); split it into smaller experiments",
                sizes.join(" × ")
            ),
        ))
    }

    /// The grid's points as runs: each put in canonical form, checked for
    /// contradictions, and kept once when several train the same network.
    /// A setting given in the file that no run uses is refused.
    pub(super) fn distinct_runs(
        &self,
        points: Vec<RunParams>,
        dataset_label: &str,
        given: &[(Key, At)],
    ) -> Result<Vec<RunSpec>> {
        let mut used = vec![false; Key::ALL.len()];
        let mut by_id: std::collections::HashMap<String, usize> =
            std::collections::HashMap::with_capacity(points.len());
        let mut runs: Vec<RunSpec> = Vec::with_capacity(points.len());
        for mut params in points {
            for &k in Key::ALL {
                used[k as usize] |= k.applies_to(&params);
            }
            params.normalize();
            if let Some((key, message)) = params.contradiction() {
                let at = given
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or(vec![key.name()], |(_, at)| at.clone());
                return Err(self.error(&at, message));
            }
            let id = run_id(dataset_label, &params);
            match by_id.get(&id) {
                Some(&i) if runs[i].params == params => continue,
                // 48 bits of SHA-256: about one chance in 10⁵ for the largest grid.
                Some(_) => {
                    return Err(anyhow::anyhow!(
                        "two runs of the grid have the same id {id}; please report this (and \
                         the experiment file) as a bug"
                    ));
                }
                None => {
                    by_id.insert(id.clone(), runs.len());
                    runs.push(RunSpec { id, params });
                }
            }
        }
        if let Some((key, at)) = given.iter().find(|(k, _)| !used[*k as usize]) {
            let condition = key.spec().applies.map_or("", |a| a.condition);
            return Err(self.error_on_key(
                at,
                format!(
                    "`{}` has no effect on any run of this sweep: it applies only when \
                     {condition}; remove it or change that setting",
                    key.name()
                ),
            ));
        }
        Ok(runs)
    }
}
