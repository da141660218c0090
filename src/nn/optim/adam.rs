//! Adam and AdamW, as `torch.optim.Adam`/`AdamW`: first and second
//! moments with bias correction, `ε` added to `√v̂` (as in Kingma & Ba, not
//! TensorFlow's `ε̂`); AdamW decays decoupled, outside the moments.

use super::DecayTerms;

/// What every tensor of one Adam step shares.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step {
    pub(super) beta1: f32,
    pub(super) beta2: f32,
    pub(super) eps: f32,
    /// `lr / (1 − β₁ᵗ)`.
    pub(super) step_size: f32,
    /// `√(1 − β₂ᵗ)`.
    pub(super) sqrt_correction2: f32,
}

/// One step of tensor `w` with data gradient `g` and moments `(m, v)`.
pub(super) fn update(
    w: &mut [f32],
    g: &[f32],
    (first, second): (&mut [f32], &mut [f32]),
    step: Step,
    decay: DecayTerms,
) {
    assert_eq!(first.len(), w.len(), "optimizer: first moment");
    let DecayTerms { l2, shrink } = decay;
    let Step {
        beta1: b1,
        beta2: b2,
        eps,
        step_size,
        sqrt_correction2: sqrt_c2,
    } = step;
    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(first).zip(second) {
        let g = g + l2 * *w;
        *m += (g - *m) * (1.0 - b1);
        *v = b2 * *v + (1.0 - b2) * g * g;
        let denom = v.sqrt() / sqrt_c2 + eps;
        *w *= shrink;
        *w -= step_size * (*m / denom);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{close, settings, two_steps};
    use super::super::{Decay, Method, Optimizer};

    #[test]
    fn adam_first_steps_move_by_lr_times_the_sign() {
        // Step 1: m̂ = g, v̂ = g², so the step is lr · g / (|g| + ε) ≈ lr · sign(g):
        // w₁ = [0.9, −2.1].
        // Step 2: m = 0.9·[0.05, 0.025] + 0.1·[−1, 0.5] = [−0.055, 0.0725],
        //   v = 0.999·[0.00025, 0.0000625] + 0.001·[1, 0.25]
        //     = [0.00124975, 0.0003124375],
        //   m̂ = m / (1 − 0.9²) = m / 0.19, v̂ = v / (1 − 0.999²) = v / 0.001999,
        //   w₂ = w₁ − 0.1 · m̂ / √v̂.
        let m = [-0.055f64 / 0.19, 0.0725 / 0.19];
        let v = [0.00124975f64 / 0.001999, 0.0003124375 / 0.001999];
        let want = [
            0.9 - 0.1 * m[0] / v[0].sqrt(),
            -2.1 - 0.1 * m[1] / v[1].sqrt(),
        ];
        close(&two_steps(settings(Method::Adam, Decay::L2, 0.0)), &want);
    }

    #[test]
    fn adamw_shrinks_before_the_adam_step_and_adam_l2_decays_through_the_moments() {
        // AdamW, λ = 0.5: step 1 shrinks by 1 − 0.05 = 0.95, then −lr·sign(g):
        // w₁ = [0.95 − 0.1, −1.9 − 0.1] = [0.85, −2.0].
        let mut w = vec![1.0f32, -2.0];
        let mut opt = Optimizer::new(settings(Method::AdamW, Decay::L2, 0.5), &[2]);
        opt.begin_step(0.1).update(0, &mut w, &[0.5, 0.25], true);
        close(&w, &[0.85, -2.0]);
        // Adam with L2, λ = 0.5: g = [0.5 + 0.5, 0.25 − 1] = [1, −0.75], so
        // the first step is −lr·sign(g) = [0.9, −1.9].
        let mut w = vec![1.0f32, -2.0];
        let mut opt = Optimizer::new(settings(Method::Adam, Decay::L2, 0.5), &[2]);
        opt.begin_step(0.1).update(0, &mut w, &[0.5, 0.25], true);
        close(&w, &[0.9, -1.9]);
    }
}
