//! The report's records: one [`RunRecord`] per training run, the per-configuration summary
//! ([`ConfigSummary`] of [`MeanStd`]s), paired per-seed differences ([`PairedDiff`]) and the
//! whole [`Report`] (written as `metrics.json`), with the functions that compute them.

use serde::{Deserialize, Serialize};

use super::{Configuration, ReportConfig};
use crate::eval::Metrics;
use crate::plots;
use crate::train::EpochStats;

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
    pub(super) fn pct(&self) -> String {
        format!("{:.1} ± {:.1}", 100.0 * self.mean, 100.0 * self.std)
    }
    pub(super) fn f3(&self) -> String {
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

/// What [`super::run`] returns (also written as `metrics.json`).
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

pub(super) fn summarise(cfg: Configuration, runs: &[&RunRecord], classes: usize) -> ConfigSummary {
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

pub(super) fn paired(runs: &[RunRecord], a: Configuration, b: Configuration) -> Option<PairedDiff> {
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
pub(super) fn paired_row(d: &PairedDiff) -> String {
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

pub(super) fn paired_label(a: Configuration, b: Configuration) -> String {
    format!("{} − {}", a.label(), b.label())
}
