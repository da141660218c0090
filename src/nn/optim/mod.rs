//! Optimizers as objects with settings and state (after dfdx's `Sgd`/`Adam`
//! and `WeightDecay::{L2, Decoupled}`): the model computes the data
//! gradient, [`Optimizer::step`] turns it into an update, one fused pass per
//! tensor, with state buffers allocated once from the model's shapes.
//!
//! This file holds the optimizer and its state; each update rule's loop
//! and its hand-computed test values live in a file of their own
//! (`sgd.rs`, `momentum.rs`, `adam.rs`).
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

mod adam;
mod momentum;
mod sgd;

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

    /// Arrays of state the rule keeps, each as large as the parameters:
    /// none for SGD, the momentum buffer, or Adam's two moments.
    pub fn state_arrays(self) -> usize {
        match self {
            Method::Sgd => 0,
            Method::Momentum | Method::Nesterov => 1,
            Method::Adam | Method::AdamW => 2,
        }
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
        let arrays = settings.method.state_arrays();
        let state = tensor_lengths
            .iter()
            .map(|&n| TensorState {
                first: vec![0.0; if arrays >= 1 { n } else { 0 }],
                second: vec![0.0; if arrays >= 2 { n } else { 0 }],
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
        let decay = DecayTerms { l2, shrink };
        match s.method {
            Method::Sgd => sgd::update(w, g, lr, decay),
            Method::Momentum | Method::Nesterov => {
                let nesterov = s.method == Method::Nesterov;
                momentum::update(w, g, &mut state.first, lr, s.momentum, nesterov, decay);
            }
            Method::Adam | Method::AdamW => {
                let step = adam::Step {
                    beta1: s.beta1,
                    beta2: s.beta2,
                    eps: s.eps,
                    step_size: self.adam_step_size,
                    sqrt_correction2: self.adam_sqrt_correction2,
                };
                adam::update(w, g, (&mut state.first, &mut state.second), step, decay);
            }
        }
    }
}

/// How weight decay enters one tensor's update: `l2` joins the gradient as
/// `l2 · w`, and the weights are multiplied by `shrink` before the step
/// (decoupled decay). `(0, 1)` for a tensor without decay.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecayTerms {
    /// λ when it joins the gradient, else 0.
    pub l2: f32,
    /// `1 − lr · λ` under decoupled decay, else 1.
    pub shrink: f32,
}

/// What the rules' tests share: settings, two steps on one tensor, and a
/// comparison with hand-computed values.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub fn settings(method: Method, decay: Decay, lambda: f32) -> OptimizerSettings {
        OptimizerSettings {
            method,
            lambda,
            decay,
            ..OptimizerSettings::sgd(0.0)
        }
    }

    /// Two steps on one decayed tensor `w = [1, −2]` with gradients
    /// `[0.5, 0.25]` then `[−1, 0.5]`, at lr 0.1.
    pub fn two_steps(s: OptimizerSettings) -> Vec<f32> {
        let mut w = vec![1.0f32, -2.0];
        let mut opt = Optimizer::new(s, &[2]);
        for g in [[0.5f32, 0.25], [-1.0, 0.5]] {
            opt.begin_step(0.1).update(0, &mut w, &g, true);
        }
        w
    }

    pub fn close(got: &[f32], want: &[f64]) {
        for (g, w) in got.iter().zip(want) {
            assert!((f64::from(*g) - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::settings;
    use super::*;

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
    fn each_rule_keeps_the_state_arrays_it_declares_for_memory_estimates() {
        for &method in Method::ALL {
            let opt = Optimizer::new(settings(method, Decay::L2, 0.0), &[10, 3]);
            let floats: usize = opt
                .state
                .iter()
                .map(|t| t.first.len() + t.second.len())
                .sum();
            assert_eq!(floats, 13 * method.state_arrays(), "{method}");
        }
    }

    #[test]
    fn plain_sgd_keeps_no_state() {
        let opt = Optimizer::new(OptimizerSettings::sgd(0.1), &[1000]);
        assert!(opt.state[0].first.is_empty() && opt.state[0].second.is_empty());
    }
}
