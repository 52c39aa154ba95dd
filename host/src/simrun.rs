//! `cnnfpga sim`: one image through the firmware on the Verilated SoC (`sim::soc`), checked
//! against the host's integer prediction ([`crate::qmodel::IntModel`]: `firmware::runner::run`
//! with `SoftwareBackend`, the host's one integer path).
//!
//! The firmware ELF is built at the shipped profile by a cargo subprocess and cached by source
//! hash under `target/soc-fw`; the model blob and the image (decoded and resized like the
//! training data, [`crate::data::load_image`]) go into the simulated SPI flash.
//!
//! The SoC run (`run`, `SimRequest`, `SimResult`, `host_prediction`) needs the `hw` feature;
//! the model and image loading ([`read_blob`], [`load_input`]) is always built (`cnnfpga
//! predict` uses it too).

use std::path::{Path, PathBuf};

use firmware::model::Model;
#[cfg(feature = "hw")]
use serde::Serialize;
#[cfg(feature = "hw")]
use sim::soc::{Firmware, Flash, Outcome, RunOptions, SocConfig};

/// Errors of a SoC simulation run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The model file or directory is missing or not a valid blob.
    #[error("model {path}: {reason}")]
    Model {
        /// The path given.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The image cannot be decoded.
    #[error(transparent)]
    Image(#[from] crate::data::DataError),
    /// The image does not match the model's input.
    #[error("image {path}: {reason}")]
    Input {
        /// The path given.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Building the firmware, laying out the flash or starting the model failed.
    #[cfg(feature = "hw")]
    #[error(transparent)]
    Soc(#[from] sim::soc::SocError),
    /// The host's integer run refused the model or the input.
    #[error(transparent)]
    Host(#[from] crate::qmodel::QModelError),
    /// The run ended with a trap, a timeout or a non-zero exit code.
    #[error("SoC run failed: {0}")]
    Run(String),
}

/// What to run.
#[cfg(feature = "hw")]
#[derive(Clone, Debug)]
pub struct SimRequest {
    /// Quantised model directory holding `model.blob`, or a `.blob` file.
    pub model: PathBuf,
    /// Image file (JPEG/PNG).
    pub image: PathBuf,
    /// Every layer in software (the firmware image's flags word; same ELF).
    pub software: bool,
    /// FST waveform output.
    pub trace: Option<PathBuf>,
    /// Cycle limit.
    pub max_cycles: u64,
    /// Which SoC (default: the iCEBreaker board's).
    pub config: SocConfig,
}

/// Result of `cnnfpga sim` (the `--json` output).
#[cfg(feature = "hw")]
#[derive(Clone, Debug, Serialize)]
pub struct SimResult {
    /// Predicted class index.
    pub class: usize,
    /// Its name.
    pub class_name: String,
    /// Logits.
    pub logits: Vec<i32>,
    /// Sum of the layers' cycles (each layer timed on its own).
    pub cycles: u64,
    /// Cycles of the whole inference: the layers and the firmware between them, the runner or
    /// the replay of the recorded engine runs (what a served request costs; images/s and
    /// `ms_at_clock` count this).
    pub inference_cycles: u64,
    /// Per-layer results.
    pub layers: Vec<sim::soc::LayerLine>,
    /// Class and logits equal the host's integer run.
    pub matches_host: bool,
    /// The host's class and logits.
    pub host_class: usize,
    /// The host's logits.
    pub host_logits: Vec<i32>,
    /// Cycles from reset to EXIT (boot ROM, flash copies, parsing included).
    pub total_cycles: u64,
    /// The SoC configuration simulated (`icebreaker` = the board's bitstream).
    pub config: String,
    /// The board's clock (`BOARD_CLOCK_HZ`, the PLL output), MHz.
    pub clock_mhz: f64,
    /// Inference time at that clock (the whole inference), milliseconds.
    pub ms_at_clock: f64,
    /// Simulation speed, cycles per wall-clock second.
    pub sim_cycles_per_second: f64,
}

/// The blob of `path`: `path/model.blob` for a directory, else the file itself.
pub fn read_blob(path: &Path) -> Result<Vec<u8>, SimError> {
    let file = if path.is_dir() {
        path.join("model.blob")
    } else {
        path.to_path_buf()
    };
    let err = |reason: String| SimError::Model {
        path: file.clone(),
        reason,
    };
    // bound the read before allocating, as `IntModel::load` does: the reader refuses longer blobs
    let len = std::fs::metadata(&file)
        .map_err(|e| err(e.to_string()))?
        .len();
    let max = firmware::model::MAX_BLOB_LEN as u64;
    if len > max {
        return Err(err(format!(
            "not a valid model blob: {len} bytes, more than the {max} a blob may have"
        )));
    }
    let blob = std::fs::read(&file).map_err(|e| err(e.to_string()))?;
    Model::parse(&blob).map_err(|e| err(format!("not a valid model blob: {e}")))?;
    Ok(blob)
}

/// Decodes `path` to the model's input size (RGB, triangle filter, as the training data).
pub fn load_input(path: &Path, model: &Model<'_>) -> Result<Vec<u8>, SimError> {
    let s = model.input_shape();
    let bad = |reason: String| SimError::Input {
        path: path.to_path_buf(),
        reason,
    };
    if s.c != 3 {
        return Err(bad(format!(
            "the model takes {}x{}x{} input; images are RGB",
            s.h, s.w, s.c
        )));
    }
    if (s.h, s.w) == (crate::model::IMAGE_SIZE, crate::model::IMAGE_SIZE) {
        return Ok(crate::data::load_image(path)?);
    }
    let img = crate::data::decode_rgb(path)?;
    let img = image::imageops::resize(
        &img,
        s.w as u32,
        s.h as u32,
        image::imageops::FilterType::Triangle,
    );
    Ok(img.into_raw())
}

/// The host's integer prediction of `input` (`[h][w][c]` u8) with the model `blob`:
/// [`crate::qmodel::IntModel`], the same runner and kernels the soft-core runs, in software.
/// What every SoC and board result is compared with.
#[cfg(feature = "hw")]
pub fn host_prediction(blob: &[u8], input: &[u8]) -> Result<crate::qmodel::IntOutput, SimError> {
    let m = crate::qmodel::IntModel::from_blob(blob.to_vec(), "model blob")?;
    Ok(m.run_observed(input, &mut (), 0)?)
}

/// Builds (or reuses) the firmware, runs the image on the SoC and compares with the host.
#[cfg(feature = "hw")]
pub fn run(req: &SimRequest) -> Result<SimResult, SimError> {
    let blob = read_blob(&req.model)?;
    let model = Model::parse(&blob).expect("checked by read_blob");
    let input = load_input(&req.image, &model)?;
    let host = host_prediction(&blob, &input)?;
    let fw = Firmware::build(&Firmware::default_target_dir())?;
    let flash = Flash::new(&fw, req.software, &blob, &input)?;
    let run = sim::soc::run(
        &flash,
        &RunOptions {
            max_cycles: req.max_cycles,
            trace: req.trace.clone(),
            config: req.config,
        },
    )?;
    if run.outcome != Outcome::Exit(firmware::exit::OK) {
        return Err(SimError::Run(run.check().err().unwrap_or_default()));
    }
    let t = run.transcript()?;
    Ok(SimResult {
        matches_host: t.class == host.class && t.logits == host.logits,
        class: t.class,
        class_name: t.class_name.clone(),
        logits: t.logits.clone(),
        cycles: t.layers_cycles,
        inference_cycles: t.run_cycles,
        layers: t.layers.clone(),
        host_class: host.class,
        host_logits: host.logits,
        total_cycles: run.cycles,
        config: req.config.name().to_string(),
        clock_mhz: firmware::regs::BOARD_CLOCK_HZ as f64 / 1e6,
        ms_at_clock: t.run_cycles as f64 * 1e3 / firmware::regs::BOARD_CLOCK_HZ as f64,
        sim_cycles_per_second: run.cycles_per_second(),
    })
}
