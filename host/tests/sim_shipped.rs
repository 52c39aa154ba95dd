//! `cnnfpga sim` classifies the sample images with the shipped quantised model exactly like the
//! host integer path (`firmware::runner` with the software kernels), with the engines and
//! software-only. This is also the differential test of the shipped firmware build (opt-level s,
//! LTO) against the host: a target-compiler bug in the kernels would show here.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sim(image: &str, software: bool) -> serde_json::Value {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cnnfpga"));
    c.current_dir(root()).args([
        "sim",
        "--json",
        "--model",
        "models/animals5-cnn-int",
        "--image",
        image,
    ]);
    if software {
        c.arg("--software");
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn shipped_model_on_the_engines_matches_the_host_for_every_class() {
    for class in ["cat", "cow", "elephant", "horse", "sheep"] {
        let image = format!("data/sample/{class}/0000.jpg");
        let v = sim(&image, false);
        assert_eq!(v["matches_host"], true, "{image}: {v}");
        assert_eq!(v["class"], v["host_class"], "{image}");
        assert_eq!(v["logits"], v["host_logits"], "{image}");
        let engines: Vec<&str> = v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["engine"].as_str().unwrap())
            .collect();
        assert_eq!(engines, ["conv", "conv", "pengine", "sw"], "{image}");
    }
}

#[test]
fn shipped_model_software_only_matches_the_host() {
    // ~230 M cycles: about 40 s of simulation, so one image.
    let v = sim("data/sample/horse/0001.jpg", true);
    assert_eq!(v["matches_host"], true, "{v}");
    assert_eq!(v["logits"], v["host_logits"]);
    assert!(v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["engine"] == "sw"));
}
