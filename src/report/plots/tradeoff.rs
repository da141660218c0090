//! The gap against accuracy, one point per configuration: the trade-off an
//! overfitting study is about. The Pareto front (no other configuration is
//! both more accurate and smaller in gap) is joined by a line; the band of
//! accuracies within one standard error of the best is shaded, and the
//! report's gap answer is ringed. With three seeds or more each point has
//! its 95 % intervals on both axes; with fewer (where a t-interval spans
//! most of the axis) the seeds themselves are drawn, faint, instead.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Chart, DrawResult, GREY, TEST_COLOR, font};
use crate::report::stats::Stat;
use crate::report::summary::{Config, Metric};
use crate::report::tradeoff::{GapChoice, pareto_front};

/// Fewest seeds for which a point gets its intervals.
const SEEDS_FOR_INTERVALS: usize = 3;

/// One configuration as drawn: mean accuracy and gap (points), their
/// intervals, and its seeds.
struct Point {
    accuracy: Stat,
    gap: Stat,
    seeds: Vec<(f64, f64)>,
}

/// The chart.
pub struct TradeoffChart {
    title: String,
    x_desc: String,
    points: Vec<Point>,
    front: Vec<bool>,
    chosen: usize,
    /// The lowest accuracy within one standard error of the best (points).
    band: Option<f64>,
    x: (f64, f64),
    y: (f64, f64),
}

impl TradeoffChart {
    /// The chart of `configs` with the gap answer `choice`; `None` with
    /// fewer than two configurations.
    pub fn new(sweep: &str, configs: &[Config], choice: &GapChoice) -> Option<TradeoffChart> {
        let metric = choice.metric;
        let points: Vec<Point> = configs
            .iter()
            .map(|c| {
                let accuracy = c.values(metric);
                let gap = c.values(Metric::GapAcc);
                Point {
                    accuracy: Stat::of(&accuracy),
                    gap: Stat::of(&gap),
                    seeds: accuracy
                        .iter()
                        .zip(&gap)
                        .map(|(a, g)| (100.0 * a, 100.0 * g))
                        .collect(),
                }
            })
            .collect();
        let means: Vec<(f64, f64)> = points
            .iter()
            .map(|p| {
                (
                    p.accuracy.mean.unwrap_or(f64::NAN),
                    p.gap.mean.unwrap_or(f64::NAN),
                )
            })
            .collect();
        if means
            .iter()
            .filter(|m| m.0.is_finite() && m.1.is_finite())
            .count()
            < 2
        {
            return None;
        }
        let front = pareto_front(&means);
        let best = means[choice.best].0;
        let band = choice.standard_error.map(|se| 100.0 * (best - se));
        // The axes hold every mean and every seed (intervals are cut).
        let all = points.iter().flat_map(|p| {
            let mean = (
                100.0 * p.accuracy.mean.unwrap_or(f64::NAN),
                100.0 * p.gap.mean.unwrap_or(f64::NAN),
            );
            p.seeds.iter().copied().chain(std::iter::once(mean))
        });
        let (mut x, mut y) = (
            (f64::INFINITY, f64::NEG_INFINITY),
            (f64::INFINITY, f64::NEG_INFINITY),
        );
        for (a, g) in all.filter(|p| p.0.is_finite() && p.1.is_finite()) {
            x = (x.0.min(a), x.1.max(a));
            y = (y.0.min(g), y.1.max(g));
        }
        let pad = |(lo, hi): (f64, f64)| {
            let room = ((hi - lo) * 0.08).max(0.5);
            (lo - room, hi + room)
        };
        let accuracy = match metric {
            Metric::ValAcc => "validation accuracy",
            _ => "test accuracy",
        };
        Some(TradeoffChart {
            title: format!("{sweep}: gap against {accuracy}, one point per configuration"),
            x_desc: format!("{accuracy} (%, mean over seeds)"),
            points,
            front,
            chosen: choice.chosen,
            band,
            x: pad(x),
            y: pad(y),
        })
    }
}

impl Chart for TradeoffChart {
    fn size(&self) -> (u32, u32) {
        (1200, 800)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (x, y) = (self.x, self.y);
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, font(28.0))
            .margin(24)
            .x_label_area_size(80)
            .y_label_area_size(100)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_desc)
            .y_desc("train − test accuracy (points)")
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .label_style(font(18.0))
            .axis_desc_style(font(22.0))
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(RGBColor(245, 245, 245))
            .draw()?;
        if let Some(floor) = self.band.filter(|f| *f < x.1) {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(floor.max(x.0), y.0), (x.1, y.1)],
                    RGBColor(0, 158, 115).mix(0.12).filled(),
                )))?
                .label("within one standard error of the best accuracy")
                .legend(|(px, py)| {
                    Rectangle::new(
                        [(px, py - 8), (px + 24, py + 8)],
                        RGBColor(0, 158, 115).mix(0.3).filled(),
                    )
                });
        }
        let intervals = self
            .points
            .iter()
            .all(|p| p.accuracy.n >= SEEDS_FOR_INTERVALS);
        let mean = |p: &Point| Some((100.0 * p.accuracy.mean?, 100.0 * p.gap.mean?));
        if intervals {
            for p in &self.points {
                let (Some((a, g)), Some(ax), Some(gy)) = (mean(p), p.accuracy.ci95, p.gap.ci95)
                else {
                    continue;
                };
                let style = TEST_COLOR.mix(0.5).stroke_width(2);
                let (left, right) = ((100.0 * ax.0).max(x.0), (100.0 * ax.1).min(x.1));
                let (low, high) = ((100.0 * gy.0).max(y.0), (100.0 * gy.1).min(y.1));
                chart.draw_series([ErrorBar::new_horizontal(g, left, a, right, style, 8)])?;
                chart.draw_series([ErrorBar::new_vertical(a, low, g, high, style, 8)])?;
            }
        } else {
            chart
                .draw_series(
                    self.points
                        .iter()
                        .flat_map(|p| &p.seeds)
                        .map(|&s| Circle::new(s, 3, TEST_COLOR.mix(0.3).filled())),
                )?
                .label("one seed (fewer than 3 seeds: no intervals)")
                .legend(|(px, py)| Circle::new((px + 12, py), 3, TEST_COLOR.mix(0.3).filled()));
        }
        let mut front: Vec<(f64, f64)> = self
            .points
            .iter()
            .zip(&self.front)
            .filter(|(_, on)| **on)
            .filter_map(|(p, _)| mean(p))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(front, BLACK.stroke_width(2)))?
            .label("Pareto front: no configuration both more accurate and smaller in gap")
            .legend(|(px, py)| {
                PathElement::new(vec![(px, py), (px + 24, py)], BLACK.stroke_width(2))
            });
        chart
            .draw_series(
                self.points
                    .iter()
                    .filter_map(mean)
                    .map(|m| Circle::new(m, 7, TEST_COLOR.filled())),
            )?
            .label("configuration (mean over seeds)")
            .legend(|(px, py)| Circle::new((px + 12, py), 7, TEST_COLOR.filled()));
        if let Some(m) = self.points.get(self.chosen).and_then(mean) {
            chart
                .draw_series(std::iter::once(Circle::new(m, 14, BLACK.stroke_width(3))))?
                .label("smallest gap at the best accuracy (the report's answer)")
                .legend(|(px, py)| Circle::new((px + 12, py), 8, BLACK.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .label_font(font(17.0))
            .background_style(WHITE.mix(0.9))
            .border_style(GREY)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        Ok(())
    }
}
