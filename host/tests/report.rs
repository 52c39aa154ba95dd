//! `cnnfpga report` end to end on the sample data (CI-sized: 2 seeds, 2 epochs): the files
//! exist and parse, the numbers are consistent with each other, both readings of the SGD baseline
//! (MLP-SGD and CNN-SGD) are run and paired by seed, the test part is held out, the pretrained
//! model is cached, and a mismatched test folder is refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use host::model::SavedModel;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cnnfpga"))
}
fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/sample")
}

fn report(out: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .args(["report", "--quick", "--quiet", "--threads", "2"])
        .arg("--data")
        .arg(sample())
        .arg("--pretrain")
        .arg(sample())
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn report_end_to_end_on_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rep");
    let st = report(&out, &["--seeds", "2", "--epochs", "2"]);
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let stdout = String::from_utf8_lossy(&st.stdout);
    assert!(stdout.contains("headline CNN"), "{stdout}");

    // metrics.json: keys, run count, internal consistency.
    let m = json(&out.join("metrics.json"));
    for k in [
        "settings",
        "classes",
        "counts",
        "pretrain",
        "runs",
        "summary",
        "paired",
        "headline_cnn",
        "headline_seed",
        "shortcut_check",
        "files",
        "wall_seconds",
    ] {
        assert!(m.get(k).is_some(), "metrics.json lacks {k}");
    }
    let classes = m["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 5);
    let runs = m["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5 * 2, "5 configurations x 2 seeds");
    let ids: Vec<&str> = m["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["config"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "mlp-sgd",
            "cnn-sgd",
            "cnn-adam",
            "cnn-adam-aug",
            "cnn-adam-aug-ft"
        ]
    );
    // The headline is an Adam CNN, never a baseline.
    let headline = m["headline_cnn"].as_str().unwrap();
    assert!(headline.starts_with("cnn-adam"), "{headline}");
    // Paired differences against both baselines are the per-seed differences of the runs.
    let acc = |id: &str, seed: u64| -> f64 {
        runs.iter()
            .find(|r| r["config"] == id && r["seed"] == seed)
            .unwrap()["test"]["accuracy"]
            .as_f64()
            .unwrap()
    };
    let label = |id: &str| {
        m["summary"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["config"] == id)
            .unwrap()["label"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for (a, b) in [
        (headline, "mlp-sgd"),
        (headline, "cnn-sgd"),
        ("cnn-adam", "cnn-sgd"),
    ] {
        let what = format!("{} − {}", label(a), label(b));
        let d = m["paired"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["what"] == what.as_str())
            .unwrap_or_else(|| panic!("no paired difference {what}"));
        let diffs: Vec<f64> = d["diffs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let want = [acc(a, 42) - acc(b, 42), acc(a, 43) - acc(b, 43)];
        assert_eq!(diffs.len(), 2, "{what}");
        for (g, w) in diffs.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{what}: {diffs:?} vs {want:?}");
        }
    }
    // 40 images per class: 20 % test = 8 each, the rest 32 -> 6 validation + 26 training.
    let sum = |key: &str| -> u64 {
        m["counts"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    assert_eq!((sum("train"), sum("val"), sum("test")), (130, 30, 40));
    for r in runs {
        let t = &r["test"];
        let acc = t["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
        let conf: u64 = t["confusion"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|row| row.as_array().unwrap())
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(conf, 40, "every test image counted once");
        let diag: u64 = (0..5).map(|i| t["confusion"][i][i].as_u64().unwrap()).sum();
        assert!((diag as f64 / 40.0 - acc).abs() < 1e-9);
        let best = r["best_epoch"].as_u64().unwrap();
        assert!(best >= 1 && best <= r["epochs_run"].as_u64().unwrap());
        assert_eq!(
            r["history"].as_array().unwrap().len() as u64,
            r["epochs_run"].as_u64().unwrap()
        );
    }
    // Summary means are the means of the runs.
    for s in m["summary"].as_array().unwrap() {
        let accs: Vec<f64> = runs
            .iter()
            .filter(|r| r["config"] == s["config"])
            .map(|r| r["test"]["accuracy"].as_f64().unwrap())
            .collect();
        assert_eq!(accs.len(), 2);
        let mean = (accs[0] + accs[1]) / 2.0;
        let std = (accs[0] - accs[1]).abs() / 2f64.sqrt();
        assert!((s["accuracy"]["mean"].as_f64().unwrap() - mean).abs() < 1e-9);
        assert!((s["accuracy"]["std"].as_f64().unwrap() - std).abs() < 1e-9);
    }
    assert_eq!(m["pretrain"]["cached"], false);
    for &id in &ids {
        let sc = &m["shortcut_check"][id];
        assert_eq!(sc["non_horse_images"], 32, "{id}");
        assert_eq!(sc["horse_images"], 8, "{id}");
        let got = sc["horse_recall_sharp"].as_f64().unwrap();
        let first_seed = runs
            .iter()
            .find(|r| r["config"] == id && r["seed"] == 42)
            .unwrap();
        // As-is horse recall is the test recall of that run (class 3 = horse).
        let want = first_seed["test"]["per_class"][3]["recall"]
            .as_f64()
            .unwrap();
        assert!((got - want).abs() < 1e-9, "{id}: {got} vs {want}");
    }

    // report.md: Table 2, ablation, settings, the command.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in [
        "## Table 2",
        "| test score (accuracy) |",
        "| test cost (loss) |",
        "| F1 (macro) |",
        "| best epoch (of run) |",
        "## Ablation",
        "MLP-SGD",
        "| CNN-SGD (mean ± std) |",
        "91.18 %",
        " − CNN-SGD | ",
        "| CNN-SGD | paper CNN",
        "SGD lr 0.1 (no momentum)",
        "CNN-Adam no-aug",
        "CNN-Adam aug+ft",
        "### Per class",
        "| horse |",
        "cnnfpga report",
        "![prediction_grid.png](prediction_grid.png)",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}");
    }

    // Figures decode with sane sizes.
    for (f, min_w, min_h) in [
        ("learning_curves.png", 1280, 800),
        ("confusion_matrices.png", 600, 400),
        ("prediction_grid.png", 8 * 150, 56 + 5 * 190),
        ("comparison_bars.png", 900, 500),
        ("ablation_bars.png", 800, 500),
    ] {
        let img = image::open(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        let (w, h) = (img.width(), img.height());
        assert!(
            w >= min_w && h >= min_h && w <= 4000 && h <= 4000,
            "{f}: {w}x{h}"
        );
    }

    // The first seed's models load, hold the classes and record the held-out split.
    for id in [
        "mlp-sgd",
        "cnn-sgd",
        "cnn-adam",
        "cnn-adam-aug",
        "cnn-adam-aug-ft",
    ] {
        let sm = SavedModel::load(&out.join("models").join(id)).unwrap();
        assert_eq!(sm.meta.classes.len(), 5);
        let tc = &sm.meta.train_config;
        assert_eq!(
            tc["train_images"].as_u64().unwrap()
                + tc["val_images"].as_u64().unwrap()
                + tc["test_images"].as_u64().unwrap(),
            200
        );
    }
    // CNN-SGD: the paper CNN (same parameters as CNN-Adam), plain SGD at lr 0.1, no augmentation.
    let sgd = SavedModel::load(&out.join("models/cnn-sgd")).unwrap();
    let adam = SavedModel::load(&out.join("models/cnn-adam")).unwrap();
    assert_eq!(sgd.meta.arch, adam.meta.arch);
    let tc = &sgd.meta.train_config;
    assert_eq!(tc["optim"]["kind"], "sgd", "{tc}");
    assert!(
        (tc["optim"]["lr"].as_f64().unwrap() - 0.1).abs() < 1e-6,
        "{tc}"
    );
    assert_eq!(tc["optim"]["momentum"].as_f64().unwrap(), 0.0, "{tc}");
    assert!(tc["augment"].is_null(), "{tc}");
    assert_eq!(tc["batch_size"], 128);
    let ft = SavedModel::load(&out.join("models/cnn-adam-aug-ft")).unwrap();
    // Pretrained on the same five classes here, so all 4 weight + 4 bias tensors load (with
    // another class count the head would be re-initialised: 6).
    assert_eq!(ft.meta.train_config["tensors_loaded"], 8);

    // A second run with the same pretraining settings reuses the cached pretrained model.
    let st = report(&out, &["--seeds", "1", "--epochs", "1"]);
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let m2 = json(&out.join("metrics.json"));
    assert_eq!(m2["pretrain"]["cached"], true);
    assert_eq!(m2["runs"].as_array().unwrap().len(), 5);
}

#[test]
fn report_refuses_test_folder_with_other_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let test = tmp.path().join("test");
    for class in ["cat", "dog"] {
        std::fs::create_dir_all(test.join(class)).unwrap();
        std::fs::copy(
            sample().join("cat/0000.jpg"),
            test.join(class).join("a.jpg"),
        )
        .unwrap();
    }
    let st = bin()
        .args(["report", "--quick", "--quiet"])
        .arg("--data")
        .arg(sample())
        .arg("--test")
        .arg(&test)
        .arg("--out")
        .arg(tmp.path().join("rep"))
        .output()
        .unwrap();
    assert!(!st.status.success());
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(err.contains("test folder"), "{err}");
    assert!(!tmp.path().join("rep/report.md").exists());
}

#[test]
fn report_rejects_bad_options() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in [
        ["--seeds", "0"],
        ["--test-split", "1.5"],
        ["--dropout", "1"],
        ["--cnn-sgd-lr", "0"],
    ] {
        let st = bin()
            .args(["report", "--quick", "--quiet"])
            .arg("--data")
            .arg(sample())
            .arg("--out")
            .arg(tmp.path().join("rep"))
            .args(bad)
            .output()
            .unwrap();
        assert!(!st.status.success(), "{bad:?} accepted");
        let err = String::from_utf8_lossy(&st.stderr);
        assert!(err.contains("report config"), "{bad:?}: {err}");
    }
}
