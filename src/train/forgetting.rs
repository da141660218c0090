//! Example forgetting (Toneva et al., "An Empirical Study of Example
//! Forgetting during Deep Neural Network Learning", ICLR 2019), counted from
//! the training forward pass itself: no extra pass.
//!
//! Each time a training image is presented in a minibatch, the network's
//! prediction for it in that same forward pass (training mode, dropout
//! included) is right or wrong against the label it trains on. A
//! *forgetting event* is a presentation at which it is wrong after being
//! right at its previous presentation. With `sampling = "shuffle"` every
//! image is presented once per epoch; with `"replacement"` an image is
//! presented whenever it is drawn, and "previous" is its previous draw.
//! An image is *unforgettable* when it was right at some presentation and
//! never forgotten; one never right is *never learned* (Toneva et al. rank
//! those as forgotten infinitely often).

use serde::{Deserialize, Serialize};

/// What a run's forgetting counts come to (columns of `runs.csv`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ForgettingSummary {
    /// The fraction of training images learned and never forgotten.
    pub unforgettable: f64,
    /// Forgetting events per training image, on average.
    pub mean_events: f64,
    /// With label noise: the area under the ROC curve of the forgetting
    /// count (never-learned images counted highest) as a detector of the
    /// corrupted labels; 0.5 is chance, 1 finds every one.
    pub noisy_auc: Option<f64>,
}

/// An image's state at its last presentation.
const UNSEEN: u8 = 0;
const WRONG: u8 = 1;
const RIGHT: u8 = 2;

/// The counts of one run, per training image (in the order of the run's
/// sorted training indices).
#[derive(Debug, Clone, PartialEq)]
pub struct Forgetting {
    last: Vec<u8>,
    learned: Vec<bool>,
    events: Vec<u32>,
}

impl Forgetting {
    /// Counts for `n` training images, none presented yet.
    pub fn new(n: usize) -> Forgetting {
        Forgetting {
            last: vec![UNSEEN; n],
            learned: vec![false; n],
            events: vec![0; n],
        }
    }

    /// Records one presentation of the image in slot `slot`.
    pub fn present(&mut self, slot: usize, right: bool) {
        if right {
            self.learned[slot] = true;
        } else if self.last[slot] == RIGHT {
            self.events[slot] += 1;
        }
        self.last[slot] = if right { RIGHT } else { WRONG };
    }

    /// The forgetting events of each image; `u32::MAX` for one never
    /// learned.
    pub fn counts(&self) -> Vec<u32> {
        self.events
            .iter()
            .zip(&self.learned)
            .map(|(&e, &learned)| if learned { e } else { u32::MAX })
            .collect()
    }

    /// The run's summary; `corrupted[i]` says whether slot i's label was
    /// corrupted (empty without label noise).
    pub fn summary(&self, corrupted: &[bool]) -> ForgettingSummary {
        let n = self.events.len().max(1) as f64;
        let unforgettable = self
            .events
            .iter()
            .zip(&self.learned)
            .filter(|&(&e, &learned)| learned && e == 0)
            .count();
        let events: u64 = self.events.iter().map(|&e| u64::from(e)).sum();
        ForgettingSummary {
            unforgettable: unforgettable as f64 / n,
            mean_events: events as f64 / n,
            noisy_auc: corrupted
                .iter()
                .any(|&c| c)
                .then(|| roc_auc(&self.counts(), corrupted))
                .flatten(),
        }
    }
}

/// The area under the ROC curve of `score` as a detector of `positive`:
/// the probability that a positive scores above a negative, ties counting
/// one half (the Mann–Whitney U statistic over the pairs); `None` without
/// both kinds.
pub fn roc_auc(score: &[u32], positive: &[bool]) -> Option<f64> {
    let positives = positive.iter().filter(|&&p| p).count();
    let negatives = positive.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by_key(|&i| score[i]);
    // Average ranks (1-based) over ties; the positives' rank sum gives U.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end < order.len() && score[order[end]] == score[order[start]] {
            end += 1;
        }
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|&&i| positive[i]).count();
        rank_sum += mean_rank * tied_positives as f64;
        start = end;
    }
    let p = positives as f64;
    let u = rank_sum - p * (p + 1.0) / 2.0;
    Some(u / (p * negatives as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forgetting_event_is_right_then_wrong_at_the_next_presentation() {
        let mut f = Forgetting::new(3);
        // Image 0: right, wrong, right, wrong → 2 events.
        for right in [true, false, true, false] {
            f.present(0, right);
        }
        // Image 1: wrong, right, right → learned, never forgotten.
        for right in [false, true, true] {
            f.present(1, right);
        }
        // Image 2: never right.
        for _ in 0..3 {
            f.present(2, false);
        }
        assert_eq!(f.counts(), [2, 0, u32::MAX]);
        let s = f.summary(&[]);
        assert_eq!(s.unforgettable, 1.0 / 3.0);
        assert_eq!(s.mean_events, 2.0 / 3.0);
        assert_eq!(s.noisy_auc, None);
    }

    #[test]
    fn auc_counts_every_pair_with_ties_as_halves() {
        // Brute force over pairs: positives {3, 1}, negatives {0, 1, 2}.
        let score = [3, 0, 1, 1, 2];
        let positive = [true, false, true, false, false];
        let mut wins = 0.0;
        for (i, &pi) in positive.iter().enumerate() {
            for (j, &pj) in positive.iter().enumerate() {
                if pi && !pj {
                    wins += match score[i].cmp(&score[j]) {
                        std::cmp::Ordering::Greater => 1.0,
                        std::cmp::Ordering::Equal => 0.5,
                        std::cmp::Ordering::Less => 0.0,
                    };
                }
            }
        }
        assert_eq!(roc_auc(&score, &positive), Some(wins / 6.0));
        assert_eq!(roc_auc(&score, &[false; 5]), None);
    }
}
