//! Successive halving's settings (Jamieson & Talwalkar, 2016; Li et al.,
//! JMLR 2018): every configuration trains `min_epochs`, the best 1/η by the
//! mean over seeds of a validation metric go on to η times as many epochs,
//! and so on up to `max_epochs`.

use serde::{Deserialize, Serialize};

use super::whole_number;
use crate::config::grid::AxisError;
use crate::config::locate::Part;
use crate::config::params::StopMetric;

/// The `[search]` keys halving takes besides `method`.
pub const HALVING_KEYS: &[&str] = &["eta", "min_epochs", "max_epochs", "metric"];

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
        Ok(Halving {
            eta,
            min_epochs,
            max_epochs,
            metric,
        })
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

    /// How many of `configurations` each rung trains: all, then each
    /// rung's promotions.
    pub fn configurations_per_rung(&self, configurations: usize) -> Vec<usize> {
        let mut n = configurations;
        self.rungs()
            .iter()
            .map(|_| {
                let here = n;
                n = self.promoted(n);
                here
            })
            .collect()
    }

    /// Run-epochs the search trains for `configurations` × `seeds` runs
    /// (each rung continues its runs from the one before), whichever
    /// configurations it promotes.
    pub fn run_epochs(&self, configurations: usize, seeds: usize) -> usize {
        let mut before = 0;
        self.rungs()
            .iter()
            .zip(self.configurations_per_rung(configurations))
            .map(|(&epochs, n)| {
                let added = n * seeds * (epochs - before);
                before = epochs;
                added
            })
            .sum()
    }

    /// `eta 3, rungs at 3, 9, 27, 81 epochs, ranked on val_acc`.
    pub fn describe(&self) -> String {
        let rungs: Vec<String> = self.rungs().iter().map(|e| e.to_string()).collect();
        format!(
            "η = {}, rungs at {} epochs, ranked on the mean {} over seeds",
            self.eta,
            rungs.join(", "),
            self.metric
        )
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
        assert_eq!(h.configurations_per_rung(48), [48, 16, 5, 1]);
        // experiments/halving.toml: 48 × 2 × 3 + 16 × 2 × 6 + 5 × 2 × 18 + 2 × 54.
        assert_eq!(h.run_epochs(48, 2), 768);
    }
}
