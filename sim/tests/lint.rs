//! `verilator --lint-only -Wall` on every RTL file, one test per file, asserting empty output.
//! Waivers live in rtl/lint/waivers.vlt (one rule, one file, a reason each).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Lints `file` with `top` as top module; packages and sibling modules are found via -y.
fn lint(file: &str, top: &str) {
    let root = root();
    let mut files = vec!["rtl/gen/accel_pkg.sv", "rtl/accel/conv_pkg.sv"];
    if !files.contains(&file) {
        files.push(file);
    }
    let out = Command::new(std::env::var("VERILATOR").unwrap_or_else(|_| "verilator".into()))
        .current_dir(&root)
        .args([
            "--lint-only",
            "-Wall",
            "rtl/lint/waivers.vlt",
            "-y",
            "rtl/accel",
            "-y",
            "rtl/pengine",
            "--top-module",
            top,
        ])
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run verilator ({e}): run scripts/setup.sh"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.trim().is_empty(),
        "lint of {file} is not clean:\n{text}"
    );
}

macro_rules! lint_tests {
    ($($name:ident => ($file:literal, $top:literal)),* $(,)?) => {
        $( #[test] fn $name() { lint($file, $top); } )*
        const LINTED: &[&str] = &[$($file),*];
    };
}

lint_tests! {
    accel_pkg => ("rtl/gen/accel_pkg.sv", "accel_pkg"),
    conv_pkg => ("rtl/accel/conv_pkg.sv", "conv_pkg"),
    conv_wbuf => ("rtl/accel/conv_wbuf.sv", "conv_wbuf"),
    conv_lane => ("rtl/accel/conv_lane.sv", "conv_lane"),
    conv_fetch => ("rtl/accel/conv_fetch.sv", "conv_fetch"),
    conv_agen => ("rtl/accel/conv_agen.sv", "conv_agen"),
    conv_post => ("rtl/accel/conv_post.sv", "conv_post"),
    conv_engine => ("rtl/accel/conv_engine.sv", "conv_engine"),
    soc_boot_rom => ("rtl/gen/soc_boot_rom.sv", "soc_boot_rom"),
    pengine_requant => ("rtl/pengine/pengine_requant.sv", "pengine_requant"),
    pengine => ("rtl/pengine/pengine.sv", "pengine"),
    soc_uart_rx => ("rtl/soc/soc_uart_rx.sv", "soc_uart_rx"),
    soc_uart_tx => ("rtl/soc/soc_uart_tx.sv", "soc_uart_tx"),
}

/// The SoC from its file list (PicoRV32 and SERV from the venv, waived in rtl/soc/lint.vlt as
/// third-party code): the simulation top in its named configurations (the board's with SERV,
/// PicoRV32, `Wide`, `FastMul`), and `soc_core` with both engines and with each left out.
#[test]
fn soc_core_all_engine_configurations() {
    let root = root();
    let files = filelist::files(&root, "rtl/soc.f").unwrap_or_else(|e| panic!("{e}"));
    for (top, params) in [
        ("soc_sim_top", &[][..]),
        ("soc_sim_top", &["-GWide=1'b1"]),
        ("soc_sim_top", &["-GCpu=0"]),
        ("soc_sim_top", &["-GCpu=0", "-GFastMul=1'b1"]),
        ("soc_sim_top", &["-GCpu=0", "-GWide=1'b1"]),
        ("soc_core", &[]),
        ("soc_core", &["-GEnableConv=0"]),
        ("soc_core", &["-GEnablePengine=0"]),
        ("soc_core", &["-GEnableConv=0", "-GEnablePengine=0"]),
    ] {
        let out = Command::new(std::env::var("VERILATOR").unwrap_or_else(|_| "verilator".into()))
            .current_dir(&root)
            .args([
                "--lint-only",
                "-Wall",
                "-DSIM",
                "--timescale",
                "1ns/1ps",
                "rtl/lint/waivers.vlt",
                "rtl/soc/lint.vlt",
            ])
            .args(["--top-module", top])
            .args(params)
            .args(&files)
            .output()
            .expect("verilator");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && text.trim().is_empty(),
            "SoC lint {top} {params:?}:\n{text}"
        );
    }
}

#[test]
fn every_rtl_file_has_a_lint_test() {
    let root = root();
    let mut files: Vec<String> = Vec::new();
    for dir in ["rtl/accel", "rtl/gen", "rtl/pengine"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".sv") || name.ends_with(".v") {
                files.push(format!("{dir}/{name}"));
            }
        }
    }
    for f in &files {
        assert!(
            LINTED.contains(&f.as_str()),
            "{f} has no lint test in sim/tests/lint.rs"
        );
    }
    // and the file list used by the build names exactly these files
    let mut listed = entries("rtl/accel.f");
    listed.sort();
    files.retain(|f| f.starts_with("rtl/accel/") || f == "rtl/gen/accel_pkg.sv");
    files.sort();
    assert_eq!(listed, files, "rtl/accel.f is out of date");
}

/// The entries of an RTL file list (`-f` includes expanded), as written.
fn entries(list: &str) -> Vec<String> {
    filelist::entries(&root(), list)
        .unwrap_or_else(|e| panic!("{e}"))
        .entries
}

/// One list per block: the engines' files are listed once (rtl/accel.f, rtl/pengine.f) and
/// reach the SoC's lists through `-f`, in the board SoC's read order.
#[test]
fn the_soc_lists_include_the_engine_lists() {
    let soc = filelist::entries(&root(), "rtl/soc.f").unwrap();
    let board = filelist::entries(&root(), "rtl/board/icebreaker/sources.f").unwrap();
    for l in [&soc, &board] {
        assert!(l.lists.iter().any(|f| f == "rtl/accel.f"), "{:?}", l.lists);
        assert!(
            l.lists.iter().any(|f| f == "rtl/pengine.f"),
            "{:?}",
            l.lists
        );
    }
    for f in entries("rtl/accel.f")
        .into_iter()
        .chain(entries("rtl/pengine.f"))
    {
        let here = |l: &filelist::Listing| l.entries.iter().filter(|e| **e == f).count();
        assert_eq!((here(&soc), here(&board)), (1, 1), "{f}");
    }
    for list in [
        "rtl/soc.f",
        "rtl/board/icebreaker/sources.f",
        "rtl/board/icebreaker/soc_rtl.f",
    ] {
        let text = std::fs::read_to_string(root().join(list)).unwrap();
        assert!(
            !text.lines().any(|l| l.trim().starts_with("rtl/accel/") || l.trim().starts_with("rtl/pengine/")),
            "{list} names an engine file itself instead of including its list"
        );
    }
}

/// The lint has teeth: a width bug is reported.
#[test]
fn lint_reports_a_width_bug() {
    let dir = std::env::temp_dir().join(format!("cnnfpga-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad_width.sv");
    std::fs::write(&f, "`default_nettype none\nmodule bad_width (input wire logic [7:0] a_i, output logic [3:0] y_o);\n  assign y_o = a_i;\nendmodule\n").unwrap();
    let out = Command::new("verilator")
        .args(["--lint-only", "-Wall"])
        .arg(&f)
        .output()
        .expect("verilator");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("WIDTH"),
        "expected a WIDTH warning, got:\n{text}"
    );
}

/// The Verilated board SoC is the RTL the bitstream is built from: the board's source list
/// (rtl/board/icebreaker/sources.f) and the simulation's (rtl/soc.f) name the same files, except
/// that the board adds its top (the SB_PLL40_PAD and SB_IO pads) and the simulation its
/// stand-ins for the vendor primitives and the flash chip (rtl/soc/sim/).
#[test]
fn board_and_simulation_build_the_same_rtl() {
    let root = root();
    let board: Vec<String> = entries("rtl/board/icebreaker/sources.f")
        .into_iter()
        .filter(|f| f != "rtl/board/icebreaker/icebreaker_top.sv")
        .collect();
    let sim: Vec<String> = entries("rtl/soc.f")
        .into_iter()
        .filter(|f| !f.starts_with("rtl/soc/sim/"))
        .collect();
    assert_eq!(
        board, sim,
        "the board and the simulation build different RTL"
    );
    assert!(board.contains(&"rtl/board/icebreaker/icebreaker_soc.sv".to_string()));
    let top = std::fs::read_to_string(root.join("rtl/soc/sim/soc_sim_top.sv")).unwrap();
    assert!(
        top.contains("icebreaker_soc #("),
        "soc_sim_top wraps the board SoC"
    );
}
