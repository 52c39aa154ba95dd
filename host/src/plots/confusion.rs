//! Confusion-matrix heat maps (paper Figure 7).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{invalid, text, tint, Canvas, DrawExt, PlotError};

const FIGURE: &str = "confusion_matrices";
/// The dark end of the colour ramp (matplotlib "Blues").
const DARK_BLUE: RGBColor = RGBColor(8, 48, 107);
const LEFT: i32 = 150;
const TOP: i32 = 84;
const BOTTOM: i32 = 86;
const RIGHT: i32 = 30;

/// One model's confusion matrix.
#[derive(Debug, Clone, Copy)]
pub struct Confusion<'a> {
    /// Panel title, e.g. `"CNN (Adam)"`.
    pub title: &'a str,
    /// Row-major counts, `n x n` for `n` classes: `counts[t * n + p]` images of true class `t`
    /// were predicted as class `p`.
    pub counts: &'a [usize],
}

/// Heat maps of confusion matrices side by side, one panel per model: counts in the cells,
/// true class down the rows, predicted class along the columns, shade proportional to the count
/// (relative to the largest cell of that matrix). The panel subtitle gives accuracy and `n`.
///
/// Image size: per panel (210 + n · cell) x (170 + n · cell) pixels, cell = 84 for n <= 6.
pub fn confusion_matrices(
    path: &Path,
    class_names: &[&str],
    matrices: &[Confusion<'_>],
) -> Result<(), PlotError> {
    let n = class_names.len();
    if n == 0 {
        return Err(invalid(FIGURE, "no classes"));
    }
    if matrices.is_empty() {
        return Err(invalid(FIGURE, "no matrices"));
    }
    for m in matrices {
        if m.counts.len() != n * n {
            return Err(invalid(
                FIGURE,
                format!(
                    "{}: {} counts for {n} classes (want {})",
                    m.title,
                    m.counts.len(),
                    n * n
                ),
            ));
        }
    }
    let cell = if n <= 6 { 84 } else { (504 / n as i32).max(32) };
    let panel_w = LEFT + n as i32 * cell + RIGHT;
    let panel_h = TOP + n as i32 * cell + BOTTOM;
    let mut canvas = Canvas::new(
        FIGURE,
        panel_w as u32 * matrices.len() as u32,
        panel_h as u32,
    )?;
    {
        let root = canvas.area();
        let value_size = if cell >= 60 { 18 } else { 12 };
        for (k, m) in matrices.iter().enumerate() {
            let ox = k as i32 * panel_w;
            let grid_x = ox + LEFT;
            let grid_w = n as i32 * cell;
            let centre_x = grid_x + grid_w / 2;
            let total: usize = m.counts.iter().sum();
            let correct: usize = (0..n).map(|i| m.counts[i * n + i]).sum();
            let max = m.counts.iter().copied().max().unwrap_or(0).max(1);

            let centred =
                |size: u32, colour: RGBColor| text(size, colour, HPos::Center, VPos::Center);
            root.draw(&Text::new(
                m.title.to_string(),
                (centre_x, 24),
                centred(22, BLACK),
            ))
            .fig(FIGURE)?;
            let subtitle = if total > 0 {
                format!(
                    "accuracy {:.1}%  (n = {total})",
                    100.0 * correct as f64 / total as f64
                )
            } else {
                "no samples".to_string()
            };
            root.draw(&Text::new(
                subtitle,
                (centre_x, 52),
                centred(15, RGBColor(70, 70, 70)),
            ))
            .fig(FIGURE)?;

            for t in 0..n {
                for p in 0..n {
                    let count = m.counts[t * n + p];
                    let share = count as f64 / max as f64;
                    let (x0, y0) = (grid_x + p as i32 * cell, TOP + t as i32 * cell);
                    root.draw(&Rectangle::new(
                        [(x0, y0), (x0 + cell, y0 + cell)],
                        tint(DARK_BLUE, 0.04 + 0.96 * share).filled(),
                    ))
                    .fig(FIGURE)?;
                    root.draw(&Rectangle::new(
                        [(x0, y0), (x0 + cell, y0 + cell)],
                        RGBColor(200, 200, 200).stroke_width(1),
                    ))
                    .fig(FIGURE)?;
                    let ink = if share > 0.5 { WHITE } else { BLACK };
                    root.draw(&Text::new(
                        count.to_string(),
                        (x0 + cell / 2, y0 + cell / 2),
                        centred(value_size, ink),
                    ))
                    .fig(FIGURE)?;
                }
            }
            // Row labels (true class), right-aligned against the grid.
            let row_style = text(15, BLACK, HPos::Right, VPos::Center);
            for (t, name) in class_names.iter().enumerate() {
                let y = TOP + t as i32 * cell + cell / 2;
                root.draw(&Text::new(
                    name.to_string(),
                    (grid_x - 8, y),
                    row_style.clone(),
                ))
                .fig(FIGURE)?;
            }
            // Column labels (predicted class), centred under the grid.
            let col_style = text(15, BLACK, HPos::Center, VPos::Top);
            let grid_bottom = TOP + n as i32 * cell;
            for (p, name) in class_names.iter().enumerate() {
                let x = grid_x + p as i32 * cell + cell / 2;
                root.draw(&Text::new(
                    name.to_string(),
                    (x, grid_bottom + 8),
                    col_style.clone(),
                ))
                .fig(FIGURE)?;
            }
            // Axis titles.
            root.draw(&Text::new(
                "predicted",
                (centre_x, grid_bottom + 50),
                centred(17, BLACK),
            ))
            .fig(FIGURE)?;
            let true_style = centred(17, BLACK).transform(FontTransform::Rotate270);
            root.draw(&Text::new("true", (ox + 22, TOP + grid_w / 2), true_style))
                .fig(FIGURE)?;
        }
        root.present().fig(FIGURE)?;
    }
    canvas.save(path)
}
