//! Files beside the run records: `checkpoints/<id>.ckpt` (runs paused by
//! successive halving between rungs), `rungs.csv` (the decisions of each
//! rung), and `runs/<id>/predictions.bin` (a run's test predictions, with
//! `save_predictions = true`).

use std::fs;
use std::path::PathBuf;

use anyhow::Result;
use sha2::{Digest, Sha256};

use super::{Record, ResultsDir};
use crate::config::RunSpec;
use crate::files::{ReadError, limits, read_bounded, write_atomic};
use crate::train::{Checkpoint, Status};

/// Largest checkpoint read back (a network with 64 M parameters and
/// Adam's two buffers).
const MAX_CHECKPOINT: u64 = 1 << 30;

/// The folder of checkpoints in a results folder.
pub const CHECKPOINTS: &str = "checkpoints";

/// The file of halving decisions in a results folder.
pub const RUNGS_FILE: &str = "rungs.csv";

impl ResultsDir {
    fn checkpoint_path(&self, id: &str) -> PathBuf {
        self.root().join(CHECKPOINTS).join(format!("{id}.ckpt"))
    }

    /// Saves a paused run (atomically: a crash leaves the old file or the new).
    pub fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<()> {
        let path = self.checkpoint_path(&checkpoint.run_id);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        write_atomic(&path, &checkpoint.to_bytes())?;
        crate::faults::crash_point("checkpoint-saved");
        Ok(())
    }

    /// The paused state of run `id`: `None` when there is none, an error
    /// saying why when the file cannot be used (the run then starts over).
    pub fn load_checkpoint(&self, id: &str) -> Option<Result<Checkpoint, String>> {
        let bytes = match read_bounded(&self.checkpoint_path(id), MAX_CHECKPOINT) {
            Err(ReadError::Missing) => return None,
            Err(e) => return Some(Err(e.to_string())),
            Ok(bytes) => bytes,
        };
        Some(Checkpoint::from_bytes(&bytes).and_then(|c| {
            if c.run_id == id {
                Ok(c)
            } else {
                Err(format!("it belongs to run {}", c.run_id))
            }
        }))
    }

    /// Whether run `id` has a checkpoint (it is paused at a halving rung).
    pub fn has_checkpoint(&self, id: &str) -> bool {
        self.checkpoint_path(id).is_file()
    }

    /// Removes the record of run `spec` if it is one of a failed run (the
    /// run is being retried and has paused at a rung since).
    pub fn remove_failed_record(&self, spec: &RunSpec) -> Result<()> {
        if let Record::Complete(run) = self.load_run(spec)
            && run.done.status == Status::Failed
        {
            fs::remove_dir_all(self.run_dir(&spec.id))?;
        }
        Ok(())
    }

    /// Removes run `id`'s checkpoint, once its record holds all it measured.
    pub fn remove_checkpoint(&self, id: &str) {
        let _ = fs::remove_file(self.checkpoint_path(id));
    }
}

/// File name of a run's test predictions, in its run folder.
pub const PREDICTIONS_FILE: &str = "predictions.bin";

/// First bytes of a predictions file.
const PREDICTIONS_MAGIC: &[u8] = b"sweep predictions 1\n";

/// File name of a run's forgetting counts, in its run folder.
pub const FORGETTING_FILE: &str = "forgetting.bin";

/// First bytes of a forgetting file.
const FORGETTING_MAGIC: &[u8] = b"sweep forgetting 1\n";

impl ResultsDir {
    /// Saves the class run `id` predicts for each test image: one byte per
    /// image, after a magic line, then SHA-256 of all that. Written before
    /// the run's record, so a record never points at a missing file.
    pub fn save_predictions(&self, id: &str, classes: &[u8]) -> Result<()> {
        self.save_checked(id, PREDICTIONS_FILE, PREDICTIONS_MAGIC, classes)
    }

    /// The test predictions of run `id`, if it saved them and the file is
    /// whole.
    pub fn load_predictions(&self, id: &str) -> Option<Vec<u8>> {
        self.load_checked(id, PREDICTIONS_FILE, PREDICTIONS_MAGIC)
    }

    /// Saves run `id`'s forgetting events per training image (in the order
    /// of its sorted training indices; `u32::MAX` for one never learned):
    /// a magic line, one little-endian u32 per image, then SHA-256 of all
    /// that. Written before the run's record.
    pub fn save_forgetting(&self, id: &str, counts: &[u32]) -> Result<()> {
        let body: Vec<u8> = counts.iter().flat_map(|c| c.to_le_bytes()).collect();
        self.save_checked(id, FORGETTING_FILE, FORGETTING_MAGIC, &body)
    }

    /// Run `id`'s forgetting counts, if it saved them and the file is whole.
    pub fn load_forgetting(&self, id: &str) -> Option<Vec<u32>> {
        let body = self.load_checked(id, FORGETTING_FILE, FORGETTING_MAGIC)?;
        (body.len() % 4 == 0).then(|| {
            body.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
    }

    /// Writes `body` as run `id`'s file `name`: `magic`, the body, then
    /// SHA-256 of both.
    fn save_checked(&self, id: &str, name: &str, magic: &[u8], body: &[u8]) -> Result<()> {
        let dir = self.run_dir(id);
        fs::create_dir_all(&dir)?;
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(body);
        let digest = Sha256::digest(&bytes);
        bytes.extend_from_slice(&digest);
        write_atomic(&dir.join(name), &bytes)
    }

    /// The body of run `id`'s file `name` written by [`Self::save_checked`],
    /// if it is there, starts with `magic` and its checksum holds.
    fn load_checked(&self, id: &str, name: &str, magic: &[u8]) -> Option<Vec<u8>> {
        let bytes = read_bounded(&self.run_dir(id).join(name), limits::GRID).ok()?;
        let body = bytes.get(..bytes.len().checked_sub(32)?)?;
        if Sha256::digest(body)[..] != bytes[body.len()..] {
            return None;
        }
        body.strip_prefix(magic).map(<[u8]>::to_vec)
    }
}
