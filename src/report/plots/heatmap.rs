//! Heatmaps of a mean metric over two swept settings (λ × learning rate,
//! λ × width, …), with the value written in every cell.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::Ticked;
use super::{Chart, DrawResult, GREY, font};
use crate::config::Key;
use crate::report::summary::Config;

/// What a heatmap shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Mean final train − test accuracy, in percentage points.
    Gap,
    /// Mean final test accuracy, in percent.
    TestAcc,
}

impl Metric {
    /// Part of the file name.
    pub fn stem(self) -> &'static str {
        match self {
            Metric::Gap => "gap",
            Metric::TestAcc => "test_acc",
        }
    }

    /// Words for titles.
    pub fn title(self) -> &'static str {
        match self {
            Metric::Gap => "train − test accuracy gap (percentage points)",
            Metric::TestAcc => "test accuracy (%)",
        }
    }

    fn value(self, config: &Config) -> Option<f64> {
        let name = match self {
            Metric::Gap => "gap_acc",
            Metric::TestAcc => "test_acc",
        };
        config.metric(name).mean.map(|m| 100.0 * m)
    }
}

/// The settings along x and y when exactly two besides the seed vary
/// (λ along x when it is one of them).
pub fn axes(keys: &[Key]) -> Option<(Key, Key)> {
    match keys {
        [a, b] if *a == Key::Lambda => Some((*a, *b)),
        [a, b] => Some((*b, *a)),
        _ => None,
    }
}

/// The distinct values of `key`, in numeric order where there is one.
fn levels(key: Key, configs: &[Config]) -> Vec<String> {
    let mut values: Vec<(f64, String)> = configs
        .iter()
        .map(|c| (c.params.number(key).unwrap_or(f64::NAN), c.params.text(key)))
        .collect();
    values.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    values.dedup_by(|a, b| a.1 == b.1);
    values.into_iter().map(|v| v.1).collect()
}

/// A heatmap of one metric.
pub struct HeatmapChart {
    title: String,
    x_key: Key,
    y_key: Key,
    x_levels: Vec<String>,
    y_levels: Vec<String>,
    cells: Vec<(usize, usize, Option<f64>)>,
}

impl HeatmapChart {
    /// The heatmap of `metric` over `x` × `y` for sweep `sweep`.
    pub fn new(sweep: &str, x: Key, y: Key, metric: Metric, configs: &[Config]) -> Self {
        let x_levels = levels(x, configs);
        let y_levels = levels(y, configs);
        let cells = configs
            .iter()
            .filter_map(|c| {
                let i = x_levels.iter().position(|v| *v == c.params.text(x))?;
                let j = y_levels.iter().position(|v| *v == c.params.text(y))?;
                Some((i, j, metric.value(c)))
            })
            .collect();
        HeatmapChart {
            title: format!("{sweep}: mean {}", metric.title()),
            x_key: x,
            y_key: y,
            x_levels,
            y_levels,
            cells,
        }
    }
}

impl Chart for HeatmapChart {
    fn size(&self) -> (u32, u32) {
        let w = (220 + self.x_levels.len() as u32 * 140).max(1000);
        let h = (220 + self.y_levels.len() as u32 * 90).max(600);
        (w, h)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (nx, ny) = (self.x_levels.len(), self.y_levels.len());
        let centres = |n: usize| (0..n).map(|i| i as f64 + 0.5).collect::<Vec<_>>();
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, font(28.0))
            .margin(24)
            .x_label_area_size(80)
            .y_label_area_size(120)
            .build_cartesian_2d(
                Ticked::new(0.0..nx as f64, centres(nx)),
                Ticked::new(0.0..ny as f64, centres(ny)),
            )?;
        let level =
            |levels: &[String], at: f64| levels.get(at as usize).cloned().unwrap_or_default();
        chart
            .configure_mesh()
            .disable_mesh()
            .x_label_formatter(&|x| level(&self.x_levels, *x))
            .y_label_formatter(&|y| level(&self.y_levels, *y))
            .x_desc(self.x_key.name())
            .y_desc(self.y_key.name())
            .label_style(font(20.0))
            .axis_desc_style(font(24.0))
            .draw()?;
        let known: Vec<f64> = self.cells.iter().filter_map(|c| c.2).collect();
        let lo = known.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = known.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let centre = Pos::new(HPos::Center, VPos::Center);
        for &(i, j, value) in &self.cells {
            let (x, y) = (i as f64, j as f64);
            let (fill, ink, text) = match value {
                Some(v) => {
                    let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                    let fill: RGBColor = ViridisRGB.get_color(t as f32);
                    let ink = if t < 0.6 { WHITE } else { BLACK };
                    (fill, ink, format!("{v:.2}"))
                }
                None => (RGBColor(230, 230, 230), GREY, "no data".to_string()),
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x, y), (x + 1.0, y + 1.0)],
                fill.filled(),
            )))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x, y), (x + 1.0, y + 1.0)],
                WHITE.stroke_width(2),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                text,
                (x + 0.5, y + 0.5),
                font(22.0).color(&ink).pos(centre),
            )))?;
        }
        Ok(())
    }
}
