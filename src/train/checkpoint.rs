//! A run saved between two epochs — weights, optimizer buffers, the
//! positions of its random streams, its shuffled order and what it has
//! measured so far — so that continuing it gives the same bits as training
//! it straight through. Successive halving pauses runs at each rung.
//!
//! On disk: a magic line, a JSON header (everything but the arrays), the
//! arrays as little-endian numbers, and SHA-256 of all that before it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{EpochMetrics, RunOutcome, Status};

/// First bytes of a checkpoint file.
const MAGIC: &[u8] = b"sweep checkpoint 1\n";

/// A run paused after `epoch` epochs.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The run's id (a checkpoint is only ever continued as its own run).
    pub run_id: String,
    /// Epochs completed.
    pub epoch: usize,
    /// The network's tensors ([`crate::nn::Mlp::tensors`]).
    pub tensors: Vec<Vec<f32>>,
    /// The optimizer's buffers per tensor, and its steps.
    pub moments: Vec<(Vec<f32>, Vec<f32>)>,
    /// Optimizer steps taken.
    pub steps: u32,
    /// Position of the minibatch stream (32-bit words read).
    pub batch_stream: u128,
    /// Position of the dropout stream, when the run drops units.
    pub dropout_stream: Option<u128>,
    /// The training order as the last shuffle left it.
    pub order: Vec<u32>,
    /// Early stopping's best value so far and evaluations without improvement.
    pub watch: Option<(Option<f64>, usize)>,
    /// What the run measured so far (status `Finished` means only "not
    /// diverged").
    pub outcome: RunOutcome,
}

/// The parts of a checkpoint that are not arrays, and the arrays' lengths.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    run_id: String,
    epoch: usize,
    steps: u32,
    /// u128 as text: JSON numbers are not that wide.
    batch_stream: String,
    dropout_stream: Option<String>,
    watch: Option<(Option<f64>, usize)>,
    train_samples: usize,
    parameters: usize,
    epochs: Vec<EpochMetrics>,
    train_seconds: f64,
    eval_seconds: f64,
    tensor_lengths: Vec<usize>,
    moment_lengths: Vec<(usize, usize)>,
    order_length: usize,
    /// The kernel label it trained with so far (empty in checkpoints of
    /// sweep 0.3, which has one kernel).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    kernel: String,
}

impl Checkpoint {
    /// The checkpoint as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            run_id: self.run_id.clone(),
            epoch: self.epoch,
            steps: self.steps,
            batch_stream: self.batch_stream.to_string(),
            dropout_stream: self.dropout_stream.map(|p| p.to_string()),
            watch: self.watch,
            train_samples: self.outcome.train_samples,
            parameters: self.outcome.parameters,
            epochs: self.outcome.epochs.clone(),
            train_seconds: self.outcome.train_seconds,
            eval_seconds: self.outcome.eval_seconds,
            kernel: self.outcome.kernel.clone(),
            tensor_lengths: self.tensors.iter().map(Vec::len).collect(),
            moment_lengths: self
                .moments
                .iter()
                .map(|(a, b)| (a.len(), b.len()))
                .collect(),
            order_length: self.order.len(),
        };
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = Vec::with_capacity(json.len() + 64 + 8 * self.order.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        let floats = self
            .tensors
            .iter()
            .chain(self.moments.iter().flat_map(|(a, b)| [a, b]));
        for x in floats.flatten() {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for i in &self.order {
            out.extend_from_slice(&i.to_le_bytes());
        }
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        out
    }

    /// Reads a checkpoint back, checking its checksum and lengths.
    pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint, String> {
        let body_len = bytes
            .len()
            .checked_sub(32)
            .ok_or("the file is too short to be a checkpoint")?;
        let (body, digest) = bytes.split_at(body_len);
        if Sha256::digest(body)[..] != digest[..] {
            return Err("its checksum does not match (a partial or damaged file)".into());
        }
        let rest = body
            .strip_prefix(MAGIC)
            .ok_or("it does not start as a sweep checkpoint")?;
        let (len, rest) = rest.split_at_checked(8).ok_or("its header is cut short")?;
        let len = u64::from_le_bytes(len.try_into().map_err(|_| "bad header length")?) as usize;
        let (json, mut rest) = rest
            .split_at_checked(len)
            .ok_or("its header is cut short")?;
        let h: Header = serde_json::from_slice(json).map_err(|e| format!("its header: {e}"))?;
        let mut floats = |n: usize| -> Result<Vec<f32>, String> {
            let (taken, left) = rest
                .split_at_checked(4 * n)
                .ok_or("its arrays are cut short")?;
            rest = left;
            Ok(taken
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        };
        let tensors = h
            .tensor_lengths
            .iter()
            .map(|&n| floats(n))
            .collect::<Result<Vec<_>, _>>()?;
        let moments = h
            .moment_lengths
            .iter()
            .map(|&(a, b)| Ok((floats(a)?, floats(b)?)))
            .collect::<Result<Vec<_>, String>>()?;
        if rest.len() != 4 * h.order_length {
            return Err("its training order has the wrong length".into());
        }
        let order = rest
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let position = |text: &str| {
            text.parse::<u128>()
                .map_err(|_| format!("a stream position {text:?} is not a number"))
        };
        Ok(Checkpoint {
            run_id: h.run_id,
            epoch: h.epoch,
            tensors,
            moments,
            steps: h.steps,
            batch_stream: position(&h.batch_stream)?,
            dropout_stream: h.dropout_stream.as_deref().map(position).transpose()?,
            order,
            watch: h.watch,
            outcome: RunOutcome {
                status: Status::Finished,
                diverged_epoch: None,
                stopped_epoch: None,
                train_samples: h.train_samples,
                parameters: h.parameters,
                epochs: h.epochs,
                train_seconds: h.train_seconds,
                eval_seconds: h.eval_seconds,
                test_predictions: None,
                forgetting: None,
                forgetting_counts: None,
                measures: None,
                kernel: h.kernel,
            },
        })
    }
}
