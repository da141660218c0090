//! The norm of every parameter against the epoch, one line per
//! configuration (mean over seeds): in a grokking run the norm falls while
//! test accuracy rises, long after training accuracy reached 100 %.

use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::curves::values_by_epoch;
use super::{Chart, DrawResult, color, font};
use crate::report::summary::Config;

/// Most configurations drawn as lines (more would be unreadable).
const MAX_LINES: usize = 12;

/// One configuration's line: its label and (epoch, mean norm) points.
struct Line {
    label: String,
    points: Vec<(f64, f64)>,
}

/// The weight-norm chart.
pub struct NormChart {
    title: String,
    lines: Vec<Line>,
    epochs: f64,
    top: f64,
    log_epochs: bool,
}

impl NormChart {
    /// The chart for sweep `sweep`, or `None` when no run recorded its
    /// weight norm or there are too many configurations.
    pub fn new(sweep: &str, configs: &[Config], log_epochs: bool) -> Option<NormChart> {
        if configs.is_empty() || configs.len() > MAX_LINES {
            return None;
        }
        let lines: Vec<Line> = configs
            .iter()
            .map(|c| Line {
                label: c.label.replace('=', " = "),
                points: mean_norms(c),
            })
            .filter(|l| !l.points.is_empty())
            .collect();
        let points = || lines.iter().flat_map(|l| &l.points);
        let epochs = points().map(|p| p.0).fold(1.0, f64::max);
        let top = points().map(|p| p.1).fold(0.0, f64::max);
        if lines.is_empty() || top <= 0.0 {
            return None;
        }
        Some(NormChart {
            title: format!("{sweep}: norm of all parameters (mean over seeds)"),
            lines,
            epochs,
            top: top * 1.05,
            log_epochs,
        })
    }
}

/// Mean weight norm per evaluated epoch over the finished seeds.
fn mean_norms(config: &Config) -> Vec<(f64, f64)> {
    values_by_epoch(config, |e| e.weight_norm)
        .into_iter()
        .map(|(epoch, norms)| (epoch as f64, norms.iter().sum::<f64>() / norms.len() as f64))
        .collect()
}

impl Chart for NormChart {
    fn size(&self) -> (u32, u32) {
        (1200, 700)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let mut builder = ChartBuilder::on(area);
        builder
            .caption(&self.title, font(30.0))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80);
        let x_max = self.epochs.max(2.0);
        let y = 0.0..self.top;
        if self.log_epochs {
            let chart = builder.build_cartesian_2d((1.0..x_max).log_scale(), y)?;
            self.draw_lines(chart)
        } else {
            let chart = builder.build_cartesian_2d(1.0..x_max, y)?;
            self.draw_lines(chart)
        }
    }
}

impl NormChart {
    /// The mesh, a line per configuration and the legend.
    fn draw_lines<'a, DB: DrawingBackend + 'a, X>(
        &self,
        mut chart: ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    ) -> DrawResult<DB>
    where
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(6)
            .x_desc("epoch")
            .y_desc("‖θ‖₂, every weight and bias")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style(font(18.0))
            .axis_desc_style(font(20.0))
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(RGBColor(245, 245, 245))
            .draw()?;
        for (i, line) in self.lines.iter().enumerate() {
            let style = color(i).stroke_width(3);
            chart
                .draw_series(LineSeries::new(line.points.iter().copied(), style))?
                .label(line.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], style));
        }
        chart
            .configure_series_labels()
            .label_font(font(18.0))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(200, 200, 200))
            .legend_area_size(45)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        Ok(())
    }
}
