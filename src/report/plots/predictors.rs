//! A generalization measure against the gap, one point per run, coloured
//! by a swept setting: the picture behind a row of `measures.csv`.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{Chart, DrawResult, GREY, color, font};
use crate::config::Key;
use crate::report::predictors::Ranking;
use crate::report::summary::Config;

/// Most colours: a setting with more values is not coloured.
const MAX_GROUPS: usize = 7;

/// One colour group: its legend text and its points (measure, gap in
/// points).
struct Group {
    label: String,
    points: Vec<(f64, f64)>,
}

/// The chart of one measure against the accuracy gap.
pub struct PredictorChart {
    title: String,
    x_desc: String,
    groups: Vec<Group>,
    x: (f64, f64),
    y: (f64, f64),
    log_x: bool,
}

impl PredictorChart {
    /// The chart of `ranking`'s measure against its gap over the finished
    /// runs of `configs`, coloured by `colour_by` when it has a few
    /// values; `None` with fewer than two points.
    pub fn new(
        sweep: &str,
        ranking: &Ranking,
        configs: &[Config],
        colour_by: Option<Key>,
    ) -> Option<PredictorChart> {
        let measure = ranking.measure;
        let mut groups: Vec<Group> = Vec::new();
        for run in configs.iter().flat_map(|c| c.finished.iter()) {
            let Some((x, y)) = measure.point(ranking.gap, run) else {
                continue;
            };
            let label = colour_by.map_or(String::new(), |k| {
                format!("{} = {}", k.name(), run.spec.params.text(k))
            });
            let point = (x, 100.0 * y);
            match groups.iter_mut().find(|g| g.label == label) {
                Some(g) => g.points.push(point),
                None => groups.push(Group {
                    label,
                    points: vec![point],
                }),
            }
        }
        if groups.len() > MAX_GROUPS {
            let points = groups.into_iter().flat_map(|g| g.points).collect();
            groups = vec![Group {
                label: String::new(),
                points,
            }];
        }
        let all = || groups.iter().flat_map(|g| g.points.iter());
        if all().count() < 2 {
            return None;
        }
        let bounds = |get: fn(&(f64, f64)) -> f64| {
            all()
                .map(get)
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                })
        };
        let (x_lo, x_hi) = bounds(|p| p.0);
        let (y_lo, y_hi) = bounds(|p| p.1);
        // A log axis when every value is positive and they span a decade.
        let log_x = x_lo > 0.0 && x_hi / x_lo >= 10.0;
        if log_x {
            // Drawn at log10 of the value, with ticks labelled by the value.
            for group in &mut groups {
                group.points.iter_mut().for_each(|p| p.0 = p.0.log10());
            }
        }
        let x = match log_x {
            true => padded(x_lo.log10(), x_hi.log10()),
            false => padded(x_lo, x_hi),
        };
        let psi = ranking
            .psi()
            .map_or(String::new(), |p| format!(", Ψ = {p:+.2}"));
        let tau = ranking
            .overall
            .tau_b()
            .map_or(String::new(), |t| format!("τ = {t:+.2}"));
        Some(PredictorChart {
            title: format!("{sweep}: gap vs {} ({tau}{psi})", measure.name),
            x_desc: format!(
                "{} ({})",
                measure.words,
                if log_x { "log scale" } else { "linear" }
            ),
            groups,
            x,
            y: padded(y_lo, y_hi),
            log_x,
        })
    }
}

/// A tick label with `digits` significant digits at most: `0.0123`,
/// `12.5`, `1.234e5`.
fn tick(x: f64, digits: usize) -> String {
    let rounded: f64 = format!("{x:.*e}", digits.max(1) - 1).parse().unwrap_or(x);
    if rounded != 0.0 && !(1e-3..1e5).contains(&rounded.abs()) {
        format!("{rounded:e}")
    } else {
        rounded.to_string()
    }
}

/// `(lo, hi)` with 8 % of room on each side (or ±1 when they are equal).
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let pad = if hi > lo { 0.08 * (hi - lo) } else { 1.0 };
    (lo - pad, hi + pad)
}

impl Chart for PredictorChart {
    fn size(&self) -> (u32, u32) {
        (1200, 800)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let chart = ChartBuilder::on(area)
            .caption(&self.title, font(28.0))
            .margin(24)
            .x_label_area_size(80)
            .y_label_area_size(100)
            .build_cartesian_2d(self.x.0..self.x.1, self.y.0..self.y.1)?;
        self.draw_points(chart)
    }
}

impl PredictorChart {
    /// The mesh, the points and the legend.
    fn draw_points<'a, DB: DrawingBackend + 'a>(
        &self,
        mut chart: ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    ) -> DrawResult<DB> {
        let log_x = self.log_x;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(8)
            .x_desc(&self.x_desc)
            .y_desc("train − test accuracy (points)")
            .x_label_formatter(&|&x| match log_x {
                true => tick(10f64.powf(x), 2),
                false => tick(x, 4),
            })
            .y_label_formatter(&|y| format!("{y:.1}"))
            .label_style(font(18.0))
            .axis_desc_style(font(22.0))
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(RGBColor(245, 245, 245))
            .draw()?;
        if self.y.0 < 0.0 && self.y.1 > 0.0 {
            chart.draw_series(LineSeries::new(
                [(self.x.0, 0.0), (self.x.1, 0.0)],
                GREY.stroke_width(1),
            ))?;
        }
        let coloured = self.groups.len() > 1 || !self.groups[0].label.is_empty();
        for (i, group) in self.groups.iter().enumerate() {
            let c = color(i);
            let dots = chart.draw_series(
                group
                    .points
                    .iter()
                    .map(|&p| Circle::new(p, 6, c.mix(0.75).filled())),
            )?;
            if coloured {
                dots.label(group.label.clone())
                    .legend(move |(x, y)| Circle::new((x + 12, y), 6, c.filled()));
            }
        }
        if coloured {
            chart
                .configure_series_labels()
                .label_font(font(18.0))
                .background_style(WHITE.mix(0.9))
                .border_style(RGBColor(200, 200, 200))
                .position(SeriesLabelPosition::UpperLeft)
                .draw()?;
        }
        Ok(())
    }
}
