//! Area budget of the conv engine alone (iCE40 UP5K): runs `rtl/synth_check.sh conv` (yosys
//! `synth_ice40 -dsp`, nextpnr-ice40 `--pack-only`) for each configuration recorded in
//! `docs/baselines/conv-engine-area.toml` and fails when the engine grows past its budget;
//! the same for the P-layer engine (`rtl/synth_check.sh pengine`, the file's `[pengine]`).
//! Also: the script reads the file lists as the `filelist` crate does.
//! Without yosys or nextpnr-ice40 on PATH the test passes with a note, except under
//! `CI=true`, where a missing tool is a failure.

use std::path::PathBuf;
use std::process::Command;

#[derive(serde::Deserialize)]
struct Baseline {
    tolerance_pct: f64,
    config: Vec<Config>,
    pengine: Budget,
}

/// The P-layer engine at the SoC's pointer width.
#[derive(serde::Deserialize)]
struct Budget {
    addr_w: u32,
    lc: u32,
    dsp: u32,
    ebr: u32,
}

#[derive(serde::Deserialize)]
struct Config {
    lanes: u32,
    /// `FifoDepth` when not the accel_pkg default (the board builds 2).
    fifo_depth: Option<u32>,
    lc: u32,
    dsp: u32,
    ebr: u32,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("-V").output().is_ok()
}

fn field(line: &str, key: &str) -> u32 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("synth_check.sh: no `{key}=` in `{line}`"))
}

/// The recorded budgets, or `None` (after a note) when the tools are missing outside CI.
fn baseline() -> Option<Baseline> {
    let missing: Vec<&str> = ["yosys", "nextpnr-ice40"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if !missing.is_empty() {
        let msg = format!("{} not found: run scripts/setup.sh", missing.join(", "));
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg} (CI=true: the area check must run)");
        }
        eprintln!("skipping the area check: {msg}");
        return None;
    }
    let text = std::fs::read_to_string(root().join("docs/baselines/conv-engine-area.toml"))
        .expect("docs/baselines/conv-engine-area.toml");
    Some(toml::from_str(&text).expect("conv-engine-area.toml"))
}

/// The script's bash reader of the file lists and the `filelist` crate (the one Rust reader)
/// give the same entries, for the engine lists it synthesises and for the SoC lists with their
/// `-f` includes. Needs only bash.
#[test]
fn the_script_reads_the_file_lists_as_the_filelist_crate() {
    for (arg, list) in [
        ("conv", "rtl/accel.f"),
        ("pengine", "rtl/pengine.f"),
        ("rtl/soc.f", "rtl/soc.f"),
        (
            "rtl/board/icebreaker/sources.f",
            "rtl/board/icebreaker/sources.f",
        ),
    ] {
        let out = Command::new("bash")
            .arg(root().join("rtl/synth_check.sh"))
            .args(["--files", arg])
            .current_dir(root())
            .output()
            .expect("run rtl/synth_check.sh --files");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let script: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect();
        let crate_entries = filelist::entries(&root(), list).unwrap().entries;
        assert_eq!(script, crate_entries, "{list}");
    }
}

#[test]
fn pengine_stays_within_its_area_budget() {
    let Some(base) = baseline() else { return };
    let b = &base.pengine;
    assert_eq!(
        b.addr_w as usize,
        firmware::regs::ENGINE_ADDR_BITS,
        "the [pengine] budget is recorded at the SoC's pointer width (accel.toml ENGINE_ADDR_BITS)"
    );
    let out = Command::new("bash")
        .arg(root().join("rtl/synth_check.sh"))
        .arg("pengine")
        .arg(b.addr_w.to_string())
        .current_dir(root())
        .output()
        .expect("run rtl/synth_check.sh pengine");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rtl/synth_check.sh pengine: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    eprintln!("{line}");
    let (lc, dsp, ebr) = (field(line, "lc"), field(line, "dsp"), field(line, "ebr"));
    let budget = f64::from(b.lc) * (1.0 + base.tolerance_pct / 100.0);
    assert!(
        f64::from(lc) <= budget && dsp <= b.dsp && ebr <= b.ebr,
        "P engine over its area budget (docs/baselines/conv-engine-area.toml [pengine]): \
         lc {lc} (budget {budget:.0}), dsp {dsp} (<= {}), ebr {ebr} (<= {})",
        b.dsp,
        b.ebr
    );
}

#[test]
fn conv_engine_stays_within_its_area_budget() {
    let Some(base) = baseline() else { return };
    let mut failures = Vec::new();
    for c in &base.config {
        let out = Command::new("bash")
            .arg(root().join("rtl/synth_check.sh"))
            .arg("conv")
            .arg(c.lanes.to_string())
            .arg(firmware::regs::CONV_ADDR_BITS.to_string()) // soc_core ConvAddrBits
            .args(c.fifo_depth.map(|d| format!("-set FifoDepth {d}")))
            .current_dir(root())
            .output()
            .expect("run rtl/synth_check.sh conv");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "rtl/synth_check.sh conv {}: {}{}",
            c.lanes,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout.lines().last().unwrap_or_default();
        let (lc, dsp, ebr) = (field(line, "lc"), field(line, "dsp"), field(line, "ebr"));
        eprintln!("{line}");
        let budget = f64::from(c.lc) * (1.0 + base.tolerance_pct / 100.0);
        if f64::from(lc) > budget || dsp > c.dsp || ebr > c.ebr {
            failures.push(format!(
                "Lanes={}: lc {lc} (budget {budget:.0}), dsp {dsp} (<= {}), ebr {ebr} (<= {})",
                c.lanes, c.dsp, c.ebr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "conv engine over its area budget (docs/baselines/conv-engine-area.toml):\n{}",
        failures.join("\n")
    );
}
