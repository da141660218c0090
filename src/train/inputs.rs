//! From pixel bytes to network inputs: `byte / 255`, the training images'
//! corruption if the run asks for one, then centring or standardizing with
//! the statistics of the images trained on.

use crate::config::InputScaling;
use crate::data::Split;

use super::corruption::PixelCorruption;

/// Pixel byte → [0, 1] value, exactly `b / 255` as PyTorch's `ToTensor` gives.
pub fn pixel_table() -> [f32; 256] {
    std::array::from_fn(|b| b as f32 / 255.0)
}

/// How a run turns pixel bytes into inputs: `byte / 255`, the corruption
/// of its training images (none for the map of validation and test
/// images, see [`InputMap::clean`]), then, for `inputs = "centered"` or
/// `"standardized"`, minus the per-pixel mean and times the inverse
/// per-pixel standard deviation of the images it trains on.
#[derive(Debug, Clone, PartialEq)]
pub struct InputMap {
    table: [f32; 256],
    /// Per-pixel mean to subtract; empty for raw inputs.
    mean: Vec<f32>,
    /// Per-pixel factor after centring; empty unless standardized.
    inverse_sd: Vec<f32>,
    /// What replaces the training images' pixels, if anything.
    corruption: Option<PixelCorruption>,
}

impl InputMap {
    /// Raw inputs: `byte / 255`.
    pub fn raw() -> InputMap {
        InputMap {
            table: pixel_table(),
            mean: Vec::new(),
            inverse_sd: Vec::new(),
            corruption: None,
        }
    }

    /// The map for the training images `indices` of `split`: `corruption`
    /// applied, then the scaling `scaling` asks for, with statistics (in
    /// f64) over those images as corrupted. A pixel whose standard
    /// deviation is below 10⁻⁶ (a border pixel that is always 0) keeps a
    /// factor of 1.
    pub fn new(
        scaling: InputScaling,
        corruption: Option<PixelCorruption>,
        split: &Split,
        pixels: usize,
        indices: &[u32],
    ) -> InputMap {
        let mut map = InputMap {
            corruption,
            ..InputMap::raw()
        };
        if scaling == InputScaling::Raw || indices.is_empty() {
            return map;
        }
        let n = indices.len() as f64;
        let mut sum = vec![0.0f64; pixels];
        let mut squares = vec![0.0f64; pixels];
        let mut row = vec![0.0f32; pixels];
        for &i in indices {
            let i = i as usize;
            map.fill_raw(i, &split.images[i * pixels..(i + 1) * pixels], &mut row);
            for ((s, q), &x) in sum.iter_mut().zip(&mut squares).zip(&row) {
                let x = f64::from(x);
                *s += x;
                *q += x * x;
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        map.mean = mean.iter().map(|&m| m as f32).collect();
        if scaling == InputScaling::Standardized {
            map.inverse_sd = squares
                .iter()
                .zip(&mean)
                .map(|(q, m)| {
                    let sd = (q / n - m * m).max(0.0).sqrt();
                    if sd < 1e-6 { 1.0 } else { (1.0 / sd) as f32 }
                })
                .collect();
        }
        map
    }

    /// The same scaling without the corruption: the map of validation and
    /// test images, which are never corrupted.
    pub fn clean(&self) -> InputMap {
        InputMap {
            corruption: None,
            ..self.clone()
        }
    }

    /// Writes the `[0, 1]` values of image `image`'s `bytes`, corrupted if
    /// this map corrupts, into `row`.
    fn fill_raw(&self, image: usize, bytes: &[u8], row: &mut [f32]) {
        match &self.corruption {
            Some(corruption) => corruption.fill(image, bytes, &self.table, row),
            None => {
                for (x, &b) in row.iter_mut().zip(bytes) {
                    *x = self.table[b as usize];
                }
            }
        }
    }

    /// Writes the inputs of image `image` (its index in the split), whose
    /// pixels are `bytes`, into `row`.
    pub(super) fn fill(&self, image: usize, bytes: &[u8], row: &mut [f32]) {
        let table = &self.table;
        if self.corruption.is_some() {
            self.fill_raw(image, bytes, row);
            if self.inverse_sd.is_empty() {
                for (x, &m) in row.iter_mut().zip(&self.mean) {
                    *x -= m;
                }
            } else {
                for (x, (&m, &f)) in row.iter_mut().zip(self.mean.iter().zip(&self.inverse_sd)) {
                    *x = (*x - m) * f;
                }
            }
        } else if self.mean.is_empty() {
            for (x, &b) in row.iter_mut().zip(bytes) {
                *x = table[b as usize];
            }
        } else if self.inverse_sd.is_empty() {
            for ((x, &b), &m) in row.iter_mut().zip(bytes).zip(&self.mean) {
                *x = table[b as usize] - m;
            }
        } else {
            let stats = self.mean.iter().zip(&self.inverse_sd);
            for ((x, &b), (&m, &f)) in row.iter_mut().zip(bytes).zip(stats) {
                *x = (table[b as usize] - m) * f;
            }
        }
    }
}

/// Copies the images `indices` of `split` into `inputs` (mapped by `map`)
/// and their labels, read from `source` (the split's own or a corrupted
/// copy), into `labels`.
pub(super) fn gather(
    split: &Split,
    pixels: usize,
    indices: &[u32],
    map: &InputMap,
    source: &[u8],
    inputs: &mut [f32],
    labels: &mut [u8],
) {
    for ((&i, row), label) in indices
        .iter()
        .zip(inputs.chunks_exact_mut(pixels))
        .zip(labels)
    {
        let i = i as usize;
        map.fill(i, &split.images[i * pixels..(i + 1) * pixels], row);
        *label = source[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centred_and_standardized_inputs_use_the_training_images_statistics() {
        // Two pixels over three images: pixel 0 takes 0, 51, 102 (mean 51),
        // pixel 1 is always 255 (sd 0, factor 1).
        let split = Split {
            images: vec![0, 255, 51, 255, 102, 255],
            labels: vec![0, 1, 2],
        };
        let row = |map: &InputMap, i: usize| {
            let mut out = [0.0f32; 2];
            map.fill(i, &split.images[2 * i..2 * i + 2], &mut out);
            out
        };
        let raw = InputMap::new(InputScaling::Raw, None, &split, 2, &[0, 1, 2]);
        assert_eq!(raw, InputMap::raw());
        let centred = InputMap::new(InputScaling::Centered, None, &split, 2, &[0, 1, 2]);
        assert_eq!(row(&centred, 2), [0.2, 0.0]);
        let standardized = InputMap::new(InputScaling::Standardized, None, &split, 2, &[0, 1, 2]);
        // sd of {0, 0.2, 0.4} is √(0.08/3) ≈ 0.163299.
        let [x, y] = row(&standardized, 2);
        assert!((x - 0.2 / (0.08f32 / 3.0).sqrt()).abs() < 1e-5, "{x}");
        assert_eq!(y, 0.0);
        // Statistics of the images given only: image 0 alone has mean 0.
        let first = InputMap::new(InputScaling::Centered, None, &split, 2, &[0]);
        assert_eq!(row(&first, 1), [0.2, 0.0]);
    }

    #[test]
    fn pixel_bytes_scale_to_the_unit_interval() {
        let t = pixel_table();
        assert_eq!((t[0], t[255]), (0.0, 1.0));
        assert_eq!(t[51], 51.0 / 255.0);
    }
}
