//! `cnnfpga sim` classifies the sample images with the shipped quantised model exactly like the
//! host integer path (`firmware::runner` with the software kernels) on the Verilated board SoC
//! (the default `--board icebreaker`: the RTL and parameters the bitstream is built from), with
//! its engines and software-only, and on the wide simulation reference. This is also the
//! differential test of the shipped firmware build (opt-level s, LTO) against the host: a
//! target-compiler bug in the kernels would show here.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sim(image: &str, software: bool) -> serde_json::Value {
    sim_on(None, image, software, None)
}

fn sim_limit(image: &str, software: bool, max_cycles: u64) -> serde_json::Value {
    sim_on(None, image, software, Some(max_cycles))
}

fn sim_on(
    board: Option<&str>,
    image: &str,
    software: bool,
    max_cycles: Option<u64>,
) -> serde_json::Value {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cnnfpga"));
    c.current_dir(root()).args([
        "sim",
        "--json",
        "--model",
        "models/animals5-cnn-int",
        "--image",
        image,
    ]);
    if let Some(b) = board {
        c.args(["--board", b]);
    }
    if software {
        c.arg("--software");
    }
    if let Some(m) = max_cycles {
        c.args(["--max-cycles", &m.to_string()]);
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
fn shipped_model_on_the_board_soc_matches_the_host_for_every_class() {
    let (_, _, pengine) = sim::SocConfig::Icebreaker.engines();
    let p = if pengine { "pengine" } else { "sw" };
    for class in ["cat", "cow", "elephant", "horse", "sheep"] {
        let image = format!("data/sample/{class}/0000.jpg");
        let v = sim(&image, false);
        assert_eq!(v["config"], "icebreaker", "the board's SoC is the default");
        assert_eq!(v["matches_host"], true, "{image}: {v}");
        assert_eq!(v["class"], v["host_class"], "{image}");
        assert_eq!(v["logits"], v["host_logits"], "{image}");
        let engines: Vec<&str> = v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["engine"].as_str().unwrap())
            .collect();
        assert_eq!(engines, ["conv", "conv", p, p], "{image}");
    }
}

#[test]
fn shipped_model_on_the_wide_reference_soc_matches_the_host() {
    let v = sim_on(Some("wide"), "data/sample/cow/0001.jpg", false, None);
    assert_eq!(v["config"], "wide");
    assert_eq!(v["matches_host"], true, "{v}");
    let engines: Vec<&str> = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["engine"].as_str().unwrap())
        .collect();
    assert_eq!(engines, ["conv", "conv", "pengine", "pengine"]);
}

#[test]
fn shipped_model_software_only_matches_the_host() {
    // ~2.4 G cycles on the board's SERV (docs/performance.md): about 7 min of simulation, so
    // one image, and a cycle limit above `cnnfpga sim`'s default 2 G.
    let v = sim_limit("data/sample/horse/0001.jpg", true, 6_000_000_000);
    assert_eq!(v["matches_host"], true, "{v}");
    assert_eq!(v["logits"], v["host_logits"]);
    assert!(v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["engine"] == "sw"));
}
