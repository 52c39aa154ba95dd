//! `cnnfpga fpga build|flash|classify`: bitstream for a board, writing it plus the model to
//! flash, and classifying images on the flashed board over its UART.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::fpga::board::{repo_root, Board, BOARDS};
use crate::fpga::{build, BuildConfig, FlashPlan, FlashTool, Stage};
use crate::outdir::{Input, OutDir, Producer};

/// FPGA subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum FpgaCommand {
    /// Synthesise, place and route and pack the SoC (cached by RTL hash), make the firmware
    /// flash image, check the model, and report resources, Fmax and the flash layout.
    Build(BuildArgs),
    /// Write the bitstream (offset 0), firmware image and model blob to the board's flash.
    Flash(FlashArgs),
    /// Send images to the flashed board over its UART (framed requests with CRC, docs/fpga.md)
    /// and print the board's class, logits and cycles for each, checked against the host's
    /// integer path. `--sim` talks to the Verilated board SoC instead (same firmware, same
    /// frames, the RX pin driven with real serial timing); `--dry-run` only describes the
    /// frames.
    Classify(ClassifyArgs),
}

/// Arguments of `cnnfpga fpga classify`.
#[derive(Debug, clap::Args)]
pub struct ClassifyArgs {
    /// Image files (JPEG/PNG; decoded and resized to the model's input like `cnnfpga sim`).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// The quantised model on the board (directory with model.blob, or the blob): its input
    /// shape and classes are checked against the board's, and every result against its host
    /// integer prediction.
    #[arg(long)]
    pub model: PathBuf,
    /// Serial port of the board's UART (the FT2232H's second interface, usually /dev/ttyUSB1).
    #[arg(long, required_unless_present_any = ["sim", "dry_run"], conflicts_with_all = ["sim", "dry_run"])]
    pub port: Option<String>,
    /// Talk to the Verilated board SoC (the bitstream's RTL) instead of a board.
    #[arg(long, conflicts_with = "dry_run")]
    pub sim: bool,
    /// Describe the frames that would be sent; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// UART bit rate (the firmware's is fixed at build time: UART_BAUD in rtl/regmap/accel.toml).
    #[arg(long, default_value_t = firmware::regs::UART_BAUD as u32)]
    pub baud: u32,
    /// Seconds to wait for each reply (a 64x64x3 image takes ~0.53 s on the line at 230400 baud).
    #[arg(long, default_value_t = 30.0, value_parser = parse_timeout)]
    pub timeout: f64,
    /// Print JSON (a list of results) instead of one line per image.
    #[arg(long)]
    pub json: bool,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t > 0.0 && t <= 3600.0 => Ok(t),
        _ => Err(format!(
            "timeout `{s}` must be a number of seconds in (0, 3600]"
        )),
    }
}

fn parse_board(s: &str) -> Result<Board, String> {
    Board::by_name(s).ok_or_else(|| {
        let names: Vec<&str> = BOARDS.iter().map(|b| b.name).collect();
        format!("unknown board `{s}` (supported: {})", names.join(", "))
    })
}

/// Arguments of `cnnfpga fpga build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Board.
    #[arg(long, default_value = "icebreaker", value_parser = parse_board)]
    pub board: Board,
    /// Quantised model directory (holding model.blob or model.bin) or a blob file.
    #[arg(long, conflicts_with = "blob")]
    pub model: Option<PathBuf>,
    /// Model blob file (same as --model FILE).
    #[arg(long)]
    pub blob: Option<PathBuf>,
    /// Input image for the INPUT flash area (HWC u8 of the model's input shape): the
    /// firmware classifies it once at power-up and stops. Without it (the default) the
    /// firmware serves images sent with `cnnfpga fpga classify`.
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// Firmware: the `soc` ELF or its raw binary (default: the shipped firmware, built from
    /// firmware/ at its shipped profile and cached by a hash of its sources, as `cnnfpga sim`
    /// does).
    #[arg(long)]
    pub firmware: Option<PathBuf>,
    /// Set the firmware header's software-only flag (every layer on the CPU).
    #[arg(long)]
    pub software_only: bool,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// nextpnr placement seed (default: the board's, BOARD_PNR_SEED in rtl/regmap/accel.toml).
    #[arg(long, default_value_t = firmware::regs::BOARD_PNR_SEED as u32)]
    pub seed: u32,
    /// Include the P-layer engine (default: the board's fitting set, see docs/fpga.md; a
    /// design that does not fit stops with the utilisation numbers).
    #[arg(long)]
    pub pengine: Option<bool>,
    /// Include the NP conv engine (default: the board's fitting set).
    #[arg(long)]
    pub conv: Option<bool>,
    /// Single-cycle multiplier in DSP blocks (PicoRV32 ENABLE_FAST_MUL; without the flag: the
    /// board's BOARD_FAST_MUL, 0 = BOARD_CPU_MUL decides: the iterative multiplier or none).
    /// The default firmware is riscv32i and does not use it: pass a riscv32im build with
    /// --firmware.
    #[arg(long)]
    pub fast_mul: bool,
    /// MAC lanes of the conv engine (default: the board's BOARD_CONV_LANES in
    /// rtl/regmap/accel.toml; docs/fpga.md "What fits").
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub conv_lanes: Option<u32>,
    /// Place-and-route cache (default: fpga-cache in the cargo target directory).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Re-run synthesis and place and route even if cached.
    #[arg(long)]
    pub rebuild: bool,
    /// Print the report as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// No progress display.
    #[arg(long)]
    pub quiet: bool,
    /// Replace an existing --out even if it is not a previous `fpga build` output (never an
    /// input).
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `cnnfpga fpga flash`.
#[derive(Debug, clap::Args)]
pub struct FlashArgs {
    /// Board.
    #[arg(long, default_value = "icebreaker", value_parser = parse_board)]
    pub board: Board,
    /// Bitstream (`<out>/<board>.bin` of `fpga build`); the `firmware.img` next to it is
    /// written too unless --firmware is given.
    #[arg(long, required_unless_present = "model_only")]
    pub bitstream: Option<PathBuf>,
    /// Firmware: `firmware.img` of `fpga build`, or the `soc` ELF.
    #[arg(long)]
    pub firmware: Option<PathBuf>,
    /// Model blob file or model directory.
    #[arg(long, required_if_eq("model_only", "true"))]
    pub model: Option<PathBuf>,
    /// Input image (HWC u8).
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// Write only the model (and --image): bitstream and firmware stay.
    #[arg(long, conflicts_with = "firmware")]
    pub model_only: bool,
    /// Print the commands, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Programmer.
    #[arg(long, value_enum, default_value_t = FlashTool::Iceprog)]
    pub tool: FlashTool,
}

/// Runs `cnnfpga fpga ...`.
pub fn run(c: FpgaCommand) -> anyhow::Result<()> {
    match c {
        FpgaCommand::Build(a) => run_build(a),
        FpgaCommand::Flash(a) => run_flash(a),
        FpgaCommand::Classify(a) => run_classify(a),
    }
}

fn run_classify(a: ClassifyArgs) -> anyhow::Result<()> {
    use crate::fpga::classify::{self, Link};
    let blob = crate::simrun::read_blob(&a.model)?;
    let model = firmware::model::Model::parse(&blob).expect("checked by read_blob");
    let timeout = Duration::from_secs_f64(a.timeout);
    if a.dry_run {
        for image in &a.images {
            let input = crate::simrun::load_input(image, &model)?;
            let f = firmware::proto::frame(firmware::proto::KIND_CLASSIFY, &input);
            let n = f.len();
            println!(
                "{}: frame {} bytes (header {:02x?}, payload {} bytes HWC u8, CRC-32 {:02x?}), {:.2} s on the line at {} baud",
                image.display(),
                n,
                &f[..firmware::proto::HEADER_LEN],
                input.len(),
                &f[n - firmware::proto::TRAILER_LEN..],
                n as f64 * 10.0 / f64::from(a.baud),
                a.baud
            );
        }
        return Ok(());
    }
    let mut link: Box<dyn Link> = if a.sim {
        eprintln!("starting the Verilated board SoC in serve mode...");
        Box::new(classify::SimLink::start(&blob, sim::SocConfig::Icebreaker)?)
    } else {
        let port = a.port.as_deref().expect("clap: --port, --sim or --dry-run");
        Box::new(classify::SerialLink::open(port, a.baud)?)
    };
    classify::check_board_model(link.as_mut(), &model, timeout)?;
    let mut results = Vec::new();
    for image in &a.images {
        let r = classify::classify_one(link.as_mut(), &model, image, timeout)?;
        if !a.json {
            println!(
                "{}: class {} {} logits {:?} cycles {} ({:.1} ms at {:.2} MHz){}",
                r.image.display(),
                r.class,
                r.class_name,
                r.logits,
                r.cycles,
                r.ms_at_clock,
                firmware::regs::BOARD_CLOCK_HZ as f64 / 1e6,
                if r.matches_host {
                    ""
                } else {
                    "  DIFFERS FROM THE HOST"
                }
            );
        }
        results.push(r);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    let bad: Vec<String> = results
        .iter()
        .filter(|r| !r.matches_host)
        .map(|r| r.image.display().to_string())
        .collect();
    anyhow::ensure!(
        bad.is_empty(),
        "the board's result differs from the host integer prediction for {}",
        bad.join(", ")
    );
    Ok(())
}

fn run_build(a: BuildArgs) -> anyhow::Result<()> {
    let mut inputs = Vec::new();
    for (flag, p) in [
        ("--model", &a.model),
        ("--blob", &a.blob),
        ("--image", &a.image),
        ("--firmware", &a.firmware),
    ] {
        inputs.extend(p.as_deref().map(|p| Input::new(flag, p)));
    }
    let out = OutDir::prepare(&a.out, Producer::FpgaBuild, &inputs, a.force)?;
    let root = repo_root();
    let firmware = match a.firmware.clone() {
        Some(f) => f,
        // The shipped firmware built from firmware/ the way `cnnfpga sim` does (cached by a
        // hash of its sources): never a stale ELF left in target/ by an earlier build.
        None => {
            if !a.quiet {
                eprintln!(
                    "building the firmware ({}, shipped profile; cached)...",
                    sim::soc::TARGET
                );
            }
            sim::soc::Firmware::build(&sim::soc::Firmware::default_target_dir())
                .map_err(|e| anyhow::anyhow!("building the firmware: {e}"))?
                .elf
        }
    };
    anyhow::ensure!(
        firmware.is_file(),
        "firmware {} not found: build it with `cargo build -p firmware --profile firmware \
         --target {} --features soc`, or pass --firmware",
        firmware.display(),
        sim::soc::TARGET
    );
    // Built in a sibling directory, renamed over --out only when the whole build succeeded.
    let staging = out.stage()?;
    let mut cfg = BuildConfig::new(a.board, root, staging.path().to_path_buf());
    cfg.firmware = Some(firmware);
    if a.software_only {
        cfg.firmware_flags |= firmware::memmap::FW_FLAG_SOFTWARE;
    }
    // Without a baked-in image the board serves images over the UART (`fpga classify`).
    if a.image.is_none() {
        cfg.firmware_flags |= firmware::memmap::FW_FLAG_SERVE;
    }
    cfg.model = a.model.clone().or(a.blob.clone());
    cfg.image = a.image.clone();
    cfg.seed = a.seed;
    cfg.pengine = a.pengine.unwrap_or(cfg.pengine);
    cfg.conv = a.conv.unwrap_or(cfg.conv);
    cfg.fast_mul |= a.fast_mul;
    cfg.conv_lanes = a.conv_lanes.unwrap_or(cfg.conv_lanes);
    if let Some(d) = a.cache_dir.clone() {
        cfg.cache_dir = d;
    }
    cfg.rebuild = a.rebuild;

    let pb = ProgressBar::new_spinner();
    if a.quiet {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {msg}").expect("valid template"),
    );
    pb.enable_steady_tick(Duration::from_millis(200));
    let mut current: Option<(Stage, Instant)> = None;
    let mut on_stage = |s: Stage| {
        if let Some((prev, t)) = current.take() {
            pb.println(format!("  {prev}: {:.1} s", t.elapsed().as_secs_f64()));
        }
        pb.set_message(format!("{s}"));
        current = Some((s, Instant::now()));
    };
    let res = build(&cfg, &mut on_stage);
    if let Some((prev, t)) = current.take() {
        pb.println(format!("  {prev}: {:.1} s", t.elapsed().as_secs_f64()));
    }
    pb.finish_and_clear();
    let report = res.with_context(|| format!("fpga build for {}", cfg.board.name))?;
    staging.commit()?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    for name in crate::fpga::report::KEY_RESOURCES {
        if let Some(r) = report.resource(name) {
            println!(
                "{:<15} {:>5} / {:<5} {:>4.0}%",
                r.name,
                r.used,
                r.available,
                r.percent()
            );
        }
    }
    println!(
        "Fmax {:.2} MHz (target {:.2} MHz, the board clock; 5 % slack required){}",
        report.pnr.fmax_mhz,
        report.target_mhz,
        report
            .pnr
            .icetime_mhz
            .map(|m| format!(", icetime {m:.2} MHz"))
            .unwrap_or_default()
    );
    println!(
        "bitstream {} ({:.0} s yosys + {:.0} s nextpnr); build {:.1} s",
        if report.cache_hit {
            "from cache"
        } else {
            "built"
        },
        report.pnr.yosys_s,
        report.pnr.nextpnr_s,
        report.total_s
    );
    for r in &report.flash {
        if let Some(f) = &r.file {
            println!(
                "flash {:#08x}: {} ({} bytes)",
                r.offset,
                a.out.join(f).display(),
                r.bytes
            );
        }
    }
    println!("report: {}", a.out.join("report.md").display());
    Ok(())
}

fn run_flash(a: FlashArgs) -> anyhow::Result<()> {
    let _ = a.board; // one board today; the layout is the SoC's, not the board's
    let work = std::env::temp_dir().join(format!("cnnfpga-flash-{}", std::process::id()));
    let bitstream = if a.model_only {
        None
    } else {
        a.bitstream.clone()
    };
    let firmware = match (&a.firmware, &bitstream) {
        (Some(f), _) => Some(f.clone()),
        (None, Some(b)) => {
            let img = b.with_file_name("firmware.img");
            img.is_file().then_some(img)
        }
        (None, None) => None,
    };
    let plan = FlashPlan::new(
        a.tool,
        bitstream.as_deref(),
        firmware.as_deref(),
        a.model.as_deref(),
        a.image.as_deref(),
        &work,
    )?;
    for (s, line) in plan.steps.iter().zip(plan.command_lines()) {
        println!("# {}: {} bytes at {:#08x}", s.what, s.bytes, s.offset);
        println!("{line}");
    }
    if a.dry_run {
        return Ok(());
    }
    plan.execute()?;
    println!("done: watch the UART with `picocom -b 230400 /dev/ttyUSB1`");
    Ok(())
}
