//! What a run trains on when its training data is corrupted on purpose:
//! labels replaced (label noise, random labels) and pixels replaced
//! (Zhang et al., ICLR 2017). Everything here is a function of the data
//! settings only — `corruption_seed`, else `data_seed` — so every run seed
//! of a configuration sees the same corruption; validation and test
//! images and labels are never touched.

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{InputCorruption, NoiseMode, RunParams};
use crate::data::{NUM_CLASSES, Split};
use crate::nn::init::fill_normal;

/// ChaCha stream of the corruption seed that picks and relabels images.
const LABEL_STREAM: u64 = 2;
/// ChaCha stream of the one permutation of `shuffled_pixels`.
const PERMUTATION_STREAM: u64 = 4;
/// First of the per-image streams (`random_pixels`, `gaussian`): image i
/// of the training split uses stream `IMAGE_STREAMS + i`.
const IMAGE_STREAMS: u64 = 1 << 32;

/// The seed of a run's corruption: `corruption_seed`, else `data_seed`.
pub fn corruption_seed(params: &RunParams) -> u64 {
    params.corruption_seed.unwrap_or(params.data_seed)
}

/// The labels a run trains on: a copy of the training split's labels in
/// which `label_noise` of the run's training images (exactly
/// round(p · n), chosen by `corruption_seed`, else `data_seed`) carry
/// another label, and which those are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingLabels {
    /// One label per image of the training split.
    pub labels: Vec<u8>,
    /// Split indices of the corrupted images, sorted.
    pub corrupted: Vec<u32>,
}

/// Corrupts the labels of `train_idx` as `params` says (none when
/// `label_noise` is 0). Depends only on the data settings, so every seed
/// of a configuration trains on the same labels.
pub fn training_labels(
    params: &RunParams,
    split_labels: &[u8],
    train_idx: &[u32],
) -> TrainingLabels {
    let mut labels = split_labels.to_vec();
    let count = (params.label_noise * train_idx.len() as f64).round() as usize;
    if count == 0 {
        return TrainingLabels {
            labels,
            corrupted: Vec::new(),
        };
    }
    let mut rng = ChaCha8Rng::seed_from_u64(corruption_seed(params));
    rng.set_stream(LABEL_STREAM);
    let mut positions: Vec<u32> = (0..train_idx.len() as u32).collect();
    let (chosen, _) = positions.partial_shuffle(&mut rng, count.min(train_idx.len()));
    let mut corrupted = Vec::with_capacity(chosen.len());
    for &position in chosen.iter() {
        let i = train_idx[position as usize];
        let label = &mut labels[i as usize];
        *label = match params.label_noise_mode {
            NoiseMode::Uniform => rng.random_range(0..NUM_CLASSES as u8),
            NoiseMode::WrongClass => {
                let other = rng.random_range(0..NUM_CLASSES as u8 - 1);
                if other >= *label { other + 1 } else { other }
            }
        };
        corrupted.push(i);
    }
    corrupted.sort_unstable();
    TrainingLabels { labels, corrupted }
}

/// What replaces the pixels of a run's training images.
#[derive(Debug, Clone, PartialEq)]
pub enum PixelCorruption {
    /// Pixel j of every image takes the value of its pixel
    /// `permutation[j]`: one permutation for all images.
    Shuffled {
        /// The permutation of pixel positions.
        permutation: Vec<u32>,
    },
    /// Each image's pixels in an order of their own, drawn from the seed
    /// and the image's index.
    Random {
        /// The corruption seed.
        seed: u64,
    },
    /// Every pixel of every image drawn from N(mean, sd²), fresh for each
    /// image (from the seed and its index) but the same in every epoch.
    Gaussian {
        /// The corruption seed.
        seed: u64,
        /// Mean of all pixel values (in [0, 1]) of the training images.
        mean: f64,
        /// Their standard deviation.
        sd: f64,
    },
}

impl PixelCorruption {
    /// The corruption `params` asks for, with the statistics of the
    /// training images `indices` of `split` where it needs them; `None` for
    /// `input_corruption = "none"`.
    pub fn new(
        params: &RunParams,
        split: &Split,
        pixels: usize,
        indices: &[u32],
    ) -> Option<PixelCorruption> {
        let seed = corruption_seed(params);
        match params.input_corruption {
            InputCorruption::None => None,
            InputCorruption::ShuffledPixels => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(PERMUTATION_STREAM);
                let mut permutation: Vec<u32> = (0..pixels as u32).collect();
                permutation.shuffle(&mut rng);
                Some(PixelCorruption::Shuffled { permutation })
            }
            InputCorruption::RandomPixels => Some(PixelCorruption::Random { seed }),
            InputCorruption::Gaussian => {
                let (mut sum, mut squares) = (0.0f64, 0.0f64);
                for &i in indices {
                    let i = i as usize;
                    for &b in &split.images[i * pixels..(i + 1) * pixels] {
                        let x = f64::from(b) / 255.0;
                        sum += x;
                        squares += x * x;
                    }
                }
                let n = (indices.len() * pixels).max(1) as f64;
                let mean = sum / n;
                let sd = (squares / n - mean * mean).max(0.0).sqrt();
                Some(PixelCorruption::Gaussian { seed, mean, sd })
            }
        }
    }

    /// Writes the corrupted `[0, 1]`-scale values of training image
    /// `image` (its index in the split), whose pixels are `bytes`, into
    /// `row`; `table` turns a byte into its value.
    pub fn fill(&self, image: usize, bytes: &[u8], table: &[f32; 256], row: &mut [f32]) {
        match self {
            PixelCorruption::Shuffled { permutation } => {
                for (x, &from) in row.iter_mut().zip(permutation) {
                    *x = table[bytes[from as usize] as usize];
                }
            }
            PixelCorruption::Random { seed } => {
                for (x, &b) in row.iter_mut().zip(bytes) {
                    *x = table[b as usize];
                }
                row.shuffle(&mut image_rng(*seed, image));
            }
            PixelCorruption::Gaussian { seed, mean, sd } => {
                fill_normal(row, *sd, &mut image_rng(*seed, image));
                let mean = *mean as f32;
                for x in row.iter_mut() {
                    *x += mean;
                }
            }
        }
    }
}

/// The random stream of one training image.
fn image_rng(seed: u64, image: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(IMAGE_STREAMS + image as u64);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_noise_replaces_exactly_its_fraction_of_training_labels() {
        let split_labels: Vec<u8> = (0..1000).map(|i| (i % 10) as u8).collect();
        let train_idx: Vec<u32> = (0..1000).step_by(2).collect();
        let wrong = RunParams {
            label_noise: 0.2,
            ..RunParams::default()
        };
        let t = training_labels(&wrong, &split_labels, &train_idx);
        assert_eq!(t.corrupted.len(), 100);
        let changed: Vec<u32> = (0..1000u32)
            .filter(|&i| t.labels[i as usize] != split_labels[i as usize])
            .collect();
        // wrong_class: every corrupted label is wrong, nothing else changed.
        assert_eq!(changed, t.corrupted);
        assert!(t.corrupted.iter().all(|i| i % 2 == 0));
        // The same for every run seed; another corruption seed, other images.
        let reseeded = RunParams {
            seed: 7,
            ..wrong.clone()
        };
        assert_eq!(training_labels(&reseeded, &split_labels, &train_idx), t);
        let other = RunParams {
            corruption_seed: Some(1),
            ..wrong.clone()
        };
        assert_ne!(
            training_labels(&other, &split_labels, &train_idx).corrupted,
            t.corrupted
        );
        // uniform: some corrupted labels land on the true class (≈ 1 in 10).
        let uniform = RunParams {
            label_noise: 1.0,
            label_noise_mode: NoiseMode::Uniform,
            ..RunParams::default()
        };
        let u = training_labels(&uniform, &split_labels, &train_idx);
        assert_eq!(u.corrupted.len(), 500);
        let kept = u
            .corrupted
            .iter()
            .filter(|&&i| u.labels[i as usize] == split_labels[i as usize])
            .count();
        assert!((25..=80).contains(&kept), "{kept} of 500 kept their label");
        let clean = training_labels(&RunParams::default(), &split_labels, &train_idx);
        assert_eq!((clean.labels, clean.corrupted.len()), (split_labels, 0));
    }

    /// Two 256-pixel images: 0, 1, …, 255 and its reverse; then `more`
    /// copies of the first.
    fn ramps(more: usize) -> Split {
        let up: Vec<u8> = (0..=255).collect();
        let mut images: Vec<u8> = up.iter().copied().chain(up.iter().rev().copied()).collect();
        for _ in 0..more {
            images.extend(&up);
        }
        Split {
            labels: vec![0; 2 + more],
            images,
        }
    }

    fn corrupted(c: &PixelCorruption, split: &Split, image: usize) -> Vec<u8> {
        let table = crate::train::pixel_table();
        let mut row = vec![0.0f32; 256];
        c.fill(
            image,
            &split.images[image * 256..(image + 1) * 256],
            &table,
            &mut row,
        );
        row.iter().map(|x| (x * 255.0).round() as u8).collect()
    }

    fn with(kind: InputCorruption) -> RunParams {
        RunParams {
            input_corruption: kind,
            ..RunParams::default()
        }
    }

    #[test]
    fn shuffled_pixels_apply_one_permutation_to_every_image() {
        let split = ramps(0);
        let params = with(InputCorruption::ShuffledPixels);
        let c = PixelCorruption::new(&params, &split, 256, &[0, 1]).unwrap();
        // Image 0 is the identity ramp, so its corrupted row is the permutation.
        let permutation = corrupted(&c, &split, 0);
        let mut sorted = permutation.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..=255).collect::<Vec<u8>>());
        assert_ne!(permutation, sorted, "the identity is not a shuffle");
        let reversed: Vec<u8> = permutation.iter().map(|&p| 255 - p).collect();
        assert_eq!(corrupted(&c, &split, 1), reversed, "the same permutation");
        // Fixed by the data settings: the run seed does not change it, the
        // corruption seed does.
        let reseeded = RunParams {
            seed: 9,
            ..params.clone()
        };
        assert_eq!(
            PixelCorruption::new(&reseeded, &split, 256, &[0, 1]),
            Some(c.clone())
        );
        let other = RunParams {
            corruption_seed: Some(1),
            ..params
        };
        assert_ne!(PixelCorruption::new(&other, &split, 256, &[0, 1]), Some(c));
    }

    #[test]
    fn random_pixels_permute_each_image_on_its_own_and_the_same_every_epoch() {
        let split = ramps(1);
        let c = PixelCorruption::new(
            &with(InputCorruption::RandomPixels),
            &split,
            256,
            &[0, 1, 2],
        )
        .unwrap();
        // Images 0 and 2 hold the same pixels and get different orders.
        let (first, third) = (corrupted(&c, &split, 0), corrupted(&c, &split, 2));
        assert_ne!(first, third);
        for row in [&first, &third] {
            let mut sorted = row.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..=255).collect::<Vec<u8>>(), "a permutation");
        }
        assert_eq!(corrupted(&c, &split, 0), first, "the same in every epoch");
    }

    #[test]
    fn gaussian_pixels_match_the_training_images_mean_and_variance() {
        let split = ramps(400);
        let indices: Vec<u32> = (0..402).collect();
        let c =
            PixelCorruption::new(&with(InputCorruption::Gaussian), &split, 256, &indices).unwrap();
        let PixelCorruption::Gaussian { mean, sd, .. } = c else {
            panic!("{c:?}")
        };
        // Every image is a permutation of 0..=255: mean 127.5/255, sd of the ramp.
        let ramp_sd = ((256.0f64 * 256.0 - 1.0) / 12.0).sqrt() / 255.0;
        assert!(
            (mean - 0.5).abs() < 1e-12 && (sd - ramp_sd).abs() < 1e-9,
            "{mean} {sd}"
        );
        let table = crate::train::pixel_table();
        let mut values = Vec::new();
        let mut row = vec![0.0f32; 256];
        for image in 0..402 {
            c.fill(
                image,
                &split.images[image * 256..(image + 1) * 256],
                &table,
                &mut row,
            );
            values.extend(row.iter().map(|&x| f64::from(x)));
        }
        let n = values.len() as f64;
        let m = values.iter().sum::<f64>() / n;
        let s = (values.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n).sqrt();
        assert!(
            (m - mean).abs() < 0.005 && (s / sd - 1.0).abs() < 0.01,
            "{m} {s}"
        );
        // Not clipped to [0, 1]: a Gaussian with this spread leaves it.
        assert!(values.iter().any(|&x| x < 0.0) && values.iter().any(|&x| x > 1.0));
    }

    #[test]
    fn validation_and_test_images_are_never_corrupted() {
        let split = ramps(0);
        let params = with(InputCorruption::ShuffledPixels);
        let c = PixelCorruption::new(&params, &split, 256, &[0]);
        let map =
            crate::train::InputMap::new(crate::config::InputScaling::Raw, c, &split, 256, &[0]);
        assert_eq!(map.clean(), crate::train::InputMap::raw());
        assert_ne!(map, crate::train::InputMap::raw());
        assert_eq!(
            PixelCorruption::new(&RunParams::default(), &split, 256, &[0]),
            None
        );
    }
}
