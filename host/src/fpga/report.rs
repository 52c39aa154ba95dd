//! The build report: resources and Fmax from nextpnr (`--report` JSON, or the log when nextpnr
//! stopped before writing it), icetime's estimate, wall times and the flash layout.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::FpgaError;

/// One device resource as nextpnr counts it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// nextpnr's name (`ICESTORM_LC`, `ICESTORM_RAM`, `ICESTORM_DSP`, `ICESTORM_SPRAM`, ...).
    pub name: String,
    /// Used.
    pub used: u32,
    /// Available on the device.
    pub available: u32,
}

impl Resource {
    /// Use in percent of the available count.
    pub fn percent(&self) -> f64 {
        if self.available == 0 {
            0.0
        } else {
            100.0 * self.used as f64 / self.available as f64
        }
    }
}

/// What place and route produced (cached with the placed design).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PnrResult {
    /// All resources nextpnr reports.
    pub resources: Vec<Resource>,
    /// Achieved Fmax of the system clock (nextpnr).
    pub fmax_mhz: f64,
    /// icetime's estimate for the same placed design, if icetime ran.
    pub icetime_mhz: Option<f64>,
    /// yosys wall time, s.
    pub yosys_s: f64,
    /// nextpnr wall time, s.
    pub nextpnr_s: f64,
    /// Tool versions.
    pub tools: Vec<String>,
}

/// One region of the SPI flash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlashRegion {
    /// What it holds.
    pub what: String,
    /// Byte offset in the flash.
    pub offset: u32,
    /// Bytes written (0 if absent).
    pub bytes: u64,
    /// Largest size the layout allows.
    pub max_bytes: u64,
    /// File in the output directory, if any.
    pub file: Option<String>,
}

/// The report `fpga build` writes as `report.json` and `report.md`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuildReport {
    /// Board name.
    pub board: String,
    /// Device and package (`up5k-sg48`).
    pub device: String,
    /// Parameters of the top (`FastMul`, `EnableConv`, `EnablePengine`).
    pub params: Vec<(String, String)>,
    /// Target clock, MHz.
    pub target_mhz: f64,
    /// nextpnr seed.
    pub seed: u32,
    /// Hash of the RTL inputs and parameters (cache key).
    pub rtl_hash: String,
    /// Whether place and route came from the cache.
    pub cache_hit: bool,
    /// Place-and-route results.
    pub pnr: PnrResult,
    /// Firmware ELF or binary the image was made from.
    pub firmware: Option<String>,
    /// Bitstream file name in the output directory.
    pub bitstream: String,
    /// Flash layout.
    pub flash: Vec<FlashRegion>,
    /// Wall time of this build, s.
    pub total_s: f64,
    /// The commands that produced the bitstream.
    pub commands: Vec<String>,
}

impl BuildReport {
    /// The resource named `name` (e.g. `ICESTORM_LC`).
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.pnr.resources.iter().find(|r| r.name == name)
    }

    /// Markdown rendering.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "# FPGA build: {} ({})\n\nparameters: {}; seed {}; RTL hash `{}`{}\n\n",
            self.board,
            self.device,
            self.params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.seed,
            self.rtl_hash,
            if self.cache_hit {
                " (bitstream from cache)"
            } else {
                ""
            }
        ));
        s.push_str("| resource | used | available | % |\n|---|---:|---:|---:|\n");
        for name in KEY_RESOURCES {
            if let Some(r) = self.resource(name) {
                s.push_str(&format!(
                    "| {} | {} | {} | {:.0} |\n",
                    r.name,
                    r.used,
                    r.available,
                    r.percent()
                ));
            }
        }
        s.push_str(&format!(
            "\nFmax {:.2} MHz (nextpnr){} vs target {:.2} MHz.\n\
             yosys {:.1} s, nextpnr {:.1} s; this build {:.1} s.\n\n",
            self.pnr.fmax_mhz,
            self.pnr
                .icetime_mhz
                .map(|m| format!(", {m:.2} MHz (icetime)"))
                .unwrap_or_default(),
            self.target_mhz,
            self.pnr.yosys_s,
            self.pnr.nextpnr_s,
            self.total_s
        ));
        if let Some(f) = &self.firmware {
            s.push_str(&format!("Firmware image from `{f}`.\n\n"));
        }
        s.push_str("| flash offset | content | bytes | max | file |\n|---|---|---:|---:|---|\n");
        for r in &self.flash {
            s.push_str(&format!(
                "| `{:#08x}` | {} | {} | {} | {} |\n",
                r.offset,
                r.what,
                r.bytes,
                r.max_bytes,
                r.file.as_deref().unwrap_or("-")
            ));
        }
        s.push_str("\nCommands:\n\n```\n");
        for c in &self.commands {
            s.push_str(c);
            s.push('\n');
        }
        s.push_str("```\n");
        s
    }
}

/// Resources shown in the Markdown table and checked against the baseline.
pub const KEY_RESOURCES: [&str; 4] = [
    "ICESTORM_LC",
    "ICESTORM_RAM",
    "ICESTORM_DSP",
    "ICESTORM_SPRAM",
];

#[derive(Deserialize)]
struct NpUtil {
    used: u32,
    available: u32,
}

#[derive(Deserialize)]
struct NpFmax {
    achieved: f64,
}

#[derive(Deserialize)]
struct NpReport {
    utilization: std::collections::BTreeMap<String, NpUtil>,
    fmax: std::collections::BTreeMap<String, NpFmax>,
}

/// Parses nextpnr's `--report` JSON: resources and the lowest Fmax over the clocks.
pub fn parse_nextpnr_report(path: &Path) -> Result<(Vec<Resource>, f64), FpgaError> {
    let bad = |reason: String| FpgaError::Report {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(super::io_err("reading", path))?;
    let r: NpReport = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let resources = r
        .utilization
        .into_iter()
        .map(|(name, u)| Resource {
            name,
            used: u.used,
            available: u.available,
        })
        .collect();
    let fmax = r
        .fmax
        .values()
        .map(|f| f.achieved)
        .fold(f64::INFINITY, f64::min);
    if !fmax.is_finite() {
        return Err(bad("no clock in `fmax`".into()));
    }
    Ok((resources, fmax))
}

/// Resources from nextpnr's log ("Device utilisation" lines: `ICESTORM_LC:  6512/ 5280   123%`),
/// for when it stops before writing the report (the design does not fit).
pub fn parse_nextpnr_log_utilisation(log: &str) -> Vec<Resource> {
    let mut out: Vec<Resource> = Vec::new();
    for line in log.lines() {
        let l = line.trim_start_matches("Info:").trim();
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty()
            || name.contains(' ')
            || !name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            continue;
        }
        let Some((used, rest)) = rest.split_once('/') else {
            continue;
        };
        let avail = rest.split_whitespace().next().unwrap_or("");
        if let (Ok(u), Ok(a)) = (used.trim().parse(), avail.parse()) {
            out.retain(|r| r.name != name); // keep the last report (after packing)
            out.push(Resource {
                name: name.to_string(),
                used: u,
                available: a,
            });
        }
    }
    out
}

/// icetime's `Total path delay: 66.37 ns (15.07 MHz)` -> 15.07.
pub fn parse_icetime_mhz(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.contains("Total path delay"))?;
    let open = line.rfind('(')?;
    let mhz = line[open + 1..].split_whitespace().next()?;
    mhz.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_utilisation() {
        // From a real nextpnr-ice40 0.4 log (the SoC with both engines, too big).
        let log = "Info: Device utilisation:\nInfo: \t         ICESTORM_LC:  6512/ 5280   123%\n\
                   Info: \t        ICESTORM_RAM:    20/   30    66%\nInfo: \t       SB_GB:     8/    8   100%\n";
        let r = parse_nextpnr_log_utilisation(log);
        assert_eq!(
            r[0],
            Resource {
                name: "ICESTORM_LC".into(),
                used: 6512,
                available: 5280
            }
        );
        assert_eq!(r.len(), 3);
        let e = super::super::FpgaError::DoesNotFit {
            device: "up5k".into(),
            resources: r,
        };
        assert!(
            e.to_string().contains("ICESTORM_LC 6512/5280 (123%)"),
            "{e}"
        );
    }

    #[test]
    fn icetime_line() {
        assert_eq!(
            parse_icetime_mhz(
                "Total number of logic levels: 12\nTotal path delay: 66.37 ns (15.07 MHz)\n"
            ),
            Some(15.07)
        );
        assert_eq!(parse_icetime_mhz("nothing"), None);
    }
}
