//! Accuracy against compression ratio, one series per bit width (the quantiser's sweep).

use std::path::Path;

use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{invalid, palette, text, Canvas, DrawExt, PlotError, FONT};

const FIGURE: &str = "accuracy_vs_compression";
const WIDTH: u32 = 1000;
const HEIGHT: u32 = 620;

/// One compressed model of the sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompressionPoint {
    /// Weight bit width; points with the same width form one series.
    pub bits: u32,
    /// Fraction of weights pruned to zero, in `[0, 1]`; printed next to the point.
    pub sparsity: f64,
    /// Compression ratio against the float model (e.g. 4.0 for 8-bit dense from f32), `> 0`.
    pub ratio: f64,
    /// Test accuracy, a fraction in `[0, 1]`.
    pub accuracy: f64,
}

/// Accuracy (y) against compression ratio (x, log scale), one line per bit width through its
/// points sorted by ratio, each point labelled with its sparsity, and a dashed horizontal line
/// at the float model's accuracy.
///
/// Image size: 1000 x 620 pixels.
pub fn accuracy_vs_compression(
    path: &Path,
    title: &str,
    float_accuracy: f64,
    points: &[CompressionPoint],
) -> Result<(), PlotError> {
    if points.is_empty() {
        return Err(invalid(FIGURE, "no points"));
    }
    if !(0.0..=1.0).contains(&float_accuracy) {
        return Err(invalid(
            FIGURE,
            format!("float accuracy {float_accuracy} not in [0, 1]"),
        ));
    }
    for (i, p) in points.iter().enumerate() {
        let valid = p.ratio.is_finite()
            && p.ratio > 0.0
            && (0.0..=1.0).contains(&p.accuracy)
            && (0.0..=1.0).contains(&p.sparsity);
        if !valid {
            return Err(invalid(
                FIGURE,
                format!(
                    "point {i}: ratio {} (want > 0), accuracy {} and sparsity {} (want [0, 1])",
                    p.ratio, p.accuracy, p.sparsity
                ),
            ));
        }
    }
    let mut widths: Vec<u32> = points.iter().map(|p| p.bits).collect();
    widths.sort_unstable_by(|a, b| b.cmp(a));
    widths.dedup();

    let r_min = points.iter().map(|p| p.ratio).fold(f64::INFINITY, f64::min);
    let r_max = points.iter().map(|p| p.ratio).fold(0.0, f64::max);
    let (x_lo, x_hi) = (r_min / 1.3, r_max * 1.5);
    let a_min = points
        .iter()
        .map(|p| p.accuracy)
        .fold(float_accuracy, f64::min);
    let a_max = points
        .iter()
        .map(|p| p.accuracy)
        .fold(float_accuracy, f64::max);
    let y_lo = ((a_min - 0.05) * 20.0).floor().max(0.0) / 20.0;
    let y_hi = ((a_max + 0.04) * 20.0).ceil().min(20.0) / 20.0;

    let mut canvas = Canvas::new(FIGURE, WIDTH, HEIGHT)?;
    {
        let root = canvas.area();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 24))
            .margin(18)
            .x_label_area_size(56)
            .y_label_area_size(72)
            .build_cartesian_2d(
                (x_lo..x_hi).log_scale().with_key_points(ticks(x_lo, x_hi)),
                y_lo..y_hi,
            )
            .fig(FIGURE)?;
        chart
            .configure_mesh()
            .x_desc("compression ratio vs float32 (log scale)")
            .y_desc("test accuracy")
            .x_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-9 {
                    format!("{v:.0}x")
                } else {
                    format!("{v:.1}x")
                }
            })
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .fig(FIGURE)?;

        let float_style = BLACK.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x_lo, float_accuracy), (x_hi, float_accuracy)],
                10,
                6,
                float_style,
            ))
            .fig(FIGURE)?
            .label(format!("float32 ({:.1}%)", float_accuracy * 100.0))
            .legend(move |(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + 9, y), (x + 13, y), (x + 22, y)],
                    float_style,
                )
            });

        let label_style = text(13, RGBColor(50, 50, 50), HPos::Left, VPos::Bottom);
        for (j, &bits) in widths.iter().enumerate() {
            let colour = palette(j);
            let mut series: Vec<&CompressionPoint> =
                points.iter().filter(|p| p.bits == bits).collect();
            series.sort_by(|a, b| a.ratio.total_cmp(&b.ratio));
            let line = colour.stroke_width(2);
            chart
                .draw_series(LineSeries::new(
                    series.iter().map(|p| (p.ratio, p.accuracy)),
                    line,
                ))
                .fig(FIGURE)?
                .label(format!("{bits}-bit"))
                .legend(move |(x, y)| {
                    EmptyElement::at((x + 11, y))
                        + PathElement::new(vec![(-11, 0), (11, 0)], line)
                        + Circle::new((0, 0), 4, colour.filled())
                });
            chart
                .draw_series(series.iter().map(|p| {
                    EmptyElement::at((p.ratio, p.accuracy))
                        + Circle::new((0, 0), 5, colour.filled())
                        + Text::new(
                            format!("{:.0}%", p.sparsity * 100.0),
                            (6, -5),
                            label_style.clone(),
                        )
                }))
                .fig(FIGURE)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .margin(12)
            .draw()
            .fig(FIGURE)?;
        let note = text(13, RGBColor(90, 90, 90), HPos::Right, VPos::Bottom);
        root.draw(&Text::new(
            "point labels: sparsity (share of weights pruned)",
            (WIDTH as i32 - 20, HEIGHT as i32 - 6),
            note,
        ))
        .fig(FIGURE)?;
        root.present().fig(FIGURE)?;
    }
    canvas.save(path)
}

/// Ticks for the log axis: powers of two (the ratios of plain bit-width reductions from
/// float32), with 1.5 · 2^k in between when the range spans fewer than three powers.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let powers: Vec<f64> = (-4..=16)
        .map(|k| 2f64.powi(k))
        .filter(|t| (lo..=hi).contains(t))
        .collect();
    if powers.len() >= 3 {
        return powers;
    }
    let mut all: Vec<f64> = (-4..=16)
        .flat_map(|k| [2f64.powi(k), 1.5 * 2f64.powi(k)])
        .filter(|t| (lo..=hi).contains(t))
        .collect();
    all.sort_by(f64::total_cmp);
    all
}
