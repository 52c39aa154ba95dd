//! `cnnfpga train`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};

use crate::augment::AugmentConfig;
use crate::data::{class_names, load_folder, LoadReport};
use crate::eval::evaluate;
use crate::model::{Arch, ModelMeta, Net, Normalization, SavedModel};
use crate::optim::OptimConfig;
use crate::outdir::{Input, OutDir, Producer};
use crate::rng::Rng;
use crate::train::{
    train_distilled, CheckpointOptions, Distill, EpochStats, LrSchedule, Progress, TrainConfig,
    TrainPrune,
};

/// Optimizer choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptimKind {
    /// Adam (default lr 1e-3).
    Adam,
    /// SGD, optional momentum (default lr 0.1).
    Sgd,
}

/// Augmentation set of `--augment`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AugmentKind {
    /// Flip, rotation, zoom, shift, blur or down-up rescale, brightness/contrast.
    Full,
    /// Flip and blur or down-up rescale only.
    Light,
}

impl AugmentKind {
    /// The transforms of this set (`train --augment` and `quantize --augment` alike).
    pub fn config(self) -> AugmentConfig {
        match self {
            AugmentKind::Full => AugmentConfig::default(),
            AugmentKind::Light => AugmentConfig::light(),
        }
    }
}

/// Learning-rate schedule of `--schedule`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScheduleKind {
    /// The learning rate throughout.
    Constant,
    /// Half-cosine decay over the run (needs a fixed epoch count).
    Cosine,
}

/// Arguments of `cnnfpga train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data folder: one sub-folder per class (JPEG/PNG).
    #[arg(long)]
    pub data: PathBuf,
    /// Output model directory (written atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Architecture: paper-cnn or mlp.
    #[arg(long, default_value = "paper-cnn")]
    pub arch: String,
    /// Fraction of each class held out for validation, in (0, 1).
    #[arg(long, default_value_t = 0.2)]
    pub val_split: f64,
    /// Train exactly --epochs epochs and keep the last weights (no early stopping, no best-epoch
    /// restore); the validation split is only scored, never used for a choice.
    #[arg(long)]
    pub fixed_epochs: bool,
    /// Train on every image (no validation split) for exactly --epochs epochs, keeping the last
    /// weights; implies --fixed-epochs. Pick the epoch count by validation first.
    #[arg(long, conflicts_with = "val_split")]
    pub full: bool,
    /// Train on this fraction of each class's training part, in (0, 1] (the validation part is
    /// unchanged): for learning curves. The subset is chosen by the split seed and nested, so
    /// runs at several fractions score the same held-out images and differ only in the training
    /// images added. `cnnfpga quantize` reads it from the model and uses the same subset.
    #[arg(long, default_value_t = 1.0, conflicts_with = "full")]
    pub train_fraction: f64,
    /// Seed of split, initialisation, shuffling, dropout and augmentation.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Seed of the train/validation split alone (default: --seed). Runs that differ only in
    /// --seed but share --split-seed train different networks on the same images (teachers for
    /// --teacher, or an ensemble).
    #[arg(long)]
    pub split_seed: Option<u64>,
    /// Maximum epochs.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Optimizer.
    #[arg(long, value_enum, default_value_t = OptimKind::Adam)]
    pub optimizer: OptimKind,
    /// Learning rate (default: 1e-3 for Adam, 0.1 for SGD).
    #[arg(long)]
    pub lr: Option<f32>,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.0)]
    pub momentum: f32,
    /// Early-stopping patience in epochs (0 = off).
    #[arg(long, default_value_t = 5)]
    pub patience: usize,
    /// Hidden units of the dense layer.
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    /// Dropout after the hidden dense layer (paper-cnn).
    #[arg(long, default_value_t = 0.5)]
    pub dropout: f32,
    /// On-the-fly augmentation (flip, rotation, crop/scale, blur/rescale, brightness/contrast).
    #[arg(long)]
    pub augment: bool,
    /// With --augment: which set of transforms.
    #[arg(long, value_enum, default_value_t = AugmentKind::Full, requires = "augment")]
    pub augment_kind: AugmentKind,
    /// With --augment: N >= 1 = each original plus N augmented copies per epoch.
    #[arg(long, default_value_t = 0)]
    pub augment_factor: usize,
    /// Learning-rate schedule: constant, or a half-cosine from --lr down to
    /// --min-lr-factor x --lr at the end of --epochs (after --warmup-epochs of linear warm-up).
    /// A cosine schedule is defined by the epoch count, so it needs a fixed count
    /// (--fixed-epochs or --full).
    #[arg(long, value_enum, default_value_t = ScheduleKind::Constant)]
    pub schedule: ScheduleKind,
    /// With --schedule cosine: the final learning rate as a fraction of --lr, in [0, 1].
    #[arg(long, default_value_t = 0.01)]
    pub min_lr_factor: f32,
    /// With --schedule cosine: epochs of linear warm-up, fewer than --epochs.
    #[arg(long, default_value_t = 0)]
    pub warmup_epochs: usize,
    /// Label smoothing in [0, 1): targets put 1 - x on the label and x / classes on every class.
    #[arg(long, default_value_t = 0.0)]
    pub label_smoothing: f32,
    /// Keep an exponential moving average of the weights with this decay per batch, in (0, 1)
    /// (e.g. 0.998): validation scores it, and it is the saved model.
    #[arg(long)]
    pub ema: Option<f32>,
    /// Distil from this trained float model (repeat for several: their softmaxes are averaged).
    /// The loss becomes (1 - w) x cross-entropy with the labels + w x T^2 x cross-entropy with
    /// the teachers' softmax at temperature T, on the same augmented batches. A teacher must
    /// have the data's classes and must not have seen the validation images (train it on the
    /// same --seed and --val-split, or use --full for both).
    #[arg(long = "teacher", value_name = "MODEL_DIR")]
    pub teachers: Vec<PathBuf>,
    /// With --teacher: the teachers' weight w in (0, 1].
    #[arg(long, default_value_t = 0.7)]
    pub distill_weight: f32,
    /// With --teacher: the softmax temperature T > 0.
    #[arg(long, default_value_t = 4.0)]
    pub distill_temperature: f32,
    /// Prune the layers `cnnfpga quantize` makes P layers (the hidden dense layers) during
    /// training, to this final sparsity in [0, 1): gradual magnitude pruning on a cubic ramp
    /// over --prune-ramp, pruned weights held at 0 (so the float model is sparse where the P
    /// layer will be, and `quantize --sparsity` at the same value prunes nothing more).
    #[arg(long, value_name = "SPARSITY")]
    pub prune_p: Option<f64>,
    /// With --prune-p: the ramp's first and last epoch, `START,END` (1 <= START <= END <=
    /// --epochs; the sparsity is 0 at START and final from END on). Default: from 10 % to
    /// 60 % of --epochs.
    #[arg(long, value_name = "START,END", value_parser = parse_ramp)]
    pub prune_ramp: Option<(usize, usize)>,
    /// Start from this model directory's weights (matching shapes; head re-initialised if the
    /// class count differs).
    #[arg(long)]
    pub init_from: Option<PathBuf>,
    /// Resume from the checkpoint `<out>.checkpoint` if it exists.
    #[arg(long)]
    pub resume: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
    /// Replace an existing --out even if it is not a previous `train` output (never an input).
    #[arg(long)]
    pub force: bool,
}

struct Bars {
    quiet: bool,
    bar: Option<ProgressBar>,
    epochs: usize,
    loss: f32,
    acc: f32,
    seen: usize,
}

impl Progress for Bars {
    fn epoch_start(&mut self, epoch: usize, batches: usize) {
        (self.loss, self.acc, self.seen) = (0.0, 0.0, 0);
        if !self.quiet {
            let pb = ProgressBar::new(batches as u64);
            pb.set_style(
                ProgressStyle::with_template(
                    "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})",
                )
                .unwrap()
                .progress_chars("=> "),
            );
            pb.set_prefix(format!("{epoch}/{}", self.epochs));
            self.bar = Some(pb);
        }
    }
    fn batch(&mut self, loss: f32, accuracy: f32) {
        self.seen += 1;
        self.loss += (loss - self.loss) / self.seen as f32;
        self.acc += (accuracy - self.acc) / self.seen as f32;
        if let Some(pb) = &self.bar {
            pb.set_message(format!("loss {:.4} acc {:.3}", self.loss, self.acc));
            pb.inc(1);
        }
    }
    fn epoch_end(&mut self, s: &EpochStats, is_best: bool) {
        if let Some(pb) = self.bar.take() {
            pb.finish_and_clear();
        }
        if !self.quiet {
            eprintln!(
                "epoch {:3}: train loss {:.4} acc {:.3} | val loss {:.4} acc {:.3} | {:.1}s {:.0} img/s{}",
                s.epoch,
                s.train_loss,
                s.train_accuracy,
                s.val_loss,
                s.val_accuracy,
                s.train_seconds,
                s.images as f64 / s.train_seconds.max(1e-9),
                if is_best { " *" } else { "" }
            );
        }
    }
}

/// Prints what loading skipped (to stderr).
pub fn report_skipped(r: &LoadReport) {
    if r.skipped > 0 {
        eprintln!(
            "warning: skipped {} unreadable image file(s), e.g.:",
            r.skipped
        );
        for (p, why) in &r.examples {
            eprintln!("  {}: {why}", p.display());
        }
    }
}

/// Checkpoint directory used for `--out DIR`: `DIR.checkpoint` beside it.
pub fn checkpoint_dir(out: &std::path::Path) -> PathBuf {
    let mut s = out.as_os_str().to_os_string();
    s.push(".checkpoint");
    PathBuf::from(s)
}

/// `--prune-ramp START,END`: two epoch numbers.
fn parse_ramp(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("`{s}`: expected two epochs, START,END (e.g. 15,90)");
    let (a, b) = s.split_once(',').ok_or_else(bad)?;
    Ok((
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    ))
}

/// `--prune-p` / `--prune-ramp` as a [`TrainPrune`] over the architecture's default P layers.
fn prune_config(a: &Args, arch: &Arch) -> anyhow::Result<Option<TrainPrune>> {
    let Some(sparsity) = a.prune_p else {
        if a.prune_ramp.is_some() {
            bail!("--prune-ramp needs --prune-p");
        }
        return Ok(None);
    };
    let (start, end) = a
        .prune_ramp
        .unwrap_or(((a.epochs / 10).max(1), (a.epochs * 6 / 10).max(1)));
    let params: Vec<String> = crate::qmodel::pipeline::plan_layers(arch, &[], &[])?
        .iter()
        .filter(|l| l.scheme == crate::qmodel::pipeline::Scheme::P)
        .map(|l| l.weight_name())
        .collect();
    if params.is_empty() {
        bail!(
            "--prune-p: architecture {} has no hidden dense layer (no P layer to prune)",
            arch.name
        );
    }
    Ok(Some(TrainPrune {
        params,
        sparsity,
        start_epoch: start,
        end_epoch: end,
    }))
}

/// Runs `cnnfpga train`.
pub fn run(a: Args) -> anyhow::Result<()> {
    if !(a.val_split > 0.0 && a.val_split < 1.0) {
        bail!("--val-split {} must be in (0, 1)", a.val_split);
    }
    if !(a.train_fraction > 0.0 && a.train_fraction <= 1.0) {
        bail!("--train-fraction {} must be in (0, 1]", a.train_fraction);
    }
    let keep_last = a.fixed_epochs || a.full;
    // A fixed epoch count stops nothing early; an explicit patience would be silently ignored.
    let patience = if keep_last { 0 } else { a.patience };
    if a.batch == 0 {
        bail!("--batch must be > 0");
    }
    if a.epochs == 0 {
        bail!("--epochs must be > 0");
    }
    if a.hidden == 0 {
        bail!("--hidden must be > 0");
    }
    if !(0.0..1.0).contains(&a.dropout) {
        bail!("--dropout {} must be in [0, 1)", a.dropout);
    }
    if a.augment_factor > 0 && !a.augment {
        bail!("--augment-factor needs --augment");
    }
    if a.schedule == ScheduleKind::Cosine && !keep_last {
        bail!(
            "--schedule cosine decays over exactly --epochs epochs: add --fixed-epochs or --full"
        );
    }
    if !(0.0..=1.0).contains(&a.min_lr_factor) {
        bail!("--min-lr-factor {} must be in [0, 1]", a.min_lr_factor);
    }
    if a.schedule == ScheduleKind::Cosine && a.warmup_epochs >= a.epochs {
        bail!(
            "--warmup-epochs {} must be fewer than --epochs {}",
            a.warmup_epochs,
            a.epochs
        );
    }
    let weight_ok = a.distill_weight > 0.0 && a.distill_weight <= 1.0;
    if !a.teachers.is_empty() && !weight_ok {
        bail!("--distill-weight {} must be in (0, 1]", a.distill_weight);
    }
    let temperature_ok = a.distill_temperature > 0.0 && a.distill_temperature.is_finite();
    if !a.teachers.is_empty() && !temperature_ok {
        bail!(
            "--distill-temperature {} must be > 0",
            a.distill_temperature
        );
    }
    if !(0.0..1.0).contains(&a.label_smoothing) {
        bail!("--label-smoothing {} must be in [0, 1)", a.label_smoothing);
    }
    if let Some(d) = a.ema {
        if !(d > 0.0 && d < 1.0) {
            bail!("--ema {d} must be in (0, 1)");
        }
    }
    let optim = match a.optimizer {
        OptimKind::Adam => OptimConfig::adam(a.lr.unwrap_or(1e-3)),
        OptimKind::Sgd => OptimConfig::sgd(a.lr.unwrap_or(0.1), a.momentum),
    };
    optim.validate()?;
    // Fail on a bad --arch or --out before spending time on decoding.
    Arch::by_name(&a.arch, 2, a.hidden, a.dropout)?;
    let mut inputs = vec![Input::new("--data", &a.data)];
    if let Some(p) = &a.init_from {
        inputs.push(Input::new("--init-from", p));
    }
    for p in &a.teachers {
        inputs.push(Input::new("--teacher", p));
    }
    let out = OutDir::prepare(&a.out, Producer::Train, &inputs, a.force)?;
    let names = class_names(&a.data).with_context(|| format!("loading {}", a.data.display()))?;
    if let Err(e) = crate::qmodel::check_class_names(&names) {
        eprintln!("warning: {e}; the float model trains, but `cnnfpga quantize` will refuse it");
    }

    let t0 = Instant::now();
    let (ds, report) =
        load_folder(&a.data).with_context(|| format!("loading {}", a.data.display()))?;
    report_skipped(&report);
    let (train_set, val_set) = if a.full {
        let empty = ds.subset(&[]);
        (ds.clone(), empty)
    } else {
        let split_seed = a.split_seed.unwrap_or(a.seed);
        let (tr, va) = ds.split_stratified(a.val_split, split_seed)?;
        let tr = tr
            .stratified_fraction(a.train_fraction, split_seed)
            .context("--train-fraction")?;
        (tr, va)
    };
    if !a.quiet {
        eprintln!(
            "data: {} images in {} classes {:?} ({} train / {} val), decoded in {:.1}s",
            ds.len(),
            ds.classes.len(),
            ds.classes,
            train_set.len(),
            val_set.len(),
            t0.elapsed().as_secs_f64()
        );
    }
    let arch = Arch::by_name(&a.arch, ds.classes.len(), a.hidden, a.dropout)?;
    let mut net = Net::init(arch, &mut Rng::derive(&[a.seed, 0x1417]))?;
    if let Some(p) = &a.init_from {
        let pre = SavedModel::load(p).with_context(|| format!("--init-from {}", p.display()))?;
        let loaded = net.load_matching(&pre.net);
        if !a.quiet {
            eprintln!(
                "init-from {}: loaded {}/{} tensors{}",
                p.display(),
                loaded.len(),
                net.params.len(),
                if pre.meta.classes != ds.classes {
                    " (classes differ: head re-initialised where shapes differ)"
                } else {
                    ""
                }
            );
        }
    }
    if !a.quiet {
        eprintln!(
            "model: {} with {} parameters",
            net.arch.name,
            net.num_params()
        );
    }
    let cfg = TrainConfig {
        epochs: a.epochs,
        batch_size: a.batch,
        optim,
        patience,
        seed: a.seed,
        augment: a.augment.then(|| a.augment_kind.config()),
        augment_factor: a.augment_factor,
        keep_last,
        schedule: match a.schedule {
            ScheduleKind::Constant => LrSchedule::Constant,
            ScheduleKind::Cosine => LrSchedule::Cosine {
                min_factor: a.min_lr_factor,
                warmup_epochs: a.warmup_epochs,
            },
        },
        label_smoothing: a.label_smoothing,
        ema: a.ema,
        distill: (!a.teachers.is_empty()).then_some(Distill {
            weight: a.distill_weight,
            temperature: a.distill_temperature,
            teachers: a.teachers.len(),
        }),
        prune: prune_config(&a, &net.arch)?,
    };
    let mut teachers = Vec::with_capacity(a.teachers.len());
    for p in &a.teachers {
        let t = SavedModel::load(p).with_context(|| format!("--teacher {}", p.display()))?;
        if t.meta.classes != ds.classes {
            bail!(
                "--teacher {}: classes {:?} differ from the data's {:?}",
                p.display(),
                t.meta.classes,
                ds.classes
            );
        }
        teachers.push(t.net);
    }
    let run_settings = [
        (
            "--data",
            crate::outdir::resolve(&a.data).display().to_string(),
        ),
        ("--val-split", a.val_split.to_string()),
        ("--split-seed", a.split_seed.unwrap_or(a.seed).to_string()),
        ("--train-fraction", a.train_fraction.to_string()),
        ("--arch", a.arch.clone()),
        ("--hidden", a.hidden.to_string()),
        ("--dropout", a.dropout.to_string()),
        (
            "--init-from",
            a.init_from
                .as_deref()
                .map(|p| crate::outdir::resolve(p).display().to_string())
                .unwrap_or_else(|| "(none)".into()),
        ),
        (
            "--teacher",
            a.teachers
                .iter()
                .map(|p| crate::outdir::resolve(p).display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ];
    let ckpt = CheckpointOptions {
        dir: Some(checkpoint_dir(&a.out)),
        resume: a.resume,
        run_settings: run_settings
            .into_iter()
            // Checkpoints from before --train-fraction have no such key: the default matches them.
            .filter(|(k, v)| !(*k == "--train-fraction" && v == "1"))
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    };
    let mut bars = Bars {
        quiet: a.quiet,
        bar: None,
        epochs: a.epochs,
        loss: 0.0,
        acc: 0.0,
        seen: 0,
    };
    let t1 = Instant::now();
    let outcome = train_distilled(
        &mut net, &train_set, &val_set, &cfg, None, &ckpt, &mut bars, &teachers,
    )?;
    let train_secs = t1.elapsed().as_secs_f64();
    // --full: every image was trained on, so there is nothing honest to score here.
    let metrics = if val_set.is_empty() {
        None
    } else {
        Some(evaluate(&net, &val_set)?)
    };
    let mut train_config = serde_json::to_value(&cfg)?;
    train_config["val_split"] = serde_json::json!(if a.full { 0.0 } else { a.val_split });
    train_config["full"] = serde_json::json!(a.full);
    train_config["split_seed"] = serde_json::json!(a.split_seed.unwrap_or(a.seed));
    // 1 with --full (the two conflict).
    train_config["train_fraction"] = serde_json::json!(a.train_fraction);
    train_config["teachers"] = serde_json::json!(a
        .teachers
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>());
    train_config["data"] = serde_json::json!(a.data.display().to_string());
    train_config["init_from"] =
        serde_json::json!(a.init_from.as_ref().map(|p| p.display().to_string()));
    train_config["train_images"] = serde_json::json!(train_set.len());
    train_config["val_images"] = serde_json::json!(val_set.len());
    train_config["wall_seconds"] = serde_json::json!(train_secs);
    train_config["stopped_early"] = serde_json::json!(outcome.stopped_early);
    let meta = ModelMeta {
        format: String::new(),
        format_version: 0,
        arch: net.arch.clone(),
        classes: ds.classes.clone(),
        normalization: Normalization::default(),
        num_params: 0,
        weights_file: String::new(),
        weights_sha256: String::new(),
        train_config,
        history: outcome.history.clone(),
        best_epoch: Some(outcome.best_epoch),
        final_metrics: serde_json::to_value(&metrics)?,
    };
    let (_, files) = SavedModel::files(&net, meta, &a.out)?;
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    out.write_files(&refs)?;
    let _ = std::fs::remove_dir_all(checkpoint_dir(&a.out));
    match metrics {
        Some(m) => println!(
            "saved {}: {} epoch {} of {}, val accuracy {:.4}, val loss {:.4}, macro F1 {:.4}, {:.1}s",
            a.out.display(),
            if keep_last { "last" } else { "best" },
            outcome.best_epoch,
            outcome.history.len(),
            m.accuracy,
            m.loss.unwrap_or(f64::NAN),
            m.macro_f1,
            train_secs
        ),
        None => println!(
            "saved {}: {} epochs on all {} images (no validation split), final training loss {:.4}, {:.1}s",
            a.out.display(),
            outcome.history.len(),
            train_set.len(),
            outcome.history.last().map_or(f32::NAN, |s| s.train_loss),
            train_secs
        ),
    }
    Ok(())
}
