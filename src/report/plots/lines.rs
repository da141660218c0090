//! Plots of final metrics against one swept setting: the overfitting gap
//! (mean, 95 % interval, single seeds), training and test accuracy, and
//! training and test loss, with one line per value of the other swept
//! settings.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::axis::Ticked;
use super::{
    Axis, Chart, DrawResult, GREY, TEST_COLOR, TRAIN_COLOR, VALIDATION_COLOR, color, font, percent,
};
use crate::config::Key;
use crate::report::summary::{Config, Metric, label, selection_metric};

/// Configurations that share the values of the non-plotted settings: one
/// line on a chart.
struct Series<'a> {
    /// `learning_rate=0.1`, empty when nothing else varies.
    label: String,
    /// Its configurations.
    configs: Vec<&'a Config<'a>>,
}

fn series<'a>(others: &[Key], configs: &'a [Config<'a>]) -> Vec<Series<'a>> {
    let mut out: Vec<Series<'a>> = Vec::new();
    for config in configs {
        let name = if others.is_empty() {
            String::new()
        } else {
            label(others, &config.params)
        };
        match out.iter_mut().find(|s| s.label == name) {
            Some(s) => s.configs.push(config),
            None => out.push(Series {
                label: name,
                configs: vec![config],
            }),
        }
    }
    out
}

/// Horizontal offset of series `i` of `n`, so error bars do not overlap.
fn dodge(axis: &Axis, i: usize, n: usize) -> f64 {
    (i as f64 - (n as f64 - 1.0) / 2.0) * 0.012 * axis.span()
}

/// A y range that holds `values` (percentages) with some room, and 0 if
/// `with_zero`.
pub(super) fn y_range(values: impl Iterator<Item = f64>, with_zero: bool) -> (f64, f64) {
    y_range_padded(values, with_zero, 0.5)
}

/// [`y_range`] with at least `min_pad` of room on each side.
fn y_range_padded(values: impl Iterator<Item = f64>, with_zero: bool, min_pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if with_zero {
        lo = lo.min(0.0);
    }
    let pad = ((hi - lo) * 0.08).max(min_pad);
    (lo - pad, hi + pad)
}

pub(super) type Plane = Cartesian2d<Ticked, RangedCoordf64>;

/// Builds the chart frame: title, axes, grid, the axis break at λ = 0, and
/// the interpolation threshold on a parameter axis; y labels with
/// `decimals` digits.
pub(super) fn frame<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    axis: &'a Axis,
    y: (f64, f64),
    y_desc: &str,
    decimals: usize,
) -> Result<ChartContext<'a, DB, Plane>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, font(30.0))
        .margin(24)
        .x_label_area_size(80)
        .y_label_area_size(100)
        .build_cartesian_2d(axis.coord(), y.0..y.1)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| axis.tick_label(*x))
        .y_label_formatter(&|y| format!("{y:.decimals$}"))
        .x_desc(axis.title())
        .y_desc(y_desc)
        .label_style(font(20.0))
        .axis_desc_style(font(24.0))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(RGBColor(245, 245, 245))
        .draw()?;
    if let Some(b) = axis.break_pos {
        chart.draw_series(DashedLineSeries::new(
            [(b, y.0), (b, y.1)],
            8,
            6,
            GREY.stroke_width(2),
        ))?;
    }
    if let Some((x, label)) = &axis.threshold {
        chart
            .draw_series(DashedLineSeries::new(
                [(*x, y.0), (*x, y.1)],
                4,
                6,
                BLACK.stroke_width(2),
            ))?
            .label(label.clone())
            .legend(|(x, y)| {
                DashedPathElement::new(vec![(x, y), (x + 24, y)], 4, 4, BLACK.stroke_width(2))
            });
    }
    Ok(chart)
}

/// Draws the legend in the best free corner.
pub(super) fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Plane>,
    position: SeriesLabelPosition,
) -> DrawResult<DB> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(GREY)
        .label_font(font(20.0))
        .draw()
}

/// The overfitting gap (train − test accuracy) against one setting.
pub struct GapChart<'a> {
    title: String,
    axis: &'a Axis,
    series: Vec<Series<'a>>,
}

impl<'a> GapChart<'a> {
    /// The chart for sweep `sweep`, against `axis`, a line per value of `others`.
    pub fn new(sweep: &str, axis: &'a Axis, others: &[Key], configs: &'a [Config<'a>]) -> Self {
        GapChart {
            title: format!("{sweep}: train − test accuracy gap vs {}", axis.symbol()),
            axis,
            series: series(others, configs),
        }
    }
}

/// A point of a mean line: position, mean and 95 % interval, in percent.
type MeanPoint = (f64, f64, Option<(f64, f64)>);

/// The means of `metric` of a series, in percent, at dodged positions.
fn means(axis: &Axis, s: &Series, metric: Metric, shift: f64) -> Vec<MeanPoint> {
    scaled_means(axis, s, metric, shift, 100.0)
}

/// The means of `metric` of a series times `scale`, at dodged positions.
fn scaled_means(axis: &Axis, s: &Series, metric: Metric, shift: f64, scale: f64) -> Vec<MeanPoint> {
    s.configs
        .iter()
        .filter_map(|c| {
            let stat = c.metric(metric);
            let x = axis.pos_of(c)? + shift;
            // With fewer than 3 seeds a t-interval spans most of the axis
            // (t = 12.7 for two): the seeds are drawn instead.
            let ci = stat.ci95.filter(|_| stat.n >= SEEDS_FOR_INTERVALS);
            Some((
                x,
                scale * stat.mean?,
                ci.map(|(lo, hi)| (scale * lo, scale * hi)),
            ))
        })
        .collect()
}

/// Fewest seeds for which a mean gets its 95 % interval drawn.
pub(super) const SEEDS_FOR_INTERVALS: usize = 3;

/// The seeds of the configurations of a series that have fewer than
/// [`SEEDS_FOR_INTERVALS`], as (position, value × `scale`) points.
fn few_seeds(axis: &Axis, s: &Series, metric: Metric, shift: f64, scale: f64) -> Vec<(f64, f64)> {
    s.configs
        .iter()
        .filter(|c| c.finished.len() < SEEDS_FOR_INTERVALS)
        .filter_map(|c| Some((axis.pos_of(c)? + shift, c)))
        .flat_map(|(x, c)| c.values(metric).into_iter().map(move |v| (x, scale * v)))
        .collect()
}

/// Error bars where there is an interval, a dot where there is one seed.
fn bars<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Plane>,
    points: &[MeanPoint],
    color: RGBColor,
    hollow: bool,
) -> DrawResult<DB> {
    let style = if hollow {
        WHITE.filled()
    } else {
        color.filled()
    };
    chart.draw_series(points.iter().filter_map(|&(x, m, ci)| {
        ci.map(|(lo, hi)| ErrorBar::new_vertical(x, lo, m, hi, color.stroke_width(2), 16))
    }))?;
    chart.draw_series(
        points
            .iter()
            .map(|&(x, m, _)| Circle::new((x, m), 6, style)),
    )?;
    chart.draw_series(
        points
            .iter()
            .map(|&(x, m, _)| Circle::new((x, m), 6, color.stroke_width(2))),
    )?;
    Ok(())
}

/// Draws each series' training (dashed, hollow dots) and test (solid,
/// filled dots) means with their intervals, labelled for the legend: in
/// the train and test colours for one series, in the series' colour for
/// several.
fn train_and_test<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Plane>,
    series: &[Series],
    (trains, tests): (&[Vec<MeanPoint>], &[Vec<MeanPoint>]),
    seeds: (&Axis, [Metric; 2], f64),
) -> DrawResult<DB> {
    let n = series.len();
    let (axis, [train_metric, test_metric], scale) = seeds;
    for (i, s) in series.iter().enumerate() {
        let shift = dodge(axis, i, n);
        for (metric, c) in [(train_metric, TRAIN_COLOR), (test_metric, TEST_COLOR)] {
            let c = if n == 1 { c } else { color(i) };
            chart.draw_series(
                few_seeds(axis, s, metric, shift, scale)
                    .into_iter()
                    .map(|p| Circle::new(p, 3, c.mix(0.35).filled())),
            )?;
        }
        let (test_color, train_color) = if n == 1 {
            (TEST_COLOR, TRAIN_COLOR)
        } else {
            (color(i), color(i))
        };
        let suffix = if n > 1 {
            format!(", {}", s.label.replace('=', " = "))
        } else {
            String::new()
        };
        chart
            .draw_series(DashedLineSeries::new(
                trains[i].iter().map(|&(x, m, _)| (x, m)),
                14,
                8,
                train_color.stroke_width(3),
            ))?
            .label(format!("train{suffix}"))
            .legend(move |(x, y)| {
                DashedPathElement::new(vec![(x, y), (x + 24, y)], 8, 4, train_color.stroke_width(3))
            });
        bars(chart, &trains[i], train_color, true)?;
        chart
            .draw_series(LineSeries::new(
                tests[i].iter().map(|&(x, m, _)| (x, m)),
                test_color.stroke_width(3),
            ))?
            .label(format!("test{suffix}"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], test_color.stroke_width(3))
            });
        bars(chart, &tests[i], test_color, false)?;
    }
    Ok(())
}

impl Chart for GapChart<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, 800)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let n = self.series.len();
        let lines: Vec<Vec<MeanPoint>> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| means(self.axis, s, Metric::GapAcc, dodge(self.axis, i, n)))
            .collect();
        let seeds: Vec<Vec<(f64, f64)>> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.configs
                    .iter()
                    .filter_map(|c| Some((self.axis.pos_of(c)? + dodge(self.axis, i, n), c)))
                    .flat_map(|(x, c)| {
                        c.values(Metric::GapAcc)
                            .into_iter()
                            .map(move |v| (x, 100.0 * v))
                    })
                    .collect()
            })
            .collect();
        let y = y_range(
            lines
                .iter()
                .flatten()
                .flat_map(|&(_, m, ci)| [Some(m), ci.map(|c| c.0), ci.map(|c| c.1)])
                .flatten()
                .chain(seeds.iter().flatten().map(|p| p.1)),
            true,
        );
        let mut chart = frame(
            area,
            &self.title,
            self.axis,
            y,
            "gap = train − test accuracy (percentage points)",
            1,
        )?;
        chart.draw_series(LineSeries::new(
            [(self.axis.range.0, 0.0), (self.axis.range.1, 0.0)],
            GREY.stroke_width(1),
        ))?;
        for (i, (s, points)) in self.series.iter().zip(&lines).enumerate() {
            let c = color(i);
            chart.draw_series(
                seeds[i]
                    .iter()
                    .map(|&p| Circle::new(p, 4, c.mix(0.3).filled())),
            )?;
            let line = chart.draw_series(LineSeries::new(
                points.iter().map(|&(x, m, _)| (x, m)),
                c.stroke_width(3),
            ))?;
            if n > 1 {
                line.label(s.label.replace('=', " = "))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3))
                    });
            }
            bars(&mut chart, points, c, false)?;
        }
        if n > 1 || self.axis.threshold.is_some() {
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    }
}

/// Final training and test accuracy against one setting, best test marked.
pub struct AccuracyChart<'a> {
    title: String,
    axis: &'a Axis,
    series: Vec<Series<'a>>,
}

impl<'a> AccuracyChart<'a> {
    /// The chart for sweep `sweep`, against `axis`, lines per value of `others`.
    pub fn new(sweep: &str, axis: &'a Axis, others: &[Key], configs: &'a [Config<'a>]) -> Self {
        AccuracyChart {
            title: format!("{sweep}: training and test accuracy vs {}", axis.symbol()),
            axis,
            series: series(others, configs),
        }
    }
}

impl Chart for AccuracyChart<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, 800)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let n = self.series.len();
        let tests: Vec<Vec<MeanPoint>> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| means(self.axis, s, Metric::TestAcc, dodge(self.axis, i, n)))
            .collect();
        let trains: Vec<Vec<MeanPoint>> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| means(self.axis, s, Metric::TrainAcc, dodge(self.axis, i, n)))
            .collect();
        let y = y_range(
            tests
                .iter()
                .chain(&trains)
                .flatten()
                .flat_map(|&(_, m, ci)| [Some(m), ci.map(|c| c.0), ci.map(|c| c.1)])
                .flatten(),
            false,
        );
        let y = (y.0, y.1.min(101.0));
        let mut chart = frame(area, &self.title, self.axis, y, "accuracy (%)", 1)?;
        let seeds = (self.axis, [Metric::TrainAcc, Metric::TestAcc], 100.0);
        train_and_test(&mut chart, &self.series, (&trains, &tests), seeds)?;
        // The best configuration is chosen on validation when there is one.
        let chosen_on =
            selection_metric(self.series.iter().flat_map(|s| s.configs.iter().copied()));
        let validated = chosen_on == Metric::ValAcc;
        if validated && n == 1 {
            let validation = means(self.axis, &self.series[0], Metric::ValAcc, 0.0);
            chart
                .draw_series(DashedLineSeries::new(
                    validation.iter().map(|&(x, m, _)| (x, m)),
                    3,
                    6,
                    VALIDATION_COLOR.stroke_width(3),
                ))?
                .label("validation")
                .legend(|(x, y)| {
                    DashedPathElement::new(
                        vec![(x, y), (x + 24, y)],
                        3,
                        4,
                        VALIDATION_COLOR.stroke_width(3),
                    )
                });
        }
        let best = self
            .series
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.configs.iter().map(move |c| (i, c)))
            .filter_map(|(i, c)| {
                let x = self.axis.pos_of(c)? + dodge(self.axis, i, n);
                Some((
                    c,
                    x,
                    c.metric(chosen_on).mean?,
                    c.metric(Metric::TestAcc).mean?,
                ))
            })
            .max_by(|a, b| a.2.total_cmp(&b.2));
        if let Some((config, x, _, test)) = best {
            let what = if validated {
                "best on validation: test"
            } else {
                "best test"
            };
            chart
                .draw_series(std::iter::once(Circle::new(
                    (x, 100.0 * test),
                    16,
                    BLACK.stroke_width(3),
                )))?
                .label(format!(
                    "{what} {} ({})",
                    percent(test),
                    config.label.replace('=', " = ")
                ))
                .legend(|(x, y)| Circle::new((x + 12, y), 8, BLACK.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::LowerLeft)?;
        Ok(())
    }
}

/// Final training and test loss against one setting: with squared loss
/// and a parameter axis, the double-descent curve.
pub struct LossChart<'a> {
    title: String,
    axis: &'a Axis,
    series: Vec<Series<'a>>,
}

impl<'a> LossChart<'a> {
    /// The chart for sweep `sweep`, against `axis`, lines per value of `others`.
    pub fn new(sweep: &str, axis: &'a Axis, others: &[Key], configs: &'a [Config<'a>]) -> Self {
        LossChart {
            title: format!("{sweep}: training and test loss vs {}", axis.symbol()),
            axis,
            series: series(others, configs),
        }
    }
}

impl Chart for LossChart<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, 800)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let n = self.series.len();
        let mean_lines = |metric: Metric| -> Vec<Vec<MeanPoint>> {
            self.series
                .iter()
                .enumerate()
                .map(|(i, s)| scaled_means(self.axis, s, metric, dodge(self.axis, i, n), 1.0))
                .collect()
        };
        let (tests, trains) = (mean_lines(Metric::TestLoss), mean_lines(Metric::TrainLoss));
        let (lo, hi) = y_range_padded(
            tests
                .iter()
                .chain(&trains)
                .flatten()
                .flat_map(|&(_, m, ci)| [Some(m), ci.map(|c| c.0), ci.map(|c| c.1)])
                .flatten(),
            true,
            0.01,
        );
        let y = (lo.max(-0.02 * hi), hi);
        let decimals = if hi < 0.1 { 3 } else { 2 };
        let mut chart = frame(area, &self.title, self.axis, y, "mean loss", decimals)?;
        let seeds = (self.axis, [Metric::TrainLoss, Metric::TestLoss], 1.0);
        train_and_test(&mut chart, &self.series, (&trains, &tests), seeds)?;
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}
