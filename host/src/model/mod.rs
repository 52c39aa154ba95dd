//! Networks as data: an [`Arch`] (input shape + layer list) and its parameters, with the
//! forward/backward passes and the model directory format.
//!
//! # Model directory (`--out DIR`)
//! * `model.json` — [`ModelMeta`]: format name and version, architecture, class names,
//!   input normalisation, training config, per-epoch history, best epoch, final metrics and the
//!   SHA-256 of `weights.safetensors`.
//! * `weights.safetensors` — f32 tensors named `layers.<i>.weight` / `layers.<i>.bias`, in the
//!   layouts documented in [`crate::layers`].
//!
//! The directory is written atomically ([`write_dir_atomic`]).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::{Array4, ArrayD, IxDyn};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::layers::{self, Cache, LayerError, LayerSpec};
use crate::rng::Rng;

/// Format name written into `model.json`.
pub const FORMAT_NAME: &str = "cnnfpga-model";
/// Version of the model directory format; loading another version is an error.
pub const FORMAT_VERSION: u32 = 1;
/// Image side of the architectures; owned by the data pipeline ([`crate::data::IMAGE_SIZE`]),
/// re-exported here so `model::IMAGE_SIZE` keeps working.
pub use crate::data::IMAGE_SIZE;

/// Errors of model construction, forward/backward and (de)serialisation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A layer does not fit its input.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// The architecture breaks a rule of the integer pipeline or the classifier.
    #[error("architecture: {0}")]
    Arch(String),
    /// Unknown architecture name.
    #[error("unknown architecture `{0}` (known: paper-cnn, mlp)")]
    UnknownArch(String),
    /// File-system error.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// `model.json` could not be parsed or written.
    #[error("{path}: {source}")]
    Json {
        /// The path.
        path: PathBuf,
        /// Cause.
        source: serde_json::Error,
    },
    /// The directory is of another format or version.
    #[error("{path}: format {found_name} v{found_version}, this build reads {FORMAT_NAME} v{FORMAT_VERSION}")]
    Version {
        /// The path.
        path: PathBuf,
        /// Format name found.
        found_name: String,
        /// Version found.
        found_version: u32,
    },
    /// The weights file does not match the hash recorded in `model.json`.
    #[error("{path}: sha256 {found} does not match model.json ({expected})")]
    Hash {
        /// The weights path.
        path: PathBuf,
        /// Recorded hash.
        expected: String,
        /// Hash of the file.
        found: String,
    },
    /// A tensor is missing or has the wrong shape or dtype.
    #[error("tensor {name}: expected shape {expected:?}, got {got}")]
    Tensor {
        /// Tensor name.
        name: String,
        /// Shape the architecture needs.
        expected: Vec<usize>,
        /// What was found.
        got: String,
    },
    /// A `model.json` field holds a value this build cannot use.
    #[error("{path}: field `{field}` is {found}, but {supported}")]
    Field {
        /// The `model.json` path.
        path: PathBuf,
        /// The field (`arch.input`).
        field: &'static str,
        /// What it holds.
        found: String,
        /// What is supported.
        supported: String,
    },
    /// The safetensors container is malformed.
    #[error("safetensors: {0}")]
    SafeTensors(String),
}

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

/// An architecture: input shape `[h, w, c]` and the layer list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Arch {
    /// Name (`paper-cnn`, `mlp`, or anything for hand-written lists).
    pub name: String,
    /// Input shape `[h, w, c]`.
    pub input: [usize; 3],
    /// Layers in order.
    pub layers: Vec<LayerSpec>,
}

impl Arch {
    /// The paper's CNN: conv3x3x10 + ReLU, pool, conv5x5x20 + ReLU, pool, flatten,
    /// dense `hidden` + ReLU + dropout, dense `classes`.
    pub fn paper_cnn(classes: usize, hidden: usize, dropout: f32) -> Arch {
        let s = IMAGE_SIZE;
        let after = ((s - 2) / 2 - 4) / 2; // 64 -> 62 -> 31 -> 27 -> 13
        let mut layers = vec![
            LayerSpec::Conv2d {
                in_ch: 3,
                out_ch: 10,
                kernel: 3,
            },
            LayerSpec::Relu,
            LayerSpec::MaxPool2,
            LayerSpec::Conv2d {
                in_ch: 10,
                out_ch: 20,
                kernel: 5,
            },
            LayerSpec::Relu,
            LayerSpec::MaxPool2,
            LayerSpec::Flatten,
            LayerSpec::Dense {
                inputs: after * after * 20,
                outputs: hidden,
            },
            LayerSpec::Relu,
        ];
        if dropout > 0.0 {
            layers.push(LayerSpec::Dropout { p: dropout });
        }
        layers.push(LayerSpec::Dense {
            inputs: hidden,
            outputs: classes,
        });
        Arch {
            name: "paper-cnn".into(),
            input: [s, s, 3],
            layers,
        }
    }

    /// Multi-layer perceptron: flatten 64x64x3, dense `hidden` + ReLU, dense `classes`.
    pub fn mlp(classes: usize, hidden: usize) -> Arch {
        let s = IMAGE_SIZE;
        Arch {
            name: "mlp".into(),
            input: [s, s, 3],
            layers: vec![
                LayerSpec::Flatten,
                LayerSpec::Dense {
                    inputs: s * s * 3,
                    outputs: hidden,
                },
                LayerSpec::Relu,
                LayerSpec::Dense {
                    inputs: hidden,
                    outputs: classes,
                },
            ],
        }
    }

    /// Architecture by CLI name.
    pub fn by_name(
        name: &str,
        classes: usize,
        hidden: usize,
        dropout: f32,
    ) -> Result<Arch, ModelError> {
        match name {
            "paper-cnn" => Ok(Arch::paper_cnn(classes, hidden, dropout)),
            "mlp" => Ok(Arch::mlp(classes, hidden)),
            other => Err(ModelError::UnknownArch(other.into())),
        }
    }

    /// Checks the shapes through the list and the rules of the integer pipeline: every
    /// parametric layer except the last is followed directly by ReLU; the last parametric
    /// layer is the final dense classifier. Returns the output shape of every layer.
    pub fn validate(&self) -> Result<Vec<[usize; 3]>, ModelError> {
        let mut s = self.input;
        let mut shapes = Vec::with_capacity(self.layers.len());
        for (i, l) in self.layers.iter().enumerate() {
            s = l.output_shape(i, s)?;
            shapes.push(s);
        }
        let parametric: Vec<usize> = (0..self.layers.len())
            .filter(|&i| !self.layers[i].param_shapes().is_empty())
            .collect();
        let Some(&last) = parametric.last() else {
            return Err(ModelError::Arch("no parametric layer".into()));
        };
        if !matches!(self.layers[last], LayerSpec::Dense { .. }) || last + 1 != self.layers.len() {
            return Err(ModelError::Arch(
                "the last layer must be the dense classifier".into(),
            ));
        }
        for &i in &parametric[..parametric.len() - 1] {
            if self.layers.get(i + 1) != Some(&LayerSpec::Relu) {
                return Err(ModelError::Arch(format!(
                    "layer {i} ({}) must be followed by relu (integer pipeline)",
                    self.layers[i].op()
                )));
            }
        }
        Ok(shapes)
    }

    /// Number of classes (outputs of the final layer).
    pub fn classes(&self) -> usize {
        match self.layers.last() {
            Some(LayerSpec::Dense { outputs, .. }) => *outputs,
            _ => 0,
        }
    }

    /// `(name, shape, layer index)` of every parameter, in order.
    pub fn param_specs(&self) -> Vec<(String, Vec<usize>, usize)> {
        let mut v = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            for (shape, kind) in l.param_shapes().into_iter().zip(["weight", "bias"]) {
                v.push((format!("layers.{i}.{kind}"), shape, i));
            }
        }
        v
    }
}

/// A named parameter tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// `layers.<i>.weight` or `layers.<i>.bias`.
    pub name: String,
    /// The values.
    pub value: ArrayD<f32>,
}

/// Whether a forward pass is for training (caches, dropout) or inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Keep caches for backward, apply dropout.
    Train,
    /// No caches, dropout is the identity.
    Infer,
}

/// A network: architecture plus parameters (in [`Arch::param_specs`] order).
#[derive(Clone, Debug)]
pub struct Net {
    /// The architecture.
    pub arch: Arch,
    /// The parameters.
    pub params: Vec<Param>,
}

impl Net {
    /// He-normal weights (`std = sqrt(2 / fan_in)`), zero biases.
    pub fn init(arch: Arch, rng: &mut Rng) -> Result<Net, ModelError> {
        arch.validate()?;
        let params = arch
            .param_specs()
            .into_iter()
            .map(|(name, shape, li)| {
                let n: usize = shape.iter().product();
                let data = if name.ends_with("weight") {
                    let std = (2.0 / arch.layers[li].fan_in() as f32).sqrt();
                    (0..n).map(|_| rng.normal() * std).collect()
                } else {
                    vec![0.0; n]
                };
                Param {
                    name,
                    value: ArrayD::from_shape_vec(IxDyn(&shape), data).unwrap(),
                }
            })
            .collect();
        Ok(Net { arch, params })
    }

    /// Total number of scalar parameters.
    pub fn num_params(&self) -> usize {
        self.params.iter().map(|p| p.value.len()).sum()
    }

    fn param_index(&self) -> Vec<Option<usize>> {
        let mut idx = Vec::with_capacity(self.arch.layers.len());
        let mut k = 0;
        for l in &self.arch.layers {
            if l.param_shapes().is_empty() {
                idx.push(None);
            } else {
                idx.push(Some(k));
                k += 2;
            }
        }
        idx
    }

    /// Forward pass of a batch `[n, h, w, c]`; returns logits `[n, classes]` (row-major, as a
    /// flat vector) and, in [`Mode::Train`], the caches for [`Net::backward`].
    pub fn forward(&self, x: Array4<f32>, mode: Mode, rng: &mut Rng) -> (Vec<f32>, Vec<Cache>) {
        let train = mode == Mode::Train;
        let pidx = self.param_index();
        let mut caches = Vec::with_capacity(self.arch.layers.len());
        let mut cur = x;
        let layers = &self.arch.layers;
        let mut fused_until = 0;
        for (i, l) in layers.iter().enumerate() {
            if i < fused_until {
                // ReLU and pool already applied by the fused conv at `fused_until - 3`.
                if train {
                    caches.push(Cache::None);
                }
                continue;
            }
            let fuse = matches!(l, LayerSpec::Conv2d { .. })
                && matches!(layers.get(i + 1), Some(LayerSpec::Relu))
                && matches!(layers.get(i + 2), Some(LayerSpec::MaxPool2));
            let (next, cache) = match *l {
                LayerSpec::Conv2d { .. } if fuse => {
                    let k = pidx[i].unwrap();
                    let (y, arg) = layers::conv_relu_pool_forward(
                        &cur,
                        &self.params[k].value,
                        &self.params[k + 1].value,
                    );
                    fused_until = i + 3;
                    (y, Cache::ConvReluPool(cur, arg))
                }
                LayerSpec::Conv2d { .. } => {
                    let k = pidx[i].unwrap();
                    let y = layers::conv_forward(
                        &cur,
                        &self.params[k].value,
                        &self.params[k + 1].value,
                    );
                    (y, Cache::Input(cur))
                }
                LayerSpec::Dense { .. } => {
                    let k = pidx[i].unwrap();
                    let y = layers::dense_forward(
                        &cur,
                        &self.params[k].value,
                        &self.params[k + 1].value,
                    );
                    (y, Cache::Input(cur))
                }
                LayerSpec::Relu => {
                    let pos = layers::relu_forward(&mut cur);
                    (cur, Cache::Positive(pos))
                }
                LayerSpec::MaxPool2 => {
                    let s = cur.shape();
                    let shape = [s[0], s[1], s[2], s[3]];
                    let (y, arg) = layers::maxpool_forward(&cur);
                    (y, Cache::Pool(shape, arg))
                }
                LayerSpec::Flatten => {
                    let s = cur.shape();
                    let shape = [s[0], s[1], s[2], s[3]];
                    let y = cur
                        .into_shape_with_order((shape[0], 1, 1, shape[1] * shape[2] * shape[3]))
                        .unwrap();
                    (y, Cache::Shape(shape))
                }
                LayerSpec::Dropout { p } => {
                    if train && p > 0.0 {
                        let mask = layers::dropout_forward(&mut cur, p, rng);
                        (cur, Cache::Mask(mask))
                    } else {
                        (cur, Cache::None)
                    }
                }
            };
            if train {
                caches.push(cache);
            }
            cur = next;
        }
        let logits = cur.into_raw_vec_and_offset().0;
        (logits, caches)
    }

    /// Backward pass from `dlogits [n, classes]`; returns one gradient per parameter.
    pub fn backward(&self, caches: Vec<Cache>, dlogits: Vec<f32>) -> Vec<ArrayD<f32>> {
        let pidx = self.param_index();
        let c = self.arch.classes();
        let n = dlogits.len() / c;
        let mut grads: Vec<Option<ArrayD<f32>>> = vec![None; self.params.len()];
        let mut g = Array4::from_shape_vec((n, 1, 1, c), dlogits).unwrap();
        let first_param_layer = pidx.iter().position(|p| p.is_some()).unwrap_or(0);
        for (i, cache) in caches.into_iter().enumerate().rev() {
            let need_dx = i > first_param_layer;
            g = match (&self.arch.layers[i], cache) {
                (LayerSpec::Conv2d { .. }, Cache::Input(x)) => {
                    let k = pidx[i].unwrap();
                    let (dx, dw, db) =
                        layers::conv_backward(&x, &self.params[k].value, &g, need_dx);
                    grads[k] = Some(dw);
                    grads[k + 1] = Some(db);
                    dx.unwrap_or_else(|| Array4::zeros((0, 0, 0, 0)))
                }
                (LayerSpec::Conv2d { .. }, Cache::ConvReluPool(x, arg)) => {
                    let k = pidx[i].unwrap();
                    let (dx, dw, db) = layers::conv_relu_pool_backward(
                        &x,
                        &self.params[k].value,
                        &arg,
                        &g,
                        need_dx,
                    );
                    grads[k] = Some(dw);
                    grads[k + 1] = Some(db);
                    dx.unwrap_or_else(|| Array4::zeros((0, 0, 0, 0)))
                }
                // Applied inside the fused conv (see `forward`).
                (LayerSpec::Relu | LayerSpec::MaxPool2, Cache::None) => g,
                (LayerSpec::Dense { .. }, Cache::Input(x)) => {
                    let k = pidx[i].unwrap();
                    let (dx, dw, db) =
                        layers::dense_backward(&x, &self.params[k].value, &g, need_dx);
                    grads[k] = Some(dw);
                    grads[k + 1] = Some(db);
                    dx.unwrap_or_else(|| Array4::zeros((0, 0, 0, 0)))
                }
                (LayerSpec::Relu, Cache::Positive(pos)) => {
                    layers::relu_backward(&pos, &mut g);
                    g
                }
                (LayerSpec::MaxPool2, Cache::Pool(shape, arg)) => {
                    layers::maxpool_backward(shape, &arg, &g)
                }
                (LayerSpec::Flatten, Cache::Shape(s)) => {
                    g.into_shape_with_order((s[0], s[1], s[2], s[3])).unwrap()
                }
                (LayerSpec::Dropout { .. }, Cache::Mask(m)) => {
                    g.iter_mut().zip(&m).for_each(|(v, m)| *v *= m);
                    g
                }
                (LayerSpec::Dropout { .. }, Cache::None) => g,
                (l, c) => unreachable!("cache {c:?} does not belong to layer {l:?}"),
            };
            if !need_dx && i <= first_param_layer {
                break;
            }
        }
        grads
            .into_iter()
            .zip(&self.params)
            .map(|(g, p)| g.unwrap_or_else(|| ArrayD::zeros(p.value.raw_dim())))
            .collect()
    }

    /// Inference on a batch: class probabilities `[n, classes]` (row-major).
    pub fn predict_proba(&self, x: Array4<f32>) -> Vec<f32> {
        let (logits, _) = self.forward(x, Mode::Infer, &mut Rng::new(0));
        layers::softmax_rows(&logits, self.arch.classes())
    }

    /// Copies every parameter of `other` whose name and shape match; returns the names loaded.
    pub fn load_matching(&mut self, other: &Net) -> Vec<String> {
        let mut loaded = Vec::new();
        for p in &mut self.params {
            if let Some(q) = other
                .params
                .iter()
                .find(|q| q.name == p.name && q.value.shape() == p.value.shape())
            {
                p.value = q.value.clone();
                loaded.push(p.name.clone());
            }
        }
        loaded
    }

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
