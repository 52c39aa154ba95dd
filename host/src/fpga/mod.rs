//! FPGA build and flash flow for the iCEBreaker (iCE40UP5K-SG48) with the open toolchain.
//!
//! The bitstream holds the SoC only: its 64-word boot ROM (LUTs) copies the firmware image from
//! SPI flash to RAM, and the firmware copies the model blob and input image from flash
//! (`rtl/soc/README.md`). So a firmware or model change is a flash write, never a new place and
//! route, and the bitstream is cached by a hash of the RTL inputs alone.
//!
//! `cnnfpga fpga build`: yosys (`synth_ice40 -dsp`), nextpnr-ice40 (`--up5k --package sg48
//! --freq <board clock> --seed <BOARD_PNR_SEED> --report`; Fmax must exceed the PLL clock by 5 %), icetime (second timing opinion) and icepack, once per RTL
//! hash; then, per build, the firmware image (16-byte `CNFW` header + `objcopy -O binary` of the
//! ELF), the checked model blob, and `report.json` / `report.md` (resources, Fmax, flash layout).
//!
//! `cnnfpga fpga flash` writes each region at its offset with `iceprog` (or `openFPGALoader -b
//! ice40_generic -f`); see [`flash`].
//!
//! Module map: [`board`] (board constants and file paths), [`tools`] (finding and running the
//! tools), [`fwimage`] (firmware ELF -> flash image), [`report`] (nextpnr report parsing, JSON
//! and Markdown), [`build`](mod@build) (the flow and its cache), [`flash`] (flash plan and commands).
//!
//! Built with the host's `hw` feature (default on), like `cnnfpga sim`: `fpga build` makes the
//! firmware ELF with `sim::soc::Firmware` and `fpga classify --sim` runs the Verilated board SoC.

pub mod board;
pub mod build;
pub mod classify;
pub mod flash;
pub mod fwimage;
pub mod report;
pub mod tools;

pub use board::Board;
pub use build::{build, BuildConfig, Stage};
pub use flash::{FlashPlan, FlashTool};
pub use report::{BuildReport, Resource};

use std::path::PathBuf;

/// One region of the SPI flash layout (offsets from the generated register map,
/// `rtl/regmap/accel.toml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlashArea {
    /// What it holds.
    pub what: &'static str,
    /// Byte offset in the flash.
    pub offset: u32,
    /// Size of the area.
    pub len: u32,
}

/// Bitstream area (the FPGA configures itself from offset 0).
pub const FLASH_BITSTREAM: FlashArea = FlashArea {
    what: "bitstream",
    offset: firmware::regs::FLASH_BITSTREAM_OFFSET,
    len: firmware::regs::FLASH_BITSTREAM_LEN,
};
/// Firmware image area (copied to RAM by the boot ROM).
pub const FLASH_FW: FlashArea = FlashArea {
    what: "firmware image",
    offset: firmware::regs::FLASH_FW_OFFSET,
    len: firmware::regs::FLASH_FW_LEN,
};
/// Model blob area (copied to RAM by the firmware).
pub const FLASH_MODEL: FlashArea = FlashArea {
    what: "model blob",
    offset: firmware::regs::FLASH_MODEL_OFFSET,
    len: firmware::regs::FLASH_MODEL_LEN,
};
/// Input image area (HWC u8; copied to RAM by the firmware).
pub const FLASH_INPUT: FlashArea = FlashArea {
    what: "input image",
    offset: firmware::regs::FLASH_INPUT_OFFSET,
    len: firmware::regs::FLASH_INPUT_LEN,
};

/// Errors of the FPGA flow. Every variant carries the numbers or the command that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FpgaError {
    /// A tool is not on `PATH`.
    #[error("`{tool}` not found in PATH: install the FPGA tools with scripts/setup.sh")]
    ToolMissing {
        /// The executable name.
        tool: String,
    },
    /// A tool ran and failed.
    #[error("{stage} failed ({status}): `{command}`\n{tail}")]
    ToolFailed {
        /// Flow stage (yosys, nextpnr, ...).
        stage: String,
        /// Exit status as text.
        status: String,
        /// The command line.
        command: String,
        /// The last lines of its output or log.
        tail: String,
    },
    /// The design does not fit the device.
    #[error("design does not fit the {device}: {}", fmt_over(.resources))]
    DoesNotFit {
        /// Device name.
        device: String,
        /// Every resource nextpnr reported, used and available.
        resources: Vec<Resource>,
    },
    /// Place and route did not reach the board clock with the 5 % slack (`FMAX_MARGIN`).
    #[error(
        "timing not met: Fmax {achieved_mhz:.2} MHz < {target_mhz:.2} MHz, the board clock with 5 % slack (nextpnr, seed {seed})"
    )]
    Timing {
        /// Achieved Fmax.
        achieved_mhz: f64,
        /// Target clock.
        target_mhz: f64,
        /// nextpnr seed.
        seed: u32,
    },
    /// The firmware binary is larger than its RAM area (FW_LEN) or flash area.
    #[error("firmware {path}: {bytes} bytes exceed the {max_bytes}-byte {area}")]
    FirmwareTooBig {
        /// Firmware file.
        path: PathBuf,
        /// Binary size (text + rodata + data).
        bytes: usize,
        /// The limit.
        max_bytes: usize,
        /// Which limit.
        area: &'static str,
    },
    /// The firmware file could not be read or converted.
    #[error("firmware {path}: {reason}")]
    BadFirmware {
        /// Firmware file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The model blob is invalid or too large.
    #[error("model blob {path}: {reason}")]
    BadModel {
        /// Blob file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The input image cannot be decoded or does not match the model's input shape.
    #[error("input image {path}: {reason}")]
    BadImage {
        /// Image file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The input image does not fit its area.
    #[error("input image {path}: {bytes} bytes exceed the {max}-byte INPUT area")]
    ImageTooBig {
        /// Image file.
        path: PathBuf,
        /// Its size.
        bytes: usize,
        /// `INPUT_LEN`.
        max: u32,
    },
    /// The RTL sources are not where they should be.
    #[error("RTL sources: {0}")]
    Sources(String),
    /// The nextpnr report could not be parsed.
    #[error("nextpnr report {path}: {reason}")]
    Report {
        /// Report file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// File system error with the path involved.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

fn fmt_over(rs: &[Resource]) -> String {
    let over: Vec<String> = rs
        .iter()
        .filter(|r| r.used > r.available)
        .map(|r| {
            format!(
                "{} {}/{} ({:.0}%)",
                r.name,
                r.used,
                r.available,
                r.percent()
            )
        })
        .collect();
    if over.is_empty() {
        "nextpnr could not place it".into()
    } else {
        over.join(", ")
    }
}

/// Shorthand for an [`FpgaError::Io`] mapper.
pub(crate) fn io_err(
    op: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> FpgaError {
    let path = path.to_path_buf();
    move |source| FpgaError::Io { op, path, source }
}
