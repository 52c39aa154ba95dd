//! The host's `hw` feature (host/Cargo.toml): without it the host's dependency graph holds no
//! `sim` crate (so nothing builds Verilator models), and the simulation and FPGA subcommands
//! stay listed but stop with one clear error naming the feature.
//!
//! `scripts/test.sh` runs this file twice: built without the feature (`cargo test -p host
//! --no-default-features --test features`, with no Verilator on PATH) and, in the workspace
//! tests, with it.

use std::process::Command;

/// `cargo tree -p host -e normal,build` package names (`extra` are more cargo arguments).
fn host_dependencies(extra: &[&str]) -> Vec<String> {
    let o = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--offline",
            "-p",
            "host",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn without_hw_the_host_does_not_depend_on_sim() {
    let with = host_dependencies(&[]);
    let without = host_dependencies(&["--no-default-features"]);
    // the default build has the Verilated SoC (and so this check can fail)
    for name in ["sim", "firmware", "serialport"] {
        assert!(with.iter().any(|p| p == name), "{name} in {with:?}");
    }
    for name in ["sim", "serialport"] {
        assert!(!without.iter().any(|p| p == name), "{name} in {without:?}");
    }
    assert!(without.iter().any(|p| p == "firmware"), "{without:?}");
}

#[cfg(not(feature = "hw"))]
mod without_hw {
    use super::Command;

    fn cnnfpga(args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_cnnfpga"))
            .args(args)
            .output()
            .unwrap()
    }

    #[test]
    fn hw_commands_are_listed_and_stop_with_the_feature_named() {
        let help = cnnfpga(&["--help"]);
        assert!(help.status.success(), "{help:?}");
        let text = String::from_utf8_lossy(&help.stdout);
        for (command, note) in [
            (
                "sim",
                "Run one image through the firmware on the Verilated SoC [not in this build",
            ),
            (
                "fpga",
                "FPGA bitstream build and flashing (iCEBreaker) [not in this build",
            ),
        ] {
            assert!(
                text.lines()
                    .any(|l| l.trim_start().starts_with(command) && l.contains(note)),
                "{command}: {text}"
            );
        }
        let bench = String::from_utf8_lossy(&cnnfpga(&["bench", "--help"]).stdout).into_owned();
        assert!(
            bench.contains("[not in this build: needs the `hw` feature]"),
            "{bench}"
        );

        // any arguments, even ones the real command would refuse: the same one-line error
        for args in [
            &[
                "sim",
                "--model",
                "models/animals5-cnn-int",
                "--image",
                "x.jpg",
            ][..],
            &["sim"],
            &[
                "fpga",
                "build",
                "--model",
                "m",
                "--out",
                "o",
                "--no-such-flag",
            ],
            &["fpga", "classify", "--sim", "a.jpg"],
            &["bench", "soc", "--json"],
        ] {
            let o = cnnfpga(args);
            assert_eq!(o.status.code(), Some(1), "{args:?}: {o:?}");
            let err = String::from_utf8_lossy(&o.stderr);
            let command = match args[0] {
                "sim" => "sim",
                "fpga" => "fpga",
                _ => "bench soc",
            };
            assert_eq!(
                err.trim_end(),
                format!("error: `cnnfpga {command}`: {}", host::cli::WITHOUT_HW),
                "{args:?}"
            );
            assert!(err.contains("rebuild with default features"), "{err}");
            assert!(o.stdout.is_empty(), "{args:?}: {o:?}");
        }
    }

    /// The demo without the feature: float model, quantise, export and summary (a few
    /// seconds), the SoC and bitstream stages skipped with the reason in the log and summary.
    #[test]
    fn demo_runs_the_software_stages_and_says_what_it_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("demo");
        let o = Command::new(env!("CARGO_BIN_EXE_cnnfpga"))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .args(["demo", "--no-report", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        let log = String::from_utf8_lossy(&o.stderr);
        for line in [
            format!("(SoC simulation skipped: {})", host::cli::WITHOUT_HW),
            format!("(bitstream skipped: {})", host::cli::WITHOUT_HW),
            "== [4/4] summary".to_string(),
        ] {
            assert!(log.contains(&line), "{line}: {log}");
        }
        let summary = std::fs::read_to_string(out.join("summary/summary.md")).unwrap();
        assert!(
            summary.contains(&format!(
                "SoC simulation and bitstream skipped: {}.",
                host::cli::WITHOUT_HW
            )),
            "{summary}"
        );
        assert!(!summary.contains("| image |"), "{summary}");
        for f in [
            "model-int/model.blob",
            "export/model.blob",
            "export/vectors.bin",
        ] {
            assert!(out.join(f).is_file(), "{f}");
        }
    }
}
