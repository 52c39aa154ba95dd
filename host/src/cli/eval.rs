//! `cnnfpga eval`.

use std::path::PathBuf;

use anyhow::Context;

use crate::data::load_folder;
use crate::eval::evaluate;
use crate::model::SavedModel;

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

/// Runs `cnnfpga eval`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let m = SavedModel::load(&a.model)
        .with_context(|| format!("loading model {}", a.model.display()))?;
    let (ds, report) =
        load_folder(&a.data).with_context(|| format!("loading {}", a.data.display()))?;
    super::train::report_skipped(&report);
    ds.check_classes(&m.meta.classes)?;
    let metrics = evaluate(&m.net, &ds)?;
    if a.json {
        println!("{}", serde_json::to_string(&metrics)?);
    } else {
        println!(
            "model {} on {} ({} images)",
            a.model.display(),
            a.data.display(),
            ds.len()
        );
        print!("{}", metrics.to_text());
    }
    Ok(())
}
