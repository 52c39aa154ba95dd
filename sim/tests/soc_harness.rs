//! The SoC harness's fast paths against the plain ones, so that speed never changes behaviour:
//! - `SocModel::run` (many clock cycles per call into the model, stopping after a cycle with a
//!   UART byte, an EXIT write or a trap) against one `tick` per cycle: same UART bytes, same
//!   cycle of EXIT, same final state;
//! - the SoC's traced twin (`RunOptions::trace` swaps in the `--trace-fst` build) against the
//!   untraced build: same outcome, cycles, instret and PC, and the FST file is written;
//! - `open_trace` after the first evaluation of a twin model is an error, not a silent no-op.
//!
//! Needs Verilator and the riscv32i target (scripts/setup.sh); fails without them.

use std::sync::OnceLock;

use sim::paper::{image, paper_cnn};
use sim::soc::{self, Firmware, Flash, Outcome, RunOptions};
use sim::vl::SocModel;

fn firmware() -> &'static Firmware {
    static FW: OnceLock<Firmware> = OnceLock::new();
    FW.get_or_init(|| {
        Firmware::build(&Firmware::default_target_dir()).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// A small model (24x24 input, same layer types as the paper CNN) with the engines.
fn small_flash() -> Flash {
    Flash::new(
        firmware(),
        false,
        &paper_cnn(9, 24, 24, 20),
        &image(200, 24, 24, 3),
    )
    .unwrap()
}

fn tmp(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// The SoC with `flash` loaded, after the 4 reset cycles `soc::run` gives it.
fn reset_model(flash: &Flash, name: &str) -> SocModel {
    let hex = tmp(name);
    std::fs::write(&hex, flash.to_hex()).unwrap();
    let mut m = SocModel::new();
    m.set_command_args(&[&format!("+flash={}", hex.display())]);
    m.set_rst_ni(0);
    for _ in 0..4 {
        m.tick();
    }
    m.set_rst_ni(1);
    m
}

#[test]
fn run_stops_where_tick_by_tick_sees_the_events() {
    let flash = small_flash();
    // reference: one call per cycle
    let mut m = reset_model(&flash, "harness-tick.hex");
    let (mut uart, mut cycles) = (Vec::new(), 0u64);
    let exit = loop {
        m.tick();
        cycles += 1;
        if m.uart_valid_o() != 0 {
            uart.push((cycles, m.uart_data_o()));
        }
        if m.exit_valid_o() != 0 {
            break m.exit_code_o();
        }
        assert!(m.trap_o() == 0 && cycles < 100_000_000, "no clean exit");
    };
    assert_eq!(exit, 0);
    assert!(uart.len() > 100, "{} UART bytes", uart.len());
    let tick_state = (m.instret_o(), m.pc_o(), m.time());

    // `run` with the same stop outputs, in chunks that do not divide the event times
    let stop = SocModel::STOP_UART_VALID_O | SocModel::STOP_EXIT_VALID_O | SocModel::STOP_TRAP_O;
    let mut m = reset_model(&flash, "harness-run.hex");
    let (mut uart_run, mut cycles_run) = (Vec::new(), 0u64);
    let exit_run = loop {
        let n = m.run(777_777, stop);
        assert!((1..=777_777).contains(&n));
        cycles_run += n;
        if m.uart_valid_o() != 0 {
            uart_run.push((cycles_run, m.uart_data_o()));
        }
        if m.exit_valid_o() != 0 {
            break m.exit_code_o();
        }
        assert!(m.trap_o() == 0 && cycles_run < 100_000_000, "no clean exit");
    };
    assert_eq!((exit_run, cycles_run), (exit, cycles));
    assert_eq!(uart_run, uart, "UART bytes or their cycles differ");
    assert_eq!((m.instret_o(), m.pc_o(), m.time()), tick_state);
    assert_eq!(m.run(0, stop), 0, "run(0) runs no cycle");

    // and the harness: same bytes and cycle count
    let r = soc::run(&flash, &RunOptions::default()).unwrap();
    assert_eq!(r.outcome, Outcome::Exit(firmware::exit::OK));
    assert_eq!(r.cycles, cycles);
    assert_eq!(r.uart, uart.iter().map(|&(_, b)| b).collect::<Vec<_>>());
    assert!(r.cpu_seconds.is_some_and(|c| c > 0.0));
}

#[test]
fn the_traced_twin_runs_the_same_cycles() {
    let flash = small_flash();
    let opts = RunOptions {
        max_cycles: 300_000, // boot ROM and the start of the firmware copy
        ..RunOptions::default()
    };
    let plain = soc::run(&flash, &opts).unwrap();
    let path = tmp("soc-twin.fst");
    let _ = std::fs::remove_file(&path);
    let traced = soc::run(
        &flash,
        &RunOptions {
            trace: Some(path.clone()),
            ..opts
        },
    )
    .unwrap();
    assert_eq!(plain.outcome, Outcome::Timeout);
    assert_eq!(
        (traced.outcome, traced.cycles, traced.instret, traced.pc),
        (plain.outcome, plain.cycles, plain.instret, plain.pc)
    );
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert!(len > 10_000, "trace {} has {len} bytes", path.display());
}

#[test]
fn a_trace_opened_after_the_first_cycle_is_an_error() {
    let mut m = SocModel::new();
    m.set_command_args(&[]); // no flash image: erased
    m.tick();
    let e = m.open_trace(&tmp("soc-late.fst")).unwrap_err();
    assert!(e.to_string().contains("before the first"), "{e}");
    m.tick(); // the untraced model still runs
    assert_eq!(m.time(), 4);
}
