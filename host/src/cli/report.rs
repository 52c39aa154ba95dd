//! `cnnfpga report`: the paper's comparison end to end (see [`crate::report`]).

use std::path::PathBuf;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::outdir::{Input, OutDir, Producer};
use crate::report::{run as run_report, Observer, ReportConfig};
use crate::train::{EpochStats, Progress};

/// Arguments of `cnnfpga report`. Defaults are the paper's settings.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data folder: one sub-folder per class.
    #[arg(long)]
    pub data: PathBuf,
    /// Output directory (report.md, metrics.json, PNGs, models/, pretrained/).
    #[arg(long)]
    pub out: PathBuf,
    /// Separate test folder (same classes); default: a held-out part of --data.
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// Pretraining folder (any classes): adds the fine-tuned CNN configuration.
    #[arg(long)]
    pub pretrain: Option<PathBuf>,
    /// Runs per configuration (default 3; 1 with --quick).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// First seed (also the seed of the test split).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Fraction of each class held out for testing (without --test).
    #[arg(long, default_value_t = 0.2)]
    pub test_split: f64,
    /// Fraction of each class of the rest used for validation (early stopping).
    #[arg(long, default_value_t = 0.2)]
    pub val_split: f64,
    /// Maximum epochs per run (default 150; 3 with --quick).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Early-stopping patience (default 15; 0 = off).
    #[arg(long)]
    pub patience: Option<usize>,
    /// Maximum pretraining epochs (default 80; 2 with --quick).
    #[arg(long)]
    pub pretrain_epochs: Option<usize>,
    /// Mini-batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// CNN Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub cnn_lr: f32,
    /// CNN hidden dense units.
    #[arg(long, default_value_t = 64)]
    pub cnn_hidden: usize,
    /// CNN dropout after the hidden dense layer.
    #[arg(long, default_value_t = 0.25)]
    pub dropout: f32,
    /// With augmentation: N >= 1 = each original plus N augmented copies per epoch.
    #[arg(long, default_value_t = 0)]
    pub augment_factor: usize,
    /// MLP SGD learning rate.
    #[arg(long, default_value_t = 0.1)]
    pub mlp_lr: f32,
    /// CNN-SGD baseline (the paper CNN with plain SGD) learning rate.
    #[arg(long, default_value_t = 0.1)]
    pub cnn_sgd_lr: f32,
    /// MLP hidden units.
    #[arg(long, default_value_t = 64)]
    pub mlp_hidden: usize,
    /// CI-sized run: 3 epochs, 1 seed, 2 pretraining epochs (explicit options win).
    #[arg(long)]
    pub quick: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
    /// Write into an existing --out even if it is not a previous `report` output (never an
    /// input).
    #[arg(long)]
    pub force: bool,
}

struct Bars {
    quiet: bool,
    multi: MultiProgress,
    overall: Option<ProgressBar>,
    epoch_bar: Option<ProgressBar>,
    max_epochs: usize,
}

impl Progress for Bars {
    fn epoch_start(&mut self, epoch: usize, batches: usize) {
        if self.quiet {
            return;
        }
        let pb = self.multi.add(ProgressBar::new(batches as u64));
        pb.set_style(
            ProgressStyle::with_template("  epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
                .unwrap()
                .progress_chars("=> "),
        );
        pb.set_prefix(format!("{epoch}/{}", self.max_epochs));
        self.epoch_bar = Some(pb);
    }
    fn batch(&mut self, loss: f32, accuracy: f32) {
        if let Some(pb) = &self.epoch_bar {
            pb.set_message(format!("loss {loss:.3} acc {accuracy:.3}"));
            pb.inc(1);
        }
    }
    fn epoch_end(&mut self, s: &EpochStats, is_best: bool) {
        if let Some(pb) = self.epoch_bar.take() {
            pb.finish_and_clear();
            self.multi.remove(&pb);
        }
        if let Some(o) = &self.overall {
            o.set_message(format!(
                "epoch {}: val loss {:.3} acc {:.3}{}",
                s.epoch,
                s.val_loss,
                s.val_accuracy,
                if is_best { " *" } else { "" }
            ));
        }
    }
}

impl Observer for Bars {
    fn run_start(&mut self, label: &str, index: usize, total: usize, max_epochs: usize) {
        self.max_epochs = max_epochs;
        if self.quiet {
            return;
        }
        let o = self.overall.get_or_insert_with(|| {
            let pb = self.multi.add(ProgressBar::new(total as u64));
            pb.set_style(
                ProgressStyle::with_template("run {pos}/{len} [{elapsed_precise}] {prefix}: {msg}")
                    .unwrap(),
            );
            pb
        });
        o.set_position(index as u64);
        o.set_prefix(label.to_string());
        o.set_message("starting");
    }
    fn progress(&mut self) -> &mut dyn Progress {
        self
    }
    fn run_end(&mut self, line: &str) {
        if let Some(o) = &self.overall {
            o.inc(1);
        }
        self.note(line);
    }
    fn note(&mut self, msg: &str) {
        if self.quiet {
            return;
        }
        // indicatif hides its bars (and println) when stderr is not a terminal: print plainly
        // then, so a log file still gets one line per run.
        if self.multi.is_hidden() {
            eprintln!("{msg}");
        } else {
            let _ = self.multi.println(msg);
        }
    }
}

/// Runs `cnnfpga report`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let mut inputs = vec![Input::new("--data", &a.data)];
    inputs.extend(a.test.as_deref().map(|p| Input::new("--test", p)));
    inputs.extend(a.pretrain.as_deref().map(|p| Input::new("--pretrain", p)));
    let out = OutDir::prepare(&a.out, Producer::Report, &inputs, a.force)?;
    // Written into a sibling staging directory, renamed over --out when complete. The
    // pretraining cache of a previous report is carried over (reused if its settings match).
    let staging = out.stage()?;
    let old_cache = a.out.join("pretrained");
    if let Ok(m) = crate::model::SavedModel::load(&old_cache) {
        crate::model::SavedModel::save(&m.net, m.meta, &staging.path().join("pretrained"))?;
    }
    let mut c = ReportConfig::paper(a.data, a.out);
    c.write_dir = Some(staging.path().to_path_buf());
    c.test = a.test;
    c.pretrain = a.pretrain;
    c.seeds = a.seeds.unwrap_or(if a.quick { 1 } else { 3 });
    c.base_seed = a.seed;
    c.test_split = a.test_split;
    c.val_split = a.val_split;
    c.epochs = a.epochs.unwrap_or(if a.quick { 3 } else { c.epochs });
    c.patience = a.patience.unwrap_or(c.patience);
    c.pretrain_epochs = a
        .pretrain_epochs
        .unwrap_or(if a.quick { 2 } else { c.pretrain_epochs });
    c.batch = a.batch;
    c.cnn_lr = a.cnn_lr;
    c.cnn_hidden = a.cnn_hidden;
    c.dropout = a.dropout;
    c.augment_factor = a.augment_factor;
    c.mlp_lr = a.mlp_lr;
    c.cnn_sgd_lr = a.cnn_sgd_lr;
    c.mlp_hidden = a.mlp_hidden;
    c.command = std::iter::once("cnnfpga".to_string())
        .chain(std::env::args().skip(1))
        .map(|s| {
            if s.is_empty() || s.contains(|ch: char| ch.is_whitespace() || ch == '\'') {
                format!("'{}'", s.replace('\'', r"'\''"))
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut bars = Bars {
        quiet: a.quiet,
        multi: MultiProgress::new(),
        overall: None,
        epoch_bar: None,
        max_epochs: 0,
    };
    let r = run_report(&c, &mut bars)?;
    staging.commit()?;
    if let Some(o) = bars.overall.take() {
        o.finish_and_clear();
    }
    let get = |cfg| r.summary.iter().find(|s| s.config == cfg);
    for s in &r.summary {
        println!(
            "{:18} test accuracy {:.4} ± {:.4}  macro F1 {:.4} ± {:.4}  (n = {})",
            s.label, s.accuracy.mean, s.accuracy.std, s.macro_f1.mean, s.macro_f1.std, s.accuracy.n
        );
    }
    if let Some(h) = get(r.headline_cnn) {
        println!("headline CNN: {}", h.label);
    }
    println!(
        "wrote {} ({:.0} s)",
        c.out.join("report.md").display(),
        r.wall_seconds
    );
    Ok(())
}
