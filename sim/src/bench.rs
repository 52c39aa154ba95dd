//! The SoC benchmark behind `cargo bench -p sim --bench soc` and `cnnfpga bench soc`: one model
//! and one image through the firmware on the Verilated SoC, with the engines and in software
//! only (the same ELF; a flag in the flash header). Per-layer cycles, the speed-up, images/s at
//! the board clock, and the simulation speed of each run. Both
//! commands call [`run`] and print [`SocBench::markdown`], so they cannot disagree.
//!
//! ```no_run
//! let cfg = sim::bench::Config::paper();
//! let fw = sim::soc::Firmware::build(&sim::soc::Firmware::default_target_dir()).unwrap();
//! let b = sim::bench::run(&cfg, &fw, &mut |_, _| {}).unwrap();
//! print!("{}", b.markdown());
//! ```

use std::fmt::Write as _;

use serde::Serialize;

use crate::paper;
use crate::soc::{self, Firmware, Flash, RunOptions, SocConfig, SocError, Transcript};

/// The iCEBreaker bitstream's clock, MHz: the SB_PLL40 output `BOARD_CLOCK_HZ`
/// (rtl/regmap/accel.toml), which `cnnfpga fpga build` requires nextpnr to meet with 5 % slack.
pub const BOARD_MHZ: f64 = firmware::regs::BOARD_CLOCK_HZ as f64 / 1e6;

/// Errors of a benchmark run.
#[derive(Debug)]
#[non_exhaustive]
pub enum BenchError {
    /// The blob does not parse, or the image does not fit it.
    Model(String),
    /// Building the firmware, laying out the flash or running the SoC failed.
    Soc(SocError),
    /// The SoC's class or logits differ from the host's integer run.
    Mismatch {
        /// `engines` or `software`.
        mode: &'static str,
        /// The SoC's class and logits.
        soc: (usize, Vec<i32>),
        /// The host's.
        host: (usize, Vec<i32>),
    },
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchError::Model(s) => write!(f, "model: {s}"),
            BenchError::Soc(e) => write!(f, "{e}"),
            BenchError::Mismatch { mode, soc, host } => write!(
                f,
                "the SoC ({mode}) gives class {} logits {:?}, the host class {} logits {:?}",
                soc.0, soc.1, host.0, host.1
            ),
        }
    }
}

impl std::error::Error for BenchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BenchError::Soc(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SocError> for BenchError {
    fn from(e: SocError) -> Self {
        BenchError::Soc(e)
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Model blob (docs/model-format.md).
    pub blob: Vec<u8>,
    /// Input image, HWC u8 at the model's input shape.
    pub image: Vec<u8>,
    /// Also run every layer in software (minutes for the paper CNN).
    pub software: bool,
    /// Cycle limit of each run (from reset).
    pub max_cycles: u64,
    /// Clocks to quote images/s at, MHz.
    pub clocks_mhz: Vec<f64>,
    /// Which SoC (default: the iCEBreaker board's).
    pub config: SocConfig,
}

impl Config {
    /// The paper CNN's shape with random weights, `paper::paper_cnn(7, 64, 64, 10)`, on
    /// `paper::image(100, 64, 64, 3)`; both modes; the board SoC at its clock [`BOARD_MHZ`].
    pub fn paper() -> Config {
        Config {
            blob: paper::paper_cnn(7, 64, 64, 10),
            image: paper::image(100, 64, 64, 3),
            software: true,
            max_cycles: RunOptions::default().max_cycles,
            clocks_mhz: vec![BOARD_MHZ],
            config: SocConfig::Icebreaker,
        }
    }

    /// `blob` on a seeded random image of its input shape (`paper::image(100, h, w, c)`),
    /// otherwise as [`Config::paper`].
    pub fn for_blob(blob: Vec<u8>) -> Result<Config, BenchError> {
        let s = firmware::model::Model::parse(&blob)
            .map_err(|e| BenchError::Model(e.to_string()))?
            .input_shape();
        Ok(Config {
            image: paper::image(100, s.h, s.w, s.c),
            blob,
            ..Config::paper()
        })
    }
}

/// Inference time and rate at one clock.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AtClock {
    /// Clock, MHz.
    pub mhz: f64,
    /// Milliseconds per image (the whole inference, [`ModeResult::inference_cycles`]; boot
    /// not included).
    pub ms_per_image: f64,
    /// Images per second.
    pub images_per_second: f64,
}

/// One run: with the engines or software only.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModeResult {
    /// `engines` or `software`.
    pub mode: &'static str,
    /// Per-layer results.
    pub layers: Vec<soc::LayerLine>,
    /// Sum of the layers' cycles (each layer timed on its own).
    pub cycles: u64,
    /// Cycles of the whole inference: the layers and the firmware between them, the runner or
    /// the replay of the recorded engine runs (the firmware's `run cycles`, what a served
    /// request costs). Images/s are counted from this.
    pub inference_cycles: u64,
    /// Predicted class (equal to the host's, or [`run`] fails).
    pub class: usize,
    /// Logits.
    pub logits: Vec<i32>,
    /// The inference at each clock of [`Config::clocks_mhz`].
    pub at: Vec<AtClock>,
    /// Simulated cycles from reset to EXIT (boot ROM, flash copies, blob check included).
    pub sim_cycles: u64,
    /// Wall-clock seconds of the simulation.
    pub sim_seconds: f64,
    /// Simulated cycles per wall-clock second, millions.
    pub sim_mcycles_per_second: f64,
    /// Simulated cycles per CPU second of the simulating thread, millions (Linux; steadier
    /// than the wall-clock rate on a shared machine).
    pub sim_mcycles_per_cpu_second: Option<f64>,
}

impl ModeResult {
    fn new(
        mode: &'static str,
        t: &Transcript,
        run: &soc::SocRun,
        clocks_mhz: &[f64],
    ) -> ModeResult {
        ModeResult {
            mode,
            layers: t.layers.clone(),
            cycles: t.layers_cycles,
            inference_cycles: t.run_cycles,
            class: t.class,
            logits: t.logits.clone(),
            at: clocks_mhz
                .iter()
                .map(|&mhz| AtClock {
                    mhz,
                    ms_per_image: t.run_cycles as f64 / (mhz * 1e3),
                    images_per_second: mhz * 1e6 / t.run_cycles.max(1) as f64,
                })
                .collect(),
            sim_cycles: run.cycles,
            sim_seconds: run.seconds,
            sim_mcycles_per_second: run.cycles_per_second() / 1e6,
            sim_mcycles_per_cpu_second: run.cycles_per_cpu_second().map(|c| c / 1e6),
        }
    }

    /// Cycles of the conv layers.
    pub fn conv_cycles(&self) -> u64 {
        self.layers
            .iter()
            .filter(|l| l.kind == "conv")
            .map(|l| l.cycles)
            .sum()
    }
}

/// The benchmark's result (the `--json` output of `cnnfpga bench soc`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SocBench {
    /// The SoC configuration (`icebreaker` = the bitstream's).
    pub config: String,
    /// Its conv engine lanes.
    pub conv_lanes: usize,
    /// Its conv engine fetch FIFO depth.
    pub conv_fifo_depth: usize,
    /// The CPU (`SERV`, `PicoRV32`).
    pub cpu: String,
    /// Whether it has the P engine.
    pub pengine: bool,
    /// MAC utilisation of each conv layer run on the conv engine: MACs / (cycles x lanes).
    pub conv_utilisation: Vec<(usize, f64)>,
    /// Firmware image bytes (what the boot ROM copies).
    pub firmware_bytes: usize,
    /// Firmware opt-level.
    pub firmware_opt_level: String,
    /// Model blob bytes.
    pub blob_bytes: usize,
    /// The host's integer prediction (`firmware::runner::run`, software backend).
    pub host_class: usize,
    /// The host's logits.
    pub host_logits: Vec<i32>,
    /// The run with the engines.
    pub engines: ModeResult,
    /// The software-only run, if asked for.
    pub software: Option<ModeResult>,
    /// Software-only cycles / engine cycles, all layers.
    pub speedup: Option<f64>,
    /// The same for the conv layers.
    pub conv_speedup: Option<f64>,
}

/// Runs the benchmark: the engines, then (if [`Config::software`]) software only; each result
/// must equal the host's integer run. `progress(mode, cycles since reset)` is called about every
/// [`soc::PROGRESS_CYCLES`] simulated cycles.
pub fn run(
    cfg: &Config,
    fw: &Firmware,
    progress: &mut dyn FnMut(&'static str, u64),
) -> Result<SocBench, BenchError> {
    let (host_class, host_logits) =
        paper::reference(&cfg.blob, &cfg.image).map_err(BenchError::Model)?;
    let mut results = Vec::new();
    for (mode, software) in [("engines", false), ("software", true)] {
        if software && !cfg.software {
            break;
        }
        let flash = Flash::new(fw, software, &cfg.blob, &cfg.image)?;
        let run = soc::run_with_progress(
            &flash,
            &RunOptions {
                max_cycles: cfg.max_cycles,
                config: cfg.config,
                ..RunOptions::default()
            },
            &mut |c| progress(mode, c),
        )?;
        let t = run.transcript()?;
        if (t.class, &t.logits) != (host_class, &host_logits) {
            return Err(BenchError::Mismatch {
                mode,
                soc: (t.class, t.logits),
                host: (host_class, host_logits),
            });
        }
        results.push(ModeResult::new(mode, &t, &run, &cfg.clocks_mhz));
    }
    let software = (results.len() > 1).then(|| results.remove(1));
    let engines = results.remove(0);
    let ratio = |a: u64, b: u64| a as f64 / b.max(1) as f64;
    let (conv_lanes, conv_fifo_depth, pengine) = cfg.config.engines();
    let conv_utilisation = engines
        .layers
        .iter()
        .filter(|l| l.engine == "conv")
        .map(|l| {
            (
                l.index,
                l.macs as f64 / (l.cycles.max(1) * conv_lanes as u64) as f64,
            )
        })
        .collect();
    Ok(SocBench {
        config: cfg.config.name().to_string(),
        conv_lanes,
        conv_fifo_depth,
        cpu: cfg.config.cpu().to_string(),
        pengine,
        conv_utilisation,
        firmware_bytes: fw.image.len(),
        firmware_opt_level: fw.opt_level.clone(),
        blob_bytes: cfg.blob.len(),
        host_class,
        host_logits,
        speedup: software.as_ref().map(|s| ratio(s.cycles, engines.cycles)),
        conv_speedup: software
            .as_ref()
            .map(|s| ratio(s.conv_cycles(), engines.conv_cycles())),
        engines,
        software,
    })
}

impl SocBench {
    /// The report: the per-layer table (Markdown, as in docs/performance.md "SoC"), the
    /// speed-ups, time and images/s per image at each clock, and the simulation speed.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "SoC configuration `{}`{}: CPU {}, conv engine {} lane(s), fetch FIFO {}, P engine {}",
            self.config,
            if self.config == SocConfig::Icebreaker.name() {
                " (what the iCEBreaker bitstream carries)"
            } else {
                " (not the board's)"
            },
            self.cpu,
            self.conv_lanes,
            self.conv_fifo_depth,
            if self.pengine { "yes" } else { "no" }
        );
        let _ = writeln!(
            s,
            "firmware: {} bytes (opt-level {}), model blob: {} bytes\n",
            self.firmware_bytes, self.firmware_opt_level, self.blob_bytes
        );
        let hw = &self.engines;
        match &self.software {
            Some(sw) => {
                s.push_str(
                    "| layer | kind | engines: on | cycles | software-only cycles | speed-up |\n",
                );
                s.push_str("| --- | --- | --- | ---: | ---: | ---: |\n");
                for (h, w) in hw.layers.iter().zip(&sw.layers) {
                    let _ = writeln!(
                        s,
                        "| {} | {} {}x{}x{} | {} | {} | {} | {:.1}x |",
                        h.index,
                        h.kind,
                        h.out.0,
                        h.out.1,
                        h.out.2,
                        h.engine,
                        h.cycles,
                        w.cycles,
                        w.cycles as f64 / h.cycles.max(1) as f64
                    );
                }
                let _ = writeln!(
                    s,
                    "| all layers | | | **{}** | **{}** | **{:.1}x** |",
                    hw.cycles,
                    sw.cycles,
                    self.speedup.unwrap_or(0.0)
                );
                let _ = writeln!(
                    s,
                    "| whole inference (the layers and the firmware between them) | | | **{}** | **{}** | |\n",
                    hw.inference_cycles, sw.inference_cycles
                );
                let _ = writeln!(
                    s,
                    "conv layers speed-up: {:.1}x",
                    self.conv_speedup.unwrap_or(0.0)
                );
            }
            None => {
                s.push_str("| layer | kind | engines: on | cycles |\n");
                s.push_str("| --- | --- | --- | ---: |\n");
                for h in &hw.layers {
                    let _ = writeln!(
                        s,
                        "| {} | {} {}x{}x{} | {} | {} |",
                        h.index, h.kind, h.out.0, h.out.1, h.out.2, h.engine, h.cycles
                    );
                }
                let _ = writeln!(s, "| all layers | | | **{}** |", hw.cycles);
                let _ = writeln!(
                    s,
                    "| whole inference (the layers and the firmware between them) | | | **{}** |\n",
                    hw.inference_cycles
                );
            }
        }
        for (i, u) in &self.conv_utilisation {
            let _ = writeln!(
                s,
                "layer {i} (conv engine): MAC utilisation {u:.3} of {} lane(s)",
                self.conv_lanes
            );
        }
        let runs: Vec<&ModeResult> = std::iter::once(hw).chain(&self.software).collect();
        for r in &runs {
            let at: Vec<String> =
                r.at.iter()
                    .map(|a| {
                        format!(
                            "{:.1} ms at {} MHz = {:.2} images/s",
                            a.ms_per_image, a.mhz, a.images_per_second
                        )
                    })
                    .collect();
            let _ = writeln!(
                s,
                "{}: {} cycles/image (whole inference) = {}",
                r.mode,
                r.inference_cycles,
                at.join(", ")
            );
        }
        for r in &runs {
            let cpu = r
                .sim_mcycles_per_cpu_second
                .map(|c| format!(" ({c:.2} M per CPU second)"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "simulation ({}): {} cycles from reset in {:.1} s = {:.2} M cycles/s{cpu}",
                r.mode, r.sim_cycles, r.sim_seconds, r.sim_mcycles_per_second
            );
        }
        s
    }
}
