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
use crate::layers::softmax_cross_entropy;
use crate::model::{
    bytes_to_tensors, tensors_to_bytes, write_dir_atomic, Arch, Mode, ModelError, Net, Param,
};
use crate::optim::{OptimConfig, OptimError, Optimizer, ParamMasks};
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
        self.optim.validate()?;
        Ok(())
    }
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
    let d = |name, a: String, b: String| (a != b).then_some((name, a, b));
    d(
        "optimizer",
        format!("{:?}", was.optim),
        format!("{:?}", now.optim),
    )
    .or_else(|| {
        d(
            "batch size",
            was.batch_size.to_string(),
            now.batch_size.to_string(),
        )
    })
    .or_else(|| d("seed", was.seed.to_string(), now.seed.to_string()))
    .or_else(|| d("augmentation", aug(&was.augment), aug(&now.augment)))
    .or_else(|| {
        d(
            "augment factor",
            was.augment_factor.to_string(),
            now.augment_factor.to_string(),
        )
    })
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
    cfg.validate()?;
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
    for epoch in start_epoch..=cfg.epochs {
        if stopped_early {
            break;
        }
        let mut items = epoch_items(train_set.len(), cfg);
        st.rng.shuffle(&mut items);
        let batches = items.len().div_ceil(cfg.batch_size);
        progress.epoch_start(epoch, batches);
        let t0 = Instant::now();
        let (mut loss_sum, mut correct) = (0f64, 0usize);
        for (b, chunk) in items.chunks(cfg.batch_size).enumerate() {
            let x = make_batch(train_set, chunk, cfg, epoch);
            let labels: Vec<usize> = chunk.iter().map(|&(i, _)| train_set.labels[i]).collect();
            let (logits, caches) = net.forward(x, Mode::Train, &mut st.rng);
            let (loss, dlogits, probs) = softmax_cross_entropy(&logits, &labels, classes);
            if !loss.is_finite() {
                return Err(TrainError::Diverged { epoch, batch: b });
            }
            let ok = probs
                .chunks_exact(classes)
                .zip(&labels)
                .filter(|(r, &y)| crate::eval::argmax(r) == y)
                .count();
            let mut grads = net.backward(caches, dlogits);
            st.opt.step(&mut net.params, &mut grads, masks)?;
            loss_sum += loss as f64 * chunk.len() as f64;
            correct += ok;
            progress.batch(loss, ok as f32 / chunk.len() as f32);
        }
        let train_seconds = t0.elapsed().as_secs_f64();
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
    }
    Ok(TrainOutcome {
        history: st.history,
        best_epoch: st.best_epoch,
        stopped_early,
    })
}
