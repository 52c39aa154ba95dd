//! `cnnfpga quantize` + `eval --json` + `export` end to end on `data/sample` with a tiny CNN,
//! and the CLI's errors for bad options, class mismatches and tampered blobs.

mod quant_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use quant_common::{sample, save_float};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cnnfpga"))
}

fn run(args: &[&str], paths: &[(&str, &Path)]) -> Output {
    let mut c = bin();
    c.args(["--threads", "2"]).args(args);
    for (flag, p) in paths {
        c.arg(flag).arg(p);
    }
    c.output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const QUICK: &[&str] = &[
    "quantize",
    "--sparsity",
    "0.8",
    "--steps",
    "1",
    "--epochs-per-step",
    "1",
    "--finetune-epochs",
    "1",
    "--calib-images",
    "40",
    "--quiet",
];

/// (temp dir, float model dir, quantised dir), made once per test binary.
fn dirs() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static D: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    D.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let float = tmp.path().join("float");
        save_float(&float);
        let q = tmp.path().join("q");
        let out = run(
            QUICK,
            &[("--model", &float), ("--data", &sample()), ("--out", &q)],
        );
        let text = ok(&out);
        assert!(text.contains("compression"), "{text}");
        assert!(text.contains("integer (firmware runner)"), "{text}");
        (tmp, float, q)
    })
}

#[test]
fn quantize_writes_blob_and_record() {
    let (_, _, q) = dirs();
    let blob = std::fs::read(q.join("model.blob")).unwrap();
    assert!(firmware::model::Model::parse(&blob).is_ok());
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(q.join("quant.json")).unwrap()).unwrap();
    assert_eq!(meta["format"], "cnnfpga-quant");
    assert_eq!(meta["blob_file"], "model.blob");
    assert_eq!(meta["compression"]["blob_bytes"], blob.len());
    assert_eq!(meta["classes"][2], "elephant");
    // the split is the one recorded in the float model.json
    assert_eq!(meta["settings"]["val_split"], 0.2);
    assert_eq!(meta["settings"]["seed"], 7);
    assert_eq!(meta["settings"]["bits"], 3); // the --pow2-bits default (the shipped setting)
    let layers = meta["layers"].as_array().unwrap();
    assert_eq!(
        layers
            .iter()
            .map(|l| l["scheme"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["NP", "NP", "P", "NP"]
    );
    assert!((layers[2]["sparsity"].as_f64().unwrap() - 0.8).abs() < 1e-3);
    let m = &meta["metrics"];
    assert_eq!(m["images"], 40);
    for k in ["float", "finetuned", "integer"] {
        assert!(m[k]["accuracy"].as_f64().is_some(), "{k}");
    }
    let a = m["agreement_finetuned"].as_f64().unwrap();
    assert!(a >= 0.8, "agreement {a}");
    assert!(q.join("finetuned.safetensors").is_file());
}

#[test]
fn eval_json_on_quantised_dir_has_the_float_keys() {
    let (_, float, q) = dirs();
    let keys = |dir: &Path| -> (Vec<String>, serde_json::Value) {
        let o = run(
            &["eval", "--json"],
            &[("--model", dir), ("--data", &sample())],
        );
        let v: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        (k, v)
    };
    let (fk, _) = keys(float);
    let (qk, qv) = keys(q);
    assert_eq!(fk, qk);
    for k in [
        "accuracy",
        "macro_precision",
        "macro_recall",
        "macro_f1",
        "loss",
        "confusion",
        "classes",
    ] {
        assert!(qk.iter().any(|x| x == k), "{k}");
    }
    let n: u64 = qv["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(n, 200);
    assert!(qv["loss"].as_f64().unwrap().is_finite());
    // the integer eval equals the library's integer path on the same images
    let im = host::qmodel::IntModel::load(q).unwrap();
    let (ds, _) = host::data::load_folder(&sample()).unwrap();
    let (m, _) = host::qmodel::evaluate_int(&im, &ds).unwrap();
    assert_eq!(qv["accuracy"].as_f64().unwrap(), m.accuracy);
}

#[test]
fn export_is_deterministic_and_consistent() {
    let (tmp, _, q) = dirs();
    let (a, b) = (tmp.path().join("ea"), tmp.path().join("eb"));
    for out in [&a, &b] {
        let o = run(
            &["export", "--vectors", "7"],
            &[("--model", q), ("--out", out), ("--data", &sample())],
        );
        ok(&o);
    }
    let mut names: Vec<String> = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "flash.hex",
            "model.blob",
            "model.hex",
            "summary.json",
            "vectors.bin",
            "vectors.json"
        ]
    );
    for n in &names {
        assert_eq!(
            std::fs::read(a.join(n)).unwrap(),
            std::fs::read(b.join(n)).unwrap(),
            "{n} differs between two exports"
        );
    }
    let blob = std::fs::read(q.join("model.blob")).unwrap();
    assert_eq!(std::fs::read(a.join("model.blob")).unwrap(), blob);
    // model.hex: 32-bit little-endian words
    let hex = std::fs::read_to_string(a.join("model.hex")).unwrap();
    let words: Vec<u8> = hex
        .lines()
        .flat_map(|l| u32::from_str_radix(l, 16).unwrap().to_le_bytes())
        .collect();
    assert_eq!(words, blob);
    // flash.hex: the blob at FLASH_MODEL_OFFSET
    let flash = std::fs::read_to_string(a.join("flash.hex")).unwrap();
    let first = flash.lines().next().unwrap();
    assert_eq!(
        first,
        format!("@{:08x}", firmware::memmap::FLASH_MODEL_OFFSET)
    );
    let bytes: Vec<u8> = flash
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with('@'))
        .flat_map(|l| l.split(' ').map(|b| u8::from_str_radix(b, 16).unwrap()))
        .collect();
    assert_eq!(bytes, blob);
    // vectors: 7 images round-robin over the classes; every layer output re-checked by
    // running the blob again through the firmware runner
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("vectors.json")).unwrap()).unwrap();
    let bin = std::fs::read(a.join("vectors.bin")).unwrap();
    let vecs = idx["vectors"].as_array().unwrap();
    assert_eq!(vecs.len(), 7);
    assert_eq!(vecs[0]["source"], "cat/0000.jpg");
    assert_eq!(vecs[5]["label"], 0);
    assert_eq!(vecs[6]["label"], 1);
    let im = host::qmodel::IntModel::load(q).unwrap();
    let slice = |s: &serde_json::Value| {
        let o = s["offset"].as_u64().unwrap() as usize;
        &bin[o..o + s["len"].as_u64().unwrap() as usize]
    };
    for v in vecs {
        let input = slice(&v["input"]);
        assert_eq!(input.len(), 64 * 64 * 3);
        let mut obs = host::qmodel::CaptureObserver::default();
        let out = im.run_observed(input, &mut obs, 0).unwrap();
        let layers = v["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 4);
        for (l, (_, bytes)) in layers.iter().zip(&obs.layers) {
            assert_eq!(slice(l), &bytes[..]);
        }
        assert_eq!(layers[3]["dtype"], "i32le");
        assert_eq!(layers[0]["shape"], serde_json::json!([31, 31, 4]));
        let logits: Vec<i32> = v["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap() as i32)
            .collect();
        assert_eq!(logits, out.logits);
        assert_eq!(v["class"], out.class);
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["blob_bytes"], blob.len());
    assert_eq!(summary["layers"][2]["kind"], "dense_p");
    assert_eq!(summary["vectors"], 7);
}

#[test]
fn bad_options_and_mismatches_are_clear_errors() {
    let (tmp, float, q) = dirs();
    let out = tmp.path().join("never");
    for (flag, value, want) in [
        ("--sparsity", "1.0", "--sparsity 1 outside [0, 1)"),
        ("--sparsity", "-0.5", "outside [0, 1)"),
        ("--pow2-bits", "9", "--pow2-bits 9 outside 2..=7"),
        ("--p-layers", "0", "P layers are dense only"),
        ("--np-layers", "7", "out of range"),
    ] {
        let o = run(
            &["quantize", flag, value],
            &[("--model", float), ("--data", &sample()), ("--out", &out)],
        );
        let e = err(&o);
        assert!(e.contains(want), "{flag} {value}: {e}");
    }
    assert!(!out.exists());
    // data with other classes
    let other = tmp.path().join("two");
    for c in ["cow", "cat"] {
        let d = other.join(c);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(sample().join(c).join("0000.jpg"), d.join("a.jpg")).unwrap();
        std::fs::copy(sample().join(c).join("0001.jpg"), d.join("b.jpg")).unwrap();
    }
    let o = run(&["eval"], &[("--model", q), ("--data", &other)]);
    let e = err(&o);
    assert!(e.contains("class"), "{e}");
    let o = run(
        &["quantize"],
        &[("--model", float), ("--data", &other), ("--out", &out)],
    );
    assert!(err(&o).contains("class"));
    // a tampered blob names the reader's error
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let mut blob = std::fs::read(q.join("model.blob")).unwrap();
    blob[40] ^= 1;
    std::fs::write(bad.join("model.blob"), &blob).unwrap();
    let o = run(&["eval"], &[("--model", &bad), ("--data", &sample())]);
    let e = err(&o);
    assert!(
        e.contains("crc mismatch") && e.contains("model reader"),
        "{e}"
    );
    blob[40] ^= 1;
    std::fs::write(bad.join("model.blob"), &blob[..blob.len() / 2]).unwrap();
    let o = run(&["export"], &[("--model", &bad), ("--out", &out)]);
    let e = err(&o);
    assert!(e.contains("model reader") && e.contains("bytes"), "{e}");
}

/// Quantises a fresh float model whose `model.json` `train_config` has `edits` applied (keys
/// the float training records), with the QUICK settings; returns `quant.json`.
fn quantize_with_train_config(edits: &[(&str, serde_json::Value)]) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    let float = tmp.path().join("float");
    save_float(&float);
    let path = float.join("model.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for (k, v) in edits {
        meta["train_config"][*k] = v.clone();
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
    let q = tmp.path().join("q");
    ok(&run(
        QUICK,
        &[("--model", &float), ("--data", &sample()), ("--out", &q)],
    ));
    serde_json::from_slice(&std::fs::read(q.join("quant.json")).unwrap()).unwrap()
}

/// A float model trained on every image (`train --full`: val_split 0 in model.json) still
/// quantises: a 0.2 split is used and the record says the metrics are fidelity, not accuracy on
/// unseen images.
#[test]
fn quantize_a_full_trained_model() {
    let rec = quantize_with_train_config(&[
        ("val_split", serde_json::json!(0.0)),
        ("full", serde_json::json!(true)),
    ]);
    assert_eq!(rec["settings"]["val_split"], 0.2);
    assert_eq!(rec["metrics"]["images"], 40);
    let split = rec["metrics"]["split"].as_str().unwrap();
    assert!(
        split.contains("train --full") && split.contains("fidelity"),
        "{split}"
    );
}

/// A float model trained on part of its training split (`train --train-fraction`, recorded in
/// model.json) is quantised on that same part: calibration and fine-tuning see no image the
/// float model did not, and the held-out images are the same.
#[test]
fn quantize_uses_the_float_models_train_fraction() {
    let rec = quantize_with_train_config(&[("train_fraction", serde_json::json!(0.5))]);
    assert_eq!(rec["metrics"]["images"], 40, "the same 40 held-out images");
    let split = rec["metrics"]["split"].as_str().unwrap();
    // 200 sample images, 160 in the training split, half of each class kept.
    assert!(
        split.contains("on the 80 training images") && split.contains("train_fraction 0.5"),
        "{split}"
    );
}
