//! Heavy-ball and Nesterov momentum, as `torch.optim.SGD(momentum = μ,
//! nesterov = …)` with dampening 0: the buffer accumulates the raw
//! gradient, `b ← μ b + g`, and the step is `lr · b` (Nesterov: along
//! `g + μ b`). Sutskever et al. scale the gradient by `lr` inside `b`; the
//! two agree while the rate is constant, not across a schedule.

use super::DecayTerms;

/// One step of tensor `w` with data gradient `g` and momentum buffer `b`.
pub(super) fn update(
    w: &mut [f32],
    g: &[f32],
    buffer: &mut [f32],
    lr: f32,
    mu: f32,
    nesterov: bool,
    decay: DecayTerms,
) {
    assert_eq!(buffer.len(), w.len(), "optimizer: momentum buffer");
    let DecayTerms { l2, shrink } = decay;
    for ((w, &g), b) in w.iter_mut().zip(g).zip(buffer) {
        let g = g + l2 * *w;
        *b = mu * *b + g;
        let direction = if nesterov { g + mu * *b } else { *b };
        *w *= shrink;
        *w -= lr * direction;
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{close, settings, two_steps};
    use super::super::{Decay, Method};

    #[test]
    fn momentum_accumulates_the_raw_gradient() {
        // μ = 0.9: b₁ = g₁ → w₁ = [0.95, −2.025];
        // b₂ = 0.9·[0.5, 0.25] + [−1, 0.5] = [−0.55, 0.725] → w₂ = [1.005, −2.0975].
        close(
            &two_steps(settings(Method::Momentum, Decay::L2, 0.0)),
            &[1.005, -2.0975],
        );
    }

    #[test]
    fn nesterov_steps_along_gradient_plus_mu_buffer() {
        // Step 1: b = g₁, direction g₁ + 0.9 g₁ = [0.95, 0.475] → w = [0.905, −2.0475].
        // Step 2: b = [−0.55, 0.725], direction [−1 − 0.495, 0.5 + 0.6525]
        //         = [−1.495, 1.1525] → w = [1.0545, −2.16275].
        close(
            &two_steps(settings(Method::Nesterov, Decay::L2, 0.0)),
            &[1.0545, -2.16275],
        );
    }
}
