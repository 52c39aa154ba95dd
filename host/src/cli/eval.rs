//! `cnnfpga eval`.

use std::path::PathBuf;

use anyhow::Context;

use crate::data::load_folder;
use crate::eval::evaluate;
use crate::eval::Metrics;
use crate::model::SavedModel;
use crate::qmodel::{evaluate_int, is_quantised_dir, IntModel};

/// Arguments of `cnnfpga eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Data folder (class names must equal the model's).
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
}

/// Runs `cnnfpga eval`. A directory holding `model.blob` (from `cnnfpga quantize`) is
/// evaluated on the integer path: the firmware crate's runner over the blob, logits dequantised
/// with the blob's `logit_scale` for the softmax and the loss; the JSON keys are the same.
pub fn run(a: Args) -> anyhow::Result<()> {
    if is_quantised_dir(&a.model) {
        return run_int(a);
    }
    let m = SavedModel::load(&a.model)
        .with_context(|| format!("loading model {}", a.model.display()))?;
    let (ds, report) =
        load_folder(&a.data).with_context(|| format!("loading {}", a.data.display()))?;
    super::train::report_skipped(&report);
    ds.check_classes(&m.meta.classes)?;
    let metrics = evaluate(&m.net, &ds)?;
    print_metrics(&a, &metrics, ds.len(), "")
}

fn run_int(a: Args) -> anyhow::Result<()> {
    let m = IntModel::load(&a.model)?;
    let (ds, report) =
        load_folder(&a.data).with_context(|| format!("loading {}", a.data.display()))?;
    super::train::report_skipped(&report);
    ds.check_classes(m.classes())?;
    let (metrics, _) = evaluate_int(&m, &ds)?;
    print_metrics(&a, &metrics, ds.len(), " (integer: firmware runner)")
}

fn print_metrics(a: &Args, metrics: &Metrics, n: usize, path: &str) -> anyhow::Result<()> {
    if a.json {
        println!("{}", serde_json::to_string(&metrics)?);
    } else {
        println!(
            "model {}{path} on {} ({n} images)",
            a.model.display(),
            a.data.display(),
        );
        print!("{}", metrics.to_text());
    }
    Ok(())
}
