//! Early stopping: watching the validation metric a run's `early_stopping`
//! names, evaluation after evaluation.

use super::EpochMetrics;
use crate::config::{EarlyStopping, StopMetric};

/// Early stopping's bookkeeping: the best value of the watched metric so
/// far and how many evaluations in a row have not improved on it.
#[derive(Debug, Clone)]
pub(super) struct Watch {
    rule: EarlyStopping,
    pub(super) best: Option<f64>,
    pub(super) without_improvement: usize,
}

impl Watch {
    pub(super) fn new(rule: EarlyStopping) -> Watch {
        Watch {
            rule,
            best: None,
            without_improvement: 0,
        }
    }

    /// Records one evaluated epoch; true when the run should stop. An
    /// improvement is a validation loss below `best − min_delta` (or an
    /// accuracy above `best + min_delta`), as in Keras and Lightning.
    pub(super) fn should_stop(&mut self, metrics: &EpochMetrics) -> bool {
        // Higher is better for both, after turning the loss around.
        let value = match self.rule.metric {
            StopMetric::ValLoss => metrics.val_loss.map(|l| -l),
            StopMetric::ValAcc => metrics.val_acc,
        };
        let Some(value) = value else {
            return false;
        };
        match self.best {
            Some(best) if value <= best + self.rule.min_delta => self.without_improvement += 1,
            _ => {
                self.best = Some(value);
                self.without_improvement = 0;
            }
        }
        self.without_improvement >= self.rule.patience
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(val_loss: f64) -> EpochMetrics {
        EpochMetrics {
            epoch: 1,
            train_loss: 0.0,
            train_acc: 0.0,
            test_loss: 0.0,
            test_acc: 0.0,
            gap_acc: 0.0,
            gap_loss: 0.0,
            penalty: 0.0,
            train_seconds: 0.0,
            eval_seconds: 0.0,
            lr: None,
            val_loss: Some(val_loss),
            val_acc: None,
            train_acc_clean: None,
            noisy_fit: None,
            weight_norm: None,
            ..Default::default()
        }
    }

    #[test]
    fn early_stopping_waits_patience_evaluations_without_a_large_enough_improvement() {
        let mut watch = Watch::new(EarlyStopping {
            metric: StopMetric::ValLoss,
            patience: 2,
            min_delta: 0.01,
        });
        // 1.0 best; 0.995 is not 0.01 better (1 without); 0.98 is (reset);
        // then two without improvement stop the run.
        let stops: Vec<bool> = [1.0, 0.995, 0.98, 0.985, 0.979]
            .iter()
            .map(|&l| watch.should_stop(&epoch(l)))
            .collect();
        assert_eq!(stops, [false, false, false, false, true]);
    }
}
