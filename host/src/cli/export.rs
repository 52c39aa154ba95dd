//! `cnnfpga export`: a quantised model directory -> blob, `$readmemh` images, golden vectors;
//! with `--onnx FILE`, a float model directory -> ONNX (see docs/interop.md).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::data::load_folder;
use crate::model::SavedModel;
use crate::outdir::{Input, OutDir, Producer};
use crate::qmodel::export::export_files;
use crate::qmodel::{is_quantised_dir, IntModel, QuantMeta, QUANT_FILE};

/// Arguments of `cnnfpga export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Quantised model directory (from `cnnfpga quantize`; needs `model.blob`), or with
    /// `--onnx` a float model directory (from `cnnfpga train` or `cnnfpga import`).
    #[arg(long)]
    pub model: PathBuf,
    /// Output directory (replaced atomically).
    #[arg(long, required_unless_present = "onnx")]
    pub out: Option<PathBuf>,
    /// Write the float model as ONNX to this file instead (opset 17, input `input` NCHW
    /// [N, 3, 64, 64] = pixel / 255, output `logits`; class names in metadata `cnnfpga.classes`).
    /// An existing file is replaced only if cnnfpga wrote it.
    #[arg(long, conflicts_with_all = ["out", "vectors"])]
    pub onnx: Option<PathBuf>,
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
    if let Some(path) = &a.onnx {
        return run_onnx(&a.model, path);
    }
    let out_path = a
        .out
        .clone()
        .expect("clap: --out is required without --onnx");
    let n = a.vectors.unwrap_or(usize::MAX);
    let mut inputs = vec![
        // The golden vectors ship inside the model directory (models/*/golden).
        Input::allow_inside("--model", &a.model),
    ];
    if n > 0 {
        inputs.push(Input::new("--data", &a.data));
    }
    let out = OutDir::prepare(&out_path, Producer::Export, &inputs, a.force)?;
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
        println!("{:>10} B  {}", bytes.len(), out_path.join(name).display());
    }
    Ok(())
}

/// `cnnfpga export --model FLOAT --onnx FILE`.
fn run_onnx(model: &Path, path: &Path) -> anyhow::Result<()> {
    if is_quantised_dir(model) {
        anyhow::bail!(
            "{} is a quantised model; --onnx exports float models (the directory given to \
             `cnnfpga quantize --model`)",
            model.display()
        );
    }
    let m =
        SavedModel::load(model).with_context(|| format!("loading model {}", model.display()))?;
    if path.exists() && !crate::onnx::import::is_our_export(path) {
        return Err(crate::onnx::OnnxError::Overwrite {
            path: path.to_path_buf(),
            why: "it exists and was not written by `cnnfpga export --onnx`".into(),
        }
        .into());
    }
    let opts = crate::onnx::ExportOptions {
        doc: format!(
            "exported from {} (weights sha256 {})",
            model.display(),
            m.meta.weights_sha256
        ),
    };
    let bytes = crate::onnx::export_model(&m.net, &m.meta.classes, &opts)?;
    crate::onnx::write_file_atomic(path, &bytes)?;
    println!(
        "{:>10} B  {} (ONNX opset {}, input NCHW [N, 3, 64, 64] = pixel / 255, output logits; classes {})",
        bytes.len(),
        path.display(),
        crate::onnx::EXPORT_OPSET,
        m.meta.classes.join(",")
    );
    Ok(())
}
