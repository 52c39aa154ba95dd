//! `cnnfpga predict`.

use std::path::PathBuf;

use anyhow::Context;

use crate::data::{load_image, pixels_to_batch};
use crate::eval::argmax;
use crate::layers::softmax_rows;
use crate::model::SavedModel;
use crate::qmodel::{is_quantised_dir, IntModel};

/// Arguments of `cnnfpga predict`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory: a float model (`model.json`), or a quantised one (`model.blob`, from
    /// `cnnfpga quantize`: run on the integer path as `cnnfpga eval` does).
    #[arg(long)]
    pub model: PathBuf,
    /// Image files.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

fn print_line(path: &std::path::Path, classes: &[String], best: usize, probs: &[f32]) {
    let all: Vec<String> = classes
        .iter()
        .zip(probs)
        .map(|(c, p)| format!("{c}={p:.4}"))
        .collect();
    println!("{}\t{}\t{}", path.display(), classes[best], all.join(" "));
}

/// Runs `cnnfpga predict`: one line per image, `path<TAB>class<TAB>name=p ...`. A quantised
/// directory runs the firmware crate's integer runner; its class is the runner's (first
/// maximum logit) and the probabilities are the softmax of the logits dequantised with the
/// blob's `logit_scale`.
pub fn run(a: Args) -> anyhow::Result<()> {
    if is_quantised_dir(&a.model) {
        let m = IntModel::load(&a.model)?;
        let scale = m.logit_scale();
        for path in &a.images {
            let px = crate::simrun::load_input(path, &m.model())?;
            let out = m.run_all(std::slice::from_ref(&px))?;
            let o = &out[0];
            let real: Vec<f32> = o.logits.iter().map(|&l| l as f32 * scale).collect();
            let probs = softmax_rows(&real, m.classes().len());
            print_line(path, m.classes(), o.class, &probs);
        }
        return Ok(());
    }
    let m = SavedModel::load(&a.model)
        .with_context(|| format!("loading model {}", a.model.display()))?;
    let k = m.meta.classes.len();
    for path in &a.images {
        let px = load_image(path)?;
        let probs = m
            .net
            .predict_proba(pixels_to_batch(std::iter::once(px.as_slice())));
        print_line(path, &m.meta.classes, argmax(&probs[..k]), &probs);
    }
    Ok(())
}
