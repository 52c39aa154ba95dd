//! The report's figures: pure functions from plain data to PNG files.
//!
//! | function                     | figure                                                     |
//! |------------------------------|------------------------------------------------------------|
//! | [`learning_curves`]          | train/validation loss and accuracy per epoch (paper Fig. 6) |
//! | [`confusion_matrices`]       | confusion-matrix heat maps, side by side (Fig. 7)          |
//! | [`prediction_grid`]          | test images with actual/predicted labels (Fig. 8)          |
//! | [`comparison_bars`]          | grouped bars, models x metrics, value labels (Fig. 9)      |
//! | [`accuracy_vs_compression`]  | accuracy against compression ratio, one series per width   |
//! | [`ablation_bars`]            | mean ± std over seeds per configuration, with error bars   |
//!
//! Every function validates its input (lengths, finiteness, class indices) and returns
//! [`PlotError::InvalidInput`] rather than drawing a wrong picture. It renders into an in-memory
//! RGB buffer with plotters' bitmap backend, encodes PNG with the `image` crate and writes the
//! file atomically: a temporary file in the destination directory, then a rename, so a reader
//! never sees half a PNG. The parent directory must exist.
//!
//! Text is set in DejaVu Sans, embedded in the binary (`host/assets/DejaVuSans.ttf`, licence
//! next to it) and rasterised by plotters' `ab_glyph` backend: no fontconfig, FreeType or system
//! font is needed at run time, so the figures render the same on a bare CI machine.
//! (plotters' own `bitmap_encoder` feature is off: it would pull in a second, older `image`.)

mod bars;
mod compression;
mod confusion;
mod curves;
mod grid;

#[cfg(test)]
mod tests;

pub use bars::{ablation_bars, comparison_bars, mean_and_std, BarSeries, SeedRuns};
pub use compression::{accuracy_vs_compression, CompressionPoint};
pub use confusion::{confusion_matrices, Confusion};
pub use curves::{learning_curves, Curves};
pub use grid::{prediction_grid, GridSample};

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use image::ImageEncoder;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

/// DejaVu Sans 2.37 (Debian `fonts-dejavu-core`); licence in `assets/DejaVuSans-LICENSE.txt`.
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Errors of the figure functions. `figure` names the function that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// The data cannot make a correct figure (empty, ragged, non-finite, index out of range).
    #[error("{figure}: invalid input: {reason}")]
    InvalidInput {
        /// The figure function.
        figure: &'static str,
        /// What is wrong with the data.
        reason: String,
    },
    /// The embedded font could not be registered with plotters.
    #[error("{figure}: the embedded font DejaVuSans.ttf could not be registered")]
    Font {
        /// The figure function.
        figure: &'static str,
    },
    /// plotters reported an error while drawing.
    #[error("{figure}: drawing failed: {message}")]
    Draw {
        /// The figure function.
        figure: &'static str,
        /// plotters' message.
        message: String,
    },
    /// PNG encoding failed.
    #[error("{figure}: encoding a {width}x{height} PNG failed: {source}")]
    Encode {
        /// The figure function.
        figure: &'static str,
        /// Image width in pixels.
        width: u32,
        /// Image height in pixels.
        height: u32,
        /// The encoder's error.
        source: image::ImageError,
    },
    /// Writing or renaming the file failed.
    #[error("{figure}: {op} {}: {source}", path.display())]
    Io {
        /// The figure function.
        figure: &'static str,
        /// `"create"`, `"write"`, `"fsync"` or `"rename"`.
        op: &'static str,
        /// The file concerned (the temporary file for create/write/sync).
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

pub(crate) fn invalid(figure: &'static str, reason: impl Into<String>) -> PlotError {
    PlotError::InvalidInput {
        figure,
        reason: reason.into(),
    }
}

/// Maps plotters' drawing errors (any `Display`) to [`PlotError::Draw`].
pub(crate) trait DrawExt<T> {
    fn fig(self, figure: &'static str) -> Result<T, PlotError>;
}

impl<T, E: Display> DrawExt<T> for Result<T, E> {
    fn fig(self, figure: &'static str) -> Result<T, PlotError> {
        self.map_err(|e| PlotError::Draw {
            figure,
            message: e.to_string(),
        })
    }
}

/// Registers the embedded font under the family names plotters and this module use. Idempotent.
fn ensure_fonts(figure: &'static str) -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        ["sans-serif", "serif", "monospace"]
            .iter()
            .all(|family| register_font(family, FontStyle::Normal, DEJAVU_SANS).is_ok())
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font { figure })
    }
}

/// Family name for all text (the embedded DejaVu Sans).
pub(crate) const FONT: &str = "sans-serif";

// Palette (matplotlib's tab10, which the paper's figures use).
pub(crate) const BLUE: RGBColor = RGBColor(31, 119, 180);
pub(crate) const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub(crate) const GREEN: RGBColor = RGBColor(44, 160, 44);
pub(crate) const RED: RGBColor = RGBColor(214, 39, 40);
pub(crate) const PURPLE: RGBColor = RGBColor(148, 103, 189);
pub(crate) const BROWN: RGBColor = RGBColor(140, 86, 75);
pub(crate) const GREY: RGBColor = RGBColor(127, 127, 127);
pub(crate) const PALETTE: [RGBColor; 7] = [BLUE, ORANGE, GREEN, RED, PURPLE, BROWN, GREY];

pub(crate) fn palette(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// An RGB8 frame that plotters draws into and that is saved as PNG.
pub(crate) struct Canvas {
    figure: &'static str,
    width: u32,
    height: u32,
    buf: Vec<u8>,
}

impl Canvas {
    /// A white canvas. Registers the embedded font on first use.
    pub(crate) fn new(figure: &'static str, width: u32, height: u32) -> Result<Self, PlotError> {
        ensure_fonts(figure)?;
        if width == 0 || height == 0 || width > 16_384 || height > 16_384 {
            return Err(invalid(
                figure,
                format!("canvas {width}x{height} out of range"),
            ));
        }
        Ok(Self {
            figure,
            width,
            height,
            buf: vec![255; width as usize * height as usize * 3],
        })
    }

    /// The whole canvas as a plotters drawing area (pixel coordinates, origin top left).
    pub(crate) fn area(&mut self) -> DrawingArea<BitMapBackend<'_>, Shift> {
        BitMapBackend::with_buffer(&mut self.buf, (self.width, self.height)).into_drawing_area()
    }

    /// Raw HWC RGB8 pixels, for blitting images.
    pub(crate) fn pixels_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    pub(crate) fn width(&self) -> u32 {
        self.width
    }

    /// Encodes PNG and writes it atomically to `path`.
    pub(crate) fn save(self, path: &Path) -> Result<(), PlotError> {
        let Self {
            figure,
            width,
            height,
            buf,
        } = self;
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(&buf, width, height, image::ExtendedColorType::Rgb8)
            .map_err(|source| PlotError::Encode {
                figure,
                width,
                height,
                source,
            })?;
        write_atomically(figure, path, &png)
    }
}

/// Writes `bytes` to a uniquely named temporary file next to `path`, syncs it and renames it
/// over `path`. The temporary file is removed if any step fails.
fn write_atomically(figure: &'static str, path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    crate::outdir::write_file_atomic(path, bytes).map_err(|(op, path, source)| PlotError::Io {
        figure,
        op,
        path,
        source,
    })
}

/// Checks that every value is finite.
pub(crate) fn check_finite(
    figure: &'static str,
    what: &str,
    values: &[f64],
) -> Result<(), PlotError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(invalid(
            figure,
            format!("{what}[{i}] = {} is not finite", values[i]),
        )),
        None => Ok(()),
    }
}

/// Mixes `c` with white: `t = 0` white, `t = 1` the colour.
pub(crate) fn tint(c: RGBColor, t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |v: u8| (255.0 - (255.0 - f64::from(v)) * t).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// A text style in the embedded font: `size` pixels, `colour`, anchored at `(h, v)`.
pub(crate) fn text(size: u32, colour: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: (FONT, size).into_font(),
        color: colour.to_backend_color(),
        pos: Pos::new(h, v),
    }
}
