//! The shipped models under `models/` load, evaluate, and are consistent with each other: the
//! quantised model was made from the shipped float model, its golden vectors are not stale, and
//! `quantize` + `eval` + `export` run on the shipped float model with the sample data.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cnnfpga(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cnnfpga"))
        .current_dir(root())
        .args(["--threads", "2"])
        .args(args)
        .output()
        .unwrap()
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

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn eval_json(model: &str) -> serde_json::Value {
    let out = ok(&cnnfpga(&[
        "eval",
        "--model",
        model,
        "--data",
        "data/sample",
        "--json",
    ]));
    serde_json::from_str(&out).unwrap()
}

#[test]
fn shipped_models_evaluate_on_the_sample_data() {
    for m in [
        "models/animals5-cnn",
        "models/animals5-mlp",
        "models/animals5-cnn-int",
    ] {
        let v = eval_json(m);
        let acc = v["accuracy"].as_f64().unwrap();
        // 5 classes: chance is 0.2. The sample images are real photos of the five classes; every
        // shipped model must be clearly better than chance on them.
        assert!(acc > 0.3, "{m}: accuracy {acc}");
        assert_eq!(v["classes"].as_array().unwrap().len(), 5, "{m}");
    }
}

#[test]
fn quantised_model_was_made_from_the_shipped_float_model() {
    let q = json(&root().join("models/animals5-cnn-int/quant.json"));
    let f = json(&root().join("models/animals5-cnn/model.json"));
    assert_eq!(
        q["source_weights_sha256"], f["weights_sha256"],
        "models/animals5-cnn-int is stale: re-run quantize on models/animals5-cnn (see its README)"
    );
    let blob = std::fs::read(root().join("models/animals5-cnn-int/model.blob")).unwrap();
    assert!(firmware::model::Model::parse(&blob).is_ok());
    assert_eq!(q["compression"]["blob_bytes"], blob.len());
}

#[test]
fn golden_vectors_are_fresh() {
    // Re-export the shipped quantised model and compare with the committed golden files.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("golden");
    ok(&cnnfpga(&[
        "export",
        "--model",
        "models/animals5-cnn-int",
        "--out",
        out.to_str().unwrap(),
    ]));
    let golden = root().join("models/animals5-cnn-int/golden");
    for f in [
        "model.blob",
        "model.hex",
        "flash.hex",
        "vectors.bin",
        "vectors.json",
    ] {
        assert!(
            std::fs::read(out.join(f)).unwrap() == std::fs::read(golden.join(f)).unwrap(),
            "models/animals5-cnn-int/golden/{f} is stale: re-run `cnnfpga export --model \
             models/animals5-cnn-int --out models/animals5-cnn-int/golden`"
        );
    }
}

#[test]
fn quantize_eval_export_on_the_shipped_float_model() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let q = q.to_str().unwrap();
    let out = ok(&cnnfpga(&[
        "quantize",
        "--model",
        "models/animals5-cnn",
        "--data",
        "data/sample",
        "--out",
        q,
        "--steps",
        "1",
        "--epochs-per-step",
        "1",
        "--finetune-epochs",
        "1",
        "--quiet",
    ]));
    assert!(out.contains("compression"), "{out}");
    let meta = json(&Path::new(q).join("quant.json"));
    // the shipped settings (0.97 sparsity, 3-bit codes) compress the paper CNN far beyond the
    // cited paper's 27.5x
    let ratio = meta["compression"]["ratio"].as_f64().unwrap();
    assert!(ratio > 27.5, "compression {ratio}");
    // the integer model agrees with the fine-tuned float model it was made from
    let agree = meta["metrics"]["agreement_finetuned"].as_f64().unwrap();
    assert!(agree >= 0.9, "agreement {agree}");
    let acc = eval_json(q)["accuracy"].as_f64().unwrap();
    assert!(acc > 0.3, "integer accuracy {acc} on data/sample");
    let e = tmp.path().join("e");
    ok(&cnnfpga(&[
        "export",
        "--model",
        q,
        "--out",
        e.to_str().unwrap(),
    ]));
    assert_eq!(
        std::fs::read(e.join("model.blob")).unwrap(),
        std::fs::read(Path::new(q).join("model.blob")).unwrap()
    );
}
