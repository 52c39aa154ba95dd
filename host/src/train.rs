//! The training loop: mini-batches, optional on-the-fly augmentation, early stopping on
//! validation loss with best-weight restore (or a fixed epoch count keeping the last weights,
//! with or without a validation set), optional frozen-entry masks, per-epoch checkpoints.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::Array4;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::augment::{augment_image, AugmentConfig};
use crate::data::{Dataset, IMAGE_SIZE};
use crate::eval::predict_dataset;
use crate::layers::softmax_cross_entropy_smoothed;
use crate::model::{
    bytes_to_tensors, tensors_to_bytes, write_dir_atomic, Arch, Mode, ModelError, Net, Param,
};
use crate::optim::{OptimConfig, OptimError, Optimizer, ParamMasks};
use crate::quant::PruneSchedule;
use crate::rng::Rng;

/// Per-epoch statistics live with the model directory format (`model.json` records them).
pub use crate::model::EpochStats;

/// Errors of the training loop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// Bad configuration value.
    #[error("training config: {0}")]
    Config(String),
    /// Optimizer error.
    #[error(transparent)]
    Optim(#[from] OptimError),
    /// Model error (checkpoint I/O included).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The checkpoint does not belong to this run.
    #[error("checkpoint {path}: {what}")]
    Checkpoint {
        /// Checkpoint directory.
        path: PathBuf,
        /// What does not match.
        what: String,
    },
    /// Loss became NaN or infinite.
    #[error("loss is not finite at epoch {epoch}, batch {batch}")]
    Diverged {
        /// Epoch (1-based).
        epoch: usize,
        /// Batch index.
        batch: usize,
    },
}

/// Training hyper-parameters (recorded in `model.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Optimizer.
    pub optim: OptimConfig,
    /// Stop after this many epochs without a new best validation loss (0 = never stop early).
    pub patience: usize,
    /// Seed of shuffling, dropout, augmentation (and of the split/initialisation in the CLI).
    pub seed: u64,
    /// Augmentation, if any.
    pub augment: Option<AugmentConfig>,
    /// With augmentation: 0 = each image once per epoch, augmented; `N >= 1` = each original
    /// once unaugmented plus `N` augmented copies per epoch (the paper's 1000 + 3000 is N = 3).
    pub augment_factor: usize,
    /// Train exactly `epochs` epochs and keep the last weights: no early stopping, no best-epoch
    /// restore. The validation set may then be empty (training on every image); if it is not,
    /// it is only scored per epoch, never used for a choice. Needs `patience == 0`.
    #[serde(default)]
    pub keep_last: bool,
    /// Learning-rate schedule over the run (per batch).
    #[serde(default)]
    pub schedule: LrSchedule,
    /// Label smoothing `eps` in `[0, 1)`: the target puts `1 - eps` on the label and spreads
    /// `eps` evenly over all classes (0 = plain one-hot cross-entropy).
    #[serde(default)]
    pub label_smoothing: f32,
    /// Exponential moving average of the weights with this decay per batch (e.g. 0.998), or
    /// `None`. With it, validation scores and the kept weights are the averaged ones.
    #[serde(default)]
    pub ema: Option<f32>,
    /// Knowledge distillation from teacher networks ([`train_distilled`]), or `None`.
    #[serde(default)]
    pub distill: Option<Distill>,
    /// Gradual magnitude pruning inside the run ([`TrainPrune`]), or `None`.
    #[serde(default)]
    pub prune: Option<TrainPrune>,
}

/// Gradual magnitude pruning inside a training run (Zhu & Gupta 2017, "To prune, or not to
/// prune"): at the start of epoch `e` the named weight tensors are pruned to sparsity
/// `s(e) = sparsity * (1 - (1 - t)^3)`, `t = (e - start_epoch) / (end_epoch - start_epoch)`
/// clamped to `[0, 1]` (none before `start_epoch`, `sparsity` from `end_epoch` on): the
/// smallest-magnitude weights are set to 0 and frozen for the epoch. A weight pruned once stays
/// pruned (it is 0, so the smallest again at the next, equal or higher, sparsity). The
/// quantiser's P layers trained this way are sparse in the float model already.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainPrune {
    /// Weight parameters to prune (e.g. `layers.7.weight`, the paper CNN's hidden dense layer).
    pub params: Vec<String>,
    /// Final sparsity, in `[0, 1)`.
    pub sparsity: f64,
    /// First epoch of the ramp (1-based; the sparsity there is 0).
    pub start_epoch: usize,
    /// Epoch from which the final sparsity holds, `>= start_epoch`.
    pub end_epoch: usize,
}

impl TrainPrune {
    /// The sparsity at the start of epoch `epoch` (1-based): the quantiser's cubic schedule
    /// ([`PruneSchedule::Cubic`]) from 0 over the ramp's epochs.
    pub fn sparsity_at(&self, epoch: usize) -> crate::quant::Result<f64> {
        if epoch <= self.start_epoch && epoch < self.end_epoch {
            return Ok(0.0);
        }
        PruneSchedule::Cubic.sparsity_at(
            epoch - self.start_epoch,
            self.end_epoch - self.start_epoch,
            0.0,
            self.sparsity,
        )
    }
}

/// Knowledge-distillation settings (Hinton et al. 2015): the loss is
/// `(1 - weight) CE(label, p) + weight T^2 CE(q_T, p_T)`, where `p_T` is the student's softmax
/// at temperature `T` and `q_T` the mean of the teachers' softmaxes at `T` on the same
/// (augmented) batch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distill {
    /// Weight of the teachers' term, in `(0, 1]`.
    pub weight: f32,
    /// Softmax temperature `T > 0`.
    pub temperature: f32,
    /// Number of teachers (recorded; [`train_distilled`] checks it).
    pub teachers: usize,
}

/// Learning-rate schedule: a factor on the optimizer's learning rate, per batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// The optimizer's learning rate throughout.
    #[default]
    Constant,
    /// Half-cosine from the learning rate down to `min_factor` x it at the end of the last
    /// epoch (`epochs` of the config), after a linear warm-up over the first `warmup_epochs`.
    Cosine {
        /// Final factor, in `[0, 1]`.
        min_factor: f32,
        /// Warm-up epochs (0 = none).
        warmup_epochs: usize,
    },
}

impl LrSchedule {
    /// Factor at `step` (0-based) of a run of `total` steps, `steps_per_epoch` to an epoch (the
    /// warm-up is counted in epochs).
    pub fn factor(self, step: usize, total: usize, steps_per_epoch: usize) -> f32 {
        match self {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine {
                min_factor,
                warmup_epochs,
            } => {
                let warm = warmup_epochs * steps_per_epoch;
                if step < warm {
                    return (step + 1) as f32 / warm as f32;
                }
                let span = total.saturating_sub(warm).max(1);
                let t = ((step - warm) as f32 / span as f32).min(1.0);
                min_factor + (1.0 - min_factor) * 0.5 * (1.0 + (std::f32::consts::PI * t).cos())
            }
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 30,
            batch_size: 128,
            optim: OptimConfig::adam(1e-3),
            patience: 5,
            seed: 42,
            augment: None,
            augment_factor: 0,
            keep_last: false,
            schedule: LrSchedule::Constant,
            label_smoothing: 0.0,
            ema: None,
            distill: None,
            prune: None,
        }
    }
}

impl TrainConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.batch_size == 0 {
            return Err(TrainError::Config("batch size must be > 0".into()));
        }
        if self.epochs == 0 {
            return Err(TrainError::Config("epochs must be > 0".into()));
        }
        if self.keep_last && self.patience != 0 {
            return Err(TrainError::Config(format!(
                "keep_last trains a fixed number of epochs: patience must be 0, not {}",
                self.patience
            )));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(TrainError::Config(format!(
                "label smoothing {} must be in [0, 1)",
                self.label_smoothing
            )));
        }
        if let Some(d) = self.ema {
            if !(d > 0.0 && d < 1.0) {
                return Err(TrainError::Config(format!(
                    "EMA decay {d} must be in (0, 1)"
                )));
            }
        }
        if let LrSchedule::Cosine {
            min_factor,
            warmup_epochs,
        } = self.schedule
        {
            if !(0.0..=1.0).contains(&min_factor) {
                return Err(TrainError::Config(format!(
                    "cosine schedule: final factor {min_factor} must be in [0, 1]"
                )));
            }
            if warmup_epochs >= self.epochs {
                return Err(TrainError::Config(format!(
                    "cosine schedule: {warmup_epochs} warm-up epochs leave none of {} to decay",
                    self.epochs
                )));
            }
        }
        if let Some(d) = self.distill {
            if !(d.weight > 0.0 && d.weight <= 1.0) {
                return Err(TrainError::Config(format!(
                    "distillation weight {} must be in (0, 1]",
                    d.weight
                )));
            }
            if !(d.temperature > 0.0 && d.temperature.is_finite()) {
                return Err(TrainError::Config(format!(
                    "distillation temperature {} must be > 0",
                    d.temperature
                )));
            }
            if d.teachers == 0 {
                return Err(TrainError::Config("distillation needs a teacher".into()));
            }
        }
        if let Some(p) = &self.prune {
            if !(0.0..1.0).contains(&p.sparsity) {
                return Err(TrainError::Config(format!(
                    "pruning: sparsity {} must be in [0, 1)",
                    p.sparsity
                )));
            }
            if p.start_epoch == 0 || p.start_epoch > p.end_epoch || p.end_epoch > self.epochs {
                return Err(TrainError::Config(format!(
                    "pruning: the ramp {}..{} must satisfy 1 <= start <= end <= {} epochs",
                    p.start_epoch, p.end_epoch, self.epochs
                )));
            }
            if p.params.is_empty() {
                return Err(TrainError::Config("pruning: no weights to prune".into()));
            }
            if self.ema.is_some() {
                return Err(TrainError::Config(
                    "pruning with a weight average: the averaged weights would not be sparse"
                        .into(),
                ));
            }
        }
        self.optim.validate()?;
        Ok(())
    }
}

/// Prunes `p`'s weights of `net` to their sparsity at `epoch` (zeroing them) and returns the
/// masks that freeze them, merged with `base` (frozen where either freezes); `None` when
/// nothing is pruned yet.
fn prune_for_epoch(
    net: &mut Net,
    p: &TrainPrune,
    epoch: usize,
    base: Option<&ParamMasks>,
) -> Result<Option<ParamMasks>, TrainError> {
    let s = p
        .sparsity_at(epoch)
        .map_err(|e| TrainError::Config(format!("pruning: {e}")))?;
    if s <= 0.0 {
        return Ok(None);
    }
    let mut masks = base.cloned().unwrap_or_default();
    for name in &p.params {
        let param = net
            .params
            .iter_mut()
            .find(|q| &q.name == name)
            .ok_or_else(|| TrainError::Config(format!("pruning: no parameter {name}")))?;
        let w = param
            .value
            .as_slice_mut()
            .ok_or_else(|| TrainError::Config(format!("pruning: {name} is not contiguous")))?;
        let keep = crate::quant::magnitude_prune_mask(w, s)
            .map_err(|e| TrainError::Config(format!("pruning {name}: {e}")))?;
        crate::quant::apply_mask(w, &keep)
            .map_err(|e| TrainError::Config(format!("pruning {name}: {e}")))?;
        let frozen = masks
            .entry(name.clone())
            .or_insert_with(|| vec![false; keep.len()]);
        for (f, k) in frozen.iter_mut().zip(&keep) {
            *f |= !k;
        }
    }
    Ok(Some(masks))
}

/// Reads the best validation loss so far written by serde_json, where infinity (no best loss
/// yet) was written as `null`: `null` reads back as infinity.
fn f32_or_inf<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::INFINITY))
}

/// Result of [`train`].
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    /// Per-epoch history (including epochs before a resume).
    pub history: Vec<EpochStats>,
    /// 1-based epoch of the weights kept in the network.
    pub best_epoch: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
}

/// Observer of training progress (the CLI draws indicatif bars).
pub trait Progress {
    /// An epoch with `batches` batches starts.
    fn epoch_start(&mut self, _epoch: usize, _batches: usize) {}
    /// A batch finished with its mean loss and accuracy.
    fn batch(&mut self, _loss: f32, _accuracy: f32) {}
    /// An epoch finished.
    fn epoch_end(&mut self, _stats: &EpochStats, _is_best: bool) {}
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Where and whether to checkpoint.
#[derive(Clone, Debug, Default)]
pub struct CheckpointOptions {
    /// Checkpoint directory (written atomically after every epoch).
    pub dir: Option<PathBuf>,
    /// Continue from the checkpoint in `dir` if it exists.
    pub resume: bool,
    /// Settings outside [`TrainConfig`] that shape the run (the CLI's `--data`, `--val-split`,
    /// `--init-from`, ...: name -> value), recorded in the checkpoint; a resume with any of
    /// them changed is refused, naming it.
    pub run_settings: std::collections::BTreeMap<String, String>,
}

/// One training item of an epoch: image index and augmentation slot (`None` = unaugmented).
type Item = (usize, Option<u64>);

fn epoch_items(n: usize, cfg: &TrainConfig) -> Vec<Item> {
    match (&cfg.augment, cfg.augment_factor) {
        (None, _) => (0..n).map(|i| (i, None)).collect(),
        (Some(_), 0) => (0..n).map(|i| (i, Some(i as u64))).collect(),
        (Some(_), f) => {
            let mut v: Vec<Item> = (0..n).map(|i| (i, None)).collect();
            for copy in 0..f {
                v.extend((0..n).map(|i| (i, Some((copy * n + i) as u64))));
            }
            v
        }
    }
}

/// Builds the float batch of `items` for `epoch` (augmenting in parallel where asked).
pub fn make_batch(
    ds: &Dataset,
    items: &[(usize, Option<u64>)],
    cfg: &TrainConfig,
    epoch: usize,
) -> Array4<f32> {
    let s = IMAGE_SIZE;
    let len = s * s * 3;
    let mut data = vec![0f32; items.len() * len];
    data.par_chunks_mut(len)
        .zip(items.par_iter())
        .for_each(|(out, &(i, slot))| {
            let px = &ds.images[i];
            match (slot, &cfg.augment) {
                (Some(slot), Some(a)) => {
                    let mut rng = Rng::derive(&[cfg.seed, 0xA06, epoch as u64, slot]);
                    out.copy_from_slice(&augment_image(px, s, a, &mut rng));
                }
                _ => out
                    .iter_mut()
                    .zip(px)
                    .for_each(|(o, &p)| *o = p as f32 * (1.0 / 255.0)),
            }
        });
    Array4::from_shape_vec((items.len(), s, s, 3), data).unwrap()
}

/// Mean loss and accuracy of `net` on `ds` (inference mode).
pub fn loss_and_accuracy(net: &Net, ds: &Dataset) -> (f32, f32) {
    let probs = predict_dataset(net, ds, 256);
    let c = net.arch.classes();
    let mut loss = 0f64;
    let mut correct = 0usize;
    for (row, &y) in probs.chunks_exact(c).zip(&ds.labels) {
        loss -= (row[y].max(1e-30) as f64).ln();
        if crate::eval::argmax(row) == y {
            correct += 1;
        }
    }
    let n = ds.len().max(1) as f64;
    ((loss / n) as f32, (correct as f64 / n) as f32)
}

#[derive(Serialize, Deserialize)]
struct CheckpointState {
    format: String,
    arch: Arch,
    config: TrainConfig,
    train_len: usize,
    val_len: usize,
    epochs_done: usize,
    rng: Rng,
    opt_t: u64,
    history: Vec<EpochStats>,
    best_epoch: usize,
    #[serde(deserialize_with = "f32_or_inf")]
    best_val_loss: f32,
    bad_epochs: usize,
    /// [`CheckpointOptions::run_settings`] (absent in older checkpoints: not compared).
    #[serde(default)]
    run_settings: Option<std::collections::BTreeMap<String, String>>,
}

const CKPT_FORMAT: &str = "cnnfpga-checkpoint-v1";

struct LoopState {
    rng: Rng,
    opt: Optimizer,
    history: Vec<EpochStats>,
    best: Vec<Param>,
    best_epoch: usize,
    best_val_loss: f32,
    bad_epochs: usize,
    /// Weight average ([`TrainConfig::ema`]), same order as the network's parameters.
    ema: Option<Vec<Param>>,
}

/// Moves the weight average toward `params`: `e = d e + (1 - d) p`, with the decay ramped up
/// over the first steps (`min(d, (1 + t) / (10 + t))`) so the start does not dominate.
fn ema_update(ema: &mut [Param], params: &[Param], decay: f32, t: u64) {
    let d = decay.min((1.0 + t as f32) / (10.0 + t as f32));
    for (e, p) in ema.iter_mut().zip(params) {
        ndarray::Zip::from(&mut e.value)
            .and(&p.value)
            .for_each(|e, &p| *e = d * *e + (1.0 - d) * p);
    }
}

fn save_checkpoint(
    dir: &Path,
    net: &Net,
    st: &LoopState,
    cfg: &TrainConfig,
    (train_len, val_len): (usize, usize),
    run_settings: &std::collections::BTreeMap<String, String>,
) -> Result<(), TrainError> {
    let state = CheckpointState {
        format: CKPT_FORMAT.into(),
        arch: net.arch.clone(),
        config: cfg.clone(),
        train_len,
        val_len,
        epochs_done: st.history.len(),
        rng: st.rng.clone(),
        opt_t: st.opt.t,
        history: st.history.clone(),
        best_epoch: st.best_epoch,
        best_val_loss: st.best_val_loss,
        bad_epochs: st.bad_epochs,
        run_settings: Some(run_settings.clone()),
    };
    let mut tensors = Vec::new();
    for (i, p) in net.params.iter().enumerate() {
        tensors.push((format!("param.{}", p.name), &p.value));
        tensors.push((format!("best.{}", p.name), &st.best[i].value));
        tensors.push((format!("m.{}", p.name), &st.opt.m[i]));
        if let Some(v) = st.opt.v.get(i) {
            tensors.push((format!("v.{}", p.name), v));
        }
        if let Some(e) = &st.ema {
            tensors.push((format!("ema.{}", p.name), &e[i].value));
        }
    }
    let bytes = tensors_to_bytes(tensors)?;
    let json = serde_json::to_vec_pretty(&state).map_err(|e| TrainError::Checkpoint {
        path: dir.into(),
        what: e.to_string(),
    })?;
    write_dir_atomic(
        dir,
        &[("state.json", &json), ("tensors.safetensors", &bytes)],
    )?;
    Ok(())
}

/// The first setting of `now` that a resumed run may not change from `was` (everything but
/// `epochs` and `patience`, which only say when to stop): `(name, was, now)`.
pub fn changed_setting(
    was: &TrainConfig,
    now: &TrainConfig,
) -> Option<(&'static str, String, String)> {
    let dbg = |x: &dyn std::fmt::Debug| format!("{x:?}");
    [
        ("optimizer", dbg(&was.optim), dbg(&now.optim)),
        ("batch size", dbg(&was.batch_size), dbg(&now.batch_size)),
        ("seed", dbg(&was.seed), dbg(&now.seed)),
        ("augmentation", aug(&was.augment), aug(&now.augment)),
        (
            "augment factor",
            dbg(&was.augment_factor),
            dbg(&now.augment_factor),
        ),
        ("schedule", dbg(&was.schedule), dbg(&now.schedule)),
        (
            "label smoothing",
            dbg(&was.label_smoothing),
            dbg(&now.label_smoothing),
        ),
        ("EMA", dbg(&was.ema), dbg(&now.ema)),
        ("distillation", dbg(&was.distill), dbg(&now.distill)),
    ]
    .into_iter()
    .find(|(_, a, b)| a != b)
}

/// Adds the distillation term to the hard-label loss and gradient of a batch: returns the
/// combined loss `(1 - w) hard + w T^2 CE(q_T, softmax(z / T))` and scales `grad` (the hard
/// term's gradient wrt the logits, already divided by the batch size) to
/// `(1 - w) grad + w T (softmax(z / T) - q_T) / n`. `teacher_probs` is `q_T`, row-major.
fn add_distillation(
    d: &Distill,
    logits: &[f32],
    teacher_probs: &[f32],
    classes: usize,
    hard_loss: f32,
    grad: &mut [f32],
) -> f32 {
    let t = d.temperature;
    let n = logits.len() / classes;
    let scaled: Vec<f32> = logits.iter().map(|z| z / t).collect();
    let p = crate::layers::softmax_rows(&scaled, classes);
    let mut soft = 0f64;
    for (pi, qi) in p.iter().zip(teacher_probs) {
        soft -= f64::from(*qi) * f64::from(pi.max(1e-30)).ln();
    }
    let soft = (soft / n as f64) as f32;
    let w = d.weight;
    for ((g, pi), qi) in grad.iter_mut().zip(&p).zip(teacher_probs) {
        *g = (1.0 - w) * *g + w * t * (pi - qi) / n as f32;
    }
    (1.0 - w) * hard_loss + w * t * t * soft
}

/// Mean of the teachers' softmaxes at temperature `t` on batch `x` (inference mode).
fn teacher_probs(teachers: &[Net], x: &Array4<f32>, t: f32, classes: usize) -> Vec<f32> {
    let mut sum = vec![0f32; x.shape()[0] * classes];
    for teacher in teachers {
        let (z, _) = teacher.forward(x.clone(), Mode::Infer, &mut Rng::new(0));
        let scaled: Vec<f32> = z.iter().map(|z| z / t).collect();
        let q = crate::layers::softmax_rows(&scaled, classes);
        sum.iter_mut().zip(q).for_each(|(s, q)| *s += q);
    }
    let k = teachers.len().max(1) as f32;
    sum.iter_mut().for_each(|s| *s /= k);
    sum
}

fn aug(a: &Option<AugmentConfig>) -> String {
    match a {
        None => "off".into(),
        Some(c) if *c == AugmentConfig::default() => "on".into(),
        Some(c) => format!("{c:?}"),
    }
}

fn load_checkpoint(
    dir: &Path,
    net: &mut Net,
    st: &mut LoopState,
    cfg: &TrainConfig,
    (train_len, val_len): (usize, usize),
    run_settings: &std::collections::BTreeMap<String, String>,
) -> Result<(), TrainError> {
    let bad = |what: String| TrainError::Checkpoint {
        path: dir.into(),
        what,
    };
    let json = std::fs::read(dir.join("state.json")).map_err(|e| bad(e.to_string()))?;
    let state: CheckpointState = serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))?;
    if state.format != CKPT_FORMAT {
        return Err(bad(format!(
            "format {} (expected {CKPT_FORMAT})",
            state.format
        )));
    }
    if state.arch != net.arch {
        return Err(bad("architecture differs from this run".into()));
    }
    if let Some(was) = &state.run_settings {
        let none = String::from("(none)");
        for k in was.keys().chain(run_settings.keys()) {
            let (a, b) = (
                was.get(k).unwrap_or(&none),
                run_settings.get(k).unwrap_or(&none),
            );
            if a != b {
                return Err(bad(format!(
                    "{k} differs from the checkpoint's (checkpoint {a}, this run {b}): resume \
                     with the same settings, or start afresh without --resume"
                )));
            }
        }
    }
    if let Some((name, was, now)) = changed_setting(&state.config, cfg) {
        return Err(bad(format!(
            "{name} differs from the checkpoint's (checkpoint {was}, this run {now}): resume \
             with the same settings, or start afresh without --resume"
        )));
    }
    if (state.train_len, state.val_len) != (train_len, val_len) {
        return Err(bad(format!(
            "split sizes {}/{} differ from this run's {train_len}/{val_len}",
            state.train_len, state.val_len
        )));
    }
    let bytes = std::fs::read(dir.join("tensors.safetensors")).map_err(|e| bad(e.to_string()))?;
    let mut map = bytes_to_tensors(&bytes)?;
    let mut take = |key: String, like: &ndarray::ArrayD<f32>| {
        map.remove(&key)
            .filter(|t| t.shape() == like.shape())
            .ok_or_else(|| bad(format!("tensor {key} missing or mis-shaped")))
    };
    for i in 0..net.params.len() {
        let name = net.params[i].name.clone();
        let like = net.params[i].value.clone();
        net.params[i].value = take(format!("param.{name}"), &like)?;
        st.best[i].value = take(format!("best.{name}"), &like)?;
        st.opt.m[i] = take(format!("m.{name}"), &like)?;
        if i < st.opt.v.len() {
            st.opt.v[i] = take(format!("v.{name}"), &like)?;
        }
        if let Some(e) = &mut st.ema {
            e[i].value = take(format!("ema.{name}"), &like)?;
        }
    }
    st.opt.t = state.opt_t;
    st.rng = state.rng;
    st.history = state.history;
    st.best_epoch = state.best_epoch;
    st.best_val_loss = state.best_val_loss;
    st.bad_epochs = state.bad_epochs;
    Ok(())
}

/// Trains `net` in place on `train_set`, early-stopping on `val_set` loss and leaving the best
/// weights in `net`; with [`TrainConfig::keep_last`], exactly `cfg.epochs` epochs leaving the last
/// weights (`val_set` may then be empty). `masks` freezes entries (see [`crate::optim`]).
pub fn train(
    net: &mut Net,
    train_set: &Dataset,
    val_set: &Dataset,
    cfg: &TrainConfig,
    masks: Option<&ParamMasks>,
    checkpoint: &CheckpointOptions,
    progress: &mut dyn Progress,
) -> Result<TrainOutcome, TrainError> {
    train_distilled(
        net,
        train_set,
        val_set,
        cfg,
        masks,
        checkpoint,
        progress,
        &[],
    )
}

/// [`train`] with teacher networks for [`TrainConfig::distill`] (their number must equal
/// `Distill::teachers`, and they must have the student's classes; no teachers without it).
#[allow(clippy::too_many_arguments)]
pub fn train_distilled(
    net: &mut Net,
    train_set: &Dataset,
    val_set: &Dataset,
    cfg: &TrainConfig,
    masks: Option<&ParamMasks>,
    checkpoint: &CheckpointOptions,
    progress: &mut dyn Progress,
    teachers: &[Net],
) -> Result<TrainOutcome, TrainError> {
    cfg.validate()?;
    let want = cfg.distill.map_or(0, |d| d.teachers);
    if teachers.len() != want {
        return Err(TrainError::Config(format!(
            "{} teacher network(s) given, the distillation settings name {want}",
            teachers.len()
        )));
    }
    if let Some(t) = teachers
        .iter()
        .find(|t| t.arch.classes() != net.arch.classes())
    {
        return Err(TrainError::Config(format!(
            "a teacher has {} classes, the student {}",
            t.arch.classes(),
            net.arch.classes()
        )));
    }
    if train_set.is_empty() || (val_set.is_empty() && !cfg.keep_last) {
        return Err(TrainError::Config(format!(
            "empty split: {} training, {} validation images",
            train_set.len(),
            val_set.len()
        )));
    }
    if let Some(m) = masks {
        for name in m.keys() {
            if !net.params.iter().any(|p| &p.name == name) {
                return Err(TrainError::Config(format!(
                    "mask for unknown parameter {name}"
                )));
            }
        }
    }
    let classes = net.arch.classes();
    if let Some(&bad) = train_set
        .labels
        .iter()
        .chain(&val_set.labels)
        .find(|&&l| l >= classes)
    {
        return Err(TrainError::Config(format!(
            "label {bad} but the network has {classes} outputs"
        )));
    }
    let mut st = LoopState {
        rng: Rng::derive(&[cfg.seed, 0x7EA1]),
        opt: Optimizer::new(cfg.optim.clone(), &net.params)?,
        history: Vec::new(),
        best: net.params.clone(),
        best_epoch: 0,
        best_val_loss: f32::INFINITY,
        bad_epochs: 0,
        ema: cfg.ema.map(|_| net.params.clone()),
    };
    if let (Some(dir), true) = (&checkpoint.dir, checkpoint.resume) {
        if dir.join("state.json").exists() {
            load_checkpoint(
                dir,
                net,
                &mut st,
                cfg,
                (train_set.len(), val_set.len()),
                &checkpoint.run_settings,
            )?;
        }
    }
    let mut stopped_early = cfg.patience > 0 && st.bad_epochs >= cfg.patience;
    let start_epoch = st.history.len() + 1;
    let steps_per_epoch = epoch_items(train_set.len(), cfg)
        .len()
        .div_ceil(cfg.batch_size);
    let total_steps = steps_per_epoch * cfg.epochs;
    for epoch in start_epoch..=cfg.epochs {
        if stopped_early {
            break;
        }
        let pruned = match &cfg.prune {
            Some(p) => prune_for_epoch(net, p, epoch, masks)?,
            None => None,
        };
        let epoch_masks = pruned.as_ref().or(masks);
        let mut items = epoch_items(train_set.len(), cfg);
        st.rng.shuffle(&mut items);
        let batches = items.len().div_ceil(cfg.batch_size);
        progress.epoch_start(epoch, batches);
        let t0 = Instant::now();
        let (mut loss_sum, mut correct) = (0f64, 0usize);
        for (b, chunk) in items.chunks(cfg.batch_size).enumerate() {
            let x = make_batch(train_set, chunk, cfg, epoch);
            let labels: Vec<usize> = chunk.iter().map(|&(i, _)| train_set.labels[i]).collect();
            let soft = cfg
                .distill
                .map(|d| (d, teacher_probs(teachers, &x, d.temperature, classes)));
            let (logits, caches) = net.forward(x, Mode::Train, &mut st.rng);
            let (mut loss, mut dlogits, probs) =
                softmax_cross_entropy_smoothed(&logits, &labels, classes, cfg.label_smoothing);
            if let Some((d, q)) = &soft {
                loss = add_distillation(d, &logits, q, classes, loss, &mut dlogits);
            }
            if !loss.is_finite() {
                return Err(TrainError::Diverged { epoch, batch: b });
            }
            let ok = probs
                .chunks_exact(classes)
                .zip(&labels)
                .filter(|(r, &y)| crate::eval::argmax(r) == y)
                .count();
            let mut grads = net.backward(caches, dlogits);
            st.opt.lr_scale = cfg.schedule.factor(
                (epoch - 1) * steps_per_epoch + b,
                total_steps,
                steps_per_epoch,
            );
            st.opt.step(&mut net.params, &mut grads, epoch_masks)?;
            if let (Some(e), Some(d)) = (&mut st.ema, cfg.ema) {
                ema_update(e, &net.params, d, st.opt.t);
            }
            loss_sum += loss as f64 * chunk.len() as f64;
            correct += ok;
            progress.batch(loss, ok as f32 / chunk.len() as f32);
        }
        let train_seconds = t0.elapsed().as_secs_f64();
        // With a weight average, the averaged weights are the ones scored and kept: swap them
        // into the network for this epoch's end (and back before the next epoch trains).
        if let Some(e) = &mut st.ema {
            std::mem::swap(&mut net.params, e);
        }
        let (val_loss, val_accuracy) = if val_set.is_empty() {
            (f32::NAN, f32::NAN)
        } else {
            loss_and_accuracy(net, val_set)
        };
        let stats = EpochStats {
            epoch,
            train_loss: (loss_sum / items.len() as f64) as f32,
            train_accuracy: correct as f32 / items.len() as f32,
            val_loss,
            val_accuracy,
            images: items.len(),
            train_seconds,
        };
        let is_best = cfg.keep_last || val_loss < st.best_val_loss;
        if cfg.keep_last {
            // The last epoch is the kept one; no copy of the weights is needed.
            st.best_epoch = epoch;
            if val_loss < st.best_val_loss {
                st.best_val_loss = val_loss;
            }
        } else if is_best {
            st.best_val_loss = val_loss;
            st.best_epoch = epoch;
            st.best = net.params.clone();
            st.bad_epochs = 0;
        } else {
            st.bad_epochs += 1;
        }
        if let Some(e) = &mut st.ema {
            std::mem::swap(&mut net.params, e);
        }
        progress.epoch_end(&stats, is_best);
        st.history.push(stats);
        if cfg.patience > 0 && st.bad_epochs >= cfg.patience {
            stopped_early = true;
        }
        if let Some(dir) = &checkpoint.dir {
            save_checkpoint(
                dir,
                net,
                &st,
                cfg,
                (train_set.len(), val_set.len()),
                &checkpoint.run_settings,
            )?;
        }
    }
    if st.best_epoch > 0 && !cfg.keep_last {
        net.params = st.best;
    } else if let Some(e) = st.ema {
        net.params = e;
    }
    Ok(TrainOutcome {
        history: st.history,
        best_epoch: st.best_epoch,
        stopped_early,
    })
}

#[cfg(test)]
mod tests {
    use super::{add_distillation, Distill, LrSchedule};

    #[test]
    fn cosine_schedule_warms_up_then_decays_to_its_floor() {
        let s = LrSchedule::Cosine {
            min_factor: 0.05,
            warmup_epochs: 2,
        };
        let (per, total) = (10, 100);
        // linear warm-up over 20 steps: 1/20, 2/20, ..., 1
        assert!((s.factor(0, total, per) - 0.05).abs() < 1e-6);
        assert!((s.factor(19, total, per) - 1.0).abs() < 1e-6);
        // then a half-cosine from 1 down to the floor, never increasing
        assert!((s.factor(20, total, per) - 1.0).abs() < 1e-6);
        let mid = s.factor(60, total, per); // halfway through the 80 decay steps
        assert!((mid - (0.05 + 0.95 * 0.5)).abs() < 1e-5, "{mid}");
        let mut last = f32::INFINITY;
        for step in 20..=total {
            let f = s.factor(step, total, per);
            assert!(f <= last + 1e-7, "step {step}: {f} > {last}");
            last = f;
        }
        assert!((s.factor(total, total, per) - 0.05).abs() < 1e-6);
        assert_eq!(LrSchedule::Constant.factor(57, total, per), 1.0);
    }

    /// The distillation gradient is the derivative of the distillation loss (central finite
    /// differences on every logit), for a hard term of zero.
    #[test]
    fn distillation_gradient_matches_finite_differences() {
        let d = Distill {
            weight: 0.6,
            temperature: 3.0,
            teachers: 1,
        };
        let classes = 4;
        let logits = [0.3f32, -1.2, 2.0, 0.1, 1.5, 0.2, -0.7, 0.9];
        let q = [0.1f32, 0.2, 0.6, 0.1, 0.5, 0.25, 0.05, 0.2];
        let loss = |z: &[f32]| {
            let mut g = vec![0.0; z.len()];
            add_distillation(&d, z, &q, classes, 0.0, &mut g)
        };
        let mut grad = vec![0.0; logits.len()];
        add_distillation(&d, &logits, &q, classes, 0.0, &mut grad);
        for i in 0..logits.len() {
            let h = 1e-2;
            let (mut up, mut down) = (logits, logits);
            up[i] += h;
            down[i] -= h;
            let num = (loss(&up) - loss(&down)) / (2.0 * h);
            assert!(
                (num - grad[i]).abs() < 2e-3,
                "logit {i}: numeric {num}, analytic {}",
                grad[i]
            );
        }
        // the hard term enters with weight 1 - w
        let mut g = vec![1.0; logits.len()];
        let l = add_distillation(&d, &logits, &q, classes, 2.0, &mut g);
        assert!((l - (0.4 * 2.0 + loss(&logits))).abs() < 1e-5);
        assert!((g[0] - (0.4 + grad[0])).abs() < 1e-6);
    }
}
