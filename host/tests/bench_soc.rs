//! `cnnfpga bench soc --json` end to end on a small model (the paper CNN's layer types at 24x24
//! input, random weights: ~75 M simulated cycles for both runs): JSON keys, where each layer
//! runs, both runs equal to the host's integer prediction, and the derived numbers consistent
//! with the cycle counts; the board configuration is the default and its clock the one the
//! recorded board build meets with 5 % slack. Needs Verilator and the riscv32i target.

use std::process::Command;

fn cnnfpga() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cnnfpga"))
}

#[test]
fn bench_soc_json_on_a_small_model() {
    let dir = tempfile::tempdir().unwrap();
    let blob = sim::paper::paper_cnn(9, 24, 24, 20);
    std::fs::write(dir.path().join("model.blob"), &blob).unwrap();
    let out = cnnfpga()
        .args(["bench", "soc", "--json", "--fpga-mhz", "20", "--model"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let host = host::simrun::host_prediction(&blob, &sim::paper::image(100, 24, 24, 3)).unwrap();
    let (host_class, host_logits) = (host.class, host.logits);
    assert_eq!(v["host_class"], host_class);
    assert_eq!(v["config"], "icebreaker");
    let (lanes, _, pengine) = sim::SocConfig::Icebreaker.engines();
    assert_eq!(v["conv_lanes"], lanes);
    assert_eq!(v["pengine"], pengine);
    let util = v["conv_utilisation"].as_array().unwrap();
    assert_eq!(util.len(), 2, "both conv layers on the engine");
    for u in util {
        let f = u[1].as_f64().unwrap();
        assert!(f > 0.3 && f <= 1.0, "MAC utilisation {f}");
    }
    let p = if pengine { "pengine" } else { "sw" };
    assert_eq!(v["blob_bytes"], blob.len());
    let runs = [&v["engines"], &v["software"]];
    let mut cycles = Vec::new();
    for (r, (mode, engines)) in runs
        .iter()
        .zip([("engines", ["conv", "conv", p, p]), ("software", ["sw"; 4])])
    {
        assert_eq!(r["mode"], mode);
        assert_eq!(r["class"], host_class, "{mode}");
        assert_eq!(
            r["logits"].as_array().unwrap(),
            &host_logits
                .iter()
                .map(|&l| serde_json::Value::from(l))
                .collect::<Vec<_>>(),
            "{mode}"
        );
        let layers = r["layers"].as_array().unwrap();
        let on: Vec<&str> = layers
            .iter()
            .map(|l| l["engine"].as_str().unwrap())
            .collect();
        assert_eq!(on, engines, "{mode}");
        let c = r["cycles"].as_u64().unwrap();
        assert_eq!(
            c,
            layers
                .iter()
                .map(|l| l["cycles"].as_u64().unwrap())
                .sum::<u64>()
        );
        assert!(r["sim_cycles"].as_u64().unwrap() > c, "boot comes first");
        // images/s count the whole inference: the layers and the firmware between them
        let whole = r["inference_cycles"].as_u64().unwrap();
        assert!(c < whole && whole < 2 * c, "{c} {whole}");
        let at = r["at"].as_array().unwrap();
        let mhz: Vec<f64> = at.iter().map(|a| a["mhz"].as_f64().unwrap()).collect();
        assert_eq!(mhz, [sim::bench::BOARD_MHZ, 20.0]);
        for a in at {
            let m = a["mhz"].as_f64().unwrap();
            let ips = a["images_per_second"].as_f64().unwrap();
            assert!((ips - m * 1e6 / whole as f64).abs() < 1e-9 * ips, "{a}");
        }
        assert!(r["sim_mcycles_per_second"].as_f64().unwrap() > 0.0);
        cycles.push(c);
    }
    // a layer in software in both runs costs the same in both (the head, on a board without
    // the P engine; with it the head runs there as DenseAsP)
    let head = |mode: &str| v[mode]["layers"][3]["cycles"].as_u64().unwrap();
    if v["engines"]["layers"][3]["engine"] == "sw" {
        assert_eq!(head("engines"), head("software"));
    } else {
        assert_eq!(v["engines"]["layers"][3]["engine"], "pengine");
        assert!(head("engines") < head("software"));
    }
    let speedup = v["speedup"].as_f64().unwrap();
    assert!((speedup - cycles[1] as f64 / cycles[0] as f64).abs() < 1e-9 * speedup);
    assert!(speedup > 10.0, "{speedup}");
}

/// The clock the benchmark quotes images/s at is the board's PLL clock, and the recorded board
/// build (docs/baselines/fpga-icebreaker.json, checked against a fresh build by
/// host/tests/fpga_build.rs) meets it with the 5 % slack `fpga build` requires.
#[test]
fn bench_soc_clock_is_the_board_clock_met_by_the_recorded_build() {
    assert_eq!(
        sim::bench::BOARD_MHZ,
        firmware::regs::BOARD_CLOCK_HZ as f64 / 1e6
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/baselines/fpga-icebreaker.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let fmax = v["fmax_mhz"]["value"].as_f64().unwrap();
    assert!(
        fmax >= sim::bench::BOARD_MHZ * host::fpga::board::FMAX_MARGIN,
        "recorded Fmax {fmax} MHz does not meet the board clock {} MHz + 5 %",
        sim::bench::BOARD_MHZ
    );
}

#[test]
fn bench_soc_rejects_a_bad_model() {
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("m.blob");
    std::fs::write(&blob, b"not a blob").unwrap();
    let out = cnnfpga()
        .args(["bench", "soc", "--engines-only", "--model"])
        .arg(&blob)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("not a valid model blob"), "{e}");
}
