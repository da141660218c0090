//! Progress display on stderr: an overall bar and a line per active run on a
//! terminal, one plain line per finished run otherwise, nothing with `--quiet`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::train::{EpochMetrics, Status};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bars,
    Lines,
    Quiet,
}

/// The progress display of one sweep.
pub struct Progress {
    mode: Mode,
    multi: MultiProgress,
    overall: ProgressBar,
    total: usize,
}

/// The display line of one active run.
pub struct RunLine {
    bar: ProgressBar,
    label: String,
    epochs: usize,
}

impl Progress {
    /// A display for `total` runs of which `done` are already finished.
    pub fn new(total: usize, done: usize, quiet: bool) -> Progress {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        };
        let multi = match mode {
            Mode::Bars => MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            _ => MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
        };
        let overall = multi.add(
            ProgressBar::new(total as u64)
                .with_position(done as u64)
                .with_style(style(
                    "{elapsed_precise} [{bar:32.cyan/blue}] {pos}/{len} runs · ETA {eta} {msg}",
                )),
        );
        overall.reset_eta();
        if mode == Mode::Bars {
            overall.enable_steady_tick(Duration::from_millis(200));
        }
        Progress {
            mode,
            multi,
            overall,
            total,
        }
    }

    /// Prints a line above the bars (or plainly), unless quiet.
    pub fn note(&self, text: &str) {
        match self.mode {
            Mode::Bars => {
                let _ = self.multi.println(text);
            }
            Mode::Lines => eprintln!("{text}"),
            Mode::Quiet => {}
        }
    }

    /// Adds the line of a run that is starting.
    pub fn start(&self, label: String, epochs: usize) -> RunLine {
        let bar = self
            .multi
            .add(ProgressBar::new(epochs as u64).with_style(style("  {prefix} · {msg}")));
        bar.set_prefix(label.clone());
        bar.set_message(format!("epoch 0/{epochs}"));
        RunLine { bar, label, epochs }
    }

    /// Updates a run's line after an evaluated epoch.
    pub fn epoch(&self, line: &RunLine, m: &EpochMetrics) {
        line.bar.set_position(m.epoch as u64);
        line.bar.set_message(format!(
            "epoch {}/{} · test {:.2}% · gap {:+.2} pts",
            m.epoch,
            line.epochs,
            100.0 * m.test_acc,
            100.0 * m.gap_acc
        ));
    }

    /// Removes a finished run's line and counts it.
    pub fn finish(&self, line: RunLine, status: Status, last: Option<&EpochMetrics>, seconds: f64) {
        line.bar.finish_and_clear();
        self.multi.remove(&line.bar);
        self.overall.inc(1);
        if self.mode == Mode::Lines {
            let outcome = match (status, last) {
                (Status::Diverged, _) => "diverged".to_string(),
                (Status::Failed, _) => "FAILED".to_string(),
                (_, Some(m)) => format!(
                    "train {:.2}% · test {:.2}% · gap {:+.2} pts",
                    100.0 * m.train_acc,
                    100.0 * m.test_acc,
                    100.0 * m.gap_acc
                ),
                _ => "finished".to_string(),
            };
            eprintln!(
                "[{}/{}] {} · {outcome} · {seconds:.1} s",
                self.overall.position(),
                self.total,
                line.label
            );
        }
    }

    /// Removes the line of a run stopped before its end (not counted).
    pub fn abandon(&self, line: RunLine) {
        line.bar.finish_and_clear();
        self.multi.remove(&line.bar);
        if self.mode == Mode::Lines {
            eprintln!("{} · stopped before its end, not recorded", line.label);
        }
    }

    /// Clears the bars at the end.
    pub fn finish_all(&self) {
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("progress templates are constants")
        .progress_chars("=> ")
}
