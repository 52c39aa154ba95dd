//! `cnnfpga predict`.

use std::path::PathBuf;

use anyhow::Context;

use crate::data::{load_image, pixels_to_batch};
use crate::eval::argmax;
use crate::model::SavedModel;

/// Arguments of `cnnfpga predict`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Image files.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

/// Runs `cnnfpga predict`: one line per image, `path<TAB>class<TAB>name=p ...`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let m = SavedModel::load(&a.model)
        .with_context(|| format!("loading model {}", a.model.display()))?;
    let k = m.meta.classes.len();
    for path in &a.images {
        let px = load_image(path)?;
        let probs = m
            .net
            .predict_proba(pixels_to_batch(std::iter::once(px.as_slice())));
        let best = argmax(&probs[..k]);
        let all: Vec<String> = m
            .meta
            .classes
            .iter()
            .zip(&probs)
            .map(|(c, p)| format!("{c}={p:.4}"))
            .collect();
        println!(
            "{}\t{}\t{}",
            path.display(),
            m.meta.classes[best],
            all.join(" ")
        );
    }
    Ok(())
}
