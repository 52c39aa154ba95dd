//! `cnnfpga sim`: run one image through the firmware on the Verilated SoC.

use std::path::PathBuf;

use sim::SocConfig;

use crate::simrun::{self, SimRequest};

/// Arguments of `cnnfpga sim`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Quantised model directory (holding `model.blob`) or a `.blob` file.
    #[arg(long)]
    pub model: PathBuf,
    /// Image file (JPEG/PNG; resized to the model's input like the training data).
    #[arg(long)]
    pub image: PathBuf,
    /// Run every layer in software (no engines; same firmware, a flag in its flash header).
    #[arg(long)]
    pub software: bool,
    /// Write an FST waveform of the whole run (large: ~1 GB per 10 M cycles). Never the
    /// --image or --model, nor inside the model directory.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Stop with an error after this many cycles (a software-only run of a 64x64 model takes
    /// ~2.4 G on the board's SERV).
    #[arg(long, default_value_t = sim::soc::DEFAULT_MAX_CYCLES)]
    pub max_cycles: u64,
    /// SoC configuration: `icebreaker` (the board's bitstream: SERV, both engines, lanes and
    /// UART, from rtl/regmap/accel.toml), `icebreaker-fastmul` (PicoRV32 with its single-cycle
    /// multiplier instead of SERV) or `wide` (the PicoRV32 reference: PicoRV32 with the
    /// default engines, which does not fit the UP5K).
    #[arg(long, default_value = "icebreaker", value_parser = parse_config)]
    pub board: SocConfig,
}

/// `--board NAME` of `cnnfpga sim` and `cnnfpga bench soc`.
pub fn parse_config(s: &str) -> Result<SocConfig, String> {
    SocConfig::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = SocConfig::ALL.iter().map(|c| c.name()).collect();
        format!(
            "unknown SoC configuration `{s}` (known: {})",
            names.join(", ")
        )
    })
}

/// Runs `cnnfpga sim`. Exit status non-zero on any failure, including a SoC result that
/// differs from the host's.
pub fn run(a: Args) -> anyhow::Result<()> {
    if let Some(t) = &a.trace {
        use crate::outdir::{check_out_file, Input};
        check_out_file(
            t,
            &[
                Input::new("--model", &a.model),
                Input::new("--image", &a.image),
            ],
        )?;
    }
    let r = simrun::run(&SimRequest {
        model: a.model,
        image: a.image,
        software: a.software,
        trace: a.trace,
        max_cycles: a.max_cycles,
        config: a.board,
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!("class {} {}", r.class, r.class_name);
        println!(
            "logits {}",
            r.logits
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        );
        for l in &r.layers {
            println!(
                "layer {} {:<7} on {:<7} cycles {:>10} macs {}",
                l.index, l.kind, l.engine, l.cycles, l.macs
            );
        }
        println!(
            "cycles {} per image, the firmware between the layers included ({:.1} ms at the board clock, {:.2} MHz); layers {}",
            r.inference_cycles, r.ms_at_clock, r.clock_mhz, r.cycles
        );
        println!("SoC configuration {}", r.config);
        println!(
            "total {} cycles from reset, simulated at {:.2} M cycles/s",
            r.total_cycles,
            r.sim_cycles_per_second / 1e6
        );
        println!(
            "matches host: {}{}",
            if r.matches_host { "yes" } else { "NO" },
            if r.matches_host {
                String::new()
            } else {
                format!(" (host class {}, logits {:?})", r.host_class, r.host_logits)
            }
        );
    }
    anyhow::ensure!(
        r.matches_host,
        "the SoC result differs from the host's integer prediction"
    );
    Ok(())
}
