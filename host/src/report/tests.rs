//! Unit tests of the report's pieces (the whole run is tested in `host/tests/report.rs`).

use std::path::PathBuf;

use super::config::{Configuration, ReportConfig};
use super::figures::grid_indices;
use super::stats::{paired, summarise, RunRecord};
use super::ReportError;
use crate::data::{Dataset, IMAGE_SIZE};

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
