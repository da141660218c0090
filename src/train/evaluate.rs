//! Scoring a network on some images: mean loss and accuracy, or the class
//! it predicts for each, in chunks of [`EVAL_CHUNK`] rows that idle threads
//! of the pool may take, with the same bits however many do.

use rayon::prelude::*;

use super::EVAL_CHUNK;
use super::inputs::{InputMap, gather};
use crate::data::Split;
use crate::nn::{Activations, Mlp};

/// Some images of a split and the map that makes them inputs: what one
/// evaluation reads.
#[derive(Debug, Clone, Copy)]
pub struct Images<'a> {
    /// The split they come from.
    pub split: &'a Split,
    /// Pixels per image.
    pub pixels: usize,
    /// Their indices in the split.
    pub indices: &'a [u32],
    /// Pixel bytes → inputs.
    pub map: &'a InputMap,
}

/// Mean loss and accuracy of `model` over the images `indices` of `split`.
///
/// Chunks of [`EVAL_CHUNK`] images are scored as rayon tasks, so that idle
/// threads of the pool can take some. Each chunk's sums are computed alone
/// and added in chunk order, so the result has the same bits however many
/// threads took part.
pub fn evaluate(
    model: &Mlp,
    split: &Split,
    pixels: usize,
    indices: &[u32],
    map: &InputMap,
) -> (f64, f64) {
    let images = Images {
        split,
        pixels,
        indices,
        map,
    };
    let e = evaluate_against(model, images, &split.labels, None, true);
    (e.loss, e.accuracy)
}

/// The class `model` predicts for each of `images`, in their order.
pub fn predict(model: &Mlp, images: Images, spread: bool) -> Vec<u8> {
    over_chunks(
        model,
        images,
        &images.split.labels,
        spread,
        |acts, _, labels| {
            let mut classes = vec![0u8; labels.len()];
            model.predictions(acts, &mut classes);
            classes
        },
    )
    .concat()
}

/// The output margin of `model` on each of `images` against the labels
/// `source` (one per image of their split), in their order.
pub fn margins(model: &Mlp, images: Images, source: &[u8], spread: bool) -> Vec<f32> {
    over_chunks(model, images, source, spread, |acts, _, labels| {
        model.margins(acts, labels)
    })
    .concat()
}

/// Runs `model` forward over `images` in chunks of [`EVAL_CHUNK`] and
/// `per_chunk` on each chunk's outputs with its image indices and labels
/// (read from `source`); the results in order. With `spread`, the chunks
/// are tasks of the thread pool that idle threads may take; without, this
/// thread does them all (while every thread of a sweep trains a run of
/// its own, a chunk taken by another would only stall both runs).
fn over_chunks<T: Send>(
    model: &Mlp,
    images: Images,
    source: &[u8],
    spread: bool,
    per_chunk: impl Fn(&mut Activations, &[u32], &mut [u8]) -> T + Sync,
) -> Vec<T> {
    let sizes = model.sizes();
    let chunk = EVAL_CHUNK.min(images.indices.len().max(1));
    let one = |part: &[u32]| {
        with_scratch(&sizes, chunk, |acts, labels| {
            let rows = part.len();
            gather(
                images.split,
                images.pixels,
                part,
                images.map,
                source,
                acts.input_mut(),
                &mut labels[..rows],
            );
            model.forward(acts, rows);
            per_chunk(acts, part, &mut labels[..rows])
        })
    };
    if spread {
        images.indices.par_chunks(chunk).map(one).collect()
    } else {
        images.indices.chunks(chunk).map(one).collect()
    }
}

/// Mean loss and accuracy over some images, and the accuracy against a
/// second labelling of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Mean loss against the labels given.
    pub loss: f64,
    /// Accuracy against the labels given.
    pub accuracy: f64,
    /// Accuracy against the second labelling, if one was given.
    pub accuracy_other: Option<f64>,
}

/// [`evaluate`] of `images` against the labels `source` (one per image of
/// their split), and also counting correct predictions against `other`
/// when given: one forward pass, scored twice. `spread` as for
/// [`over_chunks`]; the bits are the same either way.
pub fn evaluate_against(
    model: &Mlp,
    images: Images,
    source: &[u8],
    other: Option<&[u8]>,
    spread: bool,
) -> Evaluation {
    let scores: Vec<(f64, usize, usize)> =
        over_chunks(model, images, source, spread, |acts, part, labels| {
            let score = model.score(acts, labels);
            let other_correct = other.map_or(0, |other| {
                for (label, &i) in labels.iter_mut().zip(part) {
                    *label = other[i as usize];
                }
                model.score(acts, labels).correct
            });
            (score.loss_sum, score.correct, other_correct)
        });
    let (mut loss_sum, mut correct, mut other_correct) = (0.0, 0, 0);
    for (l, c, o) in scores {
        loss_sum += l;
        correct += c;
        other_correct += o;
    }
    let n = images.indices.len() as f64;
    Evaluation {
        loss: loss_sum / n,
        accuracy: correct as f64 / n,
        accuracy_other: other.map(|_| other_correct as f64 / n),
    }
}

/// Arrays for one evaluation chunk: activations and labels.
struct Scratch {
    sizes: Vec<usize>,
    acts: Activations,
    labels: Vec<u8>,
}

thread_local! {
    /// This thread's evaluation arrays, kept between chunks, evaluations
    /// and runs: a sweep's workers evaluate every few seconds, and fresh
    /// megabytes each time cost page faults and cache misses — in every
    /// thread of the one process at once.
    static SCRATCH: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) };
}

/// Calls `f` with this thread's evaluation arrays for a network of widths
/// `sizes` and chunks of `chunk` rows (made when it has none of that
/// shape). What they held before never matters: every chunk overwrites the
/// rows it uses.
fn with_scratch<T>(
    sizes: &[usize],
    chunk: usize,
    f: impl FnOnce(&mut Activations, &mut [u8]) -> T,
) -> T {
    let kept = SCRATCH.with(|s| s.borrow_mut().take());
    let mut scratch = match kept {
        Some(s) if s.sizes == sizes && s.acts.batch() == chunk => s,
        _ => Scratch {
            sizes: sizes.to_vec(),
            acts: Activations::new(sizes, chunk),
            labels: vec![0u8; chunk],
        },
    };
    let result = f(&mut scratch.acts, &mut scratch.labels);
    SCRATCH.with(|s| *s.borrow_mut() = Some(scratch));
    result
}
