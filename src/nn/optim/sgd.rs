//! Plain SGD, `torch.optim.SGD` without momentum: `w ← w − lr · g`, with
//! λW added to the gradient (L2) or the weights shrunk first (decoupled;
//! for plain SGD the two are the same, as Loshchilov & Hutter note).

use super::DecayTerms;

/// One step of tensor `w` with data gradient `g` at rate `lr`.
pub(super) fn update(w: &mut [f32], g: &[f32], lr: f32, decay: DecayTerms) {
    let DecayTerms { l2, shrink } = decay;
    if l2 != 0.0 {
        for (w, &g) in w.iter_mut().zip(g) {
            let g = g + l2 * *w;
            *w -= lr * g;
        }
    } else if shrink != 1.0 {
        for (w, &g) in w.iter_mut().zip(g) {
            *w *= shrink;
            *w -= lr * g;
        }
    } else {
        for (w, &g) in w.iter_mut().zip(g) {
            *w -= lr * g;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{close, settings, two_steps};
    use super::super::{Decay, Method};

    #[test]
    fn sgd_with_l2_adds_lambda_w_to_the_gradient() {
        // λ = 0.1: g₁ = [0.5 + 0.1, 0.25 − 0.2] → w = [0.94, −2.005];
        // g₂ = [−1 + 0.094, 0.5 − 0.2005] → w = [1.0306, −2.03495].
        close(
            &two_steps(settings(Method::Sgd, Decay::L2, 0.1)),
            &[1.0306, -2.03495],
        );
    }

    #[test]
    fn sgd_with_decoupled_decay_shrinks_by_lr_lambda() {
        // Shrink 1 − 0.1·0.1 = 0.99 each step, then the plain step:
        // w₁ = [0.99 − 0.05, −1.98 − 0.025] = [0.94, −2.005];
        // w₂ = [0.9306 + 0.1, −1.98495 − 0.05] = [1.0306, −2.03495].
        // (Equal to L2 for plain SGD, as Loshchilov & Hutter note.)
        close(
            &two_steps(settings(Method::Sgd, Decay::Decoupled, 0.1)),
            &[1.0306, -2.03495],
        );
    }
}
