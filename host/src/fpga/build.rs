//! The build flow: cached synthesis, place and route, timing and packing of the SoC (keyed by
//! the RTL inputs), then the per-build flash contents (firmware image, model blob, input
//! image) and the report.

use std::fmt;
use std::path::{Path, PathBuf};

use std::time::Instant;

use sha2::{Digest, Sha256};

use super::report::{self, BuildReport, FlashRegion, PnrResult};
use super::{
    board::Board, fwimage, io_err, tools, FlashArea, FpgaError, FLASH_BITSTREAM, FLASH_FW,
    FLASH_INPUT, FLASH_MODEL,
};

/// Bumped when the flow's commands change, so old cache entries are not reused.
const FLOW_VERSION: &str = "cnnfpga-fpga-flow-2";

/// The tools the build needs (icetime is optional: it adds a second Fmax estimate).
pub const BUILD_TOOLS: [&str; 3] = ["yosys", "nextpnr-ice40", "icepack"];

/// What to build.
#[derive(Clone, Debug)]
pub struct BuildConfig {
    /// Board.
    pub board: Board,
    /// Repository root (RTL sources).
    pub root: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Firmware: the `soc` ELF or its raw binary (linked at `FW_ADDR`).
    pub firmware: Option<PathBuf>,
    /// Firmware header flags (`firmware::memmap::FW_FLAG_*`).
    pub firmware_flags: u32,
    /// Model blob (validated, copied to `out/model.blob`).
    pub model: Option<PathBuf>,
    /// Input image (HWC u8), copied to `out/image.bin`.
    pub image: Option<PathBuf>,
    /// nextpnr seed.
    pub seed: u32,
    /// Include the NP conv engine (`EnableConv`).
    pub conv: bool,
    /// Include the P-layer engine (`EnablePengine`).
    pub pengine: bool,
    /// Single-cycle DSP multiplier (`FastMul`).
    pub fast_mul: bool,
    /// Conv engine MAC lanes (`ConvLanes`).
    pub conv_lanes: u32,
    /// Place-and-route cache directory.
    pub cache_dir: PathBuf,
    /// Ignore the cache (and refresh it).
    pub rebuild: bool,
}

impl BuildConfig {
    /// Defaults for `board`: seed `BOARD_PNR_SEED`, the board's engine set and CPU, cache in
    /// `<target dir>/fpga-cache`.
    pub fn new(board: Board, root: PathBuf, out: PathBuf) -> Self {
        let cache_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"))
            .join("fpga-cache");
        Self {
            board,
            root,
            out,
            firmware: None,
            firmware_flags: 0,
            model: None,
            image: None,
            seed: firmware::regs::BOARD_PNR_SEED as u32,
            conv: board.conv,
            pengine: board.pengine,
            fast_mul: firmware::regs::BOARD_FAST_MUL != 0,
            conv_lanes: board.conv_lanes,
            cache_dir,
            rebuild: false,
        }
    }

    /// Top-level parameters as `(name, value)`, in the top's order.
    pub fn params(&self) -> Vec<(String, String)> {
        vec![
            ("Cpu".into(), firmware::regs::BOARD_CPU.to_string()),
            ("FastMul".into(), u8::from(self.fast_mul).to_string()),
            ("EnableConv".into(), u8::from(self.conv).to_string()),
            ("EnablePengine".into(), u8::from(self.pengine).to_string()),
            ("ConvLanes".into(), self.conv_lanes.to_string()),
            (
                "ConvFifoDepth".into(),
                firmware::regs::BOARD_FETCH_FIFO_DEPTH.to_string(),
            ),
        ]
    }
}

/// Flow stages, reported to the progress callback as they start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Firmware image, model and input checks.
    Inputs,
    /// yosys.
    Synthesis,
    /// nextpnr.
    PlaceRoute,
    /// icetime.
    Timing,
    /// icepack.
    Pack,
    /// Bitstream found in the cache.
    Cached,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Inputs => "firmware image and model",
            Stage::Synthesis => "synthesis (yosys)",
            Stage::PlaceRoute => "place and route (nextpnr-ice40)",
            Stage::Timing => "timing (icetime)",
            Stage::Pack => "bitstream (icepack)",
            Stage::Cached => "bitstream from cache",
        })
    }
}

/// Runs the flow. `progress` is called as each stage starts. Writes into `cfg.out`:
/// `<board>.bin` (bitstream), `firmware.img`, `model.blob`, `image.bin` (those given),
/// `report.json`, `report.md`, and `pnr/` (synthesis script, logs, nextpnr report).
pub fn build(cfg: &BuildConfig, progress: &mut dyn FnMut(Stage)) -> Result<BuildReport, FpgaError> {
    let t0 = Instant::now();
    tools::require(&BUILD_TOOLS)?;
    let out = &cfg.out;
    std::fs::create_dir_all(out).map_err(io_err("creating", out))?;
    let out = std::fs::canonicalize(out).map_err(io_err("resolving", out))?;

    // ---- flash contents: checked before the long part ----
    progress(Stage::Inputs);
    let mut files: Vec<(FlashArea, Option<(String, u64)>)> = vec![];
    let fw = match &cfg.firmware {
        Some(p) => {
            let bin = fwimage::load_binary(p, &out)?;
            let img = fwimage::image(&bin, cfg.firmware_flags, p)?;
            write(&out.join("firmware.img"), &img)?;
            Some(("firmware.img".to_string(), img.len() as u64))
        }
        None => None,
    };
    let model_blob = cfg.model.as_deref().map(read_model).transpose()?;
    let model = match &model_blob {
        Some(blob) => {
            write(&out.join("model.blob"), blob)?;
            Some(("model.blob".to_string(), blob.len() as u64))
        }
        None => None,
    };
    let image = match &cfg.image {
        Some(p) => {
            let Some(blob) = &model_blob else {
                return Err(FpgaError::BadImage {
                    path: p.clone(),
                    reason: "an input image needs --model to check it against".into(),
                });
            };
            let img = read_image(p, blob)?;
            write(&out.join("image.bin"), &img)?;
            Some(("image.bin".to_string(), img.len() as u64))
        }
        None => None,
    };
    for (name, present) in [
        ("firmware.img", &fw),
        ("model.blob", &model),
        ("image.bin", &image),
    ] {
        if present.is_none() {
            let _ = std::fs::remove_file(out.join(name)); // no stale file from an earlier build
        }
    }

    // ---- bitstream (cached) ----
    let sources = cfg.board.source_files(&cfg.root)?;
    let pcf = cfg.board.pcf_path(&cfg.root);
    let versions = vec![
        tools::version("yosys", "-V"),
        tools::version("nextpnr-ice40", "--version"),
    ];
    let key = cache_key(cfg, &sources, &pcf, &versions)?;
    let entry = cfg.cache_dir.join(format!("{}-{}", cfg.board.name, key));
    let cached = ["pnr.json", "bitstream.bin"]
        .iter()
        .all(|f| entry.join(f).is_file());
    let (pnr, cache_hit) = if !cfg.rebuild && cached {
        progress(Stage::Cached);
        let path = entry.join("pnr.json");
        let text = std::fs::read_to_string(&path).map_err(io_err("reading", &path))?;
        let pnr: PnrResult = serde_json::from_str(&text).map_err(|e| FpgaError::Report {
            path,
            reason: e.to_string(),
        })?;
        (pnr, true)
    } else {
        (
            place_and_route(cfg, &sources, &pcf, versions, &entry, progress)?,
            false,
        )
    };
    check_pnr(cfg, &pnr)?;
    let bin = out.join(format!("{}.bin", cfg.board.name));
    std::fs::copy(entry.join("bitstream.bin"), &bin).map_err(io_err("copying", &bin))?;
    let bin_len = std::fs::metadata(&bin)
        .map_err(io_err("reading", &bin))?
        .len();
    if bin_len > FLASH_BITSTREAM.len as u64 {
        return Err(FpgaError::Sources(format!(
            "bitstream {bin_len} bytes exceeds its {}-byte flash area",
            FLASH_BITSTREAM.len
        )));
    }
    let logs = out.join("pnr");
    std::fs::create_dir_all(&logs).map_err(io_err("creating", &logs))?;
    for f in [
        "synth.ys",
        "yosys.log",
        "nextpnr.log",
        "nextpnr-report.json",
        "icetime.txt",
        "commands.txt",
    ] {
        let from = entry.join(f);
        if from.is_file() {
            std::fs::copy(&from, logs.join(f)).map_err(io_err("copying", &from))?;
        }
    }
    let commands = std::fs::read_to_string(entry.join("commands.txt"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();

    files.push((FLASH_BITSTREAM, Some((file_name(&bin), bin_len))));
    files.push((FLASH_FW, fw));
    files.push((FLASH_MODEL, model));
    files.push((FLASH_INPUT, image));
    let flash = files
        .into_iter()
        .map(|(area, f)| FlashRegion {
            what: area.what.into(),
            offset: area.offset,
            bytes: f.as_ref().map_or(0, |f| f.1),
            max_bytes: area.len as u64,
            file: f.map(|f| f.0),
        })
        .collect();
    let report = BuildReport {
        board: cfg.board.name.into(),
        device: format!("{}-{}", cfg.board.device, cfg.board.package),
        params: cfg.params(),
        target_mhz: cfg.board.clock_mhz,
        seed: cfg.seed,
        rtl_hash: key,
        cache_hit,
        pnr,
        firmware: cfg.firmware.as_ref().map(|p| p.display().to_string()),
        bitstream: file_name(&bin),
        flash,
        total_s: t0.elapsed().as_secs_f64(),
        commands,
    };
    let json = serde_json::to_string_pretty(&report).expect("report serialises");
    write(&out.join("report.json"), json.as_bytes())?;
    write(&out.join("report.md"), report.to_markdown().as_bytes())?;
    Ok(report)
}

/// Reads a model blob (a file, or a model directory holding `model.blob` or `model.bin`) and
/// checks it with the firmware's own reader and the flash slot size.
pub fn read_model(path: &Path) -> Result<Vec<u8>, FpgaError> {
    let file = resolve_model(path)?;
    let bad = |reason: String| FpgaError::BadModel {
        path: file.clone(),
        reason,
    };
    let blob = std::fs::read(&file).map_err(io_err("reading", &file))?;
    let max = firmware::memmap::MODEL_MAX_LEN.min(FLASH_MODEL.len);
    if blob.len() > max as usize {
        return Err(bad(format!(
            "{} bytes exceed the {max}-byte MODEL area",
            blob.len()
        )));
    }
    firmware::model::Model::parse(&blob).map_err(|e| bad(e.to_string()))?;
    Ok(blob)
}

/// `path` itself if it is a file; in a directory `model.blob`, then `model.bin`.
pub fn resolve_model(path: &Path) -> Result<PathBuf, FpgaError> {
    if path.is_dir() {
        for name in ["model.blob", "model.bin"] {
            let p = path.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
        return Err(FpgaError::BadModel {
            path: path.to_path_buf(),
            reason: "directory holds neither model.blob nor model.bin".into(),
        });
    }
    Ok(path.to_path_buf())
}

/// Whether `path` names raw input bytes (`.bin`) rather than an image file to decode.
pub fn is_raw_image(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("bin"))
}

/// The INPUT-area bytes for `path`, checked against the input shape of `blob` (a model the
/// firmware reader accepts): a `.bin` file must hold exactly `h*w*c` bytes (u8 HWC); anything
/// else is decoded and resized like `cnnfpga sim --image` ([`crate::simrun::load_input`]).
/// Also checks the flash slot size.
pub fn read_image(path: &Path, blob: &[u8]) -> Result<Vec<u8>, FpgaError> {
    let bad = |reason: String| FpgaError::BadImage {
        path: path.to_path_buf(),
        reason,
    };
    let model = firmware::model::Model::parse(blob)
        .map_err(|e| bad(format!("the model to check it against is invalid: {e}")))?;
    let s = model.input_shape();
    let img = if is_raw_image(path) {
        let img = std::fs::read(path).map_err(io_err("reading", path))?;
        let want = s.h * s.w * s.c;
        if img.len() != want {
            return Err(bad(format!(
                "raw input is {} bytes; the model takes {}x{}x{} = {want} bytes (u8 HWC); \
                 pass a JPEG/PNG to have it decoded and resized",
                img.len(),
                s.h,
                s.w,
                s.c
            )));
        }
        img
    } else {
        crate::simrun::load_input(path, &model).map_err(|e| {
            bad(format!(
                "{e} (an image file is decoded and resized to the model's input; raw HWC \
                 bytes need a .bin name)"
            ))
        })?
    };
    let max = firmware::memmap::INPUT_MAX_LEN.min(FLASH_INPUT.len);
    if img.len() > max as usize {
        return Err(FpgaError::ImageTooBig {
            path: path.to_path_buf(),
            bytes: img.len(),
            max,
        });
    }
    Ok(img)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), FpgaError> {
    std::fs::write(path, bytes).map_err(io_err("writing", path))
}

/// Hash of everything the placed design depends on: flow version, board, parameters, seed,
/// every RTL source and the PCF (by content), and the tool versions. The firmware and the model
/// are not part of it.
fn cache_key(
    cfg: &BuildConfig,
    sources: &[PathBuf],
    pcf: &Path,
    versions: &[String],
) -> Result<String, FpgaError> {
    let mut h = Sha256::new();
    h.update(FLOW_VERSION);
    h.update(format!(
        "{:?}\nseed {}\n{:?}\n",
        cfg.board,
        cfg.seed,
        cfg.params()
    ));
    for f in sources.iter().chain(std::iter::once(&pcf.to_path_buf())) {
        let bytes = std::fs::read(f).map_err(io_err("reading", f))?;
        h.update(file_name(f));
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    for v in versions {
        h.update(v);
    }
    let d = h.finalize();
    Ok(d.iter().take(8).map(|b| format!("{b:02x}")).collect())
}

fn place_and_route(
    cfg: &BuildConfig,
    sources: &[PathBuf],
    pcf: &Path,
    tool_versions: Vec<String>,
    entry: &Path,
    progress: &mut dyn FnMut(Stage),
) -> Result<PnrResult, FpgaError> {
    let b = cfg.board;
    let mut commands = vec![];
    std::fs::create_dir_all(&cfg.cache_dir).map_err(io_err("creating", &cfg.cache_dir))?;
    let tmp = cfg
        .cache_dir
        .join(format!(".{}.{}.tmp", file_name(entry), std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io_err("creating", &tmp))?;

    progress(Stage::Synthesis);
    // Paths relative to the work directory: the YoWASP tools run in a WebAssembly sandbox that
    // sees the working directory and its parents by relative path but maps `/tmp` to a private
    // directory, so absolute paths under /tmp (a clone or a cache there) would not be found.
    let tmp = std::fs::canonicalize(&tmp).map_err(io_err("resolving", &tmp))?;
    let rel = |p: &Path| -> Result<String, FpgaError> {
        let abs = std::fs::canonicalize(p).map_err(io_err("resolving", p))?;
        Ok(tools::relative_to(&abs, &tmp).display().to_string())
    };
    let files: Vec<String> = sources
        .iter()
        .map(|p| rel(p).map(|r| tools::quote(&r)))
        .collect::<Result<_, _>>()?;
    let pcf_rel = rel(pcf)?;
    let chparams: String = cfg
        .params()
        .iter()
        .map(|(k, v)| format!(" -set {k} {v}"))
        .collect();
    let script = format!(
        "# generated by cnnfpga fpga build\nread_verilog -defer -sv {}\nchparam{} {}\nsynth_ice40 -top {} -dsp -json soc.json\n",
        files.join(" "),
        chparams,
        b.top,
        b.top
    );
    write(&tmp.join("synth.ys"), script.as_bytes())?;
    let mut yosys = tools::command("yosys");
    yosys.args(["-q", "-l", "yosys.log", "-s", "synth.ys"]);
    let t = Instant::now();
    tools::run(
        "yosys",
        &mut yosys,
        &tmp,
        None,
        None,
        Some(Path::new("yosys.log")),
    )?;
    let yosys_s = t.elapsed().as_secs_f64();
    commands.push(tools::display(&yosys));

    progress(Stage::PlaceRoute);
    let mut pnr = tools::command("nextpnr-ice40");
    pnr.arg(format!("--{}", b.device))
        .args(["--package", b.package, "--json", "soc.json", "--pcf"])
        .arg(&pcf_rel)
        .args(["--asc", "soc.asc", "--freq"])
        .arg(format!("{}", b.clock_mhz))
        .args(["--seed", &cfg.seed.to_string()])
        .args([
            "--threads",
            "1",
            "--timing-allow-fail",
            "--report",
            "nextpnr-report.json",
        ])
        .args(["-l", "nextpnr.log", "-q"]);
    let t = Instant::now();
    let res = tools::run(
        "nextpnr-ice40",
        &mut pnr,
        &tmp,
        None,
        None,
        Some(Path::new("nextpnr.log")),
    );
    let nextpnr_s = t.elapsed().as_secs_f64();
    commands.push(tools::display(&pnr));
    if let Err(e) = res {
        let log = std::fs::read_to_string(tmp.join("nextpnr.log")).unwrap_or_default();
        let resources = report::parse_nextpnr_log_utilisation(&log);
        if resources.iter().any(|r| r.used > r.available) {
            return Err(FpgaError::DoesNotFit {
                device: format!("{}-{}", b.device, b.package),
                resources,
            });
        }
        return Err(e);
    }
    let (resources, fmax_mhz) = report::parse_nextpnr_report(&tmp.join("nextpnr-report.json"))?;

    let icetime_mhz = if tools::find("icetime").is_some() {
        progress(Stage::Timing);
        let mut it = tools::command("icetime");
        it.args(["-d", b.device, "-P", b.package, "-p"])
            .arg(pcf)
            .args(["-t", "soc.asc"]);
        tools::run(
            "icetime",
            &mut it,
            &tmp,
            None,
            Some(Path::new("icetime.txt")),
            None,
        )?;
        commands.push(format!("{} > icetime.txt", tools::display(&it)));
        let text =
            std::fs::read_to_string(tmp.join("icetime.txt")).map_err(io_err("reading", &tmp))?;
        report::parse_icetime_mhz(&text)
    } else {
        None
    };

    let result = PnrResult {
        resources,
        fmax_mhz,
        icetime_mhz,
        yosys_s,
        nextpnr_s,
        tools: tool_versions,
    };
    // Only designs that fit and meet timing are packed and cached.
    check_pnr(cfg, &result)?;
    progress(Stage::Pack);
    let mut pack = tools::command("icepack");
    pack.args(["soc.asc", "bitstream.bin"]);
    tools::run("icepack", &mut pack, &tmp, None, None, None)?;
    commands.push(tools::display(&pack));
    write(
        &tmp.join("pnr.json"),
        serde_json::to_string_pretty(&result)
            .expect("serialises")
            .as_bytes(),
    )?;
    write(&tmp.join("commands.txt"), commands.join("\n").as_bytes())?;
    for big in ["soc.json", "soc.asc"] {
        let _ = std::fs::remove_file(tmp.join(big)); // megabytes, not needed after packing
    }
    let _ = std::fs::remove_dir_all(entry);
    if std::fs::rename(&tmp, entry).is_err() {
        // Another build filled the entry meanwhile: same key, same content.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(result)
}

fn check_pnr(cfg: &BuildConfig, pnr: &PnrResult) -> Result<(), FpgaError> {
    if pnr.resources.iter().any(|r| r.used > r.available) {
        return Err(FpgaError::DoesNotFit {
            device: format!("{}-{}", cfg.board.device, cfg.board.package),
            resources: pnr.resources.clone(),
        });
    }
    if pnr.fmax_mhz < cfg.board.clock_mhz * super::board::FMAX_MARGIN {
        return Err(FpgaError::Timing {
            achieved_mhz: pnr.fmax_mhz,
            target_mhz: cfg.board.clock_mhz * super::board::FMAX_MARGIN,
            seed: cfg.seed,
        });
    }
    Ok(())
}
