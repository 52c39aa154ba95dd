//! The steps of a report run: loading and splitting data, the `model.json` record of a run,
//! the pretrained CNN (trained once, cached in `<out>/pretrained/` while its settings match)
//! and the sharpness-shortcut check.

use std::path::Path;
use std::time::Instant;

use serde_json::json;

use super::config::cnn_train_config;
use super::{Observer, ReportConfig, ReportError};
use crate::augment::resize;
use crate::data::{load_folder, Dataset, LoadReport, IMAGE_SIZE};
use crate::eval::{argmax, evaluate, Metrics};
use crate::model::{Arch, ModelError, ModelMeta, Net, Normalization, SavedModel};
use crate::rng::Rng;
use crate::train::{train, CheckpointOptions, EpochStats, TrainConfig};

pub(super) fn load(what: &str, dir: &Path, obs: &mut dyn Observer) -> Result<Dataset, ReportError> {
    let t = Instant::now();
    let (ds, rep): (Dataset, LoadReport) =
        load_folder(dir).map_err(|source| ReportError::Data {
            what: format!("{what} {}", dir.display()),
            source,
        })?;
    if rep.skipped > 0 {
        obs.note(&format!(
            "warning: {} unreadable file(s) skipped in {}",
            rep.skipped,
            dir.display()
        ));
    }
    obs.note(&format!(
        "{what} {}: {} images, {} classes, decoded in {:.1}s",
        dir.display(),
        ds.len(),
        ds.classes.len(),
        t.elapsed().as_secs_f64()
    ));
    Ok(ds)
}

pub(super) fn split(
    ds: &Dataset,
    frac: f64,
    seed: u64,
    what: &str,
) -> Result<(Dataset, Dataset), ReportError> {
    ds.split_stratified(frac, seed)
        .map_err(|source| ReportError::Data {
            what: what.into(),
            source,
        })
}

pub(super) fn model_err(what: impl Into<String>) -> impl FnOnce(ModelError) -> ReportError {
    let what = what.into();
    move |source| ReportError::Model { what, source }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn meta_for(
    net: &Net,
    classes: &[String],
    tc: &TrainConfig,
    extra: serde_json::Value,
    history: &[EpochStats],
    best_epoch: usize,
    metrics: &Metrics,
) -> ModelMeta {
    let mut train_config = serde_json::to_value(tc).unwrap_or(serde_json::Value::Null);
    if let (Some(obj), Some(ex)) = (train_config.as_object_mut(), extra.as_object()) {
        for (k, v) in ex {
            obj.insert(k.clone(), v.clone());
        }
    }
    ModelMeta {
        format: String::new(),
        format_version: 0,
        arch: net.arch.clone(),
        classes: classes.to_vec(),
        normalization: Normalization::default(),
        num_params: 0,
        weights_file: String::new(),
        weights_sha256: String::new(),
        train_config,
        history: history.to_vec(),
        best_epoch: Some(best_epoch),
        final_metrics: serde_json::to_value(metrics).unwrap_or(serde_json::Value::Null),
    }
}

pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    std::fs::write(path, bytes).map_err(|source| ReportError::Io {
        op: "write",
        path: path.into(),
        source,
    })
}

/// Key of the pretraining cache: everything that changes the pretrained weights. Passed once
/// through JSON text, as the stored copy is (serde_json's float parsing need not round-trip).
fn pretrain_key(c: &ReportConfig, dir: &Path) -> serde_json::Value {
    let key = json!({
        "pretrain_data": dir.display().to_string(),
        "hidden": c.cnn_hidden,
        "dropout": c.dropout,
        "config": cnn_train_config(c, c.base_seed, true, c.pretrain_epochs),
        "val_split": 0.1,
    });
    serde_json::from_str(&key.to_string()).unwrap_or(key)
}

/// Pretrains the CNN on `dir`, or reuses `<out>/pretrained/` when its key matches.
pub(super) fn pretrain(
    c: &ReportConfig,
    dir: &Path,
    obs: &mut dyn Observer,
    total: usize,
) -> Result<(SavedModel, serde_json::Value), ReportError> {
    let cache = c.dir().join("pretrained");
    let shown = c.out.join("pretrained");
    let key = pretrain_key(c, dir);
    if let Ok(m) = SavedModel::load(&cache) {
        if m.meta.train_config.get("cache_key") == Some(&key) {
            obs.note(&format!(
                "pretrained model reused from {} (same settings)",
                shown.display()
            ));
            let info = json!({
                "cached": true,
                "dir": shown.display().to_string(),
                "classes": m.meta.classes.len(),
                "best_epoch": m.meta.best_epoch,
                "val_accuracy": m.meta.final_metrics.get("accuracy"),
                "train_seconds": m.meta.train_config.get("wall_seconds"),
            });
            return Ok((m, info));
        }
    }
    let ds = load("pretraining data", dir, obs)?;
    let (tr, va) = split(&ds, 0.1, c.base_seed, "pretraining split")?;
    let arch = Arch::paper_cnn(ds.classes.len(), c.cnn_hidden, c.dropout);
    let mut net = Net::init(arch, &mut Rng::derive(&[c.base_seed, 0x1417]))
        .map_err(model_err("pretrained CNN"))?;
    let tc = cnn_train_config(c, c.base_seed, true, c.pretrain_epochs);
    obs.run_start("pretrain CNN", 0, total, tc.epochs);
    let t = Instant::now();
    let out = train(
        &mut net,
        &tr,
        &va,
        &tc,
        None,
        &CheckpointOptions::default(),
        obs.progress(),
    )
    .map_err(|source| ReportError::Train {
        run: "pretraining".into(),
        source,
    })?;
    let secs = t.elapsed().as_secs_f64();
    let m = evaluate(&net, &va)?;
    obs.run_end(&format!(
        "pretrain: {} classes, val accuracy {:.3}, best epoch {}/{}, {:.0}s",
        ds.classes.len(),
        m.accuracy,
        out.best_epoch,
        out.history.len(),
        secs
    ));
    let extra = json!({
        "cache_key": key,
        "data": dir.display().to_string(),
        "train_images": tr.len(),
        "val_images": va.len(),
        "wall_seconds": secs,
    });
    let meta = meta_for(
        &net,
        &ds.classes,
        &tc,
        extra,
        &out.history,
        out.best_epoch,
        &m,
    );
    SavedModel::save(&net, meta.clone(), &cache).map_err(model_err("saving pretrained CNN"))?;
    let info = json!({
        "cached": false,
        "dir": shown.display().to_string(),
        "classes": ds.classes.len(),
        "train_images": tr.len(),
        "val_images": va.len(),
        "best_epoch": out.best_epoch,
        "epochs_run": out.history.len(),
        "val_accuracy": m.accuracy,
        "train_seconds": secs,
    });
    Ok((SavedModel { net, meta }, info))
}

/// Non-horse test images predicted "horse": sharp vs softened (64 → 32 → 64).
pub(super) fn shortcut_check(net: &Net, test: &Dataset) -> Option<serde_json::Value> {
    let horse = test.classes.iter().position(|c| c == "horse")?;
    let idx: Vec<usize> = (0..test.len())
        .filter(|&i| test.labels[i] != horse)
        .collect();
    let horse_idx: Vec<usize> = (0..test.len())
        .filter(|&i| test.labels[i] == horse)
        .collect();
    if idx.is_empty() {
        return None;
    }
    let s = IMAGE_SIZE;
    let soften = |px: &[u8]| -> Vec<u8> {
        let f: Vec<f32> = px.iter().map(|&p| p as f32).collect();
        let small = resize(&f, s, s, s / 2, s / 2);
        resize(&small, s / 2, s / 2, s, s)
            .into_iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect()
    };
    let k = net.arch.classes();
    let frac_horse = |images: Vec<Vec<u8>>| -> f64 {
        let n = images.len();
        let mut hits = 0;
        for chunk in images.chunks(256) {
            let x = crate::data::pixels_to_batch(chunk.iter().map(|v| v.as_slice()));
            hits += net
                .predict_proba(x)
                .chunks_exact(k)
                .filter(|r| argmax(r) == horse)
                .count();
        }
        hits as f64 / n.max(1) as f64
    };
    let sharp: Vec<Vec<u8>> = idx.iter().map(|&i| test.images[i].clone()).collect();
    let soft: Vec<Vec<u8>> = idx.iter().map(|&i| soften(&test.images[i])).collect();
    let horse_sharp: Vec<Vec<u8>> = horse_idx.iter().map(|&i| test.images[i].clone()).collect();
    let horse_soft: Vec<Vec<u8>> = horse_idx.iter().map(|&i| soften(&test.images[i])).collect();
    Some(json!({
        "non_horse_images": idx.len(),
        "non_horse_predicted_horse_sharp": frac_horse(sharp),
        "non_horse_predicted_horse_softened": frac_horse(soft),
        "horse_images": horse_idx.len(),
        "horse_recall_sharp": frac_horse(horse_sharp),
        "horse_recall_softened": frac_horse(horse_soft),
    }))
}
