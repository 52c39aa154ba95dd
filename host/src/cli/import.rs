//! `cnnfpga import`: an ONNX model trained elsewhere -> a cnnfpga float model directory that
//! `eval`, `quantize`, `export`, `sim` and `fpga build` take unchanged (see docs/interop.md).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::model::{ModelMeta, Normalization, SavedModel, META_FILE};
use crate::onnx::{import_file, OnnxError};

/// Value of `train_config.source` in the `model.json` of an imported model.
pub const IMPORT_SOURCE: &str = "onnx-import";

/// Arguments of `cnnfpga import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ONNX model (NCHW float input [N, 3, 64, 64] = pixel / 255; external data is read
    /// relative to its folder).
    #[arg(long)]
    pub onnx: PathBuf,
    /// Output model directory (written atomically; an existing directory is replaced only if it
    /// is empty or an earlier `cnnfpga import` output).
    #[arg(long)]
    pub out: PathBuf,
    /// Class names, comma-separated, index = logit (default: the model's `cnnfpga.classes`
    /// metadata). Sorted folder names for `--data` trees: `cnnfpga eval` checks they match.
    #[arg(long, value_delimiter = ',')]
    pub classes: Option<Vec<String>>,
}

/// Whether `dir` may be replaced: absent, empty, or written by `cnnfpga import`.
fn check_replaceable(dir: &Path) -> Result<(), OnnxError> {
    if !dir.exists() {
        return Ok(());
    }
    let refuse = |why: &str| OnnxError::Overwrite {
        path: dir.to_path_buf(),
        why: why.into(),
    };
    if !dir.is_dir() {
        return Err(refuse("it is not a directory"));
    }
    let empty = std::fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if empty {
        return Ok(());
    }
    let ours = std::fs::read(dir.join(META_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v["train_config"]["source"] == IMPORT_SOURCE);
    if ours {
        Ok(())
    } else {
        Err(refuse(
            "it is not empty and not the output of an earlier `cnnfpga import` (choose another --out)",
        ))
    }
}

/// Runs `cnnfpga import`.
pub fn run(a: Args) -> anyhow::Result<()> {
    // replacing --out must never delete the model being imported
    crate::outdir::check_out_dir_inputs(&a.out, &[crate::outdir::Input::new("--onnx", &a.onnx)])?;
    check_replaceable(&a.out)?;
    let imp = import_file(&a.onnx).with_context(|| format!("importing {}", a.onnx.display()))?;
    let n = imp.net.arch.classes();
    let classes = match (a.classes, imp.classes) {
        (Some(c), _) => c,
        (None, Some(c)) => c,
        (None, None) => bail!(
            "{} has no `cnnfpga.classes` metadata: give the {n} class names with --classes a,b,c \
             (index = logit; the sorted folder names of your --data tree)",
            a.onnx.display()
        ),
    };
    if classes.len() != n {
        bail!(
            "{} class names ({}) for a classifier with {n} outputs",
            classes.len(),
            classes.join(",")
        );
    }
    if classes.iter().any(|c| c.trim().is_empty()) {
        bail!("empty class name in {classes:?}");
    }
    let onnx_bytes =
        std::fs::read(&a.onnx).with_context(|| format!("reading {}", a.onnx.display()))?;
    let meta = ModelMeta {
        format: String::new(),
        format_version: 0,
        arch: imp.net.arch.clone(),
        classes,
        normalization: Normalization::default(),
        num_params: 0,
        weights_file: String::new(),
        weights_sha256: String::new(),
        train_config: serde_json::json!({
            "source": IMPORT_SOURCE,
            "onnx_file": a.onnx.file_name().map(|f| f.to_string_lossy().into_owned()),
            "onnx_sha256": crate::model::sha256_hex(&onnx_bytes),
            "producer": imp.producer,
            "opset": imp.opset,
            "dropped": imp.dropped,
        }),
        history: Vec::new(),
        best_epoch: None,
        final_metrics: serde_json::Value::Null,
    };
    SavedModel::save(&imp.net, meta, &a.out)?;
    println!(
        "imported {} (opset {}, {}) -> {}: {} layers, {} parameters",
        a.onnx.display(),
        imp.opset,
        if imp.producer.is_empty() {
            "unknown producer"
        } else {
            &imp.producer
        },
        a.out.display(),
        imp.net.arch.layers.len(),
        imp.net.num_params()
    );
    for d in &imp.dropped {
        println!("  dropped (identity at inference): {d}");
    }
    println!(
        "next: cnnfpga eval --model {0} --data DIR; cnnfpga quantize --model {0} --data DIR --out Q",
        a.out.display()
    );
    Ok(())
}
