//! Optimizers as objects with settings and state (after dfdx's `Sgd`/`Adam`
//! and `WeightDecay::{L2, Decoupled}`): the model computes the data
//! gradient, [`Optimizer::step`] turns it into an update, one fused pass per
//! tensor, with state buffers allocated once from the model's shapes.
//!
//! The update rules are PyTorch's (`torch.optim.SGD` with dampening 0,
//! `Adam`, `AdamW`), which differ from textbooks in two places:
//! - momentum accumulates the raw gradient, `b ← μ b + g`, and the step is
//!   `lr · b` (Sutskever et al. scale the gradient by `lr` inside `b`); the
//!   two agree while the rate is constant, not across a schedule;
//! - Nesterov steps along `g + μ b` (the gradient is not taken at a
//!   look-ahead point);
//! - Adam's `ε` is added to `√v̂` (as in Kingma & Ba), not to `√v` before
//!   bias correction (TensorFlow's `ε̂`).

use super::mlp::{Gradients, Mlp};
use crate::choice::choice_enum;

choice_enum! {
    /// The update rule.
    pub enum Method {
        /// Plain SGD: `w ← w − lr · g`.
        Sgd = "sgd",
        /// Heavy-ball momentum (`torch.optim.SGD(momentum = μ)`).
        Momentum = "momentum",
        /// Nesterov momentum (`torch.optim.SGD(momentum = μ, nesterov = True)`).
        Nesterov = "nesterov",
        /// Adam (`torch.optim.Adam`).
        Adam = "adam",
        /// Adam with decoupled weight decay (`torch.optim.AdamW`): always
        /// decays as [`Decay::Decoupled`].
        AdamW = "adamw",
    }
}

choice_enum! {
    /// How the weight-decay strength λ acts on the weight matrices (never
    /// on biases).
    pub enum Decay {
        /// λW joins the gradient before the update (the gradient of
        /// ½λΣ‖W‖²; `weight_decay = λ` of `torch.optim.SGD`/`Adam`).
        L2 = "l2",
        /// The weights shrink by `lr · λ · W` outside the update, as AdamW
        /// (for SGD with momentum this is Loshchilov & Hutter's SGDW).
        Decoupled = "decoupled",
    }
}

impl Method {
    /// Whether the update keeps a momentum buffer (`momentum`, `nesterov`).
    pub fn uses_momentum(self) -> bool {
        matches!(self, Method::Momentum | Method::Nesterov)
    }

    /// Whether the update is Adam's (`adam`, `adamw`).
    pub fn is_adam(self) -> bool {
        matches!(self, Method::Adam | Method::AdamW)
    }
}

/// Everything an optimizer needs besides the learning rate, which a
/// schedule gives each step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizerSettings {
    /// The update rule.
    pub method: Method,
    /// μ of `momentum` and `nesterov`.
    pub momentum: f32,
    /// Adam's β₁ (decay of the first-moment average).
    pub beta1: f32,
    /// Adam's β₂ (decay of the second-moment average).
    pub beta2: f32,
    /// Adam's ε.
    pub eps: f32,
    /// Weight-decay strength λ.
    pub lambda: f32,
    /// How λ acts (`adamw` always decays decoupled).
    pub decay: Decay,
}

impl OptimizerSettings {
    /// Plain SGD with L2 decay λ: sweep's behaviour before optimizers were
    /// settings.
    pub fn sgd(lambda: f32) -> OptimizerSettings {
        OptimizerSettings {
            method: Method::Sgd,
            momentum: 0.9,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            lambda,
            decay: Decay::L2,
        }
    }

    /// The decay that actually applies.
    pub fn effective_decay(&self) -> Decay {
        match self.method {
            Method::AdamW => Decay::Decoupled,
            _ => self.decay,
        }
    }
}

/// A tensor's saved optimizer buffers: momentum (or Adam's first moment)
/// and Adam's second moment, each empty when the rule has none.
pub type Moments = (Vec<f32>, Vec<f32>);

/// State of one parameter tensor: the buffers its rule needs, empty when
/// it needs none.
#[derive(Debug, Clone, PartialEq)]
struct TensorState {
    /// Momentum buffer, or Adam's first moment.
    first: Vec<f32>,
    /// Adam's second moment.
    second: Vec<f32>,
}

/// An optimizer over a fixed list of tensors (in the order the model lists
/// them), with its state.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimizer {
    settings: OptimizerSettings,
    state: Vec<TensorState>,
    steps: u32,
}

impl Optimizer {
    /// An optimizer for tensors of the given lengths, buffers zeroed.
    pub fn new(settings: OptimizerSettings, tensor_lengths: &[usize]) -> Optimizer {
        let method = settings.method;
        let state = tensor_lengths
            .iter()
            .map(|&n| TensorState {
                first: vec![0.0; if method == Method::Sgd { 0 } else { n }],
                second: vec![0.0; if method.is_adam() { n } else { 0 }],
            })
            .collect();
        Optimizer {
            settings,
            state,
            steps: 0,
        }
    }

    /// The settings it was built with.
    pub fn settings(&self) -> &OptimizerSettings {
        &self.settings
    }

    /// Updates were applied so far.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Its state, to save a run between epochs: per tensor the momentum
    /// (or first-moment) and second-moment buffers, and the steps taken.
    pub fn state(&self) -> (Vec<Moments>, u32) {
        let buffers = self
            .state
            .iter()
            .map(|t| (t.first.clone(), t.second.clone()))
            .collect();
        (buffers, self.steps)
    }

    /// Restores a state saved by [`Optimizer::state`]; false (and nothing
    /// changed) when its buffers do not have this optimizer's shapes.
    pub fn restore(&mut self, buffers: &[Moments], steps: u32) -> bool {
        let fits = buffers.len() == self.state.len()
            && buffers
                .iter()
                .zip(&self.state)
                .all(|((a, b), t)| a.len() == t.first.len() && b.len() == t.second.len());
        if fits {
            for ((a, b), t) in buffers.iter().zip(&mut self.state) {
                t.first.copy_from_slice(a);
                t.second.copy_from_slice(b);
            }
            self.steps = steps;
        }
        fits
    }

    /// An optimizer for `model`'s tensors: each layer's weights, then its
    /// biases.
    pub fn for_model(settings: OptimizerSettings, model: &Mlp) -> Optimizer {
        let lengths: Vec<usize> = model
            .layers()
            .iter()
            .flat_map(|l| [l.weights.len(), l.bias.len()])
            .collect();
        Optimizer::new(settings, &lengths)
    }

    /// One update of every weight and bias of `model` from the data
    /// gradient `grads` at learning rate `lr`; λ acts on weights only.
    pub fn step(&mut self, model: &mut Mlp, grads: &Gradients, lr: f32) {
        const CONTIGUOUS: &str = "the network's arrays are contiguous";
        let mut step = self.begin_step(lr);
        let layers = model
            .layers_mut()
            .iter_mut()
            .zip(&grads.weights)
            .zip(&grads.bias);
        for (l, ((layer, weight_grad), bias_grad)) in layers.enumerate() {
            step.update(
                2 * l,
                layer.weights.as_slice_mut().expect(CONTIGUOUS),
                weight_grad.as_slice().expect(CONTIGUOUS),
                true,
            );
            step.update(
                2 * l + 1,
                layer.bias.as_slice_mut().expect(CONTIGUOUS),
                bias_grad.as_slice().expect(CONTIGUOUS),
                false,
            );
        }
    }

    /// Starts a step at learning rate `lr`: call once, then
    /// [`StepContext::update`] for every tensor.
    pub fn begin_step(&mut self, lr: f32) -> StepContext<'_> {
        self.steps += 1;
        let s = &self.settings;
        let t = self.steps as i32;
        // PyTorch computes the bias corrections in double precision from
        // the float hyper-parameters, then uses them as Python floats.
        let correction1 = 1.0 - f64::from(s.beta1).powi(t);
        let correction2 = 1.0 - f64::from(s.beta2).powi(t);
        StepContext {
            lr,
            adam_step_size: (f64::from(lr) / correction1) as f32,
            adam_sqrt_correction2: correction2.sqrt() as f32,
            optimizer: self,
        }
    }
}

/// One step in progress: the learning rate and the quantities every tensor
/// of the step shares.
#[derive(Debug)]
pub struct StepContext<'a> {
    lr: f32,
    adam_step_size: f32,
    adam_sqrt_correction2: f32,
    optimizer: &'a mut Optimizer,
}

impl StepContext<'_> {
    /// Updates tensor `index` (its weights `w` and data gradient `g`) in one
    /// pass; `decayed` says whether λ acts on it (weights yes, biases no).
    ///
    /// # Panics
    /// When `index` or a length does not match the tensors the optimizer
    /// was built for: a caller bug.
    pub fn update(&mut self, index: usize, w: &mut [f32], g: &[f32], decayed: bool) {
        assert_eq!(
            w.len(),
            g.len(),
            "optimizer: tensor {index} and its gradient"
        );
        let s = self.optimizer.settings;
        let lr = self.lr;
        let state = &mut self.optimizer.state[index];
        let lambda = if decayed { s.lambda } else { 0.0 };
        let (l2, shrink) = match s.effective_decay() {
            Decay::L2 => (lambda, 1.0),
            Decay::Decoupled => (0.0, 1.0 - lr * lambda),
        };
        match s.method {
            Method::Sgd if l2 != 0.0 => {
                for (w, &g) in w.iter_mut().zip(g) {
                    let g = g + l2 * *w;
                    *w -= lr * g;
                }
            }
            Method::Sgd if shrink != 1.0 => {
                for (w, &g) in w.iter_mut().zip(g) {
                    *w *= shrink;
                    *w -= lr * g;
                }
            }
            Method::Sgd => {
                for (w, &g) in w.iter_mut().zip(g) {
                    *w -= lr * g;
                }
            }
            Method::Momentum | Method::Nesterov => {
                assert_eq!(state.first.len(), w.len(), "optimizer: tensor {index}");
                let mu = s.momentum;
                let nesterov = s.method == Method::Nesterov;
                for ((w, &g), b) in w.iter_mut().zip(g).zip(&mut state.first) {
                    let g = g + l2 * *w;
                    *b = mu * *b + g;
                    let direction = if nesterov { g + mu * *b } else { *b };
                    *w *= shrink;
                    *w -= lr * direction;
                }
            }
            Method::Adam | Method::AdamW => {
                assert_eq!(state.first.len(), w.len(), "optimizer: tensor {index}");
                let (b1, b2, eps) = (s.beta1, s.beta2, s.eps);
                let step_size = self.adam_step_size;
                let sqrt_c2 = self.adam_sqrt_correction2;
                for (((w, &g), m), v) in w
                    .iter_mut()
                    .zip(g)
                    .zip(&mut state.first)
                    .zip(&mut state.second)
                {
                    let g = g + l2 * *w;
                    *m += (g - *m) * (1.0 - b1);
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    let denom = v.sqrt() / sqrt_c2 + eps;
                    *w *= shrink;
                    *w -= step_size * (*m / denom);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(method: Method, decay: Decay, lambda: f32) -> OptimizerSettings {
        OptimizerSettings {
            method,
            lambda,
            decay,
            ..OptimizerSettings::sgd(0.0)
        }
    }

    /// Two steps on one decayed tensor `w = [1, −2]` with gradients
    /// `[0.5, 0.25]` then `[−1, 0.5]`, at lr 0.1.
    fn two_steps(s: OptimizerSettings) -> Vec<f32> {
        let mut w = vec![1.0f32, -2.0];
        let mut opt = Optimizer::new(s, &[2]);
        for g in [[0.5f32, 0.25], [-1.0, 0.5]] {
            opt.begin_step(0.1).update(0, &mut w, &g, true);
        }
        w
    }

    fn close(got: &[f32], want: &[f64]) {
        for (g, w) in got.iter().zip(want) {
            assert!((f64::from(*g) - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

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

    #[test]
    fn biases_are_never_decayed() {
        for method in [Method::Sgd, Method::Momentum, Method::AdamW] {
            for decay in [Decay::L2, Decay::Decoupled] {
                let mut decayed = vec![1.0f32];
                let mut bias = vec![1.0f32];
                let mut opt = Optimizer::new(settings(method, decay, 0.5), &[1, 1]);
                let mut step = opt.begin_step(0.1);
                step.update(0, &mut decayed, &[0.0], true);
                step.update(1, &mut bias, &[0.0], false);
                assert_eq!(bias, [1.0], "{method} {decay}");
                assert!(decayed[0] < 1.0, "{method} {decay}");
            }
        }
    }

    #[test]
    fn plain_sgd_keeps_no_state() {
        let opt = Optimizer::new(OptimizerSettings::sgd(0.1), &[1000]);
        assert!(opt.state[0].first.is_empty() && opt.state[0].second.is_empty());
    }
}
