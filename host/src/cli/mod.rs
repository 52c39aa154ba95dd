//! The `cnnfpga` command line. Adding a subcommand: one variant in [`Command`] holding its
//! `clap::Args` struct, and one `run` function in its own module, dispatched in [`run`].
//!
//! Without the `hw` feature the simulation and FPGA subcommands (`sim`, `fpga`, `bench soc`)
//! stay listed, so scripts and `--help` read the same, but take any arguments and stop with
//! [`WITHOUT_HW`] ([`NotBuilt`]); `demo` skips its SoC and bitstream stages.

use clap::{Parser, Subcommand};

pub mod bench;
pub mod demo;
pub mod eval;
pub mod export;
#[cfg(feature = "hw")]
pub mod fpga;
pub mod import;
pub mod predict;
pub mod quantize;
pub mod report;
#[cfg(feature = "hw")]
pub mod sim;
pub mod train;

/// Most `--threads` accepted: a fixed bound rather than a multiple of the cores, so a command
/// line means the same on every machine; far above any useful count for this workload (the
/// batch loops split into per-image tasks), far below what exhausts a process's thread limit.
pub const MAX_THREADS: usize = 256;

/// Why a simulation or FPGA subcommand stops in a build without the `hw` feature.
pub const WITHOUT_HW: &str = "this cnnfpga was built without the `hw` feature, which holds \
the Verilated SoC and the FPGA flow (its build needs Verilator); rebuild with default features: \
`cargo build --release -p host`";

/// The arguments of a subcommand left out of this build (no `hw` feature): any are accepted,
/// so the error is [`WITHOUT_HW`] whatever the command line, never a parse error.
#[derive(Debug, clap::Args)]
pub struct NotBuilt {
    /// Ignored.
    #[arg(
        num_args = 0..,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        hide = true
    )]
    pub args: Vec<std::ffi::OsString>,
}

impl NotBuilt {
    /// The error for `cnnfpga <command>`.
    pub fn error(&self, command: &str) -> anyhow::Error {
        anyhow::anyhow!("`cnnfpga {command}`: {WITHOUT_HW}")
    }
}

/// cnnfpga: train, evaluate and deploy a small image CNN.
#[derive(Debug, Parser)]
#[command(
    name = "cnnfpga",
    version,
    about = "cnnfpga: train a small image CNN, compress it, and run it bit-exactly on a RISC-V soft-core with accelerators (Verilator, iCE40)",
    after_help = "The flow (each step checked against the one before it):\n\
  1. cnnfpga train    --data DIR --out MODEL            float model (paper-cnn or mlp)\n\
  2. cnnfpga eval     --model MODEL --data DIR          accuracy, P/R/F1, confusion (float or quantised)\n\
  3. cnnfpga quantize --model MODEL --data DIR --out Q  NP int8 + pruned power-of-two P layers -> Q/model.blob\n\
  4. cnnfpga export   --model Q --out DIR               blob, $readmemh images, golden vectors\n\
     (cnnfpga import --onnx F --out MODEL and cnnfpga export --model MODEL --onnx F: ONNX in/out)\n\
  5. cnnfpga sim      --model Q --image IMG             the firmware on the Verilated PicoRV32 SoC\n\
  6. cnnfpga fpga build --board icebreaker --model Q    bitstream + flash images; `fpga flash` writes them\n\
cnnfpga demo runs 1-6 on the shipped model and data/sample; cnnfpga report reproduces the paper's\n\
experiment. Every option's default is shown in each subcommand's --help."
)]
pub struct Cli {
    /// rayon worker threads, 1..=256 (default: all cores).
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS as i64))]
    pub threads: Option<u16>,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole pipeline on the shipped defaults: float model, quantise, export, SoC simulation,
    /// summary table, report figures and (when the tools are installed) a bitstream.
    Demo(demo::Args),
    /// Train a float model from a class-per-folder image tree.
    Train(train::Args),
    /// Evaluate a model on a class-per-folder image tree.
    Eval(eval::Args),
    /// Prune and quantise a float model into a firmware blob (NP int8 + P power-of-two layers).
    Quantize(quantize::Args),
    /// Export a quantised model: blob, $readmemh images, golden vectors; or (--onnx FILE) a
    /// float model as ONNX.
    Export(export::Args),
    /// Import an ONNX model (PyTorch, Keras via tf2onnx) as a float model directory.
    Import(import::Args),
    /// Classify image files.
    Predict(predict::Args),
    /// Reproduce the paper's CNN-vs-MLP experiment with ablations: report.md, metrics.json, figures.
    Report(report::Args),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Run one image through the firmware on the Verilated SoC (cycles, engines vs software).
    #[cfg(feature = "hw")]
    Sim(sim::Args),
    /// Run one image through the firmware on the Verilated SoC [not in this build: needs the
    /// `hw` feature].
    #[cfg(not(feature = "hw"))]
    Sim(NotBuilt),
    /// FPGA bitstream build and flashing (iCEBreaker).
    #[cfg(feature = "hw")]
    #[command(subcommand)]
    Fpga(fpga::FpgaCommand),
    /// FPGA bitstream build and flashing (iCEBreaker) [not in this build: needs the `hw`
    /// feature].
    #[cfg(not(feature = "hw"))]
    Fpga(NotBuilt),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(t) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(t))
            .build_global()?;
    }
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Quantize(a) => quantize::run(a),
        Command::Export(a) => export::run(a),
        Command::Import(a) => import::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Bench(c) => bench::run(c),
        #[cfg(feature = "hw")]
        Command::Fpga(c) => fpga::run(c),
        #[cfg(not(feature = "hw"))]
        Command::Fpga(a) => Err(a.error("fpga")),
        Command::Report(a) => report::run(a),
        #[cfg(feature = "hw")]
        Command::Sim(a) => sim::run(a),
        #[cfg(not(feature = "hw"))]
        Command::Sim(a) => Err(a.error("sim")),
    }
}
