//! The data losses over rows of outputs: softmax cross-entropy (numerically
//! stable, with the fused gradient `softmax − onehot`) and squared error
//! against one-hot targets (Belkin et al.'s loss), each with its gradient.

use ndarray::ArrayViewMut2;

use crate::choice::choice_enum;

choice_enum! {
    /// The loss a network is trained on and scored with.
    pub enum Loss {
        /// Softmax cross-entropy (`torch.nn.CrossEntropyLoss`).
        CrossEntropy = "cross_entropy",
        /// Squared error between the linear outputs and one-hot targets,
        /// summed over the outputs and averaged over examples:
        /// `Σₖ (zₖ − yₖ)²`, which is PyTorch's
        /// `MSELoss(reduction="sum")(z, onehot) / batch`, or
        /// `classes × MSELoss()(z, onehot)`.
        Mse = "mse",
    }
}

/// Everything the loss needs, as the run's settings give it (the optimizer
/// has [`super::optim::OptimizerSettings`] likewise). A loss with a setting
/// of its own — label smoothing, say — adds a field here, a row to the
/// settings table and a line to `RunParams::loss_settings`; the network
/// and the training loop pass it on unchanged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossSettings {
    /// Which loss.
    pub loss: Loss,
}

impl LossSettings {
    /// Scores each row of `outputs` against its label; with `grad_scale`,
    /// overwrites each row with the gradient of `grad_scale ·` the row's
    /// loss.
    pub fn score(
        self,
        outputs: ArrayViewMut2<f32>,
        labels: &[u8],
        grad_scale: Option<f32>,
    ) -> BatchScore {
        match self.loss {
            Loss::CrossEntropy => softmax_cross_entropy(outputs, labels, grad_scale),
            Loss::Mse => squared_error(outputs, labels, grad_scale),
        }
    }
}

impl From<Loss> for LossSettings {
    fn from(loss: Loss) -> LossSettings {
        LossSettings { loss }
    }
}

/// The index of the largest value of `row` (the first of equals).
pub fn arg_max(row: &[f32]) -> usize {
    let (mut best, mut max) = (0, row[0]);
    for (j, &z) in row.iter().enumerate().skip(1) {
        if z > max {
            best = j;
            max = z;
        }
    }
    best
}

/// Scores each row of `outputs` by `Σₖ (zₖ − onehot(label)ₖ)²`; with
/// `grad_scale`, overwrites each row with `grad_scale · 2 (z − onehot)`.
///
/// # Panics
/// When `outputs` has another number of rows than `labels`, or a row is not
/// contiguous: caller bugs.
pub fn squared_error(
    mut outputs: ArrayViewMut2<f32>,
    labels: &[u8],
    grad_scale: Option<f32>,
) -> BatchScore {
    assert_eq!(
        outputs.nrows(),
        labels.len(),
        "squared_error: one label per row of outputs"
    );
    let mut score = BatchScore::default();
    for (row, &label) in outputs.rows_mut().into_iter().zip(labels) {
        let row = row.into_slice().expect("a row of outputs is contiguous");
        let label = label as usize;
        if arg_max(row) == label {
            score.correct += 1;
        }
        let mut sum = 0.0f32;
        for (k, z) in row.iter_mut().enumerate() {
            let residual = *z - if k == label { 1.0 } else { 0.0 };
            sum += residual * residual;
            if let Some(scale) = grad_scale {
                *z = 2.0 * scale * residual;
            }
        }
        score.loss_sum += f64::from(sum);
    }
    score
}

/// Sum of cross-entropy losses and number of correct predictions of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchScore {
    /// Σ over rows of −log softmax(z)[label], in f64 to keep large sums exact.
    pub loss_sum: f64,
    /// Rows whose arg-max logit (first one on ties) equals the label.
    pub correct: usize,
}

/// Scores each row of `logits` (`labels.len() × classes`) against its label.
/// When `grad_scale` is given, each row is overwritten with
/// `grad_scale · (softmax(z) − onehot(label))`, the gradient of the scaled
/// loss with respect to the logits.
///
/// Uses `log Σ exp(z − max)` so logits of any size stay finite.
///
/// # Panics
/// When `logits` has another number of rows than `labels`, or a row is not
/// contiguous (the network's buffers always are): caller bugs.
pub fn softmax_cross_entropy(
    mut logits: ArrayViewMut2<f32>,
    labels: &[u8],
    grad_scale: Option<f32>,
) -> BatchScore {
    assert_eq!(
        logits.nrows(),
        labels.len(),
        "softmax_cross_entropy: one label per row of logits"
    );
    let mut score = BatchScore::default();
    for (row, &label) in logits.rows_mut().into_iter().zip(labels) {
        let row = row.into_slice().expect("a row of logits is contiguous");
        let label = label as usize;
        let best = arg_max(row);
        let max = row[best];
        if best == label {
            score.correct += 1;
        }
        let sum_exp: f32 = row.iter().map(|&z| (z - max).exp()).sum();
        let log_sum_exp = sum_exp.ln();
        score.loss_sum += f64::from(log_sum_exp - (row[label] - max));
        if let Some(scale) = grad_scale {
            let inv = scale / sum_exp;
            for z in row.iter_mut() {
                *z = (*z - max).exp() * inv;
            }
            row[label] -= scale;
        }
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, arr2};

    #[test]
    fn matches_the_textbook_formula_on_small_logits() {
        let mut z = arr2(&[[1.0f32, 2.0, 0.5]]);
        let want = -((2.0f64).exp() / (1.0f64.exp() + 2.0f64.exp() + 0.5f64.exp())).ln();
        let s = softmax_cross_entropy(z.view_mut(), &[1], None);
        assert!((s.loss_sum - want).abs() < 1e-6);
        assert_eq!(s.correct, 1);
    }

    #[test]
    fn stays_finite_for_huge_logits() {
        let mut z = arr2(&[[1e4f32, -1e4, 0.0], [1e4, -1e4, 5.0]]);
        let s = softmax_cross_entropy(z.view_mut(), &[1, 0], Some(0.5));
        assert!(s.loss_sum.is_finite());
        // Row 1: log-sum-exp ≈ 1e4, label logit −1e4 → 2e4; row 2: ≈ 0.
        assert!((s.loss_sum - 2e4).abs() < 1.0, "{}", s.loss_sum);
        assert!(z.iter().all(|g| g.is_finite()));
        // Each gradient row sums to zero: softmax sums to one, onehot to one.
        for row in z.rows() {
            assert!(row.sum().abs() < 1e-6);
        }
    }

    #[test]
    fn squared_error_sums_over_outputs_and_its_gradient_is_twice_the_residual() {
        let mut z = ndarray::array![[0.5f32, 0.25, -1.0]];
        let s = squared_error(z.view_mut(), &[1], Some(0.5));
        // (0.5)² + (0.25 − 1)² + (−1)² = 0.25 + 0.5625 + 1.
        assert!((s.loss_sum - 1.8125).abs() < 1e-9);
        assert_eq!(s.correct, 0);
        assert_eq!(z, ndarray::array![[0.5f32, -0.75, -1.0]]);
    }

    #[test]
    fn gradient_is_softmax_minus_onehot() {
        let mut z = Array2::zeros((1, 2));
        softmax_cross_entropy(z.view_mut(), &[0], Some(1.0));
        assert_eq!(z, arr2(&[[-0.5, 0.5]]));
    }
}
