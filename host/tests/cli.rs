//! The `cnnfpga` binary end to end on the sample data: train -> eval --json -> predict, and the
//! clear errors for bad values and mismatched classes.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cnnfpga"))
}
fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/sample")
}

#[test]
fn train_eval_predict() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("m");
    let st = bin()
        .args([
            "train",
            "--arch",
            "mlp",
            "--hidden",
            "8",
            "--epochs",
            "2",
            "--quiet",
            "--augment",
        ])
        .arg("--data")
        .arg(sample())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("model.json")).unwrap()).unwrap();
    assert_eq!(meta["format_version"], 1);
    assert_eq!(meta["history"].as_array().unwrap().len(), 2);
    assert_eq!(meta["classes"][2], "elephant");
    assert!(!out.with_extension("checkpoint").exists());

    let ev = bin()
        .arg("eval")
        .arg("--model")
        .arg(&out)
        .arg("--data")
        .arg(sample())
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        ev.status.success(),
        "{}",
        String::from_utf8_lossy(&ev.stderr)
    );
    let text = String::from_utf8(ev.stdout).unwrap();
    assert_eq!(text.trim().lines().count(), 1);
    let j: serde_json::Value = serde_json::from_str(&text).unwrap();
    for k in [
        "accuracy",
        "macro_precision",
        "macro_recall",
        "macro_f1",
        "loss",
        "confusion",
        "classes",
        "per_class",
    ] {
        assert!(j.get(k).is_some(), "missing {k}");
    }
    let total: u64 = j["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 200);

    let img = sample().join("cat/0000.jpg");
    let pr = bin()
        .arg("predict")
        .arg("--model")
        .arg(&out)
        .arg(&img)
        .output()
        .unwrap();
    assert!(pr.status.success());
    let line = String::from_utf8(pr.stdout).unwrap();
    assert!(line.contains("cat=") && line.contains("sheep="), "{line}");

    // Eval on a folder with other class names is refused.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(other.join("dog")).unwrap();
    std::fs::copy(&img, other.join("dog/a.jpg")).unwrap();
    let bad = bin()
        .arg("eval")
        .arg("--model")
        .arg(&out)
        .arg("--data")
        .arg(&other)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("class names differ"));
}

#[test]
fn bad_values_are_clear_errors() {
    let cases: [(&[&str], &str); 7] = [
        (&["--val-split", "1.5"], "val-split"),
        (&["--val-split", "0"], "val-split"),
        (&["--train-fraction", "0"], "train-fraction"),
        (&["--train-fraction", "1.5"], "train-fraction"),
        (&["--lr", "0"], "lr"),
        (&["--batch", "0"], "batch"),
        (&["--arch", "resnet"], "unknown architecture"),
    ];
    for (args, want) in cases {
        let o = bin()
            .args(["train", "--out", "/nonexistent/x"])
            .arg("--data")
            .arg(sample())
            .args(args)
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// `train --fixed-epochs` keeps the last epoch's weights and only scores the validation split;
/// `train --full` trains on every image with no validation split and still saves a loadable model.
#[test]
fn train_fixed_epochs_and_full() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |out: &std::path::Path, extra: &[&str]| {
        let st = bin()
            .args(["train", "--arch", "mlp", "--hidden", "8", "--epochs", "3"])
            .args(["--quiet", "--threads", "1"])
            .arg("--data")
            .arg(sample())
            .arg("--out")
            .arg(out)
            .args(extra)
            .output()
            .unwrap();
        (
            st.status.success(),
            String::from_utf8_lossy(&st.stderr).to_string(),
        )
    };
    let meta = |out: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(out.join("model.json")).unwrap()).unwrap()
    };

    let fixed = tmp.path().join("fixed");
    let (ok, err) = run(
        &fixed,
        &["--fixed-epochs", "--lr", "0.5", "--optimizer", "sgd"],
    );
    assert!(ok, "{err}");
    let m = meta(&fixed);
    let hist = m["history"].as_array().unwrap();
    assert_eq!(hist.len(), 3);
    assert_eq!(m["best_epoch"], 3, "the last epoch is kept");
    assert_eq!(m["train_config"]["keep_last"], true);
    assert_eq!(m["train_config"]["patience"], 0);
    // The saved weights are the last epoch's: their validation score is that epoch's.
    let last = hist[2]["val_accuracy"].as_f64().unwrap();
    let fin = m["final_metrics"]["accuracy"].as_f64().unwrap();
    assert!((last - fin).abs() < 1e-6, "{last} vs {fin}");

    // --train-fraction: half of each class's 32 training images, the same 40 held out.
    let part = tmp.path().join("part");
    let (ok, err) = run(&part, &["--fixed-epochs", "--train-fraction", "0.5"]);
    assert!(ok, "{err}");
    let tc = &meta(&part)["train_config"];
    assert_eq!(tc["train_fraction"].as_f64(), Some(0.5));
    assert_eq!(
        (tc["train_images"].as_u64(), tc["val_images"].as_u64()),
        (Some(80), Some(40))
    );

    let full = tmp.path().join("full");
    let (ok, err) = run(&full, &["--full", "--augment", "--augment-kind", "light"]);
    assert!(ok, "{err}");
    let m = meta(&full);
    let tc = &m["train_config"];
    // Light augmentation: flip and blur/rescale, no geometry or colour changes.
    let aug = &tc["augment"];
    assert_eq!(aug["flip_p"].as_f64(), Some(0.5), "{aug}");
    assert!(aug["blur_p"].as_f64().unwrap() > 0.0, "{aug}");
    assert_eq!(aug["max_rotate_deg"].as_f64(), Some(0.0), "{aug}");
    assert_eq!(aug["max_shift"].as_f64(), Some(0.0), "{aug}");
    assert_eq!(aug["brightness"].as_f64(), Some(0.0), "{aug}");
    assert_eq!(tc["full"], true);
    assert_eq!(tc["val_split"].as_f64(), Some(0.0));
    assert_eq!(
        (tc["train_images"].as_u64(), tc["val_images"].as_u64()),
        (Some(200), Some(0))
    );
    assert!(m["final_metrics"].is_null(), "nothing held out to score");
    let hist = m["history"].as_array().unwrap();
    assert_eq!(hist.len(), 3);
    assert!(hist
        .iter()
        .all(|h| h["val_loss"].is_null() && h["images"] == 200));
    assert_eq!(m["best_epoch"], 3);
    // The model (with its null validation history) loads and evaluates.
    host::model::SavedModel::load(&full).unwrap();
    let ev = bin()
        .arg("eval")
        .arg("--model")
        .arg(&full)
        .arg("--data")
        .arg(sample())
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        ev.status.success(),
        "{}",
        String::from_utf8_lossy(&ev.stderr)
    );

    // --augment-kind without --augment would silently do nothing.
    let (ok, err) = run(&tmp.path().join("bad"), &["--augment-kind", "light"]);
    assert!(!ok);
    assert!(err.contains("--augment"), "{err}");
    // --full trains on every image: a training fraction would contradict it.
    let (ok, err) = run(
        &tmp.path().join("bad"),
        &["--full", "--train-fraction", "0.5"],
    );
    assert!(!ok);
    assert!(
        err.contains("--train-fraction") && err.contains("--full"),
        "{err}"
    );
    // --full has no validation split to set.
    let (ok, err) = run(&tmp.path().join("bad"), &["--full", "--val-split", "0.3"]);
    assert!(!ok);
    assert!(
        err.contains("--val-split") && err.contains("--full"),
        "{err}"
    );
}
