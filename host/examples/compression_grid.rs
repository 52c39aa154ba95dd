//! Accuracy against compression over a sparsity x bit-width grid of the quantisation pipeline
//! (the "Compression" section of `docs/results.md`).
//!
//! Pruning depends only on the sparsity, so each sparsity is pruned (and fine-tuned) once and
//! every bit width starts INQ from that pruned model. Each point is then exactly what
//! `cnnfpga quantize --sparsity S --pow2-bits B` with the same epochs would build, evaluated
//! with the firmware runner on the float training's validation split.
//!
//! ```sh
//! cargo run --release -p host --example compression_grid -- \
//!     --model models/animals5-cnn --data $ANIMALS5 \
//!     --sparsities 0.8,0.9,0.95,0.97 --bits 3,4,5 \
//!     --json docs/img/compression.json --png docs/img/compression.png
//! ```

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use host::data::load_folder;
use host::eval::{argmax, evaluate, predict_dataset};
use host::model::SavedModel;
use host::plots::{accuracy_vs_compression, CompressionPoint};
use host::qmodel::pipeline::{
    finish, inq, plan_layers, prune, spread, FineTuneData, QuantizeConfig,
};
use host::qmodel::{agreement, evaluate_int, IntModel};
use host::train::NoProgress;
use serde::Serialize;

#[derive(Parser)]
struct Args {
    /// Float model directory.
    #[arg(long)]
    model: PathBuf,
    /// Data folder (split as recorded in the model's model.json).
    #[arg(long)]
    data: PathBuf,
    /// Sparsities of the P layer.
    #[arg(long, value_delimiter = ',', default_value = "0.8,0.9,0.95,0.97")]
    sparsities: Vec<f64>,
    /// P-layer code widths.
    #[arg(long, value_delimiter = ',', default_value = "3,4,5")]
    bits: Vec<u8>,
    /// Fine-tuning epochs per pruning / INQ step.
    #[arg(long, default_value_t = 1)]
    epochs_per_step: usize,
    /// Final fine-tuning epochs.
    #[arg(long, default_value_t = 3)]
    finetune_epochs: usize,
    /// Output JSON with every point.
    #[arg(long)]
    json: PathBuf,
    /// Output PNG.
    #[arg(long)]
    png: PathBuf,
    /// rayon threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

#[derive(Serialize)]
struct Point {
    /// Target sparsity of the pruning.
    sparsity: f64,
    /// Zeros of the P layer after INQ (one level rounds small survivors to 0 as well).
    p_sparsity: f64,
    bits: u8,
    levels: u8,
    blob_bytes: usize,
    ratio: f64,
    accuracy: f64,
    macro_f1: f64,
    finetuned_accuracy: f64,
    agreement_float: f64,
    seconds: f64,
}

#[derive(Serialize)]
struct Grid {
    model: String,
    split: String,
    float_accuracy: f64,
    float_macro_f1: f64,
    float_bytes: usize,
    epochs_per_step: usize,
    finetune_epochs: usize,
    points: Vec<Point>,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build_global()?;
    let src = SavedModel::load(&a.model).context("loading the float model")?;
    let tc = &src.meta.train_config;
    let val_split = tc.get("val_split").and_then(|v| v.as_f64()).unwrap_or(0.2);
    let seed = tc.get("seed").and_then(|v| v.as_u64()).unwrap_or(42);
    let (ds, _) = load_folder(&a.data)?;
    ds.check_classes(&src.meta.classes)?;
    let (train_set, val_set) = ds.split_stratified(val_split, seed)?;
    let float = evaluate(&src.net, &val_set)?;
    let k = ds.classes.len();
    let float_pred: Vec<usize> = predict_dataset(&src.net, &val_set, 256)
        .chunks_exact(k)
        .map(argmax)
        .collect();
    let plan = plan_layers(&src.net.arch, &[], &[])?;
    let calib: Vec<&[u8]> = spread(train_set.len(), 200)
        .into_iter()
        .map(|i| train_set.images[i].as_slice())
        .collect();
    let mut points = Vec::new();
    for &s in &a.sparsities {
        let t0 = std::time::Instant::now();
        let base = QuantizeConfig {
            sparsity: s,
            epochs_per_step: a.epochs_per_step,
            finetune_epochs: a.finetune_epochs,
            seed,
            ..QuantizeConfig::default()
        };
        let mut pruned = src.net.clone();
        let data = FineTuneData {
            train: &train_set,
            val: &val_set,
            source: &src.net,
        };
        let (live, _) = prune(&mut pruned, &plan, data, &base, &mut NoProgress)?;
        let prune_secs = t0.elapsed().as_secs_f64();
        for &b in &a.bits {
            let t1 = std::time::Instant::now();
            let cfg = QuantizeConfig {
                bits: b,
                ..base.clone()
            };
            let mut net = pruned.clone();
            let (grids, _) = inq(&mut net, &plan, &live, data, &cfg, &mut NoProgress)?;
            let d = finish(&net, &plan, &grids, &calib, &ds.classes, &cfg)?;
            let im = IntModel::from_blob(d.blob.clone(), "grid point")?;
            let (m, outs) = evaluate_int(&im, &val_set)?;
            let fine = evaluate(&net, &val_set)?;
            let ip: Vec<usize> = outs.iter().map(|o| o.class).collect();
            let p_sparsity = d
                .layers
                .iter()
                .find(|l| l.scheme == "P")
                .map_or(0.0, |l| l.sparsity);
            let p = Point {
                sparsity: s,
                p_sparsity,
                bits: b,
                levels: grids.values().next().map_or(0, |g| g.levels),
                blob_bytes: d.blob.len(),
                ratio: d.compression.ratio,
                accuracy: m.accuracy,
                macro_f1: m.macro_f1,
                finetuned_accuracy: fine.accuracy,
                agreement_float: agreement(&ip, &float_pred),
                seconds: prune_secs / a.bits.len() as f64 + t1.elapsed().as_secs_f64(),
            };
            eprintln!(
                "sparsity {s:.2} ({:.4}) bits {b}: {:.2}x ({} B), int acc {:.4} (float {:.4}), F1 {:.4}, agreement {:.3}, {:.0}s",
                p.p_sparsity, p.ratio, p.blob_bytes, p.accuracy, float.accuracy, p.macro_f1, p.agreement_float, p.seconds
            );
            points.push(p);
        }
    }
    let grid = Grid {
        model: a.model.display().to_string(),
        split: format!(
            "validation split (val_split {val_split}, seed {seed}) of {}: {} images",
            a.data.display(),
            val_set.len()
        ),
        float_accuracy: float.accuracy,
        float_macro_f1: float.macro_f1,
        float_bytes: 4 * src.net.num_params(),
        epochs_per_step: a.epochs_per_step,
        finetune_epochs: a.finetune_epochs,
        points,
    };
    if let Some(dir) = a.json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&a.json, serde_json::to_string_pretty(&grid)? + "\n")?;
    let pts: Vec<CompressionPoint> = grid
        .points
        .iter()
        .map(|p| CompressionPoint {
            bits: u32::from(p.bits),
            sparsity: p.p_sparsity,
            ratio: p.ratio,
            accuracy: p.accuracy,
        })
        .collect();
    accuracy_vs_compression(
        &a.png,
        "paper CNN on animals5: integer accuracy vs compression (P layer 3380x64)",
        grid.float_accuracy,
        &pts,
    )?;
    println!("| target sparsity | P-layer zeros | bits | levels | blob B | compression | int accuracy | Δ vs float | macro F1 | agreement |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for p in &grid.points {
        println!(
            "| {:.2} | {:.4} | {} | {} | {} | {:.1}x | {:.3} | {:+.1} | {:.3} | {:.3} |",
            p.sparsity,
            p.p_sparsity,
            p.bits,
            p.levels,
            p.blob_bytes,
            p.ratio,
            p.accuracy,
            100.0 * (p.accuracy - grid.float_accuracy),
            p.macro_f1,
            p.agreement_float
        );
    }
    Ok(())
}
