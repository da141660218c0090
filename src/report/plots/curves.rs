//! Learning curves as small multiples: one panel per configuration with
//! training and test accuracy per evaluated epoch, mean over seeds and a
//! 95 % confidence band (the range of the seeds with fewer than three), and a
//! dashed line where early stopping ended a seed.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{Chart, DrawResult, TEST_COLOR, TRAIN_COLOR, VALIDATION_COLOR, bold, font};
use crate::config::{EvalEvery, Key};
use crate::report::stats::Stat;
use crate::report::summary::Config;

/// Most panels drawn; a larger grid makes unreadable thumbnails.
const MAX_PANELS: usize = 48;
/// Panels per row at most.
const MAX_COLUMNS: usize = 6;

/// A curve point: epoch, mean, and the band's low and high (percent).
type CurvePoint = (f64, f64, f64, f64);

/// One panel: a configuration's curves.
struct Panel {
    label: String,
    train: Vec<CurvePoint>,
    /// Empty when the runs hold out no validation images.
    validation: Vec<CurvePoint>,
    test: Vec<CurvePoint>,
    seeds: usize,
    diverged: usize,
    /// The epochs after which early stopping (or `stop_at_train_loss`)
    /// ended a seed, one per seed it ended.
    stops: Vec<f64>,
}

/// The small-multiples chart.
pub struct CurvesChart {
    title: String,
    panels: Vec<Panel>,
    columns: usize,
    epochs: f64,
    y_low: f64,
    /// Epochs on a log axis: the runs were evaluated at log-spaced epochs.
    log_epochs: bool,
}

/// Whether epochs are best drawn on a log axis: some runs were evaluated
/// at log-spaced epochs (`eval_every = { log = n }`).
pub fn log_epoch_axis(configs: &[Config]) -> bool {
    configs
        .iter()
        .any(|c| matches!(c.params.eval_every, EvalEvery::Log(_)))
}

/// The values of a metric per evaluated epoch over the finished seeds (an
/// epoch a seed lacks, or whose value is absent, is left out for it).
pub fn values_by_epoch(
    config: &Config,
    get: fn(&crate::train::EpochMetrics) -> Option<f64>,
) -> BTreeMap<usize, Vec<f64>> {
    let mut by_epoch: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for run in &config.finished {
        for e in &run.epochs {
            if let Some(value) = get(e) {
                by_epoch.entry(e.epoch).or_default().push(value);
            }
        }
    }
    by_epoch
}

/// Mean and band of a metric per epoch over the finished seeds, in
/// percent: the 95 % interval with three seeds or more, else the range of
/// the seeds themselves (a t-interval of two spans most of the axis).
fn curve(config: &Config, get: fn(&crate::train::EpochMetrics) -> Option<f64>) -> Vec<CurvePoint> {
    values_by_epoch(config, get)
        .into_iter()
        .filter_map(|(epoch, values)| {
            let percent: Vec<f64> = values.iter().map(|v| 100.0 * v).collect();
            let s = Stat::of(&percent);
            let mean = s.mean?;
            let (lo, hi) = match s.ci95 {
                Some(ci) if s.n >= super::lines::SEEDS_FOR_INTERVALS => ci,
                _ => percent
                    .iter()
                    .fold((mean, mean), |(lo, hi), &v| (lo.min(v), hi.max(v))),
            };
            Some((epoch as f64, mean, lo, hi))
        })
        .collect()
}

impl CurvesChart {
    /// The chart for sweep `sweep`, or `None` when there is nothing to draw
    /// or too many configurations for readable panels.
    pub fn new(sweep: &str, keys: &[Key], configs: &[Config]) -> Option<CurvesChart> {
        if configs.is_empty() || configs.len() > MAX_PANELS {
            return None;
        }
        let panels: Vec<Panel> = configs
            .iter()
            .map(|c| Panel {
                label: c.label.replace('=', " = "),
                train: curve(c, |e| Some(e.train_acc)),
                validation: curve(c, |e| e.val_acc),
                test: curve(c, |e| Some(e.test_acc)),
                seeds: c.finished.len(),
                diverged: c.diverged.len(),
                stops: c
                    .finished
                    .iter()
                    .filter_map(|r| r.done.stopped_epoch.map(|e| e as f64))
                    .collect(),
            })
            .collect();
        if panels.iter().all(|p| p.test.is_empty()) {
            return None;
        }
        // Columns follow the fastest-varying setting (λ when it varies), so
        // each row holds one value of the others.
        let column_key = keys
            .iter()
            .copied()
            .find(|&k| k == Key::Lambda)
            .or(keys.last().copied());
        let columns = column_key.map_or(1, |k| {
            let mut values: Vec<String> = configs.iter().map(|c| c.params.text(k)).collect();
            values.sort();
            values.dedup();
            values.len()
        });
        let mut columns = columns.clamp(1, MAX_COLUMNS).min(panels.len());
        if columns == panels.len() && columns > 3 {
            // A single long row would make thumbnails; fold it in rows of ≤ 3.
            columns = columns.div_ceil(columns.div_ceil(3));
        }
        let epochs = panels
            .iter()
            .flat_map(|p| p.test.iter().map(|t| t.0))
            .fold(1.0, f64::max);
        let lowest = panels
            .iter()
            .flat_map(|p| p.train.iter().chain(&p.validation).chain(&p.test))
            .map(|t| t.2)
            .fold(100.0, f64::min);
        Some(CurvesChart {
            title: format!(
                "{sweep}: learning curves (mean over seeds, 95 % band or the seeds' range)"
            ),
            panels,
            columns,
            epochs,
            y_low: ((lowest - 2.0) / 5.0).floor().max(0.0) * 5.0,
            log_epochs: log_epoch_axis(configs),
        })
    }

    fn rows(&self) -> usize {
        self.panels.len().div_ceil(self.columns)
    }
}

impl Chart for CurvesChart {
    fn size(&self) -> (u32, u32) {
        let w = (self.columns as u32 * 400).max(1200);
        let h = 130 + self.rows() as u32 * 330;
        (w, h)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let area = area.margin(12, 0, 0, 0).titled(&self.title, font(30.0))?;
        let (key_area, grid) = area.split_vertically(50);
        let validated = self.panels.iter().any(|p| !p.validation.is_empty());
        let mut keys = vec![("train accuracy", TRAIN_COLOR)];
        if validated {
            keys.push(("validation accuracy", VALIDATION_COLOR));
        }
        keys.push(("test accuracy", TEST_COLOR));
        for (i, (name, color)) in keys.into_iter().enumerate() {
            let x = 40 + i as i32 * 300;
            key_area.draw(&PathElement::new(
                vec![(x, 20), (x + 40, 20)],
                color.stroke_width(4),
            ))?;
            key_area.draw(&Text::new(name, (x + 50, 8), font(20.0)))?;
        }
        let cells = grid.split_evenly((self.rows(), self.columns));
        for (panel, cell) in self.panels.iter().zip(&cells) {
            let mut notes = Vec::new();
            if panel.diverged > 0 {
                notes.push(format!("{} diverged", panel.diverged));
            }
            if !panel.stops.is_empty() {
                notes.push(format!("{} stopped early, dashed", panel.stops.len()));
            }
            let caption = match notes.is_empty() {
                true => panel.label.clone(),
                false => format!("{} ({})", panel.label, notes.join(", ")),
            };
            let x_max = self.epochs.max(2.0);
            // Long labels (three or more settings) get a smaller font so
            // they stay inside their panel (about 0.6 em per character).
            let width = f64::from(cell.dim_in_pixel().0);
            let size = (width / (0.6 * caption.chars().count().max(1) as f64)).clamp(11.0, 18.0);
            let mut builder = ChartBuilder::on(cell);
            builder
                .caption(caption, bold(size))
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(55);
            let y = self.y_low..100.5;
            if self.log_epochs {
                let chart = builder.build_cartesian_2d((1.0..x_max).log_scale(), y)?;
                draw_panel(chart, panel, cell, self.y_low)?;
            } else {
                let chart = builder.build_cartesian_2d(1.0..x_max, y)?;
                draw_panel(chart, panel, cell, self.y_low)?;
            }
        }
        Ok(())
    }
}

/// One panel's mesh and curves, on a linear or a log epoch axis.
fn draw_panel<DB: DrawingBackend, X>(
    mut chart: ChartContext<'_, DB, Cartesian2d<X, RangedCoordf64>>,
    panel: &Panel,
    cell: &DrawingArea<DB, Shift>,
    y_low: f64,
) -> DrawResult<DB>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_labels(5)
        .y_labels(5)
        .x_desc("epoch")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0} %"))
        .label_style(font(16.0))
        .axis_desc_style(font(16.0))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(RGBColor(245, 245, 245))
        .draw()?;
    if panel.seeds == 0 {
        cell.draw(&Text::new(
            "no finished seeds",
            (120, 150),
            font(20.0).color(&RED),
        ))?;
        return Ok(());
    }
    // Where early stopping ended a seed: a dashed line at its last epoch.
    for &epoch in &panel.stops {
        chart.draw_series(DashedLineSeries::new(
            [(epoch, y_low), (epoch, 100.0)],
            6,
            5,
            RGBColor(90, 90, 90).stroke_width(2),
        ))?;
    }
    for (points, color) in [
        (&panel.train, TRAIN_COLOR),
        (&panel.validation, VALIDATION_COLOR),
        (&panel.test, TEST_COLOR),
    ] {
        if points.is_empty() {
            continue;
        }
        if panel.seeds > 1 {
            let band: Vec<(f64, f64)> = points
                .iter()
                .map(|p| (p.0, p.3))
                .chain(points.iter().rev().map(|p| (p.0, p.2)))
                .collect();
            chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.2))))?;
        }
        chart.draw_series(LineSeries::new(
            points.iter().map(|p| (p.0, p.1)),
            color.stroke_width(2),
        ))?;
    }
    Ok(())
}
