//! `cnnfpga bench ...`.

use std::path::PathBuf;

use anyhow::Context;

use crate::bench::bench_train;
use crate::data::load_folder;
use crate::model::Arch;
use crate::optim::OptimConfig;

/// Benchmark subcommands (`bench soc` / `bench rtl` go here too).
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Training images/second of paper-cnn (Adam) and mlp (SGD).
    Train(TrainArgs),
}

/// Arguments of `cnnfpga bench train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Data folder (images are cycled through; no augmentation).
    #[arg(long)]
    pub data: PathBuf,
    /// Batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Timed steps per architecture.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Only this architecture (paper-cnn or mlp).
    #[arg(long)]
    pub arch: Option<String>,
    /// Also time the on-the-fly augmentation alone.
    #[arg(long)]
    pub augment: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs a benchmark subcommand.
pub fn run(c: BenchCommand) -> anyhow::Result<()> {
    match c {
        BenchCommand::Train(a) => run_train(a),
    }
}

fn run_train(a: TrainArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.batch > 0 && a.steps > 0,
        "--batch and --steps must be > 0"
    );
    let (ds, _) = load_folder(&a.data).with_context(|| format!("loading {}", a.data.display()))?;
    let k = ds.classes.len();
    let archs: Vec<(Arch, OptimConfig)> = [
        (
            "paper-cnn",
            Arch::paper_cnn(k, 64, 0.5),
            OptimConfig::adam(1e-3),
        ),
        ("mlp", Arch::mlp(k, 64), OptimConfig::sgd(0.1, 0.0)),
    ]
    .into_iter()
    .filter(|(n, _, _)| a.arch.as_deref().is_none_or(|x| x == *n))
    .map(|(_, arch, o)| (arch, o))
    .collect();
    anyhow::ensure!(!archs.is_empty(), "unknown --arch (paper-cnn or mlp)");
    let mut results = Vec::new();
    for (arch, optim) in archs {
        let r = bench_train(arch, optim, &ds, a.batch, a.steps)?;
        if !a.json {
            let per_cpu = r
                .cpu_seconds
                .map(|c| format!(", {:.1} images/CPU-s", (r.batch * r.steps) as f64 / c))
                .unwrap_or_default();
            println!(
                "{:10} batch {:4}  {:8.1} images/s  {:7.2} ms/step  ({} threads, {} steps{per_cpu})",
                r.arch, r.batch, r.images_per_second, r.ms_per_step, r.threads, r.steps
            );
        }
        results.push(r);
    }
    let augment = a
        .augment
        .then(|| crate::bench::bench_augment(&ds, a.batch, a.steps));
    if let (Some(r), false) = (augment, a.json) {
        println!("augment    batch {:4}  {:8.1} images/s", a.batch, r);
    }
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "train": results, "augment_images_per_second": augment })
        );
    }
    Ok(())
}
