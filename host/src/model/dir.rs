//! The on-disk model directory format (`--out DIR` of `cnnfpga train`):
//! * `model.json` — [`ModelMeta`]: format name and version, architecture, class names,
//!   input normalisation, training config, per-epoch history ([`EpochStats`]), best epoch,
//!   final metrics and the SHA-256 of `weights.safetensors`.
//! * `weights.safetensors` — f32 tensors named `layers.<i>.weight` / `layers.<i>.bias`, in the
//!   layouts documented in [`crate::layers`] ([`tensors_to_bytes`], [`bytes_to_tensors`]).
//!
//! The directory is written atomically ([`write_dir_atomic`]) and checked on load
//! ([`SavedModel::load`]: format version, weights hash, input shape, normalisation, tensor shapes).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Arch, ModelError, Net, Param};
use crate::data::IMAGE_SIZE;

/// Format name written into `model.json`.
pub const FORMAT_NAME: &str = "cnnfpga-model";
/// Version of the model directory format; loading another version is an error.
pub const FORMAT_VERSION: u32 = 1;

/// Input normalisation, recorded in `model.json`. Fixed: `x = pixel * scale` with
/// `scale = 1/255`, RGB, HWC — the integer side feeds raw u8 pixels with this scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Multiplier applied to the u8 pixel.
    pub scale: f32,
    /// Channel order.
    pub channels: String,
    /// Human-readable statement.
    pub description: String,
}

impl Default for Normalization {
    fn default() -> Self {
        Normalization {
            scale: 1.0 / 255.0,
            channels: "RGB".into(),
            description: "x = pixel / 255 in [0, 1]; no mean/std; activations NHWC".into(),
        }
    }
}

/// Reads an `f32` written by serde_json, where a non-finite value was written as `null`
/// (no validation set: NaN; no best loss yet: infinity): `null` reads back as NaN.
fn f32_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
}

/// Statistics of one epoch (the report plots these).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epoch number, 1-based.
    pub epoch: usize,
    /// Mean training loss (with dropout/augmentation active).
    pub train_loss: f32,
    /// Training accuracy over the epoch's batches.
    pub train_accuracy: f32,
    /// Validation loss (NaN, written as `null`, without a validation set).
    #[serde(deserialize_with = "f32_or_nan")]
    pub val_loss: f32,
    /// Validation accuracy (NaN, written as `null`, without a validation set).
    #[serde(deserialize_with = "f32_or_nan")]
    pub val_accuracy: f32,
    /// Training images seen this epoch.
    pub images: usize,
    /// Wall time of the epoch's training part, seconds.
    pub train_seconds: f64,
}

/// Contents of `model.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`] at write time.
    pub format_version: u32,
    /// The architecture (layer list).
    pub arch: Arch,
    /// Class names, index = label (sorted folder names).
    pub classes: Vec<String>,
    /// Input normalisation.
    pub normalization: Normalization,
    /// Number of scalar parameters.
    pub num_params: usize,
    /// Weights file name inside the directory.
    pub weights_file: String,
    /// SHA-256 (hex) of the weights file.
    pub weights_sha256: String,
    /// Training configuration (free-form; `null` if not trained here).
    #[serde(default)]
    pub train_config: serde_json::Value,
    /// Per-epoch history.
    #[serde(default)]
    pub history: Vec<EpochStats>,
    /// Epoch (1-based) whose weights were kept, if trained.
    #[serde(default)]
    pub best_epoch: Option<usize>,
    /// Validation metrics of the kept weights (free-form JSON, see [`crate::eval::Metrics`]).
    #[serde(default)]
    pub final_metrics: serde_json::Value,
}

/// A file of an output directory: name and bytes.
pub type NamedFile = (&'static str, Vec<u8>);

/// A loaded model directory.
#[derive(Clone, Debug)]
pub struct SavedModel {
    /// The network.
    pub net: Net,
    /// Its metadata.
    pub meta: ModelMeta,
}

/// Weights file name.
pub const WEIGHTS_FILE: &str = "weights.safetensors";
/// Metadata file name.
pub const META_FILE: &str = "model.json";

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ModelError + 'a {
    move |source| ModelError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `files` into directory `target` atomically: into a fresh temporary directory in the
/// same parent, every file fsynced, then renamed over `target` (an existing `target` is first
/// renamed aside and removed afterwards), and the parent fsynced.
pub fn write_dir_atomic(target: &Path, files: &[(&str, &[u8])]) -> Result<(), ModelError> {
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io_err("create", &parent))?;
    let base = target
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let tmp = parent.join(format!(".{base}.tmp-{}", std::process::id()));
    let old = parent.join(format!(".{base}.old-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir(&tmp).map_err(io_err("create", &tmp))?;
    for (name, bytes) in files {
        let p = tmp.join(name);
        let mut f = fs::File::create(&p).map_err(io_err("create", &p))?;
        f.write_all(bytes).map_err(io_err("write", &p))?;
        f.sync_all().map_err(io_err("fsync", &p))?;
    }
    if let Ok(d) = fs::File::open(&tmp) {
        let _ = d.sync_all();
    }
    let had_old = target.exists();
    if had_old {
        let _ = fs::remove_dir_all(&old);
        fs::rename(target, &old).map_err(io_err("rename", target))?;
    }
    fs::rename(&tmp, target).map_err(io_err("rename", &tmp))?;
    if had_old {
        let _ = fs::remove_dir_all(&old);
    }
    if let Ok(d) = fs::File::open(&parent) {
        let _ = d.sync_all();
    }
    Ok(())
}

impl SavedModel {
    /// Writes the model directory atomically; fills in the format fields, parameter count and
    /// weights hash of `meta`.
    pub fn save(net: &Net, meta: ModelMeta, dir: &Path) -> Result<ModelMeta, ModelError> {
        let (meta, files) = SavedModel::files(net, meta, dir)?;
        let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        write_dir_atomic(dir, &refs)?;
        Ok(meta)
    }

    /// The files of a model directory (`weights.safetensors`, `model.json`) for
    /// [`SavedModel::save`] or [`crate::outdir::OutDir::write_files`]; fills in `meta` as `save`
    /// does. `dir` only names the directory in errors.
    pub fn files(
        net: &Net,
        mut meta: ModelMeta,
        dir: &Path,
    ) -> Result<(ModelMeta, Vec<NamedFile>), ModelError> {
        let weights = net.to_safetensors()?;
        meta.format = FORMAT_NAME.into();
        meta.format_version = FORMAT_VERSION;
        meta.arch = net.arch.clone();
        meta.num_params = net.num_params();
        meta.weights_file = WEIGHTS_FILE.into();
        meta.weights_sha256 = sha256_hex(&weights);
        let json = serde_json::to_vec_pretty(&meta).map_err(|source| ModelError::Json {
            path: dir.join(META_FILE),
            source,
        })?;
        Ok((meta, vec![(WEIGHTS_FILE, weights), (META_FILE, json)]))
    }

    /// Loads and checks a model directory (format version, weights hash, tensor shapes).
    pub fn load(dir: &Path) -> Result<SavedModel, ModelError> {
        let mp = dir.join(META_FILE);
        let text = fs::read(&mp).map_err(io_err("read", &mp))?;
        let head: serde_json::Value =
            serde_json::from_slice(&text).map_err(|source| ModelError::Json {
                path: mp.clone(),
                source,
            })?;
        let found_name = head
            .get("format")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string();
        let found_version = head
            .get("format_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as u32;
        if found_name != FORMAT_NAME || found_version != FORMAT_VERSION {
            return Err(ModelError::Version {
                path: mp,
                found_name,
                found_version,
            });
        }
        let meta: ModelMeta = serde_json::from_value(head).map_err(|source| ModelError::Json {
            path: mp.clone(),
            source,
        })?;
        let field = |field, found: String, supported: String| ModelError::Field {
            path: mp.clone(),
            field,
            found,
            supported,
        };
        // The data pipeline (crate::data) decodes every image to IMAGE_SIZE x IMAGE_SIZE RGB
        // and the layers take the batch as is: no other input shape can be evaluated.
        let want = [IMAGE_SIZE, IMAGE_SIZE, 3];
        if meta.arch.input != want {
            return Err(field(
                "arch.input",
                format!("{:?}", meta.arch.input),
                format!("the data pipeline feeds {want:?} (h, w, c) images"),
            ));
        }
        let norm = Normalization::default();
        if meta.normalization.scale != norm.scale || meta.normalization.channels != norm.channels {
            return Err(field(
                "normalization",
                format!(
                    "scale {} channels {}",
                    meta.normalization.scale, meta.normalization.channels
                ),
                format!(
                    "this build applies only scale {} channels {}",
                    norm.scale, norm.channels
                ),
            ));
        }
        // A plain file name inside the directory: never a path elsewhere.
        if Path::new(&meta.weights_file).file_name()
            != Some(std::ffi::OsStr::new(&meta.weights_file))
        {
            return Err(field(
                "weights_file",
                format!("{:?}", meta.weights_file),
                "it must be a file name inside the model directory".into(),
            ));
        }
        meta.arch.validate().map_err(|e| {
            field(
                "arch.layers",
                e.to_string(),
                "the layers must chain from the input to the classifier".into(),
            )
        })?;
        let wp = dir.join(&meta.weights_file);
        let bytes = fs::read(&wp).map_err(io_err("read", &wp))?;
        let found = sha256_hex(&bytes);
        if found != meta.weights_sha256 {
            return Err(ModelError::Hash {
                path: wp,
                expected: meta.weights_sha256.clone(),
                found,
            });
        }
        let net = Net::from_safetensors(meta.arch.clone(), &bytes)?;
        if meta.classes.len() != net.arch.classes() {
            return Err(ModelError::Arch(format!(
                "{} class names but the classifier has {} outputs",
                meta.classes.len(),
                net.arch.classes()
            )));
        }
        Ok(SavedModel { net, meta })
    }
}

impl Net {
    /// Serialises the parameters as safetensors bytes.
    pub fn to_safetensors(&self) -> Result<Vec<u8>, ModelError> {
        tensors_to_bytes(self.params.iter().map(|p| (p.name.clone(), &p.value)))
    }

    /// Loads parameters for `arch` from safetensors bytes, checking names and shapes.
    pub fn from_safetensors(arch: Arch, bytes: &[u8]) -> Result<Net, ModelError> {
        arch.validate()?;
        let map = bytes_to_tensors(bytes)?;
        let params = arch
            .param_specs()
            .into_iter()
            .map(|(name, shape, _)| match map.get(&name) {
                Some(v) if v.shape() == shape.as_slice() => Ok(Param {
                    name,
                    value: v.clone(),
                }),
                Some(v) => Err(ModelError::Tensor {
                    name,
                    expected: shape,
                    got: format!("{:?}", v.shape()),
                }),
                None => Err(ModelError::Tensor {
                    name,
                    expected: shape,
                    got: "missing".into(),
                }),
            })
            .collect::<Result<_, _>>()?;
        Ok(Net { arch, params })
    }
}

/// Writes named f32 tensors into safetensors bytes.
pub fn tensors_to_bytes<'a>(
    tensors: impl IntoIterator<Item = (String, &'a ArrayD<f32>)>,
) -> Result<Vec<u8>, ModelError> {
    let owned: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(n, a)| {
            let bytes: Vec<u8> = a.iter().flat_map(|v| v.to_le_bytes()).collect();
            (n, a.shape().to_vec(), bytes)
        })
        .collect();
    let views = owned
        .iter()
        .map(|(n, s, b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| ModelError::SafeTensors(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, &None).map_err(|e| ModelError::SafeTensors(e.to_string()))
}

/// Reads every f32 tensor of a safetensors container.
pub fn bytes_to_tensors(bytes: &[u8]) -> Result<BTreeMap<String, ArrayD<f32>>, ModelError> {
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| ModelError::SafeTensors(e.to_string()))?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(ModelError::Tensor {
                name,
                expected: vec![],
                got: format!("dtype {:?}", view.dtype()),
            });
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let arr = ArrayD::from_shape_vec(IxDyn(view.shape()), data)
            .map_err(|e| ModelError::SafeTensors(format!("{name}: {e}")))?;
        out.insert(name, arr);
    }
    Ok(out)
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
