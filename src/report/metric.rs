//! The metrics summarised over seeds, declared once: each metric's column
//! name in `summary.csv` beside how it is read off a finished run. Code
//! names a metric by its variant, never by a string, so a typo does not
//! compile. Adding a metric is one row, at the end.

use crate::results::FinishedRun;

/// Declares [`Metric`]: one row per metric, `Variant = "column", getter;`.
macro_rules! metrics {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $get:expr; )*) => {
        /// A metric summarised over seeds (a column group of `summary.csv`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Metric {
            $( $(#[$doc])* $variant, )*
        }

        impl Metric {
            /// Every metric, in `summary.csv`'s column order.
            pub const ALL: &[Metric] = &[$(Metric::$variant),*];

            /// Its name in `summary.csv` (`test_acc`, …).
            pub fn name(self) -> &'static str {
                match self {
                    $(Metric::$variant => $name,)*
                }
            }

            /// Its value for one run, when the run has it.
            pub fn of(self, run: &FinishedRun) -> Option<f64> {
                let get: fn(&FinishedRun) -> Option<f64> = match self {
                    $(Metric::$variant => $get,)*
                };
                get(run)
            }
        }

        impl std::fmt::Display for Metric {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

// "Best" is the evaluated epoch [`FinishedRun::best_epoch`] picks: on the
// validation split when the run has one, else on test accuracy. Metrics
// added after sweep 0.2.0 come last.
metrics! {
    /// Final training accuracy.
    TrainAcc = "train_acc", |r| r.final_epoch().map(|e| e.train_acc);
    /// Final test accuracy.
    TestAcc = "test_acc", |r| r.final_epoch().map(|e| e.test_acc);
    /// Final train − test accuracy.
    GapAcc = "gap_acc", |r| r.final_epoch().map(|e| e.gap_acc);
    /// Final training loss.
    TrainLoss = "train_loss", |r| r.final_epoch().map(|e| e.train_loss);
    /// Final test loss.
    TestLoss = "test_loss", |r| r.final_epoch().map(|e| e.test_loss);
    /// Test accuracy at the best epoch.
    BestTestAcc = "best_test_acc", |r| r.best_epoch().map(|e| e.test_acc);
    /// The best epoch.
    BestTestEpoch = "best_test_epoch", |r| r.best_epoch().map(|e| e.epoch as f64);
    /// Final validation accuracy.
    ValAcc = "val_acc", |r| r.final_epoch().and_then(|e| e.val_acc);
    /// Final validation loss.
    ValLoss = "val_loss", |r| r.final_epoch().and_then(|e| e.val_loss);
    /// Validation accuracy at the best epoch.
    BestValAcc = "best_val_acc", |r| r.best_epoch().and_then(|e| e.val_acc);
    /// The epoch after which early stopping ended the run.
    StoppedEpoch = "stopped_epoch", |r| r.done.stopped_epoch.map(|e| e as f64);
    /// Final training accuracy against the true labels (label noise).
    TrainAccClean = "train_acc_clean", |r| r.final_epoch().and_then(|e| e.train_acc_clean);
    /// Final fraction of corrupted labels fitted (label noise).
    NoisyFit = "noisy_fit", |r| r.final_epoch().and_then(|e| e.noisy_fit);
    /// Fraction of training images learned and never forgotten.
    Unforgettable = "unforgettable", |r| r.done.forgetting.map(|f| f.unforgettable);
    /// Forgetting events per training image.
    MeanForgetting = "mean_forgetting", |r| r.done.forgetting.map(|f| f.mean_events);
    /// AUC of the forgetting count as a detector of corrupted labels.
    NoisyAuc = "noisy_auc", |r| r.done.forgetting.and_then(|f| f.noisy_auc);
    /// ∏ ‖W‖_F of the final network.
    FrobeniusProduct = "frobenius_product", |r| r.done.measures.as_ref().map(|m| m.frobenius_product());
    /// ∏ ‖W‖₂ of the final network.
    SpectralProduct = "spectral_product", |r| r.done.measures.as_ref().map(|m| m.spectral_product());
    /// Σ ‖W − W₀‖_F.
    InitDistance = "init_distance", |r| r.done.measures.as_ref().map(|m| m.init_distance);
    /// The path-norm.
    PathNorm = "path_norm", |r| r.done.measures.as_ref().map(|m| m.path_norm);
    /// The 10th percentile of the training images' output margins.
    Margin = "margin", |r| r.done.measures.as_ref().and_then(|m| m.margin);
    /// ∏ ‖W‖₂ / margin².
    SpectralOverMargin = "spectral_over_margin", |r| r.done.measures.as_ref().and_then(|m| m.spectral_over_margin());
    /// ∏ ‖W‖_F / margin².
    FrobeniusOverMargin = "frobenius_over_margin", |r| r.done.measures.as_ref().and_then(|m| m.frobenius_over_margin());
    /// The flatness σ.
    FlatnessSigma = "flatness_sigma", |r| r.done.measures.as_ref().and_then(|m| m.flatness_sigma);
    /// The magnitude-aware flatness σ'.
    MagnitudeSigma = "magnitude_sigma", |r| r.done.measures.as_ref().and_then(|m| m.magnitude_sigma);
    /// Optimizer steps taken.
    Steps = "steps", |r| r.done.measures.as_ref().map(|m| m.steps as f64);
    /// Final train − test loss.
    GapLoss = "gap_loss", |r| r.final_epoch().map(|e| e.gap_loss);
    /// The L2 norm of every parameter of the final network.
    WeightNorm = "weight_norm", |r| r.final_epoch().and_then(|e| e.weight_norm);
    /// Weights and biases.
    Parameters = "parameters", |r| r.parameters().map(|p| p as f64);
}
