//! `cnnfpga bench ...`. `bench soc` needs the `hw` feature (the Verilated SoC).

use std::path::PathBuf;

use anyhow::Context;

use crate::bench::bench_train;
use crate::data::load_folder;
use crate::model::Arch;
use crate::optim::OptimConfig;

/// Benchmark subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Training images/second of paper-cnn (Adam) and mlp (SGD).
    Train(TrainArgs),
    /// The firmware on the Verilated SoC with the engines and in software only: per-layer
    /// cycles, speed-up, images/s at the board clock, MAC utilisation, simulation speed
    /// (what `cargo bench -p sim --bench soc` prints).
    #[cfg(feature = "hw")]
    Soc(SocArgs),
    /// The firmware on the Verilated SoC [not in this build: needs the `hw` feature].
    #[cfg(not(feature = "hw"))]
    Soc(crate::cli::NotBuilt),
}

/// Arguments of `cnnfpga bench train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Data folder (images are cycled through; no augmentation).
    #[arg(long)]
    pub data: PathBuf,
    /// Batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Timed steps per architecture.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Only this architecture (paper-cnn or mlp).
    #[arg(long)]
    pub arch: Option<String>,
    /// Also time the on-the-fly augmentation alone.
    #[arg(long)]
    pub augment: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `cnnfpga bench soc`.
#[cfg(feature = "hw")]
#[derive(Debug, clap::Args)]
pub struct SocArgs {
    /// Quantised model directory (holding `model.blob`) or a `.blob` file [default: the paper
    /// CNN's shape with random weights, `sim::paper::paper_cnn(7, 64, 64, 10)`].
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Image file (JPEG/PNG, resized to the model's input like the training data) [default: a
    /// seeded random image of the model's input shape].
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// Skip the software-only run (every layer on the board's SERV: ~2.4 G cycles for a 64x64
    /// model, about 7 minutes of simulation).
    #[arg(long)]
    pub engines_only: bool,
    /// SoC configuration: `icebreaker` (the bitstream's: SERV and both engines),
    /// `icebreaker-fastmul` or `wide` (PicoRV32 references, which do not fit the board).
    #[arg(long, default_value = "icebreaker", value_parser = crate::cli::sim::parse_config)]
    pub board: sim::SocConfig,
    /// Another clock to quote images/s at besides the board clock (the PLL's
    /// BOARD_CLOCK_HZ), MHz.
    #[arg(long)]
    pub fpga_mhz: Option<f64>,
    /// Stop with an error after this many cycles per run.
    #[arg(long, default_value_t = sim::soc::DEFAULT_MAX_CYCLES)]
    pub max_cycles: u64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs a benchmark subcommand.
pub fn run(c: BenchCommand) -> anyhow::Result<()> {
    match c {
        BenchCommand::Train(a) => run_train(a),
        #[cfg(feature = "hw")]
        BenchCommand::Soc(a) => run_soc(a),
        #[cfg(not(feature = "hw"))]
        BenchCommand::Soc(a) => Err(a.error("bench soc")),
    }
}

#[cfg(feature = "hw")]
fn run_soc(a: SocArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.fpga_mhz.is_none_or(|m| m.is_finite() && m > 0.0) && a.max_cycles > 0,
        "--fpga-mhz and --max-cycles must be > 0"
    );
    let mut cfg = match &a.model {
        Some(m) => sim::bench::Config::for_blob(crate::simrun::read_blob(m)?)?,
        None => sim::bench::Config::paper(),
    };
    if let Some(path) = &a.image {
        let model =
            firmware::model::Model::parse(&cfg.blob).map_err(|e| anyhow::anyhow!("model: {e}"))?;
        cfg.image = crate::simrun::load_input(path, &model)?;
    }
    cfg.software = !a.engines_only;
    cfg.max_cycles = a.max_cycles;
    cfg.clocks_mhz = std::iter::once(sim::bench::BOARD_MHZ)
        .chain(a.fpga_mhz)
        .collect();
    cfg.config = a.board;
    let fw = sim::soc::Firmware::build(&sim::soc::Firmware::default_target_dir())?;
    let mut p = Progress::new();
    let b = sim::bench::run(&cfg, &fw, &mut |mode, cycles| p.update(mode, cycles));
    p.finish();
    let b = b?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&b)?);
    } else {
        print!("{}", b.markdown());
    }
    Ok(())
}

fn run_train(a: TrainArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.batch > 0 && a.steps > 0,
        "--batch and --steps must be > 0"
    );
    let (ds, _) = load_folder(&a.data).with_context(|| format!("loading {}", a.data.display()))?;
    let k = ds.classes.len();
    let archs: Vec<(Arch, OptimConfig)> = [
        (
            "paper-cnn",
            Arch::paper_cnn(k, 64, 0.5),
            OptimConfig::adam(1e-3),
        ),
        ("mlp", Arch::mlp(k, 64), OptimConfig::sgd(0.1, 0.0)),
    ]
    .into_iter()
    .filter(|(n, _, _)| a.arch.as_deref().is_none_or(|x| x == *n))
    .map(|(_, arch, o)| (arch, o))
    .collect();
    anyhow::ensure!(!archs.is_empty(), "unknown --arch (paper-cnn or mlp)");
    let mut results = Vec::new();
    for (arch, optim) in archs {
        let r = bench_train(arch, optim, &ds, a.batch, a.steps)?;
        if !a.json {
            let per_cpu = r
                .cpu_seconds
                .map(|c| format!(", {:.1} images/CPU-s", (r.batch * r.steps) as f64 / c))
                .unwrap_or_default();
            println!(
                "{:10} batch {:4}  {:8.1} images/s  {:7.2} ms/step  ({} threads, {} steps{per_cpu})",
                r.arch, r.batch, r.images_per_second, r.ms_per_step, r.threads, r.steps
            );
        }
        results.push(r);
    }
    let augment = a
        .augment
        .then(|| crate::bench::bench_augment(&ds, a.batch, a.steps));
    if let (Some(r), false) = (augment, a.json) {
        println!("augment    batch {:4}  {:8.1} images/s", a.batch, r);
    }
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "train": results, "augment_images_per_second": augment })
        );
    }
    Ok(())
}

/// A progress line on stderr: rewritten in place on a terminal (twice a second), else one
/// line every 10 s.
#[cfg(feature = "hw")]
struct Progress {
    tty: bool,
    every: std::time::Duration,
    last: std::time::Instant,
    mode_start: std::time::Instant,
    mode: &'static str,
    /// A line without its newline is on the terminal.
    open: bool,
}

#[cfg(feature = "hw")]
impl Progress {
    fn new() -> Self {
        use std::io::IsTerminal;
        let tty = std::io::stderr().is_terminal();
        let now = std::time::Instant::now();
        Progress {
            tty,
            every: std::time::Duration::from_millis(if tty { 500 } else { 10_000 }),
            last: now,
            mode_start: now,
            mode: "",
            open: false,
        }
    }

    fn update(&mut self, mode: &'static str, cycles: u64) {
        use std::io::Write;
        let now = std::time::Instant::now();
        if mode != self.mode {
            self.finish();
            (self.mode, self.mode_start) = (mode, now);
        }
        if now - self.last < self.every {
            return;
        }
        self.last = now;
        let s = (now - self.mode_start).as_secs_f64();
        let line = format!(
            "{mode}: {:.0} M cycles in {s:.0} s ({:.1} M cycles/s)",
            cycles as f64 / 1e6,
            cycles as f64 / s.max(1e-9) / 1e6
        );
        if self.tty {
            eprint!("\r{line}   ");
            let _ = std::io::stderr().flush();
            self.open = true;
        } else {
            eprintln!("{line}");
        }
    }

    /// Ends the line in progress, if any.
    fn finish(&mut self) {
        if self.open {
            eprintln!();
            self.open = false;
        }
    }
}
