//! `cnnfpga export`: a quantised model directory -> blob, `$readmemh` images, golden vectors.

use std::path::PathBuf;

use anyhow::Context;

use crate::data::load_folder;
use crate::qmodel::export::export;
use crate::qmodel::{IntModel, QuantMeta, QUANT_FILE};

/// Arguments of `cnnfpga export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Quantised model directory (from `cnnfpga quantize`; needs `model.blob`).
    #[arg(long)]
    pub model: PathBuf,
    /// Output directory (replaced atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Golden vectors: images taken round-robin over the classes (first of each class, then
    /// the second...). Default: one per class. 0 = none.
    #[arg(long)]
    pub vectors: Option<usize>,
    /// Data folder the vectors come from.
    #[arg(long, default_value = "data/sample")]
    pub data: PathBuf,
}

/// Runs `cnnfpga export`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let m = IntModel::load(&a.model)?;
    let meta = if a.model.join(QUANT_FILE).is_file() {
        Some(QuantMeta::load(&a.model)?)
    } else {
        None
    };
    let n = a.vectors.unwrap_or(m.classes().len());
    let ds = if n > 0 {
        let (ds, report) =
            load_folder(&a.data).with_context(|| format!("loading {}", a.data.display()))?;
        super::train::report_skipped(&report);
        ds.check_classes(m.classes())?;
        Some(ds)
    } else {
        None
    };
    let files = export(
        &m,
        meta.as_ref(),
        ds.as_ref().map(|d| (d, a.data.as_path(), n)),
        &a.out,
    )?;
    for (name, bytes) in &files {
        println!("{:>10} B  {}", bytes, a.out.join(name).display());
    }
    Ok(())
}
