//! Parallel coordinates: every configuration as one line across the swept
//! settings' axes (log axes for log-spaced settings, λ = 0 below its
//! break; categories in their order) and the gap's axis, coloured by its
//! gap. Readable at hundreds of configurations: lines are translucent and
//! drawn largest gap first, so the smallest gaps lie on top, and the
//! report's two answers (best accuracy, smallest gap at the best accuracy)
//! are drawn last, thick and outlined.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::{Axis, Quantity};
use super::{Chart, DrawResult, font};
use crate::config::{Key, SearchRecord};
use crate::report::summary::{Config, Metric};
use crate::report::tradeoff::GapChoice;

/// One vertical axis: its title and ticks at heights in [0, 1].
struct Vertical {
    title: String,
    ticks: Vec<(f64, String)>,
}

/// One configuration's line: its height on each axis, its gap (points),
/// and whether it is one of the report's answers.
struct Line {
    heights: Vec<f64>,
    gap: f64,
    answer: bool,
}

/// The chart.
pub struct ParallelChart {
    title: String,
    axes: Vec<Vertical>,
    lines: Vec<Line>,
    /// The smallest and largest gap (points), for the colours.
    gaps: (f64, f64),
}

/// Where a configuration sits on one setting's axis, in [0, 1].
type Place = Box<dyn Fn(&Config) -> Option<f64>>;

impl ParallelChart {
    /// The chart of `configs` over the settings `keys` (drawn ones on
    /// their distribution's scale), `None` with fewer than two settings or
    /// three configurations.
    pub fn new(
        sweep: &str,
        keys: &[Key],
        configs: &[Config],
        search: Option<&SearchRecord>,
        choice: Option<&GapChoice>,
    ) -> Option<ParallelChart> {
        if keys.len() < 2 || configs.len() < 3 {
            return None;
        }
        let mut axes = Vec::new();
        let mut places: Vec<Place> = Vec::new();
        for &key in keys {
            let (vertical, place) = setting_axis(key, configs, search);
            axes.push(vertical);
            places.push(place);
        }
        let gaps: Vec<Option<f64>> = configs
            .iter()
            .map(|c| c.metric(Metric::GapAcc).mean.map(|g| 100.0 * g))
            .collect();
        let (lo, hi) = gaps
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &g| {
                (lo.min(g), hi.max(g))
            });
        if !lo.is_finite() {
            return None;
        }
        let span = if hi > lo { hi - lo } else { 1.0 };
        axes.push(Vertical {
            title: "gap (points)".into(),
            ticks: (0..=4)
                .map(|i| {
                    let t = f64::from(i) / 4.0;
                    (t, format!("{:.1}", lo + t * span))
                })
                .collect(),
        });
        let answers: Vec<usize> = choice.map_or(Vec::new(), |c| vec![c.best, c.chosen]);
        let mut lines: Vec<Line> = configs
            .iter()
            .zip(&gaps)
            .enumerate()
            .filter_map(|(i, (c, gap))| {
                let gap = (*gap)?;
                let mut heights: Vec<f64> = places.iter().map(|p| p(c)).collect::<Option<_>>()?;
                heights.push((gap - lo) / span);
                Some(Line {
                    heights,
                    gap,
                    answer: answers.contains(&i),
                })
            })
            .collect();
        // Largest gaps first, the answers last: the best lie on top.
        lines.sort_by(|a, b| a.answer.cmp(&b.answer).then(b.gap.total_cmp(&a.gap)));
        Some(ParallelChart {
            title: format!(
                "{sweep}: every configuration across the swept settings, coloured by its gap"
            ),
            axes,
            lines,
            gaps: (lo, hi),
        })
    }
}

/// The axis of one swept setting and where each configuration sits on it:
/// the numeric axis of the other plots (log where they are, λ = 0 below
/// its break), or the setting's values as categories in their order.
fn setting_axis(key: Key, configs: &[Config], search: Option<&SearchRecord>) -> (Vertical, Place) {
    let numeric = match search.and_then(|s| s.distribution(key)) {
        Some(d) => Axis::drawn(key, configs, d),
        None => Axis::new(Quantity::Setting(key), configs),
    };
    if let Some(axis) = numeric {
        let (lo, hi) = axis.range;
        let span = if hi > lo { hi - lo } else { 1.0 };
        let ticks = axis
            .ticks()
            .iter()
            .map(|(pos, label)| ((pos - lo) / span, label.clone()))
            .collect();
        let title = axis.title();
        let place: Place = Box::new(move |c| axis.pos_of(c).map(|p| (p - lo) / span));
        return (Vertical { title, ticks }, place);
    }
    let mut values: Vec<String> = Vec::new();
    for c in configs {
        let v = c.params.text(key);
        if !values.contains(&v) {
            values.push(v);
        }
    }
    let n = values.len();
    let height = move |i: usize| {
        if n < 2 {
            0.5
        } else {
            i as f64 / (n - 1) as f64
        }
    };
    let ticks = values
        .iter()
        .enumerate()
        .map(|(i, v)| (height(i), v.clone()))
        .collect();
    let place: Place = Box::new(move |c| {
        let v = c.params.text(key);
        values.iter().position(|x| *x == v).map(height)
    });
    (
        Vertical {
            title: key.spec().label.to_string(),
            ticks,
        },
        place,
    )
}

impl Chart for ParallelChart {
    fn size(&self) -> (u32, u32) {
        (1400, 760)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let last = (self.axes.len() - 1) as f64;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, font(26.0))
            .margin(30)
            .margin_left(60)
            .margin_right(90)
            .build_cartesian_2d(-0.05..last + 0.05, -0.16..1.1)?;
        let (lo, hi) = self.gaps;
        let span = if hi > lo { hi - lo } else { 1.0 };
        // Smallest gap bright (yellow), largest dark (purple).
        let colour = |gap: f64| ViridisRGB.get_color(1.0 - ((gap - lo) / span) as f32);
        let alpha = (40.0 / self.lines.len().max(1) as f64).clamp(0.12, 0.8);
        for line in &self.lines {
            let points = line.heights.iter().enumerate().map(|(i, &h)| (i as f64, h));
            let c = colour(line.gap);
            if line.answer {
                chart.draw_series(LineSeries::new(points.clone(), BLACK.stroke_width(7)))?;
                chart.draw_series(LineSeries::new(points, c.stroke_width(4)))?;
            } else {
                chart.draw_series(LineSeries::new(points, c.mix(alpha).stroke_width(2)))?;
            }
        }
        for (i, axis) in self.axes.iter().enumerate() {
            let x = i as f64;
            chart.draw_series(LineSeries::new([(x, 0.0), (x, 1.0)], BLACK.stroke_width(2)))?;
            for (h, label) in &axis.ticks {
                chart.draw_series(LineSeries::new(
                    [(x, *h), (x + 0.015 * last, *h)],
                    BLACK.stroke_width(1),
                ))?;
                chart.draw_series(std::iter::once(Text::new(
                    label.clone(),
                    (x + 0.02 * last, *h + 0.015),
                    font(15.0),
                )))?;
            }
            chart.draw_series(std::iter::once(Text::new(
                axis.title.clone(),
                (x - 0.03 * last, -0.06),
                font(17.0),
            )))?;
        }
        chart.draw_series(std::iter::once(Text::new(
            format!(
                "colour: train − test gap, from {lo:.1} points (yellow) to {hi:.1} (purple); \
                 outlined: the best accuracy and the smallest gap at the best accuracy"
            ),
            (0.0, -0.13),
            font(16.0),
        )))?;
        Ok(())
    }
}
