//! Plots of a random or Sobol search against one sampled setting: every
//! configuration is a point (its mean over seeds, with faint dots for the
//! seeds), coloured by a second sampled setting, under a trend of binned
//! means with 95 % intervals. A line per value would join points that share
//! nothing when every point has its own value.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::lines::{Plane, frame, legend, y_range};
use super::{Axis, Chart, DrawResult, GREY, Shown, color};
use crate::config::Key;
use crate::config::search::Distribution;
use crate::report::stats::Stat;
use crate::report::summary::Config;

/// How points are coloured: by the values of a listed setting, or by equal
/// bins (on its own scale) of a drawn one.
#[derive(Debug, Clone)]
pub struct Colouring {
    /// The setting.
    pub key: Key,
    /// The distribution it was drawn from (its bins are equal on the
    /// distribution's scale between its bounds); `None` when it was chosen
    /// from a list.
    pub drawn: Option<Distribution>,
}

/// Most colour groups a drawn setting is cut into.
const COLOUR_BINS: usize = 4;

/// One colour group: its legend text and its configurations.
struct Group<'a> {
    label: String,
    configs: Vec<&'a Config<'a>>,
}

fn groups<'a>(colouring: Option<&Colouring>, configs: &'a [Config<'a>]) -> Vec<Group<'a>> {
    let Some(c) = colouring else {
        return vec![Group {
            label: String::new(),
            configs: configs.iter().collect(),
        }];
    };
    let name = c.key.name();
    let Some(drawn) = c.drawn else {
        let mut out: Vec<Group> = Vec::new();
        for config in configs {
            let label = format!("{name} = {}", config.params.text(c.key));
            match out.iter_mut().find(|g| g.label == label) {
                Some(g) => g.configs.push(config),
                None => out.push(Group {
                    label,
                    configs: vec![config],
                }),
            }
        }
        return out;
    };
    let log = drawn.law.is_log();
    let scale = |v: f64| if log { v.ln() } else { v };
    let (a, b) = (scale(drawn.low), scale(drawn.high));
    let bin =
        |v: f64| (((scale(v) - a) / (b - a) * COLOUR_BINS as f64) as usize).min(COLOUR_BINS - 1);
    let edge = |i: usize| {
        let x = a + (b - a) * i as f64 / COLOUR_BINS as f64;
        let v = if log { x.exp() } else { x };
        format!("{v:.2e}")
            .parse::<f64>()
            .map_or_else(|_| v.to_string(), |r| r.to_string())
    };
    (0..COLOUR_BINS)
        .map(|i| Group {
            label: format!("{name} {}–{}", edge(i), edge(i + 1)),
            configs: configs
                .iter()
                .filter(|x| x.params.number(c.key).is_some_and(|v| bin(v) == i))
                .collect(),
        })
        .filter(|g| !g.configs.is_empty())
        .collect()
}

/// A trend point: bin centre, mean of the configuration means in the bin,
/// and their 95 % interval (when the bin holds two or more).
type TrendPoint = (f64, f64, Option<(f64, f64)>);

/// Most bins of the trend.
const MAX_TREND_BINS: usize = 8;

/// Binned means of the configuration means (`points`: x position, mean),
/// in equal-width bins of the x axis: about √n bins, 3 to 8.
fn trend(points: &[(f64, f64)]) -> Vec<TrendPoint> {
    if points.len() < 6 {
        return Vec::new();
    }
    let bins = ((points.len() as f64).sqrt().round() as usize).clamp(3, MAX_TREND_BINS);
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.0), hi.max(p.0))
        });
    let width = (hi - lo) / bins as f64;
    (0..bins)
        .filter_map(|i| {
            let inside: Vec<f64> = points
                .iter()
                .filter(|p| ((p.0 - lo) / width).floor().min(bins as f64 - 1.0) as usize == i)
                .map(|p| p.1)
                .collect();
            let stat = Stat::of(&inside);
            Some((lo + width * (i as f64 + 0.5), stat.mean?, stat.ci95))
        })
        .collect()
}

/// The corner of the plot (a third of its width, two fifths of its height)
/// that the fewest points fall in, for the legend.
fn emptiest_corner<'p>(
    points: impl Iterator<Item = &'p (f64, f64)>,
    x: (f64, f64),
    y: (f64, f64),
) -> SeriesLabelPosition {
    let mut counts = [0usize; 4];
    for &(px, py) in points {
        let (fx, fy) = ((px - x.0) / (x.1 - x.0), (py - y.0) / (y.1 - y.0));
        let right = fx > 2.0 / 3.0;
        let left = fx < 1.0 / 3.0;
        let top = fy > 0.6;
        let bottom = fy < 0.4;
        for (i, inside) in [top && right, top && left, bottom && right, bottom && left]
            .into_iter()
            .enumerate()
        {
            counts[i] += usize::from(inside);
        }
    }
    let corners = [
        SeriesLabelPosition::UpperRight,
        SeriesLabelPosition::UpperLeft,
        SeriesLabelPosition::LowerRight,
        SeriesLabelPosition::LowerLeft,
    ];
    let best = (0..4).min_by_key(|&i| counts[i]).unwrap_or(0);
    corners[best].clone()
}

/// One metric against one sampled setting.
pub struct ScatterChart<'a> {
    title: String,
    axis: &'a Axis,
    metric: Shown,
    groups: Vec<Group<'a>>,
}

impl<'a> ScatterChart<'a> {
    /// The chart of `metric` for sweep `sweep` against `axis`, coloured by
    /// `colouring`.
    pub fn new(
        sweep: &str,
        axis: &'a Axis,
        metric: Shown,
        colouring: Option<&Colouring>,
        configs: &'a [Config<'a>],
    ) -> Self {
        ScatterChart {
            title: format!("{sweep}: {} vs {}", metric.words(), axis.symbol()),
            axis,
            metric,
            groups: groups(colouring, configs),
        }
    }
}

impl Chart for ScatterChart<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, 800)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let column = self.metric.metric();
        let means: Vec<Vec<(f64, f64)>> = self
            .groups
            .iter()
            .map(|g| {
                g.configs
                    .iter()
                    .filter_map(|c| Some((self.axis.pos_of(c)?, 100.0 * c.metric(column).mean?)))
                    .collect()
            })
            .collect();
        let seeds: Vec<Vec<(f64, f64)>> = self
            .groups
            .iter()
            .map(|g| {
                g.configs
                    .iter()
                    .filter_map(|c| Some((self.axis.pos_of(c)?, c)))
                    .flat_map(|(x, c)| c.values(column).into_iter().map(move |v| (x, 100.0 * v)))
                    .collect()
            })
            .collect();
        let all: Vec<(f64, f64)> = means.iter().flatten().copied().collect();
        let trend = trend(&all);
        // The data set the range; a trend interval reaching past it (few
        // points in a bin) is cut at its edge.
        let y = y_range(
            seeds.iter().flatten().map(|p| p.1),
            self.metric == Shown::Gap,
        );
        let mut chart: ChartContext<'_, DB, Plane> =
            frame(area, &self.title, self.axis, y, self.metric.axis_label(), 1)?;
        if self.metric == Shown::Gap {
            chart.draw_series(LineSeries::new(
                [(self.axis.range.0, 0.0), (self.axis.range.1, 0.0)],
                GREY.stroke_width(1),
            ))?;
        }
        let coloured = self.groups.len() > 1 || !self.groups[0].label.is_empty();
        for (i, group) in self.groups.iter().enumerate() {
            let c = color(i);
            chart.draw_series(
                seeds[i]
                    .iter()
                    .map(|&p| Circle::new(p, 3, c.mix(0.3).filled())),
            )?;
            let dots =
                chart.draw_series(means[i].iter().map(|&p| Circle::new(p, 7, c.filled())))?;
            if coloured {
                dots.label(group.label.clone())
                    .legend(move |(x, y)| Circle::new((x + 12, y), 7, c.filled()));
            }
        }
        if !trend.is_empty() {
            chart.draw_series(trend.iter().filter_map(|&(x, m, ci)| {
                ci.map(|(lo, hi)| {
                    let (lo, hi) = (lo.max(y.0), hi.min(y.1));
                    ErrorBar::new_vertical(x, lo, m, hi, BLACK.stroke_width(2), 14)
                })
            }))?;
            chart
                .draw_series(LineSeries::new(
                    trend.iter().map(|&(x, m, _)| (x, m)),
                    BLACK.stroke_width(3),
                ))?
                .label("binned mean, 95 % interval")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], BLACK.stroke_width(3))
                });
        }
        if coloured || !trend.is_empty() {
            let points = seeds.iter().flatten().chain(all.iter());
            legend(&mut chart, emptiest_corner(points, self.axis.range, y))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trend_averages_the_points_of_each_equal_bin() {
        // Nine points, three bins over x ∈ [0, 3]: means 1, 5 and 9.
        let points: Vec<(f64, f64)> = (0..9)
            .map(|i| {
                (
                    i as f64 * 3.0 / 8.0,
                    [0.0, 1.0, 2.0, 4.0, 5.0, 6.0, 8.0, 9.0, 10.0][i],
                )
            })
            .collect();
        let t = trend(&points);
        let means: Vec<f64> = t.iter().map(|p| p.1).collect();
        assert_eq!(means, [1.0, 5.0, 9.0]);
        // t(2) = 4.303 × sd 1 / √3.
        let (lo, hi) = t[0].2.unwrap();
        assert!(
            (hi - lo - 2.0 * 4.302_652_7 / 3f64.sqrt()).abs() < 1e-6,
            "{lo} {hi}"
        );
        assert_eq!(t[0].0, 0.5);
        assert!(trend(&points[..5]).is_empty());
    }
}
