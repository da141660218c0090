//! Heatmaps of a mean metric over two swept settings (λ × learning rate,
//! λ × width, …), with the value written in every cell.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::Ticked;
use super::{Chart, DrawResult, GREY, Shown, font};
use crate::config::{Key, PlotAxis};
use crate::report::summary::Config;

/// Most values a facet setting may take (one heatmap each).
const MAX_FACETS: usize = 4;

/// The settings along x and y, and the one heatmaps are split by: when
/// exactly two besides the seed vary, those two (λ along x when it is one
/// of them); when three vary and one of them is a category with at most
/// [`MAX_FACETS`] values (`weight_decay`, `optimizer`), one heatmap of the
/// other two per value of it, side by side on one colour scale.
pub fn axes(keys: &[Key], configs: &[Config]) -> Option<(Key, Key, Option<Key>)> {
    let pair = |a: Key, b: Key| if b == Key::Lambda { (b, a) } else { (a, b) };
    match keys {
        [a, b] => {
            let (x, y) = pair(*a, *b);
            Some((x, y, None))
        }
        [_, _, _] => {
            let facet = keys.iter().copied().find(|&k| {
                k.spec().plot == PlotAxis::Categorical
                    && (2..=MAX_FACETS).contains(&levels(k, configs).len())
            })?;
            let rest: Vec<Key> = keys.iter().copied().filter(|&k| k != facet).collect();
            let (x, y) = pair(rest[0], rest[1]);
            Some((x, y, Some(facet)))
        }
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

/// Pixels left of the plot for the y labels: enough for the longest one
/// (`0.00316227766`) at 20 px.
fn label_room(levels: &[String]) -> u32 {
    let longest = levels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    (11 * longest + 50).max(120)
}

/// One heatmap of one metric: its title and cells.
struct Panel {
    title: String,
    cells: Vec<(usize, usize, Option<f64>)>,
}

/// Heatmaps of one metric over `x` × `y`, one panel per value of a facet
/// setting (or a single panel), on one colour scale.
pub struct HeatmapChart {
    title: String,
    x_key: Key,
    y_key: Key,
    x_levels: Vec<String>,
    y_levels: Vec<String>,
    panels: Vec<Panel>,
}

impl HeatmapChart {
    /// The heatmaps of `metric` over `x` × `y` for sweep `sweep`, split by
    /// the values of `facet` if given.
    pub fn new(
        sweep: &str,
        (x, y, facet): (Key, Key, Option<Key>),
        metric: Shown,
        configs: &[Config],
    ) -> Self {
        let x_levels = levels(x, configs);
        let y_levels = levels(y, configs);
        let facets = facet.map_or(vec![String::new()], |f| levels(f, configs));
        let panels = facets
            .iter()
            .map(|value| Panel {
                title: facet.map_or(String::new(), |f| format!("{} = {value}", f.name())),
                cells: configs
                    .iter()
                    .filter(|c| facet.is_none_or(|f| c.params.text(f) == *value))
                    .filter_map(|c| {
                        let i = x_levels.iter().position(|v| *v == c.params.text(x))?;
                        let j = y_levels.iter().position(|v| *v == c.params.text(y))?;
                        Some((i, j, c.metric(metric.metric()).mean.map(|m| 100.0 * m)))
                    })
                    .collect(),
            })
            .collect();
        HeatmapChart {
            title: format!("{sweep}: mean {}", metric.unit_words()),
            x_key: x,
            y_key: y,
            x_levels,
            y_levels,
            panels,
        }
    }
}

impl Chart for HeatmapChart {
    fn size(&self) -> (u32, u32) {
        let panels = self.panels.len() as u32;
        let w = ((220 + self.x_levels.len() as u32 * 140).max(1000) * panels).min(3200);
        let h = (220 + self.y_levels.len() as u32 * 90).max(600);
        (w, h)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let known: Vec<f64> = self
            .panels
            .iter()
            .flat_map(|p| &p.cells)
            .filter_map(|c| c.2)
            .collect();
        let lo = known.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = known.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if self.panels.len() == 1 {
            return self.draw_panel(area, &self.title, &self.panels[0], (lo, hi));
        }
        let body = area.margin(16, 0, 0, 0).titled(&self.title, font(30.0))?;
        let parts = body.split_evenly((1, self.panels.len()));
        for (part, panel) in parts.iter().zip(&self.panels) {
            self.draw_panel(part, &panel.title, panel, (lo, hi))?;
        }
        Ok(())
    }
}

impl HeatmapChart {
    /// Draws one panel, its colours scaled to `(lo, hi)`.
    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        panel: &Panel,
        (lo, hi): (f64, f64),
    ) -> DrawResult<DB> {
        let (nx, ny) = (self.x_levels.len(), self.y_levels.len());
        let centres = |n: usize| (0..n).map(|i| i as f64 + 0.5).collect::<Vec<_>>();
        let mut chart = ChartBuilder::on(area)
            .caption(title, font(28.0))
            .margin(24)
            .x_label_area_size(80)
            .y_label_area_size(label_room(&self.y_levels))
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
        let centre = Pos::new(HPos::Center, VPos::Center);
        for &(i, j, value) in &panel.cells {
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
