//! The x axis of a plot against one numeric setting, or against the
//! network's parameter count: logarithmic when the values span a wide range
//! (λ, learning rate, width, parameters), with λ = 0 drawn at its own tick
//! left of an axis break, since log 0 does not exist.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

use crate::config::search::Distribution;
use crate::config::{Key, Kind, PlotAxis};
use crate::report::interpolation::interpolation_threshold;
use crate::report::summary::Config;

/// A linear plotters coordinate with tick marks exactly where we say
/// (values swept, or category centres). Labels come from a formatter.
#[derive(Debug, Clone)]
pub struct Ticked {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ticked {
    /// The coordinate over `range` with ticks at `ticks`.
    pub fn new(range: Range<f64>, ticks: Vec<f64>) -> Ticked {
        Ticked { range, ticks }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        if span == 0.0 {
            return (limit.0 + limit.1) / 2;
        }
        let t = (v - self.range.start) / span;
        limit.0 + (t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// What a plot's x axis measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// A numeric setting's value.
    Setting(Key),
    /// The network's parameter count (weights and biases), which per-layer
    /// widths, width and depth all move.
    Parameters,
}

impl Quantity {
    /// Its value for a configuration, if it has one.
    pub fn value(self, config: &Config) -> Option<f64> {
        match self {
            Quantity::Setting(key) => config.params.number(key),
            Quantity::Parameters => config.parameters().map(|p| p as f64),
        }
    }

    /// The name in file names: `lambda`, `parameters`.
    pub fn name(self) -> &'static str {
        match self {
            Quantity::Setting(key) => key.name(),
            Quantity::Parameters => "parameters",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Quantity::Setting(key) => key.spec().label,
            Quantity::Parameters => "parameters (weights and biases)",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Quantity::Setting(key) => key.spec().short,
            Quantity::Parameters => "parameters",
        }
    }

    fn plot(self) -> PlotAxis {
        match self {
            Quantity::Setting(key) => key.spec().plot,
            Quantity::Parameters => PlotAxis::Log,
        }
    }

    fn whole(self) -> bool {
        match self {
            Quantity::Setting(key) => matches!(key.kind(), Kind::Int { .. }),
            Quantity::Parameters => true,
        }
    }
}

/// Where each value of a swept setting goes on the x axis, and its ticks.
#[derive(Debug, Clone)]
pub struct Axis {
    /// What is plotted along the axis.
    pub quantity: Quantity,
    log: bool,
    zero_pos: Option<f64>,
    /// Where the axis break between 0 and the positive values is drawn.
    pub break_pos: Option<f64>,
    /// Lowest and highest position shown.
    pub range: (f64, f64),
    ticks: Vec<(f64, String)>,
    /// On a parameter axis, the interpolation threshold P = n·K (n
    /// training images, K classes) when it lies among the networks
    /// swept: its position and label.
    pub threshold: Option<(f64, String)>,
}

impl Axis {
    /// The ticks: position and label.
    pub fn ticks(&self) -> &[(f64, String)] {
        &self.ticks
    }

    /// The axis for `key` over the values the configurations take, or `None`
    /// when it is not numeric or takes fewer than two values.
    pub fn new(quantity: Quantity, configs: &[Config]) -> Option<Axis> {
        Axis::build(quantity, configs, None)
    }

    /// The axis of a setting drawn from a distribution: logarithmic exactly
    /// when the distribution is.
    /// It spans the distribution's bounds.
    pub fn drawn(key: Key, configs: &[Config], drawn: Distribution) -> Option<Axis> {
        Axis::build(Quantity::Setting(key), configs, Some(drawn))
    }

    fn build(quantity: Quantity, configs: &[Config], drawn: Option<Distribution>) -> Option<Axis> {
        if quantity.plot() == PlotAxis::Categorical && drawn.is_none() {
            return None;
        }
        let log_override = drawn.map(|d| d.law.is_log());
        let mut values: Vec<f64> = configs.iter().filter_map(|c| quantity.value(c)).collect();
        if values.len() >= 2
            && let Some(d) = drawn
        {
            values.extend([d.low, d.high]);
        }
        values.sort_by(f64::total_cmp);
        values.dedup();
        if values.len() < 2 {
            return None;
        }
        let positive: Vec<f64> = values.iter().copied().filter(|&v| v > 0.0).collect();
        let log = log_override.unwrap_or_else(|| {
            quantity.plot() == PlotAxis::Log
                && positive.len() >= 2
                && positive[positive.len() - 1] / positive[0] >= 4.0
        }) && positive.len() >= 2;
        let mut axis = Axis {
            quantity,
            log,
            zero_pos: None,
            break_pos: None,
            range: (0.0, 1.0),
            ticks: Vec::new(),
            threshold: None,
        };
        if log {
            let (lo, hi) = (positive[0].log10(), positive[positive.len() - 1].log10());
            let step = (0.15 * (hi - lo)).max(0.4);
            if values[0] == 0.0 {
                axis.zero_pos = Some(lo - step);
                axis.break_pos = Some(lo - step / 2.0);
            }
            let first = axis.zero_pos.unwrap_or(lo);
            let pad = 0.06 * (hi - first);
            axis.range = (first - pad, hi + pad);
        } else {
            let (lo, hi) = (values[0], values[values.len() - 1]);
            let pad = 0.06 * (hi - lo);
            axis.range = (lo - pad, hi + pad);
        }
        let drawn = log_override.is_some();
        axis.ticks = if values.len() <= 10 && !drawn {
            values
                .iter()
                .map(|&v| (axis.pos(v), text(quantity, v)))
                .collect()
        } else if log {
            let (lo, hi) = (
                positive[0].log10().ceil(),
                positive[positive.len() - 1].log10(),
            );
            // Decades, and 2 and 5 times them when fewer than two decades show.
            let narrow = drawn && hi - positive[0].log10() < 2.0;
            let steps: &[f64] = if narrow { &[1.0, 2.0, 5.0] } else { &[1.0] };
            let (first, last) = (positive[0], positive[positive.len() - 1]);
            let decades = (lo as i32 - 1..=hi.floor() as i32)
                .flat_map(|d| steps.iter().map(move |m| m * 10f64.powi(d)))
                .filter(|&v| v >= first * 0.999 && v <= last * 1.001)
                .map(|v| (v.log10(), text(quantity, v)));
            axis.zero_pos
                .map(|z| (z, "0".to_string()))
                .into_iter()
                .chain(decades)
                .collect()
        } else {
            let (lo, hi) = (values[0], values[values.len() - 1]);
            (0..=5)
                .map(|i| lo + (hi - lo) * i as f64 / 5.0)
                .map(|v| (v, text(quantity, v)))
                .collect()
        };
        if quantity == Quantity::Parameters
            && let Some(n) = interpolation_threshold(configs)
            && (values[0]..=values[values.len() - 1]).contains(&n)
        {
            axis.threshold = Some((
                axis.pos(n),
                format!("n·K = {} (interpolation threshold)", thousands(n as u64)),
            ));
        }
        Some(axis)
    }

    /// The x position of value `v`.
    pub fn pos(&self, v: f64) -> f64 {
        match (self.log, self.zero_pos) {
            (true, Some(zero)) if v <= 0.0 => zero,
            (true, _) => v.log10(),
            (false, _) => v,
        }
    }

    /// The x position of a configuration, if it has a value for the key.
    pub fn pos_of(&self, config: &Config) -> Option<f64> {
        self.quantity.value(config).map(|v| self.pos(v))
    }

    /// The plotters coordinate of this axis.
    pub fn coord(&self) -> Ticked {
        Ticked::new(
            self.range.0..self.range.1,
            self.ticks.iter().map(|t| t.0).collect(),
        )
    }

    /// The label of the tick at `pos` (empty between ticks).
    pub fn tick_label(&self, pos: f64) -> String {
        self.ticks
            .iter()
            .find(|t| (t.0 - pos).abs() < 1e-9)
            .map(|t| t.1.clone())
            .unwrap_or_default()
    }

    /// Width of the shown range.
    pub fn span(&self) -> f64 {
        self.range.1 - self.range.0
    }

    /// The axis title, with the scale: "weight decay λ (log scale)".
    pub fn title(&self) -> String {
        let name = self.quantity.label();
        if self.log {
            format!("{name} (log scale)")
        } else {
            name.to_string()
        }
    }

    /// A short symbol for titles: `λ`, `learning rate`, `width`.
    pub fn symbol(&self) -> &'static str {
        self.quantity.short()
    }
}

/// `40000` as `40 000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// A value as the experiment file would write it.
fn text(quantity: Quantity, v: f64) -> String {
    if quantity.whole() {
        format!("{}", v.round() as i64)
    } else {
        crate::config::Value::Float(v).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunParams;
    use crate::report::summary::Config;

    fn configs(key: Key, values: &[f64]) -> Vec<Config<'static>> {
        values
            .iter()
            .map(|&v| {
                let mut params = RunParams::default();
                match key {
                    Key::Lambda => params.lambda = v,
                    Key::HiddenSize => params.hidden_size = v as usize,
                    Key::Epochs => params.epochs = v as usize,
                    _ => unreachable!(),
                }
                Config {
                    params,
                    label: String::new(),
                    planned: 1,
                    finished: Vec::new(),
                    diverged: Vec::new(),
                    failed: Vec::new(),
                    missing: Vec::new(),
                }
            })
            .collect()
    }

    #[test]
    fn lambda_zero_gets_its_own_tick_left_of_the_smallest_value() {
        let axis = Axis::new(
            Quantity::Setting(Key::Lambda),
            &configs(Key::Lambda, &[0.0, 0.001, 0.01, 0.1]),
        )
        .unwrap();
        let zero = axis.pos(0.0);
        assert!(zero < axis.pos(0.001));
        assert!(axis.break_pos.unwrap() > zero && axis.break_pos.unwrap() < axis.pos(0.001));
        assert_eq!(axis.tick_label(zero), "0");
        assert_eq!(axis.tick_label(axis.pos(0.01)), "0.01");
        assert!((axis.pos(0.01) + 2.0).abs() < 1e-12);
        assert!(axis.range.0 < zero && axis.range.1 > axis.pos(0.1));
        assert_eq!(axis.title(), "weight decay λ (log scale)");
    }

    #[test]
    fn narrow_ranges_and_counts_stay_linear() {
        let axis = Axis::new(
            Quantity::Setting(Key::Epochs),
            &configs(Key::Epochs, &[5.0, 10.0, 20.0]),
        )
        .unwrap();
        assert_eq!(axis.pos(10.0), 10.0);
        assert_eq!(axis.title(), "epochs");
        let axis = Axis::new(
            Quantity::Setting(Key::HiddenSize),
            &configs(Key::HiddenSize, &[100.0, 200.0]),
        )
        .unwrap();
        assert_eq!(axis.pos(200.0), 200.0);
    }

    #[test]
    fn thousands_are_grouped_by_threes() {
        assert_eq!(thousands(40000), "40 000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1234567), "1 234 567");
    }

    #[test]
    fn a_setting_with_one_value_has_no_axis() {
        assert!(
            Axis::new(
                Quantity::Setting(Key::Lambda),
                &configs(Key::Lambda, &[0.01, 0.01])
            )
            .is_none()
        );
    }
}
