//! `cnnfpga quantize`: float model directory -> quantised model directory (`model.blob`,
//! `quant.json`, `finetuned.safetensors`). This module handles the arguments, the data split
//! and the printed summary; the pipeline is `qmodel::pipeline` and the directory's writer is
//! `qmodel::QuantMeta::files`, next to its reader.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::ValueEnum;

use crate::cli::train::AugmentKind;
use crate::data::load_folder;
use crate::eval::{argmax, evaluate, predict_dataset};
use crate::model::SavedModel;
use crate::outdir::{Input, OutDir, Producer};
use crate::qmodel::pipeline::{quantize, QuantizeConfig};
use crate::qmodel::{agreement, evaluate_int, IntModel, QuantMeta, QuantMetrics};
use crate::quant::{Calibration, PruneSchedule};
use crate::train::{EpochStats, Progress};

/// Activation calibration method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CalibKind {
    /// Largest value seen.
    Minmax,
    /// The `--percentile` percentile of the values seen.
    Percentile,
}

/// Pruning schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScheduleKind {
    /// Zhu & Gupta: fast early, slow near the target.
    Cubic,
    /// Equal steps.
    Linear,
}

/// Arguments of `cnnfpga quantize`.
///
/// Defaults are short so a run stays cheap (paper-cnn on 2000 training images: about 10 epochs
/// of fine-tuning in total); raise `--epochs-per-step` / `--finetune-epochs` for a better model.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Float model directory (`weights.safetensors` + `model.json`).
    #[arg(long)]
    pub model: PathBuf,
    /// Data folder (class names must equal the model's). Split into training (fine-tuning,
    /// calibration) and validation (early stopping, reported metrics) exactly as the float
    /// training split it: `--val-split`/`--seed` default to the values in `model.json`. A model
    /// trained on every image (`train --full`) has no split: 0.2 is used, and the metrics then
    /// measure fidelity to the float model on images it was trained on, not generalisation.
    #[arg(long)]
    pub data: PathBuf,
    /// Output directory (written atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Final sparsity of the P layers, in [0, 1). The default (with `--pow2-bits 3`) is the
    /// setting of the shipped `models/animals5-cnn-int` (51x at no measurable accuracy loss).
    #[arg(long, default_value_t = 0.97, allow_negative_numbers = true)]
    pub sparsity: f64,
    /// P-layer code width in bits (2..=7): sign + magnitude + zero-run skip in one byte.
    #[arg(long, default_value_t = 3)]
    pub pow2_bits: u8,
    /// Non-zero power-of-two levels of P layers (default: all the code holds, capped so the
    /// worst-case accumulator stays within half of i32).
    #[arg(long)]
    pub levels: Option<u8>,
    /// Gradual pruning steps (0 = one shot, no fine-tuning).
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
    /// Pruning schedule.
    #[arg(long, value_enum, default_value_t = ScheduleKind::Cubic)]
    pub schedule: ScheduleKind,
    /// Fine-tuning epochs after each pruning step and each INQ step but the last.
    #[arg(long, default_value_t = 1)]
    pub epochs_per_step: usize,
    /// Fine-tuning epochs after the last INQ step (early stopping on validation loss).
    #[arg(long, default_value_t = 3)]
    pub finetune_epochs: usize,
    /// Early-stopping patience of the final fine-tuning (0 = off).
    #[arg(long, default_value_t = 2)]
    pub patience: usize,
    /// Adam learning rate of the fine-tuning.
    #[arg(long, default_value_t = 3e-4)]
    pub lr: f32,
    /// Mini-batch size of the fine-tuning.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Activation calibration method.
    #[arg(long, value_enum, default_value_t = CalibKind::Percentile)]
    pub calibration: CalibKind,
    /// Percentile for `--calibration percentile`, in (0, 100].
    #[arg(long, default_value_t = 99.99)]
    pub percentile: f64,
    /// Training images used for calibration (evenly spaced).
    #[arg(long, default_value_t = 200)]
    pub calib_images: usize,
    /// Conv/dense layers (0-based, counting only conv and dense) forced to P (dense only).
    #[arg(long, value_delimiter = ',')]
    pub p_layers: Vec<usize>,
    /// Conv/dense layers forced to NP (int8).
    #[arg(long, value_delimiter = ',')]
    pub np_layers: Vec<usize>,
    /// Validation fraction (default: the float training's, from model.json; else 0.2).
    #[arg(long)]
    pub val_split: Option<f64>,
    /// On-the-fly augmentation (the `train --augment` transforms) of the fine-tuning after each
    /// pruning and INQ step; the final fine-tuning sees the images as they are unless
    /// `--augment-final`.
    #[arg(long)]
    pub augment: bool,
    /// With --augment: which set of transforms.
    #[arg(long, value_enum, default_value_t = AugmentKind::Full, requires = "augment")]
    pub augment_kind: AugmentKind,
    /// With --augment: augment the final fine-tuning too.
    #[arg(long, requires = "augment")]
    pub augment_final: bool,
    /// Self-distillation weight in [0, 1]: every fine-tuning mixes the labels with the float
    /// model's softmax at `--distill-temperature` (0 = labels only).
    #[arg(long, default_value_t = 0.0)]
    pub distill_weight: f32,
    /// Softmax temperature of the self-distillation (> 0).
    #[arg(long, default_value_t = 4.0)]
    pub distill_temperature: f32,
    /// The final fine-tuning keeps its last epoch instead of the best on the validation split,
    /// so the validation images choose nothing (needs `--patience 0`).
    #[arg(long)]
    pub keep_last: bool,
    /// Split seed (default: the float training's split seed, from model.json; else 42). Also
    /// seeds the fine-tuning.
    #[arg(long)]
    pub seed: Option<u64>,
    /// No per-epoch output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Replace an existing --out even if it is not a previous `quantize` output (never an
    /// input).
    #[arg(long)]
    pub force: bool,
}

struct EpochLog {
    quiet: bool,
}

impl Progress for EpochLog {
    fn epoch_end(&mut self, s: &EpochStats, is_best: bool) {
        if !self.quiet {
            eprintln!(
                "  epoch {:2}: train loss {:.4} acc {:.3} | val loss {:.4} acc {:.3} | {:.1}s{}",
                s.epoch,
                s.train_loss,
                s.train_accuracy,
                s.val_loss,
                s.val_accuracy,
                s.train_seconds,
                if is_best { " *" } else { "" }
            );
        }
    }
}

/// Runs `cnnfpga quantize`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let cfg = QuantizeConfig {
        sparsity: a.sparsity,
        bits: a.pow2_bits,
        levels: a.levels,
        prune_steps: a.steps,
        schedule: match a.schedule {
            ScheduleKind::Cubic => PruneSchedule::Cubic,
            ScheduleKind::Linear => PruneSchedule::Linear,
        },
        epochs_per_step: a.epochs_per_step,
        finetune_epochs: a.finetune_epochs,
        patience: a.patience,
        lr: a.lr,
        batch_size: a.batch,
        seed: 0,
        calibration: match a.calibration {
            CalibKind::Minmax => Calibration::MinMax,
            CalibKind::Percentile => Calibration::Percentile(a.percentile),
        },
        calib_images: a.calib_images,
        p_layers: a.p_layers.clone(),
        np_layers: a.np_layers.clone(),
        augment: a.augment.then(|| a.augment_kind.config()),
        augment_final: a.augment_final,
        distill_weight: a.distill_weight,
        distill_temperature: a.distill_temperature,
        keep_last: a.keep_last,
    };
    // Fail on bad options before loading anything.
    cfg.validate()?;
    let out = OutDir::prepare(
        &a.out,
        Producer::Quantize,
        &[
            Input::new("--model", &a.model),
            Input::new("--data", &a.data),
        ],
        a.force,
    )?;
    let src = SavedModel::load(&a.model)
        .with_context(|| format!("loading model {}", a.model.display()))?;
    crate::qmodel::check_class_names(&src.meta.classes)?;
    crate::qmodel::pipeline::plan_layers(&src.net.arch, &cfg.p_layers, &cfg.np_layers)?;
    let tc = &src.meta.train_config;
    // `train --full` records val_split 0: no image was held out from the float model.
    let source_full = tc.get("full").and_then(|v| v.as_bool()) == Some(true);
    let val_split = a
        .val_split
        .or_else(|| {
            tc.get("val_split")
                .and_then(|v| v.as_f64())
                .filter(|_| !source_full)
        })
        .unwrap_or(0.2);
    // The float training's split seed (`train --split-seed`, recorded as `split_seed`; older
    // models have only `seed`, which was the split seed too).
    let seed = a
        .seed
        .or_else(|| tc.get("split_seed").and_then(|v| v.as_u64()))
        .or_else(|| tc.get("seed").and_then(|v| v.as_u64()))
        .unwrap_or(42);
    if !(val_split > 0.0 && val_split < 1.0) {
        bail!("--val-split {val_split} must be in (0, 1)");
    }
    let cfg = QuantizeConfig { seed, ..cfg };

    let t0 = Instant::now();
    let (ds, report) =
        load_folder(&a.data).with_context(|| format!("loading {}", a.data.display()))?;
    super::train::report_skipped(&report);
    ds.check_classes(&src.meta.classes)?;
    let (train_set, val_set) = ds.split_stratified(val_split, seed)?;
    // `train --train-fraction` trained on a seeded part of the training split: calibrate and
    // fine-tune on the same images (older models have no such key: all of it).
    let train_fraction = tc
        .get("train_fraction")
        .and_then(|v| v.as_f64())
        .filter(|_| !source_full)
        .unwrap_or(1.0);
    let train_set = train_set
        .stratified_fraction(train_fraction, seed)
        .context("the float source's train_fraction")?;
    let split = if source_full {
        format!(
            "validation split of {} (val_split {val_split}, seed {seed}), {} images; \
             fine-tuning and calibration on the {} training images. The float source was \
             trained on every image (train --full), these validation images included: the \
             metrics measure fidelity to it, not accuracy on unseen images",
            a.data.display(),
            val_set.len(),
            train_set.len()
        )
    } else {
        format!(
            "validation split of {} (val_split {val_split}, seed {seed}: the float training's \
             split), {} images; fine-tuning and calibration on the {} training images{}",
            a.data.display(),
            val_set.len(),
            train_set.len(),
            if train_fraction < 1.0 {
                format!(" (the float training's train_fraction {train_fraction} of them)")
            } else {
                String::new()
            }
        )
    };
    if !a.quiet {
        eprintln!("data: {split}");
    }
    let q = quantize(
        &src.net,
        &src.meta.classes,
        &train_set,
        &val_set,
        &cfg,
        &mut EpochLog { quiet: a.quiet },
    )?;
    let quant_secs = t0.elapsed().as_secs_f64();

    let im = IntModel::from_blob(q.deployed.blob.clone(), "encoded model")?;
    let float_m = evaluate(&src.net, &val_set)?;
    let k = src.meta.classes.len();
    let preds = |net| -> Vec<usize> {
        predict_dataset(net, &val_set, 256)
            .chunks_exact(k)
            .map(argmax)
            .collect()
    };
    let float_p = preds(&src.net);
    let fine_p = preds(&q.finetuned);
    let fine_m = evaluate(&q.finetuned, &val_set)?;
    let (int_m, int_out) = evaluate_int(&im, &val_set)?;
    let int_p: Vec<usize> = int_out.iter().map(|o| o.class).collect();
    let metrics = QuantMetrics {
        split,
        images: val_set.len(),
        agreement_float: agreement(&int_p, &float_p),
        agreement_finetuned: agreement(&int_p, &fine_p),
        float: float_m,
        finetuned: fine_m,
        integer: int_m,
    };

    let settings = QuantMeta::settings(&cfg, val_split, &a.data, quant_secs)?;
    let meta = QuantMeta::new(&q, &src, &a.model, settings, Some(metrics.clone()));
    let files = meta.files(&q, &a.out)?;
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    out.write_files(&refs)
        .with_context(|| format!("writing {}", a.out.display()))?;

    println!("{}", q.deployed.report);
    println!(
        "\n{:<26} {:>8} {:>9} {:>8}",
        "model (validation split)", "accuracy", "macro F1", "loss"
    );
    for (name, m) in [
        ("float (source)", &metrics.float),
        ("float (fine-tuned)", &metrics.finetuned),
        ("integer (firmware runner)", &metrics.integer),
    ] {
        println!(
            "{:<26} {:>8.4} {:>9.4} {:>8.4}",
            name,
            m.accuracy,
            m.macro_f1,
            m.loss.unwrap_or(f64::NAN)
        );
    }
    println!(
        "argmax agreement integer vs float {:.4}, vs fine-tuned float {:.4} ({} images)",
        metrics.agreement_float, metrics.agreement_finetuned, metrics.images
    );
    let c = &q.deployed.compression;
    println!(
        "compression {:.2}x: {} B float32 parameters -> {} B blob; accuracy {:+.2} points; \
         wrote {} in {:.1}s",
        c.ratio,
        c.float_bytes,
        c.blob_bytes,
        100.0 * (metrics.integer.accuracy - metrics.float.accuracy),
        a.out.display(),
        quant_secs
    );
    Ok(())
}
