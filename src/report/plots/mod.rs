//! The report's plots, each drawn once as SVG and once as PNG by the same
//! code, with text set in the DejaVu Sans font embedded in the binary (no
//! system fonts, no fontconfig).
//!
//! Which plots exist depends on what the sweep varied: gap and accuracy
//! against each varied numeric setting, learning curves per configuration,
//! and heatmaps when exactly two settings (besides the seed) vary.

mod axis;
mod curves;
mod heatmap;
mod lines;
mod norms;
mod parallel;
mod predictors;
mod scatter;
mod tradeoff;

use std::sync::OnceLock;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::config::{Key, SearchRecord};
use crate::report::summary::{Config, Metric, config_keys};
use axis::Quantity;

pub use axis::Axis;

/// One finished plot: file stem, what it shows, and its bytes.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File name without extension, e.g. `gap_vs_lambda`.
    pub stem: String,
    /// One sentence saying what the plot shows, for the HTML report.
    pub caption: String,
    /// The SVG document.
    pub svg: String,
    /// The PNG image.
    pub png: Vec<u8>,
}

/// A plot that can draw itself on any plotters back end.
trait Chart {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws the chart onto `area` (already filled white).
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// What drawing on back end `DB` can fail with.
type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The font family name written into SVG files. Registered under this exact
/// name, so the SVG asks for DejaVu Sans and falls back to any sans-serif.
const FAMILY: &str = "DejaVu Sans, sans-serif";

/// Text in the embedded font at `size` pixels.
fn font(size: f64) -> FontDesc<'static> {
    register_fonts();
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal)
}

/// Bold text in the embedded font at `size` pixels.
fn bold(size: f64) -> FontDesc<'static> {
    register_fonts();
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Bold)
}

fn register_fonts() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        // The files are compiled in; a failure would be a broken build.
        plotters::style::register_font(
            FAMILY,
            FontStyle::Normal,
            include_bytes!("../../../assets/DejaVuSans.ttf"),
        )
        .unwrap_or_else(|_| panic!("assets/DejaVuSans.ttf is not a valid font"));
        plotters::style::register_font(
            FAMILY,
            FontStyle::Bold,
            include_bytes!("../../../assets/DejaVuSans-Bold.ttf"),
        )
        .unwrap_or_else(|_| panic!("assets/DejaVuSans-Bold.ttf is not a valid font"));
    });
}

/// Series colours (Okabe–Ito, distinguishable with colour blindness),
/// darkest first.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    RGBColor(0, 0, 0),
];

/// The colour of series `i`.
fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Colour of training-accuracy curves.
const TRAIN_COLOR: RGBColor = RGBColor(213, 94, 0);
/// Colour of test-accuracy curves.
const TEST_COLOR: RGBColor = RGBColor(0, 114, 178);
/// Colour of validation-accuracy curves (Okabe–Ito bluish green, apart
/// from both for colour-blind readers).
const VALIDATION_COLOR: RGBColor = RGBColor(0, 158, 115);

/// A grey for helper lines and missing cells.
const GREY: RGBColor = RGBColor(150, 150, 150);

/// Draws every plot the sweep's grid (or sampled search) calls for.
pub fn figures(
    sweep: &str,
    swept: &[Key],
    configs: &[Config],
    search: Option<&SearchRecord>,
) -> Result<Vec<Figure>> {
    let keys = config_keys(swept);
    match search {
        Some(search) => sampled_figures(sweep, &keys, configs, search),
        None => grid_figures(sweep, &keys, configs),
    }
}

/// The gap against accuracy, one point per configuration, with the
/// Pareto front and the report's gap answer `choice` ringed; `None` with
/// fewer than two configurations.
pub fn tradeoff_figure(
    sweep: &str,
    configs: &[Config],
    choice: &crate::report::tradeoff::GapChoice,
) -> Result<Option<Figure>> {
    let Some(chart) = tradeoff::TradeoffChart::new(sweep, configs, choice) else {
        return Ok(None);
    };
    let caption = "The train − test gap against accuracy, one point per configuration: the \
                   line joins the Pareto front (nothing else is both more accurate and smaller \
                   in gap), the shaded band holds the accuracies within one standard error of \
                   the best, and the ring marks the smallest gap among them (the card above).";
    render("gap_vs_accuracy".into(), caption.into(), &chart).map(Some)
}

/// Parallel coordinates of every configuration across the swept settings
/// (but the seeds) and the gap, the report's answers `choice` outlined;
/// `None` with fewer than two such settings or three configurations.
pub fn parallel_figure(
    sweep: &str,
    swept: &[Key],
    configs: &[Config],
    search: Option<&SearchRecord>,
    choice: Option<&crate::report::tradeoff::GapChoice>,
) -> Result<Option<Figure>> {
    let keys = crate::report::predictors::hyperparameters(swept);
    let Some(chart) = parallel::ParallelChart::new(sweep, &keys, configs, search, choice) else {
        return Ok(None);
    };
    let caption = format!(
        "Every configuration as a line across the swept settings' axes and its gap, \
         coloured by the gap (mean over seeds; {} configurations): lines that stay bright \
         show where the gap is small. Outlined: the best accuracy and the smallest gap at the \
         best accuracy.",
        configs.len()
    );
    render("parallel_coordinates".into(), caption, &chart).map(Some)
}

/// Scatter plots of the gap against the measures that rank it best:
/// the first [`PREDICTOR_PLOTS`] of `rankings` against the accuracy gap,
/// coloured by the first swept setting other than a seed.
pub fn predictor_figures(
    sweep: &str,
    rankings: &[crate::report::predictors::Ranking],
    configs: &[Config],
    swept: &[Key],
) -> Result<Vec<Figure>> {
    let colour_by = crate::report::predictors::hyperparameters(swept)
        .first()
        .copied();
    rankings
        .iter()
        .filter(|r| r.gap == Metric::GapAcc && (r.psi().is_some() || r.overall.tau_b().is_some()))
        .filter_map(|r| {
            Some((
                r,
                predictors::PredictorChart::new(sweep, r, configs, colour_by)?,
            ))
        })
        .take(PREDICTOR_PLOTS)
        .map(|(r, chart)| {
            let caption = format!(
                "The train − test accuracy gap of every finished run against {} ({}), {}.",
                r.measure.name,
                r.measure.words,
                colour_by.map_or("one point per run".to_string(), |k| format!(
                    "one point per run, coloured by {}",
                    k.name()
                )),
            );
            render(
                format!("measure_{}_vs_gap", r.measure.name),
                caption,
                &chart,
            )
        })
        .collect()
}

/// How many of the best-ranked measures are drawn against the gap.
pub const PREDICTOR_PLOTS: usize = 3;

/// Learning curves, one panel per configuration (when there are not too
/// many); for runs evaluated at log-spaced epochs, on a log epoch axis and
/// with the norm of the parameters beside them.
fn learning_curves(sweep: &str, keys: &[Key], configs: &[Config]) -> Result<Vec<Figure>> {
    let Some(curves) = curves::CurvesChart::new(sweep, keys, configs) else {
        return Ok(Vec::new());
    };
    let log_epochs = curves::log_epoch_axis(configs);
    let axis = if log_epochs { " (log epoch axis)" } else { "" };
    let mut figures = vec![render(
        "learning_curves".into(),
        format!(
            "Training, validation (when held out) and test accuracy per epoch{axis}, one panel \
             per configuration: mean over seeds with a 95 % confidence band (with fewer than \
             three seeds, the band spans the seeds themselves); a dashed line marks the epoch \
             at which early stopping ended a seed."
        ),
        &curves,
    )?];
    if log_epochs && let Some(norms) = norms::NormChart::new(sweep, configs, log_epochs) {
        figures.push(render(
            "weight_norm".into(),
            "The L2 norm of every weight and bias per evaluated epoch (log epoch axis), one \
             line per configuration, mean over seeds."
                .into(),
            &norms,
        )?);
    }
    Ok(figures)
}

/// The scatter plots of a random or Sobol search: gap and test accuracy
/// against each numeric setting sampled, coloured by the next one.
fn sampled_figures(
    sweep: &str,
    keys: &[Key],
    configs: &[Config],
    search: &SearchRecord,
) -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    let colourings: Vec<scatter::Colouring> = keys
        .iter()
        .map(|&key| scatter::Colouring {
            key,
            drawn: search.distribution(key),
        })
        .collect();
    for (i, along) in colourings.iter().enumerate() {
        let axis = match search.distribution(along.key) {
            Some(d) => Axis::drawn(along.key, configs, d),
            None => Axis::new(Quantity::Setting(along.key), configs),
        };
        let Some(axis) = axis else {
            continue;
        };
        // Colour by the next sampled setting (wrapping round), if any.
        let colouring = (1..colourings.len())
            .map(|k| &colourings[(i + k) % colourings.len()])
            .next();
        let by = colouring.map_or(String::new(), |c| {
            format!(", coloured by {}", c.key.spec().label)
        });
        for metric in Shown::BOTH {
            let chart = scatter::ScatterChart::new(sweep, &axis, metric, colouring, configs);
            figures.push(render(
                format!("{}_vs_{}", metric.stem(), along.key.name()),
                format!(
                    "{} against {} in a {} search: one large dot per sampled configuration \
                     (mean over seeds), faint dots for single seeds{by}; the black line joins \
                     the means of the configurations in equal-width bins of the axis, with \
                     95 % intervals across configurations.",
                    metric.heading(),
                    axis.title(),
                    search.method
                ),
                &chart,
            )?);
        }
    }
    figures.extend(learning_curves(sweep, keys, configs)?);
    Ok(figures)
}

/// The plots of a grid: lines against each numeric setting, and heatmaps.
fn grid_figures(sweep: &str, keys: &[Key], configs: &[Config]) -> Result<Vec<Figure>> {
    let keys = keys.to_vec();
    let mut figures = Vec::new();
    // Every numeric swept setting, then the parameter count when the
    // network's size varies (lines for the other settings).
    let architecture = [Key::Hidden, Key::HiddenLayers, Key::HiddenSize];
    let mut axes: Vec<(Quantity, Vec<Key>)> = keys
        .iter()
        .map(|&key| {
            let others = keys.iter().copied().filter(|&k| k != key).collect();
            (Quantity::Setting(key), others)
        })
        .collect();
    if keys.iter().any(|k| architecture.contains(k)) {
        let others = keys
            .iter()
            .copied()
            .filter(|k| !architecture.contains(k))
            .collect();
        axes.push((Quantity::Parameters, others));
    }
    for (quantity, others) in axes {
        let Some(axis) = Axis::new(quantity, configs) else {
            continue;
        };
        let threshold = match &axis.threshold {
            Some(_) => {
                " The dashed black line marks the interpolation threshold n·K (training \
                 images × classes)."
            }
            None => "",
        };
        let gap = lines::GapChart::new(sweep, &axis, &others, configs);
        figures.push(render(
            format!("gap_vs_{}", quantity.name()),
            format!(
                "Train − test accuracy gap against {}: mean over seeds with 95 % confidence \
                 intervals (none with fewer than three seeds); faint dots are single \
                 seeds.{threshold}",
                axis.title()
            ),
            &gap,
        )?);
        let accuracy = lines::AccuracyChart::new(sweep, &axis, &others, configs);
        figures.push(render(
            format!("accuracy_vs_{}", quantity.name()),
            format!(
                "Final training and test accuracy against {}: the gap is the distance between \
                 the curves; the ring marks the best configuration (on mean validation \
                 accuracy when the runs hold out validation images, else on mean test accuracy).\
                 {threshold}",
                axis.title()
            ),
            &accuracy,
        )?);
        let loss = lines::LossChart::new(sweep, &axis, &others, configs);
        figures.push(render(
            format!("loss_vs_{}", quantity.name()),
            format!(
                "Final training and test loss (the training loss is measured on the labels \
                 trained on) against {}: mean over seeds with 95 % confidence \
                 intervals (with fewer than three seeds, faint dots for the seeds \
                 instead).{threshold}",
                axis.title(),
            ),
            &loss,
        )?);
    }
    figures.extend(learning_curves(sweep, &keys, configs)?);
    if let Some(axes @ (x, y, facet)) = heatmap::axes(&keys, configs) {
        for metric in Shown::BOTH {
            let chart = heatmap::HeatmapChart::new(sweep, axes, metric, configs);
            let (by, split) = match facet {
                Some(f) => (
                    format!("_by_{}", f.name()),
                    format!(", one panel per value of {} on one colour scale", f.name()),
                ),
                None => (String::new(), String::new()),
            };
            figures.push(render(
                format!("heatmap_{}_{}_{}{by}", metric.stem(), x.name(), y.name()),
                format!(
                    "Mean {} over seeds for every {} × {} pair{split}.",
                    metric.unit_words(),
                    x.name(),
                    y.name()
                ),
                &chart,
            )?);
        }
    }
    Ok(figures)
}

/// What a scatter plot or heatmap shows of each configuration, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Train − test accuracy, in percentage points.
    Gap,
    /// Test accuracy, in percent.
    TestAcc,
}

impl Shown {
    /// Both, in the order the report shows them.
    pub const BOTH: [Shown; 2] = [Shown::Gap, Shown::TestAcc];

    /// The summarised metric it shows.
    pub fn metric(self) -> Metric {
        match self {
            Shown::Gap => Metric::GapAcc,
            Shown::TestAcc => Metric::TestAcc,
        }
    }

    /// File-name stem: `gap`, `test_acc`.
    pub fn stem(self) -> &'static str {
        match self {
            Shown::Gap => "gap",
            Shown::TestAcc => "test_acc",
        }
    }

    /// Words for a title.
    fn words(self) -> &'static str {
        match self {
            Shown::Gap => "train − test accuracy gap",
            Shown::TestAcc => "test accuracy",
        }
    }

    /// Words for a title, with the unit.
    fn unit_words(self) -> &'static str {
        match self {
            Shown::Gap => "train − test accuracy gap (percentage points)",
            Shown::TestAcc => "test accuracy (%)",
        }
    }

    /// Words for a caption's start.
    fn heading(self) -> &'static str {
        match self {
            Shown::Gap => "Train − test accuracy gap",
            Shown::TestAcc => "Test accuracy",
        }
    }

    /// The y axis's description.
    fn axis_label(self) -> &'static str {
        match self {
            Shown::Gap => "gap = train − test accuracy (percentage points)",
            Shown::TestAcc => "test accuracy (%)",
        }
    }
}

/// Draws `chart` as SVG and as PNG.
fn render(stem: String, caption: String, chart: &impl Chart) -> Result<Figure> {
    let (w, h) = chart.size();
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        area.fill(&WHITE)
            .and_then(|_| chart.draw(&area))
            .and_then(|_| area.present())
            .map_err(|e| anyhow!("cannot draw {stem}.svg: {e}"))?;
    }
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        area.fill(&WHITE)
            .and_then(|_| chart.draw(&area))
            .and_then(|_| area.present())
            .map_err(|e| anyhow!("cannot draw {stem}.png: {e}"))?;
    }
    let png = encode_png(&pixels, w, h)?;
    Ok(Figure {
        stem,
        caption,
        svg,
        png,
    })
}

/// Encodes an RGB buffer as PNG.
fn encode_png(pixels: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Plots are mostly flat colour: the best compression halves the files
    // for a few milliseconds more.
    encoder.set_compression(png::Compression::Best);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(out)
}

/// `91.23 %` from a fraction.
fn percent(x: f64) -> String {
    format!("{:.2} %", 100.0 * x)
}
