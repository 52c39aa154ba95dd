//! [`run`]: the whole experiment. Loads and splits the data, pretrains when asked, trains every
//! configuration for every seed (saving the first seed's models), summarises, picks the
//! headline CNN on validation accuracy, draws the figures and writes `metrics.json` and
//! `report.md`.

use std::time::Instant;

use serde_json::json;

use super::config::{arch, train_config};
use super::stats::{paired, paired_label, summarise};
use super::steps::{load, meta_for, model_err, pretrain, shortcut_check, split, write_file};
use super::{figures, markdown};
use super::{
    ConfigSummary, Configuration, Observer, PairedDiff, Report, ReportConfig, ReportError,
    RunRecord,
};
use crate::data::Dataset;
use crate::eval::evaluate;
use crate::model::{Net, SavedModel};
use crate::rng::Rng;
use crate::train::{train, CheckpointOptions};

/// Runs the whole experiment and writes the report into `c.out`.
pub fn run(c: &ReportConfig, obs: &mut dyn Observer) -> Result<Report, ReportError> {
    c.validate()?;
    let t0 = Instant::now();
    std::fs::create_dir_all(c.dir()).map_err(|source| ReportError::Io {
        op: "create",
        path: c.dir().to_path_buf(),
        source,
    })?;
    let (rest, test) = load_data(c, obs)?;
    let classes = rest.classes.clone();
    let k = classes.len();
    let configs = configurations(c);
    let total = configs.len() * c.seeds + usize::from(c.pretrain.is_some());
    let (pre, pre_info) = match &c.pretrain {
        Some(dir) => {
            let (m, info) = pretrain(c, dir, obs, total)?;
            (Some(m), Some(info))
        }
        None => (None, None),
    };

    let data = Data {
        rest: &rest,
        test: &test,
        classes: &classes,
    };
    let Runs {
        runs,
        first,
        counts,
    } = train_runs(c, obs, &data, &configs, pre.as_ref(), total)?;

    let summary: Vec<ConfigSummary> = configs
        .iter()
        .map(|&cfg| {
            let rs: Vec<&RunRecord> = runs.iter().filter(|r| r.config == cfg).collect();
            summarise(cfg, &rs, k)
        })
        .collect();
    let headline_cnn = headline_cnn(&summary);
    let paired_diffs = paired_diffs(&runs, headline_cnn);
    // Per configuration (first seed): does softening make a model say "horse"?
    let shortcut = test.classes.iter().any(|c| c == "horse").then(|| {
        let mut m = serde_json::Map::new();
        for (cfg, net) in &first {
            if let Some(v) = shortcut_check(net, &test) {
                m.insert(cfg.id().to_string(), v);
            }
        }
        serde_json::Value::Object(m)
    });

    let mut files = figures::write_figures(
        c,
        &figures::Inputs {
            configs: &configs,
            runs: &runs,
            first: &first,
            headline_cnn,
            test: &test,
            classes: &classes,
        },
    )?;
    files.push("metrics.json".into());
    files.push("report.md".into());

    let report = Report {
        settings: c.clone(),
        classes,
        counts,
        pretrain: pre_info,
        runs,
        summary,
        paired: paired_diffs,
        headline_cnn,
        headline_seed: c.base_seed,
        shortcut_check: shortcut,
        files,
        wall_seconds: t0.elapsed().as_secs_f64(),
    };
    let json = serde_json::to_vec_pretty(&report).map_err(|e| ReportError::Io {
        op: "serialise",
        path: c.dir().join("metrics.json"),
        source: e.into(),
    })?;
    write_file(&c.dir().join("metrics.json"), &json)?;
    write_file(&c.dir().join("report.md"), markdown(&report).as_bytes())?;
    Ok(report)
}

/// The data folder split into the rest (train + validation) and the test part, or the data
/// folder and a separate test folder with the same classes.
fn load_data(c: &ReportConfig, obs: &mut dyn Observer) -> Result<(Dataset, Dataset), ReportError> {
    let ds = load("data", &c.data, obs)?;
    match &c.test {
        Some(dir) => {
            let t = load("test data", dir, obs)?;
            t.check_classes(&ds.classes)
                .map_err(|source| ReportError::Data {
                    what: format!("test folder {}", dir.display()),
                    source,
                })?;
            Ok((ds, t))
        }
        None => split(&ds, c.test_split, c.base_seed, "test split"),
    }
}

/// The configurations run, in report order (the fine-tuned one only with a pretraining folder).
fn configurations(c: &ReportConfig) -> Vec<Configuration> {
    let mut configs = vec![
        Configuration::MlpSgd,
        Configuration::CnnSgd,
        Configuration::CnnAdam,
        Configuration::CnnAdamAug,
    ];
    if c.pretrain.is_some() {
        configs.push(Configuration::CnnAdamAugFt);
    }
    configs
}

/// The data every run sees.
struct Data<'a> {
    /// Train + validation part (re-split per seed).
    rest: &'a Dataset,
    /// Held-out test part.
    test: &'a Dataset,
    /// Class names.
    classes: &'a [String],
}

/// What the training loop produces.
struct Runs {
    /// Every run, seed-major.
    runs: Vec<RunRecord>,
    /// First seed's network per configuration (headline candidates).
    first: Vec<(Configuration, Net)>,
    /// Images per class of the first seed's split (`metrics.json`'s `counts`).
    counts: serde_json::Value,
}

/// Trains every configuration for every seed; saves the first seed's models under
/// `models/<id>/`.
fn train_runs(
    c: &ReportConfig,
    obs: &mut dyn Observer,
    data: &Data<'_>,
    configs: &[Configuration],
    pre: Option<&SavedModel>,
    total: usize,
) -> Result<Runs, ReportError> {
    let mut runs: Vec<RunRecord> = Vec::new();
    let mut first: Vec<(Configuration, Net)> = Vec::new();
    let mut counts = serde_json::Value::Null;
    let mut index = usize::from(pre.is_some());
    for s in 0..c.seeds {
        let seed = c.base_seed + s as u64;
        let (tr, va) = split(data.rest, c.val_split, seed, "validation split")?;
        if s == 0 {
            counts = split_counts(c, &tr, &va, data.test);
        }
        for &cfg in configs {
            let one = Split {
                train: &tr,
                val: &va,
                test: data.test,
            };
            let (rec, net, loaded) =
                train_one(c, obs, cfg, seed, &one, pre, (index, total), data.classes)?;
            if s == 0 {
                save_first(c, cfg, seed, &one, &rec, &net, loaded, data.classes)?;
                first.push((cfg, net));
            }
            runs.push(rec);
            index += 1;
        }
    }
    Ok(Runs {
        runs,
        first,
        counts,
    })
}

/// One seed's train / validation / test parts.
struct Split<'a> {
    train: &'a Dataset,
    val: &'a Dataset,
    test: &'a Dataset,
}

/// Images per class of a split, and where the test part came from.
fn split_counts(c: &ReportConfig, tr: &Dataset, va: &Dataset, test: &Dataset) -> serde_json::Value {
    json!({
        "train": tr.class_counts(),
        "val": va.class_counts(),
        "test": test.class_counts(),
        "test_source": match &c.test {
            Some(d) => format!("folder {}", d.display()),
            None => format!("held-out {:.0} % of each class of the data folder (seed {})",
                100.0 * c.test_split, c.base_seed),
        },
    })
}

/// One training run of `cfg` with `seed` (`at` = its index and the number of runs, for the
/// observer); returns its record, the trained network and the number of tensors loaded from
/// the pretrained CNN.
#[allow(clippy::too_many_arguments)]
fn train_one(
    c: &ReportConfig,
    obs: &mut dyn Observer,
    cfg: Configuration,
    seed: u64,
    data: &Split<'_>,
    pre: Option<&SavedModel>,
    (index, total): (usize, usize),
    classes: &[String],
) -> Result<(RunRecord, Net, usize), ReportError> {
    let label = format!("{} seed {seed}", cfg.label());
    let mut net = Net::init(
        arch(c, cfg, classes.len()),
        &mut Rng::derive(&[seed, 0x1417]),
    )
    .map_err(model_err(label.clone()))?;
    let mut loaded = 0;
    if cfg == Configuration::CnnAdamAugFt {
        if let Some(p) = pre {
            loaded = net.load_matching(&p.net).len();
        }
    }
    let tc = train_config(c, cfg, seed);
    obs.run_start(&label, index, total, tc.epochs);
    let t = Instant::now();
    let out = train(
        &mut net,
        data.train,
        data.val,
        &tc,
        None,
        &CheckpointOptions::default(),
        obs.progress(),
    )
    .map_err(|source| ReportError::Train {
        run: label.clone(),
        source,
    })?;
    let secs = t.elapsed().as_secs_f64();
    let m = evaluate(&net, data.test)?;
    let best = out.history.get(out.best_epoch.max(1) - 1);
    let rec = RunRecord {
        config: cfg,
        seed,
        best_epoch: out.best_epoch,
        epochs_run: out.history.len(),
        stopped_early: out.stopped_early,
        val_accuracy: best.map_or(f64::NAN, |h| h.val_accuracy as f64),
        val_loss: best.map_or(f64::NAN, |h| h.val_loss as f64),
        test: m,
        train_seconds: secs,
        history: out.history,
    };
    obs.run_end(&format!(
        "{label}: test acc {:.3}, macro F1 {:.3}, loss {:.3}, best epoch {}/{}, val acc {:.3}, {:.0}s",
        rec.test.accuracy,
        rec.test.macro_f1,
        rec.test.loss.unwrap_or(f64::NAN),
        rec.best_epoch,
        rec.epochs_run,
        rec.val_accuracy,
        secs
    ));
    Ok((rec, net, loaded))
}

/// Saves the first seed's model of `cfg` under `models/<id>/`, its `model.json` recording the
/// split and the run.
#[allow(clippy::too_many_arguments)]
fn save_first(
    c: &ReportConfig,
    cfg: Configuration,
    seed: u64,
    data: &Split<'_>,
    rec: &RunRecord,
    net: &Net,
    loaded: usize,
    classes: &[String],
) -> Result<(), ReportError> {
    let extra = json!({
        "report_configuration": cfg.id(),
        "data": c.data.display().to_string(),
        "test_split": c.test_split,
        "val_split": c.val_split,
        "split_seed": c.base_seed,
        "train_images": data.train.len(),
        "val_images": data.val.len(),
        "test_images": data.test.len(),
        "init_from": if loaded > 0 { json!(c.out.join("pretrained").display().to_string()) } else { json!(null) },
        "tensors_loaded": loaded,
        "wall_seconds": rec.train_seconds,
        "stopped_early": rec.stopped_early,
        "metrics_on": "test split",
    });
    let tc = train_config(c, cfg, seed);
    let meta = meta_for(
        net,
        classes,
        &tc,
        extra,
        &rec.history,
        rec.best_epoch,
        &rec.test,
    );
    let dir = c.dir().join("models").join(cfg.id());
    SavedModel::save(net, meta, &dir).map_err(model_err(format!("saving {}", dir.display())))?;
    Ok(())
}

/// The Adam CNN configuration with the best mean validation accuracy (the first on ties).
fn headline_cnn(summary: &[ConfigSummary]) -> Configuration {
    summary
        .iter()
        .filter(|s| s.config.is_cnn() && !s.config.is_baseline())
        .fold(None::<&ConfigSummary>, |best, s| match best {
            Some(b) if b.val_accuracy.mean >= s.val_accuracy.mean => Some(b),
            _ => Some(s),
        })
        .map(|s| s.config)
        .unwrap_or(Configuration::CnnAdamAug)
}

/// The paired comparisons of the report: the headline CNN against both baselines, then the
/// ablation steps (each pair once, only where both configurations ran).
fn paired_diffs(runs: &[RunRecord], headline_cnn: Configuration) -> Vec<PairedDiff> {
    let mut paired_diffs = Vec::new();
    for (a, b) in [
        (headline_cnn, Configuration::MlpSgd),
        (headline_cnn, Configuration::CnnSgd),
        (Configuration::CnnAdam, Configuration::CnnSgd),
        (Configuration::CnnAdamAug, Configuration::CnnAdam),
        (Configuration::CnnAdamAugFt, Configuration::CnnAdamAug),
    ] {
        if a == b
            || paired_diffs
                .iter()
                .any(|d: &PairedDiff| d.what == paired_label(a, b))
        {
            continue;
        }
        if let Some(d) = paired(runs, a, b) {
            paired_diffs.push(d);
        }
    }
    paired_diffs
}
