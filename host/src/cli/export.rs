//! `cnnfpga export`: a quantised model directory -> blob, `$readmemh` images, golden vectors.

use std::path::PathBuf;

use anyhow::Context;

use crate::data::load_folder;
use crate::outdir::{Input, OutDir, Producer};
use crate::qmodel::export::export_files;
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
    /// Replace an existing --out even if it is not a previous `export` output (never an input).
    #[arg(long)]
    pub force: bool,
}

/// Runs `cnnfpga export`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let n = a.vectors.unwrap_or(usize::MAX);
    let mut inputs = vec![
        // The golden vectors ship inside the model directory (models/*/golden).
        Input::allow_inside("--model", &a.model),
    ];
    if n > 0 {
        inputs.push(Input::new("--data", &a.data));
    }
    let out = OutDir::prepare(&a.out, Producer::Export, &inputs, a.force)?;
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
    let files = export_files(
        &m,
        meta.as_ref(),
        ds.as_ref().map(|d| (d, a.data.as_path(), n)),
    )?;
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    out.write_files(&refs)?;
    for (name, bytes) in &files {
        println!("{:>10} B  {}", bytes.len(), a.out.join(name).display());
    }
    Ok(())
}
