//! The firmware on the Verilated SoC, bit-exact with the host: THE differential test against
//! the RV32IM miscompile described in docs/numerics.md ("The RV32IM code-generation hazard").
//!
//! The firmware ELF is built here at the shipped profile (`firmware`, opt-level s) by a cargo
//! subprocess with its own target dir (`target/soc-fw`, cached by source hash), loaded into
//! the simulated SPI flash with a paper-CNN-shaped model (random weights, `sim::paper`) and
//! several images, and run to EXIT. Class and logits must equal `firmware::runner::run` with
//! `SoftwareBackend` on the host, with the engines and in software-only mode (flash header
//! flag, same ELF). A trap or timeout fails with PC and cycle.
//!
//! The UART transcript of the first run is compared with `sim/tests/expected/*.txt`;
//! regenerate with `SIM_BLESS=1 cargo test -p sim --test soc_paper` after an intended change
//! (cycle counts are part of it: a timing change shows up in review).
//!
//! Needs Verilator and the riscv32i target (scripts/setup.sh); without them these tests
//! fail (never skip), also under CI=true.

use std::sync::OnceLock;

use sim::paper::{image, paper_cnn, reference};
use sim::soc::{self, Firmware, Flash, Outcome, RunOptions, SocConfig, Transcript};

fn firmware() -> &'static Firmware {
    static FW: OnceLock<Firmware> = OnceLock::new();
    FW.get_or_init(|| {
        Firmware::build(&Firmware::default_target_dir()).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn paper_blob() -> &'static [u8] {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| paper_cnn(7, 64, 64, 10))
}

/// Runs `blob` on `img` on the board SoC and checks the result against the host; returns the
/// transcript.
fn run_checked(
    blob: &[u8],
    img: &[u8],
    software_only: bool,
    max_cycles: u64,
) -> (Transcript, String, soc::SocRun) {
    run_checked_on(SocConfig::Icebreaker, blob, img, software_only, max_cycles)
}

/// [`run_checked`] on the SoC configuration `config`.
fn run_checked_on(
    config: SocConfig,
    blob: &[u8],
    img: &[u8],
    software_only: bool,
    max_cycles: u64,
) -> (Transcript, String, soc::SocRun) {
    let flash = Flash::new(firmware(), software_only, blob, img).unwrap();
    let run = soc::run(
        &flash,
        &RunOptions {
            max_cycles,
            trace: None,
            config,
        },
    )
    .unwrap();
    if let Err(e) = run.check() {
        panic!("SoC run failed: {e}");
    }
    let t = run.transcript().unwrap();
    let (class, logits) = reference(blob, img).unwrap();
    assert_eq!(
        (t.class, &t.logits),
        (class, &logits),
        "SoC and host disagree (software_only {software_only})"
    );
    eprintln!(
        "{} cycles ({} in layers), {:.2} M cycles/s, layers {:?}",
        run.cycles,
        t.layers_cycles,
        run.cycles_per_second() / 1e6,
        t.layers
            .iter()
            .map(|l| (l.engine.as_str(), l.cycles))
            .collect::<Vec<_>>()
    );
    (t, run.text(), run)
}

fn expect_transcript(name: &str, text: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(name);
    if std::env::var_os("SIM_BLESS").is_some() {
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (create it with SIM_BLESS=1)", path.display()));
    assert_eq!(
        text,
        want,
        "transcript differs from {} (SIM_BLESS=1 to accept)",
        path.display()
    );
}

/// The board SoC (accel.toml BOARD_*: the engines the iCEBreaker bitstream carries).
#[test]
fn paper_cnn_on_the_board_soc_matches_the_host() {
    let blob = paper_blob();
    let (lanes, _, pengine) = SocConfig::Icebreaker.engines();
    assert!(lanes >= 1);
    for seed in 0..2 {
        let img = image(100 + seed, 64, 64, 3);
        // ~115 M cycles from reset on SERV, ~90 M of them the model check at start-up
        let (t, text, _) = run_checked(blob, &img, false, 200_000_000);
        assert_eq!(t.engines, (true, pengine));
        let on: Vec<&str> = t.layers.iter().map(|l| l.engine.as_str()).collect();
        let p = if pengine { "pengine" } else { "sw" };
        assert_eq!(on, ["conv", "conv", p, p]);
        if seed == 0 {
            expect_transcript("soc_paper_board.txt", &text);
        }
    }
}

/// The PicoRV32 reference (`wide`: PicoRV32 with the default 5-lane conv engine and the P
/// engine).
#[test]
fn paper_cnn_on_the_wide_engines_matches_the_host() {
    let blob = paper_blob();
    for seed in 0..2 {
        let img = image(100 + seed, 64, 64, 3);
        let (t, text, _) = run_checked_on(SocConfig::Wide, blob, &img, false, 60_000_000);
        assert_eq!(t.engines, (true, true));
        let on: Vec<&str> = t.layers.iter().map(|l| l.engine.as_str()).collect();
        assert_eq!(on, ["conv", "conv", "pengine", "pengine"]);
        if seed == 0 {
            expect_transcript("soc_paper_engines.txt", &text);
        }
    }
}

/// Software-only mode, on the paper CNN's layer types at 24x24 input (the full 64x64 model
/// takes ~2.4 G cycles in software on the board's SERV, several minutes of simulation: `cargo
/// bench -p sim --bench soc` runs it, host/tests/sim_shipped.rs runs the shipped model once);
/// the same image with the engines must give the same bits. One image: ~0.25 G cycles on SERV.
#[test]
fn software_only_matches_the_host_and_the_engines() {
    let blob = paper_cnn(9, 24, 24, 20);
    for seed in 0..1 {
        let img = image(200 + seed, 24, 24, 3);
        let (t, text, _) = run_checked(&blob, &img, true, 600_000_000);
        assert_eq!(t.engines, (false, false));
        assert!(t.layers.iter().all(|l| l.engine == "sw"));
        let (e, _, _) = run_checked(&blob, &img, false, 50_000_000);
        assert_eq!((e.class, &e.logits), (t.class, &t.logits));
        if seed == 0 {
            expect_transcript("soc_small_software.txt", &text);
        }
    }
}

#[test]
fn boot_rom_reports_a_missing_firmware_image() {
    let mut flash = Flash::new(firmware(), false, paper_blob(), &image(1, 64, 64, 3)).unwrap();
    flash.fw[0] ^= 0xFF; // bad magic
    let run = soc::run(
        &flash,
        &RunOptions {
            max_cycles: 100_000,
            trace: None,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert_eq!(run.outcome, Outcome::Exit(firmware::exit::BOOT_FAIL));
    assert!(run.check().unwrap_err().contains("no firmware image"));
}

#[test]
fn a_trap_is_reported_with_its_pc_and_a_hang_times_out() {
    let mut fw = firmware().clone();
    // ebreak: the board's PicoRV32 (BOARD_CPU_CATCH = 0) does not trap on illegal or
    // misaligned instructions, only on ebreak/ecall
    fw.image = vec![0x73, 0x00, 0x10, 0x00];
    let flash = Flash::new(&fw, false, paper_blob(), &image(1, 64, 64, 3)).unwrap();
    let run = soc::run(
        &flash,
        &RunOptions {
            max_cycles: 100_000,
            trace: None,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert_eq!(run.outcome, Outcome::Trap);
    assert_eq!(run.pc, firmware::memmap::FW_ADDR);
    let e = run.check().unwrap_err();
    assert!(e.contains("trapped at pc 0x00020000"), "{e}");

    fw.image = vec![0x6f, 0, 0, 0]; // jal zero, 0: a tight loop
    let flash = Flash::new(&fw, false, paper_blob(), &image(1, 64, 64, 3)).unwrap();
    let run = soc::run(
        &flash,
        &RunOptions {
            max_cycles: 50_000,
            trace: None,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert_eq!((run.outcome, run.cycles), (Outcome::Timeout, 50_000));
    assert!(run
        .check()
        .unwrap_err()
        .starts_with("timeout at pc 0x00020000"));
}
