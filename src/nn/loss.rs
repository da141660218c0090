//! Softmax cross-entropy over rows of logits, numerically stable, with the
//! fused gradient `softmax − onehot`.

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
pub fn softmax_cross_entropy(
    logits: &mut [f32],
    labels: &[u8],
    classes: usize,
    grad_scale: Option<f32>,
) -> BatchScore {
    let mut score = BatchScore::default();
    for (row, &label) in logits.chunks_exact_mut(classes).zip(labels) {
        let label = label as usize;
        let (mut best, mut max) = (0, row[0]);
        for (j, &z) in row.iter().enumerate().skip(1) {
            if z > max {
                best = j;
                max = z;
            }
        }
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

    #[test]
    fn matches_the_textbook_formula_on_small_logits() {
        let mut z = vec![1.0f32, 2.0, 0.5];
        let want = -((2.0f64).exp() / (1.0f64.exp() + 2.0f64.exp() + 0.5f64.exp())).ln();
        let s = softmax_cross_entropy(&mut z, &[1], 3, None);
        assert!((s.loss_sum - want).abs() < 1e-6);
        assert_eq!(s.correct, 1);
    }

    #[test]
    fn stays_finite_for_huge_logits() {
        let mut z = vec![1e4f32, -1e4, 0.0, 1e4, -1e4, 5.0];
        let s = softmax_cross_entropy(&mut z, &[1, 0], 3, Some(0.5));
        assert!(s.loss_sum.is_finite());
        // Row 1: log-sum-exp ≈ 1e4, label logit −1e4 → 2e4; row 2: ≈ 0.
        assert!((s.loss_sum - 2e4).abs() < 1.0, "{}", s.loss_sum);
        assert!(z.iter().all(|g| g.is_finite()));
        // Each gradient row sums to zero: softmax sums to one, onehot to one.
        for row in z.chunks(3) {
            assert!(row.iter().sum::<f32>().abs() < 1e-6);
        }
    }

    #[test]
    fn gradient_is_softmax_minus_onehot() {
        let mut z = vec![0.0f32, 0.0];
        softmax_cross_entropy(&mut z, &[0], 2, Some(1.0));
        assert_eq!(z, vec![-0.5, 0.5]);
    }
}
