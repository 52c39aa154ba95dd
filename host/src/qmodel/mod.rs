//! Quantised models: the pipeline from a float model directory to the firmware blob
//! ([`pipeline`]), the integer model and its evaluation through the firmware crate's runner
//! (this module), and the export of hex memory images and golden vectors ([`export`]).
//!
//! A quantised model directory (QDIR) holds
//! - `model.blob` ([`BLOB_FILE`]): the firmware blob (`docs/model-format.md`), the only thing
//!   `cnnfpga sim`, `cnnfpga fpga` and the SoC read;
//! - `quant.json` ([`QUANT_FILE`]): settings, per-layer statistics, metrics, compression,
//!   the source model's hash, class names ([`QuantMeta`]);
//! - `finetuned.safetensors` ([`FINETUNED_FILE`]): the float weights after fine-tuning (P
//!   layers exactly on their power-of-two grid), in the source model's architecture.
//!
//! The directory is written by [`QuantMeta::files`] and read by [`QuantMeta::load`] and
//! [`IntModel::load`].
//!
//! Integer inference is never simulated in float here: [`IntModel`] runs
//! `firmware::runner::run` with `firmware::backend::SoftwareBackend` over the encoded blob, the
//! same code the soft-core runs.

pub mod export;
pub mod pipeline;

use std::path::{Path, PathBuf};

use firmware::backend::SoftwareBackend;
use firmware::model::{FormatError, Limit, Model, MAX_BLOB_LEN};
use firmware::runner::{self, LayerInfo, LayerOutput, Observer};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{DataError, Dataset};
use crate::eval::{compute_metrics, EvalError, Metrics};
use crate::layers::softmax_rows;
use crate::model::{sha256_hex, ModelError, NamedFile, SavedModel};
use crate::quant::QuantError;
use crate::train::TrainError;

/// The firmware blob inside a quantised model directory.
pub const BLOB_FILE: &str = "model.blob";
/// The quantiser's record inside a quantised model directory.
pub const QUANT_FILE: &str = "quant.json";
/// Float weights after fine-tuning inside a quantised model directory.
pub const FINETUNED_FILE: &str = "finetuned.safetensors";
/// `format` field of `quant.json`.
pub const QUANT_FORMAT: &str = "cnnfpga-quant";
/// `format_version` of `quant.json`.
pub const QUANT_FORMAT_VERSION: u32 = 1;

/// Errors of quantised-model handling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QModelError {
    /// File-system failure.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The firmware's model reader rejected a blob.
    #[error("{what}: the firmware model reader rejected the blob: {error} (error code {code})")]
    Blob {
        /// Which blob (a path or "encoded model").
        what: String,
        /// The reader's error.
        error: FormatError,
        /// Its stable code (what the soft-core prints).
        code: u8,
    },
    /// The firmware runner failed on an image.
    #[error("integer inference on image {index}: {message}")]
    Run {
        /// Image index.
        index: usize,
        /// The runner's error.
        message: String,
    },
    /// A quantisation step refused its input (`layer` names the float layer).
    #[error("{layer}: {source}")]
    Quant {
        /// The layer (`layers.<i>`), or a stage name.
        layer: String,
        /// The cause.
        source: QuantError,
    },
    /// A class name does not fit the blob format.
    #[error("class name `{name}` is {bytes} bytes; the model blob holds 1..={max} bytes per name (rename the class folder)")]
    ClassName {
        /// The name.
        name: String,
        /// Its length in UTF-8 bytes.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The architecture cannot be mapped to the integer pipeline, or an option is invalid.
    #[error("{0}")]
    Config(String),
    /// `quant.json` is missing or malformed.
    #[error("{path}: {message}")]
    Meta {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Float model error.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Training (fine-tuning) error.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Metric error.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// Data error (class mismatch included).
    #[error(transparent)]
    Data(#[from] DataError),
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, QModelError>;

pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> QModelError {
    let path = path.to_path_buf();
    move |source| QModelError::Io { op, path, source }
}

/// Checks class names against the blob format's limit (1..=[`firmware::model::MAX_NAME_LEN`]
/// UTF-8 bytes each), so a name the encoder would refuse is caught before any fine-tuning.
pub fn check_class_names(classes: &[String]) -> Result<()> {
    let max = firmware::model::MAX_NAME_LEN;
    match classes.iter().find(|c| c.is_empty() || c.len() > max) {
        None => Ok(()),
        Some(c) => Err(QModelError::ClassName {
            name: c.clone(),
            bytes: c.len(),
            max,
        }),
    }
}

/// True when `dir` is a quantised model directory (holds [`BLOB_FILE`]).
pub fn is_quantised_dir(dir: &Path) -> bool {
    dir.join(BLOB_FILE).is_file()
}

/// An integer model: a blob the firmware reader accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct IntModel {
    blob: Vec<u8>,
    classes: Vec<String>,
}

/// The integer result of one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntOutput {
    /// Raw i32 logits (units of the blob's `logit_scale`).
    pub logits: Vec<i32>,
    /// The runner's class: index of the first maximum logit.
    pub class: usize,
}

impl IntModel {
    /// Validates `blob` with `firmware::model::Model::parse`; `what` names it in errors.
    pub fn from_blob(blob: Vec<u8>, what: &str) -> Result<IntModel> {
        let classes = {
            let m = Model::parse(&blob).map_err(|error| QModelError::Blob {
                what: what.to_string(),
                error,
                code: error.code(),
            })?;
            m.class_names().map(str::to_string).collect()
        };
        Ok(IntModel { blob, classes })
    }

    /// Loads `dir/model.blob` (`dir` a quantised model directory) or a blob file.
    pub fn load(path: &Path) -> Result<IntModel> {
        let file = if path.is_dir() {
            path.join(BLOB_FILE)
        } else {
            path.to_path_buf()
        };
        // bound the read before allocating: the reader refuses longer blobs anyway
        let len = std::fs::metadata(&file)
            .map_err(io_err("read", &file))?
            .len();
        if len > MAX_BLOB_LEN as u64 {
            let error = FormatError::TooLarge {
                layer: 0,
                limit: Limit::BlobBytes,
                value: len,
                max: MAX_BLOB_LEN as u64,
            };
            return Err(QModelError::Blob {
                what: file.display().to_string(),
                error,
                code: error.code(),
            });
        }
        let blob = std::fs::read(&file).map_err(io_err("read", &file))?;
        IntModel::from_blob(blob, &file.display().to_string())
    }

    /// The blob bytes.
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    /// Class names from the blob.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The parsed model (cheap: a validation pass over the blob).
    pub fn model(&self) -> Model<'_> {
        // from_blob accepted these exact bytes and parsing is a pure function of them.
        Model::parse(&self.blob).expect("IntModel holds a blob the reader accepted")
    }

    /// Real value of one logit unit.
    pub fn logit_scale(&self) -> f32 {
        self.model().logit_scale()
    }

    /// Runs one image (`[h][w][c]` u8) through `firmware::runner::run` with the software
    /// backend, calling `observer` around every layer.
    pub fn run_observed(
        &self,
        image: &[u8],
        observer: &mut dyn Observer,
        index: usize,
    ) -> Result<IntOutput> {
        let model = self.model();
        let mut arena = vec![0u8; runner::arena_bytes(&model)];
        run_one(&model, image, &mut arena, observer, index)
    }

    /// Runs every image (in parallel; results in order).
    pub fn run_all(&self, images: &[Vec<u8>]) -> Result<Vec<IntOutput>> {
        let model = self.model();
        let need = runner::arena_bytes(&model);
        images
            .par_iter()
            .enumerate()
            .map_init(
                || vec![0u8; need],
                |arena, (i, img)| run_one(&model, img, arena, &mut (), i),
            )
            .collect()
    }
}

fn run_one(
    model: &Model<'_>,
    image: &[u8],
    arena: &mut [u8],
    observer: &mut dyn Observer,
    index: usize,
) -> Result<IntOutput> {
    let mut logits = vec![0i32; model.n_classes()];
    let info = runner::run(
        model,
        image,
        arena,
        &mut SoftwareBackend,
        &mut logits,
        observer,
    )
    .map_err(|e| QModelError::Run {
        index,
        message: e.to_string(),
    })?;
    Ok(IntOutput {
        logits,
        class: info.class,
    })
}

/// Records every layer's integer output (for golden vectors).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureObserver {
    /// Per layer, in order: the runner's info and the output bytes (u8 activations as they
    /// are; i32 logits little-endian).
    pub layers: Vec<(LayerInfo, Vec<u8>)>,
}

impl Observer for CaptureObserver {
    fn layer_done(&mut self, info: &LayerInfo, output: LayerOutput<'_>) {
        let bytes = match output {
            LayerOutput::Activations(a) => a.to_vec(),
            LayerOutput::Logits(l) => l.iter().flat_map(|v| v.to_le_bytes()).collect(),
        };
        self.layers.push((*info, bytes));
    }
}

/// Integer evaluation of `ds`: the classes are the runner's (first maximum of the i32
/// logits); the loss uses the softmax of the logits dequantised with the blob's
/// `logit_scale`. Returns the metrics (same keys as the float evaluation) and the outputs.
pub fn evaluate_int(m: &IntModel, ds: &Dataset) -> Result<(Metrics, Vec<IntOutput>)> {
    ds.check_classes(m.classes())?;
    let out = m.run_all(&ds.images)?;
    let k = m.classes().len();
    let scale = m.logit_scale();
    let real: Vec<f32> = out
        .iter()
        .flat_map(|o| o.logits.iter().map(|&l| l as f32 * scale))
        .collect();
    let probs = softmax_rows(&real, k);
    let preds: Vec<usize> = out.iter().map(|o| o.class).collect();
    let metrics = compute_metrics(&ds.labels, &preds, Some(&probs), &ds.classes)?;
    Ok((metrics, out))
}

/// Fraction of equal entries of two prediction lists (0 for empty ones).
pub fn agreement(a: &[usize], b: &[usize]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// One layer's line in `quant.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    /// Blob layer index.
    pub index: usize,
    /// Float parameter prefix (`layers.<i>`).
    pub name: String,
    /// `conv` or `dense`.
    pub kind: String,
    /// `NP` or `P`.
    pub scheme: String,
    /// Weights of the float layer.
    pub weights: usize,
    /// Non-zero integer weights.
    pub nonzero: usize,
    /// Fraction of zero weights.
    pub sparsity: f64,
    /// 8 for NP; the code width for P.
    pub bits: u8,
    /// P: non-zero power-of-two magnitudes used (`None` for NP).
    pub levels: Option<u8>,
    /// P: largest exponent `n1`.
    pub n1: Option<i32>,
    /// P: smallest exponent `n2` (the weight unit `2^n2`).
    pub n2: Option<i32>,
    /// P: entry bytes (non-zero weights plus fillers).
    pub entries: Option<usize>,
    /// Input activation scale.
    pub in_scale: f64,
    /// Output activation scale (`None` for the final layer).
    pub out_scale: Option<f64>,
    /// float32 bytes of weights and bias.
    pub float_bytes: usize,
    /// Deployed bytes of this layer's arrays (without padding).
    pub deployed_bytes: usize,
}

/// Compression summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Compression {
    /// float32 bytes of all parameters of the float model.
    pub float_bytes: usize,
    /// Length of the encoded blob (header, names, table, arrays, padding, CRC).
    pub blob_bytes: usize,
    /// `float_bytes / blob_bytes`.
    pub ratio: f64,
    /// Sparsity over all weights.
    pub sparsity: f64,
}

/// One fine-tuning stage of the pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// `prune`, `inq` or `finetune`.
    pub stage: String,
    /// Pruning: the sparsity reached; INQ: the accumulated portion; fine-tune: 1.
    pub target: f64,
    /// Epochs run.
    pub epochs: usize,
    /// Best validation loss of the stage.
    pub val_loss: f32,
    /// Validation accuracy at that epoch.
    pub val_accuracy: f32,
}

/// Metrics of the float source, the fine-tuned float and the integer model on one split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantMetrics {
    /// What was evaluated (which split of which data).
    pub split: String,
    /// Images evaluated.
    pub images: usize,
    /// The source float model.
    pub float: Metrics,
    /// The float model after pruning/INQ/fine-tuning (NP layers still float).
    pub finetuned: Metrics,
    /// The integer model through the firmware runner.
    pub integer: Metrics,
    /// Fraction of images where the integer class equals the source float class.
    pub agreement_float: f64,
    /// Fraction of images where the integer class equals the fine-tuned float class.
    pub agreement_finetuned: f64,
}

/// `quant.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantMeta {
    /// [`QUANT_FORMAT`].
    pub format: String,
    /// [`QUANT_FORMAT_VERSION`].
    pub format_version: u32,
    /// `firmware::model::VERSION` of the blob.
    pub blob_format_version: u16,
    /// [`BLOB_FILE`].
    pub blob_file: String,
    /// Blob SHA-256 (hex).
    pub blob_sha256: String,
    /// Class names (as in the blob).
    pub classes: Vec<String>,
    /// Source float model directory, as given.
    pub source_model: String,
    /// SHA-256 of the source model's `weights.safetensors`.
    pub source_weights_sha256: String,
    /// The settings used (see [`pipeline::QuantizeConfig`]) plus the data split.
    pub settings: serde_json::Value,
    /// Per-layer statistics.
    pub layers: Vec<LayerStats>,
    /// Compression.
    pub compression: Compression,
    /// Fine-tuning stages.
    pub stages: Vec<StageRecord>,
    /// Metrics (`None` when evaluation was skipped).
    pub metrics: Option<QuantMetrics>,
}

impl QuantMeta {
    /// Reads `dir/quant.json`.
    pub fn load(dir: &Path) -> Result<QuantMeta> {
        let p = dir.join(QUANT_FILE);
        let bytes = std::fs::read(&p).map_err(io_err("read", &p))?;
        let meta: QuantMeta = serde_json::from_slice(&bytes).map_err(|e| QModelError::Meta {
            path: p.clone(),
            message: e.to_string(),
        })?;
        if meta.format != QUANT_FORMAT || meta.format_version != QUANT_FORMAT_VERSION {
            return Err(QModelError::Meta {
                path: p,
                message: format!(
                    "format {} version {}, expected {QUANT_FORMAT} {QUANT_FORMAT_VERSION}",
                    meta.format, meta.format_version
                ),
            });
        }
        Ok(meta)
    }

    /// The `quant.json` record of the pipeline result `q` for the float model `source`, loaded
    /// from `source_dir` (recorded as given); `settings` as [`QuantMeta::settings`].
    pub fn new(
        q: &pipeline::Quantized,
        source: &SavedModel,
        source_dir: &Path,
        settings: serde_json::Value,
        metrics: Option<QuantMetrics>,
    ) -> QuantMeta {
        QuantMeta {
            format: QUANT_FORMAT.into(),
            format_version: QUANT_FORMAT_VERSION,
            blob_format_version: firmware::model::VERSION,
            blob_file: BLOB_FILE.into(),
            blob_sha256: sha256_hex(&q.deployed.blob),
            classes: source.meta.classes.clone(),
            source_model: source_dir.display().to_string(),
            source_weights_sha256: source.meta.weights_sha256.clone(),
            settings,
            layers: q.deployed.layers.clone(),
            compression: q.deployed.compression.clone(),
            stages: q.stages.clone(),
            metrics,
        }
    }

    /// The `settings` record: the pipeline configuration plus the data split (`val_split`, the
    /// `data` folder as given) and the pipeline's wall time.
    pub fn settings(
        cfg: &pipeline::QuantizeConfig,
        val_split: f64,
        data: &Path,
        wall_seconds: f64,
    ) -> Result<serde_json::Value> {
        let mut settings = serde_json::to_value(cfg)
            .map_err(|e| QModelError::Config(format!("quantize settings: {e}")))?;
        settings["val_split"] = serde_json::json!(val_split);
        settings["data"] = serde_json::json!(data.display().to_string());
        settings["wall_seconds"] = serde_json::json!(wall_seconds);
        Ok(settings)
    }

    /// The files of a quantised model directory (`model.blob`, `quant.json` with this record,
    /// `finetuned.safetensors`) for [`crate::outdir::OutDir::write_files`], which writes them
    /// atomically. `dir` only names the directory in errors.
    pub fn files(&self, q: &pipeline::Quantized, dir: &Path) -> Result<Vec<NamedFile>> {
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| QModelError::Meta {
            path: dir.join(QUANT_FILE),
            message: e.to_string(),
        })?;
        json.push(b'\n');
        let weights = q.finetuned.to_safetensors()?;
        Ok(vec![
            (BLOB_FILE, q.deployed.blob.clone()),
            (QUANT_FILE, json),
            (FINETUNED_FILE, weights),
        ])
    }
}
