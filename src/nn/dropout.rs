//! Dropout (Srivastava et al., JMLR 2014) with inverted scaling: during
//! training each input pixel is kept with probability 1 − `input`, each
//! hidden unit with probability 1 − `hidden`, and kept values are scaled by
//! 1 / (1 − p) so that evaluation, which drops nothing, needs no rescaling.
//! The masks come from their own seeded stream, so a run has the same bits
//! whatever else runs beside it.

use ndarray::{Array2, ArrayView2, s};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The dropout masks of one batch, one `batch × width` array per layer
/// boundary that drops anything (input, then each hidden layer's output),
/// and the stream they are drawn from.
#[derive(Debug, Clone)]
pub struct Dropout {
    /// Drop probability of each boundary: the input first, then the hidden
    /// layers' outputs (the logits never drop).
    rates: Vec<f32>,
    /// The current masks: 0 or 1 / (1 − p), empty for a rate of 0.
    masks: Vec<Array2<f32>>,
    rng: ChaCha8Rng,
}

impl Dropout {
    /// Masks for a network with layer widths `sizes` and batches of at most
    /// `batch` rows, drawn from stream 3 of `seed`; `None` when nothing
    /// drops.
    pub fn new(
        sizes: &[usize],
        batch: usize,
        input: f32,
        hidden: f32,
        seed: u64,
    ) -> Option<Dropout> {
        if input == 0.0 && hidden == 0.0 {
            return None;
        }
        let boundaries = sizes.len().saturating_sub(1);
        let rates: Vec<f32> = (0..boundaries)
            .map(|b| if b == 0 { input } else { hidden })
            .collect();
        let masks = rates
            .iter()
            .zip(sizes)
            .map(|(&p, &width)| {
                if p > 0.0 {
                    Array2::zeros((batch, width))
                } else {
                    Array2::zeros((0, 0))
                }
            })
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(3);
        Some(Dropout { rates, masks, rng })
    }

    /// How far its stream has been read (in 32-bit words), to save a run.
    pub fn position(&self) -> u128 {
        self.rng.get_word_pos()
    }

    /// Moves its stream to a position saved by [`Dropout::position`].
    pub fn set_position(&mut self, words: u128) {
        self.rng.set_word_pos(words);
    }

    /// Draws new masks for the next batch of `rows` rows.
    pub fn draw(&mut self, rows: usize) {
        for (mask, &p) in self.masks.iter_mut().zip(&self.rates) {
            if p == 0.0 {
                continue;
            }
            let keep = 1.0 / (1.0 - p);
            for m in mask.slice_mut(s![..rows, ..]).iter_mut() {
                *m = if self.rng.random::<f32>() < p {
                    0.0
                } else {
                    keep
                };
            }
        }
    }

    /// The mask of boundary `b` (0 = input, l = output of hidden layer l)
    /// for `rows` rows, if that boundary drops anything.
    pub fn mask(&self, b: usize, rows: usize) -> Option<ArrayView2<'_, f32>> {
        match self.rates.get(b) {
            Some(&p) if p > 0.0 => Some(self.masks[b].slice(s![..rows, ..])),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_p_of_the_units_drop_and_the_rest_are_scaled_up() {
        let mut d = Dropout::new(&[100, 50, 10], 200, 0.2, 0.5, 1).unwrap();
        d.draw(200);
        let input = d.mask(0, 200).unwrap();
        let dropped = input.iter().filter(|&&m| m == 0.0).count() as f64 / input.len() as f64;
        assert!((dropped - 0.2).abs() < 0.01, "{dropped}");
        assert!(input.iter().all(|&m| m == 0.0 || m == 1.25));
        let hidden = d.mask(1, 200).unwrap();
        let dropped = hidden.iter().filter(|&&m| m == 0.0).count() as f64 / hidden.len() as f64;
        assert!((dropped - 0.5).abs() < 0.02, "{dropped}");
        // The logits never drop; a rate of 0 is no mask.
        assert!(d.mask(2, 200).is_none());
        assert!(Dropout::new(&[100, 50, 10], 200, 0.0, 0.0, 1).is_none());
        let only_hidden = Dropout::new(&[100, 50, 10], 200, 0.0, 0.5, 1).unwrap();
        assert!(only_hidden.mask(0, 200).is_none());
    }

    #[test]
    fn the_masks_depend_on_the_seed_alone() {
        let mut a = Dropout::new(&[20, 10, 10], 8, 0.3, 0.3, 5).unwrap();
        let mut b = Dropout::new(&[20, 10, 10], 8, 0.3, 0.3, 5).unwrap();
        a.draw(8);
        b.draw(8);
        assert_eq!(a.mask(1, 8), b.mask(1, 8));
    }
}
