//! Successive halving's settings (Jamieson & Talwalkar, 2016; Li et al.,
//! JMLR 2018): every configuration trains `min_epochs`, the best 1/η by the
//! mean over seeds of a validation metric go on to η times as many epochs,
//! and so on up to `max_epochs`.
//!
//! The configurations are the `[grid]` lists' combinations, or points drawn
//! by a sampler (`sampler = "random" | "sobol"`, `samples`). Hyperband
//! (`brackets = "hyperband"`) runs several such halvings, its brackets:
//! bracket s draws its own points and starts s rungs before the last.

use serde::{Deserialize, Serialize};

use super::{Method, whole_number};
use crate::choice::choice_enum;
use crate::config::grid::AxisError;
use crate::config::locate::Part;
use crate::config::params::StopMetric;

/// The `[search]` keys halving takes besides `method` (and `samples` and
/// `seed` with a sampler).
pub const HALVING_KEYS: &[&str] = &[
    "eta",
    "min_epochs",
    "max_epochs",
    "metric",
    "sampler",
    "brackets",
];

choice_enum! {
    /// How many halvings a search runs.
    pub enum Brackets {
        /// One: every configuration starts at the first rung.
        One = "one",
        /// Hyperband's brackets (Li et al., JMLR 2018): bracket s draws
        /// ⌈(s_max + 1) η^s / (s + 1)⌉ points and starts s rungs before the
        /// last, for s = s_max down to 0.
        Hyperband = "hyperband",
    }
}

/// One halving of a search: a Hyperband bracket, or the whole search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bracket {
    /// Li et al.'s s (how many times the bracket halves); `None` for a
    /// search of one bracket.
    pub number: Option<usize>,
    /// Index of the bracket's first rung among [`Halving::rungs`].
    pub first_rung: usize,
    /// Points a sampler draws for it (Hyperband's n_s); `None` when the
    /// search decides (a grid, or `samples`).
    pub points: Option<usize>,
}

/// Successive halving, checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Halving {
    /// Each rung keeps the best 1/η of the configurations and trains them
    /// η times as long.
    pub eta: usize,
    /// Epochs of the first rung.
    pub min_epochs: usize,
    /// Epochs of the last rung: every run's `epochs`.
    pub max_epochs: usize,
    /// The validation metric configurations are ranked on (mean over seeds).
    pub metric: StopMetric,
    /// Where the configurations come from: `None` for the grid's lists,
    /// else `Method::Random` or `Method::Sobol` draws.
    #[serde(default)]
    pub sampler: Option<Method>,
    /// One halving, or Hyperband's brackets.
    #[serde(default = "one_bracket")]
    pub brackets: Brackets,
}

fn one_bracket() -> Brackets {
    Brackets::One
}

/// Largest η: beyond it a rung keeps almost nothing.
const MAX_ETA: u64 = 100;

/// Most epochs a halving search may train a run to.
const MAX_EPOCHS: u64 = 1_000_000;

impl Halving {
    /// Reads the halving keys of the `[search]` table.
    pub fn parse(table: &toml::Table) -> Result<Halving, AxisError> {
        let whole = |field: &str, min: u64, max: u64| {
            whole_number(table, field, min, max).map(|n| n.map(|n| n as usize))
        };
        let needed = |field: &str| {
            AxisError::at(
                "method",
                Part::Value,
                format!(
                    "`method = \"halving\"` needs `{field}`: [search] takes `min_epochs` (the \
                     first rung's epochs), `max_epochs` (the last rung's), and optionally `eta` \
                     (3) and `metric` (\"val_acc\")"
                ),
            )
        };
        let eta = whole("eta", 2, MAX_ETA)?.unwrap_or(3);
        let min_epochs = whole("min_epochs", 1, MAX_EPOCHS)?.ok_or_else(|| needed("min_epochs"))?;
        let max_epochs = whole("max_epochs", 1, MAX_EPOCHS)?.ok_or_else(|| needed("max_epochs"))?;
        if max_epochs <= min_epochs {
            return Err(AxisError::at(
                "max_epochs",
                Part::Value,
                format!(
                    "`max_epochs` = {max_epochs} must be more than `min_epochs` = {min_epochs}: \
                     halving trains the configurations left for longer at each rung"
                ),
            ));
        }
        let metric = match table.get("metric") {
            None => StopMetric::ValAcc,
            Some(v) => v.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| {
                AxisError::at(
                    "metric",
                    Part::Value,
                    format!(
                        "`metric` must be \"val_acc\" or \"val_loss\" (halving never ranks on \
                             the test set), got {v}"
                    ),
                )
            })?,
        };
        let sampler = match table.get("sampler") {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .and_then(|s| s.parse().ok())
                    .filter(|m| matches!(m, Method::Random | Method::Sobol))
                    .ok_or_else(|| {
                        AxisError::at(
                            "sampler",
                            Part::Value,
                            format!(
                                "`sampler` must be \"random\" or \"sobol\" (halving then draws \
                                 `samples` points from [grid]; leave it out to halve over the \
                                 [grid] lists' combinations), got {v}"
                            ),
                        )
                    })?,
            ),
        };
        let brackets = match table.get("brackets") {
            None => Brackets::One,
            Some(v) => v.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| {
                AxisError::at(
                    "brackets",
                    Part::Value,
                    format!(
                        "`brackets` must be \"{}\", got {v}",
                        Brackets::WORDS.join("\" or \"")
                    ),
                )
            })?,
        };
        if brackets == Brackets::Hyperband && sampler.is_none() {
            return Err(AxisError::at(
                "brackets",
                Part::Value,
                "Hyperband draws each bracket's own configurations: add `sampler = \"sobol\"` \
                 (or \"random\") to [search]"
                    .into(),
            ));
        }
        Ok(Halving {
            eta,
            min_epochs,
            max_epochs,
            metric,
            sampler,
            brackets,
        })
    }

    /// The halvings the search runs, most exploratory first: one, or
    /// Hyperband's brackets s = s_max, …, 0 (s_max = rungs − 1), bracket s
    /// starting s rungs before the last with ⌈(s_max + 1) η^s / (s + 1)⌉
    /// points.
    pub fn brackets(&self) -> Vec<Bracket> {
        let s_max = self.rungs().len() - 1;
        match self.brackets {
            Brackets::One => vec![Bracket {
                number: None,
                first_rung: 0,
                points: None,
            }],
            Brackets::Hyperband => (0..=s_max)
                .rev()
                .map(|s| Bracket {
                    number: Some(s),
                    first_rung: s_max - s,
                    points: Some(self.bracket_points(s, s_max)),
                })
                .collect(),
        }
    }

    /// Hyperband's n_s = ⌈(s_max + 1) η^s / (s + 1)⌉, saturating.
    fn bracket_points(&self, s: usize, s_max: usize) -> usize {
        let power = (0..s).fold(1usize, |p, _| p.saturating_mul(self.eta));
        power.saturating_mul(s_max + 1).div_ceil(s + 1)
    }

    /// Points a Hyperband search draws over all its brackets (saturating);
    /// `None` for one bracket.
    pub fn hyperband_points(&self) -> Option<usize> {
        (self.brackets == Brackets::Hyperband).then(|| {
            self.brackets()
                .iter()
                .filter_map(|b| b.points)
                .fold(0usize, usize::saturating_add)
        })
    }

    /// The epochs each rung of `bracket` trains its runs to.
    pub fn bracket_rungs(&self, bracket: Option<usize>) -> Vec<usize> {
        let rungs = self.rungs();
        let first = bracket.map_or(0, |s| rungs.len() - 1 - s.min(rungs.len() - 1));
        rungs[first..].to_vec()
    }

    /// The epochs each rung trains its runs to: `min_epochs` × η^r while
    /// below `max_epochs`, then `max_epochs`.
    pub fn rungs(&self) -> Vec<usize> {
        let mut rungs = Vec::new();
        let mut epochs = self.min_epochs;
        while epochs < self.max_epochs {
            rungs.push(epochs);
            epochs = epochs.saturating_mul(self.eta);
        }
        rungs.push(self.max_epochs);
        rungs
    }

    /// How many of `n` configurations a rung promotes: ⌊n / η⌋, at least one.
    pub fn promoted(&self, n: usize) -> usize {
        (n / self.eta).max(1)
    }

    /// How many of `configurations` each rung of `bracket` trains: all,
    /// then each rung's promotions.
    pub fn configurations_per_rung(
        &self,
        bracket: Option<usize>,
        configurations: usize,
    ) -> Vec<usize> {
        let mut n = configurations;
        self.bracket_rungs(bracket)
            .iter()
            .map(|_| {
                let here = n;
                n = self.promoted(n);
                here
            })
            .collect()
    }

    /// Run-epochs `bracket` trains for `configurations` × `seeds` runs
    /// (each rung continues its runs from the one before), whichever
    /// configurations it promotes.
    pub fn run_epochs(&self, bracket: Option<usize>, configurations: usize, seeds: usize) -> usize {
        let mut before = 0;
        self.bracket_rungs(bracket)
            .iter()
            .zip(self.configurations_per_rung(bracket, configurations))
            .map(|(&epochs, n)| {
                let added = n * seeds * (epochs - before);
                before = epochs;
                added
            })
            .sum()
    }

    /// `η = 3, rungs at 3, 9, 27, 81 epochs, ranked on the mean val_acc
    /// over seeds`, and the brackets and sampler when there are.
    pub fn describe(&self) -> String {
        let rungs: Vec<String> = self.rungs().iter().map(|e| e.to_string()).collect();
        let mut text = format!(
            "η = {}, rungs at {} epochs, ranked on the mean {} over seeds",
            self.eta,
            rungs.join(", "),
            self.metric
        );
        if let Some(sampler) = self.sampler {
            text += &format!("; configurations drawn by the {sampler} sampler");
        }
        if self.brackets == Brackets::Hyperband {
            text += &format!("; Hyperband's {} brackets", self.brackets().len());
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_grow_by_eta_and_end_at_max_epochs() {
        let h = Halving {
            eta: 3,
            min_epochs: 3,
            max_epochs: 81,
            metric: StopMetric::ValAcc,
            sampler: None,
            brackets: Brackets::One,
        };
        assert_eq!(h.rungs(), [3, 9, 27, 81]);
        assert_eq!(
            Halving {
                max_epochs: 50,
                ..h
            }
            .rungs(),
            [3, 9, 27, 50]
        );
        assert_eq!([48, 16, 5, 1].map(|n| h.promoted(n)), [16, 5, 1, 1]);
        assert_eq!(h.configurations_per_rung(None, 48), [48, 16, 5, 1]);
        // experiments/halving.toml: 48 × 2 × 3 + 16 × 2 × 6 + 5 × 2 × 18 + 2 × 54.
        assert_eq!(h.run_epochs(None, 48, 2), 768);
    }

    #[test]
    fn hyperband_brackets_follow_li_et_al() {
        let h = Halving {
            eta: 3,
            min_epochs: 3,
            max_epochs: 81,
            metric: StopMetric::ValAcc,
            sampler: Some(Method::Sobol),
            brackets: Brackets::Hyperband,
        };
        // R = 81 / 3 = 27 = η³: s_max = 3, B = 4R. Li et al.'s table for
        // η = 3, R = 81 shifted by one rung: n = 27, 12, 6, 4 starting at
        // r = 1, 3, 9, 27 units of 3 epochs.
        let brackets = h.brackets();
        let shape: Vec<(Option<usize>, usize, Option<usize>)> = brackets
            .iter()
            .map(|b| (b.number, b.first_rung, b.points))
            .collect();
        assert_eq!(
            shape,
            [
                (Some(3), 0, Some(27)),
                (Some(2), 1, Some(12)),
                (Some(1), 2, Some(6)),
                (Some(0), 3, Some(4))
            ]
        );
        assert_eq!(h.hyperband_points(), Some(49));
        assert_eq!(h.bracket_rungs(Some(1)), [27, 81]);
        assert_eq!(h.configurations_per_rung(Some(2), 12), [12, 4, 1]);
        // Σ configuration-epochs 243 + 234 + 270 + 324 = 1071, × 2 seeds.
        let total: usize = brackets
            .iter()
            .map(|b| h.run_epochs(b.number, b.points.unwrap(), 2))
            .sum();
        assert_eq!(total, 2142);
        // Li et al., Table 1 (R = 81, η = 3): n = 81, 34, 15, 8, 5.
        let paper = Halving { min_epochs: 1, ..h };
        let n: Vec<usize> = paper.brackets().iter().filter_map(|b| b.points).collect();
        assert_eq!(n, [81, 34, 15, 8, 5]);
    }
}
