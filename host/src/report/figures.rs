//! The report's figures (PNG, drawn by [`crate::plots`]): learning curves, confusion matrices
//! and comparison bars of the headline models (first seed), the prediction grid of the
//! headline CNN, and the per-configuration ablation bars over all seeds.

use std::path::Path;

use super::{Configuration, ReportConfig, ReportError, RunRecord};
use crate::data::{Dataset, IMAGE_SIZE};
use crate::eval::{argmax, Metrics};
use crate::model::Net;
use crate::plots::{self, BarSeries, Confusion, Curves, GridSample, SeedRuns};
use crate::train::EpochStats;

/// What the figures are drawn from.
pub(super) struct Inputs<'a> {
    /// Configurations, in report order.
    pub(super) configs: &'a [Configuration],
    /// Every run.
    pub(super) runs: &'a [RunRecord],
    /// First seed's network per configuration.
    pub(super) first: &'a [(Configuration, Net)],
    /// The headline CNN configuration.
    pub(super) headline_cnn: Configuration,
    /// The test part.
    pub(super) test: &'a Dataset,
    /// Class names.
    pub(super) classes: &'a [String],
}

/// Draws the five figures into `c.dir()`; returns their file names in order.
pub(super) fn write_figures(c: &ReportConfig, x: &Inputs<'_>) -> Result<Vec<String>, ReportError> {
    let head = |cfg: Configuration| {
        x.runs
            .iter()
            .find(|r| r.config == cfg && r.seed == c.base_seed)
            .expect("first seed run exists")
    };
    // The headline CNN and the two readings of the baseline, in the order of every figure.
    let heads: Vec<(Configuration, &RunRecord)> =
        [x.headline_cnn, Configuration::MlpSgd, Configuration::CnnSgd]
            .into_iter()
            .map(|cfg| (cfg, head(cfg)))
            .collect();
    let cnn_net = &x
        .first
        .iter()
        .find(|(cfg, _)| *cfg == x.headline_cnn)
        .expect("first seed net")
        .1;
    let dir = c.dir();
    let names: Vec<&str> = x.classes.iter().map(String::as_str).collect();
    learning_curves(dir, &heads)?;
    confusion_matrices(dir, &names, &heads)?;
    prediction_grid(dir, &names, cnn_net, x.test)?;
    comparison_bars(dir, &heads, c.base_seed, x.headline_cnn)?;
    ablation_bars(dir, x.configs, x.runs)?;
    Ok([
        "learning_curves.png",
        "confusion_matrices.png",
        "prediction_grid.png",
        "comparison_bars.png",
        "ablation_bars.png",
    ]
    .map(String::from)
    .to_vec())
}

/// Training vs validation loss and accuracy per epoch of the headline models.
fn learning_curves(dir: &Path, heads: &[(Configuration, &RunRecord)]) -> Result<(), ReportError> {
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
    plots::learning_curves(&dir.join("learning_curves.png"), &curves)?;
    Ok(())
}

/// Test-set confusion matrices of the headline models.
fn confusion_matrices(
    dir: &Path,
    names: &[&str],
    heads: &[(Configuration, &RunRecord)],
) -> Result<(), ReportError> {
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
    plots::confusion_matrices(&dir.join("confusion_matrices.png"), names, &matrices)?;
    Ok(())
}

/// Test images ([`grid_indices`]) with actual and predicted class of the headline CNN.
fn prediction_grid(
    dir: &Path,
    names: &[&str],
    cnn_net: &Net,
    test: &Dataset,
) -> Result<(), ReportError> {
    let k = names.len();
    let pick = grid_indices(test);
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
    plots::prediction_grid(&dir.join("prediction_grid.png"), names, &samples, 8)?;
    Ok(())
}

/// Test metrics of the headline models side by side.
fn comparison_bars(
    dir: &Path,
    heads: &[(Configuration, &RunRecord)],
    seed: u64,
    headline_cnn: Configuration,
) -> Result<(), ReportError> {
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
        &dir.join("comparison_bars.png"),
        &format!(
            "Test set, seed {}: {} vs the SGD baselines (two readings)",
            seed,
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
    Ok(())
}

/// Test accuracy per configuration over all seeds.
fn ablation_bars(
    dir: &Path,
    configs: &[Configuration],
    runs: &[RunRecord],
) -> Result<(), ReportError> {
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
        &dir.join("ablation_bars.png"),
        "Test accuracy per configuration (mean ± std over seeds)",
        "test accuracy",
        &seed_runs,
    )?;
    Ok(())
}

/// Test images for the prediction grid: up to 8 per class (rows by class when every class has
/// 8), topped up in test order to 40.
pub(super) fn grid_indices(test: &Dataset) -> Vec<usize> {
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
