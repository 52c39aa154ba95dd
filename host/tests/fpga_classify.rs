//! `cnnfpga fpga classify`: the shipped model served by the Verilated board SoC (`--sim`: the
//! firmware in serve mode, each image sent as a CRC-framed request on the RX pin with the
//! board's serial timing) gives the host's integer class and logits; `--dry-run` describes
//! the frames; a missing port is a clear error. Needs Verilator and the riscv32i target.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cnnfpga() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cnnfpga"));
    c.current_dir(root());
    c
}

#[test]
fn classify_on_the_simulated_board_matches_the_host() {
    let images = ["data/sample/cat/0001.jpg", "data/sample/sheep/0002.jpg"];
    let out = cnnfpga()
        .args([
            "fpga",
            "classify",
            "--sim",
            "--json",
            "--model",
            "models/animals5-cnn-int",
        ])
        .args(images)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rs = v.as_array().unwrap();
    assert_eq!(rs.len(), images.len());
    for (r, img) in rs.iter().zip(images) {
        assert_eq!(r["image"], img);
        assert_eq!(r["matches_host"], true, "{r}");
        assert!(r["cycles"].as_u64().unwrap() > 100_000, "{r}");
        assert_eq!(r["frame_bytes"], 12 + 64 * 64 * 3 + 4);
        // the same image through `cnnfpga sim` (flash-loaded, one-shot mode): same answer
        let s = cnnfpga()
            .args([
                "sim",
                "--json",
                "--model",
                "models/animals5-cnn-int",
                "--image",
                img,
            ])
            .output()
            .unwrap();
        assert!(s.status.success());
        let s: serde_json::Value = serde_json::from_slice(&s.stdout).unwrap();
        assert_eq!(r["class"], s["class"]);
        assert_eq!(r["logits"], s["logits"]);
    }
}

#[test]
fn classify_dry_run_describes_the_frames() {
    let out = cnnfpga()
        .args([
            "fpga",
            "classify",
            "--dry-run",
            "--model",
            "models/animals5-cnn-int",
            "data/sample/cow/0000.jpg",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("frame 12304 bytes"), "{text}");
    assert!(
        text.contains("[43, 4e, 52, 51, 01, 00, 00, 00, 00, 30, 00, 00]"),
        "{text}"
    );
}

#[test]
fn classify_errors_name_what_is_wrong() {
    let out = cnnfpga()
        .args([
            "fpga",
            "classify",
            "--port",
            "/dev/does-not-exist",
            "--model",
            "models/animals5-cnn-int",
            "data/sample/cow/0000.jpg",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("serial port /dev/does-not-exist"), "{e}");

    let out = cnnfpga()
        .args([
            "fpga",
            "classify",
            "--dry-run",
            "--model",
            "models/animals5-cnn-int",
            "no/such/image.jpg",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("no/such/image.jpg"), "{e}");

    let out = cnnfpga()
        .args([
            "fpga",
            "classify",
            "--model",
            "models/animals5-cnn-int",
            "data/sample/cow/0000.jpg",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "no link given");
}
