//! `report.md`: the Markdown report of a [`Report`], section by section (Table 2 with the
//! per-class table, the ablation, the shortcut check, the settings, the data, the figures and
//! every run).

use std::fmt::Write as _;

use super::config::arch;
use super::stats::{paired_label, paired_row};
use super::{ConfigSummary, Configuration, MeanStd, Report, ReportConfig, RunRecord};
use crate::eval::Metrics;
use crate::model::Net;
use crate::rng::Rng;

/// The Markdown report.
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    intro(&mut s, r);
    table2(&mut s, r);
    ablation(&mut s, r);
    shortcut(&mut s, r);
    settings(&mut s, r);
    settings_notes(&mut s, r);
    data(&mut s, r);
    figures(&mut s);
    all_runs(&mut s, r);
    s
}

/// Title, data line and the command that reproduces the report.
fn intro(s: &mut String, r: &Report) {
    let c = &r.settings;
    let k = r.classes.len();
    let _ = writeln!(
        s,
        "# cnnfpga report: paper CNN (Adam) vs the back-propagation baselines (MLP-SGD, CNN-SGD)\n"
    );
    let _ = writeln!(
        s,
        "Data `{}`, {} classes ({}); {} runs, total wall time {:.0} s.\n",
        c.data.display(),
        k,
        r.classes.join(", "),
        r.runs.len() + usize::from(r.pretrain.as_ref().is_some_and(|p| p["cached"] == false)),
        r.wall_seconds
    );
    let _ = writeln!(s, "## Reproduce\n\n```sh\ncargo build --release -p host");
    let _ = writeln!(
        s,
        "{}\n```\n",
        if c.command.is_empty() {
            "cnnfpga report ..."
        } else {
            &c.command
        }
    );
}

/// Table 2: the headline models on the test set, mean ± std over seeds, the paired gaps to
/// both baselines and the per-class table.
fn table2(s: &mut String, r: &Report) {
    let c = &r.settings;
    let head = |cfg: Configuration| {
        r.runs
            .iter()
            .find(|x| x.config == cfg && x.seed == r.headline_seed)
    };
    let sum = |cfg: Configuration| r.summary.iter().find(|x| x.config == cfg);
    // Table 2.
    let _ = writeln!(
        s,
        "## Table 2 (test set)\n\nHeadline models: **{}** (the Adam CNN configuration with the best \
         mean validation accuracy) and both readings of the paper's back-propagation baseline, \
         **{}** (a separate MLP) and **{}** (the same CNN, only the optimizer changed), seed {} \
         (the first seed; not picked on test results). Mean ± std over all {} seed(s) beside them.\n",
        r.headline_cnn.label(),
        Configuration::MlpSgd.label(),
        Configuration::CnnSgd.label(),
        r.headline_seed,
        c.seeds
    );
    let cols = [r.headline_cnn, Configuration::MlpSgd, Configuration::CnnSgd];
    let heads: Option<Vec<&RunRecord>> = cols.iter().map(|&cfg| head(cfg)).collect();
    let sums: Option<Vec<&ConfigSummary>> = cols.iter().map(|&cfg| sum(cfg)).collect();
    if let (Some(hs), Some(ss)) = (heads, sums) {
        let _ = write!(s, "| metric |");
        for cfg in cols {
            let _ = write!(s, " {} |", cfg.label());
        }
        for cfg in cols {
            let _ = write!(s, " {} (mean ± std) |", cfg.label());
        }
        let _ = writeln!(s, "\n|---|{}", "---|".repeat(2 * cols.len()));
        type Pick = fn(&Metrics) -> f64;
        type PickSum = fn(&ConfigSummary) -> MeanStd;
        let rows: [(&str, Pick, PickSum); 5] = [
            ("test score (accuracy)", |m| m.accuracy, |x| x.accuracy),
            (
                "test cost (loss)",
                |m| m.loss.unwrap_or(f64::NAN),
                |x| x.loss,
            ),
            (
                "precision (macro)",
                |m| m.macro_precision,
                |x| x.macro_precision,
            ),
            ("recall (macro)", |m| m.macro_recall, |x| x.macro_recall),
            ("F1 (macro)", |m| m.macro_f1, |x| x.macro_f1),
        ];
        for (name, one, many) in rows {
            let _ = write!(s, "| {name} |");
            for h in &hs {
                let _ = write!(s, " {:.4} |", one(&h.test));
            }
            for x in &ss {
                let _ = write!(s, " {} |", many(x).f3());
            }
            let _ = writeln!(s);
        }
        let _ = write!(s, "| accuracy % |");
        for h in &hs {
            let _ = write!(s, " {:.2} % |", 100.0 * h.test.accuracy);
        }
        for x in &ss {
            let _ = write!(s, " {} % |", x.accuracy.pct());
        }
        let _ = write!(s, "\n| best epoch (of run) |");
        for h in &hs {
            let _ = write!(s, " {} / {} |", h.best_epoch, h.epochs_run);
        }
        for x in &ss {
            let _ = write!(s, " {:.1} ± {:.1} |", x.best_epoch.mean, x.best_epoch.std);
        }
        let _ = writeln!(s, "\n");
        let _ = writeln!(
            s,
            "The paper reports 91.18 % (CNN, Adam) against 88.89 % (back-propagation, SGD), a gap \
             of 2.3 points. Paired by seed, the gap to each reading of the baseline (test accuracy, \
             points):\n"
        );
        let _ = writeln!(s, "| comparison | per seed | mean ± std |\n|---|---|---|");
        for b in [Configuration::MlpSgd, Configuration::CnnSgd] {
            if let Some(d) = r
                .paired
                .iter()
                .find(|d| d.what == paired_label(r.headline_cnn, b))
            {
                let _ = writeln!(s, "{}", paired_row(d));
            }
        }
        let _ = writeln!(s);

        per_class(s, cols, &hs);
    }
}

/// Per-class precision, recall and F1 of the headline models (`hs`, in `cols` order).
fn per_class(s: &mut String, cols: [Configuration; 3], hs: &[&RunRecord]) {
    // Per-class.
    let _ = writeln!(s, "### Per class (headline models, test set)\n");
    let _ = write!(s, "| class | support |");
    for cfg in cols {
        let l = cfg.label();
        let _ = write!(s, " {l} precision | {l} recall | {l} F1 |");
    }
    let _ = writeln!(s, "\n|---|---|{}", "---|".repeat(3 * cols.len()));
    for (i, a) in hs[0].test.per_class.iter().enumerate() {
        let _ = write!(s, "| {} | {} |", a.class, a.support);
        for h in hs {
            if let Some(p) = h.test.per_class.get(i) {
                let _ = write!(s, " {:.3} | {:.3} | {:.3} |", p.precision, p.recall, p.f1);
            }
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s);
}

/// The ablation: every configuration over all seeds, paired differences, recall per class.
fn ablation(s: &mut String, r: &Report) {
    let c = &r.settings;
    let k = r.classes.len();
    // Ablation.
    let _ = writeln!(
        s,
        "## Ablation (test set, mean ± std over {} seed(s): {})\n",
        c.seeds,
        (0..c.seeds)
            .map(|i| (c.base_seed + i as u64).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "| configuration | test accuracy % | macro F1 | test loss | best epoch | val accuracy % | train s/run |\n|---|---|---|---|---|---|---|"
    );
    for x in &r.summary {
        let _ = writeln!(
            s,
            "| {}{} | {} | {} | {} | {:.1} ± {:.1} | {} | {:.0} |",
            x.label,
            if x.config == r.headline_cnn {
                " (headline)"
            } else {
                ""
            },
            x.accuracy.pct(),
            x.macro_f1.f3(),
            x.loss.f3(),
            x.best_epoch.mean,
            x.best_epoch.std,
            x.val_accuracy.pct(),
            x.train_seconds.mean
        );
    }
    let _ = writeln!(
        s,
        "\nPaired by seed (same split and initialisation), test accuracy difference in points:\n"
    );
    let _ = writeln!(s, "| comparison | per seed | mean ± std |\n|---|---|---|");
    for d in &r.paired {
        let _ = writeln!(s, "{}", paired_row(d));
    }
    let _ = writeln!(s, "\nTest recall per class % (mean ± std over seeds):\n");
    let _ = write!(s, "| configuration |");
    for cl in &r.classes {
        let _ = write!(s, " {cl} |");
    }
    let _ = writeln!(s, "\n|---|{}", "---|".repeat(k));
    for x in &r.summary {
        let _ = write!(s, "| {} |", x.label);
        for m in &x.per_class_recall {
            let _ = write!(s, " {} |", m.pct());
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s);
}

/// The sharpness-shortcut table, when the check ran.
fn shortcut(s: &mut String, r: &Report) {
    if let Some(sc) = &r.shortcut_check {
        let f = |v: &serde_json::Value| {
            v.as_f64()
                .map_or("-".into(), |x| format!("{:.1} %", 100.0 * x))
        };
        let _ = writeln!(
            s,
            "### Sharpness shortcut check (first seed's model of each configuration)\n\n\
             The horse photos went through one more downscale than the other classes. Softening \
             every test image (64 → 32 → 64, antialiased) shows whether a model reads softness \
             as \"horse\":\n\n\
             | configuration | non-horse predicted horse, as is | … softened | horse recall, as is | … softened |\n|---|---|---|---|---|"
        );
        for x in &r.summary {
            let v = &sc[x.config.id()];
            if v.is_object() {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} |",
                    x.label,
                    f(&v["non_horse_predicted_horse_sharp"]),
                    f(&v["non_horse_predicted_horse_softened"]),
                    f(&v["horse_recall_sharp"]),
                    f(&v["horse_recall_softened"]),
                );
            }
        }
        let _ = writeln!(s);
    }
}

/// The settings table: model, parameters, optimizer, augmentation, initialisation.
fn settings(s: &mut String, r: &Report) {
    let c = &r.settings;
    let k = r.classes.len();
    // Settings and data.
    let _ = writeln!(s, "## Settings\n");
    let _ = writeln!(s, "| configuration | model | parameters | optimizer | augmentation | initialisation |\n|---|---|---|---|---|---|");
    for x in &r.summary {
        let cfg = x.config;
        let (model, opt) = if cfg.is_cnn() {
            (
                format!("paper CNN (conv3x3x10, pool, conv5x5x20, pool, dense {} + dropout {}, dense {k})", c.cnn_hidden, c.dropout),
                if cfg == Configuration::CnnSgd {
                    format!("SGD lr {} (no momentum)", c.cnn_sgd_lr)
                } else {
                    format!("Adam lr {}", c.cnn_lr)
                },
            )
        } else {
            (
                format!("MLP (dense {} + ReLU, dense {k})", c.mlp_hidden),
                format!("SGD lr {} (no momentum)", c.mlp_lr),
            )
        };
        let aug = if cfg.augmented() {
            if c.augment_factor == 0 {
                "on the fly, each image once per epoch".to_string()
            } else {
                format!("original + {} augmented copies per epoch", c.augment_factor)
            }
        } else {
            "none".into()
        };
        let init = if cfg == Configuration::CnnAdamAugFt {
            "pretrained CNN (matching tensors), head re-initialised"
        } else {
            "random"
        };
        let _ = writeln!(
            s,
            "| {} | {model} | {} | {opt} | {aug} | {init} |",
            x.label,
            params_of(c, cfg, k)
        );
    }
}

/// Settings common to all runs, and the pretraining.
fn settings_notes(s: &mut String, r: &Report) {
    let c = &r.settings;
    let _ = writeln!(
        s,
        "\nAll runs: batch {}, at most {} epochs, early stopping on validation loss with patience {} \
         (the best epoch's weights are kept), input pixel / 255. Augmentation: flip p {}, rotation ±{}°, \
         zoom {:?}, shift ±{} px, blur p {} (σ {:?}), down-up rescale p {} (side {:?}), brightness ±{}, \
         contrast {:?}.\n",
        c.batch, c.epochs, c.patience, c.augment.flip_p, c.augment.max_rotate_deg, c.augment.scale,
        c.augment.max_shift, c.augment.blur_p, c.augment.blur_sigma, c.augment.rescale_p,
        c.augment.rescale_side, c.augment.brightness, c.augment.contrast
    );
    if let Some(p) = &r.pretrain {
        let _ = writeln!(
            s,
            "Pretraining: `{}` ({} classes), paper CNN with augmentation, Adam lr {}, at most {} epochs, \
             10 % validation; best epoch {}, validation accuracy {}, {}; cached in `{}`.\n",
            c.pretrain.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            p["classes"],
            c.cnn_lr,
            c.pretrain_epochs,
            p["best_epoch"],
            p["val_accuracy"].as_f64().map_or("-".into(), |v| format!("{v:.3}")),
            if p["cached"] == true { "reused from an earlier run".to_string() } else {
                format!("{:.0} s", p["train_seconds"].as_f64().unwrap_or(0.0))
            },
            p["dir"].as_str().unwrap_or("")
        );
    }
}

/// Images per class of the first seed's split.
fn data(s: &mut String, r: &Report) {
    let c = &r.settings;
    let _ = writeln!(s, "### Data\n");
    let _ = writeln!(
        s,
        "Test part: {}. Validation: {:.0} % of each class of the rest, re-drawn per seed \
         (counts below for seed {}). Training never sees the test part.\n",
        r.counts["test_source"].as_str().unwrap_or(""),
        100.0 * c.val_split,
        c.base_seed
    );
    let _ = writeln!(
        s,
        "| class | train | validation | test |\n|---|---|---|---|"
    );
    let n = |key: &str, i: usize| r.counts[key][i].as_u64().unwrap_or(0);
    let mut tot = [0u64; 3];
    for (i, cl) in r.classes.iter().enumerate() {
        let v = [n("train", i), n("val", i), n("test", i)];
        (0..3).for_each(|j| tot[j] += v[j]);
        let _ = writeln!(s, "| {cl} | {} | {} | {} |", v[0], v[1], v[2]);
    }
    let _ = writeln!(s, "| **total** | {} | {} | {} |\n", tot[0], tot[1], tot[2]);
}

/// The figures with their captions.
fn figures(s: &mut String) {
    let _ = writeln!(s, "## Figures\n");
    for (f, what) in [
        ("learning_curves.png", "Training vs validation loss and accuracy per epoch (paper Fig. 6); dashed line = kept epoch."),
        ("confusion_matrices.png", "Confusion matrices on the test set (Fig. 7)."),
        ("prediction_grid.png", "Test images with actual and predicted class, CNN (Fig. 8): green right, red wrong."),
        ("comparison_bars.png", "The headline models side by side (Fig. 9)."),
        ("ablation_bars.png", "Test accuracy per configuration, mean ± std over seeds, dots = single seeds."),
    ] {
        let _ = writeln!(s, "![{f}]({f})\n\n{what}\n");
    }
}

/// Every run, and where the models and numbers are.
fn all_runs(s: &mut String, r: &Report) {
    let _ = writeln!(s, "## All runs\n");
    let _ = writeln!(
        s,
        "| configuration | seed | test acc | macro F1 | test loss | best / run epochs | val acc | train s |\n|---|---|---|---|---|---|---|---|"
    );
    for x in &r.runs {
        let _ = writeln!(
            s,
            "| {} | {} | {:.4} | {:.4} | {:.4} | {} / {} | {:.4} | {:.0} |",
            x.config.label(),
            x.seed,
            x.test.accuracy,
            x.test.macro_f1,
            x.test.loss.unwrap_or(f64::NAN),
            x.best_epoch,
            x.epochs_run,
            x.val_accuracy,
            x.train_seconds
        );
    }
    let _ = writeln!(
        s,
        "\nThe first seed's model of each configuration is in `models/<id>/` (ids: {}); \
         `metrics.json` holds every number above.",
        r.summary
            .iter()
            .map(|x| format!("`{}`", x.config.id()))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn params_of(c: &ReportConfig, cfg: Configuration, k: usize) -> usize {
    Net::init(arch(c, cfg, k), &mut Rng::new(0))
        .map(|n| n.num_params())
        .unwrap_or(0)
}
