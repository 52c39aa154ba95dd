//! Supported boards: device, package, pins, clock and the RTL sources of their top.

use std::path::{Path, PathBuf};

use super::FpgaError;

/// An FPGA board the flow can build for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Board {
    /// Name on the command line (`--board`).
    pub name: &'static str,
    /// nextpnr-ice40 device flag without dashes (`up5k`) and icetime device (`-d up5k`).
    pub device: &'static str,
    /// Package (`sg48`).
    pub package: &'static str,
    /// Directory of the board files, relative to the repository root.
    pub dir: &'static str,
    /// Top module.
    pub top: &'static str,
    /// Pin constraints file in `dir`.
    pub pcf: &'static str,
    /// Source list in `dir` (read order; `$PICORV32/`, `$SERV/` = the venv's CPU data directories).
    pub sources: &'static str,
    /// Clock the SoC runs at (the PLL's output), MHz.
    pub clock_mhz: f64,
    /// Default: include the NP conv engine.
    pub conv: bool,
    /// Default: include the P-layer engine.
    pub pengine: bool,
    /// Default conv engine MAC lanes.
    pub conv_lanes: u32,
}

/// The slack `cnnfpga fpga build` requires: nextpnr's Fmax must reach the board clock times
/// this (5 %), so that the PLL clock is met with margin for temperature, voltage and seeds.
pub const FMAX_MARGIN: f64 = 1.05;

/// The iCEBreaker v1.0: iCE40UP5K-SG48, `OSC_HZ` oscillator (PLL to `BOARD_CLOCK_HZ`), FT2232H
/// (channel A: flash, channel B: UART), 16 MB QSPI flash.
pub const ICEBREAKER: Board = Board {
    name: "icebreaker",
    device: "up5k",
    package: "sg48",
    dir: "rtl/board/icebreaker",
    top: "icebreaker_top",
    pcf: "icebreaker.pcf",
    sources: "sources.f",
    // The board configuration is defined once, in rtl/regmap/accel.toml (BOARD_*): the
    // SB_PLL40 output clock, the engine set and lane count that fit (docs/fpga.md), which the
    // Verilated board SoC (`cnnfpga sim --board icebreaker`) simulates as well.
    clock_mhz: firmware::regs::BOARD_CLOCK_HZ as f64 / 1e6,
    conv: true,
    pengine: firmware::regs::BOARD_ENABLE_PENGINE != 0,
    conv_lanes: firmware::regs::BOARD_CONV_LANES as u32,
};

/// All boards.
pub const BOARDS: &[Board] = &[ICEBREAKER];

impl Board {
    /// Looks a board up by name.
    pub fn by_name(name: &str) -> Option<Board> {
        BOARDS.iter().copied().find(|b| b.name == name)
    }

    /// The pin constraints file under `root`.
    pub fn pcf_path(&self, root: &Path) -> PathBuf {
        root.join(self.dir).join(self.pcf)
    }

    /// The RTL source files in read order (the `filelist` crate reads the list and its `-f`
    /// includes), `$PICORV32/` and `$SERV/` expanded to the venv's packages
    /// ([`filelist::vendor_dir`]: `$PICORV32_DIR`, `$SERV_DIR` or scripts/setup.sh's `.venv`).
    pub fn source_files(&self, root: &Path) -> Result<Vec<PathBuf>, FpgaError> {
        let list = format!("{}/{}", self.dir, self.sources);
        filelist::files(root, &list).map_err(|e| FpgaError::Sources(e.to_string()))
    }
}

/// The repository root: `$CNNFPGA_ROOT`, else the first ancestor of the current directory that
/// holds `rtl/board`, else the workspace this binary was built from.
pub fn repo_root() -> PathBuf {
    if let Some(r) = std::env::var_os("CNNFPGA_ROOT") {
        return PathBuf::from(r);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for a in cwd.ancestors() {
            if a.join("rtl/board").is_dir() {
                return a.to_path_buf();
            }
        }
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
