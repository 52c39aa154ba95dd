//! Bar charts: the model comparison (paper Figure 9) and the ablation summary (mean ± std).

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{check_finite, invalid, palette, text, tint, Canvas, DrawExt, PlotError, FONT};

const HEIGHT: u32 = 580;
/// Title and legend band above the plotting area.
const HEADER: u32 = 92;

/// One model's values over the metrics of [`comparison_bars`].
#[derive(Debug, Clone, Copy)]
pub struct BarSeries<'a> {
    /// Legend entry, e.g. `"CNN (Adam)"`.
    pub name: &'a str,
    /// One value per metric, in the order of `metrics`.
    pub values: &'a [f64],
}

/// One configuration's results over seeds, for [`ablation_bars`].
#[derive(Debug, Clone, Copy)]
pub struct SeedRuns<'a> {
    /// Axis label, e.g. `"CNN aug+finetune"`.
    pub label: &'a str,
    /// The metric of each seed's run.
    pub values: &'a [f64],
}

/// Mean and sample standard deviation (divisor `n - 1`; 0 for a single value).
/// `(NaN, NaN)` for no values.
pub fn mean_and_std(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt())
}

type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn centred(size: u32, colour: RGBColor, v: VPos) -> TextStyle<'static> {
    text(size, colour, HPos::Center, v)
}

/// Title and (optional) legend centred in the header band.
fn header(
    figure: &'static str,
    root: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    width: u32,
    title: &str,
    legend: &[(&str, RGBColor)],
) -> Result<(), PlotError> {
    root.draw(&Text::new(
        title.to_string(),
        (width as i32 / 2, 26),
        centred(24, BLACK, VPos::Center),
    ))
    .fig(figure)?;
    if legend.is_empty() {
        return Ok(());
    }
    let style = text(16, BLACK, HPos::Left, VPos::Center);
    let widths = legend
        .iter()
        .map(|(name, _)| {
            root.estimate_text_size(name, &style)
                .map(|(w, _)| w as i32 + 44)
        })
        .collect::<Result<Vec<_>, _>>()
        .fig(figure)?;
    let mut x = (width as i32 - widths.iter().sum::<i32>()) / 2;
    let y = 66;
    for ((name, colour), w) in legend.iter().zip(widths) {
        root.draw(&Rectangle::new(
            [(x, y - 8), (x + 22, y + 8)],
            colour.filled(),
        ))
        .fig(figure)?;
        root.draw(&Text::new(name.to_string(), (x + 30, y), style.clone()))
            .fig(figure)?;
        x += w;
    }
    Ok(())
}

/// Builds the chart below the header: x in category units `0..categories`, y from 0.
fn body<'a, 'b>(
    figure: &'static str,
    area: &'a DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
    categories: usize,
    y_hi: f64,
    y_desc: &str,
) -> Result<Chart<'a, 'b>, PlotError> {
    let mut chart = ChartBuilder::on(area)
        .margin_left(16)
        .margin_right(24)
        .margin_top(8)
        .margin_bottom(8)
        .x_label_area_size(58)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..categories as f64, 0.0..y_hi)
        .fig(figure)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_label_formatter(&|_| String::new())
        .y_labels(8)
        .y_desc(y_desc)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .fig(figure)?;
    Ok(chart)
}

/// Category names under the x axis, centred on each category (drawn on `root`, outside the
/// plotting area). Several lines per label are separated by `\n`.
fn category_labels(
    figure: &'static str,
    root: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    chart: &Chart<'_, '_>,
    labels: &[String],
) -> Result<(), PlotError> {
    for (i, label) in labels.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        for (line_no, line) in label.lines().enumerate() {
            let (size, colour) = if line_no == 0 {
                (16, BLACK)
            } else {
                (13, RGBColor(90, 90, 90))
            };
            root.draw(&Text::new(
                line.to_string(),
                (x, y + 10 + 20 * line_no as i32),
                centred(size, colour, VPos::Top),
            ))
            .fig(figure)?;
        }
    }
    Ok(())
}

/// Grouped bars: one group per metric, one bar per model (colours in legend order), each bar
/// labelled with its value (three decimals). Metrics share one y axis from 0, so mix
/// fractions (accuracy, precision, recall, F1) with a loss only when the loss is of similar size.
///
/// Image size: max(900, 110 + metrics · (models · 78 + 50)) x 580 pixels.
pub fn comparison_bars(
    path: &Path,
    title: &str,
    metrics: &[&str],
    series: &[BarSeries<'_>],
) -> Result<(), PlotError> {
    const FIGURE: &str = "comparison_bars";
    if metrics.is_empty() || series.is_empty() {
        return Err(invalid(FIGURE, "need at least one metric and one series"));
    }
    for s in series {
        if s.values.len() != metrics.len() {
            return Err(invalid(
                FIGURE,
                format!(
                    "{}: {} values for {} metrics",
                    s.name,
                    s.values.len(),
                    metrics.len()
                ),
            ));
        }
        check_finite(FIGURE, s.name, s.values)?;
        if let Some(v) = s.values.iter().find(|v| **v < 0.0) {
            return Err(invalid(FIGURE, format!("{}: negative value {v}", s.name)));
        }
    }
    let (m, k) = (metrics.len(), series.len());
    let width = (110 + m as u32 * (k as u32 * 78 + 50)).max(900);
    let max = series
        .iter()
        .flat_map(|s| s.values)
        .fold(0.0_f64, |a, &b| a.max(b));
    let y_hi = if max > 0.0 { max * 1.12 } else { 1.0 };

    let mut canvas = Canvas::new(FIGURE, width, HEIGHT)?;
    {
        let root = canvas.area();
        let legend: Vec<_> = series
            .iter()
            .enumerate()
            .map(|(j, s)| (s.name, palette(j)))
            .collect();
        header(FIGURE, &root, width, title, &legend)?;
        let (_, lower) = root.split_vertically(HEADER);
        let mut chart = body(FIGURE, &lower, m, y_hi, "value")?;

        let group = 0.8;
        let bar = group / k as f64;
        let label_size = if bar * (width as f64 - 110.0) / m as f64 >= 52.0 {
            14
        } else {
            11
        };
        for (j, s) in series.iter().enumerate() {
            let colour = palette(j);
            for (i, &v) in s.values.iter().enumerate() {
                let x0 = i as f64 + (1.0 - group) / 2.0 + j as f64 * bar;
                let x1 = x0 + bar * 0.92;
                chart
                    .draw_series([Rectangle::new([(x0, 0.0), (x1, v)], colour.filled())])
                    .fig(FIGURE)?;
                let label = EmptyElement::at(((x0 + x1) / 2.0, v))
                    + Text::new(
                        format!("{v:.3}"),
                        (0, -4),
                        centred(label_size, BLACK, VPos::Bottom),
                    );
                chart.draw_series([label]).fig(FIGURE)?;
            }
        }
        let labels: Vec<String> = metrics.iter().map(|s| s.to_string()).collect();
        category_labels(FIGURE, &root, &chart, &labels)?;
        root.present().fig(FIGURE)?;
    }
    canvas.save(path)
}

/// Mean ± sample standard deviation over seeds, one bar per configuration, with error bars,
/// each seed's value as a dot, and "mean ± std" above the bar. The x label gives the seed count.
///
/// Image size: max(800, 110 + configurations · 170) x 580 pixels.
pub fn ablation_bars(
    path: &Path,
    title: &str,
    y_label: &str,
    runs: &[SeedRuns<'_>],
) -> Result<(), PlotError> {
    const FIGURE: &str = "ablation_bars";
    if runs.is_empty() {
        return Err(invalid(FIGURE, "no configurations"));
    }
    for r in runs {
        if r.values.is_empty() {
            return Err(invalid(FIGURE, format!("{}: no runs", r.label)));
        }
        check_finite(FIGURE, r.label, r.values)?;
        if let Some(v) = r.values.iter().find(|v| **v < 0.0) {
            return Err(invalid(FIGURE, format!("{}: negative value {v}", r.label)));
        }
    }
    let stats: Vec<(f64, f64)> = runs.iter().map(|r| mean_and_std(r.values)).collect();
    let width = (110 + runs.len() as u32 * 170).max(800);
    let top = runs
        .iter()
        .zip(&stats)
        .map(|(r, (mean, std))| r.values.iter().fold(mean + std, |a, &b| a.max(b)))
        .fold(0.0_f64, f64::max);
    let y_hi = if top > 0.0 { top * 1.12 } else { 1.0 };

    let mut canvas = Canvas::new(FIGURE, width, HEIGHT)?;
    {
        let root = canvas.area();
        header(FIGURE, &root, width, title, &[])?;
        let (_, lower) = root.split_vertically(HEADER - 36);
        let mut chart = body(FIGURE, &lower, runs.len(), y_hi, y_label)?;
        let (px_per_x, _) = {
            let (a, _) = chart.backend_coord(&(0.0, 0.0));
            let (b, _) = chart.backend_coord(&(1.0, 0.0));
            (b - a, ())
        };
        let cap = 0.12;
        for (i, (r, &(mean, std))) in runs.iter().zip(&stats).enumerate() {
            let colour = palette(i);
            let (x0, x1) = (i as f64 + 0.2, i as f64 + 0.8);
            let xc = i as f64 + 0.5;
            chart
                .draw_series([Rectangle::new(
                    [(x0, 0.0), (x1, mean)],
                    tint(colour, 0.6).filled(),
                )])
                .fig(FIGURE)?;
            let whisker = BLACK.stroke_width(2);
            let (lo, hi) = ((mean - std).max(0.0), mean + std);
            chart
                .draw_series([
                    PathElement::new(vec![(xc, lo), (xc, hi)], whisker),
                    PathElement::new(vec![(xc - cap, lo), (xc + cap, lo)], whisker),
                    PathElement::new(vec![(xc - cap, hi), (xc + cap, hi)], whisker),
                ])
                .fig(FIGURE)?;
            // Seeds as dots, spread deterministically across the bar so equal values stay visible.
            let n = r.values.len();
            chart
                .draw_series(r.values.iter().enumerate().map(|(s, &v)| {
                    let dx = if n > 1 {
                        (s as f64 / (n - 1) as f64 - 0.5) * 0.3
                    } else {
                        0.0
                    };
                    Circle::new((xc + dx, v), 4, RGBColor(40, 40, 40).filled())
                }))
                .fig(FIGURE)?;
            let size = if px_per_x >= 150 { 15 } else { 12 };
            let label =
                EmptyElement::at((xc, hi.max(r.values.iter().fold(0.0, |a: f64, &b| a.max(b)))))
                    + Text::new(
                        format!("{mean:.3} ± {std:.3}"),
                        (0, -8),
                        centred(size, BLACK, VPos::Bottom),
                    );
            chart.draw_series([label]).fig(FIGURE)?;
        }
        let labels: Vec<String> = runs
            .iter()
            .map(|r| {
                let n = r.values.len();
                format!(
                    "{}\n(n = {n} seed{})",
                    r.label,
                    if n == 1 { "" } else { "s" }
                )
            })
            .collect();
        category_labels(FIGURE, &root, &chart, &labels)?;
        root.present().fig(FIGURE)?;
    }
    canvas.save(path)
}
