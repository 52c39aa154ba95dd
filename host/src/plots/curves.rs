//! Learning curves (paper Figure 6).

use std::path::Path;

use plotters::prelude::*;

use super::{check_finite, invalid, palette, Canvas, DrawExt, PlotError, BLUE, FONT, GREY, ORANGE};

const FIGURE: &str = "learning_curves";
const PANEL_W: u32 = 640;
const PANEL_H: u32 = 400;

/// One model's training history; index `i` of every slice is epoch `i + 1`.
#[derive(Debug, Clone, Copy)]
pub struct Curves<'a> {
    /// Panel title, e.g. `"CNN (Adam)"`.
    pub model: &'a str,
    /// Mean training loss per epoch.
    pub train_loss: &'a [f64],
    /// Validation loss per epoch.
    pub val_loss: &'a [f64],
    /// Training accuracy per epoch, a fraction in `[0, 1]`.
    pub train_acc: &'a [f64],
    /// Validation accuracy per epoch, a fraction in `[0, 1]`.
    pub val_acc: &'a [f64],
    /// The epoch kept (0-based index, as the slices). `None`: the lowest validation loss.
    pub best_epoch: Option<usize>,
}

impl Curves<'_> {
    fn validate(&self) -> Result<usize, PlotError> {
        let n = self.train_loss.len();
        if n == 0 {
            return Err(invalid(FIGURE, format!("{}: no epochs", self.model)));
        }
        let lens = [
            self.val_loss.len(),
            self.train_acc.len(),
            self.val_acc.len(),
        ];
        if lens.iter().any(|&l| l != n) {
            return Err(invalid(
                FIGURE,
                format!(
                    "{}: series lengths differ: train_loss {n}, val_loss {}, train_acc {}, \
                     val_acc {}",
                    self.model, lens[0], lens[1], lens[2]
                ),
            ));
        }
        check_finite(FIGURE, "train_loss", self.train_loss)?;
        check_finite(FIGURE, "val_loss", self.val_loss)?;
        check_finite(FIGURE, "train_acc", self.train_acc)?;
        check_finite(FIGURE, "val_acc", self.val_acc)?;
        if let Some(v) = self
            .train_acc
            .iter()
            .chain(self.val_acc)
            .find(|v| !(0.0..=1.0).contains(*v))
        {
            return Err(invalid(
                FIGURE,
                format!("{}: accuracy {v} is not a fraction in [0, 1]", self.model),
            ));
        }
        let best = self.best_epoch.unwrap_or_else(|| argmin(self.val_loss));
        if best >= n {
            return Err(invalid(
                FIGURE,
                format!("{}: best_epoch {best} but only {n} epochs", self.model),
            ));
        }
        Ok(best)
    }
}

fn argmin(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x < v[best] {
            best = i;
        }
    }
    best
}

/// Train vs validation loss (left) and accuracy (right) per epoch, one row per model, with the
/// best epoch marked by a dashed vertical line and a dot on the validation curve.
///
/// Image size: 1280 x (400 · models) pixels.
pub fn learning_curves(path: &Path, models: &[Curves<'_>]) -> Result<(), PlotError> {
    if models.is_empty() {
        return Err(invalid(FIGURE, "no models"));
    }
    let bests = models
        .iter()
        .map(Curves::validate)
        .collect::<Result<Vec<_>, _>>()?;

    let mut canvas = Canvas::new(FIGURE, 2 * PANEL_W, PANEL_H * models.len() as u32)?;
    {
        let root = canvas.area();
        let panels = root.split_evenly((models.len(), 2));
        for (row, (m, &best)) in models.iter().zip(&bests).enumerate() {
            let loss_max = m
                .train_loss
                .iter()
                .chain(m.val_loss)
                .fold(0.0_f64, |a, &b| a.max(b));
            let loss_hi = if loss_max > 0.0 { loss_max * 1.08 } else { 1.0 };
            panel(
                &panels[2 * row],
                &format!("{}: loss", m.model),
                "loss",
                (m.train_loss, m.val_loss),
                best,
                0.0..loss_hi,
                SeriesLabelPosition::UpperRight,
                &|v| format!("{v:.2}"),
            )?;
            let acc_min = m
                .train_acc
                .iter()
                .chain(m.val_acc)
                .fold(1.0_f64, |a, &b| a.min(b));
            let acc_lo = ((acc_min * 10.0).floor() / 10.0).clamp(0.0, 0.9);
            panel(
                &panels[2 * row + 1],
                &format!("{}: accuracy", m.model),
                "accuracy",
                (m.train_acc, m.val_acc),
                best,
                acc_lo..1.0,
                SeriesLabelPosition::LowerRight,
                &|v| format!("{:.0}%", v * 100.0),
            )?;
        }
        root.present().fig(FIGURE)?;
    }
    canvas.save(path)
}

#[allow(clippy::too_many_arguments)]
fn panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    y_desc: &str,
    (train, val): (&[f64], &[f64]),
    best: usize,
    y_range: std::ops::Range<f64>,
    legend_at: SeriesLabelPosition,
    y_fmt: &dyn Fn(&f64) -> String,
) -> Result<(), PlotError> {
    let n = train.len() as i32;
    // Epochs are 1-based on the axis; a single epoch still gets a visible x range.
    let x_range = if n > 1 { 1..n } else { 0..2 };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 22))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(x_range, y_range.clone())
        .fig(FIGURE)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .x_labels(n.clamp(2, 11) as usize)
        .y_labels(8)
        .y_label_formatter(y_fmt)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .fig(FIGURE)?;

    let epochs = |s: &[f64]| {
        s.iter()
            .enumerate()
            .map(|(i, &v)| (i as i32 + 1, v))
            .collect::<Vec<_>>()
    };
    for (name, series, colour) in [("train", train, BLUE), ("validation", val, ORANGE)] {
        let style = colour.stroke_width(2);
        chart
            .draw_series(LineSeries::new(epochs(series), style))
            .fig(FIGURE)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
        if series.len() <= 60 {
            chart
                .draw_series(
                    epochs(series)
                        .into_iter()
                        .map(|p| Circle::new(p, 2, colour.filled())),
                )
                .fig(FIGURE)?;
        }
    }

    let bx = best as i32 + 1;
    let dashed = GREY.stroke_width(1);
    chart
        .draw_series(DashedLineSeries::new(
            vec![(bx, y_range.start), (bx, y_range.end)],
            6,
            4,
            dashed,
        ))
        .fig(FIGURE)?
        .label(format!("best epoch ({bx})"))
        .legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (22, 0)], dashed)
                + Circle::new((11, 0), 5, palette(3).filled())
        });
    let best_point = (bx, val[best]);
    chart
        .draw_series([
            Circle::new(best_point, 7, palette(3).filled()),
            Circle::new(best_point, 7, BLACK.stroke_width(1)),
        ])
        .fig(FIGURE)?;

    chart
        .configure_series_labels()
        .position(legend_at)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .margin(10)
        .draw()
        .fig(FIGURE)?;
    Ok(())
}
