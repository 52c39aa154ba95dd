//! The prediction grid (paper Figure 8).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{invalid, text, Canvas, DrawExt, PlotError};

const FIGURE: &str = "prediction_grid";
/// Text and frame colour of a correct prediction.
pub(crate) const RIGHT_INK: RGBColor = RGBColor(0, 140, 0);
/// Text and frame colour of a wrong prediction.
pub(crate) const WRONG_INK: RGBColor = RGBColor(210, 0, 0);
/// Images are upscaled (nearest neighbour, integer factor) to about this many pixels.
const TARGET_PX: u32 = 128;
const FRAME: u32 = 3;
const PAD: u32 = 8;
const LABEL_H: u32 = 46;
const TITLE_H: u32 = 56;
const MIN_CELL_W: u32 = 152;
/// Wide enough for the title; a narrower grid is centred.
const MIN_WIDTH: u32 = 780;

/// One test image with its labels.
#[derive(Debug, Clone, Copy)]
pub struct GridSample<'a> {
    /// RGB8 pixels, row-major HWC: `width * height * 3` bytes.
    pub pixels: &'a [u8],
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Index of the true class in `class_names`.
    pub actual: usize,
    /// Index of the predicted class in `class_names`.
    pub predicted: usize,
}

impl GridSample<'_> {
    fn scale(&self) -> u32 {
        (TARGET_PX / self.width.max(self.height)).max(1)
    }
}

/// A grid of test images, `columns` per row (the paper: 40 images, 8 columns, 5 rows), each
/// upscaled by an integer factor (nearest neighbour; 2x for 64x64), framed and labelled
/// "actual: X" / "pred: Y" underneath, green when right and red when wrong. The title counts
/// the correct ones.
///
/// Image size for 64x64 inputs: max(780, columns · 168) x (56 + rows · 196) pixels.
pub fn prediction_grid(
    path: &Path,
    class_names: &[&str],
    samples: &[GridSample<'_>],
    columns: usize,
) -> Result<(), PlotError> {
    if samples.is_empty() {
        return Err(invalid(FIGURE, "no samples"));
    }
    if columns == 0 {
        return Err(invalid(FIGURE, "zero columns"));
    }
    for (i, s) in samples.iter().enumerate() {
        if s.width == 0 || s.height == 0 || s.width > 1024 || s.height > 1024 {
            return Err(invalid(
                FIGURE,
                format!("sample {i}: size {}x{}", s.width, s.height),
            ));
        }
        let want = s.width as usize * s.height as usize * 3;
        if s.pixels.len() != want {
            return Err(invalid(
                FIGURE,
                format!(
                    "sample {i}: {} bytes for {}x{} RGB (want {want})",
                    s.pixels.len(),
                    s.width,
                    s.height
                ),
            ));
        }
        for (what, c) in [("actual", s.actual), ("predicted", s.predicted)] {
            if c >= class_names.len() {
                return Err(invalid(
                    FIGURE,
                    format!(
                        "sample {i}: {what} class {c} but {} class names",
                        class_names.len()
                    ),
                ));
            }
        }
    }

    let box_w = samples
        .iter()
        .map(|s| s.width * s.scale())
        .max()
        .unwrap_or(0);
    let box_h = samples
        .iter()
        .map(|s| s.height * s.scale())
        .max()
        .unwrap_or(0);
    let cell_w = (box_w + 2 * FRAME).max(MIN_CELL_W) + 2 * PAD;
    let cell_h = box_h + 2 * FRAME + LABEL_H + 2 * PAD;
    let columns = columns.min(samples.len());
    let rows = samples.len().div_ceil(columns);
    let width = (cell_w * columns as u32).max(MIN_WIDTH);
    let left = (width - cell_w * columns as u32) / 2;
    let height = TITLE_H + cell_h * rows as u32;
    let mut canvas = Canvas::new(FIGURE, width, height)?;

    // Frames and images go straight into the pixel buffer; text is drawn by plotters after.
    let origin = |i: usize| {
        let (r, c) = ((i / columns) as u32, (i % columns) as u32);
        (left + c * cell_w, TITLE_H + r * cell_h)
    };
    {
        let stride = canvas.width() as usize * 3;
        let buf = canvas.pixels_mut();
        for (i, s) in samples.iter().enumerate() {
            let (cx, cy) = origin(i);
            let k = s.scale();
            let (w, h) = (s.width * k, s.height * k);
            // Centre the image (with its frame) horizontally and bottom-align it in the box.
            let fx = cx + (cell_w - w - 2 * FRAME) / 2;
            let fy = cy + PAD + (box_h - h);
            let ink = if s.actual == s.predicted {
                RIGHT_INK
            } else {
                WRONG_INK
            };
            for y in fy..fy + h + 2 * FRAME {
                for x in fx..fx + w + 2 * FRAME {
                    let o = y as usize * stride + x as usize * 3;
                    buf[o..o + 3].copy_from_slice(&[ink.0, ink.1, ink.2]);
                }
            }
            for y in 0..h {
                let src_row = (y / k) as usize * s.width as usize * 3;
                let dst_row = (fy + FRAME + y) as usize * stride + (fx + FRAME) as usize * 3;
                for x in 0..w {
                    let src = src_row + (x / k) as usize * 3;
                    let dst = dst_row + x as usize * 3;
                    buf[dst..dst + 3].copy_from_slice(&s.pixels[src..src + 3]);
                }
            }
        }
    }
    {
        let root = canvas.area();
        let correct = samples.iter().filter(|s| s.actual == s.predicted).count();
        let title = format!(
            "Predictions on test images: {correct} of {} correct (green = right, red = wrong)",
            samples.len()
        );
        let title_style = text(22, BLACK, HPos::Center, VPos::Center);
        root.draw(&Text::new(
            title,
            (width as i32 / 2, TITLE_H as i32 / 2),
            title_style,
        ))
        .fig(FIGURE)?;
        for (i, s) in samples.iter().enumerate() {
            let (cx, cy) = origin(i);
            let ink = if s.actual == s.predicted {
                RIGHT_INK
            } else {
                WRONG_INK
            };
            let style = text(15, ink, HPos::Center, VPos::Top);
            let x = (cx + cell_w / 2) as i32;
            let y = (cy + PAD + box_h + 2 * FRAME + 6) as i32;
            root.draw(&Text::new(
                format!("actual: {}", class_names[s.actual]),
                (x, y),
                style.clone(),
            ))
            .fig(FIGURE)?;
            root.draw(&Text::new(
                format!("pred: {}", class_names[s.predicted]),
                (x, y + 20),
                style,
            ))
            .fig(FIGURE)?;
        }
        root.present().fig(FIGURE)?;
    }
    canvas.save(path)
}
