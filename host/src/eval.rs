//! Evaluation: batched inference and the classification metrics shared by the float and the
//! (later) integer evaluation paths.

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::model::Net;

/// Errors of metric computation.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum EvalError {
    /// Inputs of different lengths or an out-of-range label.
    #[error("metrics: {0}")]
    Shape(String),
}

/// Index of the largest value (first wins on ties; 0 for an empty slice).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

/// Class probabilities `[n, classes]` (row-major) of every image in `ds`, in batches.
pub fn predict_dataset(net: &Net, ds: &Dataset, batch: usize) -> Vec<f32> {
    let idx: Vec<usize> = (0..ds.len()).collect();
    let mut out = Vec::with_capacity(ds.len() * net.arch.classes());
    for chunk in idx.chunks(batch.max(1)) {
        out.extend(net.predict_proba(ds.batch(chunk)));
    }
    out
}

/// Per-class precision, recall, F1 and support.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// Class name.
    pub class: String,
    /// TP / (TP + FP); 0 when nothing was predicted as this class.
    pub precision: f64,
    /// TP / (TP + FN); 0 when the class has no sample.
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Number of samples of this class.
    pub support: usize,
}

/// Classification metrics (the JSON of `cnnfpga eval --json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Fraction correct.
    pub accuracy: f64,
    /// Unweighted mean of per-class precision.
    pub macro_precision: f64,
    /// Unweighted mean of per-class recall.
    pub macro_recall: f64,
    /// Unweighted mean of per-class F1.
    pub macro_f1: f64,
    /// Mean cross-entropy `-ln p[label]` (`null` when no probabilities were given).
    pub loss: Option<f64>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
    /// Class names.
    pub classes: Vec<String>,
    /// Per-class details.
    pub per_class: Vec<ClassMetrics>,
}

/// Computes [`Metrics`] from labels, predicted classes and (optionally) probabilities
/// `[n, classes]` row-major (used only for the loss).
pub fn compute_metrics(
    labels: &[usize],
    predictions: &[usize],
    probabilities: Option<&[f32]>,
    classes: &[String],
) -> Result<Metrics, EvalError> {
    let k = classes.len();
    let n = labels.len();
    if predictions.len() != n {
        return Err(EvalError::Shape(format!(
            "{n} labels but {} predictions",
            predictions.len()
        )));
    }
    if let Some(p) = probabilities {
        if p.len() != n * k {
            return Err(EvalError::Shape(format!(
                "probabilities have {} values, expected {n} x {k}",
                p.len()
            )));
        }
    }
    let mut confusion = vec![vec![0usize; k]; k];
    for (&y, &p) in labels.iter().zip(predictions) {
        if y >= k || p >= k {
            return Err(EvalError::Shape(format!(
                "label {y} / prediction {p} out of range for {k} classes"
            )));
        }
        confusion[y][p] += 1;
    }
    let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
    let per_class: Vec<ClassMetrics> = (0..k)
        .map(|c| {
            let tp = confusion[c][c] as f64;
            let predicted: usize = (0..k).map(|r| confusion[r][c]).sum();
            let support: usize = confusion[c].iter().sum();
            let precision = if predicted > 0 {
                tp / predicted as f64
            } else {
                0.0
            };
            let recall = if support > 0 {
                tp / support as f64
            } else {
                0.0
            };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassMetrics {
                class: classes[c].clone(),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    let mean = |f: fn(&ClassMetrics) -> f64| {
        if k == 0 {
            0.0
        } else {
            per_class.iter().map(f).sum::<f64>() / k as f64
        }
    };
    let loss = probabilities.map(|p| {
        labels
            .iter()
            .enumerate()
            .map(|(i, &y)| -(p[i * k + y].max(1e-30) as f64).ln())
            .sum::<f64>()
            / n.max(1) as f64
    });
    Ok(Metrics {
        accuracy: if n > 0 {
            correct as f64 / n as f64
        } else {
            0.0
        },
        macro_precision: mean(|c| c.precision),
        macro_recall: mean(|c| c.recall),
        macro_f1: mean(|c| c.f1),
        loss,
        confusion,
        classes: classes.to_vec(),
        per_class,
    })
}

/// Runs `net` over `ds` and computes the metrics.
pub fn evaluate(net: &Net, ds: &Dataset) -> Result<Metrics, EvalError> {
    let probs = predict_dataset(net, ds, 256);
    let k = net.arch.classes();
    let preds: Vec<usize> = probs.chunks_exact(k).map(argmax).collect();
    compute_metrics(&ds.labels, &preds, Some(&probs), &ds.classes)
}

impl Metrics {
    /// Human-readable report: accuracy, loss, per-class table and confusion matrix.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "accuracy  {:.4}", self.accuracy);
        if let Some(l) = self.loss {
            let _ = writeln!(s, "loss      {l:.4}");
        }
        let _ = writeln!(
            s,
            "macro     precision {:.4}  recall {:.4}  f1 {:.4}",
            self.macro_precision, self.macro_recall, self.macro_f1
        );
        let w = self
            .classes
            .iter()
            .map(|c| c.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let _ = writeln!(s, "\n{:w$}  precision  recall     f1  support", "class");
        for c in &self.per_class {
            let _ = writeln!(
                s,
                "{:w$}  {:9.4}  {:6.4}  {:5.4}  {:7}",
                c.class, c.precision, c.recall, c.f1, c.support
            );
        }
        let _ = write!(
            s,
            "\nconfusion (rows = true, columns = predicted)\n{:w$}",
            ""
        );
        for c in &self.classes {
            let _ = write!(s, " {:>w$}", c);
        }
        let _ = writeln!(s);
        for (c, row) in self.classes.iter().zip(&self.confusion) {
            let _ = write!(s, "{:w$}", c);
            for v in row {
                let _ = write!(s, " {v:>w$}");
            }
            let _ = writeln!(s);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        // 3 classes; labels/preds chosen so every quantity is easy to derive by hand.
        let classes: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let labels = [0, 0, 0, 1, 1, 2];
        let preds = [0, 0, 1, 1, 2, 2];
        let m = compute_metrics(&labels, &preds, None, &classes).unwrap();
        assert_eq!(
            m.confusion,
            vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]
        );
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        // a: P = 2/2, R = 2/3; b: P = 1/2, R = 1/2; c: P = 1/2, R = 1.
        let p = [1.0, 0.5, 0.5];
        let r = [2.0 / 3.0, 0.5, 1.0];
        for i in 0..3 {
            assert!((m.per_class[i].precision - p[i]).abs() < 1e-12);
            assert!((m.per_class[i].recall - r[i]).abs() < 1e-12);
            let f = 2.0 * p[i] * r[i] / (p[i] + r[i]);
            assert!((m.per_class[i].f1 - f).abs() < 1e-12);
        }
        assert!((m.macro_precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.macro_recall - (2.0 / 3.0 + 0.5 + 1.0) / 3.0).abs() < 1e-12);
        assert!(m.loss.is_none());
        // Loss from probabilities: -ln(0.5) for each of 2 samples.
        let probs = [0.5f32, 0.5, 0.0, 0.25, 0.5, 0.25];
        let m = compute_metrics(&[0, 1], &[0, 1], Some(&probs), &classes).unwrap();
        assert!((m.loss.unwrap() - std::f64::consts::LN_2).abs() < 1e-6);
        assert!(compute_metrics(&[0], &[0, 1], None, &classes).is_err());
        assert!(compute_metrics(&[3], &[0], None, &classes).is_err());
        let text = m.to_text();
        assert!(text.contains("accuracy  1.0000"));
    }
}
