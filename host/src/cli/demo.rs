//! `cnnfpga demo`: the main job on the shipped defaults, end to end.
//!
//! float model → quantise/compress → export → cycle-accurate SoC simulation of sample images
//! (engines and software-only) → summary table, plus a report folder with the figures and, when the
//! FPGA tools are installed, an iCEBreaker bitstream. Each stage is an ordinary `cnnfpga`
//! subcommand run in-process, so the demo shows exactly what a user would type.
//!
//! Without the `hw` feature the SoC and bitstream stages are skipped, with a line saying so in
//! the log and in summary.md.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Parser;

use crate::data::load_folder;
use crate::eval::evaluate;
use crate::model::SavedModel;
#[cfg(feature = "hw")]
use crate::simrun::{self, SimRequest, SimResult};

/// Arguments of `cnnfpga demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Float model to start from.
    #[arg(long, default_value = "models/animals5-cnn")]
    pub model: PathBuf,
    /// Image folder (one sub-folder per class) for quantisation, evaluation and the SoC runs.
    #[arg(long, default_value = "data/sample")]
    pub data: PathBuf,
    /// Output folder (quantised model, export, report, bitstream, summary.md).
    #[arg(long, default_value = "out/demo")]
    pub out: PathBuf,
    /// Images simulated on the SoC with the engines (the first image of each class, then more).
    #[arg(long, default_value_t = 5)]
    pub images: usize,
    /// Of those, how many also run software-only (every layer on the board's SERV: ~2.4 G
    /// cycles, about 7 minutes each in Verilator; docs/performance.md). 0 skips it.
    #[arg(long, default_value_t = 1)]
    pub software_images: usize,
    /// Skip the report figures.
    #[arg(long)]
    pub no_report: bool,
    /// Skip the bitstream build even when yosys/nextpnr are installed.
    #[arg(long)]
    pub no_fpga: bool,
    /// Write into an existing --out even if it is not a previous `demo` output (never an
    /// input).
    #[arg(long)]
    pub force: bool,
}

/// One row of the summary table.
#[cfg(feature = "hw")]
struct Row {
    image: PathBuf,
    truth: String,
    engines: SimResult,
    software: Option<SimResult>,
}

/// No SoC runs in a build without the `hw` feature.
#[cfg(not(feature = "hw"))]
enum Row {}

/// Runs `cnnfpga demo`.
pub fn run(a: Args) -> anyhow::Result<()> {
    anyhow::ensure!(a.images > 0, "--images must be at least 1");
    anyhow::ensure!(
        a.software_images <= a.images,
        "--software-images ({}) cannot exceed --images ({})",
        a.software_images,
        a.images
    );
    // Checked, not staged: each step below replaces its own sub-directory atomically.
    crate::outdir::OutDir::prepare(
        &a.out,
        crate::outdir::Producer::Demo,
        &[
            crate::outdir::Input::new("--model", &a.model),
            crate::outdir::Input::new("--data", &a.data),
        ],
        a.force,
    )?;
    let t0 = Instant::now();
    let mut times: Vec<(&str, f64)> = Vec::new();
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let qdir = a.out.join("model-int");
    let total = 4
        + usize::from(cfg!(feature = "hw"))
        + usize::from(!a.no_report)
        + usize::from(fpga_tools_present() && !a.no_fpga);
    let mut n = 0;
    let mut stage = |name: &str| {
        n += 1;
        eprintln!("\n== [{n}/{total}] {name}");
        Instant::now()
    };

    // 1. the float model
    let t = stage(&format!(
        "float model {} on {}",
        a.model.display(),
        a.data.display()
    ));
    let m = SavedModel::load(&a.model).with_context(|| format!("loading {}", a.model.display()))?;
    let (ds, _) = load_folder(&a.data).with_context(|| format!("loading {}", a.data.display()))?;
    ds.check_classes(&m.meta.classes)?;
    let float_metrics = evaluate(&m.net, &ds)?;
    eprintln!(
        "float accuracy {:.3}, macro F1 {:.3} on {} images",
        float_metrics.accuracy,
        float_metrics.macro_f1,
        ds.len()
    );
    times.push(("float model", t.elapsed().as_secs_f64()));

    // 2. quantise / compress with the shipped settings (the `quantize` defaults)
    let t = stage("quantise: NP int8 convs + pruned power-of-two dense (shipped settings)");
    sub(&[
        "quantize",
        "--model",
        s(&a.model),
        "--data",
        s(&a.data),
        "--out",
        s(&qdir),
    ])?;
    let quant = read_json(&qdir.join("quant.json"))?;
    times.push(("quantise", t.elapsed().as_secs_f64()));

    // 3. export: blob, memory images, golden vectors
    let t = stage("export: model blob, $readmemh images, golden vectors");
    let export_dir = a.out.join("export");
    sub(&[
        "export",
        "--model",
        s(&qdir),
        "--out",
        s(&export_dir),
        "--data",
        s(&a.data),
    ])?;
    times.push(("export", t.elapsed().as_secs_f64()));

    // 4. the SoC
    #[cfg(feature = "hw")]
    let rows = {
        let t =
            stage("cycle-accurate board SoC (the bitstream's RTL and configuration, Verilator)");
        let images = pick_images(&a.data, a.images)?;
        let bar = indicatif::ProgressBar::new((a.images + a.software_images) as u64).with_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} SoC runs {msg} [{elapsed}]",
            )
            .expect("valid template"),
        );
        let mut rows = Vec::new();
        for (i, (image, truth)) in images.into_iter().enumerate() {
            let req = |software| SimRequest {
                model: qdir.clone(),
                image: image.clone(),
                software,
                trace: None,
                max_cycles: sim::soc::DEFAULT_MAX_CYCLES,
                config: sim::SocConfig::Icebreaker,
            };
            bar.set_message(format!("{} (engines)", image.display()));
            let engines = simrun::run(&req(false))?;
            bar.inc(1);
            let software = if i < a.software_images {
                bar.set_message(format!("{} (software only)", image.display()));
                let r = simrun::run(&req(true))?;
                bar.inc(1);
                Some(r)
            } else {
                None
            };
            rows.push(Row {
                image,
                truth,
                engines,
                software,
            });
        }
        bar.finish_and_clear();
        times.push(("SoC simulation", t.elapsed().as_secs_f64()));
        rows
    };
    #[cfg(not(feature = "hw"))]
    let rows: Vec<Row> = {
        eprintln!("\n(SoC simulation skipped: {})", super::WITHOUT_HW);
        Vec::new()
    };

    // 5. figures
    if !a.no_report {
        let t = stage("report figures (quick CNN vs MLP comparison on the sample data)");
        sub(&[
            "report",
            "--data",
            s(&a.data),
            "--out",
            s(&a.out.join("report")),
            "--quick",
        ])?;
        times.push(("report", t.elapsed().as_secs_f64()));
    }

    // 6. bitstream, when the tools are there
    if fpga_tools_present() && !a.no_fpga {
        let t = stage("iCEBreaker bitstream (yosys, nextpnr-ice40, icepack; cached)");
        sub(&[
            "fpga",
            "build",
            "--board",
            "icebreaker",
            "--model",
            s(&qdir),
            "--out",
            s(&a.out.join("fpga")),
        ])?;
        times.push(("bitstream", t.elapsed().as_secs_f64()));
    } else if !a.no_fpga && cfg!(feature = "hw") {
        eprintln!(
            "\n(bitstream skipped: yosys/nextpnr-ice40/icepack not found; run scripts/setup.sh)"
        );
    } else if !a.no_fpga {
        eprintln!("\n(bitstream skipped: {})", super::WITHOUT_HW);
    }

    stage("summary");
    let md = summary(&a, &rows, &quant, float_metrics.accuracy, &times, t0);
    println!("{md}");
    crate::model::write_dir_atomic(&a.out.join("summary"), &[("summary.md", md.as_bytes())])?;
    #[cfg(feature = "hw")]
    if rows
        .iter()
        .any(|r| !r.engines.matches_host || r.software.as_ref().is_some_and(|s| !s.matches_host))
    {
        anyhow::bail!(
            "a SoC result differs from the host integer prediction (see the table above)"
        );
    }
    eprintln!(
        "done in {:.0} s; everything is in {}",
        t0.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

/// Runs one `cnnfpga` subcommand in-process.
fn sub(args: &[&str]) -> anyhow::Result<()> {
    let mut argv = vec!["cnnfpga"];
    argv.extend_from_slice(args);
    eprintln!("$ {}", argv.join(" "));
    let cli = super::Cli::try_parse_from(&argv).map_err(|e| anyhow::anyhow!("{e}"))?;
    super::run(cli).with_context(|| format!("`{}` failed", argv.join(" ")))
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

#[cfg(feature = "hw")]
fn fpga_tools_present() -> bool {
    ["yosys", "nextpnr-ice40", "icepack"]
        .iter()
        .all(|t| crate::fpga::tools::find(t).is_some())
}

/// No bitstream stage without the `hw` feature.
#[cfg(not(feature = "hw"))]
fn fpga_tools_present() -> bool {
    false
}

/// The first image of each class, then the second of each, ... until `n` images.
#[cfg(feature = "hw")]
fn pick_images(data: &Path, n: usize) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let classes = crate::data::class_names(data)?;
    let mut per_class = Vec::new();
    for c in &classes {
        let mut files: Vec<PathBuf> = std::fs::read_dir(data.join(c))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        per_class.push(files);
    }
    let mut out = Vec::new();
    for round in 0.. {
        let before = out.len();
        for (c, files) in classes.iter().zip(&per_class) {
            if out.len() < n {
                if let Some(f) = files.get(round) {
                    out.push((f.clone(), c.clone()));
                }
            }
        }
        if out.len() == n || out.len() == before {
            break;
        }
    }
    Ok(out)
}

fn summary(
    a: &Args,
    rows: &[Row],
    quant: &serde_json::Value,
    float_acc: f64,
    times: &[(&str, f64)],
    t0: Instant,
) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "# cnnfpga demo summary\n");
    #[cfg(feature = "hw")]
    soc_table(&mut o, rows);
    #[cfg(not(feature = "hw"))]
    let _ = writeln!(
        o,
        "SoC simulation and bitstream skipped: {}.",
        super::WITHOUT_HW
    );
    let get = |path: &[&str]| -> Option<f64> {
        let mut v = quant;
        for p in path {
            v = v.get(*p)?;
        }
        v.as_f64()
    };
    let _ = writeln!(o);
    if let Some(r) = get(&["compression", "ratio"]) {
        let _ = writeln!(
            o,
            "- compression ratio: **{r:.1}x** (float32 parameters / deployed blob)"
        );
    }
    let _ = writeln!(
        o,
        "- float accuracy on {}: {:.3}",
        a.data.display(),
        float_acc
    );
    if let (Some(f), Some(i), Some(agree)) = (
        get(&["metrics", "float", "accuracy"]),
        get(&["metrics", "integer", "accuracy"]),
        get(&["metrics", "agreement_float"]),
    ) {
        let _ = writeln!(
            o,
            "- held-out split ({} images): float {f:.3}, integer (firmware runner) {i:.3}, argmax agreement {agree:.3}",
            get(&["metrics", "images"]).unwrap_or(0.0)
        );
    }
    #[cfg(feature = "hw")]
    soc_speed(&mut o, rows);
    if let Ok(fpga) = read_json(&a.out.join("fpga").join("report.json")) {
        let used = |name: &str| -> String {
            fpga["pnr"]["resources"]
                .as_array()
                .and_then(|rs| rs.iter().find(|r| r["name"] == name))
                .map(|r| format!("{}/{}", r["used"], r["available"]))
                .unwrap_or_else(|| "?".into())
        };
        let _ = writeln!(
            o,
            "- iCEBreaker bitstream: LC {}, EBR {}, DSP {}, SPRAM {}, Fmax {:.2} MHz (board clock {:.2} MHz + 5 %)",
            used("ICESTORM_LC"),
            used("ICESTORM_RAM"),
            used("ICESTORM_DSP"),
            used("ICESTORM_SPRAM"),
            fpga["pnr"]["fmax_mhz"].as_f64().unwrap_or(0.0),
            firmware::regs::BOARD_CLOCK_HZ as f64 / 1e6
        );
    }
    #[cfg(not(feature = "hw"))]
    let _ = rows;
    let _ = writeln!(o, "\n| stage | wall time (s) |\n|---|---:|");
    for (name, secs) in times {
        let _ = writeln!(o, "| {name} | {secs:.1} |");
    }
    let _ = writeln!(o, "| total | {:.1} |", t0.elapsed().as_secs_f64());
    let _ = writeln!(
        o,
        "\nOutputs: quantised model `{}`, export `{}`, report `{}`.",
        a.out.join("model-int").display(),
        a.out.join("export").display(),
        a.out.join("report").display()
    );
    o
}

/// The summary's table of SoC runs.
#[cfg(feature = "hw")]
fn soc_table(o: &mut String, rows: &[Row]) {
    use std::fmt::Write;
    let _ = writeln!(
        o,
        "| image | true class | SoC class | matches host | cycles (engines) | cycles (software) | speed-up |"
    );
    let _ = writeln!(o, "|---|---|---|---|---:|---:|---:|");
    for r in rows {
        let name = r
            .image
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (sw, up) = match &r.software {
            Some(s) => (
                s.inference_cycles.to_string(),
                format!(
                    "{:.0}x",
                    s.inference_cycles as f64 / r.engines.inference_cycles.max(1) as f64
                ),
            ),
            None => ("-".into(), "-".into()),
        };
        let matches = r.engines.matches_host && r.software.as_ref().is_none_or(|s| s.matches_host);
        let _ = writeln!(
            o,
            "| {}/{} | {} | {} | {} | {} | {} | {} |",
            r.truth,
            name,
            r.truth,
            r.engines.class_name,
            if matches { "yes" } else { "NO" },
            r.engines.inference_cycles,
            sw,
            up
        );
    }
}

/// The summary's line on the board SoC's speed (mean of the engine runs).
#[cfg(feature = "hw")]
fn soc_speed(o: &mut String, rows: &[Row]) {
    use std::fmt::Write;
    let mean_cycles = rows
        .iter()
        .map(|r| r.engines.inference_cycles as f64)
        .sum::<f64>()
        / rows.len().max(1) as f64;
    let clock = firmware::regs::BOARD_CLOCK_HZ as f64;
    let _ = writeln!(
        o,
        "- board SoC (iCEBreaker configuration): {:.0} cycles per image with its engines = {:.2} images/s at the board clock {:.2} MHz",
        mean_cycles,
        clock / mean_cycles.max(1.0),
        clock / 1e6
    );
}
