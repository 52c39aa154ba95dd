//! The quantisation pipeline: float model in, firmware blob out.
//!
//! 1. [`plan_layers`]: every conv/dense layer becomes one blob layer, NP (uniform int8) or P
//!    (pruned, power-of-two); a conv followed by ReLU and max-pool gets the fused `pool` flag.
//! 2. [`prune`]: gradual magnitude pruning of the P layers over a [`PruneSchedule`], fine-tuning
//!    between steps with the pruned entries frozen at 0 (`train::train` masks).
//! 3. [`inq`]: INQ on the P layers (portions [`INQ_PORTIONS`], largest magnitudes first,
//!    retraining the not-yet-quantised weights between steps), then fine-tuning of the
//!    remaining float parameters (NP layers, biases) with early stopping on validation loss.
//! 4. [`finish`]: activation scales calibrated on training images, NP layers quantised to int8,
//!    P layers encoded, the blob written by `firmware::model::encode` (which re-parses it).

use std::collections::BTreeMap;

use firmware::model::{encode, LayerDesc, ModelDesc, Shape};
use ndarray::Array4;
use serde::Serialize;

use super::{Compression, LayerStats, QModelError, Result, StageRecord};
use crate::augment::AugmentConfig;
use crate::data::Dataset;
use crate::layers::{self, LayerSpec};
use crate::model::{Arch, Net};
use crate::optim::{OptimConfig, ParamMasks};
use crate::quant::{
    activation_scale, inq_step, magnitude_prune_mask, max_levels, quantize_np_layer,
    quantize_p_layer, Calibration, CompressionReport, InqParams, LayerCompression, PruneSchedule,
    QuantError, INPUT_SCALE, INQ_PORTIONS,
};
use crate::train::{train_distilled, CheckpointOptions, Distill, Progress, TrainConfig};

/// NP (uniform int8) or P (pruned power-of-two) deployment of a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Scheme {
    /// int8 weights, parallel MAC hardware.
    Np,
    /// Pruned power-of-two weights, shift-add hardware (dense layers only).
    P,
}

/// How a float conv/dense layer maps to a blob layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerPlan {
    /// Index among the conv/dense layers (what `--p-layers` / `--np-layers` count).
    pub index: usize,
    /// Index in `Arch::layers`.
    pub arch_index: usize,
    /// Parameter prefix `layers.<arch_index>`.
    pub name: String,
    /// `Some((k, cin, cout))` for a convolution, `None` for a dense layer.
    pub conv: Option<(usize, usize, usize)>,
    /// Dense `(n_in, n_out)`, or conv `(cin, cout)`.
    pub io: (usize, usize),
    /// Fused 2x2 max-pool after the ReLU (conv only).
    pub pool: bool,
    /// NP or P.
    pub scheme: Scheme,
    /// The logits layer.
    pub is_final: bool,
}

impl LayerPlan {
    /// `layers.<i>.weight`.
    pub fn weight_name(&self) -> String {
        format!("{}.weight", self.name)
    }
    /// `layers.<i>.bias`.
    pub fn bias_name(&self) -> String {
        format!("{}.bias", self.name)
    }
    /// Output channels / features.
    pub fn n_out(&self) -> usize {
        self.io.1
    }
}

/// Maps `arch` onto blob layers. Default: every dense layer except the final one is P, the
/// rest NP (for paper-cnn: conv 0, conv 1 NP; dense 2 (3380 -> 64) P; dense 3 (head) NP).
/// `p_layers` / `np_layers` override by conv/dense index; P layers must be dense.
pub fn plan_layers(arch: &Arch, p_layers: &[usize], np_layers: &[usize]) -> Result<Vec<LayerPlan>> {
    arch.validate()?;
    let unsupported = |i: usize, why: &str| {
        QModelError::Config(format!(
            "architecture {}: layer {i} ({}) {why}; the integer pipeline supports conv/dense, \
             each followed by relu (except the last), conv optionally by one max_pool2, flatten \
             and dropout",
            arch.name,
            arch.layers[i].op()
        ))
    };
    let n = arch.layers.len();
    let mut plan = Vec::new();
    for (i, l) in arch.layers.iter().enumerate() {
        match *l {
            LayerSpec::Conv2d {
                in_ch,
                out_ch,
                kernel,
            } => {
                let pool = arch.layers.get(i + 2) == Some(&LayerSpec::MaxPool2);
                plan.push((i, Some((kernel, in_ch, out_ch)), (in_ch, out_ch), pool));
            }
            LayerSpec::Dense { inputs, outputs } => {
                plan.push((i, None, (inputs, outputs), false));
            }
            LayerSpec::Relu => {
                if i == 0 || arch.layers[i - 1].param_shapes().is_empty() {
                    return Err(unsupported(i, "does not follow a conv/dense layer"));
                }
            }
            LayerSpec::MaxPool2 => {
                let ok = i >= 2
                    && matches!(arch.layers[i - 2], LayerSpec::Conv2d { .. })
                    && arch.layers[i - 1] == LayerSpec::Relu;
                if !ok {
                    return Err(unsupported(i, "does not follow conv + relu"));
                }
            }
            LayerSpec::Flatten | LayerSpec::Dropout { .. } => {}
        }
    }
    let count = plan.len();
    if count > firmware::model::MAX_LAYERS {
        return Err(QModelError::Config(format!(
            "{count} conv/dense layers, the blob holds at most {}",
            firmware::model::MAX_LAYERS
        )));
    }
    for &i in p_layers.iter().chain(np_layers) {
        if i >= count {
            return Err(QModelError::Config(format!(
                "layer index {i} out of range: the model has {count} conv/dense layers (0..={})",
                count - 1
            )));
        }
    }
    if let Some(i) = p_layers.iter().find(|i| np_layers.contains(i)) {
        return Err(QModelError::Config(format!(
            "layer {i} is in both --p-layers and --np-layers"
        )));
    }
    let mut out = Vec::with_capacity(count);
    for (index, (arch_index, conv, io, pool)) in plan.into_iter().enumerate() {
        let is_final = arch_index + 1 == n;
        let mut scheme = if conv.is_none() && !is_final {
            Scheme::P
        } else {
            Scheme::Np
        };
        if p_layers.contains(&index) {
            if conv.is_some() {
                return Err(QModelError::Config(format!(
                    "layer {index} is a convolution: P layers are dense only (blob kind DenseP)"
                )));
            }
            scheme = Scheme::P;
        }
        if np_layers.contains(&index) {
            scheme = Scheme::Np;
        }
        out.push(LayerPlan {
            index,
            arch_index,
            name: format!("layers.{arch_index}"),
            conv,
            io,
            pool,
            scheme,
            is_final,
        });
    }
    Ok(out)
}

/// Settings of the pipeline (recorded in `quant.json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuantizeConfig {
    /// Final sparsity of the P layers, in `[0, 1)`.
    pub sparsity: f64,
    /// P-layer code width, 2..=7.
    pub bits: u8,
    /// Non-zero power-of-two levels of the P layers (`None`: as many as the code holds and the
    /// accumulator bound allows, see [`auto_levels`]).
    pub levels: Option<u8>,
    /// Gradual pruning steps (0: prune in one shot without fine-tuning).
    pub prune_steps: usize,
    /// Pruning schedule.
    #[serde(serialize_with = "ser_schedule")]
    pub schedule: PruneSchedule,
    /// Fine-tuning epochs after every pruning step and every INQ step but the last.
    pub epochs_per_step: usize,
    /// Fine-tuning epochs after the last INQ step (early stopping with `patience`).
    pub finetune_epochs: usize,
    /// Early-stopping patience of the final fine-tuning (0 = off).
    pub patience: usize,
    /// Adam learning rate of all fine-tuning.
    pub lr: f32,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Seed of fine-tuning (shuffling, dropout).
    pub seed: u64,
    /// Calibration method.
    #[serde(serialize_with = "ser_calibration")]
    pub calibration: Calibration,
    /// Training images used for calibration (evenly spaced over the training split).
    pub calib_images: usize,
    /// Conv/dense indices forced to P.
    pub p_layers: Vec<usize>,
    /// Conv/dense indices forced to NP.
    pub np_layers: Vec<usize>,
    /// On-the-fly augmentation of the fine-tuning after every pruning and INQ step but the last
    /// (`None`: the training images as they are).
    pub augment: Option<AugmentConfig>,
    /// The final fine-tuning is augmented as well (needs `augment`).
    pub augment_final: bool,
    /// Weight of self-distillation in every fine-tuning, in `[0, 1]`: the loss mixes the
    /// labels with the float source model's softmax at `distill_temperature` (the source is the
    /// teacher of the model being pruned and quantised; 0 = labels only).
    pub distill_weight: f32,
    /// Softmax temperature of the self-distillation, `> 0`.
    pub distill_temperature: f32,
    /// The final fine-tuning keeps its last epoch instead of the one with the best validation
    /// accuracy, so the validation images choose nothing (for held-out estimates).
    pub keep_last: bool,
}

fn ser_schedule<S: serde::Serializer>(
    s: &PruneSchedule,
    ser: S,
) -> std::result::Result<S::Ok, S::Error> {
    ser.serialize_str(match s {
        PruneSchedule::Linear => "linear",
        PruneSchedule::Cubic => "cubic",
    })
}

fn ser_calibration<S: serde::Serializer>(
    c: &Calibration,
    ser: S,
) -> std::result::Result<S::Ok, S::Error> {
    match c {
        Calibration::MinMax => ser.serialize_str("minmax"),
        Calibration::Percentile(p) => ser.serialize_str(&format!("percentile {p}")),
    }
}

impl Default for QuantizeConfig {
    fn default() -> Self {
        QuantizeConfig {
            sparsity: 0.95,
            bits: 4,
            levels: None,
            prune_steps: 3,
            schedule: PruneSchedule::Cubic,
            epochs_per_step: 1,
            finetune_epochs: 3,
            patience: 2,
            lr: 3e-4,
            batch_size: 64,
            seed: 42,
            calibration: Calibration::Percentile(99.99),
            calib_images: 200,
            p_layers: Vec::new(),
            np_layers: Vec::new(),
            augment: None,
            augment_final: false,
            distill_weight: 0.0,
            distill_temperature: 4.0,
            keep_last: false,
        }
    }
}

impl QuantizeConfig {
    /// Range checks with messages naming the option.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(QModelError::Config(m));
        if !(0.0..1.0).contains(&self.sparsity) {
            return bad(format!(
                "--sparsity {} outside [0, 1) (a P layer cannot be pruned to nothing)",
                self.sparsity
            ));
        }
        let (lo, hi) = (firmware::numerics::PBITS_MIN, firmware::numerics::PBITS_MAX);
        if !(lo..=hi).contains(&self.bits) {
            return bad(format!("--pow2-bits {} outside {lo}..={hi}", self.bits));
        }
        if let Some(l) = self.levels {
            let max = max_levels(self.bits);
            if !(1..=max).contains(&l) {
                return bad(format!(
                    "--levels {l} outside 1..={max} (what a {}-bit code holds)",
                    self.bits
                ));
            }
        }
        if let Calibration::Percentile(p) = self.calibration {
            if !(p > 0.0 && p <= 100.0) {
                return bad(format!("--percentile {p} outside (0, 100]"));
            }
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("--lr {} must be > 0", self.lr));
        }
        if self.batch_size == 0 {
            return bad("--batch must be > 0".into());
        }
        if self.calib_images == 0 {
            return bad("--calib-images must be > 0".into());
        }
        if self.augment_final && self.augment.is_none() {
            return bad("--augment-final needs --augment".into());
        }
        if !(0.0..=1.0).contains(&self.distill_weight) {
            return bad(format!(
                "--distill-weight {} outside [0, 1]",
                self.distill_weight
            ));
        }
        if !(self.distill_temperature > 0.0 && self.distill_temperature.is_finite()) {
            return bad(format!(
                "--distill-temperature {} must be > 0",
                self.distill_temperature
            ));
        }
        if self.keep_last && self.patience != 0 {
            return bad(format!(
                "--keep-last trains the final fine-tuning for a fixed number of epochs: \
                 --patience must be 0, not {}",
                self.patience
            ));
        }
        Ok(())
    }

    /// Fine-tuning of one stage; `last`: the final fine-tuning after the last INQ step.
    fn train_config(
        &self,
        epochs: usize,
        patience: usize,
        stage_seed: u64,
        last: bool,
    ) -> TrainConfig {
        TrainConfig {
            epochs,
            batch_size: self.batch_size,
            optim: OptimConfig::adam(self.lr),
            patience,
            seed: self.seed.wrapping_add(stage_seed),
            augment: if last && !self.augment_final {
                None
            } else {
                self.augment.clone()
            },
            augment_factor: 0,
            keep_last: last && self.keep_last,
            distill: (self.distill_weight > 0.0).then_some(Distill {
                weight: self.distill_weight,
                temperature: self.distill_temperature,
                teachers: 1,
            }),
            ..TrainConfig::default()
        }
    }
}

fn weights<'a>(net: &'a Net, name: &str) -> &'a [f32] {
    net.params
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.value.as_slice())
        .unwrap_or(&[])
}

fn weights_mut<'a>(net: &'a mut Net, name: &str) -> &'a mut [f32] {
    net.params
        .iter_mut()
        .find(|p| p.name == name)
        .and_then(|p| p.value.as_slice_mut())
        .expect("parameter of the planned architecture")
}

fn quant_err(layer: &str) -> impl FnOnce(QuantError) -> QModelError + '_ {
    move |source| QModelError::Quant {
        layer: layer.to_string(),
        source,
    }
}

/// Live (unpruned) masks of the P layers' weights, by parameter name (`layers.<i>.weight`).
pub type LiveMasks = BTreeMap<String, Vec<bool>>;

/// The data of the fine-tuning stages: training and validation split, and the float source
/// model (the self-distillation teacher when `QuantizeConfig::distill_weight` > 0).
#[derive(Clone, Copy)]
pub struct FineTuneData<'a> {
    /// Fine-tuning images.
    pub train: &'a Dataset,
    /// Early-stopping images.
    pub val: &'a Dataset,
    /// The float model being compressed.
    pub source: &'a Net,
}

fn run_stage(
    net: &mut Net,
    frozen: &ParamMasks,
    data: FineTuneData<'_>,
    tc: &TrainConfig,
    stage: &str,
    target: f64,
    progress: &mut dyn Progress,
) -> Result<Option<StageRecord>> {
    if tc.epochs == 0 {
        return Ok(None);
    }
    let teachers = if tc.distill.is_some() {
        std::slice::from_ref(data.source)
    } else {
        &[]
    };
    let out = train_distilled(
        net,
        data.train,
        data.val,
        tc,
        Some(frozen),
        &CheckpointOptions::default(),
        progress,
        teachers,
    )?;
    let best = &out.history[out.best_epoch.max(1) - 1];
    Ok(Some(StageRecord {
        stage: stage.to_string(),
        target,
        epochs: out.history.len(),
        val_loss: best.val_loss,
        val_accuracy: best.val_accuracy,
    }))
}

/// Gradual magnitude pruning of the P layers of `net` to `cfg.sparsity` in `cfg.prune_steps`
/// steps on `cfg.schedule`, fine-tuning `cfg.epochs_per_step` epochs after each with pruned
/// weights frozen at 0. A weight pruned once stays pruned. Returns the live masks and the
/// stage records.
pub fn prune(
    net: &mut Net,
    plan: &[LayerPlan],
    data: FineTuneData<'_>,
    cfg: &QuantizeConfig,
    progress: &mut dyn Progress,
) -> Result<(LiveMasks, Vec<StageRecord>)> {
    cfg.validate()?;
    let mut live: LiveMasks = plan
        .iter()
        .filter(|l| l.scheme == Scheme::P)
        .map(|l| {
            let n = weights(net, &l.weight_name()).len();
            (l.weight_name(), vec![true; n])
        })
        .collect();
    let mut stages = Vec::new();
    let steps = cfg.prune_steps.max(1);
    for step in 1..=steps {
        let s = cfg
            .schedule
            .sparsity_at(step, steps, 0.0, cfg.sparsity)
            .map_err(quant_err("pruning schedule"))?;
        let mut frozen = ParamMasks::new();
        for (name, keep) in live.iter_mut() {
            let w = weights_mut(net, name);
            let fresh = magnitude_prune_mask(w, s).map_err(quant_err(name))?;
            for ((k, f), v) in keep.iter_mut().zip(&fresh).zip(w.iter_mut()) {
                *k &= f;
                if !*k {
                    *v = 0.0;
                }
            }
            frozen.insert(name.clone(), keep.iter().map(|&k| !k).collect());
        }
        if cfg.prune_steps > 0 {
            let tc = cfg.train_config(cfg.epochs_per_step, 0, 100 + step as u64, false);
            if let Some(r) = run_stage(net, &frozen, data, &tc, "prune", s, progress)? {
                stages.push(r);
            }
        }
    }
    Ok((live, stages))
}

/// The level count [`inq`] uses without `--levels`: the most the code holds such that a row
/// with `max_row_nonzero` weights, all at the top level `2^(L-1)` units, keeps
/// `255 * max_row_nonzero * 2^(L-1) <= 2^30` (half the model reader's accumulator bound, the
/// other half left for the bias). `None` when even one level does not fit.
pub fn auto_levels(bits: u8, max_row_nonzero: usize) -> Option<u8> {
    let worst = 255u64 * max_row_nonzero.max(1) as u64;
    (1..=max_levels(bits))
        .rev()
        .find(|&l| l <= 31 && worst << (l - 1) <= 1 << 30)
}

/// INQ of the P layers (grid from `max|w|` of the live weights, fixed for all steps), with
/// `cfg.epochs_per_step` epochs retraining the not-yet-quantised weights after every portion
/// but the last; then `cfg.finetune_epochs` of fine-tuning of everything but the P weights
/// (early stopping on validation loss). Returns the grids by parameter name.
pub fn inq(
    net: &mut Net,
    plan: &[LayerPlan],
    live: &LiveMasks,
    data: FineTuneData<'_>,
    cfg: &QuantizeConfig,
    progress: &mut dyn Progress,
) -> Result<(BTreeMap<String, InqParams>, Vec<StageRecord>)> {
    cfg.validate()?;
    let mut grids = BTreeMap::new();
    for l in plan.iter().filter(|l| l.scheme == Scheme::P) {
        let name = l.weight_name();
        let keep = &live[&name];
        let cols = l.io.0;
        let max_row = keep
            .chunks(cols)
            .map(|r| r.iter().filter(|&&k| k).count())
            .max()
            .unwrap_or(0);
        let levels = match cfg.levels {
            Some(v) => v,
            None => auto_levels(cfg.bits, max_row).ok_or_else(|| {
                QModelError::Config(format!(
                    "{name}: a row keeps {max_row} weights; no power-of-two level fits the \
                     accumulator bound (raise --sparsity)"
                ))
            })?,
        };
        let p = InqParams::from_weights_levels(cfg.bits, levels, weights(net, &name))
            .map_err(quant_err(&name))?;
        grids.insert(name, p);
    }
    let mut quantised: BTreeMap<String, Vec<bool>> = live
        .iter()
        .map(|(n, m)| (n.clone(), vec![false; m.len()]))
        .collect();
    let mut stages = Vec::new();
    let mut frozen = ParamMasks::new();
    for (step, &portion) in INQ_PORTIONS.iter().enumerate() {
        for (name, p) in &grids {
            let w = weights_mut(net, name);
            let st =
                inq_step(w, &live[name], &quantised[name], portion, p).map_err(quant_err(name))?;
            w.copy_from_slice(&st.weights);
            quantised.insert(name.clone(), st.quantised);
            frozen.insert(name.clone(), st.frozen);
        }
        if portion < 1.0 {
            let tc = cfg.train_config(cfg.epochs_per_step, 0, 200 + step as u64, false);
            if let Some(r) = run_stage(net, &frozen, data, &tc, "inq", portion, progress)? {
                stages.push(r);
            }
        }
    }
    let tc = cfg.train_config(cfg.finetune_epochs, cfg.patience, 300, true);
    if let Some(r) = run_stage(net, &frozen, data, &tc, "finetune", 1.0, progress)? {
        stages.push(r);
    }
    // The frozen masks kept every P weight exactly on its grid; check it anyway.
    for (name, p) in &grids {
        if let Some((i, &v)) = weights(net, name)
            .iter()
            .enumerate()
            .find(|(_, &v)| p.quantize(v) != v)
        {
            return Err(QModelError::Config(format!(
                "{name}[{i}] = {v} left the power-of-two grid during fine-tuning"
            )));
        }
    }
    Ok((grids, stages))
}

/// Float forward pass of a batch `[n, h, w, c]` recording the input of every planned layer
/// (after the previous layer's ReLU and pool; dropout is the identity).
pub fn layer_inputs(net: &Net, x: Array4<f32>) -> Vec<Array4<f32>> {
    let mut out = Vec::new();
    let mut cur = x;
    for (i, l) in net.arch.layers.iter().enumerate() {
        let get = |kind: &str| {
            net.params
                .iter()
                .find(|p| p.name == format!("layers.{i}.{kind}"))
                .map(|p| &p.value)
                .expect("parameter of a validated architecture")
        };
        cur = match *l {
            LayerSpec::Conv2d { .. } => {
                out.push(cur.clone());
                layers::conv_forward(&cur, get("weight"), get("bias"))
            }
            LayerSpec::Dense { .. } => {
                out.push(cur.clone());
                layers::dense_forward(&cur, get("weight"), get("bias"))
            }
            LayerSpec::Relu => {
                layers::relu_forward(&mut cur);
                cur
            }
            LayerSpec::MaxPool2 => layers::maxpool_forward(&cur).0,
            LayerSpec::Flatten => {
                let s = cur.shape().to_vec();
                cur.into_shape_with_order((s[0], 1, 1, s[1] * s[2] * s[3]))
                    .expect("contiguous activation")
            }
            LayerSpec::Dropout { .. } => cur,
        };
    }
    out
}

/// Output activation scale of every non-final planned layer, from the float activations of
/// `images` (u8 HWC) through `net`.
pub fn calibrate(net: &Net, images: &[&[u8]], method: Calibration) -> Result<Vec<f64>> {
    let mut samples: Vec<Vec<f32>> = Vec::new();
    for chunk in images.chunks(32) {
        let x = crate::data::pixels_to_batch(chunk.iter().copied());
        let ins = layer_inputs(net, x);
        if samples.is_empty() {
            samples = vec![Vec::new(); ins.len().saturating_sub(1)];
        }
        for (s, a) in samples.iter_mut().zip(ins.iter().skip(1)) {
            s.extend(a.iter().copied());
        }
    }
    samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            activation_scale(s, method).map_err(quant_err(&format!("calibration of layer {i}")))
        })
        .collect()
}

/// `n` indices evenly spread over `0..len` (all of them when `n >= len`).
pub fn spread(len: usize, n: usize) -> Vec<usize> {
    if n >= len {
        return (0..len).collect();
    }
    (0..n).map(|i| i * len / n).collect()
}

/// The result of [`finish`].
#[derive(Clone, Debug)]
pub struct Deployed {
    /// The encoded, reader-validated blob.
    pub blob: Vec<u8>,
    /// Per-layer statistics.
    pub layers: Vec<LayerStats>,
    /// Compression of the whole model.
    pub compression: Compression,
    /// The quantiser core's byte accounting (with the true blob length).
    pub report: CompressionReport,
}

/// Calibrates on `calib` (training images), quantises every layer of `net` (P layers must be on
/// the grids of `grids`) and encodes the blob with `firmware::model::encode`.
pub fn finish(
    net: &Net,
    plan: &[LayerPlan],
    grids: &BTreeMap<String, InqParams>,
    calib: &[&[u8]],
    classes: &[String],
    cfg: &QuantizeConfig,
) -> Result<Deployed> {
    let scales = calibrate(net, calib, cfg.calibration)?;
    let [h, w, c] = net.arch.input;
    let mut in_scale = INPUT_SCALE;
    let mut descs = Vec::new();
    let mut stats = Vec::new();
    let mut lines = Vec::new();
    let mut logit_scale = 1.0f64;
    for (j, l) in plan.iter().enumerate() {
        let wname = l.weight_name();
        let (wv, bv) = (weights(net, &wname), weights(net, &l.bias_name()));
        let out_scale = (!l.is_final).then(|| scales[j]);
        let cout = l.n_out();
        let mut st = LayerStats {
            index: j,
            name: l.name.clone(),
            kind: if l.conv.is_some() { "conv" } else { "dense" }.into(),
            scheme: String::new(),
            weights: wv.len(),
            nonzero: 0,
            sparsity: 0.0,
            bits: 8,
            levels: None,
            n1: None,
            n2: None,
            entries: None,
            in_scale,
            out_scale,
            float_bytes: 0,
            deployed_bytes: 0,
        };
        let line = match l.scheme {
            Scheme::Np => {
                let q = quantize_np_layer(wv, bv, cout, in_scale, out_scale)
                    .map_err(quant_err(&l.name))?;
                if let Some(s) = q.logit_scale() {
                    logit_scale = s;
                }
                let line = LayerCompression::from_np(&l.name, &q);
                st.scheme = "NP".into();
                descs.push(match l.conv {
                    Some((k, cin, cout)) => LayerDesc::Conv {
                        k: u8::try_from(k).map_err(|_| {
                            QModelError::Config(format!("{}: kernel {k} > 255", l.name))
                        })?,
                        cin,
                        cout,
                        pool: l.pool,
                        weights: q.weights,
                        bias: q.bias,
                        rq: q.requant.unwrap_or_default(),
                    },
                    None => LayerDesc::Dense {
                        n_in: l.io.0,
                        n_out: cout,
                        weights: q.weights,
                        bias: q.bias,
                        rq: q.requant,
                    },
                });
                line
            }
            Scheme::P => {
                let p = &grids[&wname];
                let q = quantize_p_layer(wv, bv, cout, l.io.0, p, in_scale, out_scale)
                    .map_err(quant_err(&l.name))?;
                if l.is_final {
                    logit_scale = q.acc_scale();
                }
                let line = LayerCompression::from_p(&l.name, &q);
                st.scheme = "P".into();
                st.bits = p.bits;
                st.levels = Some(p.levels);
                st.n1 = Some(p.n1);
                st.n2 = Some(p.n2);
                st.entries = Some(q.weights.entries.len());
                descs.push(LayerDesc::DenseP {
                    n_in: l.io.0,
                    n_out: cout,
                    bits: p.bits,
                    n2: q.n2_i8(),
                    row_len: q.weights.row_len,
                    entries: q.weights.entries,
                    bias: q.bias,
                    rq: q.requant,
                });
                line
            }
        };
        st.nonzero = line.nonzero;
        st.sparsity = line.sparsity();
        st.float_bytes = line.float_bytes;
        st.deployed_bytes = line.deployed_bytes;
        stats.push(st);
        lines.push(line);
        if let Some(o) = out_scale {
            in_scale = o;
        }
    }
    let desc = ModelDesc {
        input: Shape { h, w, c },
        class_names: classes.to_vec(),
        logit_scale: logit_scale as f32,
        layers: descs,
    };
    let blob = encode(&desc).map_err(|error| QModelError::Blob {
        what: "encoded model".into(),
        error,
        code: error.code(),
    })?;
    let est: usize = lines.iter().map(|l| l.deployed_bytes).sum();
    let report =
        CompressionReport::new(lines, blob.len().saturating_sub(est)).with_blob_bytes(blob.len());
    // float32 bytes of *all* parameters of the float model (not only the planned ones).
    let float_bytes = 4 * net.num_params();
    let compression = Compression {
        float_bytes,
        blob_bytes: blob.len(),
        ratio: float_bytes as f64 / blob.len() as f64,
        sparsity: report.sparsity(),
    };
    Ok(Deployed {
        blob,
        layers: stats,
        compression,
        report,
    })
}

/// Everything [`quantize`] produces.
#[derive(Clone, Debug)]
pub struct Quantized {
    /// The float model after pruning, INQ and fine-tuning.
    pub finetuned: Net,
    /// The layer plan.
    pub plan: Vec<LayerPlan>,
    /// The P layers' grids.
    pub grids: BTreeMap<String, InqParams>,
    /// Fine-tuning stages.
    pub stages: Vec<StageRecord>,
    /// The deployed model.
    pub deployed: Deployed,
}

/// The whole pipeline on a copy of `source`: [`plan_layers`], [`prune`], [`inq`], [`finish`]
/// (calibrating on up to `cfg.calib_images` images of `train_set`).
pub fn quantize(
    source: &Net,
    classes: &[String],
    train_set: &Dataset,
    val_set: &Dataset,
    cfg: &QuantizeConfig,
    progress: &mut dyn Progress,
) -> Result<Quantized> {
    cfg.validate()?;
    let plan = plan_layers(&source.arch, &cfg.p_layers, &cfg.np_layers)?;
    let mut net = source.clone();
    let data = FineTuneData {
        train: train_set,
        val: val_set,
        source,
    };
    let (live, mut stages) = prune(&mut net, &plan, data, cfg, progress)?;
    let (grids, s2) = inq(&mut net, &plan, &live, data, cfg, progress)?;
    stages.extend(s2);
    let calib: Vec<&[u8]> = spread(train_set.len(), cfg.calib_images)
        .into_iter()
        .map(|i| train_set.images[i].as_slice())
        .collect();
    let deployed = finish(&net, &plan, &grids, &calib, classes, cfg)?;
    Ok(Quantized {
        finetuned: net,
        plan,
        grids,
        stages,
        deployed,
    })
}
