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
//!
//! # Modules
//! * `config` — [`ReportConfig`], the compared [`Configuration`]s and their training settings;
//! * `steps` — data loading and splitting, the pretrained CNN, the shortcut check;
//! * `run` — [`run`]: the training runs, the summary and the headline choice;
//! * `stats` — the records ([`RunRecord`], [`ConfigSummary`], [`PairedDiff`], [`Report`]);
//! * `figures` — the five PNG figures;
//! * `markdown` — [`markdown`]: `report.md`, section by section.

mod config;
mod figures;
mod markdown;
mod run;
mod stats;
mod steps;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use crate::data::DataError;
use crate::eval::EvalError;
use crate::model::ModelError;
use crate::plots::PlotError;
use crate::train::{Progress, TrainError};

pub use config::{Configuration, ReportConfig};
pub use markdown::markdown;
pub use run::run;
pub use stats::{ConfigSummary, MeanStd, PairedDiff, Report, RunRecord};

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
