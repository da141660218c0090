//! The columns of `runs.csv` after the settings, declared once: each
//! column's name beside how its cell is written from a finished run.
//! Adding a column is one row here, at the end (spreadsheets and scripts
//! find columns by name, and older files keep theirs in this order).

use super::record::FinishedRun;
use super::tables::{csv_text, num, spreadsheet_time};
use crate::train::{EpochMetrics, ForgettingSummary, Measures};

/// A finished run as the columns read it: with its last evaluated epoch
/// and the best one (as [`FinishedRun::best_epoch`] picks it) found once.
pub struct RunView<'a> {
    /// The run.
    pub run: &'a FinishedRun,
    /// Its last evaluated epoch, if any.
    pub last: Option<&'a EpochMetrics>,
    /// Its best evaluated epoch, if any.
    pub best: Option<&'a EpochMetrics>,
}

impl RunView<'_> {
    /// The view of `run`.
    pub fn of(run: &FinishedRun) -> RunView<'_> {
        RunView {
            run,
            last: run.final_epoch(),
            best: run.best_epoch(),
        }
    }
}

/// How one cell of a row is written.
pub type Cell = fn(&RunView) -> String;

/// A metric of an epoch, or an empty cell when there is no such epoch.
fn metric(epoch: Option<&EpochMetrics>, value: fn(&EpochMetrics) -> f64) -> String {
    epoch.map_or(String::new(), |e| num(value(e)))
}

/// A metric an epoch may lack, or an empty cell.
fn maybe(epoch: Option<&EpochMetrics>, value: fn(&EpochMetrics) -> Option<f64>) -> String {
    epoch.and_then(value).map_or(String::new(), num)
}

/// A count, or an empty cell.
fn count(n: Option<usize>) -> String {
    n.map_or(String::new(), |n| n.to_string())
}

/// The columns of `runs.csv` after the settings, in order. Columns added
/// after sweep 0.2.0 come after its own.
pub const RUN_COLUMNS: [(&str, Cell); 47] = [
    ("train_samples", |r| r.run.done.train_samples.to_string()),
    ("epochs_done", |r| r.last.map_or(0, |e| e.epoch).to_string()),
    ("diverged_epoch", |r| count(r.run.done.diverged_epoch)),
    ("final_train_loss", |r| metric(r.last, |e| e.train_loss)),
    ("final_train_acc", |r| metric(r.last, |e| e.train_acc)),
    ("final_test_loss", |r| metric(r.last, |e| e.test_loss)),
    ("final_test_acc", |r| metric(r.last, |e| e.test_acc)),
    ("final_gap_acc", |r| metric(r.last, |e| e.gap_acc)),
    ("final_gap_loss", |r| metric(r.last, |e| e.gap_loss)),
    ("final_penalty", |r| metric(r.last, |e| e.penalty)),
    ("best_epoch", |r| count(r.best.map(|e| e.epoch))),
    ("best_test_acc", |r| metric(r.best, |e| e.test_acc)),
    ("best_train_acc", |r| metric(r.best, |e| e.train_acc)),
    ("best_gap_acc", |r| metric(r.best, |e| e.gap_acc)),
    ("seconds", |r| {
        num(r.run.done.train_seconds + r.run.done.eval_seconds)
    }),
    ("train_seconds", |r| num(r.run.done.train_seconds)),
    ("eval_seconds", |r| num(r.run.done.eval_seconds)),
    ("finished_at_utc", |r| {
        spreadsheet_time(&r.run.done.finished_at)
    }),
    ("error", |r| {
        csv_text(r.run.done.error.as_deref().unwrap_or(""))
    }),
    ("parameters", |r| count(r.run.parameters())),
    ("stopped_epoch", |r| count(r.run.done.stopped_epoch)),
    ("final_lr", |r| maybe(r.last, |e| e.lr)),
    ("final_val_loss", |r| maybe(r.last, |e| e.val_loss)),
    ("final_val_acc", |r| maybe(r.last, |e| e.val_acc)),
    ("best_chosen_on", |r| match r.best {
        Some(_) => r.run.selected_on().as_str().to_string(),
        None => String::new(),
    }),
    ("best_val_loss", |r| maybe(r.best, |e| e.val_loss)),
    ("best_val_acc", |r| maybe(r.best, |e| e.val_acc)),
    ("final_train_acc_clean", |r| {
        maybe(r.last, |e| e.train_acc_clean)
    }),
    ("final_noisy_fit", |r| maybe(r.last, |e| e.noisy_fit)),
    ("kernel", |r| csv_text(r.run.done.kernel_label())),
    ("unforgettable", |r| {
        forgetting(r, |f| Some(f.unforgettable))
    }),
    ("mean_forgetting", |r| {
        forgetting(r, |f| Some(f.mean_events))
    }),
    ("noisy_auc", |r| forgetting(r, |f| f.noisy_auc)),
    ("frobenius_norms", |r| {
        measured(r, |m| Some(norms(&m.frobenius)))
    }),
    ("spectral_norms", |r| {
        measured(r, |m| Some(norms(&m.spectral)))
    }),
    ("frobenius_product", |r| {
        measured(r, |m| Some(num(m.frobenius_product())))
    }),
    ("spectral_product", |r| {
        measured(r, |m| Some(num(m.spectral_product())))
    }),
    ("init_distance", |r| {
        measured(r, |m| Some(num(m.init_distance)))
    }),
    ("path_norm", |r| measured(r, |m| Some(num(m.path_norm)))),
    ("margin", |r| measured(r, |m| m.margin.map(num))),
    ("spectral_over_margin", |r| {
        measured(r, |m| m.spectral_over_margin().map(num))
    }),
    ("frobenius_over_margin", |r| {
        measured(r, |m| m.frobenius_over_margin().map(num))
    }),
    ("flatness_sigma", |r| {
        measured(r, |m| m.flatness_sigma.map(num))
    }),
    ("magnitude_sigma", |r| {
        measured(r, |m| m.magnitude_sigma.map(num))
    }),
    ("steps", |r| measured(r, |m| Some(m.steps.to_string()))),
    ("measured_images", |r| {
        measured(r, |m| Some(m.images.to_string()))
    }),
    ("measure_seconds", |r| measured(r, |m| Some(num(m.seconds)))),
];

/// A cell from the run's measures, or an empty cell.
fn measured(r: &RunView, cell: fn(&Measures) -> Option<String>) -> String {
    r.run
        .done
        .measures
        .as_ref()
        .and_then(cell)
        .unwrap_or_default()
}

/// One norm per layer as `[12.5, 3.25]`: text, as `hidden` is written, that
/// no spreadsheet reads as a number or a date.
fn norms(values: &[f64]) -> String {
    let inner: Vec<String> = values.iter().map(|&v| num(v)).collect();
    format!("[{}]", inner.join(", "))
}

/// A number from the run's forgetting summary, or an empty cell.
fn forgetting(r: &RunView, value: fn(&ForgettingSummary) -> Option<f64>) -> String {
    r.run
        .done
        .forgetting
        .as_ref()
        .and_then(value)
        .map_or(String::new(), num)
}
