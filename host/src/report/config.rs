//! What `cnnfpga report` runs: the settings ([`ReportConfig`], with the paper's values), the
//! compared [`Configuration`]s and, per configuration, its architecture and training settings.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ReportError;
use crate::augment::AugmentConfig;
use crate::model::Arch;
use crate::optim::OptimConfig;
use crate::train::TrainConfig;

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

    pub(super) fn validate(&self) -> Result<(), ReportError> {
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
    pub(super) fn is_cnn(self) -> bool {
        self != Configuration::MlpSgd
    }
    /// A reading of the paper's SGD baseline (not a headline candidate).
    pub(super) fn is_baseline(self) -> bool {
        matches!(self, Configuration::MlpSgd | Configuration::CnnSgd)
    }
    pub(super) fn augmented(self) -> bool {
        matches!(
            self,
            Configuration::CnnAdamAug | Configuration::CnnAdamAugFt
        )
    }
}

pub(super) fn cnn_train_config(
    c: &ReportConfig,
    seed: u64,
    augment: bool,
    epochs: usize,
) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: c.batch,
        optim: OptimConfig::adam(c.cnn_lr),
        patience: c.patience,
        seed,
        augment: augment.then(|| c.augment.clone()),
        augment_factor: if augment { c.augment_factor } else { 0 },
        keep_last: false,
        ..TrainConfig::default()
    }
}

pub(super) fn train_config(c: &ReportConfig, cfg: Configuration, seed: u64) -> TrainConfig {
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
            ..TrainConfig::default()
        },
        Configuration::CnnSgd => TrainConfig {
            optim: OptimConfig::sgd(c.cnn_sgd_lr, 0.0),
            ..cnn_train_config(c, seed, false, c.epochs)
        },
        _ => cnn_train_config(c, seed, cfg.augmented(), c.epochs),
    }
}

pub(super) fn arch(c: &ReportConfig, cfg: Configuration, classes: usize) -> Arch {
    if cfg.is_cnn() {
        Arch::paper_cnn(classes, c.cnn_hidden, c.dropout)
    } else {
        Arch::mlp(classes, c.mlp_hidden)
    }
}
