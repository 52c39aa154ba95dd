//! `cnnfpga sim` end to end: a paper-CNN-shaped blob (random weights, `sim::paper`) in a model
//! directory, a sample image, the firmware on the Verilated SoC; JSON keys and the host match.
//! Bad inputs fail with a clear message. Needs Verilator and the riscv32i target. The host's
//! integer prediction the SoC is compared with (`qmodel::IntModel`) equals sim's reference.

use std::process::Command;

fn cnnfpga() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cnnfpga"))
}

fn image() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/sample/cat/0000.jpg")
}

#[test]
fn sim_json_matches_the_host() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("model.blob"),
        sim::paper::paper_cnn(3, 64, 64, 10),
    )
    .unwrap();
    let out = cnnfpga()
        .args(["sim", "--json", "--model"])
        .arg(dir.path())
        .arg("--image")
        .arg(image())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["matches_host"], true);
    for k in ["class", "class_name", "logits", "cycles", "layers"] {
        assert!(!v[k].is_null(), "missing key {k}");
    }
    assert_eq!(v["logits"].as_array().unwrap().len(), 5);
    let engines: Vec<&str> = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["engine"].as_str().unwrap())
        .collect();
    // the board's SoC by default: its engines (accel.toml BOARD_*)
    assert_eq!(v["config"], "icebreaker");
    let (_, _, pengine) = sim::SocConfig::Icebreaker.engines();
    let p = if pengine { "pengine" } else { "sw" };
    assert_eq!(engines, ["conv", "conv", p, p]);
    assert!(v["cycles"].as_u64().unwrap() < 6_000_000, "{}", v["cycles"]);
    // the whole inference: the layers' sum and the firmware between them
    let (layers, whole) = (
        v["cycles"].as_u64().unwrap(),
        v["inference_cycles"].as_u64().unwrap(),
    );
    assert!(
        layers < whole && whole < layers + layers / 4,
        "{layers} {whole}"
    );
    let ms = v["ms_at_clock"].as_f64().unwrap();
    let want = whole as f64 * 1e3 / firmware::regs::BOARD_CLOCK_HZ as f64;
    assert!((ms - want).abs() < 1e-9 * want, "{ms} vs {want}");
}

#[test]
fn sim_reports_bad_inputs_and_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let run = |model: &std::path::Path, img: &std::path::Path, extra: &[&str]| {
        let out = cnnfpga()
            .args(["sim", "--model"])
            .arg(model)
            .arg("--image")
            .arg(img)
            .args(extra)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = run(dir.path(), &image(), &[]);
    assert!(e.contains("model.blob"), "{e}");
    let blob = dir.path().join("m.blob");
    std::fs::write(&blob, b"not a blob").unwrap();
    let e = run(&blob, &image(), &[]);
    assert!(e.contains("not a valid model blob"), "{e}");
    std::fs::write(&blob, sim::paper::paper_cnn(3, 64, 64, 10)).unwrap();
    let e = run(&blob, &blob, &[]);
    assert!(e.contains("image"), "{e}");
    let e = run(&blob, &image(), &["--max-cycles", "200000"]);
    assert!(
        e.contains("timeout at pc 0x") && e.contains("cycle 200000"),
        "{e}"
    );
}

/// `host::simrun::host_prediction` (`qmodel::IntModel`, what `cnnfpga sim` and `fpga classify`
/// compare the SoC with since issue 15) gives the class and logits of `sim::paper::reference`
/// (what they compared with before, and what sim's own tests and benches use), on
/// paper-CNN-shaped blobs with random images and on the shipped model with sample images; a
/// wrong-size input is an error naming the integer run.
#[test]
fn host_prediction_equals_sims_reference() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cases = Vec::new();
    for seed in 1..=3 {
        let blob = sim::paper::paper_cnn(seed, 64, 64, 10);
        for i in 0..2 {
            cases.push((
                blob.clone(),
                sim::paper::image(100 + seed * 10 + i, 64, 64, 3),
            ));
        }
    }
    let shipped = host::simrun::read_blob(&root.join("models/animals5-cnn-int")).unwrap();
    let model = firmware::model::Model::parse(&shipped).unwrap();
    for img in ["cat/0000.jpg", "cow/0001.jpg", "sheep/0002.jpg"] {
        let path = root.join("data/sample").join(img);
        let input = host::simrun::load_input(&path, &model).unwrap();
        cases.push((shipped.clone(), input));
    }
    let mut classes = std::collections::BTreeSet::new();
    for (blob, input) in &cases {
        let host = host::simrun::host_prediction(blob, input).unwrap();
        let (class, logits) = sim::paper::reference(blob, input).unwrap();
        assert_eq!((host.class, &host.logits), (class, &logits));
        classes.insert(class);
    }
    assert!(classes.len() > 1, "{classes:?}");
    let e = host::simrun::host_prediction(&shipped, &[0u8; 10]).unwrap_err();
    assert!(e.to_string().contains("integer inference"), "{e}");
}
