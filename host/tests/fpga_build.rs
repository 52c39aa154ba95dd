//! `cnnfpga fpga build|flash` for the iCEBreaker, end to end with the real tools: one synthesis
//! + place and route (fresh cache) shared by every check in the single test function below.
//!
//! Checks: the design fits and meets the board clock (the PLL's `BOARD_CLOCK_HZ`) with 5 %
//! slack; LC/EBR/DSP/SPRAM and Fmax within the tolerances of
//! docs/baselines/fpga-icebreaker.json; the firmware image is the `CNFW` header plus exactly
//! `objcopy -O binary` of the firmware ELF; the model is copied unchanged; a second build with
//! other firmware flags and no model reuses the cached bitstream (byte-identical, seconds);
//! `flash --dry-run` prints the right commands at the register map's offsets, for both
//! programmers; missing tools give the one-line scripts/setup.sh error.
//!
//! Needs yosys, nextpnr-ice40, icepack (icetime) and riscv64-unknown-elf-objcopy. Without them
//! the test is skipped, except under `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cnnfpga"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

const TOOLS: [&str; 5] = [
    "yosys",
    "nextpnr-ice40",
    "icepack",
    "icetime",
    "riscv64-unknown-elf-objcopy",
];

/// True if every tool is there; false (skip) if not, unless CI=true (then it panics).
fn tools_present() -> bool {
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|t| host::fpga::tools::find(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but FPGA tools are missing: {missing:?} (run scripts/setup.sh)"
    );
    eprintln!("skipping fpga_build: missing {missing:?} (run scripts/setup.sh)");
    false
}

fn cargo(args: &[&str]) {
    let st = Command::new(env!("CARGO"))
        .current_dir(root())
        .args(args)
        .status()
        .expect("cargo runs");
    assert!(st.success(), "cargo {args:?} failed");
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("cnnfpga runs");
    assert!(
        out.status.success(),
        "{:?} failed:\n{}\n{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn build_cmd(fw: &Path, out: &Path, cache: &Path) -> Command {
    let mut c = bin();
    c.args([
        "fpga",
        "build",
        "--board",
        "icebreaker",
        "--json",
        "--quiet",
    ])
    .arg("--firmware")
    .arg(fw)
    .arg("--out")
    .arg(out)
    .arg("--cache-dir")
    .arg(cache);
    c
}

fn resource(report: &Value, name: &str) -> (f64, f64) {
    let r = report["pnr"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} in report"));
    (
        r["used"].as_f64().unwrap(),
        r["available"].as_f64().unwrap(),
    )
}

fn within(what: &str, got: f64, want: f64, tol_pct: f64, tol_abs: f64) {
    let tol = (want.abs() * tol_pct / 100.0).max(tol_abs);
    assert!(
        (got - want).abs() <= tol,
        "{what}: {got} vs baseline {want} (tolerance {tol}); if the change is intended, update \
         docs/baselines/fpga-icebreaker.json and docs/fpga.md"
    );
}

#[test]
fn icebreaker_build_cache_and_flash() {
    if !tools_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");

    // Firmware ELF and a demo model (the same commands a user runs).
    cargo(&[
        "build",
        "-q",
        "-p",
        "firmware",
        "--profile",
        "firmware",
        "--target",
        sim::soc::TARGET,
        "--features",
        "soc",
    ]);
    let elf = target_dir().join(sim::soc::TARGET).join("firmware/soc");
    let demo = tmp.path().join("demo");
    std::fs::create_dir_all(&demo).unwrap();
    cargo(&[
        "run",
        "-q",
        "-p",
        "firmware",
        "--features",
        "alloc",
        "--example",
        "demo_blob",
        "--",
        demo.to_str().unwrap(),
    ]);

    // ---- first build: synthesis, place and route ----
    let out1 = tmp.path().join("out1");
    let text = run_ok(
        build_cmd(&elf, &out1, &cache)
            .arg("--model")
            .arg(&demo)
            .arg("--image")
            .arg(demo.join("image.bin")),
    );
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["cache_hit"], false);
    for res in r["pnr"]["resources"].as_array().unwrap() {
        assert!(
            res["used"].as_u64() <= res["available"].as_u64(),
            "over: {res}"
        );
    }
    let fmax = r["pnr"]["fmax_mhz"].as_f64().unwrap();
    let clock = firmware::regs::BOARD_CLOCK_HZ as f64 / 1e6;
    assert_eq!(r["target_mhz"].as_f64(), Some(clock));
    assert!(
        fmax >= clock * host::fpga::board::FMAX_MARGIN,
        "Fmax {fmax} MHz < board clock {clock} MHz + 5 %"
    );
    assert!(r["pnr"]["icetime_mhz"].as_f64().unwrap() >= clock);

    // Against the recorded baseline.
    let base: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/baselines/fpga-icebreaker.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        r["params"], base["params"],
        "baseline is for other parameters"
    );
    for (name, b) in base["resources"].as_object().unwrap() {
        let (used, avail) = resource(&r, name);
        assert_eq!(avail, b["available"].as_f64().unwrap(), "{name} available");
        within(
            name,
            used,
            b["used"].as_f64().unwrap(),
            b["tolerance_pct"].as_f64().unwrap(),
            b["tolerance_abs"].as_f64().unwrap_or(0.0),
        );
    }
    within(
        "Fmax (MHz)",
        fmax,
        base["fmax_mhz"]["value"].as_f64().unwrap(),
        base["fmax_mhz"]["tolerance_pct"].as_f64().unwrap(),
        0.0,
    );

    // Flash layout: offsets of the register map, files as reported.
    let regions = r["flash"].as_array().unwrap();
    let offsets: Vec<u64> = regions
        .iter()
        .map(|f| f["offset"].as_u64().unwrap())
        .collect();
    use firmware::regs::*;
    assert_eq!(
        offsets,
        [
            FLASH_BITSTREAM_OFFSET,
            FLASH_FW_OFFSET,
            FLASH_MODEL_OFFSET,
            FLASH_INPUT_OFFSET
        ]
        .map(u64::from)
    );
    for f in regions {
        let file = out1.join(f["file"].as_str().unwrap());
        assert_eq!(
            std::fs::metadata(&file).unwrap().len(),
            f["bytes"].as_u64().unwrap()
        );
        assert!(f["bytes"].as_u64() <= f["max_bytes"].as_u64());
    }
    let bitstream = std::fs::read(out1.join("icebreaker.bin")).unwrap();
    assert!(bitstream.len() > 100_000, "UP5K bitstreams are ~104 KB");

    // The firmware image is the header + exactly objcopy's binary of the ELF.
    let objbin = tmp.path().join("fw.bin");
    let st = Command::new("riscv64-unknown-elf-objcopy")
        .args(["-O", "binary"])
        .arg(&elf)
        .arg(&objbin)
        .status()
        .unwrap();
    assert!(st.success());
    let body = std::fs::read(&objbin).unwrap();
    let img = std::fs::read(out1.join("firmware.img")).unwrap();
    assert_eq!(&img[0..4], b"CNFW");
    assert_eq!(
        u32::from_le_bytes(img[4..8].try_into().unwrap()) as usize,
        body.len()
    );
    assert_eq!(
        &img[8..16],
        &[0u8; 8],
        "flags 0 (one-shot: an image is baked in), reserved 0"
    );
    assert_eq!(&img[16..16 + body.len()], &body[..]);
    assert_eq!(img.len(), (16 + body.len()).next_multiple_of(4));
    assert_eq!(
        std::fs::read(out1.join("model.blob")).unwrap(),
        std::fs::read(demo.join("model.bin")).unwrap()
    );
    let md = std::fs::read_to_string(out1.join("report.md")).unwrap();
    assert!(
        md.contains("ICESTORM_LC") && md.contains("nextpnr-ice40 --up5k --package sg48"),
        "{md}"
    );

    // ---- second build: other firmware flags, no model: cached bitstream, seconds ----
    let out2 = tmp.path().join("out2");
    let t = std::time::Instant::now();
    let text = run_ok(build_cmd(&elf, &out2, &cache).arg("--software-only"));
    let secs = t.elapsed().as_secs_f64();
    let r2: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r2["cache_hit"], true);
    assert!(secs < 30.0, "cached build took {secs:.1} s");
    assert_eq!(r2["rtl_hash"], r["rtl_hash"]);
    assert_eq!(
        std::fs::read(out2.join("icebreaker.bin")).unwrap(),
        bitstream
    );
    let img2 = std::fs::read(out2.join("firmware.img")).unwrap();
    assert_eq!(
        &img2[8..12],
        &(firmware::memmap::FW_FLAG_SOFTWARE | firmware::memmap::FW_FLAG_SERVE).to_le_bytes(),
        "software-only flag, and serve mode (no image baked in)"
    );
    assert_eq!(img2[12..], img[12..]);
    assert!(!out2.join("model.blob").exists());

    // ---- flash --dry-run ----
    let b = out1.join("icebreaker.bin");
    let model = demo.join("model.bin");
    let image = demo.join("image.bin");
    let text = run_ok(
        bin()
            .args([
                "fpga",
                "flash",
                "--board",
                "icebreaker",
                "--dry-run",
                "--bitstream",
            ])
            .arg(&b)
            .arg("--model")
            .arg(&model)
            .arg("--image")
            .arg(&image),
    );
    let cmds: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let k = |o: u32| format!("{}k", o / 1024);
    assert_eq!(
        cmds,
        [
            format!("iceprog {}", b.display()),
            format!(
                "iceprog -o {} {}",
                k(FLASH_FW_OFFSET),
                out1.join("firmware.img").display()
            ),
            format!("iceprog -o {} {}", k(FLASH_MODEL_OFFSET), model.display()),
            format!("iceprog -o {} {}", k(FLASH_INPUT_OFFSET), image.display()),
        ]
    );
    let sizes: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(
        sizes[0],
        format!("# bitstream: {} bytes at 0x000000", bitstream.len())
    );
    assert_eq!(
        sizes[1],
        format!(
            "# firmware image: {} bytes at {FLASH_FW_OFFSET:#08x}",
            img.len()
        )
    );

    let text = run_ok(
        bin()
            .args([
                "fpga",
                "flash",
                "--dry-run",
                "--model-only",
                "--tool",
                "openfpgaloader",
                "--model",
            ])
            .arg(&demo),
    );
    let cmds: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        cmds,
        [format!(
            "openFPGALoader -b ice40_generic -f --file-type bin -o {FLASH_MODEL_OFFSET} {}",
            model.display()
        )]
    );

    // ---- missing tools: one line naming scripts/setup.sh ----
    let empty = tmp.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    // (`CNNFPGA_TOOLCHAIN=system`: look yosys up on PATH, not in the venv's YoWASP build)
    let out = build_cmd(&elf, &tmp.path().join("out3"), &cache)
        .env("PATH", &empty)
        .env("CNNFPGA_TOOLCHAIN", "system")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`yosys` not found in PATH") && err.contains("scripts/setup.sh"),
        "{err}"
    );
    let out = bin()
        .args(["fpga", "flash", "--bitstream"])
        .arg(&b)
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`iceprog` not found in PATH") && err.contains("scripts/setup.sh"),
        "{err}"
    );
}
