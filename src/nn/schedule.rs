//! Learning-rate schedules: the rate of each epoch from the base rate, an
//! optional linear warm-up, then constant, step or cosine decay. The rate is
//! constant within an epoch, as PyTorch's schedulers stepped once per epoch.

use crate::choice::choice_enum;

choice_enum! {
    /// How the learning rate changes after the warm-up.
    pub enum Schedule {
        /// The base rate throughout.
        Constant = "constant",
        /// Multiplied by `lr_step_factor` every `lr_step_epochs` epochs
        /// (PyTorch's `StepLR(step_size, gamma)`).
        Step = "step",
        /// Half a cosine from the base rate towards 0 over the epochs after
        /// the warm-up (PyTorch's `CosineAnnealingLR(T_max, eta_min = 0)`).
        Cosine = "cosine",
    }
}

/// The learning rate of every epoch of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrSchedule {
    /// The rate after warm-up, before any decay.
    pub base: f64,
    /// The decay after the warm-up.
    pub schedule: Schedule,
    /// Epochs between two steps of the `step` schedule (≥ 1).
    pub step_epochs: usize,
    /// Factor applied at each step of the `step` schedule.
    pub step_factor: f64,
    /// Epochs of linear warm-up: epoch `e ≤ W` trains at `base · e / W`.
    pub warmup_epochs: usize,
    /// Epochs of the run.
    pub epochs: usize,
}

impl LrSchedule {
    /// The rate of epoch `epoch` (1-based). With `W` warm-up epochs, epoch
    /// `e ≤ W` has `base · e / W`; epoch `e > W` is the `t = e − W − 1`-th of
    /// the decay: `step` gives `base · factor^⌊t / step_epochs⌋`, `cosine`
    /// gives `base · ½ (1 + cos(π t / (E − W)))`. In PyTorch this is
    /// `SequentialLR([LinearLR(1/W, 1, total_iters = W − 1), decay],
    /// milestones = [W])` stepped once per epoch.
    pub fn rate(&self, epoch: usize) -> f64 {
        let w = self.warmup_epochs;
        if epoch <= w {
            return self.base * epoch as f64 / w as f64;
        }
        let t = epoch - w - 1;
        match self.schedule {
            Schedule::Constant => self.base,
            Schedule::Step => {
                let steps = t / self.step_epochs.max(1);
                self.base * self.step_factor.powi(steps.min(i32::MAX as usize) as i32)
            }
            Schedule::Cosine => {
                let span = self.epochs.saturating_sub(w).max(1) as f64;
                self.base * 0.5 * (1.0 + (std::f64::consts::PI * t as f64 / span).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(schedule: Schedule, warmup_epochs: usize) -> LrSchedule {
        LrSchedule {
            base: 0.1,
            schedule,
            step_epochs: 2,
            step_factor: 0.5,
            warmup_epochs,
            epochs: 6,
        }
    }

    #[test]
    fn constant_is_the_base_rate_bit_for_bit() {
        let s = schedule(Schedule::Constant, 0);
        assert!((1..=6).all(|e| s.rate(e) == 0.1));
    }

    #[test]
    fn step_halves_every_two_epochs() {
        let s = schedule(Schedule::Step, 0);
        let rates: Vec<f64> = (1..=6).map(|e| s.rate(e)).collect();
        assert_eq!(rates, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
    }

    #[test]
    fn cosine_matches_hand_computed_values() {
        // T = 6: ½(1 + cos(π t / 6)) for t = 0..5.
        let s = schedule(Schedule::Cosine, 0);
        let want = [
            0.1,
            0.1 * 0.5 * (1.0 + 3f64.sqrt() / 2.0),
            0.1 * 0.75,
            0.1 * 0.5,
            0.1 * 0.25,
            0.1 * 0.5 * (1.0 - 3f64.sqrt() / 2.0),
        ];
        for (e, w) in (1..=6).zip(want) {
            assert!(
                (s.rate(e) - w).abs() < 1e-15,
                "epoch {e}: {} vs {w}",
                s.rate(e)
            );
        }
    }

    #[test]
    fn warmup_rises_linearly_then_the_decay_starts_from_the_base_rate() {
        let s = schedule(Schedule::Cosine, 2);
        assert_eq!(s.rate(1), 0.05);
        assert_eq!(s.rate(2), 0.1);
        // Decay over the remaining 4 epochs: t = 0, 1, 2, 3.
        assert_eq!(s.rate(3), 0.1);
        assert!((s.rate(5) - 0.05).abs() < 1e-15);
        let s = schedule(Schedule::Step, 2);
        assert_eq!([s.rate(3), s.rate(4), s.rate(5)], [0.1, 0.1, 0.05]);
    }
}
