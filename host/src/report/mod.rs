//! The paper's experiment end to end (`cnnfpga report`): the paper CNN trained with Adam against
//! both readings of its "back-propagation" baseline (a separate MLP trained with SGD, and the same
//! CNN trained with SGD), plus ablations (augmentation, fine-tuning from a pretrained model), each
//! configuration repeated over several seeds.
//!
//! Data flow:
//! 1. the data folder is split once (stratified, `split_seed`) into a held-out **test** part and
//!    the rest, unless a separate test folder is given; training never sees the test part;
//! 2. for every seed, the rest is split again (stratified, that seed) into train and validation;
//!    validation drives early stopping and the choice of the best CNN configuration;
//! 3. with a pretraining folder, one CNN is pretrained there once and cached in
//!    `<out>/pretrained/` (reused when its settings match); fine-tuned runs start from it with
//!    `--init-from` semantics (tensors of equal name and shape loaded, the head re-initialised
//!    when the class count differs);
//! 4. every run is evaluated on the test part; the headline models (Table 2 and the figures) are
//!    the first seed's runs of the two baselines (MLP-SGD, CNN-SGD) and of the Adam CNN
//!    configuration with the best mean *validation* accuracy (choosing on test accuracy would leak
//!    the test set into the choice).
//!
//! Outputs in `<out>`: `report.md`, `metrics.json`, `learning_curves.png`,
//! `confusion_matrices.png`, `prediction_grid.png`, `comparison_bars.png`, `ablation_bars.png`,
//! and the first seed's model of every configuration under `models/<id>/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::augment::{resize, AugmentConfig};
use crate::data::{load_folder, DataError, Dataset, LoadReport, IMAGE_SIZE};
use crate::eval::{argmax, evaluate, EvalError, Metrics};
use crate::model::{Arch, ModelError, ModelMeta, Net, Normalization, SavedModel};
use crate::optim::OptimConfig;
use crate::plots::{self, BarSeries, Confusion, Curves, GridSample, PlotError, SeedRuns};
use crate::rng::Rng;
use crate::train::{train, CheckpointOptions, EpochStats, Progress, TrainConfig, TrainError};

/// Errors of the report pipeline; each names the step that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Bad option value.
    #[error("report config: {0}")]
    Config(String),
    /// Loading or splitting data.
    #[error("{what}: {source}")]
    Data {
        /// Which data (e.g. "data folder /x").
        what: String,
        /// Cause.
        source: DataError,
    },
    /// A training run failed.
    #[error("training {run}: {source}")]
    Train {
        /// Run label, e.g. "cnn-aug seed 43".
        run: String,
        /// Cause.
        source: TrainError,
    },
    /// Model construction or I/O.
    #[error("{what}: {source}")]
    Model {
        /// What was being done.
        what: String,
        /// Cause.
        source: ModelError,
    },
    /// Metric computation.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// A figure.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// Writing an output file.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// Operation.
        op: &'static str,
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// Everything `cnnfpga report` needs. [`ReportConfig::paper`] gives the paper's settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReportConfig {
    /// Class-per-folder data (train + validation, and test unless `test` is given).
    pub data: PathBuf,
    /// Separate test folder (same class names).
    pub test: Option<PathBuf>,
    /// Pretraining folder (any classes); enables the fine-tuned configuration.
    pub pretrain: Option<PathBuf>,
    /// Output directory (as recorded in the report).
    pub out: PathBuf,
    /// Where the files are written when not `out` itself: the CLI's staging directory, renamed
    /// over `out` when the report is complete. Not recorded.
    #[serde(skip)]
    pub write_dir: Option<PathBuf>,
    /// Runs per configuration (seeds `base_seed .. base_seed + seeds`).
    pub seeds: usize,
    /// First seed; also the seed of the test split.
    pub base_seed: u64,
    /// Fraction of each class held out as the test part (ignored with `test`).
    pub test_split: f64,
    /// Fraction of each class of the remaining part used for validation.
    pub val_split: f64,
    /// Maximum epochs per run.
    pub epochs: usize,
    /// Early-stopping patience (epochs without a new best validation loss; 0 = off).
    pub patience: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// CNN: Adam learning rate.
    pub cnn_lr: f32,
    /// CNN: hidden dense units.
    pub cnn_hidden: usize,
    /// CNN: dropout after the hidden dense layer.
    pub dropout: f32,
    /// Augmentation strengths (for the augmented configurations).
    pub augment: AugmentConfig,
    /// With augmentation: 0 = each image once per epoch, augmented; N = original + N copies.
    pub augment_factor: usize,
    /// MLP: SGD learning rate.
    pub mlp_lr: f32,
    /// CNN-SGD baseline (the paper CNN trained with plain SGD): learning rate.
    #[serde(default = "default_cnn_sgd_lr")]
    pub cnn_sgd_lr: f32,
    /// MLP: hidden units.
    pub mlp_hidden: usize,
    /// Pretraining: maximum epochs (patience as above).
    pub pretrain_epochs: usize,
    /// The command line that produced the report (recorded verbatim).
    pub command: String,
}

fn default_cnn_sgd_lr() -> f32 {
    0.1
}

impl ReportConfig {
    /// The directory files are written to: [`ReportConfig::write_dir`], else `out`.
    pub fn dir(&self) -> &Path {
        self.write_dir.as_deref().unwrap_or(&self.out)
    }

    /// The paper's settings: CNN Adam lr 1e-3, MLP SGD lr 0.1, CNN SGD lr 0.1, batch 128, early stopping
    /// (patience 15, at most 150 epochs; pretraining at most 80); 3 seeds, 20 % test, 20 % of the rest for validation.
    /// Dropout 0.25 (the paper gives none; 0.25 trained a little better than 0.5 on animals5).
    pub fn paper(data: PathBuf, out: PathBuf) -> Self {
        ReportConfig {
            data,
            test: None,
            pretrain: None,
            out,
            write_dir: None,
            seeds: 3,
            base_seed: 42,
            test_split: 0.2,
            val_split: 0.2,
            epochs: 150,
            patience: 15,
            batch: 128,
            cnn_lr: 1e-3,
            cnn_hidden: 64,
            dropout: 0.25,
            augment: AugmentConfig::default(),
            augment_factor: 0,
            mlp_lr: 0.1,
            cnn_sgd_lr: default_cnn_sgd_lr(),
            mlp_hidden: 64,
            pretrain_epochs: 80,
            command: String::new(),
        }
    }

    fn validate(&self) -> Result<(), ReportError> {
        let bad = |m: String| Err(ReportError::Config(m));
        if self.seeds == 0 {
            return bad("--seeds must be >= 1".into());
        }
        for (name, v) in [
            ("test split", self.test_split),
            ("val split", self.val_split),
        ] {
            if !(v > 0.0 && v < 1.0) {
                return bad(format!("{name} {v} must be in (0, 1)"));
            }
        }
        if self.epochs == 0 || self.pretrain_epochs == 0 || self.batch == 0 {
            return bad("epochs, pretrain epochs and batch must be > 0".into());
        }
        if self.cnn_hidden == 0 || self.mlp_hidden == 0 {
            return bad("hidden sizes must be > 0".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout {} must be in [0, 1)", self.dropout));
        }
        OptimConfig::adam(self.cnn_lr)
            .validate()
            .and_then(|_| OptimConfig::sgd(self.mlp_lr, 0.0).validate())
            .and_then(|_| OptimConfig::sgd(self.cnn_sgd_lr, 0.0).validate())
            .map_err(|e| ReportError::Config(e.to_string()))
    }
}

/// The compared configurations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Configuration {
    /// Back-propagation MLP, SGD, no augmentation (the paper's baseline, first reading).
    MlpSgd,
    /// Paper CNN, plain SGD, no augmentation (the paper's baseline, second reading: "the only
    /// change we've made is to replace the Optimization Function").
    CnnSgd,
    /// Paper CNN, Adam, no augmentation.
    CnnAdam,
    /// Paper CNN, Adam, with augmentation.
    CnnAdamAug,
    /// Paper CNN, Adam, with augmentation, fine-tuned from the pretrained CNN.
    CnnAdamAugFt,
}

impl Configuration {
    /// Short id (directory and JSON key).
    pub fn id(self) -> &'static str {
        match self {
            Configuration::MlpSgd => "mlp-sgd",
            Configuration::CnnSgd => "cnn-sgd",
            Configuration::CnnAdam => "cnn-adam",
            Configuration::CnnAdamAug => "cnn-adam-aug",
            Configuration::CnnAdamAugFt => "cnn-adam-aug-ft",
        }
    }
    /// Human label.
    pub fn label(self) -> &'static str {
        match self {
            Configuration::MlpSgd => "MLP-SGD",
            Configuration::CnnSgd => "CNN-SGD",
            Configuration::CnnAdam => "CNN-Adam no-aug",
            Configuration::CnnAdamAug => "CNN-Adam aug",
            Configuration::CnnAdamAugFt => "CNN-Adam aug+ft",
        }
    }
    fn is_cnn(self) -> bool {
        self != Configuration::MlpSgd
    }
    /// A reading of the paper's SGD baseline (not a headline candidate).
    fn is_baseline(self) -> bool {
        matches!(self, Configuration::MlpSgd | Configuration::CnnSgd)
    }
    fn augmented(self) -> bool {
        matches!(
            self,
            Configuration::CnnAdamAug | Configuration::CnnAdamAugFt
        )
    }
}

/// One training run's result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    /// Configuration.
    pub config: Configuration,
    /// Seed (split, initialisation, shuffling, dropout, augmentation).
    pub seed: u64,
    /// 1-based epoch whose weights were kept.
    pub best_epoch: usize,
    /// Epochs run.
    pub epochs_run: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Validation accuracy of the kept weights.
    pub val_accuracy: f64,
    /// Validation loss of the kept weights.
    pub val_loss: f64,
    /// Test metrics of the kept weights.
    pub test: Metrics,
    /// Training wall time, seconds.
    pub train_seconds: f64,
    /// Per-epoch history.
    pub history: Vec<EpochStats>,
}

/// Mean and sample standard deviation over seeds.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct MeanStd {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1; 0 for one run).
    pub std: f64,
    /// Number of runs.
    pub n: usize,
}

impl MeanStd {
    /// Of `values`.
    pub fn of(values: &[f64]) -> MeanStd {
        let (mean, std) = plots::mean_and_std(values);
        MeanStd {
            mean,
            std,
            n: values.len(),
        }
    }
    fn pct(&self) -> String {
        format!("{:.1} ± {:.1}", 100.0 * self.mean, 100.0 * self.std)
    }
    fn f3(&self) -> String {
        format!("{:.3} ± {:.3}", self.mean, self.std)
    }
}

/// Summary of one configuration over its seeds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigSummary {
    /// Configuration.
    pub config: Configuration,
    /// Its label.
    pub label: String,
    /// Test accuracy.
    pub accuracy: MeanStd,
    /// Test macro F1.
    pub macro_f1: MeanStd,
    /// Test macro precision.
    pub macro_precision: MeanStd,
    /// Test macro recall.
    pub macro_recall: MeanStd,
    /// Test loss.
    pub loss: MeanStd,
    /// Best epoch.
    pub best_epoch: MeanStd,
    /// Validation accuracy (used to pick the headline CNN).
    pub val_accuracy: MeanStd,
    /// Test recall per class (class order of the data).
    pub per_class_recall: Vec<MeanStd>,
    /// Training seconds per run.
    pub train_seconds: MeanStd,
}

/// A paired (same seed) difference of test accuracy between two configurations.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PairedDiff {
    /// What is compared, e.g. "CNN-Adam aug − CNN-Adam no-aug".
    pub what: String,
    /// Per-seed differences of test accuracy (a − b).
    pub diffs: Vec<f64>,
    /// Mean ± std of the differences.
    pub stats: MeanStd,
}

/// What [`run`] returns (also written as `metrics.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// Settings.
    pub settings: ReportConfig,
    /// Class names.
    pub classes: Vec<String>,
    /// Images per class: `train` (first seed's split), `val`, `test`.
    pub counts: serde_json::Value,
    /// Pretraining summary, if any.
    pub pretrain: Option<serde_json::Value>,
    /// Every run.
    pub runs: Vec<RunRecord>,
    /// Per-configuration mean ± std.
    pub summary: Vec<ConfigSummary>,
    /// Paired differences.
    pub paired: Vec<PairedDiff>,
    /// The CNN configuration of the headline (best mean validation accuracy).
    pub headline_cnn: Configuration,
    /// Seed of the headline runs.
    pub headline_seed: u64,
    /// Sharpness-shortcut check per configuration id (first seed's model): fraction of non-horse
    /// test images predicted "horse", and horse recall, as is and softened by a 64 → 32 → 64
    /// rescale; present when a class is named "horse".
    pub shortcut_check: Option<serde_json::Value>,
    /// Output files.
    pub files: Vec<String>,
    /// Total wall time, seconds.
    pub wall_seconds: f64,
}

/// Observer of a long report run (the CLI draws indicatif bars).
pub trait Observer {
    /// A step starts (`index` of `total` training runs, pretraining counted).
    fn run_start(&mut self, label: &str, index: usize, total: usize, max_epochs: usize);
    /// The training progress sink of the current run.
    fn progress(&mut self) -> &mut dyn Progress;
    /// A run finished, with a one-line summary.
    fn run_end(&mut self, line: &str);
    /// A free-form message.
    fn note(&mut self, msg: &str);
}

/// An [`Observer`] that ignores everything.
pub struct Silent(crate::train::NoProgress);

impl Default for Silent {
    fn default() -> Self {
        Silent(crate::train::NoProgress)
    }
}

impl Observer for Silent {
    fn run_start(&mut self, _: &str, _: usize, _: usize, _: usize) {}
    fn progress(&mut self) -> &mut dyn Progress {
        &mut self.0
    }
    fn run_end(&mut self, _: &str) {}
    fn note(&mut self, _: &str) {}
}

fn load(what: &str, dir: &Path, obs: &mut dyn Observer) -> Result<Dataset, ReportError> {
    let t = Instant::now();
    let (ds, rep): (Dataset, LoadReport) =
        load_folder(dir).map_err(|source| ReportError::Data {
            what: format!("{what} {}", dir.display()),
            source,
        })?;
    if rep.skipped > 0 {
        obs.note(&format!(
            "warning: {} unreadable file(s) skipped in {}",
            rep.skipped,
            dir.display()
        ));
    }
    obs.note(&format!(
        "{what} {}: {} images, {} classes, decoded in {:.1}s",
        dir.display(),
        ds.len(),
        ds.classes.len(),
        t.elapsed().as_secs_f64()
    ));
    Ok(ds)
}

fn split(
    ds: &Dataset,
    frac: f64,
    seed: u64,
    what: &str,
) -> Result<(Dataset, Dataset), ReportError> {
    ds.split_stratified(frac, seed)
        .map_err(|source| ReportError::Data {
            what: what.into(),
            source,
        })
}

fn cnn_train_config(c: &ReportConfig, seed: u64, augment: bool, epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: c.batch,
        optim: OptimConfig::adam(c.cnn_lr),
        patience: c.patience,
        seed,
        augment: augment.then(|| c.augment.clone()),
        augment_factor: if augment { c.augment_factor } else { 0 },
        keep_last: false,
    }
}

fn train_config(c: &ReportConfig, cfg: Configuration, seed: u64) -> TrainConfig {
    match cfg {
        Configuration::MlpSgd => TrainConfig {
            epochs: c.epochs,
            batch_size: c.batch,
            optim: OptimConfig::sgd(c.mlp_lr, 0.0),
            patience: c.patience,
            seed,
            augment: None,
            augment_factor: 0,
            keep_last: false,
        },
        Configuration::CnnSgd => TrainConfig {
            optim: OptimConfig::sgd(c.cnn_sgd_lr, 0.0),
            ..cnn_train_config(c, seed, false, c.epochs)
        },
        _ => cnn_train_config(c, seed, cfg.augmented(), c.epochs),
    }
}

fn arch(c: &ReportConfig, cfg: Configuration, classes: usize) -> Arch {
    if cfg.is_cnn() {
        Arch::paper_cnn(classes, c.cnn_hidden, c.dropout)
    } else {
        Arch::mlp(classes, c.mlp_hidden)
    }
}

fn model_err(what: impl Into<String>) -> impl FnOnce(ModelError) -> ReportError {
    let what = what.into();
    move |source| ReportError::Model { what, source }
}

#[allow(clippy::too_many_arguments)]
fn meta_for(
    net: &Net,
    classes: &[String],
    tc: &TrainConfig,
    extra: serde_json::Value,
    history: &[EpochStats],
    best_epoch: usize,
    metrics: &Metrics,
) -> ModelMeta {
    let mut train_config = serde_json::to_value(tc).unwrap_or(serde_json::Value::Null);
    if let (Some(obj), Some(ex)) = (train_config.as_object_mut(), extra.as_object()) {
        for (k, v) in ex {
            obj.insert(k.clone(), v.clone());
        }
    }
    ModelMeta {
        format: String::new(),
        format_version: 0,
        arch: net.arch.clone(),
        classes: classes.to_vec(),
        normalization: Normalization::default(),
        num_params: 0,
        weights_file: String::new(),
        weights_sha256: String::new(),
        train_config,
        history: history.to_vec(),
        best_epoch: Some(best_epoch),
        final_metrics: serde_json::to_value(metrics).unwrap_or(serde_json::Value::Null),
    }
}

/// Key of the pretraining cache: everything that changes the pretrained weights. Passed once
/// through JSON text, as the stored copy is (serde_json's float parsing need not round-trip).
fn pretrain_key(c: &ReportConfig, dir: &Path) -> serde_json::Value {
    let key = json!({
        "pretrain_data": dir.display().to_string(),
        "hidden": c.cnn_hidden,
        "dropout": c.dropout,
        "config": cnn_train_config(c, c.base_seed, true, c.pretrain_epochs),
        "val_split": 0.1,
    });
    serde_json::from_str(&key.to_string()).unwrap_or(key)
}

/// Pretrains the CNN on `dir`, or reuses `<out>/pretrained/` when its key matches.
fn pretrain(
    c: &ReportConfig,
    dir: &Path,
    obs: &mut dyn Observer,
    total: usize,
) -> Result<(SavedModel, serde_json::Value), ReportError> {
    let cache = c.dir().join("pretrained");
    let shown = c.out.join("pretrained");
    let key = pretrain_key(c, dir);
    if let Ok(m) = SavedModel::load(&cache) {
        if m.meta.train_config.get("cache_key") == Some(&key) {
            obs.note(&format!(
                "pretrained model reused from {} (same settings)",
                shown.display()
            ));
            let info = json!({
                "cached": true,
                "dir": shown.display().to_string(),
                "classes": m.meta.classes.len(),
                "best_epoch": m.meta.best_epoch,
                "val_accuracy": m.meta.final_metrics.get("accuracy"),
                "train_seconds": m.meta.train_config.get("wall_seconds"),
            });
            return Ok((m, info));
        }
    }
    let ds = load("pretraining data", dir, obs)?;
    let (tr, va) = split(&ds, 0.1, c.base_seed, "pretraining split")?;
    let arch = Arch::paper_cnn(ds.classes.len(), c.cnn_hidden, c.dropout);
    let mut net = Net::init(arch, &mut Rng::derive(&[c.base_seed, 0x1417]))
        .map_err(model_err("pretrained CNN"))?;
    let tc = cnn_train_config(c, c.base_seed, true, c.pretrain_epochs);
    obs.run_start("pretrain CNN", 0, total, tc.epochs);
    let t = Instant::now();
    let out = train(
        &mut net,
        &tr,
        &va,
        &tc,
        None,
        &CheckpointOptions::default(),
        obs.progress(),
    )
    .map_err(|source| ReportError::Train {
        run: "pretraining".into(),
        source,
    })?;
    let secs = t.elapsed().as_secs_f64();
    let m = evaluate(&net, &va)?;
    obs.run_end(&format!(
        "pretrain: {} classes, val accuracy {:.3}, best epoch {}/{}, {:.0}s",
        ds.classes.len(),
        m.accuracy,
        out.best_epoch,
        out.history.len(),
        secs
    ));
    let extra = json!({
        "cache_key": key,
        "data": dir.display().to_string(),
        "train_images": tr.len(),
        "val_images": va.len(),
        "wall_seconds": secs,
    });
    let meta = meta_for(
        &net,
        &ds.classes,
        &tc,
        extra,
        &out.history,
        out.best_epoch,
        &m,
    );
    SavedModel::save(&net, meta.clone(), &cache).map_err(model_err("saving pretrained CNN"))?;
    let info = json!({
        "cached": false,
        "dir": shown.display().to_string(),
        "classes": ds.classes.len(),
        "train_images": tr.len(),
        "val_images": va.len(),
        "best_epoch": out.best_epoch,
        "epochs_run": out.history.len(),
        "val_accuracy": m.accuracy,
        "train_seconds": secs,
    });
    Ok((SavedModel { net, meta }, info))
}

/// Non-horse test images predicted "horse": sharp vs softened (64 → 32 → 64).
fn shortcut_check(net: &Net, test: &Dataset) -> Option<serde_json::Value> {
    let horse = test.classes.iter().position(|c| c == "horse")?;
    let idx: Vec<usize> = (0..test.len())
        .filter(|&i| test.labels[i] != horse)
        .collect();
    let horse_idx: Vec<usize> = (0..test.len())
        .filter(|&i| test.labels[i] == horse)
        .collect();
    if idx.is_empty() {
        return None;
    }
    let s = IMAGE_SIZE;
    let soften = |px: &[u8]| -> Vec<u8> {
        let f: Vec<f32> = px.iter().map(|&p| p as f32).collect();
        let small = resize(&f, s, s, s / 2, s / 2);
        resize(&small, s / 2, s / 2, s, s)
            .into_iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect()
    };
    let k = net.arch.classes();
    let frac_horse = |images: Vec<Vec<u8>>| -> f64 {
        let n = images.len();
        let mut hits = 0;
        for chunk in images.chunks(256) {
            let x = crate::data::pixels_to_batch(chunk.iter().map(|v| v.as_slice()));
            hits += net
                .predict_proba(x)
                .chunks_exact(k)
                .filter(|r| argmax(r) == horse)
                .count();
        }
        hits as f64 / n.max(1) as f64
    };
    let sharp: Vec<Vec<u8>> = idx.iter().map(|&i| test.images[i].clone()).collect();
    let soft: Vec<Vec<u8>> = idx.iter().map(|&i| soften(&test.images[i])).collect();
    let horse_sharp: Vec<Vec<u8>> = horse_idx.iter().map(|&i| test.images[i].clone()).collect();
    let horse_soft: Vec<Vec<u8>> = horse_idx.iter().map(|&i| soften(&test.images[i])).collect();
    Some(json!({
        "non_horse_images": idx.len(),
        "non_horse_predicted_horse_sharp": frac_horse(sharp),
        "non_horse_predicted_horse_softened": frac_horse(soft),
        "horse_images": horse_idx.len(),
        "horse_recall_sharp": frac_horse(horse_sharp),
        "horse_recall_softened": frac_horse(horse_soft),
    }))
}

fn summarise(cfg: Configuration, runs: &[&RunRecord], classes: usize) -> ConfigSummary {
    let col = |f: &dyn Fn(&RunRecord) -> f64| -> MeanStd {
        MeanStd::of(&runs.iter().map(|r| f(r)).collect::<Vec<_>>())
    };
    ConfigSummary {
        config: cfg,
        label: cfg.label().into(),
        accuracy: col(&|r| r.test.accuracy),
        macro_f1: col(&|r| r.test.macro_f1),
        macro_precision: col(&|r| r.test.macro_precision),
        macro_recall: col(&|r| r.test.macro_recall),
        loss: col(&|r| r.test.loss.unwrap_or(f64::NAN)),
        best_epoch: col(&|r| r.best_epoch as f64),
        val_accuracy: col(&|r| r.val_accuracy),
        per_class_recall: (0..classes)
            .map(|c| col(&|r| r.test.per_class[c].recall))
            .collect(),
        train_seconds: col(&|r| r.train_seconds),
    }
}

fn paired(runs: &[RunRecord], a: Configuration, b: Configuration) -> Option<PairedDiff> {
    let get = |c: Configuration| -> Vec<(u64, f64)> {
        runs.iter()
            .filter(|r| r.config == c)
            .map(|r| (r.seed, r.test.accuracy))
            .collect()
    };
    let (ra, rb) = (get(a), get(b));
    let diffs: Vec<f64> = ra
        .iter()
        .filter_map(|(s, x)| rb.iter().find(|(t, _)| t == s).map(|(_, y)| x - y))
        .collect();
    if diffs.is_empty() {
        return None;
    }
    Some(PairedDiff {
        what: paired_label(a, b),
        stats: MeanStd::of(&diffs),
        diffs,
    })
}

/// One Markdown row of a paired difference, in points.
fn paired_row(d: &PairedDiff) -> String {
    format!(
        "| {} | {} | {:+.1} ± {:.1} |",
        d.what,
        d.diffs
            .iter()
            .map(|v| format!("{:+.1}", 100.0 * v))
            .collect::<Vec<_>>()
            .join(", "),
        100.0 * d.stats.mean,
        100.0 * d.stats.std
    )
}

fn paired_label(a: Configuration, b: Configuration) -> String {
    format!("{} − {}", a.label(), b.label())
}

/// Test images for the prediction grid: up to 8 per class (rows by class when every class has
/// 8), topped up in test order to 40.
fn grid_indices(test: &Dataset) -> Vec<usize> {
    let mut pick = Vec::new();
    for c in 0..test.classes.len() {
        pick.extend((0..test.len()).filter(|&i| test.labels[i] == c).take(8));
    }
    pick.truncate(40);
    for i in 0..test.len() {
        if pick.len() >= 40 {
            break;
        }
        if !pick.contains(&i) {
            pick.push(i);
        }
    }
    pick
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    std::fs::write(path, bytes).map_err(|source| ReportError::Io {
        op: "write",
        path: path.into(),
        source,
    })
}

/// Runs the whole experiment and writes the report into `c.out`.
pub fn run(c: &ReportConfig, obs: &mut dyn Observer) -> Result<Report, ReportError> {
    c.validate()?;
    let t0 = Instant::now();
    std::fs::create_dir_all(c.dir()).map_err(|source| ReportError::Io {
        op: "create",
        path: c.dir().to_path_buf(),
        source,
    })?;
    let ds = load("data", &c.data, obs)?;
    let (rest, test) = match &c.test {
        Some(dir) => {
            let t = load("test data", dir, obs)?;
            t.check_classes(&ds.classes)
                .map_err(|source| ReportError::Data {
                    what: format!("test folder {}", dir.display()),
                    source,
                })?;
            (ds, t)
        }
        None => {
            let (rest, test) = split(&ds, c.test_split, c.base_seed, "test split")?;
            (rest, test)
        }
    };
    let classes = rest.classes.clone();
    let k = classes.len();
    let mut configs = vec![
        Configuration::MlpSgd,
        Configuration::CnnSgd,
        Configuration::CnnAdam,
        Configuration::CnnAdamAug,
    ];
    if c.pretrain.is_some() {
        configs.push(Configuration::CnnAdamAugFt);
    }
    let total = configs.len() * c.seeds + usize::from(c.pretrain.is_some());
    let (pre, pre_info) = match &c.pretrain {
        Some(dir) => {
            let (m, info) = pretrain(c, dir, obs, total)?;
            (Some(m), Some(info))
        }
        None => (None, None),
    };

    let mut runs: Vec<RunRecord> = Vec::new();
    // First seed's network per configuration (headline candidates).
    let mut first: Vec<(Configuration, Net)> = Vec::new();
    let mut counts = serde_json::Value::Null;
    let mut index = usize::from(pre.is_some());
    for s in 0..c.seeds {
        let seed = c.base_seed + s as u64;
        let (tr, va) = split(&rest, c.val_split, seed, "validation split")?;
        if s == 0 {
            counts = json!({
                "train": tr.class_counts(),
                "val": va.class_counts(),
                "test": test.class_counts(),
                "test_source": match &c.test {
                    Some(d) => format!("folder {}", d.display()),
                    None => format!("held-out {:.0} % of each class of the data folder (seed {})",
                        100.0 * c.test_split, c.base_seed),
                },
            });
        }
        for &cfg in &configs {
            let label = format!("{} seed {seed}", cfg.label());
            let mut net = Net::init(arch(c, cfg, k), &mut Rng::derive(&[seed, 0x1417]))
                .map_err(model_err(label.clone()))?;
            let mut loaded = 0;
            if cfg == Configuration::CnnAdamAugFt {
                if let Some(p) = &pre {
                    loaded = net.load_matching(&p.net).len();
                }
            }
            let tc = train_config(c, cfg, seed);
            obs.run_start(&label, index, total, tc.epochs);
            let t = Instant::now();
            let out = train(
                &mut net,
                &tr,
                &va,
                &tc,
                None,
                &CheckpointOptions::default(),
                obs.progress(),
            )
            .map_err(|source| ReportError::Train {
                run: label.clone(),
                source,
            })?;
            let secs = t.elapsed().as_secs_f64();
            let m = evaluate(&net, &test)?;
            let best = out.history.get(out.best_epoch.max(1) - 1);
            let rec = RunRecord {
                config: cfg,
                seed,
                best_epoch: out.best_epoch,
                epochs_run: out.history.len(),
                stopped_early: out.stopped_early,
                val_accuracy: best.map_or(f64::NAN, |h| h.val_accuracy as f64),
                val_loss: best.map_or(f64::NAN, |h| h.val_loss as f64),
                test: m,
                train_seconds: secs,
                history: out.history,
            };
            obs.run_end(&format!(
                "{label}: test acc {:.3}, macro F1 {:.3}, loss {:.3}, best epoch {}/{}, val acc {:.3}, {:.0}s",
                rec.test.accuracy,
                rec.test.macro_f1,
                rec.test.loss.unwrap_or(f64::NAN),
                rec.best_epoch,
                rec.epochs_run,
                rec.val_accuracy,
                secs
            ));
            if s == 0 {
                let extra = json!({
                    "report_configuration": cfg.id(),
                    "data": c.data.display().to_string(),
                    "test_split": c.test_split,
                    "val_split": c.val_split,
                    "split_seed": c.base_seed,
                    "train_images": tr.len(),
                    "val_images": va.len(),
                    "test_images": test.len(),
                    "init_from": if loaded > 0 { json!(c.out.join("pretrained").display().to_string()) } else { json!(null) },
                    "tensors_loaded": loaded,
                    "wall_seconds": secs,
                    "stopped_early": rec.stopped_early,
                    "metrics_on": "test split",
                });
                let meta = meta_for(
                    &net,
                    &classes,
                    &tc,
                    extra,
                    &rec.history,
                    rec.best_epoch,
                    &rec.test,
                );
                let dir = c.dir().join("models").join(cfg.id());
                SavedModel::save(&net, meta, &dir)
                    .map_err(model_err(format!("saving {}", dir.display())))?;
                first.push((cfg, net));
            }
            runs.push(rec);
            index += 1;
        }
    }

    let summary: Vec<ConfigSummary> = configs
        .iter()
        .map(|&cfg| {
            let rs: Vec<&RunRecord> = runs.iter().filter(|r| r.config == cfg).collect();
            summarise(cfg, &rs, k)
        })
        .collect();
    let headline_cnn = summary
        .iter()
        .filter(|s| s.config.is_cnn() && !s.config.is_baseline())
        .fold(None::<&ConfigSummary>, |best, s| match best {
            Some(b) if b.val_accuracy.mean >= s.val_accuracy.mean => Some(b),
            _ => Some(s),
        })
        .map(|s| s.config)
        .unwrap_or(Configuration::CnnAdamAug);
    let mut paired_diffs = Vec::new();
    for (a, b) in [
        (headline_cnn, Configuration::MlpSgd),
        (headline_cnn, Configuration::CnnSgd),
        (Configuration::CnnAdam, Configuration::CnnSgd),
        (Configuration::CnnAdamAug, Configuration::CnnAdam),
        (Configuration::CnnAdamAugFt, Configuration::CnnAdamAug),
    ] {
        if a == b
            || paired_diffs
                .iter()
                .any(|d: &PairedDiff| d.what == paired_label(a, b))
        {
            continue;
        }
        if let Some(d) = paired(&runs, a, b) {
            paired_diffs.push(d);
        }
    }
    let head = |cfg: Configuration| {
        runs.iter()
            .find(|r| r.config == cfg && r.seed == c.base_seed)
            .expect("first seed run exists")
    };
    // The headline CNN and the two readings of the baseline, in the order of every figure.
    let heads: Vec<(Configuration, &RunRecord)> =
        [headline_cnn, Configuration::MlpSgd, Configuration::CnnSgd]
            .into_iter()
            .map(|cfg| (cfg, head(cfg)))
            .collect();
    let cnn_net = &first
        .iter()
        .find(|(cfg, _)| *cfg == headline_cnn)
        .expect("first seed net")
        .1;
    // Per configuration (first seed): does softening make a model say "horse"?
    let shortcut = test.classes.iter().any(|c| c == "horse").then(|| {
        let mut m = serde_json::Map::new();
        for (cfg, net) in &first {
            if let Some(v) = shortcut_check(net, &test) {
                m.insert(cfg.id().to_string(), v);
            }
        }
        serde_json::Value::Object(m)
    });

    // Figures.
    let mut files = Vec::new();
    let series = |r: &RunRecord| {
        let g = |f: fn(&EpochStats) -> f32| -> Vec<f64> {
            r.history.iter().map(|e| f64::from(f(e))).collect()
        };
        (
            g(|e| e.train_loss),
            g(|e| e.val_loss),
            g(|e| e.train_accuracy),
            g(|e| e.val_accuracy),
        )
    };
    let hist: Vec<_> = heads.iter().map(|(_, r)| series(r)).collect();
    let curves: Vec<Curves<'_>> = heads
        .iter()
        .zip(&hist)
        .map(|((cfg, r), h)| Curves {
            model: cfg.label(),
            train_loss: &h.0,
            val_loss: &h.1,
            train_acc: &h.2,
            val_acc: &h.3,
            best_epoch: Some(r.best_epoch.max(1) - 1),
        })
        .collect();
    plots::learning_curves(&c.dir().join("learning_curves.png"), &curves)?;
    files.push("learning_curves.png".to_string());

    let names: Vec<&str> = classes.iter().map(String::as_str).collect();
    let flat = |m: &Metrics| -> Vec<usize> { m.confusion.iter().flatten().copied().collect() };
    let cms: Vec<Vec<usize>> = heads.iter().map(|(_, r)| flat(&r.test)).collect();
    let matrices: Vec<Confusion<'_>> = heads
        .iter()
        .zip(&cms)
        .map(|((cfg, _), m)| Confusion {
            title: cfg.label(),
            counts: m,
        })
        .collect();
    plots::confusion_matrices(&c.dir().join("confusion_matrices.png"), &names, &matrices)?;
    files.push("confusion_matrices.png".to_string());

    let pick = grid_indices(&test);
    let sub = test.subset(&pick);
    let probs = crate::eval::predict_dataset(cnn_net, &sub, 256);
    let preds: Vec<usize> = probs.chunks_exact(k).map(argmax).collect();
    let samples: Vec<GridSample<'_>> = sub
        .images
        .iter()
        .zip(&sub.labels)
        .zip(&preds)
        .map(|((px, &y), &p)| GridSample {
            pixels: px,
            width: IMAGE_SIZE as u32,
            height: IMAGE_SIZE as u32,
            actual: y,
            predicted: p,
        })
        .collect();
    plots::prediction_grid(&c.dir().join("prediction_grid.png"), &names, &samples, 8)?;
    files.push("prediction_grid.png".to_string());

    let vals = |m: &Metrics| {
        vec![
            m.accuracy,
            m.macro_precision,
            m.macro_recall,
            m.macro_f1,
            m.loss.unwrap_or(0.0),
        ]
    };
    let values: Vec<Vec<f64>> = heads.iter().map(|(_, r)| vals(&r.test)).collect();
    let bars: Vec<BarSeries<'_>> = heads
        .iter()
        .zip(&values)
        .map(|((cfg, _), v)| BarSeries {
            name: cfg.label(),
            values: v,
        })
        .collect();
    plots::comparison_bars(
        &c.dir().join("comparison_bars.png"),
        &format!(
            "Test set, seed {}: {} vs the SGD baselines (two readings)",
            c.base_seed,
            headline_cnn.label()
        ),
        &[
            "accuracy",
            "macro precision",
            "macro recall",
            "macro F1",
            "test loss (cost)",
        ],
        &bars,
    )?;
    files.push("comparison_bars.png".to_string());

    let acc: Vec<Vec<f64>> = configs
        .iter()
        .map(|&cfg| {
            runs.iter()
                .filter(|r| r.config == cfg)
                .map(|r| r.test.accuracy)
                .collect()
        })
        .collect();
    let seed_runs: Vec<SeedRuns<'_>> = configs
        .iter()
        .zip(&acc)
        .map(|(cfg, v)| SeedRuns {
            label: cfg.label(),
            values: v,
        })
        .collect();
    plots::ablation_bars(
        &c.dir().join("ablation_bars.png"),
        "Test accuracy per configuration (mean ± std over seeds)",
        "test accuracy",
        &seed_runs,
    )?;
    files.push("ablation_bars.png".to_string());
    files.push("metrics.json".into());
    files.push("report.md".into());

    let report = Report {
        settings: c.clone(),
        classes,
        counts,
        pretrain: pre_info,
        runs,
        summary,
        paired: paired_diffs,
        headline_cnn,
        headline_seed: c.base_seed,
        shortcut_check: shortcut,
        files,
        wall_seconds: t0.elapsed().as_secs_f64(),
    };
    let json = serde_json::to_vec_pretty(&report).map_err(|e| ReportError::Io {
        op: "serialise",
        path: c.dir().join("metrics.json"),
        source: e.into(),
    })?;
    write_file(&c.dir().join("metrics.json"), &json)?;
    write_file(&c.dir().join("report.md"), markdown(&report).as_bytes())?;
    Ok(report)
}

fn params_of(c: &ReportConfig, cfg: Configuration, k: usize) -> usize {
    Net::init(arch(c, cfg, k), &mut Rng::new(0))
        .map(|n| n.num_params())
        .unwrap_or(0)
}

/// The Markdown report.
pub fn markdown(r: &Report) -> String {
    let c = &r.settings;
    let k = r.classes.len();
    let mut s = String::new();
    let head = |cfg: Configuration| {
        r.runs
            .iter()
            .find(|x| x.config == cfg && x.seed == r.headline_seed)
    };
    let sum = |cfg: Configuration| r.summary.iter().find(|x| x.config == cfg);
    let _ = writeln!(
        s,
        "# cnnfpga report: paper CNN (Adam) vs the back-propagation baselines (MLP-SGD, CNN-SGD)\n"
    );
    let _ = writeln!(
        s,
        "Data `{}`, {} classes ({}); {} runs, total wall time {:.0} s.\n",
        c.data.display(),
        k,
        r.classes.join(", "),
        r.runs.len() + usize::from(r.pretrain.as_ref().is_some_and(|p| p["cached"] == false)),
        r.wall_seconds
    );
    let _ = writeln!(s, "## Reproduce\n\n```sh\ncargo build --release -p host");
    let _ = writeln!(
        s,
        "{}\n```\n",
        if c.command.is_empty() {
            "cnnfpga report ..."
        } else {
            &c.command
        }
    );

    // Table 2.
    let _ = writeln!(
        s,
        "## Table 2 (test set)\n\nHeadline models: **{}** (the Adam CNN configuration with the best \
         mean validation accuracy) and both readings of the paper's back-propagation baseline, \
         **{}** (a separate MLP) and **{}** (the same CNN, only the optimizer changed), seed {} \
         (the first seed; not picked on test results). Mean ± std over all {} seed(s) beside them.\n",
        r.headline_cnn.label(),
        Configuration::MlpSgd.label(),
        Configuration::CnnSgd.label(),
        r.headline_seed,
        c.seeds
    );
    let cols = [r.headline_cnn, Configuration::MlpSgd, Configuration::CnnSgd];
    let heads: Option<Vec<&RunRecord>> = cols.iter().map(|&cfg| head(cfg)).collect();
    let sums: Option<Vec<&ConfigSummary>> = cols.iter().map(|&cfg| sum(cfg)).collect();
    if let (Some(hs), Some(ss)) = (heads, sums) {
        let _ = write!(s, "| metric |");
        for cfg in cols {
            let _ = write!(s, " {} |", cfg.label());
        }
        for cfg in cols {
            let _ = write!(s, " {} (mean ± std) |", cfg.label());
        }
        let _ = writeln!(s, "\n|---|{}", "---|".repeat(2 * cols.len()));
        type Pick = fn(&Metrics) -> f64;
        type PickSum = fn(&ConfigSummary) -> MeanStd;
        let rows: [(&str, Pick, PickSum); 5] = [
            ("test score (accuracy)", |m| m.accuracy, |x| x.accuracy),
            (
                "test cost (loss)",
                |m| m.loss.unwrap_or(f64::NAN),
                |x| x.loss,
            ),
            (
                "precision (macro)",
                |m| m.macro_precision,
                |x| x.macro_precision,
            ),
            ("recall (macro)", |m| m.macro_recall, |x| x.macro_recall),
            ("F1 (macro)", |m| m.macro_f1, |x| x.macro_f1),
        ];
        for (name, one, many) in rows {
            let _ = write!(s, "| {name} |");
            for h in &hs {
                let _ = write!(s, " {:.4} |", one(&h.test));
            }
            for x in &ss {
                let _ = write!(s, " {} |", many(x).f3());
            }
            let _ = writeln!(s);
        }
        let _ = write!(s, "| accuracy % |");
        for h in &hs {
            let _ = write!(s, " {:.2} % |", 100.0 * h.test.accuracy);
        }
        for x in &ss {
            let _ = write!(s, " {} % |", x.accuracy.pct());
        }
        let _ = write!(s, "\n| best epoch (of run) |");
        for h in &hs {
            let _ = write!(s, " {} / {} |", h.best_epoch, h.epochs_run);
        }
        for x in &ss {
            let _ = write!(s, " {:.1} ± {:.1} |", x.best_epoch.mean, x.best_epoch.std);
        }
        let _ = writeln!(s, "\n");
        let _ = writeln!(
            s,
            "The paper reports 91.18 % (CNN, Adam) against 88.89 % (back-propagation, SGD), a gap \
             of 2.3 points. Paired by seed, the gap to each reading of the baseline (test accuracy, \
             points):\n"
        );
        let _ = writeln!(s, "| comparison | per seed | mean ± std |\n|---|---|---|");
        for b in [Configuration::MlpSgd, Configuration::CnnSgd] {
            if let Some(d) = r
                .paired
                .iter()
                .find(|d| d.what == paired_label(r.headline_cnn, b))
            {
                let _ = writeln!(s, "{}", paired_row(d));
            }
        }
        let _ = writeln!(s);

        // Per-class.
        let _ = writeln!(s, "### Per class (headline models, test set)\n");
        let _ = write!(s, "| class | support |");
        for cfg in cols {
            let l = cfg.label();
            let _ = write!(s, " {l} precision | {l} recall | {l} F1 |");
        }
        let _ = writeln!(s, "\n|---|---|{}", "---|".repeat(3 * cols.len()));
        for (i, a) in hs[0].test.per_class.iter().enumerate() {
            let _ = write!(s, "| {} | {} |", a.class, a.support);
            for h in &hs {
                if let Some(p) = h.test.per_class.get(i) {
                    let _ = write!(s, " {:.3} | {:.3} | {:.3} |", p.precision, p.recall, p.f1);
                }
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(s);
    }

    // Ablation.
    let _ = writeln!(
        s,
        "## Ablation (test set, mean ± std over {} seed(s): {})\n",
        c.seeds,
        (0..c.seeds)
            .map(|i| (c.base_seed + i as u64).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "| configuration | test accuracy % | macro F1 | test loss | best epoch | val accuracy % | train s/run |\n|---|---|---|---|---|---|---|"
    );
    for x in &r.summary {
        let _ = writeln!(
            s,
            "| {}{} | {} | {} | {} | {:.1} ± {:.1} | {} | {:.0} |",
            x.label,
            if x.config == r.headline_cnn {
                " (headline)"
            } else {
                ""
            },
            x.accuracy.pct(),
            x.macro_f1.f3(),
            x.loss.f3(),
            x.best_epoch.mean,
            x.best_epoch.std,
            x.val_accuracy.pct(),
            x.train_seconds.mean
        );
    }
    let _ = writeln!(
        s,
        "\nPaired by seed (same split and initialisation), test accuracy difference in points:\n"
    );
    let _ = writeln!(s, "| comparison | per seed | mean ± std |\n|---|---|---|");
    for d in &r.paired {
        let _ = writeln!(s, "{}", paired_row(d));
    }
    let _ = writeln!(s, "\nTest recall per class % (mean ± std over seeds):\n");
    let _ = write!(s, "| configuration |");
    for cl in &r.classes {
        let _ = write!(s, " {cl} |");
    }
    let _ = writeln!(s, "\n|---|{}", "---|".repeat(k));
    for x in &r.summary {
        let _ = write!(s, "| {} |", x.label);
        for m in &x.per_class_recall {
            let _ = write!(s, " {} |", m.pct());
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s);

    if let Some(sc) = &r.shortcut_check {
        let f = |v: &serde_json::Value| {
            v.as_f64()
                .map_or("-".into(), |x| format!("{:.1} %", 100.0 * x))
        };
        let _ = writeln!(
            s,
            "### Sharpness shortcut check (first seed's model of each configuration)\n\n\
             The horse photos went through one more downscale than the other classes. Softening \
             every test image (64 → 32 → 64, antialiased) shows whether a model reads softness \
             as \"horse\":\n\n\
             | configuration | non-horse predicted horse, as is | … softened | horse recall, as is | … softened |\n|---|---|---|---|---|"
        );
        for x in &r.summary {
            let v = &sc[x.config.id()];
            if v.is_object() {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} |",
                    x.label,
                    f(&v["non_horse_predicted_horse_sharp"]),
                    f(&v["non_horse_predicted_horse_softened"]),
                    f(&v["horse_recall_sharp"]),
                    f(&v["horse_recall_softened"]),
                );
            }
        }
        let _ = writeln!(s);
    }

    // Settings and data.
    let _ = writeln!(s, "## Settings\n");
    let _ = writeln!(s, "| configuration | model | parameters | optimizer | augmentation | initialisation |\n|---|---|---|---|---|---|");
    for x in &r.summary {
        let cfg = x.config;
        let (model, opt) = if cfg.is_cnn() {
            (
                format!("paper CNN (conv3x3x10, pool, conv5x5x20, pool, dense {} + dropout {}, dense {k})", c.cnn_hidden, c.dropout),
                if cfg == Configuration::CnnSgd {
                    format!("SGD lr {} (no momentum)", c.cnn_sgd_lr)
                } else {
                    format!("Adam lr {}", c.cnn_lr)
                },
            )
        } else {
            (
                format!("MLP (dense {} + ReLU, dense {k})", c.mlp_hidden),
                format!("SGD lr {} (no momentum)", c.mlp_lr),
            )
        };
        let aug = if cfg.augmented() {
            if c.augment_factor == 0 {
                "on the fly, each image once per epoch".to_string()
            } else {
                format!("original + {} augmented copies per epoch", c.augment_factor)
            }
        } else {
            "none".into()
        };
        let init = if cfg == Configuration::CnnAdamAugFt {
            "pretrained CNN (matching tensors), head re-initialised"
        } else {
            "random"
        };
        let _ = writeln!(
            s,
            "| {} | {model} | {} | {opt} | {aug} | {init} |",
            x.label,
            params_of(c, cfg, k)
        );
    }
    let _ = writeln!(
        s,
        "\nAll runs: batch {}, at most {} epochs, early stopping on validation loss with patience {} \
         (the best epoch's weights are kept), input pixel / 255. Augmentation: flip p {}, rotation ±{}°, \
         zoom {:?}, shift ±{} px, blur p {} (σ {:?}), down-up rescale p {} (side {:?}), brightness ±{}, \
         contrast {:?}.\n",
        c.batch, c.epochs, c.patience, c.augment.flip_p, c.augment.max_rotate_deg, c.augment.scale,
        c.augment.max_shift, c.augment.blur_p, c.augment.blur_sigma, c.augment.rescale_p,
        c.augment.rescale_side, c.augment.brightness, c.augment.contrast
    );
    if let Some(p) = &r.pretrain {
        let _ = writeln!(
            s,
            "Pretraining: `{}` ({} classes), paper CNN with augmentation, Adam lr {}, at most {} epochs, \
             10 % validation; best epoch {}, validation accuracy {}, {}; cached in `{}`.\n",
            c.pretrain.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            p["classes"],
            c.cnn_lr,
            c.pretrain_epochs,
            p["best_epoch"],
            p["val_accuracy"].as_f64().map_or("-".into(), |v| format!("{v:.3}")),
            if p["cached"] == true { "reused from an earlier run".to_string() } else {
                format!("{:.0} s", p["train_seconds"].as_f64().unwrap_or(0.0))
            },
            p["dir"].as_str().unwrap_or("")
        );
    }
    let _ = writeln!(s, "### Data\n");
    let _ = writeln!(
        s,
        "Test part: {}. Validation: {:.0} % of each class of the rest, re-drawn per seed \
         (counts below for seed {}). Training never sees the test part.\n",
        r.counts["test_source"].as_str().unwrap_or(""),
        100.0 * c.val_split,
        c.base_seed
    );
    let _ = writeln!(
        s,
        "| class | train | validation | test |\n|---|---|---|---|"
    );
    let n = |key: &str, i: usize| r.counts[key][i].as_u64().unwrap_or(0);
    let mut tot = [0u64; 3];
    for (i, cl) in r.classes.iter().enumerate() {
        let v = [n("train", i), n("val", i), n("test", i)];
        (0..3).for_each(|j| tot[j] += v[j]);
        let _ = writeln!(s, "| {cl} | {} | {} | {} |", v[0], v[1], v[2]);
    }
    let _ = writeln!(s, "| **total** | {} | {} | {} |\n", tot[0], tot[1], tot[2]);

    let _ = writeln!(s, "## Figures\n");
    for (f, what) in [
        ("learning_curves.png", "Training vs validation loss and accuracy per epoch (paper Fig. 6); dashed line = kept epoch."),
        ("confusion_matrices.png", "Confusion matrices on the test set (Fig. 7)."),
        ("prediction_grid.png", "Test images with actual and predicted class, CNN (Fig. 8): green right, red wrong."),
        ("comparison_bars.png", "The headline models side by side (Fig. 9)."),
        ("ablation_bars.png", "Test accuracy per configuration, mean ± std over seeds, dots = single seeds."),
    ] {
        let _ = writeln!(s, "![{f}]({f})\n\n{what}\n");
    }

    let _ = writeln!(s, "## All runs\n");
    let _ = writeln!(
        s,
        "| configuration | seed | test acc | macro F1 | test loss | best / run epochs | val acc | train s |\n|---|---|---|---|---|---|---|---|"
    );
    for x in &r.runs {
        let _ = writeln!(
            s,
            "| {} | {} | {:.4} | {:.4} | {:.4} | {} / {} | {:.4} | {:.0} |",
            x.config.label(),
            x.seed,
            x.test.accuracy,
            x.test.macro_f1,
            x.test.loss.unwrap_or(f64::NAN),
            x.best_epoch,
            x.epochs_run,
            x.val_accuracy,
            x.train_seconds
        );
    }
    let _ = writeln!(
        s,
        "\nThe first seed's model of each configuration is in `models/<id>/` (ids: {}); \
         `metrics.json` holds every number above.",
        r.summary
            .iter()
            .map(|x| format!("`{}`", x.config.id()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(per_class: &[usize]) -> Dataset {
        let mut d = Dataset {
            classes: (0..per_class.len()).map(|c| format!("c{c}")).collect(),
            ..Default::default()
        };
        for (c, &n) in per_class.iter().enumerate() {
            for _ in 0..n {
                d.images.push(vec![0; IMAGE_SIZE * IMAGE_SIZE * 3]);
                d.labels.push(c);
                d.paths.push(PathBuf::new());
            }
        }
        d
    }

    #[test]
    fn grid_takes_eight_per_class_in_rows() {
        let d = ds(&[10, 10, 10, 10, 10]);
        let g = grid_indices(&d);
        assert_eq!(g.len(), 40);
        for (row, chunk) in g.chunks(8).enumerate() {
            assert!(chunk.iter().all(|&i| d.labels[i] == row));
        }
    }

    #[test]
    fn grid_tops_up_small_classes_without_repeats() {
        let d = ds(&[3, 50]);
        let g = grid_indices(&d);
        assert_eq!(g.len(), 40);
        let mut u = g.clone();
        u.sort_unstable();
        u.dedup();
        assert_eq!(u.len(), 40);
        assert_eq!(g.iter().filter(|&&i| d.labels[i] == 0).count(), 3);
        // Fewer than 40 test images: all of them.
        assert_eq!(grid_indices(&ds(&[2, 3])).len(), 5);
    }

    fn rec(config: Configuration, seed: u64, acc: f64) -> RunRecord {
        let classes = vec!["a".to_string(), "b".to_string()];
        // `acc` of 4 images correct, as 0..4 with the first round(4 acc) right.
        let right = (acc * 4.0).round() as usize;
        let labels = [0, 1, 0, 1];
        let preds: Vec<usize> = (0..4)
            .map(|i| if i < right { labels[i] } else { 1 - labels[i] })
            .collect();
        RunRecord {
            config,
            seed,
            best_epoch: 1,
            epochs_run: 1,
            stopped_early: false,
            val_accuracy: acc,
            val_loss: 1.0,
            test: crate::eval::compute_metrics(&labels, &preds, None, &classes).unwrap(),
            train_seconds: 1.0,
            history: Vec::new(),
        }
    }

    #[test]
    fn paired_differences_match_seeds() {
        let runs = vec![
            rec(Configuration::CnnAdam, 1, 0.5),
            rec(Configuration::CnnAdamAug, 1, 0.75),
            rec(Configuration::CnnAdam, 2, 0.75),
            rec(Configuration::CnnAdamAug, 2, 0.75),
            rec(Configuration::CnnAdamAug, 3, 1.0), // no partner: ignored
        ];
        let d = paired(&runs, Configuration::CnnAdamAug, Configuration::CnnAdam).unwrap();
        assert_eq!(d.diffs, vec![0.25, 0.0]);
        assert!((d.stats.mean - 0.125).abs() < 1e-12);
        assert!((d.stats.std - 0.125 * 2f64.sqrt()).abs() < 1e-12);
        assert!(paired(&runs, Configuration::MlpSgd, Configuration::CnnAdam).is_none());
        let s = summarise(
            Configuration::CnnAdamAug,
            &runs
                .iter()
                .filter(|r| r.config == Configuration::CnnAdamAug)
                .collect::<Vec<_>>(),
            2,
        );
        assert_eq!(s.accuracy.n, 3);
        assert!((s.accuracy.mean - (0.75 + 0.75 + 1.0) / 3.0).abs() < 1e-12);
        assert_eq!(s.per_class_recall.len(), 2);
    }

    #[test]
    fn config_validation() {
        let mut c = ReportConfig::paper("d".into(), "o".into());
        assert!(c.validate().is_ok());
        c.seeds = 0;
        assert!(matches!(c.validate(), Err(ReportError::Config(_))));
        c.seeds = 1;
        c.mlp_lr = -1.0;
        assert!(c.validate().is_err());
    }
}
